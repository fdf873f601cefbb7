"""The OR-Tools CP-SAT model of one latency-bounded, permit-aware minimum-cost route."""

from __future__ import annotations

import contextlib
import math
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
from ortools.sat.python import cp_model

from optimizer.problem import (
    LATENCY_TOLERANCE_MS,
    RESOURCE_TOLERANCE,
    EdgeArrays,
    RouteQuery,
    RouteStatus,
    SolverOptions,
    StopSignal,
)
from optimizer.prune import PrunedArcs, arcs_along, cost_ceiling

__all__ = [
    "COST_SCALE_BUDGET",
    "LATENCY_SCALE_BUDGET",
    "CallStop",
    "ModelOutcome",
    "RouteModel",
    "build_route_model",
    "call_time_limit_s",
    "hold_cost",
    "integer_cost_scale",
    "relevant_jurisdictions",
    "restrict_to_cost",
    "scale_into",
    "solve_cp_model",
    "solve_route_model",
    "stopped_by_caller",
]

COST_SCALE_BUDGET = 2.0**40
"""Integer cost units: the model's total cost range fits in 2^40 units (exact to ~1e-12)."""

LATENCY_SCALE_BUDGET = 2.0**36
"""Integer latency units: the bound is about 2^36 units (~1e-10 ms at 7.5 ms)."""

_STATUS = {
    cp_model.OPTIMAL: RouteStatus.OPTIMAL,
    cp_model.FEASIBLE: RouteStatus.FEASIBLE,
    cp_model.INFEASIBLE: RouteStatus.INFEASIBLE,
    cp_model.UNKNOWN: RouteStatus.UNSOLVED,
}
"""CP-SAT terminations mapped to route statuses; MODEL_INVALID is a bug and raises."""


class CallStop(StopSignal):
    """The stop signal of one solve call: set when the caller's signal is, when the call's time
    limit runs out (a timer thread), or by set(); hooked and timed only inside its `with` block.

    Every phase of the call polls it alone, so a time limit halts Python work as a cancel does;
    by_caller tells the two apart (for reasons).
    """

    def __init__(self, caller: StopSignal | None, time_limit_s: float = math.inf) -> None:
        super().__init__()
        self.caller = caller
        self.time_limit_s = time_limit_s
        self._scope = contextlib.ExitStack()

    def __enter__(self) -> CallStop:
        """Follow the caller's signal and start the timer."""
        if self.caller is not None:
            self._scope.enter_context(self.caller.hooked(self.set))
        if math.isfinite(self.time_limit_s):
            timer = threading.Timer(max(self.time_limit_s, 0.0), self.set)
            timer.daemon = True
            self._scope.callback(timer.cancel)
            timer.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        """Stop following the caller and cancel the timer."""
        self._scope.close()

    @property
    def by_caller(self) -> bool:
        """Whether the caller's signal (a cancel or a deadline, not the time limit) is set."""
        return stopped_by_caller(self.caller)

    @property
    def timer_only(self) -> bool:
        """Whether nothing but this call's own time limit can set it (no caller signal)."""
        return self.caller is None


def call_time_limit_s(stop: StopSignal | None, default: float) -> float:
    """The time limit of the innermost call that set one (for reasons), else default."""
    while isinstance(stop, CallStop):
        if math.isfinite(stop.time_limit_s):
            return stop.time_limit_s
        stop = stop.caller
    return default


def stopped_by_caller(stop: StopSignal | None) -> bool:
    """Whether a caller's stop, not a call's time limit, has set the signal."""
    if stop is None or not stop.is_set():
        return False
    return stop.by_caller if isinstance(stop, CallStop) else True


@dataclass(eq=False)
class RouteModel:
    """A CP-SAT model with its arc and jurisdiction variables and integer scales."""

    model: cp_model.CpModel
    arcs: PrunedArcs
    x: list[cp_model.IntVar]
    objective: cp_model.LinearExpr
    latency: cp_model.LinearExpr
    cost_scale: float
    latency_scale: float
    rounding_margin: float
    """Most a route's true cost can sit below its integer model cost: half a unit per term
    (a simple route has at most one arc per node, one indicator per jurisdiction)."""


@dataclass(frozen=True)
class ModelOutcome:
    """What CP-SAT proved: status, chosen arcs, objective and bound in currency units."""

    status: RouteStatus
    arc_values: np.ndarray | None
    objective: float
    bound: float
    wall_s: float


def scale_into(values_total: float, budget: float, integral: bool) -> float:
    """A power-of-two scale that maps a range of values_total into the budget."""
    if integral and values_total <= budget:
        return 1.0
    if values_total <= 0:
        return 1.0
    exponent = math.floor(math.log2(budget) - math.log2(values_total))  # no overflow for tiny totals
    return 2.0 ** min(exponent, 1000)


def integer_cost_scale(coefficients: np.ndarray, upper_bound: float) -> float:
    """Model cost units: the costliest route the model must tell apart (the upper bound, else
    every coefficient together) spans the budget, and so does any single coefficient at most."""
    span = min(upper_bound, float(coefficients.sum()))
    span = max(span, float(coefficients.max(initial=0.0)))  # a term past the bound must still fit
    integral = bool(np.all(coefficients == np.round(coefficients)))
    return scale_into(span, COST_SCALE_BUDGET, integral)


def build_route_model(
    arrays: EdgeArrays,
    query: RouteQuery,
    arcs: PrunedArcs,
    *,
    hint_edges: tuple[int, ...] = (),
    upper_bound: float = math.inf,
) -> RouteModel:
    """Latency-bounded minimum-cost route as a 0/1 flow on the pruned arcs.

    min   sum_a cost_a x_a + sum_j permit_cost_j y_j
    s.t.  out(n) - in(n) = [n = s] - [n = t]       for every node n     (1)
          in(n) <= 1                                for every node n     (2)
          sum_a latency_a x_a <= max_latency_ms                          (3)
          sum_a resource_ka x_a <= max_resources_k     for every resource k (3')
          y_j >= x_a       for every arc a with an edge in jurisdiction j (4)
          sum_{j counted} y_j <= max_jurisdictions                       (5)
          objective <= max_cost                                          (6)
    """
    model = cp_model.CpModel()
    n_arcs = len(arcs.edge)
    x = [model.new_bool_var("") for _ in range(n_arcs)]
    cost = arrays.cost[arcs.edge]
    juris_ids = relevant_jurisdictions(arrays, query, arcs.edge)
    permit = arrays.permit_cost[juris_ids]
    # Scale to the costliest route the model must tell apart (the best known one, else all
    # arcs), so rounding stays ~1e-12 of a route's cost whatever the model's size.
    cost_scale = integer_cost_scale(np.concatenate([cost, permit]), upper_bound)
    lat = arrays.latency_ms[arcs.edge]
    lat_integral = bool(np.all(lat == np.round(lat))) and float(query.max_latency_ms).is_integer()
    latency_scale = scale_into(query.max_latency_ms, LATENCY_SCALE_BUDGET, lat_integral)
    cost_int = np.round(cost * cost_scale).astype(np.int64)
    lat_int = np.round(lat * latency_scale).astype(np.int64)

    _add_flow_balance(model, x, arcs, arrays.n_nodes, query)  # (1), (2)
    latency = cp_model.LinearExpr.weighted_sum(x, lat_int.tolist())
    bound_int = math.floor((query.max_latency_ms + LATENCY_TOLERANCE_MS) * latency_scale)
    model.add(latency <= bound_int)  # (3)
    _add_resource_limits(model, x, arrays, query, arcs)  # (3')
    y = _add_jurisdictions(model, x, arrays, query, arcs, juris_ids)  # (4), (5)
    permit_int = np.round(permit * cost_scale).astype(np.int64)
    objective = cp_model.LinearExpr.weighted_sum(x + y, cost_int.tolist() + permit_int.tolist())
    ceiling = _max_cost_int(query.max_cost, cost_scale, int(cost_int.sum() + permit_int.sum()))
    if ceiling is not None:  # (6)
        model.add(objective <= ceiling)
    model.minimize(objective)
    _add_hint(model, x, arcs, query, hint_edges)
    n_nodes = len(np.union1d(arcs.tail, arcs.head))
    margin = 0.5 * (n_nodes + len(y)) / cost_scale
    return RouteModel(model, arcs, x, objective, latency, cost_scale, latency_scale, margin)


def _add_resource_limits(
    model: cp_model.CpModel, x: list[cp_model.IntVar], arrays: EdgeArrays, query: RouteQuery, arcs: PrunedArcs
) -> None:
    """Each extra resource summed over the chosen arcs stays within its limit."""
    for k, limit in enumerate(query.max_resources or ()):
        used = arrays.resources[arcs.edge, k]
        ceiling = limit + RESOURCE_TOLERANCE
        if used.sum() <= ceiling:
            continue  # cannot bind
        integral = bool(np.all(used == np.round(used))) and float(limit).is_integer()
        scale = scale_into(ceiling, LATENCY_SCALE_BUDGET, integral)  # pruned arcs each use at most it
        used_int = np.round(used * scale).astype(np.int64)
        model.add(cp_model.LinearExpr.weighted_sum(x, used_int.tolist()) <= math.floor(ceiling * scale))


def _max_cost_int(max_cost: float | None, cost_scale: float, total_int: int) -> int | None:
    """max_cost (plus the tie tolerance) in model units; None when it cannot bind (compared in
    floats first: a huge max_cost is beyond any integer the solver takes)."""
    if max_cost is None:
        return None
    ceiling = cost_ceiling(max_cost) * cost_scale
    return None if ceiling >= total_int else math.floor(ceiling)


def relevant_jurisdictions(arrays: EdgeArrays, query: RouteQuery, edges: np.ndarray) -> np.ndarray:
    """Jurisdictions of the edges that carry a permit cost or count toward the query's limit."""
    ids = np.unique(arrays.jurisdiction[edges].ravel())
    ids = ids[ids >= 0]
    relevant = arrays.permit_cost[ids] > 0
    if query.max_jurisdictions is not None:
        relevant |= arrays.counted[ids]
    return ids[relevant]


def _add_flow_balance(
    model: cp_model.CpModel,
    x: list[cp_model.IntVar],
    arcs: PrunedArcs,
    n_nodes: int,
    query: RouteQuery,
) -> None:
    """Unit flow from source to target, at most one arc into any node."""
    out_of = _group(arcs.tail, n_nodes)
    into = _group(arcs.head, n_nodes)
    nodes = np.union1d(arcs.tail, arcs.head)
    for n in nodes.tolist():
        outs = [x[a] for a in out_of(n)]
        ins = [x[a] for a in into(n)]
        supply = (n == query.source) - (n == query.target)
        model.add(sum(outs) - sum(ins) == supply)
        if len(ins) > 1:
            model.add_at_most_one(ins)
    for endpoint in (query.source, query.target):
        if endpoint not in set(nodes.tolist()):
            model.add_bool_or([])  # endpoint unreachable within the bounds: infeasible


def _group(keys: np.ndarray, n_nodes: int) -> Callable[[int], np.ndarray]:
    """Index lists of arcs per node key, as a lookup function."""
    order = np.argsort(keys, kind="stable")
    starts = np.searchsorted(keys[order], np.arange(n_nodes + 1))
    return lambda n: order[starts[n] : starts[n + 1]]


def _add_jurisdictions(
    model: cp_model.CpModel,
    x: list[cp_model.IntVar],
    arrays: EdgeArrays,
    query: RouteQuery,
    arcs: PrunedArcs,
    juris_ids: np.ndarray,
) -> list[cp_model.IntVar]:
    """One indicator per relevant jurisdiction, on whenever an arc inside it is used."""
    y = [model.new_bool_var("") for _ in range(len(juris_ids))]
    if not len(juris_ids):
        return y
    position = {int(j): k for k, j in enumerate(juris_ids)}
    levels = arrays.jurisdiction[arcs.edge]
    for level in range(levels.shape[1]):
        column = levels[:, level]
        for a in np.flatnonzero(np.isin(column, juris_ids)).tolist():
            model.add_implication(x[a], y[position[int(column[a])]])
    if query.max_jurisdictions is not None:
        counted = [y[k] for k, j in enumerate(juris_ids) if arrays.counted[j]]
        if counted:
            model.add(sum(counted) <= query.max_jurisdictions)
    return y


def _add_hint(
    model: cp_model.CpModel,
    x: list[cp_model.IntVar],
    arcs: PrunedArcs,
    query: RouteQuery,
    hint_edges: tuple[int, ...],
) -> None:
    """Warm start from a known feasible route, arc by arc in travel direction."""
    values = arcs_along(arcs, query.source, hint_edges) if hint_edges else None
    for var, value in zip(x, values or (), strict=False):
        model.add_hint(var, value)


def solve_route_model(
    route_model: RouteModel, *, options: SolverOptions, time_limit_s: float
) -> ModelOutcome:
    """Solve to proven optimality or the time limit; map the termination to a status."""
    return solve_cp_model(
        route_model.model,
        route_model.x,
        cost_scale=route_model.cost_scale,
        rounding_margin=route_model.rounding_margin,
        options=options,
        time_limit_s=time_limit_s,
    )


def solve_cp_model(
    model: cp_model.CpModel,
    x: Sequence[cp_model.IntVar],
    *,
    cost_scale: float,
    rounding_margin: float,
    options: SolverOptions,
    time_limit_s: float,
) -> ModelOutcome:
    """Run CP-SAT with the caller's limits and stop signal; values of x, objective and bound
    come back in currency units (the objective's integer units over cost_scale)."""
    solver = cp_model.CpSolver()
    solver.parameters.max_time_in_seconds = max(time_limit_s, 0.01)
    solver.parameters.num_workers = max(1, options.num_workers)
    solver.parameters.log_search_progress = options.log_search
    solver.parameters.relative_gap_limit = 0.0
    solver.parameters.absolute_gap_limit = 0.0
    # OR-Tools 9.15 presolve (ProcessAtMostOneAndLinear) can certify a wrong optimum on
    # linear 0/1 models like these (google/or-tools#5293); switch that step off.
    solver.parameters.presolve_inclusion_work_limit = 0
    callback = _Incumbents(cost_scale, options.on_incumbent) if options.on_incumbent else None
    stop = options.stop
    if stop is not None and stop.is_set():  # stopped before the search: not even loading the model
        return ModelOutcome(RouteStatus.UNSOLVED, None, math.nan, -math.inf, 0.0)

    def halt() -> None:
        """End the search, or (before CP-SAT has begun, when stop_search does nothing) its time."""
        solver.parameters.max_time_in_seconds = 0.0  # read as the search starts
        solver.stop_search()

    with stop.hooked(halt) if stop else contextlib.nullcontext():
        code = solver.solve(model, callback)
    if code == cp_model.MODEL_INVALID:
        raise RuntimeError(f"CP-SAT rejected the model: {model.validate()}")
    status = _STATUS[code]
    values = None
    objective = bound = float("nan")
    if status in (RouteStatus.OPTIMAL, RouteStatus.FEASIBLE):
        values = np.array([solver.boolean_value(v) for v in x], dtype=bool)
        objective = solver.objective_value / cost_scale
    if status is not RouteStatus.INFEASIBLE:
        bound = solver.best_objective_bound / cost_scale - rounding_margin
    return ModelOutcome(status, values, objective, bound, solver.wall_time)


class _Incumbents(cp_model.CpSolverSolutionCallback):
    """Reports each improving solution's cost and the current bound, in currency units."""

    def __init__(self, cost_scale: float, report: Callable[[float, float], None]) -> None:
        super().__init__()
        self._scale = cost_scale
        self._report = report

    def on_solution_callback(self) -> None:
        """Forward objective and bound of the new incumbent."""
        self._report(self.objective_value / self._scale, self.best_objective_bound / self._scale)


def restrict_to_cost(route_model: RouteModel, outcome: ModelOutcome) -> RouteModel:
    """The same model held at the proven optimal cost, now minimizing latency (tie-break)."""
    hold_cost(
        route_model.model,
        route_model.objective,
        route_model.latency,
        cost_scale=route_model.cost_scale,
        x=route_model.x,
        outcome=outcome,
    )
    return route_model


def hold_cost(
    model: cp_model.CpModel,
    objective: cp_model.LinearExpr,
    latency: cp_model.LinearExpr,
    *,
    cost_scale: float,
    x: Sequence[cp_model.IntVar],
    outcome: ModelOutcome,
) -> None:
    """Hold a solved model at its proven optimal cost and minimize latency, from its solution."""
    model.add(objective <= math.floor(cost_ceiling(outcome.objective) * cost_scale))  # ties: tolerance
    model.minimize(latency)
    model.clear_hints()
    assert outcome.arc_values is not None
    for var, value in zip(x, outcome.arc_values.tolist(), strict=True):
        model.add_hint(var, value)
