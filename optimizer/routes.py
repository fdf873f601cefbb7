"""Demands on a network: solve each one and describe its route for people and GIS."""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np
import shapely

from optimizer.errors import InvalidRequestError, UnknownSiteError
from optimizer.graph import Network
from optimizer.problem import RouteQuery, RouteResult, RouteStatus, SolverOptions
from optimizer.solve import solve_route

__all__ = ["Demand", "JurisdictionCrossed", "Route", "Solution", "solve_demand", "solve_demands"]

DIVERSITY_KINDS = ("edge", "node", "srlg")


@dataclass(frozen=True)
class Demand:
    """A request for routes between two sites within a one-way latency bound."""

    id: str
    a: str
    b: str
    max_latency_ms: float
    paths: int = 1
    diversity: str = "srlg"
    max_jurisdictions: int | None = None
    max_cost: float | None = None
    allowed_jurisdictions: tuple[str, ...] = ()
    avoid_jurisdictions: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        """Check values, naming the demand and field at fault."""
        where = f"demand {self.id!r}"
        problems = []
        if not (_is_number(self.max_latency_ms) and 0 < self.max_latency_ms < math.inf):
            problems.append(f"{where}: max_latency_ms must be > 0, got {self.max_latency_ms!r}")
        if self.a == self.b:
            problems.append(f"{where}: a and b are the same site {self.a!r}")
        if self.paths != 1:
            problems.append(
                f"{where}: paths={self.paths} asks for diverse routes, which this version does "
                f"not solve yet; use paths: 1"
            )
        if self.diversity not in DIVERSITY_KINDS:
            problems.append(f"{where}: diversity must be one of {DIVERSITY_KINDS}, got {self.diversity!r}")
        if self.max_jurisdictions is not None and not (
            isinstance(self.max_jurisdictions, int) and self.max_jurisdictions >= 0
        ):
            problems.append(
                f"{where}: max_jurisdictions must be an integer >= 0, got {self.max_jurisdictions!r}"
            )
        if self.max_cost is not None and not (isinstance(self.max_cost, int | float) and self.max_cost >= 0):
            problems.append(f"{where}: max_cost must be a number >= 0, got {self.max_cost!r}")
        if problems:
            raise InvalidRequestError("; ".join(problems))


def _is_number(value: object) -> bool:
    """A real number (bools excluded)."""
    return isinstance(value, int | float) and not isinstance(value, bool)


@dataclass(frozen=True)
class JurisdictionCrossed:
    """A permit jurisdiction a route enters."""

    jurisdiction_id: str
    name: str
    level: str
    permit_cost: float


@dataclass(frozen=True)
class Route:
    """One demand's outcome: the route (if any), its figures, status and proof."""

    demand_id: str
    route_index: int
    a: str
    b: str
    status: RouteStatus
    reason: str
    max_latency_ms: float
    geometry: shapely.LineString | None
    length_km: float
    latency_ms: float
    cost: float
    build_cost: float
    permit_cost: float
    corridor_kinds: tuple[str, ...]
    jurisdictions: tuple[JurisdictionCrossed, ...]
    bound: float
    gap: float
    solve_s: float
    edges: tuple[int, ...] = ()
    nodes: tuple[int, ...] = ()

    @property
    def permit_count(self) -> int:
        """Number of distinct permit jurisdictions entered."""
        return len(self.jurisdictions)

    @property
    def count_by_level(self) -> dict[str, int]:
        """Jurisdictions entered, counted per level."""
        counts: dict[str, int] = {}
        for j in self.jurisdictions:
            counts[j.level] = counts.get(j.level, 0) + 1
        return counts


@dataclass(frozen=True)
class Solution:
    """All routes of a scenario with totals and timings."""

    name: str
    routes: tuple[Route, ...]
    graph_stats: dict
    timings_s: dict[str, float] = field(default_factory=dict)

    @property
    def total_cost(self) -> float:
        """Build plus permit cost of every route found (routes solved independently)."""
        return float(sum(r.cost for r in self.routes if r.geometry is not None))

    @property
    def status(self) -> str:
        """OPTIMAL when every demand is proven, else the weakest status met."""
        order = [RouteStatus.OPTIMAL, RouteStatus.FEASIBLE, RouteStatus.INFEASIBLE, RouteStatus.UNSOLVED]
        worst = max((order.index(r.status) for r in self.routes), default=0)
        return order[worst].value

    @property
    def jurisdictions_overall(self) -> tuple[str, ...]:
        """Distinct jurisdiction ids entered by any route."""
        return tuple(sorted({j.jurisdiction_id for r in self.routes for j in r.jurisdictions}))


def check_demands(network: Network, demands: Sequence[Demand]) -> None:
    """Every site and jurisdiction the demands name exists in the network (before any solving)."""
    juris_ids = set(network.jurisdictions["jurisdiction_id"].astype(str))
    for demand in demands:
        for end in (demand.a, demand.b):
            if end not in network.site_node:
                raise UnknownSiteError(f"demand {demand.id!r}: unknown site {end!r}")
        named = demand.allowed_jurisdictions + demand.avoid_jurisdictions
        if unknown := sorted(set(named) - juris_ids):
            raise UnknownSiteError(f"demand {demand.id!r}: unknown jurisdictions {unknown}")


def demand_query(network: Network, demand: Demand) -> RouteQuery:
    """The solver query for a demand: site nodes, bounds and the edges it may use."""
    check_demands(network, [demand])
    return RouteQuery(
        source=network.site_node[demand.a],
        target=network.site_node[demand.b],
        max_latency_ms=float(demand.max_latency_ms),
        max_jurisdictions=demand.max_jurisdictions,
        max_cost=demand.max_cost,
        edge_allowed=_edge_allowed(network, demand),
        source_name=demand.a,
        target_name=demand.b,
    )


def _edge_allowed(network: Network, demand: Demand) -> np.ndarray:
    """Edges the demand may use: not another site's lateral, and within its jurisdictions."""
    edges = network.edges
    site = edges["site"].to_numpy()
    own = {network.site_node[demand.a], network.site_node[demand.b]}
    allowed = (site < 0) | np.isin(site, list(own))
    juris_ids = network.jurisdictions["jurisdiction_id"].astype(str).to_numpy()
    juris_level = network.jurisdictions["level"].to_numpy()
    for k, level in enumerate(network.levels):
        column = network.arrays.jurisdiction[:, k]
        ids = np.append(juris_ids, "")[column]  # -1 (none) maps to ""
        if demand.avoid_jurisdictions:
            allowed &= ~np.isin(ids, demand.avoid_jurisdictions)
        listed = [j for j in demand.allowed_jurisdictions if juris_level[juris_ids == j][0] == level]
        if listed:  # a piece on a border enters none there; one outside them all is foreign
            on_border = (column < 0) & network.edges[f"covered_{level}"].to_numpy()
            allowed &= np.isin(ids, listed) | on_border
    return allowed


def solve_demand(network: Network, demand: Demand, *, options: SolverOptions | None = None) -> Route:
    """The demand's optimal route (or why there is none) on the network."""
    started = time.perf_counter()
    query = demand_query(network, demand)
    for end in (demand.a, demand.b):
        if end in network.unreachable:
            result = RouteResult(RouteStatus.INFEASIBLE, reason=network.unreachable[end])
            return describe_route(network, demand, result, time.perf_counter() - started)
    result = solve_route(network.arrays, query, options=options)
    return describe_route(network, demand, result, time.perf_counter() - started)


def solve_demands(
    network: Network,
    demands: Sequence[Demand],
    *,
    options: SolverOptions | None = None,
    on_route: Callable[[Route], None] | None = None,
) -> tuple[Route, ...]:
    """Solve each demand in turn; on_route sees each as it finishes (progress)."""
    check_demands(network, demands)
    routes = []
    for demand in demands:
        route = solve_demand(network, demand, options=options)
        routes.append(route)
        if on_route:
            on_route(route)
    return tuple(routes)


def describe_route(network: Network, demand: Demand, result: RouteResult, solve_s: float) -> Route:
    """A route's geometry and figures, from the solver's edge list."""
    edges = network.edges
    idx = np.asarray(result.edges, dtype=np.int64)
    geometry = _route_geometry(network, result) if result.has_route else None
    kinds = tuple(dict.fromkeys(edges["kind"].to_numpy()[idx].tolist())) if len(idx) else ()
    juris = network.jurisdictions
    crossed = tuple(
        JurisdictionCrossed(
            jurisdiction_id=str(juris["jurisdiction_id"].iloc[j]),
            name=str(juris["name"].iloc[j]),
            level=str(juris["level"].iloc[j]),
            permit_cost=float(juris["permit_cost"].iloc[j]),
        )
        for j in result.jurisdictions
    )
    return Route(
        demand_id=demand.id,
        route_index=0,
        a=demand.a,
        b=demand.b,
        status=result.status,
        reason=result.reason,
        max_latency_ms=float(demand.max_latency_ms),
        geometry=geometry,
        length_km=float(edges["length_km"].to_numpy()[idx].sum()) if result.has_route else float("nan"),
        latency_ms=result.latency_ms,
        cost=result.cost,
        build_cost=result.edge_cost,
        permit_cost=result.permit_cost,
        corridor_kinds=kinds,
        jurisdictions=crossed,
        bound=result.bound,
        gap=result.gap,
        solve_s=solve_s,
        edges=result.edges,
        nodes=result.nodes,
    )


def _route_geometry(network: Network, result: RouteResult) -> shapely.LineString:
    """The route as one LineString ordered from a to b."""
    geoms = network.edges.geometry.values
    tails = network.arrays.tail
    parts = []
    for e, node in zip(result.edges, result.nodes[:-1], strict=True):
        coords = shapely.get_coordinates(geoms[e])
        parts.append(coords if tails[e] == node else coords[::-1])
    stitched = [parts[0]] + [p[1:] for p in parts[1:]]
    return shapely.LineString(np.concatenate(stitched))
