"""Randomized differential tests: ``optimizer.via.solve_via_route`` (a must-pass route) vs brute force.

The reference (tests/bruteforce_via.py) enumerates, for every order of the stops, every choice
of a stop edge and its direction and every combination of simple paths between them; it shares
no code with the solver.  Random cases come from hypothesis strategies with ``derandomize=True``
(same examples on every run, no example database) on tiny multigraphs (5-8 nodes, 6-12 edges,
some parallel edges and self-loops), costs and latencies in hundredths (often whole numbers, so
ties are exact), K = 1-3 stops of 1-2 edges each, ordered and unordered, in two regimes:

* "mixed": permits (1-2 levels, some jurisdictions counted) on half the cases, a random
  edge_allowed on some, latency bounds from loose to infeasible, max_jurisdictions and
  max_cost on some;
* "limits": permits on every case, max_jurisdictions and max_cost set relative to the
  unlimited optimum, latency bounds mostly loose.

Each case checks: OPTIMAL iff the brute force finds a route (INFEASIBLE, with no edges,
otherwise); the optimal cost; latency no more than the least among the cost-tied optima; the
returned walk is one (source to target, consecutive edges joined, only allowed non-loop edges,
every stop passed, in order when ordered) within the limits, and its cost and latency as
reported.  Plus hand-written cases (a stop on a dead-end spur, an unreachable stop, ordered vs
unordered, a permit paid once over two legs) and self-checks of the brute force that run without
the solver (hand answers, pruned vs plain enumeration, a literal walk enumeration, a single stop
of every edge vs tests/bruteforce.py).  Inputs stay inside the solver's likely preconditions
(source != target, max_latency_ms >= 0.01, stops non-empty and disjoint).

The solver is imported lazily, so the self-checks run even while optimizer.via does not exist.
On a failure hypothesis shrinks the case and prints it as ``ViaCase(...)`` and as a standalone
reproducer script (``Reproducer:`` note).
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from itertools import combinations, permutations
from types import SimpleNamespace
from typing import Any

import numpy as np
import pytest
from hypothesis import HealthCheck, Phase, assume, given, note, settings
from hypothesis import strategies as st

from optimizer.problem import EdgeArrays, RouteQuery, RouteResult, RouteStatus, SolverOptions

from . import bruteforce_via as bf

OPTIONS = SolverOptions(time_limit_s=10, num_workers=1)

REL_TOL = 1e-9
ABS_TOL = 1e-9
REPORT_REL_TOL = 1e-6  # reported cost and latency vs the walk's, recomputed
LATENCY_ABS_TOL = 1e-6
LOOSE = 1e9  # a latency bound that cuts nothing, for the generators' own analysis


def _close(a: float, b: float, rel_tol: float = REL_TOL, abs_tol: float = ABS_TOL) -> bool:
    return math.isclose(float(a), float(b), rel_tol=rel_tol, abs_tol=abs_tol)


# --------------------------------------------------------------------------
# Case representation
# --------------------------------------------------------------------------


@dataclass(frozen=True)
class ViaCase:
    """A must-pass problem in plain Python values (readable when printed)."""

    n_nodes: int
    tail: tuple[int, ...]
    head: tuple[int, ...]
    cost: tuple[float, ...]
    latency_ms: tuple[float, ...]
    n_levels: int
    jurisdiction: tuple[tuple[int, ...], ...]  # E rows of n_levels ids
    permit_cost: tuple[float, ...]
    counted: tuple[bool, ...]
    source: int = 0
    target: int = 1
    max_latency_ms: float = LOOSE
    max_jurisdictions: int | None = None
    max_cost: float | None = None
    edge_allowed: tuple[bool, ...] | None = None
    stops: tuple[tuple[int, ...], ...] = ()
    ordered: bool = True

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
                else np.array(self.edge_allowed, dtype=bool).reshape(self.n_edges)
            ),
        )

    def stop_arrays(self) -> list[np.ndarray]:
        return [np.array(stop, dtype=np.int64).reshape(len(stop)) for stop in self.stops]

    def brute(self, **kwargs: Any) -> bf.ViaBrute:
        return bf.brute_force_via(
            self.arrays(), self.query(), self.stops, ordered=kwargs.pop("ordered", self.ordered), **kwargs
        )

    def to_code(self) -> str:
        n_edges = self.n_edges
        allowed = (
            "None" if self.edge_allowed is None else f"np.array({list(self.edge_allowed)!r}, dtype=bool)"
        )
        return "\n".join(
            [
                "import numpy as np",
                "from optimizer.problem import EdgeArrays, RouteQuery, SolverOptions",
                "from optimizer.via import solve_via_route",
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
                f" max_latency_ms={self.max_latency_ms!r}, max_jurisdictions={self.max_jurisdictions!r},"
                f" max_cost={self.max_cost!r}, edge_allowed={allowed})",
                f"stops = [{', '.join(f'np.array({list(s)!r}, dtype=np.int64)' for s in self.stops)}]",
                f"print(solve_via_route(arrays, query, stops, ordered={self.ordered!r},"
                " options=SolverOptions(time_limit_s=10, num_workers=1)))",
            ]
        )


def make_case(
    n_nodes: int,
    edges: list[tuple[int, int, float, float, list[int]]],
    source: int,
    target: int,
    stops: Sequence[Sequence[int]],
    *,
    ordered: bool = True,
    n_levels: int = 1,
    permit_cost: list[float] | None = None,
    counted: list[bool] | None = None,
    **query: Any,
) -> ViaCase:
    """Hand-written cases: edges are (u, v, cost, latency, [ids per level])."""
    permit_cost = permit_cost or []
    return ViaCase(
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
        stops=tuple(tuple(s) for s in stops),
        ordered=ordered,
        **query,
    )


# --------------------------------------------------------------------------
# The differential check
# --------------------------------------------------------------------------


def _solve(case: ViaCase) -> RouteResult:
    from optimizer.via import solve_via_route

    return solve_via_route(
        case.arrays(), case.query(), case.stop_arrays(), ordered=case.ordered, options=OPTIONS
    )


def _describe(brute: bf.ViaBrute) -> str:
    if brute.best is None:
        return f"brute force: no feasible route ({brute.n_walks} walks evaluated)"
    b = brute.best
    return (
        f"brute force: cost={b.cost} latency={b.latency_ms} (least among cost ties) edges={b.edges} "
        f"nodes={b.nodes} jurisdictions={b.jurisdictions} ({brute.n_walks} walks evaluated)"
    )


def check_via_case(
    case: ViaCase, log: Callable[[str], None] | None = None
) -> tuple[bf.ViaBrute, RouteResult]:
    """Solve ``case`` and assert everything the brute force can verify."""
    arrays, query = case.arrays(), case.query()
    brute = case.brute()
    if log is not None:
        log(f"Reproducer:\n{case.to_code()}")
        log(_describe(brute))
    result = _solve(case)
    if log is not None:
        log(f"solver: {result}")
    if not brute.feasible:
        assert result.status is RouteStatus.INFEASIBLE, (
            f"brute force finds no feasible route but solver says {result.status}: edges {result.edges}, "
            f"cost {result.cost}, {result.reason!r}"
        )
        assert tuple(result.edges) == (), f"infeasible result has edges {result.edges}"
        return brute, result
    assert result.status is RouteStatus.OPTIMAL, (
        f"brute force has a route (cost {brute.best.cost}, edges {brute.best.edges}) but solver says "
        f"{result.status}: {result.reason!r}"
    )
    edges = tuple(int(e) for e in result.edges)
    nodes = tuple(int(v) for v in result.nodes)
    problems = bf.walk_problems(arrays, query, case.stops, edges, nodes, ordered=case.ordered)
    assert not problems, f"returned walk edges={edges} nodes={nodes} is not a route: {problems}"
    walk = bf.evaluate_walk(arrays, edges, nodes)
    assert bf.latency_ok(walk.latency_ms, query), f"walk latency {walk.latency_ms} over {case.max_latency_ms}"
    assert bf.jurisdictions_ok(walk.count, query), (
        f"walk enters {walk.count} counted jurisdictions {walk.jurisdictions} > {case.max_jurisdictions}"
    )
    assert bf.cost_ok(walk.cost, query), f"walk cost {walk.cost} over max_cost {case.max_cost}"
    assert _close(result.cost, walk.cost, REPORT_REL_TOL, REPORT_REL_TOL), (
        f"reported cost {result.cost} != its walk's {walk.cost} ({walk})"
    )
    assert _close(result.latency_ms, walk.latency_ms, REPORT_REL_TOL, REPORT_REL_TOL), (
        f"reported latency {result.latency_ms} != its walk's {walk.latency_ms}"
    )
    assert _close(walk.cost, brute.best.cost), (
        f"solver walk costs {walk.cost} (edges {edges}), brute-force optimum {brute.best.cost} "
        f"(edges {brute.best.edges})"
    )
    assert walk.latency_ms <= brute.min_tied_latency_ms + LATENCY_ABS_TOL, (
        f"cost tie not broken by latency: solver {walk.latency_ms} ms (edges {edges}), brute force "
        f"{brute.min_tied_latency_ms} ms (edges {brute.best.edges})"
    )
    return brute, result


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
    draw, *, nodes: tuple[int, int] = (5, 8), edges: tuple[int, int] = (6, 12), permits: int = 5
) -> ViaCase:
    """A random tiny multigraph (spanning tree, sometimes missing a branch, + extra edges: ~1 in 5
    parallel to an earlier one, ~1 in 20 a self-loop) without a query."""
    n = draw(st.integers(*nodes))
    n_edges = draw(st.integers(max(n - 1, edges[0]), max(n - 1, edges[1])))
    tail: list[int] = []
    head: list[int] = []
    cut = draw(st.integers(1, n - 1)) if _chance(draw, 1) else None  # node left off the tree
    for v in range(1, n):
        if v == cut:
            continue
        u = draw(st.integers(0, v - 1))
        tail.append(u if draw(st.booleans()) else v)
        head.append(v if tail[-1] == u else u)
    while len(tail) < n_edges:
        kind = draw(st.integers(0, 19))
        if kind == 0:  # self-loop
            u = v = draw(st.integers(0, n - 1))
        elif kind <= 4 and tail:  # parallel to an existing edge, maybe reversed
            i = draw(st.integers(0, len(tail) - 1))
            u, v = (tail[i], head[i]) if draw(st.booleans()) else (head[i], tail[i])
        else:
            u = draw(st.integers(0, n - 1))
            v = draw(st.sampled_from([w for w in range(n) if w != u]))
        tail.append(u)
        head.append(v)
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
    return ViaCase(
        n_nodes=n,
        tail=tuple(tail),
        head=tuple(head),
        cost=tuple(cost),
        latency_ms=tuple(latency),
        n_levels=n_levels,
        jurisdiction=tuple(jurisdiction),
        permit_cost=tuple(permit_cost),
        counted=tuple(counted),
    )


def _stops(draw, case: ViaCase, k: int) -> tuple[tuple[int, ...], ...]:
    """k disjoint stops of 1-2 edges each; mostly ordinary edges, sometimes any (self-loops too)."""
    ordinary = [e for e in range(case.n_edges) if case.tail[e] != case.head[e]]
    pool = ordinary if len(ordinary) >= 2 * k and not _chance(draw, 1) else list(range(case.n_edges))
    sizes = [draw(st.integers(1, 2)) for _ in range(k)]
    ids = draw(st.permutations(pool))[: sum(sizes)]
    starts = [sum(sizes[:i]) for i in range(k)]
    return tuple(tuple(ids[s : s + size]) for s, size in zip(starts, sizes, strict=True))


def _fastest(case: ViaCase) -> bf.ViaBrute:
    """The least-latency via walk (no limits but edge_allowed): the brute force on the same graph
    with cost := latency and no permits (duck-typed arrays)."""
    arrays = SimpleNamespace(
        n_nodes=case.n_nodes,
        tail=case.tail,
        head=case.head,
        cost=case.latency_ms,
        latency_ms=case.latency_ms,
        jurisdiction=[() for _ in case.tail],
        permit_cost=(),
        counted=(),
    )
    query = SimpleNamespace(
        source=case.source,
        target=case.target,
        max_latency_ms=LOOSE,
        max_jurisdictions=None,
        max_cost=None,
        edge_allowed=case.edge_allowed,
    )
    return bf.brute_force_via(arrays, query, case.stops, ordered=case.ordered)


def _limits(draw, case: ViaCase, rules: str) -> tuple[int | None, float | None]:
    """max_jurisdictions and max_cost relative to the unlimited optimum and the fastest walk."""
    free = replace(case, max_latency_ms=LOOSE, max_jurisdictions=None, max_cost=None).brute()
    fastest = _fastest(case)
    best = free.best
    fast_cost = None if fastest.best is None else bf.evaluate_walk(case.arrays(), fastest.best.edges, ()).cost
    max_j = None
    j_rule = draw(st.sampled_from(["exact", "below", "any", "below", "none"] if rules == "all" else ["none"]))
    if j_rule == "below" and best is not None and best.count > 0:
        max_j = draw(st.integers(0, best.count - 1))
    elif j_rule == "exact" and best is not None:
        max_j = best.count
    elif j_rule == "any":
        max_j = draw(st.integers(0, 3))
    max_cost = None
    c_rule = draw(st.sampled_from(["between", "below", "exact", "between", "below", "any", "none"]))
    if c_rule == "below" and best is not None and best.cost > 0:
        max_cost = max(0.0, round(best.cost - draw(st.integers(1, 300)) / 100.0, 2))
    elif c_rule == "exact" and best is not None:
        max_cost = round(best.cost, 2)
    elif c_rule == "between" and best is not None and fast_cost is not None:
        lo, hi = sorted((round(best.cost * 100), round(fast_cost * 100)))
        max_cost = draw(st.integers(lo, hi)) / 100.0
    elif c_rule == "any":
        max_cost = draw(st.integers(0, 6000)) / 100.0
    return max_j, max_cost


def _latency_bound(draw, case: ViaCase, rules: Sequence[str]) -> float:
    """A latency bound relative to the fastest walk and the latency of the cheapest one."""
    fastest = _fastest(case).best
    cheapest = replace(case, max_latency_ms=LOOSE).brute().best
    rule = draw(st.sampled_from(rules))
    if fastest is None or cheapest is None:
        rule = "any"
    if rule == "tight" and fastest.latency_ms > 0.01:
        return max(0.01, round(fastest.latency_ms - draw(st.integers(1, 300)) / 100.0, 2))
    if rule == "exact":
        return max(0.01, round(draw(st.sampled_from([fastest.latency_ms, cheapest.latency_ms])), 2))
    if rule == "between":
        lo, hi = sorted((round(fastest.latency_ms * 100), round(cheapest.latency_ms * 100)))
        return max(1, draw(st.integers(lo, hi))) / 100.0
    if rule == "loose":
        return round(sum(case.latency_ms) * (2 * len(case.stops) + 2) + 10.0, 2)
    return draw(st.integers(1, 3000)) / 100.0


REGIMES = ("mixed", "limits")


@st.composite
def via_cases(draw, regime: str = "mixed", ordered: bool | None = None) -> ViaCase:
    """One must-pass query on a random tiny multigraph (see the module docstring)."""
    assert regime in REGIMES
    case = draw(graphs(permits=10 if regime == "limits" else 5))
    source = draw(st.integers(0, case.n_nodes - 1))
    target = draw(st.sampled_from([v for v in range(case.n_nodes) if v != source]))
    k = draw(st.sampled_from([1, 2, 2, 3, 3]))
    allowed = None
    if _chance(draw, 3 if regime == "mixed" else 1):
        allowed = tuple(draw(st.integers(0, 6)) > 0 for _ in range(case.n_edges))
    case = replace(
        case,
        source=source,
        target=target,
        edge_allowed=allowed,
        stops=_stops(draw, case, k),
        ordered=draw(st.booleans()) if ordered is None else ordered,
    )
    if regime == "limits" or _chance(draw, 4):
        max_j, max_cost = _limits(draw, case, "all" if case.n_levels else "cost")
        case = replace(case, max_jurisdictions=max_j, max_cost=max_cost)
    if regime == "limits":
        rules = ["loose", "loose", "between"]
    else:
        rules = ["tight", "exact", "between", "between", "loose", "loose", "any"]
    case = replace(case, max_latency_ms=_latency_bound(draw, case, rules))
    assume(case.brute().feasible or _chance(draw, 3 if regime == "mixed" else 4))
    return case


# --------------------------------------------------------------------------
# Runners
# --------------------------------------------------------------------------


def _tags(case: ViaCase, brute: bf.ViaBrute) -> list[str]:
    tags = [f"k={len(case.stops)}", "ordered" if case.ordered else "unordered"]
    if case.n_levels:
        tags.append("permits")
    if case.edge_allowed is not None:
        tags.append("edge_allowed")
    if case.max_jurisdictions is not None:
        tags.append("max_jurisdictions")
    if case.max_cost is not None:
        tags.append("max_cost")
    if any(not s for s in bf.usable_stops(case.arrays(), case.query(), case.stops)):
        tags.append("unusable-stop")
    if brute.best is None:
        tags.append("infeasible")
        return tags
    tags.append("feasible")
    edges, nodes = brute.best.edges, brute.best.nodes
    if len(set(edges)) < len(edges):
        tags.append("walk-repeats-edge")
    if len(set(nodes)) < len(nodes):
        tags.append("walk-repeats-node")
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


def _run(name: str, strategy: Any, n_examples: int, check: Callable[[ViaCase], list[str]]) -> Counter[str]:
    stats: Counter[str] = Counter()

    @_settings(n_examples)
    @given(case=strategy)
    def run(case: ViaCase) -> None:
        tags = check(case)
        stats["cases"] += 1
        stats.update(tags)

    run()
    print(
        f"\n[{name}] {stats['cases']} random cases: "
        + ", ".join(f"{k}={v}" for k, v in sorted(stats.items()) if k != "cases")
    )
    return stats


def _via_check(case: ViaCase) -> list[str]:
    brute, _ = check_via_case(case, log=note)
    return _tags(case, brute)


# Case counts (the whole file should stay well under 60 s on 2 cores).
N_MIXED = 250  # per ordered / unordered
N_LIMITS = 200


@pytest.mark.parametrize("ordered", [True, False], ids=["ordered", "unordered"])
def test_random_via_routes_match_bruteforce(ordered: bool) -> None:
    name = f"mixed/{'ordered' if ordered else 'unordered'}"
    stats = _run(name, via_cases("mixed", ordered), N_MIXED, _via_check)
    assert stats["cases"] == N_MIXED
    # Guard the generator's coverage (not the solver).
    assert stats["feasible"] >= N_MIXED // 2 and stats["infeasible"] >= N_MIXED // 20, stats
    assert min(stats["k=1"], stats["k=2"], stats["k=3"]) >= N_MIXED // 10, stats
    assert stats["permits"] >= N_MIXED // 4 and stats["edge_allowed"] >= N_MIXED // 10, stats
    assert stats["walk-repeats-node"] >= N_MIXED // 10 and stats["walk-repeats-edge"] >= 3, stats


def test_random_via_limits_match_bruteforce() -> None:
    stats = _run("limits", via_cases("limits"), N_LIMITS, _via_check)
    assert stats["cases"] == N_LIMITS
    assert stats["max_cost"] >= N_LIMITS // 3 and stats["max_jurisdictions"] >= N_LIMITS // 3, stats
    assert stats["feasible"] >= N_LIMITS // 3 and stats["infeasible"] >= N_LIMITS // 10, stats
    assert stats["ordered"] >= N_LIMITS // 4 and stats["unordered"] >= N_LIMITS // 4, stats


# --------------------------------------------------------------------------
# Hand-written cases (their brute-force answers are checked by hand below)
# --------------------------------------------------------------------------


def _spur(permit: bool = False) -> ViaCase:
    # 0 -e0- 1 -e1- 2, and a dead-end spur 1 -e2- 3 (cost 2, 1 ms; in jurisdiction 0, permit 5,
    # when permit).  Through e2 from 0 to 2: 0-1-3-1-2, e2 paid twice: 1+2+2+1 = 6, 4 ms.
    return make_case(
        4,
        [(0, 1, 1, 1, []), (1, 2, 1, 1, []), (1, 3, 2, 1, [0] if permit else [])],
        0,
        2,
        [[2]],
        permit_cost=[5.0] if permit else [],
    )


def _unreachable(how: str) -> ViaCase:
    # 0-1-2 and an island 3-4.  "island": the stop is the island's edge; "forbidden": the stop
    # is e1, forbidden by edge_allowed; "loop": the stop is the self-loop e4 at node 1; "slow":
    # the stop e0 (5 ms) under a 4 ms bound; "reachable": the stop e1 (cost 2, 2 ms).
    edges = [(0, 1, 1, 5, []), (1, 2, 2, 2, []), (0, 2, 9, 1, []), (3, 4, 1, 1, []), (1, 1, 0, 0, [])]
    stop = {"island": 3, "forbidden": 1, "loop": 4, "slow": 0, "reachable": 1}[how]
    allowed = (True, False, True, True, True) if how == "forbidden" else None
    return make_case(
        5,
        edges,
        0,
        2,
        [[stop]],
        n_levels=0,
        max_latency_ms=4.0 if how == "slow" else 50.0,
        edge_allowed=allowed,
    )


def _line(order: tuple[int, ...], ordered: bool) -> ViaCase:
    # A line 0 -e0- 1 -e1- 2 -e2- 3, cost 1 and 1 ms each, from 0 to 3, stops A = {e2} and
    # B = {e0}.  B then A (or any order): 0-1-2-3, cost 3.  A then B: out to e2, back over e0
    # and out again: cost 9 whichever way round each stop edge is crossed.
    stops = ([2], [0])
    return make_case(
        4,
        [(0, 1, 1, 1, []), (1, 2, 1, 1, []), (2, 3, 1, 1, [])],
        0,
        3,
        [stops[i] for i in order],
        ordered=ordered,
        n_levels=0,
    )


def _permit_twice(**query: Any) -> ViaCase:
    # 0 -e0- 1 -e1- 2 -e2- 3 with the stop e1 (no permit) in the middle; e0 and e2 are in
    # jurisdiction 0 (permit 10), the bypasses e3 (0-1) and e4 (2-3) cost 7 and are in none.
    # Legs 0 and 2 both enter jurisdiction 0, paid once: 1+1+1+10 = 13 (3 ms); avoiding it:
    # 7+1+7 = 15 (7 ms); one bypass: 19.  Paying the permit per leg would make 15 the best.
    return make_case(
        4,
        [(0, 1, 1, 1, [0]), (1, 2, 1, 1, []), (2, 3, 1, 1, [0]), (0, 1, 7, 3, []), (3, 2, 7, 3, [])],
        0,
        3,
        [[1]],
        permit_cost=[10.0],
        **query,
    )


def _unordered_three() -> ViaCase:
    # A star with centre 0: spokes 0-1 (e0), 0-2 (e1), 0-3 (e2), from 1 to 3, every edge cost 1
    # and 1 ms, plus a cheap shortcut 1-3 (e3, cost 1).  Stops e2, e0, e1 (given in that order).
    # Unordered: 1-0-2-0-3 (e0 e1 e1 e2), cost 4.  Ordered e2, e0, e1: 1-3 (e3), 3-0 (e2),
    # 0-1 (e0), 1-0 (e0), 0-2 (e1), 2-0, 0-3: cost 7.
    return make_case(
        4,
        [(0, 1, 1, 1, []), (0, 2, 1, 1, []), (3, 0, 1, 1, []), (1, 3, 1, 1, [])],
        1,
        3,
        [[2], [0], [1]],
        ordered=False,
        n_levels=0,
    )


def _latency_tie() -> ViaCase:
    # 0 -> 2 through the stop {e1, e2}: two parallel 1-2 edges, both cost 2, 5 ms and 3 ms; a
    # direct 0-2 edge e3 (cost 1) gives no stop.  Best: e0 e2, cost 3, 4 ms.
    return make_case(
        3,
        [(0, 1, 1, 1, []), (1, 2, 2, 5, []), (2, 1, 2, 3, []), (0, 2, 1, 1, [])],
        0,
        2,
        [[1, 2]],
        n_levels=0,
    )


def _edges(result: RouteResult) -> tuple[int, ...]:
    return tuple(int(e) for e in result.edges)


def test_stop_on_a_dead_end_spur_is_paid_twice() -> None:
    _, result = check_via_case(_spur())
    assert (result.cost, result.latency_ms) == (6.0, 4.0)
    assert _edges(result) == (0, 2, 2, 1)
    assert tuple(int(v) for v in result.nodes) == (0, 1, 3, 1, 2)
    _, result = check_via_case(_spur(permit=True))
    assert result.cost == 11.0  # the spur's permit once


@pytest.mark.parametrize("how", ["island", "forbidden", "loop", "slow"])
def test_unusable_or_unreachable_stop_is_infeasible(how: str) -> None:
    _, result = check_via_case(_unreachable(how))
    assert result.status is RouteStatus.INFEASIBLE


def test_reachable_stop_off_the_direct_edge() -> None:
    _, result = check_via_case(_unreachable("reachable"))
    assert (result.cost, _edges(result)) == (3.0, (0, 1))


def test_ordered_and_unordered_stops_differ() -> None:
    _, result = check_via_case(_line((0, 1), ordered=True))
    assert result.cost == 9.0
    assert Counter(_edges(result)) == {0: 3, 1: 3, 2: 3}  # out, back and out again
    _, result = check_via_case(_line((0, 1), ordered=False))
    assert (result.cost, _edges(result)) == (3.0, (0, 1, 2))
    _, result = check_via_case(_line((1, 0), ordered=True))
    assert (result.cost, _edges(result)) == (3.0, (0, 1, 2))
    _, result = check_via_case(_unordered_three())
    assert result.cost == 4.0
    _, result = check_via_case(replace(_unordered_three(), ordered=True))
    assert result.cost == 7.0


def test_permit_paid_once_over_two_legs() -> None:
    _, result = check_via_case(_permit_twice())
    assert (result.cost, result.latency_ms, _edges(result)) == (13.0, 3.0, (0, 1, 2))
    _, result = check_via_case(_permit_twice(max_jurisdictions=0))
    assert (result.cost, result.latency_ms) == (15.0, 7.0)
    _, result = check_via_case(_permit_twice(max_cost=13.0))
    assert result.cost == 13.0
    _, result = check_via_case(_permit_twice(max_cost=12.99))
    assert result.status is RouteStatus.INFEASIBLE


def test_cost_tie_goes_to_lower_latency() -> None:
    _, result = check_via_case(_latency_tie())
    assert (result.cost, result.latency_ms, _edges(result)) == (3.0, 4.0, (0, 2))


# --------------------------------------------------------------------------
# Sanity checks of the brute force itself (no solver involved)
# --------------------------------------------------------------------------


def test_bruteforce_hand_cases() -> None:
    b = _spur().brute().best
    assert (b.cost, b.latency_ms, b.edges, b.nodes) == (6.0, 4.0, (0, 2, 2, 1), (0, 1, 3, 1, 2))
    b = _spur(permit=True).brute().best
    assert (b.cost, b.edge_cost, b.permit_cost, b.jurisdictions) == (11.0, 6.0, 5.0, (0,))
    for how in ("island", "forbidden", "loop", "slow"):
        assert not _unreachable(how).brute().feasible, how
    b = _unreachable("reachable").brute().best
    assert (b.cost, b.latency_ms, b.edges) == (3.0, 7.0, (0, 1))
    # The slow case is feasible once the bound allows the stop's 5 ms + 2 ms.
    assert replace(_unreachable("slow"), max_latency_ms=7.0).brute().best.cost == 3.0

    b = _line((0, 1), ordered=True).brute()
    assert b.best.cost == 9.0 and b.min_tied_latency_ms == 9.0
    assert _line((0, 1), ordered=False).brute().best.edges == (0, 1, 2)
    assert _line((1, 0), ordered=True).brute().best.edges == (0, 1, 2)
    assert _unordered_three().brute().best.cost == 4.0
    assert _unordered_three().brute().best.edges == (0, 1, 1, 2)
    assert replace(_unordered_three(), ordered=True).brute().best.cost == 7.0

    b = _permit_twice().brute().best
    assert (b.cost, b.latency_ms, b.edges, b.permit_cost) == (13.0, 3.0, (0, 1, 2), 10.0)
    b = _permit_twice(max_jurisdictions=0).brute().best
    assert (b.cost, b.latency_ms, b.edges) == (15.0, 7.0, (3, 1, 4))
    b = _permit_twice(max_jurisdictions=0, max_latency_ms=6.99).brute()
    assert not b.feasible
    b = _permit_twice(max_latency_ms=5.0, max_jurisdictions=1).brute().best
    assert b.cost == 13.0
    assert _permit_twice(max_cost=13.0).brute().best.cost == 13.0
    assert not _permit_twice(max_cost=12.99).brute().feasible
    # Without the permit's bypasses the only routes enter it in both legs (13) or once (19).
    assert _permit_twice(edge_allowed=(True, True, True, False, True)).brute().best.cost == 13.0
    b = _permit_twice(edge_allowed=(False, True, True, True, False)).brute().best
    assert (b.cost, b.edges) == (19.0, (3, 1, 2))

    b = _latency_tie().brute()
    assert (b.best.cost, b.best.latency_ms, b.best.edges, b.min_tied_latency_ms) == (3.0, 4.0, (0, 2), 4.0)


def test_bruteforce_rejects_bad_stops() -> None:
    case = _spur()
    for stops in ((), ((),), ((0, 1), (1,)), ((7,),)):
        with pytest.raises(ValueError):
            bf.brute_force_via(case.arrays(), case.query(), stops)


def test_walk_checker_catches_bad_walks() -> None:
    case = _line((0, 1), ordered=True)
    arrays, query = case.arrays(), case.query()

    def problems(edges: Sequence[int], nodes: Sequence[int], ordered: bool = True) -> list[str]:
        return bf.walk_problems(arrays, query, case.stops, edges, nodes, ordered=ordered)

    good = ((0, 1, 2, 2, 1, 0, 0, 1, 2), (0, 1, 2, 3, 2, 1, 0, 1, 2, 3))
    assert problems(*good) == []
    assert problems((0, 1, 2), (0, 1, 2, 3), ordered=False) == []

    def only(found: list[str], text: str) -> bool:
        return len(found) == 1 and text in found[0]

    assert only(problems((0, 1, 2), (0, 1, 2, 3)), "does not pass the stops")  # e0 after e2 missing
    assert only(problems((0, 1, 2), (0, 1, 2)), "nodes for")
    assert only(problems((1, 2, 2, 1, 0, 0, 1, 2), (1, 2, 3, 2, 1, 0, 1, 2, 3)), "not the source")
    assert only(problems((0, 1, 2, 2, 1, 0, 0, 1), (0, 1, 2, 3, 2, 1, 0, 1, 2)), "not the target")
    assert len(problems((0, 2, 1), (0, 1, 2, 3), ordered=False)) == 2  # e2, e1 do not join 1-2, 2-3
    forbidden = replace(case, edge_allowed=(True, False, True))
    found = bf.walk_problems(forbidden.arrays(), forbidden.query(), case.stops, *good, ordered=True)
    assert len(found) == 3 and all("not allowed" in p for p in found)  # e1, three times
    loop = make_case(2, [(0, 1, 1, 1, []), (1, 1, 1, 1, [])], 0, 1, [[1]], n_levels=0)
    found = bf.walk_problems(loop.arrays(), loop.query(), loop.stops, (0, 1), (0, 1, 1), ordered=True)
    assert found == ["edge 1 is a self-loop or not allowed"]


def test_bruteforce_passes_stops_matches_positions() -> None:
    """The greedy order test == some increasing positions t_1 < ... < t_K, literally."""

    @_settings(300)
    @given(
        edges=st.lists(st.integers(0, 5), max_size=7),
        stops=st.lists(st.integers(0, 5), min_size=1, max_size=5, unique=True).flatmap(
            lambda ids: st.integers(1, len(ids)).map(
                lambda k: tuple(tuple(ids[i::k]) for i in range(k))  # k disjoint stops
            )
        ),
    )
    def run(edges: list[int], stops: tuple[tuple[int, ...], ...]) -> None:
        literal = any(
            all(edges[t] in stop for t, stop in zip(ts, stops, strict=True))
            for ts in combinations(range(len(edges)), len(stops))
        )
        assert bf.passes_stops(stops, edges, ordered=True) == literal
        unordered = any(
            bf.passes_stops([stops[i] for i in p], edges, ordered=True)
            for p in permutations(range(len(stops)))
        )
        assert bf.passes_stops(stops, edges, ordered=False) == unordered

    run()


@st.composite
def small_cases(draw, nodes: tuple[int, int], edges: tuple[int, int], max_k: int) -> ViaCase:
    """Smaller cases for the slower references: the same generator on fewer nodes and edges."""
    case = draw(graphs(nodes=nodes, edges=edges, permits=5))
    source = draw(st.integers(0, case.n_nodes - 1))
    target = draw(st.sampled_from([v for v in range(case.n_nodes) if v != source]))
    k = draw(st.integers(1, max_k))
    allowed = tuple(draw(st.integers(0, 6)) > 0 for _ in range(case.n_edges)) if _chance(draw, 2) else None
    case = replace(
        case,
        source=source,
        target=target,
        edge_allowed=allowed,
        stops=_stops(draw, case, k),
        ordered=draw(st.booleans()),
    )
    if _chance(draw, 3):
        max_j, max_cost = _limits(draw, case, "all" if case.n_levels else "cost")
        case = replace(case, max_jurisdictions=max_j, max_cost=max_cost)
    return replace(case, max_latency_ms=_latency_bound(draw, case, ["tight", "between", "loose", "any"]))


def _same(a: bf.ViaBrute, b: bf.ViaBrute) -> None:
    assert a.feasible == b.feasible
    if a.feasible:
        assert _close(a.best.cost, b.best.cost), (a.best, b.best)
        assert abs(a.min_tied_latency_ms - b.min_tied_latency_ms) <= 1e-9, (a.best, b.best)


def test_bruteforce_pruning_is_exact() -> None:
    """Dominance between legs and the bounds change nothing: == the plain product."""

    @_settings(120)
    @given(case=small_cases((4, 6), (4, 8), 3))
    def run(case: ViaCase) -> None:
        note(repr(case))
        _same(case.brute(), case.brute(prune=False))

    run()


def test_bruteforce_matches_walk_enumeration() -> None:
    """== every walk of up to (K+1)(n-1)+K edges, and no longer walk (two more edges) is better."""

    @_settings(100)
    @given(case=small_cases((3, 4), (3, 6), 2))
    def run(case: ViaCase) -> None:
        note(repr(case))
        brute = case.brute()
        arrays, query = case.arrays(), case.query()
        walks = bf.brute_force_via_walks(arrays, query, case.stops, ordered=case.ordered)
        _same(brute, walks)
        limit = (len(case.stops) + 1) * (case.n_nodes - 1) + len(case.stops) + 2
        longer = bf.brute_force_via_walks(arrays, query, case.stops, ordered=case.ordered, max_edges=limit)
        _same(brute, longer)

    run()


def test_bruteforce_one_stop_of_every_edge_is_the_plain_route() -> None:
    """A single stop holding every edge constrains nothing: the optimum is tests/bruteforce.py's
    best simple path (written separately), by cost and latency."""
    from . import bruteforce as single

    @_settings(120)
    @given(case=via_cases("mixed"))
    def run(case: ViaCase) -> None:
        case = replace(case, stops=(tuple(range(case.n_edges)),), ordered=True)
        brute = case.brute()
        plain = single.brute_force_route(case.arrays(), case.query())
        assert brute.feasible == (plain is not None)
        if plain is not None:
            assert (
                _close(brute.best.cost, plain.cost) and abs(brute.best.latency_ms - plain.latency_ms) < 1e-9
            )

    run()


def test_bruteforce_unordered_is_the_best_order() -> None:
    """Unordered == the best over every order of the stops given as ordered; the given order
    is never cheaper than unordered."""

    @_settings(80)
    @given(case=via_cases("mixed", ordered=False))
    def run(case: ViaCase) -> None:
        assume(len(case.stops) >= 2)
        unordered = case.brute()
        orders = [replace(case, stops=p, ordered=True).brute() for p in permutations(case.stops)]
        found = [b for b in orders if b.feasible]
        assert unordered.feasible == bool(found)
        if found:
            cost = min(b.best.cost for b in found)
            assert _close(unordered.best.cost, cost)
            tied = min(b.min_tied_latency_ms for b in found if bf.cost_tie(b.best.cost, cost))
            assert abs(unordered.min_tied_latency_ms - tied) <= 1e-9
            given_order = orders[0]
            assert not given_order.feasible or given_order.best.cost >= unordered.best.cost - 1e-9

    run()
