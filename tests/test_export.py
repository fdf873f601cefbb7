"""GIS export: every format read back through GDAL agrees with the solution; writes stay atomic."""

from __future__ import annotations

import csv
import json
import os
import subprocess
import sys
from dataclasses import replace
from pathlib import Path
from types import SimpleNamespace

import geopandas as gpd
import numpy as np
import pandas as pd
import pyogrio
import pytest
import shapely

from optimizer import __version__, formats
from optimizer.cli import main
from optimizer.export import (
    FORMATS,
    OUTPUT_FILES,
    export_result,
    is_complete,
    missing_formats,
    run_info_for,
    write_solution,
)
from optimizer.formats import LAYERS, parse_formats, read_result, shapefile_field_names
from optimizer.pipeline import run_digest, solve_scenario
from optimizer.routes import Demand, Solution, solve_demands
from optimizer.scenario import load_scenario

ROOT = Path(__file__).resolve().parents[1]
SCENARIO = ROOT / "geodata" / "sample" / "scenario.yaml"
DRIVERS = pyogrio.list_drivers()


@pytest.fixture(scope="module")
def solved(tmp_path_factory):
    """The sample scenario solved once and written in every format."""
    scenario = load_scenario(SCENARIO)
    solution, network = solve_scenario(scenario)
    digest = run_digest(scenario)
    out = tmp_path_factory.mktemp("export")
    folder = write_solution(
        solution, network, out, scenario_digest=digest, run_info=run_info_for(scenario), formats=FORMATS
    )
    return SimpleNamespace(
        solution=solution, network=network, folder=folder, digest=digest, gpkg=read_result(folder)
    )


# -- comparing layers ------------------------------------------------------------------


def _multi(geometry: shapely.Geometry) -> shapely.Geometry:
    """A polygon as a one-part MultiPolygon (shapefiles read single parts back as Polygon)."""
    return shapely.MultiPolygon([geometry]) if geometry.geom_type == "Polygon" else geometry


def same_geometry(
    a: shapely.Geometry | None, b: shapely.Geometry | None, tolerance_deg: float = 1e-12
) -> bool:
    """Same shape and coordinates (ring order and orientation aside), or both absent."""
    if a is None or a.is_empty:
        return b is None or b.is_empty
    if b is None or b.is_empty:
        return False
    return bool(
        shapely.equals_exact(
            shapely.normalize(_multi(a)), shapely.normalize(_multi(b)), tolerance=tolerance_deg
        )
    )


def _text(value: object) -> str:
    """Text with missing values as empty (DBF and CSV do not tell them apart)."""
    return (
        ""
        if value is None or (isinstance(value, float) and np.isnan(value)) or value is pd.NA
        else str(value)
    )


def assert_same_layer(
    got: pd.DataFrame,
    want: gpd.GeoDataFrame,
    *,
    names=None,
    inf_as_null=False,
    text_bytes=None,
    number_atol=0.0,
) -> None:
    """Every attribute (renamed per names) and geometry of want, row by row, in got; text cut
    to text_bytes of UTF-8 where the format holds no more (DBF), numbers to number_atol where
    it keeps a fixed count of decimals (DBF: 15)."""
    names = names or {}
    assert len(got) == len(want)
    for column in (c for c in want.columns if c != want.geometry.name):
        name = names.get(column, column)
        assert name in got.columns, f"{column} missing (as {name}); have {list(got.columns)}"
        expected, actual = want[column].to_numpy(), got[name].to_numpy()
        if want[column].dtype.kind in "fiu":
            expected = expected.astype(float)
            if inf_as_null:
                expected = np.where(np.isinf(expected), np.nan, expected)
            np.testing.assert_allclose(
                actual.astype(float), expected, rtol=1e-12, atol=number_atol, equal_nan=True, err_msg=column
            )
        elif want[column].dtype.kind == "b":
            assert [bool(v) for v in actual] == [bool(v) for v in expected], column
        else:
            want_text = [_text(v) for v in expected]
            if text_bytes is not None:
                want_text = [v.encode()[:text_bytes].decode(errors="ignore") for v in want_text]
            assert [_text(v) for v in actual] == want_text, column
    for k, (a, b) in enumerate(zip(got.geometry, want.geometry, strict=True)):
        assert same_geometry(a, b), f"row {k}: geometry differs"


def _shapefile_names(folder: Path) -> dict[str, dict[str, str]]:
    """layer -> {field: shapefile field} from shapefile/field_names.csv."""
    names: dict[str, dict[str, str]] = {}
    with open(folder / "shapefile" / "field_names.csv", encoding="utf-8") as f:
        for row in csv.DictReader(f):
            names.setdefault(row["layer"], {})[row["field"]] = row["shapefile_field"]
    return names


def _path_of(folder: Path, fmt: str, layer: str) -> Path:
    """Where a format holds a layer."""
    return {
        "gpkg": folder / "routes.gpkg",
        "geojson": folder / f"{layer}.geojson",
        "fgb": folder / f"{layer}.fgb",
        "shp": folder / "shapefile" / f"{layer}.shp",
        "csv": folder / "csv" / f"{layer}.csv",
    }[fmt]


# -- the GeoPackage against the solution -----------------------------------------------


def test_geopackage_routes_are_the_solution(solved):
    routes = solved.gpkg.routes
    assert routes.crs.to_epsg() == 4326
    assert len(routes) == len(solved.solution.routes)
    for (_, row), route in zip(routes.iterrows(), solved.solution.routes, strict=True):
        assert (row["demand_id"], row["route_index"], row["status"]) == (
            route.demand_id,
            route.route_index,
            route.status.value,
        )
        assert row["permit_count"] == route.permit_count
        assert row["jurisdiction_ids"] == ",".join(j.jurisdiction_id for j in route.jurisdictions)
        for level, n in route.count_by_level.items():
            assert row[f"{level}_count"] == n
        if route.geometry is None:
            assert row.geometry is None and route.reason and row["reason"] == route.reason
            continue
        np.testing.assert_array_equal(
            shapely.get_coordinates(row.geometry), shapely.get_coordinates(route.geometry)
        )
        for field in (
            "length_km",
            "latency_ms",
            "max_latency_ms",
            "cost",
            "build_cost",
            "permit_cost",
            "gap",
        ):
            assert row[field] == getattr(route, field), field


def test_geopackage_segments_sites_and_jurisdictions_are_the_solution(solved):
    layers, network = solved.gpkg, solved.network
    for route in (r for r in solved.solution.routes if r.geometry is not None):
        segments = layers.route_segments
        segs = segments[
            (segments["demand_id"] == route.demand_id) & (segments["route_index"] == route.route_index)
        ]
        assert list(segs["seq"]) == list(range(len(route.edges)))
        assert segs["length_km"].sum() == pytest.approx(route.length_km, rel=1e-12)
        parts = [shapely.get_coordinates(g) for g in segs.geometry]
        stitched = np.concatenate([parts[0], *(p[1:] for p in parts[1:])])
        np.testing.assert_allclose(stitched, shapely.get_coordinates(route.geometry), atol=1e-12)
    crossed = layers.jurisdictions_crossed
    want = [(r.demand_id, j.jurisdiction_id) for r in solved.solution.routes for j in r.jurisdictions]
    assert list(zip(crossed["demand_id"], crossed["jurisdiction_id"], strict=True)) == want
    source = network.jurisdictions.set_index(network.jurisdictions["jurisdiction_id"].astype(str)).geometry
    for _, row in crossed.iterrows():
        assert same_geometry(row.geometry, source.loc[row["jurisdiction_id"]])
    assert list(layers.sites["site_id"]) == list(network.sites["site_id"])
    assert set(layers.sites.loc[~layers.sites["reachable"], "site_id"]) == set(network.unreachable)


def test_geopackage_run_table_records_scenario_settings_and_version(solved):
    run = solved.gpkg.run
    assert len(run) == 1
    row = run.iloc[0]
    assert row["software"] == f"fiberopt {__version__}"
    assert row["scenario_yaml"] == SCENARIO.read_text(encoding="utf-8")
    assert row["run_sha256"] == solved.digest
    assert json.loads(row["settings_json"])["lateral_cost_per_km"] == 60000
    assert json.loads(row["solver_json"])["time_limit_s"] == 60
    layers = {str(name): kind for name, kind in pyogrio.list_layers(solved.folder / "routes.gpkg")}
    assert layers["run"] is None  # an attribute-only table


# -- every other format against the GeoPackage -----------------------------------------


@pytest.mark.parametrize("fmt", ["geojson", "fgb", "shp", "csv"])
@pytest.mark.parametrize("layer", LAYERS)
def test_format_reads_back_as_the_geopackage(solved, fmt, layer):
    path = _path_of(solved.folder, fmt, layer)
    got = gpd.read_file(path, engine="pyogrio")
    assert got.crs is not None and got.crs.to_epsg() == 4326
    names = _shapefile_names(solved.folder)[layer] if fmt == "shp" else {}
    assert_same_layer(
        got,
        getattr(solved.gpkg, layer),
        names=names,
        inf_as_null=fmt == "geojson",
        text_bytes=formats.DBF_TEXT_BYTES if fmt == "shp" else None,
        number_atol=1e-15 if fmt == "shp" else 0.0,  # DBF numbers: 15 decimals (0.000226832555087)
    )


def test_geojson_is_rfc7946(solved):
    data = json.loads((solved.folder / "routes.geojson").read_text(encoding="utf-8"))
    assert data["type"] == "FeatureCollection" and "crs" not in data
    lon, lat = data["features"][0]["geometry"]["coordinates"][0]
    assert -180 <= lon <= -60 and 20 <= lat <= 60  # lon/lat order, central US


def test_csv_run_table_and_wkt(solved):
    run = pyogrio.read_dataframe(solved.folder / "csv" / "run.csv")
    assert run.iloc[0]["scenario_yaml"] == solved.gpkg.run.iloc[0]["scenario_yaml"]
    header = (solved.folder / "csv" / "routes.csv").read_text(encoding="utf-8").splitlines()[0]
    assert header.startswith("WKT,demand_id,route_index")


def test_shapefile_field_names_are_unique_and_short(solved):
    for layer in LAYERS:
        fields = list(pyogrio.read_info(solved.folder / "shapefile" / f"{layer}.shp")["fields"])
        assert all(len(f) <= 10 for f in fields), fields
        assert len({f.lower() for f in fields}) == len(fields), fields
        assert (solved.folder / "shapefile" / f"{layer}.prj").is_file()
        assert (solved.folder / "shapefile" / f"{layer}.cpg").read_text().strip() == "UTF-8"


@pytest.mark.parametrize(
    "columns",
    [
        ["route_index", "route_indexes", "route_idx"],
        [f"abcdefghij_{k}" for k in range(12)],
        ["state_count", "statewide_count", "State_N"],
        ["jurisdiction_county", "jurisdiction_countyseat", "j_county"],
    ],
)
def test_shapefile_field_names_never_collide(columns):
    names = shapefile_field_names(columns)
    assert list(names) == columns
    assert all(len(v) <= 10 for v in names.values())
    assert len({v.lower() for v in names.values()}) == len(columns)


def test_dbf_truncation_is_reported(solved, tmp_path):
    routes = solved.gpkg.routes.copy()
    routes.loc[0, "jurisdiction_ids"] = ",".join(["12345"] * 60)
    long = int((routes["jurisdiction_ids"].str.encode("utf-8").str.len() > 254).sum())
    written = formats.write_format(replace(solved.gpkg, routes=routes), tmp_path, "shp")
    assert any(
        f"routes.jurisdiction_ids (juris_ids): {long} value(s) longer than 254 bytes" in d
        for d in written.dropped
    )


# -- KML ---------------------------------------------------------------------------------


def _kml_layer(path: Path, name: str) -> gpd.GeoDataFrame:
    """One KML folder as a layer."""
    return pyogrio.read_dataframe(path, layer=name)


@pytest.mark.skipif("LIBKML" not in DRIVERS, reason="GDAL built without the LIBKML driver")
def test_kml_holds_every_attribute_and_geometry(solved):
    path, layers = solved.folder / "routes.kml", solved.gpkg
    present = {str(n) for n, _ in pyogrio.list_layers(path)}
    renamed = {"name": "name2"}  # LIBKML keeps `Name` for the placemark label
    assert_same_layer(_kml_layer(path, "sites"), layers.sites, names=renamed)
    demands = list(dict.fromkeys(layers.routes["demand_id"]))
    for layer in LAYERS[:2] + LAYERS[3:]:
        suffix = "" if layer == "routes" else f" {layer}"
        parts = [_kml_layer(path, f"{d}{suffix}") for d in demands if f"{d}{suffix}" in present]
        assert_same_layer(pd.concat(parts, ignore_index=True), getattr(layers, layer), names=renamed)


@pytest.mark.skipif("KML" not in DRIVERS, reason="GDAL built without the KML driver")
def test_kml_reads_with_gdal_kml_driver(solved):
    script = (
        "import json, sys, pyogrio, shapely\n"
        "path = sys.argv[1]\n"
        "out = {}\n"
        "for name, _ in pyogrio.list_layers(path):\n"
        "    frame = pyogrio.read_dataframe(path, layer=name)\n"
        "    out[str(name)] = {'driver': pyogrio.read_info(path, layer=name)['driver'],\n"
        "        'names': list(frame['Name']),\n"
        "        'wkt': [shapely.to_wkt(g, rounding_precision=-1) for g in frame.geometry]}\n"
        "print(json.dumps(out))\n"
    )
    env = {**os.environ, "GDAL_SKIP": "LIBKML"}
    done = subprocess.run(
        [sys.executable, "-c", script, str(solved.folder / "routes.kml")],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
        check=True,
    )
    layers = json.loads(done.stdout)
    assert {v["driver"] for v in layers.values()} == {"KML"}
    assert layers["sites"]["names"] == list(solved.gpkg.sites["site_id"])
    for _, route in solved.gpkg.routes.iterrows():
        if route.geometry is None:
            assert route["demand_id"] not in layers  # no geometry: only LIBKML and Google Earth list it
            continue
        read = layers[route["demand_id"]]
        k = read["names"].index(f"{route['demand_id']} route {route['route_index']}")
        assert same_geometry(shapely.from_wkt(read["wkt"][k]), route.geometry)


def test_kml_styles_routes_per_demand(solved):
    text = (solved.folder / "routes.kml").read_text(encoding="utf-8")
    assert text.count("<LineStyle>") >= 2 * solved.gpkg.routes["demand_id"].nunique()
    assert "<styleUrl>#demand-0</styleUrl>" in text and "<styleUrl>#demand-1</styleUrl>" in text


# -- summary, re-runs and atomic writes ----------------------------------------------------


def test_summary_lists_files_formats_and_drops(solved):
    summary = json.loads((solved.folder / "summary.json").read_text(encoding="utf-8"))
    assert summary["formats"] == list(FORMATS)
    for name in summary["files"]:
        assert (solved.folder / name).is_file(), name
    assert set(OUTPUT_FILES) <= set(summary["files"])
    exports = summary["exports"]
    assert exports["gpkg"]["dropped"] == [] and exports["csv"]["dropped"] == []
    for fmt in ("geojson", "fgb", "shp", "kml"):
        assert any(d.startswith("run table") for d in exports[fmt]["dropped"]), fmt
    infinite = int(np.isinf(solved.gpkg.routes["bound"]).sum())
    assert infinite >= 2
    assert any(
        f"routes.bound: {infinite} infinite value(s) written as null" in d
        for d in exports["geojson"]["dropped"]
    )
    assert exports["shp"]["field_names"]["routes"]["max_latency_ms"] == "max_lat_ms"
    assert is_complete(solved.folder, solved.digest)


def test_all_infeasible_solution_writes_empty_layers_with_their_fields(solved, tmp_path):
    routes, design = solve_demands(solved.network, [Demand("none", "CHI1", "DAL1", max_latency_ms=0.5)])
    solution = Solution("empty", routes, solved.solution.graph_stats, design=design)
    folder = write_solution(solution, solved.network, tmp_path, formats=FORMATS)
    for fmt in ("gpkg", "fgb", "shp", "csv"):
        for layer in ("route_segments", "jurisdictions_crossed"):
            kwargs = {"layer": layer} if fmt == "gpkg" else {}
            got = pyogrio.read_dataframe(_path_of(folder, fmt, layer), **kwargs)
            assert len(got) == 0
            names = _shapefile_names(folder)[layer] if fmt == "shp" else {}
            assert {names.get(c, c) for c in ("demand_id", "route_index")} <= set(got.columns), (fmt, layer)


def test_export_command_adds_formats_to_a_finished_folder(tmp_path, capsys):
    assert main(["solve", str(SCENARIO), "--out", str(tmp_path), "--quiet"]) == 0
    folder = tmp_path / "central-us"
    gpkg_stamp = (folder / "routes.gpkg").stat().st_mtime_ns
    assert not (folder / "routes.kml").exists() and missing_formats(folder, ["kml"]) == ("kml",)
    assert main(["export", str(folder), "--format", "kml,shp"]) == 0
    out = capsys.readouterr().out
    assert "central-us: kml: wrote routes.kml" in out and "central-us: shp: dropped" in out
    assert (folder / "routes.kml").is_file() and (folder / "shapefile" / "routes.shp").is_file()
    assert missing_formats(folder, "gpkg,geojson,kml,shp") == ()
    assert (folder / "routes.gpkg").stat().st_mtime_ns == gpkg_stamp
    # a re-run asking for one more format exports it from routes.gpkg instead of solving again
    assert main(["solve", str(SCENARIO), "--out", str(tmp_path), "--quiet", "--format", "csv"]) == 0
    assert "skipped" in capsys.readouterr().out
    assert (folder / "csv" / "routes.csv").is_file()
    assert (folder / "routes.gpkg").stat().st_mtime_ns == gpkg_stamp
    summary = json.loads((folder / "summary.json").read_text())
    assert summary["formats"] == ["gpkg", "geojson", "shp", "kml", "csv"]


@pytest.mark.parametrize("command", ["solve", "export"])
def test_unknown_format_is_one_clear_line(tmp_path, capsys, command):
    target = str(SCENARIO) if command == "solve" else str(tmp_path)
    code = main(
        [command, target, "--format", "gpkg,xls", *(["--out", str(tmp_path)] if command == "solve" else [])]
    )
    err = capsys.readouterr().err
    assert code == 2 and err.count("\n") == 1
    assert "--format: unknown format 'xls'; choose from gpkg, geojson, fgb, shp, kml, csv" in err
    assert list(tmp_path.iterdir()) == []


def test_export_needs_a_finished_result_folder(tmp_path, capsys):
    assert main(["export", str(tmp_path), "--format", "kml"]) == 2
    assert "no readable summary.json" in capsys.readouterr().err


def test_parse_formats_expands_all_and_keeps_order():
    assert parse_formats("KML, gpkg,kml") == ("kml", "gpkg")
    assert parse_formats("all") == FORMATS


def test_failed_export_leaves_no_file_a_rerun_would_trust(solved, tmp_path, monkeypatch):
    folder = write_solution(
        solved.solution, solved.network, tmp_path, scenario_digest=solved.digest, formats=["gpkg"]
    )
    assert is_complete(folder, solved.digest)

    def killed(layers, temp):
        (temp / "routes.kml").write_text("<kml><Document><Folder>", encoding="utf-8")  # half written
        raise OSError("killed")

    monkeypatch.setitem(formats._WRITERS, "kml", killed)
    with pytest.raises(OSError, match="killed"):
        export_result(folder, ["kml"])
    assert not (folder / "routes.kml").exists()
    assert not [p for p in folder.iterdir() if p.name.startswith(".")]
    assert missing_formats(folder, ["kml"]) == ("kml",) and is_complete(folder, solved.digest)
    monkeypatch.undo()
    export_result(folder, ["kml"])
    assert (folder / "routes.kml").stat().st_size > 1000
    assert missing_formats(folder, ["kml"]) == () and is_complete(folder, solved.digest)


def test_old_folder_without_map_or_a_listed_file_is_not_complete(solved, tmp_path):
    folder = tmp_path / "central-us"
    folder.mkdir()
    for name in ("routes.gpkg", "summary.json", "routes.geojson", "report.html"):
        (folder / name).write_bytes((solved.folder / name).read_bytes())
    assert not is_complete(folder, solved.digest)  # no map.html: written by an older version
    (folder / "map.html").write_bytes((solved.folder / "map.html").read_bytes())
    assert not is_complete(folder, solved.digest)  # summary lists shapefiles etc. that are missing
