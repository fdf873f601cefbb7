"""Named defaults and the frozen settings that every layer of the pipeline takes."""

from __future__ import annotations

import difflib
import numbers
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, fields
from types import MappingProxyType
from typing import Any

import numpy as np

from optimizer.errors import InvalidScenarioError
from optimizer.limits import DEFAULT_LIMITS

__all__ = [
    "DEFAULT_GROUP_INDEX",
    "UNCOVERED_MODES",
    "GraphSettings",
    "settings_from_mapping",
    "unknown_keys_message",
]

DEFAULT_GROUP_INDEX = 1.4682
"""Group index of standard single-mode fiber (G.652) at 1550 nm: ~4.897 us per km."""

SPEED_OF_LIGHT_KM_PER_MS = 299.792458
UNCOVERED_MODES = ("allow", "warn", "forbid")
"""What a route outside every jurisdiction of a coverage level meets: nothing, a warning, or no edge."""


def _frozen(mapping: Mapping[str, float] | None = None) -> Mapping[str, float]:
    """A read-only copy of a mapping."""
    return MappingProxyType(dict(mapping or {}))


@dataclass(frozen=True)
class GraphSettings:
    """How corridors, laterals and jurisdictions become the routing graph."""

    snap_tolerance_m: float = 25.0
    gap_km: float = 0.0
    max_lateral_km: float = 30.0
    laterals_per_site: int = 3
    lateral_cost_per_km: float = 60_000.0
    lateral_route_factor: float = 1.2
    group_index: float = DEFAULT_GROUP_INDEX
    slack_factor: float = 1.0
    min_entry_m: float = 10.0
    counted_levels: tuple[str, ...] | None = None
    uncovered: str = "warn"
    """Corridor outside every jurisdiction of a coverage level: "allow", "warn" (the route stands,
    with a warning) or "forbid" (the edge is not usable); see coverage_levels."""
    coverage_levels: tuple[str, ...] | None = None
    """Levels whose polygons say where routes may run; None: every level of the jurisdictions."""
    permit_cost_by_level: Mapping[str, float] = field(default_factory=_frozen)
    cost_per_km_by_kind: Mapping[str, float] = field(default_factory=_frozen)

    def __post_init__(self) -> None:
        """Freeze mappings and check types and ranges, naming the setting at fault."""
        if bad := _type_problems(self):
            raise InvalidScenarioError("; ".join(bad))
        object.__setattr__(self, "permit_cost_by_level", _frozen(self.permit_cost_by_level))
        object.__setattr__(self, "cost_per_km_by_kind", _frozen(self.cost_per_km_by_kind))
        for name in _LEVEL_SETTINGS:
            if getattr(self, name) is not None:
                object.__setattr__(self, name, tuple(str(v) for v in getattr(self, name)))
        limits = DEFAULT_LIMITS
        checks = {  # ranges a real network can need; beyond them a build only burns memory
            "snap_tolerance_m": 0 <= self.snap_tolerance_m <= 1_000,
            "gap_km": 0 <= self.gap_km <= 50,
            "max_lateral_km": 0 <= self.max_lateral_km <= 500,
            "laterals_per_site": 1 <= self.laterals_per_site <= 20,
            "lateral_cost_per_km": 0 <= self.lateral_cost_per_km <= limits.max_lateral_cost_per_km,
            "lateral_route_factor": 1 <= self.lateral_route_factor <= 10,
            "group_index": 1 <= self.group_index <= 10,
            "slack_factor": 1 <= self.slack_factor <= 10,
            "min_entry_m": 0 <= self.min_entry_m <= 1_000,
        }
        bad = [
            f"settings.{k} is out of range, got {getattr(self, k)!r}" for k, ok in checks.items() if not ok
        ]
        if self.uncovered not in UNCOVERED_MODES:
            bad.append(
                f"settings.uncovered must be one of {list(UNCOVERED_MODES)}, got {_short(self.uncovered)}"
            )
        for name, table, ceiling in (
            ("permit_cost_by_level", self.permit_cost_by_level, limits.max_permit_cost),
            ("cost_per_km_by_kind", self.cost_per_km_by_kind, limits.max_cost_per_km),
        ):
            bad += [
                f"settings.{name}.{k} must be a number from 0 to {ceiling:g}, got {_short(v)}"
                for k, v in table.items()
                if not _is_amount(v, ceiling)
            ]
        if bad:
            raise InvalidScenarioError("; ".join(bad))

    def coverage_of(self, levels: Sequence[str]) -> tuple[str, ...]:
        """Of levels, those whose polygons say where routes may run (coverage_levels, or all)."""
        return tuple(
            level for level in levels if self.coverage_levels is None or level in self.coverage_levels
        )

    @property
    def latency_ms_per_km(self) -> float:
        """One-way latency of a km of fiber, slack included."""
        return self.group_index / SPEED_OF_LIGHT_KM_PER_MS * self.slack_factor


_INTEGER_SETTINGS = ("laterals_per_site",)
_LEVEL_SETTINGS = ("counted_levels", "coverage_levels")
_TEXT_SETTINGS = ("uncovered",)
_TABLE_SETTINGS = ("permit_cost_by_level", "cost_per_km_by_kind")


def _is_number(value: Any) -> bool:
    """Whether value is a real number (a bool is not)."""
    return isinstance(value, numbers.Real) and not isinstance(value, bool | np.bool_)


def _is_amount(value: Any, ceiling: float) -> bool:
    """Whether value is a real number in [0, ceiling]."""
    return _is_number(value) and 0 <= value <= ceiling


def _short(value: Any, limit: int = 60) -> str:
    """A value as written, cut to a short prefix."""
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _type_problems(settings: GraphSettings) -> list[str]:
    """Each setting of the wrong type, by name: numbers, integers, level lists, tables."""
    bad = []
    for f in fields(GraphSettings):
        value = getattr(settings, f.name)
        if f.name in _TABLE_SETTINGS:
            if not isinstance(value, Mapping) or not all(isinstance(k, str) for k in value):
                bad.append(f"settings.{f.name} must be a mapping of names to numbers, got {_short(value)}")
        elif f.name in _LEVEL_SETTINGS:
            items_ok = isinstance(value, list | tuple) and all(
                isinstance(v, str | int) and not isinstance(v, bool) for v in value
            )
            if value is not None and not items_ok:
                bad.append(f"settings.{f.name} must be a list of level names, got {_short(value)}")
        elif f.name in _TEXT_SETTINGS:
            if not isinstance(value, str):
                bad.append(f"settings.{f.name} must be text, got {_short(value)}")
        elif f.name in _INTEGER_SETTINGS:
            if not (isinstance(value, numbers.Integral) and not isinstance(value, bool | np.bool_)):
                bad.append(f"settings.{f.name} must be an integer, got {_short(value)}")
        elif not _is_number(value):
            bad.append(f"settings.{f.name} must be a number, got {_short(value)}")
    return bad


def settings_from_mapping(raw: Mapping[str, Any] | None, *, where: str = "settings") -> GraphSettings:
    """GraphSettings from a scenario's `settings:` mapping, naming unknown keys."""
    if raw is not None and not isinstance(raw, Mapping):
        raise InvalidScenarioError(f"{where} must be a mapping, got {type(raw).__name__}")
    raw = dict(raw or {})
    if message := unknown_keys_message(raw, {f.name for f in fields(GraphSettings)}):
        raise InvalidScenarioError(f"{where}: {message}")
    try:
        return GraphSettings(**raw)
    except TypeError as exc:
        raise InvalidScenarioError(f"{where}: {exc}") from exc


def unknown_keys_message(raw: Mapping, known: set[str]) -> str:
    """Words naming the keys of raw that are not known, each with the nearest known key; "" if none."""
    unknown = sorted(map(str, set(raw) - known))
    if not unknown:
        return ""
    named = []
    for key in unknown[:10]:
        near = difflib.get_close_matches(key, sorted(known), n=1, cutoff=0.6)
        named.append(f"{_short(key, 40)} (did you mean {near[0]!r}?)" if near else _short(key, 40))
    more = f" and {len(unknown) - 10} more" if len(unknown) > 10 else ""
    word = "key" if len(unknown) == 1 else "keys"
    return f"unknown {word} {', '.join(named)}{more}; known keys are {sorted(known)}"
