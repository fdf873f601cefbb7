"""k diverse routes as a k-unit min-cost flow: an exact lower bound always, the optimum when
its routes meet every bound of the demand.

Edge diversity is a flow with unit edge capacities; node and SRLG diversity split every node
into in -> out with unit capacity (SRLGs are then checked on the routes, the flow being their
relaxation).  A site's own nodes and the edges among them carry every route.  Costs enter
OR-Tools' SimpleMinCostFlow as integers rounded down, so the integer optimum over the scale is
a valid lower bound; latency rides along with a weight too small to trade cost (ties go to
lower latency).
"""

from __future__ import annotations

import math
from collections import defaultdict
from dataclasses import dataclass

import numpy as np
from ortools.graph.python import min_cost_flow

from optimizer.problem import DesignDemand, Diversity, EdgeArrays, RouteQuery

__all__ = ["FlowRoutes", "diverse_flow", "site_edges", "site_node_mask"]

_INT_BUDGET = 2.0**56
"""Integer cost range of one flow solve: a costly arc times the node count stays below it."""

TIE_SHARE = 1e-10
"""All the latency of a flow together weighs at most this share of its least cost."""


@dataclass(frozen=True)
class FlowRoutes:
    """The most diverse routes a flow finds (up to k) and the least edge cost of k of them."""

    count: int
    routes: tuple[tuple[int, ...], ...]
    """Edge ids walked from the source, one tuple per route (count of them)."""
    lower_bound: float
    """No k diverse routes over these edges cost less (edge cost; inf when count < k)."""


def site_node_mask(arrays: EdgeArrays, demand: DesignDemand) -> tuple[np.ndarray, np.ndarray]:
    """Per node: whether it belongs to the source site, and whether to the target site."""
    query = demand.query
    source = np.zeros(arrays.n_nodes, dtype=bool)
    target = np.zeros(arrays.n_nodes, dtype=bool)
    source[[query.source, *demand.source_nodes]] = True
    target[[query.target, *demand.target_nodes]] = True
    return source, target


def site_edges(arrays: EdgeArrays, demand: DesignDemand) -> np.ndarray:
    """Per edge: whether both its ends belong to the same site of the demand (every route may use it)."""
    if not demand.source_nodes and not demand.target_nodes:
        return np.zeros(arrays.n_edges, dtype=bool)
    source, target = site_node_mask(arrays, demand)
    return (source[arrays.tail] & source[arrays.head]) | (target[arrays.tail] & target[arrays.head])


def diverse_flow(
    arrays: EdgeArrays, demand: DesignDemand, usable: np.ndarray, *, cost_floor: float = 0.0
) -> FlowRoutes:
    """Up to demand.paths diverse routes over the usable edges at least total edge cost,
    ties going to lower total latency.

    cost_floor, a known lower bound on that cost (e.g. the cheapest single route), sets the
    latency weight that breaks ties in the same solve; without one a second solve breaks them.
    """
    k, query = demand.paths, demand.query
    shared = site_edges(arrays, demand)
    edges = np.flatnonzero(usable & (arrays.tail != arrays.head))
    net = _FlowNet.of(arrays, demand, edges, shared)
    cost = np.where(shared[edges], 0.0, arrays.cost[edges])
    latency = arrays.latency_ms[edges]
    latency_cap = k * float(latency.sum())
    first = _min_cost(net, cost, latency, cost_floor, latency_cap, k, query)
    count, solver, bound = first
    if count == k and cost_floor <= 0 < latency_cap:  # ties not yet broken
        if bound > 0:
            count, solver, bound = _min_cost(net, cost, latency, bound, latency_cap, k, query)
        else:  # nothing need cost anything: the fastest flow over the free edges, if it fits
            free = _min_cost(net, np.where(cost == 0, latency, np.inf), latency, 0.0, 0.0, k, query)
            if free[0] == k:
                count, solver = free[0], free[1]
    routes = _decompose(arrays, net, solver, edges, query)
    return FlowRoutes(count, routes, bound if count == k else math.inf)


def _min_cost(
    net: _FlowNet,
    cost: np.ndarray,
    latency: np.ndarray,
    cost_floor: float,
    latency_cap: float,
    k: int,
    query: RouteQuery,
) -> tuple[int, min_cost_flow.SimpleMinCostFlow, float]:
    """Units sent (up to k), the solved flow, and the least edge cost it proves (an inf cost
    closes an arc)."""
    epsilon = TIE_SHARE * cost_floor / latency_cap if latency_cap > 0 and cost_floor > 0 else 0.0
    weight = cost + epsilon * latency
    is_open = np.isfinite(weight)
    weight = np.where(is_open, weight, 0.0)
    top = float(weight.max(initial=0.0))
    span = max(top * (net.n_nodes + 1), k * float(weight.sum()))
    scale = _INT_BUDGET / span if span > 0 else 1.0
    solver = net.solver(np.floor(weight * scale).astype(np.int64), is_open, k, query.source, query.target)
    status = solver.solve()  # k units; only when they do not fit, the most that do
    if status == solver.INFEASIBLE:
        status = solver.solve_max_flow_with_min_cost()
    if status != solver.OPTIMAL:
        raise RuntimeError(f"min-cost flow ended {status} on a well-formed network")
    bound = float(solver.optimal_cost()) / scale - epsilon * latency_cap
    return int(solver.maximum_flow()), solver, max(bound, 0.0)


@dataclass(frozen=True, eq=False)
class _FlowNet:
    """The flow network of a demand: split nodes (in, out) and two arcs per usable edge."""

    n_nodes: int
    local: np.ndarray  # graph node -> flow node index (in); out is in + n_local
    n_local: int
    tails: np.ndarray
    heads: np.ndarray
    caps: np.ndarray
    arc_edge: np.ndarray  # per edge arc: position in the edge list
    arc_forward: np.ndarray  # per edge arc: True when it runs tail -> head

    @classmethod
    def of(cls, arrays: EdgeArrays, demand: DesignDemand, edges: np.ndarray, shared: np.ndarray) -> _FlowNet:
        """Split nodes and edge arcs; no arc enters the source or leaves the target."""
        k, query = demand.paths, demand.query
        ends = np.concatenate([arrays.tail[edges], arrays.head[edges], [query.source, query.target]])
        nodes = np.unique(ends)
        local = np.full(arrays.n_nodes, -1, dtype=np.int64)
        local[nodes] = np.arange(len(nodes))
        n = len(nodes)
        node_cap = np.full(n, k if demand.diversity is Diversity.EDGE else 1, dtype=np.int64)
        src, tgt = site_node_mask(arrays, demand)
        node_cap[(src | tgt)[nodes]] = k
        u, v = local[arrays.tail[edges]], local[arrays.head[edges]]
        tail = np.concatenate([u + n, v + n])  # out of one end, into the other
        head = np.concatenate([v, u])
        pos = np.concatenate([np.arange(len(edges)), np.arange(len(edges))])
        forward = np.concatenate([np.ones(len(edges), bool), np.zeros(len(edges), bool)])
        s, t = local[query.source], local[query.target]
        keep = (head != s) & (tail != t + n)
        edge_cap = np.where(shared[edges], k, 1)[pos]
        return cls(
            n_nodes=2 * n,
            local=local,
            n_local=n,
            tails=np.concatenate([np.arange(n), tail[keep]]),
            heads=np.concatenate([np.arange(n) + n, head[keep]]),
            caps=np.concatenate([node_cap, edge_cap[keep]]),
            arc_edge=pos[keep],
            arc_forward=forward[keep],
        )

    def solver(
        self, edge_cost_int: np.ndarray, is_open: np.ndarray, k: int, source: int, target: int
    ) -> min_cost_flow.SimpleMinCostFlow:
        """A SimpleMinCostFlow sending k units from the source's in to the target's out
        (edges not open get no capacity)."""
        solver = min_cost_flow.SimpleMinCostFlow()
        costs = np.concatenate([np.zeros(self.n_local, np.int64), edge_cost_int[self.arc_edge]])
        caps = self.caps.copy()
        caps[self.n_local :] *= is_open[self.arc_edge]
        solver.add_arcs_with_capacity_and_unit_cost(
            self.tails.astype(np.int32), self.heads.astype(np.int32), caps, costs
        )
        supply = np.zeros(self.n_nodes, dtype=np.int64)
        supply[self.local[source]] = k
        supply[self.local[target] + self.n_local] = -k
        solver.set_nodes_supplies(np.arange(self.n_nodes, dtype=np.int32), supply)
        return solver


def _decompose(
    arrays: EdgeArrays,
    net: _FlowNet,
    solver: min_cost_flow.SimpleMinCostFlow,
    edges: np.ndarray,
    query: RouteQuery,
) -> tuple[tuple[int, ...], ...]:
    """The flow as simple source-target paths (opposite flows on one edge cancelled, loops cut)."""
    first = net.n_local  # the node splits come first, one per node
    arcs = np.arange(first, len(net.tails), dtype=np.int32)
    flow = np.asarray(solver.flows(arcs), dtype=np.int64)
    net_flow = np.zeros(len(edges), dtype=np.int64)
    np.add.at(net_flow, net.arc_edge, np.where(net.arc_forward, flow, -flow))
    out: dict[int, list[tuple[int, int]]] = defaultdict(list)
    for pos in np.flatnonzero(net_flow).tolist():
        units, e = int(net_flow[pos]), int(edges[pos])
        u, v = int(arrays.tail[e]), int(arrays.head[e])
        if units < 0:
            u, v = v, u
        out[u].extend([(e, v)] * abs(units))
    paths = []
    while out.get(query.source):
        paths.append(_walk(out, query.source, query.target))
    return tuple(paths)


def _walk(out: dict[int, list[tuple[int, int]]], source: int, target: int) -> tuple[int, ...]:
    """One path along unused flow arcs from source to target, consuming them; loops cut out."""
    nodes, edges = [source], []
    where = {source: 0}
    node = source
    while node != target:
        e, nxt = out[node].pop()
        if nxt in where:  # a loop back to a node of the path: drop it
            cut = where[nxt]
            for n in nodes[cut + 1 :]:
                del where[n]
            nodes, edges = nodes[: cut + 1], edges[:cut]
        else:
            nodes.append(nxt)
            edges.append(e)
            where[nxt] = len(nodes) - 1
        node = nxt
    return tuple(edges)
