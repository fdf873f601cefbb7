"""The least-shared fallback: when no fully diverse set of a demand's routes exists, the set
that shares the least (length, then junctions, then risk groups), then the cheapest, then the
fastest, each criterion proven by CP-SAT in turn and held while the next is minimized."""

from __future__ import annotations

import logging
import math
import time
from dataclasses import dataclass, replace

from optimizer.design import union_cost
from optimizer.design_model import BuildStoppedError, DesignModel, Slot, build_design_model, split_values
from optimizer.model import ModelOutcome, hold_cost, solve_cp_model
from optimizer.problem import DesignDemand, EdgeArrays, RouteStatus, SolverOptions
from optimizer.prune import PathEval, cost_ceiling, is_feasible, path_in_arcs

__all__ = ["LeastShared", "least_shared_routes"]

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class LeastShared:
    """The fallback's routes (empty when none), how far they are proven, and a cost bound."""

    status: RouteStatus
    routes: tuple[PathEval, ...] = ()
    bound: float = math.nan
    """Lower bound on the cost at the sharing found (the cost itself when OPTIMAL)."""


def least_shared_routes(
    arrays: EdgeArrays, demand: DesignDemand, slots: list[Slot], lower: float, options: SolverOptions
) -> LeastShared:
    """The demand's routes over the slots' arcs sharing the least, then cheapest, then fastest.

    Every bound of the demand holds (latency and jurisdictions per route, max_cost on their
    union, separation pairs); only diversity is relaxed. lower bounds any set's cost from below:
    it is the bound when time runs out before the sharing is proven least.
    """
    started = time.perf_counter()
    try:
        design = build_design_model(arrays, [demand], slots, soft_diversity=True, stop=options.stop)
    except BuildStoppedError:
        return LeastShared(RouteStatus.UNSOLVED, bound=lower)
    quiet = replace(options, on_incumbent=None)  # sharing is not a cost to report
    best: ModelOutcome | None = None
    for criterion in design.sharing:
        outcome = _minimize(design, criterion, best, quiet, _left(options, started))
        if outcome.arc_values is None:
            if best is None:
                return _none(outcome.status, lower)
            return _answer(arrays, demand, design, best, lower, proven=False)
        best = outcome
        if outcome.status is not RouteStatus.OPTIMAL:
            return _answer(arrays, demand, design, best, lower, proven=False)
        design.model.add(criterion <= round(outcome.objective))
    design.model.minimize(design.objective)
    _hint(design, best)
    outcome = solve_cp_model(
        design.model,
        design.flat_x,
        cost_scale=design.cost_scale,
        rounding_margin=design.rounding_margin,
        options=options,
        time_limit_s=_left(options, started),
    )
    if outcome.arc_values is None:
        if best is None:
            return _none(outcome.status, lower)
        return _answer(arrays, demand, design, best, lower, proven=False)
    proven = outcome.status is RouteStatus.OPTIMAL
    if proven and options.tie_break_latency and _left(options, started) > 0.05:
        hold_cost(
            design.model,
            design.objective,
            design.latency,
            cost_scale=design.cost_scale,
            x=design.flat_x,
            outcome=outcome,
        )
        faster = _minimize(design, None, None, quiet, _left(options, started))
        if faster.arc_values is not None:
            return _answer(arrays, demand, design, faster, lower, proven=True)
    bound = outcome.bound if math.isfinite(outcome.bound) else lower
    return _answer(arrays, demand, design, outcome, max(lower, bound), proven=proven)


def _none(status: RouteStatus, lower: float) -> LeastShared:
    """No routes: proven infeasible (bound infinite), or out of time."""
    if status is RouteStatus.INFEASIBLE:
        return LeastShared(status, bound=math.inf)
    return LeastShared(RouteStatus.UNSOLVED, bound=lower)


def _left(options: SolverOptions, started: float) -> float:
    """Seconds left of the options' time limit."""
    return max(options.time_limit_s - (time.perf_counter() - started), 0.0)


def _minimize(
    design: DesignModel, criterion, hint: ModelOutcome | None, options: SolverOptions, time_limit_s: float
) -> ModelOutcome:
    """Solve the model for criterion (None: the objective already set), from hint's values."""
    if criterion is not None:
        design.model.minimize(criterion)
    if hint is not None:
        _hint(design, hint)
    return solve_cp_model(
        design.model,
        design.flat_x,
        cost_scale=1.0,
        rounding_margin=0.0,
        options=options,
        time_limit_s=time_limit_s,
    )


def _hint(design: DesignModel, outcome: ModelOutcome | None) -> None:
    """Start the next solve from a solution found (its arc values)."""
    design.model.clear_hints()
    if outcome is None or outcome.arc_values is None:
        return
    for var, value in zip(design.flat_x, outcome.arc_values.tolist(), strict=True):
        design.model.add_hint(var, value)


def _answer(
    arrays: EdgeArrays,
    demand: DesignDemand,
    design: DesignModel,
    outcome: ModelOutcome,
    lower: float,
    *,
    proven: bool,
) -> LeastShared:
    """The routes of a solution, checked in floats against every bound of the demand."""
    assert outcome.arc_values is not None
    values = split_values(design, outcome.arc_values)
    routes = tuple(
        path_in_arcs(arrays, slot.source, slot.arcs, v) for slot, v in zip(design.slots, values, strict=True)
    )
    query = demand.query
    loose = replace(query, max_cost=None)
    if any(r.nodes[-1] != query.target or not is_feasible(r, loose) for r in routes):
        logger.warning("least-shared routes fail the float check; discarded")
        return LeastShared(RouteStatus.UNSOLVED, bound=lower)
    cost = union_cost(arrays, routes)
    if query.max_cost is not None and cost > cost_ceiling(query.max_cost):
        logger.warning("least-shared routes exceed max_cost in floats; discarded")
        return LeastShared(RouteStatus.UNSOLVED, bound=lower)
    if proven:
        return LeastShared(RouteStatus.OPTIMAL, routes, cost)
    return LeastShared(RouteStatus.FEASIBLE, routes, min(lower, cost))
