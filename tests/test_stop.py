"""A stopped or timed-out solve returns at once with honest statuses, and any max_cost works.

Each stop test runs work that takes far longer unstopped (tens of seconds to minutes on the
sample) and allows STOP_MARGIN_S after the stop: a margin for a loaded machine, not a speed
claim.  The max_cost tests check that a cap beyond any design's cost changes nothing.
"""

from __future__ import annotations

import math
import threading
import time
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

import optimizer.routes
from optimizer.design_mip import build_design_mip, solve_design_mip
from optimizer.design_model import Slot, build_design_model, solve_design_model
from optimizer.errors import InvalidRequestError
from optimizer.geodata import load_geodata
from optimizer.graph import build_graph
from optimizer.model import CallStop
from optimizer.problem import DesignDemand, EdgeArrays, RouteQuery, RouteStatus, SolverOptions, StopSignal
from optimizer.prune import PrunedArcs
from optimizer.routes import (
    Demand,
    demand_query,
    separation_conflicts,
    solve_demand,
    solve_demands,
    solve_frontier,
)
from optimizer.scenario import load_scenario

SAMPLE = Path(__file__).resolve().parents[1] / "geodata" / "sample"
STOP_MARGIN_S = 1.5
"""Most a solve may run on after its stop (or time limit) in these tests."""


@pytest.fixture(scope="module")
def sample():
    """The sample network (the scenario's settings) and the shared-build demands."""
    scenario = load_scenario(SAMPLE / "scenario.yaml")
    network = build_graph(load_geodata(scenario.geodata), settings=scenario.settings)
    return network, load_scenario(SAMPLE / "shared-build.yaml").demands


def _hard(demands):
    """The shared build and four more pairs, three SRLG-diverse routes each: minutes to settle."""
    more = [Demand(f"x{i}", a, b, ms) for i, (a, b, ms) in enumerate(_MORE)]
    return [replace(d, paths=3, max_latency_ms=d.max_latency_ms * 1.3) for d in [*demands, *more]]


_MORE = (("KCY1", "TUL1", 4.0), ("CHI1", "IND1", 3.0), ("STL1", "IND1", 3.0), ("CHI2", "OKC1", 6.5))


def _timed(call, *, stop_after_s: float | None = None, time_limit_s: float = 60.0):
    """call(options) with a stop set from a timer thread after stop_after_s; (result, seconds)."""
    stop = StopSignal()
    timer = threading.Timer(stop_after_s, stop.set) if stop_after_s is not None else None
    started = time.perf_counter()
    if timer is not None:
        timer.start()
    try:
        result = call(SolverOptions(time_limit_s=time_limit_s, stop=stop))
    finally:
        if timer is not None:
            timer.cancel()
    return result, time.perf_counter() - started


def _check_honest(routes, design, *, why: str) -> None:
    """Every route carries a status it has earned: UNSOLVED says why, FEASIBLE has its bound."""
    for route in routes:
        if route.status is RouteStatus.UNSOLVED:
            assert why in route.reason and route.geometry is None
        elif route.status is RouteStatus.FEASIBLE:
            assert math.isfinite(route.cost) and not route.bound > route.cost * (1 + 1e-9)
    if design is not None and design.unsolved_demands:
        assert math.isnan(design.gap)


def test_shared_build_returns_soon_after_stop(sample):
    network, demands = sample
    (routes, design), took = _timed(
        lambda o: solve_demands(network, _hard(demands), options=o, shared_build=True), stop_after_s=0.3
    )
    assert took <= 0.3 + STOP_MARGIN_S
    _check_honest(routes, design, why="stopped (cancelled or past the deadline)")
    assert any(r.status is RouteStatus.UNSOLVED for r in routes)  # it was cut short, and says so


def test_shared_build_keeps_its_time_limit(sample):
    network, demands = sample
    (routes, design), took = _timed(
        lambda o: solve_demands(network, _hard(demands), options=o, shared_build=True), time_limit_s=2.0
    )
    assert took <= 2.0 + STOP_MARGIN_S
    _check_honest(routes, design, why="time limit 2 s reached")


def test_diverse_demand_keeps_its_time_limit(sample):
    network, _ = sample
    demand = Demand("chi-dal-3", "CHI1", "DAL1", 9.0, paths=3, diversity="node")  # ~45 s to prove
    routes, took = _timed(lambda o: solve_demand(network, demand, options=o), time_limit_s=1.0)
    assert took <= 1.0 + STOP_MARGIN_S
    _check_honest(routes, None, why="time limit 1 s reached")


def test_diverse_demand_and_its_frontier_return_soon_after_stop(sample):
    network, _ = sample
    demand = Demand("chi-dal-8", "CHI1", "DAL1", 9.0, paths=8)  # infeasible, explained at length
    routes, took = _timed(lambda o: solve_demand(network, demand, options=o), stop_after_s=0.3)
    assert took <= 0.3 + STOP_MARGIN_S
    assert routes[0].status is RouteStatus.INFEASIBLE and routes[0].reason  # proven by the flow
    pair = Demand("chi-dal", "CHI1", "DAL1", 7.5, paths=2)  # its sweep runs minutes
    frontier, took = _timed(lambda o: solve_frontier(network, pair, options=o), stop_after_s=0.3)
    assert took <= 0.3 + STOP_MARGIN_S
    assert not frontier.complete and "stopped" in frontier.reason


def test_call_stop_follows_its_caller_or_its_timer():
    caller = StopSignal()
    with CallStop(caller) as stop:
        assert not stop.is_set()
        caller.set()
        assert stop.is_set() and stop.by_caller
    with CallStop(None, 0.05) as timed:
        assert timed.timer_only
        deadline = time.perf_counter() + 5.0
        while not timed.is_set() and time.perf_counter() < deadline:
            time.sleep(0.01)
        assert timed.is_set() and not timed.by_caller


@pytest.mark.parametrize("max_cost", [1e15, 1e308])
def test_huge_max_cost_changes_nothing_for_a_diverse_pair(sample, max_cost):
    network, _ = sample
    pair = Demand("kcy-tul", "KCY1", "TUL1", 4.0, paths=2)
    options = SolverOptions(time_limit_s=60)
    free = solve_demand(network, pair, options=options)
    capped = solve_demand(network, replace(pair, max_cost=max_cost), options=options)
    assert [r.status for r in capped] == [RouteStatus.OPTIMAL] * 2
    assert sum(r.cost for r in capped) == pytest.approx(sum(r.cost for r in free), rel=1e-12)


@pytest.mark.parametrize("max_cost", [1e15, 1e308])
def test_huge_max_cost_changes_nothing_for_a_shared_build(sample, max_cost):
    network, _ = sample
    demands = [
        Demand("a", "CHI2", "DAL2", 7.5),
        Demand("b", "STL1", "TUL1", 4.0),
        Demand("c", "MEM1", "LIT1", 5.0),
    ]
    options = SolverOptions(time_limit_s=60)
    _, free = solve_demands(network, demands, options=options, shared_build=True)
    capped = [replace(d, max_cost=max_cost) for d in demands]
    _, design = solve_demands(network, capped, options=options, shared_build=True)
    assert design.gap == 0.0 and design.cost == pytest.approx(free.cost, rel=1e-12)


def _square() -> tuple[EdgeArrays, DesignDemand, list[Slot]]:
    """Two disjoint two-edge paths 0-1-3 and 0-2-3 plus an edge far dearer than both: a pair
    whose max_cost stays below the cost of everything but far above the model's range."""
    tail, head = np.array([0, 1, 0, 2, 4]), np.array([1, 3, 2, 3, 5])
    arrays = EdgeArrays(
        n_nodes=6,
        tail=tail,
        head=head,
        cost=np.array([3.0, 4.0, 5.0, 6.0, 1e300]),
        latency_ms=np.ones(5),
        jurisdiction=np.zeros((5, 0), dtype=np.int64),
        permit_cost=np.zeros(0),
        counted=np.zeros(0, dtype=bool),
    )
    edge = np.arange(4)
    arcs = PrunedArcs(edge, tail[:4], head[:4], 4)
    demand = DesignDemand(RouteQuery(0, 3, 10.0, max_cost=1e299), paths=2)
    return arrays, demand, [Slot(0, p, 0, arcs) for p in range(2)]


def test_models_leave_out_a_max_cost_row_that_cannot_bind():
    arrays, demand, slots = _square()
    options = SolverOptions(time_limit_s=10)
    free = replace(demand, query=replace(demand.query, max_cost=None))
    for d in (demand, free):
        model = build_design_model(arrays, [d], slots)
        assert solve_design_model(model, options=options, time_limit_s=10).objective == pytest.approx(18.0)
        mip = build_design_mip(arrays, [d], slots)
        assert solve_design_mip(mip, options=options, time_limit_s=10).objective == pytest.approx(18.0)


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"max_latency_ms": "x"}, "demand 'd': max_latency_ms must be a number, got 'x'"),
        ({"max_latency_ms": math.inf}, "max_latency_ms must be > 0 and finite, got inf"),
        ({"max_cost": math.inf}, "max_cost must be a finite number >= 0, got inf"),
        ({"max_cost": math.nan}, "max_cost must be a finite number >= 0, got nan"),
        ({"max_cost": -1.0}, "max_cost must be a number >= 0, got -1.0"),
        ({"min_separation_km": 9e15}, "min_separation_km must be at most 1000, got 9e+15"),
        ({"max_cost": "1e3"}, "max_cost must be a number, got '1e3'"),
        ({"paths": "2"}, "paths must be an integer in [1, 8], got '2'"),
        ({"max_jurisdictions": 2.5}, "max_jurisdictions must be an integer >= 0, got 2.5"),
        ({"diversity": ["edge"]}, "diversity must be one of"),
        ({"b": ["DAL1"]}, "b must be text, got ['DAL1']"),
        ({"avoid_jurisdictions": "20"}, "avoid_jurisdictions must be a tuple of jurisdiction ids, got '20'"),
        (
            {"diverse_from_corridors": "c1"},
            "diverse_from_corridors must be a tuple of corridor ids, got 'c1'",
        ),
    ],
)
def test_demand_fields_of_the_wrong_kind_are_named(changes, message):
    fields = {"id": "d", "a": "CHI1", "b": "DAL1", "max_latency_ms": 7.5, **changes}
    with pytest.raises(InvalidRequestError) as error:
        Demand(**fields)
    assert message in str(error.value)


def test_demand_takes_any_finite_max_cost():
    assert Demand("d", "CHI1", "DAL1", 7.5, max_cost=1e308).max_cost == 1e308


def test_separation_pairs_count_against_the_time_limit(sample):
    """Finding a wide separation's too-close pairs (seconds) is part of the solve's time limit."""
    network, _ = sample
    demand = Demand("chi-dal", "CHI1", "DAL1", 9.0, paths=2, min_separation_km=300)  # ~240k pairs
    routes, took = _timed(lambda o: solve_demand(network, demand, options=o), time_limit_s=0.5)
    assert took <= 0.5 + STOP_MARGIN_S
    _check_honest(routes, None, why="time limit 0.5 s reached")


def test_separation_pairs_follow_a_stop(sample):
    network, _ = sample
    demand = Demand("chi-dal", "CHI1", "DAL1", 9.0, paths=2, min_separation_km=300)
    routes, took = _timed(lambda o: solve_demand(network, demand, options=o), stop_after_s=0.3)
    assert took <= 0.3 + STOP_MARGIN_S
    _check_honest(routes, None, why="stopped (cancelled or past the deadline)")
    assert routes[0].status is RouteStatus.UNSOLVED


def test_too_many_separation_pairs_are_refused_naming_the_demand(sample):
    network, _ = sample
    demand = Demand("chi-dal", "CHI1", "DAL1", 9.0, paths=2, min_separation_km=50)  # ~23k pairs
    allowed = demand_query(network, demand).edge_allowed
    with pytest.raises(InvalidRequestError, match=r"demand 'chi-dal': min_separation_km 50 makes over 1,000"):
        separation_conflicts(network, demand, allowed, max_pairs=1000)


def test_separation_pairs_are_the_same_in_any_slices(sample, monkeypatch):
    network, _ = sample
    demand = Demand("chi-dal", "CHI1", "DAL1", 9.0, paths=2, min_separation_km=40, endpoint_radius_km=15)
    allowed = demand_query(network, demand).edge_allowed
    whole = separation_conflicts(network, demand, allowed)
    monkeypatch.setattr(optimizer.routes, "_SEPARATION_CHUNK_PAIRS", 1)  # one edge per slice
    sliced = separation_conflicts(network, demand, allowed)
    assert len(whole) > 1000
    assert {tuple(p) for p in whole.tolist()} == {tuple(p) for p in sliced.tolist()}
