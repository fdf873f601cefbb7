"""Scenario files (YAML): geodata sources, settings, solver options and demands."""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any

import yaml

from optimizer.config import GraphSettings, settings_from_mapping
from optimizer.errors import InvalidRequestError, InvalidScenarioError, OptimizerError
from optimizer.geodata import LAYERS, GeodataSpec, LayerSource, spec_from_path
from optimizer.problem import DESIGN_ENGINES, SolverOptions
from optimizer.routes import Demand

__all__ = ["Scenario", "load_scenario"]

_SOURCE_KEYS = {"path", "layer", "fields", "defaults", "x_field", "y_field", "crs"}
_GEODATA_KEYS = {"path", "layers", "cost_per_km_by_kind", "permit_cost_by_level"}
_TOP_KEYS = {"name", "geodata", "settings", "solver", "demands", "description", "shared_build"}


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


def load_scenario(path: str | Path) -> Scenario:
    """Read and check a scenario file; errors name the file and the key at fault."""
    path = Path(path)
    where = str(path)
    try:
        text = path.read_text(encoding="utf-8")
        raw = yaml.safe_load(text)
    except OSError as exc:
        raise InvalidScenarioError(f"{where}: cannot read: {exc.strerror}") from exc
    except yaml.YAMLError as exc:
        raise InvalidScenarioError(f"{where}: not valid YAML: {exc}") from exc
    if not isinstance(raw, Mapping):
        raise InvalidScenarioError(f"{where}: expected a mapping with keys {sorted(_TOP_KEYS)}")
    if unknown := sorted(set(raw) - _TOP_KEYS):
        raise InvalidScenarioError(f"{where}: unknown keys {unknown}; known keys are {sorted(_TOP_KEYS)}")
    for key in ("name", "geodata", "demands"):
        if key not in raw:
            raise InvalidScenarioError(f"{where}: missing key {key!r}")
    shared = raw.get("shared_build", False)
    if not isinstance(shared, bool):
        raise InvalidScenarioError(f"{where}: shared_build must be true or false, got {shared!r}")
    name = str(raw["name"])
    if not name or "/" in name or name.startswith("."):
        raise InvalidScenarioError(f"{where}: name {name!r} must be a plain folder name")
    try:
        return Scenario(
            name=name,
            path=path,
            geodata=_geodata(raw["geodata"], path.parent, where),
            settings=settings_from_mapping(raw.get("settings"), where=f"{where}: settings"),
            solver=_solver(raw.get("solver"), where),
            demands=_demands(raw["demands"], where),
            digest=hashlib.sha256(text.encode()).hexdigest(),
            shared_build=shared,
        )
    except OptimizerError:
        raise
    except (TypeError, ValueError) as exc:  # a value of the wrong type somewhere in the file
        raise InvalidScenarioError(f"{where}: {exc}") from exc


def _geodata(raw: Any, base: Path, where: str) -> GeodataSpec:
    """A geodata spec from a path, or from per-layer sources with mappings and defaults."""
    if isinstance(raw, str):
        return spec_from_path(base / raw)
    if not isinstance(raw, Mapping):
        raise InvalidScenarioError(f"{where}: geodata must be a path or a mapping")
    if unknown := sorted(set(raw) - _GEODATA_KEYS):
        raise InvalidScenarioError(f"{where}: geodata: unknown keys {unknown}")
    spec = spec_from_path(base / raw["path"]) if "path" in raw else GeodataSpec(sources={})
    sources = dict(spec.sources)
    layers = _mapping(raw.get("layers"), f"{where}: geodata.layers")
    for layer, entries in layers.items():
        if layer not in LAYERS:
            raise InvalidScenarioError(f"{where}: geodata.layers.{layer}: unknown layer; use {LAYERS}")
        entries = entries if isinstance(entries, list) else [entries]
        sources[layer] = tuple(
            _source(e, base, f"{where}: geodata.layers.{layer}[{i}]") for i, e in enumerate(entries)
        )
    return GeodataSpec(
        sources=sources,
        cost_per_km_by_kind=_mapping(raw.get("cost_per_km_by_kind"), f"{where}: cost_per_km_by_kind"),
        permit_cost_by_level=_mapping(raw.get("permit_cost_by_level"), f"{where}: permit_cost_by_level"),
        name=spec.name,
    )


def _source(raw: Any, base: Path, where: str) -> LayerSource:
    """One layer source: a path, or a mapping with path, layer, fields, defaults."""
    if isinstance(raw, str):
        return LayerSource(base / raw)
    if not isinstance(raw, Mapping) or "path" not in raw:
        raise InvalidScenarioError(f"{where}: expected a path or a mapping with a 'path'")
    if unknown := sorted(set(raw) - _SOURCE_KEYS):
        raise InvalidScenarioError(f"{where}: unknown keys {unknown}; known keys are {sorted(_SOURCE_KEYS)}")
    return LayerSource(
        path=base / raw["path"],
        layer=raw.get("layer"),
        fields=_mapping(raw.get("fields"), f"{where}: fields"),
        defaults=_mapping(raw.get("defaults"), f"{where}: defaults"),
        x_field=raw.get("x_field"),
        y_field=raw.get("y_field"),
        crs=raw.get("crs"),
    )


def _mapping(raw: Any, where: str) -> dict:
    """A mapping value (absent means empty)."""
    if raw is None:
        return {}
    if not isinstance(raw, Mapping):
        raise InvalidScenarioError(f"{where} must be a mapping, got {type(raw).__name__}")
    return dict(raw)


def _solver(raw: Any, where: str) -> SolverOptions:
    """Solver options (time_limit_s, num_workers)."""
    raw = _mapping(raw, f"{where}: solver")
    known = {f.name for f in fields(SolverOptions)}
    if unknown := sorted(set(raw) - known):
        raise InvalidScenarioError(f"{where}: solver: unknown keys {unknown}; known keys are {sorted(known)}")
    options = SolverOptions(**raw)
    if not (isinstance(options.time_limit_s, int | float) and options.time_limit_s > 0):
        raise InvalidScenarioError(f"{where}: solver.time_limit_s must be > 0, got {options.time_limit_s}")
    if not (isinstance(options.num_workers, int) and options.num_workers >= 1):
        raise InvalidScenarioError(f"{where}: solver.num_workers must be an integer >= 1")
    if options.design_engine not in DESIGN_ENGINES:
        raise InvalidScenarioError(
            f"{where}: solver.design_engine must be one of {list(DESIGN_ENGINES)}, "
            f"got {options.design_engine!r}"
        )
    return options


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
        if missing := [k for k in ("id", "a", "b", "max_latency_ms") if k not in item]:
            raise InvalidScenarioError(f"{at}: missing keys {missing}")
        if unknown := sorted(set(item) - known):
            raise InvalidScenarioError(f"{at}: unknown keys {unknown}; known keys are {sorted(known)}")
        values = dict(item)
        for key in ("id", "a", "b"):
            values[key] = str(values[key])
        for key in ("allowed_jurisdictions", "avoid_jurisdictions"):
            values[key] = tuple(str(v) for v in values.get(key) or ())
        try:
            demands.append(Demand(**values))
        except InvalidRequestError as exc:
            raise InvalidScenarioError(f"{at}: {exc}") from exc
    ids = [d.id for d in demands]
    if dupes := sorted({d for d in ids if ids.count(d) > 1}):
        raise InvalidScenarioError(f"{where}: duplicate demand ids {dupes}")
    return tuple(demands)
