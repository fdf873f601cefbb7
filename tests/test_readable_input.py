"""Input mistakes a planner makes with real files, each answered by one line naming the file,
layer, row or field (CLI exit 2), and the options that fix them: `where:` filters, `crs:` on
any layer source (issue 14, item 7)."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import geopandas as gpd
import pytest
import yaml
from shapely import LineString, Point, box

from optimizer.cli import main
from optimizer.config import GraphSettings
from optimizer.errors import InvalidGeodataError
from optimizer.graph import build_graph
from optimizer.routes import Demand, solve_demand
from optimizer.scenario import load_scenario

from .conftest import make_layers

WEB_MERCATOR = "EPSG:3857"


def _write_set(folder: Path, *, corridor_crs: str = "EPSG:4326", to_mercator: bool = False) -> Path:
    """Two sites, a US corridor between them and a Canadian one beside it, one state."""
    folder.mkdir(parents=True, exist_ok=True)
    corridors = gpd.GeoDataFrame(
        {"corridor_id": ["us", "ca"], "kind": "rail", "cost_per_km": 1000.0, "sov_a3": ["USA", "CAN"]},
        geometry=[LineString([(-100, 40), (-98, 40)]), LineString([(-100, 40.01), (-98, 40.01)])],
        crs="EPSG:4326",
    )
    if to_mercator:  # coordinates in metres, written as if they were lon/lat (no crs member)
        corridors = corridors.to_crs(WEB_MERCATOR).set_crs(corridor_crs, allow_override=True)
    corridors.to_file(folder / "corridors.geojson")
    gpd.GeoDataFrame(
        {"site_id": ["A", "B"]}, geometry=[Point(-100, 40), Point(-98, 40)], crs="EPSG:4326"
    ).to_file(folder / "sites.geojson")
    gpd.GeoDataFrame(
        {"jurisdiction_id": ["S1"], "level": ["state"], "permit_cost": [0.0]},
        geometry=[box(-101, 39, -97, 41)],
        crs="EPSG:4326",
    ).to_file(folder / "jurisdictions.geojson")
    return folder


def _scenario(folder: Path, corridors: dict | str = "corridors.geojson", **changes) -> Path:
    """A scenario over the set in folder with one demand A-B; changes override top-level keys."""
    raw = {
        "name": "readable",
        "geodata": {
            "layers": {
                "sites": "sites.geojson",
                "corridors": corridors,
                "jurisdictions": "jurisdictions.geojson",
            }
        },
        "demands": [{"id": "ab", "a": "A", "b": "B", "max_latency_ms": 5}],
        **changes,
    }
    path = folder / "scenario.yaml"
    path.write_text(yaml.safe_dump(raw, sort_keys=False))
    return path


def _fails(capsys, scenario: Path, out: Path) -> str:
    """Run solve; it must exit 2 with one line on stderr, which is returned."""
    code = main(["solve", str(scenario), "--out", str(out), "--quiet"])
    err = capsys.readouterr().err
    assert code == 2, err
    assert err.startswith("fiberopt: error: ") and err.count("\n") == 1, err
    return err


def _solves(scenario: Path, out: Path) -> gpd.GeoDataFrame:
    """Run solve; it must succeed; the routes layer."""
    assert main(["solve", str(scenario), "--out", str(out), "--quiet"]) == 0
    return gpd.read_file(out / "readable" / "routes.gpkg", layer="routes")


def test_where_keeps_only_the_rows_asked_for(tmp_path, capsys):
    folder = _write_set(tmp_path / "set")
    source = {"path": "corridors.geojson", "where": "sov_a3 = 'USA'"}
    routes = _solves(_scenario(folder, source), tmp_path / "out")
    assert routes["status"].tolist() == ["OPTIMAL"]
    assert main(["inspect", str(_scenario(folder, source))]) == 0
    assert "corridors: 1 " in capsys.readouterr().out  # the Canadian row was never read


def test_a_bad_where_is_one_line_naming_the_filter(tmp_path, capsys):
    folder = _write_set(tmp_path / "set")
    source = {"path": "corridors.geojson", "where": "no_such_field = 'USA'"}
    err = _fails(capsys, _scenario(folder, source), tmp_path / "out")
    assert "corridors: cannot read corridors.geojson with where \"no_such_field = 'USA'\"" in err


def test_web_mercator_without_a_crs_member_is_one_line_saying_how_to_fix_it(tmp_path, capsys):
    folder = _write_set(tmp_path / "set", to_mercator=True)
    err = _fails(capsys, _scenario(folder), tmp_path / "out")
    assert "corridors: corridors.geojson: 2 of 2 rows have coordinates outside lon/lat range" in err
    assert "they look projected (metres?): give the layer source their CRS, e.g. crs: EPSG:3857" in err


def test_crs_on_a_corridor_source_is_honoured(tmp_path):
    folder = _write_set(tmp_path / "set", to_mercator=True)
    source = {"path": "corridors.geojson", "crs": WEB_MERCATOR}
    routes = _solves(_scenario(folder, source), tmp_path / "out")
    assert routes["status"].tolist() == ["OPTIMAL"]
    assert routes["length_km"].iloc[0] == pytest.approx(170.8, abs=1.0)  # 2 degrees at 40 N


def test_a_file_without_a_crs_says_to_give_its_source_one(tmp_path, capsys):
    folder = _write_set(tmp_path / "set")
    frame = gpd.read_file(folder / "corridors.geojson")
    frame.rename(columns={"corridor_id": "cid", "cost_per_km": "cost"}).to_file(folder / "corridors.shp")
    (folder / "corridors.prj").unlink()
    source = {"path": "corridors.shp", "fields": {"corridor_id": "cid", "cost_per_km": "cost"}}
    err = _fails(capsys, _scenario(folder, source), tmp_path / "out")
    assert "corridors: corridors.shp has no CRS; give its layer source one, e.g. crs: EPSG:4326" in err
    routes = _solves(_scenario(folder, {**source, "crs": "EPSG:4326"}), tmp_path / "out")
    assert routes["status"].tolist() == ["OPTIMAL"]


def test_a_crs_that_is_not_one_is_named(tmp_path, capsys):
    folder = _write_set(tmp_path / "set")
    err = _fails(
        capsys, _scenario(folder, {"path": "corridors.geojson", "crs": "EPSG:99999999"}), tmp_path / "o"
    )
    assert "corridors: corridors.geojson: crs 'EPSG:99999999' is not a CRS (e.g. EPSG:4326)" in err


def test_a_misspelt_demand_key_is_named_with_the_key_meant(tmp_path, capsys):
    folder = _write_set(tmp_path / "set")
    demands = [{"id": "ab", "a": "A", "b": "B", "max_latncy_ms": 5}]
    err = _fails(capsys, _scenario(folder, demands=demands), tmp_path / "out")
    assert "demands[0]: unknown key 'max_latncy_ms' (did you mean 'max_latency_ms'?)" in err


def test_an_unknown_site_is_named_before_the_graph_is_built(tmp_path, capsys):
    folder = _write_set(tmp_path / "set")
    demands = [{"id": "ab", "a": "A", "b": "BB", "max_latency_ms": 5}]
    # coverage_levels naming no level fails the graph build: the site error must come first
    scenario = _scenario(folder, demands=demands, settings={"coverage_levels": ["country"]})
    err = _fails(capsys, scenario, tmp_path / "out")
    assert (
        "scenario scenario.yaml: demands[0].b: unknown site 'BB' in demand 'ab' (close matches: 'B')" in err
    )


def test_an_unknown_jurisdiction_lists_close_ones(tmp_path, capsys):
    folder = _write_set(tmp_path / "set")
    demands = [{"id": "ab", "a": "A", "b": "B", "max_latency_ms": 5, "avoid_jurisdictions": ["S2"]}]
    err = _fails(capsys, _scenario(folder, demands=demands), tmp_path / "out")
    assert (
        "demands[0].avoid_jurisdictions: unknown jurisdictions 'S2' in demand 'ab' (close matches: 'S1')"
        in err
    )


def _ring(srlg: bool):
    """A square ring of four corridors, sites on opposite corners."""
    corners = [(-100, 40), (-99, 40), (-99, 41), (-100, 41)]
    corridors = [
        {"geometry": LineString([corners[i], corners[(i + 1) % 4]]), "srlg": f"s{i}" if srlg else ""}
        for i in range(4)
    ]
    sites = [{"site_id": "A", "geometry": Point(corners[0])}, {"site_id": "B", "geometry": Point(corners[2])}]
    return build_graph(make_layers(corridors, sites), settings=GraphSettings())


@pytest.mark.parametrize("srlg", [False, True])
def test_srlg_diversity_over_corridors_without_srlgs_warns(srlg):
    routes = solve_demand(_ring(srlg), Demand("ab", "A", "B", 10.0, paths=2))
    assert [r.status.value for r in routes] == ["OPTIMAL", "OPTIMAL"]
    warned = [
        any("diversity srlg: no corridor of this route names a shared-risk group" in w for w in r.warnings)
        for r in routes
    ]
    assert warned == [not srlg, not srlg]


def test_a_set_s_defaults_file_gives_every_scenario_its_tables_and_settings(tmp_path, capsys):
    folder = _write_set(tmp_path / "set")
    gpd.read_file(folder / "jurisdictions.geojson").drop(columns="permit_cost").to_file(
        folder / "jurisdictions.geojson"
    )
    (folder / "geodata.yaml").write_text(
        "permit_cost_by_level: {state: 12345}\nsettings: {uncovered: forbid}\n"
    )
    routes = _solves(_scenario(folder, geodata="."), tmp_path / "out")  # the folder as a set
    assert routes["permit_cost"].tolist() == [12345.0]
    scenario = load_scenario(_scenario(folder, geodata=".", settings={"max_lateral_km": 5}))
    assert scenario.settings.uncovered == "forbid" and scenario.settings.max_lateral_km == 5
    (folder / "geodata.yaml").write_text("permit_cost_by_levl: {state: 1}\n")
    err = _fails(capsys, _scenario(folder, geodata="."), tmp_path / "out2")
    assert "geodata.yaml: unknown key 'permit_cost_by_levl' (did you mean 'permit_cost_by_level'?)" in err


def _raw_sites(folder: Path) -> Path:
    """A raw site table as real exports are: a row without coordinates, a repeated id, a row
    outside lon/lat, and the two good sites."""
    path = folder / "raw_sites.csv"
    path.write_text("id,lon,lat\nA,-100,40\nnowhere,,\nA,-99,40\nfar,-100,140\nB,-98,40\n")
    return path


def test_on_invalid_skip_drops_the_bad_rows_and_says_how_many(tmp_path, capsys):
    folder = _write_set(tmp_path / "set")
    _raw_sites(folder)
    frame = gpd.read_file(folder / "corridors.geojson")
    frame.loc[len(frame)] = {
        "corridor_id": "bad",
        "kind": "rail",
        "cost_per_km": -5.0,
        "sov_a3": "USA",
        "geometry": LineString([(-100, 40.5), (-98, 40.5)]),
    }
    frame.to_file(folder / "corridors.geojson")
    sites = {
        "path": "raw_sites.csv",
        "x_field": "lon",
        "y_field": "lat",
        "crs": "EPSG:4326",
        "fields": {"site_id": "id"},
    }
    layers = {"sites": sites, "corridors": "corridors.geojson", "jurisdictions": "jurisdictions.geojson"}
    refused = _fails(capsys, _scenario(folder, geodata={"layers": layers}), tmp_path / "out")
    assert "sites row 1 (site_id=nowhere): geometry has a non-finite coordinate" in refused
    skipping = {
        "sites": {**sites, "on_invalid": "skip"},
        "corridors": {"path": "corridors.geojson", "on_invalid": "skip"},
        "jurisdictions": "jurisdictions.geojson",
    }
    scenario = load_scenario(_scenario(folder, geodata={"layers": skipping}))
    from optimizer.geodata import load_geodata

    loaded = load_geodata(scenario.geodata)
    assert loaded.sites["site_id"].tolist() == ["A", "B"]  # the first A kept, the repeat dropped
    assert loaded.corridors["corridor_id"].tolist() == ["us", "ca"]
    notes = " | ".join(loaded.repairs)
    assert "sites: on_invalid: skip dropped 2 of 5 rows of raw_sites.csv with coordinates" in notes
    assert (
        "sites: on_invalid: skip dropped 1 of 3 rows of raw_sites.csv, "
        "e.g. sites row 1 (site_id=A): site_id repeats" in notes
    )
    assert (
        "corridors: on_invalid: skip dropped 1 of 3 rows of corridors.geojson, "
        "e.g. corridors row 2 (corridor_id=bad): cost_per_km must be a number >= 0" in notes
    )
    routes = _solves(_scenario(folder, geodata={"layers": skipping}), tmp_path / "out2")
    assert routes["status"].tolist() == ["OPTIMAL"]


def test_on_invalid_takes_refuse_or_skip(tmp_path, capsys):
    folder = _write_set(tmp_path / "set")
    err = _fails(
        capsys, _scenario(folder, {"path": "corridors.geojson", "on_invalid": "ignore"}), tmp_path / "o"
    )
    assert "on_invalid must be refuse or skip, got 'ignore'" in err


def test_a_raw_peeringdb_export_loads_with_its_bad_rows_skipped():
    from optimizer.geodata import GeodataSpec, LayerSource, load_geodata

    csv = Path(__file__).resolve().parents[2] / "shared" / "data" / "us" / "peeringdb_facilities_2021.csv"
    if not csv.exists():
        pytest.skip(f"the PeeringDB export is not at {csv} (../shared/data/us)")
    source = LayerSource(
        csv, fields={"site_id": "NODE_NAME"}, x_field="LONGITUDE", y_field="LATITUDE", crs="EPSG:4326"
    )
    corridors = (
        LayerSource(Path(__file__).resolve().parents[1] / "geodata" / "sample" / "corridors.geojson"),
    )
    with pytest.raises(InvalidGeodataError, match="non-finite coordinate"):
        load_geodata(GeodataSpec(sources={"sites": (source,), "corridors": corridors}))
    skip = replace(source, on_invalid="skip")
    loaded = load_geodata(GeodataSpec(sources={"sites": (skip,), "corridors": corridors}))
    assert len(loaded.sites) > 3_000 and loaded.sites["site_id"].is_unique
    assert any("on_invalid: skip dropped 523 of 4,371 rows" in note for note in loaded.repairs)
