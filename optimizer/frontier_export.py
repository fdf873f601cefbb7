"""A demand's cost-latency frontier as files: CSV table, PNG plot and a GeoPackage of its routes."""

from __future__ import annotations

import csv
import io
import math
import os
import tempfile
from pathlib import Path

import geopandas as gpd
from matplotlib.figure import Figure  # no pyplot: no global state, no display, thread-safe

from optimizer.routes import DemandFrontier

__all__ = ["FRONTIER_COLUMNS", "frontier_csv", "frontier_folder", "frontier_table", "write_frontier"]

FRONTIER_COLUMNS = (
    "point",
    "latency_ms",
    "cost",
    "build_cost",
    "permit_cost",
    "length_km",
    "routes",
    "cost_per_ms_saved",
    "meets_bound",
)


def frontier_folder(out_dir: Path, scenario_name: str, demand_id: str) -> Path:
    """Where the frontier of one demand of a scenario is written."""
    return Path(out_dir) / f"{scenario_name}-frontier-{demand_id}"


def frontier_table(frontier: DemandFrontier) -> list[dict]:
    """One row per point, fastest first, with the cost of each millisecond saved."""
    rows = []
    points = frontier.points
    for i, p in enumerate(points):
        slower = points[i + 1] if i + 1 < len(points) else None
        per_ms = (p.cost - slower.cost) / (slower.latency_ms - p.latency_ms) if slower else math.nan
        rows.append(
            {
                "point": i,
                "latency_ms": p.latency_ms,
                "cost": p.cost,
                "build_cost": sum(r.build_cost for r in p.routes),
                "permit_cost": p.cost - sum(r.build_cost for r in p.routes),
                "length_km": sum(r.length_km for r in p.routes),
                "routes": len(p.routes),
                "cost_per_ms_saved": per_ms,
                "meets_bound": p.latency_ms <= frontier.demand.max_latency_ms + 1e-6,
            }
        )
    return rows


def frontier_csv(frontier: DemandFrontier) -> str:
    """The frontier table as CSV text (full float precision; empty where undefined)."""
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=FRONTIER_COLUMNS, lineterminator="\n")
    writer.writeheader()
    for row in frontier_table(frontier):
        writer.writerow({k: ("" if isinstance(v, float) and math.isnan(v) else v) for k, v in row.items()})
    return buffer.getvalue()


def frontier_png(frontier: DemandFrontier, path: Path) -> None:
    """Cost against latency, one step per point, the demand's bound marked."""
    demand = frontier.demand
    fig = Figure(figsize=(8, 5), dpi=110)
    ax = fig.subplots()
    lat = [p.latency_ms for p in frontier.points]
    cost = [p.cost / 1e6 for p in frontier.points]
    if lat:
        ax.step(lat, cost, where="post", color="#1f77b4", linewidth=1.2)
        ax.plot(lat, cost, "o", color="#1f77b4", markersize=4)
    ax.axvline(demand.max_latency_ms, color="#d62728", linestyle="--", linewidth=1)
    ax.annotate(
        f"bound {demand.max_latency_ms:g} ms",
        (demand.max_latency_ms, 1),
        xycoords=("data", "axes fraction"),
        textcoords="offset points",
        xytext=(4, -12),
        color="#d62728",
        fontsize=8,
    )
    paths = f", {demand.paths} {demand.diversity}-diverse routes" if demand.paths > 1 else ""
    status = "" if frontier.complete else " (incomplete)"
    ax.set_title(f"{demand.id}: {demand.a}-{demand.b}{paths}, {len(lat)} Pareto points{status}", fontsize=10)
    ax.set_xlabel("one-way latency of the slowest route (ms)")
    ax.set_ylabel("cost (millions)")
    ax.grid(True, alpha=0.3)
    fig.tight_layout()
    fig.savefig(path, format="png")


def frontier_routes(frontier: DemandFrontier) -> gpd.GeoDataFrame:
    """Every point's routes as lines, with their point index, for GIS."""
    rows, geoms = [], []
    for i, p in enumerate(frontier.points):
        for r in p.routes:
            rows.append(
                {
                    "point": i,
                    "route_index": r.route_index,
                    "demand_id": r.demand_id,
                    "point_latency_ms": p.latency_ms,
                    "point_cost": p.cost,
                    "latency_ms": r.latency_ms,
                    "length_km": r.length_km,
                    "cost": r.cost,
                    "permit_count": r.permit_count,
                    "corridor_kinds": ",".join(r.corridor_kinds),
                }
            )
            geoms.append(r.geometry)
    return (
        gpd.GeoDataFrame(rows, geometry=geoms, crs="EPSG:4326")
        if rows
        else gpd.GeoDataFrame({"point": []}, geometry=gpd.GeoSeries([], crs="EPSG:4326"))
    )


def write_frontier(frontier: DemandFrontier, folder: Path) -> dict[str, Path]:
    """frontier.csv, frontier.png and frontier.gpkg in folder, each written whole or not at all."""
    folder.mkdir(parents=True, exist_ok=True)
    written = {}
    for name, writer in (
        ("frontier.csv", lambda p: p.write_text(frontier_csv(frontier), encoding="utf-8")),
        ("frontier.png", lambda p: frontier_png(frontier, p)),
        ("frontier.gpkg", lambda p: frontier_routes(frontier).to_file(p, layer="routes", driver="GPKG")),
    ):
        fd, tmp = tempfile.mkstemp(prefix=".", suffix=f".{name}", dir=folder)
        os.close(fd)
        os.unlink(tmp)  # writers create the file themselves (GDAL refuses an empty one)
        try:
            writer(Path(tmp))
            os.replace(tmp, folder / name)
        finally:
            if os.path.exists(tmp):
                os.unlink(tmp)
        written[name] = folder / name
    return written
