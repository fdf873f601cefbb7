"""Geodata specs for the public test beds beside the repository (../shared/data), by name."""

from __future__ import annotations

from pathlib import Path

from optimizer.geodata import GeodataSpec, LayerSource

__all__ = ["us_rail_spec"]

RAIL_COST_PER_KM = 40_000.0
PERMIT_COST_BY_LEVEL = {"state": 50_000.0, "county": 10_000.0}


def us_rail_spec(us_dir: Path, sites_csv: Path) -> GeodataSpec:
    """Natural Earth railroads as corridors, Census states and counties as jurisdictions,
    sites from a CSV of `site_id,lon,lat`."""
    census = us_dir / "census_2016_boundaries.gpkg"
    jurisdictions = tuple(
        LayerSource(
            census,
            layer=layer,
            fields={"jurisdiction_id": "GEOID", "name": "NAME"},
            defaults={"level": level},
        )
        for layer, level in (("states", "state"), ("counties", "county"))
    )
    rail = LayerSource(
        us_dir / "railroads_natural_earth_10m.geojson",
        defaults={"kind": "rail", "cost_per_km": RAIL_COST_PER_KM},
    )
    return GeodataSpec(
        sources={
            "sites": (LayerSource(sites_csv, x_field="lon", y_field="lat", crs="EPSG:4326"),),
            "corridors": (rail,),
            "jurisdictions": jurisdictions,
        },
        permit_cost_by_level=PERMIT_COST_BY_LEVEL,
        name="us-rail",
    )
