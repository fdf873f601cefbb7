"""Named defaults and the frozen settings that every layer of the pipeline takes."""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from types import MappingProxyType
from typing import Any

from optimizer.errors import InvalidScenarioError

__all__ = ["DEFAULT_GROUP_INDEX", "GraphSettings", "settings_from_mapping"]

DEFAULT_GROUP_INDEX = 1.4682
"""Group index of standard single-mode fiber (G.652) at 1550 nm: ~4.897 us per km."""

SPEED_OF_LIGHT_KM_PER_MS = 299.792458


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
    permit_cost_by_level: Mapping[str, float] = field(default_factory=_frozen)
    cost_per_km_by_kind: Mapping[str, float] = field(default_factory=_frozen)

    def __post_init__(self) -> None:
        """Freeze mappings and check ranges, naming the setting at fault."""
        object.__setattr__(self, "permit_cost_by_level", _frozen(self.permit_cost_by_level))
        object.__setattr__(self, "cost_per_km_by_kind", _frozen(self.cost_per_km_by_kind))
        if self.counted_levels is not None:
            object.__setattr__(self, "counted_levels", tuple(self.counted_levels))
        checks = {  # ranges a real network can need; beyond them a build only burns memory
            "snap_tolerance_m": 0 <= self.snap_tolerance_m <= 1_000,
            "gap_km": 0 <= self.gap_km <= 50,
            "max_lateral_km": 0 <= self.max_lateral_km <= 500,
            "laterals_per_site": 1 <= self.laterals_per_site <= 20,
            "lateral_cost_per_km": 0 <= self.lateral_cost_per_km < math.inf,
            "lateral_route_factor": 1 <= self.lateral_route_factor <= 10,
            "group_index": 1 <= self.group_index <= 10,
            "slack_factor": 1 <= self.slack_factor <= 10,
            "min_entry_m": 0 <= self.min_entry_m <= 1_000,
        }
        bad = [
            f"settings.{k} is out of range, got {getattr(self, k)!r}" for k, ok in checks.items() if not ok
        ]
        for name, table in (
            ("permit_cost_by_level", self.permit_cost_by_level),
            ("cost_per_km_by_kind", self.cost_per_km_by_kind),
        ):
            bad += [
                f"settings.{name}.{k} must be a number >= 0, got {v!r}"
                for k, v in table.items()
                if not _is_nonnegative(v)
            ]
        if bad:
            raise InvalidScenarioError("; ".join(bad))

    @property
    def latency_ms_per_km(self) -> float:
        """One-way latency of a km of fiber, slack included."""
        return self.group_index / SPEED_OF_LIGHT_KM_PER_MS * self.slack_factor


def _is_nonnegative(value: Any) -> bool:
    """Whether value is a finite real number >= 0."""
    return isinstance(value, int | float) and not isinstance(value, bool) and 0 <= value < math.inf


def settings_from_mapping(raw: Mapping[str, Any] | None, *, where: str = "settings") -> GraphSettings:
    """GraphSettings from a scenario's `settings:` mapping, naming unknown keys."""
    raw = dict(raw or {})
    known = {f.name for f in fields(GraphSettings)}
    if unknown := sorted(set(raw) - known):
        raise InvalidScenarioError(f"{where}: unknown keys {unknown}; known keys are {sorted(known)}")
    try:
        return GraphSettings(**raw)
    except TypeError as exc:
        raise InvalidScenarioError(f"{where}: {exc}") from exc
