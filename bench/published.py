"""Published latency-bounded shortest path instances with known optima, through solve_route.

Suites (each skipped with a reason when ../shared/data/benchmarks is absent):
  orlib-rcsp        OR-Library RCSP 1-24 (Beasley and Christofides 1989); rcsp14 is infeasible
  dimacs-ny         DIMACS 9th challenge New York, 460 weight-constrained queries, first-arc
                    convention, against the published optima
  dimacs-ny-multi   the same queries on the multigraph (every parallel arc kept), against the
                    independently verified multigraph optima
  naive-cpsat       the same CP-SAT route model over the whole graph, without pruning, capped

Every solve is timed against the floor: one plain scipy.sparse.csgraph Dijkstra from the same
source on the same graph (cost weights), timed in the same process right after it.
"""

from __future__ import annotations

import csv
import statistics
import time
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np
import scipy.sparse as sp
from floor import floor_matrix, floor_s

from optimizer.benchmarks import WcsppQuery, load_dimacs_graph, load_rcsp, load_wcspp_queries
from optimizer.model import build_route_model, solve_route_model
from optimizer.problem import EdgeArrays, RouteQuery, RouteResult, RouteStatus, SolverOptions
from optimizer.prune import PrunedArcs
from optimizer.solve import solve_route

BENCHMARKS = Path(__file__).resolve().parents[2] / "shared" / "data" / "benchmarks"
OPTIONS = SolverOptions(time_limit_s=60.0, tie_break_latency=False)
"""Benchmarks ask for the least cost only; ties need no second look."""
NAIVE_CAP_S = 20.0


def timed_solve(
    arrays: EdgeArrays, query: RouteQuery, matrix: sp.csr_array
) -> tuple[RouteResult, float, float]:
    """The solver's result, its wall time and the floor's time for the same source."""
    started = time.perf_counter()
    result = solve_route(arrays, query, options=OPTIONS)
    return result, time.perf_counter() - started, floor_s(matrix, query.source)


def summary(suite: str, rows: Sequence[dict], **extra: object) -> dict:
    """One results entry: counts, time percentiles and the median floor ratio."""
    times = [r["solve_s"] for r in rows]
    ratios = [r["solve_s"] / max(r["floor_s"], 1e-9) for r in rows if "floor_s" in r]
    entry = {
        "suite": suite,
        "instances": len(rows),
        "optimal_matches": sum(r["match"] for r in rows),
        "mismatches": sum(not r["match"] and r["proven"] for r in rows),
        "unsolved": sum(not r["proven"] for r in rows),
        "median_s": statistics.median(times) if times else None,
        "p90_s": float(np.percentile(times, 90)) if times else None,
        "max_s": max(times) if times else None,
        "floor_ratio_median": statistics.median(ratios) if ratios else None,
        "floor_median_s": statistics.median(r["floor_s"] for r in rows) if ratios else None,
    }
    entry.update(extra)
    bad = [r["name"] for r in rows if not r["match"]]
    if bad:
        entry["not_matched"] = bad[:20]
    return entry


def rcsp_suite(root: Path = BENCHMARKS) -> tuple[dict, list[dict]]:
    """OR-Library RCSP 1-24 against optimal_values.csv; rows kept for the naive baseline."""
    folder = root / "orlib_rcsp"
    with (folder / "optimal_values.csv").open(newline="") as f:
        known = {row["instance"]: row for row in csv.DictReader(f)}
    rows = []
    for number in range(1, 25):
        instance = load_rcsp(folder / f"rcsp{number}.txt")
        row = known[instance.name]
        result, solve_s, base_s = timed_solve(instance.arrays, instance.query, floor_matrix(instance.arrays))
        proven = result.status in (RouteStatus.OPTIMAL, RouteStatus.INFEASIBLE)
        if row["status"] == "INFEASIBLE":
            match = result.status is RouteStatus.INFEASIBLE
        else:
            match = result.status is RouteStatus.OPTIMAL and result.cost == float(row["optimal_cost"])
        rows.append(
            {"name": instance.name, "solve_s": solve_s, "floor_s": base_s, "match": match, "proven": proven}
        )
    return summary("orlib-rcsp", rows), rows


def ny_suite(
    *, first_arc: bool, root: Path = BENCHMARKS, limit: int | None = None, progress: Callable | None = None
) -> dict:
    """The 460 NY queries against their known optima under one arc convention."""
    folder = root / "dimacs9"
    load_started = time.perf_counter()
    arrays = load_dimacs_graph(
        folder / "USA-road-d.NY.gr.gz", folder / "USA-road-t.NY.gr.gz", first_arc=first_arc
    )
    _ = arrays.graph  # Dijkstra structure, built once per graph like a server's loaded network
    load_s = time.perf_counter() - load_started
    queries = load_wcspp_queries(folder / "ny_wcspp_verified.csv")[:limit]
    matrix = floor_matrix(arrays)
    rows = []
    for q in queries:
        known = q.first_arc_opt if first_arc else q.multigraph_opt
        result, solve_s, base_s = timed_solve(arrays, _query(q), matrix)
        proven = result.status is RouteStatus.OPTIMAL
        row = {
            "name": q.name,
            "solve_s": solve_s,
            "floor_s": base_s,
            "match": proven and result.cost == known,
            "proven": proven,
            "cost": result.cost,
            "published": q.published_opt,
        }
        rows.append(row)
        if progress:
            progress(row)
    suite = "dimacs-ny" if first_arc else "dimacs-ny-multi"
    extra = {"nodes": arrays.n_nodes, "arcs": arrays.n_edges, "load_s": round(load_s, 3)}
    if first_arc:
        extra["published_matches"] = sum(r["proven"] and r["cost"] == r["published"] for r in rows)
    else:
        extra["below_first_arc"] = sum(q.multigraph_opt < q.first_arc_opt for q in queries)
    return summary(suite, rows, **extra)


def _query(q: WcsppQuery) -> RouteQuery:
    """A NY query as a route query: travel time is the latency resource."""
    return RouteQuery(q.source, q.target, max_latency_ms=float(q.budget), source_name=str(q.source + 1))


def naive_suite(rcsp_rows: Sequence[dict], root: Path = BENCHMARKS, ny_queries: int = 1) -> dict:
    """CP-SAT over every arc, no pruning, capped at NAIVE_CAP_S: RCSP 1-24 and a few NY queries."""
    rows = []
    folder = root / "orlib_rcsp"
    for number, ours in zip(range(1, 25), rcsp_rows, strict=True):
        instance = load_rcsp(folder / f"rcsp{number}.txt")
        rows.append(_naive_row(instance.arrays, instance.query, ours["solve_s"], instance.name))
    ny = root / "dimacs9"
    arrays = load_dimacs_graph(ny / "USA-road-d.NY.gr.gz", ny / "USA-road-t.NY.gr.gz", first_arc=True)
    for q in load_wcspp_queries(ny / "ny_wcspp_verified.csv")[:ny_queries]:
        started = time.perf_counter()
        solve_route(arrays, _query(q), options=OPTIONS)
        rows.append(_naive_row(arrays, _query(q), time.perf_counter() - started, q.name))
    finished = [r for r in rows if r["finished"]]
    ratios = [r["naive_s"] / max(r["ours_s"], 1e-9) for r in finished]
    return {
        "suite": "naive-cpsat",
        "instances": len(rows),
        "optimal_matches": None,
        "mismatches": None,
        "unsolved": len(rows) - len(finished),
        "median_s": statistics.median(r["naive_s"] for r in rows),
        "p90_s": float(np.percentile([r["naive_s"] for r in rows], 90)),
        "max_s": max(r["naive_s"] for r in rows),
        "floor_ratio_median": None,
        "cap_s": NAIVE_CAP_S,
        "naive_over_pruned_median": statistics.median(ratios) if ratios else None,
        "unfinished": [r["name"] for r in rows if not r["finished"]],
    }


def _naive_row(arrays: EdgeArrays, query: RouteQuery, ours_s: float, name: str) -> dict:
    """One unpruned CP-SAT solve: every arc but those into the source or out of the target."""
    started = time.perf_counter()
    graph = arrays.graph
    keep = (graph.head != query.source) & (graph.tail != query.target)
    arcs = PrunedArcs(graph.edge[keep], graph.tail[keep], graph.head[keep], int(keep.sum()))
    model = build_route_model(arrays, query, arcs)
    left = NAIVE_CAP_S - (time.perf_counter() - started)
    outcome = solve_route_model(model, options=OPTIONS, time_limit_s=left) if left > 0 else None
    finished = outcome is not None and outcome.status in (RouteStatus.OPTIMAL, RouteStatus.INFEASIBLE)
    return {"name": name, "naive_s": time.perf_counter() - started, "ours_s": ours_s, "finished": finished}


def available(root: Path = BENCHMARKS) -> str | None:
    """None when the benchmark data is there, else why the suites are skipped."""
    if not (root / "orlib_rcsp").is_dir() or not (root / "dimacs9").is_dir():
        return f"published suites skipped: {root} not found"
    return None


def print_row(row: dict) -> None:
    """Progress line for a slow or unmatched query."""
    if row["solve_s"] > 3 or not row["match"]:
        print(f"  {row['name']}: {row['solve_s']:.2f} s, match {row['match']}", flush=True)
