"""The batch CLI end to end on the embedded sample: outputs, re-run skip, clean failures."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import geopandas as gpd
import pyogrio
import pytest
import yaml

from optimizer.cli import main

ROOT = Path(__file__).resolve().parents[1]
SAMPLE = ROOT / "geodata" / "sample"
SCENARIO = SAMPLE / "scenario.yaml"


@pytest.fixture(scope="module")
def solved(tmp_path_factory):
    """The sample scenario solved once into a fresh folder."""
    out = tmp_path_factory.mktemp("out")
    assert main(["solve", str(SCENARIO), "--out", str(out), "--quiet"]) == 0
    name = yaml.safe_load(SCENARIO.read_text())["name"]
    return out, out / name


def test_solve_writes_every_output_file(solved):
    _, folder = solved
    assert sorted(p.name for p in folder.iterdir()) == [
        "jurisdictions_crossed.geojson",
        "map.html",
        "report.html",
        "route_segments.geojson",
        "routes.geojson",
        "routes.gpkg",
        "sites.geojson",
        "summary.json",
    ]
    layers = {name for name, _ in pyogrio.list_layers(folder / "routes.gpkg")}
    assert layers == {"routes", "route_segments", "sites", "jurisdictions_crossed", "run"}


def test_outputs_agree_with_each_other(solved):
    _, folder = solved
    summary = json.loads((folder / "summary.json").read_text())
    routes = gpd.read_file(folder / "routes.gpkg", layer="routes")
    segments = gpd.read_file(folder / "routes.gpkg", layer="route_segments")
    crossed = gpd.read_file(folder / "routes.gpkg", layer="jurisdictions_crossed")
    geojson = gpd.read_file(folder / "routes.geojson")
    assert routes.crs.to_epsg() == 4326 and geojson.crs.to_epsg() == 4326
    assert list(routes["demand_id"]) == [r["demand_id"] for r in summary["routes"]]
    assert list(geojson["demand_id"]) == list(routes["demand_id"])
    found = routes[routes.geometry.notna()]
    for _, route in found.iterrows():
        key = (segments["demand_id"] == route["demand_id"]) & (
            segments["route_index"] == route["route_index"]
        )
        segs = segments[key].sort_values("seq")
        assert segs["length_km"].sum() == pytest.approx(route["length_km"], rel=1e-9)
        assert segs["latency_ms"].sum() == pytest.approx(route["latency_ms"], rel=1e-9)
        assert route["latency_ms"] <= route["max_latency_ms"] + 1e-6
        mine = (crossed["demand_id"] == route["demand_id"]) & (crossed["route_index"] == route["route_index"])
        assert int(mine.sum()) == route["permit_count"]
        first, last = segs.geometry.iloc[0].coords[0], segs.geometry.iloc[-1].coords[-1]
        assert first == pytest.approx(route.geometry.coords[0])
        assert last == pytest.approx(route.geometry.coords[-1])
    statuses = set(routes["status"])
    assert "OPTIMAL" in statuses and "INFEASIBLE" in statuses
    for r in summary["routes"]:
        if r["status"] == "INFEASIBLE":
            assert r["reason"]
    # Routes of different demands may share edges and permits: the total pays each once.
    assert summary["design"]["sum_of_route_costs"] == pytest.approx(found["cost"].sum())
    assert summary["total_cost"] == pytest.approx(summary["design"]["cost"])
    assert summary["total_cost"] <= found["cost"].sum() + 1e-6


def test_rerun_skips_finished_scenarios_and_force_redoes_them(solved, capsys):
    out, folder = solved
    stamp = (folder / "summary.json").stat().st_mtime_ns
    assert main(["solve", str(SCENARIO), "--out", str(out), "--quiet"]) == 0
    assert "skipped" in capsys.readouterr().out
    assert (folder / "summary.json").stat().st_mtime_ns == stamp
    assert main(["solve", str(SCENARIO), "--out", str(out), "--quiet", "--force"]) == 0
    assert (folder / "summary.json").stat().st_mtime_ns != stamp


def test_half_written_folder_is_not_trusted(solved, tmp_path):
    _, folder = solved
    out = tmp_path / "out"
    shutil.copytree(folder, out / folder.name)
    (out / folder.name / "summary.json").unlink()  # as if killed before the last write
    assert main(["solve", str(SCENARIO), "--out", str(out), "--quiet"]) == 0
    assert (out / folder.name / "summary.json").is_file()
    assert not [p for p in out.iterdir() if p.name.startswith(".")]  # no staging left behind


def test_route_table_is_printed(tmp_path, capsys):
    assert main(["solve", str(SCENARIO), "--out", str(tmp_path)]) == 0
    text = capsys.readouterr().out
    assert "demand" in text and "status" in text and "permits" in text and "OPTIMAL" in text


def _scenario(tmp_path, **changes):
    raw = {
        "name": "bad",
        "geodata": str(SAMPLE),
        "demands": [{"id": "d", "a": "CHI1", "b": "DAL1", "max_latency_ms": 9.0}],
    }
    raw.update(changes)
    path = tmp_path / "bad.yaml"
    path.write_text(yaml.safe_dump(raw))
    return path


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        (
            {"demands": [{"id": "d", "a": "CHI1", "b": "DAL1", "max_latency_ms": -1}]},
            "demands[0]: demand 'd': max_latency_ms must be > 0, got -1",
        ),
        (
            {"demands": [{"id": "d", "a": "CHI1", "b": "NOPE", "max_latency_ms": 5}]},
            "demands[0].b: unknown site 'NOPE' in demand 'd'",
        ),
        (
            {"settings": {"snap_tolerance": 3}},
            "settings: unknown key 'snap_tolerance' (did you mean 'snap_tolerance_m'?)",
        ),
        ({"geodata": "nowhere"}, "nowhere does not exist"),
        ({"solver": {"time_limit_s": "60"}}, "solver.time_limit_s must be > 0"),
        ({"geodata": {"path": str(SAMPLE), "layers": ["corridors"]}}, "geodata.layers must be a mapping"),
        (
            {"demands": [{"id": "d", "a": "CHI1", "b": "DAL1", "max_latency_ms": float("inf")}]},
            "max_latency_ms must be > 0",
        ),
        (
            {"demands": [{"id": "d", "a": "CHI1", "b": "DAL1", "max_latency_ms": 5, "paths": 9}]},
            "paths must be an integer in [1, 8], got 9",
        ),
        (
            {
                "demands": [
                    {"id": "d", "a": "CHI1", "b": "DAL1", "max_latency_ms": 5, "min_separation_km": -1}
                ]
            },
            "min_separation_km must be a number >= 0, got -1",
        ),
        ({"shared_build": "yes"}, "shared_build must be true or false, got 'yes'"),
    ],
)
def test_bad_scenario_fails_with_one_clear_line(tmp_path, capsys, changes, message):
    code = main(["solve", str(_scenario(tmp_path, **changes)), "--out", str(tmp_path / "o"), "--quiet"])
    err = capsys.readouterr().err
    assert code == 2
    assert err.startswith("fiberopt: error: ") and message in err
    assert err.count("\n") == 1
    assert not (tmp_path / "o" / "bad").exists()


def test_inspect_prints_layer_and_graph_stats(capsys):
    assert main(["inspect", str(SAMPLE)]) == 0
    text = capsys.readouterr().out
    for word in ("sites:", "corridors:", "existing_fiber", "county", "state", "components"):
        assert word in text


def test_run_identity_covers_shapefile_sidecars(tmp_path):
    from optimizer.pipeline import run_digest
    from optimizer.scenario import load_scenario

    for suffix in (".shp", ".dbf", ".shx", ".prj"):
        (tmp_path / f"corridors{suffix}").write_bytes(b"x")
    path = tmp_path / "s.yaml"
    path.write_text(
        yaml.safe_dump(
            {
                "name": "s",
                "geodata": {"layers": {"corridors": "corridors.shp"}},
                "demands": [{"id": "d", "a": "A", "b": "B", "max_latency_ms": 1}],
            }
        )
    )
    before = run_digest(load_scenario(path))
    (tmp_path / "corridors.dbf").write_bytes(b"y")  # attributes changed, .shp untouched
    assert run_digest(load_scenario(path)) != before
