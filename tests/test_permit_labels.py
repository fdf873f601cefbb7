"""Label search with permits: hand-made cases where a careless dominance rule loses the optimum.

In each, a label that is cheaper so far reaches a node first, but a dearer one has already paid
for (or not counted) a jurisdiction the best continuation enters again; dropping the dearer label
would be wrong. Both engines are run, and the oracle of tests/bruteforce_directed.py is the judge.
"""

from __future__ import annotations

import pytest

from optimizer.problem import RouteQuery, RouteStatus, SolverOptions
from optimizer.solve import solve_route
from tests.bruteforce_directed import solve_by_enumeration
from tests.test_directed_bruteforce import make_arrays

ENGINES = {"labels": True, "cp-sat": False}


def _solve(arrays, query: RouteQuery, label_search: bool):
    """Solve and check against the oracle; the result."""
    result = solve_route(arrays, query, options=SolverOptions(time_limit_s=10, label_search=label_search))
    answer = solve_by_enumeration(arrays, query)
    assert result.status is RouteStatus.OPTIMAL
    assert result.cost == pytest.approx(answer.cost, rel=1e-12)
    return result


def _paid_permit_case():
    """0 -e0- 1 costs 1; 0 -e1(J1)- 2 -e2- 1 costs 0.5 and pays J1 (5) on the way. From 1 the
    cheap way on enters J1 (e3, e4), so the route that paid J1 already is best: 5.5 against 6.
    e5 is a dear way round J1 (so the permit floor of e0 is 0), and e6 (J3, 50) is the
    cheapest route by edge cost alone, so the first upper bound is 50 and e5 is not pruned."""
    rows = [(0, 1, 1, 0), (0, 2, 0.5, 0), (2, 1, 0, 0), (1, 4, 0, 0), (4, 3, 0, 0), (1, 3, 10, 0)]
    rows.append((0, 3, 0, 0))
    juris = [[-1], [0], [-1], [0], [-1], [-1], [1]]
    return make_arrays(5, rows, directed=False, jurisdiction=juris, permit_cost=[5.0, 50.0])


@pytest.mark.parametrize("label_search", ENGINES.values(), ids=ENGINES.keys())
def test_a_paid_permit_is_worth_its_price_later(label_search: bool) -> None:
    arrays = _paid_permit_case()
    result = _solve(arrays, RouteQuery(0, 3, 10.0), label_search)
    assert result.cost == 5.5
    assert result.edges == (1, 2, 3, 4)


@pytest.mark.parametrize("label_search", ENGINES.values(), ids=ENGINES.keys())
def test_a_counted_jurisdiction_is_not_dominated_by_a_cheaper_label(label_search: bool) -> None:
    # Limit 1 counted jurisdiction. 0 -e0(J2)- 1 is cheap but counts J2; 0 -e1- 2 -e2- 1 counts
    # nothing. From 1, e3 enters J1 (counted) and e5 is a dear way round it.
    rows = [(0, 1, 1, 0), (0, 2, 3, 0), (2, 1, 0, 0), (1, 3, 0, 0), (1, 3, 100, 0)]
    juris = [[1], [-1], [-1], [0], [-1]]
    arrays = make_arrays(4, rows, directed=False, jurisdiction=juris, permit_cost=[0.0, 0.0])
    result = _solve(arrays, RouteQuery(0, 3, 10.0, max_jurisdictions=1), label_search)
    assert result.cost == 3.0
    assert result.edges == (1, 2, 3)


def test_cp_sat_takes_over_a_search_past_its_label_budget(monkeypatch) -> None:
    import optimizer.solve

    arrays = _paid_permit_case()
    calls = []
    cp_sat = optimizer.solve.solve_route_model
    monkeypatch.setattr(
        optimizer.solve, "solve_route_model", lambda *a, **k: calls.append(1) or cp_sat(*a, **k)
    )
    monkeypatch.setattr(optimizer.solve, "_PERMIT_LABELS", 1)
    result = _solve(arrays, RouteQuery(0, 3, 10.0), label_search=True)
    assert result.cost == 5.5 and result.stats["labels"] == 2  # gave up at the second label
    assert calls  # CP-SAT solved it
    monkeypatch.setattr(optimizer.solve, "_PERMIT_LABELS", 1000)
    calls.clear()
    assert _solve(arrays, RouteQuery(0, 3, 10.0), label_search=True).cost == 5.5
    assert not calls  # the label search alone


@pytest.mark.parametrize("label_search", ENGINES.values(), ids=ENGINES.keys())
def test_a_free_loop_that_pays_permits_is_not_taken(label_search: bool) -> None:
    # 1 -> 2 -> 1 costs nothing but pays J0 and J1 in an order whose float sum differs by one
    # step from paying them on the way; the route must still be the simple 0 -> 1 -> 3.
    rows = [(0, 1, 0.3, 1.0), (1, 2, 0.0, 0.0), (2, 1, 0.0, 0.0), (1, 3, 0.0, 1.0)]
    juris = [[-1, -1], [0, -1], [1, -1], [0, 1]]
    arrays = make_arrays(4, rows, directed=True, jurisdiction=juris, permit_cost=[0.2, 0.1])
    result = _solve(arrays, RouteQuery(0, 3, 10.0), label_search)
    assert result.nodes == (0, 1, 3)


def test_pruning_that_shrinks_every_round_keeps_its_floor_aligned(monkeypatch) -> None:
    import optimizer.solve

    monkeypatch.setattr(optimizer.solve, "_PRUNE_ROUNDS", 1)  # the one round shrinks by > 10%
    rows = [(0, 1, 1.0, 1.0), (0, 2, 1.0, 1.0), (2, 1, 1.0, 1.0), (0, 3, 50.0, 1.0), (3, 1, 50.0, 1.0)]
    arrays = make_arrays(4, rows, directed=True, jurisdiction=[[-1]] * 5, permit_cost=[1.0])
    assert _solve(arrays, RouteQuery(0, 1, 10.0), label_search=True).edges == (0,)
