"""Scenario files (YAML): geodata sources, settings, solver options and demands."""

from __future__ import annotations

import hashlib
import math
import os
import re
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, fields, replace
from pathlib import Path
from typing import Any

import shapely
import shapely.geometry
import yaml

from optimizer.config import GraphSettings, settings_from_mapping, unknown_keys_message
from optimizer.errors import InvalidRequestError, InvalidScenarioError, OptimizerError
from optimizer.geodata import LAYERS, GeodataSpec, LayerSource, spec_from_path
from optimizer.limits import DEFAULT_LIMITS, InputLimits
from optimizer.penalties import PenaltyArea, penalty_problems
from optimizer.problem import DESIGN_ENGINES, SolverOptions
from optimizer.routes import ID_LIST_FIELDS, Demand, check_shared_build, id_kind

__all__ = ["SET_DEFAULTS_FILE", "GeodataSet", "Scenario", "load_geodata_set", "load_scenario"]

_SOURCE_KEYS = {"path", "layer", "fields", "defaults", "x_field", "y_field", "crs", "where", "on_invalid"}
_GEODATA_KEYS = {"path", "layers", "cost_per_km_by_kind", "permit_cost_by_level"}
_TOP_KEYS = {
    "name",
    "geodata",
    "settings",
    "solver",
    "demands",
    "description",
    "shared_build",
    "penalty_areas",
}
_SOLVER_KEYS = (
    "time_limit_s",
    "num_workers",
    "tie_break_latency",
    "label_search",
    "design_engine",
    "log_search",
)
"""Solver options a scenario may set (SolverOptions' hooks are for callers, not files)."""
SET_DEFAULTS_FILE = "geodata.yaml"
"""A geodata folder's own defaults, beside its layers: cost_per_km_by_kind, permit_cost_by_level
and settings, used by every scenario and by the service for that set."""
_SET_KEYS = {"cost_per_km_by_kind", "permit_cost_by_level", "settings", "description"}
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")
_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


@dataclass(frozen=True)
class Scenario:
    """Everything one batch run needs, read from one file."""

    name: str
    path: Path
    geodata: GeodataSpec
    settings: GraphSettings
    solver: SolverOptions
    demands: tuple[Demand, ...]
    digest: str
    shared_build: bool = False
    """Design every demand together, each edge and permit paid once (else each on its own)."""
    penalty_areas: tuple[PenaltyArea, ...] = ()
    """Soft penalties of this scenario (cost multipliers inside polygons), on top of the
    geodata's own areas layer."""


@dataclass(frozen=True)
class GeodataSet:
    """A geodata set as its path gives it: the layers, with the set's own default tables, and
    the graph settings its defaults file names (raw, for a scenario or request to override)."""

    spec: GeodataSpec
    settings: Mapping[str, Any]
    defaults_file: Path | None = None

    def graph_settings(self, overrides: Mapping[str, Any] | None = None) -> GraphSettings:
        """The set's settings with overrides on top."""
        where = f"{self.defaults_file}: settings" if self.defaults_file else "settings"
        return settings_from_mapping({**self.settings, **(overrides or {})}, where=where)


def load_geodata_set(
    path: str | Path, *, limits: InputLimits = DEFAULT_LIMITS, layers: bool = True
) -> GeodataSet:
    """The spec for a GeoPackage or layer folder, with the folder's geodata.yaml defaults if any;
    layers=False: the defaults only (a spec without sources, for layers named one by one)."""
    path = Path(path)
    spec = spec_from_path(path) if layers else GeodataSpec(sources={}, name=path.stem)
    defaults = path / SET_DEFAULTS_FILE if path.is_dir() else None
    if defaults is None or not defaults.is_file():
        return GeodataSet(spec, {})
    where = str(defaults)
    try:
        raw = _parse_yaml(_read_text(defaults, where, limits), where, limits)
        if raw is None:
            raw = {}
        if not isinstance(raw, Mapping):
            raise InvalidScenarioError(f"{where}: expected a mapping with keys {sorted(_SET_KEYS)}")
        _refuse_unknown(raw, _SET_KEYS, where)
        tables = {
            key: _mapping(raw.get(key), f"{where}: {key}")
            for key in ("cost_per_km_by_kind", "permit_cost_by_level")
        }
        settings = _mapping(raw.get("settings"), f"{where}: settings")
        found = GeodataSet(replace(spec, **tables), settings, defaults)
        found.graph_settings()  # checked now, naming the file
        return found
    except OptimizerError:
        raise
    except (TypeError, ValueError, RecursionError, MemoryError) as exc:
        raise InvalidScenarioError(f"{where}: {_short(exc)}") from exc


def load_scenario(path: str | Path, *, limits: InputLimits = DEFAULT_LIMITS) -> Scenario:
    """Read and check a scenario file; errors name the file and the key at fault."""
    path = Path(path)
    where = str(path)
    try:
        text = _read_text(path, where, limits)
        raw = _parse_yaml(text, where, limits)
        return _scenario(raw, text, path, where, limits)
    except OptimizerError:
        raise
    except (TypeError, ValueError) as exc:  # a value of the wrong type somewhere in the file
        raise InvalidScenarioError(f"{where}: {_short(exc)}") from exc
    except RecursionError as exc:
        raise InvalidScenarioError(f"{where}: nested too deeply") from exc
    except MemoryError as exc:
        raise InvalidScenarioError(f"{where}: too large to read") from exc


def _read_text(path: Path, where: str, limits: InputLimits) -> str:
    """The file's text: at most max_scenario_bytes, UTF-8."""
    if "\x00" in where:
        raise InvalidScenarioError("scenario: the path contains a NUL byte")
    try:
        size = os.stat(path).st_size
        if size > limits.max_scenario_bytes:
            raise InvalidScenarioError(
                f"{where}: {size:,} bytes; a scenario file may have at most "
                f"{limits.max_scenario_bytes:,} bytes (InputLimits.max_scenario_bytes)"
            )
        with path.open("rb") as handle:
            data = handle.read(limits.max_scenario_bytes + 1)
    except OSError as exc:
        raise InvalidScenarioError(f"{where}: cannot read: {exc.strerror}") from exc
    if len(data) > limits.max_scenario_bytes:
        raise InvalidScenarioError(f"{where}: over {limits.max_scenario_bytes:,} bytes")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise InvalidScenarioError(
            f"{where}: not UTF-8 text (byte 0x{data[exc.start]:02x} at offset {exc.start})"
        ) from exc


def _parse_yaml(text: str, where: str, limits: InputLimits) -> Any:
    """The YAML document, once its events show it within the depth, alias and node limits."""
    try:
        _check_yaml_events(text, where, limits)
        return yaml.load(text, Loader=_LOADER)  # a safe loader: plain values only
    except yaml.YAMLError as exc:
        raise InvalidScenarioError(f"{where}: not valid YAML: {_short(exc, 300)}") from exc


def _check_yaml_events(text: str, where: str, limits: InputLimits) -> None:
    """Depth, alias uses and nodes with every alias expanded, counted from the event stream
    (nothing is built, so a "billion laughs" or a 10,000-deep nesting costs one pass)."""
    size_of: dict[str, int] = {}  # anchor -> nodes it stands for, expanded
    open_anchors: list[str | None] = []
    starts: list[int] = []
    nodes = aliases = 0
    for event in yaml.parse(text, Loader=_LOADER):
        if isinstance(event, yaml.CollectionStartEvent):
            starts.append(nodes)
            open_anchors.append(event.anchor)
            nodes += 1
            if len(starts) > limits.max_yaml_depth:
                raise InvalidScenarioError(
                    f"{where}: nested deeper than {limits.max_yaml_depth} levels (InputLimits.max_yaml_depth)"
                )
        elif isinstance(event, yaml.CollectionEndEvent):
            anchor = open_anchors.pop()
            start = starts.pop()
            if anchor is not None:
                size_of[anchor] = nodes - start
        elif isinstance(event, yaml.ScalarEvent):
            nodes += 1
            if event.anchor is not None:
                size_of[event.anchor] = 1
        elif isinstance(event, yaml.AliasEvent):
            aliases += 1
            if aliases > limits.max_yaml_alias_uses:
                raise InvalidScenarioError(
                    f"{where}: more than {limits.max_yaml_alias_uses} alias uses "
                    "(InputLimits.max_yaml_alias_uses)"
                )
            if event.anchor in open_anchors:
                raise InvalidScenarioError(f"{where}: alias *{_short(event.anchor)} refers to itself")
            nodes += size_of.get(event.anchor, 1)
        if nodes > limits.max_yaml_nodes:
            raise InvalidScenarioError(
                f"{where}: more than {limits.max_yaml_nodes:,} values with aliases expanded "
                "(InputLimits.max_yaml_nodes)"
            )


def _short(value: Any, limit: int = 80) -> str:
    """Text of a value or error, cut to a bounded length."""
    text = " ".join(str(value).split())
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _scenario(raw: Any, text: str, path: Path, where: str, limits: InputLimits) -> Scenario:
    """The scenario a parsed file describes."""
    if not isinstance(raw, Mapping):
        raise InvalidScenarioError(f"{where}: expected a mapping with keys {sorted(_TOP_KEYS)}")
    _refuse_unknown(raw, _TOP_KEYS, where)
    for key in ("name", "geodata", "demands"):
        if key not in raw:
            raise InvalidScenarioError(f"{where}: missing key {key!r}")
    shared = raw.get("shared_build", False)
    if not isinstance(shared, bool):
        raise InvalidScenarioError(f"{where}: shared_build must be true or false, got {_short(repr(shared))}")
    description = raw.get("description")
    if description is not None and not isinstance(description, str):
        raise InvalidScenarioError(f"{where}: description must be text")
    geodata = _geodata(raw["geodata"], path.parent, where)
    given = raw.get("settings")
    if given is not None and not isinstance(given, Mapping):
        raise InvalidScenarioError(f"{where}: settings must be a mapping, got {type(given).__name__}")
    try:
        settings = settings_from_mapping({**geodata.settings, **(given or {})}, where=f"{where}: settings")
    except InvalidScenarioError as exc:
        raise (exc if str(exc).startswith(where) else InvalidScenarioError(f"{where}: {exc}")) from None
    demands = _demands(raw["demands"], where)
    if shared:
        try:
            check_shared_build(demands)
        except InvalidRequestError as exc:
            raise InvalidScenarioError(f"{where}: {exc}") from None
    return Scenario(
        name=_name(raw["name"], where, limits),
        path=path,
        geodata=geodata.spec,
        settings=settings,
        solver=_solver(raw.get("solver"), where, limits),
        demands=demands,
        digest=hashlib.sha256(text.encode()).hexdigest(),
        shared_build=shared,
        penalty_areas=_penalty_areas(raw.get("penalty_areas"), f"{where}: penalty_areas"),
    )


def _name(raw: Any, where: str, limits: InputLimits) -> str:
    """The scenario's name: a plain folder name, short, without control characters."""
    if not isinstance(raw, str | int) or isinstance(raw, bool):
        raise InvalidScenarioError(f"{where}: name must be text, got a {type(raw).__name__}")
    name = str(raw)
    limit = limits.max_scenario_name_chars
    if len(name) > limit:
        raise InvalidScenarioError(f"{where}: name has {len(name):,} characters; the limit is {limit}")
    if _CONTROL.search(name):
        raise InvalidScenarioError(
            f"{where}: name {_short(repr(name), 60)} contains a control character (a newline, tab, ...)"
        )
    if not name.strip() or "/" in name or "\\" in name or name.startswith("."):
        raise InvalidScenarioError(f"{where}: name {_short(repr(name), 60)} must be a plain folder name")
    return name


def _geodata(raw: Any, base: Path, where: str) -> GeodataSet:
    """A geodata set from a path (with the set's own defaults), or from per-layer sources with
    mappings and defaults; the scenario's tables override the set's key by key."""
    if isinstance(raw, str):
        return load_geodata_set(base / _path_text(raw, f"{where}: geodata"))
    if not isinstance(raw, Mapping):
        raise InvalidScenarioError(f"{where}: geodata must be a path or a mapping")
    _refuse_unknown(raw, _GEODATA_KEYS, f"{where}: geodata")
    path = raw.get("path")
    found = load_geodata_set(base / _path_text(path, f"{where}: geodata.path")) if "path" in raw else None
    spec = found.spec if found else None
    sources = dict(spec.sources) if spec else {}
    layers = _mapping(raw.get("layers"), f"{where}: geodata.layers")
    for layer, entries in layers.items():
        if layer not in LAYERS:
            raise InvalidScenarioError(
                f"{where}: geodata.layers.{_short(layer, 40)}: unknown layer; use {LAYERS}"
            )
        entries = entries if isinstance(entries, list) else [entries]
        sources[layer] = tuple(
            _source(e, base, f"{where}: geodata.layers.{layer}[{i}]") for i, e in enumerate(entries)
        )
    by_kind = _mapping(raw.get("cost_per_km_by_kind"), f"{where}: geodata.cost_per_km_by_kind")
    by_level = _mapping(raw.get("permit_cost_by_level"), f"{where}: geodata.permit_cost_by_level")
    merged = GeodataSpec(
        sources=sources,
        cost_per_km_by_kind={**(spec.cost_per_km_by_kind if spec else {}), **by_kind},
        permit_cost_by_level={**(spec.permit_cost_by_level if spec else {}), **by_level},
        name=spec.name if spec else "",
    )
    return GeodataSet(merged, found.settings if found else {}, found.defaults_file if found else None)


def _path_text(raw: Any, where: str) -> str:
    """A path as written in the file: text without NUL bytes."""
    if not isinstance(raw, str) or not raw:
        raise InvalidScenarioError(f"{where} must be a path (text), got {_short(repr(raw))}")
    if "\x00" in raw:
        raise InvalidScenarioError(f"{where}: the path contains a NUL byte")
    return raw


def _source(raw: Any, base: Path, where: str) -> LayerSource:
    """One layer source: a path, or a mapping with path, layer, fields, defaults."""
    if isinstance(raw, str):
        return LayerSource(base / _path_text(raw, where))
    if not isinstance(raw, Mapping) or "path" not in raw:
        raise InvalidScenarioError(f"{where}: expected a path or a mapping with a 'path'")
    _refuse_unknown(raw, _SOURCE_KEYS, where)
    texts = {
        key: _optional_text(raw.get(key), f"{where}.{key}")
        for key in ("layer", "x_field", "y_field", "crs", "where")
    }
    fields_map = _mapping(raw.get("fields"), f"{where}: fields")
    if not all(isinstance(k, str) and isinstance(v, str) for k, v in fields_map.items()):
        raise InvalidScenarioError(f"{where}.fields must map field names to column names (text)")
    defaults = _mapping(raw.get("defaults"), f"{where}: defaults")
    for key, value in defaults.items():
        if not isinstance(key, str):
            raise InvalidScenarioError(f"{where}.defaults: keys must be field names, got {_short(repr(key))}")
        if not _is_plain(value):
            raise InvalidScenarioError(
                f"{where}.defaults.{_short(key, 40)} must be a finite number, text or true/false, "
                f"got {_short(repr(value))}"
            )
    on_invalid = raw.get("on_invalid", "refuse")
    if on_invalid not in ("refuse", "skip"):
        raise InvalidScenarioError(
            f"{where}.on_invalid must be refuse or skip, got {_short(repr(on_invalid))}"
        )
    return LayerSource(
        path=base / _path_text(raw["path"], f"{where}.path"),
        fields=fields_map,
        defaults=defaults,
        on_invalid=on_invalid,
        **texts,
    )


def _optional_text(raw: Any, where: str) -> str | None:
    """A text value or None."""
    if raw is not None and not isinstance(raw, str):
        raise InvalidScenarioError(f"{where} must be text, got {_short(repr(raw))}")
    return raw


def _is_plain(value: Any) -> bool:
    """A value a layer column may default to: None, true/false, a finite number or text."""
    if value is None or isinstance(value, bool | str):
        return True
    return isinstance(value, int | float) and math.isfinite(value)


def _refuse_unknown(raw: Mapping, known: set[str], where: str) -> None:
    """Name the keys of a mapping that are not known (a few, each cut short, with the nearest known)."""
    if message := unknown_keys_message(raw, known):
        raise InvalidScenarioError(f"{where}: {message}")


def _mapping(raw: Any, where: str) -> dict:
    """A mapping value (absent means empty)."""
    if raw is None:
        return {}
    if not isinstance(raw, Mapping):
        raise InvalidScenarioError(f"{where} must be a mapping, got {type(raw).__name__}")
    return dict(raw)


def _solver(raw: Any, where: str, limits: InputLimits) -> SolverOptions:
    """Solver options: each of its type and range, named by key."""
    raw = _mapping(raw, f"{where}: solver")
    _refuse_unknown(raw, set(_SOLVER_KEYS), f"{where}: solver")
    time_limit_s = raw.get("time_limit_s", SolverOptions.time_limit_s)
    if not (_is_real(time_limit_s) and 0 < time_limit_s <= limits.max_time_limit_s):
        raise InvalidScenarioError(
            f"{where}: solver.time_limit_s must be > 0 (seconds, at most {limits.max_time_limit_s:g}), "
            f"got {_short(repr(time_limit_s))}"
        )
    workers = raw.get("num_workers", SolverOptions.num_workers)
    if not (
        isinstance(workers, int) and not isinstance(workers, bool) and 1 <= workers <= limits.max_num_workers
    ):
        raise InvalidScenarioError(
            f"{where}: solver.num_workers must be an integer from 1 to {limits.max_num_workers}, "
            f"got {_short(repr(workers))}"
        )
    for key in ("tie_break_latency", "label_search", "log_search"):
        if key in raw and not isinstance(raw[key], bool):
            raise InvalidScenarioError(
                f"{where}: solver.{key} must be true or false, got {_short(repr(raw[key]))}"
            )
    engine = raw.get("design_engine", SolverOptions.design_engine)
    if not (isinstance(engine, str) and engine in DESIGN_ENGINES):
        raise InvalidScenarioError(
            f"{where}: solver.design_engine must be one of {list(DESIGN_ENGINES)}, got {_short(repr(engine))}"
        )
    return SolverOptions(**raw)


def _is_real(value: Any) -> bool:
    """A finite real number (a bool is not)."""
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


def _demands(raw: Any, where: str) -> tuple[Demand, ...]:
    """Demands, each checked; ids unique."""
    if not isinstance(raw, list) or not raw:
        raise InvalidScenarioError(f"{where}: demands must be a non-empty list")
    known = {f.name for f in fields(Demand)}
    demands = []
    for i, item in enumerate(raw):
        at = f"{where}: demands[{i}]"
        if not isinstance(item, Mapping):
            raise InvalidScenarioError(f"{at}: expected a mapping")
        _refuse_unknown(item, known, at)  # first: a misspelt key is the likely cause of a missing one
        if missing := [k for k in ("id", "a", "b", "max_latency_ms") if k not in item]:
            raise InvalidScenarioError(f"{at}: missing keys {missing}")
        values = dict(item)
        for key in ("id", "a", "b", "diverse_from_demand"):
            if key in values and _is_scalar(values[key]):
                values[key] = str(values[key])
        for key in ID_LIST_FIELDS:
            listed = values.get(key) or ()
            if not (isinstance(listed, list | tuple) and all(_is_scalar(v) for v in listed)):
                raise InvalidScenarioError(f"{at}.{key} must be a list of {id_kind(key)} ids")
            values[key] = tuple(str(v) for v in listed)
        for key in ("avoid_areas", "within_areas", "diverse_from_lines"):  # checked by Demand
            values[key] = _areas(values.get(key), f"{at}.{key}", names=key != "diverse_from_lines")
        if "via" in values:
            values["via"] = _via(values["via"], f"{at}.via")
        try:
            demands.append(Demand(**values))
        except InvalidRequestError as exc:
            raise InvalidScenarioError(f"{at}: {exc}") from exc
    counts = Counter(d.id for d in demands)
    if dupes := sorted(d for d, n in counts.items() if n > 1):
        raise InvalidScenarioError(f"{where}: duplicate demand ids {[_short(d, 40) for d in dupes][:10]}")
    return tuple(demands)


def _penalty_areas(raw: Any, where: str) -> tuple[PenaltyArea, ...]:
    """Soft penalty areas written in the scenario: {cost_multiplier, name?} with inline GeoJSON
    under geometry (a geometry, Feature or FeatureCollection)."""
    if raw is None:
        return ()
    if not isinstance(raw, list):
        raise InvalidScenarioError(f"{where} must be a list of {{geometry, cost_multiplier}}")
    areas = []
    for i, item in enumerate(raw):
        at = f"{where}[{i}]"
        if not isinstance(item, Mapping):
            raise InvalidScenarioError(f"{at} must be a mapping with geometry and cost_multiplier")
        _refuse_unknown(item, {"geometry", "cost_multiplier", "name"}, at)
        if missing := [k for k in ("geometry", "cost_multiplier") if k not in item]:
            raise InvalidScenarioError(f"{at}: missing keys {missing}")
        name = str(item.get("name", f"penalty_areas[{i}]"))
        areas += [
            PenaltyArea(g, item["cost_multiplier"], name) for g in _areas(item["geometry"], f"{at}.geometry")
        ]
    if problems := penalty_problems(areas, where):
        raise InvalidScenarioError(problems[0])
    return tuple(areas)


def _via(raw: Any, where: str) -> tuple[str | shapely.Point, ...]:
    """Via stops written in the scenario: site ids, {lon, lat} points or GeoJSON Points."""
    if not isinstance(raw, list):
        raise InvalidScenarioError(f"{where} must be a list of site ids and points, got {_short(repr(raw))}")
    stops: list[str | shapely.Point] = []
    for i, item in enumerate(raw):
        if _is_scalar(item):
            stops.append(str(item))
        elif isinstance(item, Mapping) and set(item) == {"lon", "lat"}:
            if not (_is_real(item["lon"]) and _is_real(item["lat"])):
                raise InvalidScenarioError(f"{where}[{i}]: lon and lat must be numbers")
            stops.append(shapely.Point(float(item["lon"]), float(item["lat"])))
        elif isinstance(item, Mapping) and item.get("type") == "Point":
            stops.append(_areas(item, f"{where}[{i}]")[0])
        else:
            raise InvalidScenarioError(
                f"{where}[{i}] must be a site id, {{lon: ..., lat: ...}} or a GeoJSON Point, "
                f"got {_short(repr(item))}"
            )
    return tuple(stops)


def _areas(raw: Any, where: str, *, names: bool = False) -> tuple[shapely.Geometry | str, ...]:
    """Geometries from GeoJSON written in the scenario: a geometry, a Feature, a FeatureCollection
    or a list of them (lon/lat); with names, an entry may be an area's id or group instead."""
    if raw is None:
        return ()
    items = raw if isinstance(raw, list) else [raw]
    areas = []
    for i, item in enumerate(items):
        at = f"{where}[{i}]" if isinstance(raw, list) else where
        if isinstance(item, str | int) and not isinstance(item, bool) and names:
            areas.append(str(item))  # an area of the geodata's areas layer, by id or group
            continue
        if not isinstance(item, Mapping):
            raise InvalidScenarioError(
                f"{at} must be GeoJSON (a Polygon, a Feature, ...){' or an area id' if names else ''}, "
                f"got {_short(repr(item))}"
            )
        if item.get("type") == "FeatureCollection":
            areas += _areas(list(item.get("features") or []), f"{at}.features", names=names)
            continue
        geometry = item.get("geometry") if item.get("type") == "Feature" else item
        try:
            areas.append(shapely.geometry.shape(geometry))
        except (TypeError, ValueError, KeyError, AttributeError, shapely.errors.GEOSException) as exc:
            raise InvalidScenarioError(f"{at} is not a GeoJSON geometry: {_short(exc)}") from None
    return tuple(areas)


def _is_scalar(value: Any) -> bool:
    """Text or a number (an id written without quotes)."""
    return isinstance(value, str | int | float) and not isinstance(value, bool)
