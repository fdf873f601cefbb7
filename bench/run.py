"""Benchmarks: graph build and exact route solve against the Dijkstra floor, in one process.

Suites (each skipped with a reason when its data is absent):
  sample      the embedded sample: build time, then every site pair at 1.3x its fastest latency
  us-rail     Natural Earth railroads + Census states/counties (../shared/data/us): build, then
              site pairs among major metros
The floor is plain unconstrained Dijkstra (scipy.sparse.csgraph) on the same graph from the same
source, timed in the same process; ratios are solve time over floor time.
  service     Optimize over loopback gRPC against the same solve in process; 8-client throughput
  orlib-rcsp, dimacs-ny, dimacs-ny-multi, naive-cpsat
              published instances with known optima (bench/published.py)
  us-nationwide, synthetic-*
              geodata at scale: build time, peak memory, a batch of site-pair demands (bench/scale.py)
Writes bench/results/latest.json.  `python bench/run.py SUITE...` runs only the named suites
(a prefix selects several, e.g. `dimacs`).
"""

from __future__ import annotations

import itertools
import json
import os
import platform
import statistics
import sys
import time
from importlib.metadata import version
from pathlib import Path

import numpy as np

from optimizer.config import GraphSettings
from optimizer.geodata import GeodataSpec, load_geodata, spec_from_path
from optimizer.graph import Network, build_graph
from optimizer.problem import RouteQuery, SolverOptions
from optimizer.solve import solve_route
from optimizer.testbeds import us_rail_spec

sys.path.insert(0, str(Path(__file__).parent))  # bench/ is scripts, not a package
import published
from floor import floor_matrix, floor_s
from service import service_suite

ROOT = Path(__file__).resolve().parents[1]
US = ROOT.parent / "shared" / "data" / "us"
RESULTS = ROOT / "bench" / "results" / "latest.json"
LATENCY_SLACK = 1.3
US_METROS = {  # lon, lat of datacenter metros
    "CHI": (-87.97, 42.00),
    "DAL": (-96.73, 32.95),
    "ATL": (-84.39, 33.76),
    "NYC": (-74.01, 40.71),
    "LAX": (-118.24, 34.05),
    "SEA": (-122.33, 47.61),
    "DEN": (-104.99, 39.74),
    "IAD": (-77.49, 39.04),
    "PHX": (-112.07, 33.45),
    "KCY": (-94.58, 39.10),
}


def _solve_pairs(network: Network, sites: list[str]) -> dict:
    """Solve every site pair at LATENCY_SLACK x its fastest latency; time against the floor."""
    times, ratios, statuses = [], [], []
    matrix = floor_matrix(network.arrays)
    for a, b in itertools.combinations(sites, 2):
        if a in network.unreachable or b in network.unreachable:
            continue
        s, t = network.site_node[a], network.site_node[b]
        probe = solve_route(network.arrays, RouteQuery(s, t, max_latency_ms=1e9))
        if not probe.has_route:
            continue
        fastest = probe.stats["fastest_ms"]
        query = RouteQuery(s, t, max_latency_ms=fastest * LATENCY_SLACK)
        started = time.perf_counter()
        result = solve_route(network.arrays, query, options=SolverOptions(time_limit_s=60))
        elapsed = time.perf_counter() - started
        times.append(elapsed)
        ratios.append(elapsed / max(floor_s(matrix, s), 1e-6))
        statuses.append(result.status.value)
    return {
        "instances": len(times),
        "optimal_matches": None,  # no known optima: each is proven optimal by the solver
        "mismatches": None,
        "optimal": statuses.count("OPTIMAL"),
        "unsolved": len(times) - statuses.count("OPTIMAL"),
        "median_s": statistics.median(times) if times else None,
        "p90_s": float(np.percentile(times, 90)) if times else None,
        "max_s": max(times) if times else None,
        "floor_ratio_median": statistics.median(ratios) if ratios else None,
    }


def _us_spec(tmp: Path) -> GeodataSpec:
    """Railroads, Census states and counties, and metro sites."""
    sites = tmp / "us_sites.csv"
    sites.write_text("site_id,lon,lat\n" + "".join(f"{k},{x},{y}\n" for k, (x, y) in US_METROS.items()))
    return us_rail_spec(US, sites)


def _suite(name: str, spec: GeodataSpec, settings: GraphSettings) -> dict:
    """Load, build and solve all site pairs of one geodata set."""
    started = time.perf_counter()
    layers = load_geodata(spec)
    load_s = time.perf_counter() - started
    network = build_graph(layers, settings=settings)
    entry = {
        "suite": name,
        "load_s": round(load_s, 3),
        "build_s": network.stats.build_s,
        "nodes": network.stats.nodes,
        "edges": network.stats.edges,
    }
    entry.update(_solve_pairs(network, list(network.site_node)))
    return entry


COLUMNS = [
    "suite",
    "instances",
    "optimal_matches",
    "mismatches",
    "unsolved",
    "median_s",
    "p90_s",
    "max_s",
    "floor_ratio_median",
]


def _entries(wanted: list[str]) -> list[dict]:
    """Run the suites whose names start with one of wanted (all when empty)."""

    def want(name: str) -> bool:
        return not wanted or any(name.startswith(w) for w in wanted)

    entries = []
    if want("sample"):
        entries.append(_suite("sample", spec_from_path(ROOT / "geodata" / "sample"), GraphSettings()))
    if want("us-rail") and US.exists():
        tmp = ROOT / "bench" / "results"
        tmp.mkdir(parents=True, exist_ok=True)
        entries.append(_suite("us-rail", _us_spec(tmp), GraphSettings(gap_km=0.5)))
        (tmp / "us_sites.csv").unlink()
    elif want("us-rail"):
        print(f"us-rail skipped: {US} not found", file=sys.stderr)
    why = published.available()
    if why and (want("orlib") or want("dimacs") or want("naive")):
        print(why, file=sys.stderr)
    elif not why:
        rcsp_rows = []
        if want("orlib-rcsp") or want("naive"):
            rcsp, rcsp_rows = published.rcsp_suite()
            entries.append(rcsp)
        if want("dimacs-ny") and not any(w == "dimacs-ny-multi" for w in wanted):
            entries.append(published.ny_suite(first_arc=True, progress=published.print_row))
        if want("dimacs-ny-multi"):
            entries.append(published.ny_suite(first_arc=False, progress=published.print_row))
        if want("naive"):
            entries.append(published.naive_suite(rcsp_rows))
    if want("us-nationwide") or want("synthetic"):
        import scale  # written alongside; imported only when its suites run

        entries.extend(scale.scale_suites(US, ROOT / "bench" / "results" / "scale"))
    if want("service"):
        entries.append(service_suite())
    return entries


def main(argv: list[str]) -> int:
    """Run the suites, print a table, write the JSON results."""
    started = time.perf_counter()
    entries = _entries(argv)
    print(" ".join(f"{c:>18}" for c in COLUMNS))
    for e in entries:
        print(" ".join(f"{_fmt(e.get(c)):>18}" for c in COLUMNS))
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    if argv and RESULTS.exists():  # a partial run replaces its own suites and keeps the others
        ran = {e["suite"] for e in entries}
        kept = [e for e in json.loads(RESULTS.read_text())["suites"] if e["suite"] not in ran]
        entries = kept + entries
    RESULTS.write_text(
        json.dumps(
            {
                "machine": platform.platform(),
                "processor": platform.processor() or platform.machine(),
                "cpus": os.cpu_count(),
                "python": platform.python_version(),
                "ortools": version("ortools"),
                "scipy": version("scipy"),
                "wall_s": round(time.perf_counter() - started, 1),
                "suites": entries,
            },
            indent=2,
        )
        + "\n"
    )
    print(f"wrote {RESULTS.relative_to(ROOT)}")
    return 0


def _fmt(value: object) -> str:
    """A table cell."""
    return f"{value:.4f}" if isinstance(value, float) else str(value)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
