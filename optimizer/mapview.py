"""map.html: a self-contained, offline map of a result's routes, sites and jurisdictions crossed.

The page holds its data as JSON and draws it as SVG with a small script of its own (no CDN,
no library), so it works opened from disk with no network. Routes are colored by demand
(diverse routes, route_index > 0, dashed; build shared by several demands under a dark band);
jurisdictions are simplified for display.
An OpenStreetMap basemap can be switched on when online; offline its tiles fail silently.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd
import shapely

from optimizer import __version__
from optimizer.mapview_assets import MAP_CSS, MAP_SCRIPT, MAP_TEMPLATE

if TYPE_CHECKING:
    from optimizer.formats import ResultLayers

__all__ = ["demand_colors", "level_colors", "map_data", "map_html"]

DEMAND_PALETTE = (
    "#1f77b4",
    "#d62728",
    "#2ca02c",
    "#ff7f0e",
    "#9467bd",
    "#8c564b",
    "#e377c2",
    "#17becf",
    "#bcbd22",
    "#7f7f7f",
    "#393b79",
    "#637939",
    "#8c6d31",
    "#843c39",
    "#7b4173",
    "#3182bd",
    "#e6550d",
    "#31a354",
    "#756bb1",
    "#636363",
)
"""Route colors, one per demand in order (tab10, then ten darker ones; repeating after twenty)."""
LEVEL_PALETTE = ("#6a51a3", "#238b45", "#d94801", "#2171b5", "#ae017e", "#525252")
"""Jurisdiction fill and outline colors, one per level."""
JURISDICTION_TOLERANCE_DEG = 0.005
"""Simplification of jurisdiction polygons for display (~500 m)."""
ROUTE_TOLERANCE_DEG = 0.0001
"""Simplification of route lines for display (~10 m)."""
DISPLAY_DECIMALS = 5
"""Decimals kept in displayed lon/lat (~1 m)."""


def demand_colors(demand_ids: Iterable[str]) -> dict[str, str]:
    """A color per demand, in order of first appearance."""
    ids = list(dict.fromkeys(str(d) for d in demand_ids))
    return {d: DEMAND_PALETTE[k % len(DEMAND_PALETTE)] for k, d in enumerate(ids)}


def level_colors(levels: Iterable[str]) -> dict[str, str]:
    """A color per jurisdiction level, in order of first appearance."""
    names = list(dict.fromkeys(str(level) for level in levels))
    return {level: LEVEL_PALETTE[k % len(LEVEL_PALETTE)] for k, level in enumerate(names)}


def map_html(layers: ResultLayers) -> str:
    """The whole map page as one HTML string."""
    payload = json.dumps(map_data(layers), separators=(",", ":"), allow_nan=False)
    payload = payload.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")
    title = _escape(f"fiberopt map: {layers.name}")
    page = MAP_TEMPLATE.replace("__CSS__", MAP_CSS).replace("__SCRIPT__", MAP_SCRIPT)
    return page.replace("__DATA__", payload).replace("__TITLE__", title)  # user text last


def _escape(text: str) -> str:
    """Text for an HTML element."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def map_data(layers: ResultLayers) -> dict:
    """What the page draws: routes, sites and jurisdictions with their popup figures."""
    colors = demand_colors(layers.routes["demand_id"])
    levels = level_colors(layers.jurisdictions_crossed["level"])
    return {
        "name": layers.name,
        "software": f"fiberopt {__version__}",
        "levels": [{"level": level, "color": color} for level, color in levels.items()],
        "routes": [_route_item(row, colors) for _, row in layers.routes.iterrows()],
        "shared": _shared_items(layers.route_segments),
        "sites": [_site_item(row) for _, row in layers.sites.iterrows()],
        "jurisdictions": _jurisdiction_items(layers.jurisdictions_crossed),
    }


def _flat(geometry: shapely.Geometry, tolerance_deg: float) -> list[float]:
    """Simplified coordinates as a flat, rounded [lon, lat, lon, lat, ...] list."""
    simple = shapely.simplify(geometry, tolerance_deg, preserve_topology=True)
    return np.round(shapely.get_coordinates(simple), DISPLAY_DECIMALS).ravel().tolist()


def _number(value: object) -> float | int | None:
    """A JSON number, or None for a missing one."""
    if value is None or value is pd.NA:
        return None
    value = float(value)
    if not math.isfinite(value):
        return None
    return int(value) if value.is_integer() and abs(value) < 2**53 else value


def _route_item(row: pd.Series, colors: dict[str, str]) -> dict:
    """One route's popup figures, color and simplified line (None where no route exists)."""
    has_line = row.geometry is not None and not row.geometry.is_empty
    counts = {
        c[: -len("_count")]: int(row[c]) for c in row.index if c.endswith("_count") and c != "permit_count"
    }
    return {
        "demand_id": str(row["demand_id"]),
        "route_index": int(row["route_index"]),
        "a": str(row["a"]),
        "b": str(row["b"]),
        "status": str(row["status"]),
        "reason": "" if pd.isna(row["reason"]) else str(row["reason"]),
        **{
            key: _number(row[key])
            for key in (
                "length_km",
                "latency_ms",
                "max_latency_ms",
                "cost",
                "build_cost",
                "risk_cost",
                "permit_cost",
                "gap",
                "outside_km",
                "shared_km",
            )
            if key in row.index
        },
        "warnings": _warning_list(row.get("warnings")),
        "permit_count": int(row["permit_count"]),
        "counts": counts,
        "color": colors[str(row["demand_id"])],
        "coords": _flat(row.geometry, ROUTE_TOLERANCE_DEG) if has_line else None,
    }


def _warning_list(text: object) -> list[str]:
    """A route's warnings from its one text field (none for older result folders)."""
    if not isinstance(text, str):
        return []
    return [w for w in text.splitlines() if w]


def _shared_items(segments: pd.DataFrame) -> list[dict]:
    """Build used by several demands: merged lines per group of demands sharing them."""
    if "shared_by" not in segments.columns:
        return []
    shared = segments[segments["shared_by"] >= 2].drop_duplicates("edge_id")
    items = []
    for demands, group in shared.groupby("shared_demands", sort=True):
        merged = shapely.line_merge(shapely.union_all(group.geometry.values))
        lines = [g for g in getattr(merged, "geoms", [merged]) if not g.is_empty]
        km = float(group["length_km"].sum())
        for line in lines:
            items.append(
                {
                    "demands": str(demands).split(","),
                    "length_km": _number(km),
                    "coords": _flat(line, ROUTE_TOLERANCE_DEG),
                }
            )
    return items


def _site_item(row: pd.Series) -> dict:
    """One site: id, name, position and whether it reaches the network."""
    lon, lat = shapely.get_coordinates(row.geometry)[0].tolist()
    return {
        "site_id": str(row["site_id"]),
        "name": str(row["name"]),
        "reachable": bool(row["reachable"]),
        "reason": "" if pd.isna(row["reason"]) else str(row["reason"]),
        "lon": round(lon, DISPLAY_DECIMALS),
        "lat": round(lat, DISPLAY_DECIMALS),
    }


def _jurisdiction_items(crossed: pd.DataFrame) -> list[dict]:
    """Each jurisdiction crossed once (largest first), simplified, with the demands crossing it."""
    if crossed.empty:
        return []
    demands = crossed.groupby("jurisdiction_id", sort=False)["demand_id"].agg(
        lambda s: list(dict.fromkeys(s))
    )
    unique = crossed.drop_duplicates("jurisdiction_id")
    unique = unique.iloc[np.argsort(-shapely.area(unique.geometry.values), kind="stable")]
    items = []
    for _, row in unique.iterrows():
        simple = shapely.simplify(row.geometry, JURISDICTION_TOLERANCE_DEG, preserve_topology=True)
        label = shapely.get_coordinates(shapely.point_on_surface(row.geometry))[0]
        items.append(
            {
                "jurisdiction_id": str(row["jurisdiction_id"]),
                "name": str(row["name"]),
                "level": str(row["level"]),
                "permit_cost": _number(row["permit_cost"]),
                "demands": demands[row["jurisdiction_id"]],
                "rings": [_ring(r) for r in _rings(simple)],
                "label": np.round(label, DISPLAY_DECIMALS).tolist(),
            }
        )
    return items


def _rings(geometry: shapely.Geometry) -> list[shapely.LinearRing]:
    """Every ring of a (multi)polygon."""
    polygons = getattr(geometry, "geoms", [geometry])
    return [ring for p in polygons if not p.is_empty for ring in (p.exterior, *p.interiors)]


def _ring(ring: shapely.LinearRing) -> list[float]:
    """A ring as a flat, rounded lon/lat list without its closing point."""
    return np.round(shapely.get_coordinates(ring)[:-1], DISPLAY_DECIMALS).ravel().tolist()
