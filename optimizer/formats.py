"""A result's layers in every GIS format planners open, each saying what it could not hold.

The GeoPackage (`routes.gpkg`) is the source of truth: the other formats are written from
what it holds (`read_result`), so `fiberopt solve --format` and `fiberopt export` agree.
Every file is written into a private temporary folder beside its final place and moved
in with `os.replace`, so a killed run never leaves a half-written file under a final name.
"""

from __future__ import annotations

import csv
import io
import os
import shutil
import tempfile
import warnings
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pyogrio
import pyproj
import shapely

from optimizer.errors import InvalidRequestError
from optimizer.kml import kml_document

__all__ = [
    "DEFAULT_FORMATS",
    "FORMATS",
    "GEOMETRY_TYPES",
    "LAYERS",
    "ResultLayers",
    "Written",
    "levels_of",
    "parse_formats",
    "read_result",
    "shapefile_field_names",
    "staged",
    "write_format",
    "write_text_atomic",
]

CRS = "EPSG:4326"
GPKG = "routes.gpkg"
LAYERS = ("routes", "route_segments", "sites", "jurisdictions_crossed")
GEOMETRY_TYPES = {
    "routes": "LineString",
    "route_segments": "LineString",
    "sites": "Point",
    "jurisdictions_crossed": "MultiPolygon",
}
FORMATS = ("gpkg", "geojson", "fgb", "shp", "kml", "csv")
DEFAULT_FORMATS = ("gpkg", "geojson")
SHAPEFILE_DIR, CSV_DIR = "shapefile", "csv"
DBF_TEXT_BYTES = 254
"""Longest text a DBF (shapefile attribute) field holds, in bytes."""

_RUN_DROPPED = (
    "run table (scenario YAML, settings, software version): {fmt} holds no attribute-only "
    "tables; it is the `run` layer of routes.gpkg"
)
_SHAPEFILE_NAMES = {
    "route_index": "route_idx",
    "max_latency_ms": "max_lat_ms",
    "permit_cost": "permit_cst",
    "permit_count": "permit_n",
    "jurisdiction_ids": "juris_ids",
    "jurisdiction_id": "juris_id",
    "corridor_kinds": "corr_kinds",
    "corridor_id": "corr_id",
    "cost_per_km": "cost_p_km",
}
"""Readable 10-character shapefile names for the long field names fiberopt writes."""


@dataclass(frozen=True, eq=False)
class ResultLayers:
    """What a result GeoPackage holds: four feature layers (EPSG:4326) and the run table."""

    name: str
    routes: gpd.GeoDataFrame
    route_segments: gpd.GeoDataFrame
    sites: gpd.GeoDataFrame
    jurisdictions_crossed: gpd.GeoDataFrame
    run: pd.DataFrame = field(default_factory=pd.DataFrame)

    def features(self) -> dict[str, gpd.GeoDataFrame]:
        """The feature layers by name, in LAYERS order."""
        return {name: getattr(self, name) for name in LAYERS}


@dataclass(frozen=True)
class Written:
    """Files one format wrote (relative to the result folder) and what it could not hold."""

    format: str
    files: tuple[str, ...]
    dropped: tuple[str, ...] = ()
    field_names: dict[str, dict[str, str]] = field(default_factory=dict)

    def as_dict(self) -> dict:
        """Plain dict for summary.json."""
        out: dict = {"files": list(self.files), "dropped": list(self.dropped)}
        if self.field_names:
            out["field_names"] = self.field_names
        return out


def parse_formats(text: str | Sequence[str]) -> tuple[str, ...]:
    """Formats from `gpkg,geojson,...` (or `all`), in the order given, each once."""
    items = text.split(",") if isinstance(text, str) else list(text)
    names = [item.strip().lower() for item in items if item.strip()]
    if not names:
        raise InvalidRequestError(f"--format: no format given; choose from {', '.join(FORMATS)} (or all)")
    if unknown := [n for n in names if n not in (*FORMATS, "all")]:
        raise InvalidRequestError(
            f"--format: unknown format {unknown[0]!r}; choose from {', '.join(FORMATS)} (or all)"
        )
    expanded = [f for n in names for f in (FORMATS if n == "all" else (n,))]
    return tuple(dict.fromkeys(expanded))


def levels_of(routes: pd.DataFrame) -> tuple[str, ...]:
    """Jurisdiction levels counted in a routes layer (its `<level>_count` columns)."""
    return tuple(c[: -len("_count")] for c in routes.columns if c.endswith("_count") and c != "permit_count")


def read_result(folder: Path, *, name: str | None = None) -> ResultLayers:
    """The layers of DIR/routes.gpkg, as written by `fiberopt solve`; named after the folder by default."""
    folder = Path(folder)
    gpkg = folder / GPKG
    if not gpkg.is_file():
        raise InvalidRequestError(f"{folder}: no {GPKG}; expected a folder written by `fiberopt solve`")
    present = {str(name) for name, _ in pyogrio.list_layers(gpkg)}
    if missing := [layer for layer in LAYERS if layer not in present]:
        raise InvalidRequestError(f"{gpkg}: missing layers {missing}; found {sorted(present)}")
    frames = {layer: gpd.read_file(gpkg, layer=layer, engine="pyogrio") for layer in LAYERS}
    run = pd.DataFrame(pyogrio.read_dataframe(gpkg, layer="run")) if "run" in present else pd.DataFrame()
    return ResultLayers(name=name or folder.name, run=run, **frames)


@contextmanager
def staged(folder: Path) -> Iterator[Path]:
    """A private temporary folder inside folder; its files move into folder on success."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    temp = Path(tempfile.mkdtemp(prefix=".writing.", dir=folder))
    try:
        yield temp
        for path in sorted(p for p in temp.rglob("*") if p.is_file()):
            target = folder / path.relative_to(temp)
            target.parent.mkdir(parents=True, exist_ok=True)
            os.replace(path, target)
    finally:
        shutil.rmtree(temp, ignore_errors=True)


def write_text_atomic(path: Path, text: str) -> None:
    """Write text to path through a temporary name in the same folder."""
    with staged(Path(path).parent) as temp:
        (temp / Path(path).name).write_text(text, encoding="utf-8")


def write_format(layers: ResultLayers, folder: Path, fmt: str) -> Written:
    """Write one format of the layers into folder, atomically file by file."""
    (fmt,) = parse_formats([fmt])
    with staged(folder) as temp:
        return _WRITERS[fmt](layers, temp)


def _write_layer(frame: gpd.GeoDataFrame, path: Path, name: str, driver: str, **options) -> None:
    """One layer through GDAL, with its declared geometry type (kept for empty layers too)."""
    pyogrio.write_dataframe(
        frame, path, layer=name, driver=driver, geometry_type=GEOMETRY_TYPES[name], **options
    )


def _write_gpkg(layers: ResultLayers, folder: Path) -> Written:
    """One GeoPackage: the four feature layers and the non-spatial `run` table."""
    path = folder / GPKG
    for name, frame in layers.features().items():
        _write_layer(frame, path, name, "GPKG")
    if len(layers.run.columns):
        pyogrio.write_dataframe(layers.run, path, layer="run", driver="GPKG")
    return Written("gpkg", (GPKG,))


def _write_geojson(layers: ResultLayers, folder: Path) -> Written:
    """RFC 7946 GeoJSON (lon/lat, no crs member), one file per layer, full coordinate precision."""
    files = []
    options = {"RFC7946": "YES", "COORDINATE_PRECISION": "15", "WRITE_NAME": "NO"}
    for name, frame in layers.features().items():
        files.append(f"{name}.geojson")
        with warnings.catch_warnings():  # GeoJSON has no NaN: such fields are written as null
            warnings.filterwarnings("ignore", "NaN of Infinity", RuntimeWarning)
            _write_layer(frame, folder / files[-1], name, "GeoJSON", layer_options=options)
    return Written("geojson", tuple(files), (_RUN_DROPPED.format(fmt="GeoJSON"), *_infinite_notes(layers)))


def _infinite_notes(layers: ResultLayers) -> list[str]:
    """Notes on infinite numbers, which JSON cannot hold (written as null)."""
    notes = []
    for name, frame in layers.features().items():
        for column in frame.columns:
            if frame[column].dtype.kind == "f" and (n := int(np.isinf(frame[column].to_numpy()).sum())):
                notes.append(f"{name}.{column}: {n} infinite value(s) written as null (JSON has no Infinity)")
    return notes


def _write_fgb(layers: ResultLayers, folder: Path) -> Written:
    """FlatGeobuf, one file per layer, without a spatial index (these layers are small)."""
    # An index would sort the rows spatially and refuse rows without geometry (no route found).
    files = []
    for name, frame in layers.features().items():
        files.append(f"{name}.fgb")
        _write_layer(frame, folder / files[-1], name, "FlatGeobuf", layer_options={"SPATIAL_INDEX": "NO"})
    return Written("fgb", tuple(files), (_RUN_DROPPED.format(fmt="FlatGeobuf"),))


def shapefile_field_names(columns: Sequence[str]) -> dict[str, str]:
    """Field name -> a unique DBF name of at most 10 characters, readable where possible."""
    mapping: dict[str, str] = {}
    taken: set[str] = set()
    for column in columns:
        short = _short_name(column)
        k = 1
        while short.lower() in taken:
            suffix = f"_{k}"
            short = _short_name(column)[: 10 - len(suffix)] + suffix
            k += 1
        taken.add(short.lower())
        mapping[column] = short
    return mapping


def _short_name(column: str) -> str:
    """A field's preferred DBF name: a known abbreviation, or a pattern, or its first 10 characters."""
    if column in _SHAPEFILE_NAMES:
        return _SHAPEFILE_NAMES[column]
    if column.endswith("_count"):
        return f"{column[: -len('_count')][:8]}_n"
    if column.startswith("jurisdiction_"):
        return f"j_{column[len('jurisdiction_') :]}"[:10]
    if column.startswith("outside_km_"):
        return f"out_{column[len('outside_km_') :]}"[:10]
    return column[:10]


def _write_shp(layers: ResultLayers, folder: Path) -> Written:
    """Shapefiles in shapefile/ (.shp .shx .dbf .prj .cpg per layer) and field_names.csv."""
    (folder / SHAPEFILE_DIR).mkdir()
    dropped = [_RUN_DROPPED.format(fmt="a shapefile")]
    names: dict[str, dict[str, str]] = {}
    for name, frame in layers.features().items():
        attributes = [c for c in frame.columns if c != frame.geometry.name]
        names[name] = shapefile_field_names(attributes)
        dropped += _dbf_truncations(frame, name, names[name])
        with warnings.catch_warnings():  # reported above, in words a planner can act on
            warnings.filterwarnings("ignore", ".*has been truncated to 254", RuntimeWarning)
            _write_layer(
                frame.rename(columns=names[name]),
                folder / SHAPEFILE_DIR / f"{name}.shp",
                name,
                "ESRI Shapefile",
                layer_options={"ENCODING": "UTF-8"},
            )
    if renamed := sorted({k for m in names.values() for k, v in m.items() if k != v}):
        dropped.append(
            f"long field names shortened to 10 characters ({len(renamed)}: {', '.join(renamed)}); "
            f"the mapping is in {SHAPEFILE_DIR}/field_names.csv"
        )
    dropped.append("empty text and missing values are the same in DBF (both read back as null)")
    (folder / SHAPEFILE_DIR / "field_names.csv").write_text(_field_names_csv(names), encoding="utf-8")
    files = [f"{SHAPEFILE_DIR}/{n}.{ext}" for n in LAYERS for ext in ("shp", "shx", "dbf", "prj", "cpg")]
    return Written("shp", (*files, f"{SHAPEFILE_DIR}/field_names.csv"), tuple(dropped), names)


def _dbf_truncations(frame: pd.DataFrame, layer: str, names: dict[str, str]) -> list[str]:
    """Notes on text values too long for a DBF field, per field."""
    notes = []
    for column, short in names.items():
        if frame[column].dtype.kind in "biuf":
            continue
        too_long = sum(len(str(v).encode("utf-8")) > DBF_TEXT_BYTES for v in frame[column].dropna())
        if too_long:
            notes.append(
                f"{layer}.{column} ({short}): {too_long} value(s) longer than {DBF_TEXT_BYTES} bytes "
                f"truncated; the full text is in routes.gpkg"
            )
    return notes


def _field_names_csv(names: dict[str, dict[str, str]]) -> str:
    """The shapefile field-name mapping as CSV: layer, field, shapefile_field."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(["layer", "field", "shapefile_field"])
    writer.writerows(
        [layer, long, short] for layer, mapping in names.items() for long, short in mapping.items()
    )
    return buffer.getvalue()


def _write_kml(layers: ResultLayers, folder: Path) -> Written:
    """One KML document: a folder of sites, then a folder per demand with its styled routes."""
    (folder / "routes.kml").write_text(kml_document(layers), encoding="utf-8")
    dropped = (
        _RUN_DROPPED.format(fmt="KML"),
        "dashed line style of diverse routes (route_index > 0): KML has no dashes; drawn thinner",
    )
    return Written("kml", ("routes.kml",), dropped)


def _write_csv(layers: ResultLayers, folder: Path) -> Written:
    """CSV per layer in csv/: geometry as WKT (first column), with .csvt types and .prj CRS."""
    (folder / CSV_DIR).mkdir()
    files = []
    prj = pyproj.CRS(CRS).to_wkt()
    for name, frame in layers.features().items():
        table = pd.DataFrame(frame.drop(columns=frame.geometry.name))
        table.insert(0, "WKT", shapely.to_wkt(frame.geometry.values, rounding_precision=-1))
        files += _write_csv_table(table, folder / CSV_DIR / name)
        (folder / CSV_DIR / f"{name}.prj").write_text(prj, encoding="utf-8")
        files.append(f"{CSV_DIR}/{name}.prj")
    if len(layers.run.columns):
        files += _write_csv_table(layers.run, folder / CSV_DIR / "run")
    return Written("csv", tuple(files))


def _write_csv_table(table: pd.DataFrame, stem: Path) -> list[str]:
    """stem.csv (full float precision) and stem.csvt (GDAL column types)."""
    types = [_csvt_type(c, table[c]) for c in table.columns]
    table = table.assign(**{c: table[c].astype("Int64") for c in table.columns if table[c].dtype.kind == "b"})
    table.to_csv(stem.with_suffix(".csv"), index=False, lineterminator="\n")
    stem.with_suffix(".csvt").write_text(",".join(types) + "\n", encoding="utf-8")
    return [f"{CSV_DIR}/{stem.name}.csv", f"{CSV_DIR}/{stem.name}.csvt"]


def _csvt_type(column: str, values: pd.Series) -> str:
    """GDAL CSV column type of a column."""
    if column == "WKT":
        return "WKT"
    kind = values.dtype.kind
    if kind == "b":
        return "Integer(Boolean)"
    if kind in "iu":
        return "Integer64"
    return "Real" if kind == "f" else "String"


_WRITERS = {
    "gpkg": _write_gpkg,
    "geojson": _write_geojson,
    "fgb": _write_fgb,
    "shp": _write_shp,
    "kml": _write_kml,
    "csv": _write_csv,
}
