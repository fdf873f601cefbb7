"""solve_route against exhaustive enumeration on small directed and undirected multigraphs.

Random graphs carry parallel arcs (same ends, different weights) and antiparallel arcs, zero to three
extra resources, integer or float weights, jurisdictions with permits, and latency / resource / cost /
jurisdiction budgets drawn between the least and greatest totals of the graph's routes, so that both
feasible and infeasible queries occur.  The oracle lives in tests/bruteforce_directed.py and shares no
code with the solver.  Cases whose answer would hinge on exact tolerance handling are skipped.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Protocol

import numpy as np
import pytest
from hypothesis import HealthCheck, Phase, assume, given, note, settings
from hypothesis import strategies as st

from optimizer.problem import EdgeArrays, RouteQuery, RouteResult, RouteStatus, SolverOptions
from tests.bruteforce_directed import (
    OracleAnswer,
    PathTotals,
    all_path_totals,
    check_route,
    is_cost_tie,
    meets_query,
    path_totals,
    simple_paths,
    solve_by_enumeration,
    walk_route,
)

OPTIONS = SolverOptions(time_limit_s=10)
ENGINES = (OPTIONS, SolverOptions(time_limit_s=10, label_search=False))
"""Random instances are solved twice: by label search and by CP-SAT alone."""
MAX_NODES = 7
MAX_EDGES = 22
SEEDS = range(150)


def solve_route(arrays: EdgeArrays, query: RouteQuery, *, options: SolverOptions) -> RouteResult:
    """The solver under test, imported late so the oracle checks above run even if it fails to import."""
    from optimizer.solve import solve_route as solver

    return solver(arrays, query, options=options)


# ---------------------------------------------------------------- building instances


def make_arrays(
    n_nodes: int,
    edges: Sequence[tuple[int, int, float, float]],
    *,
    directed: bool,
    resources: Sequence[Sequence[float]] | None = None,
    jurisdiction: Sequence[Sequence[int]] | None = None,
    permit_cost: Sequence[float] = (),
    counted: Sequence[bool] | None = None,
    resource_names: tuple[str, ...] | None = None,
) -> EdgeArrays:
    """EdgeArrays from (tail, head, cost, latency) rows, optional resource and jurisdiction rows."""
    m = len(edges)
    kwargs: dict = {}
    if resources is not None:
        matrix = np.asarray(resources, dtype=float)
        assert matrix.ndim == 2 and matrix.shape[0] == m, "resources must be (n_edges, K)"
        kwargs["resources"] = matrix
        if resource_names is None:
            resource_names = tuple(f"r{k}" for k in range(matrix.shape[1]))
        kwargs["resource_names"] = resource_names
    if jurisdiction is None:
        juris = np.zeros((m, 0), dtype=np.int64)
    else:
        juris = np.asarray(jurisdiction, dtype=np.int64)
        assert juris.ndim == 2 and juris.shape[0] == m, "jurisdiction must be (n_edges, n_levels)"
    return EdgeArrays(
        n_nodes=n_nodes,
        tail=np.array([e[0] for e in edges], dtype=np.int64),
        head=np.array([e[1] for e in edges], dtype=np.int64),
        cost=np.array([e[2] for e in edges], dtype=float),
        latency_ms=np.array([e[3] for e in edges], dtype=float),
        jurisdiction=juris,
        permit_cost=np.asarray(permit_cost, dtype=float),
        counted=np.asarray(counted if counted is not None else [True] * len(permit_cost), dtype=bool),
        directed=directed,
        **kwargs,
    )


def with_direction(arrays: EdgeArrays, *, directed: bool) -> EdgeArrays:
    """The same edges and weights with a chosen directedness."""
    return EdgeArrays(
        n_nodes=arrays.n_nodes,
        tail=arrays.tail,
        head=arrays.head,
        cost=arrays.cost,
        latency_ms=arrays.latency_ms,
        jurisdiction=arrays.jurisdiction,
        permit_cost=arrays.permit_cost,
        counted=arrays.counted,
        directed=directed,
        resources=arrays.resources,
        resource_names=arrays.resource_names,
    )


class Chooser(Protocol):
    """Random choices, backed by hypothesis (shrinkable) or by a seeded numpy generator."""

    def integer(self, lo: int, hi: int) -> int:
        """An integer in [lo, hi]."""
        ...

    def real(self, lo: float, hi: float) -> float:
        """A float in [lo, hi]."""
        ...

    def chance(self, p: float) -> bool:
        """True with probability about p."""
        ...


class HypothesisChooser:
    """Choices drawn through hypothesis, so failures shrink."""

    def __init__(self, data: st.DataObject) -> None:
        self.data = data

    def integer(self, lo: int, hi: int) -> int:
        """An integer in [lo, hi]."""
        return self.data.draw(st.integers(lo, hi))

    def real(self, lo: float, hi: float) -> float:
        """A float in [lo, hi]; within 1e-9 of lo it is lo (tiny magnitudes: test_tiny_resource_values)."""
        x = self.data.draw(st.floats(lo, hi, allow_nan=False, allow_infinity=False, allow_subnormal=False))
        return lo if x - lo < 1e-9 else x

    def chance(self, p: float) -> bool:
        """True when a drawn percentile falls under p (shrinks toward True for p > 0)."""
        return self.data.draw(st.integers(0, 99)) < round(100 * p)


class SeededChooser:
    """Choices from a seeded numpy generator: full-precision floats, reproducible by seed."""

    def __init__(self, seed: int) -> None:
        self.rng = np.random.default_rng(seed)

    def integer(self, lo: int, hi: int) -> int:
        """An integer in [lo, hi]."""
        return int(self.rng.integers(lo, hi + 1))

    def real(self, lo: float, hi: float) -> float:
        """A float in [lo, hi]."""
        return float(self.rng.uniform(lo, hi))

    def chance(self, p: float) -> bool:
        """True with probability p."""
        return bool(self.rng.random() < p)


@dataclass
class Instance:
    """One random query on one random graph, and what went into it."""

    arrays: EdgeArrays
    query: RouteQuery
    weights: str
    n_parallel: int = 0
    n_antiparallel: int = 0


def _weight(ch: Chooser, weights: str, hi: int) -> float:
    """One non-negative weight: an integer in [0, hi] or a float in [0, 2 hi]."""
    if weights == "int":
        return float(ch.integer(0, hi))
    return ch.real(0.0, 2.0 * hi)


def _budget(ch: Chooser, values: Sequence[float]) -> float:
    """A bound spread over the totals of the routes: sometimes exactly one, often between, or outside."""
    if not values:
        return ch.real(0.0, 20.0)
    lo, hi = min(values), max(values)
    mode = ch.integer(0, 9)
    if mode <= 1:
        return sorted(values)[ch.integer(0, len(values) - 1)]  # exactly a route's total: on the boundary
    if mode <= 5:
        return lo + ch.real(0.0, 1.0) * (hi - lo)
    if mode <= 8:
        return hi + ch.real(0.0, 5.0)  # binds no route
    return lo * ch.real(0.0, 0.9)  # under every route unless the least total is 0


def random_instance(ch: Chooser, *, directed: bool, k: int | None = None) -> Instance:
    """A random multigraph (parallel and antiparallel edges), resources, jurisdictions and query."""
    n = ch.integer(2, MAX_NODES)
    weights = "int" if ch.chance(0.5) else "float"
    if k is None:
        k = ch.integer(0, 3)
    source = ch.integer(0, n - 1)
    target = (source + ch.integer(1, n - 1)) % n

    pairs: list[tuple[int, int]] = []
    if ch.chance(0.6):  # a backbone chain source -> ... -> target, so routes exist more often
        inner = [v for v in range(n) if v not in (source, target)]
        chain = [source]
        for _ in range(ch.integer(0, len(inner))):
            chain.append(inner.pop(ch.integer(0, len(inner) - 1)))
        chain.append(target)
        pairs.extend(itertools.pairwise(chain))
    for _ in range(ch.integer(0, 12)):
        u = ch.integer(0, n - 1)
        v = (u + ch.integer(1, n - 1)) % n
        pairs.append((u, v))
    unit_cost = ch.chance(0.2)  # every edge costs 1: routes of equal hop count tie, latency decides

    def cost() -> float:
        """One edge cost."""
        return 1.0 if unit_cost else _weight(ch, weights, 3)

    rows = [(u, v, cost(), _weight(ch, weights, 5)) for u, v in pairs]
    n_parallel = n_anti = 0
    if rows:
        base = len(rows)
        for _ in range(ch.integer(0, 5)):  # same ends, new latency, often the same cost (a tie)
            u, v, same, _ = rows[ch.integer(0, base - 1)]
            rows.append((u, v, same if ch.chance(0.5) else cost(), _weight(ch, weights, 5)))
            n_parallel += 1
        for _ in range(ch.integer(0, 5)):  # reversed ends, new weights
            u, v, _, _ = rows[ch.integer(0, base - 1)]
            rows.append((v, u, cost(), _weight(ch, weights, 5)))
            n_anti += 1
    rows = rows[:MAX_EDGES]
    m = len(rows)

    resources = np.array(
        [[_weight(ch, weights, 5) for _ in range(k)] for _ in range(m)], dtype=float
    ).reshape(m, k)

    n_levels = ch.integer(0, 2)
    n_juris = ch.integer(1, 4) if n_levels else 0
    permit = [_weight(ch, weights, 3) for _ in range(n_juris)]
    counted = [ch.chance(0.7) for _ in range(n_juris)]
    juris_rows = []
    for _ in range(m):
        row = []
        for level in range(n_levels):
            of_level = [j for j in range(n_juris) if j % n_levels == level]
            row.append(of_level[ch.integer(0, len(of_level) - 1)] if of_level and ch.chance(0.5) else -1)
        juris_rows.append(row)
    juris = np.array(juris_rows, dtype=np.int64).reshape(m, n_levels)

    use_none = k == 0 and ch.chance(0.5)
    arrays = make_arrays(
        n,
        rows,
        directed=directed,
        resources=None if use_none else resources,
        jurisdiction=juris,
        permit_cost=permit,
        counted=counted,
    )
    allowed = None
    if m and ch.chance(0.25):
        allowed = np.array([ch.chance(0.85) for _ in range(m)], dtype=bool)

    # Budgets relative to the totals of every allowed route, ignoring the other bounds.
    probe = RouteQuery(source, target, math.inf, edge_allowed=allowed)
    routes = all_path_totals(arrays, probe)
    max_latency = max(_budget(ch, [t.latency_ms for t in routes]), 0.01)  # the solver wants it > 0
    max_resources = tuple(_budget(ch, [t.resources[i] for t in routes]) for i in range(k))
    max_cost = _budget(ch, [t.cost for t in routes]) if ch.chance(0.35) else None
    max_juris = None
    if n_juris and ch.chance(0.35):
        max_juris = ch.integer(0, sum(counted))
    query = RouteQuery(
        source=source,
        target=target,
        max_latency_ms=max_latency,
        max_jurisdictions=max_juris,
        max_cost=max_cost,
        edge_allowed=allowed,
        max_resources=max_resources if (k or ch.chance(0.5)) else None,
    )
    return Instance(arrays, query, weights, n_parallel, n_anti)


def describe(inst: Instance) -> str:
    """The instance spelled out for a failure message."""
    a, q = inst.arrays, inst.query
    lines = [
        f"directed={a.directed} n={a.n_nodes} m={a.n_edges} weights={inst.weights}",
        f"query {q.source}->{q.target} max_latency={q.max_latency_ms!r} max_resources={q.max_resources!r}"
        f" max_cost={q.max_cost!r} max_jurisdictions={q.max_jurisdictions}",
        f"permit={a.permit_cost.tolist()} counted={a.counted.tolist()}",
    ]
    res = a.resources
    for e in range(a.n_edges):
        allowed = "" if q.edge_allowed is None or q.edge_allowed[e] else " (forbidden)"
        extra = "" if res is None else f" res={res[e].tolist()}"
        lines.append(
            f"  e{e}: {a.tail[e]}->{a.head[e]} cost={a.cost[e]!r} lat={a.latency_ms[e]!r}{extra}"
            f" juris={a.jurisdiction[e].tolist()}{allowed}"
        )
    return "\n".join(lines)


# ---------------------------------------------------------------- the check


def check_against_oracle(
    arrays: EdgeArrays, query: RouteQuery, answer: OracleAnswer, options: SolverOptions = OPTIONS
) -> RouteResult:
    """Solve and compare status, route validity, optimal cost and latency tie-break with the oracle."""
    result = solve_route(arrays, query, options=options)
    if not answer.feasible:
        assert result.status is RouteStatus.INFEASIBLE, (
            f"oracle: no feasible route among {answer.n_paths}; solver: {result.status} cost={result.cost}"
            f" edges={result.edges}"
        )
        assert result.reason, "INFEASIBLE without a reason"
        return result
    assert result.status is RouteStatus.OPTIMAL, (
        f"oracle: optimum {answer.cost} (edges {answer.best.edges});"
        f" solver: {result.status} {result.reason!r}"
    )
    totals = check_route(arrays, query, result.edges)
    if result.nodes:
        assert tuple(result.nodes) == totals.nodes, f"nodes {result.nodes} but edges walk {totals.nodes}"
    assert math.isclose(totals.cost, answer.cost, rel_tol=1e-9, abs_tol=1e-9), (
        f"solver route costs {totals.cost} (edges {totals.edges}); optimum is {answer.cost}"
        f" (edges {answer.best.edges})"
    )
    assert is_cost_tie(totals.cost, answer.cost), f"solver cost {totals.cost} above optimum {answer.cost}"
    assert totals.latency_ms <= answer.latency_ms + 1e-6, (
        f"tie-break: solver route latency {totals.latency_ms} (edges {totals.edges}), but a route of equal"
        f" cost {answer.cost} has latency {answer.latency_ms} (edges {answer.best.edges})"
    )
    for name, mine, theirs in (
        ("cost", totals.cost, result.cost),
        ("edge_cost", totals.edge_cost, result.edge_cost),
        ("permit_cost", totals.permit_cost, result.permit_cost),
        ("latency_ms", totals.latency_ms, result.latency_ms),
    ):
        assert math.isclose(mine, theirs, rel_tol=1e-9, abs_tol=1e-9), (
            f"result.{name}={theirs}, recomputed {mine}"
        )
    return result


def run_instance(inst: Instance) -> OracleAnswer | None:
    """Oracle then solver on one instance; None when the instance is ambiguous (skipped)."""
    answer = solve_by_enumeration(inst.arrays, inst.query)
    if answer.ambiguous:
        return None
    for options in ENGINES:
        check_against_oracle(inst.arrays, inst.query, answer, options)
    return answer


# ---------------------------------------------------------------- the oracle itself, by hand

TRIANGLE = [(0, 1, 1.0, 1.0), (1, 2, 1.0, 1.0), (0, 2, 5.0, 1.0)]


def test_oracle_directed_triangle() -> None:
    """0->1->2 costs 2 at latency 2; the direct arc costs 5 at latency 1; nothing leads back."""
    a = make_arrays(3, TRIANGLE, directed=True)
    loose = solve_by_enumeration(a, RouteQuery(0, 2, 10.0))
    assert (loose.feasible, loose.cost, loose.latency_ms, loose.best.edges) == (True, 2.0, 2.0, (0, 1))
    assert loose.n_paths == 2
    tight = solve_by_enumeration(a, RouteQuery(0, 2, 1.5))
    assert (tight.cost, tight.latency_ms, tight.best.edges, tight.n_feasible) == (5.0, 1.0, (2,), 1)
    back = solve_by_enumeration(a, RouteQuery(2, 0, 10.0))
    assert not back.feasible and back.n_paths == 0


def test_oracle_undirected_triangle_walks_both_ways() -> None:
    """Undirected, 2->0 has the same two routes as 0->2, walked backwards."""
    a = make_arrays(3, TRIANGLE, directed=False)
    back = solve_by_enumeration(a, RouteQuery(2, 0, 10.0))
    assert (back.cost, back.best.edges, back.best.nodes, back.n_paths) == (2.0, (1, 0), (2, 1, 0), 2)


def test_oracle_counts_paths_in_a_multigraph() -> None:
    """Complete digraph on 4 nodes: 5 simple paths 0->3; a parallel arc 0->3 adds one, a loop none."""
    arcs = [(u, v, 1.0, 1.0) for u in range(4) for v in range(4) if u != v]
    assert len(list(simple_paths(make_arrays(4, arcs, directed=True), 0, 3))) == 5
    more = [*arcs, (0, 3, 2.0, 0.5), (1, 1, 0.0, 0.0)]
    paths = list(simple_paths(make_arrays(4, more, directed=True), 0, 3))
    assert len(paths) == 6 and all(len(set(nodes)) == len(nodes) for _, nodes in paths)
    # Undirected, each arc pair is two parallel edges: paths 0-3 multiply by 2 per step.
    assert len(list(simple_paths(make_arrays(4, arcs, directed=False), 0, 3))) == 2 + 2 * 4 + 2 * 8


def test_oracle_tie_break_on_parallel_arcs() -> None:
    """Parallel arcs 0->1: cost 2 is optimal; among the cost-3 pair the faster wins when 2 is too slow."""
    a = make_arrays(2, [(0, 1, 3.0, 5.0), (0, 1, 3.0, 2.0), (0, 1, 2.0, 9.0)], directed=True)
    assert solve_by_enumeration(a, RouteQuery(0, 1, 10.0)).best.edges == (2,)
    tight = solve_by_enumeration(a, RouteQuery(0, 1, 6.0))
    assert (tight.cost, tight.latency_ms, tight.best.edges) == (3.0, 2.0, (1,))


def test_oracle_permits_paid_once_and_counted() -> None:
    """Two edges in jurisdiction 0 pay its permit once; jurisdiction 1 (uncounted) is paid but not counted."""
    a = make_arrays(
        3,
        [(0, 1, 1.0, 1.0), (1, 2, 1.0, 1.0), (0, 2, 4.0, 1.0)],
        directed=True,
        jurisdiction=[[0, -1], [0, 1], [-1, -1]],
        permit_cost=[10.0, 0.5],
        counted=[True, False],
    )
    t = path_totals(a, (0, 1), (0, 1, 2))
    assert (t.edge_cost, t.permit_cost, t.cost, t.counted_jurisdictions) == (2.0, 10.5, 12.5, 1)
    assert t.jurisdictions == frozenset({0, 1})
    assert solve_by_enumeration(a, RouteQuery(0, 2, 10.0)).cost == 4.0
    answer = solve_by_enumeration(a, RouteQuery(0, 2, 10.0, max_cost=3.0))
    assert not answer.feasible
    free = make_arrays(
        3,
        [(0, 1, 1.0, 1.0), (1, 2, 1.0, 1.0)],
        directed=True,
        jurisdiction=[[0], [0]],
        permit_cost=[1.0],
        counted=[True],
    )
    assert not solve_by_enumeration(free, RouteQuery(0, 2, 10.0, max_jurisdictions=0)).feasible
    assert solve_by_enumeration(free, RouteQuery(0, 2, 10.0, max_jurisdictions=1)).cost == 3.0


def test_oracle_resources_and_edge_allowed() -> None:
    """A resource bound and a forbidden edge each remove the cheap route."""
    a = make_arrays(3, TRIANGLE, directed=True, resources=[[2.0, 0.0], [2.0, 1.0], [0.5, 0.0]])
    assert solve_by_enumeration(a, RouteQuery(0, 2, 10.0, max_resources=(4.0, 1.0))).cost == 2.0
    assert solve_by_enumeration(a, RouteQuery(0, 2, 10.0, max_resources=(3.9, 1.0))).cost == 5.0
    assert solve_by_enumeration(a, RouteQuery(0, 2, 10.0, max_resources=(4.0, 0.5))).cost == 5.0
    assert not solve_by_enumeration(a, RouteQuery(0, 2, 10.0, max_resources=(0.4, 9.0))).feasible
    mask = np.array([True, False, True])
    assert (
        solve_by_enumeration(a, RouteQuery(0, 2, 10.0, edge_allowed=mask, max_resources=(9.0, 9.0))).cost == 5
    )


def test_oracle_ambiguity_and_tolerance() -> None:
    """A latency within the 1e-6 slack is feasible for meets_query, but flagged ambiguous for random tests."""
    a = make_arrays(2, [(0, 1, 1.0, 3.0)], directed=True)
    q = RouteQuery(0, 1, 3.0 - 5e-7)
    assert solve_by_enumeration(a, q).ambiguous
    assert meets_query(path_totals(a, (0,), (0, 1)), q)
    assert not solve_by_enumeration(a, RouteQuery(0, 1, 3.0)).ambiguous
    near_tie = make_arrays(2, [(0, 1, 1.0, 3.0), (0, 1, 1.0 + 1e-8, 1.0)], directed=True)
    assert solve_by_enumeration(near_tie, RouteQuery(0, 1, 9.0)).ambiguous
    exact_tie = make_arrays(2, [(0, 1, 1.0, 3.0), (0, 1, 1.0, 1.0)], directed=True)
    answer = solve_by_enumeration(exact_tie, RouteQuery(0, 1, 9.0))
    assert not answer.ambiguous and answer.best.edges == (1,)


def test_walk_route_respects_direction() -> None:
    """An arc walked head->tail, a gap, a repeated node, or a wrong end are all rejected."""
    directed = make_arrays(3, TRIANGLE, directed=True)
    assert walk_route(directed, 0, (0, 1)) == (0, 1, 2)
    with pytest.raises(AssertionError, match="against its direction"):
        walk_route(directed, 2, (1, 0))
    with pytest.raises(AssertionError, match="does not touch"):
        walk_route(directed, 0, (1,))
    undirected = make_arrays(3, TRIANGLE, directed=False)
    assert walk_route(undirected, 2, (1, 0)) == (2, 1, 0)
    with pytest.raises(AssertionError, match="repeats a node"):
        check_route(undirected, RouteQuery(0, 2, 10.0), (0, 0, 2))
    with pytest.raises(AssertionError, match="not at target"):
        check_route(undirected, RouteQuery(0, 2, 10.0), (0,))
    with pytest.raises(AssertionError, match="breaks a bound"):
        check_route(undirected, RouteQuery(0, 2, 1.5), (0, 1))
    assert isinstance(check_route(undirected, RouteQuery(0, 2, 2.0), (0, 1)), PathTotals)


def test_generator_covers_the_cases() -> None:
    """Seeded instances (oracle only) include feasible, infeasible, tie, parallel, antiparallel and
    direction-sensitive cases, and few are skipped as ambiguous."""
    seen = {"feasible": 0, "infeasible": 0, "ambiguous": 0, "direction matters": 0, "latency tie": 0}
    parallel = anti = 0
    for seed in SEEDS:
        inst = random_instance(SeededChooser(seed), directed=True)
        parallel += inst.n_parallel > 0
        anti += inst.n_antiparallel > 0
        answer = solve_by_enumeration(inst.arrays, inst.query)
        if answer.ambiguous:
            seen["ambiguous"] += 1
            continue
        seen["feasible" if answer.feasible else "infeasible"] += 1
        undirected = solve_by_enumeration(with_direction(inst.arrays, directed=False), inst.query)
        if (answer.feasible, answer.cost) != (undirected.feasible, undirected.cost):
            seen["direction matters"] += 1
        if answer.feasible:
            tied = [
                t
                for t in all_path_totals(inst.arrays, inst.query)
                if meets_query(t, inst.query) and is_cost_tie(t.cost, answer.cost)
            ]
            if len({t.latency_ms for t in tied}) > 1:
                seen["latency tie"] += 1
    assert parallel >= len(SEEDS) // 3 and anti >= len(SEEDS) // 3, (parallel, anti)
    for key in ("feasible", "infeasible", "direction matters", "latency tie"):
        assert seen[key] >= 5, seen
    assert seen["ambiguous"] <= len(SEEDS) // 10, seen
    print(seen, {"parallel": parallel, "antiparallel": anti})


# ---------------------------------------------------------------- the solver, by hand


def test_directed_only_reverse_arcs_is_infeasible() -> None:
    """Arcs lead 2->1->0 only: directed 0->2 has no route, undirected it costs 2."""
    rows = [(2, 1, 1.0, 1.0), (1, 0, 1.0, 1.0)]
    q = RouteQuery(0, 2, 10.0)
    result = solve_route(make_arrays(3, rows, directed=True), q, options=OPTIONS)
    assert result.status is RouteStatus.INFEASIBLE and result.reason
    result = solve_route(make_arrays(3, rows, directed=False), q, options=OPTIONS)
    assert result.status is RouteStatus.OPTIMAL and result.cost == 2.0 and result.edges == (1, 0)
    back = solve_route(make_arrays(3, rows, directed=True), RouteQuery(2, 0, 10.0), options=OPTIONS)
    assert back.status is RouteStatus.OPTIMAL and back.edges == (0, 1) and back.nodes == (2, 1, 0)


def test_directed_cheap_reverse_route_is_not_used() -> None:
    """The cheap route exists only against the arcs, so the expensive forward arc is optimal."""
    rows = [(2, 1, 1.0, 1.0), (1, 0, 1.0, 1.0), (0, 2, 10.0, 1.0)]
    q = RouteQuery(0, 2, 10.0)
    directed = solve_route(make_arrays(3, rows, directed=True), q, options=OPTIONS)
    assert directed.status is RouteStatus.OPTIMAL and directed.edges == (2,) and directed.cost == 10.0
    undirected = solve_route(make_arrays(3, rows, directed=False), q, options=OPTIONS)
    assert undirected.status is RouteStatus.OPTIMAL and undirected.edges == (1, 0) and undirected.cost == 2.0


def test_antiparallel_arcs_with_different_resources() -> None:
    """0->1 needs 5 units, 1->0 needs 1: with a budget of 2 only 1->0 is feasible when directed."""
    rows = [(0, 1, 1.0, 1.0), (1, 0, 3.0, 2.0)]
    res = [[5.0], [1.0]]
    directed = make_arrays(2, rows, directed=True, resources=res)
    forward = solve_route(directed, RouteQuery(0, 1, 10.0, max_resources=(2.0,)), options=OPTIONS)
    assert forward.status is RouteStatus.INFEASIBLE and forward.reason
    backward = solve_route(directed, RouteQuery(1, 0, 10.0, max_resources=(2.0,)), options=OPTIONS)
    assert backward.status is RouteStatus.OPTIMAL and backward.edges == (1,) and backward.cost == 3.0
    loose = solve_route(directed, RouteQuery(0, 1, 10.0, max_resources=(5.0,)), options=OPTIONS)
    assert loose.status is RouteStatus.OPTIMAL and loose.edges == (0,)
    # Undirected the two are parallel edges, both walkable 0-1: the 1-unit one serves the budget.
    undirected = make_arrays(2, rows, directed=False, resources=res)
    either = solve_route(undirected, RouteQuery(0, 1, 10.0, max_resources=(2.0,)), options=OPTIONS)
    assert either.status is RouteStatus.OPTIMAL and either.edges == (1,) and either.cost == 3.0


def test_parallel_arcs_tie_goes_to_lower_latency() -> None:
    """Three parallel arcs of equal cost: the fastest one is returned."""
    rows = [(0, 1, 4.0, 3.0), (0, 1, 4.0, 1.5), (0, 1, 4.0, 2.0), (1, 0, 4.0, 0.5)]
    result = solve_route(make_arrays(2, rows, directed=True), RouteQuery(0, 1, 10.0), options=OPTIONS)
    assert result.status is RouteStatus.OPTIMAL and result.edges == (1,) and result.latency_ms == 1.5


def test_latency_slack_is_accepted() -> None:
    """A route 5e-7 ms over max_latency_ms is within the documented 1e-6 slack."""
    a = make_arrays(3, [(0, 1, 1.0, 1.5), (1, 2, 1.0, 1.5)], directed=True)
    result = solve_route(a, RouteQuery(0, 2, 3.0 - 5e-7), options=OPTIONS)
    assert result.status is RouteStatus.OPTIMAL and result.edges == (0, 1)
    result = solve_route(a, RouteQuery(0, 2, 3.0 - 1e-4), options=OPTIONS)
    assert result.status is RouteStatus.INFEASIBLE and result.reason


def test_resource_bound_exactly_met() -> None:
    """Float resources summing exactly to the bound are feasible (0.1 + 0.2 style sums included)."""
    a = make_arrays(
        3,
        [(0, 1, 1.0, 1.0), (1, 2, 1.0, 1.0), (0, 2, 9.0, 1.0)],
        directed=True,
        resources=[[0.1, 3.0], [0.2, 4.0], [0.25, 0.0]],
    )
    bound = (0.1 + 0.2, 7.0)
    result = solve_route(a, RouteQuery(0, 2, 10.0, max_resources=bound), options=OPTIONS)
    assert result.status is RouteStatus.OPTIMAL and result.edges == (0, 1)
    result = solve_route(a, RouteQuery(0, 2, 10.0, max_resources=(0.29, 7.0)), options=OPTIONS)
    assert result.status is RouteStatus.OPTIMAL and result.edges == (2,)


@pytest.mark.parametrize("directed", [False, True])
@pytest.mark.parametrize("limit", [0.0, 0.5, 1.0])
def test_resource_limit_on_the_only_fast_route(directed: bool, limit: float) -> None:
    """The fast routes 0-1-2 and 0-3-2 (e2) need 1 unit; the others are too slow (found by hypothesis)."""
    rows = [
        (1, 2, 0.0, 0.0),
        (2, 3, 1.0, 1.0),
        (3, 2, 0.0, 0.0),
        (0, 3, 0.0, 2.0),
        (3, 2, 0.0, 2.0),
        (1, 0, 0.0, 0.0),
    ]
    a = make_arrays(4, rows, directed=directed, resources=[[1.0], [0.0], [1.0], [0.0], [0.0], [0.0]])
    q = RouteQuery(0, 2, 2.0, max_resources=(limit,))
    answer = solve_by_enumeration(a, q)
    assert answer.feasible == (limit == 1.0)
    check_against_oracle(a, q, answer)


@pytest.mark.parametrize("permit", [False, True])
@pytest.mark.parametrize("scale", [1e-300, 1e-47, 1e-20, 1e-12])
def test_tiny_resource_values(scale: float, permit: bool) -> None:
    """Resources and limits of tiny magnitude, over by far less than the 1e-9 slack, are met
    (with or without a permit jurisdiction on the route)."""
    juris = {"jurisdiction": [[0], [-1], [-1]], "permit_cost": [1.0]} if permit else {}
    rows = [(0, 1, 1.0, 1.0), (1, 2, 1.0, 1.0), (0, 2, 5.0, 1.0)]
    a = make_arrays(3, rows, directed=True, resources=[[2 * scale], [2 * scale], [scale]], **juris)
    q = RouteQuery(0, 2, 10.0, max_resources=(1.5 * scale,))
    answer = solve_by_enumeration(a, q)
    assert answer.feasible and not answer.ambiguous and answer.best.edges == (0, 1)
    check_against_oracle(a, q, answer)
    juris = {"jurisdiction": [[0]], "permit_cost": [1.0]} if permit else {}
    single = make_arrays(2, [(0, 1, 1.0, 1.0)], directed=True, resources=[[2 * scale]], **juris)
    q = RouteQuery(0, 1, 10.0, max_resources=(scale,))
    check_against_oracle(single, q, solve_by_enumeration(single, q))


# ---------------------------------------------------------------- random: hypothesis and seeded


def _settings(n: int) -> settings:
    """Property-test settings: no deadline (CP-SAT timing varies), n examples."""
    return settings(
        deadline=None,
        max_examples=n,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
        phases=[Phase.explicit, Phase.reuse, Phase.generate, Phase.shrink],
    )


@_settings(200)
@given(st.data())
def test_directed_matches_oracle(data: st.DataObject) -> None:
    """Random directed multigraphs with 0-3 resources: the solver's answer is the oracle's."""
    inst = random_instance(HypothesisChooser(data), directed=True)
    note(describe(inst))
    assume(run_instance(inst) is not None)


@_settings(100)
@given(st.data())
def test_undirected_with_resources_matches_oracle(data: st.DataObject) -> None:
    """Random undirected multigraphs with 1-3 resources: the solver's answer is the oracle's."""
    ch = HypothesisChooser(data)
    inst = random_instance(ch, directed=False, k=ch.integer(1, 3))
    note(describe(inst))
    assume(run_instance(inst) is not None)


@pytest.mark.parametrize("seed", SEEDS)
def test_seeded_directed_matches_oracle(seed: int) -> None:
    """Seeded directed instances with full-precision floats; the reverse-direction query as well."""
    inst = random_instance(SeededChooser(seed), directed=True)
    context = f"seed {seed}\n{describe(inst)}"
    try:
        run_instance(inst)
        q = inst.query
        flipped = replace(q, source=q.target, target=q.source)
        run_instance(Instance(inst.arrays, flipped, inst.weights))
    except AssertionError as err:
        raise AssertionError(f"{err}\n{context}") from err


@pytest.mark.parametrize("seed", range(1000, 1000 + len(SEEDS) // 2))
def test_seeded_undirected_matches_oracle(seed: int) -> None:
    """Seeded undirected instances with resources and full-precision floats."""
    ch = SeededChooser(seed)
    inst = random_instance(ch, directed=False, k=ch.integer(0, 3))
    try:
        run_instance(inst)
    except AssertionError as err:
        raise AssertionError(f"{err}\nseed {seed}\n{describe(inst)}") from err


@pytest.mark.parametrize("label_search", [True, False], ids=["labels", "cp-sat"])
def test_costs_within_the_tie_tolerance_go_to_the_faster_route(label_search: bool) -> None:
    """After a hypothesis case: 1 -> 0 -> 2 costs 1.0 at 1 ms, 1 -> 3 -> 0 -> 2 costs 1.0 + 5e-10
    at 0 ms. Costs that close are a tie, and ties go to lower latency (both engines)."""
    rows = [(1, 3, 0.0, 0.0), (3, 0, 5e-10, 0.0), (0, 2, 1.0, 0.0), (1, 0, 0.0, 1.0)]
    a = make_arrays(4, rows, directed=True)
    q = RouteQuery(1, 2, 1.0)
    options = SolverOptions(time_limit_s=10, label_search=label_search)
    result = solve_route(a, q, options=options)
    assert result.status is RouteStatus.OPTIMAL and result.edges == (0, 1, 2)
    check_against_oracle(a, q, solve_by_enumeration(a, q))


def test_a_permit_far_above_the_best_route_does_not_overflow_the_model() -> None:
    """Found by hypothesis: the best route costs 1e-9 and a permit on another way costs 1.0;
    scaled to the route's cost range, that permit overflowed CP-SAT's 64-bit coefficients."""
    rows = [(0, 1, 0.0, 0.0), (1, 3, 1e-9, 0.0), (3, 2, 0.0, 0.0), (0, 1, 0.0, 0.0), (1, 0, 0.0, 0.0)]
    juris = [[-1], [-1], [-1], [0], [0]]
    a = make_arrays(4, rows, directed=True, jurisdiction=juris, permit_cost=[1.0])
    q = RouteQuery(0, 2, 0.01)
    result = solve_route(a, q, options=SolverOptions(time_limit_s=10))
    assert result.status is RouteStatus.OPTIMAL and result.cost == pytest.approx(1e-9)
    check_against_oracle(a, q, solve_by_enumeration(a, q))
