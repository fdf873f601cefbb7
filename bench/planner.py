"""Planner-scale shared builds (issue 13): up to 32 demands designed together on the US rail test bed.

  python bench/planner.py [--cases 8,16] [--all] [--engine portfolio|mip|cp-sat] [--seed N]

The test bed is bench/design.py's: Natural Earth railroads with Census states and counties
(../shared/data/us beside the repository; skipped when absent), here with about 26 datacenter
metros as sites (those the rail network cannot reach are dropped).  Demands are seeded pairs of
those sites at least MIN_PAIR_KM apart, each bounded by a factor drawn in FACTOR_RANGE times the
pair's fastest latency; the N-demand case takes the first N of the list.  Each case is one
shared-build design (optimizer.design.solve_design, as solve_demands(shared_build=True) runs
it, called directly for the engine's stats).

Cases (name: demands x routes per demand, time limit):
  8      8 x 1,  60 s        16x2   16 x 2 SRLG-diverse, 300 s
  16    16 x 1,  60 s        32x2   32 x 2 SRLG-diverse, 300 s (only with --all or --cases 32x2)
  32    32 x 1, 300 s
Prints a table (status overall and per demand, union cost, bound, gap, unsolved demands, wall
time, model sizes, which engine proved, phase times) and any inconsistency found in a result;
writes bench/results/planner.json.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import random
import sys
import tempfile
import time
from collections import Counter
from dataclasses import dataclass
from datetime import UTC, datetime
from importlib.metadata import version
from pathlib import Path

from optimizer.config import GraphSettings
from optimizer.design import solve_design, union_cost
from optimizer.geodata import load_geodata
from optimizer.graph import Network, build_graph
from optimizer.problem import (
    COST_RELATIVE_TOLERANCE,
    DESIGN_ENGINES,
    LATENCY_TOLERANCE_MS,
    DesignResult,
    RouteStatus,
    SolverOptions,
)
from optimizer.prune import evaluate_path, route_bounds
from optimizer.routes import Demand, design_demand
from optimizer.solve import relative_gap
from optimizer.testbeds import us_rail_spec

ROOT = Path(__file__).resolve().parents[1]
US = ROOT.parent / "shared" / "data" / "us"
RESULTS = ROOT / "bench" / "results" / "planner.json"
SITES = {  # lon, lat of datacenter metros
    "SEA": (-122.33, 47.61),
    "PDX": (-122.68, 45.52),
    "SFO": (-122.42, 37.77),
    "SJC": (-121.89, 37.34),
    "LAX": (-118.24, 34.05),
    "PHX": (-112.07, 33.45),
    "SLC": (-111.89, 40.76),
    "DEN": (-104.99, 39.74),
    "DAL": (-96.73, 32.95),
    "HOU": (-95.37, 29.76),
    "SAT": (-98.49, 29.42),
    "KCY": (-94.58, 39.10),
    "OMA": (-95.94, 41.26),
    "MSP": (-93.27, 44.98),
    "CHI": (-87.97, 42.00),
    "STL": (-90.20, 38.63),
    "MEM": (-90.05, 35.15),
    "ATL": (-84.39, 33.76),
    "BNA": (-86.78, 36.16),
    "CMH": (-83.00, 39.96),
    "IAD": (-77.49, 39.04),
    "NYC": (-74.01, 40.71),
    "BOS": (-71.06, 42.36),
    "CLT": (-80.84, 35.23),
    "JAX": (-81.66, 30.33),
    "MIA": (-80.19, 25.76),
}
N_DEMANDS = 32
MIN_PAIR_KM = 300.0
FACTOR_RANGE = (1.2, 1.3)
EARTH_RADIUS_KM = 6371.0088
STAT_KEYS = (  # DesignResult.stats shown in the table, in this order
    "arcs_model",
    "mip_columns",
    "mip_rows",
    "tree_columns",
    "engine_mip_proved",
    "engine_cp-sat_proved",
    "independent_s",
    "prune_s",
    "model_s",
    "solve_s",
)
STATUS_LETTER = {RouteStatus.OPTIMAL: "O", RouteStatus.FEASIBLE: "F", RouteStatus.INFEASIBLE: "I"}
STATUS_LETTER[RouteStatus.UNSOLVED] = "U"


@dataclass(frozen=True)
class Case:
    """One shared-build design: the first `demands` demands, `paths` diverse routes each."""

    name: str
    demands: int
    paths: int
    time_limit_s: float
    only_with_all: bool = False


CASES = (
    Case("8", 8, 1, 60.0),
    Case("16", 16, 1, 60.0),
    Case("32", 32, 1, 300.0),
    Case("16x2", 16, 2, 300.0),
    Case("32x2", 32, 2, 300.0, only_with_all=True),
)


@dataclass(frozen=True)
class Pair:
    """A seeded demand: two sites, their great-circle distance, fastest latency and the bound."""

    a: str
    b: str
    km: float
    fastest_ms: float
    factor: float

    @property
    def id(self) -> str:
        return f"{self.a.lower()}-{self.b.lower()}"

    @property
    def bound_ms(self) -> float:
        return self.factor * self.fastest_ms


def great_circle_km(p: tuple[float, float], q: tuple[float, float]) -> float:
    """Haversine distance between two lon/lat points."""
    lon1, lat1, lon2, lat2 = map(math.radians, (*p, *q))
    h = math.sin((lat2 - lat1) / 2) ** 2 + math.cos(lat1) * math.cos(lat2) * math.sin((lon2 - lon1) / 2) ** 2
    return 2 * EARTH_RADIUS_KM * math.asin(math.sqrt(h))


def us_network(tmp: Path) -> Network:
    """Natural Earth railroads with Census states and counties and the metro sites (as bench/design.py)."""
    sites = tmp / "sites.csv"
    sites.write_text("site_id,lon,lat\n" + "".join(f"{k},{x},{y}\n" for k, (x, y) in SITES.items()))
    return build_graph(load_geodata(us_rail_spec(US, sites)), settings=GraphSettings(gap_km=0.5))


def fastest_ms(network: Network, a: str, b: str) -> float:
    """Least latency of any route a-b over the edges its demand may use (inf: disconnected).

    A bound too tight for any route makes route_bounds search latency without limit and stop."""
    query = design_demand(network, Demand("fastest", a, b, 1e-9)).query
    return float(route_bounds(network.arrays, query).fastest_ms)


def seeded_pairs(network: Network, sites: list[str], seed: int, count: int) -> list[Pair]:
    """count distinct site pairs >= MIN_PAIR_KM apart in seeded order, connected ones only."""
    rng = random.Random(seed)
    candidates = [
        (a, b)
        for i, a in enumerate(sites)
        for b in sites[i + 1 :]
        if great_circle_km(SITES[a], SITES[b]) >= MIN_PAIR_KM
    ]
    rng.shuffle(candidates)
    pairs: list[Pair] = []
    for a, b in candidates:
        if len(pairs) == count:
            break
        if rng.random() < 0.5:  # either end first
            a, b = b, a
        factor = rng.uniform(*FACTOR_RANGE)
        fastest = fastest_ms(network, a, b)
        if math.isfinite(fastest):
            pairs.append(Pair(a, b, great_circle_km(SITES[a], SITES[b]), fastest, factor))
        else:
            print(f"   pair {a}-{b} skipped: no rail route")
    return pairs


def check(network: Network, demands: list[Demand], result: DesignResult) -> list[str]:
    """Inconsistencies in one design result, in words (empty when none is found)."""
    problems = []
    cost, bound, gap = result.cost, result.bound, result.gap
    statuses = result.demand_status
    unsolved = sum(s is RouteStatus.UNSOLVED for s in statuses)
    if unsolved != result.unsolved_demands:
        problems.append(f"unsolved_demands {result.unsolved_demands} but {unsolved} demands UNSOLVED")
    if result.status is RouteStatus.OPTIMAL and gap != 0:  # NaN too
        problems.append(f"status OPTIMAL with gap {gap}")
    if result.status is RouteStatus.OPTIMAL and any(
        s not in (RouteStatus.OPTIMAL, RouteStatus.INFEASIBLE) for s in statuses
    ):
        problems.append("status OPTIMAL with a demand neither OPTIMAL nor INFEASIBLE")
    if result.status is RouteStatus.FEASIBLE and gap == 0:
        problems.append("status FEASIBLE with gap 0")
    if math.isfinite(bound) and math.isfinite(cost) and bound > cost * (1 + COST_RELATIVE_TOLERANCE) + 1e-6:
        problems.append(f"bound {bound:,.2f} above cost {cost:,.2f}")
    if result.unsolved_demands and not math.isnan(gap):
        problems.append(f"{result.unsolved_demands} demands unsolved yet gap {gap}")
    if math.isfinite(gap) and math.isfinite(bound) and abs(gap - relative_gap(cost, bound)) > 1e-9:
        problems.append(f"gap {gap:.6%} but (cost - bound) / cost is {relative_gap(cost, bound):.6%}")
    if math.isfinite(result.independent_cost) and cost > result.independent_cost * (1 + 1e-9) + 1e-6:
        problems.append(
            f"union cost {cost:,.0f} above the independent designs' {result.independent_cost:,.0f}"
        )
    found = []
    for demand, routes, status in zip(demands, result.routes, statuses, strict=True):
        has = status in (RouteStatus.OPTIMAL, RouteStatus.FEASIBLE)
        if has != bool(routes):
            problems.append(f"{demand.id}: status {status.value} with {len(routes)} routes")
        if routes and len(routes) != demand.paths:
            problems.append(f"{demand.id}: {len(routes)} routes, {demand.paths} asked")
        for r in routes:
            if r.latency_ms > demand.max_latency_ms + LATENCY_TOLERANCE_MS:
                problems.append(
                    f"{demand.id}: route {r.latency_ms:.4f} ms over bound {demand.max_latency_ms:.4f}"
                )
            found.append(evaluate_path(network.arrays, r.nodes[0], r.edges))
        if len(routes) > 1:
            ends = {network.site_node[demand.a], network.site_node[demand.b]}
            edges = [set(r.edges) for r in routes]
            inner = [set(r.nodes[1:-1]) - ends for r in routes]
            own = design_demand(network, demand)
            site_own = set(own.source_nodes) | set(own.target_nodes)  # junctions a site lies on
            for i in range(len(routes)):
                for j in range(i):
                    if edges[i] & edges[j]:
                        problems.append(
                            f"{demand.id}: routes {j} and {i} share edges {sorted(edges[i] & edges[j])}"
                        )
                    if shared := (inner[i] & inner[j]) - site_own:
                        problems.append(f"{demand.id}: routes {j} and {i} share nodes {sorted(shared)}")
    recomputed = union_cost(network.arrays, found)
    if found and abs(recomputed - cost) > 1e-6 * max(cost, 1.0):
        problems.append(f"union cost {cost:,.2f}, recomputed from the routes {recomputed:,.2f}")
    return problems


def cross_check(rows: list[dict]) -> list[str]:
    """Nested cases: a design of more demands (or more routes per demand), every demand routed,
    costs at least the proven bound of a design it contains."""
    problems = []
    for big in rows:
        if big["demand_status"].get("OPTIMAL", 0) + big["demand_status"].get("FEASIBLE", 0) < big["demands"]:
            continue
        for small in rows:
            contained = small["demands"] <= big["demands"] and small["paths"] <= big["paths"]
            if small is big or not contained or not math.isfinite(small["bound"]):
                continue
            if big["cost"] < small["bound"] * (1 - 1e-9) - 1e-6:
                problems.append(
                    f"case {big['case']} costs {big['cost']:,.0f}, below the bound {small['bound']:,.0f} "
                    f"proven for case {small['case']}, which it contains"
                )
    return problems


def solve_case(network: Network, case: Case, pairs: list[Pair], engine: str) -> dict:
    """One shared-build design of the case's demands, with its figures and any inconsistency."""
    demands = [Demand(p.id, p.a, p.b, p.bound_ms, paths=case.paths) for p in pairs[: case.demands]]
    options = SolverOptions(time_limit_s=case.time_limit_s, design_engine=engine)
    load_before = os.getloadavg()
    started = time.perf_counter()
    design = [design_demand(network, d) for d in demands]
    result = solve_design(network.arrays, design, options=options)
    wall_s = time.perf_counter() - started
    counts = Counter(s.value for s in result.demand_status)
    row = {
        "case": case.name,
        "demands": len(demands),
        "paths": case.paths,
        "diversity": "srlg" if case.paths > 1 else None,
        "time_limit_s": case.time_limit_s,
        "engine": engine,
        "status": result.status.value,
        "demand_status": dict(sorted(counts.items())),
        "cost": result.cost,
        "bound": result.bound,
        "gap": result.gap,
        "independent_cost": result.independent_cost,
        "unsolved_demands": result.unsolved_demands,
        "wall_s": wall_s,
        "load_before": load_before,
        "load_after": os.getloadavg(),
        "stats": dict(result.stats),
        "per_demand": [
            {
                "id": d.id,
                "status": s.value,
                "reason": why,
                "routes": [{"latency_ms": r.latency_ms, "cost": r.cost, "edges": len(r.edges)} for r in rs],
            }
            for d, s, why, rs in zip(
                demands, result.demand_status, result.demand_reason, result.routes, strict=True
            )
        ],
    }
    row["problems"] = check(network, demands, result)
    return row


def _money(value: float) -> str:
    """Millions with one decimal, or the non-finite value."""
    return f"{value / 1e6:,.1f}M" if math.isfinite(value) else str(value)


def _stat(stats: dict, key: str) -> str:
    """A stat for the table: counts as integers, times in seconds, '-' when absent."""
    if key not in stats:
        return "-"
    value = stats[key]
    return f"{value:.1f}" if key.endswith("_s") else f"{value:.0f}"


def print_table(rows: list[dict]) -> None:
    """One line per case, then each case's problems."""
    head = ["case", "d x r", "status", "per demand", "cost", "bound", "gap", "unslv", "wall s"]
    short = {"engine_mip_proved": "mip_ok", "engine_cp-sat_proved": "cp_ok", "independent_s": "indep_s"}
    head += [short.get(k, k) for k in STAT_KEYS]
    lines = [head]
    for row in rows:
        per = " ".join(f"{STATUS_LETTER[RouteStatus(k)]}{v}" for k, v in row["demand_status"].items())
        gap = f"{row['gap']:.3%}" if math.isfinite(row["gap"]) else "nan"
        lines.append(
            [
                row["case"],
                f"{row['demands']} x {row['paths']}",
                row["status"],
                per,
                _money(row["cost"]),
                _money(row["bound"]),
                gap,
                str(row["unsolved_demands"]),
                f"{row['wall_s']:.1f}",
                *(_stat(row["stats"], k) for k in STAT_KEYS),
            ]
        )
    widths = [max(len(line[i]) for line in lines) for i in range(len(head))]
    for line in lines:
        print(
            "  ".join(
                cell.rjust(w) if i > 3 else cell.ljust(w)
                for i, (cell, w) in enumerate(zip(line, widths, strict=True))
            )
        )
    print(
        "   per demand: O optimal, F feasible, I infeasible, U unsolved; mip_ok / cp_ok: that engine proved"
    )
    for row in rows:
        for problem in row["problems"]:
            print(f"   !! case {row['case']}: {problem}")


def _json_safe(value):
    """NaN and infinities as strings (JSON has neither)."""
    if isinstance(value, float) and not math.isfinite(value):
        return str(value)
    if isinstance(value, dict):
        return {k: _json_safe(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_json_safe(v) for v in value]
    return value


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    names = [c.name for c in CASES]
    parser.add_argument(
        "--cases", help=f"comma-separated case names among {names} (default: all but --all's)"
    )
    parser.add_argument("--all", action="store_true", help="also run the cases only --all runs (32x2)")
    parser.add_argument("--engine", choices=DESIGN_ENGINES, default="portfolio")
    parser.add_argument("--seed", type=int, default=13, help="seed of the demand pairs and bounds")
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args(argv)
    if args.cases:
        wanted = [n.strip() for n in args.cases.split(",") if n.strip()]
        if unknown := [n for n in wanted if n not in names]:
            parser.error(f"unknown cases {unknown}; known: {names}")
        cases = [c for c in CASES if c.name in wanted]
    else:
        cases = [c for c in CASES if args.all or not c.only_with_all]
    if not US.exists():
        print(f"-- planner skipped: {US} not found (../shared/data beside the repository)")
        return 0
    print(f"-- load average before: {os.getloadavg()}")
    started = time.perf_counter()
    with tempfile.TemporaryDirectory() as tmp:
        network = us_network(Path(tmp))
    build_s = time.perf_counter() - started
    print(f"-- us-rail graph: {network.stats.nodes} nodes, {network.stats.edges} edges, {build_s:.1f} s")
    sites = [s for s in SITES if s not in network.unreachable]
    for s in SITES:
        if s in network.unreachable:
            print(f"   site {s} dropped: {network.unreachable[s]}")
    started = time.perf_counter()
    pairs = seeded_pairs(network, sites, args.seed, N_DEMANDS)
    print(
        f"-- {len(pairs)} demands from {len(sites)} sites, seed {args.seed}, "
        f"{time.perf_counter() - started:.1f} s:"
    )
    for p in pairs:
        print(
            f"   {p.id:<8} {p.km:6.0f} km  fastest {p.fastest_ms:7.3f} ms  "
            f"x{p.factor:.3f} = {p.bound_ms:7.3f} ms"
        )
    if len(pairs) < max(c.demands for c in cases):
        print(f"-- only {len(pairs)} connected pairs; cases are cut to that many demands")
    rows = []
    for case in cases:
        print(
            f"-- case {case.name}: {case.demands} demands x {case.paths}, "
            f"{case.time_limit_s:.0f} s, {args.engine}"
        )
        row = solve_case(network, case, pairs, args.engine)
        print(
            f"   {row['status']} {row['demand_status']} cost {_money(row['cost'])} "
            f"bound {_money(row['bound'])} "
            f"gap {row['gap']:.3%} in {row['wall_s']:.1f} s (load {row['load_after'][0]:.2f})"
        )
        rows.append(row)
    print()
    print_table(rows)
    for problem in cross_check(rows):
        print(f"   !! {problem}")
    report = {
        "when": datetime.now(UTC).isoformat(timespec="seconds"),
        "host": {"cpus": os.cpu_count(), "python": platform.python_version(), "ortools": version("ortools")},
        "engine": args.engine,
        "seed": args.seed,
        "graph": {**network.stats.as_dict(), "build_s": build_s},
        "sites": {s: SITES[s] for s in sites},
        "dropped_sites": {s: network.unreachable[s] for s in SITES if s in network.unreachable},
        "demands": [
            {"id": p.id, "a": p.a, "b": p.b, "km": p.km, "fastest_ms": p.fastest_ms, "factor": p.factor}
            | {"max_latency_ms": p.bound_ms}
            for p in pairs
        ],
        "cases": rows,
        "cross_check": cross_check(rows),
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(_json_safe(report), indent=2) + "\n")
    print(f"-- written {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
