"""The design engine beside independent exact peers, on the same generated instances, in one run.

  python bench/design_peers.py [--quick] [--time-limit S] [--peer-time-limit S] [--family NAME ...]

Families (instances from tests/peers.py, the peers the tests compare against):
  pairs     2 diverse routes (EDGE and NODE) between a far pair on 64 jittered grids of 169 to
            ~20,000 edges, latency bound not binding, vs OR-Tools SimpleMinCostFlow
  steiner   one route from a hub to each of 3-12 terminals (a Steiner tree, loose bounds) on
            grids of 75 to ~5,000 edges, vs the multicommodity MIP (scipy milp, HiGHS)
  binding   2 diverse routes (EDGE, NODE, SRLG) under a bound that the cheapest pair breaks,
            150 to 1,500 edges, vs the same MIP with k diverse routes
Prints a table per family (engine and peer time, their ratio, whether the costs agree and the
engine's routes check out from their edges), then the median, p90 and max of the ratios, and
writes everything to bench/results/design_peers.json.  --quick runs a small subset: 8 of the
grids, the 6 smallest Steiner instances, the 3 smallest binding pairs.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import statistics
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # tests/peers.py lives in the tests package

from optimizer.design import solve_design  # noqa: E402
from optimizer.problem import DesignResult, EdgeArrays, RouteStatus, SolverOptions  # noqa: E402
from tests.peers import (  # noqa: E402
    PeerDemand,
    binding_pair,
    design_demands,
    design_problems,
    hub_demands,
    loose_pair,
    mip_for,
    same_cost,
)

RESULTS = ROOT / "bench" / "results" / "design_peers.json"


@dataclass(frozen=True)
class Row:
    """One instance: what the engine and the peer answered, and how long each took."""

    family: str
    instance: str
    edges: int
    size: str  # terminals or k
    engine_status: str
    engine_s: float
    engine_cost: float
    peer: str
    peer_status: str
    peer_s: float
    peer_solve_s: float
    peer_cost: float
    verdict: str  # "yes", "both infeasible", or what disagrees

    @property
    def ratio(self) -> float:
        return self.engine_s / self.peer_s if self.peer_s > 0 else math.inf


@dataclass(frozen=True)
class Case:
    """A generated instance and how to get the peer's answer (status, cost, solve s, total s)."""

    family: str
    instance: str
    size: str
    arrays: EdgeArrays
    demands: list[PeerDemand]
    peer: str
    answer: Callable[[], tuple[str, float, float, float]]


# --- instances ------------------------------------------------------------------------------


def pair_cases(quick: bool) -> Iterator[Case]:
    """64 grids, 169 to ~20,000 edges, EDGE and NODE pairs (8 of them, every 9th, when quick)."""
    sizes = np.geomspace(169, 20000, 64).round().astype(int)
    for i, n_edges in enumerate(sizes):
        if quick and i % 9:
            continue
        for kind in ("edge", "node"):
            arrays, demand, flow = loose_pair(int(n_edges), 100 + i, 2, kind)
            status = "INFEASIBLE" if flow.cost is None else "OPTIMAL"
            cost = math.nan if flow.cost is None else flow.cost
            answer = (status, cost, flow.solve_s, flow.total_s)
            yield Case(
                "pairs",
                f"grid{i:02d}-{kind}",
                "k=2",
                arrays,
                [demand],
                "SimpleMinCostFlow",
                lambda a=answer: a,
            )


def steiner_cases(quick: bool, peer_limit_s: float) -> Iterator[Case]:
    """16 hub-and-terminals instances, 75 to ~5,000 edges, 3 to 12 terminals."""
    sizes = np.geomspace(75, 5000, 16).round().astype(int)
    for i, n_edges in enumerate(sizes):
        if quick and i >= 6:
            break
        terminals = 3 + (i * 7) % 10  # every count 3..12, spread over the sizes
        arrays, demands = hub_demands(int(n_edges), terminals, 200 + i)
        yield Case(
            "steiner",
            f"steiner{i:02d}",
            f"{terminals}t",
            arrays,
            demands,
            "MIP (HiGHS)",
            _mip(arrays, demands, peer_limit_s),
        )


def binding_cases(quick: bool, peer_limit_s: float) -> Iterator[Case]:
    """12 diverse pairs under binding bounds, 150 to 1,500 edges, EDGE, NODE and SRLG in turn."""
    sizes = np.geomspace(150, 1500, 12).round().astype(int)
    for i, n_edges in enumerate(sizes):
        if quick and i >= 3:
            break
        kind = ("edge", "node", "srlg")[i % 3]
        arrays, demand = binding_pair(
            int(n_edges), 300 + i, 2, kind, groups=int(n_edges) // 6 if kind == "srlg" else 0
        )
        yield Case(
            "binding",
            f"binding{i:02d}-{kind}",
            "k=2",
            arrays,
            [demand],
            "MIP (HiGHS)",
            _mip(arrays, [demand], peer_limit_s),
        )


def _mip(
    arrays: EdgeArrays, demands: list[PeerDemand], limit_s: float
) -> Callable[[], tuple[str, float, float, float]]:
    def answer() -> tuple[str, float, float, float]:
        mip = mip_for(arrays, demands, limit_s)
        return mip.status, mip.cost, mip.solve_s, mip.total_s

    return answer


# --- running and comparing ------------------------------------------------------------------


def verdict(case: Case, result: DesignResult | None, peer_status: str, peer_cost: float) -> str:
    """Whether the engine's answer agrees with the peer's and checks out from its edges."""
    if result is None:
        return "engine error"
    status = result.status.value
    if peer_status == "INFEASIBLE" or status == "INFEASIBLE":
        return "both infeasible" if peer_status == status else f"NO: engine {status}, peer {peer_status}"
    if result.status is RouteStatus.UNSOLVED:
        return "engine unsolved"
    problems = design_problems(case.arrays, case.demands, result)
    if problems:
        return f"INVALID: {problems[0]}"
    if peer_status != "OPTIMAL":
        return f"peer {peer_status}"
    if same_cost(result.cost, peer_cost):
        return "yes"
    if status == "FEASIBLE" and result.cost > peer_cost:
        return "engine not yet optimal"
    return f"NO: engine {result.cost:.9g}, peer {peer_cost:.9g}"


def run_case(case: Case, options: SolverOptions) -> Row:
    """The engine, then the peer, on one instance."""
    started = time.perf_counter()
    try:
        result = solve_design(case.arrays, design_demands(case.demands), options=options)
        engine_status, engine_cost = result.status.value, result.cost
    except Exception as error:  # the engine is under development: report, carry on
        result, engine_status, engine_cost = None, f"ERROR {type(error).__name__}: {error}"[:60], math.nan
    engine_s = time.perf_counter() - started
    peer_status, peer_cost, peer_solve_s, peer_s = case.answer()
    return Row(
        case.family,
        case.instance,
        case.arrays.n_edges,
        case.size,
        engine_status,
        engine_s,
        engine_cost,
        case.peer,
        peer_status,
        peer_s,
        peer_solve_s,
        peer_cost,
        verdict(case, result, peer_status, peer_cost),
    )


HEADER = (
    f"{'instance':<18} {'edges':>6} {'size':>4} {'engine':<10} {'engine s':>9} {'peer s':>9} {'ratio':>8}"
    "  cost equal?"
)


def print_row(row: Row) -> None:
    print(
        f"{row.instance:<18} {row.edges:>6} {row.size:>4} {row.engine_status:<10.10} {row.engine_s:>9.3f} "
        f"{row.peer_s:>9.3f} {row.ratio:>8.2f}  {row.verdict}",
        flush=True,
    )


def summary(rows: list[Row]) -> dict[str, float | int]:
    """Median, p90 and max of engine/peer time, and how many answers agreed."""
    ratios = sorted(r.ratio for r in rows)
    return {
        "cases": len(rows),
        "agree": sum(r.verdict in ("yes", "both infeasible") for r in rows),
        "median_ratio": statistics.median(ratios),
        "p90_ratio": ratios[min(len(ratios) - 1, math.ceil(0.9 * len(ratios)) - 1)],
        "max_ratio": ratios[-1],
        "engine_total_s": sum(r.engine_s for r in rows),
        "peer_total_s": sum(r.peer_s for r in rows),
    }


def run_family(name: str, cases: Iterator[Case], options: SolverOptions) -> dict:
    print(f"\n== {name} ==\n{HEADER}")
    rows = []
    for case in cases:
        rows.append(run_case(case, options))
        print_row(rows[-1])
    stats = summary(rows)
    print(
        f"-- {name}: {stats['agree']}/{stats['cases']} agree; engine/peer time ratio median "
        f"{stats['median_ratio']:.2f}, p90 {stats['p90_ratio']:.2f}, max {stats['max_ratio']:.2f}; "
        f"engine {stats['engine_total_s']:.1f} s, peer {stats['peer_total_s']:.1f} s in all"
    )
    return {
        "peer": rows[0].peer if rows else "",
        "summary": stats,
        "rows": [asdict(r) | {"ratio": r.ratio} for r in rows],
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="a small subset of every family")
    parser.add_argument("--time-limit", type=float, default=60.0, help="engine time limit per case, s")
    parser.add_argument(
        "--peer-time-limit", type=float, default=300.0, help="MIP peer time limit per case, s"
    )
    parser.add_argument(
        "--family", action="append", choices=["pairs", "steiner", "binding"], help="only these"
    )
    args = parser.parse_args(argv)
    options = SolverOptions(time_limit_s=args.time_limit)
    families = {
        "pairs": lambda: pair_cases(args.quick),
        "steiner": lambda: steiner_cases(args.quick, args.peer_time_limit),
        "binding": lambda: binding_cases(args.quick, args.peer_time_limit),
    }
    chosen = args.family or list(families)
    report = {
        "generated": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": {"python": platform.python_version(), "platform": platform.platform(), "cpus": _cpus()},
        "quick": args.quick,
        "engine_time_limit_s": args.time_limit,
        "peer_time_limit_s": args.peer_time_limit,
        "families": {name: run_family(name, families[name](), options) for name in chosen},
    }
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(_plain(report), indent=1, allow_nan=False))
    print(f"\nwrote {RESULTS.relative_to(ROOT)}")
    return 0


def _cpus() -> int:
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 0


def _plain(value):
    """The report as strict JSON: NaN and infinities as null, numpy scalars as numbers."""
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


if __name__ == "__main__":
    sys.exit(main())
