"""report.html: one scenario's routes, jurisdictions, costs and solver status on one page."""

from __future__ import annotations

import html
import json
import math
from collections.abc import Mapping
from typing import TYPE_CHECKING

import pandas as pd

from optimizer.mapview import demand_colors

if TYPE_CHECKING:
    from optimizer.formats import ResultLayers

__all__ = ["report_html"]

_CSS = """
body { font: 14px/1.45 system-ui, sans-serif; color: #222; margin: 24px auto; max-width: 1200px;
  padding: 0 16px; }
h1 { font-size: 22px; margin-bottom: 4px; } h2 { font-size: 17px; margin-top: 28px; }
table { border-collapse: collapse; margin: 8px 0; }
th, td { padding: 4px 10px; border-bottom: 1px solid #ddd; text-align: right; white-space: nowrap; }
th { background: #f3f3f3; } td.text, th.text { text-align: left; white-space: normal; }
.OPTIMAL { color: #1a7f37; } .FEASIBLE { color: #9a6700; } .INFEASIBLE, .UNSOLVED { color: #b3261e; }
.warn { color: #9a6700; }
.swatch { display: inline-block; width: 10px; height: 10px; margin-right: 6px; }
.muted { color: #666; } pre { background: #f6f6f6; padding: 8px; overflow: auto; }
"""


def report_html(layers: ResultLayers, summary: Mapping | None = None) -> str:
    """The report page: status, totals, route table, reasons, jurisdictions per level, run."""
    summary = summary or {}
    title = f"fiberopt report: {layers.name}"
    sections = [
        f"<h1>{_e(title)}</h1>",
        _overview(layers, summary),
        _route_table(layers.routes),
        _warnings(layers.routes),
        _reasons(layers.routes),
        _levels_table(layers.jurisdictions_crossed),
        _run_section(layers.run, summary),
    ]
    body = "\n".join(s for s in sections if s)
    return (
        '<!doctype html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n'
        f"<title>{_e(title)}</title>\n<style>{_CSS}</style>\n</head>\n<body>\n{body}\n</body>\n</html>\n"
    )


def _e(value: object) -> str:
    """Escaped text for HTML."""
    return html.escape(str(value))


def _money(value: float) -> str:
    """A cost with thousands separators; a dash when missing."""
    return "–" if value is None or not math.isfinite(value) else f"{value:,.0f}"


def _fixed(value: float, digits: int) -> str:
    """A fixed-point figure; a dash when missing."""
    return "–" if value is None or not math.isfinite(value) else f"{value:,.{digits}f}"


def _found(routes: pd.DataFrame) -> pd.DataFrame:
    """Rows that have a route."""
    return routes[routes.geometry.notna() & ~routes.geometry.is_empty]


def _overview(layers: ResultLayers, summary: Mapping) -> str:
    """Overall status, status counts and cost totals."""
    routes = layers.routes
    found = _found(routes)
    counts = routes["status"].value_counts()
    statuses = ", ".join(f'<span class="{_e(s)}">{n} {_e(s)}</span>' for s, n in counts.items())
    build, permits = float(found["build_cost"].sum()), float(found["permit_cost"].sum())
    risk = float(found["risk_cost"].sum()) if "risk_cost" in found else 0.0
    distinct = layers.jurisdictions_crossed["jurisdiction_id"].nunique()
    overall = summary.get("status") or _worst(routes["status"])
    rows = [
        ("solver status", f'<span class="{_e(overall)}">{_e(overall)}</span> ({statuses})'),
        ("demands", f"{routes['demand_id'].nunique()} ({len(found)} routes found)"),
        ("build cost (corridors and laterals)", _money(build)),
        ("risk areas add (cost multipliers)", _money(risk)),
        ("permit cost", f"{_money(permits)} ({int(found['permit_count'].sum())} permits)"),
        ("sum of route costs", _money(build + risk + permits)),
        (
            "total cost (each segment and permit once)",
            f"<b>{_money(summary.get('total_cost', build + risk + permits))}</b>",
        ),
        ("distinct jurisdictions crossed", str(distinct)),
    ]
    design = summary.get("design") or {}
    if design.get("shared_build"):
        gap = design.get("gap")
        proof = "proven optimal" if gap == 0 else f"bound {_money(design.get('bound'))}, gap {_gap(gap)}"
        if design.get("unsolved_demands"):
            proof = design.get("proof", proof)
        rows.append(("shared build", _e(proof)))
        rows.append(("each demand on its own", _money(design.get("independent_cost"))))
        rows.append(("sharing saves", _money(design.get("saving"))))
    if note := summary.get("total_cost_note"):
        rows.append(("note", _e(note)))
    table = "".join(f'<tr><th class="text">{_e(k)}</th><td class="text">{v}</td></tr>' for k, v in rows)
    return (
        f'<p class="muted">Map: <a href="map.html">map.html</a>. Data: routes.gpkg.</p><table>{table}</table>'
    )


def _worst(statuses: pd.Series) -> str:
    """The weakest status among routes."""
    order = ["OPTIMAL", "FEASIBLE", "INFEASIBLE", "UNSOLVED"]
    return max(statuses, key=lambda s: order.index(s) if s in order else len(order), default="")


def _route_table(routes: pd.DataFrame) -> str:
    """One row per route: status, km, ms, bound, costs, permits per level, gap."""
    levels = [c for c in routes.columns if c.endswith("_count") and c != "permit_count"]
    colors = demand_colors(routes["demand_id"])
    head = ["demand", "route", "sites", "status", "km", "ms", "bound ms", "cost", "build cost", "risk cost"]
    head += ["permit cost", "permits", *(c[: -len("_count")] for c in levels), "outside km", "gap"]
    rows = []
    for _, r in routes.iterrows():
        found = r.geometry is not None and not r.geometry.is_empty
        swatch = f'<span class="swatch" style="background:{colors[r["demand_id"]]}"></span>'
        cells = [
            f'<td class="text">{swatch}{_e(r["demand_id"])}</td>',
            f"<td>{int(r['route_index'])}</td>",
            f'<td class="text">{_e(r["a"])} → {_e(r["b"])}</td>',
            f'<td class="text {_e(r["status"])}">{_e(r["status"])}</td>',
            f"<td>{_fixed(r['length_km'], 1)}</td>",
            f"<td>{_fixed(r['latency_ms'], 3)}</td>",
            f"<td>{_fixed(r['max_latency_ms'], 3)}</td>",
            f"<td>{_money(r['cost'])}</td>",
            f"<td>{_money(r['build_cost'])}</td>",
            f"<td>{_money(r.get('risk_cost', 0.0))}</td>",
            f"<td>{_money(r['permit_cost'])}</td>",
            *(f"<td>{int(r[c]) if found else '–'}</td>" for c in ("permit_count", *levels)),
            _outside_cell(r, found),
            f"<td>{_gap(r['gap'])}</td>",
        ]
        rows.append(f"<tr>{''.join(cells)}</tr>")
    header = "".join(
        f'<th class="{"text" if h in ("demand", "sites", "status") else ""}">{h}</th>' for h in head
    )
    return f"<h2>Routes</h2><table><tr>{header}</tr>{''.join(rows)}</table>"


def _outside_cell(route: pd.Series, found: bool) -> str:
    """The km a route runs outside the jurisdictions, flagged when it warns."""
    km = route.get("outside_km")
    if not found or km is None or not math.isfinite(km):
        return "<td>–</td>"
    warned = isinstance(route.get("warnings"), str) and route["warnings"]
    return f'<td class="{"warn" if warned else ""}">{_fixed(km, 1)}</td>'


def _warnings(routes: pd.DataFrame) -> str:
    """What the planner should know about routes that stand (e.g. they leave the coverage)."""
    items = [
        f"<li><b>{_e(r['demand_id'])}</b> route {int(r['route_index'])}: {_e(text)}</li>"
        for _, r in routes.iterrows()
        if isinstance(r.get("warnings"), str)
        for text in r["warnings"].splitlines()
        if text
    ]
    return f'<h2 class="warn">Warnings</h2><ul>{"".join(items)}</ul>' if items else ""


def _gap(gap: float) -> str:
    """Relative gap as a percentage; empty when proven optimal or not applicable."""
    return "" if gap is None or not math.isfinite(gap) or gap == 0 else f"{gap:.2%}"


def _reasons(routes: pd.DataFrame) -> str:
    """Why demands have no route (INFEASIBLE, UNSOLVED) or no proof (FEASIBLE gap)."""
    items = [
        f'<li><b>{_e(r["demand_id"])}</b> <span class="{_e(r["status"])}">{_e(r["status"])}</span>: '
        f"{_e(r['reason'])}</li>"
        for _, r in routes.iterrows()
        if r["status"] != "OPTIMAL" and isinstance(r["reason"], str) and r["reason"]
    ]
    return f"<h2>Why some demands have no proven route</h2><ul>{''.join(items)}</ul>" if items else ""


def _levels_table(crossed: pd.DataFrame) -> str:
    """Jurisdictions crossed per level: distinct ones, entries by routes, permit cost."""
    if crossed.empty:
        return "<h2>Jurisdictions crossed</h2><p>None.</p>"
    grouped = crossed.groupby("level", sort=False)
    table = pd.DataFrame(
        {
            "distinct": grouped["jurisdiction_id"].nunique(),
            "entries": grouped.size(),
            "permit_cost": grouped["permit_cost"].sum(),
        }
    )
    rows = "".join(
        f'<tr><td class="text">{_e(level)}</td><td>{int(r["distinct"])}</td><td>{int(r["entries"])}</td>'
        f"<td>{_money(r['permit_cost'])}</td></tr>"
        for level, r in table.iterrows()
    )
    header = (
        '<tr><th class="text">level</th><th>distinct jurisdictions</th>'
        "<th>route entries</th><th>permit cost (per route)</th></tr>"
    )
    return f"<h2>Jurisdictions crossed, per level</h2><table>{header}{rows}</table>"


def _run_section(run: pd.DataFrame, summary: Mapping) -> str:
    """Software, scenario file, timings and graph size; the scenario text."""
    info = run.iloc[0].to_dict() if len(run) else {}
    rows = [(k, info[k]) for k in ("software", "created_utc", "scenario_file", "run_sha256") if k in info]
    if timings := summary.get("timings_s"):
        rows.append(("timings", ", ".join(f"{k} {v:.2f} s" for k, v in timings.items())))
    if graph := summary.get("graph"):
        rows.append(
            (
                "graph",
                f"{graph.get('nodes', 0):,} nodes, {graph.get('edges', 0):,} edges, "
                f"{graph.get('km_total', 0):,.1f} km",
            )
        )
    if settings := info.get("settings_json"):
        rows.append(("settings", ", ".join(f"{k}={json.dumps(v)}" for k, v in json.loads(settings).items())))
    table = "".join(f'<tr><th class="text">{_e(k)}</th><td class="text">{_e(v)}</td></tr>' for k, v in rows)
    scenario = f"<h3>Scenario</h3><pre>{_e(info['scenario_yaml'])}</pre>" if info.get("scenario_yaml") else ""
    return f"<h2>Run</h2><table>{table}</table>{scenario}"
