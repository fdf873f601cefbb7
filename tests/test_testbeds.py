"""The nationwide test bed: Internet Atlas links and PeeringDB sites prepared, loaded and built."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pyogrio
import pytest
import shapely
from scipy.spatial import cKDTree

from optimizer.config import GraphSettings
from optimizer.geodata import load_geodata
from optimizer.graph import build_graph
from optimizer.routes import Demand, solve_demand
from optimizer.testbeds import (
    internet_atlas_links,
    nationwide_counts,
    peeringdb_sites,
    us_nationwide_spec,
)

US = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "us"
needs_us = pytest.mark.skipif(
    not (US / "internet_atlas_edges.csv").exists(),
    reason=f"real-data test bed not found at {US} (CI has ../shared beside the repository)",
)
MIDWEST = (-88.5, 39.0, -83.0, 42.2)
"""Chicago, Indianapolis, Cincinnati, Fort Wayne: a region whose build takes about 2 s."""
HEADER = "ORGANIZATION,NODE_NAME,LATITUDE,LONGITUDE,CITY,STATE,COUNTRY,SOURCE,ASOF_DATE\n"


def _atlas_dir(tmp_path: Path) -> Path:
    """A tiny Internet Atlas with each quirk of the real one."""
    tmp_path.mkdir(parents=True, exist_ok=True)
    nodes = [
        "A,chi,41.88,-87.63,Chicago,,US,IA,2013",
        "A,chi,41.88,-87.63,Chicago,,US,IA,2013",  # listed twice at one place: fine
        "A,ind,39.77,-86.16,Indianapolis,,US,IA,2013",
        "A,dup,39.10,-84.51,Cincinnati,,US,IA,2013",
        "B,dup,39.96,-83.00,Columbus,,US,IA,2013",  # one name, two places: ambiguous
        "C,chi2,41.88,-87.63,Chicago,,US,IA,2013",  # another PoP at chi's coordinates
        "D,win,49.90,-97.14,Winnipeg,,CA,IA,2013",
        "E,wdh,-22.56,17.08,Windhoek,,NA,IA,2013",  # NA is Namibia, not a missing value
        "F,hnl,21.31,-157.86,Honolulu,,US,IA,2013",
    ]
    edges = [
        "chi,ind",  # kept
        "ind,chi",  # the same pair again
        "chi,dup",  # ambiguous end
        "chi,nowhere",  # unknown end
        "chi,",  # empty end
        "chi,chi2",  # both ends at one place
        "chi,win",  # Canada
        "ind,hnl",  # US, not contiguous
        "wdh,chi",  # Namibia
    ]
    (tmp_path / "internet_atlas_nodes.csv").write_text(HEADER + "\n".join(nodes) + "\n")
    (tmp_path / "internet_atlas_edges.csv").write_text(
        "FROM_NODE,TO_NODE,SOURCE,ASOF_DATE\n" + "".join(f"{e},IA,2013\n" for e in edges)
    )
    return tmp_path


def test_atlas_links_drop_what_cannot_be_placed_and_count_why(tmp_path):
    links, counts = internet_atlas_links(_atlas_dir(tmp_path))
    assert (counts.links, counts.kept) == (9, 1)
    assert (counts.duplicate, counts.ambiguous_end, counts.missing_end) == (1, 1, 2)
    assert (counts.same_place, counts.outside) == (1, 3)
    row = links.iloc[0]
    assert (row["link_id"], row["from_pop"], row["to_pop"]) == ("ia-0", "chi", "ind")
    assert shapely.get_coordinates(row.geometry).tolist() == [[-87.63, 41.88], [-86.16, 39.77]]
    everywhere, counts = internet_atlas_links(tmp_path, bounds_lonlat=None)
    assert list(everywhere["to_pop"]) == ["ind", "hnl"] and counts.outside == 2


def _peeringdb(us_dir: Path) -> Path:
    """A tiny PeeringDB facilities table."""
    rows = [
        '"Equinix, Inc.",Equinix CH1,41.85,-87.62,Chicago,Illinois,US,PDB,2021',
        "Eq,Equinix FR5,50.10,8.68,Frankfurt,Hesse,DE,PDB,2021",
        "DR,Digital Realty CHI,41.85,-87.62,Chicago,Illinois,US,PDB,2021",
        "DR,DR Honolulu,21.31,-157.86,Honolulu,Hawaii,US,PDB,2021",
    ]
    (us_dir / "peeringdb_facilities_2021.csv").write_text(HEADER + "\n".join(rows) + "\n")
    return us_dir


def test_peeringdb_sites_are_us_facilities_with_row_ids(tmp_path):
    sites, counts = peeringdb_sites(_peeringdb(tmp_path))
    assert list(sites["site_id"]) == ["pdb-0", "pdb-2"]
    assert (counts.facilities, counts.sites, counts.shared_coordinates) == (4, 2, 2)
    assert list(peeringdb_sites(tmp_path, bounds_lonlat=None)[0]["site_id"]) == ["pdb-0", "pdb-2", "pdb-3"]


def test_prepared_links_and_sites_are_written_once_in_row_order(tmp_path):
    us_dir = _atlas_dir(tmp_path / "us")
    _peeringdb(us_dir)
    spec = us_nationwide_spec(us_dir, tmp_path / "work", bounds_lonlat=None)
    fiber = spec.sources["corridors"][1].path
    sites = spec.sources["sites"][0].path
    written = {p: p.stat().st_mtime_ns for p in (fiber, sites)}
    again = us_nationwide_spec(us_dir, tmp_path / "work", bounds_lonlat=None)
    assert again.sources["corridors"][1].path == fiber
    assert {p: p.stat().st_mtime_ns for p in written} == written
    assert list(pyogrio.read_dataframe(fiber)["link_id"]) == ["ia-0", "ia-7"]
    assert nationwide_counts(us_dir, tmp_path / "work", bounds_lonlat=None)["peeringdb"]["sites"] == 3


@needs_us
def test_nationwide_spec_loads_rail_fiber_census_and_facilities(tmp_path):
    layers = load_geodata(us_nationwide_spec(US, tmp_path))
    corridors = layers.corridors
    fiber = corridors[corridors["kind"] == "existing_fiber"]
    assert set(corridors["kind"]) == {"rail", "existing_fiber"}
    assert len(fiber) > 5_000 and (fiber["access"] == "endpoints").all()
    assert fiber["cost_per_km"].max() < corridors.loc[corridors["kind"] == "rail", "cost_per_km"].min()
    assert fiber["corridor_id"].is_unique
    assert len(layers.sites) > 1_000 and layers.sites["site_id"].is_unique
    assert layers.jurisdictions["level"].value_counts().to_dict() == {"county": 3233, "state": 56}
    counts = nationwide_counts(US, tmp_path)["internet_atlas"]
    dropped = sum(v for k, v in counts.items() if k not in ("links", "kept"))
    assert counts["kept"] == len(fiber) and counts["kept"] + dropped == counts["links"] == 29_975
    assert counts["same_place"] > 0 and counts["ambiguous_end"] > 0
    json.dumps(counts)  # plain numbers


@pytest.fixture(scope="module")
def midwest(tmp_path_factory):
    """The nationwide test bed with fiber and sites clipped to the Midwest (rail and Census whole)."""
    spec = us_nationwide_spec(US, tmp_path_factory.mktemp("us"), bounds_lonlat=MIDWEST)
    layers = load_geodata(spec)
    return layers, build_graph(layers, settings=GraphSettings(gap_km=0.5))


@needs_us
def test_fiber_meets_other_corridors_only_at_its_pops(midwest):
    layers, network = midwest
    edges = network.edges
    fiber = (edges["kind"] == "existing_fiber").to_numpy()
    assert fiber.sum() >= (layers.corridors["kind"] == "existing_fiber").sum()
    ends = np.concatenate([edges["tail"].to_numpy(), edges["head"].to_numpy()])
    is_fiber = np.concatenate([fiber, fiber])
    shared = np.intersect1d(ends[is_fiber], ends[~is_fiber])
    pops = shapely.get_coordinates(
        shapely.boundary(layers.corridors.loc[layers.corridors["kind"] == "existing_fiber"].geometry.values)
    )
    distance_deg, _ = cKDTree(pops).query(network.node_lonlat[shared])
    assert len(shared) > 0 and distance_deg.max() < 1e-3  # within the snap tolerance of a PoP


@needs_us
def test_a_midwest_route_between_facilities_is_optimal(midwest):
    layers, network = midwest
    sites = layers.sites.sort_values("site_id")
    chicago = sites.loc[sites["city"] == "Chicago", "site_id"].iloc[0]
    indianapolis = sites.loc[sites["city"] == "Indianapolis", "site_id"].iloc[0]
    route = solve_demand(network, Demand("chi-ind", chicago, indianapolis, max_latency_ms=5.0))[0]
    assert route.status.value == "OPTIMAL"
    assert route.latency_ms <= 5.0 and 250 < route.length_km < 1_000  # ~265 km great circle
    assert "existing_fiber" in route.corridor_kinds
    assert {"Illinois", "Indiana"} <= {j.name for j in route.jurisdictions if j.level == "state"}
