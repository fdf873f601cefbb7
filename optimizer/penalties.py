"""Soft area penalties: cost multipliers (flood, seismic, wetland risk) on the network's edges
inside risk areas, kept apart as each edge's risk_cost so a route's cost breakdown shows them.

Where areas overlap, the highest multiplier applies; an edge partly inside pays the multiplier
on the share of its length inside: cost = base x (1 + sum_k (m_k - m_(k-1)) x share inside the
areas of multiplier >= m_k), m_0 = 1, which is exact for the highest multiplier at each point.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, replace

import numpy as np
import shapely

from optimizer.errors import InvalidRequestError
from optimizer.geometry import WorkingProjection

__all__ = [
    "MAX_COST_MULTIPLIER",
    "MAX_PENALTY_AREAS",
    "MAX_PENALTY_VERTICES",
    "PenaltyArea",
    "own_penalties",
    "penalized",
    "penalty_problems",
    "risk_cost_of",
]

MAX_COST_MULTIPLIER = 1000.0
"""The largest cost multiplier an area may carry."""
MAX_PENALTY_AREAS = 1000
"""Most penalty areas one scenario or request may add to its network's own."""
MAX_PENALTY_VERTICES = 1_000_000
"""Most vertices those areas may hold together (each intersects the network's edges)."""


@dataclass(frozen=True)
class PenaltyArea:
    """A polygon (lon/lat) whose edges cost cost_multiplier times their base cost inside it."""

    geometry: shapely.Geometry
    cost_multiplier: float
    name: str = ""


def penalty_problems(areas: Sequence[PenaltyArea], where: str) -> list[str]:
    """Why these areas are not valid lon/lat polygons with multipliers in [1, MAX_COST_MULTIPLIER]."""
    if len(areas) > MAX_PENALTY_AREAS:
        return [f"{where} has {len(areas):,} areas; the limit is {MAX_PENALTY_AREAS}"]
    vertices = sum(
        int(shapely.get_num_coordinates(a.geometry))
        for a in areas
        if isinstance(a.geometry, shapely.Geometry)
    )
    if vertices > MAX_PENALTY_VERTICES:
        return [f"{where} hold {vertices:,} vertices; the limit is {MAX_PENALTY_VERTICES:,}"]
    problems = []
    box = shapely.box(-180, -90, 180, 90)
    for i, area in enumerate(areas):
        m = area.cost_multiplier
        if not (isinstance(m, int | float) and not isinstance(m, bool) and 1 <= m <= MAX_COST_MULTIPLIER):
            problems.append(
                f"{where}[{i}].cost_multiplier must be a number in [1, {MAX_COST_MULTIPLIER:g}], got {m!r}"
            )
        geom = area.geometry
        if not isinstance(geom, shapely.Polygon | shapely.MultiPolygon) or geom.is_empty:
            problems.append(
                f"{where}[{i}] must be a polygon, got {getattr(geom, 'geom_type', type(geom).__name__)}"
            )
        elif not (np.isfinite(shapely.get_coordinates(geom)).all() and box.covers(geom)):
            problems.append(f"{where}[{i}] must lie within lon [-180, 180], lat [-90, 90]")
        elif not geom.is_valid:
            problems.append(f"{where}[{i}] is not a valid polygon ({shapely.is_valid_reason(geom)})")
    return problems


def own_penalties(areas) -> list[PenaltyArea]:
    """The penalty areas of a network's areas layer: its rows with a cost_multiplier."""
    if areas is None or not len(areas) or "cost_multiplier" not in areas:
        return []
    multiplier = areas["cost_multiplier"].to_numpy(dtype=float)
    names = areas["area_id"].astype(str).to_numpy()
    return [
        PenaltyArea(geom, float(m), str(name))
        for geom, m, name in zip(areas.geometry.values, multiplier, names, strict=True)
        if math.isfinite(m)
    ]


def penalized(network, extra: Sequence[PenaltyArea] = ()):
    """The network with the multipliers of its own penalty areas (its areas layer) and of extra
    on the base cost of the edges inside them, each edge's extra cost kept as its risk_cost.
    extra is checked first (InvalidRequestError naming the index)."""
    if problems := penalty_problems(extra, "penalty_areas"):
        raise InvalidRequestError("; ".join(problems))
    edges = network.edges
    if not extra and "risk_cost" in edges:
        return network  # its own areas are applied already
    areas = [a for a in (*own_penalties(network.areas), *extra) if a.cost_multiplier > 1]
    base = (
        edges["cost"].to_numpy() - edges["risk_cost"].to_numpy()
        if "risk_cost" in edges
        else edges["cost"].to_numpy()
    )
    cost = base * _factor(edges.geometry.values, areas)
    new_edges = edges.assign(cost=cost, risk_cost=cost - base)
    return replace(network, edges=new_edges, arrays=replace(network.arrays, cost=cost))


def _factor(geoms: np.ndarray, areas: Sequence[PenaltyArea]) -> np.ndarray:
    """Per edge, its length-weighted highest multiplier of the areas over it (1 outside them)."""
    factor = np.ones(len(geoms))
    if not len(geoms) or not areas:
        return factor
    project = WorkingProjection.fitted(tuple(shapely.total_bounds(geoms))).from_lonlat

    def metres(g: np.ndarray) -> np.ndarray:
        return shapely.length(project(g))

    tree, previous = shapely.STRtree(geoms), 1.0
    for level in sorted({float(a.cost_multiplier) for a in areas}):
        union = shapely.union_all([a.geometry for a in areas if a.cost_multiplier >= level])
        hit = tree.query(union, predicate="intersects")
        if len(hit):
            whole, part = metres(geoms[hit]), metres(shapely.intersection(geoms[hit], union))
            with np.errstate(divide="ignore", invalid="ignore"):
                share = np.where(whole > 0, np.clip(part / np.where(whole > 0, whole, 1.0), 0.0, 1.0), 1.0)
            factor[hit] += (level - previous) * share
        previous = level
    return factor


def risk_cost_of(edges, idx: np.ndarray) -> float:
    """The penalty part of the cost of the edges idx (each run counted)."""
    if "risk_cost" not in edges or not len(idx):
        return 0.0
    value = float(edges["risk_cost"].to_numpy()[idx].sum())
    return value if math.isfinite(value) else 0.0
