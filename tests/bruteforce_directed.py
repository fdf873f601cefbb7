"""Independent exact oracle for single routes on small (directed or undirected) multigraphs.

Every simple path from source to target is enumerated by depth-first search, its totals are summed
straight from the arrays, and the bounds of the query are checked one by one.  Nothing here looks at
how the solver works; it reads only the public data types.

Besides the optimum, the oracle reports whether an instance is *ambiguous*: some path total lies in a
narrow band just over a bound (or just over the optimal cost) where the answer would hinge on the exact
tolerance a solver uses rather than on the problem.  Randomized tests skip such instances.
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

import numpy as np

from optimizer.problem import EdgeArrays, RouteQuery

LATENCY_TOLERANCE_MS = 1e-6
"""The documented latency slack: a route at most this far over max_latency_ms is feasible."""

COST_TIE_RELATIVE = 1e-9
"""Costs this close (relative) are ties, broken by lower latency."""

SURE_ABS = 1e-10
"""Totals at most this far over a bound (resources, cost) are surely within it: float noise only."""

AMBIGUOUS_RELATIVE = 1e-6
"""Totals over a bound (or over the optimum) by less than this, scaled by max(1, |bound|), are ambiguous."""

LATENCY_AMBIGUOUS_MS = 1e-5
"""Latency totals between bound + SURE_ABS and bound + this are ambiguous (the 1e-6 slack lies inside)."""


@dataclass(frozen=True)
class PathTotals:
    """Totals of one route recomputed from the arrays."""

    edges: tuple[int, ...]
    nodes: tuple[int, ...]
    edge_cost: float
    permit_cost: float
    latency_ms: float
    resources: tuple[float, ...]
    jurisdictions: frozenset[int]
    counted_jurisdictions: int

    @property
    def cost(self) -> float:
        """Edge cost plus the permit cost of every distinct jurisdiction entered."""
        return self.edge_cost + self.permit_cost


@dataclass(frozen=True)
class OracleAnswer:
    """What exhaustive enumeration says about one query."""

    feasible: bool
    cost: float
    """Optimal cost (nan when infeasible)."""
    latency_ms: float
    """Least latency among feasible routes whose cost ties the optimum (nan when infeasible)."""
    best: PathTotals | None
    """One feasible route with that cost and latency."""
    n_paths: int
    """Simple source-target paths over allowed edges, feasible or not."""
    n_feasible: int
    ambiguous: bool
    """Whether some total sits in a band where the answer depends on tolerance details."""


def is_directed(arrays: EdgeArrays) -> bool:
    """Whether edges are one-way arcs tail->head."""
    return bool(getattr(arrays, "directed", False))


def resource_matrix(arrays: EdgeArrays) -> np.ndarray:
    """The (n_edges, K) extra weights, K = 0 when none are given."""
    resources = getattr(arrays, "resources", None)
    if resources is None:
        return np.zeros((arrays.n_edges, 0), dtype=float)
    return np.asarray(resources, dtype=float).reshape(arrays.n_edges, -1)


def resource_bounds(query: RouteQuery, k: int) -> tuple[float, ...] | None:
    """The query's per-resource bounds, None when it sets none (then K must be 0)."""
    bounds = getattr(query, "max_resources", None)
    if bounds is None:
        return None
    bounds = tuple(float(b) for b in bounds)
    if len(bounds) != k:
        raise ValueError(f"max_resources has {len(bounds)} entries, graph has {k} resources")
    return bounds


def edge_allowed_mask(arrays: EdgeArrays, query: RouteQuery) -> np.ndarray:
    """Which edges the query lets a route use."""
    if query.edge_allowed is None:
        return np.ones(arrays.n_edges, dtype=bool)
    return np.asarray(query.edge_allowed, dtype=bool)


def _adjacency(arrays: EdgeArrays, allowed: np.ndarray) -> list[list[tuple[int, int]]]:
    """For each node, the (edge, next node) steps a route may take from it."""
    steps: list[list[tuple[int, int]]] = [[] for _ in range(arrays.n_nodes)]
    directed = is_directed(arrays)
    for e in range(arrays.n_edges):
        if not allowed[e]:
            continue
        u, v = int(arrays.tail[e]), int(arrays.head[e])
        if u == v:
            continue  # a loop never lies on a simple path
        steps[u].append((e, v))
        if not directed:
            steps[v].append((e, u))
    return steps


def simple_paths(
    arrays: EdgeArrays, source: int, target: int, allowed: np.ndarray | None = None
) -> Iterator[tuple[tuple[int, ...], tuple[int, ...]]]:
    """Every simple path source->target as (edge ids, node ids), over allowed edges only."""
    if allowed is None:
        allowed = np.ones(arrays.n_edges, dtype=bool)
    steps = _adjacency(arrays, allowed)
    if source == target:
        yield (), (source,)
        return
    edges: list[int] = []
    nodes: list[int] = [source]
    on_path = [False] * arrays.n_nodes
    on_path[source] = True

    def walk(u: int) -> Iterator[tuple[tuple[int, ...], tuple[int, ...]]]:
        """Extend the current path from u in every possible way."""
        for e, v in steps[u]:
            if on_path[v]:
                continue
            edges.append(e)
            nodes.append(v)
            if v == target:
                yield tuple(edges), tuple(nodes)
            else:
                on_path[v] = True
                yield from walk(v)
                on_path[v] = False
            edges.pop()
            nodes.pop()

    yield from walk(source)


def path_totals(arrays: EdgeArrays, edges: Sequence[int], nodes: Sequence[int]) -> PathTotals:
    """Sum a path's cost, latency, resources and jurisdictions from the arrays."""
    resources = resource_matrix(arrays)
    edge_cost = 0.0
    latency = 0.0
    used = [0.0] * resources.shape[1]
    crossed: set[int] = set()
    for e in edges:
        edge_cost += float(arrays.cost[e])
        latency += float(arrays.latency_ms[e])
        for k in range(len(used)):
            used[k] += float(resources[e, k])
        for j in arrays.jurisdiction[e]:
            if j >= 0:
                crossed.add(int(j))
    permit = 0.0
    for j in sorted(crossed):
        permit += float(arrays.permit_cost[j])
    counted = sum(1 for j in crossed if bool(arrays.counted[j]))
    return PathTotals(
        edges=tuple(int(e) for e in edges),
        nodes=tuple(int(v) for v in nodes),
        edge_cost=edge_cost,
        permit_cost=permit,
        latency_ms=latency,
        resources=tuple(used),
        jurisdictions=frozenset(crossed),
        counted_jurisdictions=counted,
    )


def _band(total: float, bound: float, sure: float, ambiguous: float) -> str:
    """'ok' within bound + sure, 'over' beyond bound + ambiguous, else 'ambiguous'."""
    if total <= bound + sure:
        return "ok"
    if total > bound + ambiguous:
        return "over"
    return "ambiguous"


def classify(totals: PathTotals, query: RouteQuery) -> str:
    """Whether an (allowed) path meets every bound of the query: 'ok', 'over' or 'ambiguous'."""
    verdicts = [
        _band(totals.latency_ms, query.max_latency_ms, SURE_ABS, LATENCY_AMBIGUOUS_MS),
    ]
    bounds = resource_bounds(query, len(totals.resources))
    if bounds is None and totals.resources:
        raise ValueError("graph has resources but the query sets no max_resources")
    for used, bound in zip(totals.resources, bounds or (), strict=True):
        verdicts.append(_band(used, bound, SURE_ABS, AMBIGUOUS_RELATIVE * max(1.0, abs(bound))))
    if query.max_cost is not None:
        bound = float(query.max_cost)
        sure = SURE_ABS + 1e-12 * abs(bound)
        verdicts.append(_band(totals.cost, bound, sure, AMBIGUOUS_RELATIVE * max(1.0, abs(bound))))
    if query.max_jurisdictions is not None and totals.counted_jurisdictions > query.max_jurisdictions:
        verdicts.append("over")
    if "over" in verdicts:
        return "over"
    if "ambiguous" in verdicts:
        return "ambiguous"
    return "ok"


def meets_query(totals: PathTotals, query: RouteQuery) -> bool:
    """The documented feasibility test with its tolerances (latency 1e-6, resources and cost 1e-9)."""
    if totals.latency_ms > query.max_latency_ms + LATENCY_TOLERANCE_MS:
        return False
    bounds = resource_bounds(query, len(totals.resources)) or ()
    if any(used > bound + 1e-9 for used, bound in zip(totals.resources, bounds, strict=True)):
        return False
    if query.max_cost is not None and totals.cost > query.max_cost * (1 + 1e-9) + 1e-9:
        return False
    return query.max_jurisdictions is None or totals.counted_jurisdictions <= query.max_jurisdictions


def is_cost_tie(cost: float, best: float) -> bool:
    """Whether cost ties the optimum best (relative 1e-9; with best 0 only 0 ties)."""
    return cost <= best + COST_TIE_RELATIVE * abs(best)


def all_path_totals(arrays: EdgeArrays, query: RouteQuery) -> list[PathTotals]:
    """Totals of every simple source-target path over the query's allowed edges."""
    allowed = edge_allowed_mask(arrays, query)
    return [
        path_totals(arrays, edges, nodes)
        for edges, nodes in simple_paths(arrays, query.source, query.target, allowed)
    ]


def solve_by_enumeration(arrays: EdgeArrays, query: RouteQuery) -> OracleAnswer:
    """The exact optimum of a query: least cost, then least latency, over all feasible simple paths."""
    paths = all_path_totals(arrays, query)
    feasible: list[PathTotals] = []
    ambiguous = False
    for totals in paths:
        verdict = classify(totals, query)
        if verdict == "ok":
            feasible.append(totals)
        elif verdict == "ambiguous":
            ambiguous = True
    if not feasible:
        return OracleAnswer(False, math.nan, math.nan, None, len(paths), 0, ambiguous)
    best_cost = min(t.cost for t in feasible)
    tied = [t for t in feasible if is_cost_tie(t.cost, best_cost)]
    near_band = AMBIGUOUS_RELATIVE * max(1.0, abs(best_cost))
    if any(not is_cost_tie(t.cost, best_cost) and t.cost <= best_cost + near_band for t in feasible):
        ambiguous = True
    tie_band = COST_TIE_RELATIVE * max(1.0, abs(best_cost))  # solvers may add an absolute term
    if any(0.5 * tie_band < t.cost - best_cost <= 2 * tie_band for t in feasible):
        ambiguous = True  # at the edge of the tie band: whether it ties is a tolerance detail
    best = min(tied, key=lambda t: (t.latency_ms, t.cost))
    return OracleAnswer(True, best_cost, best.latency_ms, best, len(paths), len(feasible), ambiguous)


def walk_route(arrays: EdgeArrays, source: int, edges: Sequence[int]) -> tuple[int, ...]:
    """The nodes visited walking edges from source, respecting direction; AssertionError if it can't."""
    directed = is_directed(arrays)
    nodes = [int(source)]
    for i, e in enumerate(edges):
        e = int(e)
        assert 0 <= e < arrays.n_edges, f"edge {e} (step {i}) is not an edge id"
        u, v = int(arrays.tail[e]), int(arrays.head[e])
        here = nodes[-1]
        if u == here:
            nodes.append(v)
        elif not directed and v == here:
            nodes.append(u)
        elif directed and v == here:
            raise AssertionError(f"step {i}: arc {e} ({u}->{v}) walked against its direction from {here}")
        else:
            raise AssertionError(f"step {i}: edge {e} ({u}-{v}) does not touch node {here}")
    return tuple(nodes)


def check_route(arrays: EdgeArrays, query: RouteQuery, edges: Sequence[int]) -> PathTotals:
    """Check edges form a simple allowed source->target path meeting every bound; return its totals."""
    assert len(edges) > 0 or query.source == query.target, "route has no edges"
    nodes = walk_route(arrays, query.source, edges)
    assert nodes[-1] == query.target, f"route ends at {nodes[-1]}, not at target {query.target}"
    assert len(set(nodes)) == len(nodes), f"route repeats a node: {nodes}"
    allowed = edge_allowed_mask(arrays, query)
    banned = [int(e) for e in edges if not allowed[int(e)]]
    assert not banned, f"route uses edges the query forbids: {banned}"
    totals = path_totals(arrays, edges, nodes)
    assert meets_query(totals, query), f"route breaks a bound of the query: {totals}"
    return totals
