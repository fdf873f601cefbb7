"""Must-pass stops on a network (issue 14, item 3): via sites and points, in the given order or
any, through scenarios, the library and gRPC messages; the exact optimum is checked against the
independent brute force in test_via_bruteforce.py."""

from __future__ import annotations

import numpy as np
import pytest
import shapely
from shapely import LineString, Point

from optimizer.config import GraphSettings
from optimizer.convert import demand_from_proto, demand_to_proto
from optimizer.errors import InvalidRequestError, InvalidScenarioError, UnknownSiteError
from optimizer.graph import build_graph
from optimizer.problem import RouteStatus
from optimizer.routes import Demand, check_demand_names, solve_demand, solve_demands, solve_frontier
from optimizer.scenario import load_scenario

from .conftest import make_layers

STEP = 0.2


def _ladder():
    """Two parallel east-west corridors (north, south) joined by three rungs, near 40 N 100 W;
    sites A and B off the west and east ends of the south corridor, C off the middle of the
    north one and D off the east end of the north one."""
    lines = [
        ((-100.0, 40.0), (-100 + 2 * STEP, 40.0)),  # south: cheap
        ((-100.0, 40.0 + STEP), (-100 + 2 * STEP, 40.0 + STEP)),  # north: dear
        *(((-100 + k * STEP, 40.0), (-100 + k * STEP, 40.0 + STEP)) for k in range(3)),
    ]
    cost = [1000.0, 5000.0, 2000.0, 2000.0, 2000.0]
    rows = [{"geometry": LineString(e), "cost_per_km": c} for e, c in zip(lines, cost, strict=True)]
    sites = [
        {"site_id": "A", "geometry": Point(-100.01, 39.99)},
        {"site_id": "B", "geometry": Point(-100 + 2 * STEP + 0.01, 39.99)},
        {"site_id": "C", "geometry": Point(-100 + STEP, 40.0 + STEP + 0.01)},
        {"site_id": "D", "geometry": Point(-100 + 2 * STEP + 0.01, 40.0 + STEP + 0.01)},
    ]
    return build_graph(make_layers(rows, sites), settings=GraphSettings(laterals_per_site=1))


@pytest.fixture(scope="module")
def ladder():
    return _ladder()


def _passes(network, route, site: str) -> bool:
    """Whether the route runs through the site's node."""
    return network.site_node[site] in route.nodes


def test_a_via_site_is_passed_and_costs_more_than_the_direct_route(ladder):
    direct = solve_demand(ladder, Demand("d", "A", "B", 10.0))[0]
    via = solve_demand(ladder, Demand("d", "A", "B", 10.0, via=("C",)))[0]
    assert direct.status is via.status is RouteStatus.OPTIMAL
    assert not _passes(ladder, direct, "C") and _passes(ladder, via, "C")
    assert via.cost > direct.cost
    assert via.geometry.coords[0] == direct.geometry.coords[0]  # still ordered from a to b


def test_a_via_site_on_a_spur_is_run_in_and_out_and_paid_twice(ladder):
    """C hangs off the north corridor on one lateral: the route runs it both ways."""
    route = solve_demand(ladder, Demand("d", "A", "B", 10.0, via=("C",)))[0]
    lateral = np.flatnonzero(ladder.edges["site"].to_numpy() == ladder.site_node["C"])
    assert len(lateral) == 1
    assert list(route.edges).count(int(lateral[0])) == 2
    km = ladder.edges["length_km"].to_numpy()
    assert route.length_km == pytest.approx(float(km[list(route.edges)].sum()))


def test_order_matters_unless_any_order_is_asked(ladder):
    given = solve_demand(ladder, Demand("d", "A", "B", 10.0, via=("D", "C")))[0]
    best = solve_demand(ladder, Demand("d", "A", "B", 10.0, via=("D", "C"), via_order="any"))[0]
    in_order = solve_demand(ladder, Demand("d", "A", "B", 10.0, via=("C", "D")))[0]
    assert given.status is best.status is in_order.status is RouteStatus.OPTIMAL
    assert best.cost == pytest.approx(min(given.cost, in_order.cost))
    assert given.cost > in_order.cost  # D then C doubles back along the dear north corridor
    nodes = list(given.nodes)
    assert nodes.index(ladder.site_node["D"]) < nodes.index(ladder.site_node["C"])


def test_a_via_point_on_a_corridor_is_passed(ladder):
    point = Point(-100 + 1.5 * STEP, 40.0 + STEP)  # on the north corridor
    route = solve_demand(ladder, Demand("d", "A", "B", 10.0, via=(point,)))[0]
    assert route.status is RouteStatus.OPTIMAL
    assert shapely.distance(route.geometry, point) < 1e-6


def test_the_latency_bound_counts_the_whole_walk(ladder):
    route = solve_demand(ladder, Demand("d", "A", "B", 10.0, via=("C",)))[0]
    tight = solve_demand(ladder, Demand("d", "A", "B", route.latency_ms * 0.99, via=("C",)))[0]
    assert tight.status is RouteStatus.INFEASIBLE
    assert "ms" in tight.reason


def test_frontier_with_a_via_stop_passes_it_at_every_point(ladder):
    frontier = solve_frontier(ladder, Demand("d", "A", "B", 10.0, via=("C",)))
    assert frontier.complete and frontier.points
    assert all(_passes(ladder, step.routes[0], "C") for step in frontier.points)


def test_a_point_off_every_corridor_is_refused_with_the_distance(ladder):
    far = Point(-100 + STEP / 2, 40.0 + STEP / 2)  # between the rungs, km from any corridor
    with pytest.raises(InvalidRequestError, match=r"via\[0\].*lies on no corridor.*km away"):
        solve_demand(ladder, Demand("d", "A", "B", 10.0, via=(far,)))


def test_two_points_on_one_segment_are_refused(ladder):
    one, two = Point(-100 + 1.2 * STEP, 40.0 + STEP), Point(-100 + 1.8 * STEP, 40.0 + STEP)
    with pytest.raises(InvalidRequestError, match=r"via\[0\] and via\[1\] lie on one segment"):
        solve_demand(ladder, Demand("d", "A", "B", 10.0, via=(one, two)))


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"via": ("C",), "paths": 2}, "via is for single routes"),
        ({"via": ("A",)}, r"via\[0\] is the demand's own end"),
        ({"via": ("C", "C")}, r"via\[1\] names site 'C' a second time"),
        ({"via": tuple(f"S{i}" for i in range(9))}, "the limit is 8"),
        ({"via": tuple(f"S{i}" for i in range(5)), "via_order": "any"}, "the limit is 4"),
        ({"via": (Point(200, 0),)}, r"via\[0\] must lie within lon"),
        ({"via": (3,)}, r"via\[0\] must be a site id or a point"),
        ({"via_order": "best"}, "via_order must be one of"),
    ],
)
def test_bad_via_fields_name_the_demand_and_field(kwargs, message):
    with pytest.raises(InvalidRequestError, match=message):
        Demand("d", "A", "B", 10.0, **kwargs)


def test_an_unknown_via_site_names_the_field_and_close_matches():
    with pytest.raises(UnknownSiteError, match=r"demands\[0\]\.via\[1\]: unknown site 'CC'.*'C'"):
        check_demand_names([Demand("d", "A", "B", 10.0, via=("C", "CC"))], ["A", "B", "C"], None)


def test_via_and_least_shared_are_refused_in_a_shared_build(ladder):
    demands = [Demand("d", "A", "B", 10.0, via=("C",)), Demand("e", "A", "D", 10.0)]
    with pytest.raises(InvalidRequestError, match=r"demands\[0\]\.via: .*shared build"):
        solve_demands(ladder, demands, shared_build=True)


def test_via_round_trips_through_the_proto():
    demand = Demand("d", "A", "B", 10.0, via=("C", Point(-99.7, 40.2)), via_order="any")
    back = demand_from_proto(demand_to_proto(demand))
    assert back.via[0] == "C" and back.via[1].equals(demand.via[1])
    assert back.via_order == "any"


def test_via_in_a_scenario(tmp_path):
    (tmp_path / "s.yaml").write_text(
        "name: v\ngeodata: geo\ndemands:\n"
        "  - {id: d, a: A, b: B, max_latency_ms: 9, via: [C, {lon: -99.7, lat: 40.2}], via_order: any}\n"
    )
    (tmp_path / "geo").mkdir()
    demand = load_scenario(tmp_path / "s.yaml").demands[0]
    assert demand.via[0] == "C" and demand.via[1].equals(Point(-99.7, 40.2)) and demand.via_order == "any"
    (tmp_path / "bad.yaml").write_text(
        "name: v\ngeodata: geo\nshared_build: true\ndemands:\n"
        "  - {id: d, a: A, b: B, max_latency_ms: 9, via: [{lon: 1}]}\n"
    )
    with pytest.raises(InvalidScenarioError, match=r"demands\[0\]\.via\[0\] must be a site id"):
        load_scenario(tmp_path / "bad.yaml")
    (tmp_path / "shared.yaml").write_text(
        "name: v\ngeodata: geo\nshared_build: true\ndemands:\n"
        "  - {id: d, a: A, b: B, max_latency_ms: 9, via: [C]}\n"
    )
    with pytest.raises(InvalidScenarioError, match=r"demands\[0\]\.via: .*shared_build: false"):
        load_scenario(tmp_path / "shared.yaml")
