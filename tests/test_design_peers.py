"""The design engine against independent exact peers (tests/peers.py) on generated grids.

* Diverse pairs with a latency bound that does not bind: cost equal to a k-unit min-cost flow
  (OR-Tools SimpleMinCostFlow), INFEASIBLE exactly when the flow finds fewer than k routes.
* Shared builds, one route per demand from a hub (Steiner trees): cost equal to the optimum a
  multicommodity MIP (HiGHS) proves.
* Binding latency bounds (the cheapest flow's routes too slow), SRLG diversity and several
  diverse demands built together: cost equal to the MIP with k diverse routes per demand.

Every answer of the engine is also checked from its edges (peers.design_problems): each route a
simple path between its demand's ends within its latency bound, the routes of a demand
diverse, costs and latencies recomputed; and since the peer's routes are optimal too, the
engine's may not be slower in total (ties go to lower latency).  The peers themselves are
checked against the brute force of tests/bruteforce_design.py on tiny graphs.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pytest

from optimizer.design import solve_design
from optimizer.problem import DesignResult, EdgeArrays, RouteStatus, SolverOptions

from .bruteforce_design import brute_force_design
from .peers import (
    FlowPeer,
    MipPeer,
    PeerDemand,
    binding_pair,
    design_demands,
    design_problems,
    fastest_ms,
    flow_for,
    grid_for_edges,
    hub_demands,
    loose_pair,
    mip_for,
    pick_pair,
    route_latency_ms,
    route_problems,
    same_cost,
    slowest_ms,
)

ENGINE = SolverOptions(time_limit_s=120.0)
"""Long enough for a correct engine to prove every case here; a timeout fails the test."""

PEER_LIMIT_S = 300.0
LATENCY_SLACK_MS = 1e-9
"""Sums of the same latencies in another order differ by float rounding only."""


def _engine(arrays: EdgeArrays, demands: Sequence[PeerDemand]) -> DesignResult:
    return solve_design(arrays, design_demands(demands), options=ENGINE)


def assert_optimal_design(arrays: EdgeArrays, demands: Sequence[PeerDemand], result: DesignResult) -> None:
    """OPTIMAL, and its routes are what the demands ask, with figures that match their edges."""
    assert result.status is RouteStatus.OPTIMAL, (result.status, result.demand_reason)
    assert result.demand_status == (RouteStatus.OPTIMAL,) * len(demands)
    assert not design_problems(arrays, demands, result)


def assert_no_slower_than(result: DesignResult, peer_latency_ms: float) -> None:
    """The peer's routes are optimal too, so the engine's (ties: least total latency) are no
    slower in total."""
    assert result.latency_total_ms <= peer_latency_ms + LATENCY_SLACK_MS, (
        result.latency_total_ms,
        peer_latency_ms,
    )


# --- diverse pairs against the min-cost flow ------------------------------------------------


def _check_against_flow(arrays: EdgeArrays, demand: PeerDemand, flow: FlowPeer) -> None:
    """The engine proves the flow's cost, or INFEASIBLE when the flow has fewer than k routes."""
    result = _engine(arrays, [demand])
    if flow.cost is None:
        assert result.status is RouteStatus.INFEASIBLE, (result.status, result.cost)
        assert result.demand_status == (RouteStatus.INFEASIBLE,)
        assert result.routes == ((),)
        return
    assert not route_problems(arrays, demand, flow.routes)  # the peer's own answer is sound
    assert_optimal_design(arrays, [demand], result)
    assert same_cost(result.cost, flow.cost), f"engine {result.cost!r}, min-cost flow {flow.cost!r}"
    assert_no_slower_than(result, route_latency_ms(arrays, flow.routes))


SMALL_PAIRS = [(100 + 40 * i, i) for i in range(11)]  # 100 to 500 edges
MEDIUM_PAIRS = [(2000, 21), (3500, 22), (5000, 23)]


@pytest.mark.parametrize("kind", ["edge", "node"])
@pytest.mark.parametrize(("n_edges", "seed"), SMALL_PAIRS, ids=[f"{n}e" for n, _ in SMALL_PAIRS])
def test_small_diverse_pair_costs_what_the_flow_costs(n_edges, seed, kind):
    _check_against_flow(*loose_pair(n_edges, seed, 2, kind))


@pytest.mark.parametrize("kind", ["edge", "node"])
@pytest.mark.parametrize("seed", range(8))
def test_sparse_diverse_pair_agrees_with_the_flow_on_feasibility(seed, kind):
    """Grids with 30% of their edges removed: bridges and cut nodes, some pairs infeasible."""
    _check_against_flow(*loose_pair(250, seed, 2, kind, removal_p=0.3))


@pytest.mark.parametrize(
    ("seed", "kind", "k"),
    [(3, "edge", 2), (12, "node", 2), (1, "node", 2), (15, "node", 2), (1, "edge", 3), (0, "node", 3)],
)
def test_diverse_pair_the_flow_finds_too_few_of_is_infeasible(seed, kind, k):
    arrays, demand, flow = loose_pair(250, seed, k, kind, removal_p=0.3)
    assert flow.cost is None  # the instance is what the test is about
    _check_against_flow(arrays, demand, flow)


@pytest.mark.parametrize("kind", ["edge", "node"])
@pytest.mark.parametrize("seed", [4, 5, 6])
def test_small_three_diverse_routes_cost_what_the_flow_costs(seed, kind):
    _check_against_flow(*loose_pair(400, seed, 3, kind))


@pytest.mark.parametrize("kind", ["edge", "node"])
@pytest.mark.parametrize(("n_edges", "seed"), MEDIUM_PAIRS, ids=[f"{n}e" for n, _ in MEDIUM_PAIRS])
def test_medium_diverse_pair_costs_what_the_flow_costs(n_edges, seed, kind):
    _check_against_flow(*loose_pair(n_edges, seed, 2, kind))


def test_medium_three_diverse_routes_cost_what_the_flow_costs():
    _check_against_flow(*loose_pair(2500, 31, 3, "node"))


@pytest.mark.parametrize("kind", ["edge", "node"])
def test_20000_edge_diverse_pair_costs_what_the_flow_costs(kind):
    arrays, demand, flow = loose_pair(20000, 41, 2, kind)
    assert arrays.n_edges > 19000
    _check_against_flow(arrays, demand, flow)


@pytest.mark.parametrize(
    ("n_edges", "seed", "kind"), [(300, 2, "edge"), (300, 3, "node"), (5000, 23, "node")]
)
def test_bound_within_tolerance_of_the_flows_slowest_route_does_not_bind(n_edges, seed, kind):
    """Bound 0.5e-6 ms below the flow's slowest route: the 1e-6 ms tolerance lets it through."""
    arrays, demand, flow = loose_pair(n_edges, seed, 2, kind)
    tight = PeerDemand(demand.source, demand.target, slowest_ms(arrays, flow.routes) - 0.5e-6, 2, kind)
    _check_against_flow(arrays, tight, flow)


# --- shared builds (Steiner trees) against the MIP ------------------------------------------


def _check_against_mip(arrays: EdgeArrays, demands: Sequence[PeerDemand]) -> MipPeer:
    """The engine proves the cost the MIP proves; returns the MIP's answer."""
    mip = mip_for(arrays, demands, PEER_LIMIT_S)
    assert mip.status == "OPTIMAL", f"the MIP peer did not prove its answer ({mip.status}, bound {mip.bound})"
    for demand, routes in zip(demands, mip.routes, strict=True):
        assert not route_problems(arrays, demand, routes)
    result = _engine(arrays, demands)
    assert_optimal_design(arrays, demands, result)
    assert same_cost(result.cost, mip.cost), f"engine {result.cost!r}, MIP {mip.cost!r} (bound {mip.bound!r})"
    assert_no_slower_than(result, sum(route_latency_ms(arrays, rs) for rs in mip.routes))
    return mip


STEINER = [
    (75, 3, 1),
    (100, 4, 2),
    (150, 5, 3),
    (200, 6, 4),
    (250, 8, 5),
    (300, 10, 6),
    (400, 12, 7),
    (500, 6, 8),
    (1000, 8, 9),
    (2000, 5, 10),
    (5000, 3, 12),
    # Found by bench/design_peers.py: some tree route is slower than its bound (3x its fastest)
    (99, 10, 201),
    (100, 8, 2),
    (304, 8, 205),
]


@pytest.mark.parametrize(
    ("n_edges", "n_terminals", "seed"), STEINER, ids=[f"{n}e-{t}t" for n, t, _ in STEINER]
)
def test_hub_shared_build_costs_what_the_mip_proves(n_edges, n_terminals, seed):
    _check_against_mip(*hub_demands(n_edges, n_terminals, seed, 3.0))


@pytest.mark.parametrize(("n_edges", "n_terminals", "seed"), [(200, 5, 12), (400, 6, 13)])
def test_hub_shared_build_with_tight_bounds_costs_what_the_mip_proves(n_edges, n_terminals, seed):
    """Bounds 1.05x each terminal's fastest route: the tree bends to meet them."""
    _check_against_mip(*hub_demands(n_edges, n_terminals, seed, 1.05))


# --- binding latency bounds against the MIP with k diverse routes ---------------------------


BINDING = [
    (200, 0, 2, "edge"),
    (200, 5, 2, "node"),
    (300, 11, 2, "node"),
    (800, 9, 2, "edge"),
    (400, 6, 3, "node"),
]


@pytest.mark.parametrize(("n_edges", "seed", "k", "kind"), BINDING)
def test_diverse_pair_under_a_binding_bound_costs_what_the_mip_proves(n_edges, seed, k, kind):
    arrays, demand = binding_pair(n_edges, seed, k, kind)
    mip = _check_against_mip(arrays, [demand])
    assert mip.cost > flow_for(arrays, demand).cost * (1 + 1e-6)  # the bound did bind


@pytest.mark.parametrize(("seed", "kind"), [(2, "edge"), (3, "node")])
def test_bound_just_below_the_flows_slowest_route_binds(seed, kind):
    """Bound 2e-6 ms below the flow's slowest route: beyond the tolerance, that set is out."""
    arrays, demand, flow = loose_pair(300, seed, 2, kind)
    tight = PeerDemand(demand.source, demand.target, slowest_ms(arrays, flow.routes) - 2e-6, 2, kind)
    mip = _check_against_mip(arrays, [tight])
    assert mip.cost >= flow.cost * (1 - 1e-12)


@pytest.mark.parametrize("seed", [0, 5])
def test_srlg_pair_under_a_binding_bound_costs_what_the_mip_proves(seed):
    arrays, demand = binding_pair(250, seed, 2, "srlg", groups=40)
    _check_against_mip(arrays, [demand])


@pytest.mark.parametrize("seed", [1, 2])
def test_diverse_pairs_built_together_cost_what_the_mip_proves(seed):
    """Two demands of two node-diverse routes each, bounds 1.6x their fastest, one union cost."""
    arrays = grid_for_edges(250, seed)
    demands = []
    for offset in (0, 100):
        s, t = pick_pair(arrays, seed + offset)
        demands.append(PeerDemand(s, t, 1.6 * fastest_ms(arrays, s, t), 2, "node"))
    _check_against_mip(arrays, demands)


# --- the peers against the brute force ------------------------------------------------------


def _tiny(seed: int) -> EdgeArrays:
    """A random multigraph of 5-8 nodes and 8-12 edges (self-loops, parallel and free edges)."""
    rng = np.random.default_rng(seed)
    n, m = int(rng.integers(5, 9)), int(rng.integers(8, 13))
    cost = rng.choice([0.0, 1.0, 2.0, 3.5], m) if seed % 3 == 0 else rng.uniform(0, 10, m)
    return EdgeArrays(
        n,
        rng.integers(0, n, m),
        rng.integers(0, n, m),
        cost,
        rng.uniform(0.1, 3, m),
        np.zeros((m, 0), dtype=np.int64),
        np.zeros(0),
        np.zeros(0, dtype=bool),
        srlg_edge=rng.integers(0, m, 4),
        srlg_group=rng.integers(0, 3, 4),
    )


def _tiny_demands(arrays: EdgeArrays, seed: int) -> list[PeerDemand]:
    """One or two demands of 1-3 routes of any diversity; every fourth seed, a hub and three
    terminals instead (the MIP's rooted formulation)."""
    rng = np.random.default_rng(1000 + seed)
    demands = []
    for _ in range(int(rng.integers(1, 3))):
        s, t = rng.choice(arrays.n_nodes, 2, replace=False)
        bound = float(rng.uniform(1, 8)) if rng.random() < 0.6 else 1e9
        kind = str(rng.choice(["edge", "node", "srlg"]))
        demands.append(PeerDemand(int(s), int(t), bound, int(rng.integers(1, 4)), kind))
    if seed % 4 == 0:
        hub = demands[0].source
        others = [v for v in range(arrays.n_nodes) if v != hub][:3]
        demands = [PeerDemand(hub, v, float(rng.uniform(1, 6))) for v in others]
    return demands


@pytest.mark.parametrize("seed", range(40))
def test_peers_agree_with_the_brute_force(seed):
    arrays = _tiny(seed)
    demands = _tiny_demands(arrays, seed)
    brute = brute_force_design(arrays, design_demands(demands))
    mip = mip_for(arrays, demands, 30.0)
    if not all(brute.feasible):
        assert mip.status == "INFEASIBLE"
    else:
        assert mip.status == "OPTIMAL" and same_cost(mip.cost, brute.cost), (mip, brute.cost)
        for demand, routes in zip(demands, mip.routes, strict=True):
            assert not route_problems(arrays, demand, routes)
    first = demands[0]
    if first.diversity != "srlg":
        loose = PeerDemand(first.source, first.target, 1e9, first.paths, first.diversity)
        alone = brute_force_design(arrays, design_demands([loose]))
        flow = flow_for(arrays, loose)
        if not alone.feasible[0]:
            assert flow.cost is None
        else:
            assert flow.cost is not None and same_cost(flow.cost, alone.cost), (flow.cost, alone.cost)
            assert not route_problems(arrays, loose, flow.routes)
