"""Must-pass stops: the cheapest route through given segments, as one exact search over a layered graph.

A stop is a set of edges (a via site's laterals, the segments at a via point); a route passes it
by running one of them.  The graph is copied once per state of the stops passed so far (the
stops in the given order: K + 1 layers; in any order: one layer per subset, 2^K), and each edge
of a stop that the state may pass next leads from its layer to the next.  Every walk of the
network through the stops is one path of the layered graph from (a, none passed) to (b, all
passed), and back: so the label engine's optimum there is the optimum walk.  An edge the walk
runs twice (into a via site along one lateral and back out) is paid and timed twice, as two
cables in that trench are; a permit is paid once, however often the route enters its
jurisdiction, since the layers share the jurisdiction ids.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace

import numpy as np

from optimizer.problem import EdgeArrays, RouteQuery, RouteResult, SolverOptions

__all__ = [
    "MAX_LAYERED_EDGES",
    "MAX_STOPS_ANY_ORDER",
    "MAX_STOPS_GIVEN_ORDER",
    "Layered",
    "layered",
    "layered_edges",
    "solve_via_route",
]

MAX_STOPS_GIVEN_ORDER = 8
"""Most stops a route may be asked to pass in the given order (K + 1 copies of the graph)."""
MAX_STOPS_ANY_ORDER = 4
"""Most stops a route may be asked to pass in any order (2^K copies of the graph)."""
MAX_LAYERED_EDGES = 6_000_000
"""Most edges the layered graph of one demand may hold (about 0.5 GB with its search arrays)."""


@dataclass(frozen=True, eq=False)
class Layered:
    """A layered copy of a graph for one route through stops, and the way back to the original."""

    arrays: EdgeArrays
    query: RouteQuery
    edge_of: np.ndarray
    """Per layered edge, the original edge it copies."""
    n_nodes: int
    """Nodes of the original graph (a layered node is layer * n_nodes + node)."""

    def original(self, result: RouteResult) -> RouteResult:
        """The result with its edges and nodes in the original graph's ids (edges may repeat)."""
        return replace(
            result,
            edges=tuple(int(self.edge_of[e]) for e in result.edges),
            nodes=tuple(int(n) % self.n_nodes for n in result.nodes),
        )


def layered_edges(n_edges: int, n_stops: int, *, ordered: bool) -> int:
    """An upper bound on the layered graph's edges, to refuse a demand before building it."""
    layers = n_stops + 1 if ordered else 1 << n_stops
    return layers * n_edges * 2


def layered(
    arrays: EdgeArrays, query: RouteQuery, stops: Sequence[np.ndarray], *, ordered: bool = True
) -> Layered:
    """The layered graph whose paths from the query's source to its target are the walks of
    arrays through every stop (in the given order when ordered), over the allowed edges only."""
    _check_stops(arrays, stops, ordered)
    n, k = arrays.n_nodes, len(stops)
    usable = arrays.tail != arrays.head
    if query.edge_allowed is not None:
        usable &= query.edge_allowed
    base = np.flatnonzero(usable)
    stop_of = np.full(arrays.n_edges, -1, dtype=np.int64)
    for i, stop in enumerate(stops):
        stop_of[np.asarray(stop, dtype=np.int64)] = i
    stop_of = stop_of[base]
    tail, head = arrays.tail[base].astype(np.int64), arrays.head[base].astype(np.int64)
    n_layers = k + 1 if ordered else 1 << k
    parts: list[tuple[np.ndarray, np.ndarray, np.ndarray]] = []
    for layer in range(n_layers):
        if ordered:
            passes = stop_of == layer
            following = np.full(len(base), layer + 1, dtype=np.int64)
        else:
            passes = (stop_of >= 0) & (((layer >> np.maximum(stop_of, 0)) & 1) == 0)
            following = layer | (1 << np.maximum(stop_of, 0))
        stay = ~passes
        here, there = layer * n, following[passes] * n
        parts.append((tail[stay] + here, head[stay] + here, base[stay]))
        parts.append((tail[passes] + here, head[passes] + there, base[passes]))
        parts.append((head[passes] + here, tail[passes] + there, base[passes]))
    new_tail = np.concatenate([p[0] for p in parts])
    new_head = np.concatenate([p[1] for p in parts])
    edge_of = np.concatenate([p[2] for p in parts])
    copied = EdgeArrays(
        n_nodes=n * n_layers,
        tail=new_tail,
        head=new_head,
        cost=arrays.cost[edge_of],
        latency_ms=arrays.latency_ms[edge_of],
        jurisdiction=arrays.jurisdiction[edge_of],
        permit_cost=arrays.permit_cost,
        counted=arrays.counted,
        resources=None if arrays.resources is None else arrays.resources[edge_of],
        resource_names=arrays.resource_names,
    )
    last = k if ordered else n_layers - 1
    layered_query = replace(query, target=query.target + last * n, edge_allowed=None)
    return Layered(copied, layered_query, edge_of, n)


def _check_stops(arrays: EdgeArrays, stops: Sequence[np.ndarray], ordered: bool) -> None:
    """Stops are non-empty, disjoint sets of the graph's edges, within the limits
    (programming errors: the boundary names the demand and field first)."""
    most = MAX_STOPS_GIVEN_ORDER if ordered else MAX_STOPS_ANY_ORDER
    if arrays.directed:
        raise ValueError("via routes need an undirected graph")
    if not 1 <= len(stops) <= most:
        raise ValueError(f"stops must number 1 to {most} {'in order' if ordered else 'in any order'}")
    seen = np.zeros(arrays.n_edges, dtype=bool)
    for i, stop in enumerate(stops):
        idx = np.asarray(stop, dtype=np.int64)
        if not len(idx) or idx.min() < 0 or idx.max() >= arrays.n_edges:
            raise ValueError(f"stops[{i}] must be a non-empty array of edge ids")
        if seen[idx].any():
            raise ValueError(f"stops[{i}] shares an edge with an earlier stop")
        seen[idx] = True


def solve_via_route(
    arrays: EdgeArrays,
    query: RouteQuery,
    stops: Sequence[np.ndarray],
    *,
    ordered: bool = True,
    options: SolverOptions | None = None,
) -> RouteResult:
    """The cheapest walk from the query's source to its target that runs an edge of every stop
    (in the given order when ordered) within the query's bounds, proven optimal or with its gap."""
    from optimizer.solve import solve_route  # the solver imports the model; keep this module light

    graph = layered(arrays, query, stops, ordered=ordered)
    return graph.original(solve_route(graph.arrays, graph.query, options=options))
