"""Synthetic networks: seeded, sized by a target edge count, read and built like real geodata."""

from __future__ import annotations

import numpy as np
import pytest
import shapely

from optimizer.geodata import load_geodata, spec_from_path
from optimizer.graph import build_graph
from optimizer.routes import Demand, solve_demand
from optimizer.synthetic import SyntheticPlan, expected_edges, synthetic_network, write_synthetic


def _coords(frame) -> np.ndarray:
    return shapely.get_coordinates(frame.geometry.values)


def test_the_same_seed_gives_the_same_network_and_another_seed_another():
    first, again = (
        synthetic_network(SyntheticPlan(2_000, seed=7)),
        synthetic_network(SyntheticPlan(2_000, seed=7)),
    )
    for layer in ("sites", "corridors", "jurisdictions"):
        a, b = getattr(first, layer), getattr(again, layer)
        assert a.drop(columns="geometry").equals(b.drop(columns="geometry"))
        assert np.array_equal(_coords(a), _coords(b))
    other = synthetic_network(SyntheticPlan(2_000, seed=8))
    assert not np.array_equal(_coords(other.corridors)[:100], _coords(first.corridors)[:100])


def test_layers_have_the_spec_fields_unique_ids_and_nested_jurisdictions():
    net = synthetic_network(SyntheticPlan(2_000, seed=1))
    assert net.sites["site_id"].is_unique and net.jurisdictions["jurisdiction_id"].is_unique
    assert set(net.corridors["kind"]) == {"highway", "rail", "utility", "existing_fiber"}
    assert (net.corridors["cost_per_km"] > 0).all()
    levels = net.jurisdictions["level"].value_counts()
    assert levels["state"] == 48 and levels["county"] == 48 * 4
    assert shapely.is_valid(net.jurisdictions.geometry.values).all()
    states = net.jurisdictions[net.jurisdictions["level"] == "state"]
    counties = net.jurisdictions[net.jurisdictions["level"] == "county"]
    state_area, county_area = (shapely.area(f.geometry.values).sum() for f in (states, counties))
    assert state_area == pytest.approx(county_area, rel=1e-9)  # counties tile the states
    cover = shapely.union_all(counties.geometry.values)
    assert shapely.covers(cover, shapely.union_all(net.corridors.geometry.values))


@pytest.mark.parametrize("target", [2_000, 10_000])
def test_built_graph_roughly_hits_the_target_edge_count(tmp_path, target):
    plan = SyntheticPlan(target, seed=0)
    network = build_graph(load_geodata(spec_from_path(write_synthetic(plan, tmp_path / "net.gpkg"))))
    assert 0.8 * target <= network.stats.edges <= 1.25 * target
    assert network.stats.unreachable_sites == 0
    spacing_km = synthetic_network(plan).spacing_km
    assert expected_edges(plan, spacing_km) == pytest.approx(target, rel=1e-6)


def test_larger_targets_give_a_denser_grid_not_a_bigger_extent():
    small = synthetic_network(SyntheticPlan(2_000))
    dense = synthetic_network(SyntheticPlan(20_000))
    assert dense.spacing_km < small.spacing_km / 2.5
    assert len(dense.corridors) > 8 * len(small.corridors)
    np.testing.assert_allclose(dense.corridors.total_bounds, small.corridors.total_bounds, atol=2.0)


def test_written_network_loads_builds_and_routes_between_sites(tmp_path):
    path = write_synthetic(SyntheticPlan(2_000, seed=3), tmp_path / "synthetic.gpkg")
    layers = load_geodata(spec_from_path(path))
    assert len(layers.sites) == 20 and not layers.repairs
    assert (layers.corridors.loc[layers.corridors["kind"] == "existing_fiber", "access"] == "endpoints").all()
    network = build_graph(layers)
    a, b = sorted(network.site_node)[:2]
    route = solve_demand(network, Demand("a-b", a, b, max_latency_ms=100.0))[0]
    assert route.status.value == "OPTIMAL"
    assert route.length_km > 0 and route.permit_count >= 2
