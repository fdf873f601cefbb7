"""Geodata loading: sources, field mapping, defaults, reprojection, and every validation error."""

from __future__ import annotations

import warnings

import geopandas as gpd
import pytest
import shapely
from shapely import LineString, Point, box

from optimizer.errors import InvalidGeodataError
from optimizer.geodata import GeodataSpec, LayerSource, load_geodata, spec_from_path

WGS84 = "EPSG:4326"


def _write(folder, name, rows, crs=WGS84, suffix=".geojson"):
    geoms = [r.pop("geometry") for r in rows]
    frame = gpd.GeoDataFrame(rows, geometry=gpd.GeoSeries(geoms), crs=crs)
    path = folder / f"{name}{suffix}"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # writing a layer without CRS on purpose
        frame.to_file(path)
    return path


def _good(folder):
    _write(
        folder,
        "sites",
        [
            {"site_id": "A", "name": "a", "geometry": Point(-97, 35)},
            {"site_id": "B", "name": "b", "geometry": Point(-96, 35)},
        ],
    )
    _write(
        folder,
        "corridors",
        [
            {
                "corridor_id": "r1",
                "kind": "rail",
                "cost_per_km": 100.0,
                "geometry": LineString([(-98, 35), (-95, 35)]),
            },
            {
                "corridor_id": "f1",
                "kind": "existing_fiber",
                "cost_per_km": 10.0,
                "geometry": LineString([(-97, 34), (-97, 36)]),
            },
        ],
    )
    _write(
        folder,
        "jurisdictions",
        [
            {"jurisdiction_id": "S", "name": "State", "level": "state", "geometry": box(-99, 33, -94, 37)},
        ],
    )


def test_folder_of_layer_files_loads_with_spec_defaults(tmp_path):
    _good(tmp_path)
    layers = load_geodata(spec_from_path(tmp_path))
    assert list(layers.sites["site_id"]) == ["A", "B"]
    assert list(layers.corridors["access"]) == ["crossings", "endpoints"]
    assert layers.corridors["usable"].all()
    assert layers.jurisdictions["permit_cost"].tolist() == [0.0]
    assert layers.jurisdictions["allowed"].all()
    assert layers.exclusions.empty


def test_geopackage_with_layers_loads_and_reprojects(tmp_path):
    gpkg = tmp_path / "set.gpkg"
    sites = gpd.GeoDataFrame({"site_id": ["A"]}, geometry=[Point(-97, 35)], crs=WGS84).to_crs(3857)
    sites.to_file(gpkg, layer="sites")
    corridors = gpd.GeoDataFrame(
        {"corridor_id": ["r"], "kind": ["rail"], "cost_per_km": [5.0]},
        geometry=[LineString([(-98, 35), (-96, 35)])],
        crs=WGS84,
    ).to_crs(3857)
    corridors.to_file(gpkg, layer="corridors")
    layers = load_geodata(spec_from_path(gpkg))
    assert layers.sites.crs.to_epsg() == 4326
    assert layers.sites.geometry.iloc[0].x == pytest.approx(-97)


def test_field_mapping_kind_defaults_and_several_corridor_files(tmp_path):
    rail = _write(tmp_path, "rail", [{"OBJECTID": 7, "geometry": LineString([(-98, 35), (-96, 35)])}])
    fiber = _write(tmp_path, "fiber", [{"ID": "F", "geometry": LineString([(-97, 34), (-97, 36)])}])
    sites = _write(tmp_path, "dc", [{"code": "A", "geometry": Point(-97, 35)}])
    spec = GeodataSpec(
        sources={
            "sites": (LayerSource(sites, fields={"site_id": "code"}),),
            "corridors": (
                LayerSource(rail, fields={"corridor_id": "OBJECTID"}, defaults={"kind": "rail"}),
                LayerSource(fiber, fields={"corridor_id": "ID"}, defaults={"kind": "existing_fiber"}),
            ),
        },
        cost_per_km_by_kind={"rail": 40_000, "existing_fiber": 9_000},
    )
    layers = load_geodata(spec)
    assert layers.corridors[["corridor_id", "kind", "cost_per_km"]].values.tolist() == [
        ["7", "rail", 40_000.0],
        ["F", "existing_fiber", 9_000.0],
    ]


def test_points_from_a_csv_need_their_crs(tmp_path):
    (tmp_path / "sites.csv").write_text("id,lon,lat\nA,-97,35\n")
    _write(
        tmp_path,
        "corridors",
        [
            {
                "corridor_id": "r",
                "kind": "rail",
                "cost_per_km": 1.0,
                "geometry": LineString([(-98, 35), (-96, 35)]),
            }
        ],
    )
    spec = GeodataSpec(
        sources={
            "sites": (
                LayerSource(
                    tmp_path / "sites.csv", fields={"site_id": "id"}, x_field="lon", y_field="lat", crs=WGS84
                ),
            ),
            "corridors": (LayerSource(tmp_path / "corridors.geojson"),),
        }
    )
    assert load_geodata(spec).sites.geometry.iloc[0].equals(Point(-97, 35))


def _problems(tmp_path, **overrides):
    _good(tmp_path)
    for name, rows in overrides.items():
        for suffix in (".geojson",):
            (tmp_path / f"{name}{suffix}").unlink(missing_ok=True)
        if rows is not None:
            _write(tmp_path, name, rows)
    with pytest.raises(InvalidGeodataError) as info:
        load_geodata(spec_from_path(tmp_path))
    return str(info.value)


def test_missing_layer_is_named(tmp_path):
    assert "corridors: missing layer" in _problems(tmp_path, corridors=None)


def test_missing_column_is_named_with_what_was_found(tmp_path):
    msg = _problems(
        tmp_path,
        corridors=[{"corridor_id": "r", "cost_per_km": 1.0, "geometry": LineString([(0, 0), (1, 1)])}],
    )
    assert "corridors: missing columns ['kind']" in msg
    assert "found ['corridor_id', 'cost_per_km'" in msg


def test_duplicate_site_ids_name_the_rows(tmp_path):
    msg = _problems(
        tmp_path, sites=[{"site_id": "A", "geometry": Point(0, 0)}, {"site_id": "A", "geometry": Point(1, 1)}]
    )
    assert "sites: duplicate site_id 'A' in rows [0, 1]" in msg


@pytest.mark.parametrize(
    ("cost", "expected"),
    [
        (-5.0, "corridors row 0 (corridor_id=r1): cost_per_km must be a number >= 0, got -5.0"),
        (float("nan"), "corridors row 0 (corridor_id=r1): cost_per_km is missing and no default"),
        ("cheap", "corridors row 0 (corridor_id=r1): cost_per_km must be a number >= 0, got 'cheap'"),
    ],
)
def test_bad_cost_names_layer_row_and_field(tmp_path, cost, expected):
    msg = _problems(
        tmp_path,
        corridors=[
            {
                "corridor_id": "r1",
                "kind": "rail",
                "cost_per_km": cost,
                "geometry": LineString([(0, 0), (1, 1)]),
            }
        ],
    )
    assert expected in msg


def test_empty_geometry_and_wrong_type_are_reported_together(tmp_path):
    msg = _problems(
        tmp_path,
        corridors=[
            {"corridor_id": "e", "kind": "rail", "cost_per_km": 1.0, "geometry": LineString()},
            {"corridor_id": "p", "kind": "rail", "cost_per_km": 1.0, "geometry": Point(0, 0)},
            {
                "corridor_id": "n",
                "kind": "rail",
                "cost_per_km": -1.0,
                "geometry": LineString([(0, 0), (1, 1)]),
            },
        ],
    )
    assert "corridors row 0 (corridor_id=e): geometry is empty" in msg
    assert "corridors row 1 (corridor_id=p): geometry is Point, expected LineString or MultiLineString" in msg
    assert "corridors row 2 (corridor_id=n): cost_per_km must be a number >= 0" in msg


def test_bad_access_and_negative_permit_cost(tmp_path):
    msg = _problems(
        tmp_path,
        corridors=[
            {
                "corridor_id": "r",
                "kind": "rail",
                "cost_per_km": 1.0,
                "access": "anywhere",
                "geometry": LineString([(0, 0), (1, 1)]),
            }
        ],
        jurisdictions=[
            {"jurisdiction_id": "S", "level": "state", "permit_cost": -3.0, "geometry": box(0, 0, 1, 1)}
        ],
    )
    assert "corridors row 0 (corridor_id=r): access is 'anywhere'" in msg
    assert "jurisdictions row 0 (jurisdiction_id=S): permit_cost must be a number >= 0, got -3.0" in msg


def test_layer_without_crs_is_an_error_not_a_guess(tmp_path):
    msg = _problems(tmp_path, sites=None)
    assert "sites: missing layer" in msg
    _write(tmp_path, "sites", [{"site_id": "A", "geometry": Point(0, 0)}], crs=None, suffix=".shp")
    with pytest.raises(InvalidGeodataError, match=r"sites: sites.shp has no CRS"):
        load_geodata(spec_from_path(tmp_path))


def test_invalid_polygon_is_repaired_and_reported(tmp_path):
    _good(tmp_path)
    bowtie = shapely.Polygon([(-99, 33), (-94, 37), (-94, 33), (-99, 37)])
    _write(tmp_path, "jurisdictions", [{"jurisdiction_id": "S", "level": "state", "geometry": bowtie}])
    layers = load_geodata(spec_from_path(tmp_path))
    assert layers.jurisdictions.geometry.iloc[0].is_valid
    assert any("jurisdictions row 0 (jurisdiction_id=S): invalid polygon" in r for r in layers.repairs)


def test_missing_geodata_path():
    with pytest.raises(InvalidGeodataError, match="does not exist"):
        spec_from_path("/nonexistent/geodata")


def test_bad_cost_is_reported_even_where_a_kind_default_exists(tmp_path):
    path = _write(
        tmp_path,
        "corridors",
        [
            {
                "corridor_id": "r",
                "kind": "rail",
                "cost_per_km": "abc",
                "geometry": LineString([(0, 0), (1, 1)]),
            }
        ],
    )
    sites = _write(tmp_path, "sites", [{"site_id": "A", "geometry": Point(0, 0)}])
    spec = GeodataSpec(
        sources={"corridors": (LayerSource(path),), "sites": (LayerSource(sites),)},
        cost_per_km_by_kind={"rail": 40_000},
    )
    with pytest.raises(InvalidGeodataError, match=r"cost_per_km must be a number >= 0, got 'abc'"):
        load_geodata(spec)
