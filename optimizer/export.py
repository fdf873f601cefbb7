"""Write a solution as GIS files and a JSON summary, atomically, one folder per scenario."""

from __future__ import annotations

import json
import math
import os
import shutil
import tempfile
import warnings
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from optimizer import __version__
from optimizer.graph import Network
from optimizer.routes import Solution

__all__ = ["OUTPUT_FILES", "is_complete", "routes_frame", "solution_summary", "write_solution"]

OUTPUT_FILES = ("routes.gpkg", "routes.geojson", "summary.json")
CRS = "EPSG:4326"


def routes_frame(solution: Solution, levels: tuple[str, ...]) -> gpd.GeoDataFrame:
    """One row per route (null geometry where a demand has none), units in column names."""
    rows = []
    for r in solution.routes:
        counts = r.count_by_level
        rows.append(
            {
                "demand_id": r.demand_id,
                "route_index": r.route_index,
                "a": r.a,
                "b": r.b,
                "status": r.status.value,
                "reason": r.reason,
                "length_km": r.length_km,
                "latency_ms": r.latency_ms,
                "max_latency_ms": r.max_latency_ms,
                "cost": r.cost,
                "build_cost": r.build_cost,
                "permit_cost": r.permit_cost,
                "permit_count": r.permit_count,
                **{f"{level}_count": counts.get(level, 0) for level in levels},
                "jurisdiction_ids": ",".join(j.jurisdiction_id for j in r.jurisdictions),
                "corridor_kinds": ",".join(r.corridor_kinds),
                "bound": r.bound,
                "gap": r.gap,
                "solve_s": r.solve_s,
            }
        )
    return gpd.GeoDataFrame(rows, geometry=[r.geometry for r in solution.routes], crs=CRS)


def segments_frame(solution: Solution, network: Network) -> gpd.GeoDataFrame:
    """One row per graph edge of each route, in travel order, oriented from a to b."""
    edges = network.edges
    frames = []
    for r in solution.routes:
        if not r.edges:
            continue
        idx = np.asarray(r.edges)
        internal = ["tail", "head", "site", *(c for c in edges.columns if c.startswith("covered_"))]
        part = edges.iloc[idx].drop(columns=internal).reset_index(drop=True)
        forward = edges["tail"].to_numpy()[idx] == np.asarray(r.nodes[:-1])
        geoms = part.geometry.values
        part = part.set_geometry(np.where(forward, geoms, shapely.reverse(geoms)), crs=CRS)
        juris_ids = network.jurisdictions["jurisdiction_id"].astype(str).to_numpy()
        for level in network.levels:
            column = part[f"jurisdiction_{level}"].to_numpy()
            part[f"jurisdiction_{level}"] = np.append(juris_ids, "")[column]
        part.insert(0, "seq", np.arange(len(part)))
        part.insert(0, "route_index", r.route_index)
        part.insert(0, "demand_id", r.demand_id)
        frames.append(part)
    if not frames:
        return gpd.GeoDataFrame({"demand_id": []}, geometry=gpd.GeoSeries([], crs=CRS), crs=CRS)
    return gpd.GeoDataFrame(pd.concat(frames, ignore_index=True), crs=CRS)


def crossed_frame(solution: Solution, network: Network) -> gpd.GeoDataFrame:
    """Polygons of every jurisdiction a route enters, one row per (route, jurisdiction)."""
    juris = network.jurisdictions.set_index(network.jurisdictions["jurisdiction_id"].astype(str))
    rows, geoms = [], []
    for r in solution.routes:
        for j in r.jurisdictions:
            rows.append(
                {
                    "demand_id": r.demand_id,
                    "route_index": r.route_index,
                    "jurisdiction_id": j.jurisdiction_id,
                    "name": j.name,
                    "level": j.level,
                    "permit_cost": j.permit_cost,
                }
            )
            geoms.append(juris.geometry.loc[j.jurisdiction_id])
    return (
        gpd.GeoDataFrame(rows, geometry=geoms, crs=CRS)
        if rows
        else gpd.GeoDataFrame({"demand_id": []}, geometry=gpd.GeoSeries([], crs=CRS), crs=CRS)
    )


def sites_frame(network: Network) -> gpd.GeoDataFrame:
    """Sites with whether they reach the network, and why not."""
    sites = network.sites[["site_id", "name", "geometry"]].copy()
    sites["reachable"] = ~sites["site_id"].isin(list(network.unreachable))
    sites["reason"] = [network.unreachable.get(s, "") for s in sites["site_id"]]
    return sites


def solution_summary(solution: Solution, network: Network, *, scenario_digest: str = "") -> dict:
    """The solution as plain JSON-ready data."""
    routes = routes_frame(solution, network.levels)
    records = json.loads(routes.drop(columns="geometry").to_json(orient="records"))
    for record, route in zip(records, solution.routes, strict=True):
        record["jurisdictions"] = [j.__dict__ for j in route.jurisdictions]
        record["count_by_level"] = route.count_by_level
    return {
        "name": solution.name,
        "software": f"fiberopt {__version__}",
        "scenario_sha256": scenario_digest,
        "status": solution.status,
        "total_cost": solution.total_cost,
        "total_cost_note": "sum of independently solved routes (no shared build)",
        "jurisdictions_overall": list(solution.jurisdictions_overall),
        "timings_s": solution.timings_s,
        "graph": network.stats.as_dict(),
        "routes": _finite(records),
        "files": list(OUTPUT_FILES),
    }


def _finite(value):
    """JSON has no NaN or Infinity: use null."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {k: _finite(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_finite(v) for v in value]
    return value


def write_solution(solution: Solution, network: Network, out_dir: Path, *, scenario_digest: str = "") -> Path:
    """Write DIR/<name>/ with every output file, replacing any older folder atomically."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    final = out_dir / solution.name
    staging = Path(tempfile.mkdtemp(prefix=f".{solution.name}.", dir=out_dir))
    try:
        _write_files(solution, network, staging, scenario_digest)
        if final.exists():
            old = Path(tempfile.mkdtemp(prefix=f".{solution.name}.old.", dir=out_dir))
            os.replace(final, old / "x")
            os.replace(staging, final)
            shutil.rmtree(old, ignore_errors=True)
        else:
            os.replace(staging, final)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return final


def _write_files(solution: Solution, network: Network, folder: Path, digest: str) -> None:
    """All output files into folder; summary.json last, as the completion mark."""
    gpkg = folder / "routes.gpkg"
    routes = routes_frame(solution, network.levels)
    routes.to_file(gpkg, layer="routes", driver="GPKG", engine="pyogrio")
    segments_frame(solution, network).to_file(gpkg, layer="route_segments", driver="GPKG")
    sites_frame(network).to_file(gpkg, layer="sites", driver="GPKG")
    crossed_frame(solution, network).to_file(gpkg, layer="jurisdictions_crossed", driver="GPKG")
    with warnings.catch_warnings():  # GeoJSON has no NaN: such fields are written as absent
        warnings.filterwarnings("ignore", "NaN of Infinity", RuntimeWarning)
        routes.to_file(folder / "routes.geojson", driver="GeoJSON", engine="pyogrio")
    summary = solution_summary(solution, network, scenario_digest=digest)
    (folder / "summary.json").write_text(json.dumps(summary, indent=2) + "\n", encoding="utf-8")


def is_complete(folder: Path, scenario_digest: str) -> bool:
    """Whether folder holds finished outputs of this exact scenario text."""
    summary_path = Path(folder) / "summary.json"
    try:
        summary = json.loads(summary_path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    if summary.get("scenario_sha256") != scenario_digest:
        return False
    return all((Path(folder) / f).is_file() for f in summary.get("files", OUTPUT_FILES))
