"""Coverage: the km a route runs outside every jurisdiction, a warning for it, and
`uncovered: forbid`, which keeps routes inside (issue 14, item 1)."""

from __future__ import annotations

import json
import math
from pathlib import Path

import geopandas as gpd
import pyogrio
import pytest
import shapely
from shapely import LineString, Point, box

from optimizer.config import GraphSettings
from optimizer.convert import route_to_proto
from optimizer.errors import InvalidScenarioError
from optimizer.export import routes_frame, write_solution
from optimizer.formats import shapefile_field_names
from optimizer.geodata import load_geodata
from optimizer.graph import build_graph
from optimizer.routes import Demand, Solution, solve_demand
from optimizer.testbeds import us_rail_spec

from .conftest import make_layers

HOLE = box(-99.5, 39.8, -98.5, 40.2)
"""The foreign strip the straight corridor crosses: 1 degree of longitude at 40 N, ~85 km."""
STATE = box(-100.5, 38.5, -97.5, 41.0).difference(HOLE)
COUNTY = box(-100.5, 39.9, -99.2, 41.0)
"""A county level covering only the north-west: outside it is most of the state."""


def _layers(*, county: bool = False):
    """Sites A and B 2 degrees apart on 40 N: a straight corridor through the hole, and a
    longer one bending south around it, inside the state."""
    a, b = (-100.0, 40.0), (-98.0, 40.0)
    corridors = [
        {"geometry": LineString([a, b]), "srlg": "straight"},
        {"geometry": LineString([a, (-99.0, 39.3), b]), "srlg": "south"},
    ]
    sites = [{"site_id": "A", "geometry": Point(a)}, {"site_id": "B", "geometry": Point(b)}]
    juris = [{"jurisdiction_id": "S1", "name": "State One", "level": "state", "geometry": STATE}]
    if county:
        juris.append({"jurisdiction_id": "C1", "name": "County One", "level": "county", "geometry": COUNTY})
    return make_layers(corridors, sites, juris)


def _route(settings: GraphSettings, max_latency_ms: float = 5.0, *, county: bool = False):
    """The one route A-B on the test layers under settings, and its network."""
    network = build_graph(_layers(county=county), settings=settings)
    (route,) = solve_demand(network, Demand("ab", "A", "B", max_latency_ms))
    return route, network


def test_a_route_through_uncovered_land_reports_its_km_and_warns_by_default():
    route, network = _route(GraphSettings())
    assert route.status.value == "OPTIMAL"
    assert route.outside_km == pytest.approx(85.3, abs=0.5)  # geodesic km of 1 deg at 40 N
    assert route.outside_km_by_level == {"state": route.outside_km}
    (warning,) = route.warnings
    km = f"{route.outside_km:,.1f} km"
    assert f"runs {km} outside the jurisdictions ({km} outside every state)" in warning
    assert network.stats.edges_uncovered >= 1 and network.stats.uncovered_km == pytest.approx(85.3, abs=0.5)


def test_allow_reports_the_km_without_a_warning():
    route, _ = _route(GraphSettings(uncovered="allow"))
    assert route.outside_km == pytest.approx(85.3, abs=0.5) and route.warnings == ()


def test_forbid_keeps_the_route_inside_the_jurisdictions():
    free, _ = _route(GraphSettings(uncovered="allow"))
    route, network = _route(GraphSettings(uncovered="forbid"))
    assert route.status.value == "OPTIMAL" and route.outside_km == 0 and route.warnings == ()
    assert route.length_km > free.length_km  # the detour south
    assert STATE.buffer(1e-6).covers(route.geometry)
    assert not shapely.intersects(route.geometry, HOLE.buffer(-1e-6))
    assert network.stats.edges_excluded == 0  # forbidden edges are counted on their own
    assert network.stats.edges_uncovered >= 1


def test_forbid_says_why_a_demand_became_infeasible():
    free, _ = _route(GraphSettings(uncovered="allow"))
    route, _ = _route(GraphSettings(uncovered="forbid"), max_latency_ms=free.latency_ms * 1.01)
    assert route.status.value == "INFEASIBLE"
    assert (
        "settings.uncovered: forbid left out" in route.reason and "outside the jurisdictions" in route.reason
    )


def test_coverage_levels_choose_which_levels_bound_the_routes():
    everywhere, _ = _route(GraphSettings(), county=True)
    assert everywhere.outside_km_by_level["state"] == pytest.approx(85.3, abs=0.5)
    assert everywhere.outside_km_by_level["county"] > everywhere.outside_km_by_level["state"]
    # outside either level: the hole (-99.5 to -98.5) and east of the county (-99.2 on), 1.5 degrees
    assert everywhere.outside_km == pytest.approx(1.5 * 85.39, abs=0.5)
    states_only, _ = _route(GraphSettings(coverage_levels=("state",)), county=True)
    assert states_only.outside_km == pytest.approx(85.3, abs=0.5)
    assert states_only.outside_km_by_level == everywhere.outside_km_by_level  # still reported per level
    inside_states, _ = _route(GraphSettings(uncovered="forbid", coverage_levels=("state",)), county=True)
    assert inside_states.status.value == "OPTIMAL" and inside_states.outside_km == 0


@pytest.mark.parametrize(
    ("settings", "layers", "message"),
    [
        (
            {"coverage_levels": ("country",)},
            _layers,
            "settings.coverage_levels: no jurisdiction has the levels ['country']; "
            "the levels present are ['state']",
        ),
        (
            {"uncovered": "forbid"},
            lambda: make_layers(_layers().corridors.to_dict("records"), _layers().sites.to_dict("records")),
            "settings.uncovered: forbid keeps routes inside the jurisdictions, but the geodata has none",
        ),
    ],
)
def test_coverage_settings_that_cannot_hold_are_named(settings, layers, message):
    with pytest.raises(InvalidScenarioError, match=message.replace("[", r"\[").replace("]", r"\]")):
        build_graph(layers(), settings=GraphSettings(**settings))


def test_uncovered_takes_only_its_three_modes():
    with pytest.raises(
        InvalidScenarioError, match=r"settings.uncovered must be one of \['allow', 'warn', 'forbid'\]"
    ):
        GraphSettings(uncovered="ignore")


def test_outside_km_and_warnings_reach_every_output(tmp_path):
    route, network = _route(GraphSettings(), county=True)
    solution = Solution("cov", (route,), network.stats.as_dict())
    frame = routes_frame(solution, network.levels)
    row = frame.iloc[0]
    assert row["outside_km"] == route.outside_km
    assert row["outside_km_state"] == route.outside_km_by_level["state"]
    assert row["outside_km_county"] == route.outside_km_by_level["county"]
    assert row["warnings"] == route.warnings[0]
    names = shapefile_field_names(list(frame.columns.drop("geometry")))
    assert names["outside_km_state"] != names["outside_km"] and len(set(names.values())) == len(names)
    message = route_to_proto(route, network)
    assert message.outside_km == route.outside_km and list(message.warnings) == list(route.warnings)
    assert dict(message.outside_km_by_level) == route.outside_km_by_level
    folder = write_solution(solution, network, tmp_path / "out")
    summary = json.loads((folder / "summary.json").read_text())
    assert summary["warnings"] == [f"ab route 0: {route.warnings[0]}"]
    assert summary["routes"][0]["outside_km"] == route.outside_km
    assert "Warnings" in (folder / "report.html").read_text()
    assert "outside jurisdictions" in (folder / "map.html").read_text()
    layer = pyogrio.read_dataframe(folder / "routes.gpkg", layer="routes")
    assert layer["outside_km"].iloc[0] == pytest.approx(route.outside_km)


def test_routes_without_a_route_have_no_outside_km():
    route, network = _route(GraphSettings(uncovered="forbid"), max_latency_ms=0.5)
    frame = routes_frame(Solution("cov", (route,), {}), network.levels)
    assert route.geometry is None and math.isnan(frame["outside_km"].iloc[0])


# --------------------------------------------------------------------------- the nationwide test bed

US = Path(__file__).resolve().parents[2] / "shared" / "data" / "us"
CHICAGO, BUFFALO = (-87.63, 41.88), (-78.88, 42.89)


@pytest.fixture(scope="module")
def chicago_buffalo(tmp_path_factory):
    """Natural Earth railroads (Canada's included) with Census states and counties, two sites."""
    if not (US / "railroads_natural_earth_10m.geojson").exists():
        pytest.skip(f"the US test bed is not at {US} (../shared/data/us)")
    sites = tmp_path_factory.mktemp("cb") / "sites.csv"
    sites.write_text(f"site_id,lon,lat\nCHI,{CHICAGO[0]},{CHICAGO[1]}\nBUF,{BUFFALO[0]},{BUFFALO[1]}\n")
    layers = load_geodata(us_rail_spec(US, sites))
    states = layers.jurisdictions[layers.jurisdictions["level"] == "state"]
    return layers, shapely.union_all(states.geometry.values)


def test_chicago_buffalo_warns_of_ontario_and_forbid_stays_in_the_us(chicago_buffalo):
    layers, us = chicago_buffalo
    demand = Demand("chi-buf", "CHI", "BUF", max_latency_ms=6.0)
    (free,) = solve_demand(build_graph(layers), demand)
    assert free.status.value == "OPTIMAL"
    assert free.outside_km > 100 and free.warnings  # across Ontario, outside every state and county
    (inside,) = solve_demand(build_graph(layers, settings=GraphSettings(uncovered="forbid")), demand)
    assert inside.status.value == "OPTIMAL" and inside.outside_km == 0 and inside.warnings == ()
    route = gpd.GeoDataFrame(geometry=[inside.geometry], crs="EPSG:4326")
    pieces = route.explode(index_parts=False)
    joined = gpd.sjoin(
        pieces, gpd.GeoDataFrame(geometry=[us.buffer(0.001)], crs="EPSG:4326"), predicate="within"
    )
    assert len(joined) == len(pieces)  # a spatial join: every part within the union of the states
    assert inside.cost >= free.cost
