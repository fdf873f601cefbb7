"""The map page's HTML template, style sheet and script (plain text, inlined into map.html).

The script is self-contained: it reads the JSON data island, projects lon/lat to Web
Mercator and draws SVG (jurisdictions, routes, sites), with pan, zoom, popups, a legend,
layer switches, a scale bar and an optional OpenStreetMap basemap. When done it fills
`#map-status` (text and `data-*` counts), which tests read back from a headless browser.
"""

from __future__ import annotations

__all__ = ["MAP_CSS", "MAP_SCRIPT", "MAP_TEMPLATE"]

MAP_TEMPLATE = """<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>__TITLE__</title>
<style>__CSS__</style>
</head>
<body>
<aside id="panel">
<h1>__TITLE__</h1>
<p id="map-status" data-ready="0">Drawing the map needs JavaScript.</p>
<div id="legend"></div>
<fieldset id="switches"><legend>Layers</legend>
<label><input type="checkbox" data-layer="routes" checked> routes</label>
<label><input type="checkbox" data-layer="sites" checked> sites</label>
<label><input type="checkbox" data-layer="jurisdictions" checked> jurisdictions crossed</label>
<label><input type="checkbox" data-layer="labels" checked> jurisdiction names</label>
<label><input type="checkbox" id="basemap"> OpenStreetMap basemap (online)</label>
</fieldset>
<p class="note">Drag to pan, scroll to zoom, click a route, site or jurisdiction for details.
Figures and the route table are in <a href="report.html">report.html</a>; the full data in routes.gpkg.</p>
<div id="levels"></div>
</aside>
<main id="map">
<svg id="map-svg" xmlns="http://www.w3.org/2000/svg">
<g id="layer-tiles"></g><g id="layer-jurisdictions"></g><g id="layer-routes"></g>
<g id="layer-labels"></g><g id="layer-sites"></g>
</svg>
<div id="zoom"><button id="zoom-in" title="zoom in">+</button>
<button id="zoom-out" title="zoom out">&#8722;</button>
<button id="zoom-fit" title="show all">fit</button></div>
<div id="scale"><div id="scale-bar"></div><span id="scale-label"></span></div>
<div id="attribution" hidden>&copy; OpenStreetMap contributors</div>
<div id="popup" hidden></div>
</main>
<script type="application/json" id="map-data">__DATA__</script>
<script>__SCRIPT__</script>
</body>
</html>
"""

MAP_CSS = """
html, body { margin: 0; height: 100%; font: 13px/1.4 system-ui, sans-serif; color: #222; }
body { display: flex; }
#panel { width: 310px; flex: none; overflow: auto; padding: 10px 14px; box-sizing: border-box;
  border-right: 1px solid #ccc; background: #fafafa; }
#panel h1 { font-size: 16px; margin: 4px 0 8px; }
#map { position: relative; flex: 1; overflow: hidden; background: #eef2f5; }
#map-svg { width: 100%; height: 100%; display: block; touch-action: none; user-select: none; cursor: grab; }
#map-svg.dragging { cursor: grabbing; }
.jurisdiction { fill-opacity: 0.12; stroke-opacity: 0.7; stroke-width: 0.8; cursor: pointer; }
.jurisdiction.outer { fill-opacity: 0.06; stroke-width: 1.8; }
.jurisdiction:hover { fill-opacity: 0.25; }
.label { font-size: 11px; fill: #333; paint-order: stroke; stroke: #fff; stroke-width: 3px;
  text-anchor: middle; pointer-events: none; }
.route { fill: none; stroke-width: 3.5; stroke-linecap: round; stroke-linejoin: round; cursor: pointer; }
.route.diverse { stroke-dasharray: 9 6; stroke-width: 2.5; }
.route.selected { stroke-width: 6; }
.shared { fill: none; stroke: #111; stroke-opacity: 0.3; stroke-width: 11; stroke-linecap: round;
  stroke-linejoin: round; cursor: pointer; }
.route-hit { fill: none; stroke: transparent; stroke-width: 14; pointer-events: stroke; cursor: pointer; }
.site { cursor: pointer; }
.site circle { fill: #fff; stroke: #111; stroke-width: 2; }
.site.unreachable circle { fill: #bbb; stroke: #777; }
.site text { font-size: 11px; font-weight: 600; paint-order: stroke; stroke: #fff; stroke-width: 3px; }
#zoom { position: absolute; top: 10px; right: 10px; display: flex; flex-direction: column; gap: 4px; }
#zoom button { width: 34px; height: 30px; font-size: 15px; border: 1px solid #999; border-radius: 4px;
  background: #fff; cursor: pointer; }
#scale { position: absolute; left: 10px; bottom: 10px; font-size: 11px; background: rgba(255,255,255,.8);
  padding: 2px 4px; }
#scale-bar { height: 4px; border: 1px solid #333; border-top: none; }
#attribution { position: absolute; right: 4px; bottom: 4px; font-size: 11px; background: rgba(255,255,255,.8);
  padding: 1px 4px; }
#popup { position: absolute; max-width: 320px; background: #fff; border: 1px solid #888; border-radius: 4px;
  box-shadow: 0 2px 8px rgba(0,0,0,.25); padding: 8px 10px; z-index: 2; }
#popup h2 { font-size: 14px; margin: 0 0 4px; }
#popup table, .legend-table { border-collapse: collapse; }
#popup td { padding: 1px 6px 1px 0; vertical-align: top; }
#popup td:first-child { color: #666; white-space: nowrap; }
.legend-row { display: flex; gap: 8px; align-items: flex-start; padding: 4px 2px; cursor: pointer;
  border-bottom: 1px solid #eee; }
.legend-row:hover { background: #eef; }
.legend-row svg { flex: none; margin-top: 3px; }
.legend-row .detail { color: #555; font-size: 12px; }
.legend-row .reason { color: #a33; font-size: 12px; }
.legend-row .warning { color: #9a6700; font-size: 12px; }
.status-OPTIMAL { color: #1a7f37; } .status-FEASIBLE { color: #9a6700; }
.status-INFEASIBLE, .status-UNSOLVED { color: #b3261e; }
fieldset { border: 1px solid #ddd; margin: 10px 0; } fieldset label { display: block; }
.note { color: #555; font-size: 12px; }
.swatch { display: inline-block; width: 12px; height: 12px; border: 2px solid; margin-right: 6px;
  vertical-align: -2px; }
"""

MAP_SCRIPT = r"""
(function () {
  "use strict";
  const SVG_NS = "http://www.w3.org/2000/svg";
  const TILE_PX = 256;
  const TILE_URL = "https://tile.openstreetmap.org/{z}/{x}/{y}.png";
  const MAX_ZOOM = 19;
  const status = document.getElementById("map-status");
  const svg = document.getElementById("map-svg");
  const popup = document.getElementById("popup");
  const basemap = document.getElementById("basemap");
  const layer = {};
  for (const name of ["tiles", "jurisdictions", "routes", "labels", "sites"]) {
    layer[name] = document.getElementById("layer-" + name);
  }
  const view = { x: 0.5, y: 0.5, zoom: 1 };
  const drawn = [];
  const tiles = new Map();
  const failedTiles = new Set();
  let pending = false;
  let dragged = false;

  function mercator(lon, lat) {
    const s = Math.sin(Math.max(-85.0511, Math.min(85.0511, lat)) * Math.PI / 180);
    return [(lon + 180) / 360, 0.5 - Math.log((1 + s) / (1 - s)) / (4 * Math.PI)];
  }

  function project(flat) {
    const out = new Float64Array(flat.length);
    for (let i = 0; i < flat.length; i += 2) {
      const p = mercator(flat[i], flat[i + 1]);
      out[i] = p[0];
      out[i + 1] = p[1];
    }
    return out;
  }

  function box(arrays) {
    const b = [Infinity, Infinity, -Infinity, -Infinity];
    for (const xy of arrays) {
      for (let i = 0; i < xy.length; i += 2) {
        b[0] = Math.min(b[0], xy[i]); b[1] = Math.min(b[1], xy[i + 1]);
        b[2] = Math.max(b[2], xy[i]); b[3] = Math.max(b[3], xy[i + 1]);
      }
    }
    return b;
  }

  function viewport() {
    const r = svg.getBoundingClientRect();
    return { w: r.width || 800, h: r.height || 600, s: TILE_PX * Math.pow(2, view.zoom) };
  }

  function sx(x, vp) { return (x - view.x) * vp.s + vp.w / 2; }
  function sy(y, vp) { return (y - view.y) * vp.s + vp.h / 2; }

  function lineD(xy, vp) {
    const parts = [];
    for (let i = 0; i < xy.length; i += 2) {
      parts.push((i ? "L" : "M") + sx(xy[i], vp).toFixed(1) + " " + sy(xy[i + 1], vp).toFixed(1));
    }
    return parts.join("");
  }

  function svgEl(name, attrs, parent) {
    const e = document.createElementNS(SVG_NS, name);
    for (const k in attrs) e.setAttribute(k, attrs[k]);
    if (parent) parent.appendChild(e);
    return e;
  }

  function htmlEl(name, text, cls, parent) {
    const e = document.createElement(name);
    if (text !== undefined && text !== null) e.textContent = text;
    if (cls) e.className = cls;
    if (parent) parent.appendChild(e);
    return e;
  }

  function num(v, digits) {
    if (v === null || v === undefined) return "–";
    return v.toLocaleString("en-US", { minimumFractionDigits: digits, maximumFractionDigits: digits });
  }

  function counts(r) {
    const parts = Object.keys(r.counts).map((k) => k + " " + r.counts[k]);
    return r.permit_count + (parts.length ? " (" + parts.join(", ") + ")" : "");
  }

  function routeRows(r) {
    const rows = [["status", r.status + (r.gap ? " (gap " + num(100 * r.gap, 2) + " %)" : "")],
      ["sites", r.a + " → " + r.b]];
    if (!r.coords) return rows.concat([["reason", r.reason]]);
    return rows.concat([
      ["length", num(r.length_km, 1) + " km"],
      ["latency", num(r.latency_ms, 3) + " ms (bound " + num(r.max_latency_ms, 3) + " ms)"],
      ["cost", num(r.cost, 0)],
      ["build cost", num(r.build_cost, 0)],
    ]).concat(r.risk_cost > 0 ? [["risk areas add", num(r.risk_cost, 0)]] : []).concat([
      ["permit cost", num(r.permit_cost, 0)],
      ["permits", counts(r)],
      ["outside jurisdictions", num(r.outside_km, 1) + " km"],
    ]).concat(r.shared_km > 0 ? [["shared with its demand's other routes", num(r.shared_km, 1) + " km"]] : [])
      .concat(r.warnings.map((w) => ["warning", w]));
  }

  function routeTitle(r) {
    return r.demand_id + (r.route_index > 0 ? " · diverse route " + r.route_index : "");
  }

  function showPopup(heading, rows, x, y) {
    popup.textContent = "";
    htmlEl("h2", heading, null, popup);
    const table = htmlEl("table", null, null, popup);
    for (const [k, v] of rows) {
      const tr = htmlEl("tr", null, null, table);
      htmlEl("td", k, null, tr);
      htmlEl("td", v, null, tr);
    }
    popup.hidden = false;
    const map = document.getElementById("map").getBoundingClientRect();
    const left = Math.min(x + 12, map.width - popup.offsetWidth - 8);
    const top = Math.min(y + 12, map.height - popup.offsetHeight - 8);
    popup.style.left = Math.max(4, left) + "px";
    popup.style.top = Math.max(4, top) + "px";
  }

  function onPick(element, heading, rows) {
    element.addEventListener("click", (ev) => {
      if (dragged) return;
      ev.stopPropagation();
      const map = document.getElementById("map").getBoundingClientRect();
      showPopup(heading, rows(), ev.clientX - map.left, ev.clientY - map.top);
    });
  }

  function drawJurisdictions(data) {
    const outer = data.levels.length ? data.levels[0].level : null;
    const color = {};
    for (const l of data.levels) color[l.level] = l.color;
    for (const j of data.jurisdictions) {
      const rings = j.rings.map(project);
      const path = svgEl("path", {
        class: "jurisdiction" + (j.level === outer ? " outer" : ""),
        "data-jurisdiction": j.jurisdiction_id, "data-level": j.level,
        fill: color[j.level], stroke: color[j.level], "fill-rule": "evenodd",
      }, layer.jurisdictions);
      svgEl("title", {}, path).textContent = j.name + " (" + j.level + ")";
      const label = svgEl("text", { class: "label" }, layer.labels);
      label.textContent = j.name;
      onPick(path, j.name, () => [["level", j.level], ["id", j.jurisdiction_id],
        ["permit cost", num(j.permit_cost, 0)], ["crossed by", j.demands.join(", ")]]);
      drawn.push({ kind: "jurisdiction", el: path, rings: rings, box: box(rings), label: label,
        at: mercator(j.label[0], j.label[1]) });
    }
  }

  function drawShared(data) {
    for (const s of data.shared || []) {
      const xy = project(s.coords);
      const hit = svgEl("path", { class: "route-hit" }, layer.routes);
      const path = svgEl("path", { class: "shared", "data-shared": s.demands.join(",") }, layer.routes);
      const heading = "shared build";
      svgEl("title", {}, path).textContent = heading + ": " + s.demands.join(", ");
      const rows = () => [["used by", s.demands.join(", ")], ["length (km)", num(s.length_km, 1)]];
      onPick(hit, heading, rows);
      onPick(path, heading, rows);
      drawn.push({ kind: "route", el: path, hit: hit, xy: xy });
    }
  }

  function drawRoutes(data) {
    for (const r of data.routes) {
      if (!r.coords) continue;
      const xy = project(r.coords);
      const hit = svgEl("path", { class: "route-hit" }, layer.routes);
      const path = svgEl("path", {
        class: "route" + (r.route_index > 0 ? " diverse" : ""), stroke: r.color,
        "data-demand": r.demand_id, "data-route-index": r.route_index,
      }, layer.routes);
      svgEl("title", {}, path).textContent = routeTitle(r);
      onPick(hit, routeTitle(r), () => routeRows(r));
      onPick(path, routeTitle(r), () => routeRows(r));
      r.box = box([xy]);
      r.el = path;
      drawn.push({ kind: "route", el: path, hit: hit, xy: xy });
    }
  }

  function drawSites(data) {
    for (const s of data.sites) {
      const g = svgEl("g", { class: "site" + (s.reachable ? "" : " unreachable"), "data-site": s.site_id },
        layer.sites);
      svgEl("circle", { r: 5 }, g);
      svgEl("text", { x: 8, y: -6 }, g).textContent = s.site_id;
      svgEl("title", {}, g).textContent = s.site_id + ": " + s.name;
      onPick(g, s.site_id, () => [["name", s.name],
        ["reaches network", s.reachable ? "yes" : "no: " + s.reason]]);
      drawn.push({ kind: "site", el: g, at: mercator(s.lon, s.lat) });
    }
  }

  function render() {
    pending = false;
    const vp = viewport();
    const labels = document.querySelector('[data-layer="labels"]').checked;
    for (const d of drawn) {
      if (d.kind === "site") {
        d.el.setAttribute("transform", "translate(" + sx(d.at[0], vp).toFixed(1) + ","
          + sy(d.at[1], vp).toFixed(1) + ")");
      } else if (d.kind === "route") {
        const path = lineD(d.xy, vp);
        d.el.setAttribute("d", path);
        d.hit.setAttribute("d", path);
      } else {
        d.el.setAttribute("d", d.rings.map((ring) => lineD(ring, vp) + "Z").join(""));
        const wide = (d.box[2] - d.box[0]) * vp.s, tall = (d.box[3] - d.box[1]) * vp.s;
        const fits = wide > 70 && tall > 24 && d.label.textContent.length * 6.5 < wide;
        const show = labels && fits && !(wide > vp.w && tall > vp.h); // no label for what fills the view
        d.label.style.display = show ? "" : "none";
        if (show) {
          d.label.setAttribute("x", sx(d.at[0], vp).toFixed(1));
          d.label.setAttribute("y", sy(d.at[1], vp).toFixed(1));
        }
      }
    }
    renderTiles(vp);
    renderScale(vp);
  }

  function schedule() {
    if (!pending) {
      pending = true;
      requestAnimationFrame(render);
    }
  }

  function renderTiles(vp) {
    document.getElementById("attribution").hidden = !basemap.checked;
    if (!basemap.checked) {
      layer.tiles.textContent = "";
      tiles.clear();
      return;
    }
    const z = Math.max(0, Math.min(MAX_ZOOM, Math.round(view.zoom)));
    const n = Math.pow(2, z);
    const size = vp.s / n;
    const clampTile = (t) => Math.max(0, Math.min(n - 1, Math.floor(t)));
    const x0 = clampTile((view.x - vp.w / 2 / vp.s) * n), x1 = clampTile((view.x + vp.w / 2 / vp.s) * n);
    const y0 = clampTile((view.y - vp.h / 2 / vp.s) * n), y1 = clampTile((view.y + vp.h / 2 / vp.s) * n);
    const keep = new Set();
    for (let tx = x0; tx <= x1; tx++) {
      for (let ty = y0; ty <= y1; ty++) {
        const key = z + "/" + tx + "/" + ty;
        if (failedTiles.has(key)) continue;
        let img = tiles.get(key);
        if (!img) {
          const href = TILE_URL.replace("{z}", z).replace("{x}", tx).replace("{y}", ty);
          img = svgEl("image", { href: href, preserveAspectRatio: "none" }, layer.tiles);
          img.addEventListener("error", () => { failedTiles.add(key); img.remove(); tiles.delete(key); });
          tiles.set(key, img);
        }
        img.setAttribute("x", sx(tx / n, vp).toFixed(1));
        img.setAttribute("y", sy(ty / n, vp).toFixed(1));
        img.setAttribute("width", (size + 0.5).toFixed(1));
        img.setAttribute("height", (size + 0.5).toFixed(1));
        keep.add(key);
      }
    }
    for (const [key, img] of tiles) {
      if (!keep.has(key)) { img.remove(); tiles.delete(key); }
    }
  }

  function renderScale(vp) {
    const lat = Math.atan(Math.sinh(Math.PI * (1 - 2 * view.y)));
    const metresPerPx = 40075016.686 * Math.cos(lat) / vp.s;
    const target = metresPerPx * 120;
    const pow = Math.pow(10, Math.floor(Math.log10(target)));
    const nice = [5, 2, 1].map((f) => f * pow).find((v) => v <= target);
    document.getElementById("scale-bar").style.width = (nice / metresPerPx).toFixed(0) + "px";
    document.getElementById("scale-label").textContent = nice >= 1000 ? nice / 1000 + " km" : nice + " m";
  }

  function fit(b) {
    const vp = viewport();
    if (!isFinite(b[0])) b = [0, 0, 1, 1];
    const w = Math.max(b[2] - b[0], 1e-6), h = Math.max(b[3] - b[1], 1e-6);
    const scale = Math.min(Math.max(vp.w - 80, 50) / w, Math.max(vp.h - 80, 50) / h);
    view.zoom = Math.max(0, Math.min(16, Math.log2(scale / TILE_PX)));
    view.x = (b[0] + b[2]) / 2;
    view.y = (b[1] + b[3]) / 2;
  }

  function zoomAt(zoom, px, py) {
    const vp = viewport();
    const wx = view.x + (px - vp.w / 2) / vp.s, wy = view.y + (py - vp.h / 2) / vp.s;
    view.zoom = Math.max(0, Math.min(MAX_ZOOM, zoom));
    const s = TILE_PX * Math.pow(2, view.zoom);
    view.x = wx - (px - vp.w / 2) / s;
    view.y = wy - (py - vp.h / 2) / s;
    schedule();
  }

  function drawLegend(data) {
    const legend = document.getElementById("legend");
    for (const r of data.routes) {
      const row = htmlEl("div", null, "legend-row", legend);
      row.dataset.demand = r.demand_id;
      const icon = svgEl("svg", { width: 28, height: 10 }, row);
      svgEl("line", { x1: 1, y1: 5, x2: 27, y2: 5, stroke: r.coords ? r.color : "#bbb", "stroke-width": 3,
        "stroke-dasharray": r.route_index > 0 ? "6 4" : "none" }, icon);
      const text = htmlEl("div", null, null, row);
      const head = htmlEl("div", null, null, text);
      htmlEl("b", routeTitle(r) + " ", null, head);
      htmlEl("span", r.status, "status-" + r.status, head);
      if (r.coords) {
        htmlEl("div", num(r.length_km, 1) + " km · " + num(r.latency_ms, 3) + " ms · cost "
          + num(r.cost, 0) + " · " + r.permit_count + " permits", "detail", text);
        for (const w of r.warnings) htmlEl("div", "warning: " + w, "warning", text);
        row.addEventListener("click", () => {
          for (const other of data.routes) if (other.el) other.el.classList.remove("selected");
          r.el.classList.add("selected");
          fit(r.box);
          render();
          showPopup(routeTitle(r), routeRows(r), 12, 12);
        });
      } else {
        htmlEl("div", r.reason, "reason", text);
      }
    }
    const levels = document.getElementById("levels");
    for (const l of data.levels) {
      const p = htmlEl("div", null, "note", levels);
      const sw = htmlEl("span", null, "swatch", p);
      sw.style.borderColor = l.color;
      sw.style.background = l.color + "33";
      p.appendChild(document.createTextNode(l.level));
    }
  }

  function bindControls(data) {
    const zoomBy = (step) => {
      const vp = viewport();
      zoomAt(view.zoom + step, vp.w / 2, vp.h / 2);
    };
    document.getElementById("zoom-in").onclick = () => zoomBy(1);
    document.getElementById("zoom-out").onclick = () => zoomBy(-1);
    document.getElementById("zoom-fit").onclick = () => { fit(data.box); schedule(); };
    for (const input of document.querySelectorAll("[data-layer]")) {
      input.addEventListener("change", () => {
        layer[input.dataset.layer].style.display = input.checked ? "" : "none";
        schedule();
      });
    }
    basemap.addEventListener("change", schedule);
    svg.addEventListener("wheel", (ev) => {
      ev.preventDefault();
      const r = svg.getBoundingClientRect();
      zoomAt(view.zoom - ev.deltaY * 0.002, ev.clientX - r.left, ev.clientY - r.top);
    }, { passive: false });
    let start = null;
    svg.addEventListener("pointerdown", (ev) => {
      start = { x: ev.clientX, y: ev.clientY, vx: view.x, vy: view.y };
      dragged = false;
    });
    svg.addEventListener("pointermove", (ev) => {
      if (!start) return;
      const dx = ev.clientX - start.x, dy = ev.clientY - start.y;
      if (!dragged && Math.abs(dx) + Math.abs(dy) < 4) return;
      if (!dragged) { dragged = true; svg.setPointerCapture(ev.pointerId); svg.classList.add("dragging"); }
      const s = viewport().s;
      view.x = start.vx - dx / s;
      view.y = start.vy - dy / s;
      schedule();
    });
    const stop = () => {
      start = null;
      svg.classList.remove("dragging");
      setTimeout(() => { dragged = false; }, 0);
    };
    svg.addEventListener("pointerup", stop);
    svg.addEventListener("pointercancel", stop);
    svg.addEventListener("dblclick", (ev) => {
      const r = svg.getBoundingClientRect();
      zoomAt(view.zoom + 1, ev.clientX - r.left, ev.clientY - r.top);
    });
    svg.addEventListener("click", () => { if (!dragged) popup.hidden = true; });
    document.addEventListener("keydown", (ev) => { if (ev.key === "Escape") popup.hidden = true; });
    window.addEventListener("resize", schedule);
  }

  function main() {
    const data = JSON.parse(document.getElementById("map-data").textContent);
    drawJurisdictions(data);
    drawShared(data);
    drawRoutes(data);
    drawSites(data);
    drawLegend(data);
    const routeBoxes = data.routes.filter((r) => r.box).map((r) => [r.box[0], r.box[1], r.box[2], r.box[3]]);
    const sitePoints = drawn.filter((d) => d.kind === "site").map((d) => [d.at[0], d.at[1]]);
    data.box = box(routeBoxes.concat(sitePoints));
    if (!isFinite(data.box[0])) data.box = box(drawn.filter((d) => d.rings).flatMap((d) => d.rings));
    fit(data.box);
    bindControls(data);
    render();
    const routes = layer.routes.querySelectorAll("path.route").length;
    const sites = layer.sites.querySelectorAll("[data-site]").length;
    const jurisdictions = layer.jurisdictions.querySelectorAll("path.jurisdiction").length;
    const missing = data.routes.length - routes;
    status.textContent = "Drawn: " + routes + " routes, " + sites + " sites, " + jurisdictions
      + " jurisdictions crossed" + (missing ? "; " + missing + " demand(s) without a route" : "") + "."
      + ((data.shared || []).length ? " Dark bands: build shared by several demands (paid once)." : "");
    status.dataset.routes = routes;
    status.dataset.sites = sites;
    status.dataset.jurisdictions = jurisdictions;
    status.dataset.ready = "1";
  }

  try {
    main();
  } catch (err) {
    status.textContent = "Map error: " + err.message;
    status.dataset.error = err.message;
  }
})();
"""
