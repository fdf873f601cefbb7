"""Graph build: noding, access, snapping, geodesic km, jurisdictions, laterals, exclusions."""

from __future__ import annotations

import numpy as np
import pyproj
import pytest
import shapely
from shapely import LineString, Point, box

from optimizer.config import GraphSettings
from optimizer.graph import build_graph
from optimizer.routes import Demand, solve_demand

from .conftest import make_layers

GEOD = pyproj.Geod(ellps="WGS84")
M_PER_DEG_LAT = 110_950.0  # near 35 N


def _kinds(network, kind):
    return network.edges[network.edges["kind"] == kind]


def _degree(network):
    ends = np.concatenate([network.arrays.tail, network.arrays.head])
    return np.bincount(ends, minlength=network.arrays.n_nodes)


def test_crossing_corridors_are_split_at_the_crossing():
    layers = make_layers(
        [
            {"geometry": LineString([(-98, 35), (-96, 35)])},
            {"geometry": LineString([(-97, 34), (-97, 36)])},
        ]
    )
    net = build_graph(layers)
    assert len(net.edges) == 4
    assert _degree(net).max() == 4
    assert net.stats.components == 1


def test_endpoint_access_fiber_stays_whole_where_it_passes_a_railway():
    layers = make_layers(
        [
            {"geometry": LineString([(-98, 35), (-96, 35)]), "kind": "existing_fiber", "access": "endpoints"},
            {"geometry": LineString([(-97, 34), (-97, 36)])},
        ]
    )
    net = build_graph(layers)
    assert len(_kinds(net, "existing_fiber")) == 1
    assert len(_kinds(net, "rail")) == 1
    assert net.stats.components == 2


def test_fiber_end_on_a_railway_joins_it_there():
    layers = make_layers(
        [
            {"geometry": LineString([(-98, 35), (-97, 35)]), "kind": "existing_fiber", "access": "endpoints"},
            {"geometry": LineString([(-97, 34), (-97, 36)])},
        ]
    )
    net = build_graph(layers)
    assert len(_kinds(net, "rail")) == 2
    assert net.stats.components == 1
    assert _degree(net).max() == 3


@pytest.mark.parametrize(("gap_m", "merged"), [(10.0, True), (20.0, True), (40.0, False)])
def test_ends_closer_than_the_snap_tolerance_merge(gap_m, merged):
    dx = gap_m / (M_PER_DEG_LAT * np.cos(np.radians(35)))
    layers = make_layers(
        [
            {"geometry": LineString([(-98, 35), (-97, 35)])},
            {"geometry": LineString([(-97 + dx, 35), (-96, 35)])},
        ]
    )
    net = build_graph(layers, settings=GraphSettings(snap_tolerance_m=25.0))
    assert (net.stats.components == 1) is merged
    assert net.arrays.n_nodes == (3 if merged else 4)


def test_end_stopping_short_of_a_line_is_snapped_onto_it():
    short = 15.0 / M_PER_DEG_LAT
    layers = make_layers(
        [
            {"geometry": LineString([(-98, 35), (-96, 35)])},
            {"geometry": LineString([(-97, 34), (-97, 35 - short)])},
        ]
    )
    net = build_graph(layers)
    assert net.stats.components == 1
    assert len(net.edges) == 3


def test_gap_connectors_join_dead_ends_only_when_enabled():
    gap = 300.0 / M_PER_DEG_LAT
    corridors = [
        {"geometry": LineString([(-98, 35), (-96, 35)])},
        {"geometry": LineString([(-97, 34), (-97, 35 - gap)])},
    ]
    off = build_graph(make_layers(corridors))
    on = build_graph(make_layers(corridors), settings=GraphSettings(gap_km=0.5))
    assert off.stats.components == 2 and off.stats.connectors == 0
    assert on.stats.components == 1 and on.stats.connectors == 1
    assert on.stats.connector_km == pytest.approx(0.3 * 1.2, rel=0.02)  # route factor 1.2
    connector = _kinds(on, "connector").iloc[0]
    assert connector["cost"] == pytest.approx(connector["length_km"] * 60_000.0)


def test_edge_lengths_agree_with_pyproj_geodesic_within_0_1_percent():
    line = LineString([(-87.6, 41.9), (-90.2, 38.6), (-94.6, 36.2), (-96.8, 32.8)])
    cross = LineString([(-93, 35), (-91, 39)])
    net = build_graph(make_layers([{"geometry": line}, {"geometry": cross}]))
    for geom, km in zip(net.edges.geometry, net.edges["length_km"], strict=True):
        assert km == pytest.approx(GEOD.geometry_length(geom) / 1000, rel=1e-3)
    total = GEOD.geometry_length(line) / 1000 + GEOD.geometry_length(cross) / 1000
    assert net.edges["length_km"].sum() == pytest.approx(total, rel=1e-3)


def test_latency_and_cost_follow_length():
    net = build_graph(
        make_layers([{"geometry": LineString([(-98, 35), (-96, 35)]), "cost_per_km": 2500.0}]),
        settings=GraphSettings(group_index=1.5, slack_factor=1.1),
    )
    edge = net.edges.iloc[0]
    assert edge["latency_ms"] == pytest.approx(edge["length_km"] * 1.5 / 299.792458 * 1.1)
    assert edge["cost"] == pytest.approx(edge["length_km"] * 2500.0)


COUNTIES = [
    {
        "jurisdiction_id": "A",
        "name": "A County",
        "level": "county",
        "permit_cost": 10.0,
        "geometry": box(-98, 34, -97, 36),
    },
    {
        "jurisdiction_id": "B",
        "name": "B County",
        "level": "county",
        "permit_cost": 20.0,
        "geometry": box(-97, 34, -96, 36),
    },
    {
        "jurisdiction_id": "S",
        "name": "State",
        "level": "state",
        "permit_cost": 100.0,
        "geometry": box(-98, 34, -96, 36),
    },
]


def _county_ids(net, rows):
    ids = np.append(net.jurisdictions["jurisdiction_id"].to_numpy(), "-")
    return [ids[j] for j in net.edges["jurisdiction_county"].to_numpy()[rows]]


def test_edges_are_split_at_jurisdiction_boundaries_one_id_per_level():
    net = build_graph(
        make_layers([{"geometry": LineString([(-97.5, 35), (-96.5, 35)])}], jurisdictions=COUNTIES)
    )
    assert len(net.edges) == 2
    assert sorted(_county_ids(net, slice(None))) == ["A", "B"]
    state = net.edges["jurisdiction_state"].to_numpy()
    assert (state == state[0]).all() and state[0] >= 0


def _clip_route(depth_m: float):
    """Route from P to Q along a line in A that dips depth_m into B at x = -97."""
    dx = depth_m / (M_PER_DEG_LAT * np.cos(np.radians(35)))
    line = LineString([(-97.5, 35.0), (-97 + dx, 35.01), (-97.5, 35.02)])
    sites = [
        {"site_id": "P", "geometry": Point(-97.5, 34.999)},
        {"site_id": "Q", "geometry": Point(-97.5, 35.021)},
    ]
    net = build_graph(make_layers([{"geometry": line}], sites=sites, jurisdictions=COUNTIES))
    return solve_demand(net, Demand("pq", "P", "Q", max_latency_ms=5.0))[0]


def test_corner_clip_under_10_m_does_not_enter_the_jurisdiction():
    route = _clip_route(5.0)
    assert sorted(j.jurisdiction_id for j in route.jurisdictions) == ["A", "S"]
    assert route.count_by_level == {"county": 1, "state": 1}
    assert route.permit_cost == pytest.approx(110.0)


def test_clip_deeper_than_10_m_enters_the_jurisdiction():
    route = _clip_route(50.0)
    assert sorted(j.jurisdiction_id for j in route.jurisdictions) == ["A", "B", "S"]
    assert route.permit_count == 3
    assert route.permit_cost == pytest.approx(130.0)


def test_route_running_along_a_boundary_enters_neither_side():
    corridors = [
        {"geometry": LineString([(-97.5, 34.5), (-97, 34.5)])},
        {"geometry": LineString([(-97, 34.5), (-97, 35.5)])},  # on the A|B boundary
        {"geometry": LineString([(-97, 35.5), (-97.5, 35.5)])},
    ]
    sites = [
        {"site_id": "P", "geometry": Point(-97.5, 34.499)},
        {"site_id": "Q", "geometry": Point(-97.5, 35.501)},
    ]
    net = build_graph(make_layers(corridors, sites=sites, jurisdictions=COUNTIES))
    boundary_rows = np.flatnonzero(net.edges["corridor_id"] == "c1")
    assert _county_ids(net, boundary_rows) == ["-"] * len(boundary_rows)
    route = solve_demand(net, Demand("pq", "P", "Q", max_latency_ms=10.0))[0]
    assert sorted(j.jurisdiction_id for j in route.jurisdictions) == ["A", "S"]


def test_exclusions_and_forbidden_jurisdictions_remove_edges():
    line = {"geometry": LineString([(-97.5, 35), (-96.5, 35)])}
    excluded = build_graph(make_layers([line], exclusions=[box(-97.2, 34.9, -97.1, 35.1)]))
    assert excluded.stats.edges_excluded == 1 and excluded.stats.components == 2
    forbidden = [dict(c) for c in COUNTIES]
    forbidden[1]["allowed"] = False
    net = build_graph(make_layers([line], jurisdictions=forbidden))
    assert _county_ids(net, slice(None)) == ["A"]


def test_sites_attach_by_laterals_or_are_reported_unreachable():
    sites = [
        {"site_id": "NEAR", "geometry": Point(-97, 35.05)},
        {"site_id": "FAR", "geometry": Point(-97, 36)},
    ]
    net = build_graph(
        make_layers([{"geometry": LineString([(-98, 35), (-96, 35)])}], sites=sites),
        settings=GraphSettings(max_lateral_km=30, lateral_cost_per_km=500.0, lateral_route_factor=1.5),
    )
    lateral = _kinds(net, "lateral").iloc[0]
    straight_km = GEOD.geometry_length(lateral.geometry) / 1000
    assert lateral["length_km"] == pytest.approx(straight_km * 1.5, rel=1e-3)
    assert lateral["cost"] == pytest.approx(lateral["length_km"] * 500.0)
    assert net.unreachable == {"FAR": "site FAR has no corridor within 30 km"}
    route = solve_demand(net, Demand("d", "NEAR", "FAR", max_latency_ms=10))[0]
    assert route.reason == "site FAR has no corridor within 30 km"


def test_route_geometry_runs_from_a_to_b():
    sites = [
        {"site_id": "W", "geometry": Point(-97.9, 35.01)},
        {"site_id": "E", "geometry": Point(-96.1, 35.01)},
    ]
    net = build_graph(make_layers([{"geometry": LineString([(-96, 35), (-98, 35)])}], sites=sites))
    route = solve_demand(net, Demand("we", "W", "E", max_latency_ms=10))[0]
    coords = shapely.get_coordinates(route.geometry)
    assert tuple(coords[0]) == pytest.approx((-97.9, 35.01))
    assert tuple(coords[-1]) == pytest.approx((-96.1, 35.01))
    assert route.length_km == pytest.approx(net.edges["length_km"].to_numpy()[list(route.edges)].sum())


def test_gap_connector_never_exceeds_gap_km_even_to_an_endpoint_access_line():
    gap = 300.0 / M_PER_DEG_LAT
    corridors = [
        {"geometry": LineString([(-98, 35), (-96.5, 35)]), "kind": "existing_fiber", "access": "endpoints"},
        {"geometry": LineString([(-97, 34), (-97, 35 - gap)])},
    ]
    net = build_graph(make_layers(corridors), settings=GraphSettings(gap_km=0.5))
    assert net.stats.connectors == 0
    assert net.stats.components == 2


def test_facing_dead_ends_get_one_connector():
    gap = 200.0 / (M_PER_DEG_LAT * np.cos(np.radians(35)))
    corridors = [
        {"geometry": LineString([(-98, 35), (-97, 35)])},
        {"geometry": LineString([(-97 + gap, 35), (-96, 35)])},
    ]
    net = build_graph(make_layers(corridors), settings=GraphSettings(gap_km=0.5))
    assert net.stats.connectors == 1 and net.stats.components == 1


@pytest.mark.parametrize("where", [(-97.5, 35.0), (-98.0, 35.0)], ids=["interior", "end"])
def test_site_lying_exactly_on_a_corridor_is_attached(where):
    sites = [
        {"site_id": "ON", "geometry": Point(*where)},
        {"site_id": "NEAR", "geometry": Point(-96.5, 35.01)},
    ]
    net = build_graph(make_layers([{"geometry": LineString([(-98, 35), (-96, 35)])}], sites=sites))
    assert net.unreachable == {}
    route = solve_demand(net, Demand("d", "ON", "NEAR", max_latency_ms=10))[0]
    assert route.status.value == "OPTIMAL"


def test_allowed_list_accepts_border_pieces_but_not_land_outside_every_jurisdiction():
    states = [
        {"jurisdiction_id": "W", "name": "W", "level": "state", "geometry": box(-98, 34, -97, 36)},
        {"jurisdiction_id": "E", "name": "E", "level": "state", "geometry": box(-97, 34, -96, 36)},
    ]
    dx = 5.0 / (M_PER_DEG_LAT * np.cos(np.radians(35)))
    corridors = [
        {"geometry": LineString([(-97.5, 35), (-96.5, 35)])},
        {"geometry": LineString([(-97 + dx, 35), (-97 + dx, 34.5)])},  # spur 5 m from the border
        {"geometry": LineString([(-97.5, 35.5), (-95.5, 35.5), (-95.5, 35.2), (-96.5, 35.2)])},
    ]
    sites = [
        {"site_id": "A", "geometry": Point(-97.5, 35.01)},
        {"site_id": "B", "geometry": Point(-97 + dx, 34.49)},
        {"site_id": "C", "geometry": Point(-97.5, 35.51)},
        {"site_id": "D", "geometry": Point(-96.5, 35.21)},
    ]
    net = build_graph(make_layers(corridors, sites=sites, jurisdictions=states))
    both = ("W", "E")
    ab = solve_demand(net, Demand("ab", "A", "B", max_latency_ms=10, allowed_jurisdictions=both))[0]
    assert ab.status.value == "OPTIMAL"
    cd = solve_demand(net, Demand("cd", "C", "D", max_latency_ms=10, allowed_jurisdictions=both))[0]
    assert cd.status.value == "INFEASIBLE"  # the only way runs east of both states
    assert "excludes" in cd.reason


def test_overlapping_corridors_are_cut_only_at_the_ends_of_the_overlap():
    rail = LineString([(-98, 35), (-96, 35)])
    fiber_on_rail = LineString([(-97.5, 35), (-96.5, 35)])
    net = build_graph(make_layers([{"geometry": rail}, {"geometry": fiber_on_rail}]))
    assert len(net.edges) == 4  # rail in 3 pieces, the fiber parallel to the middle one
    assert net.arrays.n_nodes == 4
