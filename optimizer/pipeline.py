"""One scenario end to end: geodata -> graph -> routes, timed; shared by the CLI and service."""

from __future__ import annotations

import glob
import hashlib
import json
import time
from collections.abc import Callable
from dataclasses import fields
from pathlib import Path

from optimizer import __version__
from optimizer.geodata import load_geodata
from optimizer.graph import Network, build_graph
from optimizer.penalties import penalized
from optimizer.routes import Route, Solution, check_demand_names, solve_demands
from optimizer.scenario import Scenario

__all__ = ["run_digest", "scenario_network", "solve_scenario"]


def scenario_network(scenario: Scenario) -> tuple[Network, float, float]:
    """The scenario's network, with its names checked before the build and its penalty areas
    applied, and the load and build times (s)."""
    t0 = time.perf_counter()
    layers = load_geodata(scenario.geodata)
    check_demand_names(  # before the graph is built: a misspelt site costs no build
        scenario.demands,
        layers.sites["site_id"],
        layers.jurisdictions["jurisdiction_id"],
        layers.corridors,
        areas=layers.areas,
        where=f"scenario {scenario.path.name}: ",
    )
    t1 = time.perf_counter()
    network = penalized(build_graph(layers, settings=scenario.settings), scenario.penalty_areas)
    return network, t1 - t0, time.perf_counter() - t1


def solve_scenario(
    scenario: Scenario, *, on_route: Callable[[Route], None] | None = None
) -> tuple[Solution, Network]:
    """Load, build and solve one scenario in process."""
    network, load_s, graph_s = scenario_network(scenario)
    t2 = time.perf_counter()
    routes, design = solve_demands(
        network,
        scenario.demands,
        options=scenario.solver,
        on_route=on_route,
        shared_build=scenario.shared_build,
    )
    t3 = time.perf_counter()
    timings = {"load": round(load_s, 3), "graph": round(graph_s, 3), "solve": round(t3 - t2, 3)}
    return Solution(scenario.name, routes, network.stats.as_dict(), timings, design), network


def run_digest(scenario: Scenario) -> str:
    """Identity of a run: scenario text, software version and the geodata files' stamps."""
    h = hashlib.sha256(f"{scenario.digest}|{__version__}".encode())
    resolved = {  # what the scenario resolved to, a geodata set's own defaults file included
        "settings": {f.name: getattr(scenario.settings, f.name) for f in fields(scenario.settings)},
        "cost_per_km_by_kind": scenario.geodata.cost_per_km_by_kind,
        "permit_cost_by_level": scenario.geodata.permit_cost_by_level,
    }
    h.update(
        json.dumps(
            resolved, sort_keys=True, default=lambda v: dict(v) if hasattr(v, "items") else list(v)
        ).encode()
    )
    for layer in sorted(scenario.geodata.sources):
        for src in scenario.geodata.sources[layer]:
            for path in _data_files(src.path):
                h.update(f"{layer}|{path.name}|".encode())
                h.update(hashlib.sha256(path.read_bytes()).digest())
    return h.hexdigest()


def _data_files(path: Path) -> list[Path]:
    """A layer file with its sidecars (a shapefile's .dbf, .shx, .prj, .cpg ...)."""
    if not path.exists():
        return []
    return sorted(p for p in path.parent.glob(f"{glob.escape(path.stem)}.*") if p.is_file())
