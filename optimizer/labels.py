"""Exact label-setting search for additive routes (cost, latency and extra resources only).

Labels (node, cost, latency, resources) are settled in order of cost plus the least cost on
to the target, ties by latency, so each node's labels settle by rising cost and the first
label settled at the target is a cheapest route. The search then goes on up to the cost tie
tolerance above it and keeps the fastest route settled there (costs that close are ties,
and ties go to lower latency). A label is
dropped when a label settled earlier at its node is no slower and uses no more of any resource
(dominance), or when a bound from its node to the target shows it cannot stay within the
latency or a resource limit or reach a cost at most the ceiling: plain least cost, and the
Lagrangian bound cost + lambda x latency - lambda x budget for each given multiplier.
"""

from __future__ import annotations

import heapq
import math
import time
from dataclasses import dataclass

import numpy as np

from optimizer.problem import LATENCY_TOLERANCE_MS, RESOURCE_TOLERANCE, EdgeArrays, RouteQuery, StopSignal
from optimizer.prune import ShortestPathGraph, cost_ceiling

__all__ = ["LabelSearch", "label_search"]

_CHECK_EVERY = 4096
"""Settled labels between checks of the clock and the stop signal."""


@dataclass(frozen=True)
class LabelSearch:
    """How a label-setting search ended: complete (the route, or None, is proven) or cut off."""

    edges: tuple[int, ...] | None
    complete: bool
    labels: int


def label_search(
    arrays: EdgeArrays,
    query: RouteQuery,
    graph: ShortestPathGraph,
    *,
    upper_bound: float,
    multipliers: tuple[float, ...] = (),
    time_limit_s: float = math.inf,
    stop: StopSignal | None = None,
) -> LabelSearch:
    """The cheapest (then fastest) route over graph's arcs meeting the query's additive bounds
    and costing at most upper_bound; complete=False when time or the stop signal cut it off."""
    started = time.perf_counter()
    s, t = query.source, query.target
    budget_ms = query.max_latency_ms + LATENCY_TOLERANCE_MS
    ceiling = cost_ceiling(upper_bound) if math.isfinite(upper_bound) else math.inf
    limits = np.asarray(query.max_resources or (), dtype=float) + RESOURCE_TOLERANCE
    n_res = len(limits)
    cost_w, lat_w = arrays.cost, arrays.latency_ms
    to_t_cost = graph.distances(cost_w, t, backward=True)
    to_t_lat = graph.distances(lat_w, t, backward=True)
    to_t_res = [graph.distances(arrays.resources[:, k], t, backward=True) for k in range(n_res)]
    lagrange = [
        (lam, graph.distances(cost_w + lam * lat_w, t, backward=True) - lam * budget_ms)
        for lam in multipliers
        if lam > 0
    ]
    slack = 1e-9 * max(1.0, abs(ceiling) if math.isfinite(ceiling) else 1.0)

    out_start = np.searchsorted(graph.tail, np.arange(graph.n_nodes + 1))
    heads, edges = graph.head.tolist(), graph.edge.tolist()
    arc_cost, arc_lat = cost_w[graph.edge].tolist(), lat_w[graph.edge].tolist()
    arc_res = arrays.resources[graph.edge] if n_res else None

    def admissible(v: int, c: float, lat: float, res: np.ndarray | None) -> bool:
        """Whether a label at v can still end in a route within every bound."""
        if lat + to_t_lat[v] > budget_ms or c + to_t_cost[v] > ceiling + slack:
            return False
        if any(c + lam * lat + h[v] > ceiling + slack * (1 + lam * budget_ms) for lam, h in lagrange):
            return False
        return res is None or all(res[k] + to_t_res[k][v] <= limits[k] for k in range(n_res))

    # label i: node, parent label, arc edge id, resources
    parent: list[int] = [-1]
    via: list[int] = [-1]
    resources: list[np.ndarray | None] = [np.zeros(n_res) if n_res else None]
    if not admissible(s, 0.0, 0.0, resources[0]):
        return LabelSearch(None, True, 0)
    heap: list[tuple[float, float, float, int, int]] = [(float(to_t_cost[s]), 0.0, 0.0, s, 0)]
    fastest = {}  # node -> least latency of a label settled there (no resources)
    settled: dict[int, list[tuple[float, np.ndarray]]] = {}  # node -> (latency, resources) settled
    count = 0
    window = math.inf  # once a route is found: the cost up to which others tie with it
    best: tuple[float, int] | None = None  # latency and label of the fastest tied route
    while heap and heap[0][0] <= window:
        _f, lat, c, v, label = heapq.heappop(heap)
        res = resources[label]
        if _dominated(v, lat, res, fastest, settled, record=True):
            continue
        count += 1
        if count % _CHECK_EVERY == 0 and (
            time.perf_counter() - started > time_limit_s or (stop is not None and stop.is_set())
        ):
            return LabelSearch(None, False, count)
        if v == t:
            if best is None:
                window = ceiling = min(ceiling, cost_ceiling(c))
            if best is None or lat < best[0]:
                best = (lat, label)
            continue
        for a in range(out_start[v], out_start[v + 1]):
            w = heads[a]
            c2, lat2 = c + arc_cost[a], lat + arc_lat[a]
            res2 = None if arc_res is None else res + arc_res[a]
            if not admissible(w, c2, lat2, res2) or _dominated(w, lat2, res2, fastest, settled, record=False):
                continue
            parent.append(label)
            via.append(edges[a])
            resources.append(res2)
            heapq.heappush(heap, (c2 + to_t_cost[w], lat2, c2, w, len(parent) - 1))
    return LabelSearch(None if best is None else _walk(best[1], parent, via), True, count)


def _dominated(
    v: int,
    lat: float,
    res: np.ndarray | None,
    fastest: dict[int, float],
    settled: dict[int, list[tuple[float, np.ndarray]]],
    *,
    record: bool,
) -> bool:
    """Whether a label settled at v is no slower and uses no more resources; with record, a
    label that is not becomes settled (labels at a node settle by rising cost, so an earlier
    one is also no dearer)."""
    if res is None:
        if lat >= fastest.get(v, math.inf):
            return True
        if record:
            fastest[v] = lat
        return False
    seen = settled.get(v, ())
    if any(lat_o <= lat and np.all(res_o <= res) for lat_o, res_o in seen):
        return True
    if record:
        settled.setdefault(v, []).append((lat, res))
    return False


def _walk(label: int, parent: list[int], via: list[int]) -> tuple[int, ...]:
    """Edge ids from the source to a label."""
    edges = []
    while parent[label] != -1:
        edges.append(via[label])
        label = parent[label]
    return tuple(reversed(edges))
