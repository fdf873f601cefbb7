"""Service overhead: Optimize over loopback gRPC against the same solve in process, and the
throughput of 8 concurrent clients, on the embedded sample (timed in one process)."""

from __future__ import annotations

import statistics
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from pathlib import Path

from optimizer.client import connect
from optimizer.geodata import load_geodata
from optimizer.graph import build_graph
from optimizer.routes import solve_demands
from optimizer.scenario import load_scenario
from optimizer.server import create_server

ROOT = Path(__file__).resolve().parents[1]
REPEATS = 7
CLIENTS = 8
CALLS_PER_CLIENT = 4


def service_suite() -> dict:
    """Median in-process and gRPC times for the sample scenario, and concurrent throughput."""
    scenario = load_scenario(ROOT / "geodata" / "sample" / "scenario.yaml")
    single = tuple(d for d in scenario.demands if d.paths == 1)  # the single-route demands
    scenario = replace(scenario, demands=single)
    network = build_graph(load_geodata(scenario.geodata), settings=scenario.settings)
    local = []
    for _ in range(REPEATS):
        started = time.perf_counter()
        solve_demands(network, scenario.demands, options=scenario.solver)
        local.append(time.perf_counter() - started)
    running = create_server(ROOT / "geodata", port=0, host="localhost")
    try:
        target = f"localhost:{running.port}"
        with connect(target, timeout_s=120) as client:
            network_id = client.load_geodata(scenario.geodata, settings=scenario.settings).network_id
            remote = []
            for _ in range(REPEATS):
                started = time.perf_counter()
                client.optimize(network_id, scenario.demands, solver=scenario.solver)
                remote.append(time.perf_counter() - started)

        def client_loop(_: int) -> int:
            with connect(target, timeout_s=300) as c:
                for _ in range(CALLS_PER_CLIENT):
                    c.optimize(network_id, scenario.demands, solver=scenario.solver)
            return CALLS_PER_CLIENT

        started = time.perf_counter()
        with ThreadPoolExecutor(CLIENTS) as pool:
            calls = sum(pool.map(client_loop, range(CLIENTS)))
        wall = time.perf_counter() - started
    finally:
        running.stop(0)
    return {
        "suite": "service",
        "demands_per_call": len(scenario.demands),
        "in_process_median_s": statistics.median(local),
        "grpc_median_s": statistics.median(remote),
        "grpc_over_in_process": statistics.median(remote) / statistics.median(local),
        "clients": CLIENTS,
        "calls": calls,
        "calls_per_s": calls / wall,
        "demands_per_s": calls * len(scenario.demands) / wall,
    }
