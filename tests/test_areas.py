"""Named areas and soft penalties (issue 14, items 2 and 6): an areas layer whose polygons
demands avoid or stay within by id or group, and whose cost multipliers (with a scenario's or
request's own) price the edges inside; the multipliers are checked against an independent
sampling of each edge, and the routes against brute force over those costs."""

from __future__ import annotations

import math

import numpy as np
import pytest
import shapely
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from shapely import LineString, Point, box

from optimizer.api.fiberopt.v1 import route_optimizer_pb2 as pb
from optimizer.convert import demand_from_proto, demand_to_proto, penalty_areas_from_proto
from optimizer.errors import InvalidGeodataError, InvalidRequestError, InvalidScenarioError, UnknownAreaError
from optimizer.geodata import load_geodata, spec_from_path
from optimizer.graph import build_graph
from optimizer.penalties import PenaltyArea, penalized
from optimizer.pipeline import solve_scenario
from optimizer.routes import Demand, demand_query, solve_demand
from optimizer.scenario import load_scenario

from .bruteforce import brute_force_route
from .conftest import make_layers

STEP = 0.2


def _grid(areas=()):
    """A 3x3 grid of corridors near 40 N, 100 W with sites A and B off two opposite corners."""
    corridors = []
    for i in range(3):
        for j in range(2):
            corridors.append(((-100 + j * STEP, 40 + i * STEP), (-100 + (j + 1) * STEP, 40 + i * STEP)))
            corridors.append(((-100 + i * STEP, 40 + j * STEP), (-100 + i * STEP, 40 + (j + 1) * STEP)))
    rows = [{"geometry": LineString(e), "cost_per_km": 1000.0 + 37.0 * k} for k, e in enumerate(corridors)]
    sites = [
        {"site_id": "A", "geometry": Point(-100.01, 39.99)},
        {"site_id": "B", "geometry": Point(-100 + 2 * STEP + 0.01, 40 + 2 * STEP + 0.01)},
    ]
    return build_graph(make_layers(rows, sites, areas=areas))


def _sampled_factor(geometry: shapely.LineString, areas: list[PenaltyArea], samples: int = 2000) -> float:
    """The mean, over points evenly spread along the edge, of the highest multiplier there (1
    outside every area): the definition, sampled (lon/lat spacing; the edges are short)."""
    points = shapely.line_interpolate_point(geometry, (np.arange(samples) + 0.5) / samples, normalized=True)
    best = np.ones(samples)
    for area in areas:
        inside = shapely.intersects_xy(area.geometry, *shapely.get_coordinates(points).T)  # closed
        best[inside] = np.maximum(best[inside], area.cost_multiplier)
    return float(best.mean())


@st.composite
def penalty_cases(draw):
    boxes = []
    for _ in range(draw(st.integers(1, 3))):
        x0 = draw(st.floats(-100.05, -99.65))
        y0 = draw(st.floats(39.95, 40.35))
        w, h = draw(st.floats(0.05, 0.3)), draw(st.floats(0.05, 0.3))
        m = draw(st.sampled_from((1.0, 1.5, 2.0, 4.0)))
        boxes.append(PenaltyArea(box(x0, y0, x0 + w, y0 + h), m))
    return boxes


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow], derandomize=True)
@given(penalty_cases())
def test_penalties_match_the_sampled_definition_and_brute_force(areas):
    plain = _grid()
    network = penalized(plain, areas)
    base = plain.edges["cost"].to_numpy()
    borders = shapely.union_all([a.geometry.boundary for a in areas]).buffer(1e-9)
    for e, geometry in enumerate(plain.edges.geometry.values):
        if shapely.length(shapely.intersection(geometry, borders)) > 1e-9:
            continue  # along a border, within rounding of it: either side is right
        expected = base[e] * _sampled_factor(geometry, areas)
        assert network.edges["cost"].iloc[e] == pytest.approx(expected, rel=2e-3, abs=1e-6)
    assert network.edges["risk_cost"].to_numpy() == pytest.approx(network.edges["cost"].to_numpy() - base)
    (route,) = solve_demand(network, Demand("ab", "A", "B", 1.0))
    best = brute_force_route(network.arrays, demand_query(network, Demand("ab", "A", "B", 1.0)))
    assert route.status.value == "OPTIMAL" and math.isclose(route.cost, best.cost, rel_tol=1e-9, abs_tol=1e-6)
    risk = float(network.edges["risk_cost"].to_numpy()[list(route.edges)].sum())
    assert route.risk_cost == pytest.approx(risk, abs=1e-6)
    assert route.build_cost + route.risk_cost + route.permit_cost == pytest.approx(route.cost)


def test_the_areas_layer_prices_the_edges_inside_and_a_request_adds_to_it():
    zone = box(-100.05, 39.95, -99.85, 40.45)  # the west column of the grid
    network = _grid(areas=[{"area_id": "seismic", "geometry": zone, "cost_multiplier": 2.0}])
    plain = _grid()
    inside = plain.edges.geometry.within(zone).to_numpy()
    assert inside.any()
    assert network.edges["cost"].to_numpy()[inside] == pytest.approx(
        2 * plain.edges["cost"].to_numpy()[inside]
    )
    more = penalized(network, [PenaltyArea(zone, 3.0)])  # the highest multiplier applies
    assert more.edges["cost"].to_numpy()[inside] == pytest.approx(3 * plain.edges["cost"].to_numpy()[inside])
    assert penalized(more, [PenaltyArea(zone, 1.5)]).edges["cost"].to_numpy()[inside] == pytest.approx(
        2 * plain.edges["cost"].to_numpy()[inside]
    )  # from the base, never compounded
    assert penalized(network) is network


def test_avoid_and_within_areas_by_id_and_group_match_inline_polygons():
    west = box(-100.05, 39.95, -99.85, 40.45)
    east = box(-99.75, 39.95, -99.55, 40.45)
    network = _grid(
        areas=[{"area_id": "w", "geometry": west, "group": "flood"}, {"area_id": "e", "geometry": east}]
    )
    for by_name, inline in [
        ({"avoid_areas": ("w",)}, {"avoid_areas": (west,)}),
        ({"avoid_areas": ("flood",)}, {"avoid_areas": (west,)}),
        ({"within_areas": ("w", "e")}, {"within_areas": (west, east)}),
    ]:
        (named,) = solve_demand(network, Demand("ab", "A", "B", 2.0, **by_name))
        (given_inline,) = solve_demand(network, Demand("ab", "A", "B", 2.0, **inline))
        assert named.status is given_inline.status
        assert named.edges == given_inline.edges


def test_an_unknown_area_is_named_with_close_matches():
    network = _grid(areas=[{"area_id": "flood-2100", "geometry": box(-100, 40, -99.9, 40.1)}])
    with pytest.raises(
        UnknownAreaError, match=r"demands\[0\]\.avoid_areas: unknown area 'flood-2010'.*flood-2100"
    ):
        solve_demand(network, Demand("ab", "A", "B", 2.0, avoid_areas=("flood-2010",)))
    with pytest.raises(UnknownAreaError, match="no areas layer"):
        solve_demand(_grid(), Demand("ab", "A", "B", 2.0, within_areas=("eu",)))


def test_bad_areas_layer_rows_are_named(tmp_path):
    (tmp_path / "corridors.geojson").write_text(
        '{"type":"FeatureCollection","features":[{"type":"Feature","properties":{"corridor_id":"c","kind":"rail",'
        '"cost_per_km":1},"geometry":{"type":"LineString","coordinates":[[0,0],[1,1]]}}]}'
    )
    (tmp_path / "sites.geojson").write_text(
        '{"type":"FeatureCollection","features":[{"type":"Feature","properties":{"site_id":"s"},'
        '"geometry":{"type":"Point","coordinates":[0,0]}}]}'
    )
    square = '{"type":"Polygon","coordinates":[[[0,0],[1,0],[1,1],[0,0]]]}'
    (tmp_path / "areas.geojson").write_text(
        '{"type":"FeatureCollection","features":['
        f'{{"type":"Feature","properties":{{"area_id":"z","cost_multiplier":0.5}},"geometry":{square}}},'
        f'{{"type":"Feature","properties":{{"area_id":"z"}},"geometry":{square}}}]}}'
    )
    with pytest.raises(InvalidGeodataError) as info:
        load_geodata(spec_from_path(tmp_path))
    text = str(info.value)
    assert "areas row 0 (area_id=z): cost_multiplier must be empty or a number in [1, 1000], got 0.5" in text
    assert "duplicate" in text and "area_id" in text


def test_penalty_areas_in_requests_and_scenarios_are_checked():
    with pytest.raises(
        InvalidRequestError, match=r"penalty_areas\[0\]\.cost_multiplier must be a number in \[1"
    ):
        penalty_areas_from_proto(
            [pb.PenaltyArea(geometry_geojson=shapely.to_geojson(box(0, 0, 1, 1)), cost_multiplier=0.2)]
        )
    with pytest.raises(InvalidRequestError, match=r"penalty_areas\[0\] must be a polygon"):
        penalty_areas_from_proto(
            [pb.PenaltyArea(geometry_geojson='{"type":"Point","coordinates":[0,0]}', cost_multiplier=2)]
        )
    demand = Demand("d", "A", "B", 1.0, avoid_areas=("w", box(0, 0, 1, 1)), within_areas=("e",))
    back = demand_from_proto(demand_to_proto(demand))
    assert (
        back.avoid_areas[1] == "w"
        and back.avoid_areas[0].equals(box(0, 0, 1, 1))
        and back.within_areas == ("e",)
    )


def test_a_scenario_penalty_reaches_the_route_cost_breakdown(tmp_path):
    (tmp_path / "s.yaml").write_text(
        "name: p\ngeodata: ../../geodata/sample\n"
        "penalty_areas:\n"
        "  - {name: river, cost_multiplier: 3, geometry: {type: Polygon, coordinates: "
        "[[[-91, 38], [-89, 38], [-89, 40], [-91, 40], [-91, 38]]]}}\n"
        "demands:\n  - {id: stl-ind, a: STL1, b: IND1, max_latency_ms: 2.0}\n"
    )
    import shutil
    from pathlib import Path

    sample = Path(__file__).resolve().parents[1] / "geodata" / "sample"
    shutil.copytree(sample, tmp_path / "geo")
    (tmp_path / "s.yaml").write_text((tmp_path / "s.yaml").read_text().replace("../../geodata/sample", "geo"))
    scenario = load_scenario(tmp_path / "s.yaml")
    assert scenario.penalty_areas[0].cost_multiplier == 3
    solution, _network = solve_scenario(scenario)
    (route,) = solution.routes
    assert route.risk_cost > 0 and route.build_cost + route.risk_cost + route.permit_cost == pytest.approx(
        route.cost
    )
    (tmp_path / "bad.yaml").write_text(
        "name: p\ngeodata: geo\npenalty_areas: [{cost_multiplier: 2}]\n"
        "demands:\n  - {id: d, a: STL1, b: IND1, max_latency_ms: 2.0}\n"
    )
    with pytest.raises(InvalidScenarioError, match=r"penalty_areas\[0\]: missing keys \['geometry'\]"):
        load_scenario(tmp_path / "bad.yaml")
