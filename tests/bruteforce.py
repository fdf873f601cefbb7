"""Independent brute-force reference for ``optimizer.solve.solve_route``.

This module deliberately shares no code with the solver.  It implements the
problem definition literally:

* A route is a simple path (no node repeated) from ``source`` to ``target`` in
  the undirected multigraph given by ``tail``/``head``.  Every edge may be used
  in either direction; self-loops (tail == head) can never be on a route.
* Route cost = sum of edge ``cost`` + sum of ``permit_cost[j]`` over the
  DISTINCT jurisdictions ``j`` (every id != -1 in the ``jurisdiction`` rows of
  the route's edges, over all levels).  A jurisdiction re-entered is paid once.
* Jurisdiction count = number of distinct jurisdictions entered whose
  ``counted[j]`` is True.
* Feasible iff latency <= max_latency_ms + 1e-6, count <= max_jurisdictions
  (if given), cost <= max_cost * (1 + 1e-9) + 1e-9 (if given) and every edge
  is allowed (if ``edge_allowed`` is given).
* Optimal = minimum cost over feasible routes; cost ties (relative 1e-9) are
  broken by lower latency.

Every simple path is enumerated by DFS, so this is only meant for tiny graphs
(a dozen nodes / a few dozen edges at most).

The functions accept any objects with the attributes of ``EdgeArrays`` and
``RouteQuery`` (duck typing), so nothing is imported from ``optimizer``.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

# Tolerances, copied from the problem definition (not from the solver).
LATENCY_TOLERANCE_MS = 1e-6
COST_REL_TOL = 1e-9
COST_ABS_TOL = 1e-9


@dataclass(frozen=True)
class RouteEval:
    """All quantities of one concrete route, recomputed from the arrays."""

    edges: tuple[int, ...]
    nodes: tuple[int, ...]
    edge_cost: float
    permit_cost: float
    cost: float
    latency_ms: float
    jurisdictions: tuple[int, ...]  # distinct ids entered, sorted
    count: int  # distinct jurisdictions entered with counted[j] True


@dataclass(frozen=True)
class BruteResult:
    """The brute-force optimum (see module docstring for the tie-break)."""

    cost: float
    edge_cost: float
    permit_cost: float
    latency_ms: float
    edges: tuple[int, ...]
    nodes: tuple[int, ...]
    jurisdictions: tuple[int, ...]
    count: int
    # Minimum latency over all simple paths that use allowed edges only
    # (ignoring latency / jurisdiction / cost limits).
    min_allowed_latency_ms: float


@dataclass(frozen=True)
class BruteAnalysis:
    """Everything the brute force learned about one query."""

    best: BruteResult | None  # None <=> no feasible route
    n_allowed_paths: int  # simple paths using allowed edges only
    n_feasible_paths: int
    # Min latency over simple paths using allowed edges only; None if there is
    # no such path at all (source and target disconnected in the allowed graph).
    min_allowed_latency_ms: float | None
    # Min cost over allowed simple paths ignoring all limits (None if no path).
    min_allowed_cost: float | None
    # True when the feasible route that is best by EDGE cost alone (ties by
    # latency) is NOT optimal once permit costs are added.
    permit_changes_optimum: bool
    # Limits that alone rule out every allowed path (only meaningful when
    # best is None and there is at least one allowed path).
    latency_alone_infeasible: bool
    jurisdictions_alone_infeasible: bool
    cost_alone_infeasible: bool


def _edge_list(arrays: Any) -> tuple[list[int], list[int]]:
    return [int(x) for x in arrays.tail], [int(x) for x in arrays.head]


def iter_simple_paths(
    n_nodes: int,
    tail: list[int],
    head: list[int],
    source: int,
    target: int,
    allowed: list[bool] | None = None,
) -> Iterator[tuple[tuple[int, ...], tuple[int, ...]]]:
    """Yield (edges, nodes) for every simple source->target path.

    Parallel edges give distinct paths.  Self-loops are skipped (they would
    repeat a node).  Edges with ``allowed[e]`` False are skipped.
    """
    adjacency: list[list[tuple[int, int]]] = [[] for _ in range(n_nodes)]
    for e, (u, v) in enumerate(zip(tail, head, strict=True)):
        if allowed is not None and not allowed[e]:
            continue
        if u == v:
            continue
        adjacency[u].append((e, v))
        adjacency[v].append((e, u))

    on_path = [False] * n_nodes
    edges: list[int] = []
    nodes: list[int] = [source]

    def dfs(u: int) -> Iterator[tuple[tuple[int, ...], tuple[int, ...]]]:
        if u == target:
            yield tuple(edges), tuple(nodes)
            return
        on_path[u] = True
        for e, v in adjacency[u]:
            if on_path[v]:
                continue
            edges.append(e)
            nodes.append(v)
            yield from dfs(v)
            edges.pop()
            nodes.pop()
        on_path[u] = False

    if source == target:
        return
    yield from dfs(source)


def evaluate_route(arrays: Any, edges: tuple[int, ...], nodes: tuple[int, ...]) -> RouteEval:
    """Recompute cost, latency and jurisdictions of a route from the arrays."""
    edge_cost = math.fsum(float(arrays.cost[e]) for e in edges)
    latency = math.fsum(float(arrays.latency_ms[e]) for e in edges)
    juris: set[int] = set()
    for e in edges:
        for j in arrays.jurisdiction[e]:
            if int(j) != -1:
                juris.add(int(j))
    jurisdictions = tuple(sorted(juris))
    permit = math.fsum(float(arrays.permit_cost[j]) for j in jurisdictions)
    count = sum(1 for j in jurisdictions if bool(arrays.counted[j]))
    return RouteEval(
        edges=tuple(int(e) for e in edges),
        nodes=tuple(int(v) for v in nodes),
        edge_cost=edge_cost,
        permit_cost=permit,
        cost=edge_cost + permit,
        latency_ms=latency,
        jurisdictions=jurisdictions,
        count=count,
    )


def latency_ok(latency_ms: float, query: Any) -> bool:
    return latency_ms <= float(query.max_latency_ms) + LATENCY_TOLERANCE_MS


def jurisdictions_ok(count: int, query: Any) -> bool:
    return query.max_jurisdictions is None or count <= int(query.max_jurisdictions)


def cost_ok(cost: float, query: Any) -> bool:
    if query.max_cost is None:
        return True
    max_cost = float(query.max_cost)
    return cost <= max_cost * (1.0 + COST_REL_TOL) + COST_ABS_TOL


def is_feasible(route: RouteEval, query: Any) -> bool:
    """Latency, jurisdiction-count and cost limits (edge_allowed is checked
    separately, by the enumeration)."""
    return (
        latency_ok(route.latency_ms, query)
        and jurisdictions_ok(route.count, query)
        and cost_ok(route.cost, query)
    )


def cost_tie(a: float, b: float) -> bool:
    """True when two costs are equal within the problem's relative tolerance."""
    return abs(a - b) <= COST_REL_TOL * max(abs(a), abs(b)) + COST_ABS_TOL


def _pick_best(routes: list[RouteEval], key_cost) -> RouteEval | None:
    """Min by key_cost; ties (relative 1e-9) broken by lower latency, then by
    fewer edges and edge indices (only for determinism)."""
    if not routes:
        return None
    c_min = min(key_cost(r) for r in routes)
    tied = [r for r in routes if cost_tie(key_cost(r), c_min)]
    return min(tied, key=lambda r: (r.latency_ms, key_cost(r), len(r.edges), r.edges))


def allowed_list(arrays: Any, query: Any) -> list[bool] | None:
    if query.edge_allowed is None:
        return None
    allowed = [bool(x) for x in query.edge_allowed]
    if len(allowed) != len(arrays.tail):
        raise ValueError("edge_allowed has the wrong length")
    return allowed


def all_allowed_routes(arrays: Any, query: Any) -> list[RouteEval]:
    """Every simple source->target path using allowed edges, evaluated."""
    tail, head = _edge_list(arrays)
    return [
        evaluate_route(arrays, edges, nodes)
        for edges, nodes in iter_simple_paths(
            int(arrays.n_nodes),
            tail,
            head,
            int(query.source),
            int(query.target),
            allowed_list(arrays, query),
        )
    ]


def analyze_route(arrays: Any, query: Any) -> BruteAnalysis:
    routes = all_allowed_routes(arrays, query)
    feasible = [r for r in routes if is_feasible(r, query)]
    best = _pick_best(feasible, lambda r: r.cost)
    best_by_edge_cost = _pick_best(feasible, lambda r: r.edge_cost)
    min_lat = min((r.latency_ms for r in routes), default=None)
    min_cost = min((r.cost for r in routes), default=None)

    permit_changes = (
        best is not None and best_by_edge_cost is not None and not cost_tie(best_by_edge_cost.cost, best.cost)
    )
    brute = None
    if best is not None:
        assert min_lat is not None
        brute = BruteResult(
            cost=best.cost,
            edge_cost=best.edge_cost,
            permit_cost=best.permit_cost,
            latency_ms=best.latency_ms,
            edges=best.edges,
            nodes=best.nodes,
            jurisdictions=best.jurisdictions,
            count=best.count,
            min_allowed_latency_ms=min_lat,
        )
    return BruteAnalysis(
        best=brute,
        n_allowed_paths=len(routes),
        n_feasible_paths=len(feasible),
        min_allowed_latency_ms=min_lat,
        min_allowed_cost=min_cost,
        permit_changes_optimum=permit_changes,
        latency_alone_infeasible=bool(routes) and not any(latency_ok(r.latency_ms, query) for r in routes),
        jurisdictions_alone_infeasible=bool(routes)
        and not any(jurisdictions_ok(r.count, query) for r in routes),
        cost_alone_infeasible=bool(routes) and not any(cost_ok(r.cost, query) for r in routes),
    )


def brute_force_route(arrays: Any, query: Any) -> BruteResult | None:
    """The optimal route by exhaustive enumeration, or None if none is feasible.

    ``BruteResult.min_allowed_latency_ms`` is the fastest allowed simple path's
    latency; use :func:`analyze_route` to get it (and more) when the answer is
    None.
    """
    return analyze_route(arrays, query).best
