"""Nationwide check on real public data (../shared/data/us): Chicago to Dallas by rail."""

from __future__ import annotations

from pathlib import Path

import pytest

from optimizer.config import GraphSettings
from optimizer.geodata import load_geodata
from optimizer.graph import build_graph
from optimizer.routes import Demand, solve_demand
from optimizer.testbeds import us_rail_spec

US = Path(__file__).resolve().parents[2] / "shared" / "data" / "us"
pytestmark = pytest.mark.skipif(
    not (US / "railroads_natural_earth_10m.geojson").exists(),
    reason=f"real-data test bed not found at {US} (CI has ../shared beside the repository)",
)


@pytest.fixture(scope="module")
def network(tmp_path_factory):
    """Natural Earth railroads with Census states and counties, two datacenter sites."""
    sites = tmp_path_factory.mktemp("us") / "sites.csv"
    sites.write_text("site_id,lon,lat\nCHI1,-87.97,42.00\nDAL1,-96.73,32.95\n")
    spec = us_rail_spec(US, sites)
    return build_graph(load_geodata(spec), settings=GraphSettings(gap_km=0.5))


def test_chicago_dallas_by_rail_matches_the_known_alignment(network):
    route = solve_demand(network, Demand("chi-dal", "CHI1", "DAL1", max_latency_ms=9.0))[0]
    assert route.status.value == "OPTIMAL"
    assert 1400 < route.length_km < 1560  # ~1,470 km by rail; great circle ~1,283 km
    states = sorted(j.name for j in route.jurisdictions if j.level == "state")
    assert states == ["Illinois", "Missouri", "Oklahoma", "Texas"]
    assert 35 <= route.count_by_level["county"] <= 50
    assert route.latency_ms == pytest.approx(route.length_km * 1.4682 / 299.792458, rel=1e-9)


def test_bound_below_the_fastest_rail_route_is_infeasible_with_numbers(network):
    route = solve_demand(network, Demand("chi-dal", "CHI1", "DAL1", max_latency_ms=6.0))[0]
    assert route.status.value == "INFEASIBLE"
    assert route.reason.startswith("fastest possible route is ")
    assert route.reason.endswith("ms, bound is 6.00 ms")
