"""The cost-latency frontier of one demand, swept exactly from the cheapest to the fastest design."""

from __future__ import annotations

import math
import time
from dataclasses import replace

from optimizer.design import solve_design
from optimizer.model import stopped_by_caller
from optimizer.problem import (
    COST_RELATIVE_TOLERANCE,
    LATENCY_TOLERANCE_MS,
    DesignDemand,
    EdgeArrays,
    FrontierPoint,
    FrontierResult,
    RouteStatus,
    SolverOptions,
)

__all__ = ["FRONTIER_STEP_MS", "cost_latency_frontier"]

FRONTIER_STEP_MS = 2 * LATENCY_TOLERANCE_MS
"""Each next point must be faster than the last by more than this (2 ns); finer steps merge."""


def cost_latency_frontier(
    arrays: EdgeArrays,
    demand: DesignDemand,
    *,
    options: SolverOptions | None = None,
    max_points: int | None = None,
) -> FrontierResult:
    """Every Pareto-optimal (cost, slowest-route latency) design of the demand, fastest first.

    Epsilon-constraint sweep: the cheapest design with no latency bound, then the cheapest
    strictly faster than the last, until none is; each step is an exact solve_design.  The
    demand's own max_latency_ms is ignored; every other constraint holds at every point.
    """
    options = options or SolverOptions()
    started = time.perf_counter()
    usable = arrays.tail != arrays.head
    if demand.query.edge_allowed is not None:
        usable &= demand.query.edge_allowed
    bound_ms = float(arrays.latency_ms[usable].sum()) + 1.0  # above any simple route
    points: list[FrontierPoint] = []
    complete, reason = True, ""
    while True:
        if max_points is not None and len(_pareto(points)) >= max_points:
            complete, reason = False, f"stopped at max_points={max_points}; faster designs may exist"
            break
        left = options.time_limit_s - (time.perf_counter() - started)
        if left <= 0 or (options.stop is not None and options.stop.is_set()):
            complete, reason = False, _cut_short(options, len(points))
            break
        step = replace(demand, query=replace(demand.query, max_latency_ms=bound_ms))
        # Only the first step explains an infeasible demand; later ones end the sweep.
        result = solve_design(
            arrays, [step], options=replace(options, time_limit_s=left), diagnose=not points
        )
        status = result.demand_status[0]
        if status is RouteStatus.INFEASIBLE:
            if not points:
                reason = result.demand_reason[0]
            break
        if status is not RouteStatus.OPTIMAL:
            complete, reason = False, _cut_short(options, len(points))
            break
        routes = result.routes[0]
        slowest = max(r.latency_ms for r in routes)
        points.append(FrontierPoint(cost=result.cost, latency_ms=slowest, routes=routes))
        bound_ms = slowest - FRONTIER_STEP_MS
        if bound_ms <= 0:
            break
    return FrontierResult(points=_pareto(points), complete=complete, reason=reason)


def _cut_short(options: SolverOptions, found: int) -> str:
    """Why the sweep ended before the fastest design."""
    if stopped_by_caller(options.stop):
        return f"stopped (cancelled or past the deadline) after {found} points"
    return f"time limit {options.time_limit_s:g} s reached after {found} points"


def _pareto(points: list[FrontierPoint]) -> tuple[FrontierPoint, ...]:
    """Points no other beats on both cost and latency, fastest first.

    A sweep step that ties on cost with a later, faster design is dropped: with several
    routes, the cost-optimal design of least total latency need not have the least slowest one.
    """
    ordered = sorted(points, key=lambda p: (p.latency_ms, p.cost))
    kept: list[FrontierPoint] = []
    best_cost = math.inf
    for p in ordered:
        if p.cost < best_cost * (1 - COST_RELATIVE_TOLERANCE) - COST_RELATIVE_TOLERANCE:
            kept.append(p)
            best_cost = p.cost
    return tuple(kept)
