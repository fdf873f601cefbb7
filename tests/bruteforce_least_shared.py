"""Independent brute-force reference for the least-shared fallback of a diverse demand
(``DesignDemand.fallback_least_shared``), one demand at a time.

Nothing is imported from ``optimizer``; inputs are duck-typed (any objects with the
attributes of ``EdgeArrays``, ``RouteQuery`` and ``DesignDemand``).  Routes, their
quantities, the sites of a demand (site nodes, site edges), the strict diversity rules and
the limits come from tests/bruteforce_design.py (itself independent of the solver), whose
rules 1-5 are referred to below.

Definition implemented literally:

* If a STRICT set exists (k = ``demand.paths`` distinct routes meeting rules 1-5 of
  tests/bruteforce_design.py: latency, max_jurisdictions, diversity with the sites
  excepted, conflict pairs, max_cost on the set's union), the answer is the strict optimum:
  min own cost (distinct edges + distinct permits), ties (relative 1e-9) by lowest total
  latency.  The fallback flag changes nothing then.
* Otherwise, without the flag the demand is INFEASIBLE.  With
  ``fallback_least_shared=True`` the answer is chosen among every k-MULTISET of routes
  (simple allowed source->target paths; two positions of the multiset may hold the same
  route) such that
  1. each route's latency <= max_latency_ms + 1e-6;
  2. each route crosses at most max_jurisdictions distinct counted jurisdictions;
  4. for two different POSITIONS p != q and every conflict pair (e, f), p does not use e
     while q uses f, nor f while q uses e (so one route taken twice breaks a pair whose
     two edges it both uses);
  5. the union cost (distinct edges + permits of the distinct jurisdictions of the set)
     <= max_cost * (1 + 1e-9) + 1e-9;
  and diversity (rule 3) is relaxed into a measure minimized lexicographically:
  a. shared latency = sum over ordinary edges e (not site edges) of
     latency_ms[e] * max(0, uses_e - 1), uses_e = how many routes of the multiset use e;
  b. NODE and SRLG only: shared junctions = sum over nodes v that are not site nodes of
     max(0, visits_v - 1), visits_v = how many routes pass v;
  c. SRLG only: shared groups = sum over shared-risk groups g of max(0, n_g - 1),
     n_g = how many routes have an ordinary (non-site) edge in g;
  d. the union cost (ties relative 1e-9), then
  e. the total latency (sum over the k routes).
  For EDGE diversity b and c are 0; for NODE c is 0.  Shared latencies within 1e-6 ms are
  ties.  No multiset meeting 1, 2, 4 and 5: INFEASIBLE.

Method: every simple path is enumerated (bruteforce_design.all_allowed_routes); multisets
are the non-decreasing index tuples, by a DFS that skips routes failing 1, 2 or the cost
limit alone and extensions breaking 4 or 5 (both only get worse as routes are added), or
by the plain itertools.combinations_with_replacement filter (:func:`fallback_sets_naive`,
for cross-checks).  Only meant for tiny graphs (~8 nodes, ~12 edges).
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from itertools import combinations, combinations_with_replacement
from typing import Any

from . import bruteforce_design as bf

SHARED_LATENCY_TOL_MS = 1e-6
"""Shared latencies closer than this are ties (the latency tolerance of the problem)."""

STRICT, FALLBACK, INFEASIBLE = "strict", "fallback", "infeasible"


@dataclass(frozen=True)
class Context:
    """What the rules of one demand need, read once."""

    arrays: Any
    query: Any
    k: int
    kind: str  # "edge", "node" or "srlg"
    sites: bf.Sites
    conflicts: tuple[tuple[int, int], ...]


def context(arrays: Any, demand: Any) -> Context:
    k = int(demand.paths)
    if k < 1:
        raise ValueError("paths must be >= 1")
    return Context(
        arrays=arrays,
        query=demand.query,
        k=k,
        kind=bf.diversity_name(demand.diversity),
        sites=bf.demand_sites(arrays, demand),
        conflicts=tuple(bf.conflict_pairs(demand)),
    )


@dataclass(frozen=True)
class Measure:
    """The fallback's measure of a multiset, in the order it is minimized."""

    shared_latency_ms: float
    shared_junctions: int
    shared_groups: int
    cost: float
    latency_total_ms: float


def measure(ctx: Context, routes: Sequence[bf.RouteEval]) -> Measure:
    """The measure of k routes (a multiset: the same route may appear twice), literally."""
    uses = Counter(e for r in routes for e in set(r.edges) if e not in ctx.sites.edges)
    shared_latency = math.fsum(
        float(ctx.arrays.latency_ms[e]) * (n - 1) for e, n in sorted(uses.items()) if n > 1
    )
    junctions = 0
    if ctx.kind in (bf.NODE, bf.SRLG):
        visits = Counter(v for r in routes for v in set(r.nodes) if v not in ctx.sites.nodes)
        junctions = sum(n - 1 for n in visits.values() if n > 1)
    groups = 0
    if ctx.kind == bf.SRLG:
        held = Counter(g for r in routes for g in bf.ordinary_groups(r, ctx.sites))
        groups = sum(n - 1 for n in held.values() if n > 1)
    return Measure(
        shared_latency_ms=shared_latency,
        shared_junctions=junctions,
        shared_groups=groups,
        cost=bf.union_cost(ctx.arrays, [e for r in routes for e in r.edges]),
        latency_total_ms=math.fsum(r.latency_ms for r in routes),
    )


def separated(ctx: Context, p: bf.RouteEval, q: bf.RouteEval) -> bool:
    """Rule 4 between two positions holding routes p and q (p may be q itself)."""
    p_edges, q_edges = set(p.edges), set(q.edges)
    return not any(
        (e in p_edges and f in q_edges) or (f in p_edges and e in q_edges) for e, f in ctx.conflicts
    )


def route_ok(ctx: Context, route: bf.RouteEval) -> bool:
    """Rules 1 and 2 of one route."""
    return bf.route_limits_ok(route, ctx.query)


def multiset_ok(ctx: Context, routes: Sequence[bf.RouteEval]) -> bool:
    """Rules 1, 2, 4 (every pair of positions) and 5 of a multiset, literally."""
    return (
        all(route_ok(ctx, r) for r in routes)
        and all(separated(ctx, routes[p], routes[q]) for p, q in combinations(range(len(routes)), 2))
        and bf.cost_ok(bf.union_cost(ctx.arrays, [e for r in routes for e in r.edges]), ctx.query)
    )


def fallback_sets_naive(ctx: Context, routes: Sequence[bf.RouteEval]) -> Iterator[tuple[int, ...]]:
    """Every k-multiset (non-decreasing indices) meeting 1, 2, 4 and 5: the plain filter."""
    for combo in combinations_with_replacement(range(len(routes)), ctx.k):
        if multiset_ok(ctx, [routes[i] for i in combo]):
            yield combo


def fallback_sets(ctx: Context, routes: Sequence[bf.RouteEval]) -> Iterator[tuple[int, ...]]:
    """The same multisets as :func:`fallback_sets_naive`, by a pruned DFS (same order)."""
    candidates = [i for i, r in enumerate(routes) if route_ok(ctx, r) and bf.cost_ok(r.cost, ctx.query)]
    ok = {
        (i, j): separated(ctx, routes[i], routes[j]) for a, i in enumerate(candidates) for j in candidates[a:]
    }

    def extend(chosen: list[int], start: int, edges: frozenset[int]) -> Iterator[tuple[int, ...]]:
        if len(chosen) == ctx.k:
            yield tuple(chosen)
            return
        for pos in range(start, len(candidates)):
            j = candidates[pos]
            if not all(ok[(i, j)] for i in chosen):
                continue
            grown = edges | set(routes[j].edges)
            if bf.cost_ok(bf.union_cost(ctx.arrays, grown), ctx.query):
                yield from extend([*chosen, j], pos, grown)

    yield from extend([], 0, frozenset())


@dataclass(frozen=True)
class Choice:
    """The lexicographic minimum of some multisets."""

    measure: Measure  # the chosen multiset's own measure
    routes: tuple[bf.RouteEval, ...]  # the chosen multiset, fastest first
    n_tied: int  # multisets tied with it on a-d (the chosen one has the least latency of them)


def _fastest_first(routes: Sequence[bf.RouteEval]) -> tuple[bf.RouteEval, ...]:
    return tuple(sorted(routes, key=lambda r: (r.latency_ms, r.edges)))


def pick_least_shared(ctx: Context, multisets: Sequence[Sequence[bf.RouteEval]]) -> Choice | None:
    """Lexicographic minimum of a-e; None when there is nothing to choose from."""
    scored = [(measure(ctx, rs), _fastest_first(rs)) for rs in multisets]
    if not scored:
        return None
    s_min = min(m.shared_latency_ms for m, _ in scored)
    scored = [t for t in scored if t[0].shared_latency_ms <= s_min + SHARED_LATENCY_TOL_MS]
    j_min = min(m.shared_junctions for m, _ in scored)
    scored = [t for t in scored if t[0].shared_junctions == j_min]
    g_min = min(m.shared_groups for m, _ in scored)
    scored = [t for t in scored if t[0].shared_groups == g_min]
    c_min = min(m.cost for m, _ in scored)
    scored = [t for t in scored if bf.cost_tie(t[0].cost, c_min)]
    best = min(scored, key=lambda t: (t[0].latency_total_ms, t[0].cost, [r.edges for r in t[1]]))
    return Choice(measure=best[0], routes=best[1], n_tied=len(scored))


@dataclass(frozen=True)
class LeastShared:
    """The brute-force answer for one demand."""

    mode: str  # STRICT (a strict set exists), FALLBACK (chosen by the measure) or INFEASIBLE
    choice: Choice | None  # None when INFEASIBLE
    strict: bf.DemandAnalysis
    n_routes: int  # allowed simple paths
    n_candidates: int  # routes meeting 1, 2 and the cost limit alone
    n_multisets: int  # multisets meeting 1, 2, 4, 5 (0 when not enumerated: STRICT or no flag)

    @property
    def feasible(self) -> bool:
        return self.choice is not None

    @property
    def measure(self) -> Measure | None:
        return None if self.choice is None else self.choice.measure


def least_shared(
    arrays: Any, demand: Any, *, fallback: bool | None = None, naive: bool = False
) -> LeastShared:
    """The answer for one demand; fallback None reads demand.fallback_least_shared (False
    when the demand has no such attribute).  naive: enumerate by the plain filter."""
    if fallback is None:
        fallback = bool(getattr(demand, "fallback_least_shared", False))
    ctx = context(arrays, demand)
    strict = bf.analyze_demand(arrays, demand)
    routes = bf.all_allowed_routes(arrays, demand.query)
    n_candidates = sum(1 for r in routes if route_ok(ctx, r) and bf.cost_ok(r.cost, ctx.query))
    if strict.feasible:
        best = strict.best_alone
        choice = Choice(measure=measure(ctx, best.routes), routes=_fastest_first(best.routes), n_tied=1)
        return LeastShared(STRICT, choice, strict, len(routes), n_candidates, 0)
    if not fallback:
        return LeastShared(INFEASIBLE, None, strict, len(routes), n_candidates, 0)
    enumerate_sets = fallback_sets_naive if naive else fallback_sets
    multisets = [[routes[i] for i in combo] for combo in enumerate_sets(ctx, routes)]
    choice = pick_least_shared(ctx, multisets)
    return LeastShared(
        FALLBACK if choice is not None else INFEASIBLE,
        choice,
        strict,
        len(routes),
        n_candidates,
        len(multisets),
    )
