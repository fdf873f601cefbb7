"""Load geodata layers (sites, corridors, jurisdictions, exclusions), map fields, validate.

Every input limit (optimizer.limits.InputLimits) is checked before any geometry work: a layer
file's format and size before GDAL opens it for rows, its feature count from the header, vertex
counts and coordinate ranges right after reading and before reprojection or repair.
"""

from __future__ import annotations

import ctypes
import glob
import logging
import math
import os
import re
import warnings
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import pyogrio
import pyproj
import shapely

from optimizer.errors import InvalidGeodataError
from optimizer.limits import DEFAULT_LIMITS, InputLimits

__all__ = [
    "LAYERS",
    "LAYER_FILE_SUFFIXES",
    "UNSAFE_DRIVERS",
    "GeodataSpec",
    "LayerSource",
    "Layers",
    "check_layer_file",
    "check_spec",
    "load_geodata",
    "spec_from_path",
]

logger = logging.getLogger(__name__)

LAYERS = ("sites", "corridors", "jurisdictions", "exclusions", "areas")
ON_INVALID = ("refuse", "skip")
"""What a layer source does with a row that fails validation."""
REQUIRED_LAYERS = ("sites", "corridors")
LAYER_SUFFIXES = (".gpkg", ".geojson", ".json", ".fgb", ".shp")
LAYER_FILE_SUFFIXES = (*LAYER_SUFFIXES, ".csv", ".pbf")
"""Every file a layer source may name: the layer formats, CSV point tables, OSM extracts."""
GEOMETRY_TYPES = {
    "sites": {"Point"},
    "corridors": {"LineString", "MultiLineString"},
    "jurisdictions": {"Polygon", "MultiPolygon"},
    "exclusions": {"Polygon", "MultiPolygon"},
    "areas": {"Polygon", "MultiPolygon"},
}
ID_FIELD = {
    "sites": "site_id",
    "corridors": "corridor_id",
    "jurisdictions": "jurisdiction_id",
    "exclusions": "exclusion_id",
    "areas": "area_id",
}
REQUIRED_FIELDS = {
    "sites": ("site_id",),
    "corridors": ("corridor_id", "kind", "cost_per_km"),
    "jurisdictions": ("jurisdiction_id", "level"),
    "exclusions": (),
    "areas": ("area_id",),
}
UNIQUE_IDS = ("sites", "jurisdictions", "areas")
"""Layers whose ids demands and reports refer to; corridor ids may repeat (one corridor, many rows)."""
CORRIDOR_AGREEING = ("kind", "cost_per_km", "srlg", "access", "usable")
"""Columns on which the rows of one corridor (one corridor_id) must agree."""
TEXT_FIELDS = ("name", "kind", "srlg", "level", "access", "group")
ACCESS_VALUES = ("crossings", "endpoints")
MAX_LISTED_PROBLEMS = 40
_ROW_PROBLEM = re.compile(r"^(\w+) row (\d+) \(")
"""A problem tied to one row: `corridors row 17 (corridor_id=R-9): ...`."""

_FILE_MAGIC = {
    ".gpkg": (b"SQLite format 3\x00",),
    ".fgb": (b"fgb",),
    ".shp": (b"\x00\x00\x27\x0a",),
    ".geojson": (b"{",),
    ".json": (b"{",),
}
"""What each layer file must start with (after a BOM and blanks): GDAL picks drivers by
content, and a file that is really a VRT or a GDAL pipeline could make it read other files or
URLs."""
_OSM_PBF_HEADER = b"\x0a\x09OSMHeader"
"""An OSM PBF file's first BlobHeader (after its 4-byte length) names the OSMHeader blob."""
_BINARY_MAGIC = (*(m for ms in _FILE_MAGIC.values() for m in ms if m != b"{"), b"PK\x03\x04", b"\x1f\x8b")
_HEAD_BYTES = 4096
_DRIVERS = {
    ".gpkg": {"GPKG"},
    ".geojson": {"GeoJSON", "GeoJSONSeq", "ESRIJSON", "TopoJSON"},
    ".json": {"GeoJSON", "GeoJSONSeq", "ESRIJSON", "TopoJSON"},
    ".fgb": {"FlatGeobuf"},
    ".shp": {"ESRI Shapefile"},
    ".csv": {"CSV"},
    ".pbf": {"OSM"},
}
"""The GDAL drivers a layer file may open with, by suffix."""
UNSAFE_DRIVERS = (
    "VRT",
    "OGR_VRT",
    "GDALG",
    "GTI",
    "STACIT",
    "STACTA",
    "SQLite",
    "GPSBabel",
    "WFS",
    "OAPIF",
    "OGCAPI",
    "CSW",
    "HTTP",
    "WMS",
    "WMTS",
    "PLSCENES",
    "NGW",
    "Elasticsearch",
    "EEDA",
    "DAAS",
    "Carto",
    "AmigoCloud",
    "CouchDB",
    "MongoDBv3",
    "PostgreSQL",
    "MySQL",
    "ODBC",
)
"""GDAL drivers deregistered at import: each opens other files, URLs, databases or programs
named inside the file or path it is given (a VRT, a GDAL pipeline, a tile index, a web
service), which no layer file of fiberopt needs."""
_DRIVER_PREFIX = re.compile(r"^[A-Za-z][A-Za-z0-9_ ]+:")
"""`CSV:file`, `GPKG:file:table`: a path that asks GDAL for a driver or a sub-dataset."""
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")
_GEOGRAPHIC_BOX = (-180.0, -90.0, 180.0, 90.0)
_UNBOUNDED_PROJECTED = 1e9
"""Coordinate bound of a projected CRS without an area of use (units of the CRS)."""
_SIDECARS = {".shp": (".dbf", ".shx", ".prj", ".cpg", ".qix", ".sbn", ".sbx")}
_TYPE_NAMES = np.array(
    [
        "Point",
        "LineString",
        "LinearRing",
        "Polygon",
        "MultiPoint",
        "MultiLineString",
        "MultiPolygon",
        "GeometryCollection",
    ]
)
_READ_ERRORS = (RuntimeError, ValueError, OSError, UnicodeError, shapely.errors.GEOSException)
"""What reading a broken file can raise: pyogrio's and pyproj's errors are RuntimeErrors."""


def _gdal_library() -> ctypes.CDLL | None:
    """The GDAL library pyogrio has loaded (the one whose drivers it opens files with)."""
    try:
        maps = Path("/proc/self/maps").read_text()
    except OSError:
        maps = ""
    paths = {line.split()[-1] for line in maps.splitlines() if "libgdal" in line and "/" in line}
    package = Path(pyogrio.__file__).parent
    paths |= set(glob.glob(f"{package}.libs/libgdal*")) | set(glob.glob(f"{package}/.dylibs/libgdal*"))
    for path in sorted(p for p in paths if p.startswith("/")):
        try:
            return ctypes.CDLL(path)
        except OSError:
            continue
    return None


def _disable_unsafe_drivers() -> tuple[str, ...]:
    """Deregister UNSAFE_DRIVERS from GDAL; the names removed."""
    pyogrio.list_drivers()  # drivers are registered on first use
    lib = _gdal_library()
    if lib is None:
        logger.warning("GDAL library not found: drivers %s stay registered", UNSAFE_DRIVERS)
        return ()
    lib.GDALGetDriverByName.restype = ctypes.c_void_p
    lib.GDALGetDriverByName.argtypes = [ctypes.c_char_p]
    lib.GDALDeregisterDriver.argtypes = [ctypes.c_void_p]
    removed = []
    for name in UNSAFE_DRIVERS:
        handle = lib.GDALGetDriverByName(name.encode())
        if handle:
            lib.GDALDeregisterDriver(handle)
            removed.append(name)
    return tuple(removed)


_DISABLED_DRIVERS = _disable_unsafe_drivers()


@dataclass(frozen=True)
class LayerSource:
    """One file (and layer in it) feeding a geodata layer, with field mapping and defaults."""

    path: Path
    layer: str | None = None
    fields: Mapping[str, str] = field(default_factory=dict)
    defaults: Mapping[str, Any] = field(default_factory=dict)
    x_field: str | None = None
    y_field: str | None = None
    crs: str | None = None
    """The coordinates' CRS: a table's, or one that overrides (or supplies) a file's own."""
    where: str | None = None
    """An attribute filter applied by the reader (OGR SQL, e.g. "sov_a3 = 'USA'")."""
    on_invalid: str = "refuse"
    """A row that fails validation: "refuse" the set (listing every problem) or "skip" the row,
    reported among the repairs with how many rows and why."""

    @property
    def label(self) -> str:
        """Where the rows come from, for messages."""
        return f"{self.path.name}:{self.layer}" if self.layer else self.path.name


@dataclass(frozen=True)
class GeodataSpec:
    """Where each layer comes from, plus defaults by corridor kind and jurisdiction level."""

    sources: Mapping[str, tuple[LayerSource, ...]]
    cost_per_km_by_kind: Mapping[str, float] = field(default_factory=dict)
    permit_cost_by_level: Mapping[str, float] = field(default_factory=dict)
    name: str = ""


@dataclass(frozen=True, eq=False)
class Layers:
    """Validated layers in EPSG:4326 with the spec's columns; repairs made on the way."""

    sites: gpd.GeoDataFrame
    corridors: gpd.GeoDataFrame
    jurisdictions: gpd.GeoDataFrame
    exclusions: gpd.GeoDataFrame
    areas: gpd.GeoDataFrame = field(default_factory=lambda: _empty("areas"))
    """Named polygons (area_id, name, group, cost_multiplier): for demands' avoid_areas and
    within_areas by id or group, and, where cost_multiplier is set, soft penalties on the edges inside."""
    repairs: tuple[str, ...] = ()
    name: str = ""


def check_layer_file(layer: str, path: Path) -> None:
    """Refuse a layer file that is not a plain local file of the format its name says, before
    GDAL sees it: no /vsi or driver-prefixed paths, no XML (VRT, GML), no GDAL pipelines."""
    path = Path(path)
    _check_path_text(layer, str(path))
    suffix = path.suffix.lower()
    if suffix not in LAYER_FILE_SUFFIXES:
        raise InvalidGeodataError(f"{layer}: {path.name}: layer files must be one of {LAYER_FILE_SUFFIXES}")
    if not path.is_file():
        raise InvalidGeodataError(f"{layer}: file {path} does not exist")
    try:
        with path.open("rb") as handle:
            raw = handle.read(_HEAD_BYTES)
    except OSError as exc:
        raise InvalidGeodataError(f"{layer}: cannot read {path.name}: {exc.strerror}") from exc
    head = raw.removeprefix(b"\xef\xbb\xbf").lstrip()
    if head.startswith(b"<"):
        raise InvalidGeodataError(
            f"{layer}: {path.name} is not a {suffix} file (it is XML: a VRT, GML or KML file?)"
        )
    if not _content_matches(suffix, raw, head):
        raise InvalidGeodataError(f"{layer}: {path.name} is not a {suffix} file")


def _check_path_text(layer: str, text: str) -> None:
    """Refuse paths GDAL would read as a virtual file system, a URL or a driver prefix."""
    if "\x00" in text:
        raise InvalidGeodataError(f"{layer}: a path contains a NUL byte")
    lowered = text.lower()
    if "/vsi" in lowered or "\\vsi" in lowered or lowered.startswith("vsi") or "://" in text:
        raise InvalidGeodataError(f"{layer}: {Path(text).name}: virtual file systems and URLs are not read")
    if _DRIVER_PREFIX.match(text):
        raise InvalidGeodataError(f"{layer}: {Path(text).name}: driver prefixes (DRIVER:path) are not read")


def _content_matches(suffix: str, raw: bytes, head: bytes) -> bool:
    """Whether a file's first bytes are of the format its suffix names."""
    if suffix == ".pbf":
        return raw[4:15] == _OSM_PBF_HEADER
    if suffix == ".csv":  # text, and not something another driver would claim
        return not (b"\x00" in raw or head.startswith((b"{", b"[", *_BINARY_MAGIC)))
    expected = _FILE_MAGIC[suffix]
    if suffix in (".geojson", ".json"):
        return head.startswith(expected) and b"gdal_streamed_alg" not in raw
    return raw.startswith(expected)


def spec_from_path(path: str | Path) -> GeodataSpec:
    """A spec for a GeoPackage holding the layers, or a folder with one file per layer."""
    _check_path_text("geodata", str(path))
    path = Path(path)
    if not path.exists():
        raise InvalidGeodataError(f"geodata: {path} does not exist")
    if path.is_file():
        check_layer_file("geodata", path)
        try:
            available = {name for name, _ in pyogrio.list_layers(path)}
        except _READ_ERRORS as exc:
            raise InvalidGeodataError(f"geodata: cannot read {path.name}: {_short(exc)}") from exc
        sources = {n: (LayerSource(path, layer=n),) for n in LAYERS if n in available}
    else:
        sources = {}
        for name in LAYERS:
            files = [path / f"{name}{s}" for s in LAYER_SUFFIXES if (path / f"{name}{s}").exists()]
            if len(files) > 1:
                raise InvalidGeodataError(
                    f"{name}: several files in {path}: {[f.name for f in files]}; keep one"
                )
            if files:
                sources[name] = (LayerSource(files[0]),)
    return GeodataSpec(sources=sources, name=path.stem)


def _short(exc: BaseException, limit: int = 200) -> str:
    """An exception's message cut to a bounded length."""
    text = " ".join(str(exc).split())
    return text if len(text) <= limit else text[: limit - 3] + "..."


@dataclass
class _Tally:
    """What the sources read so far add up to, against the per-layer and per-set limits."""

    bytes: int = 0
    vertices: int = 0
    layer_features: int = 0
    layer_vertices: int = 0


def load_geodata(spec: GeodataSpec, *, limits: InputLimits = DEFAULT_LIMITS) -> Layers:
    """Read, map, default, reproject and validate every layer; raise once with all problems."""
    check_spec(spec, limits=limits)
    problems: list[str] = []
    repairs: list[str] = []
    frames = {}
    tally = _Tally()
    for name in LAYERS:
        sources = spec.sources.get(name, ())
        if not sources:
            if name in REQUIRED_LAYERS:
                problems.append(f"{name}: missing layer; a geodata set needs {list(REQUIRED_LAYERS)}")
            frames[name] = _empty(name)
            continue
        tally.layer_features = tally.layer_vertices = 0
        parts = []
        for src in sources:
            part = _read_source(name, src, tally, limits, problems, repairs)
            if part is not None:
                parts.append(part)
                tally.layer_features += len(part)
        frames[name] = (
            gpd.GeoDataFrame(pd.concat(parts, ignore_index=True), crs="EPSG:4326") if parts else _empty(name)
        )
    for name in LAYERS:
        _check_columns(name, frames[name], spec, problems)
        if skipping := {src.label for src in spec.sources.get(name, ()) if src.on_invalid == "skip"}:
            frames[name] = _skip_invalid_rows(name, frames[name], spec, limits, skipping, repairs)
        _check_cells(name, frames[name], problems)
    if not problems:
        frames["corridors"] = _apply_kind_defaults(frames["corridors"], spec.cost_per_km_by_kind)
        frames["jurisdictions"] = _apply_level_defaults(frames["jurisdictions"], spec.permit_cost_by_level)
        for name in LAYERS:
            frames[name] = _validate_layer(name, frames[name], limits, problems, repairs)
    if problems:
        shown = problems[:MAX_LISTED_PROBLEMS]
        if len(problems) > len(shown):
            shown.append(f"... and {len(problems) - len(shown)} more problems")
        raise InvalidGeodataError(shown)
    for note in repairs:
        logger.warning("geodata repaired: %s", note)
    return Layers(**frames, repairs=tuple(repairs), name=spec.name)


def _skip_invalid_rows(
    name: str,
    frame: gpd.GeoDataFrame,
    spec: GeodataSpec,
    limits: InputLimits,
    skipping: set[str],
    repairs: list[str],
) -> gpd.GeoDataFrame:
    """The layer without the rows of on_invalid: skip sources that fail validation (a repeated id:
    the later rows); what was dropped, and why, noted in repairs. Problems not tied to one row
    (a missing column, rows of one corridor that disagree) still refuse the set."""
    frame = frame.reset_index(drop=True)
    if "source" not in frame.columns or not len(frame):
        return frame
    from_skip = frame["source"].isin(skipping).to_numpy()
    id_field = ID_FIELD[name]
    drop = np.zeros(len(frame), dtype=bool)
    why: list[str] = []
    if name in UNIQUE_IDS and id_field in frame.columns:
        ids = _stripped_ids(name, frame)
        repeated = (ids.notna() & ids.duplicated(keep="first")).to_numpy() & from_skip
        drop |= repeated
        why += [
            f"{_row_label(name, int(i), _show_id(ids.iloc[i]))}: {id_field} repeats an earlier row"
            for i in np.flatnonzero(repeated)[:3]
        ]
    kept = frame[~drop].reset_index(drop=True)
    scratch: list[str] = []
    trial = _with_defaults(name, kept.copy(), spec)
    _check_cells(name, trial, scratch, listed=len(trial))
    if not any(p.startswith(f"{name}: ") for p in scratch):
        _validate_layer(name, trial, limits, scratch, [], listed=len(trial))
    labels = _labels(name, trial)
    bad = np.zeros(len(kept), dtype=bool)
    for problem in scratch:
        if (match := _ROW_PROBLEM.match(problem)) and match.group(1) == name:
            row = int(match.group(2))
            if (
                row < len(labels)
                and problem.startswith(f"{labels[row]}: ")
                and kept["source"].iloc[row] in skipping
            ):
                if not bad[row] and len(why) < 3:
                    why.append(problem)
                bad[row] = True
    total = int(drop.sum() + bad.sum())
    if total:
        repairs.append(
            f"{name}: on_invalid: skip dropped {total:,} of {len(frame):,} rows of "
            f"{', '.join(sorted(skipping))}, e.g. {'; '.join(why)}"
        )
    return kept[~bad].reset_index(drop=True)


def _stripped_ids(name: str, frame: gpd.GeoDataFrame) -> pd.Series:
    """The layer's ids as text without surrounding blanks (missing ones stay missing)."""
    ids = frame[ID_FIELD[name]] if ID_FIELD[name] in frame.columns else pd.Series(None, index=frame.index)
    return ids.where(ids.isna(), ids.astype(str).str.strip())


def _labels(name: str, frame: gpd.GeoDataFrame) -> list[str]:
    """Row labels of problems: `corridors row 17 (corridor_id=R-9)`, ids stripped."""
    return [_row_label(name, i, _show_id(v)) for i, v in enumerate(_stripped_ids(name, frame))]


def _with_defaults(name: str, frame: gpd.GeoDataFrame, spec: GeodataSpec) -> gpd.GeoDataFrame:
    """A layer with the spec's per-kind or per-level defaults filled in."""
    if name == "corridors":
        return _apply_kind_defaults(frame, spec.cost_per_km_by_kind)
    if name == "jurisdictions":
        return _apply_level_defaults(frame, spec.permit_cost_by_level)
    return frame


def check_spec(spec: GeodataSpec, *, limits: InputLimits = DEFAULT_LIMITS) -> None:
    """Raise InvalidGeodataError for a spec's bad default tables, before any file is read."""
    problems: list[str] = []
    _check_spec_tables(spec, limits, problems)
    if problems:
        raise InvalidGeodataError(problems[:MAX_LISTED_PROBLEMS])


def _check_spec_tables(spec: GeodataSpec, limits: InputLimits, problems: list[str]) -> None:
    """Per-kind and per-level defaults: text keys, finite numbers under the money ceilings."""
    for table, values, ceiling in (
        ("cost_per_km_by_kind", spec.cost_per_km_by_kind, limits.max_cost_per_km),
        ("permit_cost_by_level", spec.permit_cost_by_level, limits.max_permit_cost),
    ):
        if not isinstance(values, Mapping):
            problems.append(f"{table}: must be a mapping, got {type(values).__name__}")
            continue
        for key, value in values.items():
            if (
                not isinstance(key, str | int)
                or isinstance(key, bool)
                or len(str(key)) > limits.max_text_chars
            ):
                problems.append(f"{table}: keys must be short text, got {_show_short(key)}")
            elif not _is_amount(value, ceiling):
                problems.append(
                    f"{table}.{key}: must be a number from 0 to {ceiling:g}, got {_show_short(value)}"
                )


def _is_amount(value: Any, ceiling: float) -> bool:
    """Whether value is a real number (not a bool) in [0, ceiling]."""
    return isinstance(value, int | float) and not isinstance(value, bool) and 0 <= value <= ceiling


def _show_short(value: Any, limit: int = 60) -> str:
    """A value as the user wrote it, cut to a short prefix."""
    text = _show(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _check_columns(name: str, frame: gpd.GeoDataFrame, spec: GeodataSpec, problems: list[str]) -> None:
    """Required columns present (cost_per_km may come from the per-kind table instead)."""
    fillable = {"cost_per_km"} if spec.cost_per_km_by_kind else set()
    if missing := [c for c in REQUIRED_FIELDS[name] if c not in frame.columns and c not in fillable]:
        found = sorted(str(c) for c in frame.columns if c not in ("source", "geometry"))
        problems.append(f"{name}: missing columns {missing}; found {found}")


def _empty(name: str) -> gpd.GeoDataFrame:
    """An empty layer with the spec's columns."""
    columns = {c: pd.Series(dtype=object) for c in {ID_FIELD[name], *REQUIRED_FIELDS[name]}}
    return gpd.GeoDataFrame(columns, geometry=gpd.GeoSeries([], crs="EPSG:4326"), crs="EPSG:4326")


def _read_source(
    name: str, src: LayerSource, tally: _Tally, limits: InputLimits, problems: list[str], repairs: list[str]
) -> gpd.GeoDataFrame | None:
    """One source file as a frame in EPSG:4326 with spec field names; problems appended.

    Format, size and feature count are checked before the rows are read, vertex counts and
    coordinates before anything is reprojected or repaired."""
    if not _check_source_options(name, src, limits, problems):
        return None
    try:
        check_layer_file(name, src.path)
    except InvalidGeodataError as exc:
        problems.extend(exc.problems)
        return None
    if not _check_file_size(name, src, tally, limits, problems):
        return None
    if not _check_header(name, src, tally, limits, problems):
        return None
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # GDAL's and geopandas' notes on what they read
            frame = _read_frame(src)
    except _READ_ERRORS as exc:
        with_filter = f" with where {_show_short(src.where)}" if src.where else ""
        problems.append(f"{name}: cannot read {src.label}{with_filter}: {_short(exc)}")
        return None
    if not isinstance(frame, gpd.GeoDataFrame) or frame.geometry.name not in frame.columns:
        problems.append(f"{name}: {src.label} has no geometry; for a table give x_field and y_field")
        return None
    if src.crs is not None and not (src.x_field or src.y_field):
        frame = frame.set_crs(src.crs, allow_override=True)  # the source's word over the file's
    if frame.crs is None:
        problems.append(
            f"{name}: {src.label} has no CRS; give its layer source one, e.g. crs: EPSG:4326 "
            "(or set it in the file)"
        )
        return None
    if not (frame.crs.is_geographic or frame.crs.is_projected):
        problems.append(
            f"{name}: {src.label} has the CRS {_short(frame.crs.to_string(), 60)}, neither geographic "
            "(lon/lat) nor projected; reproject it first"
        )
        return None
    renamed = {source: target for target, source in src.fields.items()}
    if missing := sorted(c for c in renamed if c not in frame.columns):
        problems.append(
            f"{name}: {src.label} has no column {missing} named in fields; "
            f"found {sorted(map(str, frame.columns))}"
        )
        return None
    frame = frame.rename(columns=renamed)
    if doubled := sorted({str(c) for c in frame.columns[frame.columns.duplicated()]}):
        problems.append(
            f"{name}: {src.label}: fields map onto columns {doubled} that the file has already; "
            "map each field once"
        )
        return None
    for column, value in src.defaults.items():
        if column not in frame.columns:
            frame[column] = value
        else:
            frame[column] = frame[column].where(frame[column].notna(), value)
    if name in ("corridors", "exclusions") and ID_FIELD[name] not in frame.columns:
        frame[ID_FIELD[name]] = [f"{src.label}#{i}" for i in range(len(frame))]
    frame["source"] = src.label
    offset = tally.layer_features
    if src.on_invalid == "skip":
        frame = _skip_unreadable_rows(name, frame, offset, limits, repairs)
    if not _check_vertices(name, frame, offset, tally, limits, problems):
        return None
    if not _check_coordinates(name, frame, offset, _valid_box(frame.crs, limits), problems):
        return None
    try:
        frame = frame.to_crs("EPSG:4326")
    except _READ_ERRORS as exc:
        problems.append(f"{name}: {src.label} does not reproject to EPSG:4326: {_short(exc)}")
        return None
    if not _check_coordinates(name, frame, offset, _GEOGRAPHIC_BOX, problems, reprojected=True):
        return None
    return frame


def _check_source_options(name: str, src: LayerSource, limits: InputLimits, problems: list[str]) -> bool:
    """Field mapping of text to text, defaults of text, true/false or finite numbers."""
    ok = True
    fields_ok = isinstance(src.fields, Mapping) and all(
        isinstance(k, str) and isinstance(v, str) for k, v in src.fields.items()
    )
    if not fields_ok:
        problems.append(f"{name}: {src.label}: fields must map field names to column names (text)")
        ok = False
    if not isinstance(src.defaults, Mapping):
        problems.append(f"{name}: {src.label}: defaults must be a mapping")
        return False
    for column, value in src.defaults.items():
        if not isinstance(column, str):
            problems.append(
                f"{name}: {src.label}: defaults: keys must be field names, got {_show_short(column)}"
            )
            ok = False
        elif not _is_plain_value(value, limits):
            problems.append(
                f"{name}: defaults.{column}: must be a finite number, text or true/false, "
                f"got {_show_short(value)}"
            )
            ok = False
    if src.on_invalid not in ON_INVALID:
        problems.append(
            f"{name}: {src.label}: on_invalid must be one of {list(ON_INVALID)}, "
            f"got {_show_short(src.on_invalid)}"
        )
        ok = False
    for key in ("layer", "x_field", "y_field", "crs", "where"):
        value = getattr(src, key)
        if value is not None and not isinstance(value, str):
            problems.append(f"{name}: {src.label}: {key} must be text, got {_show_short(value)}")
            ok = False
        elif isinstance(value, str) and len(value) > limits.max_text_chars:
            problems.append(
                f"{name}: {src.label}: {key} has {len(value):,} characters; "
                f"the limit is {limits.max_text_chars:,}"
            )
            ok = False
    if ok and isinstance(src.crs, str):
        try:
            pyproj.CRS.from_user_input(src.crs)
        except pyproj.exceptions.CRSError:
            problems.append(f"{name}: {src.label}: crs {_show_short(src.crs)} is not a CRS (e.g. EPSG:4326)")
            ok = False
    return ok


def _is_plain_value(value: Any, limits: InputLimits) -> bool:
    """A default a column may take: None, true/false, a finite number or short text."""
    if value is None or isinstance(value, bool | np.bool_):
        return True
    if isinstance(value, int | float | np.integer | np.floating):
        return math.isfinite(float(value))
    return isinstance(value, str) and len(value) <= limits.max_text_chars


def _check_file_size(
    name: str, src: LayerSource, tally: _Tally, limits: InputLimits, problems: list[str]
) -> bool:
    """The file (with its sidecars) under the per-file limit, all files under the per-set one."""
    size = os.stat(src.path).st_size
    for suffix in _SIDECARS.get(src.path.suffix.lower(), ()):
        for sidecar in (src.path.with_suffix(suffix), src.path.with_suffix(suffix.upper())):
            if sidecar.is_file():
                size += os.stat(sidecar).st_size
                break
    tally.bytes += size
    if size > limits.max_layer_file_bytes:
        problems.append(
            f"{name}: {src.label} is {size:,} bytes; the limit is {limits.max_layer_file_bytes:,} "
            "(InputLimits.max_layer_file_bytes)"
        )
        return False
    if tally.bytes > limits.max_geodata_bytes:
        problems.append(
            f"{name}: the layer files add up to {tally.bytes:,} bytes; the limit is "
            f"{limits.max_geodata_bytes:,} (InputLimits.max_geodata_bytes)"
        )
        return False
    return True


def _check_header(
    name: str, src: LayerSource, tally: _Tally, limits: InputLimits, problems: list[str]
) -> bool:
    """The driver GDAL opens the file with, and the feature count its header gives."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            info = pyogrio.read_info(src.path, layer=src.layer)
    except _READ_ERRORS as exc:
        problems.append(f"{name}: cannot read {src.label}: {_short(exc)}")
        return False
    suffix = src.path.suffix.lower()
    if info.get("driver") not in _DRIVERS[suffix]:
        problems.append(f"{name}: {src.label} is not a {suffix} file (GDAL reads it as {info.get('driver')})")
        return False
    features = int(info.get("features") or 0)  # -1: the driver does not know before reading
    if tally.layer_features + features > limits.max_features_per_layer:
        problems.append(
            f"{name}: {src.label} has {features:,} features; the limit is "
            f"{limits.max_features_per_layer:,} per layer (InputLimits.max_features_per_layer)"
        )
        return False
    return True


def _read_frame(src: LayerSource) -> gpd.GeoDataFrame:
    """The rows of a source: a layer of a file, or points from a table's x/y columns.

    Geometries GEOS cannot take (an unclosed ring, a one-point line) come back as None and are
    reported by row; Z is dropped."""
    if src.x_field or src.y_field:
        return _read_points_table(src)
    return gpd.read_file(
        src.path, layer=src.layer, engine="pyogrio", on_invalid="ignore", force_2d=True, where=src.where
    )


def _read_points_table(src: LayerSource) -> gpd.GeoDataFrame:
    """A CSV (or any table) of x/y columns as points; its CRS must be given."""
    table = pyogrio.read_dataframe(src.path, layer=src.layer, read_geometry=False, where=src.where)
    for column in (src.x_field, src.y_field):
        if column not in table.columns:
            raise ValueError(f"no column {column!r}; found {sorted(map(str, table.columns))}")
    x = pd.to_numeric(table[src.x_field], errors="coerce")
    y = pd.to_numeric(table[src.y_field], errors="coerce")
    return gpd.GeoDataFrame(table, geometry=gpd.points_from_xy(x, y), crs=src.crs)


def _read_label(name: str, frame: gpd.GeoDataFrame, offset: int, i: int) -> str:
    """The row label of a source's row i, numbered as in the whole layer."""
    id_field = ID_FIELD[name]
    row_id = frame[id_field].iloc[i] if id_field in frame.columns else None
    return _row_label(name, offset + i, _show_id(row_id))


def _show_id(value: Any, limit: int = 60) -> Any:
    """An id for a message, on one line and cut to a short prefix."""
    text = str(value)
    if _CONTROL.search(text):
        text = repr(text)[1:-1]
    elif len(text) <= limit:
        return value
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _check_vertices(
    name: str, frame: gpd.GeoDataFrame, offset: int, tally: _Tally, limits: InputLimits, problems: list[str]
) -> bool:
    """Vertices per feature (lines and polygons each have a limit), per layer and per set."""
    geoms = np.asarray(frame.geometry.values, dtype=object)
    counts, cap, is_line = _vertex_caps(geoms, limits)
    over = np.flatnonzero(counts > cap)
    _add_rows(
        problems,
        over,
        lambda i: (
            f"{_read_label(name, frame, offset, i)}: geometry has {counts[i]:,} vertices; the limit is "
            f"{cap[i]:,} per {'line' if is_line[i] else 'polygon'} "
            f"(InputLimits.max_vertices_per_{'line' if is_line[i] else 'polygon'})"
        ),
    )
    total = int(counts.sum())
    tally.layer_vertices += total
    tally.vertices += total
    if tally.layer_vertices > limits.max_vertices_per_layer:
        problems.append(
            f"{name}: {tally.layer_vertices:,} vertices; the limit is {limits.max_vertices_per_layer:,} "
            "per layer (InputLimits.max_vertices_per_layer)"
        )
        return False
    if tally.vertices > limits.max_vertices_total:
        problems.append(
            f"{name}: the layers add up to {tally.vertices:,} vertices; the limit is "
            f"{limits.max_vertices_total:,} (InputLimits.max_vertices_total)"
        )
        return False
    return not len(over)


def _skip_unreadable_rows(
    name: str, frame: gpd.GeoDataFrame, offset: int, limits: InputLimits, repairs: list[str]
) -> gpd.GeoDataFrame:
    """A skip source without its rows over the vertex limit or with coordinates that are not
    finite or outside the CRS's valid area, noted in repairs. Where most vertices are out of
    range the CRS is wrong, not the rows: they are kept, and refused with that reason."""
    geoms = np.asarray(frame.geometry.values, dtype=object)
    counts, cap, _ = _vertex_caps(geoms, limits)
    bad = counts > cap
    box = _valid_box(frame.crs, limits)
    _, owner, finite, inside = _vertices_inside(geoms, box)
    if not _looks_projected(box, finite, inside):  # a few bad rows, not a wrong CRS
        bad[owner[~inside]] = True
    if not bad.any():
        return frame
    rows = np.flatnonzero(bad)
    shown = ", ".join(_read_label(name, frame, offset, int(i)) for i in rows[:3])
    repairs.append(
        f"{name}: on_invalid: skip dropped {len(rows):,} of {len(frame):,} rows of {_source_label(frame)} "
        f"with coordinates that are missing, not finite, out of range or too many, e.g. {shown}"
    )
    return frame[~bad].reset_index(drop=True)


def _vertex_caps(geoms: np.ndarray, limits: InputLimits) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Each geometry's vertex count, its limit (lines and polygons have their own) and whether
    it is a line."""
    counts = shapely.get_num_coordinates(geoms)
    is_line = np.isin(shapely.get_type_id(geoms), (1, 2, 5))
    return counts, np.where(is_line, limits.max_vertices_per_line, limits.max_vertices_per_polygon), is_line


def _vertices_inside(
    geoms: np.ndarray, box: tuple[float, float, float, float]
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Every vertex (x, y), the geometry it belongs to, whether it is finite, and whether it is
    finite and inside box."""
    coords, owner = shapely.get_coordinates(geoms, return_index=True)
    finite = np.isfinite(coords).all(axis=1)
    x, y = coords[:, 0], coords[:, 1]
    with np.errstate(invalid="ignore"):
        inside = finite & (x >= box[0]) & (y >= box[1]) & (x <= box[2]) & (y <= box[3])
    return coords, owner, finite, inside


def _looks_projected(box: tuple[float, float, float, float], finite: np.ndarray, inside: np.ndarray) -> bool:
    """Whether lon/lat coordinates out of range are most of the vertices, all finite: a wrong CRS
    (projected coordinates read as lon/lat), not a few bad rows."""
    outside = ~inside
    return box == _GEOGRAPHIC_BOX and bool(finite[outside].all()) and outside.sum() * 2 > len(inside)


def _valid_box(crs: pyproj.CRS, limits: InputLimits) -> tuple[float, float, float, float]:
    """Where coordinates in a CRS may lie: the lon/lat range for a geographic CRS; for a projected
    one its area of use widened by crs_area_margin_deg, in its own units."""
    if crs.is_geographic:
        return _GEOGRAPHIC_BOX
    bound = _UNBOUNDED_PROJECTED
    area = crs.area_of_use
    if area is None:
        return (-bound, -bound, bound, bound)
    west, south, east, north = area.bounds
    if west > east:  # across the antimeridian
        west, east = -180.0, 180.0
    margin = limits.crs_area_margin_deg
    box = (max(west - margin, -180.0), max(south - margin, -89.9), min(east + margin, 180.0))
    box = (*box, min(north + margin, 89.9))
    try:
        transformer = pyproj.Transformer.from_crs("EPSG:4326", crs, always_xy=True)
        projected = transformer.transform_bounds(*box, densify_pts=21)
    except _READ_ERRORS:
        return (-bound, -bound, bound, bound)
    if not np.isfinite(projected).all():
        return (-bound, -bound, bound, bound)
    return tuple(float(v) for v in projected)


def _check_coordinates(
    name: str,
    frame: gpd.GeoDataFrame,
    offset: int,
    box: tuple[float, float, float, float],
    problems: list[str],
    *,
    reprojected: bool = False,
) -> bool:
    """Every vertex finite and inside box; one problem per row, naming its first bad vertex."""
    geoms = np.asarray(frame.geometry.values, dtype=object)
    coords, owner, finite, inside = _vertices_inside(geoms, box)
    x, y = coords[:, 0], coords[:, 1]
    if inside.all():
        return True
    bad = np.flatnonzero(~inside)
    rows, first = np.unique(owner[bad], return_index=True)
    if not reprojected and _looks_projected(box, finite, inside):
        at = bad[0]
        label = _read_label(name, frame, offset, int(owner[at]))
        problems.append(
            f"{name}: {_source_label(frame)}: {len(rows):,} of {len(geoms):,} rows have coordinates "
            f"outside lon/lat range, e.g. ({x[at]:.6g}, {y[at]:.6g}) in {label}; "
            "they look projected (metres?): give the layer source their CRS, e.g. crs: EPSG:3857"
        )
        return False
    vertex = dict(zip(rows.tolist(), bad[first].tolist(), strict=True))
    crs = frame.crs.to_string() if frame.crs is not None else "its CRS"

    def message(row: int) -> str:
        at = vertex[row]
        point = f"({x[at]:.6g}, {y[at]:.6g})"
        where = _read_label(name, frame, offset, row)
        if not finite[at]:
            return f"{where}: geometry has a non-finite coordinate {point}"
        if reprojected:
            return f"{where}: geometry has a vertex at {point} after reprojection to lon/lat, out of range"
        if box == _GEOGRAPHIC_BOX:
            return (
                f"{where}: geometry has a vertex at {point}, outside lon [-180, 180], lat [-90, 90] ({crs})"
            )
        return (
            f"{where}: geometry has a vertex at {point}, outside the area of use of {crs} "
            f"(x {box[0]:.6g} to {box[2]:.6g}, y {box[1]:.6g} to {box[3]:.6g})"
        )

    _add_rows(problems, rows, message)
    return False


def _source_label(frame: gpd.GeoDataFrame) -> str:
    """The source a frame of one source came from."""
    return str(frame["source"].iloc[0]) if "source" in frame.columns and len(frame) else "the file"


def _add_rows(problems: list[str], rows: np.ndarray, message: Any) -> None:
    """One problem per row (up to MAX_LISTED_PROBLEMS, then how many more)."""
    for i in rows[:MAX_LISTED_PROBLEMS]:
        problems.append(message(int(i)))
    if len(rows) > MAX_LISTED_PROBLEMS:
        problems.append(f"... and {len(rows) - MAX_LISTED_PROBLEMS} more rows like these")


def _check_cells(
    name: str, frame: gpd.GeoDataFrame, problems: list[str], *, listed: int = MAX_LISTED_PROBLEMS
) -> None:
    """Cells of the columns fiberopt reads hold one value each (not a list or an object)."""
    columns = {ID_FIELD[name], *REQUIRED_FIELDS[name], *TEXT_FIELDS, "cost_per_km", "permit_cost"}
    columns |= {"usable", "allowed"}
    ids = frame[ID_FIELD[name]] if ID_FIELD[name] in frame.columns else pd.Series(None, index=frame.index)
    for column in sorted(c for c in columns if c in frame.columns and frame[c].dtype == object):
        values = frame[column]
        nested = values.map(lambda v: isinstance(v, list | tuple | dict | set | np.ndarray | bytes))
        for i in np.flatnonzero(nested.to_numpy(dtype=bool))[:listed]:
            label = _row_label(name, int(i), _show_id(ids.iloc[i]))
            problems.append(f"{label}: {column} must be one value, got a {type(values.iloc[i]).__name__}")


def _apply_kind_defaults(corridors: gpd.GeoDataFrame, by_kind: Mapping[str, float]) -> gpd.GeoDataFrame:
    """Fill missing cost_per_km from the per-kind table, access and usable from the spec."""
    corridors = corridors.copy()
    if "cost_per_km" not in corridors.columns:
        corridors["cost_per_km"] = np.nan
    if "kind" in corridors.columns and by_kind:
        fill = corridors["kind"].map(dict(by_kind))
        missing = corridors["cost_per_km"].isna() | (corridors["cost_per_km"].astype(str).str.strip() == "")
        # only absent values take the default; a value that is there but bad is reported
        corridors["cost_per_km"] = corridors["cost_per_km"].astype(object).where(~missing, fill)
    default_access = np.where(corridors.get("kind", "") == "existing_fiber", "endpoints", "crossings")
    access = corridors["access"] if "access" in corridors.columns else pd.Series(None, corridors.index)
    access = access.where(access.notna() & (access.astype(str).str.strip() != ""), default_access)
    corridors["access"] = access.astype(str).str.strip().str.lower()
    if "usable" not in corridors.columns:
        corridors["usable"] = True
    if "srlg" not in corridors.columns:
        corridors["srlg"] = ""
    corridors["srlg"] = corridors["srlg"].fillna("").astype(str)
    return corridors


def _apply_level_defaults(jurisdictions: gpd.GeoDataFrame, by_level: Mapping[str, float]) -> gpd.GeoDataFrame:
    """Fill missing permit_cost from the per-level table (0 where none), allowed from true."""
    jurisdictions = jurisdictions.copy()
    if "permit_cost" not in jurisdictions.columns:
        jurisdictions["permit_cost"] = np.nan
    cost = pd.to_numeric(jurisdictions["permit_cost"], errors="coerce").where(
        jurisdictions["permit_cost"].notna()
    )
    missing = cost.isna() & jurisdictions["permit_cost"].isna()
    if "level" in jurisdictions.columns:
        cost[missing] = jurisdictions.loc[missing, "level"].map(dict(by_level)).fillna(0.0)
    jurisdictions["permit_cost"] = cost.where(~missing | cost.notna(), 0.0)
    if "allowed" not in jurisdictions.columns:
        jurisdictions["allowed"] = True
    if "name" not in jurisdictions.columns:
        jurisdictions["name"] = jurisdictions.get("jurisdiction_id", "")
    return jurisdictions


def _validate_layer(
    name: str,
    frame: gpd.GeoDataFrame,
    limits: InputLimits,
    problems: list[str],
    repairs: list[str],
    *,
    listed: int = MAX_LISTED_PROBLEMS,
) -> gpd.GeoDataFrame:
    """Check one layer's columns, ids, geometry and values; return it cleaned and typed."""
    if missing := [c for c in REQUIRED_FIELDS[name] if c not in frame.columns]:
        problems.append(f"{name}: missing columns {missing}; found {sorted(map(str, frame.columns))}")
        return frame
    id_field = ID_FIELD[name]
    frame = frame.reset_index(drop=True)
    frame[id_field] = _stripped_ids(name, frame)
    labels = _labels(name, frame)
    _check_ids(name, frame[id_field], labels, problems, unique=name in UNIQUE_IDS)
    _check_text(name, frame, labels, limits, problems, listed=listed)
    frame = _check_geometry(name, frame, labels, problems, repairs)
    if name == "corridors":
        _check_corridor_values(frame, labels, limits, problems)
        frame["usable"] = _as_bool(name, "usable", frame["usable"], labels, problems)
        _check_corridor_agreement(frame, problems)
    if name == "jurisdictions":
        _check_number(name, "permit_cost", frame["permit_cost"], labels, limits.max_permit_cost, problems)
        frame["allowed"] = _as_bool(name, "allowed", frame["allowed"], labels, problems)
        frame["level"] = frame["level"].astype(str).str.strip()
        if (n_levels := frame["level"].nunique()) > limits.max_jurisdiction_levels:
            problems.append(
                f"jurisdictions: {n_levels} distinct levels; the limit is {limits.max_jurisdiction_levels} "
                "(InputLimits.max_jurisdiction_levels)"
            )
    if name == "areas":
        _check_areas(frame, labels, problems)
    if name == "sites" and "name" not in frame.columns:
        frame["name"] = frame["site_id"]
    return frame


def _check_areas(frame: gpd.GeoDataFrame, labels: list[str], problems: list[str]) -> None:
    """Areas: an optional group (text) and cost_multiplier (empty, or a number in [1, 1000])."""
    frame["group"] = frame["group"].fillna("").astype(str).str.strip() if "group" in frame else ""
    if "cost_multiplier" not in frame:
        frame["cost_multiplier"] = np.nan
        return
    values = pd.to_numeric(frame["cost_multiplier"], errors="coerce")
    given = frame["cost_multiplier"].notna() & (frame["cost_multiplier"].astype(str).str.strip() != "")
    bad = given & ~(values.between(1.0, 1000.0))
    _add_rows(
        problems,
        np.flatnonzero(bad.to_numpy()),
        lambda i: (
            f"{labels[i]}: cost_multiplier must be empty or a number in [1, 1000], "
            f"got {_show(frame['cost_multiplier'].iloc[i])}"
        ),
    )
    frame["cost_multiplier"] = values.where(given, np.nan).astype(float)


def _show(value: Any) -> str:
    """A cell value as the user wrote it (numpy scalars shown as plain numbers)."""
    return repr(value.item() if isinstance(value, np.generic) else value)


def _row_label(layer: str, row: int, row_id: Any) -> str:
    """`corridors row 17 (corridor_id=R-9)` for messages."""
    return f"{layer} row {row} ({ID_FIELD[layer]}={row_id})"


def _check_ids(name: str, ids: pd.Series, labels: list[str], problems: list[str], *, unique: bool) -> None:
    """Ids present, and unique where the layer needs them to be."""
    field_name = ID_FIELD[name]
    for i in np.flatnonzero(ids.isna() | (ids.astype(str) == "")):
        problems.append(f"{labels[i]}: {field_name} is empty")
    if not unique:
        return
    duplicated = ids[ids.notna() & ids.duplicated(keep=False)]
    for value, rows in list(duplicated.groupby(duplicated).groups.items())[:MAX_LISTED_PROBLEMS]:
        problems.append(f"{name}: duplicate {field_name} {_show_id(value)!r} in rows {_rows(rows)}")


def _rows(rows: Any, limit: int = 10) -> str:
    """Row numbers for a message, the first few of many."""
    rows = [int(r) for r in rows]
    return str(rows) if len(rows) <= limit else f"{rows[:limit]} and {len(rows) - limit} more"


def _check_text(
    name: str,
    frame: gpd.GeoDataFrame,
    labels: list[str],
    limits: InputLimits,
    problems: list[str],
    *,
    listed: int = MAX_LISTED_PROBLEMS,
) -> None:
    """Ids short and free of control characters; other text cells short."""
    id_field = ID_FIELD[name]
    for column, limit in (
        (id_field, limits.max_id_chars),
        *((c, limits.max_text_chars) for c in TEXT_FIELDS),
    ):
        if column not in frame.columns or not _is_text_column(frame[column]):
            continue
        text = frame[column].where(frame[column].map(lambda v: isinstance(v, str)))
        lengths = text.str.len().fillna(0).to_numpy()
        for i in np.flatnonzero(lengths > limit)[:listed]:
            problems.append(
                f"{labels[i]}: {column} has {int(lengths[i]):,} characters; the limit is {limit:,}"
            )
        if column == id_field:
            control = text.str.contains(_CONTROL, na=False).to_numpy(dtype=bool)
            for i in np.flatnonzero(control)[:listed]:
                problems.append(f"{labels[i]}: {column} contains a control character (a newline, tab, ...)")


def _is_text_column(values: pd.Series) -> bool:
    """Whether a column holds text (pandas' string dtype, or objects that may be text)."""
    return values.dtype == object or pd.api.types.is_string_dtype(values)


def _check_geometry(
    name: str, frame: gpd.GeoDataFrame, labels: list[str], problems: list[str], repairs: list[str]
) -> gpd.GeoDataFrame:
    """Geometry present, of the right type and valid; polygons repaired with make_valid."""
    geoms = frame.geometry.values
    missing = shapely.is_missing(geoms)
    for i in np.flatnonzero(missing):
        problems.append(
            f"{labels[i]}: geometry is missing or cannot be read (an unclosed ring, a line of one point?)"
        )
    for i in np.flatnonzero(~missing & shapely.is_empty(geoms)):
        problems.append(f"{labels[i]}: geometry is empty")
    present = ~(missing | shapely.is_empty(geoms))
    types = shapely.get_type_id(geoms)
    for i in np.flatnonzero(present):
        if _TYPE_NAMES[types[i]] not in GEOMETRY_TYPES[name]:
            problems.append(
                f"{labels[i]}: geometry is {_TYPE_NAMES[types[i]]}, expected "
                f"{' or '.join(sorted(GEOMETRY_TYPES[name]))}"
            )
    coords, owner = shapely.get_coordinates(geoms, return_index=True)
    coords_ok = np.ones(len(geoms), dtype=bool)
    coords_ok[owner[~np.isfinite(coords).all(axis=1)]] = False
    for i in np.flatnonzero(~coords_ok):
        problems.append(f"{labels[i]}: geometry has non-finite coordinates")
    invalid = present & coords_ok & ~shapely.is_valid(geoms)
    if invalid.any() and name in ("jurisdictions", "exclusions"):
        for i in np.flatnonzero(invalid):
            why = shapely.is_valid_reason(geoms[i])
            geoms[i] = _polygonal(shapely.make_valid(geoms[i]))
            repairs.append(f"{labels[i]}: invalid polygon ({why}) repaired with make_valid")
        frame = frame.set_geometry(geoms)
    elif invalid.any():
        for i in np.flatnonzero(invalid):
            problems.append(f"{labels[i]}: invalid geometry ({shapely.is_valid_reason(geoms[i])})")
    return frame


def _polygonal(geom: shapely.Geometry) -> shapely.Geometry:
    """The polygonal parts of a geometry (make_valid can return collections) as a MultiPolygon."""
    parts = shapely.get_parts(shapely.get_parts(geom))
    return shapely.multipolygons(parts[shapely.get_type_id(parts) == 3])


def _check_number(
    name: str, column: str, values: pd.Series, labels: list[str], ceiling: float, problems: list[str]
) -> None:
    """Numeric, finite, >= 0 and at most the ceiling, row by row."""
    numbers = pd.to_numeric(values, errors="coerce")
    finite = np.isfinite(numbers.fillna(-1.0).to_numpy(dtype=float))
    for i in np.flatnonzero(~(numbers >= 0).to_numpy() | ~finite):
        problems.append(f"{labels[i]}: {column} must be a number >= 0, got {_show_short(values.iloc[i])}")
    for i in np.flatnonzero(finite & (numbers > ceiling).to_numpy()):
        problems.append(
            f"{labels[i]}: {column} must be at most {ceiling:g}, got {_show_short(values.iloc[i])}"
        )


def _check_corridor_values(
    frame: gpd.GeoDataFrame, labels: list[str], limits: InputLimits, problems: list[str]
) -> None:
    """cost_per_km, kind and access of each corridor."""
    cost = frame["cost_per_km"]
    numbers = pd.to_numeric(cost, errors="coerce")
    absent = (cost.isna() | (cost.astype(str).str.strip() == "")).to_numpy()
    for i in np.flatnonzero(absent):
        problems.append(
            f"{labels[i]}: cost_per_km is missing and no default is given for kind "
            f"{_show_short(frame['kind'].iloc[i])}"
        )
    finite = np.isfinite(numbers.fillna(-1.0).to_numpy(dtype=float))
    bad = ~absent & ~((numbers >= 0).to_numpy() & finite)
    for i in np.flatnonzero(bad):
        problems.append(f"{labels[i]}: cost_per_km must be a number >= 0, got {_show_short(cost.iloc[i])}")
    for i in np.flatnonzero(finite & (numbers > limits.max_cost_per_km).to_numpy()):
        problems.append(
            f"{labels[i]}: cost_per_km must be at most {limits.max_cost_per_km:g}, "
            f"got {_show_short(cost.iloc[i])}"
        )
    frame["cost_per_km"] = numbers.astype(float)
    for i in np.flatnonzero((frame["kind"].isna() | (frame["kind"].astype(str) == "")).to_numpy()):
        problems.append(f"{labels[i]}: kind is empty")
    for i in np.flatnonzero(~frame["access"].isin(ACCESS_VALUES).to_numpy()):
        problems.append(
            f"{labels[i]}: access is {_show_short(frame['access'].iloc[i])}, expected one of {ACCESS_VALUES}"
        )


def _check_corridor_agreement(frame: gpd.GeoDataFrame, problems: list[str]) -> None:
    """Rows of one corridor_id may repeat (one corridor in many rows) but must agree."""
    ids = frame["corridor_id"]
    repeated = ids.notna() & ids.duplicated(keep=False)
    if not repeated.any():
        return
    table = frame.loc[repeated, ["corridor_id", *CORRIDOR_AGREEING]].astype(str)
    listed = 0
    for column in CORRIDOR_AGREEING:
        distinct = table.groupby("corridor_id")[column].nunique()
        for corridor in distinct.index[distinct > 1]:
            if listed == MAX_LISTED_PROBLEMS:
                return
            rows = table.index[table["corridor_id"] == corridor]
            values = list(dict.fromkeys(frame.loc[rows, column].tolist()))[:5]
            problems.append(
                f"corridors rows {_rows(rows)} (corridor_id={_show_id(corridor)}): rows of one corridor "
                f"disagree on {column} ({', '.join(map(_show_short, values))})"
            )
            listed += 1


def _as_bool(layer: str, column: str, values: pd.Series, labels: list[str], problems: list[str]) -> pd.Series:
    """A boolean column from bools, 0/1 or true/false strings; empty means true."""
    truthy = {"true", "1", "yes", "y", "t"}
    falsy = {"false", "0", "no", "n", "f"}
    out = []
    for i, value in enumerate(values):
        if value is None or (isinstance(value, float) and math.isnan(value)) or value == "":
            out.append(True)
        elif isinstance(value, bool | np.bool_):
            out.append(bool(value))
        elif str(value).strip().lower() in truthy | falsy:
            out.append(str(value).strip().lower() in truthy)
        else:
            problems.append(f"{labels[i]}: {column} must be true or false, got {_show_short(value)}")
            out.append(True)
    return pd.Series(out, index=values.index, dtype=bool)
