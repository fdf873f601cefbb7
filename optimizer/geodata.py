"""Load geodata layers (sites, corridors, jurisdictions, exclusions), map fields, validate."""

from __future__ import annotations

import logging
import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import pyogrio
import shapely

from optimizer.errors import InvalidGeodataError

__all__ = [
    "LAYERS",
    "GeodataSpec",
    "LayerSource",
    "Layers",
    "load_geodata",
    "spec_from_path",
]

logger = logging.getLogger(__name__)

LAYERS = ("sites", "corridors", "jurisdictions", "exclusions")
REQUIRED_LAYERS = ("sites", "corridors")
LAYER_SUFFIXES = (".gpkg", ".geojson", ".json", ".fgb", ".shp")
GEOMETRY_TYPES = {
    "sites": {"Point"},
    "corridors": {"LineString", "MultiLineString"},
    "jurisdictions": {"Polygon", "MultiPolygon"},
    "exclusions": {"Polygon", "MultiPolygon"},
}
ID_FIELD = {
    "sites": "site_id",
    "corridors": "corridor_id",
    "jurisdictions": "jurisdiction_id",
    "exclusions": "exclusion_id",
}
REQUIRED_FIELDS = {
    "sites": ("site_id",),
    "corridors": ("corridor_id", "kind", "cost_per_km"),
    "jurisdictions": ("jurisdiction_id", "level"),
    "exclusions": (),
}
UNIQUE_IDS = ("sites", "jurisdictions")
"""Layers whose ids demands and reports refer to; corridor ids may repeat (one corridor, many rows)."""
ACCESS_VALUES = ("crossings", "endpoints")
MAX_LISTED_PROBLEMS = 40


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
    repairs: tuple[str, ...] = ()
    name: str = ""


def spec_from_path(path: str | Path) -> GeodataSpec:
    """A spec for a GeoPackage holding the layers, or a folder with one file per layer."""
    path = Path(path)
    if not path.exists():
        raise InvalidGeodataError(f"geodata: {path} does not exist")
    if path.is_file():
        try:
            available = {name for name, _ in pyogrio.list_layers(path)}
        except (pyogrio.errors.DataSourceError, pyogrio.errors.DataLayerError) as exc:
            raise InvalidGeodataError(f"geodata: cannot read {path.name}: {exc}") from exc
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


def load_geodata(spec: GeodataSpec) -> Layers:
    """Read, map, default, reproject and validate every layer; raise once with all problems."""
    problems: list[str] = []
    repairs: list[str] = []
    frames = {}
    for name in LAYERS:
        sources = spec.sources.get(name, ())
        if not sources:
            if name in REQUIRED_LAYERS:
                problems.append(f"{name}: missing layer; a geodata set needs {list(REQUIRED_LAYERS)}")
            frames[name] = _empty(name)
            continue
        parts = [_read_source(name, src, problems) for src in sources]
        parts = [p for p in parts if p is not None]
        frames[name] = (
            gpd.GeoDataFrame(pd.concat(parts, ignore_index=True), crs="EPSG:4326") if parts else _empty(name)
        )
    for name in LAYERS:
        _check_columns(name, frames[name], spec, problems)
    if not problems:
        frames["corridors"] = _apply_kind_defaults(frames["corridors"], spec.cost_per_km_by_kind)
        frames["jurisdictions"] = _apply_level_defaults(frames["jurisdictions"], spec.permit_cost_by_level)
        for name in LAYERS:
            frames[name] = _validate_layer(name, frames[name], problems, repairs)
    if problems:
        shown = problems[:MAX_LISTED_PROBLEMS]
        if len(problems) > len(shown):
            shown.append(f"... and {len(problems) - len(shown)} more problems")
        raise InvalidGeodataError(shown)
    for note in repairs:
        logger.warning("geodata repaired: %s", note)
    return Layers(**frames, repairs=tuple(repairs), name=spec.name)


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


def _read_source(name: str, src: LayerSource, problems: list[str]) -> gpd.GeoDataFrame | None:
    """One source file as a frame in EPSG:4326 with spec field names; problems appended."""
    if not src.path.exists():
        problems.append(f"{name}: file {src.path} does not exist")
        return None
    try:
        if src.x_field or src.y_field:
            frame = _read_points_table(src)
        else:
            frame = gpd.read_file(src.path, layer=src.layer, engine="pyogrio")
    except (pyogrio.errors.DataSourceError, pyogrio.errors.DataLayerError, ValueError) as exc:
        problems.append(f"{name}: cannot read {src.label}: {exc}")
        return None
    if not isinstance(frame, gpd.GeoDataFrame) or frame.geometry.name not in frame.columns:
        problems.append(f"{name}: {src.label} has no geometry; for a table give x_field and y_field")
        return None
    if frame.crs is None:
        problems.append(f"{name}: {src.label} has no CRS; set one (e.g. EPSG:4326) before loading")
        return None
    renamed = {source: target for target, source in src.fields.items()}
    if missing := sorted(c for c in renamed if c not in frame.columns):
        problems.append(
            f"{name}: {src.label} has no column {missing} named in fields; "
            f"found {sorted(map(str, frame.columns))}"
        )
        return None
    frame = frame.rename(columns=renamed)
    for column, value in src.defaults.items():
        if column not in frame.columns:
            frame[column] = value
        else:
            frame[column] = frame[column].where(frame[column].notna(), value)
    if name in ("corridors", "exclusions") and ID_FIELD[name] not in frame.columns:
        frame[ID_FIELD[name]] = [f"{src.label}#{i}" for i in range(len(frame))]
    frame["source"] = src.label
    return frame.to_crs("EPSG:4326")


def _read_points_table(src: LayerSource) -> gpd.GeoDataFrame:
    """A CSV (or any table) of x/y columns as points; its CRS must be given."""
    table = pyogrio.read_dataframe(src.path, read_geometry=False)
    for column in (src.x_field, src.y_field):
        if column not in table.columns:
            raise ValueError(f"no column {column!r}; found {sorted(table.columns)}")
    x = pd.to_numeric(table[src.x_field], errors="coerce")
    y = pd.to_numeric(table[src.y_field], errors="coerce")
    return gpd.GeoDataFrame(table, geometry=gpd.points_from_xy(x, y), crs=src.crs)


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
    name: str, frame: gpd.GeoDataFrame, problems: list[str], repairs: list[str]
) -> gpd.GeoDataFrame:
    """Check one layer's columns, ids, geometry and values; return it cleaned and typed."""
    if missing := [c for c in REQUIRED_FIELDS[name] if c not in frame.columns]:
        problems.append(f"{name}: missing columns {missing}; found {sorted(map(str, frame.columns))}")
        return frame
    id_field = ID_FIELD[name]
    frame = frame.reset_index(drop=True)
    ids = frame[id_field]
    frame[id_field] = ids.where(ids.isna(), ids.astype(str).str.strip())
    labels = [_row_label(name, i, v) for i, v in enumerate(frame[id_field])]
    _check_ids(name, frame[id_field], labels, problems, unique=name in UNIQUE_IDS)
    frame = _check_geometry(name, frame, labels, problems, repairs)
    if name == "corridors":
        _check_corridor_values(frame, labels, problems)
        frame["usable"] = _as_bool(name, "usable", frame["usable"], labels, problems)
    if name == "jurisdictions":
        _check_number(name, "permit_cost", frame["permit_cost"], labels, problems)
        frame["allowed"] = _as_bool(name, "allowed", frame["allowed"], labels, problems)
        frame["level"] = frame["level"].astype(str).str.strip()
    if name == "sites" and "name" not in frame.columns:
        frame["name"] = frame["site_id"]
    return frame


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
    for value, rows in duplicated.groupby(duplicated).groups.items():
        problems.append(f"{name}: duplicate {field_name} {value!r} in rows {list(rows)}")


def _check_geometry(
    name: str, frame: gpd.GeoDataFrame, labels: list[str], problems: list[str], repairs: list[str]
) -> gpd.GeoDataFrame:
    """Geometry present, of the right type and valid; polygons repaired with make_valid."""
    geoms = frame.geometry.values
    for i in np.flatnonzero(shapely.is_missing(geoms) | shapely.is_empty(geoms)):
        problems.append(f"{labels[i]}: geometry is empty")
    present = ~(shapely.is_missing(geoms) | shapely.is_empty(geoms))
    types = shapely.get_type_id(geoms)
    names = np.array(
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
    for i in np.flatnonzero(present):
        if names[types[i]] not in GEOMETRY_TYPES[name]:
            problems.append(
                f"{labels[i]}: geometry is {names[types[i]]}, expected "
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


def _check_number(name: str, column: str, values: pd.Series, labels: list[str], problems: list[str]) -> None:
    """Numeric, finite and >= 0, row by row."""
    numbers = pd.to_numeric(values, errors="coerce")
    for i in np.flatnonzero(~(numbers >= 0) | ~np.isfinite(numbers.fillna(-1.0))):
        problems.append(f"{labels[i]}: {column} must be a number >= 0, got {_show(values.iloc[i])}")


def _check_corridor_values(frame: gpd.GeoDataFrame, labels: list[str], problems: list[str]) -> None:
    """cost_per_km, kind and access of each corridor."""
    cost = frame["cost_per_km"]
    numbers = pd.to_numeric(cost, errors="coerce")
    absent = (cost.isna() | (cost.astype(str).str.strip() == "")).to_numpy()
    for i in np.flatnonzero(absent):
        problems.append(
            f"{labels[i]}: cost_per_km is missing and no default is given for kind {frame['kind'].iloc[i]!r}"
        )
    bad = ~absent & ~((numbers >= 0) & np.isfinite(numbers.fillna(-1.0))).to_numpy()
    for i in np.flatnonzero(bad):
        problems.append(f"{labels[i]}: cost_per_km must be a number >= 0, got {_show(cost.iloc[i])}")
    frame["cost_per_km"] = numbers.astype(float)
    for i in np.flatnonzero((frame["kind"].isna() | (frame["kind"].astype(str) == "")).to_numpy()):
        problems.append(f"{labels[i]}: kind is empty")
    for i in np.flatnonzero(~frame["access"].isin(ACCESS_VALUES).to_numpy()):
        problems.append(
            f"{labels[i]}: access is {frame['access'].iloc[i]!r}, expected one of {ACCESS_VALUES}"
        )


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
            problems.append(f"{labels[i]}: {column} must be true or false, got {value!r}")
            out.append(True)
    return pd.Series(out, index=values.index, dtype=bool)
