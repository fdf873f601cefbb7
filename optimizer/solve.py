"""Exact latency-bounded minimum-cost routes: bounds, pruning, then OR-Tools to optimality."""

from __future__ import annotations

import logging
import math
import time
from dataclasses import dataclass, replace

import numpy as np

from optimizer.labels import label_search
from optimizer.model import (
    build_route_model,
    call_time_limit_s,
    relevant_jurisdictions,
    restrict_to_cost,
    solve_route_model,
    stopped_by_caller,
)
from optimizer.problem import (
    COST_RELATIVE_TOLERANCE,
    LATENCY_TOLERANCE_MS,
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
    cost_keep,
    evaluate_path,
    is_feasible,
    path_in_arcs,
    route_bounds,
)

__all__ = [
    "LATENCY_TOLERANCE_MS",
    "EdgeArrays",
    "RouteQuery",
    "RouteResult",
    "RouteStatus",
    "SolverOptions",
    "disconnected_reason",
    "distinct_numbers",
    "money",
    "relative_gap",
    "route_result",
    "solve_route",
    "unreachable_reason",
]

logger = logging.getLogger(__name__)

_PRUNE_ROUNDS = 8
"""Most rounds of alternating cost and latency pruning."""

_PERMIT_LABELS = 200_000
"""Labels a search with permits may settle before CP-SAT takes the route over (a few seconds)."""

_PERMIT_SEARCH_SHARE = 1 / 3
"""Share of the time limit a search with permits may use before CP-SAT takes the route over:
under a binding jurisdiction limit labels rarely dominate each other, and CP-SAT proves some
such routes infeasible sooner."""

_PRUNE_SHRINK = 0.9
"""Another pruning round runs while the last kept at most this share of the arcs."""


def solve_route(
    arrays: EdgeArrays, query: RouteQuery, *, options: SolverOptions | None = None
) -> RouteResult:
    """The cheapest route meeting the query's bounds, proven optimal or with its gap.

    options.stop, once set, ends the search between its phases and inside them: the best route
    met so far comes back FEASIBLE with its bound, or none UNSOLVED.
    """
    options = options or SolverOptions()
    started = time.perf_counter()
    _check_query(arrays, query)
    if _stopped(options):
        return RouteResult(RouteStatus.UNSOLVED, bound=-math.inf, reason=_unsolved_reason(options))
    bounds = route_bounds(arrays, query)
    if bounds.bounded is None:
        return _infeasible(unreachable_reason(arrays, query, bounds))
    if query.max_jurisdictions is not None and bounds.count_least > query.max_jurisdictions + 1e-9:
        return _infeasible(too_many_jurisdictions(query, math.ceil(bounds.count_least - 1e-9)))
    arcs_latency_feasible = bounds.bounded.n_arcs
    fastest_ms = bounds.fastest_ms
    pruned = _tightened(arrays, query, bounds)
    best, upper, lower, arcs = pruned.best, pruned.upper, pruned.lower, pruned.arcs
    prune_s = time.perf_counter() - started
    stats = {
        "edges_input": float(arrays.n_edges),
        "arcs_latency_feasible": float(arcs_latency_feasible),
        "arcs_model": float(len(arcs.edge)),
        "fastest_ms": fastest_ms,
        "lagrangian_bound": lower,
        "prune_s": prune_s,
    }
    if _stopped(options):
        return _cut_short(best, lower, options, stats)
    if options.label_search:
        additive = not len(relevant_jurisdictions(arrays, query, arcs.edge))
        by_labels = _solve_by_labels(arrays, query, pruned, options, started, stats, hand_over=not additive)
        if by_labels is not None:
            return by_labels
    if _stopped(options):
        return _cut_short(best, lower, options, stats)
    route_model = build_route_model(
        arrays, query, arcs, hint_edges=best.edges if best else (), upper_bound=upper
    )

    remaining = options.time_limit_s - (time.perf_counter() - started)
    outcome = solve_route_model(route_model, options=options, time_limit_s=remaining)
    stats["model_s"] = outcome.wall_s
    found = _checked_route(arrays, query, arcs, outcome)
    if found is None and best is None:
        if outcome.status is RouteStatus.INFEASIBLE:
            remaining = options.time_limit_s - (time.perf_counter() - started)
            reason = _diagnose(arrays, query, replace(options, time_limit_s=remaining), fastest_ms)
            return _infeasible(reason, bound=math.inf, stats=stats)
        return RouteResult(
            RouteStatus.UNSOLVED,
            bound=max(outcome.bound, lower),
            reason=_unsolved_reason(options),
            stats=stats,
        )
    proven = outcome.status is RouteStatus.OPTIMAL and found is not None
    if proven and best is not None and best.cost < found.cost - 2 * route_model.rounding_margin:
        logger.error("CP-SAT claimed %s optimal but route %s costs %s", found.cost, best.edges, best.cost)
        proven = False
    best = min((p for p in (best, found) if p is not None), key=lambda p: (p.cost, p.latency_ms))
    if proven and options.tie_break_latency:
        quiet = replace(options, on_incumbent=None)  # the tie-break's objective is latency, not cost
        best = _tie_break(arrays, query, route_model, outcome, best, quiet, started)
    stats["solve_s"] = time.perf_counter() - started
    return _proven_result(best, outcome, lower, proven=proven, stats=stats)


@dataclass(frozen=True, eq=False)
class _Pruned:
    """What pruning leaves: the best route met, upper and Lagrangian lower bounds, the arcs
    left (of n_bounded that met the latency and resource bounds) and the last multiplier."""

    best: PathEval | None
    upper: float
    lower: float
    graph: ShortestPathGraph
    n_bounded: int
    multiplier: float
    floor: np.ndarray | float = 0.0
    """Per arc left: least permit cost of a route through it."""

    @property
    def arcs(self) -> PrunedArcs:
        """The arcs left, as the model takes them."""
        return PrunedArcs(self.graph.edge, self.graph.tail, self.graph.head, self.n_bounded)


def _tightened(arrays: EdgeArrays, query: RouteQuery, bounds: RouteBounds) -> _Pruned:
    """Best route found, upper and Lagrangian lower bound, and the arcs left after alternating
    cost and latency pruning until a round removes less than a tenth of them.

    Each round bounds only the arcs the last one kept: every arc removed lies on no feasible
    route costing at most the upper bound, so the kept arcs hold all of them and their
    distances stay valid (and grow) as bounds.
    """
    best: PathEval | None = None
    lower = -math.inf
    for _ in range(_PRUNE_ROUNDS):
        assert bounds.larac is not None and bounds.bounded is not None
        found = _best_feasible(arrays, query, bounds.larac.paths)
        best = min(
            (p for p in (best, found) if p is not None), key=lambda p: (p.cost, p.latency_ms), default=None
        )
        lower = max(lower, bounds.larac.lower_bound + bounds.permit_least)
        upper = best.cost if best else math.inf
        if query.max_cost is not None:
            upper = min(upper, query.max_cost)
        keep = cost_keep(arrays, query, bounds, upper)
        graph = bounds.bounded
        kept = graph.restrict(keep)
        floor = bounds.permit_floor[keep] if isinstance(bounds.permit_floor, np.ndarray) else 0.0
        if keep.sum() > _PRUNE_SHRINK * len(keep) or not math.isfinite(upper):
            break
        bounds = route_bounds(arrays, query, within=kept)
        if bounds.bounded is None:  # nothing within the bounds costs at most upper
            return _Pruned(best, upper, lower, kept.restrict(np.zeros(kept.n_arcs, dtype=bool)), 0, 0.0)
    return _Pruned(best, upper, lower, kept, graph.n_arcs, bounds.larac.multiplier, floor)


def _solve_by_labels(
    arrays: EdgeArrays,
    query: RouteQuery,
    pruned: _Pruned,
    options: SolverOptions,
    started: float,
    stats: dict,
    *,
    hand_over: bool,
) -> RouteResult | None:
    """The route by exact label setting over the pruned arcs (see optimizer.labels). With
    hand_over, the search stops at _PERMIT_LABELS labels or _PERMIT_SEARCH_SHARE of the time
    limit, and None then leaves the route to CP-SAT with the time left."""
    began = time.perf_counter()
    time_limit_s = options.time_limit_s - (began - started)
    if hand_over:
        time_limit_s = min(time_limit_s, _PERMIT_SEARCH_SHARE * options.time_limit_s)
    search = label_search(
        arrays,
        query,
        pruned.graph,
        upper_bound=pruned.upper,
        multipliers=(pruned.multiplier,),
        permit_floor=pruned.floor,
        time_limit_s=time_limit_s,
        stop=options.stop,
        max_labels=_PERMIT_LABELS if hand_over else None,
    )
    stats.update(labels=float(search.labels), model_s=time.perf_counter() - began)
    stopped = options.stop is not None and options.stop.is_set()
    time_left = time.perf_counter() - started < options.time_limit_s
    if not search.complete and hand_over and time_left and not stopped:
        return None
    best = pruned.best
    if search.complete and search.edges is not None:
        found = evaluate_path(arrays, query.source, search.edges)
        simple = len(set(found.nodes)) == len(found.nodes)
        if simple and is_feasible(found, query) and (best is None or found.cost <= cost_ceiling(best.cost)):
            if options.on_incumbent is not None:
                options.on_incumbent(found.cost, found.cost)
            stats["solve_s"] = time.perf_counter() - started
            return route_result(RouteStatus.OPTIMAL, found, bound=found.cost, gap=0.0, stats=stats)
        logger.error(
            "label search route %s is not simple, or fails its bounds or the incumbent", search.edges
        )
    elif search.complete and best is None:
        remaining = options.time_limit_s - (time.perf_counter() - started)
        reason = _diagnose(arrays, query, replace(options, time_limit_s=remaining), stats["fastest_ms"])
        return _infeasible(reason, stats=stats)
    elif search.complete:
        logger.error("label search found nothing under the incumbent %s; not trusted", best.edges)
    stats["solve_s"] = time.perf_counter() - started
    if best is None:
        return RouteResult(
            RouteStatus.UNSOLVED, bound=pruned.lower, reason=_unsolved_reason(options), stats=stats
        )
    bound = min(pruned.lower, best.cost)
    return route_result(
        RouteStatus.FEASIBLE, best, bound=bound, gap=relative_gap(best.cost, bound), stats=stats
    )


def _stopped(options: SolverOptions) -> bool:
    """Whether the caller (or the call's time limit) has stopped the search."""
    return options.stop is not None and options.stop.is_set()


def _cut_short(best: PathEval | None, lower: float, options: SolverOptions, stats: dict) -> RouteResult:
    """A search stopped before its exact phase: the best route met (FEASIBLE with the Lagrangian
    bound, OPTIMAL when that bound meets its cost), or UNSOLVED without one."""
    if best is None:
        return RouteResult(RouteStatus.UNSOLVED, bound=lower, reason=_unsolved_reason(options), stats=stats)
    bound = min(lower, best.cost)
    gap = relative_gap(best.cost, bound)
    if gap <= COST_RELATIVE_TOLERANCE:
        return route_result(RouteStatus.OPTIMAL, best, bound=best.cost, gap=0.0, stats=stats)
    return route_result(RouteStatus.FEASIBLE, best, bound=bound, gap=gap, stats=stats)


def _unsolved_reason(options: SolverOptions) -> str:
    """Why the search ended without a route: stopped by the caller, or out of time."""
    if stopped_by_caller(options.stop):
        return "stopped (cancelled or past the deadline) before any feasible route was found"
    limit = call_time_limit_s(options.stop, options.time_limit_s)
    return f"time limit {limit:g} s reached before any feasible route was found"


def _checked_route(arrays: EdgeArrays, query: RouteQuery, arcs, outcome) -> PathEval | None:
    """The model's route, re-evaluated in floats; None if absent or not truly feasible."""
    if outcome.arc_values is None:
        return None
    route = path_in_arcs(arrays, query.source, arcs, outcome.arc_values)
    if not is_feasible(route, query):
        logger.warning("model route %s fails the float check; discarded", route.edges)
        return None
    return route


def _proven_result(
    best: PathEval, outcome, lagrangian_bound: float, *, proven: bool, stats: dict
) -> RouteResult:
    """OPTIMAL with the route's cost as bound, or FEASIBLE with the best proven bound and gap."""
    if proven:
        return route_result(RouteStatus.OPTIMAL, best, bound=best.cost, gap=0.0, stats=stats)
    bound = lagrangian_bound
    if math.isfinite(outcome.bound) and outcome.status is not RouteStatus.INFEASIBLE:
        bound = max(bound, outcome.bound)
    bound = min(bound, best.cost)
    gap = relative_gap(best.cost, bound)
    if gap <= COST_RELATIVE_TOLERANCE:
        return route_result(RouteStatus.OPTIMAL, best, bound=best.cost, gap=0.0, stats=stats)
    return route_result(RouteStatus.FEASIBLE, best, bound=bound, gap=gap, stats=stats)


def _check_query(arrays: EdgeArrays, query: RouteQuery) -> None:
    """Reject a query the arrays cannot answer (programming errors, not user data)."""
    for name in ("source", "target"):
        node = getattr(query, name)
        if not 0 <= node < arrays.n_nodes:
            raise ValueError(f"RouteQuery.{name} {node} is not a node of a {arrays.n_nodes}-node graph")
    if query.source == query.target:
        raise ValueError("RouteQuery.source and target must differ")
    if not (query.max_latency_ms > 0 and math.isfinite(query.max_latency_ms)):
        raise ValueError(f"RouteQuery.max_latency_ms must be finite and > 0, got {query.max_latency_ms}")
    if query.max_cost is not None and not (query.max_cost >= 0 and math.isfinite(query.max_cost)):
        raise ValueError(f"RouteQuery.max_cost must be finite and >= 0, got {query.max_cost}")
    if query.edge_allowed is not None and len(query.edge_allowed) != arrays.n_edges:
        raise ValueError("RouteQuery.edge_allowed must have one entry per edge")
    limits = query.max_resources
    if limits is not None and len(limits) != arrays.n_resources:
        raise ValueError(
            f"RouteQuery.max_resources has {len(limits)} limits, arrays have {arrays.n_resources}"
        )
    if limits is not None and not all(math.isfinite(r) and r >= 0 for r in limits):
        raise ValueError(f"RouteQuery.max_resources must be finite and >= 0, got {limits}")


def _best_feasible(
    arrays: EdgeArrays, query: RouteQuery, candidates: tuple[tuple[int, ...], ...]
) -> PathEval | None:
    """The cheapest (then fastest) candidate route that meets every constraint."""
    feasible = [
        p for p in (evaluate_path(arrays, query.source, c) for c in candidates) if is_feasible(p, query)
    ]
    return min(feasible, key=lambda p: (p.cost, p.latency_ms), default=None)


def _tie_break(arrays, query, route_model, outcome, best, options, started) -> PathEval:
    """Among routes of the optimal cost, the one of lowest latency."""
    remaining = options.time_limit_s - (time.perf_counter() - started)
    if remaining <= 0.05 or _stopped(options):
        return best
    restrict_to_cost(route_model, outcome)
    second = solve_route_model(route_model, options=options, time_limit_s=remaining)
    if second.arc_values is None:
        return best
    faster = path_in_arcs(arrays, query.source, route_model.arcs, second.arc_values)
    cheap_enough = faster.cost <= cost_ceiling(best.cost) and is_feasible(faster, query)
    if cheap_enough and faster.latency_ms < best.latency_ms:
        return faster
    return best


def distinct_numbers(value: float, limit: float) -> tuple[str, str]:
    """Two numbers with 2 decimals, or as many more as it takes to tell them apart."""
    for digits in range(2, 10):
        a, b = f"{value:.{digits}f}", f"{limit:.{digits}f}"
        if a != b:
            return a, b
    return f"{value!r}", f"{limit!r}"


def money(value: float) -> str:
    """A cost for a sentence: whole units when large, significant digits when small."""
    return f"{value:,.0f}" if abs(value) >= 1000 else f"{value:.6g}"


def relative_gap(cost: float, bound: float) -> float:
    """Relative optimality gap."""
    return max(0.0, (cost - bound) / max(abs(cost), 1e-12))


def route_result(status: RouteStatus, path: PathEval, **kwargs) -> RouteResult:
    """A route result from an evaluated path."""
    return RouteResult(
        status,
        edges=path.edges,
        nodes=path.nodes,
        cost=path.cost,
        edge_cost=path.edge_cost,
        permit_cost=path.permit_cost,
        latency_ms=path.latency_ms,
        jurisdictions=path.jurisdictions,
        **kwargs,
    )


def _infeasible(reason: str, *, bound: float = math.inf, stats: dict | None = None) -> RouteResult:
    """An INFEASIBLE result with its reason."""
    return RouteResult(RouteStatus.INFEASIBLE, bound=bound, reason=reason, stats=stats or {})


def unreachable_reason(arrays: EdgeArrays, query: RouteQuery, bounds: RouteBounds) -> str:
    """Why no route meets the query's latency or resource bounds, in numbers."""
    if bounds.why == "disconnected":
        return disconnected_reason(arrays, query)
    if bounds.why == "latency":
        fastest, limit = distinct_numbers(bounds.fastest_ms, query.max_latency_ms)
        return f"fastest possible route is {fastest} ms, bound is {limit} ms"
    assert query.max_resources is not None
    least, limit = distinct_numbers(bounds.least, query.max_resources[bounds.resource])
    return (
        f"every route within {query.max_latency_ms:.2f} ms needs at least {least} "
        f"{arrays.resource_name(bounds.resource)}, limit is {limit}"
    )


def disconnected_reason(arrays: EdgeArrays, query: RouteQuery) -> str:
    """Why no route connects the two ends: the graph itself, or the edges the query forbids."""
    a, b = query.label(query.source), query.label(query.target)
    if query.edge_allowed is not None and math.isfinite(
        arrays.graph.distances(arrays.latency_ms, query.source)[query.target]
    ):
        return f"every route from {a} to {b} uses a corridor or jurisdiction the demand excludes"
    return f"no route connects {a} to {b}: they lie in different components of the network"


def too_many_jurisdictions(query: RouteQuery, fewest: int) -> str:
    """Why no route meets the jurisdiction limit: the fewest any route within the bound crosses."""
    return (
        f"every route within {query.max_latency_ms:.2f} ms crosses at least {fewest} "
        f"permit jurisdictions, limit is {query.max_jurisdictions}"
    )


def _diagnose(arrays: EdgeArrays, query: RouteQuery, options: SolverOptions, fastest_ms: float) -> str:
    """Which constraint, in numbers, leaves no route although one meets the latency bound.

    Diagnosis solves share the caller's remaining time and stop signal; without time it says less.
    """
    began = time.perf_counter()
    stopped = options.stop is not None and options.stop.is_set()
    if stopped or options.time_limit_s <= 0.05:
        return f"no route meets all constraints together (fastest route {fastest_ms:.2f} ms)"
    if query.max_jurisdictions is not None:
        few = _fewest_jurisdictions(arrays, query, options)
        if few is not None and few > query.max_jurisdictions:
            return too_many_jurisdictions(query, few)
    left_s = options.time_limit_s - (time.perf_counter() - began)
    if query.max_cost is not None and left_s > 0.05:
        relaxed = solve_route(
            arrays, replace(query, max_cost=None), options=replace(options, time_limit_s=left_s)
        )
        if relaxed.has_route:
            return (
                f"cheapest route within the bounds costs {money(relaxed.cost)}, "
                f"max_cost is {money(query.max_cost)}"
            )
    return (
        f"no route meets all constraints together (fastest route {fastest_ms:.2f} ms, "
        f"bound {query.max_latency_ms:.2f} ms)"
    )


def _fewest_jurisdictions(arrays: EdgeArrays, query: RouteQuery, options: SolverOptions) -> int | None:
    """Fewest counted jurisdictions any latency-feasible route crosses (exact, by CP-SAT)."""
    counted_only = replace(arrays, cost=np.zeros(arrays.n_edges), permit_cost=arrays.counted.astype(float))
    result = solve_route(
        counted_only,
        replace(query, max_jurisdictions=None, max_cost=None),
        options=replace(options, tie_break_latency=False, on_incumbent=None),
    )
    return round(result.cost) if result.status is RouteStatus.OPTIMAL else None
