"""Geodata specs for the public test beds beside the repository (../shared/data), by name."""

from __future__ import annotations

import hashlib
import json
import logging
import os
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from optimizer.geodata import GeodataSpec, LayerSource

__all__ = [
    "CONTIGUOUS_US_LONLAT",
    "AtlasLinkCounts",
    "SiteCounts",
    "internet_atlas_links",
    "nationwide_counts",
    "peeringdb_sites",
    "us_nationwide_spec",
    "us_rail_spec",
]

logger = logging.getLogger(__name__)

RAIL_COST_PER_KM = 40_000.0
EXISTING_FIBER_COST_PER_KM = 9_000.0
"""Leasing a km of existing fiber (an IRU on a PoP-to-PoP span): well below a new rail-side build."""
PERMIT_COST_BY_LEVEL = {"state": 50_000.0, "county": 10_000.0}
CONTIGUOUS_US_LONLAT = (-125.0, 24.3, -66.8, 49.5)
"""Lon/lat box (minx, miny, maxx, maxy) of the 48 contiguous states (with the US country filter)."""
SAME_PLACE_DEG = 1e-7
"""Link ends closer than this (degrees, ~1 cm) are one place: the link has no length."""

ATLAS_NODES = "internet_atlas_nodes.csv"
ATLAS_EDGES = "internet_atlas_edges.csv"
PEERINGDB = "peeringdb_facilities_2021.csv"
RAILROADS = "railroads_natural_earth_10m.geojson"
CENSUS = "census_2016_boundaries.gpkg"


@dataclass(frozen=True)
class AtlasLinkCounts:
    """What became of the Internet Atlas links: kept, and dropped for each reason."""

    links: int
    missing_end: int
    """An end names no PoP in the nodes file (or is empty)."""
    ambiguous_end: int
    """An end names a PoP listed at several different coordinates."""
    outside: int
    """An end lies outside the US (or outside the bounds asked for)."""
    duplicate: int
    """The same PoP pair listed again (either direction)."""
    same_place: int
    """Both ends at one coordinate: the link has no length."""
    kept: int


@dataclass(frozen=True)
class SiteCounts:
    """PeeringDB facilities taken as sites."""

    facilities: int
    sites: int
    shared_coordinates: int
    """Sites at a coordinate another site also has (PeeringDB often gives a city's point)."""


def us_rail_spec(us_dir: Path, sites_csv: Path) -> GeodataSpec:
    """Natural Earth railroads as corridors, Census states and counties as jurisdictions,
    sites from a CSV of `site_id,lon,lat`."""
    rail = LayerSource(
        us_dir / RAILROADS,
        defaults={"kind": "rail", "cost_per_km": RAIL_COST_PER_KM},
    )
    return GeodataSpec(
        sources={
            "sites": (LayerSource(sites_csv, x_field="lon", y_field="lat", crs="EPSG:4326"),),
            "corridors": (rail,),
            "jurisdictions": _census_sources(us_dir / CENSUS),
        },
        permit_cost_by_level=PERMIT_COST_BY_LEVEL,
        name="us-rail",
    )


def us_nationwide_spec(
    us_dir: Path,
    work_dir: Path,
    *,
    bounds_lonlat: tuple[float, float, float, float] | None = CONTIGUOUS_US_LONLAT,
) -> GeodataSpec:
    """Railroads and Internet Atlas existing fiber as corridors, Census states and counties as
    jurisdictions, US PeeringDB facilities as sites.

    Atlas links and facilities are kept where they lie in the US within bounds_lonlat (None:
    anywhere the source gives the country as US). They are
    written once under work_dir (links as FlatGeobuf, sites as CSV, and a JSON of what was
    dropped and why, see nationwide_counts), named by the bounds and the source files' sizes and
    times, and read back through the ordinary loader like any raw file.
    """
    links_path, sites_path = _prepared_paths(us_dir, work_dir, bounds_lonlat)
    counts_path = links_path.with_suffix(".json")
    if not (links_path.exists() and sites_path.exists() and counts_path.exists()):
        work_dir.mkdir(parents=True, exist_ok=True)
        links, link_counts = internet_atlas_links(us_dir, bounds_lonlat=bounds_lonlat)
        sites, site_counts = peeringdb_sites(us_dir, bounds_lonlat=bounds_lonlat)
        # no spatial index: FlatGeobuf would reorder the rows along it
        _write_atomic(
            links_path,
            lambda p: links.to_file(p, driver="FlatGeobuf", engine="pyogrio", SPATIAL_INDEX="NO"),
        )
        _write_atomic(sites_path, lambda p: sites.to_csv(p, index=False))
        counts = {"internet_atlas": asdict(link_counts), "peeringdb": asdict(site_counts)}
        _write_atomic(counts_path, lambda p: p.write_text(json.dumps(counts, indent=2) + "\n"))
        logger.info("nationwide test bed prepared in %s: %s", work_dir, counts)
    fiber = LayerSource(links_path, fields={"corridor_id": "link_id"}, defaults={"kind": "existing_fiber"})
    rail = LayerSource(us_dir / RAILROADS, defaults={"kind": "rail"})
    return GeodataSpec(
        sources={
            "sites": (LayerSource(sites_path, x_field="lon", y_field="lat", crs="EPSG:4326"),),
            "corridors": (rail, fiber),
            "jurisdictions": _census_sources(us_dir / CENSUS),
        },
        cost_per_km_by_kind={"rail": RAIL_COST_PER_KM, "existing_fiber": EXISTING_FIBER_COST_PER_KM},
        permit_cost_by_level=PERMIT_COST_BY_LEVEL,
        name="us-nationwide",
    )


def nationwide_counts(
    us_dir: Path,
    work_dir: Path,
    *,
    bounds_lonlat: tuple[float, float, float, float] | None = CONTIGUOUS_US_LONLAT,
) -> dict:
    """What us_nationwide_spec kept and dropped (and why) for these bounds, as plain numbers."""
    links_path, _ = _prepared_paths(us_dir, work_dir, bounds_lonlat)
    return json.loads(links_path.with_suffix(".json").read_text())


def _census_sources(census: Path) -> tuple[LayerSource, ...]:
    """Census states and counties, GEOID as id."""
    return tuple(
        LayerSource(
            census,
            layer=layer,
            fields={"jurisdiction_id": "GEOID", "name": "NAME"},
            defaults={"level": level},
        )
        for layer, level in (("states", "state"), ("counties", "county"))
    )


def _prepared_paths(
    us_dir: Path, work_dir: Path, bounds_lonlat: tuple[float, ...] | None
) -> tuple[Path, Path]:
    """Files for the prepared links and sites of one bounds box and one version of the sources."""
    sources = [(us_dir / name).stat() for name in (ATLAS_NODES, ATLAS_EDGES, PEERINGDB)]
    stamp = [(s.st_size, s.st_mtime_ns) for s in sources]
    bounds = None if bounds_lonlat is None else tuple(map(float, bounds_lonlat))
    key = hashlib.sha1(repr((bounds, stamp)).encode()).hexdigest()[:12]
    return work_dir / f"internet_atlas_links_{key}.fgb", work_dir / f"peeringdb_sites_{key}.csv"


def _write_atomic(path: Path, write: Callable[[Path], object]) -> None:
    """Write through a temporary file beside path, then rename it into place."""
    tmp = path.with_name(f".{path.stem}.{os.getpid()}{path.suffix}")
    tmp.unlink(missing_ok=True)
    write(tmp)
    os.replace(tmp, path)


def _read_table(path: Path) -> pd.DataFrame:
    """A CSV with every cell as text (so the country code NA stays Namibia, not missing)."""
    return pd.read_csv(path, dtype=str, keep_default_na=False)


def _inside(lon: np.ndarray, lat: np.ndarray, bounds: tuple[float, ...]) -> np.ndarray:
    """Whether each point lies in the lon/lat box."""
    minx, miny, maxx, maxy = bounds
    return (lon >= minx) & (lon <= maxx) & (lat >= miny) & (lat <= maxy)


def _atlas_pops(nodes: pd.DataFrame) -> tuple[pd.DataFrame, set[str]]:
    """PoPs by unique name with lon, lat, country; names listed at several coordinates apart."""
    nodes = nodes.assign(
        lon=pd.to_numeric(nodes["LONGITUDE"], errors="coerce"),
        lat=pd.to_numeric(nodes["LATITUDE"], errors="coerce"),
    )
    nodes = nodes[np.isfinite(nodes["lon"]) & np.isfinite(nodes["lat"]) & (nodes["NODE_NAME"] != "")]
    places = nodes.groupby("NODE_NAME")[["lon", "lat"]].nunique()
    ambiguous = set(places.index[(places > 1).any(axis=1)])
    pops = nodes[~nodes["NODE_NAME"].isin(ambiguous)].drop_duplicates("NODE_NAME")
    return pops.set_index("NODE_NAME")[["lon", "lat", "COUNTRY", "ORGANIZATION", "CITY"]], ambiguous


def internet_atlas_links(
    us_dir: Path, *, bounds_lonlat: tuple[float, float, float, float] | None = CONTIGUOUS_US_LONLAT
) -> tuple[gpd.GeoDataFrame, AtlasLinkCounts]:
    """Internet Atlas PoP-to-PoP links in the US as straight lon/lat lines, with drop counts.

    A link is dropped when an end names no PoP, names a PoP listed at several coordinates, lies
    outside the US or bounds_lonlat, repeats a PoP pair already kept, or sits at one place.
    """
    pops, ambiguous = _atlas_pops(_read_table(us_dir / ATLAS_NODES))
    links = _read_table(us_dir / ATLAS_EDGES).reset_index(names="row")
    ends = links[["FROM_NODE", "TO_NODE"]]
    ambiguous_end = ends.isin(ambiguous).any(axis=1).to_numpy()
    missing_end = ~ambiguous_end & ~ends.isin(pops.index).all(axis=1).to_numpy()
    known = links[~ambiguous_end & ~missing_end]
    a = pops.loc[known["FROM_NODE"]]
    b = pops.loc[known["TO_NODE"]]
    in_us = (a["COUNTRY"].to_numpy() == "US") & (b["COUNTRY"].to_numpy() == "US")
    if bounds_lonlat is not None:
        in_us &= _inside(a["lon"].to_numpy(), a["lat"].to_numpy(), bounds_lonlat)
        in_us &= _inside(b["lon"].to_numpy(), b["lat"].to_numpy(), bounds_lonlat)
    known, a, b = known[in_us], a[in_us], b[in_us]
    src, dst = known["FROM_NODE"].to_numpy(), known["TO_NODE"].to_numpy()
    pair = pd.DataFrame({"lo": np.where(src < dst, src, dst), "hi": np.where(src < dst, dst, src)})
    first = ~pair.duplicated().to_numpy()
    known, a, b = known[first], a[first], b[first]
    xy_a = a[["lon", "lat"]].to_numpy()
    xy_b = b[["lon", "lat"]].to_numpy()
    apart = np.abs(xy_a - xy_b).max(axis=1) > SAME_PLACE_DEG
    known, a, b = known[apart], a[apart], b[apart]
    frame = gpd.GeoDataFrame(
        {
            "link_id": "ia-" + known["row"].astype(str).to_numpy(),
            "from_pop": known["FROM_NODE"].to_numpy(),
            "to_pop": known["TO_NODE"].to_numpy(),
            "organization": a["ORGANIZATION"].to_numpy(),
            "from_city": a["CITY"].to_numpy(),
            "to_city": b["CITY"].to_numpy(),
        },
        geometry=shapely.linestrings(np.stack([xy_a[apart], xy_b[apart]], axis=1)),
        crs="EPSG:4326",
    )
    counts = AtlasLinkCounts(
        links=len(links),
        missing_end=int(missing_end.sum()),
        ambiguous_end=int(ambiguous_end.sum()),
        outside=int((~in_us).sum()),
        duplicate=int((~first).sum()),
        same_place=int((~apart).sum()),
        kept=len(frame),
    )
    return frame, counts


def peeringdb_sites(
    us_dir: Path, *, bounds_lonlat: tuple[float, float, float, float] | None = CONTIGUOUS_US_LONLAT
) -> tuple[pd.DataFrame, SiteCounts]:
    """US PeeringDB facilities as a site table: site_id (pdb-<row in the file>), name, lon, lat."""
    table = _read_table(us_dir / PEERINGDB).reset_index(names="row")
    lon = pd.to_numeric(table["LONGITUDE"], errors="coerce").to_numpy()
    lat = pd.to_numeric(table["LATITUDE"], errors="coerce").to_numpy()
    keep = (table["COUNTRY"].to_numpy() == "US") & np.isfinite(lon) & np.isfinite(lat)
    if bounds_lonlat is not None:
        keep &= _inside(lon, lat, bounds_lonlat)
    kept = table[keep]
    sites = pd.DataFrame(
        {
            "site_id": "pdb-" + kept["row"].astype(str).to_numpy(),
            "name": kept["NODE_NAME"].to_numpy(),
            "organization": kept["ORGANIZATION"].to_numpy(),
            "city": kept["CITY"].to_numpy(),
            "lon": lon[keep],
            "lat": lat[keep],
        }
    )
    shared = sites.duplicated(["lon", "lat"], keep=False)
    return sites, SiteCounts(facilities=len(table), sites=len(sites), shared_coordinates=int(shared.sum()))
