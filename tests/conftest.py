"""Shared builders: tiny geodata sets made in code, in real lon/lat."""

from __future__ import annotations

from collections.abc import Sequence

import geopandas as gpd
import pytest
import shapely

from optimizer.geodata import Layers

WGS84 = "EPSG:4326"


def make_layers(
    corridors: Sequence[dict],
    sites: Sequence[dict] = (),
    jurisdictions: Sequence[dict] = (),
    exclusions: Sequence[shapely.Geometry] = (),
    areas: Sequence[dict] = (),
) -> Layers:
    """Validated-shape layers from plain dicts with a `geometry` key each."""

    def frame(rows: Sequence[dict], defaults: dict) -> gpd.GeoDataFrame:
        rows = [{**defaults, **r} for r in rows]
        geoms = [r.pop("geometry") for r in rows]
        return gpd.GeoDataFrame(rows, geometry=gpd.GeoSeries(geoms, crs=WGS84), crs=WGS84)

    corridor_defaults = {
        "kind": "rail",
        "cost_per_km": 1000.0,
        "access": "crossings",
        "usable": True,
        "srlg": "",
    }
    corr = frame([{"corridor_id": f"c{i}", **c} for i, c in enumerate(corridors)], corridor_defaults)
    site = frame([{"name": s["site_id"], **s} for s in sites], {})
    if not len(site):
        site = gpd.GeoDataFrame({"site_id": [], "name": []}, geometry=gpd.GeoSeries([], crs=WGS84))
    juris = frame(list(jurisdictions), {"permit_cost": 0.0, "allowed": True})
    if not len(juris):
        juris = gpd.GeoDataFrame(
            {"jurisdiction_id": [], "name": [], "level": [], "permit_cost": [], "allowed": []},
            geometry=gpd.GeoSeries([], crs=WGS84),
        )
    excl = gpd.GeoDataFrame(
        {"exclusion_id": [f"x{i}" for i in range(len(exclusions))]},
        geometry=gpd.GeoSeries(list(exclusions), crs=WGS84),
        crs=WGS84,
    )
    area = gpd.GeoDataFrame(
        [
            {"area_id": f"a{i}", "name": "", "group": "", "cost_multiplier": float("nan")}
            | {k: v for k, v in a.items() if k != "geometry"}
            for i, a in enumerate(areas)
        ]
        or {"area_id": [], "name": [], "group": [], "cost_multiplier": []},
        geometry=gpd.GeoSeries([a["geometry"] for a in areas], crs=WGS84),
        crs=WGS84,
    )
    return Layers(sites=site, corridors=corr, jurisdictions=juris, exclusions=excl, areas=area)


@pytest.fixture
def layers_factory():
    """The make_layers builder as a fixture."""
    return make_layers
