"""Design benchmarks (diverse routes, shared build, frontier) on the sample and the US rail test bed.

  python bench/design.py [TIME_LIMIT_S]   # both suites; us-rail is skipped without ../shared
Prints solve times, statuses and gaps: the figures behind the README's Performance section.
"""

from __future__ import annotations

import sys
import tempfile
import time
from pathlib import Path

from optimizer.config import GraphSettings
from optimizer.geodata import load_geodata
from optimizer.graph import Network, build_graph
from optimizer.problem import SolverOptions
from optimizer.routes import Demand, solve_demand, solve_demands, solve_frontier
from optimizer.scenario import load_scenario
from optimizer.testbeds import us_rail_spec

ROOT = Path(__file__).resolve().parents[1]
US = ROOT.parent / "shared" / "data" / "us"
US_SITES = {  # lon, lat of datacenter metros
    "CHI": (-87.97, 42.00),
    "DAL": (-96.73, 32.95),
    "ATL": (-84.39, 33.76),
    "NYC": (-74.01, 40.71),
    "DEN": (-104.99, 39.74),
    "IAD": (-77.49, 39.04),
    "KCY": (-94.58, 39.10),
    "STL": (-90.20, 38.63),
}
US_DEMANDS = (  # a, b, one-way bound (ms): 1.31-1.60x the fastest rail route
    ("CHI", "DAL", 9.5),
    ("CHI", "NYC", 11.0),
    ("CHI", "ATL", 8.5),
    ("KCY", "DEN", 6.5),
    ("STL", "DAL", 8.0),
    ("IAD", "ATL", 7.5),
)


def _report(label: str, routes, design, seconds: float) -> None:
    """One line per demand and the design's total, bound and gap."""
    print(f"-- {label}: {seconds:.2f} s")
    for r in routes:
        figures = f"{r.latency_ms:7.3f} ms {r.cost:>14,.0f}" if r.geometry is not None else r.reason
        print(f"   {r.demand_id:<10} #{r.route_index} {r.status.value:<10} {figures}")
    if design is not None:
        print(
            f"   union cost {design.cost:,.0f}; bound {design.bound:,.0f}; gap {design.gap:.3%}; "
            f"independent {design.independent_cost:,.0f}"
        )


def sample_suite() -> None:
    """The sample: the diverse pair, the shared-build scenario, a frontier."""
    scenario = load_scenario(ROOT / "geodata" / "sample" / "scenario.yaml")
    network = build_graph(load_geodata(scenario.geodata), settings=scenario.settings)
    pair = next(d for d in scenario.demands if d.paths > 1)
    started = time.perf_counter()
    routes = solve_demand(network, pair, options=scenario.solver)
    _report(f"sample diverse pair {pair.id}", routes, None, time.perf_counter() - started)
    shared = load_scenario(ROOT / "geodata" / "sample" / "shared-build.yaml")
    started = time.perf_counter()
    routes, design = solve_demands(network, shared.demands, options=shared.solver, shared_build=True)
    _report(
        f"sample shared build ({len(shared.demands)} demands)", routes, design, time.perf_counter() - started
    )
    started = time.perf_counter()
    frontier = solve_frontier(network, scenario.demands[0], options=scenario.solver)
    print(
        f"-- sample frontier {scenario.demands[0].id}: {len(frontier.points)} points, "
        f"complete {frontier.complete}, {time.perf_counter() - started:.2f} s"
    )


def us_network(tmp: Path) -> Network:
    """Natural Earth railroads with Census states and counties and the metro sites."""
    sites = tmp / "sites.csv"
    sites.write_text("site_id,lon,lat\n" + "".join(f"{k},{x},{y}\n" for k, (x, y) in US_SITES.items()))
    return build_graph(load_geodata(us_rail_spec(US, sites)), settings=GraphSettings(gap_km=0.5))


def us_suite(time_limit_s: float) -> None:
    """Six demands, two SRLG-diverse routes each, designed alone and as one shared build."""
    if not US.exists():
        print(f"-- us-rail skipped: {US} not found (../shared beside the repository)")
        return
    with tempfile.TemporaryDirectory() as tmp:
        started = time.perf_counter()
        network = us_network(Path(tmp))
        print(
            f"-- us-rail graph: {network.stats.nodes} nodes, {network.stats.edges} edges, "
            f"{time.perf_counter() - started:.2f} s"
        )
    demands = [Demand(f"{a.lower()}-{b.lower()}", a, b, ms, paths=2) for a, b, ms in US_DEMANDS]
    options = SolverOptions(time_limit_s=time_limit_s)
    started = time.perf_counter()
    routes, design = solve_demands(network, demands, options=options)
    _report("us-rail 6 demands x 2 diverse, each alone", routes, design, time.perf_counter() - started)
    started = time.perf_counter()
    routes, design = solve_demands(network, demands, options=options, shared_build=True)
    _report("us-rail 6 demands x 2 diverse, shared build", routes, design, time.perf_counter() - started)


if __name__ == "__main__":
    sample_suite()
    us_suite(float(sys.argv[1]) if len(sys.argv) > 1 else 300.0)
