"""Independent brute-force reference for ``optimizer.design.solve_design`` and
``optimizer.frontier.cost_latency_frontier``.

This module deliberately shares no code with the solver (nothing is imported
from ``optimizer``; inputs are duck-typed: any objects with the attributes of
``EdgeArrays``, ``RouteQuery`` and ``DesignDemand`` will do).  It implements
the problem definition literally:

* A route of a demand is a simple path (no node repeated; self-loops never
  usable) from ``query.source`` to ``query.target`` over edges with
  ``query.edge_allowed[e]`` True (every edge when it is None).  Route cost =
  its edge costs + the permit of every DISTINCT jurisdiction entered (ids !=
  -1, any level); route latency = sum of its edge latencies.
* A demand wants ``paths`` = k routes such that
  1. each route's latency <= max_latency_ms + 1e-6;
  2. each route crosses at most max_jurisdictions distinct counted
     jurisdictions (if max_jurisdictions is not None);
  3. any two routes are diverse: EDGE = no common edge; NODE = no common edge
     and no common node other than source and target; SRLG = as NODE and no
     shared-risk group held by an edge of one route and an edge of the other;
     except at the sites: the source site's nodes are {source} and
     ``demand.source_nodes`` (a junction the site lies on), the target's
     {target} and ``demand.target_nodes`` (both () when absent).  Every route
     may pass any of these nodes, and may use a "site edge" (both ends in the
     same site's nodes: both in the source's or both in the target's) without
     breaking 3: site edges and site nodes never count as common, nor do the
     groups of site edges.  An edge from the source's nodes to the target's is
     an ordinary edge;
  4. for two different routes p != q and every conflict pair (e, f), p does
     not use e while q uses f, nor p f while q e;
  5. the demand's own cost (distinct edges of its k routes + permits of the
     distinct jurisdictions any of them enters) <= max_cost*(1+1e-9)+1e-9.
* Several demands are designed together: each feasible demand gets its own k
  routes; the objective is the UNION cost (distinct edges over all routes of
  all demands + permits of the distinct jurisdictions they enter).  Ties in
  cost (relative 1e-9) go to the lowest total latency (sum over every route).
  A demand with no feasible set of k routes is infeasible and left out.
* Frontier of one demand: over every set of k routes meeting 2-5 (NOT the
  latency bound 1), the Pareto-optimal (cost of the set, latency of its
  slowest route) points.

Method: every simple path is enumerated by DFS; k-sets of pairwise-compatible
routes (3 and 4) are enumerated as k-cliques of the compatibility graph (the
same sets a plain loop over all k-subsets would keep, just without visiting
subsets that already hold an incompatible pair).  Designs over several
demands are either the plain product of the demands' feasible sets
(:func:`brute_force_design_product`) or an exact dynamic programme over the
union of used edges (:func:`brute_force_design`): the objective depends only
on that union (cost) and on the additive total latency, so keeping, for each
union edge set, the lowest total latency loses nothing.  The tests check the
two agree.  Only meant for tiny graphs (~8 nodes, ~12 edges).
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from itertools import product
from typing import Any

# Tolerances, copied from the problem definition (not from the solver).
LATENCY_TOLERANCE_MS = 1e-6
COST_REL_TOL = 1e-9
COST_ABS_TOL = 1e-9

EDGE, NODE, SRLG = "edge", "node", "srlg"


def diversity_name(diversity: Any) -> str:
    """'edge', 'node' or 'srlg' from an enum member (by its value) or a string."""
    name = str(getattr(diversity, "value", diversity)).lower()
    if name not in (EDGE, NODE, SRLG):
        raise ValueError(f"unknown diversity {diversity!r}")
    return name


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
    max_cost = float(query.max_cost)
    return cost <= max_cost * (1.0 + COST_REL_TOL) + COST_ABS_TOL


# --------------------------------------------------------------------------
# Routes
# --------------------------------------------------------------------------


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
    interior: frozenset[int]  # nodes other than the two ends
    groups: frozenset[int]  # shared-risk groups held by its edges
    edge_groups: tuple[frozenset[int], ...] = ()  # the groups of each edge, in route order


def iter_simple_paths(
    n_nodes: int,
    tail: Sequence[int],
    head: Sequence[int],
    source: int,
    target: int,
    allowed: Sequence[bool] | None = None,
) -> Iterator[tuple[tuple[int, ...], tuple[int, ...]]]:
    """Yield (edges, nodes) for every simple source->target path.

    Parallel edges give distinct paths; self-loops and edges with allowed[e]
    False are skipped.  Nothing when source == target.
    """
    adjacency: list[list[tuple[int, int]]] = [[] for _ in range(n_nodes)]
    for e, (u, v) in enumerate(zip(tail, head, strict=True)):
        if (allowed is not None and not allowed[e]) or u == v:
            continue
        adjacency[u].append((e, v))
        adjacency[v].append((e, u))
    if source == target:
        return
    visited = [False] * n_nodes
    edges: list[int] = []
    nodes: list[int] = [source]

    def dfs(u: int) -> Iterator[tuple[tuple[int, ...], tuple[int, ...]]]:
        if u == target:
            yield tuple(edges), tuple(nodes)
            return
        visited[u] = True
        for e, v in adjacency[u]:
            if not visited[v]:
                edges.append(e)
                nodes.append(v)
                yield from dfs(v)
                edges.pop()
                nodes.pop()
        visited[u] = False

    yield from dfs(source)


def edge_groups(arrays: Any) -> list[frozenset[int]]:
    """The shared-risk groups of every edge."""
    groups: list[set[int]] = [set() for _ in range(len(arrays.tail))]
    srlg_edge = getattr(arrays, "srlg_edge", ())
    srlg_group = getattr(arrays, "srlg_group", ())
    for e, g in zip(srlg_edge, srlg_group, strict=True):
        groups[int(e)].add(int(g))
    return [frozenset(g) for g in groups]


def edges_jurisdictions(arrays: Any, edges: Any) -> tuple[int, ...]:
    """Distinct jurisdiction ids (any level, != -1) of a collection of edges, sorted."""
    found: set[int] = set()
    for e in edges:
        for j in arrays.jurisdiction[e]:
            if int(j) != -1:
                found.add(int(j))
    return tuple(sorted(found))


def union_cost(arrays: Any, edges: Any) -> float:
    """Cost of the DISTINCT edges given (duplicates paid once) + their distinct permits."""
    distinct = sorted({int(e) for e in edges})
    edge_cost = math.fsum(float(arrays.cost[e]) for e in distinct)
    permit = math.fsum(float(arrays.permit_cost[j]) for j in edges_jurisdictions(arrays, distinct))
    return edge_cost + permit


def evaluate_route(
    arrays: Any, edges: Sequence[int], nodes: Sequence[int], groups: list[frozenset[int]] | None = None
) -> RouteEval:
    """Recompute cost, latency, jurisdictions, interior nodes and groups of a route."""
    if groups is None:
        groups = edge_groups(arrays)
    edges = tuple(int(e) for e in edges)
    nodes = tuple(int(v) for v in nodes)
    edge_cost = math.fsum(float(arrays.cost[e]) for e in edges)
    latency = math.fsum(float(arrays.latency_ms[e]) for e in edges)
    jurisdictions = edges_jurisdictions(arrays, edges)
    permit = math.fsum(float(arrays.permit_cost[j]) for j in jurisdictions)
    held: set[int] = set()
    for e in edges:
        held |= groups[e]
    return RouteEval(
        edges=edges,
        nodes=nodes,
        edge_cost=edge_cost,
        permit_cost=permit,
        cost=edge_cost + permit,
        latency_ms=latency,
        jurisdictions=jurisdictions,
        count=sum(1 for j in jurisdictions if bool(arrays.counted[j])),
        interior=frozenset(nodes[1:-1]),
        groups=frozenset(held),
        edge_groups=tuple(groups[e] for e in edges),
    )


def allowed_list(arrays: Any, query: Any) -> list[bool] | None:
    if query.edge_allowed is None:
        return None
    allowed = [bool(x) for x in query.edge_allowed]
    if len(allowed) != len(arrays.tail):
        raise ValueError("edge_allowed has the wrong length")
    return allowed


def all_allowed_routes(arrays: Any, query: Any) -> list[RouteEval]:
    """Every simple source->target path over allowed edges, evaluated."""
    groups = edge_groups(arrays)
    return [
        evaluate_route(arrays, edges, nodes, groups)
        for edges, nodes in iter_simple_paths(
            int(arrays.n_nodes),
            [int(x) for x in arrays.tail],
            [int(x) for x in arrays.head],
            int(query.source),
            int(query.target),
            allowed_list(arrays, query),
        )
    ]


def route_limits_ok(route: RouteEval, query: Any, *, latency: bool = True) -> bool:
    """Limits 1 (latency, unless latency=False) and 2 (counted jurisdictions) of one route."""
    return (not latency or latency_ok(route.latency_ms, query)) and jurisdictions_ok(route.count, query)


# --------------------------------------------------------------------------
# Diversity and minimum separation between two routes of one demand
# --------------------------------------------------------------------------


@dataclass(frozen=True)
class Sites:
    """What every route of one demand may share: its sites' nodes and the edges within a site."""

    nodes: frozenset[int] = frozenset()
    edges: frozenset[int] = frozenset()


NO_SITES = Sites()


def demand_sites(arrays: Any, demand: Any) -> Sites:
    """The source's and target's nodes (getattr: inputs without the fields have none extra) and
    the site edges: both ends among the source's nodes, or both among the target's."""
    query = demand.query
    source = {int(query.source), *(int(v) for v in getattr(demand, "source_nodes", ()))}
    target = {int(query.target), *(int(v) for v in getattr(demand, "target_nodes", ()))}
    edges = {
        e
        for e, (u, v) in enumerate(zip(arrays.tail, arrays.head, strict=True))
        if {int(u), int(v)} <= source or {int(u), int(v)} <= target
    }
    return Sites(nodes=frozenset(source | target), edges=frozenset(edges))


def ordinary_groups(route: RouteEval, sites: Sites) -> frozenset[int]:
    """The shared-risk groups held by the route's edges other than site edges."""
    held: set[int] = set()
    for e, groups in zip(route.edges, route.edge_groups, strict=True):
        if e not in sites.edges:
            held |= groups
    return frozenset(held)


def conflict_pairs(demand: Any) -> list[tuple[int, int]]:
    conflicts = getattr(demand, "conflicts", None)
    if conflicts is None:
        return []
    return [(int(e), int(f)) for e, f in conflicts]


def compatible(
    p: RouteEval,
    q: RouteEval,
    diversity: Any,
    conflicts: Sequence[tuple[int, int]],
    sites: Sites = NO_SITES,
) -> bool:
    """Whether two different routes of one demand meet 3 (diversity, sites excepted) and 4
    (conflicts)."""
    kind = diversity_name(diversity)
    p_edges, q_edges = set(p.edges), set(q.edges)
    if (p_edges & q_edges) - sites.edges:
        return False
    if kind in (NODE, SRLG) and (p.interior & q.interior) - sites.nodes:
        return False
    if kind == SRLG and ordinary_groups(p, sites) & ordinary_groups(q, sites):
        return False
    # Minimum separation, pair by pair, both ways round.
    return not any((e in p_edges and f in q_edges) or (f in p_edges and e in q_edges) for e, f in conflicts)


def diverse_sets(
    routes: Sequence[RouteEval],
    k: int,
    diversity: Any,
    conflicts: Sequence[tuple[int, int]],
    sites: Sites = NO_SITES,
) -> Iterator[tuple[int, ...]]:
    """Every set of k distinct routes (indices, ascending) that are pairwise compatible.

    k-cliques of the compatibility graph, i.e. exactly the k-subsets in which
    every pair meets 3 and 4.
    """
    n = len(routes)
    if k <= 0:
        yield ()
        return
    neighbours = [
        {j for j in range(n) if j != i and compatible(routes[i], routes[j], diversity, conflicts, sites)}
        for i in range(n)
    ]

    def extend(chosen: list[int], candidates: list[int]) -> Iterator[tuple[int, ...]]:
        if len(chosen) == k:
            yield tuple(chosen)
            return
        for pos, j in enumerate(candidates):
            rest = [c for c in candidates[pos + 1 :] if c in neighbours[j]]
            if len(chosen) + 1 + len(rest) >= k:
                yield from extend([*chosen, j], rest)

    yield from extend([], list(range(n)))


# --------------------------------------------------------------------------
# One demand
# --------------------------------------------------------------------------


@dataclass(frozen=True)
class RouteSet:
    """k routes of one demand meeting 3 and 4, with their joint quantities."""

    routes: tuple[RouteEval, ...]  # fastest first
    edges: frozenset[int]  # union of their edges
    cost: float  # the demand's own cost (limit 5): distinct edges + distinct permits
    latency_total_ms: float  # sum over the k routes
    latency_max_ms: float  # the slowest route


@dataclass(frozen=True)
class DemandAnalysis:
    """Everything the brute force learned about one demand on its own."""

    k: int
    diversity: str
    n_allowed_paths: int
    n_diverse_sets: int  # k-sets meeting 3 and 4 (allowed edges, no other limit)
    feasible_sets: tuple[RouteSet, ...]  # meeting 1-5
    frontier_sets: tuple[RouteSet, ...]  # meeting 2-5 (latency bound ignored)
    best_alone: RouteSet | None  # min own cost over feasible_sets, ties by total latency
    # Largest m in 0..k such that m routes meeting 3 and 4 exist (allowed edges only).
    max_diverse: int
    # When max_diverse >= k: min over k-sets meeting 3 and 4 of the slowest route's latency.
    min_max_latency_ms: float | None
    # Limits that alone rule out every k-set meeting 3 and 4.
    latency_alone_infeasible: bool
    jurisdictions_alone_infeasible: bool
    cost_alone_infeasible: bool

    @property
    def feasible(self) -> bool:
        return bool(self.feasible_sets)


def _pick_best(sets: Sequence[RouteSet]) -> RouteSet | None:
    """Min own cost; ties (relative 1e-9) by lower total latency."""
    if not sets:
        return None
    c_min = min(s.cost for s in sets)
    tied = [s for s in sets if cost_tie(s.cost, c_min)]
    return min(tied, key=lambda s: (s.latency_total_ms, s.cost, sorted(s.edges)))


def analyze_demand(arrays: Any, demand: Any) -> DemandAnalysis:
    """Enumerate every route and every k-set of one demand."""
    query = demand.query
    k = int(demand.paths)
    if k < 1:
        raise ValueError("paths must be >= 1")
    diversity = diversity_name(demand.diversity)
    conflicts = conflict_pairs(demand)
    sites = demand_sites(arrays, demand)
    routes = all_allowed_routes(arrays, query)

    all_sets: list[RouteSet] = []
    for idx in diverse_sets(routes, k, diversity, conflicts, sites):
        chosen = sorted((routes[i] for i in idx), key=lambda r: (r.latency_ms, r.edges))
        edges = frozenset(e for r in chosen for e in r.edges)
        all_sets.append(
            RouteSet(
                routes=tuple(chosen),
                edges=edges,
                cost=union_cost(arrays, edges),
                latency_total_ms=math.fsum(r.latency_ms for r in chosen),
                latency_max_ms=max(r.latency_ms for r in chosen),
            )
        )

    def meets(s: RouteSet, *, latency: bool = True) -> bool:
        return all(route_limits_ok(r, query, latency=latency) for r in s.routes) and cost_ok(s.cost, query)

    feasible = tuple(s for s in all_sets if meets(s))
    frontier = tuple(s for s in all_sets if meets(s, latency=False))

    if all_sets:
        max_diverse = k
    else:
        max_diverse = 0
        for m in range(k - 1, 0, -1):
            if next(diverse_sets(routes, m, diversity, conflicts, sites), None) is not None:
                max_diverse = m
                break
    min_max = min((s.latency_max_ms for s in all_sets), default=None)
    return DemandAnalysis(
        k=k,
        diversity=diversity,
        n_allowed_paths=len(routes),
        n_diverse_sets=len(all_sets),
        feasible_sets=feasible,
        frontier_sets=frontier,
        best_alone=_pick_best(feasible),
        max_diverse=max_diverse,
        min_max_latency_ms=min_max,
        latency_alone_infeasible=bool(all_sets)
        and not any(all(latency_ok(r.latency_ms, query) for r in s.routes) for s in all_sets),
        jurisdictions_alone_infeasible=bool(all_sets)
        and not any(all(jurisdictions_ok(r.count, query) for r in s.routes) for s in all_sets),
        cost_alone_infeasible=bool(all_sets) and not any(cost_ok(s.cost, query) for s in all_sets),
    )


# --------------------------------------------------------------------------
# Several demands built together
# --------------------------------------------------------------------------


@dataclass(frozen=True)
class DesignBrute:
    """The brute-force optimum of a shared design."""

    demands: tuple[DemandAnalysis, ...]
    cost: float  # optimal union cost (0.0 when no demand is feasible)
    latency_total_ms: float  # lowest total latency among cost-optimal designs
    choice: tuple[RouteSet | None, ...]  # one optimal design (None for infeasible demands)
    independent_sum: float  # sum over feasible demands of each one's optimum alone
    n_states: int  # designs (product) or distinct union edge sets (programme) at the end

    @property
    def feasible(self) -> tuple[bool, ...]:
        return tuple(a.feasible for a in self.demands)


def _select(candidates: Sequence[tuple[float, float, Any]]) -> tuple[float, float, Any]:
    """(cost, latency, payload) with the minimum cost, ties (relative 1e-9) by latency."""
    c_min = min(c for c, _, _ in candidates)
    tied = [t for t in candidates if cost_tie(t[0], c_min)]
    return min(tied, key=lambda t: (t[1], t[0]))


def _finish(analyses: tuple[DemandAnalysis, ...], cost: float, latency: float, choice: dict) -> DesignBrute:
    return DesignBrute(
        demands=analyses,
        cost=cost,
        latency_total_ms=latency,
        choice=tuple(choice.get(d) for d in range(len(analyses))),
        independent_sum=math.fsum(a.best_alone.cost for a in analyses if a.best_alone is not None),
        n_states=0,
    )


def brute_force_design(arrays: Any, demands: Sequence[Any]) -> DesignBrute:
    """Optimal shared design by a dynamic programme over the union of used edges."""
    analyses = tuple(analyze_demand(arrays, d) for d in demands)
    # state: union edge set -> (lowest total latency, the sets chosen so far {demand: RouteSet})
    states: dict[frozenset[int], tuple[float, dict[int, RouteSet]]] = {frozenset(): (0.0, {})}
    for d, analysis in enumerate(analyses):
        if not analysis.feasible:
            continue
        options: dict[frozenset[int], RouteSet] = {}
        for s in analysis.feasible_sets:
            if s.edges not in options or s.latency_total_ms < options[s.edges].latency_total_ms:
                options[s.edges] = s
        new_states: dict[frozenset[int], tuple[float, dict[int, RouteSet]]] = {}
        for used, (latency, choice) in states.items():
            for edges, s in options.items():
                key = used | edges
                total = latency + s.latency_total_ms
                if key not in new_states or total < new_states[key][0]:
                    new_states[key] = (total, {**choice, d: s})
        states = new_states
    cost, latency, choice = _select([(union_cost(arrays, k), lat, ch) for k, (lat, ch) in states.items()])
    result = _finish(analyses, cost, latency, choice)
    return DesignBrute(**{**result.__dict__, "n_states": len(states)})


def brute_force_design_product(arrays: Any, demands: Sequence[Any]) -> DesignBrute:
    """Optimal shared design by the plain product of every demand's feasible sets (slow)."""
    analyses = tuple(analyze_demand(arrays, d) for d in demands)
    feasible = [d for d, a in enumerate(analyses) if a.feasible]
    candidates = []
    for combo in product(*(analyses[d].feasible_sets for d in feasible)):
        edges = [e for s in combo for r in s.routes for e in r.edges]
        latency = math.fsum(r.latency_ms for s in combo for r in s.routes)
        candidates.append((union_cost(arrays, edges), latency, dict(zip(feasible, combo, strict=True))))
    cost, latency, choice = _select(candidates)
    result = _finish(analyses, cost, latency, choice)
    return DesignBrute(**{**result.__dict__, "n_states": len(candidates)})


# --------------------------------------------------------------------------
# Frontier of one demand
# --------------------------------------------------------------------------


@dataclass(frozen=True)
class FrontierBrutePoint:
    cost: float
    latency_ms: float  # slowest route of the set
    example: RouteSet  # one set at this point


def pareto_points(sets: Sequence[RouteSet]) -> list[FrontierBrutePoint]:
    """Pareto-optimal (cost, slowest latency) points, fastest first (cost then descends).

    A set is dominated by another with cost <= (a cost tie counts as equal)
    and latency <, or with cost < (not a tie) and latency <=.  Latencies
    within 1e-6 ms count as equal.
    """
    ordered = sorted(sets, key=lambda s: (s.latency_max_ms, s.cost))
    # Group equal latencies (each group starts at its fastest set).
    groups: list[list[RouteSet]] = []
    for s in ordered:
        if groups and s.latency_max_ms - groups[-1][0].latency_max_ms <= LATENCY_TOLERANCE_MS:
            groups[-1].append(s)
        else:
            groups.append([s])
    points: list[FrontierBrutePoint] = []
    cheapest_faster = math.inf  # cheapest set of every faster group
    for group in groups:
        cheapest = min(group, key=lambda s: s.cost)
        # The fastest group always gives a point (and cost_tie(x, inf) is True).
        if not points or (cheapest.cost < cheapest_faster and not cost_tie(cheapest.cost, cheapest_faster)):
            points.append(FrontierBrutePoint(cheapest.cost, group[0].latency_max_ms, cheapest))
        cheapest_faster = min(cheapest_faster, cheapest.cost)
    return points


def pareto_points_naive(sets: Sequence[RouteSet]) -> list[tuple[float, float]]:
    """Same points by the definition, pairwise (quadratic; for cross-checks)."""

    def lat_lt(a: float, b: float) -> bool:
        return a < b - LATENCY_TOLERANCE_MS

    def cost_lt(a: float, b: float) -> bool:
        return a < b and not cost_tie(a, b)

    kept: list[tuple[float, float]] = []
    for s in sets:
        dominated = any(
            (not cost_lt(s.cost, q.cost) and lat_lt(q.latency_max_ms, s.latency_max_ms))
            or (cost_lt(q.cost, s.cost) and not lat_lt(s.latency_max_ms, q.latency_max_ms))
            for q in sets
        )
        if not dominated and not any(
            cost_tie(c, s.cost) and abs(lat - s.latency_max_ms) <= LATENCY_TOLERANCE_MS for c, lat in kept
        ):
            kept.append((s.cost, s.latency_max_ms))
    return sorted(kept, key=lambda p: (p[1], -p[0]))


def brute_force_frontier(arrays: Any, demand: Any) -> list[FrontierBrutePoint]:
    """The demand's cost-latency frontier, fastest point first."""
    return pareto_points(analyze_demand(arrays, demand).frontier_sets)
