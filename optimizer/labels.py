"""Exact label-setting search for one route: cost, latency, extra resources and permits.

Additive routes (no permit priced or counted on the arcs): labels (node, cost, latency,
resources) are settled in order of cost plus the least cost on to the target, ties by latency,
so each node's labels settle by rising cost and the first label settled at the target is a
cheapest route. The search then goes on up to the cost tie tolerance above it and keeps the
fastest route settled there (costs that close are ties, and ties go to lower latency). A label
is dropped when a label settled earlier at its node is no slower and uses no more of any
resource (dominance), or when a bound from its node to the target shows it cannot stay within
the latency or a resource limit or reach a cost at most the ceiling: plain least cost, and the
Lagrangian bound cost + lambda x latency - lambda x budget for each given multiplier.

Routes with permits: a label also carries the set of jurisdictions it has paid for (one bit
each), since a permit is paid once however often a route enters its jurisdiction; the order
and the dominance rule that keep this exact are described at _search_with_permits.
"""

from __future__ import annotations

import heapq
import math
import time
from dataclasses import dataclass

import numpy as np

from optimizer.model import relevant_jurisdictions
from optimizer.problem import LATENCY_TOLERANCE_MS, RESOURCE_TOLERANCE, EdgeArrays, RouteQuery, StopSignal
from optimizer.prune import ShortestPathGraph, cost_ceiling

__all__ = ["LabelSearch", "label_search"]

_SUM_SLACK = 1e-12
"""Relative float noise allowed when comparing costs summed in different orders (far below the
cost tie tolerance): a label that went round a zero-cost loop paying permits is dominated."""

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
    permit_floor: np.ndarray | float = 0.0,
    time_limit_s: float = math.inf,
    stop: StopSignal | None = None,
    max_labels: int | None = None,
) -> LabelSearch:
    """The cheapest (then fastest) route over graph's arcs meeting the query's bounds and costing
    at most upper_bound; complete=False when time, the stop signal or max_labels cut it off.

    permit_floor (per arc of graph) is the least permit cost of a route through the arc; with
    permits to pay, labels carry the jurisdictions paid for (see _search_with_permits)."""
    started = time.perf_counter()
    cap = math.inf if max_labels is None else max_labels
    ahead = _Ahead.of(arrays, query, graph, upper_bound, multipliers)
    permits = _Permits.of(arrays, query, graph)
    if permits is not None:
        return _search_with_permits(
            arrays, query, graph, ahead, permits, permit_floor, started, time_limit_s, stop, max_labels
        )
    s, t = query.source, query.target
    budget_ms, limits, slack = ahead.budget_ms, ahead.limits, ahead.slack
    ceiling = ahead.ceiling
    n_res = len(limits)
    to_t_cost, to_t_lat, to_t_res, lagrange = ahead.cost, ahead.latency, ahead.resources, ahead.lagrange

    out_start = np.searchsorted(graph.tail, np.arange(graph.n_nodes + 1))
    heads, edges = graph.head.tolist(), graph.edge.tolist()
    arc_cost, arc_lat = arrays.cost[graph.edge].tolist(), arrays.latency_ms[graph.edge].tolist()
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
        if count > cap or (count % _CHECK_EVERY == 0 and _out_of_time(started, time_limit_s, stop)):
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


def _out_of_time(started: float, time_limit_s: float, stop: StopSignal | None) -> bool:
    """Whether the time limit or the stop signal ends the search."""
    return time.perf_counter() - started > time_limit_s or (stop is not None and stop.is_set())


@dataclass(frozen=True, eq=False)
class _Ahead:
    """Least cost, latency, resources and Lagrangian cost from every node on to the target,
    and the limits a label must stay within."""

    cost: np.ndarray
    latency: np.ndarray
    resources: list[np.ndarray]
    lagrange: list[tuple[float, np.ndarray]]
    """(multiplier, least cost + multiplier x latency to the target - multiplier x budget)."""
    budget_ms: float
    limits: np.ndarray
    ceiling: float
    slack: float

    @classmethod
    def of(
        cls,
        arrays: EdgeArrays,
        query: RouteQuery,
        graph: ShortestPathGraph,
        upper_bound: float,
        multipliers: tuple[float, ...],
    ) -> _Ahead:
        """Backward searches from the target over graph's arcs."""
        t = query.target
        budget_ms = query.max_latency_ms + LATENCY_TOLERANCE_MS
        ceiling = cost_ceiling(upper_bound) if math.isfinite(upper_bound) else math.inf
        limits = np.asarray(query.max_resources or (), dtype=float) + RESOURCE_TOLERANCE
        cost_w, lat_w = arrays.cost, arrays.latency_ms
        return cls(
            cost=graph.distances(cost_w, t, backward=True),
            latency=graph.distances(lat_w, t, backward=True),
            resources=[graph.distances(arrays.resources[:, k], t, backward=True) for k in range(len(limits))],
            lagrange=[
                (lam, graph.distances(cost_w + lam * lat_w, t, backward=True) - lam * budget_ms)
                for lam in multipliers
                if lam > 0
            ],
            budget_ms=budget_ms,
            limits=limits,
            ceiling=ceiling,
            slack=1e-9 * max(1.0, abs(ceiling) if math.isfinite(ceiling) else 1.0),
        )


@dataclass(frozen=True, eq=False)
class _Permits:
    """The jurisdictions routes over a graph's arcs pay for or count, one bit each."""

    arc_bits: list[int]
    """Per arc: the bits of its edge's jurisdictions."""
    arc_price: list[float]
    """Per arc: what all of its jurisdictions cost together."""
    price: list[float]
    """Per bit: its jurisdiction's permit cost."""
    counted: int
    """Bits that count toward the query's jurisdiction limit (0 without a limit)."""

    @classmethod
    def of(cls, arrays: EdgeArrays, query: RouteQuery, graph: ShortestPathGraph) -> _Permits | None:
        """Bits of the relevant jurisdictions on graph's arcs; None when there are none."""
        ids = relevant_jurisdictions(arrays, query, graph.edge)
        if not len(ids):
            return None
        bit = np.full(len(arrays.permit_cost) + 1, -1, dtype=np.int64)  # -1 (none) maps to -1
        bit[ids] = np.arange(len(ids))
        rows, inverse = np.unique(bit[arrays.jurisdiction[graph.edge]], axis=0, return_inverse=True)
        price = arrays.permit_cost[ids].tolist()
        row_bits = [sum(1 << int(b) for b in set(row.tolist()) if b >= 0) for row in rows]
        row_price = [sum(price[int(b)] for b in set(row.tolist()) if b >= 0) for row in rows]
        limited = query.max_jurisdictions is not None
        counted = sum(1 << i for i, j in enumerate(ids.tolist()) if limited and arrays.counted[j])
        inverse = inverse.ravel().tolist()
        return cls([row_bits[i] for i in inverse], [row_price[i] for i in inverse], price, counted)

    def cost_of(self, bits: int) -> float:
        """What the jurisdictions of some bits cost together."""
        total = 0.0
        while bits:
            low = bits & -bits
            total += self.price[low.bit_length() - 1]
            bits ^= low
        return total


def _search_with_permits(
    arrays: EdgeArrays,
    query: RouteQuery,
    graph: ShortestPathGraph,
    ahead: _Ahead,
    permits: _Permits,
    permit_floor: np.ndarray | float,
    started: float,
    time_limit_s: float,
    stop: StopSignal | None,
    max_labels: int | None,
) -> LabelSearch:
    """Label setting where each label also carries the jurisdictions it has paid for.

    A label's cost includes its permits (each jurisdiction paid once, when first entered). It is
    settled in order of a lower bound on any route it can end in: the larger of its cost plus the
    least edge cost on, and its edge cost plus the least edge cost on plus the permit floor of
    the arc it came by (every route through that arc pays at least that much in permits). That
    order is not monotone at a node, so dominance compares costs outright: A dominates B at a
    node when A is no slower, uses no more of any resource, costs at most B's cost less the
    permits B has paid that A has not (A may still have to pay them), and, under a jurisdiction
    limit, has counted no jurisdiction B has not. Whatever route B ends in, A ends no dearer and
    no slower along the same arcs.
    """
    s, t = query.source, query.target
    budget_ms, limits, slack, ceiling = ahead.budget_ms, ahead.limits, ahead.slack, ahead.ceiling
    n_res = len(limits)
    to_t_cost, to_t_lat, to_t_res, lagrange = ahead.cost, ahead.latency, ahead.resources, ahead.lagrange
    cap = math.inf if max_labels is None else max_labels
    max_count = math.inf if query.max_jurisdictions is None else query.max_jurisdictions
    counted_bits = permits.counted
    floor = np.broadcast_to(np.asarray(permit_floor, dtype=float), (graph.n_arcs,)).tolist()

    out_start = np.searchsorted(graph.tail, np.arange(graph.n_nodes + 1))
    heads, edges = graph.head.tolist(), graph.edge.tolist()
    arc_cost, arc_lat = arrays.cost[graph.edge].tolist(), arrays.latency_ms[graph.edge].tolist()
    arc_res = arrays.resources[graph.edge] if n_res else None
    arc_bits, arc_price = permits.arc_bits, permits.arc_price

    def bound(v: int, base: float, lat: float, res: np.ndarray | None) -> float:
        """Least cost of a route the label can end in (inf if none meets every bound); base is
        the least total cost of its route so far (its cost, or edge cost plus the arc's floor)."""
        if lat + to_t_lat[v] > budget_ms:
            return math.inf
        least = base + to_t_cost[v]
        if least > ceiling + slack:
            return math.inf
        if any(base + lam * lat + h[v] > ceiling + slack * (1 + lam * budget_ms) for lam, h in lagrange):
            return math.inf
        if res is not None and not all(res[k] + to_t_res[k][v] <= limits[k] for k in range(n_res)):
            return math.inf
        return least

    # label i: parent label, arc edge id, resources, paid bits, edge cost
    parent: list[int] = [-1]
    via: list[int] = [-1]
    resources: list[np.ndarray | None] = [np.zeros(n_res) if n_res else None]
    paid: list[int] = [0]
    edge_cost: list[float] = [0.0]
    f0 = bound(s, 0.0, 0.0, resources[0])
    if not math.isfinite(f0):
        return LabelSearch(None, True, 0)
    heap: list[tuple[float, float, float, int, int]] = [(f0, 0.0, 0.0, s, 0)]
    settled: dict[int, list[tuple[float, float, int, np.ndarray | None]]] = {}
    count = 0
    window = math.inf
    best: tuple[float, int] | None = None

    def dominated(v: int, c: float, lat: float, bits: int, res: np.ndarray | None) -> bool:
        """Whether a label settled at v dominates this one (see _search_with_permits)."""
        for c_o, lat_o, bits_o, res_o in settled.get(v, ()):
            if lat_o > lat or bits_o & ~bits & counted_bits:
                continue
            extra = bits & ~bits_o
            if c_o + (permits.cost_of(extra) if extra else 0.0) > c + _SUM_SLACK * max(1.0, abs(c)):
                continue
            if res is None or bool(np.all(res_o <= res)):
                return True
        return False

    while heap and heap[0][0] <= window:
        _f, lat, c, v, label = heapq.heappop(heap)
        res, bits = resources[label], paid[label]
        if dominated(v, c, lat, bits, res):
            continue
        settled.setdefault(v, []).append((c, lat, bits, res))
        count += 1
        if count > cap or (count % _CHECK_EVERY == 0 and _out_of_time(started, time_limit_s, stop)):
            return LabelSearch(None, False, count)
        if v == t:
            if best is None:
                window = ceiling = min(ceiling, cost_ceiling(c))
            if best is None or lat < best[0]:
                best = (lat, label)
            continue
        ec = edge_cost[label]
        for a in range(out_start[v], out_start[v + 1]):
            w = heads[a]
            new = arc_bits[a] & ~bits
            pay = arc_price[a] if new == arc_bits[a] else permits.cost_of(new)
            if new & counted_bits and ((bits | new) & counted_bits).bit_count() > max_count:
                continue
            c2, lat2, ec2 = c + pay + arc_cost[a], lat + arc_lat[a], ec + arc_cost[a]
            bits2 = bits | new
            res2 = None if arc_res is None else res + arc_res[a]
            f2 = bound(w, max(c2, ec2 + floor[a]), lat2, res2)
            if not math.isfinite(f2) or dominated(w, c2, lat2, bits2, res2):
                continue
            parent.append(label)
            via.append(edges[a])
            resources.append(res2)
            paid.append(bits2)
            edge_cost.append(ec2)
            heapq.heappush(heap, (f2, lat2, c2, w, len(parent) - 1))
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
