"""Exact designs: k diverse routes per demand, several demands sharing what they build.

Each demand is first solved on its own (single routes by the spine solver, diverse sets by
one CP-SAT model); those answers are the heuristic start and the upper bound.  Demands are then
pruned with exact bounds and designed together in one CP-SAT model whose objective is the cost
of the union: an edge or a permit used by several routes is paid once.

A call runs under one CallStop, set by the caller's stop or when the time limit runs out:
every phase polls it (and model builds between their steps), so a stopped call returns at
once with what it has: its best design so far (FEASIBLE with its bound) or UNSOLVED.
"""

from __future__ import annotations

import contextlib
import logging
import math
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace

import numpy as np
from ortools.sat.python import cp_model

from optimizer.design_mip import DesignMip, build_design_mip, solve_design_mip, start_values
from optimizer.design_model import (
    BuildStoppedError,
    DesignModel,
    Slot,
    build_design_model,
    hint_design,
    solve_design_model,
    split_values,
)
from optimizer.flows import diverse_flow, site_edges
from optimizer.model import CallStop, call_time_limit_s, hold_cost, stopped_by_caller
from optimizer.problem import (
    COST_RELATIVE_TOLERANCE,
    DESIGN_ENGINES,
    LATENCY_TOLERANCE_MS,
    MAX_PATHS,
    DesignDemand,
    DesignResult,
    Diversity,
    EdgeArrays,
    RouteQuery,
    RouteResult,
    RouteStatus,
    SolverOptions,
)
from optimizer.prune import (
    PathEval,
    PrunedArcs,
    RouteBounds,
    ShortestPathGraph,
    cost_ceiling,
    evaluate_path,
    is_feasible,
    lagrangian_paths,
    path_in_arcs,
    prune_arcs,
    route_bounds,
)
from optimizer.solve import (
    disconnected_reason,
    distinct_numbers,
    money,
    relative_gap,
    route_result,
    solve_route,
)

__all__ = ["solve_design", "union_cost"]

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class _Outcome:
    """One demand's (or one design's) routes with status, proof and reason."""

    status: RouteStatus
    routes: tuple[PathEval, ...] = ()
    bound: float = math.nan
    reason: str = ""
    single: RouteResult | None = None  # the spine solver's own result, for paths == 1


@dataclass(frozen=True, eq=False)
class _Bounds:
    """A demand's exact latency bounds and the cost distances used for pruning."""

    usable: np.ndarray
    lat_s: np.ndarray
    lat_t: np.ndarray
    lat_ok: np.ndarray
    fastest_ms: float
    cheapest: float
    route: RouteBounds


def solve_design(
    arrays: EdgeArrays,
    demands: Sequence[DesignDemand],
    *,
    options: SolverOptions | None = None,
    diagnose: bool = True,
) -> DesignResult:
    """Every demand's diverse routes at the least cost of their union, proven or with its gap.

    options.time_limit_s bounds the whole call.  With several demands, solving them one by one
    may use half of it (shared fairly), so the joint model keeps the rest.  diagnose=False
    skips the solves that explain an infeasible diverse demand (its reason is then short).
    """
    options = options or SolverOptions()
    started = time.perf_counter()
    if options.design_engine not in DESIGN_ENGINES:
        raise ValueError(
            f"design_engine must be one of {list(DESIGN_ENGINES)}, got {options.design_engine!r}"
        )
    for i, demand in enumerate(demands):
        _check_demand(arrays, demand, i)
    demands = [_without_idle_cap(arrays, d) for d in demands]
    with CallStop(options.stop, options.time_limit_s) as stop:
        return _solve_design(arrays, demands, replace(options, stop=stop), started, diagnose=diagnose)


def _solve_design(
    arrays: EdgeArrays,
    demands: Sequence[DesignDemand],
    options: SolverOptions,
    started: float,
    *,
    diagnose: bool,
) -> DesignResult:
    """solve_design for checked demands under the call's stop signal."""
    alone = _solve_each(arrays, demands, options, started, diagnose=diagnose)
    independent = union_cost(arrays, [r for o in alone for r in o.routes])
    found = [i for i, o in enumerate(alone) if o.routes]
    stats = {"independent_s": time.perf_counter() - started}
    if len(found) < 2:
        return _result(arrays, demands, alone, independent, None, stats)
    joint = _solve_joint(arrays, demands, alone, found, independent, _remaining(options, started), stats)
    stats["solve_s"] = time.perf_counter() - started
    return _result(arrays, demands, alone, independent, joint, stats)


def _solve_each(
    arrays: EdgeArrays,
    demands: Sequence[DesignDemand],
    options: SolverOptions,
    started: float,
    *,
    diagnose: bool,
) -> list[_Outcome]:
    """Every demand solved on its own: with several, within half the time limit, each demand a
    fair share of what is left (time one does not use goes to the next); a demand left
    without routes is retried once with half of all the time left."""
    several = len(demands) > 1
    share = 0.5 if several else 1.0
    solo = replace(options, on_incumbent=None) if several else options  # the joint model reports
    alone: list[_Outcome] = []
    for k, demand in enumerate(demands):
        if _halted(options):
            alone.append(_Outcome(RouteStatus.UNSOLVED, reason=_unsolved_reason(options)))
            continue
        left = share * options.time_limit_s - (time.perf_counter() - started)
        budget = replace(solo, time_limit_s=max(left / (len(demands) - k), 0.0))
        alone.append(_solve_alone(arrays, demand, budget, diagnose=diagnose))
    retry = [i for i, o in enumerate(alone) if o.status is RouteStatus.UNSOLVED]
    for n, i in enumerate(retry):
        left = _remaining(options, started).time_limit_s * (0.5 if several else 1.0)
        if left <= 0.05 or _halted(options):
            break
        again = _solve_alone(arrays, demands[i], replace(solo, time_limit_s=left / (len(retry) - n)))
        if again.routes or again.status is RouteStatus.INFEASIBLE:
            alone[i] = again
    return alone


def _remaining(options: SolverOptions, started: float) -> SolverOptions:
    """The options with the time left of the call's limit."""
    return replace(options, time_limit_s=max(options.time_limit_s - (time.perf_counter() - started), 0.0))


def _halted(options: SolverOptions) -> bool:
    """Whether the call was stopped (by its caller or its time limit): phases then return."""
    return options.stop is not None and options.stop.is_set()


def _without_idle_cap(arrays: EdgeArrays, demand: DesignDemand) -> DesignDemand:
    """The demand without a max_cost that no design can reach: at least every edge it may use
    and every permit together.  It cannot bind, and a huge one (1e15, 1e308) would be beyond
    the solvers' integer ranges."""
    max_cost = demand.query.max_cost
    if max_cost is None:
        return demand
    usable = arrays.tail != arrays.head
    if demand.query.edge_allowed is not None:
        usable = usable & demand.query.edge_allowed
    everything = float(arrays.cost[usable].sum()) + float(arrays.permit_cost.sum())
    if max_cost < everything:
        return demand
    return replace(demand, query=replace(demand.query, max_cost=None))


def _check_demand(arrays: EdgeArrays, demand: DesignDemand, index: int) -> None:
    """Reject a design demand the arrays cannot answer (programming errors, not user data)."""
    if arrays.directed or demand.query.max_resources is not None:
        raise ValueError(f"demands[{index}]: designs need an undirected graph and no extra resource limits")
    if not 1 <= demand.paths <= MAX_PATHS:
        raise ValueError(f"demands[{index}].paths must be in [1, {MAX_PATHS}], got {demand.paths}")
    if demand.conflicts is not None:
        c = demand.conflicts
        if c.ndim != 2 or c.shape[1] != 2 or (len(c) and (c.min() < 0 or c.max() >= arrays.n_edges)):
            raise ValueError(f"demands[{index}].conflicts must be (m, 2) edge ids")


def union_cost(arrays: EdgeArrays, routes: Sequence[PathEval]) -> float:
    """Cost of the distinct edges and distinct permit jurisdictions of the routes together."""
    if not routes:
        return 0.0
    edges = np.unique(np.concatenate([np.asarray(r.edges, dtype=np.int64) for r in routes]))
    juris = np.unique(np.concatenate([np.asarray(r.jurisdictions, dtype=np.int64) for r in routes]))
    return float(arrays.cost[edges].sum()) + float(arrays.permit_cost[juris].sum())


# --- one demand on its own ------------------------------------------------------------------


def _solve_alone(
    arrays: EdgeArrays, demand: DesignDemand, options: SolverOptions, *, diagnose: bool = True
) -> _Outcome:
    """A demand's optimal route set as if nothing else were built."""
    if _halted(options):
        return _Outcome(RouteStatus.UNSOLVED, reason=_unsolved_reason(options))
    if demand.paths == 1:
        result = solve_route(arrays, demand.query, options=options)
        routes = (evaluate_path(arrays, demand.query.source, result.edges),) if result.has_route else ()
        return _Outcome(result.status, routes, result.bound, result.reason, single=result)
    started = time.perf_counter()
    bounds = _bounds(arrays, demand.query)
    if isinstance(bounds, str):
        return _Outcome(RouteStatus.INFEASIBLE, bound=math.inf, reason=bounds)
    if bounds.fastest_ms > demand.query.max_latency_ms + LATENCY_TOLERANCE_MS and not diagnose:
        fastest, limit = distinct_numbers(bounds.fastest_ms, demand.query.max_latency_ms)
        reason = f"fastest possible route is {fastest} ms, bound is {limit} ms"
        return _Outcome(RouteStatus.INFEASIBLE, bound=math.inf, reason=reason)
    if bounds.fastest_ms > demand.query.max_latency_ms + LATENCY_TOLERANCE_MS:
        return _diagnosed(arrays, demand, bounds, options)
    if _separated(demand):
        outcome = _solve_alone_cp(arrays, demand, bounds, options, started)
    else:
        outcome = _solve_alone_flow(arrays, demand, bounds, options, started)
    if outcome.status is RouteStatus.INFEASIBLE and demand.fallback_least_shared:
        fallback = _least_shared(arrays, demand, bounds, _remaining(options, started))
        if fallback.status is not RouteStatus.INFEASIBLE:
            return fallback
    if outcome.status is RouteStatus.INFEASIBLE and not diagnose:
        reason = f"no {demand.paths} {_kind_words(demand)} routes meet the bounds"
        return _Outcome(RouteStatus.INFEASIBLE, bound=math.inf, reason=reason)
    if outcome.status is RouteStatus.INFEASIBLE:
        return _diagnosed(arrays, demand, bounds, _remaining(options, started))
    return outcome


def _least_shared(
    arrays: EdgeArrays, demand: DesignDemand, bounds: _Bounds, options: SolverOptions
) -> _Outcome:
    """The demand's routes sharing the least, when no fully diverse set exists."""
    from optimizer.least_shared import least_shared_routes  # it builds on this module

    slots = _open_slots(arrays, demand, bounds, demand.paths, demand.query.max_latency_ms)
    lower = bounds.cheapest + bounds.route.permit_least
    found = least_shared_routes(arrays, demand, slots, lower, options)
    reason = _unsolved_reason(options) if found.status is RouteStatus.UNSOLVED else ""
    return _Outcome(found.status, found.routes, found.bound, reason)


def _separated(demand: DesignDemand) -> bool:
    """Whether the demand keeps its routes apart by edge pairs (CP-SAT's strength)."""
    return demand.conflicts is not None and len(demand.conflicts) > 0


def _solve_alone_flow(
    arrays: EdgeArrays, demand: DesignDemand, bounds: _Bounds, options: SolverOptions, started: float
) -> _Outcome:
    """The k-unit min-cost flow over the latency-feasible edges; the MIP where its routes fall short.

    The flow is a relaxation (it ignores latency per route, permits, limits and SRLGs), so its
    cost plus the least permit cost of any route bounds every diverse set from below; when its
    routes meet every bound and pay no more, they are optimal.
    """
    flow = diverse_flow(arrays, demand, bounds.lat_ok, cost_floor=bounds.cheapest)
    if flow.count < demand.paths:
        return _Outcome(RouteStatus.INFEASIBLE, bound=math.inf)
    lower = flow.lower_bound + bounds.route.permit_least
    routes = [evaluate_path(arrays, demand.query.source, r) for r in flow.routes]
    start: list[PathEval] | None = routes if _set_feasible(arrays, demand, routes) else None
    if start is not None and relative_gap(union_cost(arrays, start), lower) <= COST_RELATIVE_TOLERANCE:
        return _Outcome(RouteStatus.OPTIMAL, tuple(start), union_cost(arrays, start))
    start = start or _greedy(arrays, demand, bounds)
    upper = union_cost(arrays, start) if start else math.inf
    arcs = _prune(arrays, demand, bounds, upper)
    slots = [Slot(0, p, demand.query.source, arcs) for p in range(demand.paths)]
    return _portfolio(arrays, [demand], slots, start, lower, _remaining(options, started))


def _solve_alone_cp(
    arrays: EdgeArrays, demand: DesignDemand, bounds: _Bounds, options: SolverOptions, started: float
) -> _Outcome:
    """One CP-SAT model of the demand's routes, kept apart by its too-close edge pairs."""
    start = _greedy(arrays, demand, bounds)
    upper = union_cost(arrays, start) if start else math.inf
    arcs = _prune(arrays, demand, bounds, upper)
    slots = [Slot(0, p, demand.query.source, arcs) for p in range(demand.paths)]
    try:
        design = build_design_model(arrays, [demand], slots, upper_bound=upper, stop=options.stop)
        if start:
            hint_design(design, [r.edges for r in start], stop=options.stop)
    except BuildStoppedError:
        return _interim(arrays, start, -math.inf, options)
    return _run(arrays, [demand], design, start, _remaining(options, started))


def _bounds(arrays: EdgeArrays, query: RouteQuery) -> _Bounds | str:
    """Latency from both ends, the latency-feasible edges and cost distances; or why none."""
    route = route_bounds(arrays, query, latency_limit=False)  # diagnosis reads latency beyond the bound
    if route.why == "disconnected":
        return disconnected_reason(arrays, query)
    usable = np.zeros(arrays.n_edges, dtype=bool)
    usable[route.usable.edge] = True
    lat_ok = np.zeros(arrays.n_edges, dtype=bool)
    if route.bounded is not None:
        lat_ok[route.bounded.edge] = True
    return _Bounds(usable, route.lat_s, route.lat_t, lat_ok, route.fastest_ms, route.cheapest, route)


def _prune(arrays: EdgeArrays, demand: DesignDemand, bounds: _Bounds, upper: float) -> PrunedArcs:
    """Arcs that can lie on one of the demand's routes in a design cheaper than upper.

    Any route P of the demand in such a design costs at most upper minus what its other
    paths - 1 routes cost at least: they are edge-disjoint from P and each costs at least the
    cheapest path (by edge cost) over the latency-feasible edges.  max_cost bounds the
    demand's own routes the same way.  Routes that may share a site's own edges are not
    disjoint, so no other route's cost is taken off then.
    """
    query = demand.query
    ceiling = upper if query.max_cost is None else min(upper, query.max_cost)
    if math.isfinite(ceiling):
        ceiling = ceiling - _other_routes(demand) * bounds.cheapest + 1e-12 * ceiling
    return prune_arcs(arrays, query, bounds.route, ceiling)


def _other_routes(demand: DesignDemand) -> int:
    """How many of a demand's routes besides one surely cost extra (edge-disjoint from it)."""
    return 0 if demand.source_nodes or demand.target_nodes else demand.paths - 1


def _greedy(arrays: EdgeArrays, demand: DesignDemand, bounds: _Bounds) -> list[PathEval] | None:
    """Diverse routes one after another, each the best Lagrangian candidate left; None if stuck."""
    query = replace(demand.query, max_cost=None)
    allowed = bounds.lat_ok.copy()
    routes: list[PathEval] = []
    for _ in range(demand.paths):
        graph = ShortestPathGraph.of(arrays, allowed)
        if not math.isfinite(graph.distances(arrays.latency_ms, query.source)[query.target]):
            return None
        candidates = lagrangian_paths(arrays, graph, query).paths
        feasible = [
            p for p in (evaluate_path(arrays, query.source, c) for c in candidates) if is_feasible(p, query)
        ]
        if not feasible:
            return None
        route = min(feasible, key=lambda p: (p.cost, p.latency_ms))
        routes.append(route)
        allowed &= ~_blocked_by(arrays, demand, route)
    return routes if _set_feasible(arrays, demand, routes) else None


def _blocked_by(arrays: EdgeArrays, demand: DesignDemand, route: PathEval) -> np.ndarray:
    """Edges another route of the demand may not use once this route is chosen."""
    blocked = np.zeros(arrays.n_edges, dtype=bool)
    shared = site_edges(arrays, demand)
    edges = np.asarray(route.edges, dtype=np.int64)
    edges = edges[~shared[edges]]  # a site's own edges carry every route
    blocked[edges] = True
    if demand.diversity is not Diversity.EDGE:
        inner = np.asarray(route.nodes[1:-1], dtype=np.int64)
        inner = np.setdiff1d(inner, np.asarray(demand.source_nodes + demand.target_nodes, dtype=np.int64))
        blocked |= np.isin(arrays.tail, inner) | np.isin(arrays.head, inner)
    if demand.diversity is Diversity.SRLG and len(arrays.srlg_edge):
        groups = arrays.srlg_group[np.isin(arrays.srlg_edge, edges)]
        blocked[arrays.srlg_edge[np.isin(arrays.srlg_group, groups)]] = True
    if demand.conflicts is not None and len(demand.conflicts):
        c = demand.conflicts
        blocked[c[np.isin(c[:, 0], edges), 1]] = True
        blocked[c[np.isin(c[:, 1], edges), 0]] = True
    return blocked & ~shared


def _set_feasible(arrays: EdgeArrays, demand: DesignDemand, routes: Sequence[PathEval]) -> bool:
    """Whether routes meet every bound of the demand and are mutually diverse."""
    query = demand.query
    if len(routes) != demand.paths or not all(is_feasible(r, replace(query, max_cost=None)) for r in routes):
        return False
    if query.max_cost is not None and union_cost(arrays, routes) > cost_ceiling(query.max_cost):
        return False
    for i, route in enumerate(routes):
        blocked = _blocked_by(arrays, demand, route)
        for other in routes[i + 1 :]:
            if blocked[np.asarray(other.edges, dtype=np.int64)].any():
                return False
    return True


# --- the model, its answer and the tie-break ---------------------------------------------------


def _run(
    arrays: EdgeArrays,
    demands: Sequence[DesignDemand],
    design: DesignModel,
    start: Sequence[PathEval] | None,
    options: SolverOptions,
) -> _Outcome:
    """Solve a design model, check its routes in floats, settle cost ties by latency."""
    started = time.perf_counter()
    outcome = solve_design_model(design, options=options, time_limit_s=options.time_limit_s)
    routes = _checked(arrays, demands, design, outcome.arc_values)
    start_cost = union_cost(arrays, start) if start else math.inf
    if routes is None:
        if start:
            bound = outcome.bound if outcome.status is not RouteStatus.INFEASIBLE else -math.inf
            return _Outcome(RouteStatus.FEASIBLE, tuple(start), bound)
        if outcome.status is RouteStatus.INFEASIBLE:
            return _Outcome(RouteStatus.INFEASIBLE, bound=math.inf)
        return _Outcome(RouteStatus.UNSOLVED, bound=outcome.bound, reason=_unsolved_reason(options))
    cost = union_cost(arrays, routes)
    proven = outcome.status is RouteStatus.OPTIMAL
    model_bound = outcome.bound
    if start_cost < model_bound - 2 * design.rounding_margin:  # the model lost a known design
        logger.error("CP-SAT bound %s is above the start's cost %s; bound dropped", model_bound, start_cost)
        proven, model_bound = False, -math.inf
    if start and start_cost < cost:
        routes, cost = list(start), start_cost
    if proven and options.tie_break_latency and not _halted(options):
        quiet = replace(options, on_incumbent=None)  # latency is not a cost to report
        routes = _tie_break(arrays, demands, design, outcome, routes, quiet, started)
    if proven:
        return _Outcome(RouteStatus.OPTIMAL, tuple(routes), cost)
    bound = min(model_bound, cost) if math.isfinite(model_bound) else -math.inf
    if relative_gap(cost, bound) <= COST_RELATIVE_TOLERANCE:
        return _Outcome(RouteStatus.OPTIMAL, tuple(routes), cost)
    return _Outcome(RouteStatus.FEASIBLE, tuple(routes), bound)


def _unsolved_reason(options: SolverOptions) -> str:
    """Why a search ended without routes: stopped by the caller, or out of time."""
    if stopped_by_caller(options.stop):
        return "stopped (cancelled or past the deadline) before any feasible design was found"
    limit = call_time_limit_s(options.stop, options.time_limit_s)
    return f"time limit {limit:g} s reached before any feasible design was found"


def _interim(
    arrays: EdgeArrays, start: Sequence[PathEval] | None, lower: float, options: SolverOptions
) -> _Outcome:
    """What a search halted before it ran has: its start (OPTIMAL when the lower bound meets
    its cost, else FEASIBLE with that bound), or UNSOLVED without one."""
    if not start:
        return _Outcome(RouteStatus.UNSOLVED, bound=lower, reason=_unsolved_reason(options))
    cost = union_cost(arrays, start)
    bound = min(lower, cost)
    if relative_gap(cost, bound) <= COST_RELATIVE_TOLERANCE:
        return _Outcome(RouteStatus.OPTIMAL, tuple(start), cost)
    return _Outcome(RouteStatus.FEASIBLE, tuple(start), bound)


def _checked(
    arrays: EdgeArrays, demands: Sequence[DesignDemand], design: DesignModel, values: np.ndarray | None
) -> list[PathEval] | None:
    """The model's routes slot by slot, re-evaluated in floats; None if absent or not feasible."""
    if values is None:
        return None
    return _checked_slots(arrays, demands, design.slots, split_values(design, values))


def _checked_slots(
    arrays: EdgeArrays, demands: Sequence[DesignDemand], slots: Sequence[Slot], values: Sequence[np.ndarray]
) -> list[PathEval] | None:
    """Each slot's route from its 0/1 arc values, re-evaluated in floats; None if not feasible."""
    routes = [path_in_arcs(arrays, slot.source, slot.arcs, v) for slot, v in zip(slots, values, strict=True)]
    for route, slot in zip(routes, slots, strict=True):
        if route.nodes[-1] != demands[slot.demand].query.target:
            logger.warning("a design route of demand %d stops short of its target; discarded", slot.demand)
            return None
    for d, demand in enumerate(demands):
        own = [r for r, slot in zip(routes, slots, strict=True) if slot.demand == d]
        if own and not _set_feasible(arrays, demand, own):
            logger.warning("design routes of demand %d fail the float check; discarded", d)
            return None
    return routes


def _tie_break(arrays, demands, design, outcome, routes, options, started) -> list[PathEval]:
    """Among designs of the optimal cost, the one of lowest total latency."""
    remaining = options.time_limit_s - (time.perf_counter() - started)
    if remaining <= 0.05 or _halted(options):
        return routes
    cost = union_cost(arrays, routes)
    hold_cost(
        design.model,
        design.objective,
        design.latency,
        cost_scale=design.cost_scale,
        x=design.flat_x,
        outcome=outcome,
    )
    second = solve_design_model(design, options=options, time_limit_s=remaining)
    faster = _checked(arrays, demands, design, second.arc_values)
    if faster is None or union_cost(arrays, faster) > cost_ceiling(cost):
        return routes
    if sum(r.latency_ms for r in faster) < sum(r.latency_ms for r in routes):
        return faster
    return routes


def _run_mip(
    arrays: EdgeArrays,
    demands: Sequence[DesignDemand],
    slots: list[Slot],
    start: Sequence[PathEval] | None,
    lower: float,
    options: SolverOptions,
    stats: dict[str, float] | None = None,
) -> _Outcome:
    """Solve the design MIP from a start (its cost the cutoff) and a known lower bound;
    routes checked in floats, cost ties settled by latency in a bounded second phase."""
    started = time.perf_counter()
    if any(_cut_off(demands[slot.demand], slot) for slot in slots):
        return _Outcome(RouteStatus.INFEASIBLE, bound=math.inf)
    upper = union_cost(arrays, start) if start else math.inf
    proven = start and relative_gap(upper, lower) <= COST_RELATIVE_TOLERANCE
    if (proven and not options.tie_break_latency) or _halted(options):
        return _interim(arrays, start, lower, options)
    try:
        mip = build_design_mip(arrays, demands, slots, stop=options.stop)
    except BuildStoppedError:
        return _interim(arrays, start, lower, options)
    if proven:  # only cost ties are left to settle
        routes = _faster_ties(arrays, demands, mip, list(start), options, 0.0)
        return _Outcome(RouteStatus.OPTIMAL, tuple(routes), upper)
    cutoff = cost_ceiling(upper) + 1e-9 * upper if start else math.inf
    values = start_values(mip, [r.edges for r in start]) if start else None
    if stats is not None:
        stats.update(mip_columns=float(mip.n_cols), mip_rows=float(mip.matrix.shape[0]))
    outcome = solve_design_mip(
        mip, options=options, time_limit_s=options.time_limit_s, cutoff=cutoff, start=values
    )
    routes = (
        None
        if outcome.arc_values is None
        else _checked_slots(arrays, demands, slots, mip.split(outcome.arc_values))
    )
    if routes is None or (start and union_cost(arrays, start) <= union_cost(arrays, routes)):
        if not start:
            if outcome.status is RouteStatus.INFEASIBLE:
                return _Outcome(RouteStatus.INFEASIBLE, bound=math.inf)
            return _Outcome(
                RouteStatus.UNSOLVED, bound=max(outcome.bound, lower), reason=_unsolved_reason(options)
            )
        routes = list(start)
    cost = union_cost(arrays, routes)
    # Under the cutoff, INFEASIBLE means nothing is cheaper than the start.
    bound = cost if outcome.status in (RouteStatus.OPTIMAL, RouteStatus.INFEASIBLE) else outcome.bound
    bound = min(max(bound, lower), cost)
    if relative_gap(cost, bound) > COST_RELATIVE_TOLERANCE:
        return _Outcome(RouteStatus.FEASIBLE, tuple(routes), bound)
    if options.tie_break_latency:
        routes = _faster_ties(arrays, demands, mip, routes, _remaining(options, started), outcome.wall_s)
    return _Outcome(RouteStatus.OPTIMAL, tuple(routes), cost)


def _portfolio(
    arrays: EdgeArrays,
    demands: Sequence[DesignDemand],
    slots: list[Slot],
    start: Sequence[PathEval] | None,
    lower: float,
    options: SolverOptions,
    stats: dict[str, float] | None = None,
    *,
    cp_cuts: Callable[[DesignModel], None] | None = None,
) -> _Outcome:
    """The same design solved by the MIP (HiGHS, one thread) and by CP-SAT (num_workers) side
    by side: the first to prove its answer stops the other; the cheaper routes and the higher
    bound of the two are kept.  options.design_engine picks one engine alone."""
    if _halted(options):
        return _interim(arrays, start, lower, options)
    engines = {"mip": _mip_engine, "cp-sat": _cp_engine}
    chosen = list(engines) if options.design_engine == "portfolio" else [options.design_engine]
    if len(chosen) == 1 or options.num_workers < 2:
        engine = engines[chosen[0] if len(chosen) == 1 else "mip"]
        return engine(arrays, demands, slots, start, lower, options, stats, cp_cuts)
    results: dict[str, _Outcome | BaseException] = {}
    workers = {"mip": 1, "cp-sat": options.num_workers}  # HiGHS's branch and bound is serial

    def run(name: str) -> None:
        mine = replace(options, num_workers=workers[name], stop=stops[name])
        try:
            results[name] = engines[name](arrays, demands, slots, start, lower, mine, stats, cp_cuts)
        except BaseException as error:  # re-raised in the caller's thread
            results[name] = error
        if isinstance(results[name], _Outcome) and results[name].status in _PROVEN:
            for other, stop in stops.items():
                if other != name:
                    stop.set()

    with contextlib.ExitStack() as scope:  # each engine's stop follows the call's
        stops = {name: scope.enter_context(CallStop(options.stop)) for name in chosen}
        threads = [threading.Thread(target=run, args=(name,), daemon=True) for name in chosen]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    for value in results.values():
        if isinstance(value, BaseException):
            raise value
    return _merged(arrays, [v for v in results.values() if isinstance(v, _Outcome)], stats, results)


_PROVEN = (RouteStatus.OPTIMAL, RouteStatus.INFEASIBLE)


def _merged(
    arrays: EdgeArrays, outcomes: Sequence[_Outcome], stats: dict[str, float] | None, by_name: dict
) -> _Outcome:
    """One answer from several engines' answers to the same design: proof first, then cost."""
    if stats is not None:
        for name, value in by_name.items():
            stats[f"engine_{name}_proved"] = float(value.status in _PROVEN)
    proven = [o for o in outcomes if o.status in _PROVEN]
    if proven:
        return min(proven, key=lambda o: (o.status is RouteStatus.INFEASIBLE, _total_latency(o)))
    bound = max((o.bound for o in outcomes if math.isfinite(o.bound)), default=-math.inf)
    with_routes = [o for o in outcomes if o.routes]
    if not with_routes:
        return max(outcomes, key=lambda o: o.bound if math.isfinite(o.bound) else -math.inf)
    best = min(with_routes, key=lambda o: (union_cost(arrays, o.routes), _total_latency(o)))
    cost = union_cost(arrays, best.routes)
    bound = min(bound, cost)
    status = (
        RouteStatus.OPTIMAL if relative_gap(cost, bound) <= COST_RELATIVE_TOLERANCE else RouteStatus.FEASIBLE
    )
    return _Outcome(status, best.routes, cost if status is RouteStatus.OPTIMAL else bound)


def _total_latency(outcome: _Outcome) -> float:
    """Sum of the outcome's route latencies."""
    return sum(r.latency_ms for r in outcome.routes)


def _mip_engine(arrays, demands, slots, start, lower, options, stats, cp_cuts) -> _Outcome:
    """The design MIP (see _run_mip)."""
    return _run_mip(arrays, demands, slots, start, lower, options, stats)


def _cp_engine(arrays, demands, slots, start, lower, options, stats, cp_cuts) -> _Outcome:
    """The CP-SAT design model over the same slots, from the same start."""
    upper = union_cost(arrays, start) if start else math.inf
    try:
        design = build_design_model(arrays, demands, slots, upper_bound=upper, stop=options.stop)
        if cp_cuts is not None:
            cp_cuts(design)
        if start:
            hint_design(design, [r.edges for r in start], stop=options.stop)
    except BuildStoppedError:
        return _interim(arrays, start, lower, options)
    outcome = _run(arrays, demands, design, start, options)
    if outcome.status is RouteStatus.FEASIBLE and math.isfinite(lower):
        bound = min(max(outcome.bound, lower), union_cost(arrays, outcome.routes))
        if relative_gap(union_cost(arrays, outcome.routes), bound) <= COST_RELATIVE_TOLERANCE:
            return replace(outcome, status=RouteStatus.OPTIMAL, bound=union_cost(arrays, outcome.routes))
        return replace(outcome, bound=bound)
    return outcome


def _cut_off(demand: DesignDemand, slot: Slot) -> bool:
    """Whether pruning left the slot no arc out of its source or none into its target."""
    arcs = slot.arcs
    return not (np.any(arcs.tail == demand.query.source) and np.any(arcs.head == demand.query.target))


def _faster_ties(
    arrays: EdgeArrays,
    demands: Sequence[DesignDemand],
    mip: DesignMip,
    routes: list[PathEval],
    options: SolverOptions,
    first_s: float,
) -> list[PathEval]:
    """Among designs of the optimal cost, a faster one: the MIP held at that cost minimizing
    latency, for at most as long again as the cost took (at least half a second)."""
    budget = min(options.time_limit_s, max(0.5, first_s))
    if budget <= 0.05 or _halted(options):
        return routes
    cost = union_cost(arrays, routes)
    quiet = replace(options, on_incumbent=None)  # latency is not a cost to report
    second = solve_design_mip(
        mip,
        options=quiet,
        time_limit_s=budget,
        objective=mip.latency,
        cost_cap=cost_ceiling(cost),
        start=start_values(mip, [r.edges for r in routes]),
    )
    if second.arc_values is None:
        return routes
    faster = _checked_slots(arrays, demands, mip.slots, mip.split(second.arc_values))
    if faster is None or union_cost(arrays, faster) > cost_ceiling(cost):
        return routes
    if sum(r.latency_ms for r in faster) < sum(r.latency_ms for r in routes) - 1e-12:
        return faster
    return routes


# --- several demands together ----------------------------------------------------------------


def _share(options: SolverOptions, started: float, share: float) -> SolverOptions:
    """The options with a share of the time left of the call's limit."""
    left = _remaining(options, started)
    return replace(left, time_limit_s=share * left.time_limit_s)


def _common_root(demands: Sequence[DesignDemand]) -> int | None:
    """A node every demand (one route each, the same usable edges) starts or ends at, if any."""
    if any(d.paths != 1 or _separated(d) for d in demands):
        return None
    masks = [d.query.edge_allowed for d in demands]
    if any(m is not None for m in masks) and not all(
        m is not None and np.array_equal(m, masks[0]) for m in masks
    ):
        return None  # a tree path of one demand might need an edge only another may use
    common = set.intersection(*({d.query.source, d.query.target} for d in demands))
    return min(common) if common else None


def _tree_relaxation(
    arrays: EdgeArrays,
    demands: Sequence[DesignDemand],
    bounds: Sequence[_Bounds],
    slots: Sequence[Slot],
    root: int,
    options: SolverOptions,
    stats: dict[str, float],
    rounds: int = 6,
) -> _Outcome:
    """The hub design in the directed (Steiner tree) formulation over every arc any demand kept,
    latency rows added lazily: first none, then those of each demand whose route came out too
    slow, until none is.  Every round's optimum bounds the design from below (see
    build_design_mip: exact once the rows are in, when every edge has latency > 0 and no route
    has other limits); when a round's routes meet every bound they are optimal (OPTIMAL).

    Each demand may use every kept arc: a route of the optimal design may run over edges only
    another demand's pruning kept.
    """
    started = time.perf_counter()
    edges = np.unique(np.concatenate([s.arcs.edge for s in slots]))
    exact = bool(np.all(arrays.latency_ms[edges] > 0))
    # Exact, every route of the model meets its bound, so arcs none can use go (not otherwise:
    # the tree of the latency-free relaxation may need them).
    tree_slots = [
        _all_arcs(arrays, edges, d, demand, bounds[d] if exact else None) for d, demand in enumerate(demands)
    ]
    relaxed = [replace(d, query=replace(d.query, max_jurisdictions=None, max_cost=None)) for d in demands]
    bounded: set[int] = set()
    best = _Outcome(RouteStatus.FEASIBLE, bound=-math.inf)
    for _ in range(rounds):
        if _halted(options):
            return best
        try:
            mip = build_design_mip(
                arrays, relaxed, tree_slots, root=root, bounded=sorted(bounded), stop=options.stop
            )
        except BuildStoppedError:
            return best
        stats.update(tree_columns=float(mip.n_cols), tree_rows=float(mip.matrix.shape[0]))
        left = _remaining(options, started)
        outcome = solve_design_mip(mip, options=left, time_limit_s=left.time_limit_s)
        stats["tree_rounds"] = stats.get("tree_rounds", 0.0) + 1
        if outcome.status is RouteStatus.INFEASIBLE:
            return _Outcome(RouteStatus.INFEASIBLE, bound=math.inf)
        if outcome.status is RouteStatus.OPTIMAL or math.isfinite(outcome.bound):
            best = replace(best, bound=max(best.bound, outcome.bound))
        if outcome.arc_values is None:
            return best
        built = np.zeros(arrays.n_edges, dtype=bool)
        built[np.concatenate([s.arcs.edge for s in tree_slots])[outcome.arc_values > 1e-6]] = True
        routes, slow = _routes_within(arrays, demands, built)
        if routes is not None:
            cost = union_cost(arrays, routes)
            proven = outcome.status is RouteStatus.OPTIMAL
            if proven and relative_gap(cost, best.bound) <= COST_RELATIVE_TOLERANCE:
                return _Outcome(RouteStatus.OPTIMAL, tuple(routes), cost)
            return _Outcome(RouteStatus.FEASIBLE, tuple(routes), min(best.bound, cost))
        if not exact or not slow - bounded or outcome.status is not RouteStatus.OPTIMAL:
            return best
        bounded |= slow
    return best


def _all_arcs(
    arrays: EdgeArrays, edges: np.ndarray, d: int, demand: DesignDemand, bounds: _Bounds | None
) -> Slot:
    """Demand d's slot over both directions of the edges (none into its source or out of its
    target), with bounds only those a route within the latency bound can use."""
    query = demand.query
    tail = np.concatenate([arrays.tail[edges], arrays.head[edges]])
    head = np.concatenate([arrays.head[edges], arrays.tail[edges]])
    both = np.concatenate([edges, edges])
    keep = (head != query.source) & (tail != query.target) & (tail != head)
    if bounds is not None:
        through = bounds.lat_s[tail] + arrays.latency_ms[both] + bounds.lat_t[head]
        keep &= through <= query.max_latency_ms + LATENCY_TOLERANCE_MS
    return Slot(d, 0, query.source, PrunedArcs(both[keep], tail[keep], head[keep], int(keep.sum())))


def _routes_within(
    arrays: EdgeArrays, demands: Sequence[DesignDemand], built: np.ndarray
) -> tuple[list[PathEval] | None, set[int]]:
    """Each demand's cheapest route over the built edges, or its fastest if that is too slow;
    None (and the demands with no route within their bounds there) unless every one fits."""
    routes, slow = [], set()
    for d, demand in enumerate(demands):
        query = demand.query
        usable = built if query.edge_allowed is None else built & query.edge_allowed
        graph = ShortestPathGraph.of(arrays, usable & (arrays.tail != arrays.head))
        scale = float(arrays.cost.max(initial=0.0)) or 1.0
        fitting = None
        for weight in (arrays.cost + 1e-12 * scale * arrays.latency_ms, arrays.latency_ms):
            try:
                route = evaluate_path(
                    arrays, query.source, graph.shortest_path(weight, query.source, query.target)[0]
                )
            except ValueError:
                break
            if _set_feasible(arrays, demand, [route]):
                fitting = route
                break
        if fitting is None:
            slow.add(d)
        routes.append(fitting)
    return (None, slow) if slow else (routes, slow)


def _improved(
    arrays: EdgeArrays,
    demands: Sequence[DesignDemand],
    slots: Sequence[Slot],
    start: list[PathEval],
    options: SolverOptions,
    passes: int = 3,
) -> list[PathEval]:
    """A cheaper start: each single-route demand re-routed in turn with what the others build
    free (their edges and permits cost nothing), until a pass changes nothing."""
    started = time.perf_counter()
    edges = np.unique(np.concatenate([s.arcs.edge for s in slots]))
    sub = _sub_arrays(arrays, edges)
    owner = np.repeat(np.arange(len(demands)), [d.paths for d in demands])
    routes = list(start)
    for _ in range(passes):
        changed = False
        for d, demand in enumerate(demands):
            if _halted(options):
                return routes
            if demand.paths != 1 or time.perf_counter() - started > options.time_limit_s:
                continue
            (i,) = np.flatnonzero(owner == d)
            others = [r for j, r in enumerate(routes) if j != i]
            better = _cheapest_beside(arrays, sub, edges, demand, others, _remaining(options, started))
            if better is not None and union_cost(arrays, [*others, better]) < union_cost(arrays, routes) * (
                1 - COST_RELATIVE_TOLERANCE
            ):
                routes[i], changed = better, True
        if not changed:
            break
    return routes


def _sub_arrays(arrays: EdgeArrays, edges: np.ndarray) -> EdgeArrays:
    """The arrays restricted to some edges (renumbered in order), every node kept."""
    pairs = np.isin(arrays.srlg_edge, edges)
    return replace(
        arrays,
        tail=arrays.tail[edges],
        head=arrays.head[edges],
        cost=arrays.cost[edges],
        latency_ms=arrays.latency_ms[edges],
        jurisdiction=arrays.jurisdiction[edges],
        srlg_edge=np.searchsorted(edges, arrays.srlg_edge[pairs]),
        srlg_group=arrays.srlg_group[pairs],
    )


def _cheapest_beside(
    arrays: EdgeArrays,
    sub: EdgeArrays,
    edges: np.ndarray,
    demand: DesignDemand,
    others: Sequence[PathEval],
    options: SolverOptions,
) -> PathEval | None:
    """The demand's cheapest route over the sub-graph when the others' edges and permits are free."""
    built = np.isin(edges, [e for r in others for e in r.edges])
    paid = np.zeros(len(arrays.permit_cost), dtype=bool)
    paid[[j for r in others for j in r.jurisdictions]] = True
    priced = replace(
        sub, cost=np.where(built, 0.0, sub.cost), permit_cost=np.where(paid, 0.0, sub.permit_cost)
    )
    query = demand.query
    allowed = None if query.edge_allowed is None else query.edge_allowed[edges]
    quiet = replace(options, on_incumbent=None, tie_break_latency=False)
    result = solve_route(priced, replace(query, edge_allowed=allowed, max_cost=None), options=quiet)
    if not result.has_route:
        return None
    route = evaluate_path(arrays, query.source, tuple(int(edges[e]) for e in result.edges))
    return route if _set_feasible(arrays, demand, [route]) else None


def _solve_joint(
    arrays: EdgeArrays,
    demands: Sequence[DesignDemand],
    alone: Sequence[_Outcome],
    found: Sequence[int],
    upper: float,
    options: SolverOptions,
    stats: dict[str, float],
) -> _Outcome:
    """One model for the demands that have routes, the union of their independent answers as
    start; halted, the best start found so far with the best bound proven."""
    started = time.perf_counter()
    chosen = [demands[i] for i in found]
    start = [r for i in found for r in sorted(alone[i].routes, key=lambda r: r.latency_ms)]
    # The union costs at least what the costliest demand costs on its own.
    floor = max((alone[i].bound for i in found if math.isfinite(alone[i].bound)), default=-math.inf)
    if _halted(options):
        return _interim(arrays, start, floor, options)
    bounds = [_bounds(arrays, demands[i].query) for i in found]
    arcs = [_prune(arrays, demands[i], b, upper) for i, b in zip(found, bounds, strict=True)]  # type: ignore[arg-type]
    caps = [union_cost(arrays, alone[i].routes) for i in found]
    private = _prune_private(arrays, chosen, bounds, arcs, caps)  # type: ignore[arg-type]
    slots = [
        Slot(d, p, chosen[d].query.source, arcs[d]) for d in range(len(found)) for p in range(chosen[d].paths)
    ]
    stats["arcs_model"] = float(sum(len(s.arcs.edge) for s in slots))
    stats["prune_s"] = time.perf_counter() - started
    if _halted(options):
        return _interim(arrays, start, floor, options)
    start = _improved(arrays, chosen, slots, start, _share(options, started, 0.1))
    stats["heuristic_s"] = time.perf_counter() - started - stats["prune_s"]
    if _halted(options):
        return _interim(arrays, start, floor, options)
    if (root := _common_root(chosen)) is not None:
        tree = _tree_relaxation(arrays, chosen, bounds, slots, root, _share(options, started, 0.5), stats)  # type: ignore[arg-type]
        if tree.status is RouteStatus.OPTIMAL:  # proven: only cost ties are left to settle
            outcome = _run_mip(arrays, chosen, slots, tree.routes, tree.bound, _remaining(options, started))
            stats["model_s"] = time.perf_counter() - started - stats["prune_s"]
            return outcome
        floor = max(floor, tree.bound)
        if tree.routes and union_cost(arrays, tree.routes) < union_cost(arrays, start):
            start = list(tree.routes)
    if _halted(options):
        return _interim(arrays, start, floor, options)
    if any(_separated(d) for d in chosen):
        try:
            design = build_design_model(arrays, chosen, slots, upper_bound=upper, stop=options.stop)
            _cap_private_cost(arrays, design, private, caps)
            hint_design(design, [r.edges for r in start], stop=options.stop)
        except BuildStoppedError:
            return _interim(arrays, start, floor, options)
        outcome = _run(arrays, chosen, design, start, _remaining(options, started))
    else:

        def cut(design: DesignModel) -> None:
            _cap_private_cost(arrays, design, private, caps)

        left = _remaining(options, started)
        outcome = _portfolio(arrays, chosen, slots, start, floor, left, stats, cp_cuts=cut)
    stats["model_s"] = time.perf_counter() - started - stats["prune_s"]
    if outcome.status is RouteStatus.FEASIBLE:
        bound = max(outcome.bound, floor)
        cost = union_cost(arrays, outcome.routes)
        if relative_gap(cost, bound) <= COST_RELATIVE_TOLERANCE:
            return replace(outcome, status=RouteStatus.OPTIMAL, bound=cost)
        return replace(outcome, bound=bound)
    return outcome


def _prune_private(
    arrays: EdgeArrays,
    demands: Sequence[DesignDemand],
    bounds: Sequence[_Bounds],
    arcs: list[PrunedArcs],
    caps: Sequence[float],
    rounds: int = 3,
) -> list[np.ndarray]:
    """Drop arcs whose routes would build too much that no other demand can share; arcs in place.

    In an optimal shared build, what a demand builds for itself alone (its edges no other
    demand's routes can use) costs no more than its own best design, caps[d]: else swapping
    that design in would be cheaper.  An edge outside every other demand's arcs is surely
    private, so the cheapest private cost of a route through each arc (Dijkstra, private edges
    priced, others free) plus paths - 1 cheapest private routes must fit within the cap.
    Pruning one demand makes more edges private to the others, hence a few rounds.
    Returns each demand's private-edge mask.
    """
    private = [np.zeros(arrays.n_edges, dtype=bool) for _ in demands]
    for _ in range(rounds):
        changed = False
        for d, demand in enumerate(demands):
            shared = np.zeros(arrays.n_edges, dtype=bool)
            for other, a in enumerate(arcs):
                if other != d:
                    shared[a.edge] = True
            private[d] = ~shared
            kept = _private_filter(arrays, demand, arcs[d], private[d], caps[d])
            changed |= len(kept.edge) < len(arcs[d].edge)
            arcs[d] = kept
        if not changed:
            break
    return private


def _private_filter(
    arrays: EdgeArrays, demand: DesignDemand, arcs: PrunedArcs, private: np.ndarray, cap: float
) -> PrunedArcs:
    """The arcs through which a route's private cost (plus paths - 1 cheapest) fits the cap."""
    query = demand.query
    weight = np.where(private, arrays.cost, 0.0)
    on_arcs = np.zeros(arrays.n_edges, dtype=bool)
    on_arcs[arcs.edge] = True
    graph = ShortestPathGraph.of(arrays, on_arcs)
    from_s = graph.distances(weight, query.source)
    to_t = graph.distances(weight, query.target, backward=True)
    least = float(from_s[query.target])
    if not math.isfinite(least):
        return arcs
    through = from_s[arcs.tail] + weight[arcs.edge] + to_t[arcs.head] + _other_routes(demand) * least
    keep = through <= cost_ceiling(cap) + 1e-9 * cap
    return PrunedArcs(arcs.edge[keep], arcs.tail[keep], arcs.head[keep], arcs.n_latency_feasible)


def _cap_private_cost(
    arrays: EdgeArrays, design: DesignModel, private: Sequence[np.ndarray], caps: Sequence[float]
) -> None:
    """The same argument as a cut: each demand's private build costs at most its own best design."""
    for d, (mask, cap) in enumerate(zip(private, caps, strict=True)):
        terms, coefs = [], []
        for s, slot in enumerate(design.slots):
            if slot.demand != d:
                continue
            on = np.flatnonzero(mask[slot.arcs.edge])
            coef = np.round(arrays.cost[slot.arcs.edge[on]] * design.cost_scale).astype(np.int64)
            terms.extend(design.x[s][a] for a in on.tolist())
            coefs.extend(coef.tolist())
        if terms:
            slack = len(terms)  # each rounded term may sit half a unit above its true cost
            ceiling = math.floor(cost_ceiling(cap) * design.cost_scale) + slack
            design.model.add(cp_model.LinearExpr.weighted_sum(terms, coefs) <= ceiling)


def _result(
    arrays: EdgeArrays,
    demands: Sequence[DesignDemand],
    alone: Sequence[_Outcome],
    independent: float,
    joint: _Outcome | None,
    stats: dict[str, float],
) -> DesignResult:
    """Per-demand routes, statuses and reasons, with the design's cost, bound and gap."""
    chosen: list[tuple[PathEval, ...]] = []
    statuses = []
    cursor = 0
    for demand, own in zip(demands, alone, strict=True):
        if joint is not None and own.routes:
            chosen.append(tuple(joint.routes[cursor : cursor + demand.paths]))
            statuses.append(joint.status)
            cursor += demand.paths
        else:
            chosen.append(own.routes)
            statuses.append(own.status)
    cost = union_cost(arrays, [r for rs in chosen for r in rs])
    status = _overall(statuses)
    bound = _design_bound(alone, joint, cost)
    unsolved = sum(s is RouteStatus.UNSOLVED for s in statuses)
    solved_status = _overall([s for s in statuses if s is not RouteStatus.UNSOLVED])
    solved_gap = (  # over the demands with routes, which the bound covers
        0.0
        if solved_status is RouteStatus.OPTIMAL
        else relative_gap(cost, bound)
        if math.isfinite(bound)
        else math.nan
    )
    gap = math.nan if unsolved else solved_gap  # no gap for a design some demands are missing from
    routes = tuple(
        _route_results(own, paths, st, alone_only=joint is None, bound=bound, gap=solved_gap)
        for own, paths, st in zip(alone, chosen, statuses, strict=True)
    )
    return DesignResult(
        status=status,
        routes=routes,
        demand_status=tuple(statuses),
        demand_reason=tuple(o.reason for o in alone),
        cost=cost,
        bound=bound,
        gap=gap,
        independent_cost=independent,
        unsolved_demands=unsolved,
        stats=stats,
    )


def _design_bound(alone: Sequence[_Outcome], joint: _Outcome | None, cost: float) -> float:
    """Proven lower bound on the optimal union cost of the demands that have routes."""
    if joint is not None:
        return cost if joint.status is RouteStatus.OPTIMAL else joint.bound
    own = [o for o in alone if o.routes]
    if not own:
        return math.inf if any(o.status is RouteStatus.INFEASIBLE for o in alone) else math.nan
    return own[0].bound if own[0].status is not RouteStatus.OPTIMAL else cost


def _overall(statuses: Sequence[RouteStatus]) -> RouteStatus:
    """OPTIMAL when every demand is proven or proven infeasible, else the weakest status met."""
    if statuses and all(s is RouteStatus.INFEASIBLE for s in statuses):
        return RouteStatus.INFEASIBLE
    for weak in (RouteStatus.UNSOLVED, RouteStatus.FEASIBLE):
        if weak in statuses:
            return weak
    return RouteStatus.OPTIMAL


def _route_results(
    own: _Outcome,
    paths: Sequence[PathEval],
    status: RouteStatus,
    *,
    alone_only: bool,
    bound: float,
    gap: float,
) -> tuple[RouteResult, ...]:
    """RouteResults of a demand, fastest first; a lone single route keeps the spine's own proof.

    Routes of a diverse set or a shared build carry the bound and gap of the design's cost.
    """
    if alone_only and own.single is not None:
        return (own.single,) if own.single.has_route else ()
    ordered = sorted(paths, key=lambda p: (p.latency_ms, p.cost))
    return tuple(route_result(status, p, bound=bound, gap=gap) for p in ordered)


# --- why a diverse set does not exist ------------------------------------------------------------


def _diagnosed(arrays: EdgeArrays, demand: DesignDemand, bounds: _Bounds, options: SolverOptions) -> _Outcome:
    """INFEASIBLE with the reason in numbers: too few diverse routes, too slow, or other limits."""
    return _Outcome(
        RouteStatus.INFEASIBLE, bound=math.inf, reason=_diverse_reason(arrays, demand, bounds, options)
    )


def _diverse_reason(arrays: EdgeArrays, demand: DesignDemand, bounds: _Bounds, options: SolverOptions) -> str:
    """Which requirement leaves no set of diverse routes, said in numbers (in fewer words when
    the call is halted: the diagnosis solves are then skipped)."""
    query, k = demand.query, demand.paths
    a, b = query.label(query.source), query.label(query.target)
    kind = _kind_words(demand)
    limit = query.max_latency_ms
    if _halted(options):
        return f"no {k} {kind} routes {a}-{b} meet all constraints together (bound {limit:.2f} ms)"
    started = time.perf_counter()
    count, found = _most_diverse(arrays, demand, bounds, replace(options, on_incumbent=None))
    if count is not None and count < k:
        ways = _ways_in(arrays, demand, bounds)
        site = ""
        if ways[1] == count:
            site = f"site {ways[0]} has {'a single way' if count == 1 else f'only {count} ways'} in: "
        routes = "route exists" if count == 1 else "routes exist"
        return f"{site}only {count} {kind} {routes} between {a} and {b} ({k} asked)"
    budget = max(r.latency_ms for r in found) if found else math.inf
    quiet = replace(_remaining(options, started), on_incumbent=None)  # latency is not a cost to report
    slowest = _least_slowest(arrays, demand, bounds, budget, quiet)
    within = budget <= limit + LATENCY_TOLERANCE_MS  # a set found by the count meets the bound
    if slowest is not None:
        least, proven = slowest
        least = max(least, bounds.fastest_ms)  # no set is faster than the fastest single route
        if least > limit + LATENCY_TOLERANCE_MS:
            value, bound = distinct_numbers(least, limit)
            need = "need" if proven else "need at least"
            return f"{k} {kind} routes {a}-{b} {need} {value} ms, bound is {bound} ms"
        within |= proven
    limits = []
    if query.max_jurisdictions is not None:
        limits.append(f"max_jurisdictions {query.max_jurisdictions} per route")
    if query.max_cost is not None:
        limits.append(f"max_cost {money(query.max_cost)}")
    if within and limits:
        return (
            f"{k} {kind} routes {a}-{b} exist within {limit:.2f} ms, but none within {' and '.join(limits)}"
        )
    return f"no {k} {kind} routes {a}-{b} meet all constraints together (bound {limit:.2f} ms)"


def _kind_words(demand: DesignDemand) -> str:
    """'SRLG-diverse', 'node-diverse' ..., with the separation when one is asked."""
    name = {Diversity.EDGE: "edge", Diversity.NODE: "node", Diversity.SRLG: "SRLG"}[demand.diversity]
    separated = demand.conflicts is not None and len(demand.conflicts) > 0
    return f"{name}-diverse{' and separated' if separated else ''}"


def _ways_in(arrays: EdgeArrays, demand: DesignDemand, bounds: _Bounds) -> tuple[str, int]:
    """The end with the fewest usable ways in: distinct edges, or distinct neighbours unless
    edge diversity (parallel edges straight to the other end count one each)."""
    query = demand.query
    ends = (query.source, query.target)
    best: tuple[str, int] | None = None
    for end, far in (ends, ends[::-1]):
        at = bounds.usable & ((arrays.tail == end) | (arrays.head == end))
        other = np.where(arrays.tail[at] == end, arrays.head[at], arrays.tail[at])
        if demand.diversity is Diversity.EDGE:
            ways = int(at.sum())
        else:
            ways = len(np.unique(other[other != far])) + int(np.sum(other == far))
        if best is None or ways < best[1]:
            best = (query.label(end), ways)
    assert best is not None
    return best


def _open_slots(
    arrays: EdgeArrays, demand: DesignDemand, bounds: _Bounds, paths: int, budget_ms: float = math.inf
) -> list[Slot]:
    """Slots over every usable arc on some route within budget_ms; no cost pruning (diagnosis)."""
    usable = np.flatnonzero(bounds.usable)
    tail = np.concatenate([arrays.tail[usable], arrays.head[usable]])
    head = np.concatenate([arrays.head[usable], arrays.tail[usable]])
    edge = np.concatenate([usable, usable])
    keep = (head != demand.query.source) & (tail != demand.query.target)
    if math.isfinite(budget_ms):
        through = bounds.lat_s[tail] + arrays.latency_ms[edge] + bounds.lat_t[head]
        keep &= through <= budget_ms + LATENCY_TOLERANCE_MS
    arcs = PrunedArcs(edge[keep], tail[keep], head[keep], int(keep.sum()))
    return [Slot(0, p, demand.query.source, arcs) for p in range(paths)]


def _relaxed(demand: DesignDemand) -> DesignDemand:
    """The demand with only its diversity, separation and allowed edges left."""
    return replace(demand, query=replace(demand.query, max_jurisdictions=None, max_cost=None))


def _most_diverse(
    arrays: EdgeArrays, demand: DesignDemand, bounds: _Bounds, options: SolverOptions
) -> tuple[int | None, list[PathEval]]:
    """How many mutually diverse routes exist at all, up to paths (None if time ran out),
    with a set of paths of them when that many exist."""
    started = time.perf_counter()
    relaxed = _relaxed(demand)
    unbounded = replace(relaxed, query=replace(relaxed.query, max_latency_ms=math.inf))
    quick = _greedy(arrays, unbounded, replace(bounds, lat_ok=bounds.usable))
    if quick:
        return demand.paths, quick
    for count in range(demand.paths, 1, -1):
        if _halted(options):
            return None, []
        slots = _open_slots(arrays, relaxed, bounds, count)
        try:
            design = build_design_model(arrays, [relaxed], slots, latency_bounded=False, stop=options.stop)
        except BuildStoppedError:
            return None, []
        design.model.clear_objective()
        left = _remaining(options, started).time_limit_s
        outcome = solve_design_model(design, options=options, time_limit_s=left)
        if outcome.arc_values is not None:
            values = split_values(design, outcome.arc_values)
            return count, [
                path_in_arcs(arrays, slot.source, slot.arcs, v) for slot, v in zip(slots, values, strict=True)
            ]
        if outcome.status is not RouteStatus.INFEASIBLE:
            return None, []
    return 1, []


def _least_slowest(
    arrays: EdgeArrays, demand: DesignDemand, bounds: _Bounds, budget_ms: float, options: SolverOptions
) -> tuple[float, bool] | None:
    """The least possible latency of the slowest of paths diverse routes, and whether proven.

    budget_ms, the slowest route of a diverse set already found, prunes arcs beyond it.
    """
    if _halted(options):
        return None
    relaxed = _relaxed(demand)
    slots = _open_slots(arrays, relaxed, bounds, demand.paths, budget_ms)
    try:
        design = build_design_model(arrays, [relaxed], slots, latency_bounded=False, stop=options.stop)
    except BuildStoppedError:
        return None
    design.model.minimize(design.slot_latency[-1])  # slots are ordered by latency
    outcome = solve_design_model(design, options=options, time_limit_s=options.time_limit_s)
    if outcome.arc_values is None:
        return None
    values = split_values(design, outcome.arc_values)
    slowest = max(
        path_in_arcs(arrays, s.source, s.arcs, v).latency_ms for s, v in zip(slots, values, strict=True)
    )
    if outcome.status is RouteStatus.OPTIMAL:
        return slowest, True
    raw_bound = (outcome.bound + design.rounding_margin) * design.cost_scale  # objective units
    return raw_bound / design.latency_scale - 0.5 * len(slots[0].arcs.edge) / design.latency_scale, False
