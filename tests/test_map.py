"""map.html and report.html: self-contained pages; the map draws its layers in a real, offline browser."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from dataclasses import replace
from html.parser import HTMLParser
from pathlib import Path

import pandas as pd
import pytest
import shapely

from optimizer.export import run_info_for, write_solution
from optimizer.formats import read_result
from optimizer.mapview import DISPLAY_DECIMALS, map_data, map_html
from optimizer.pipeline import run_digest, solve_scenario
from optimizer.report import report_html
from optimizer.scenario import load_scenario

ROOT = Path(__file__).resolve().parents[1]
SCENARIO = ROOT / "geodata" / "sample" / "scenario.yaml"
MAX_SAMPLE_MAP_BYTES = 400_000


def _find_chromium() -> str | None:
    """A headless-capable Chromium: $FIBEROPT_CHROMIUM if set (empty: none), else one on this machine."""
    if "FIBEROPT_CHROMIUM" in os.environ:
        return os.environ["FIBEROPT_CHROMIUM"] or None
    for candidate in (shutil.which("chromium"), "/usr/bin/chromium", shutil.which("chromium-browser")):
        if candidate and os.access(candidate, os.X_OK):
            return candidate
    return None


CHROMIUM = _find_chromium()
needs_browser = pytest.mark.skipif(
    CHROMIUM is None,
    reason="no headless browser: install Debian's chromium (apt-get install -y --no-install-recommends "
    "chromium; .ci/run does) to check that map.html draws",
)


@pytest.fixture(scope="module")
def result(tmp_path_factory):
    """The sample scenario solved and written once (default formats)."""
    scenario = load_scenario(SCENARIO)
    solution, network = solve_scenario(scenario)
    out = tmp_path_factory.mktemp("map")
    folder = write_solution(
        solution, network, out, scenario_digest=run_digest(scenario), run_info=run_info_for(scenario)
    )
    return folder, read_result(folder)


class _Elements(HTMLParser):
    """Every start tag of a page with its attributes, and the text of #map-status."""

    def __init__(self) -> None:
        super().__init__()
        self.tags: list[tuple[str, dict[str, str]]] = []
        self.status = ""
        self._in_status = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        """Record a tag."""
        self.tags.append((tag, {k: v or "" for k, v in attrs}))
        self._in_status = dict(attrs).get("id") == "map-status"

    def handle_data(self, data: str) -> None:
        """Collect the status text."""
        if self._in_status:
            self.status += data

    def find(self, tag: str, **attrs: str) -> list[dict[str, str]]:
        """Tags with these attribute values (class matched as a word)."""
        found = []
        for name, have in self.tags:
            if name != tag:
                continue
            want_class = attrs.get("class_")
            if want_class and want_class not in have.get("class", "").split():
                continue
            if all(have.get(k) == v for k, v in attrs.items() if k != "class_"):
                found.append(have)
        return found


def rendered_dom(page: Path, tmp_path: Path) -> _Elements:
    """The page's DOM after its script ran in headless Chromium, with every host name unresolvable."""
    command = [
        CHROMIUM,
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--host-resolver-rules=MAP * ~NOTFOUND",  # offline: no name resolves
        f"--user-data-dir={tmp_path / 'profile'}",
        "--window-size=1200,800",
        "--virtual-time-budget=5000",
        "--dump-dom",
        page.as_uri(),
    ]
    done = subprocess.run(command, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-3000:]
    dom = _Elements()
    dom.feed(done.stdout)
    return dom


def _status(dom: _Elements) -> dict[str, str]:
    """The #map-status element's attributes."""
    (status,) = [attrs for _, attrs in dom.tags if attrs.get("id") == "map-status"]
    return status


def _translate(transform: str) -> tuple[float, float]:
    """x, y of `translate(x,y)`."""
    x, y = re.fullmatch(r"translate\(([-\d.]+),([-\d.]+)\)", transform).groups()
    return float(x), float(y)


@needs_browser
def test_map_draws_routes_sites_and_jurisdictions_offline(result, tmp_path):
    folder, layers = result
    dom = rendered_dom(folder / "map.html", tmp_path)
    status = _status(dom)
    assert status.get("data-ready") == "1" and "data-error" not in status, dom.status
    routes = layers.routes[layers.routes.geometry.notna()]
    drawn = dom.find("path", class_="route")
    assert [p["data-demand"] for p in drawn] == list(routes["demand_id"])
    for path in drawn:
        assert re.fullmatch(r"M[-\d. ]+(L[-\d. ]+)+", path["d"]), path["d"][:80]
        assert path["stroke"].startswith("#")
    demands = {p["data-demand"] for p in drawn}
    assert len({p["stroke"] for p in drawn}) == len(demands)  # a color per demand
    assert all(
        p["stroke"] == drawn[0]["stroke"] for p in drawn if p["data-demand"] == drawn[0]["data-demand"]
    )
    sites = dom.find("g", class_="site")
    assert [g["data-site"] for g in sites] == list(layers.sites["site_id"])
    inside = [0 <= x <= 1200 and 0 <= y <= 800 for x, y in (_translate(g["transform"]) for g in sites)]
    assert sum(inside) >= len(routes)  # the view is fitted to routes and sites
    jurisdictions = dom.find("path", class_="jurisdiction")
    assert len(jurisdictions) == layers.jurisdictions_crossed["jurisdiction_id"].nunique()
    assert all(p["d"].startswith("M") for p in jurisdictions)
    assert status["data-routes"] == str(len(routes)) and status["data-sites"] == str(len(layers.sites))
    without = int(layers.routes.geometry.isna().sum())
    assert without >= 2 and f"{without} demand(s) without a route" in dom.status
    shared = dom.find("path", class_="shared")  # chi-dal and chi-dal-pair build the same route
    assert any({"chi-dal", "chi-dal-pair"} <= set(p["data-shared"].split(",")) for p in shared)
    assert not dom.find("image")  # the basemap is off unless asked for


@needs_browser
def test_map_dashes_diverse_routes_and_survives_markup_in_names(result, tmp_path):
    _, layers = result
    routes = layers.routes[layers.routes["route_index"] == 0].reset_index(drop=True)
    diverse = routes.iloc[[0]].assign(route_index=1)
    sites = layers.sites.copy()
    sites.loc[0, "name"] = "</script><marquee>x</marquee> & co"
    page = tmp_path / "map.html"
    layers = replace(layers, routes=pd.concat([routes, diverse], ignore_index=True), sites=sites)
    page.write_text(map_html(layers), encoding="utf-8")
    dom = rendered_dom(page, tmp_path)
    assert _status(dom).get("data-ready") == "1", dom.status
    dashed = dom.find("path", class_="diverse")
    assert [(p["data-demand"], p["data-route-index"]) for p in dashed] == [(routes["demand_id"][0], "1")]
    assert not dom.find("marquee")  # the name stayed text


def test_map_is_self_contained_and_small(result):
    folder, _ = result
    text = (folder / "map.html").read_text(encoding="utf-8")
    assert not re.search(r"<script[^>]*\bsrc=", text) and "<link" not in text and "@import" not in text
    assert len(text.encode()) < MAX_SAMPLE_MAP_BYTES


def test_map_data_is_rounded_and_simplified(result):
    _, layers = result
    data = map_data(layers)
    numbers = [v for r in data["routes"] if r["coords"] for v in r["coords"]]
    numbers += [v for j in data["jurisdictions"] for ring in j["rings"] for v in ring]
    assert numbers and all(round(v, DISPLAY_DECIMALS) == v for v in numbers)
    full = sum(
        len(shapely.get_coordinates(g))
        for g in layers.jurisdictions_crossed.drop_duplicates("jurisdiction_id").geometry
    )
    shown = sum(len(ring) // 2 for j in data["jurisdictions"] for ring in j["rings"])
    assert shown < 0.8 * full  # simplified for display
    infeasible = [r for r in data["routes"] if r["coords"] is None]
    assert infeasible and all(r["reason"] for r in infeasible)
    chi_dal = next(r for r in data["routes"] if r["demand_id"] == "chi-dal")
    assert {"length_km", "latency_ms", "cost", "permit_count"} <= set(chi_dal)
    assert chi_dal["counts"] == {"state": 5, "county": 38}
    json.dumps(data, allow_nan=False)


def test_report_has_routes_levels_totals_and_reasons(result):
    folder, layers = result
    text = (folder / "report.html").read_text(encoding="utf-8")
    for demand in layers.routes["demand_id"]:
        assert f">{demand}</td>" in text
    assert "fastest possible route is 6.29 ms, bound is 4.00 ms" in text
    assert "Jurisdictions crossed, per level" in text and ">county</td>" in text and ">state</td>" in text
    found = layers.routes[layers.routes.geometry.notna()]
    assert f"{found['permit_cost'].sum():,.0f}" in text and f"{found['build_cost'].sum():,.0f}" in text
    assert "INFEASIBLE" in text and "OPTIMAL" in text
    assert "<script" not in text
    assert "&lt;b&gt;" in report_html(replace(layers, routes=layers.routes.assign(reason="<b>")))
