"""Exact per-demand bounds (latency and cost from both ends) and the arcs that survive them."""

from __future__ import annotations

import functools
import math
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import scipy.sparse as sp
from scipy.sparse.csgraph import dijkstra

from optimizer.permit_bounds import jurisdiction_floor
from optimizer.problem import (
    COST_RELATIVE_TOLERANCE,
    LATENCY_TOLERANCE_MS,
    RESOURCE_TOLERANCE,
    EdgeArrays,
    RouteQuery,
)

__all__ = [
    "PathEval",
    "PrunedArcs",
    "RouteBounds",
    "ShortestPathGraph",
    "arcs_along",
    "cost_keep",
    "evaluate_path",
    "lagrangian_paths",
    "path_in_arcs",
    "prune_arcs",
    "route_bounds",
]

_LARAC_MAX_ITERATIONS = 40


@dataclass(frozen=True, eq=False)
class _Csr:
    """One orientation of a graph's arcs as CSR, parallel arcs folded to their cheapest."""

    order: np.ndarray | None  # arc positions in this orientation's order (None: as stored)
    starts: np.ndarray | None  # first position of each (from, to) group (None: no parallel arcs)
    indices: np.ndarray
    indptr: np.ndarray


@dataclass(frozen=True, eq=False)
class ShortestPathGraph:
    """Directed arcs of a set of usable edges, sorted by (tail, head), ready for Dijkstra
    from a source (forward) or towards a target (backward) under any per-edge weight."""

    n_nodes: int
    edge: np.ndarray
    tail: np.ndarray
    head: np.ndarray
    by_head: np.ndarray | None = None
    """Arc positions sorted by (head, tail), when already known (a restriction inherits it)."""

    @classmethod
    def of(cls, arrays: EdgeArrays, usable: np.ndarray) -> ShortestPathGraph:
        """The arcs of the usable edges: one per edge if directed, else one each way."""
        edges = np.flatnonzero(usable)
        if arrays.directed:
            edge, tail, head = edges, arrays.tail[edges], arrays.head[edges]
        else:
            edge = np.concatenate([edges, edges])
            tail = np.concatenate([arrays.tail[edges], arrays.head[edges]])
            head = np.concatenate([arrays.head[edges], arrays.tail[edges]])
        order = np.lexsort((head, tail))
        return cls(arrays.n_nodes, edge[order], tail[order], head[order])

    @property
    def n_arcs(self) -> int:
        """Number of arcs."""
        return len(self.edge)

    def restrict(self, keep: np.ndarray) -> ShortestPathGraph:
        """The arcs where keep is True, still sorted both ways (no new sort)."""
        position = np.cumsum(keep) - 1
        parent = self._backward.order
        by_head = position[parent[keep[parent]]] if parent is not None else None
        return ShortestPathGraph(self.n_nodes, self.edge[keep], self.tail[keep], self.head[keep], by_head)

    @functools.cached_property
    def _key(self) -> np.ndarray:
        """One sorted number per arc for its (tail, head)."""
        return self.tail * self.n_nodes + self.head

    @functools.cached_property
    def _forward(self) -> _Csr:
        """Arcs by tail."""
        return _csr(self.tail, self.head, None, self.n_nodes)

    @functools.cached_property
    def _backward(self) -> _Csr:
        """Arcs by head (the reversed graph)."""
        order = np.lexsort((self.tail, self.head)) if self.by_head is None else self.by_head
        return _csr(self.head[order], self.tail[order], order, self.n_nodes)

    def distances(
        self, weight: np.ndarray, node: int, *, backward: bool = False, limit: float = math.inf
    ) -> np.ndarray:
        """Least weight from node (or, backward, to node) to every node; inf beyond limit."""
        return self._dijkstra(weight, node, backward=backward, limit=limit, predecessors=False)[0]

    def shortest_path(
        self, weight: np.ndarray, source: int, target: int, *, limit: float = math.inf
    ) -> tuple[tuple[int, ...], np.ndarray]:
        """Edge ids of a least-weight path source -> target, and the distances from source
        (inf beyond limit, which must be at least the path's weight)."""
        dist, pred = self._dijkstra(weight, source, backward=False, limit=limit, predecessors=True)
        if not math.isfinite(dist[target]):
            raise ValueError(f"no path from {source} to {target} within {limit}")
        nodes = [target]
        while nodes[-1] != source:
            nodes.append(int(pred[nodes[-1]]))
        nodes.reverse()
        return self._cheapest_arcs(weight, np.asarray(nodes, dtype=np.int64)), dist

    def _cheapest_arcs(self, weight: np.ndarray, nodes: np.ndarray) -> tuple[int, ...]:
        """Edge ids of the least-weight arc between each pair of consecutive nodes."""
        key = self._key
        wanted = nodes[:-1] * self.n_nodes + nodes[1:]
        lo, hi = np.searchsorted(key, wanted, side="left"), np.searchsorted(key, wanted, side="right")
        edges = self.edge[lo]
        for i in np.flatnonzero(hi - lo > 1).tolist():  # parallel arcs: the cheapest one
            candidates = self.edge[lo[i] : hi[i]]
            edges[i] = candidates[np.argmin(weight[candidates])]
        return tuple(edges.tolist())

    def _dijkstra(
        self, weight: np.ndarray, node: int, *, backward: bool, limit: float, predecessors: bool
    ) -> tuple[np.ndarray, np.ndarray | None]:
        """scipy's Dijkstra over this orientation's CSR under a per-edge weight."""
        csr = self._backward if backward else self._forward
        w = weight[self.edge if csr.order is None else self.edge[csr.order]]
        if csr.starts is not None:
            w = np.minimum.reduceat(w, csr.starts)
        matrix = sp.csr_array((w, csr.indices, csr.indptr), shape=(self.n_nodes, self.n_nodes))
        if predecessors:
            return dijkstra(matrix, directed=True, indices=node, limit=limit, return_predecessors=True)
        return dijkstra(matrix, directed=True, indices=node, limit=limit), None


def _csr(frm: np.ndarray, to: np.ndarray, order: np.ndarray | None, n_nodes: int) -> _Csr:
    """CSR of arcs sorted by (frm, to), with parallel arcs grouped."""
    first = np.ones(len(frm), dtype=bool)
    first[1:] = (frm[1:] != frm[:-1]) | (to[1:] != to[:-1])
    starts = None if first.all() else np.flatnonzero(first)
    keys = frm if starts is None else frm[starts]
    indptr = np.concatenate([[0], np.cumsum(np.bincount(keys, minlength=n_nodes))])
    return _Csr(
        order, starts, (to if starts is None else to[starts]).astype(np.int32), indptr.astype(np.int32)
    )


@dataclass(frozen=True)
class PathEval:
    """Cost, latency, resources and jurisdictions of one route, recomputed from the arrays."""

    edges: tuple[int, ...]
    nodes: tuple[int, ...]
    edge_cost: float
    permit_cost: float
    latency_ms: float
    jurisdictions: tuple[int, ...]
    counted_jurisdictions: int
    resources: tuple[float, ...] = ()

    @property
    def cost(self) -> float:
        """Total cost: edges plus permits."""
        return self.edge_cost + self.permit_cost


def evaluate_path(arrays: EdgeArrays, source: int, edges: tuple[int, ...]) -> PathEval:
    """Walk edges from source and total their cost, latency, resources and distinct jurisdictions."""
    idx = np.asarray(edges, dtype=np.int64)
    nodes = [source]
    for e in edges:
        u, v = int(arrays.tail[e]), int(arrays.head[e])
        if arrays.directed and nodes[-1] != u:
            raise ValueError(f"edge {e} runs {u} -> {v}, not out of node {nodes[-1]}")
        nodes.append(v if nodes[-1] == u else u)
    juris = np.unique(arrays.jurisdiction[idx].ravel()) if len(idx) else np.array([], np.int64)
    juris = juris[juris >= 0]
    used = () if arrays.resources is None else tuple(float(r) for r in arrays.resources[idx].sum(axis=0))
    return PathEval(
        edges=tuple(edges),
        nodes=tuple(nodes),
        edge_cost=float(arrays.cost[idx].sum()),
        permit_cost=float(arrays.permit_cost[juris].sum()),
        latency_ms=float(arrays.latency_ms[idx].sum()),
        jurisdictions=tuple(int(j) for j in juris),
        counted_jurisdictions=int(arrays.counted[juris].sum()),
        resources=used,
    )


def is_feasible(path: PathEval, query: RouteQuery) -> bool:
    """Whether a route meets every constraint of the query."""
    if path.latency_ms > query.max_latency_ms + LATENCY_TOLERANCE_MS:
        return False
    if query.max_resources is not None and any(
        used > limit + RESOURCE_TOLERANCE
        for used, limit in zip(path.resources, query.max_resources, strict=True)
    ):
        return False
    if query.max_jurisdictions is not None and path.counted_jurisdictions > query.max_jurisdictions:
        return False
    return query.max_cost is None or path.cost <= cost_ceiling(query.max_cost)


def cost_ceiling(cost: float) -> float:
    """A cost plus the tie tolerance: anything at or below it counts as no worse."""
    return cost * (1 + COST_RELATIVE_TOLERANCE) + COST_RELATIVE_TOLERANCE


@dataclass(frozen=True)
class LagrangianResult:
    """Paths met on the way to the best Lagrangian multiplier for the latency bound, and the
    distances from the source under cost + multiplier x latency for each multiplier tried."""

    multiplier: float
    lower_bound: float
    paths: tuple[tuple[int, ...], ...]
    from_source: dict[float, tuple[np.ndarray, float]] = field(default_factory=dict)
    """multiplier -> (distances, limit): exact up to limit, inf beyond."""


def lagrangian_paths(arrays: EdgeArrays, graph: ShortestPathGraph, query: RouteQuery) -> LagrangianResult:
    """LARAC: min cost + lambda * latency paths that bracket the latency bound."""
    s, t, bound = query.source, query.target, query.max_latency_ms + LATENCY_TOLERANCE_MS
    from_source: dict[float, tuple[np.ndarray, float]] = {}

    def shortest(lam: float, limit: float = math.inf) -> tuple[int, ...]:
        weight = arrays.cost + lam * arrays.latency_ms
        limit = limit * (1 + 1e-8) + 1e-8  # above any cost ceiling of a route within it
        path, dist = graph.shortest_path(weight, s, t, limit=limit)
        from_source[lam] = (dist, limit)
        return path

    def totals(edges: tuple[int, ...]) -> tuple[float, float]:
        idx = np.asarray(edges, dtype=np.int64)
        return float(arrays.cost[idx].sum()), float(arrays.latency_ms[idx].sum())

    cheap = shortest(0.0)
    c_cheap, d_cheap = totals(cheap)
    if d_cheap <= bound:
        return LagrangianResult(0.0, c_cheap, (cheap,), from_source)
    fast = graph.shortest_path(arrays.latency_ms, s, t)[0]
    c_fast, d_fast = totals(fast)
    paths = [cheap, fast]
    lam, lower = 0.0, c_cheap
    for _ in range(_LARAC_MAX_ITERATIONS):
        if d_cheap - d_fast <= 0:
            break
        lam = (c_fast - c_cheap) / (d_cheap - d_fast)
        mid = shortest(lam, limit=c_fast + lam * max(bound, d_fast))  # the fast route is within it
        c_mid, d_mid = totals(mid)
        w_mid = c_mid + lam * d_mid
        lower = max(lower, w_mid - lam * bound)
        if w_mid >= (c_cheap + lam * d_cheap) * (1 - 1e-12) - 1e-12:
            break
        paths.append(mid)
        if d_mid <= bound:
            fast, c_fast, d_fast = mid, c_mid, d_mid
        else:
            cheap, c_cheap, d_cheap = mid, c_mid, d_mid
    return LagrangianResult(lam, lower, tuple(paths), from_source)


@dataclass(frozen=True, eq=False)
class RouteBounds:
    """A query's exact bounds: least latency from the source and to the target over the usable
    arcs, the arcs within every resource bound, and cost distances for pruning.

    bounded is None when no route meets the bounds: why is then "disconnected", "latency"
    (fastest_ms is over the bound) or "resource" (every route needs least of resource k).
    """

    usable: ShortestPathGraph
    lat_s: np.ndarray
    lat_t: np.ndarray
    fastest_ms: float
    bounded: ShortestPathGraph | None = None
    larac: LagrangianResult | None = None
    cost_bounds: tuple[tuple[float, np.ndarray, np.ndarray, float], ...] = ()
    """(multiplier, cost distances from the source, to the target, limit they are exact to)."""
    cheapest: float = math.nan
    """Least edge cost of any route over the bounded arcs."""
    permit_floor: np.ndarray | float = 0.0
    """Per bounded arc: least permit cost of any route through it (see optimizer.permit_bounds)."""
    permit_least: float = 0.0
    """Least permit cost of any route over the bounded arcs."""
    count_floor: np.ndarray | None = None
    """Per bounded arc, when the query limits them: fewest counted jurisdictions through it."""
    count_least: float = 0.0
    """Fewest counted jurisdictions of any route over the bounded arcs (when limited)."""
    why: str = ""
    resource: int = -1
    least: float = math.nan


def route_bounds(
    arrays: EdgeArrays,
    query: RouteQuery,
    *,
    latency_limit: bool = True,
    within: ShortestPathGraph | None = None,
) -> RouteBounds:
    """Latency (and extra resources) from both ends, the arcs within every bound, and Lagrangian
    cost distances; latency_limit stops the latency searches at the bound (False: exact everywhere).

    within, when given, is the graph to bound instead of every usable arc (a graph already pruned).
    """
    usable = arrays.graph if within is None else within
    if query.edge_allowed is not None and within is None:
        usable = usable.restrict(query.edge_allowed[usable.edge])
    s, t = query.source, query.target
    budget_ms = query.max_latency_ms + LATENCY_TOLERANCE_MS
    limit = budget_ms * (1 + 1e-12) if latency_limit else math.inf
    lat_s = usable.distances(arrays.latency_ms, s, limit=limit)
    if not math.isfinite(lat_s[t]):
        lat_s = usable.distances(arrays.latency_ms, s)
    fastest_ms = float(lat_s[t])
    lat_t = usable.distances(arrays.latency_ms, t, backward=True, limit=limit)
    if not math.isfinite(fastest_ms):
        return RouteBounds(usable, lat_s, lat_t, fastest_ms, why="disconnected")
    if fastest_ms > budget_ms:
        return RouteBounds(usable, lat_s, lat_t, fastest_ms, why="latency")
    lat = arrays.latency_ms[usable.edge]
    keep = lat_s[usable.tail] + lat + lat_t[usable.head] <= budget_ms
    keep &= (usable.head != s) & (usable.tail != t)
    for k, limit_k in enumerate(query.max_resources or ()):
        fits = usable.restrict(keep)
        weight = arrays.resources[:, k]
        ceiling = limit_k + RESOURCE_TOLERANCE
        r_s = fits.distances(weight, s, limit=ceiling)
        if not math.isfinite(r_s[t]):
            least = float(fits.distances(weight, s)[t])
            return RouteBounds(usable, lat_s, lat_t, fastest_ms, why="resource", resource=k, least=least)
        r_t = fits.distances(weight, t, backward=True, limit=ceiling)
        keep &= r_s[usable.tail] + weight[usable.edge] + r_t[usable.head] <= ceiling
    bounded = usable.restrict(keep)
    larac = lagrangian_paths(arrays, bounded, query)
    cost_bounds = []
    for lam in sorted({0.0, larac.multiplier}):
        from_s, limit = larac.from_source[lam]
        to_t = bounded.distances(arrays.cost + lam * arrays.latency_ms, t, backward=True, limit=limit)
        cost_bounds.append((lam, from_s, to_t, limit))
    cheapest = float(cost_bounds[0][1][t])
    ends = (bounded.edge, bounded.tail, bounded.head, s, t)
    permits = jurisdiction_floor(arrays, *ends, arrays.permit_cost)
    counts = None
    if query.max_jurisdictions is not None:
        counts = jurisdiction_floor(arrays, *ends, arrays.counted.astype(float))
    return RouteBounds(
        usable,
        lat_s,
        lat_t,
        fastest_ms,
        bounded,
        larac,
        tuple(cost_bounds),
        cheapest,
        permit_floor=permits.per_arc,
        permit_least=permits.least,
        count_floor=None if counts is None else counts.per_arc,
        count_least=0.0 if counts is None else counts.least,
    )


@dataclass(frozen=True, eq=False)
class PrunedArcs:
    """Directed arcs (edge, tail, head) that can lie on a feasible, improving route."""

    edge: np.ndarray
    tail: np.ndarray
    head: np.ndarray
    n_latency_feasible: int


def prune_arcs(arrays: EdgeArrays, query: RouteQuery, bounds: RouteBounds, upper_bound: float) -> PrunedArcs:
    """Keep the bounded arcs whose exact cost bounds admit a feasible route within upper_bound.

    An arc u->v of edge e survives when
        d_s[u] + cost_e + lambda latency_e + d_t[v] - lambda budget_ms + P_e <= UB
    for every (lambda, d_s, d_t) in the bounds' cost distances, where d are least costs under
    cost + lambda * latency from the source and to the target, budget_ms is the bound
    plus the latency tolerance (a route may use the tolerance, so the bound must allow it),
    and P is the least permit cost of a route through the arc. When the query limits counted
    jurisdictions, an arc every route through which counts more is dropped too.
    The bounded arcs already meet the latency and resource bounds from both ends.
    """
    arcs = bounds.bounded
    assert arcs is not None, "prune_arcs needs bounds with arcs"
    keep = cost_keep(arrays, query, bounds, upper_bound)
    return PrunedArcs(arcs.edge[keep], arcs.tail[keep], arcs.head[keep], n_latency_feasible=arcs.n_arcs)


def cost_keep(arrays: EdgeArrays, query: RouteQuery, bounds: RouteBounds, upper_bound: float) -> np.ndarray:
    """Mask of the bounded arcs that pass every cost bound (see prune_arcs)."""
    assert bounds.bounded is not None
    edge, tail, head = bounds.bounded.edge, bounds.bounded.tail, bounds.bounded.head
    keep = np.ones(len(edge), dtype=bool)
    if bounds.count_floor is not None and query.max_jurisdictions is not None:
        keep &= bounds.count_floor <= query.max_jurisdictions + 1e-9
    if math.isfinite(upper_bound):
        ceiling = cost_ceiling(upper_bound)
        budget_ms = query.max_latency_ms + LATENCY_TOLERANCE_MS  # what a route may use
        for lam, d_s, d_t, limit in bounds.cost_bounds:
            if limit < (ceiling + lam * budget_ms) * (1 + 1e-9):
                continue  # distances beyond their limit are unknown, not large
            weight = arrays.cost[edge] + lam * arrays.latency_ms[edge]
            lower = d_s[tail] + weight + d_t[head] - lam * budget_ms + bounds.permit_floor
            keep &= lower <= ceiling + 1e-9 * lam * budget_ms  # float slack on the sums
    return keep


def arcs_along(arcs: PrunedArcs, source: int, edges: Sequence[int]) -> list[bool] | None:
    """0/1 value per arc for a route given as edges walked from source; None if an arc was pruned."""
    arc_of = {(e, u): a for a, (e, u) in enumerate(zip(arcs.edge.tolist(), arcs.tail.tolist(), strict=True))}
    node, chosen = source, set()
    for e in edges:
        a = arc_of.get((int(e), node))
        if a is None:
            return None
        chosen.add(a)
        node = int(arcs.head[a])
    return [a in chosen for a in range(len(arcs.edge))]


def path_in_arcs(arrays: EdgeArrays, source: int, arcs: PrunedArcs, values: np.ndarray) -> PathEval:
    """The path from source along the chosen arcs of a 0/1 flow solution (detached cycles dropped)."""
    next_arc = {int(arcs.tail[a]): int(a) for a in np.flatnonzero(values)}
    node, edges, seen = source, [], {source}
    while node in next_arc:
        a = next_arc[node]
        edges.append(int(arcs.edge[a]))
        node = int(arcs.head[a])
        if node in seen:
            raise RuntimeError(f"route solution revisits node {node}")
        seen.add(node)
    return evaluate_path(arrays, source, tuple(edges))
