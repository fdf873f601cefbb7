"""Scale benchmark: the nationwide network and synthetic networks of 10^4 to 10^6 edges.

  python bench/scale.py [--sizes 10000,100000,1000000] [--demands 50] [--work-dir DIR]

Suites (us-nationwide is skipped with a reason when ../shared/data/us is absent):
  us-nationwide    Natural Earth railroads + Internet Atlas existing fiber, Census states and
                   counties, US PeeringDB facilities as sites (optimizer.testbeds)
  synthetic-N      a seeded perturbed-grid network of about N edges (optimizer.synthetic), written
                   as a GeoPackage and read back through the ordinary loader
Each suite runs in a fresh subprocess: load, build, then a batch of site-pair demands, each at
1.3x the pair's fastest latency and solved with optimizer.solve.solve_route (as a demand: no route
through another site), timed against one plain scipy Dijkstra (cost) from the same source in the
same process. A batch starts no new solve after its budget (BATCH_BUDGET_S; each solve has
SOLVE_TIME_LIMIT_S), and says in its note how many demands that left out. peak_rss_mb is the
subprocess's peak resident memory (VmHWM) read right after the build, so it covers imports, load
and build (not the solves); synthetic geodata is generated in a subprocess of its own. Writes
bench/results/scale.json.
"""

from __future__ import annotations

import argparse
import json
import platform
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pyproj
import scipy.sparse as sp
from floor import cheapest_arcs_matrix, floor_matrix, floor_s
from scipy.sparse.csgraph import dijkstra

from optimizer.config import GraphSettings
from optimizer.geodata import GeodataSpec, load_geodata, spec_from_path
from optimizer.graph import Network, build_graph
from optimizer.problem import RouteResult, SolverOptions
from optimizer.routes import Demand, demand_query
from optimizer.solve import solve_route
from optimizer.synthetic import SyntheticPlan, write_synthetic
from optimizer.testbeds import nationwide_counts, us_nationwide_spec

ROOT = Path(__file__).resolve().parents[1]
US = ROOT.parent / "shared" / "data" / "us"
RESULTS = ROOT / "bench" / "results" / "scale.json"
NATIONWIDE = "us-nationwide"
LATENCY_SLACK = 1.3
MIN_PAIR_KM = 200.0
"""Demand pairs are at least this far apart (great circle), so every route is long-haul."""
SOLVE_TIME_LIMIT_S = 30.0
BATCH_BUDGET_S = {NATIONWIDE: 240.0, "synthetic": 120.0}
"""Wall time after which a suite's batch starts no new solve (the demands left are counted in
the note); a solve started runs to its own time limit. Keeps the whole run near 10 minutes."""
PAIR_SEED = 0
_SOURCES_PER_BATCH = 10
_GEOD = pyproj.Geod(ellps="WGS84")


def scale_suites(
    shared_us: Path,
    work_dir: Path,
    *,
    sizes: tuple[int, ...] = (10_000, 100_000, 1_000_000),
    demands: int = 50,
) -> list[dict]:
    """Run the nationwide suite (when shared_us exists) and one synthetic suite per size, each in
    a fresh subprocess; one result dict per suite."""
    work_dir.mkdir(parents=True, exist_ok=True)
    results = []
    if (shared_us / "internet_atlas_edges.csv").exists():
        results.append(_in_subprocess(["--suite", NATIONWIDE], shared_us, work_dir, demands))
    else:
        print(f"{NATIONWIDE} skipped: {shared_us} not found", file=sys.stderr)
    for size in sizes:
        generated = _in_subprocess(["--generate", str(size)], shared_us, work_dir, demands)
        entry = _in_subprocess(["--suite", f"synthetic-{size}"], shared_us, work_dir, demands)
        results.append({**entry, "generate_s": generated["generate_s"]})
    return results


def _in_subprocess(args: list[str], shared_us: Path, work_dir: Path, demands: int) -> dict:
    """Run this script on one task in a fresh interpreter and return the dict it wrote."""
    out = work_dir / f"result-{args[1]}.json"
    out.unlink(missing_ok=True)
    command = [sys.executable, __file__, *args, "--shared-us", str(shared_us), "--work-dir", str(work_dir)]
    command += ["--demands", str(demands), "--out", str(out)]
    subprocess.run(command, check=True, cwd=ROOT)
    return json.loads(out.read_text())


def _synthetic_path(work_dir: Path, size: int) -> Path:
    """Where the synthetic network of a size is written."""
    return work_dir / f"synthetic-{size}.gpkg"


def _generate(size: int, work_dir: Path) -> dict:
    """Write the synthetic network of a size; how long that took."""
    started = time.perf_counter()
    write_synthetic(SyntheticPlan(size), _synthetic_path(work_dir, size))
    return {"generate_s": round(time.perf_counter() - started, 3)}


def _suite_spec(suite: str, shared_us: Path, work_dir: Path) -> tuple[GeodataSpec, GraphSettings, dict]:
    """Geodata spec, graph settings and extra facts of a suite."""
    if suite == NATIONWIDE:
        spec = us_nationwide_spec(shared_us, work_dir / "us")
        return spec, GraphSettings(gap_km=0.5), nationwide_counts(shared_us, work_dir / "us")
    size = int(suite.removeprefix("synthetic-"))
    return spec_from_path(_synthetic_path(work_dir, size)), GraphSettings(), {"target_edges": size}


def run_suite(suite: str, shared_us: Path, work_dir: Path, demands: int) -> dict:
    """Load, build and solve a batch of demands on one suite, in this process."""
    rss_before_mb = _peak_rss_mb()
    spec, settings, facts = _suite_spec(suite, shared_us, work_dir)
    started = time.perf_counter()
    layers = load_geodata(spec)
    load_s = time.perf_counter() - started
    network = build_graph(layers, settings=settings)
    entry = {
        "suite": suite,
        "load_s": round(load_s, 3),
        "build_s": network.stats.build_s,
        "nodes": network.stats.nodes,
        "edges": network.stats.edges,
        "components": network.stats.components,
        "sites": len(network.site_node),
        "peak_rss_mb": round(_peak_rss_mb()),
        "rss_at_start_mb": round(rss_before_mb),
        "peak_rss_method": "VmHWM of a fresh subprocess after imports + load + build",
        **facts,
    }
    del layers
    budget_s = BATCH_BUDGET_S[NATIONWIDE if suite == NATIONWIDE else "synthetic"]
    entry.update(solve_batch(network, demands, budget_s=budget_s))
    return entry


def _peak_rss_mb() -> float:
    """Peak resident memory of this process so far: VmHWM, which starts afresh at exec (Linux
    keeps ru_maxrss across exec, so a subprocess of a big parent would report the parent's)."""
    status = Path("/proc/self/status")
    if status.exists():
        for line in status.read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024  # kB
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux


def solve_batch(
    network: Network, count: int, *, budget_s: float, time_limit_s: float = SOLVE_TIME_LIMIT_S
) -> dict:
    """Solve count site pairs at LATENCY_SLACK x their fastest latency, timed against the floor."""
    started = time.perf_counter()
    pairs, fastest = demand_pairs(network, count)
    pick_s = time.perf_counter() - started
    floor_graph = floor_matrix(network.arrays)
    times, ratios, statuses, runs = [], [], [], []
    batch_started = time.perf_counter()
    options = SolverOptions(time_limit_s=time_limit_s)
    for (a, b), fastest_ms in zip(pairs, fastest, strict=True):
        if time.perf_counter() - batch_started >= budget_s:
            break
        demand = Demand(f"{a}-{b}", a, b, max_latency_ms=fastest_ms * LATENCY_SLACK)
        query = demand_query(network, demand)
        solve_started = time.perf_counter()
        result = solve_route(network.arrays, query, options=options)
        elapsed = time.perf_counter() - solve_started
        base_s = floor_s(floor_graph, query.source)
        times.append(elapsed)
        ratios.append(elapsed / max(base_s, 1e-6))
        statuses.append(result.status.value)
        runs.append(_run_record(demand, fastest_ms, result, elapsed, base_s))
    entry = {
        "instances": len(times),
        "optimal_matches": None,
        "mismatches": None,
        "unsolved": len(times) - statuses.count("OPTIMAL"),
        "statuses": {s: statuses.count(s) for s in sorted(set(statuses))},
        "median_s": round(statistics.median(times), 4) if times else None,
        "p90_s": round(float(np.percentile(times, 90)), 4) if times else None,
        "max_s": round(max(times), 4) if times else None,
        "floor_ratio_median": round(statistics.median(ratios), 1) if ratios else None,
        "batch_s": round(time.perf_counter() - batch_started, 2),
        "pair_pick_s": round(pick_s, 2),
        "solve_time_limit_s": time_limit_s,
        "batch_budget_s": budget_s,
        "runs": runs,
    }
    notes = []
    if len(pairs) < count:
        notes.append(f"only {len(pairs)} connected site pairs >= {MIN_PAIR_KM:g} km apart were found")
    if len(times) < len(pairs):
        notes.append(
            f"solved {len(times)} of {len(pairs)} demands: the batch starts no solve after {budget_s:g} s"
        )
    entry["note"] = "; ".join(notes)
    return entry


def _run_record(
    demand: Demand, fastest_ms: float, result: RouteResult, solve_s: float, floor_s: float
) -> dict:
    """One solve of the batch, for the JSON (not the table)."""
    return {
        "a": demand.a,
        "b": demand.b,
        "fastest_ms": round(fastest_ms, 4),
        "max_latency_ms": round(demand.max_latency_ms, 4),
        "status": result.status.value,
        "solve_s": round(solve_s, 4),
        "floor_s": round(floor_s, 5),
        "gap": None if np.isnan(result.gap) else round(float(result.gap), 6),
        "arcs_model": result.stats.get("arcs_model"),
    }


def demand_pairs(network: Network, count: int) -> tuple[list[tuple[str, str]], list[float]]:
    """count site pairs (seeded, the same for the same network), each connected and at least
    MIN_PAIR_KM apart, with their fastest latency (no route through another site)."""
    names = sorted(s for s in network.site_node if s not in network.unreachable)
    node = np.array([network.site_node[s] for s in names], dtype=np.int64)
    lonlat = network.node_lonlat[node]
    rng = np.random.default_rng(PAIR_SEED)
    draws = rng.integers(0, len(names), size=(40 * count, 2)) if len(names) > 1 else np.zeros((0, 2), int)
    draws = draws[draws[:, 0] != draws[:, 1]]
    _, _, metres = _GEOD.inv(*lonlat[draws[:, 0]].T, *lonlat[draws[:, 1]].T)
    draws = draws[metres >= MIN_PAIR_KM * 1000.0]
    draws = draws[np.sort(np.unique(np.sort(draws, axis=1), axis=0, return_index=True)[1])]
    graph = _latency_graph(network)
    pairs, fastest = [], []
    for k in range(0, len(draws), _SOURCES_PER_BATCH):  # a Dijkstra per source, a few at a time
        batch = draws[k : k + _SOURCES_PER_BATCH]
        sources, where = np.unique(node[batch[:, 0]], return_inverse=True)
        dist = dijkstra(graph, directed=True, indices=sources)
        for (i, j), row in zip(batch, where.ravel(), strict=True):
            ms = float(dist[row, network.arrays.n_nodes + node[j]])
            if np.isfinite(ms) and len(pairs) < count:
                pairs.append((names[i], names[j]))
                fastest.append(ms)
        if len(pairs) >= count:
            break
    return pairs, fastest


def _latency_graph(network: Network) -> sp.csr_array:
    """Directed latency graph where no path passes through a site: each site leaves by node s and
    is reached at a copy n + s (laterals run out of s, into its copy)."""
    a = network.arrays
    n, n_sites = a.n_nodes, len(network.site_node)
    tail, head, ms = a.tail, a.head, a.latency_ms
    at_site = (tail < n_sites) | (head < n_sites)
    site = np.where(tail < n_sites, tail, head)[at_site]
    other = np.where(tail < n_sites, head, tail)[at_site]
    rows = np.concatenate([tail[~at_site], head[~at_site], site, other])
    cols = np.concatenate([head[~at_site], tail[~at_site], other, n + site])
    weights = np.concatenate([ms[~at_site], ms[~at_site], ms[at_site], ms[at_site]])
    return cheapest_arcs_matrix(rows, cols, weights, n + n_sites)


COLUMNS = (
    "suite",
    "load_s",
    "build_s",
    "nodes",
    "edges",
    "peak_rss_mb",
    "instances",
    "unsolved",
    "median_s",
    "p90_s",
    "max_s",
    "floor_ratio_median",
)


def print_table(entries: list[dict]) -> None:
    """The results as a Markdown table, notes below."""
    print("| " + " | ".join(COLUMNS) + " |")
    print("|" + "|".join(" --- " for _ in COLUMNS) + "|")
    for e in entries:
        print("| " + " | ".join(_fmt(e.get(c)) for c in COLUMNS) + " |")
    for e in entries:
        if e.get("note"):
            print(f"{e['suite']}: {e['note']}")


def _fmt(value: object) -> str:
    """A table cell."""
    if isinstance(value, float):
        return f"{value:.4g}"
    return f"{value:,}" if isinstance(value, int) else str(value)


def main(argv: list[str] | None = None) -> int:
    """Run every suite (or, with --suite / --generate, one task in this process)."""
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--sizes", default="10000,100000,1000000", help="synthetic edge counts")
    parser.add_argument("--demands", type=int, default=50)
    parser.add_argument("--shared-us", type=Path, default=US)
    parser.add_argument("--work-dir", type=Path, default=None, help="default: a temporary folder")
    parser.add_argument("--suite", help=argparse.SUPPRESS)
    parser.add_argument("--generate", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--out", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.suite or args.generate:
        entry = (
            _generate(args.generate, args.work_dir)
            if args.generate
            else run_suite(args.suite, args.shared_us, args.work_dir, args.demands)
        )
        args.out.write_text(json.dumps(entry, indent=2) + "\n")
        return 0
    sizes = tuple(int(s) for s in args.sizes.split(",") if s)
    with tempfile.TemporaryDirectory(prefix="fiberopt-scale-") as tmp:
        work_dir = args.work_dir or Path(tmp)
        started = time.perf_counter()
        entries = scale_suites(args.shared_us, work_dir, sizes=sizes, demands=args.demands)
        total_s = time.perf_counter() - started
    print_table(entries)
    print(f"total {total_s:.0f} s")
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(
        json.dumps(
            {
                "machine": platform.platform(),
                "python": platform.python_version(),
                "total_s": round(total_s, 1),
                "suites": entries,
            },
            indent=2,
        )
        + "\n"
    )
    print(f"wrote {RESULTS.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
