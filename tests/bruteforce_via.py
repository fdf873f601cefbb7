"""Independent brute-force reference for ``optimizer.via.solve_via_route`` (a must-pass route).

This module deliberately shares no code with the solver (nothing is imported
from ``optimizer``; inputs are duck-typed: any objects with the attributes of
``EdgeArrays`` and ``RouteQuery`` will do, and a stop is any sequence of edge
ids).  It implements the problem definition literally:

* The graph is an undirected multigraph; self-loops are never usable, and only
  edges with ``query.edge_allowed[e]`` True may be used (all when it is None).
* ``stops`` holds K >= 1 non-empty, pairwise disjoint sets of edge ids; a route
  passes stop i by traversing one of its edges.
* A route is a WALK from ``query.source`` to ``query.target`` (nodes and edges
  may repeat) that traverses an edge of every stop: with ``ordered`` there are
  traversals t_1 < t_2 < ... < t_K (positions in the walk) with the edge at t_i
  in stop i; unordered, the stops may be met in any order.
* Its cost = the edge cost of every traversal (an edge traversed twice is paid
  twice) + ``permit_cost[j]`` of each DISTINCT jurisdiction j (ids != -1, any
  level) of the edges used; latency = the latency of every traversal; counted
  jurisdictions = the distinct ones with ``counted[j]`` True.
* Feasible when latency <= max_latency_ms + 1e-6, counted jurisdictions <=
  max_jurisdictions (if not None) and cost <= max_cost*(1+1e-9)+1e-9 (if not
  None).  The answer is a feasible route of least cost; cost ties (relative
  1e-9) go to the lower latency.

Method (exact): take any feasible walk W.  Pick one traversal of a stop edge
per stop -- ordered: greedily the first traversal of a stop-1 edge, then the
first traversal of a stop-2 edge after it, and so on (a valid choice exists
iff the greedy one does); unordered: any one per stop, sorted by position.
These K traversals split W into K+1 pieces, each a walk between fixed nodes
(source -> entry end of the first chosen stop edge, its exit end -> the entry
end of the next one, ..., the last exit end -> target).  Removing the cycles
of a piece leaves a simple path made of a subset of its traversals, so edge
cost and latency do not rise and the jurisdictions entered shrink or stay (so
permits and the counted number do not rise), while the chosen stop traversals
stay, in the same order.  The result is a feasible walk at most as costly and
at most as slow as W.  Hence some optimum, and some walk of least latency
among the cost-tied optima, has the form: for an order of the stops (only the
given order when ordered, every permutation otherwise), one edge per stop
traversed in one of its two directions, and K+1 simple paths as the pieces
(the empty path when a piece joins a node to itself).  :func:`brute_force_via`
enumerates every such combination and evaluates the concatenated walk by the
definition above.

Two optional shortcuts keep it fast and are exact too (``prune=False``
switches both off; the tests check the two agree): per pair of nodes, a simple
path is dropped when another one has edge cost <=, latency <= and a subset of
its jurisdictions (swapping it in never makes a walk costlier, slower or
infeasible), and a partial combination is dropped when a lower bound on every
completion is already over a limit, or costlier than the best walk found so
far by more than any tie.  :func:`brute_force_via_walks` is a third, literal
reference for the tests' self-checks on very small graphs: every walk of up to
(K+1)(n-1)+K edges, the longest the form above needs.  Only meant for tiny
graphs (~8 nodes, ~12 edges, K <= 3).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from itertools import permutations, product
from typing import Any

# Tolerances, copied from the problem definition (not from the solver).
LATENCY_TOLERANCE_MS = 1e-6
COST_REL_TOL = 1e-9
COST_ABS_TOL = 1e-9

# Slack on the pruning comparisons (running float sums vs math.fsum of the final walk): pruning
# is only ever looser than the final, literal feasibility test.
_PRUNE_SLACK = 1e-7


def cost_tie(a: float, b: float) -> bool:
    """True when two costs are equal within the problem's relative tolerance."""
    return abs(a - b) <= COST_REL_TOL * max(abs(a), abs(b)) + COST_ABS_TOL


def latency_ok(latency_ms: float, query: Any) -> bool:
    return latency_ms <= float(query.max_latency_ms) + LATENCY_TOLERANCE_MS


def jurisdictions_ok(count: int, query: Any) -> bool:
    return query.max_jurisdictions is None or count <= int(query.max_jurisdictions)


def cost_ok(cost: float, query: Any) -> bool:
    if query.max_cost is None:
        return True
    return cost <= float(query.max_cost) * (1.0 + COST_REL_TOL) + COST_ABS_TOL


# --------------------------------------------------------------------------
# Walks
# --------------------------------------------------------------------------


@dataclass(frozen=True)
class WalkEval:
    """All quantities of one concrete walk, recomputed from the arrays."""

    edges: tuple[int, ...]
    nodes: tuple[int, ...]
    edge_cost: float  # every traversal paid
    permit_cost: float  # each distinct jurisdiction once
    cost: float
    latency_ms: float
    jurisdictions: tuple[int, ...]  # distinct ids entered, sorted
    count: int  # distinct jurisdictions entered with counted[j] True


def edge_jurisdictions(arrays: Any, e: int) -> frozenset[int]:
    """The jurisdiction ids (any level, != -1) of one edge."""
    return frozenset(int(j) for j in arrays.jurisdiction[e] if int(j) != -1)


def evaluate_walk(arrays: Any, edges: Sequence[int], nodes: Sequence[int]) -> WalkEval:
    """Cost, latency and jurisdictions of a walk, by the definition (repeats paid again)."""
    edges = tuple(int(e) for e in edges)
    nodes = tuple(int(v) for v in nodes)
    edge_cost = math.fsum(float(arrays.cost[e]) for e in edges)
    latency = math.fsum(float(arrays.latency_ms[e]) for e in edges)
    found: set[int] = set()
    for e in edges:
        found |= edge_jurisdictions(arrays, e)
    jurisdictions = tuple(sorted(found))
    permit = math.fsum(float(arrays.permit_cost[j]) for j in jurisdictions)
    return WalkEval(
        edges=edges,
        nodes=nodes,
        edge_cost=edge_cost,
        permit_cost=permit,
        cost=edge_cost + permit,
        latency_ms=latency,
        jurisdictions=jurisdictions,
        count=sum(1 for j in jurisdictions if bool(arrays.counted[j])),
    )


def is_feasible(walk: WalkEval, query: Any) -> bool:
    """The latency, jurisdiction-count and cost limits of the query."""
    return (
        latency_ok(walk.latency_ms, query)
        and jurisdictions_ok(walk.count, query)
        and cost_ok(walk.cost, query)
    )


def allowed_list(arrays: Any, query: Any) -> list[bool]:
    """Whether each edge may be used: allowed by the query and not a self-loop."""
    n_edges = len(arrays.tail)
    if query.edge_allowed is None:
        allowed = [True] * n_edges
    else:
        allowed = [bool(x) for x in query.edge_allowed]
        if len(allowed) != n_edges:
            raise ValueError("edge_allowed has the wrong length")
    return [ok and int(arrays.tail[e]) != int(arrays.head[e]) for e, ok in enumerate(allowed)]


def passes_stops(stops: Sequence[Sequence[int]], edges: Sequence[int], *, ordered: bool) -> bool:
    """Whether a walk's edge sequence traverses an edge of every stop (in the stops' order when
    ordered: the greedy earliest match finds positions t_1 < ... < t_K when any exist)."""
    stop_sets = [{int(e) for e in stop} for stop in stops]
    edges = [int(e) for e in edges]
    if not ordered:
        return all(any(e in stop for e in edges) for stop in stop_sets)
    i = 0
    for e in edges:
        if i < len(stop_sets) and e in stop_sets[i]:
            i += 1
    return i == len(stop_sets)


def walk_problems(
    arrays: Any,
    query: Any,
    stops: Sequence[Sequence[int]],
    edges: Sequence[int],
    nodes: Sequence[int],
    *,
    ordered: bool,
) -> list[str]:
    """Everything wrong with a reported walk (an empty list when it is a route of the query):
    lengths, ends, edges joining consecutive nodes, usable edges, the stops passed.  The limits
    are not checked here."""
    problems: list[str] = []
    edges = [int(e) for e in edges]
    nodes = [int(v) for v in nodes]
    n_edges = len(arrays.tail)
    if len(nodes) != len(edges) + 1:
        return [f"{len(nodes)} nodes for {len(edges)} edges"]
    if nodes[0] != int(query.source):
        problems.append(f"starts at {nodes[0]}, not the source {int(query.source)}")
    if nodes[-1] != int(query.target):
        problems.append(f"ends at {nodes[-1]}, not the target {int(query.target)}")
    usable = allowed_list(arrays, query)
    for i, e in enumerate(edges):
        if not 0 <= e < n_edges:
            problems.append(f"edge index {e} out of range")
            continue
        ends = (int(arrays.tail[e]), int(arrays.head[e]))
        if ends not in ((nodes[i], nodes[i + 1]), (nodes[i + 1], nodes[i])):
            problems.append(f"edge {e} {ends} at position {i} does not join {nodes[i]} and {nodes[i + 1]}")
        if not usable[e]:
            problems.append(f"edge {e} is a self-loop or not allowed")
    if not passes_stops(stops, [e for e in edges if 0 <= e < n_edges], ordered=ordered):
        problems.append(
            f"does not pass the stops {[list(s) for s in stops]} ({'in order' if ordered else 'any order'})"
        )
    return problems


# --------------------------------------------------------------------------
# Simple paths (the legs between stop edges)
# --------------------------------------------------------------------------


@dataclass(frozen=True)
class Leg:
    """One simple path between two nodes (the empty path from a node to itself)."""

    edges: tuple[int, ...]
    nodes: tuple[int, ...]
    edge_cost: float
    latency_ms: float
    jurisdictions: frozenset[int]


def _adjacency(arrays: Any, usable: Sequence[bool]) -> list[list[tuple[int, int]]]:
    adjacency: list[list[tuple[int, int]]] = [[] for _ in range(int(arrays.n_nodes))]
    for e, (u, v) in enumerate(zip(arrays.tail, arrays.head, strict=True)):
        if usable[e]:
            adjacency[int(u)].append((e, int(v)))
            adjacency[int(v)].append((e, int(u)))
    return adjacency


def simple_paths_from(adjacency: list[list[tuple[int, int]]], source: int) -> dict[int, list[tuple]]:
    """Every simple path from source, by end node, as (edges, nodes); source itself gets the
    empty path only."""
    found: dict[int, list[tuple]] = {v: [] for v in range(len(adjacency))}
    on_path = [False] * len(adjacency)
    edges: list[int] = []
    nodes: list[int] = [source]

    def dfs(u: int) -> None:
        found[u].append((tuple(edges), tuple(nodes)))
        on_path[u] = True
        for e, v in adjacency[u]:
            if not on_path[v]:
                edges.append(e)
                nodes.append(v)
                dfs(v)
                edges.pop()
                nodes.pop()
        on_path[u] = False

    dfs(source)
    return found


def _undominated(legs: list[Leg]) -> list[Leg]:
    """Drop each leg another has edge cost <=, latency <= and jurisdictions a subset of.

    Sorted by (cost, latency, number of jurisdictions), a dominator of a leg always comes before
    it, and so does a dominator of that dominator: comparing with the kept legs is enough.
    """
    kept: list[Leg] = []
    for leg in sorted(legs, key=lambda g: (g.edge_cost, g.latency_ms, len(g.jurisdictions), g.edges)):
        if not any(
            k.edge_cost <= leg.edge_cost
            and k.latency_ms <= leg.latency_ms
            and k.jurisdictions <= leg.jurisdictions
            for k in kept
        ):
            kept.append(leg)
    return kept


class _Legs:
    """The simple paths between any two nodes, computed on first use."""

    def __init__(self, arrays: Any, usable: Sequence[bool], prune: bool) -> None:
        self._arrays = arrays
        self._adjacency = _adjacency(arrays, usable)
        self._prune = prune
        self._from: dict[int, dict[int, list[Leg]]] = {}
        self._juris = [edge_jurisdictions(arrays, e) for e in range(len(arrays.tail))]

    def between(self, u: int, v: int) -> list[Leg]:
        if u not in self._from:
            by_end: dict[int, list[Leg]] = {}
            for end, paths in simple_paths_from(self._adjacency, u).items():
                legs = []
                for edges, nodes in paths:
                    held: set[int] = set()
                    for e in edges:
                        held |= self._juris[e]
                    legs.append(
                        Leg(
                            edges=edges,
                            nodes=nodes,
                            edge_cost=math.fsum(float(self._arrays.cost[e]) for e in edges),
                            latency_ms=math.fsum(float(self._arrays.latency_ms[e]) for e in edges),
                            jurisdictions=frozenset(held),
                        )
                    )
                by_end[end] = _undominated(legs) if self._prune else legs
            self._from[u] = by_end
        return self._from[u][v]


# --------------------------------------------------------------------------
# The brute force
# --------------------------------------------------------------------------


@dataclass(frozen=True)
class ViaBrute:
    """The brute-force optimum of a must-pass route, or its absence."""

    best: WalkEval | None  # least cost, then least latency (then fewest edges, lowest ids)
    min_tied_latency_ms: float  # the least latency among the cost-tied optima (nan when none)
    n_walks: int  # complete walks evaluated (after pruning)

    @property
    def feasible(self) -> bool:
        return self.best is not None


def usable_stops(arrays: Any, query: Any, stops: Sequence[Sequence[int]]) -> list[list[int]]:
    """Each stop's edges that may be used (allowed, not self-loops), in the given order."""
    usable = allowed_list(arrays, query)
    return [[int(e) for e in stop if usable[int(e)]] for stop in stops]


def _check_stops(arrays: Any, stops: Sequence[Sequence[int]]) -> None:
    seen: set[int] = set()
    if not stops:
        raise ValueError("at least one stop is needed")
    for stop in stops:
        ids = [int(e) for e in stop]
        if not ids:
            raise ValueError("a stop is empty")
        if any(not 0 <= e < len(arrays.tail) for e in ids):
            raise ValueError("stop edge id out of range")
        if seen & set(ids):
            raise ValueError("stops overlap")
        seen |= set(ids)


class _Best:
    """The feasible walks found that may still tie the least cost."""

    def __init__(self) -> None:
        self.cost = math.inf
        self.walks: list[WalkEval] = []
        self.n_walks = 0

    def bound(self) -> float:
        """Partial costs over this can be neither the optimum nor tie it."""
        return self.cost + _PRUNE_SLACK * (1.0 + abs(self.cost)) if math.isfinite(self.cost) else math.inf

    def offer(self, walk: WalkEval) -> None:
        self.n_walks += 1
        if walk.cost < self.cost:
            self.cost = walk.cost
            self.walks = [w for w in self.walks if cost_tie(w.cost, walk.cost)]
        if cost_tie(walk.cost, self.cost) or walk.cost <= self.bound():
            self.walks.append(walk)

    def result(self) -> ViaBrute:
        tied = [w for w in self.walks if cost_tie(w.cost, self.cost)]
        if not tied:
            return ViaBrute(best=None, min_tied_latency_ms=math.nan, n_walks=self.n_walks)
        best = min(tied, key=lambda w: (w.latency_ms, w.cost, len(w.edges), w.edges))
        return ViaBrute(best=best, min_tied_latency_ms=best.latency_ms, n_walks=self.n_walks)


@dataclass(frozen=True)
class _Limits:
    """The query's limits with the pruning slack, for the bounds on partial walks."""

    latency_ms: float
    cost: float
    jurisdictions: float

    @classmethod
    def of(cls, query: Any) -> _Limits:
        return cls(
            latency_ms=float(query.max_latency_ms) + LATENCY_TOLERANCE_MS + _PRUNE_SLACK,
            cost=(
                math.inf
                if query.max_cost is None
                else float(query.max_cost) * (1.0 + COST_REL_TOL) + COST_ABS_TOL + _PRUNE_SLACK
            ),
            jurisdictions=math.inf if query.max_jurisdictions is None else int(query.max_jurisdictions),
        )


def _walk_of(source: int, crossings: Sequence[tuple[int, int, int]], chosen: Sequence[Leg]):
    """The walk: leg 0, stop edge 0, leg 1, ..., stop edge K-1, leg K."""
    edges: list[int] = []
    nodes: list[int] = [source]
    for i, leg in enumerate(chosen):
        edges += leg.edges
        nodes += leg.nodes[1:]
        if i < len(crossings):
            e, _, exit_ = crossings[i]
            edges.append(e)
            nodes.append(exit_)
    return edges, nodes


def _search_legs(
    arrays: Any,
    query: Any,
    crossings: Sequence[tuple[int, int, int]],
    options: Sequence[Sequence[Leg]],
    best: _Best,
    prune: bool,
) -> None:
    """Every combination of one leg per piece around the fixed stop crossings (e, entry, exit)."""
    juris = [edge_jurisdictions(arrays, e) for e, _, _ in crossings]
    permit = [float(p) for p in arrays.permit_cost]
    counted = [bool(c) for c in arrays.counted]
    limits = _Limits.of(query)
    n_legs = len(options)
    # Least edge cost and latency of the legs still to choose (for the bounds).
    rest_cost = [0.0] * (n_legs + 1)
    rest_latency = [0.0] * (n_legs + 1)
    for i in range(n_legs - 1, -1, -1):
        rest_cost[i] = rest_cost[i + 1] + min(g.edge_cost for g in options[i])
        rest_latency[i] = rest_latency[i + 1] + min(g.latency_ms for g in options[i])
    source = int(query.source)

    def extend(i: int, chosen: list[Leg], edge_cost: float, latency: float, held: frozenset[int]) -> None:
        if prune:
            if latency + rest_latency[i] > limits.latency_ms:
                return
            if sum(1 for j in held if counted[j]) > limits.jurisdictions:
                return
            low = edge_cost + rest_cost[i] + sum(permit[j] for j in held)
            if low > limits.cost or low > best.bound():
                return
        if i == n_legs:
            walk = evaluate_walk(arrays, *_walk_of(source, crossings, chosen))
            if is_feasible(walk, query):
                best.offer(walk)
            return
        for leg in options[i]:
            chosen.append(leg)
            extend(
                i + 1, chosen, edge_cost + leg.edge_cost, latency + leg.latency_ms, held | leg.jurisdictions
            )
            chosen.pop()

    extend(
        0,
        [],
        math.fsum(float(arrays.cost[e]) for e, _, _ in crossings),
        math.fsum(float(arrays.latency_ms[e]) for e, _, _ in crossings),
        frozenset().union(*juris),
    )


def brute_force_via(
    arrays: Any, query: Any, stops: Sequence[Sequence[int]], *, ordered: bool = True, prune: bool = True
) -> ViaBrute:
    """The optimal must-pass walk by enumeration of the form in the module docstring.

    prune=False: no dominance between legs and no bounds, the plain product of every choice.
    """
    _check_stops(arrays, stops)
    source, target = int(query.source), int(query.target)
    legs = _Legs(arrays, allowed_list(arrays, query), prune)
    stop_edges = usable_stops(arrays, query, stops)
    best = _Best()
    k = len(stops)
    orders = [tuple(range(k))] if ordered else list(permutations(range(k)))
    for order in orders:
        for choice in product(*(stop_edges[s] for s in order)):
            for flips in product((False, True), repeat=k):
                # The chosen stop edges, each with the end it is entered by and the end it leaves by.
                crossings = []
                for e, flip in zip(choice, flips, strict=True):
                    u, v = int(arrays.tail[e]), int(arrays.head[e])
                    crossings.append((e, v, u) if flip else (e, u, v))
                points = [source]
                for _, entry, exit_ in crossings:
                    points += [entry, exit_]
                points.append(target)
                options = [legs.between(points[2 * i], points[2 * i + 1]) for i in range(k + 1)]
                if all(options):
                    _search_legs(arrays, query, crossings, options, best, prune)
    return best.result()


def brute_force_via_walks(
    arrays: Any,
    query: Any,
    stops: Sequence[Sequence[int]],
    *,
    ordered: bool = True,
    max_edges: int | None = None,
) -> ViaBrute:
    """The literal reference: every source->target walk of at most max_edges edges (default
    (K+1)(n-1)+K) over usable edges that passes the stops, evaluated.  Walks are cut only when
    already over the latency bound or costlier than the best found by more than a tie (both
    only grow along a walk).  For very small graphs."""
    _check_stops(arrays, stops)
    k, n = len(stops), int(arrays.n_nodes)
    if max_edges is None:
        max_edges = (k + 1) * (n - 1) + k
    usable = allowed_list(arrays, query)
    adjacency = _adjacency(arrays, usable)
    max_latency = float(query.max_latency_ms) + LATENCY_TOLERANCE_MS + _PRUNE_SLACK
    best = _Best()
    target = int(query.target)
    edges: list[int] = []
    nodes: list[int] = [int(query.source)]

    def walks(u: int, latency: float, edge_cost: float) -> None:
        if latency > max_latency or edge_cost > best.bound():
            return
        if u == target and passes_stops(stops, edges, ordered=ordered):
            walk = evaluate_walk(arrays, edges, nodes)
            if is_feasible(walk, query):
                best.offer(walk)
        if len(edges) == max_edges:
            return
        for e, v in adjacency[u]:
            edges.append(e)
            nodes.append(v)
            walks(v, latency + float(arrays.latency_ms[e]), edge_cost + float(arrays.cost[e]))
            edges.pop()
            nodes.pop()

    walks(int(query.source), 0.0, 0.0)
    return best.result()
