"""Randomized differential tests: ``optimizer.design.solve_design`` and
``optimizer.frontier.cost_latency_frontier`` vs brute force.

The reference (tests/bruteforce_design.py) enumerates every simple path of tiny
graphs, every set of k mutually diverse routes and every combination over the
demands; it shares no code with the solver.  Random cases come from hypothesis
strategies with ``derandomize=True`` (same examples on every run, no example
database), in regimes:

* "diverse" (one per diversity kind): one demand, k=2 (sometimes 3), random
  shared-risk groups (some spanning several edges), permits on some cases,
  latency bounds from loose to infeasible;
* "separation": k=2 with random conflict pairs (minimum separation);
* "limits": diverse demands under max_jurisdictions and max_cost;
* "infeasible": only demands with no feasible set of k routes, to check the
  reason (too few diverse routes, or the latency needed);
* "shared" / "sharing": 2-3 demands (k=1, sometimes one at k=2) built
  together; "sharing" only keeps cases where the shared optimum is cheaper
  than the sum of the demands' optima on their own;
* "frontier" for k=1 and k=2.

Some cases of every regime put a site on a junction (``source_nodes`` /
``target_nodes``): the demand's end becomes a new site node joined to the old
end node (now a junction of several edges) by zero-cost, zero-latency site
edges, as the graph attaches a site lying on a junction: one, two in parallel
(one per corridor meeting there) or a chain through a cut node, and maybe an
ordinary lateral to another node.

Plus hand-written cases.  Inputs stay inside the solver's preconditions
(source != target, max_latency_ms >= 0.01).

The solver modules are imported lazily, so the brute-force self-checks at the
end run even while they do not exist yet.  On a failure hypothesis shrinks the
case and prints it as ``DesignCase(...)`` and as a standalone reproducer
script (``Reproducer:`` note).
"""

from __future__ import annotations

import math
import re
import sys
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from itertools import pairwise
from typing import Any

import numpy as np
import pytest
from hypothesis import HealthCheck, Phase, assume, given, note, settings
from hypothesis import strategies as st

from optimizer.problem import (
    DesignDemand,
    DesignResult,
    Diversity,
    EdgeArrays,
    FrontierResult,
    RouteQuery,
    RouteResult,
    RouteStatus,
    SolverOptions,
)

from . import bruteforce_design as bf

OPTIONS = SolverOptions(time_limit_s=10, num_workers=1)

REL_TOL = 1e-9
ABS_TOL = 1e-9
LATENCY_ABS_TOL = 1e-6


def _close(a: float, b: float) -> bool:
    return math.isclose(float(a), float(b), rel_tol=REL_TOL, abs_tol=ABS_TOL)


def _solve_design(arrays: EdgeArrays, demands: list[DesignDemand]) -> DesignResult:
    from optimizer.design import solve_design

    return solve_design(arrays, demands, options=OPTIONS)


def _frontier(arrays: EdgeArrays, demand: DesignDemand) -> FrontierResult:
    from optimizer.frontier import cost_latency_frontier

    return cost_latency_frontier(arrays, demand, options=OPTIONS)


# --------------------------------------------------------------------------
# Case representation
# --------------------------------------------------------------------------


@dataclass(frozen=True)
class DemandSpec:
    """One demand in plain Python values."""

    source: int
    target: int
    max_latency_ms: float
    paths: int = 1
    diversity: str = "srlg"
    max_jurisdictions: int | None = None
    max_cost: float | None = None
    edge_allowed: tuple[bool, ...] | None = None
    conflicts: tuple[tuple[int, int], ...] | None = None
    source_nodes: tuple[int, ...] = ()
    target_nodes: tuple[int, ...] = ()

    def build(self, n_edges: int) -> DesignDemand:
        query = RouteQuery(
            source=self.source,
            target=self.target,
            max_latency_ms=self.max_latency_ms,
            max_jurisdictions=self.max_jurisdictions,
            max_cost=self.max_cost,
            edge_allowed=(
                None
                if self.edge_allowed is None
                else np.array(self.edge_allowed, dtype=bool).reshape(n_edges)
            ),
        )
        conflicts = (
            None
            if self.conflicts is None
            else np.array(self.conflicts, dtype=np.int64).reshape(len(self.conflicts), 2)
        )
        return DesignDemand(
            query=query,
            paths=self.paths,
            diversity=Diversity(self.diversity),
            conflicts=conflicts,
            source_nodes=self.source_nodes,
            target_nodes=self.target_nodes,
        )

    def to_code(self) -> str:
        allowed = (
            "None" if self.edge_allowed is None else f"np.array({list(self.edge_allowed)!r}, dtype=bool)"
        )
        conflicts = (
            "None"
            if self.conflicts is None
            else f"np.array({[list(p) for p in self.conflicts]!r}, dtype=np.int64).reshape(-1, 2)"
        )
        return (
            f"DesignDemand(query=RouteQuery(source={self.source}, target={self.target},"
            f" max_latency_ms={self.max_latency_ms!r}, max_jurisdictions={self.max_jurisdictions!r},"
            f" max_cost={self.max_cost!r}, edge_allowed={allowed}),"
            f" paths={self.paths}, diversity=Diversity.{self.diversity.upper()}, conflicts={conflicts},"
            f" source_nodes={self.source_nodes!r}, target_nodes={self.target_nodes!r})"
        )


@dataclass(frozen=True)
class DesignCase:
    """A problem instance in plain Python values (readable when printed)."""

    n_nodes: int
    tail: tuple[int, ...]
    head: tuple[int, ...]
    cost: tuple[float, ...]
    latency_ms: tuple[float, ...]
    n_levels: int
    jurisdiction: tuple[tuple[int, ...], ...]  # E rows of n_levels ids
    permit_cost: tuple[float, ...]
    counted: tuple[bool, ...]
    srlg: tuple[tuple[int, int], ...]  # (edge, group) pairs
    demands: tuple[DemandSpec, ...]

    @property
    def n_edges(self) -> int:
        return len(self.tail)

    def arrays(self) -> EdgeArrays:
        n_edges = self.n_edges
        return EdgeArrays(
            n_nodes=self.n_nodes,
            tail=np.array(self.tail, dtype=np.int64).reshape(n_edges),
            head=np.array(self.head, dtype=np.int64).reshape(n_edges),
            cost=np.array(self.cost, dtype=np.float64).reshape(n_edges),
            latency_ms=np.array(self.latency_ms, dtype=np.float64).reshape(n_edges),
            jurisdiction=np.array(self.jurisdiction, dtype=np.int64).reshape(n_edges, self.n_levels),
            permit_cost=np.array(self.permit_cost, dtype=np.float64).reshape(len(self.permit_cost)),
            counted=np.array(self.counted, dtype=bool).reshape(len(self.counted)),
            srlg_edge=np.array([e for e, _ in self.srlg], dtype=np.int64).reshape(len(self.srlg)),
            srlg_group=np.array([g for _, g in self.srlg], dtype=np.int64).reshape(len(self.srlg)),
        )

    def design_demands(self) -> list[DesignDemand]:
        return [spec.build(self.n_edges) for spec in self.demands]

    def to_code(self, call: str = "design") -> str:
        n_edges = self.n_edges
        if call == "design":
            imports = "from optimizer.design import solve_design"
            run = "print(solve_design(arrays, demands, options=options))"
        else:
            imports = "from optimizer.frontier import cost_latency_frontier"
            run = "print(cost_latency_frontier(arrays, demands[0], options=options))"
        return "\n".join(
            [
                "import numpy as np",
                "from optimizer.problem import (",
                "    DesignDemand, Diversity, EdgeArrays, RouteQuery, SolverOptions,",
                ")",
                imports,
                "arrays = EdgeArrays(",
                f"    n_nodes={self.n_nodes},",
                f"    tail=np.array({list(self.tail)!r}, dtype=np.int64),",
                f"    head=np.array({list(self.head)!r}, dtype=np.int64),",
                f"    cost=np.array({list(self.cost)!r}, dtype=np.float64),",
                f"    latency_ms=np.array({list(self.latency_ms)!r}, dtype=np.float64),",
                f"    jurisdiction=np.array({[list(r) for r in self.jurisdiction]!r},"
                f" dtype=np.int64).reshape({n_edges}, {self.n_levels}),",
                f"    permit_cost=np.array({list(self.permit_cost)!r}, dtype=np.float64),",
                f"    counted=np.array({list(self.counted)!r}, dtype=bool),",
                f"    srlg_edge=np.array({[e for e, _ in self.srlg]!r}, dtype=np.int64),",
                f"    srlg_group=np.array({[g for _, g in self.srlg]!r}, dtype=np.int64),",
                ")",
                "demands = [",
                *(f"    {spec.to_code()}," for spec in self.demands),
                "]",
                "options = SolverOptions(time_limit_s=10, num_workers=1)",
                run,
            ]
        )


def make_case(
    n_nodes: int,
    edges: list[tuple[int, int, float, float, list[int]]],
    demands: list[DemandSpec],
    *,
    n_levels: int = 1,
    permit_cost: list[float] | None = None,
    counted: list[bool] | None = None,
    srlg: Sequence[tuple[int, int]] = (),
) -> DesignCase:
    """Hand-written cases: edges are (u, v, cost, latency, [ids per level])."""
    permit_cost = permit_cost or []
    return DesignCase(
        n_nodes=n_nodes,
        tail=tuple(e[0] for e in edges),
        head=tuple(e[1] for e in edges),
        cost=tuple(float(e[2]) for e in edges),
        latency_ms=tuple(float(e[3]) for e in edges),
        n_levels=n_levels,
        jurisdiction=tuple(tuple(list(e[4]) + [-1] * (n_levels - len(e[4]))) for e in edges),
        permit_cost=tuple(float(p) for p in permit_cost),
        counted=tuple(counted) if counted is not None else tuple(True for _ in permit_cost),
        srlg=tuple(srlg),
        demands=tuple(demands),
    )


# --------------------------------------------------------------------------
# The differential checks
# --------------------------------------------------------------------------


def _check_route(case: DesignCase, spec: DemandSpec, route: RouteResult, label: str) -> bf.RouteEval:
    """A reported route is a simple allowed source->target path and its fields are right."""
    assert route.status in (RouteStatus.OPTIMAL, RouteStatus.FEASIBLE), f"{label}: status {route.status}"
    edges = tuple(int(e) for e in route.edges)
    nodes = tuple(int(v) for v in route.nodes)
    assert len(edges) >= 1, f"{label}: no edges"
    assert len(nodes) == len(edges) + 1, (label, edges, nodes)
    assert nodes[0] == spec.source and nodes[-1] == spec.target, (label, nodes)
    assert len(set(nodes)) == len(nodes), f"{label}: route repeats a node: {nodes}"
    for i, e in enumerate(edges):
        assert 0 <= e < case.n_edges, f"{label}: bad edge index {e}"
        ends = (case.tail[e], case.head[e])
        assert ends in ((nodes[i], nodes[i + 1]), (nodes[i + 1], nodes[i])), (
            f"{label}: edge {e} {ends} does not join nodes {nodes[i]} and {nodes[i + 1]}"
        )
        if spec.edge_allowed is not None:
            assert spec.edge_allowed[e], f"{label}: route uses forbidden edge {e}"
    ev = bf.evaluate_route(case.arrays(), edges, nodes)
    for name in ("cost", "edge_cost", "permit_cost", "latency_ms"):
        assert _close(getattr(route, name), getattr(ev, name)), (label, name, getattr(route, name), ev)
    assert tuple(int(j) for j in route.jurisdictions) == ev.jurisdictions, (
        label,
        route.jurisdictions,
        ev.jurisdictions,
    )
    return ev


def _check_route_set(
    case: DesignCase, spec: DemandSpec, routes: tuple[RouteResult, ...], label: str, *, latency_bound: bool
) -> list[bf.RouteEval]:
    """k valid routes meeting limits 2-5 (and 1 when latency_bound)."""
    demand = spec.build(case.n_edges)
    assert len(routes) == spec.paths, f"{label}: {len(routes)} routes, want {spec.paths}"
    evs = [_check_route(case, spec, r, f"{label} route {i}") for i, r in enumerate(routes)]
    for i, ev in enumerate(evs):
        if latency_bound:
            assert bf.latency_ok(ev.latency_ms, demand.query), (
                f"{label} route {i}: latency {ev.latency_ms} over {spec.max_latency_ms}"
            )
        assert bf.jurisdictions_ok(ev.count, demand.query), (
            f"{label} route {i}: {ev.count} counted jurisdictions > {spec.max_jurisdictions}"
        )
    conflicts = bf.conflict_pairs(demand)
    sites = bf.demand_sites(case.arrays(), demand)
    for i in range(len(evs)):
        for j in range(i + 1, len(evs)):
            assert bf.compatible(evs[i], evs[j], spec.diversity, conflicts, sites), (
                f"{label}: routes {i} {evs[i].edges} and {j} {evs[j].edges} are not "
                f"{spec.diversity}-diverse or break a conflict {spec.conflicts}"
            )
    own = bf.union_cost(case.arrays(), [e for ev in evs for e in ev.edges])
    assert bf.cost_ok(own, demand.query), f"{label}: own cost {own} over max_cost {spec.max_cost}"
    return evs


def _check_infeasible_reason(spec: DemandSpec, analysis: bf.DemandAnalysis, reason: str, label: str) -> None:
    assert isinstance(reason, str) and reason.strip(), f"{label}: empty reason"
    if spec.paths < 2:
        return
    if 1 <= analysis.max_diverse < spec.paths:
        text = f"only {analysis.max_diverse} "
        assert text in reason, f"{label}: reason {reason!r} lacks {text!r}"
    elif (
        analysis.max_diverse >= spec.paths
        and analysis.min_max_latency_ms is not None
        and analysis.min_max_latency_ms > spec.max_latency_ms + bf.LATENCY_TOLERANCE_MS
    ):
        match = re.search(r"need (\d+\.\d+) ms", reason)
        assert match, f"{label}: reason {reason!r} does not say 'need <x.yy> ms'"
        shown = match.group(1)
        half_unit = 0.5 * 10.0 ** -len(shown.split(".")[1])
        assert abs(float(shown) - analysis.min_max_latency_ms) <= half_unit + 1e-9, (
            f"{label}: reason says need {shown} ms, brute force {analysis.min_max_latency_ms} ms"
        )


def _describe(brute: bf.DesignBrute) -> str:
    lines = [f"brute force: cost={brute.cost} latency_total={brute.latency_total_ms}"]
    for d, (a, s) in enumerate(zip(brute.demands, brute.choice, strict=True)):
        routes = None if s is None else [(r.edges, r.latency_ms) for r in s.routes]
        lines.append(
            f"  demand {d}: feasible={a.feasible} max_diverse={a.max_diverse} "
            f"min_max_latency={a.min_max_latency_ms} "
            f"alone={None if a.best_alone is None else a.best_alone.cost}"
            f" chosen={routes}"
        )
    return "\n".join(lines)


def check_design_case(
    case: DesignCase, log: Callable[[str], None] | None = None
) -> tuple[bf.DesignBrute, DesignResult]:
    """Solve ``case`` and assert everything the brute force can verify."""
    arrays = case.arrays()
    demands = case.design_demands()
    brute = bf.brute_force_design(arrays, demands)
    if log is not None:
        log(f"Reproducer:\n{case.to_code('design')}")
        log(_describe(brute))
    result = _solve_design(arrays, demands)
    if log is not None:
        log(f"solver: {result}")

    n = len(case.demands)
    assert len(result.routes) == n and len(result.demand_status) == n and len(result.demand_reason) == n
    all_edges: list[int] = []
    for d, (spec, analysis) in enumerate(zip(case.demands, brute.demands, strict=True)):
        label = f"demand {d}"
        status, reason, routes = result.demand_status[d], result.demand_reason[d], tuple(result.routes[d])
        if not analysis.feasible:
            assert status is RouteStatus.INFEASIBLE, (
                f"{label}: brute force finds no feasible set of {spec.paths} routes but solver says "
                f"{status}: {reason!r}"
            )
            assert routes == (), f"{label}: infeasible demand has routes"
            _check_infeasible_reason(spec, analysis, reason, label)
            continue
        assert status is RouteStatus.OPTIMAL, (
            f"{label}: brute force has a feasible set (alone: cost {analysis.best_alone.cost}) "
            f"but solver says {status}: {reason!r}"
        )
        evs = _check_route_set(case, spec, routes, label, latency_bound=True)
        lats = [r.latency_ms for r in routes]
        assert all(a <= b + 1e-9 for a, b in pairwise(lats)), f"{label}: routes not fastest first: {lats}"
        all_edges.extend(e for ev in evs for e in ev.edges)

    any_feasible = any(brute.feasible)
    if any_feasible:
        assert result.status is RouteStatus.OPTIMAL, (result.status, result.demand_status)
    else:
        # Not pinned down by the interface: with nothing to build, OPTIMAL (empty design)
        # or INFEASIBLE are both accepted, and the cost may be 0 or NaN.
        assert result.status in (RouteStatus.OPTIMAL, RouteStatus.INFEASIBLE), result.status
        assert math.isnan(result.cost) or _close(result.cost, 0.0), result.cost
        return brute, result

    union = bf.union_cost(arrays, all_edges)
    assert _close(result.cost, union), f"reported cost {result.cost} != union of its routes {union}"
    assert _close(result.cost, brute.cost), (
        f"solver union cost {result.cost} != brute-force optimum {brute.cost}"
    )
    assert abs(result.latency_total_ms - brute.latency_total_ms) <= LATENCY_ABS_TOL, (
        f"cost tie not broken by latency: solver total {result.latency_total_ms} ms, "
        f"brute force {brute.latency_total_ms} ms"
    )
    assert result.bound <= result.cost + 1e-6, (result.bound, result.cost)
    assert abs(result.gap) <= 1e-9, result.gap
    return brute, result


def check_frontier_case(
    case: DesignCase, log: Callable[[str], None] | None = None
) -> tuple[list[bf.FrontierBrutePoint], FrontierResult]:
    """Compute the frontier of the case's single demand and compare point by point."""
    assert len(case.demands) == 1
    spec = case.demands[0]
    arrays = case.arrays()
    demand = spec.build(case.n_edges)
    expected = bf.brute_force_frontier(arrays, demand)
    want = [(p.cost, p.latency_ms) for p in expected]
    if log is not None:
        log(f"Reproducer:\n{case.to_code('frontier')}")
        log(f"brute force frontier (cost, latency): {want}")
    result = _frontier(arrays, demand)
    if log is not None:
        log(f"solver: {result}")
    got = [(p.cost, p.latency_ms) for p in result.points]
    assert result.complete is True, f"frontier not complete: {result.reason!r}"
    assert len(got) == len(want), f"frontier has {len(got)} points {got}, brute force {len(want)}: {want}"
    for i, ((gc, gl), (wc, wl)) in enumerate(zip(got, want, strict=True)):
        assert _close(gc, wc) and abs(gl - wl) <= LATENCY_ABS_TOL, (
            f"point {i}: solver (cost {gc}, {gl} ms), brute force (cost {wc}, {wl} ms); all {got} vs {want}"
        )
    for (c0, l0), (c1, l1) in pairwise(got):
        assert l0 < l1 and c0 > c1, f"points not fastest first with cost descending: {got}"
    for i, point in enumerate(result.points):
        label = f"frontier point {i}"
        evs = _check_route_set(case, spec, tuple(point.routes), label, latency_bound=False)
        union = bf.union_cost(arrays, [e for ev in evs for e in ev.edges])
        assert _close(point.cost, union), f"{label}: cost {point.cost} != its routes' {union}"
        slowest = max(ev.latency_ms for ev in evs)
        assert abs(point.latency_ms - slowest) <= LATENCY_ABS_TOL, (
            f"{label}: latency {point.latency_ms} != slowest route {slowest}"
        )
    return expected, result


# --------------------------------------------------------------------------
# Random instances
# --------------------------------------------------------------------------


def _value(draw, mode: str, max_int: int, max_hundredths: int) -> float:
    if mode == "mixed":
        mode = draw(st.sampled_from(["int", "float"]))
    if mode == "int":  # small integers: many ties
        return float(draw(st.integers(0, max_int)))
    return draw(st.integers(0, max_hundredths)) / 100.0  # 2 decimals


def _chance(draw, tenths: int) -> bool:
    """True about tenths times in ten (hypothesis leans to small draws: those say False)."""
    return draw(st.integers(0, 9)) >= 10 - tenths


@st.composite
def graphs(
    draw,
    *,
    nodes: tuple[int, int] = (4, 7),
    max_edges: int = 11,
    permits: int = 5,
    srlg: bool = True,
    spanning_groups: int = 0,
    tradeoff: bool = False,
) -> DesignCase:
    """A random tiny multigraph (spanning tree + extra edges) without demands.

    permits: chance in tenths of having jurisdictions; spanning_groups: at least
    that many shared-risk groups of 2-3 edges; tradeoff: fast edges cost more
    (rich frontiers).
    """
    n = draw(st.integers(*nodes))
    n_edges = draw(st.integers(n, max(n, max_edges)))
    tail: list[int] = []
    head: list[int] = []
    for v in range(1, n):
        u = draw(st.integers(0, v - 1))
        tail.append(u if draw(st.booleans()) else v)
        head.append(v if tail[-1] == u else u)
    while len(tail) < n_edges:
        kind = draw(st.integers(0, 19))
        if kind == 0:  # self-loop
            u = v = draw(st.integers(0, n - 1))
        elif kind <= 3:  # parallel to an existing edge, maybe reversed
            i = draw(st.integers(0, len(tail) - 1))
            u, v = (tail[i], head[i]) if draw(st.booleans()) else (head[i], tail[i])
        else:
            u = draw(st.integers(0, n - 1))
            v = draw(st.sampled_from([w for w in range(n) if w != u]))
        tail.append(u)
        head.append(v)

    if tradeoff:
        lat_int = draw(st.booleans())
        latency = [
            float(draw(st.integers(1, 9))) if lat_int else draw(st.integers(10, 900)) / 100.0
            for _ in range(n_edges)
        ]
        cost = [round(max(0.0, 10.0 - lat), 2) + draw(st.integers(0, 3)) for lat in latency]
    else:
        cost_mode = draw(st.sampled_from(["int", "float", "mixed"]))
        lat_mode = draw(st.sampled_from(["int", "int", "float", "mixed"]))
        cost = [_value(draw, cost_mode, 5, 800) for _ in range(n_edges)]
        latency = [_value(draw, lat_mode, 5, 1000) for _ in range(n_edges)]

    if _chance(draw, permits):
        n_levels = draw(st.integers(1, 2))
        n_juris = draw(st.integers(1, 5))
        none_in_10 = draw(st.sampled_from([3, 5, 7]))
        jurisdiction = [
            tuple(
                -1 if draw(st.integers(0, 9)) < none_in_10 else draw(st.integers(0, n_juris - 1))
                for _ in range(n_levels)
            )
            for _ in range(n_edges)
        ]
        permit_mode = draw(st.sampled_from(["big", "big", "int", "float", "zero"]))
        permit_cost = [
            0.0
            if permit_mode == "zero"
            else float(draw(st.integers(0, 10)))
            if permit_mode == "big"
            else _value(draw, permit_mode, 3, 500)
            for _ in range(n_juris)
        ]
        counted = [draw(st.integers(0, 3)) > 0 for _ in range(n_juris)]
    else:
        n_levels, jurisdiction, permit_cost, counted = 0, [() for _ in range(n_edges)], [], []

    pairs: set[tuple[int, int]] = set()
    if srlg:
        for i in range(draw(st.integers(spanning_groups, 4))):
            group = draw(st.integers(0, 15))  # ids need not be contiguous
            size = draw(st.integers(2 if i < spanning_groups else 1, min(3, n_edges)))
            members = draw(st.lists(st.integers(0, n_edges - 1), min_size=size, max_size=size, unique=True))
            pairs.update((e, group) for e in members)
    return DesignCase(
        n_nodes=n,
        tail=tuple(tail),
        head=tuple(head),
        cost=tuple(cost),
        latency_ms=tuple(latency),
        n_levels=n_levels,
        jurisdiction=tuple(jurisdiction),
        permit_cost=tuple(permit_cost),
        counted=tuple(counted),
        srlg=tuple(sorted(pairs)),
        demands=(),
    )


LOOSE = 1e9  # a latency bound that cuts nothing, for the generators' own analysis


def _analysis(case: DesignCase, spec: DemandSpec) -> bf.DemandAnalysis:
    return bf.analyze_demand(case.arrays(), spec.build(case.n_edges))


def _latency_bound(draw, case: DesignCase, spec: DemandSpec, rules: list[str]) -> float:
    """A latency bound relative to the slowest-route latencies of the demand's sets."""
    analysis = _analysis(case, replace(spec, max_latency_ms=LOOSE))
    lats = sorted({round(s.latency_max_ms, 2) for s in analysis.frontier_sets})
    if not lats and analysis.min_max_latency_ms is not None:
        lats = [round(analysis.min_max_latency_ms, 2)]
    rule = draw(st.sampled_from(rules))
    if rule == "tight" and lats and lats[0] > 0.01:
        return max(0.01, round(lats[0] - draw(st.integers(1, 300)) / 100.0, 2))
    if rule == "exact" and lats and lats[-1] > 0:
        return draw(st.sampled_from([x for x in lats if x > 0]))
    if rule == "between" and lats:
        lo, hi = round(lats[0] * 100), round(lats[-1] * 100)
        return draw(st.integers(max(1, lo), max(1, hi))) / 100.0
    if rule in ("loose", "between", "exact"):
        return round(sum(case.latency_ms) + 10.0, 2)
    return draw(st.integers(1, 3000)) / 100.0


def _endpoints(draw, n: int) -> tuple[int, int]:
    source = draw(st.integers(0, n - 1))
    return source, draw(st.sampled_from([v for v in range(n) if v != source]))


def _site_on_junction(
    draw, case: DesignCase, junction: int, *, extras: bool = True
) -> tuple[DesignCase, int, tuple[int, ...]]:
    """A new site node lying on `junction`, as the graph attaches a site placed on a junction.

    Zero-cost, zero-latency site edges join it to the junction: one, two in parallel (one lateral
    per corridor meeting there) or a chain through a cut node (a lateral cut at a boundary);
    with extras, sometimes small costs and latencies on them (a site a few metres off the
    junction, within the snap tolerance), an ordinary lateral to another node, a permit or a
    shared-risk group on a site edge.  Returns the case, the site node and its other nodes.
    """
    site = case.n_nodes
    shape = draw(st.sampled_from(["one", "two", "chain"]))
    if shape == "chain":
        new, nodes = [(site, site + 1), (site + 1, junction)], (junction, site + 1)
    else:
        new, nodes = [(site, junction)] * (2 if shape == "two" else 1), (junction,)
    new = [(u, v) if draw(st.booleans()) else (v, u) for u, v in new]
    n_site_edges = len(new)
    if extras and _chance(draw, 3):
        new.append((site, draw(st.sampled_from([v for v in range(case.n_nodes) if v != junction]))))
    off_junction = extras and _chance(draw, 3)
    weights = [draw(st.integers(0, 100)) / 100.0 if off_junction else 0.0 for _ in range(n_site_edges)]
    latency = [draw(st.integers(0, 10)) / 100.0 if off_junction else 0.0 for _ in range(n_site_edges)]
    weights += [float(draw(st.integers(1, 5))) for _ in new[n_site_edges:]]
    latency += [float(draw(st.integers(1, 5))) for _ in new[n_site_edges:]]
    none = tuple(-1 for _ in range(case.n_levels))
    jurisdiction = [
        draw(st.sampled_from(case.jurisdiction)) if extras and case.n_levels and _chance(draw, 2) else none
        for _ in new
    ]
    srlg = set(case.srlg)
    if extras and case.srlg and _chance(draw, 2):
        srlg.add((case.n_edges, draw(st.sampled_from(sorted({g for _, g in case.srlg})))))
    case = replace(
        case,
        n_nodes=site + 1 + (shape == "chain"),
        tail=case.tail + tuple(u for u, _ in new),
        head=case.head + tuple(v for _, v in new),
        cost=case.cost + tuple(weights),
        latency_ms=case.latency_ms + tuple(latency),
        jurisdiction=case.jurisdiction + tuple(jurisdiction),
        srlg=tuple(sorted(srlg)),
    )
    return case, site, nodes


def _with_sites(draw, case: DesignCase, spec: DemandSpec, tenths: int) -> tuple[DesignCase, DemandSpec]:
    """About tenths in ten: the demand's source, target or both lie on a junction (site nodes)."""
    if not _chance(draw, tenths):
        return case, spec
    ends = draw(st.sampled_from([("source",), ("target",), ("source", "target")]))
    for end in ends:
        case, site, nodes = _site_on_junction(draw, case, getattr(spec, end))
        spec = replace(spec, **{end: site, f"{end}_nodes": nodes})
    return case, _allow_new_edges(case, spec)


def _allow_new_edges(case: DesignCase, spec: DemandSpec) -> DemandSpec:
    """The spec's edge_allowed grown to the case's edges, the new ones allowed."""
    if spec.edge_allowed is None:
        return spec
    return replace(spec, edge_allowed=spec.edge_allowed + (True,) * (case.n_edges - len(spec.edge_allowed)))


def _edge_allowed(draw, n_edges: int, tenths: int) -> tuple[bool, ...] | None:
    if not _chance(draw, tenths):
        return None
    return tuple(draw(st.integers(0, 6)) > 0 for _ in range(n_edges))


def _conflicts(draw, n_edges: int) -> tuple[tuple[int, int], ...]:
    pairs = []
    for _ in range(draw(st.integers(1, 6))):
        e = draw(st.integers(0, n_edges - 1))
        f = draw(st.sampled_from([x for x in range(n_edges) if x != e]))
        pairs.append((e, f))
    return tuple(pairs)


def _limits(draw, case: DesignCase, spec: DemandSpec) -> tuple[int | None, float | None]:
    """max_jurisdictions and max_cost relative to the demand's sets (no other limit)."""
    analysis = _analysis(case, replace(spec, max_latency_ms=LOOSE, max_jurisdictions=None, max_cost=None))
    sets = analysis.frontier_sets
    counts = sorted({max((r.count for r in s.routes), default=0) for s in sets})
    costs = sorted({round(s.cost, 2) for s in sets})
    max_j = None
    j_rule = draw(st.sampled_from(["exact", "below", "exact", "any", "none"]))
    if j_rule == "below" and counts and counts[0] > 0:
        max_j = draw(st.integers(0, counts[0] - 1))
    elif j_rule == "exact" and counts:
        max_j = draw(st.sampled_from(counts))
    elif j_rule == "any":
        max_j = draw(st.integers(0, 3))
    max_cost = None
    c_rule = draw(st.sampled_from(["between", "below", "exact", "between", "any", "none"]))
    if c_rule == "below" and costs and costs[0] > 0:
        max_cost = max(0.0, round(costs[0] - draw(st.integers(1, 99) | st.integers(1, 300)) / 100.0, 2))
    elif c_rule == "exact" and costs:
        max_cost = draw(st.sampled_from(costs))
    elif c_rule == "between" and costs:
        max_cost = draw(st.integers(round(costs[0] * 100), round(costs[-1] * 100))) / 100.0
    elif c_rule == "any":
        max_cost = draw(st.integers(0, 6000)) / 100.0
    return max_j, max_cost


DIVERSITIES = ("edge", "node", "srlg")
ONE_DEMAND_REGIMES = ("diverse", "separation", "limits", "infeasible")


@st.composite
def one_demand_cases(draw, regime: str, diversity: str | None = None) -> DesignCase:
    """One demand with k >= 2 diverse routes.

    * "diverse": the given diversity, k=2 (sometimes 3), random groups,
      permits on half the cases, latency bounds from loose to infeasible;
    * "separation": k=2 with 1-6 random conflict pairs;
    * "limits": jurisdictions on every case, max_jurisdictions and max_cost set
      relative to the demand's sets, latency bound mostly loose;
    * "infeasible": only infeasible demands, of three classes: "diverse routes
      exist but are too slow", "too few diverse routes" and any other reason
      (max_jurisdictions, max_cost).
    """
    assert regime in ONE_DEMAND_REGIMES
    if diversity is None:
        diversity = draw(st.sampled_from(DIVERSITIES))
    case = draw(graphs(permits=10 if regime == "limits" else 5, spanning_groups=int(diversity == "srlg")))
    k = 3 if regime in ("diverse", "infeasible") and _chance(draw, 2) else 2
    source, target = _endpoints(draw, case.n_nodes)
    spec = DemandSpec(
        source=source,
        target=target,
        max_latency_ms=LOOSE,
        paths=k,
        diversity=diversity,
        edge_allowed=_edge_allowed(draw, case.n_edges, 2),
        conflicts=_conflicts(draw, case.n_edges) if regime == "separation" or _chance(draw, 1) else None,
    )
    # Fewer site draws under limits: the limits must still cut some of the demand's sets.
    case, spec = _with_sites(draw, case, spec, 2 if regime == "limits" else 3)
    want = None
    if regime == "infeasible":
        want = draw(st.sampled_from(["latency", "diversity", "other"]))
    if regime == "limits" or (regime == "infeasible" and want == "other"):
        max_j, max_cost = _limits(draw, case, spec)
        spec = replace(spec, max_jurisdictions=max_j, max_cost=max_cost)
    if regime == "limits":
        rules = ["loose", "loose", "between"]
    elif want == "latency":
        rules = ["tight"]
    else:
        rules = ["tight", "exact", "between", "between", "loose", "loose", "any"]
    spec = replace(spec, max_latency_ms=_latency_bound(draw, case, spec, rules))
    case = replace(case, demands=(spec,))
    if regime in ("diverse", "separation", "limits"):
        # Most cases should have k diverse routes at all, or there is little to optimize.
        analysis = _analysis(case, spec)
        assume(analysis.max_diverse >= k or _chance(draw, 2))
    if regime == "infeasible":
        analysis = _analysis(case, spec)
        assume(not analysis.feasible)
        if want == "diversity":
            assume(1 <= analysis.max_diverse < k)
        elif want == "latency":
            assume(analysis.max_diverse >= k)
    return case


SHARED_REGIMES = ("shared", "sharing")


@st.composite
def shared_cases(draw, regime: str) -> DesignCase:
    """2-3 demands built together (k=1; sometimes one demand at k=2).

    Demands overlap: half the cases share one source; "sharing" keeps only
    cases where the shared optimum is cheaper than the sum of the demands'
    optima on their own, with loose-ish latency bounds.
    """
    assert regime in SHARED_REGIMES
    case = draw(graphs(nodes=(5, 8), max_edges=12, permits=4, srlg=True))
    n = case.n_nodes
    n_demands = draw(st.integers(2, 3))
    hub = draw(st.integers(0, n - 1)) if draw(st.booleans()) else None
    hub_nodes: tuple[int, ...] = ()
    if hub is not None and _chance(draw, 3):  # the hub site lies on a junction
        case, hub, hub_nodes = _site_on_junction(draw, case, hub)
    diverse = draw(st.integers(0, n_demands - 1)) if _chance(draw, 4) else None
    specs = []
    for d in range(n_demands):
        if hub is not None:
            targets = [v for v in range(case.n_nodes) if v != hub and v not in hub_nodes]
            source, target = hub, draw(st.sampled_from(targets))
        else:
            source, target = _endpoints(draw, n)
        spec = DemandSpec(
            source=source,
            target=target,
            max_latency_ms=LOOSE,
            paths=2 if d == diverse else 1,
            diversity=draw(st.sampled_from(DIVERSITIES)),
            edge_allowed=_edge_allowed(draw, case.n_edges, 1),
            source_nodes=hub_nodes,
        )
        if _chance(draw, 2):
            max_j, max_cost = _limits(draw, case, spec)
            spec = replace(spec, max_jurisdictions=max_j, max_cost=max_cost)
        rules = (
            ["loose", "loose", "between"] if regime == "sharing" else ["loose", "between", "exact", "tight"]
        )
        specs.append(replace(spec, max_latency_ms=_latency_bound(draw, case, spec, rules)))
    case = replace(case, demands=tuple(specs))
    brute = bf.brute_force_design(case.arrays(), case.design_demands())
    if regime == "sharing":
        assume(sum(brute.feasible) >= 2)
        assume(brute.cost < brute.independent_sum and not bf.cost_tie(brute.cost, brute.independent_sum))
    else:
        assume(any(brute.feasible) or _chance(draw, 1))
    return case


@st.composite
def frontier_cases(draw, k: int) -> DesignCase:
    """One demand (k=1 or 2) on graphs where fast edges tend to cost more."""
    case = draw(graphs(nodes=(4, 7), max_edges=11 if k == 2 else 10, permits=3, tradeoff=_chance(draw, 7)))
    source, target = _endpoints(draw, case.n_nodes)
    spec = DemandSpec(
        source=source,
        target=target,
        max_latency_ms=LOOSE,
        paths=k,
        diversity=draw(st.sampled_from(DIVERSITIES)),
        edge_allowed=_edge_allowed(draw, case.n_edges, 1),
        conflicts=_conflicts(draw, case.n_edges) if k >= 2 and _chance(draw, 3) else None,
    )
    case, spec = _with_sites(draw, case, spec, 3)
    if _chance(draw, 3):
        max_j, max_cost = _limits(draw, case, spec)
        spec = replace(spec, max_jurisdictions=max_j, max_cost=max_cost)
    # The latency bound is ignored by the frontier: make it anything, even infeasible.
    spec = replace(spec, max_latency_ms=draw(st.integers(1, 3000)) / 100.0)
    case = replace(case, demands=(spec,))
    points = bf.brute_force_frontier(case.arrays(), spec.build(case.n_edges))
    assume(len(points) >= 2 or _chance(draw, 1))
    return case


# --------------------------------------------------------------------------
# Runners
# --------------------------------------------------------------------------


def _tags(case: DesignCase, brute: bf.DesignBrute) -> list[str]:
    tags = [f"demands={len(case.demands)}"]
    for spec, a in zip(case.demands, brute.demands, strict=True):
        tags.append(f"k={spec.paths}")
        if spec.paths > 1:
            tags.append(f"diversity={spec.diversity}")
        if spec.conflicts:
            tags.append("conflicts")
        if spec.source_nodes or spec.target_nodes:
            tags.append("site-nodes")
        if spec.max_jurisdictions is not None:
            tags.append("max_jurisdictions")
        if spec.max_cost is not None:
            tags.append("max_cost")
        if a.feasible:
            tags.append("feasible")
            if len(a.feasible_sets) < a.n_diverse_sets:
                tags.append("limits-cut-some-sets")
            continue
        tags.append("infeasible")
        if a.max_diverse < spec.paths:
            tags.append("infeasible:diversity" if a.max_diverse >= 1 else "infeasible:no-route")
        else:
            for name in ("latency", "jurisdictions", "cost"):
                if getattr(a, f"{name}_alone_infeasible"):
                    tags.append(f"infeasible:{name}")
            if not (
                a.latency_alone_infeasible or a.jurisdictions_alone_infeasible or a.cost_alone_infeasible
            ):
                tags.append("infeasible:combined-limits")
    if (
        any(brute.feasible)
        and brute.cost < brute.independent_sum
        and not bf.cost_tie(brute.cost, brute.independent_sum)
    ):
        tags.append("sharing-saves")
    if case.srlg and len({g for _, g in case.srlg}) < len(case.srlg):
        tags.append("group-spans-edges")
    if case.n_levels:
        tags.append("permits")
    return tags


def _settings(n_examples: int):
    return settings(
        max_examples=n_examples,
        deadline=None,
        derandomize=True,
        database=None,
        phases=[Phase.explicit, Phase.generate, Phase.shrink],
        suppress_health_check=[
            HealthCheck.too_slow,
            HealthCheck.data_too_large,
            HealthCheck.filter_too_much,
        ],
        print_blob=False,
    )


def _run(name: str, strategy: Any, n_examples: int, check: Callable[[DesignCase], list[str]]) -> Counter[str]:
    stats: Counter[str] = Counter()

    @_settings(n_examples)
    @given(case=strategy)
    def run(case: DesignCase) -> None:
        tags = check(case)
        stats["cases"] += 1
        stats.update(tags)

    run()
    print(
        f"\n[{name}] {stats['cases']} random cases: "
        + ", ".join(f"{k}={v}" for k, v in sorted(stats.items()) if k != "cases")
    )
    return stats


def _design_check(case: DesignCase) -> list[str]:
    brute, _ = check_design_case(case, log=note)
    return _tags(case, brute)


def _frontier_check(case: DesignCase) -> list[str]:
    points, _ = check_frontier_case(case, log=note)
    # The other tags describe the demand as a design, under its latency bound
    # (which the frontier ignores): "infeasible" cases still have a frontier.
    brute = bf.brute_force_design(case.arrays(), case.design_demands())
    return [f"points={min(len(points), 4)}{'+' if len(points) >= 4 else ''}", *_tags(case, brute)]


# Case counts (the whole file should stay well under ~90 s on 2 cores).
N_DIVERSE = 150  # per diversity kind
N_SEPARATION = 150
N_LIMITS = 150
N_INFEASIBLE = 120
N_SHARED, N_SHARING = 200, 120
N_FRONTIER = 100  # per k


@pytest.mark.parametrize("diversity", DIVERSITIES)
def test_random_diverse_pairs_match_bruteforce(diversity: str) -> None:
    stats = _run(f"diverse/{diversity}", one_demand_cases("diverse", diversity), N_DIVERSE, _design_check)
    assert stats["cases"] == N_DIVERSE
    # Guard the generator's coverage (not the solver).
    assert stats["feasible"] >= N_DIVERSE // 3 and stats["infeasible"] >= N_DIVERSE // 10, stats
    assert stats["k=3"] >= 1 and stats["permits"] >= N_DIVERSE // 4, stats
    if diversity == "srlg":
        assert stats["group-spans-edges"] >= N_DIVERSE // 3, stats
    assert stats["site-nodes"] >= N_DIVERSE // 10, stats


def test_random_minimum_separation_matches_bruteforce() -> None:
    stats = _run("separation", one_demand_cases("separation"), N_SEPARATION, _design_check)
    assert stats["cases"] == N_SEPARATION == stats["conflicts"], stats
    assert stats["feasible"] >= N_SEPARATION // 3, stats


def test_random_jurisdiction_and_cost_limits_match_bruteforce() -> None:
    stats = _run("limits", one_demand_cases("limits"), N_LIMITS, _design_check)
    assert stats["cases"] == N_LIMITS
    assert stats["max_cost"] >= N_LIMITS // 3 and stats["max_jurisdictions"] >= N_LIMITS // 3, stats
    assert stats["limits-cut-some-sets"] >= N_LIMITS // 5 and stats["feasible"] >= N_LIMITS // 3, stats


def test_random_infeasible_demands_give_their_reason() -> None:
    stats = _run("infeasible", one_demand_cases("infeasible"), N_INFEASIBLE, _design_check)
    assert stats["cases"] == N_INFEASIBLE == stats["infeasible"], stats
    assert stats["infeasible:diversity"] >= N_INFEASIBLE // 5, stats
    assert stats["infeasible:latency"] >= N_INFEASIBLE // 5, stats


def test_random_shared_build_matches_bruteforce() -> None:
    stats = _run("shared", shared_cases("shared"), N_SHARED, _design_check)
    assert stats["cases"] == N_SHARED
    assert stats["demands=2"] >= N_SHARED // 5 and stats["demands=3"] >= N_SHARED // 5, stats
    assert stats["k=2"] >= N_SHARED // 10 and stats["infeasible"] >= 3, stats
    assert stats["sharing-saves"] >= N_SHARED // 10, stats


def test_random_shared_build_saving_matches_bruteforce() -> None:
    stats = _run("sharing", shared_cases("sharing"), N_SHARING, _design_check)
    assert stats["cases"] == N_SHARING == stats["sharing-saves"], stats


@pytest.mark.parametrize("k", [1, 2])
def test_random_frontier_matches_bruteforce(k: int) -> None:
    stats = _run(f"frontier/k={k}", frontier_cases(k), N_FRONTIER, _frontier_check)
    assert stats["cases"] == N_FRONTIER
    multi = N_FRONTIER - stats["points=0"] - stats["points=1"]
    assert multi >= N_FRONTIER // 2, stats


# --------------------------------------------------------------------------
# Hand-written cases (their brute-force answers are checked by hand below)
# --------------------------------------------------------------------------


def _trap(diversity: str) -> DesignCase:
    # The cheapest route 0-1-2-3 (cost 3) leaves no second route; the only
    # diverse pair is 0-1-3 (edges 0, 4) + 0-2-3 (edges 3, 2): cost 8, 2+2 ms.
    return make_case(
        4,
        [(0, 1, 1, 1, []), (1, 2, 1, 1, []), (2, 3, 1, 1, []), (0, 2, 3, 1, []), (1, 3, 3, 1, [])],
        [DemandSpec(0, 3, 10.0, paths=2, diversity=diversity)],
        n_levels=0,
    )


def _single_edge_site(diversity: str) -> DesignCase:
    # Node 3 hangs on edge 2-3 alone: one route at most.  A second demand
    # 0 -> 2 (0-2 and 0-1-2, cost 3) is still designed.
    return make_case(
        4,
        [(0, 1, 1, 1, []), (0, 2, 1, 1, []), (1, 2, 1, 1, []), (2, 3, 1, 1, [])],
        [
            DemandSpec(0, 3, 10.0, paths=2, diversity=diversity),
            DemandSpec(0, 2, 10.0, paths=2, diversity=diversity),
        ],
        n_levels=0,
    )


def _srlg_square(diversity: str) -> DesignCase:
    # 0-1-3 and 0-2-3 are node-diverse, but edges 1 (1-3) and 2 (0-2) share group 7.
    return make_case(
        4,
        [(0, 1, 1, 1, []), (1, 3, 1, 1, []), (0, 2, 1, 1, []), (2, 3, 1, 1, [])],
        [DemandSpec(0, 3, 10.0, paths=2, diversity=diversity)],
        n_levels=0,
        srlg=[(1, 7), (2, 7), (0, 3), (3, 4)],
    )


def _bowtie(diversity: str) -> DesignCase:
    # Two parallel edges 0-1 and two parallel 1-3: two edge-diverse routes, one node-diverse.
    return make_case(
        4,
        [(0, 1, 1, 1, []), (1, 3, 1, 1, []), (1, 0, 2, 2, []), (3, 1, 2, 2, []), (0, 2, 1, 1, [])],
        [DemandSpec(0, 3, 10.0, paths=2, diversity=diversity)],
        n_levels=0,
    )


def _slow_pair(max_latency_ms: float) -> DesignCase:
    # Two diverse routes: 0-1-3 (4 ms) and 0-2-3 (6.5 ms): a pair needs 6.50 ms.
    return make_case(
        4,
        [(0, 1, 1, 2, []), (1, 3, 1, 2, []), (0, 2, 1, 3, []), (2, 3, 1, 3.5, [])],
        [DemandSpec(0, 3, max_latency_ms, paths=2, diversity="srlg")],
        n_levels=0,
    )


def _separation(conflicts: tuple[tuple[int, int], ...] | None) -> DesignCase:
    # 0-1-3 (cost 2, 2 ms), 0-2-3 (cost 2, 4 ms), 0-4-3 (cost 10, 2 ms).
    return make_case(
        5,
        [
            (0, 1, 1, 1, []),
            (1, 3, 1, 1, []),
            (0, 2, 1, 2, []),
            (2, 3, 1, 2, []),
            (0, 4, 5, 1, []),
            (4, 3, 5, 1, []),
        ],
        [DemandSpec(0, 3, 10.0, paths=2, diversity="node", conflicts=conflicts)],
        n_levels=0,
    )


def _shared_trunk() -> DesignCase:
    # Demands 0 -> 4 and 1 -> 5, each at most 3 ms.  Alone each takes its direct
    # edge (cost 8, sum 16); together both take the trunk 2-3 (cost 10) and pay
    # 1+1+10+1+1 = 14.  Mixed designs cost 20.
    return make_case(
        6,
        [
            (0, 2, 1, 1, []),
            (1, 2, 1, 1, []),
            (2, 3, 10, 1, []),
            (3, 4, 1, 1, []),
            (3, 5, 1, 1, []),
            (0, 4, 8, 1, []),
            (1, 5, 8, 1, []),
        ],
        [DemandSpec(0, 4, 3.0), DemandSpec(1, 5, 3.0)],
        n_levels=0,
    )


def _shared_permit(max_jurisdictions: int | None = None, max_cost: float | None = None) -> DesignCase:
    # 0-1-3 and 0-2-3 both enter jurisdiction 0 (permit 5, paid once): 4 + 5 = 9;
    # 0-4-3 (cost 6, no permit) with either costs 13.
    return make_case(
        5,
        [
            (0, 1, 1, 1, [0]),
            (1, 3, 1, 1, []),
            (0, 2, 1, 1, []),
            (2, 3, 1, 1, [0]),
            (0, 4, 3, 1, []),
            (4, 3, 3, 1, []),
        ],
        [
            DemandSpec(
                0, 3, 10.0, paths=2, diversity="srlg", max_jurisdictions=max_jurisdictions, max_cost=max_cost
            )
        ],
        permit_cost=[5.0],
    )


def _frontier_three_points_k1() -> DesignCase:
    # Parallel edges (cost, ms): (1, 10), (2, 5), (3, 1), (4, 6), (2, 7).
    # Frontier: (3, 1), (2, 5), (1, 10).
    return make_case(
        2,
        [(0, 1, 1, 10, []), (0, 1, 2, 5, []), (1, 0, 3, 1, []), (0, 1, 4, 6, []), (0, 1, 2, 7, [])],
        [DemandSpec(0, 1, 100.0)],
        n_levels=0,
    )


def _frontier_three_points_k2() -> DesignCase:
    # Parallel edges (cost, ms): a (5, 1), b (3, 2), c (1, 3), d (1, 4).  Pairs:
    # ab (8, 2), ac (6, 3), ad (6, 4), bc (4, 3), bd (4, 4), cd (2, 4).
    # Frontier: (8, 2), (4, 3), (2, 4).
    return make_case(
        2,
        [(0, 1, 5, 1, []), (0, 1, 3, 2, []), (0, 1, 1, 3, []), (1, 0, 1, 4, [])],
        [DemandSpec(0, 1, 100.0, paths=2, diversity="edge")],
        n_levels=0,
    )


def _sites_on_junctions(
    diversity: str, paths: int = 2, *, site_nodes: bool = True, site_cost: float = 0.0
) -> DesignCase:
    # Site 0 lies on junction 1 and site 5 on junction 4 (site edges 0 and 5, free or, a few
    # metres off the junction, costing site_cost each, paid once).  Between the junctions: 1-2-4
    # (cost 2), 1-3-4 (cost 4) and the direct edge 6 (cost 10), which joins the two sites' nodes
    # and so is an ordinary edge.  Site edge 0 shares group 9 with edge 2, which never counts;
    # edges 1 and 3 share nothing.
    return make_case(
        6,
        [
            (0, 1, site_cost, site_cost / 100, []),
            (1, 2, 1, 1, []),
            (2, 4, 1, 1, []),
            (1, 3, 2, 2, []),
            (3, 4, 2, 2, []),
            (5, 4, site_cost, site_cost / 100, []),
            (1, 4, 10, 1, []),
        ],
        [
            DemandSpec(
                0,
                5,
                10.0,
                paths=paths,
                diversity=diversity,
                source_nodes=(1,) if site_nodes else (),
                target_nodes=(4,) if site_nodes else (),
            )
        ],
        n_levels=0,
        srlg=[(0, 9), (2, 9)],
    )


def _square_ring(diversity: str, site_cost: float) -> DesignCase:
    # The square ring: sites 0 and 5 on opposite corners 1 and 4 (site edges 0 and 5,
    # costing site_cost each), the two ways round 1-2-4 and 1-3-4 equally dear (cost 2 each).
    return make_case(
        6,
        [
            (0, 1, site_cost, 0, []),
            (1, 2, 1, 1, []),
            (2, 4, 1, 1, []),
            (1, 3, 1, 1, []),
            (3, 4, 1, 1, []),
            (4, 5, site_cost, 0, []),
        ],
        [DemandSpec(0, 5, 10.0, paths=2, diversity=diversity, source_nodes=(1,), target_nodes=(4,))],
        n_levels=0,
    )


def _routes(result: DesignResult, d: int) -> list[tuple[int, ...]]:
    return [tuple(int(e) for e in r.edges) for r in result.routes[d]]


@pytest.mark.parametrize("diversity", DIVERSITIES)
def test_trap_topology_finds_the_disjoint_pair(diversity: str) -> None:
    _, result = check_design_case(_trap(diversity))
    assert result.cost == 8.0 and result.latency_total_ms == 4.0
    assert sorted(_routes(result, 0)) == [(0, 4), (3, 2)]


@pytest.mark.parametrize("diversity", DIVERSITIES)
def test_single_edge_site_has_only_one_diverse_route(diversity: str) -> None:
    _, result = check_design_case(_single_edge_site(diversity))
    assert result.demand_status == (RouteStatus.INFEASIBLE, RouteStatus.OPTIMAL)
    assert "only 1 " in result.demand_reason[0]
    assert result.status is RouteStatus.OPTIMAL and result.cost == 3.0


def test_shared_risk_group_blocks_the_pair() -> None:
    _, result = check_design_case(_srlg_square("srlg"))
    assert result.demand_status == (RouteStatus.INFEASIBLE,)
    assert "only 1 " in result.demand_reason[0]
    _, result = check_design_case(_srlg_square("node"))
    assert result.cost == 4.0


def test_node_diversity_is_stricter_than_edge() -> None:
    _, result = check_design_case(_bowtie("edge"))
    assert result.cost == 6.0 and sorted(_routes(result, 0)) == [(0, 1), (2, 3)]
    for diversity in ("node", "srlg"):
        _, result = check_design_case(_bowtie(diversity))
        assert result.demand_status == (RouteStatus.INFEASIBLE,)
        assert "only 1 " in result.demand_reason[0]


def test_too_tight_latency_says_what_a_pair_needs() -> None:
    _, result = check_design_case(_slow_pair(5.0))
    assert result.demand_status == (RouteStatus.INFEASIBLE,)
    assert re.search(r"need 6\.50* ms", result.demand_reason[0]), result.demand_reason[0]
    _, result = check_design_case(_slow_pair(6.5))  # exactly on the bound
    assert result.cost == 4.0 and [r.latency_ms for r in result.routes[0]] == [4.0, 6.5]


def test_minimum_separation() -> None:
    _, result = check_design_case(_separation(None))
    assert result.cost == 4.0
    # Edge 0 (on 0-1-3) is too close to edge 3 (on 0-2-3): the pair needs 0-4-3,
    # and of the two pairs of cost 12 the faster one (0-1-3 + 0-4-3) wins.
    _, result = check_design_case(_separation(((0, 3),)))
    assert result.cost == 12.0 and result.latency_total_ms == 4.0
    assert sorted(_routes(result, 0)) == [(0, 1), (4, 5)]
    # One route may use both edges of a pair.
    _, result = check_design_case(_separation(((0, 1), (3, 2))))
    assert result.cost == 4.0


def test_shared_build_shares_the_expensive_trunk() -> None:
    brute, result = check_design_case(_shared_trunk())
    assert brute.independent_sum == 16.0
    assert result.cost == 14.0 and result.latency_total_ms == 6.0
    assert _routes(result, 0) == [(0, 2, 3)] and _routes(result, 1) == [(1, 2, 4)]


def test_permit_paid_once_for_a_pair() -> None:
    _, result = check_design_case(_shared_permit())
    assert result.cost == 9.0
    _, result = check_design_case(_shared_permit(max_cost=9.0))
    assert result.cost == 9.0
    for case in (_shared_permit(max_cost=8.99), _shared_permit(max_jurisdictions=0)):
        _, result = check_design_case(case)
        assert result.demand_status == (RouteStatus.INFEASIBLE,)


@pytest.mark.parametrize("site_cost", [0.0, 0.5], ids=["on-junction", "off-junction"])
@pytest.mark.parametrize("diversity", DIVERSITIES)
def test_sites_on_junctions_share_their_nodes_and_site_edges(diversity: str, site_cost: float) -> None:
    _, result = check_design_case(_sites_on_junctions(diversity, site_cost=site_cost))
    assert result.cost == 6.0 + 2 * site_cost
    assert sorted(_routes(result, 0)) == [(0, 1, 2, 5), (0, 3, 4, 5)]
    _, result = check_design_case(_sites_on_junctions(diversity, 3, site_cost=site_cost))
    assert result.cost == 16.0 + 2 * site_cost
    _, result = check_design_case(_sites_on_junctions(diversity, 4, site_cost=site_cost))
    assert result.demand_status == (RouteStatus.INFEASIBLE,)
    assert "only 3 " in result.demand_reason[0]


@pytest.mark.parametrize("site_cost", [0.0, 0.5], ids=["on-corner", "off-corner"])
@pytest.mark.parametrize("diversity", DIVERSITIES)
def test_sites_on_ring_corners_get_both_ways_round(diversity: str, site_cost: float) -> None:
    _, result = check_design_case(_square_ring(diversity, site_cost))
    assert result.cost == 4.0 + 2 * site_cost
    assert sorted(_routes(result, 0)) == [(0, 1, 2, 5), (0, 3, 4, 5)]


def test_frontier_with_three_points() -> None:
    for case, want in (
        (_frontier_three_points_k1(), [(3.0, 1.0), (2.0, 5.0), (1.0, 10.0)]),
        (_frontier_three_points_k2(), [(8.0, 2.0), (4.0, 3.0), (2.0, 4.0)]),
    ):
        _, result = check_frontier_case(case)
        assert [(p.cost, p.latency_ms) for p in result.points] == want


# --------------------------------------------------------------------------
# Sanity checks of the brute force itself (no solver involved)
# --------------------------------------------------------------------------


def _brute(case: DesignCase) -> bf.DesignBrute:
    return bf.brute_force_design(case.arrays(), case.design_demands())


def test_bruteforce_hand_cases() -> None:
    for diversity in DIVERSITIES:
        b = _brute(_trap(diversity))
        assert (b.cost, b.latency_total_ms) == (8.0, 4.0)
        assert sorted(r.edges for r in b.choice[0].routes) == [(0, 4), (3, 2)]
        assert b.demands[0].n_diverse_sets == 1 and b.demands[0].n_allowed_paths == 4

        b = _brute(_single_edge_site(diversity))
        assert b.feasible == (False, True) and b.demands[0].max_diverse == 1 and b.cost == 3.0

        b = _brute(_bowtie(diversity))
        if diversity == "edge":
            assert b.cost == 6.0 and b.demands[0].n_diverse_sets == 2  # {00'} x {11'} pairings
        else:
            assert b.feasible == (False,) and b.demands[0].max_diverse == 1

    b = _brute(_srlg_square("srlg"))
    assert b.feasible == (False,) and b.demands[0].max_diverse == 1
    assert _brute(_srlg_square("node")).cost == 4.0
    assert _brute(_srlg_square("edge")).cost == 4.0

    b = _brute(_slow_pair(5.0))
    a = b.demands[0]
    assert (
        not a.feasible and a.max_diverse == 2 and a.min_max_latency_ms == 6.5 and a.latency_alone_infeasible
    )
    assert _brute(_slow_pair(6.5)).cost == 4.0

    assert _brute(_separation(None)).cost == 4.0
    b = _brute(_separation(((0, 3),)))
    assert (b.cost, b.latency_total_ms) == (12.0, 4.0)
    assert b.demands[0].n_diverse_sets == 2
    b = _brute(_separation(((3, 0), (1, 2), (5, 4))))  # reversed pair; pairs within one route
    assert (b.cost, b.latency_total_ms) == (12.0, 4.0)
    b = _brute(_separation(((0, 3), (1, 4))))  # 0-1-3 also clashes with 0-4-3
    assert (b.cost, b.latency_total_ms) == (12.0, 6.0)
    b = _brute(_separation(((0, 3), (1, 4), (2, 5))))
    assert b.feasible == (False,) and b.demands[0].max_diverse == 1
    assert _brute(_separation(((0, 1), (3, 2)))).cost == 4.0

    b = _brute(_shared_trunk())
    assert (b.cost, b.latency_total_ms, b.independent_sum) == (14.0, 6.0, 16.0)
    assert b.choice[0].routes[0].edges == (0, 2, 3) and b.choice[1].routes[0].edges == (1, 2, 4)
    assert _brute(replace(_shared_trunk(), demands=_shared_trunk().demands[:1])).cost == 8.0

    assert _brute(_shared_permit()).cost == 9.0
    assert _brute(_shared_permit(max_cost=9.0)).cost == 9.0
    assert _brute(_shared_permit(max_cost=8.99)).feasible == (False,)
    a = _brute(_shared_permit(max_jurisdictions=0)).demands[0]
    assert not a.feasible and a.jurisdictions_alone_infeasible and a.max_diverse == 2
    assert _brute(_shared_permit(max_jurisdictions=1)).cost == 9.0

    for case, want in (
        (_frontier_three_points_k1(), [(3.0, 1.0), (2.0, 5.0), (1.0, 10.0)]),
        (_frontier_three_points_k2(), [(8.0, 2.0), (4.0, 3.0), (2.0, 4.0)]),
    ):
        points = bf.brute_force_frontier(case.arrays(), case.design_demands()[0])
        assert [(p.cost, p.latency_ms) for p in points] == want

    for diversity in DIVERSITIES:
        b = _brute(_sites_on_junctions(diversity))
        assert (b.cost, b.latency_total_ms) == (6.0, 6.0)
        assert sorted(r.edges for r in b.choice[0].routes) == [(0, 1, 2, 5), (0, 3, 4, 5)]
        assert _brute(_sites_on_junctions(diversity, 3)).cost == 16.0
        a = _brute(_sites_on_junctions(diversity, 4)).demands[0]
        assert not a.feasible and a.max_diverse == 3
        # Without the site nodes every route passes the single edges 0 and 5.
        a = _brute(_sites_on_junctions(diversity, site_nodes=False)).demands[0]
        assert not a.feasible and a.max_diverse == 1
        # Site edges that cost something are paid once for all the routes using them.
        b = _brute(_sites_on_junctions(diversity, site_cost=0.5))
        assert b.cost == 7.0 and _close(b.latency_total_ms, 6.02)
        for site_cost in (0.0, 0.5):
            b = _brute(_square_ring(diversity, site_cost))
            assert (b.cost, b.latency_total_ms) == (4.0 + 2 * site_cost, 4.0)
    # The groups of ordinary edges still count: edges 1 and 3 sharing a group block that pair.
    case = replace(_sites_on_junctions("srlg"), srlg=((1, 8), (3, 8)))
    assert _brute(case).cost == 12.0  # 1-2-4 with the direct edge
    assert _brute(replace(case, demands=(replace(case.demands[0], diversity="node"),))).cost == 6.0


def test_bruteforce_diverse_sets_are_the_compatible_subsets() -> None:
    """k-cliques == plain filter over itertools.combinations, with literal checks."""
    from itertools import combinations

    def literal_ok(p: bf.RouteEval, q: bf.RouteEval, case: DesignCase, groups) -> bool:
        spec = case.demands[0]
        at_source, at_target = {spec.source, *spec.source_nodes}, {spec.target, *spec.target_nodes}

        def ordinary(e: int) -> bool:
            ends = {case.tail[e], case.head[e]}
            return not (ends <= at_source or ends <= at_target)

        if any(ordinary(e) for e in set(p.edges) & set(q.edges)):
            return False
        if spec.diversity != "edge" and set(p.nodes) & set(q.nodes) - at_source - at_target:
            return False
        if spec.diversity == "srlg" and any(
            groups[e] & groups[f] for e in p.edges for f in q.edges if ordinary(e) and ordinary(f)
        ):
            return False
        pairs = set(spec.conflicts or ())
        return not any((e, f) in pairs or (f, e) in pairs for e in p.edges for f in q.edges)

    @_settings(150)
    @given(case=st.sampled_from(ONE_DEMAND_REGIMES).flatmap(one_demand_cases))
    def run(case: DesignCase) -> None:
        arrays = case.arrays()
        spec = case.demands[0]
        demand = spec.build(case.n_edges)
        routes = bf.all_allowed_routes(arrays, demand.query)
        groups = bf.edge_groups(arrays)
        want = [
            c
            for c in combinations(range(len(routes)), spec.paths)
            if all(literal_ok(routes[i], routes[j], case, groups) for i, j in combinations(c, 2))
        ]
        sites = bf.demand_sites(arrays, demand)
        got = list(bf.diverse_sets(routes, spec.paths, spec.diversity, bf.conflict_pairs(demand), sites))
        assert got == want
        analysis = bf.analyze_demand(arrays, demand)
        assert analysis.n_diverse_sets == len(want)
        max_diverse = max(
            m
            for m in range(spec.paths + 1)
            if m == 0
            or any(
                all(literal_ok(routes[i], routes[j], case, groups) for i, j in combinations(c, 2))
                for c in combinations(range(len(routes)), m)
            )
        )
        assert analysis.max_diverse == max_diverse

    run()


def test_bruteforce_site_on_a_junction_is_the_junction_itself() -> None:
    """A demand whose ends become sites lying on the old end nodes (plain site edges, nothing
    else) has the same optimum, diversity count and latency needed as the original."""

    @st.composite
    def pairs(draw) -> tuple[DesignCase, DesignCase]:
        case = draw(st.sampled_from(ONE_DEMAND_REGIMES).flatmap(one_demand_cases))
        spec = case.demands[0]
        assume(not (spec.source_nodes or spec.target_nodes))
        moved = case
        for end in draw(st.sampled_from([("source",), ("target",), ("source", "target")])):
            moved, site, nodes = _site_on_junction(draw, moved, getattr(spec, end), extras=False)
            spec = replace(spec, **{end: site, f"{end}_nodes": nodes})
        return case, replace(moved, demands=(_allow_new_edges(moved, spec),))

    @_settings(120)
    @given(pair=pairs())
    def run(pair: tuple[DesignCase, DesignCase]) -> None:
        before, after = (_analysis(c, c.demands[0]) for c in pair)
        assert (before.feasible, before.max_diverse) == (after.feasible, after.max_diverse)
        assert before.min_max_latency_ms == after.min_max_latency_ms
        if before.feasible:
            assert after.best_alone.cost == before.best_alone.cost
            assert after.best_alone.latency_total_ms == before.best_alone.latency_total_ms

    run()


def test_bruteforce_routes_match_single_route_reference() -> None:
    """Paths and route quantities agree with tests/bruteforce.py (written separately)."""
    from . import bruteforce as single

    @_settings(150)
    @given(case=shared_cases("shared"))
    def run(case: DesignCase) -> None:
        arrays = case.arrays()
        for spec in case.demands:
            query = spec.build(case.n_edges).query
            mine = bf.all_allowed_routes(arrays, query)
            theirs = single.all_allowed_routes(arrays, query)
            assert sorted(r.edges for r in mine) == sorted(r.edges for r in theirs)
            by_edges = {r.edges: r for r in theirs}
            for r in mine:
                t = by_edges[r.edges]
                assert (r.nodes, r.jurisdictions, r.count) == (t.nodes, t.jurisdictions, t.count)
                assert (r.cost, r.edge_cost, r.permit_cost, r.latency_ms) == (
                    t.cost,
                    t.edge_cost,
                    t.permit_cost,
                    t.latency_ms,
                )
            # k=1 without max_cost: the single-route optimum is the demand's optimum alone.
            if spec.paths == 1:
                best = single.brute_force_route(arrays, query)
                alone = _analysis(case, spec).best_alone
                assert (best is None) == (alone is None)
                if best is not None:
                    assert alone.cost == best.cost and alone.latency_total_ms == best.latency_ms

    run()


def test_bruteforce_programme_matches_product() -> None:
    """The dynamic programme over union edge sets == the plain product over demands."""

    @_settings(120)
    @given(case=st.sampled_from(SHARED_REGIMES).flatmap(shared_cases))
    def run(case: DesignCase) -> None:
        arrays, demands = case.arrays(), case.design_demands()
        fast = bf.brute_force_design(arrays, demands)
        slow = bf.brute_force_design_product(arrays, demands)
        assert fast.feasible == slow.feasible
        assert _close(fast.cost, slow.cost) and abs(fast.latency_total_ms - slow.latency_total_ms) < 1e-9
        # The chosen design really costs that much and meets every demand's limits.
        edges = [e for s in fast.choice if s is not None for r in s.routes for e in r.edges]
        assert _close(bf.union_cost(arrays, edges), fast.cost)
        assert fast.cost <= fast.independent_sum * (1 + REL_TOL) + ABS_TOL

    run()


def test_bruteforce_pareto_matches_definition() -> None:
    @_settings(120)
    @given(case=st.sampled_from([1, 2]).flatmap(frontier_cases))
    def run(case: DesignCase) -> None:
        analysis = _analysis(case, case.demands[0])
        points = bf.pareto_points(analysis.frontier_sets)
        naive = bf.pareto_points_naive(analysis.frontier_sets)
        assert [(p.cost, p.latency_ms) for p in points] == naive
        for p in points:
            assert p.example.cost == p.cost and p.example.latency_max_ms == p.latency_ms

    run()


N_ENGINE = 40  # per engine and regime: the default cases above run the MIP alone (one worker)


@pytest.mark.parametrize("engine", ["cp-sat", "portfolio"])
@pytest.mark.parametrize("regime", ["diverse", "shared"])
def test_other_design_engines_match_bruteforce(monkeypatch, engine: str, regime: str) -> None:
    """CP-SAT alone and the race of both engines (two workers) reach the same optima."""
    monkeypatch.setattr(
        sys.modules[__name__], "OPTIONS", replace(OPTIONS, design_engine=engine, num_workers=2)
    )
    strategy = one_demand_cases("diverse") if regime == "diverse" else shared_cases("shared")
    stats = _run(f"{engine}/{regime}", strategy, N_ENGINE, _design_check)
    assert stats["cases"] == N_ENGINE
