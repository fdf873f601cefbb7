"""Exact per-demand bounds (latency and cost from both ends) and the arcs that survive them."""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp
from scipy.sparse.csgraph import dijkstra

from optimizer.problem import (
    COST_RELATIVE_TOLERANCE,
    LATENCY_TOLERANCE_MS,
    EdgeArrays,
    RouteQuery,
)

__all__ = [
    "PathEval",
    "PrunedArcs",
    "ShortestPaths",
    "arcs_along",
    "evaluate_path",
    "lagrangian_paths",
    "path_in_arcs",
    "prune_arcs",
]

_LARAC_MAX_ITERATIONS = 40


@dataclass(frozen=True, eq=False)
class ShortestPaths:
    """Dijkstra over a fixed set of edges (both directions), reusable for many weights."""

    n_nodes: int
    edges: np.ndarray  # edge ids of the usable edges

    def _matrix(self, arrays: EdgeArrays, weight: np.ndarray) -> tuple[sp.csr_array, np.ndarray]:
        """CSR matrix of the cheapest arc per (u, v), and the edge id behind each entry."""
        edge = np.concatenate([self.edges, self.edges])
        tail = np.concatenate([arrays.tail[self.edges], arrays.head[self.edges]])
        head = np.concatenate([arrays.head[self.edges], arrays.tail[self.edges]])
        w = weight[edge]
        order = np.lexsort((w, head, tail))
        tail, head, w, edge = tail[order], head[order], w[order], edge[order]
        first = np.ones(len(tail), dtype=bool)
        first[1:] = (tail[1:] != tail[:-1]) | (head[1:] != head[:-1])
        tail, head, w, edge = tail[first], head[first], w[first], edge[first]
        indptr = np.searchsorted(tail, np.arange(self.n_nodes + 1))
        matrix = sp.csr_array((w, head, indptr), shape=(self.n_nodes, self.n_nodes))
        return matrix, edge

    def distances(
        self, arrays: EdgeArrays, weight: np.ndarray, source: int
    ) -> tuple[np.ndarray, np.ndarray, sp.csr_array, np.ndarray]:
        """Distances and predecessors from source under a per-edge weight."""
        matrix, entry_edge = self._matrix(arrays, weight)
        dist, pred = dijkstra(matrix, directed=True, indices=source, return_predecessors=True)
        return dist, pred, matrix, entry_edge

    @staticmethod
    def path_edges(
        pred: np.ndarray, matrix: sp.csr_array, entry_edge: np.ndarray, source: int, target: int
    ) -> tuple[int, ...]:
        """Edge ids of the shortest path source -> target from a predecessor array."""
        nodes = [target]
        while nodes[-1] != source:
            nodes.append(int(pred[nodes[-1]]))
        nodes.reverse()
        edges = []
        for u, v in itertools.pairwise(nodes):
            lo, hi = matrix.indptr[u], matrix.indptr[u + 1]
            pos = lo + int(np.searchsorted(matrix.indices[lo:hi], v))
            edges.append(int(entry_edge[pos]))
        return tuple(edges)


@dataclass(frozen=True)
class PathEval:
    """Cost, latency and jurisdictions of one route, recomputed from the arrays."""

    edges: tuple[int, ...]
    nodes: tuple[int, ...]
    edge_cost: float
    permit_cost: float
    latency_ms: float
    jurisdictions: tuple[int, ...]
    counted_jurisdictions: int

    @property
    def cost(self) -> float:
        """Total cost: edges plus permits."""
        return self.edge_cost + self.permit_cost


def evaluate_path(arrays: EdgeArrays, source: int, edges: tuple[int, ...]) -> PathEval:
    """Walk edges from source and total their cost, latency and distinct jurisdictions."""
    idx = np.asarray(edges, dtype=np.int64)
    nodes = [source]
    for e in edges:
        u, v = int(arrays.tail[e]), int(arrays.head[e])
        nodes.append(v if nodes[-1] == u else u)
    juris = np.unique(arrays.jurisdiction[idx].ravel()) if len(idx) else np.array([], np.int64)
    juris = juris[juris >= 0]
    return PathEval(
        edges=tuple(edges),
        nodes=tuple(nodes),
        edge_cost=float(arrays.cost[idx].sum()),
        permit_cost=float(arrays.permit_cost[juris].sum()),
        latency_ms=float(arrays.latency_ms[idx].sum()),
        jurisdictions=tuple(int(j) for j in juris),
        counted_jurisdictions=int(arrays.counted[juris].sum()),
    )


def is_feasible(path: PathEval, query: RouteQuery) -> bool:
    """Whether a route meets every constraint of the query."""
    if path.latency_ms > query.max_latency_ms + LATENCY_TOLERANCE_MS:
        return False
    if query.max_jurisdictions is not None and path.counted_jurisdictions > query.max_jurisdictions:
        return False
    return query.max_cost is None or path.cost <= cost_ceiling(query.max_cost)


def cost_ceiling(cost: float) -> float:
    """A cost plus the tie tolerance: anything at or below it counts as no worse."""
    return cost * (1 + COST_RELATIVE_TOLERANCE) + COST_RELATIVE_TOLERANCE


@dataclass(frozen=True)
class LagrangianResult:
    """Paths met on the way to the best Lagrangian multiplier for the latency bound."""

    multiplier: float
    lower_bound: float
    paths: tuple[tuple[int, ...], ...]


def lagrangian_paths(arrays: EdgeArrays, sp_graph: ShortestPaths, query: RouteQuery) -> LagrangianResult:
    """LARAC: min cost + lambda * latency paths that bracket the latency bound."""
    s, t, bound = query.source, query.target, query.max_latency_ms + LATENCY_TOLERANCE_MS

    def shortest(lam: float) -> tuple[int, ...]:
        _dist, pred, matrix, entry = sp_graph.distances(arrays, arrays.cost + lam * arrays.latency_ms, s)
        return sp_graph.path_edges(pred, matrix, entry, s, t)

    def totals(edges: tuple[int, ...]) -> tuple[float, float]:
        idx = np.asarray(edges, dtype=np.int64)
        return float(arrays.cost[idx].sum()), float(arrays.latency_ms[idx].sum())

    cheap = shortest(0.0)
    c_cheap, d_cheap = totals(cheap)
    if d_cheap <= bound:
        return LagrangianResult(0.0, c_cheap, (cheap,))
    _dist_fast, pred_fast, m_fast, e_fast = sp_graph.distances(arrays, arrays.latency_ms, s)
    fast = sp_graph.path_edges(pred_fast, m_fast, e_fast, s, t)
    c_fast, d_fast = totals(fast)
    paths = [cheap, fast]
    lam, lower = 0.0, c_cheap
    for _ in range(_LARAC_MAX_ITERATIONS):
        if d_cheap - d_fast <= 0:
            break
        lam = (c_fast - c_cheap) / (d_cheap - d_fast)
        mid = shortest(lam)
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
    return LagrangianResult(lam, lower, tuple(paths))


@dataclass(frozen=True, eq=False)
class PrunedArcs:
    """Directed arcs (edge, tail, head) that can lie on a feasible, improving route."""

    edge: np.ndarray
    tail: np.ndarray
    head: np.ndarray
    n_latency_feasible: int


def prune_arcs(
    arrays: EdgeArrays,
    query: RouteQuery,
    *,
    usable: np.ndarray,
    latency_from: tuple[np.ndarray, np.ndarray],
    cost_bounds: list[tuple[float, np.ndarray, np.ndarray]],
    upper_bound: float,
) -> PrunedArcs:
    """Keep arcs whose exact latency and cost bounds admit a feasible route within upper_bound.

    An arc u->v of edge e survives when
        lat_s[u] + latency_e + lat_t[v] <= max_latency_ms                       (latency)
        d_s[u] + cost_e + lambda latency_e + d_t[v] - lambda budget_ms <= UB       (cost)
    for every (lambda, d_s, d_t) in cost_bounds, where d are shortest distances under
    cost + lambda * latency from the source and to the target, and budget_ms is the bound
    plus the latency tolerance (a route may use the tolerance, so the bound must allow it).
    """
    edges = np.flatnonzero(usable)
    tail = np.concatenate([arrays.tail[edges], arrays.head[edges]])
    head = np.concatenate([arrays.head[edges], arrays.tail[edges]])
    edge = np.concatenate([edges, edges])
    lat_s, lat_t = latency_from
    keep = lat_s[tail] + arrays.latency_ms[edge] + lat_t[head] <= (
        query.max_latency_ms + LATENCY_TOLERANCE_MS
    )
    keep &= (head != query.source) & (tail != query.target)
    n_latency = int(keep.sum())
    if math.isfinite(upper_bound):
        ceiling = cost_ceiling(upper_bound)
        for lam, d_s, d_t in cost_bounds:
            weight = arrays.cost[edge] + lam * arrays.latency_ms[edge]
            budget_ms = query.max_latency_ms + LATENCY_TOLERANCE_MS  # what a route may use
            lower = d_s[tail] + weight + d_t[head] - lam * budget_ms
            keep &= lower <= ceiling + 1e-9 * lam * budget_ms  # float slack on the sums
    return PrunedArcs(edge=edge[keep], tail=tail[keep], head=head[keep], n_latency_feasible=n_latency)


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
