"""Input limits at the boundary: every defect of issue 15 items 1, 7, 8 and 10 that the loaders
let through, each refused with one clear error before any geometry work."""

from __future__ import annotations

import json
import math
import os
import threading
import time
from pathlib import Path

import pyogrio
import pytest
import yaml

from optimizer.config import GraphSettings, settings_from_mapping
from optimizer.errors import InvalidGeodataError, InvalidScenarioError
from optimizer.geodata import (
    UNSAFE_DRIVERS,
    GeodataSpec,
    LayerSource,
    check_layer_file,
    load_geodata,
    spec_from_path,
)
from optimizer.graph import build_graph
from optimizer.limits import DEFAULT_LIMITS, InputLimits
from optimizer.scenario import load_scenario

DATA_US = Path(__file__).resolve().parents[2] / "shared" / "data" / "us"
SQUARE = [[-99.0, 33.0], [-94.0, 33.0], [-94.0, 37.0], [-99.0, 37.0], [-99.0, 33.0]]


def _collection(features: list[dict], crs: str | None = None) -> dict:
    collection = {"type": "FeatureCollection", "features": features}
    if crs:
        collection["crs"] = {"type": "name", "properties": {"name": crs}}
    return collection


def _feature(geometry: dict | None, **properties) -> dict:
    return {"type": "Feature", "properties": properties, "geometry": geometry}


def _line(*coords) -> dict:
    return {"type": "LineString", "coordinates": [list(c) for c in coords]}


def _polygon(ring: list) -> dict:
    return {"type": "Polygon", "coordinates": [[list(c) for c in ring]]}


def _point(x: float, y: float) -> dict:
    return {"type": "Point", "coordinates": [x, y]}


def _layers() -> dict[str, dict]:
    """A tiny good set: two sites on a rail line crossing one state, as GeoJSON."""
    return {
        "sites": _collection(
            [_feature(_point(-97, 35), site_id="A"), _feature(_point(-96, 35), site_id="B")]
        ),
        "corridors": _collection(
            [
                _feature(_line((-98, 35), (-95, 35)), corridor_id="r1", kind="rail", cost_per_km=100.0),
                _feature(_line((-97, 34), (-97, 36)), corridor_id="f1", kind="fiber", cost_per_km=10.0),
            ]
        ),
        "jurisdictions": _collection([_feature(_polygon(SQUARE), jurisdiction_id="S", level="state")]),
    }


def _write(folder: Path, layers: dict[str, dict]) -> Path:
    for name, collection in layers.items():
        (folder / f"{name}.geojson").write_text(json.dumps(collection, allow_nan=True))
    return folder


def _problems(folder: Path, layers: dict[str, dict], **limits) -> str:
    spec = spec_from_path(_write(folder, layers))
    with pytest.raises(InvalidGeodataError) as info:
        load_geodata(spec, limits=InputLimits(**limits))
    return str(info.value)


def test_the_good_set_loads(tmp_path):
    layers = load_geodata(spec_from_path(_write(tmp_path, _layers())))
    assert len(layers.corridors) == 2


@pytest.mark.parametrize(
    ("layer", "row", "vertex", "expected"),
    [
        (
            "jurisdictions",
            0,
            (-96.0, 1_895_888.0),
            "jurisdictions row 0 (jurisdiction_id=S): geometry has a vertex",
        ),
        ("sites", 1, (-96.0, -91.0), "sites row 1 (site_id=B): geometry has a vertex at (-96, -91), outside"),
        (
            "corridors",
            0,
            (200.0, 35.0),
            "corridors row 0 (corridor_id=r1): geometry has a vertex at (200, 35)",
        ),
        ("corridors", 1, (-97.0, 20_000.0), "corridors row 1 (corridor_id=f1): geometry has a vertex"),
    ],
)
def test_coordinates_outside_lon_lat_are_refused_by_row(tmp_path, layer, row, vertex, expected):
    layers = _layers()
    geometry = layers[layer]["features"][row]["geometry"]
    if geometry["type"] == "Point":
        geometry["coordinates"] = list(vertex)
    elif geometry["type"] == "LineString":
        geometry["coordinates"][0] = list(vertex)
    else:  # keep the ring closed: move a middle vertex
        geometry["coordinates"][0][2] = list(vertex)
    message = _problems(tmp_path, layers)
    assert expected in message
    assert "outside lon [-180, 180], lat [-90, 90]" in message


@pytest.mark.parametrize("value", [math.nan, math.inf, 1e308])
def test_non_finite_and_huge_coordinates_are_refused(tmp_path, value):
    layers = _layers()
    layers["corridors"]["features"][0]["geometry"]["coordinates"][1] = [value, 35.0]
    assert "corridors row 0 (corridor_id=r1): geometry has a" in _problems(tmp_path, layers)


def test_web_mercator_numbers_without_a_crs_member_are_refused(tmp_path):
    layers = _layers()
    layers["sites"]["features"][0]["geometry"]["coordinates"] = [-10_797_990.0, 4_163_881.0]
    assert "sites row 0 (site_id=A): geometry has a vertex at (-1.0798e+07, 4.16388e+06)" in _problems(
        tmp_path, layers
    )


def test_projected_coordinates_outside_the_crs_area_of_use_are_refused(tmp_path):
    layers = _layers()
    layers["sites"] = _collection(
        [
            _feature(_point(-10_797_990.0, 4_163_881.0), site_id="A"),
            _feature(_point(-1e7, 1e300), site_id="B"),
        ],
        crs="urn:ogc:def:crs:EPSG::3857",
    )
    message = _problems(tmp_path, layers)
    assert (
        "sites row 1 (site_id=B): geometry has a vertex at (-1e+07, 1e+300), outside the area of use"
        in message
    )
    assert "site_id=A" not in message


def test_projected_coordinates_inside_the_area_of_use_load(tmp_path):
    layers = _layers()
    layers["sites"] = _collection(
        [_feature(_point(-10_797_990.0, 4_163_881.0), site_id="A")], crs="urn:ogc:def:crs:EPSG::3857"
    )
    loaded = load_geodata(spec_from_path(_write(tmp_path, layers)))
    assert loaded.sites.geometry.iloc[0].x == pytest.approx(-97.0, abs=1e-3)


def test_a_geocentric_crs_is_refused(tmp_path):
    layers = _layers()
    layers["corridors"]["crs"] = {"type": "name", "properties": {"name": "urn:ogc:def:crs:EPSG::4978"}}
    assert "neither geographic (lon/lat) nor projected" in _problems(tmp_path, layers)


def test_an_unclosed_ring_is_a_problem_not_a_geos_exception(tmp_path):
    layers = _layers()
    layers["jurisdictions"]["features"][0]["geometry"] = _polygon(SQUARE[:-1])
    assert "jurisdictions row 0 (jurisdiction_id=S): geometry is missing or cannot be read" in _problems(
        tmp_path, layers
    )


def test_a_one_point_line_is_a_problem_not_a_geos_exception(tmp_path):
    layers = _layers()
    layers["corridors"]["features"][1]["geometry"] = _line((-97, 34))
    assert "corridors row 1 (corridor_id=f1): geometry is missing or cannot be read" in _problems(
        tmp_path, layers
    )


@pytest.mark.parametrize("value", [math.nan, math.inf, -math.inf])
def test_non_finite_layer_defaults_are_refused(tmp_path, value):
    _write(tmp_path, _layers())
    spec = GeodataSpec(
        sources={
            "sites": (LayerSource(tmp_path / "sites.geojson"),),
            "corridors": (LayerSource(tmp_path / "corridors.geojson", defaults={"srlg": value}),),
        }
    )
    with pytest.raises(InvalidGeodataError, match=r"corridors: defaults.srlg: must be a finite number"):
        load_geodata(spec)


def test_cost_per_km_over_the_money_ceiling_is_refused(tmp_path):
    layers = _layers()
    layers["corridors"]["features"][0]["properties"]["cost_per_km"] = 1e308
    assert "corridors row 0 (corridor_id=r1): cost_per_km must be at most 1e+09, got 1e+308" in _problems(
        tmp_path, layers
    )


def test_permit_cost_by_level_over_the_money_ceiling_is_refused(tmp_path):
    _write(tmp_path, _layers())
    spec = GeodataSpec(
        sources=spec_from_path(tmp_path).sources,
        permit_cost_by_level={"state": 1e308},
        cost_per_km_by_kind={"rail": math.nan},
    )
    with pytest.raises(InvalidGeodataError) as info:
        load_geodata(spec)
    assert "permit_cost_by_level.state: must be a number from 0 to 1e+12, got 1e+308" in info.value.problems
    assert "cost_per_km_by_kind.rail: must be a number from 0 to 1e+09, got nan" in info.value.problems


def test_bad_default_tables_are_refused_before_any_file_is_read(tmp_path):
    """A NaN default cost ends the load at once: no layer file is opened (here none exists)."""
    spec = GeodataSpec(
        sources={"corridors": (LayerSource(tmp_path / "absent.gpkg"),)},
        cost_per_km_by_kind={"rail": math.nan},
    )
    with pytest.raises(InvalidGeodataError) as info:
        load_geodata(spec)
    assert info.value.problems == ["cost_per_km_by_kind.rail: must be a number from 0 to 1e+09, got nan"]


def test_rows_of_one_corridor_must_agree(tmp_path):
    layers = _layers()
    features = layers["corridors"]["features"]
    features.append(_feature(_line((-95, 35), (-94.5, 35)), corridor_id="r1", kind="rail", cost_per_km=100.0))
    load_geodata(spec_from_path(_write(tmp_path, layers)))  # repeated but agreeing: one corridor
    features[-1]["properties"]["cost_per_km"] = 250.0
    features[-1]["properties"]["access"] = "endpoints"
    message = _problems(tmp_path, layers)
    assert (
        "corridors rows [0, 2] (corridor_id=r1): rows of one corridor disagree on cost_per_km (100.0, 250.0)"
        in (message)
    )
    assert "disagree on access ('crossings', 'endpoints')" in message


def test_ids_with_control_characters_or_over_long_are_refused(tmp_path):
    layers = _layers()
    layers["sites"]["features"][0]["properties"]["site_id"] = "A\nB"
    layers["sites"]["features"][1]["properties"]["name"] = "n" * 2000
    message = _problems(tmp_path, layers)
    assert "site_id contains a control character" in message
    assert "sites row 1 (site_id=B): name has 2,000 characters; the limit is 1,024" in message


def test_jurisdiction_levels_are_bounded(tmp_path):
    layers = _layers()
    layers["jurisdictions"]["features"] = [
        _feature(_polygon(SQUARE), jurisdiction_id=f"J{i}", level=f"level-{i}") for i in range(5)
    ]
    assert "jurisdictions: 5 distinct levels; the limit is 4" in _problems(
        tmp_path, layers, max_jurisdiction_levels=4
    )


def test_vertex_limits_refuse_a_dense_corridor_before_the_graph(tmp_path):
    assert DEFAULT_LIMITS.max_vertices_per_line < 300_000  # the 84 CPU-s corridor of the issue
    layers = _layers()
    layers["corridors"]["features"][0]["geometry"] = _line(*((-98 + i * 0.01, 35) for i in range(301)))
    message = _problems(tmp_path, layers, max_vertices_per_line=300)
    assert "corridors row 0 (corridor_id=r1): geometry has 301 vertices; the limit is 300 per line" in message
    message = _problems(tmp_path, _layers(), max_vertices_per_layer=4)
    assert "jurisdictions: 5 vertices; the limit is 4 per layer" in message


def test_file_size_and_feature_count_are_checked_before_reading(tmp_path):
    message = _problems(tmp_path, _layers(), max_layer_file_bytes=100)
    assert "sites: sites.geojson is" in message and "the limit is 100" in message
    assert "sites: sites.geojson has 2 features; the limit is 1 per layer" in _problems(
        tmp_path, _layers(), max_features_per_layer=1
    )


def test_counted_levels_must_name_levels_the_jurisdictions_have(tmp_path):
    layers = load_geodata(spec_from_path(_write(tmp_path, _layers())))
    build_graph(layers, settings=GraphSettings(counted_levels=("state",)))
    with pytest.raises(InvalidScenarioError) as info:
        build_graph(layers, settings=GraphSettings(counted_levels=("state", "cuonty")))
    assert str(info.value) == (
        "settings.counted_levels: no jurisdiction has the levels ['cuonty']; the levels present are ['state']"
    )


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ({"snap_tolerance_m": "x"}, "settings.snap_tolerance_m must be a number, got 'x'"),
        ({"laterals_per_site": 2.5}, "settings.laterals_per_site must be an integer, got 2.5"),
        ({"counted_levels": "county"}, "settings.counted_levels must be a list of level names, got 'county'"),
        ({"lateral_cost_per_km": 1e308}, "settings.lateral_cost_per_km is out of range, got 1e+308"),
        ({"permit_cost_by_level": {"state": 1e308}}, "settings.permit_cost_by_level.state must be a number"),
    ],
)
def test_settings_of_the_wrong_type_are_named_by_field(raw, expected):
    with pytest.raises(InvalidScenarioError) as info:
        settings_from_mapping(raw)
    assert expected in str(info.value)


# --- GDAL: formats by content, never a VRT, a pipeline or a virtual file system -------------------


def _vrt(target: Path) -> str:
    return (
        f"<OGRVRTDataSource><OGRVRTLayer name='sites'><SrcDataSource>{target}</SrcDataSource>"
        "</OGRVRTLayer></OGRVRTDataSource>"
    )


class _OpenWatch:
    """A FIFO that records whether anything opened it for reading (a regular file's atime
    would not tell: relatime)."""

    def __init__(self, path: Path) -> None:
        os.mkfifo(path)
        self.path = path
        self.opened = threading.Event()
        self._thread = threading.Thread(target=self._wait, daemon=True)
        self._thread.start()

    def _wait(self) -> None:
        with open(self.path, "wb"):  # returns only once a reader has the FIFO open
            self.opened.set()

    def close(self) -> None:
        if not self.opened.is_set():
            fd = os.open(self.path, os.O_RDONLY | os.O_NONBLOCK)  # release the writer
            time.sleep(0.05)
            os.close(fd)
        self._thread.join(5)


@pytest.fixture
def watched(tmp_path):
    watch = _OpenWatch(tmp_path / "outside.csv")
    yield watch
    watch.close()


def test_unsafe_gdal_drivers_are_deregistered():
    assert not set(UNSAFE_DRIVERS) & set(pyogrio.list_drivers())


def test_a_vrt_named_gpkg_is_refused_without_reading_its_target(tmp_path, watched):
    data = tmp_path / "set"
    data.mkdir()
    (data / "geodata.gpkg").write_text(_vrt(watched.path))
    with pytest.raises(InvalidGeodataError, match=r"geodata: geodata.gpkg is not a .gpkg file \(it is XML"):
        spec_from_path(data / "geodata.gpkg")
    (data / "sites.geojson").write_text(_vrt(watched.path))
    with pytest.raises(InvalidGeodataError, match=r"sites: sites.geojson is not a .geojson file"):
        load_geodata(GeodataSpec(sources={"sites": (LayerSource(data / "sites.geojson"),)}))
    time.sleep(0.2)
    assert not watched.opened.is_set()


def test_gdal_itself_no_longer_follows_a_vrt(tmp_path, watched):
    (tmp_path / "plain.vrt").write_text(_vrt(watched.path))
    with pytest.raises(pyogrio.errors.DataSourceError):
        pyogrio.read_info(tmp_path / "plain.vrt")
    time.sleep(0.2)
    assert not watched.opened.is_set()


def test_a_gdal_pipeline_named_geojson_is_refused_without_reading_its_target(tmp_path, watched):
    command = f"gdal vector pipeline ! read {watched.path} ! write --of stream streamed_dataset"
    (tmp_path / "sites.geojson").write_text(
        json.dumps({"type": "gdal_streamed_alg", "command_line": command})
    )
    with pytest.raises(InvalidGeodataError, match=r"is not a \.geojson file"):
        check_layer_file("sites", tmp_path / "sites.geojson")
    (tmp_path / "sites.geojson").write_text(
        json.dumps({"command_line": command, "type": "gdal_streamed_alg"})
    )
    with pytest.raises(pyogrio.errors.DataSourceError):  # the driver is gone too
        pyogrio.read_info(tmp_path / "sites.geojson")
    time.sleep(0.2)
    assert not watched.opened.is_set()


@pytest.mark.parametrize(
    "path",
    ["/vsicurl/http://127.0.0.1:9/x.gpkg", "/data/vsizip/../x.gpkg", "/a/b/vsis3/x.gpkg", "CSV:/etc/passwd"],
)
def test_virtual_file_systems_and_driver_prefixes_are_refused(path):
    with pytest.raises(InvalidGeodataError, match="are not read"):
        check_layer_file("sites", Path(path))
    with pytest.raises(InvalidGeodataError, match="are not read"):
        spec_from_path(path)


@pytest.mark.parametrize(
    ("name", "content", "message"),
    [
        ("sites.gpkg", b"{}", "is not a .gpkg file"),
        ("sites.fgb", b"SQLite format 3\x00", "is not a .fgb file"),
        ("sites.csv", b"SQLite format 3\x00rest", "is not a .csv file"),
        ("sites.csv", b'{"type": "FeatureCollection"}', "is not a .csv file"),
        ("sites.txt", b"a,b\n", "layer files must be one of"),
    ],
)
def test_layer_files_are_of_the_format_their_name_says(tmp_path, name, content, message):
    (tmp_path / name).write_bytes(content)
    with pytest.raises(InvalidGeodataError, match=message):
        check_layer_file("sites", tmp_path / name)


# --- scenarios: YAML parsed within limits ---------------------------------------------------------


def _scenario_file(tmp_path: Path, text: str | bytes) -> Path:
    path = tmp_path / "scenario.yaml"
    path.write_bytes(text if isinstance(text, bytes) else text.encode())
    return path


def _good_scenario(tmp_path: Path) -> dict:
    _write(tmp_path, _layers())
    return {"name": "s", "geodata": ".", "demands": [{"id": "d", "a": "A", "b": "B", "max_latency_ms": 5.0}]}


def test_a_yaml_alias_bomb_is_refused_at_once(tmp_path):
    lines = ['l0: &l0 ["lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol"]']
    lines += [f"l{i}: &l{i} [{', '.join([f'*l{i - 1}'] * 9)}]" for i in range(1, 9)]
    text = "name: s\ngeodata: .\n" + "\n".join(lines) + "\n"
    text += "demands: [{id: d, a: A, b: B, max_latency_ms: 5, avoid_jurisdictions: *l8}]\n"
    started = time.process_time()
    with pytest.raises(
        InvalidScenarioError, match=r"values with aliases expanded \(InputLimits.max_yaml_nodes\)"
    ):
        load_scenario(_scenario_file(tmp_path, text))
    assert time.process_time() - started < 5  # the old loader ran 113 s to a MemoryError
    few = "name: s\ngeodata: .\nx: &x 1\ny: [" + ", ".join(["*x"] * 101) + "]\n"
    with pytest.raises(InvalidScenarioError, match=r"more than 100 alias uses"):
        load_scenario(_scenario_file(tmp_path, few))


@pytest.mark.parametrize("style", ["block", "flow"])
def test_deep_nesting_is_an_error_not_a_recursion_error(tmp_path, style):
    if style == "block":
        nested = "".join("  " * i + "-\n" for i in range(1000))
    else:
        nested = "[" * 1000 + "]" * 1000 + "\n"
    with pytest.raises(InvalidScenarioError):
        load_scenario(_scenario_file(tmp_path, "name: s\ngeodata: .\ndemands:\n" + nested))


def test_a_self_referring_alias_is_refused(tmp_path):
    with pytest.raises(InvalidScenarioError, match=r"alias \*s refers to itself"):
        load_scenario(_scenario_file(tmp_path, "name: s\ngeodata: .\nsettings: &s {a: *s}\n"))


def test_a_non_utf8_scenario_is_a_clear_error(tmp_path):
    with pytest.raises(InvalidScenarioError, match=r"not UTF-8 text \(byte 0xe9 at offset 7\)"):
        load_scenario(_scenario_file(tmp_path, b"name: s\xe9\ngeodata: .\n"))


def test_an_over_large_scenario_is_refused_before_reading(tmp_path):
    path = _scenario_file(tmp_path, "name: s\n" + "#" * 2000 + "\n")
    with pytest.raises(InvalidScenarioError, match=r"a scenario file may have at most 1,000 bytes"):
        load_scenario(path, limits=InputLimits(max_scenario_bytes=1000))


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("a\nb", "contains a control character"),
        ("a\x07b", "contains a control character"),
        ("n" * 129, "name has 129 characters; the limit is 128"),
        ({"a": 1}, "name must be text, got a dict"),
        ("../up", "must be a plain folder name"),
    ],
)
def test_scenario_names_are_plain_short_folder_names(tmp_path, name, expected):
    raw = _good_scenario(tmp_path) | {"name": name}
    with pytest.raises(InvalidScenarioError, match=r": name") as info:
        load_scenario(_scenario_file(tmp_path, yaml.safe_dump(raw)))
    assert expected in str(info.value)


@pytest.mark.parametrize(
    ("solver", "expected"),
    [
        ({"num_workers": True}, "solver.num_workers must be an integer from 1 to 256, got True"),
        ({"time_limit_s": 1e308}, "solver.time_limit_s must be > 0"),
        ({"label_search": "yes"}, "solver.label_search must be true or false, got 'yes'"),
        ({"design_engine": ["mip"]}, "solver.design_engine must be one of"),
        ({"stop": 5}, "solver: unknown key 'stop'"),
    ],
)
def test_solver_options_of_the_wrong_type_are_named(tmp_path, solver, expected):
    raw = _good_scenario(tmp_path) | {"solver": solver}
    with pytest.raises(InvalidScenarioError) as info:
        load_scenario(_scenario_file(tmp_path, yaml.safe_dump(raw)))
    assert expected in str(info.value)


def test_scenario_layer_defaults_and_paths_are_checked_by_key(tmp_path):
    raw = _good_scenario(tmp_path)
    raw["geodata"] = {
        "layers": {"corridors": {"path": "corridors.geojson", "defaults": {"cost_per_km": math.nan}}}
    }
    with pytest.raises(
        InvalidScenarioError, match=r"geodata.layers.corridors\[0\].defaults.cost_per_km must be"
    ):
        load_scenario(_scenario_file(tmp_path, yaml.safe_dump(raw)))
    raw["geodata"] = {"path": 5}
    with pytest.raises(InvalidScenarioError, match=r"geodata.path must be a path \(text\), got 5"):
        load_scenario(_scenario_file(tmp_path, yaml.safe_dump(raw)))
    raw["geodata"] = "a\x00b"
    with pytest.raises(InvalidScenarioError, match="NUL byte"):
        load_scenario(_scenario_file(tmp_path, yaml.safe_dump(raw)))


# --- the defaults let the real nationwide data through ------------------------------------------


@pytest.mark.skipif(not DATA_US.exists(), reason=f"{DATA_US} not found (the shared real data sets)")
def test_real_nationwide_layers_are_well_inside_the_default_limits():
    limits = DEFAULT_LIMITS
    census = DATA_US / "census_2016_boundaries.gpkg"
    rail = DATA_US / "railroads_natural_earth_10m.geojson"
    assert 4 * census.stat().st_size < limits.max_layer_file_bytes
    for path, layer, cap in (
        (census, "states", limits.max_vertices_per_polygon),
        (census, "counties", limits.max_vertices_per_polygon),
        (rail, None, limits.max_vertices_per_line),
    ):
        frame = pyogrio.read_dataframe(path, layer=layer, columns=[])
        counts = frame.geometry.count_coordinates()
        assert 4 * counts.max() < cap, (path.name, layer, counts.max())
        assert 4 * counts.sum() < limits.max_vertices_per_layer
        assert 100 * len(frame) < limits.max_features_per_layer
