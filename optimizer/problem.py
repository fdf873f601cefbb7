"""Plain-array routing problems and results: what the solver core reads and returns."""

from __future__ import annotations

import contextlib
import enum
import functools
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from optimizer.prune import ShortestPathGraph

__all__ = [
    "COST_RELATIVE_TOLERANCE",
    "DESIGN_ENGINES",
    "LATENCY_TOLERANCE_MS",
    "MAX_PATHS",
    "RESOURCE_TOLERANCE",
    "DesignDemand",
    "DesignResult",
    "Diversity",
    "EdgeArrays",
    "FrontierPoint",
    "FrontierResult",
    "RouteQuery",
    "RouteResult",
    "RouteStatus",
    "SolverOptions",
    "StopSignal",
]

LATENCY_TOLERANCE_MS = 1e-6
"""A route meets a latency bound when it is at most this much over it (1 ns, ~20 cm of fiber)."""

RESOURCE_TOLERANCE = 1e-9
"""A route meets a resource limit when it is at most this much over it."""

MAX_PATHS = 8
"""Most mutually diverse routes one demand may ask for."""

COST_RELATIVE_TOLERANCE = 1e-9
"""Costs closer than this (relative) are ties; ties go to lower latency."""

DESIGN_ENGINES = ("portfolio", "mip", "cp-sat")
"""How diverse sets and shared builds are solved (SolverOptions.design_engine)."""


@dataclass(frozen=True, eq=False)
class EdgeArrays:
    """An undirected multigraph with per-edge cost, latency and jurisdiction per level."""

    n_nodes: int
    tail: np.ndarray
    head: np.ndarray
    cost: np.ndarray
    latency_ms: np.ndarray
    jurisdiction: np.ndarray
    permit_cost: np.ndarray
    counted: np.ndarray
    srlg_edge: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))
    """With srlg_group: (edge, shared-risk group) pairs; an edge may be in several groups."""
    srlg_group: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))
    directed: bool = False
    """True: each edge is one arc tail -> head (a road graph); False: either way (a corridor)."""
    resources: np.ndarray | None = None
    """(n_edges, K) extra additive weights a query may budget (e.g. optical loss in dB)."""
    resource_names: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        """Check shapes and ranges once, so the solver can trust the arrays."""
        n_edges = len(self.tail)
        problems = []
        if self.resources is not None:
            r = self.resources
            if r.ndim != 2 or r.shape[0] != n_edges:
                problems.append(f"resources must be (n_edges, K), got {r.shape}")
            elif r.size and not (np.isfinite(r).all() and r.min() >= 0):
                problems.append("resources must be finite and >= 0")
            elif len(self.resource_names) not in (0, r.shape[1]):
                problems.append("resource_names must name every resource column")
        if len(self.srlg_edge) != len(self.srlg_group):
            problems.append("srlg_edge and srlg_group must pair up")
        elif len(self.srlg_edge) and not (self.srlg_edge.min() >= 0 and self.srlg_edge.max() < n_edges):
            problems.append(f"srlg_edge must lie in [0, {n_edges})")
        for name in ("head", "cost", "latency_ms"):
            if len(getattr(self, name)) != n_edges:
                problems.append(f"{name} has {len(getattr(self, name))} rows, tail has {n_edges}")
        if self.jurisdiction.ndim != 2 or self.jurisdiction.shape[0] != n_edges:
            problems.append(f"jurisdiction must be (n_edges, n_levels), got {self.jurisdiction.shape}")
        if len(self.counted) != len(self.permit_cost):
            problems.append("counted and permit_cost must have one entry per jurisdiction")
        if n_edges and (
            min(self.tail.min(), self.head.min()) < 0 or max(self.tail.max(), self.head.max()) >= self.n_nodes
        ):
            problems.append(f"tail/head must lie in [0, {self.n_nodes})")
        for name in ("cost", "latency_ms", "permit_cost"):
            values = getattr(self, name)
            if len(values) and not (np.isfinite(values).all() and values.min() >= 0):
                problems.append(f"{name} must be finite and >= 0")
        if self.jurisdiction.size and self.jurisdiction.max() >= len(self.permit_cost):
            problems.append("jurisdiction index beyond permit_cost")
        if problems:
            raise ValueError("EdgeArrays: " + "; ".join(problems))

    @property
    def n_edges(self) -> int:
        """Number of edges."""
        return len(self.tail)

    @property
    def n_resources(self) -> int:
        """Number of extra additive resources."""
        return 0 if self.resources is None else self.resources.shape[1]

    def resource_name(self, k: int) -> str:
        """Human name of resource column k."""
        return self.resource_names[k] if self.resource_names else f"resource {k + 1}"

    @functools.cached_property
    def graph(self) -> ShortestPathGraph:
        """Every non-loop edge as arcs ready for Dijkstra, built once per arrays."""
        from optimizer.prune import ShortestPathGraph

        return ShortestPathGraph.of(self, self.tail != self.head)


@dataclass(frozen=True, eq=False)
class RouteQuery:
    """One route request on an EdgeArrays graph."""

    source: int
    target: int
    max_latency_ms: float
    max_jurisdictions: int | None = None
    max_cost: float | None = None
    edge_allowed: np.ndarray | None = None
    max_resources: tuple[float, ...] | None = None
    """Limits on the arrays' extra resources, one per column (inclusive)."""
    source_name: str = ""
    target_name: str = ""

    def label(self, node: int) -> str:
        """Human name of the query's source or target node, for reasons."""
        if node == self.source and self.source_name:
            return self.source_name
        if node == self.target and self.target_name:
            return self.target_name
        return f"node {node}"


class Diversity(enum.Enum):
    """What the routes of one demand may not share, besides its two end nodes."""

    EDGE = "edge"
    """No edge."""
    NODE = "node"
    """No edge and no node."""
    SRLG = "srlg"
    """No edge, no node and no shared-risk group."""


@dataclass(frozen=True, eq=False)
class DesignDemand:
    """A demand for `paths` mutually diverse routes, each meeting every bound of `query`.

    conflicts holds (m, 2) edge-id pairs too close to each other: two different routes of
    this demand may not use one edge of a pair each (minimum separation).  max_cost in the
    query applies to the demand's routes together: their distinct edges and permits.
    """

    query: RouteQuery
    paths: int = 1
    diversity: Diversity = Diversity.SRLG
    conflicts: np.ndarray | None = None
    source_nodes: tuple[int, ...] = ()
    """Nodes that belong to the source site besides its own (a junction it lies on): every route
    may pass them and the edges joining them to the site, without breaking diversity."""
    target_nodes: tuple[int, ...] = ()
    """The same for the target site."""
    fallback_least_shared: bool = False
    """When no fully diverse set exists: the set sharing the least (shared length, then junctions
    for node and SRLG diversity, then risk groups for SRLG), then the cheapest, else INFEASIBLE."""


class StopSignal:
    """A thread-safe stop flag that also calls hooks (e.g. CP-SAT's stop_search) when set."""

    def __init__(self) -> None:
        self._event = threading.Event()
        self._lock = threading.Lock()
        self._hooks: list[Callable[[], None]] = []

    def set(self) -> None:
        """Raise the flag and run every hook registered now."""
        with self._lock:
            self._event.set()
            hooks = list(self._hooks)
        for hook in hooks:
            hook()

    def is_set(self) -> bool:
        """Whether stop was asked for."""
        return self._event.is_set()

    @contextlib.contextmanager
    def hooked(self, hook: Callable[[], None]) -> Iterator[None]:
        """Run hook on set() while inside the block (at once if already set)."""
        with self._lock:
            self._hooks.append(hook)
            already = self._event.is_set()
        if already:
            hook()
        try:
            yield
        finally:
            with self._lock:
                self._hooks.remove(hook)


@dataclass(frozen=True)
class SolverOptions:
    """Solver limits, sized for a 2-core machine by default, and hooks for a caller that
    watches (on_incumbent gets cost and bound of each improving route) or cancels (stop)."""

    time_limit_s: float = 60.0
    num_workers: int = 2
    tie_break_latency: bool = True
    label_search: bool = True
    """Solve single routes by exact label setting (permits paid so far are part of a label);
    CP-SAT takes over a search with permits that grows too large. False: CP-SAT for every route."""
    design_engine: str = "portfolio"
    """Diverse sets and shared builds: "portfolio" runs the MIP (HiGHS) and CP-SAT side by side,
    the first proof winning; "mip" or "cp-sat" runs one alone."""
    log_search: bool = False
    stop: StopSignal | None = field(default=None, compare=False, repr=False)
    on_incumbent: Callable[[float, float], None] | None = field(default=None, compare=False, repr=False)


class RouteStatus(enum.Enum):
    """How a demand ended."""

    OPTIMAL = "OPTIMAL"
    FEASIBLE = "FEASIBLE"
    INFEASIBLE = "INFEASIBLE"
    UNSOLVED = "UNSOLVED"


@dataclass(frozen=True)
class RouteResult:
    """A solved route (or why there is none), with its proven bound."""

    status: RouteStatus
    edges: tuple[int, ...] = ()
    nodes: tuple[int, ...] = ()
    cost: float = float("nan")
    edge_cost: float = float("nan")
    permit_cost: float = float("nan")
    latency_ms: float = float("nan")
    jurisdictions: tuple[int, ...] = ()
    bound: float = float("nan")
    gap: float = float("nan")
    reason: str = ""
    stats: dict[str, float] = field(default_factory=dict)

    @property
    def has_route(self) -> bool:
        """Whether the result carries a route."""
        return self.status in (RouteStatus.OPTIMAL, RouteStatus.FEASIBLE)


@dataclass(frozen=True)
class DesignResult:
    """Routes for several demands built together: the union of their edges and permits is paid once.

    routes[d] holds demand d's routes, fastest first (empty when it has none);
    demand_status[d] and demand_reason[d] say how it ended.  cost is the union cost of every
    route found, bound the proven lower bound on the optimal union cost, gap their distance.
    """

    status: RouteStatus
    routes: tuple[tuple[RouteResult, ...], ...]
    demand_status: tuple[RouteStatus, ...]
    demand_reason: tuple[str, ...]
    cost: float = float("nan")
    bound: float = float("nan")
    gap: float = float("nan")
    independent_cost: float = float("nan")
    """Union cost when each demand is solved on its own (the heuristic start), for the saving."""
    unsolved_demands: int = 0
    """Demands that ended UNSOLVED (no route in time): when any, bound covers only the demands
    with routes and gap is NaN."""
    stats: dict[str, float] = field(default_factory=dict)

    @property
    def latency_total_ms(self) -> float:
        """Sum of the latency of every route found."""
        return float(sum(r.latency_ms for rs in self.routes for r in rs))


@dataclass(frozen=True)
class FrontierPoint:
    """One Pareto-optimal (cost, latency) design of a demand; latency is its slowest route's."""

    cost: float
    latency_ms: float
    routes: tuple[RouteResult, ...]


@dataclass(frozen=True)
class FrontierResult:
    """The cost-latency frontier of a demand, fastest point first.

    complete is False when max_points or the time limit ended the sweep early (reason says which).
    """

    points: tuple[FrontierPoint, ...]
    complete: bool
    reason: str = ""
