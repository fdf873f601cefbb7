"""The least-shared fallback on a network (issue 14, item 5): what the routes share is measured
and named, reaches the GIS layers and gRPC, and stays out of shared builds; the optimum itself is
checked against the independent brute force in test_least_shared_bruteforce.py."""

from __future__ import annotations

import pytest
from shapely import LineString, Point

from optimizer.config import GraphSettings
from optimizer.convert import demand_from_proto, demand_to_proto, route_to_proto
from optimizer.errors import InvalidRequestError
from optimizer.export import solution_layers
from optimizer.graph import build_graph
from optimizer.problem import RouteStatus
from optimizer.routes import Demand, Solution, solve_demand, solve_demands

from .conftest import make_layers

STEP = 0.2


@pytest.fixture(scope="module")
def ring():
    """A square ring of four corridors, each its own risk group; sites A and B hang off the west
    and east corners on one lateral each (a single way in); the north side is the longer."""
    corners = [(-100.0, 40.0), (-100 + STEP, 40 - STEP), (-100 + 2 * STEP, 40.0), (-100 + STEP, 40.4)]
    rows = [
        {"geometry": LineString([corners[k], corners[(k + 1) % 4]]), "cost_per_km": 1000.0, "srlg": f"g{k}"}
        for k in range(4)
    ]
    sites = [
        {"site_id": "A", "geometry": Point(-100.05, 40.0)},
        {"site_id": "B", "geometry": Point(-100 + 2 * STEP + 0.01, 40.0)},
    ]
    settings = GraphSettings(laterals_per_site=1, max_lateral_km=10)
    return build_graph(make_layers(rows, sites), settings=settings)


def test_strict_is_infeasible_and_least_shared_names_what_is_shared(ring):
    strict = solve_demand(ring, Demand("d", "A", "B", 10.0, paths=2))
    assert strict[0].status is RouteStatus.INFEASIBLE and "single way in" in strict[0].reason
    routes = solve_demand(ring, Demand("d", "A", "B", 10.0, paths=2, diversity_fallback="least_shared"))
    assert [r.status for r in routes] == [RouteStatus.OPTIMAL] * 2
    lateral = ring.edges["site"].to_numpy() >= 0
    lateral_km = float(ring.edges["length_km"].to_numpy()[lateral].sum())
    assert all(r.shared_km == pytest.approx(lateral_km, abs=1e-3) for r in routes)
    assert set(routes[0].edges) - set(routes[1].edges)  # apart beyond the laterals
    warning = routes[0].warnings[-1]
    assert "no 2 fully SRLG-diverse routes exist" in warning and "a site lateral" in warning
    assert "2 junctions" in warning  # the two corners the laterals reach


def test_a_fully_diverse_set_is_returned_unchanged(ring):
    plain = solve_demand(ring, Demand("d", "B", "A", 10.0, paths=1))
    fallback = solve_demand(ring, Demand("d", "B", "A", 10.0, paths=1, diversity_fallback="least_shared"))
    assert plain[0].cost == pytest.approx(fallback[0].cost) and not fallback[0].warnings


def test_the_latency_bound_still_binds(ring):
    routes = solve_demand(ring, Demand("d", "A", "B", 10.0, paths=2, diversity_fallback="least_shared"))
    slowest = max(r.latency_ms for r in routes)
    tight = solve_demand(
        ring, Demand("d", "A", "B", slowest * 0.999, paths=2, diversity_fallback="least_shared")
    )
    # the only faster pair runs one route twice: it shares more, and is the answer
    assert tight[0].status is RouteStatus.OPTIMAL
    assert tight[0].shared_km > routes[0].shared_km
    assert all(r.latency_ms <= slowest * 0.999 + 1e-6 for r in tight)


def test_shared_km_reaches_the_layers_and_the_proto(ring):
    routes = solve_demand(ring, Demand("d", "A", "B", 10.0, paths=2, diversity_fallback="least_shared"))
    layers = solution_layers(Solution("s", routes, ring.stats.as_dict()), ring)
    assert list(layers.routes["shared_km"]) == pytest.approx([r.shared_km for r in routes])
    assert route_to_proto(routes[0], ring).shared_km == pytest.approx(routes[0].shared_km)


def test_the_fallback_round_trips_and_is_checked():
    demand = Demand("d", "A", "B", 10.0, paths=2, diversity_fallback="least_shared")
    assert demand_from_proto(demand_to_proto(demand)).diversity_fallback == "least_shared"
    with pytest.raises(InvalidRequestError, match="diversity_fallback must be one of"):
        Demand("d", "A", "B", 10.0, diversity_fallback="loose")


def test_the_fallback_is_refused_in_a_shared_build(ring):
    demands = [Demand("d", "A", "B", 10.0, paths=2, diversity_fallback="least_shared")]
    with pytest.raises(InvalidRequestError, match=r"demands\[0\]\.diversity_fallback: .*shared build"):
        solve_demands(ring, demands, shared_build=True)
