"""Randomized differential test: ``optimizer.solve.solve_route`` vs brute force.

The reference (tests/bruteforce.py) enumerates every simple path of tiny graphs
and shares no code with the solver.  Random cases come from a hypothesis
strategy with ``derandomize=True`` (same examples on every run, no example
database) in three regimes -- "general" (everything varies), "permits" (only
cases where permit costs change the optimum) and "infeasible" (only cases with
no feasible route) -- plus hand-written cases.

Inputs are kept inside the solver's preconditions: source != target and
max_latency_ms > 0 (the solver raises ValueError for max_latency_ms <= 0, so
the generator's tightest latency bound is 0.01 ms).

On a failure hypothesis shrinks the case and prints it both as ``Case(...)``
and as a standalone reproducer script (``Reproducer:`` note).
"""

from __future__ import annotations

import math
from collections import Counter
from dataclasses import dataclass
from types import SimpleNamespace

import numpy as np
from hypothesis import HealthCheck, Phase, assume, given, note, settings
from hypothesis import strategies as st

from optimizer.solve import (
    LATENCY_TOLERANCE_MS,
    EdgeArrays,
    RouteQuery,
    RouteResult,
    RouteStatus,
    SolverOptions,
    solve_route,
)

from .bruteforce import (
    BruteAnalysis,
    all_allowed_routes,
    analyze_route,
    brute_force_route,
    evaluate_route,
    is_feasible,
    iter_simple_paths,
)

OPTIONS = SolverOptions(time_limit_s=10, num_workers=1)
ENGINES = (OPTIONS, SolverOptions(time_limit_s=10, num_workers=1, label_search=False))
"""Every case is solved twice: by label search (permits as label state) and by CP-SAT alone."""

REL_TOL = 1e-9
ABS_TOL = 1e-9


def _close(a: float, b: float) -> bool:
    return math.isclose(float(a), float(b), rel_tol=REL_TOL, abs_tol=ABS_TOL)


# --------------------------------------------------------------------------
# Case representation
# --------------------------------------------------------------------------


@dataclass(frozen=True)
class Case:
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
    source: int
    target: int
    max_latency_ms: float
    max_jurisdictions: int | None = None
    max_cost: float | None = None
    edge_allowed: tuple[bool, ...] | None = None

    def arrays(self) -> EdgeArrays:
        n_edges = len(self.tail)
        return EdgeArrays(
            n_nodes=self.n_nodes,
            tail=np.array(self.tail, dtype=np.int64).reshape(n_edges),
            head=np.array(self.head, dtype=np.int64).reshape(n_edges),
            cost=np.array(self.cost, dtype=np.float64).reshape(n_edges),
            latency_ms=np.array(self.latency_ms, dtype=np.float64).reshape(n_edges),
            jurisdiction=np.array(self.jurisdiction, dtype=np.int64).reshape(n_edges, self.n_levels),
            permit_cost=np.array(self.permit_cost, dtype=np.float64).reshape(len(self.permit_cost)),
            counted=np.array(self.counted, dtype=bool).reshape(len(self.counted)),
        )

    def query(self) -> RouteQuery:
        return RouteQuery(
            source=self.source,
            target=self.target,
            max_latency_ms=self.max_latency_ms,
            max_jurisdictions=self.max_jurisdictions,
            max_cost=self.max_cost,
            edge_allowed=(
                None
                if self.edge_allowed is None
                else np.array(self.edge_allowed, dtype=bool).reshape(len(self.tail))
            ),
        )

    def to_code(self) -> str:
        n_edges = len(self.tail)
        allowed = (
            "None" if self.edge_allowed is None else f"np.array({list(self.edge_allowed)!r}, dtype=bool)"
        )
        return "\n".join(
            [
                "import numpy as np",
                "from optimizer.solve import EdgeArrays, RouteQuery, SolverOptions, solve_route",
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
                ")",
                f"query = RouteQuery(source={self.source}, target={self.target},"
                f" max_latency_ms={self.max_latency_ms!r},"
                f" max_jurisdictions={self.max_jurisdictions!r},"
                f" max_cost={self.max_cost!r}, edge_allowed={allowed})",
                "print(solve_route(arrays, query, options=SolverOptions(time_limit_s=10, num_workers=1)))",
            ]
        )


def make_case(
    n_nodes: int,
    edges: list[tuple[int, int, float, float, list[int]]],
    *,
    source: int,
    target: int,
    max_latency_ms: float,
    n_levels: int = 1,
    permit_cost: list[float] | None = None,
    counted: list[bool] | None = None,
    max_jurisdictions: int | None = None,
    max_cost: float | None = None,
    edge_allowed: list[bool] | None = None,
) -> Case:
    """Hand-written cases: edges are (u, v, cost, latency, [ids per level])."""
    permit_cost = permit_cost or []
    return Case(
        n_nodes=n_nodes,
        tail=tuple(e[0] for e in edges),
        head=tuple(e[1] for e in edges),
        cost=tuple(float(e[2]) for e in edges),
        latency_ms=tuple(float(e[3]) for e in edges),
        n_levels=n_levels,
        jurisdiction=tuple(tuple(list(e[4]) + [-1] * (n_levels - len(e[4]))) for e in edges),
        permit_cost=tuple(float(p) for p in permit_cost),
        counted=tuple(counted) if counted is not None else tuple(True for _ in permit_cost),
        source=source,
        target=target,
        max_latency_ms=float(max_latency_ms),
        max_jurisdictions=max_jurisdictions,
        max_cost=max_cost,
        edge_allowed=None if edge_allowed is None else tuple(edge_allowed),
    )


# --------------------------------------------------------------------------
# The differential check
# --------------------------------------------------------------------------


def check_case(case: Case, log=None) -> tuple[BruteAnalysis, RouteResult]:
    """Solve ``case`` and assert everything the brute force can verify.

    ``log`` (hypothesis' ``note`` in the random test) receives a standalone
    reproducer and both answers, printed when the case fails.
    """
    arrays = case.arrays()
    query = case.query()
    analysis = analyze_route(arrays, query)
    if log is not None:
        log(f"Reproducer:\n{case.to_code()}")
        log(f"brute force: {analysis}")
    for options in ENGINES:
        result = solve_route(arrays, query, options=options)
        if log is not None:
            log(f"solver (label_search={options.label_search}): {result}")
        _check_result(case, arrays, query, analysis, result)
    return analysis, result


def _check_result(case: Case, arrays, query, analysis: BruteAnalysis, result: RouteResult) -> None:
    """Assert one solver answer against the brute force."""
    best = analysis.best

    if best is None:
        assert result.status is RouteStatus.INFEASIBLE, (
            f"brute force finds no feasible route but solver says {result.status}"
        )
        assert tuple(result.edges) == ()
        assert isinstance(result.reason, str) and result.reason.strip(), "empty reason"
        fastest = analysis.min_allowed_latency_ms
        if fastest is not None and fastest > query.max_latency_ms + LATENCY_TOLERANCE_MS:
            reason = result.reason
            assert "fastest" in reason.lower(), f"reason does not mention 'fastest': {reason!r}"
            bound_text = f"{query.max_latency_ms:.2f}"
            assert bound_text in reason, f"reason does not mention the bound {bound_text}: {reason!r}"
        return

    assert result.status is RouteStatus.OPTIMAL, (
        f"brute force optimum {best.cost} via edges {best.edges} but solver says "
        f"{result.status}: {result.reason!r}"
    )

    # The route is a simple source->target path built from allowed edges.
    edges = tuple(int(e) for e in result.edges)
    nodes = tuple(int(v) for v in result.nodes)
    n_edges = len(case.tail)
    assert len(edges) >= 1
    assert len(nodes) == len(edges) + 1, (edges, nodes)
    assert nodes[0] == query.source and nodes[-1] == query.target, nodes
    assert len(set(nodes)) == len(nodes), f"route repeats a node: {nodes}"
    for i, e in enumerate(edges):
        assert 0 <= e < n_edges, f"bad edge index {e}"
        ends = (case.tail[e], case.head[e])
        assert ends in ((nodes[i], nodes[i + 1]), (nodes[i + 1], nodes[i])), (
            f"edge {e} {ends} does not join nodes {nodes[i]} and {nodes[i + 1]}"
        )
        if case.edge_allowed is not None:
            assert case.edge_allowed[e], f"route uses forbidden edge {e}"

    # Reported numbers match a recomputation from the arrays.
    ev = evaluate_route(arrays, edges, nodes)
    assert _close(result.cost, ev.cost), (result.cost, ev.cost)
    assert _close(result.edge_cost, ev.edge_cost), (result.edge_cost, ev.edge_cost)
    assert _close(result.permit_cost, ev.permit_cost), (result.permit_cost, ev.permit_cost)
    assert _close(result.latency_ms, ev.latency_ms), (result.latency_ms, ev.latency_ms)
    assert tuple(int(j) for j in result.jurisdictions) == ev.jurisdictions, (
        result.jurisdictions,
        ev.jurisdictions,
    )
    assert is_feasible(ev, query), f"solver route violates a limit: {ev}"

    # Optimality (and the latency tie-break) against the brute force.
    assert _close(result.cost, best.cost), (
        f"solver cost {result.cost} != brute-force optimum {best.cost} "
        f"(solver edges {edges}, brute-force edges {best.edges})"
    )
    assert result.latency_ms <= best.latency_ms + 1e-6, (
        f"cost tie not broken by latency: solver {result.latency_ms} ms "
        f"(edges {edges}) vs {best.latency_ms} ms (edges {best.edges})"
    )
    assert result.bound <= result.cost + 1e-6, (result.bound, result.cost)
    assert abs(result.gap) < 1e-9, result.gap


# --------------------------------------------------------------------------
# Random instances
# --------------------------------------------------------------------------


def _value(draw, mode: str, max_int: int, max_hundredths: int) -> float:
    if mode == "mixed":
        mode = draw(st.sampled_from(["int", "float"]))
    if mode == "int":  # small integers: many ties
        return float(draw(st.integers(0, max_int)))
    return draw(st.integers(0, max_hundredths)) / 100.0  # floats with 2 decimals


REGIMES = ("general", "permits", "infeasible")


@st.composite
def cases(draw, regime: str = "general") -> Case:
    """Random tiny instances.

    * "general": everything varies, limits from "too tight" to "loose"; a mix
      of feasible and infeasible cases.
    * "permits": several paths through many jurisdictions with large permits
      and mild limits; only cases where permit costs change the optimum are
      kept (the route that is best by edge cost alone is not optimal).
    * "infeasible": limits are pushed below what any allowed path achieves (or
      source and target are disconnected); only infeasible cases are kept.
    """
    assert regime in REGIMES
    permits = regime == "permits"
    infeasible = regime == "infeasible"

    n = draw(st.integers(2, 9))
    if permits:
        n_edges = draw(st.integers(min(16, n + 1), 16))
    elif draw(st.integers(0, 4)) > 0:
        n_edges = draw(st.integers(n - 1, 16))
    else:
        n_edges = draw(st.integers(0, 16))
    # Sometimes split the nodes in two groups with no edge between them.
    group = [0] * n
    if not permits and draw(st.integers(0, 4)) == 0:
        group = [draw(st.integers(0, 1)) for _ in range(n)]

    tail: list[int] = []
    head: list[int] = []
    # Usually start with a random spanning forest (one tree per group) so that
    # most instances have several source-target paths.
    if permits or draw(st.integers(0, 4)) > 0:
        for v in range(1, n):
            earlier = [u for u in range(v) if group[u] == group[v]]
            if earlier and len(tail) < n_edges:
                tail.append(draw(st.sampled_from(earlier)))
                head.append(v)
    while len(tail) < n_edges:
        kind = draw(st.integers(0, 19))
        if kind == 0:  # self-loop
            u = draw(st.integers(0, n - 1))
            v = u
        elif kind <= 4 and tail:  # parallel to an existing edge, maybe reversed
            i = draw(st.integers(0, len(tail) - 1))
            u, v = (tail[i], head[i]) if draw(st.booleans()) else (head[i], tail[i])
        else:
            u = draw(st.integers(0, n - 1))
            same = [w for w in range(n) if w != u and group[w] == group[u]]
            # An isolated group of one node only gets self-loops.
            v = draw(st.sampled_from(same)) if same else u
        tail.append(u)
        head.append(v)

    cost_mode = draw(st.sampled_from(["int", "float", "mixed"]))
    lat_mode = draw(st.sampled_from(["int", "int", "float", "mixed"]))
    max_int, max_hundredths = (3, 300) if permits else (5, 1000)
    cost = [_value(draw, cost_mode, max_int, max_hundredths) for _ in range(n_edges)]
    latency = [_value(draw, lat_mode, 5, 1000) for _ in range(n_edges)]

    if permits:
        n_levels = draw(st.integers(1, 2))
        n_juris = draw(st.integers(3, 8))
    else:
        n_levels = draw(st.sampled_from([0, 1, 1, 2, 2]))
        n_juris = draw(st.integers(1, 6)) if n_levels else draw(st.integers(0, 2))
    shared_pool = draw(st.booleans())  # same id may appear at both levels
    none_in_10 = draw(st.sampled_from([3, 6] if permits else [0, 3, 6]))  # share of -1
    jurisdiction = []
    for _ in range(n_edges):
        row = []
        for level in range(n_levels):
            pool = [j for j in range(n_juris) if shared_pool or j % n_levels == level]
            if not pool or draw(st.integers(0, 9)) < none_in_10:
                row.append(-1)
            else:
                row.append(draw(st.sampled_from(pool)))
        jurisdiction.append(tuple(row))
    permit_modes = ["big", "big", "int", "float"]
    if not permits:
        permit_modes += ["zero", "mixed"]
    permit_mode = draw(st.sampled_from(permit_modes))
    permit_cost = [
        0.0
        if permit_mode == "zero"
        else float(draw(st.integers(0, 20)))
        if permit_mode == "big"
        else _value(draw, permit_mode, 8, 800)
        for _ in range(n_juris)
    ]
    counted = [draw(st.integers(0, 3)) > 0 for _ in range(n_juris)]

    source = draw(st.integers(0, n - 1))
    target = draw(st.sampled_from([v for v in range(n) if v != source]))

    edge_allowed = None
    if draw(st.integers(0, 4)) < (1 if permits else 2):
        edge_allowed = tuple(draw(st.integers(0, 6)) > 0 for _ in range(n_edges))

    # Limits are chosen relative to the allowed paths, from "too tight" to "loose".
    partial = Case(
        n_nodes=n,
        tail=tuple(tail),
        head=tuple(head),
        cost=tuple(cost),
        latency_ms=tuple(latency),
        n_levels=n_levels,
        jurisdiction=tuple(jurisdiction),
        permit_cost=tuple(permit_cost),
        counted=tuple(counted),
        source=source,
        target=target,
        max_latency_ms=0.0,
        edge_allowed=edge_allowed,
    )
    arrays = partial.arrays()
    routes = all_allowed_routes(
        arrays, SimpleNamespace(source=source, target=target, edge_allowed=edge_allowed)
    )
    lats = sorted({round(r.latency_ms, 2) for r in routes})
    costs = sorted({round(r.cost, 2) for r in routes})
    min_count = min((r.count for r in routes), default=0)

    # In the infeasible regime one limit (or all three) is made too tight.
    tight = "none"
    if infeasible:
        tight = draw(st.sampled_from(["latency", "latency", "cost", "jurisdictions", "all"]))

    if tight in ("latency", "all"):
        lat_rule = "tight"
    else:
        lat_rules = ["exact", "between", "between", "loose", "loose"]
        if not permits:
            lat_rules += ["tight", "exact", "any"]
        lat_rule = draw(st.sampled_from(lat_rules))
    # The solver rejects max_latency_ms <= 0 as invalid input: bounds start at 0.01.
    if lat_rule == "tight" and lats and lats[0] > 0.01:
        max_latency = max(0.01, round(lats[0] - draw(st.integers(1, 300)) / 100.0, 2))
    elif lat_rule == "exact" and lats and lats[-1] > 0:
        max_latency = draw(st.sampled_from([x for x in lats if x > 0]))
    elif lat_rule == "between" and lats:
        lo, hi = round(lats[0] * 100), round(lats[-1] * 100)
        max_latency = draw(st.integers(max(1, lo), max(1, hi))) / 100.0
    elif lat_rule == "loose":
        max_latency = round(sum(latency) + 10.0, 2)
    else:
        max_latency = draw(st.integers(1, 3000)) / 100.0

    max_jurisdictions = None
    if tight in ("jurisdictions", "all") and min_count > 0:
        max_jurisdictions = draw(st.integers(0, min(4, min_count - 1)))
    elif draw(st.booleans()):
        max_jurisdictions = draw(st.integers(1 if permits else 0, 4))

    if tight in ("cost", "all"):
        cost_rule = "below"
    else:
        cost_rules = ["none", "none", "none", "exact", "between"]
        if not permits:
            cost_rules += ["below", "any"]
        cost_rule = draw(st.sampled_from(cost_rules))
    max_cost = None
    if cost_rule == "below" and costs and costs[0] > 0:
        # Often less than one unit below: catches bounds rounded to whole units.
        below = draw(st.integers(1, 99) | st.integers(1, 300))
        max_cost = max(0.0, round(costs[0] - below / 100.0, 2))
    elif cost_rule == "exact" and costs:
        max_cost = draw(st.sampled_from(costs))
    elif cost_rule == "between" and costs:
        lo, hi = round(costs[0] * 100), round(costs[-1] * 100)
        max_cost = draw(st.integers(lo, hi)) / 100.0
    elif cost_rule == "any":
        max_cost = draw(st.integers(0, 5000)) / 100.0

    case = Case(
        n_nodes=n,
        tail=tuple(tail),
        head=tuple(head),
        cost=tuple(cost),
        latency_ms=tuple(latency),
        n_levels=n_levels,
        jurisdiction=tuple(jurisdiction),
        permit_cost=tuple(permit_cost),
        counted=tuple(counted),
        source=source,
        target=target,
        max_latency_ms=float(max_latency),
        max_jurisdictions=max_jurisdictions,
        max_cost=max_cost,
        edge_allowed=edge_allowed,
    )
    if permits or infeasible:
        analysis = analyze_route(arrays, case.query())
        if permits:
            assume(analysis.permit_changes_optimum)
        else:
            assume(analysis.best is None)
    return case


def _classify(analysis: BruteAnalysis, case: Case) -> list[str]:
    tags = []
    if analysis.best is None:
        tags.append("infeasible")
        if analysis.n_allowed_paths == 0:
            tags.append("infeasible:no-allowed-path")
        else:
            if analysis.latency_alone_infeasible:
                tags.append("infeasible:latency")
            if analysis.jurisdictions_alone_infeasible:
                tags.append("infeasible:jurisdictions")
            if analysis.cost_alone_infeasible:
                tags.append("infeasible:cost")
            if not (
                analysis.latency_alone_infeasible
                or analysis.jurisdictions_alone_infeasible
                or analysis.cost_alone_infeasible
            ):
                tags.append("infeasible:combined-limits")
    else:
        tags.append("feasible")
        if analysis.permit_changes_optimum:
            tags.append("permit-changes-optimum")
        if analysis.n_feasible_paths < analysis.n_allowed_paths:
            tags.append("limits-cut-some-paths")
    if case.n_levels:
        tags.append(f"levels={case.n_levels}")
    if case.edge_allowed is not None:
        tags.append("edge_allowed")
    if any(t == h for t, h in zip(case.tail, case.head, strict=True)):
        tags.append("self-loop")
    if len(set(map(frozenset, zip(case.tail, case.head, strict=True)))) < len(case.tail):
        tags.append("parallel-edges")
    return tags


def _run_random(regime: str, n_examples: int) -> Counter[str]:
    stats: Counter[str] = Counter()

    @settings(
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
    @given(case=cases(regime))
    def run(case: Case) -> None:
        analysis, _ = check_case(case, log=note)
        stats["cases"] += 1
        stats.update(_classify(analysis, case))

    run()
    total = stats["cases"]
    print(
        f"\n[{regime}] {total} random cases: "
        + ", ".join(f"{k}={v}" for k, v in sorted(stats.items()) if k != "cases")
    )
    return stats


# 400 + 200 + 200 = 800 random cases (about 10 s); at least 25% infeasible and
# 25% where permits change the optimum, by construction of the last two regimes.
N_GENERAL, N_PERMITS, N_INFEASIBLE = 400, 200, 200


def test_random_general_cases_match_bruteforce() -> None:
    stats = _run_random("general", N_GENERAL)
    assert stats["cases"] == N_GENERAL
    # Guard the generator's coverage (not the solver): both outcomes occur.
    assert stats["feasible"] >= N_GENERAL // 4 and stats["infeasible"] >= N_GENERAL // 10, stats


def test_random_permit_driven_cases_match_bruteforce() -> None:
    stats = _run_random("permits", N_PERMITS)
    assert stats["cases"] == N_PERMITS == stats["permit-changes-optimum"], stats


def test_random_infeasible_cases_match_bruteforce() -> None:
    stats = _run_random("infeasible", N_INFEASIBLE)
    assert stats["cases"] == N_INFEASIBLE == stats["infeasible"], stats
    assert stats["infeasible:latency"] >= N_INFEASIBLE // 5, stats
    assert stats["infeasible:cost"] >= N_INFEASIBLE // 10, stats


# --------------------------------------------------------------------------
# Hand-written cases
# --------------------------------------------------------------------------


def test_tolerance_constant() -> None:
    assert LATENCY_TOLERANCE_MS == 1e-6


def _diamond(max_latency_ms: float) -> Case:
    # 0 -> 1 -> 3 is cheap (2) but slow (10 ms); 0 -> 2 -> 3 costs 6 and takes 2 ms.
    return make_case(
        4,
        [
            (0, 1, 1, 5, []),
            (1, 3, 1, 5, []),
            (0, 2, 3, 1, []),
            (2, 3, 3, 1, []),
        ],
        n_levels=0,
        source=0,
        target=3,
        max_latency_ms=max_latency_ms,
    )


def test_diamond_cheap_path_too_slow() -> None:
    _, result = check_case(_diamond(7.5))
    assert result.status is RouteStatus.OPTIMAL
    assert tuple(result.edges) == (2, 3)
    assert tuple(result.nodes) == (0, 2, 3)
    assert result.cost == 6.0 and result.latency_ms == 2.0


def test_diamond_loose_takes_cheap_path() -> None:
    _, result = check_case(_diamond(10.0))  # exactly on the bound
    assert tuple(result.edges) == (0, 1)
    assert result.cost == 2.0


def test_diamond_too_tight_reports_fastest() -> None:
    analysis, result = check_case(_diamond(1.5))
    assert analysis.best is None and analysis.min_allowed_latency_ms == 2.0
    assert result.status is RouteStatus.INFEASIBLE
    assert "fastest" in result.reason.lower() and "1.50" in result.reason


def test_reversed_edges_and_latency_tolerance() -> None:
    # Edges stored head->tail relative to travel direction; the bound is met
    # only within LATENCY_TOLERANCE_MS (0.1 + 0.2 > 0.3 in floating point).
    case = make_case(
        3,
        [(1, 0, 1, 0.1, []), (2, 1, 1, 0.2, []), (2, 0, 5, 0.0, [])],
        n_levels=0,
        source=0,
        target=2,
        max_latency_ms=0.3,
    )
    _, result = check_case(case)
    assert tuple(result.nodes) == (0, 1, 2) and result.cost == 2.0


def test_permit_cost_makes_longer_path_cheaper() -> None:
    # Direct edge costs 1 but crosses jurisdiction 0 (permit 10); the 2-hop
    # detour costs 4 with no permits.
    case = make_case(
        3,
        [(0, 1, 1, 1, [0]), (0, 2, 2, 1, [-1]), (2, 1, 2, 1, [-1])],
        permit_cost=[10.0],
        source=0,
        target=1,
        max_latency_ms=100,
    )
    analysis, result = check_case(case)
    assert analysis.permit_changes_optimum
    assert tuple(result.edges) == (1, 2)
    assert result.cost == 4.0 and result.permit_cost == 0.0
    assert tuple(result.jurisdictions) == ()


def test_reentered_jurisdiction_paid_once() -> None:
    # 0-1-2-3 enters jurisdiction 0, leaves for 1, re-enters 0:
    # 3 + permit(0)=5 + permit(1)=1 = 9 (14 if paying 0 twice) < direct 10.
    case = make_case(
        4,
        [
            (0, 1, 1, 1, [0, -1]),
            (1, 2, 1, 1, [-1, 1]),
            (2, 3, 1, 1, [0, -1]),
            (0, 3, 10, 1, [-1, -1]),
        ],
        n_levels=2,
        permit_cost=[5.0, 1.0],
        source=0,
        target=3,
        max_latency_ms=100,
    )
    _, result = check_case(case)
    assert tuple(result.edges) == (0, 1, 2)
    assert result.cost == 9.0 and result.permit_cost == 6.0
    assert tuple(result.jurisdictions) == (0, 1)


def test_same_jurisdiction_on_two_levels_paid_once() -> None:
    case = make_case(
        2,
        [(0, 1, 1, 1, [3, 3]), (0, 1, 5.5, 1, [-1, -1])],
        n_levels=2,
        permit_cost=[0, 0, 0, 4],
        source=1,
        target=0,
        max_latency_ms=1,
    )
    _, result = check_case(case)
    assert tuple(result.edges) == (0,) and result.cost == 5.0


def _jurisdiction_limit_case(max_jurisdictions: int | None) -> Case:
    # cheap: 0-1-3 through counted jurisdictions 0 and 1 (cost 2, no permits)
    # middle: 0-2-3 through counted 0 and uncounted 2 (cost 4)
    # dear: 0-3 direct, no jurisdiction (cost 9)
    return make_case(
        4,
        [
            (0, 1, 1, 1, [0]),
            (1, 3, 1, 1, [1]),
            (0, 2, 2, 1, [0]),
            (2, 3, 2, 1, [2]),
            (0, 3, 9, 1, [-1]),
        ],
        permit_cost=[0.0, 0.0, 0.0],
        counted=[True, True, False],
        source=0,
        target=3,
        max_latency_ms=5,
        max_jurisdictions=max_jurisdictions,
    )


def test_max_jurisdictions_forces_costlier_path() -> None:
    expected = {None: (2.0, (0, 1)), 2: (2.0, (0, 1)), 1: (4.0, (2, 3)), 0: (9.0, (4,))}
    for limit, (cost, edges) in expected.items():
        _, result = check_case(_jurisdiction_limit_case(limit))
        assert result.cost == cost and tuple(result.edges) == edges, (limit, result)


def test_max_jurisdictions_zero_infeasible() -> None:
    case = make_case(
        2,
        [(0, 1, 1, 1, [0])],
        permit_cost=[0.0],
        source=0,
        target=1,
        max_latency_ms=5,
        max_jurisdictions=0,
    )
    analysis, result = check_case(case)
    assert analysis.best is None and result.status is RouteStatus.INFEASIBLE


def test_max_cost_cuts_everything() -> None:
    case = _diamond(100.0)
    case = Case(**{**case.__dict__, "max_cost": 1.99})
    analysis, result = check_case(case)
    assert analysis.best is None and result.status is RouteStatus.INFEASIBLE


def test_max_cost_counts_permits_with_whole_unit_costs() -> None:
    # Integer edge costs and permits, fractional max_cost: the only route costs
    # edge 1 + permit 1 = 2 > 1.5, so there is no feasible route.
    for edge_cost, permit, max_cost in [(1.0, 1.0, 1.0), (1.0, 1.0, 1.5), (0.0, 1.0, 0.99), (2.0, 1.0, 2.5)]:
        case = make_case(
            2,
            [(0, 1, edge_cost, 0.5, [0])],
            permit_cost=[permit],
            counted=[False],
            source=0,
            target=1,
            max_latency_ms=1.0,
            max_cost=max_cost,
        )
        analysis, result = check_case(case)
        assert analysis.best is None and result.status is RouteStatus.INFEASIBLE, (
            edge_cost,
            permit,
            max_cost,
        )


def test_max_cost_does_not_hide_cheaper_route() -> None:
    # Found by the random search: with max_cost 4.01 the solver returned the
    # route 1-0-2 through jurisdiction 1 (cost 3) as OPTIMAL although
    # 1-0-2 over the permit-free edges 3 and 5 costs 0.02 + 1.0 = 1.02.
    edges = [
        (0, 1, 0.0, 0.0, [0]),
        (0, 2, 0.0, 0.0, [0]),
        (2, 3, 1.0, 0.0, [-1]),
        (1, 0, 0.02, 0.0, [-1]),
        (1, 0, 0.0, 0.0, [1]),
        (2, 0, 1.0, 0.0, [-1]),
        (2, 0, 0.0, 0.0, [1]),
        (0, 3, 0.01, 0.0, [-1]),
    ]
    kwargs = dict(permit_cost=[2.0, 3.0], counted=[False, False], source=1, target=2, max_latency_ms=1.0)
    for max_cost in (None, 4.01, 100.0):
        _, result = check_case(make_case(4, edges, max_cost=max_cost, **kwargs))
        assert result.cost == 1.02 and tuple(result.edges) == (3, 5), (max_cost, result)


def test_max_cost_does_not_hide_cheaper_parallel_edge() -> None:
    # Found by the random search (shrunk): five parallel edges; edge 1 costs
    # 1 + permit 5 = 6, the solver returned edge 0 (0 + permit 18) as OPTIMAL
    # when max_cost=32 (fine with max_cost None or 100).
    edges = [
        (0, 1, 0.0, 0.0, [2, -1]),
        (1, 0, 1.0, 0.0, [0, -1]),
        (1, 0, 1.0, 0.0, [-1, 5]),
        (1, 0, 0.0, 0.0, [2, 1]),
        (0, 1, 0.82, 0.0, [0, 1]),
    ]
    kwargs = dict(
        n_levels=2,
        permit_cost=[5.0, 13.0, 18.0, 0.0, 0.0, 8.0],
        counted=[False] * 6,
        source=1,
        target=0,
        max_latency_ms=1.0,
    )
    for max_cost in (None, 32.0, 100.0):
        _, result = check_case(make_case(2, edges, max_cost=max_cost, **kwargs))
        assert result.cost == 6.0 and tuple(result.edges) == (1,), (max_cost, result)


def test_slow_cheap_route_within_latency_bound() -> None:
    # Found by the random search (shrunk; no max_cost): 4-0-2-6 over edges
    # 4, 0, 1 costs 3 and takes 18 ms <= 21.24 ms, but the solver returned
    # 4-3-0-2-6 (cost 5, 8 ms) as OPTIMAL with bound 5.  With
    # max_latency_ms=30 it finds the cost-3 route.
    edges = [
        (0, 2, 0.0, 3.0, [-1, -1]),
        (2, 6, 0.0, 5.0, [-1, -1]),
        (3, 4, 3.0, 0.0, [-1, -1]),
        (3, 0, 2.0, 0.0, [-1, -1]),
        (4, 0, 3.0, 10.0, [-1, -1]),
        (0, 1, 0.0, 2.0, [4, -1]),
        (4, 3, 0.0, 10.0, [-1, 6]),
        (3, 5, 0.0, 0.0, [-1, -1]),
        (0, 1, 0.0, 3.0, [6, -1]),
        (5, 1, 0.0, 6.57, [-1, 6]),
    ]
    permit_cost = [0.0, 0.0, 0.0, 0.0, 13.0, 0.0, 19.0, 0.0]
    for max_latency_ms in (21.24, 30.0):
        case = make_case(
            8,
            edges,
            n_levels=2,
            permit_cost=permit_cost,
            counted=[False] * 8,
            source=4,
            target=6,
            max_latency_ms=max_latency_ms,
        )
        _, result = check_case(case)
        assert result.cost == 3.0 and tuple(result.edges) == (4, 0, 1), (max_latency_ms, result)


def test_edge_allowed_and_parallel_edges() -> None:
    # Three parallel 0-1 edges: cheapest is forbidden, next is slow, third is fine.
    case = make_case(
        3,
        [(0, 1, 1, 1, []), (1, 0, 2, 9, []), (0, 1, 3, 1, []), (1, 2, 1, 1, []), (2, 2, 0, 0, [])],
        n_levels=0,
        source=0,
        target=2,
        max_latency_ms=5,
        edge_allowed=[False, True, True, True, True],
    )
    _, result = check_case(case)
    assert tuple(result.edges) == (2, 3) and result.cost == 4.0


def test_cost_tie_broken_by_latency() -> None:
    case = make_case(
        4,
        [(0, 1, 2, 3, []), (1, 3, 2, 3, []), (0, 2, 1, 1, []), (2, 3, 3, 1, [])],
        n_levels=0,
        source=0,
        target=3,
        max_latency_ms=10,
    )
    _, result = check_case(case)
    assert tuple(result.edges) == (2, 3) and result.latency_ms == 2.0


def test_source_and_target_in_different_components() -> None:
    case = make_case(
        5,
        [(0, 1, 1, 1, [0]), (1, 2, 1, 1, [0]), (3, 4, 1, 1, [0]), (4, 4, 0, 0, [0])],
        permit_cost=[1.0],
        source=0,
        target=4,
        max_latency_ms=100,
    )
    analysis, result = check_case(case)
    assert analysis.n_allowed_paths == 0 and analysis.min_allowed_latency_ms is None
    assert result.status is RouteStatus.INFEASIBLE
    assert tuple(result.edges) == () and result.reason.strip()


def test_no_edges_at_all() -> None:
    case = make_case(2, [], n_levels=2, source=0, target=1, max_latency_ms=1)
    _, result = check_case(case)
    assert result.status is RouteStatus.INFEASIBLE


# --------------------------------------------------------------------------
# Sanity checks of the brute force itself (no solver involved)
# --------------------------------------------------------------------------


def test_bruteforce_path_enumeration() -> None:
    # K4: simple paths between two nodes = 1 direct + 2 via one + 2 via two.
    k4 = [(u, v) for u in range(4) for v in range(u + 1, 4)]
    paths = list(iter_simple_paths(4, [u for u, _ in k4], [v for _, v in k4], 0, 3))
    assert len(paths) == 5
    assert len({p[0] for p in paths}) == 5
    # Parallel edges multiply; self-loops and forbidden edges never appear.
    tail, head = [0, 1, 0, 1, 1], [1, 0, 0, 2, 1]
    paths = list(iter_simple_paths(3, tail, head, 0, 2))
    assert sorted(p[0] for p in paths) == [(0, 3), (1, 3)]
    paths = list(iter_simple_paths(3, tail, head, 0, 2, [False, True, True, True, True]))
    assert [p for p in paths] == [((1, 3), (0, 1, 2))]
    assert list(iter_simple_paths(3, tail, head, 2, 0)) != []
    assert list(iter_simple_paths(3, tail, head, 0, 0)) == []


def test_bruteforce_semantics() -> None:
    case = make_case(
        4,
        [
            (0, 1, 1, 1, [0, -1]),
            (1, 2, 1, 1, [-1, 1]),
            (2, 3, 1, 1, [0, 2]),
            (0, 3, 10, 1, [-1, -1]),
        ],
        n_levels=2,
        permit_cost=[5.0, 1.0, 0.5],
        counted=[True, False, True],
        source=0,
        target=3,
        max_latency_ms=100,
    )
    best = brute_force_route(case.arrays(), case.query())
    assert best is not None
    assert best.edges == (0, 1, 2) and best.nodes == (0, 1, 2, 3)
    assert best.cost == 9.5 and best.edge_cost == 3.0 and best.permit_cost == 6.5
    assert best.jurisdictions == (0, 1, 2) and best.count == 2
    assert best.min_allowed_latency_ms == 1.0
    limited = Case(**{**case.__dict__, "max_jurisdictions": 1})
    best = brute_force_route(limited.arrays(), limited.query())
    assert best is not None and best.edges == (3,) and best.count == 0
    slow = Case(**{**case.__dict__, "max_latency_ms": 0.5})
    analysis = analyze_route(slow.arrays(), slow.query())
    assert analysis.best is None and analysis.latency_alone_infeasible
    assert analysis.min_allowed_latency_ms == 1.0


def test_bruteforce_min_latency_matches_dijkstra() -> None:
    """Cross-check the enumeration against scipy's Dijkstra (no solver involved)."""
    from scipy.sparse.csgraph import csgraph_from_dense, dijkstra

    @settings(max_examples=200, deadline=None, derandomize=True, database=None, print_blob=False)
    @given(case=cases("general"))
    def run(case: Case) -> None:
        dense = np.full((case.n_nodes, case.n_nodes), np.inf)
        for e, (u, v) in enumerate(zip(case.tail, case.head, strict=True)):
            if u != v and (case.edge_allowed is None or case.edge_allowed[e]):
                w = min(dense[u, v], case.latency_ms[e])
                dense[u, v] = dense[v, u] = w
        graph = csgraph_from_dense(dense, null_value=np.inf)
        dist = dijkstra(graph, directed=False, indices=case.source)[case.target]
        analysis = analyze_route(case.arrays(), case.query())
        if analysis.min_allowed_latency_ms is None:
            assert np.isinf(dist)
        else:
            assert math.isclose(analysis.min_allowed_latency_ms, dist, rel_tol=1e-9, abs_tol=1e-9)

    run()
