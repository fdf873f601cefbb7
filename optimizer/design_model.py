"""The OR-Tools CP-SAT model of several demands' diverse routes, their union paid once."""

from __future__ import annotations

import itertools
import math
from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np
from ortools.sat.python import cp_model

from optimizer.flows import site_edges
from optimizer.model import (
    LATENCY_SCALE_BUDGET,
    ModelOutcome,
    integer_cost_scale,
    scale_into,
    solve_cp_model,
)
from optimizer.problem import (
    LATENCY_TOLERANCE_MS,
    DesignDemand,
    Diversity,
    EdgeArrays,
    SolverOptions,
    StopSignal,
)
from optimizer.prune import PrunedArcs, arcs_along, cost_ceiling

__all__ = [
    "SHARE_SCALE",
    "BuildStoppedError",
    "DesignModel",
    "Slot",
    "build_design_model",
    "hint_design",
    "poll",
    "solve_design_model",
    "split_values",
]


SHARE_SCALE = 100_000
"""Integer units per ms of latency in which shared length is weighed: about 2 m of fiber each."""


class BuildStoppedError(Exception):
    """A model build given up part way because its stop signal was set."""


def poll(stop: StopSignal | None) -> None:
    """Raise BuildStoppedError when stop is set (between the steps of a long build)."""
    if stop is not None and stop.is_set():
        raise BuildStoppedError


@dataclass(frozen=True, eq=False)
class Slot:
    """One route to find: demand d's route number p over that demand's pruned arcs."""

    demand: int
    path: int
    source: int
    arcs: PrunedArcs


@dataclass(eq=False)
class DesignModel:
    """A CP-SAT model with one 0/1 flow per slot and the integer scales of its objective."""

    model: cp_model.CpModel
    slots: list[Slot]
    x: list[list[cp_model.IntVar]]
    objective: cp_model.LinearExpr
    latency: cp_model.LinearExpr
    cost_scale: float
    latency_scale: float
    rounding_margin: float
    slot_latency: list
    """Each slot's latency in integer units, for diagnosis objectives."""
    latency_ms: np.ndarray
    """Latency per edge of the arrays, to order hints as the model orders slots."""
    ors: list[tuple[cp_model.IntVar, list[tuple[int, int]]]] = field(default_factory=list)
    """Indicators defined as 'some of these (slot, arc) is used', for complete hints."""
    sharing: list[cp_model.LinearExpr] = field(default_factory=list)
    """With soft diversity, what the slots share, most important first: length (SHARE_SCALE units
    of latency per ms), then junctions (node and SRLG diversity), then risk groups (SRLG)."""

    @property
    def flat_x(self) -> list[cp_model.IntVar]:
        """Every slot's arc variables in slot order, as solve values come back."""
        return [v for xs in self.x for v in xs]


class _Builder:
    """Collects variables and constraints of a design model."""

    def __init__(
        self,
        arrays: EdgeArrays,
        demands: Sequence[DesignDemand],
        slots: list[Slot],
        stop: StopSignal | None = None,
        *,
        soft: bool = False,
    ) -> None:
        self.arrays, self.demands, self.slots, self.stop = arrays, demands, slots, stop
        self.soft = soft
        """Slots of one demand may share edges (soft diversity)."""
        self.model = cp_model.CpModel()
        self.x: list[list[cp_model.IntVar]] = []
        for s in slots:
            poll(stop)
            self.x.append([self.model.new_bool_var("") for _ in range(len(s.arcs.edge))])
        self.site_masks = [site_edges(arrays, d) for d in demands]
        self.ors: list[tuple[cp_model.IntVar, list[tuple[int, int]]]] = []

    def site_edge(self, e: int, uses: list[tuple[int, int]]) -> bool:
        """Whether edge e is a site's own edge for the demand of some of these uses."""
        return any(self.site_masks[self.slots[s].demand][e] for s, _a in uses)

    def indicator(self, uses: list[tuple[int, int]]) -> cp_model.IntVar:
        """A Boolean forced on by any of the (slot, arc) uses."""
        var = self.model.new_bool_var("")
        for s, a in uses:
            self.model.add_implication(self.x[s][a], var)
        self.ors.append((var, uses))
        return var

    def arcs_by(self, key: Callable[[Slot], np.ndarray], slots: Sequence[int]) -> dict[int, list]:
        """(slot, arc) uses grouped by a per-arc key (edge, head node ...)."""
        groups: dict[int, list[tuple[int, int]]] = defaultdict(list)
        for s in slots:
            poll(self.stop)
            for a, k in enumerate(key(self.slots[s]).tolist()):
                groups[k].append((s, a))
        return groups


def build_design_model(
    arrays: EdgeArrays,
    demands: Sequence[DesignDemand],
    slots: list[Slot],
    *,
    upper_bound: float = math.inf,
    latency_bounded: bool = True,
    soft_diversity: bool = False,
    stop: StopSignal | None = None,
) -> DesignModel:
    """Minimum union cost of every slot's route, each demand's routes diverse and bounded.

    min   sum_e cost_e U_e + sum_j permit_j Y_j        (U_e: edge e on any route, Y_j: j entered)
    s.t.  a unit s-t flow per slot, at most one arc into any node          (1)
          sum latency x <= max_latency_ms per slot                         (2)
          diversity between the slots of a demand: shared edge, node, group (3)
          conflicting edge pairs not on two slots of a demand              (4)
          counted jurisdictions per slot <= max_jurisdictions              (5)
          each demand's own union cost <= max_cost                         (6)
          slots of a demand ordered by latency (symmetry)                  (7)

    soft_diversity: (3) becomes what the slots share, as DesignModel.sharing (the least-shared
    fallback); two slots of a demand may then run one edge, paid once.
    stop, when set, ends the build part way (BuildStoppedError): a large model takes seconds.
    """
    b = _Builder(arrays, demands, slots, stop, soft=soft_diversity)
    model = b.model
    used_edges = np.unique(np.concatenate([s.arcs.edge for s in slots])) if slots else np.zeros(0, int)
    all_juris = _jurisdictions_on(arrays, used_edges)
    permit_j = all_juris[arrays.permit_cost[all_juris] > 0]
    edge_cost = arrays.cost[used_edges]
    cost_scale = integer_cost_scale(np.concatenate([edge_cost, arrays.permit_cost[permit_j]]), upper_bound)
    bounds = [demands[s.demand].query.max_latency_ms for s in slots]
    top = max(bounds, default=1.0) if latency_bounded else float(arrays.latency_ms[used_edges].sum())
    lat_integral = bool(np.all(arrays.latency_ms == np.round(arrays.latency_ms))) and all(
        float(v).is_integer() for v in bounds
    )
    latency_scale = scale_into(max(top, 1e-9), LATENCY_SCALE_BUDGET, lat_integral)
    slot_latency = []
    for i, slot in enumerate(slots):
        poll(stop)
        query = demands[slot.demand].query
        _flow(model, b.x[i], slot.arcs, arrays.n_nodes, query.source, query.target)  # (1)
        lat_int = np.round(arrays.latency_ms[slot.arcs.edge] * latency_scale).astype(np.int64)
        latency = cp_model.LinearExpr.weighted_sum(b.x[i], lat_int.tolist())
        slot_latency.append(latency)
        if latency_bounded:  # (2)
            model.add(latency <= math.floor((query.max_latency_ms + LATENCY_TOLERANCE_MS) * latency_scale))
        if query.max_jurisdictions is not None:  # (5)
            counted = [b.indicator(uses) for j, uses in _juris_uses(b, [i]).items() if arrays.counted[j]]
            if counted:
                model.add(sum(counted) <= query.max_jurisdictions)
    by_demand: dict[int, list[int]] = defaultdict(list)
    for i, slot in enumerate(slots):
        by_demand[slot.demand].append(i)
    sharing: list[cp_model.LinearExpr] = []
    for d, members in by_demand.items():
        poll(stop)
        if soft_diversity:
            sharing = _sharing(b, demands[d], members)
            if demands[d].conflicts is not None and len(demands[d].conflicts) and len(members) > 1:
                edge_uses = b.arcs_by(lambda s: s.arcs.edge, members)
                _separation(b, demands[d].conflicts, edge_uses)  # (4) stays strict
        else:
            _diversity(b, demands[d], members)  # (3), (4)
        for first, second in itertools.pairwise(members):  # (7)
            model.add(slot_latency[first] <= slot_latency[second])
    edge_uses = b.arcs_by(lambda s: s.arcs.edge, range(len(slots)))
    terms, coefs = _union_cost_terms(b, edge_uses, permit_j, cost_scale)
    objective = cp_model.LinearExpr.weighted_sum(terms, coefs)
    for d, members in by_demand.items():  # (6)
        max_cost = demands[d].query.max_cost
        if max_cost is not None:
            own_edges = b.arcs_by(lambda s: s.arcs.edge, members)
            own_terms, own_coefs = _union_cost_terms(b, own_edges, permit_j, cost_scale, members)
            ceiling = cost_ceiling(max_cost) * cost_scale  # a float: it may be beyond any integer
            if ceiling < sum(own_coefs):  # else it cannot bind
                model.add(cp_model.LinearExpr.weighted_sum(own_terms, own_coefs) <= math.floor(ceiling))
    model.minimize(objective)
    latency_total = sum(slot_latency) if slot_latency else cp_model.LinearExpr.constant(0)
    margin = 0.5 * (len(used_edges) + len(permit_j)) / cost_scale
    return DesignModel(
        model,
        slots,
        b.x,
        objective,
        latency_total,
        cost_scale,
        latency_scale,
        margin,
        slot_latency,
        arrays.latency_ms,
        b.ors,
        sharing,
    )


def _jurisdictions_on(arrays: EdgeArrays, edges: np.ndarray) -> np.ndarray:
    """Distinct jurisdiction ids of any level on the edges."""
    ids = np.unique(arrays.jurisdiction[edges].ravel()) if len(edges) else np.zeros(0, np.int64)
    return ids[ids >= 0]


def _juris_uses(b: _Builder, members: Sequence[int]) -> dict[int, list[tuple[int, int]]]:
    """(slot, arc) uses per jurisdiction entered, over the member slots."""
    uses: dict[int, list[tuple[int, int]]] = defaultdict(list)
    for s in members:
        levels = b.arrays.jurisdiction[b.slots[s].arcs.edge]
        for a, row in enumerate(levels.tolist()):
            for j in row:
                if j >= 0:
                    uses[j].append((s, a))
    return uses


def _union_cost_terms(
    b: _Builder,
    edge_uses: dict[int, list[tuple[int, int]]],
    permit_j: np.ndarray,
    cost_scale: float,
    members: Sequence[int] | None = None,
) -> tuple[list, list[int]]:
    """Cost of the distinct edges and permits the slots use, as integer-weighted terms.

    An edge that only one demand's slots can use is on at most one of them (diversity), so its
    arc variables carry the cost directly; an edge several demands, or several routes of one
    demand (a site's own edge), may share gets an indicator.
    """
    terms: list = []
    coefs: list[int] = []
    cost = b.arrays.cost
    for n, (e, uses) in enumerate(edge_uses.items()):
        if n % 256 == 0:
            poll(b.stop)
        c = round(float(cost[e]) * cost_scale)
        if c == 0:
            continue
        if len({b.slots[s].demand for s, _a in uses}) == 1 and not b.site_edge(e, uses) and not b.soft:
            terms.extend(b.x[s][a] for s, a in uses)
            coefs.extend([c] * len(uses))
        else:
            terms.append(_shared_edge(b, e, uses))
            coefs.append(c)
    priced = set(permit_j.tolist())
    for j, uses in _juris_uses(b, range(len(b.slots)) if members is None else members).items():
        if j in priced:
            terms.append(b.indicator(uses))
            coefs.append(round(float(b.arrays.permit_cost[j]) * cost_scale))
    return terms, coefs


def _shared_edge(b: _Builder, e: int, uses: list[tuple[int, int]]) -> cp_model.IntVar:
    """An edge several demands may use: on when any does.

    Linked per demand as one linear row (sum of that demand's arcs on the edge <= on), which
    CP-SAT keeps in its LP relaxation, rather than as implications, which it does not.
    """
    var = b.model.new_bool_var("")
    by_demand: dict[tuple[int, int], list] = defaultdict(list)
    for s, a in uses:  # a site's own edge is linked route by route: all its routes may use it
        key = (b.slots[s].demand, s if b.soft or b.site_edge(e, [(s, a)]) else -1)
        by_demand[key].append(b.x[s][a])
    for xs in by_demand.values():
        b.model.add(sum(xs) <= var)
    b.ors.append((var, uses))
    return var


def _flow(model: cp_model.CpModel, x: list, arcs: PrunedArcs, n_nodes: int, source: int, target: int) -> None:
    """Unit flow from source to target, at most one arc into any node."""
    outs: dict[int, list] = defaultdict(list)
    ins: dict[int, list] = defaultdict(list)
    for a, (u, v) in enumerate(zip(arcs.tail.tolist(), arcs.head.tolist(), strict=True)):
        outs[u].append(x[a])
        ins[v].append(x[a])
    for n in set(outs) | set(ins):
        model.add(sum(outs[n]) - sum(ins[n]) == (n == source) - (n == target))
        if len(ins[n]) > 1:
            model.add_at_most_one(ins[n])
    if source not in outs or target not in ins:
        model.add_bool_or([])  # an end unreachable within the bounds: infeasible


def _diversity(b: _Builder, demand: DesignDemand, members: list[int]) -> None:
    """No shared edge / node / risk group, no conflicting pair, between a demand's slots."""
    if len(members) < 2:
        return
    query = demand.query
    ends = {query.source, query.target, *demand.source_nodes, *demand.target_nodes}
    arrays = b.arrays
    shared = site_edges(arrays, demand)
    edge_uses = {e: u for e, u in b.arcs_by(lambda s: s.arcs.edge, members).items() if not shared[e]}
    for n, (e, uses) in enumerate(edge_uses.items()):
        if n % 256 == 0:
            poll(b.stop)
        between_ends = {int(arrays.tail[e]), int(arrays.head[e])} <= ends
        if (demand.diversity is Diversity.EDGE or between_ends) and len({s for s, _a in uses}) > 1:
            b.model.add_at_most_one(b.x[s][a] for s, a in uses)
    if demand.diversity in (Diversity.NODE, Diversity.SRLG):
        for n, uses in b.arcs_by(lambda s: s.arcs.head, members).items():
            if n not in ends and len({s for s, _a in uses}) > 1:
                b.model.add_at_most_one(b.x[s][a] for s, a in uses)
    if demand.diversity is Diversity.SRLG and len(arrays.srlg_edge):
        groups: dict[int, list[int]] = defaultdict(list)
        for e, g in zip(arrays.srlg_edge.tolist(), arrays.srlg_group.tolist(), strict=True):
            if e in edge_uses:
                groups[g].append(e)
        for edges in groups.values():
            poll(b.stop)
            per_slot: dict[int, list[tuple[int, int]]] = defaultdict(list)
            for e in edges:
                for s, a in edge_uses[e]:
                    per_slot[s].append((s, a))
            if len(per_slot) > 1:
                b.model.add_at_most_one(b.indicator(uses) for uses in per_slot.values())
    if demand.conflicts is not None and len(demand.conflicts):
        _separation(b, demand.conflicts, edge_uses)


def _sharing(b: _Builder, demand: DesignDemand, members: list[int]) -> list[cp_model.LinearExpr]:
    """What a demand's slots share beyond its sites, as (3) relaxed: per edge, node or risk group
    an integer of the slots on it past the first, summed as length, junctions, groups."""
    if len(members) < 2:
        return []
    arrays, model, k = b.arrays, b.model, len(members)
    query = demand.query
    ends = {query.source, query.target, *demand.source_nodes, *demand.target_nodes}
    shared = site_edges(arrays, demand)
    edge_uses = {e: u for e, u in b.arcs_by(lambda s: s.arcs.edge, members).items() if not shared[e]}

    def extra(uses: list) -> cp_model.IntVar:
        """Slots past the first among these uses (each slot counts once per use)."""
        var = model.new_int_var(0, k - 1, "")
        model.add(sum(uses) <= 1 + var)
        return var

    length, weights = [], []
    for e, uses in edge_uses.items():
        if len({s for s, _a in uses}) > 1:
            length.append(extra([b.x[s][a] for s, a in uses]))
            weights.append(round(float(arrays.latency_ms[e]) * SHARE_SCALE))
    sharing = [cp_model.LinearExpr.weighted_sum(length, weights)]
    if demand.diversity in (Diversity.NODE, Diversity.SRLG):
        nodes = [
            extra([b.x[s][a] for s, a in uses])
            for n, uses in b.arcs_by(lambda s: s.arcs.head, members).items()
            if n not in ends and len({s for s, _a in uses}) > 1
        ]
        sharing.append(sum(nodes) if nodes else cp_model.LinearExpr.constant(0))
    if demand.diversity is Diversity.SRLG:
        groups: dict[int, list[int]] = defaultdict(list)
        for e, g in zip(arrays.srlg_edge.tolist(), arrays.srlg_group.tolist(), strict=True):
            if e in edge_uses:
                groups[g].append(e)
        held = []
        for edges in groups.values():
            per_slot: dict[int, list[tuple[int, int]]] = defaultdict(list)
            for e in edges:
                for s, a in edge_uses[e]:
                    per_slot[s].append((s, a))
            if len(per_slot) > 1:
                held.append(extra([b.indicator(uses) for uses in per_slot.values()]))
        sharing.append(sum(held) if held else cp_model.LinearExpr.constant(0))
    return sharing


def _separation(b: _Builder, conflicts: np.ndarray, edge_uses: dict[int, list[tuple[int, int]]]) -> None:
    """For each too-close edge pair, two different slots may not hold one edge each."""
    used: dict[tuple[int, int], cp_model.IntVar] = {}

    def on(slot: int, edge: int) -> cp_model.IntVar:
        key = (slot, edge)
        if key not in used:
            used[key] = b.indicator([u for u in edge_uses[edge] if u[0] == slot])
        return used[key]

    for n, (e, f) in enumerate(conflicts.tolist()):
        if n % 256 == 0:
            poll(b.stop)
        if e == f or e not in edge_uses or f not in edge_uses:
            continue
        slots_e = {s for s, _a in edge_uses[e]}
        slots_f = {s for s, _a in edge_uses[f]}
        for p in slots_e:
            for q in slots_f:
                if p != q:
                    b.model.add_bool_or([on(p, e).Not(), on(q, f).Not()])


def hint_design(
    design: DesignModel, routes: Sequence[Sequence[int] | None], *, stop: StopSignal | None = None
) -> None:
    """Warm start from known routes (edge lists per slot, travel order), with every indicator.

    Each demand's routes go to its slots in order of their integer latency, so the hint meets
    the latency ordering of the slots (a float order can flip on near-ties once rounded).
    stop, when set, ends it part way (BuildStoppedError).
    """
    routes = _ordered_for_slots(design, routes)
    values: list[list[bool]] = []
    for slot, edges in zip(design.slots, routes, strict=True):
        poll(stop)
        values.append((arcs_along(slot.arcs, slot.source, edges) or []) if edges is not None else [])
    if any(not v for v in values):
        return  # a hint must be complete to help; a partial one is dropped
    for xs, vs in zip(design.x, values, strict=True):
        poll(stop)
        for var, value in zip(xs, vs, strict=True):
            design.model.add_hint(var, value)
    for n, (var, uses) in enumerate(design.ors):
        if n % 1024 == 0:
            poll(stop)
        design.model.add_hint(var, any(values[s][a] for s, a in uses))


def _ordered_for_slots(design: DesignModel, routes: Sequence[Sequence[int] | None]) -> list:
    """The routes of each demand reassigned to its slots, fastest (in model units) first."""
    if any(r is None for r in routes):
        return list(routes)
    by_demand: dict[int, list[int]] = defaultdict(list)
    for i, slot in enumerate(design.slots):
        by_demand[slot.demand].append(i)
    ordered: list = list(routes)
    for members in by_demand.values():
        own = [routes[i] for i in members]
        ints = [
            int(np.round(design.latency_ms[np.asarray(r, dtype=np.int64)] * design.latency_scale).sum())
            for r in own
        ]
        for i, k in zip(members, np.argsort(ints, kind="stable").tolist(), strict=True):
            ordered[i] = own[k]
    return ordered


def solve_design_model(design: DesignModel, *, options: SolverOptions, time_limit_s: float) -> ModelOutcome:
    """Solve to proven optimality or the time limit; arc values are per slot, concatenated."""
    return solve_cp_model(
        design.model,
        design.flat_x,
        cost_scale=design.cost_scale,
        rounding_margin=design.rounding_margin,
        options=options,
        time_limit_s=time_limit_s,
    )


def split_values(design: DesignModel, values: np.ndarray) -> list[np.ndarray]:
    """Concatenated arc values cut back into one array per slot."""
    sizes = np.cumsum([len(xs) for xs in design.x])[:-1]
    return np.split(values, sizes)
