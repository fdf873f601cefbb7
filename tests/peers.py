"""Independent exact peers for the design engine, and the instances they are compared on.

Nothing here comes from the engine: only the plain dataclasses of ``optimizer.problem`` are
used, to hand generated graphs and demands to it.  The peers solve the problem as defined:

* **Diverse pair without latency bound** (:func:`diverse_flow`): the least total edge cost of
  k edge-disjoint (or internally node-disjoint) source-target routes in an undirected multigraph
  is a k-unit min-cost flow (Suurballe's problem), solved by OR-Tools' ``SimpleMinCostFlow``.
* **Shared build** (:func:`design_mip`): one or k diverse routes per demand, each within its
  latency bound, at the least cost of the union of their edges (each edge paid once), as a
  fixed-charge multicommodity flow MIP solved by HiGHS through ``scipy.optimize.milp``.

Generators: :func:`jittered_grid` (a grid graph in the plane, jittered, with random diagonals,
parallel corridors and removed edges), :func:`grid_for_edges` (one sized to an edge count),
:func:`pick_pair` and :func:`steiner_instance` (a hub and terminals on such a grid).
"""

from __future__ import annotations

import math
import time
from collections.abc import Sequence
from dataclasses import dataclass, replace

import numpy as np
import scipy.sparse as sp
from ortools.graph.python import min_cost_flow
from scipy.optimize import Bounds, LinearConstraint, milp
from scipy.sparse.csgraph import dijkstra

from optimizer.problem import DesignDemand, DesignResult, Diversity, EdgeArrays, RouteQuery

__all__ = [
    "FlowPeer",
    "MipPeer",
    "PeerDemand",
    "SteinerInstance",
    "binding_pair",
    "design_demands",
    "design_mip",
    "design_problems",
    "diverse_flow",
    "diverse_flow_cost",
    "fastest_ms",
    "flow_for",
    "grid_for_edges",
    "hub_demands",
    "jittered_grid",
    "latency_from",
    "loose_pair",
    "mip_for",
    "pick_pair",
    "route_latency_ms",
    "route_problems",
    "same_cost",
    "shared_build_mip_cost",
    "slowest_ms",
    "steiner_instance",
    "with_srlg",
]

LATENCY_TOLERANCE_MS = 1e-6
"""A route meets its bound when at most this much over it (the problem's definition)."""

COST_RELATIVE_TOLERANCE = 1e-9
"""Costs this close (relative) are equal (the problem's definition)."""

INT_COST_MAX = 2**40
"""Largest integer edge cost of the flow: float costs are scaled so the dearest edge gets this.

Rounding then moves a route set's cost by at most (its edge count) x max_cost x 2**-41, about
1e-12 of the cost for any set on these instances, far inside the 1e-9 the tests compare at.
OR-Tools scales costs by (nodes + 1) inside; 2**40 x 1e5 nodes still fits int64."""

MIP_COST_SCALE = 1e4
"""The MIP objective is scaled so the dearest edge costs this much: HiGHS stops at an absolute
gap of 1e-6 (not settable through scipy), which is then negligible against any design's cost."""

LATENCY_ROW_SCALE = 1e4
"""Right-hand side of every scaled latency row: 1e-6 of it is 1e-10 of the bound."""

LATENCY_MS_PER_KM = 0.005
"""Light in fiber: 5 microseconds per km."""


# --- walking a 0/1 flow back into simple routes ---------------------------------------------


def _routes_from_arcs(
    arc_tail: np.ndarray, arc_head: np.ndarray, arc_edge: np.ndarray, source: int, target: int, k: int
) -> list[tuple[int, ...]]:
    """k simple source-target routes (edge ids) out of a 0/1 flow given by its used arcs.

    The arcs must carry a flow of value k from source to target (conservation everywhere
    else).  Each walk leaves source on an unused arc and follows unused arcs until target;
    when it comes back to a node it already visited, the closed cycle is dropped.  What is
    left after k walks is cycles, also dropped (they cost >= 0 and only add latency).
    """
    out: dict[int, list[tuple[int, int]]] = {}
    for t, h, e in zip(arc_tail.tolist(), arc_head.tolist(), arc_edge.tolist(), strict=True):
        out.setdefault(t, []).append((h, e))
    routes = []
    for _ in range(k):
        nodes, edges, seen = [source], [], {source: 0}
        while nodes[-1] != target:
            nxt, edge = out[nodes[-1]].pop()
            if nxt in seen:  # a cycle: cut it out
                cut = seen[nxt]
                for n in nodes[cut + 1 :]:
                    del seen[n]
                nodes, edges = nodes[: cut + 1], edges[:cut]
            else:
                seen[nxt] = len(nodes)
                nodes.append(nxt)
                edges.append(edge)
        routes.append(tuple(edges))
    return routes


# --- diverse pair: k-unit min-cost flow -----------------------------------------------------


@dataclass(frozen=True)
class FlowPeer:
    """The min-cost flow's answer: cost (None when fewer than k routes exist), its routes (edge
    ids, source to target), the time of SimpleMinCostFlow.solve() and of the whole call."""

    cost: float | None
    routes: tuple[tuple[int, ...], ...]
    solve_s: float
    total_s: float


def diverse_flow(
    n_nodes: int,
    tail: np.ndarray,
    head: np.ndarray,
    cost: np.ndarray,
    source: int,
    target: int,
    k: int,
    node_disjoint: bool,
    allowed: np.ndarray | None = None,
) -> FlowPeer:
    """Least total cost of k edge-disjoint (node_disjoint: internally node-disjoint) routes.

    Formulation: every undirected edge {u, v} of cost c becomes two arcs u->v and v->u, each of
    capacity 1 and integer cost round(c x scale); with node_disjoint, each node other than the
    two ends is split into in -> out of capacity 1 (edge arcs leave "out" copies and enter "in"
    copies).  source supplies k, target takes k.

    Why two opposite unit arcs are enough: this relaxation lets an edge carry a unit each way,
    so its optimum is <= the true optimum.  Taking the net flow of each edge (forward minus
    backward, in {-1, 0, 1}) keeps conservation at every node, does not raise the cost (costs are
    >= 0) and does not raise any node's throughput; its walks from source
    (:func:`_routes_from_arcs`) are k routes using each edge at most once (each internal node at
    most once with node_disjoint) that cost no more than the flow.  They are therefore optimal,
    also when zero-cost edges let the solver send a unit both ways or around a free cycle.  The
    returned cost is recomputed in floats from those routes' edges.  Self-loops never take part.
    """
    started = time.perf_counter()
    tail, head = np.asarray(tail, dtype=np.int64), np.asarray(head, dtype=np.int64)
    cost = np.asarray(cost, dtype=np.float64)
    keep = tail != head
    if allowed is not None:
        keep &= np.asarray(allowed, dtype=bool)
    edges = np.flatnonzero(keep)
    u, v, c = tail[edges], head[edges], cost[edges]
    if not len(edges):
        return FlowPeer(None, (), 0.0, time.perf_counter() - started)
    top = float(c.max())
    int_cost = np.rint(c * (INT_COST_MAX / top)).astype(np.int64) if top > 0 else np.zeros(len(c), np.int64)
    out_id = np.arange(n_nodes, dtype=np.int64)
    if node_disjoint:
        inner = np.ones(n_nodes, dtype=bool)
        inner[[source, target]] = False
        out_id[inner] += n_nodes
    flow = min_cost_flow.SimpleMinCostFlow()
    m = len(edges)
    flow.add_arcs_with_capacity_and_unit_cost(
        np.concatenate([out_id[u], out_id[v]]),
        np.concatenate([v, u]),
        np.ones(2 * m, dtype=np.int64),
        np.concatenate([int_cost, int_cost]),
    )
    if node_disjoint:
        split = np.flatnonzero(inner)
        flow.add_arcs_with_capacity_and_unit_cost(
            split, split + n_nodes, np.ones(len(split), dtype=np.int64), np.zeros(len(split), dtype=np.int64)
        )
    flow.set_nodes_supplies(np.array([source, target]), np.array([k, -k]))
    solve_started = time.perf_counter()
    status = flow.solve()
    solve_s = time.perf_counter() - solve_started
    if status == flow.INFEASIBLE:
        return FlowPeer(None, (), solve_s, time.perf_counter() - started)
    if status != flow.OPTIMAL:
        raise RuntimeError(f"SimpleMinCostFlow ended {status}")
    arc_flow = flow.flows(np.arange(2 * m))
    net = arc_flow[:m] - arc_flow[m:]
    fwd, bwd = net > 0, net < 0
    routes = _routes_from_arcs(
        np.concatenate([u[fwd], v[bwd]]),
        np.concatenate([v[fwd], u[bwd]]),
        np.concatenate([edges[fwd], edges[bwd]]),
        source,
        target,
        k,
    )
    total = float(sum(cost[list(r)].sum() for r in routes))
    return FlowPeer(total, tuple(routes), solve_s, time.perf_counter() - started)


def diverse_flow_cost(
    n_nodes: int,
    tail: np.ndarray,
    head: np.ndarray,
    cost: np.ndarray,
    source: int,
    target: int,
    k: int,
    node_disjoint: bool,
    allowed: np.ndarray | None = None,
) -> float | None:
    """Least total edge cost of k diverse source-target routes, None when fewer exist."""
    return diverse_flow(n_nodes, tail, head, cost, source, target, k, node_disjoint, allowed).cost


# --- shared build: fixed-charge multicommodity flow MIP ------------------------------------


@dataclass(frozen=True)
class PeerDemand:
    """paths mutually diverse routes source -> target, each within max_latency_ms.

    diversity: "edge" (no shared edge), "node" (no shared edge or node besides the two ends)
    or "srlg" (as node, and no shared-risk group held by an edge of each of two routes)."""

    source: int
    target: int
    max_latency_ms: float
    paths: int = 1
    diversity: str = "edge"


@dataclass(frozen=True)
class MipPeer:
    """The MIP's answer: status (OPTIMAL, FEASIBLE, INFEASIBLE, UNSOLVED), union cost of its
    routes (recomputed from their edges), proven lower bound, routes[d][p] (edge ids, source to
    target), the time of the milp call and of the whole call."""

    status: str
    cost: float
    bound: float
    routes: tuple[tuple[tuple[int, ...], ...], ...]
    solve_s: float
    total_s: float


@dataclass(frozen=True)
class _Arcs:
    """The non-loop edges as 2m arcs: arc a < m runs tail -> head of edge a, arc a + m back."""

    edge: np.ndarray  # original edge id of each arc
    tail: np.ndarray
    head: np.ndarray
    latency_ms: np.ndarray
    kept: np.ndarray  # original edge ids of the m kept edges

    @classmethod
    def of(cls, tail: np.ndarray, head: np.ndarray, latency_ms: np.ndarray) -> _Arcs:
        kept = np.flatnonzero(tail != head)
        u, v, lat = tail[kept], head[kept], latency_ms[kept]
        return cls(np.concatenate([kept, kept]), np.r_[u, v], np.r_[v, u], np.r_[lat, lat], kept)

    @property
    def m(self) -> int:
        return len(self.kept)


def _incidence(rows: np.ndarray, n_rows: int) -> sp.csr_matrix:
    """(n_rows, len(rows)) 0/1 matrix with a one at (rows[a], a)."""
    return sp.csr_matrix((np.ones(len(rows)), (rows, np.arange(len(rows)))), shape=(n_rows, len(rows)))


@dataclass(frozen=True)
class _Rows:
    """One family of constraint rows: its blocks on x, y and z (None: all zero) and row bounds."""

    x: sp.spmatrix | None
    y: sp.spmatrix | None
    z: sp.spmatrix | None
    lb: np.ndarray
    ub: np.ndarray


@dataclass(frozen=True)
class _Layout:
    """Commodities (one per route of each demand, owner = its demand) and column counts."""

    owner: np.ndarray
    n_arcs: int
    n_edges: int
    n_z: int = 0

    @property
    def n_x(self) -> int:
        return len(self.owner) * self.n_arcs

    def member(self, demands: Sequence[int]) -> sp.csr_matrix:
        """(len(demands), commodities): 1 where the commodity is a route of that demand."""
        cols = np.flatnonzero(np.isin(self.owner, demands))
        rows = np.searchsorted(demands, self.owner[cols])
        return sp.csr_matrix((np.ones(len(cols)), (rows, cols)), shape=(len(demands), len(self.owner)))


def _balance(arcs: _Arcs, n_nodes: int, demands: Sequence[PeerDemand], layout: _Layout) -> _Rows:
    """(1) out - in = 1 at the source, -1 at the target, 0 elsewhere, per commodity."""
    node_arc = _incidence(arcs.tail, n_nodes) - _incidence(arcs.head, n_nodes)
    owner = layout.owner
    rhs = np.zeros((len(owner), n_nodes))
    rows = np.arange(len(owner))
    rhs[rows, [demands[d].source for d in owner]] = 1.0
    rhs[rows, [demands[d].target for d in owner]] = -1.0
    return _Rows(sp.kron(sp.identity(len(owner)), node_arc), None, None, rhs.ravel(), rhs.ravel())


def _linking(arcs: _Arcs, demands: Sequence[PeerDemand], layout: _Layout) -> _Rows:
    """(2) sum over a demand's routes of x_uv + x_vu <= y_e: builds e, and keeps the demand's
    routes edge-disjoint."""
    edge_arc = _incidence(np.r_[np.arange(arcs.m), np.arange(arcs.m)], arcs.m)
    n = len(demands)
    x = sp.kron(layout.member(list(range(n))), edge_arc)
    y = -sp.kron(np.ones((n, 1)), sp.identity(arcs.m))
    return _Rows(x, y, None, np.full(x.shape[0], -np.inf), np.zeros(x.shape[0]))


def _rooted_linking(arcs: _Arcs, layout: _Layout) -> _Rows:
    """(2') x_{c,a} <= z_a per commodity and arc, the build columns being one per arc; and
    z_uv + z_vu <= 1."""
    n, width = len(layout.owner), layout.n_arcs
    x = sp.kron(sp.identity(n), sp.identity(width))
    z = -sp.kron(np.ones((n, 1)), sp.identity(width))
    both = _incidence(np.r_[np.arange(arcs.m), np.arange(arcs.m)], arcs.m)
    rows = n * width
    return _Rows(
        sp.vstack([x, sp.csr_matrix((arcs.m, layout.n_x))]),
        sp.vstack([z, both]),
        None,
        np.full(rows + arcs.m, -np.inf),
        np.r_[np.zeros(rows), np.ones(arcs.m)],
    )


def _common_root(demands: Sequence[PeerDemand], arcs: _Arcs) -> int | None:
    """The end every demand shares, when each wants one route and every edge takes time."""
    if any(d.paths != 1 for d in demands) or not (arcs.latency_ms > 0).all():
        return None
    shared = set.intersection(*({d.source, d.target} for d in demands))
    return min(shared) if shared else None


def _latency(arcs: _Arcs, demands: Sequence[PeerDemand], layout: _Layout, timed: np.ndarray) -> _Rows:
    """(3) sum_a latency_a x_a <= max_latency_ms (+ tolerance), per route of each timed demand.

    Each row is scaled so its right-hand side is LATENCY_ROW_SCALE: HiGHS lets a row be 1e-6
    over (its MIP feasibility tolerance), which must not let a route 1e-6 ms too slow in."""
    commodities = np.flatnonzero(timed[layout.owner])
    ub = np.array([demands[d].max_latency_ms + LATENCY_TOLERANCE_MS for d in layout.owner[commodities]])
    scale = LATENCY_ROW_SCALE / ub
    select = sp.csr_matrix(
        (scale, (np.arange(len(commodities)), commodities)), shape=(len(ub), len(layout.owner))
    )
    x = sp.kron(select, sp.csr_matrix(arcs.latency_ms[None, :]))
    return _Rows(x, None, None, np.full(len(ub), -np.inf), np.full(len(ub), LATENCY_ROW_SCALE))


def _node_diversity(
    arcs: _Arcs, n_nodes: int, demands: Sequence[PeerDemand], layout: _Layout
) -> _Rows | None:
    """(4) routes of a node/srlg demand enter each node other than its ends at most once in all."""
    chosen = [i for i, d in enumerate(demands) if d.diversity in ("node", "srlg") and d.paths > 1]
    if not chosen:
        return None
    ub = np.ones((len(chosen), n_nodes))
    for row, i in enumerate(chosen):
        ub[row, [demands[i].source, demands[i].target]] = np.inf
    x = sp.kron(layout.member(chosen), _incidence(arcs.head, n_nodes))
    return _Rows(x, None, None, np.full(ub.size, -np.inf), ub.ravel())


def _srlg_groups(arcs: _Arcs, n_edges: int, srlg_edge, srlg_group) -> tuple[np.ndarray, np.ndarray, int]:
    """(kept edge position, group index) of each pair on a kept edge, and the group count."""
    position = np.full(n_edges, -1)
    position[arcs.kept] = np.arange(arcs.m)
    pair_e = position[np.asarray(srlg_edge, dtype=np.int64)]
    on_kept = pair_e >= 0
    groups, pair_g = np.unique(np.asarray(srlg_group)[on_kept], return_inverse=True)
    return pair_e[on_kept], pair_g, len(groups)


def _srlg(arcs: _Arcs, demands: Sequence[PeerDemand], layout: _Layout, pairs) -> tuple[_Rows, ...]:
    """(5) z_{c,g} >= x_uv + x_vu for each edge e of group g, and sum over a demand's routes of
    z_{c,g} <= 1.  z holds one column per (srlg commodity, group), commodity-major."""
    chosen = [i for i, d in enumerate(demands) if d.diversity == "srlg" and d.paths > 1]
    pair_e, pair_g, n_groups = pairs
    commodities = np.flatnonzero(np.isin(layout.owner, chosen))
    select = _incidence(commodities, len(layout.owner)).T  # (srlg commodities, commodities) one-hot
    edge_arc = _incidence(np.r_[np.arange(arcs.m), np.arange(arcs.m)], arcs.m)
    uses_x = sp.kron(select, edge_arc[pair_e])
    uses_z = -sp.kron(sp.identity(len(commodities)), _incidence(pair_g, n_groups).T)
    member = _incidence(np.searchsorted(chosen, layout.owner[commodities]), len(chosen))
    once_z = sp.kron(member, sp.identity(n_groups))
    uses = _Rows(uses_x, None, uses_z, np.full(uses_x.shape[0], -np.inf), np.zeros(uses_x.shape[0]))
    once = _Rows(None, None, once_z, np.full(once_z.shape[0], -np.inf), np.ones(once_z.shape[0]))
    return uses, once


def _stack(families: Sequence[_Rows], layout: _Layout) -> LinearConstraint:
    """Every family's rows as one sparse constraint over the columns x | y | z."""
    widths = (layout.n_x, layout.n_edges, layout.n_z)
    blocks = []
    for f in families:
        height = len(f.lb)
        blocks.append(
            [
                sp.csr_matrix((height, w)) if b is None else sp.csr_matrix(b)
                for b, w in zip((f.x, f.y, f.z), widths, strict=True)
                if w
            ]
        )
    a = sp.bmat(blocks, format="csr")
    return LinearConstraint(
        a, np.concatenate([f.lb for f in families]), np.concatenate([f.ub for f in families])
    )


def _reachable_arcs(arcs: _Arcs, n_nodes: int, demands: Sequence[PeerDemand], layout: _Layout) -> np.ndarray:
    """Upper bound 0/1 of each x: arc u->v can lie on a route of demand d only if the fastest
    latency source->u, plus the arc, plus the fastest v->target fits the bound (exact)."""
    ends = sorted({d.source for d in demands} | {d.target for d in demands})
    fastest = latency_from(n_nodes, arcs.tail[: arcs.m], arcs.head[: arcs.m], arcs.latency_ms[: arcs.m], ends)
    row = {node: i for i, node in enumerate(ends)}
    ub = []
    for d in layout.owner:
        dem = demands[d]
        through = fastest[row[dem.source], arcs.tail] + arcs.latency_ms + fastest[row[dem.target], arcs.head]
        # 1e-9 ms of slack for sums taken in another order: an arc kept too many is harmless
        ub.append(through <= dem.max_latency_ms + LATENCY_TOLERANCE_MS + 1e-9)
    return np.concatenate(ub).astype(np.float64)


def design_mip(
    n_nodes: int,
    tail: np.ndarray,
    head: np.ndarray,
    cost: np.ndarray,
    latency_ms: np.ndarray,
    demands: Sequence[PeerDemand],
    *,
    srlg_edge: np.ndarray | None = None,
    srlg_group: np.ndarray | None = None,
    time_limit_s: float = 60.0,
) -> MipPeer:
    """Every demand's diverse routes at the least cost of their union, by a MIP.

    Variables: x_{c,a} in {0,1} for commodity c (one per route of each demand) on arc a (both
    directions of each non-loop edge); y_e in {0,1} builds edge e; z_{c,g} in {0,1} marks route
    c in shared-risk group g (srlg demands only).

        min   sum_e cost_e y_e
        s.t.  out_c(v) - in_c(v) = [v = s_c] - [v = t_c]         for all c, v      (1)
              sum_{c of d} (x_{c,uv} + x_{c,vu}) <= y_e          for all d, e      (2)
              sum_a latency_a x_{c,a} <= max_latency_ms_c        for all c         (3)
              sum_{c of d} in_c(v) <= 1                          d node/srlg, v not an end of d (4)
              x_{c,uv} + x_{c,vu} <= z_{c,g},  sum_{c of d} z_{c,g} <= 1   d srlg, e in g  (5)

    (2) is both the fixed charge and the edge diversity within a demand.  A 0/1 flow may hold
    cycles besides its route; dropping them keeps every row satisfied and the union cost no
    higher, so the optimum is that of simple routes.  Arcs no route within the latency bound
    can use (fastest latency from both ends) are fixed to 0.  Rows (3) are added lazily: the
    model is solved without them, then again with those of every demand that had a route too
    slow, until none has.  Each round solves a relaxation, so its bound holds, and the last
    one's routes meet every bound: they are optimal.  (Should a route break a row already in the
    model, beyond HiGHS's tolerance, the answer is UNSOLVED rather than wrong.)

    When every demand wants one route, all share one end r (a hub) and every edge has
    latency > 0, the routes are oriented away from r and built per arc (the much tighter
    bidirected formulation of a Steiner tree):

              x_{c,a} <= z_a for all c, a;   z_uv + z_vu <= 1;   min sum_a cost_a z_a     (2')

    This loses nothing.  Among the optimal route systems take one of least total latency, and
    suppose route P uses u->v and route Q uses v->u.  With a = latency of P's part r->u, b of
    Q's part r->v and l > 0 that of the edge: if b < a + l, P can follow Q's part r->v and then
    its own rest (cut short where it repeats a node), strictly faster and within its bound;
    otherwise a < b + l and Q does the same with P's part.  Neither builds anything new, so
    total latency drops: a contradiction.  Hence some optimum uses every edge one way only and
    is a solution of (2') with the same cost; any solution of (2') costs at least its union.
    """
    started = time.perf_counter()
    model = _build_model(n_nodes, tail, head, cost, latency_ms, demands, srlg_edge, srlg_group)
    timed = np.zeros(len(demands), dtype=bool)  # demands whose latency rows are in the model
    solve_s = 0.0
    while True:
        families = [*model.families, _latency(model.arcs, model.demands, model.layout, timed)]
        solve_started = time.perf_counter()
        res = milp(
            model.objective,
            integrality=np.ones(len(model.objective)),
            bounds=Bounds(np.zeros(len(model.upper)), model.upper),
            constraints=_stack(families, model.layout),
            options={"time_limit": max(time_limit_s - (solve_started - started), 0.0), "mip_rel_gap": 0.0},
        )
        solve_s += time.perf_counter() - solve_started
        status, bound, routes = _read_solution(res, model)
        if routes is None:
            break
        slow = _slow_demands(model, routes, latency_ms)
        if not slow.any():
            break
        if status != "OPTIMAL" or (slow & timed).any():  # out of time, or a row not kept
            status, routes = "UNSOLVED", None
            break
        timed |= slow
    return _peer_result(model, status, bound, routes, cost, (solve_s, started))


@dataclass(frozen=True, eq=False)
class _Model:
    """Everything of the MIP but the latency rows, which are added as routes turn out too slow."""

    arcs: _Arcs
    layout: _Layout
    demands: Sequence[PeerDemand]  # as modelled: those ending at the root flipped
    asked: Sequence[PeerDemand]
    families: list[_Rows]
    objective: np.ndarray
    upper: np.ndarray
    scale: float


def _build_model(n_nodes, tail, head, cost, latency_ms, demands, srlg_edge, srlg_group) -> _Model:
    """Rows (1), (2) or (2'), (4), (5), the objective and the column bounds."""
    tail, head = np.asarray(tail, dtype=np.int64), np.asarray(head, dtype=np.int64)
    cost, latency_ms = np.asarray(cost, dtype=np.float64), np.asarray(latency_ms, dtype=np.float64)
    arcs = _Arcs.of(tail, head, latency_ms)
    root = _common_root(demands, arcs)
    asked = demands
    if root is not None:  # every route leaves the root: flip those that end there
        demands = [d if d.source == root else PeerDemand(root, d.source, d.max_latency_ms) for d in demands]
    layout = _Layout(_commodities(demands), 2 * arcs.m, arcs.m if root is None else 2 * arcs.m)
    link = _linking(arcs, demands, layout) if root is None else _rooted_linking(arcs, layout)
    families = [_balance(arcs, n_nodes, demands, layout), link]
    if (node := _node_diversity(arcs, n_nodes, demands, layout)) is not None:
        families.append(node)
    srlg_demands = [i for i, d in enumerate(demands) if d.diversity == "srlg" and d.paths > 1]
    pairs = _srlg_groups(arcs, len(tail), srlg_edge, srlg_group) if srlg_edge is not None else None
    if srlg_demands and pairs is not None and pairs[2]:
        n_srlg = int(np.isin(layout.owner, srlg_demands).sum())
        layout = replace(layout, n_z=n_srlg * pairs[2])
        families += _srlg(arcs, demands, layout, pairs)
    top = float(cost[arcs.kept].max(initial=0.0))
    scale = MIP_COST_SCALE / top if top > 0 else 1.0
    build_cost = cost[arcs.kept] if root is None else cost[arcs.edge]
    objective = np.concatenate([np.zeros(layout.n_x), build_cost * scale, np.zeros(layout.n_z)])
    upper = np.r_[_reachable_arcs(arcs, n_nodes, demands, layout), np.ones(len(objective) - layout.n_x)]
    return _Model(arcs, layout, demands, asked, families, objective, upper, scale)


def _commodities(demands: Sequence[PeerDemand]) -> np.ndarray:
    """The demand of each commodity: one commodity per route of each demand."""
    return np.repeat(np.arange(len(demands)), [d.paths for d in demands])


_MILP_STATUS = {0: "OPTIMAL", 1: "FEASIBLE", 2: "INFEASIBLE", 3: "UNSOLVED", 4: "UNSOLVED"}
"""scipy.optimize.milp status -> peer status (1 = time or node limit; FEASIBLE only with an x)."""


def _read_solution(res, model: _Model) -> tuple[str, float, list[tuple[int, ...]] | None]:
    """Status, proven bound (in cost units) and each commodity's route walked out of its flow."""
    status = _MILP_STATUS[res.status]
    bound = getattr(res, "mip_dual_bound", None)
    bound = (
        math.inf if status == "INFEASIBLE" else (-math.inf if bound is None else float(bound) / model.scale)
    )
    if res.x is None:
        return ("INFEASIBLE" if status == "INFEASIBLE" else "UNSOLVED"), bound, None
    arcs, owner = model.arcs, model.layout.owner
    x = res.x[: model.layout.n_x].reshape(len(owner), 2 * arcs.m) > 0.5
    routes = []
    for c, d in enumerate(owner):
        dem = model.demands[d]
        used = x[c]
        routes += _routes_from_arcs(
            arcs.tail[used], arcs.head[used], arcs.edge[used], dem.source, dem.target, 1
        )
    return status, bound, routes


def _slow_demands(model: _Model, routes: Sequence[tuple[int, ...]], latency_ms: np.ndarray) -> np.ndarray:
    """Which demands have a route over its latency bound."""
    slow = np.zeros(len(model.demands), dtype=bool)
    for d, route in zip(model.layout.owner, routes, strict=True):
        limit = model.demands[d].max_latency_ms + LATENCY_TOLERANCE_MS
        slow[d] |= float(np.asarray(latency_ms, dtype=np.float64)[list(route)].sum()) > limit
    return slow


def _peer_result(
    model: _Model, status: str, bound: float, routes, cost, times: tuple[float, float]
) -> MipPeer:
    """Routes per demand in the asked direction, their union cost, and the proven bound."""
    solve_s, started = times
    if routes is None:
        return MipPeer(status, math.nan, bound, (), solve_s, time.perf_counter() - started)
    per_demand: list[list[tuple[int, ...]]] = [[] for _ in model.demands]
    for d, route in zip(model.layout.owner, routes, strict=True):
        flipped = model.asked[d].source != model.demands[d].source
        per_demand[d].append(route[::-1] if flipped else route)
    union = sorted({e for r in routes for e in r})
    total = float(np.asarray(cost, dtype=np.float64)[union].sum())
    if status == "OPTIMAL":
        bound = min(bound, total)
    return MipPeer(
        status, total, bound, tuple(map(tuple, per_demand)), solve_s, time.perf_counter() - started
    )


def shared_build_mip_cost(
    n_nodes: int,
    tail: np.ndarray,
    head: np.ndarray,
    cost: np.ndarray,
    latency_ms: np.ndarray,
    demands: Sequence[tuple[int, int, float]],
    time_limit_s: float,
) -> tuple[str, float, float]:
    """(status, union cost, bound) of one route per (source, target, max_latency_ms) demand."""
    peer = design_mip(
        n_nodes,
        tail,
        head,
        cost,
        latency_ms,
        [PeerDemand(s, t, ms) for s, t, ms in demands],
        time_limit_s=time_limit_s,
    )
    return peer.status, peer.cost, peer.bound


# --- instances ------------------------------------------------------------------------------


def jittered_grid(
    rows: int,
    cols: int,
    seed: int,
    *,
    spacing_km: float = 10.0,
    jitter: float = 0.35,
    diagonal_p: float = 0.15,
    parallel_p: float = 0.03,
    removal_p: float = 0.08,
    cost_per_km: tuple[float, float] = (0.5, 2.0),
) -> EdgeArrays:
    """A rows x cols grid of corridors in the plane, no jurisdictions.

    Nodes sit on the grid jittered by up to jitter x spacing each way.  Grid edges are removed
    with probability removal_p; a cell gets one of its two diagonals with probability
    diagonal_p; an edge gets a second, parallel corridor (10-30% longer) with probability
    parallel_p.  cost = length_km x a cost per km drawn uniformly in cost_per_km per edge;
    latency = length_km x 0.005 ms.  Node id = row x cols + col.
    """
    rng = np.random.default_rng(seed)
    r, c = np.divmod(np.arange(rows * cols), cols)
    xy = (np.c_[c, r] + rng.uniform(-jitter, jitter, (rows * cols, 2))) * spacing_km
    ids = np.arange(rows * cols).reshape(rows, cols)
    across = np.c_[ids[:, :-1].ravel(), ids[:, 1:].ravel()]
    down = np.c_[ids[:-1, :].ravel(), ids[1:, :].ravel()]
    grid = np.r_[across, down]
    grid = grid[rng.random(len(grid)) >= removal_p]
    cells = ids[:-1, :-1].ravel()
    cells = cells[rng.random(len(cells)) < diagonal_p]
    flip = rng.random(len(cells)) < 0.5
    diagonal = np.where(flip[:, None], np.c_[cells + 1, cells + cols], np.c_[cells, cells + cols + 1])
    pairs = np.r_[grid, diagonal]
    length = np.linalg.norm(xy[pairs[:, 0]] - xy[pairs[:, 1]], axis=1)
    twin = rng.random(len(pairs)) < parallel_p
    length = np.r_[length, length[twin] * rng.uniform(1.1, 1.3, int(twin.sum()))]
    pairs = np.r_[pairs, pairs[twin]]
    swap = rng.random(len(pairs)) < 0.5  # undirected: orientation carries no meaning
    tail = np.where(swap, pairs[:, 1], pairs[:, 0]).astype(np.int64)
    head = np.where(swap, pairs[:, 0], pairs[:, 1]).astype(np.int64)
    return EdgeArrays(
        n_nodes=rows * cols,
        tail=tail,
        head=head,
        cost=length * rng.uniform(*cost_per_km, len(length)),
        latency_ms=length * LATENCY_MS_PER_KM,
        jurisdiction=np.zeros((len(tail), 0), dtype=np.int64),
        permit_cost=np.zeros(0),
        counted=np.zeros(0, dtype=bool),
    )


def _expected_edges(rows: int, cols: int) -> float:
    """Expected edge count of the default jittered grid of that shape."""
    grid = (rows * (cols - 1) + cols * (rows - 1)) * (1 - 0.08)
    return (grid + 0.15 * (rows - 1) * (cols - 1)) * 1.03


def grid_for_edges(n_edges: int, seed: int, **options) -> EdgeArrays:
    """A default jittered grid with about n_edges edges, cols about 1.25 x rows."""
    rows = 3
    while _expected_edges(rows + 1, round(1.25 * (rows + 1))) <= n_edges:
        rows += 1
    cols = max(3, round(1.25 * rows))
    while _expected_edges(rows, cols + 1) <= n_edges:
        cols += 1
    return jittered_grid(rows, cols, seed, **options)


def latency_from(
    n_nodes: int, tail: np.ndarray, head: np.ndarray, latency_ms: np.ndarray, sources: Sequence[int]
) -> np.ndarray:
    """(len(sources), n_nodes) fastest latency over the undirected edges (inf: unreachable)."""
    keep = tail != head
    lo, hi, lat = np.minimum(tail, head)[keep], np.maximum(tail, head)[keep], latency_ms[keep]
    order = np.lexsort((lat, hi, lo))  # the fastest of parallel edges first (csr would add them up)
    lo, hi, lat = lo[order], hi[order], lat[order]
    first = np.r_[True, (lo[1:] != lo[:-1]) | (hi[1:] != hi[:-1])]
    # A tiny positive floor: scipy reads a stored 0 as "no edge".
    graph = sp.csr_matrix((lat[first] + 1e-300, (lo[first], hi[first])), shape=(n_nodes, n_nodes))
    return dijkstra(graph, directed=False, indices=list(sources))


def _degree(arrays: EdgeArrays) -> np.ndarray:
    """Number of distinct neighbours of each node."""
    keep = arrays.tail != arrays.head
    pairs = np.unique(np.c_[arrays.tail[keep], arrays.head[keep]], axis=0)
    return np.bincount(pairs.ravel(), minlength=arrays.n_nodes)


def pick_pair(arrays: EdgeArrays, seed: int, *, min_degree: int = 2) -> tuple[int, int]:
    """A random source and a target among the farthest quarter of nodes (by latency) from it,
    both with at least min_degree neighbours, connected to each other."""
    rng = np.random.default_rng(seed)
    candidates = np.flatnonzero(_degree(arrays) >= min_degree)
    source = int(rng.choice(candidates))
    far = latency_from(arrays.n_nodes, arrays.tail, arrays.head, arrays.latency_ms, [source])[0]
    ok = candidates[np.isfinite(far[candidates]) & (candidates != source)]
    ok = ok[far[ok] >= np.quantile(far[ok], 0.75)]
    return source, int(rng.choice(ok))


@dataclass(frozen=True, eq=False)
class SteinerInstance:
    """A hub to reach from each terminal on one jittered grid, each route within its bound."""

    arrays: EdgeArrays
    hub: int
    terminals: tuple[int, ...]
    max_latency_ms: tuple[float, ...]


def steiner_instance(
    n_edges_target: int, n_terminals: int, seed: int, *, latency_factor: float = 3.0
) -> SteinerInstance:
    """A hub near the grid's middle and n_terminals random nodes connected to it; each terminal's
    bound is latency_factor x its fastest route from the hub (loose: a Steiner tree problem)."""
    arrays = grid_for_edges(n_edges_target, seed)
    rng = np.random.default_rng(seed + 1)
    ends = [0]
    for _ in range(2):  # a pseudo-diameter a-b: farthest from node 0, then farthest from a
        far = latency_from(arrays.n_nodes, arrays.tail, arrays.head, arrays.latency_ms, [ends[-1]])[0]
        ends.append(int(np.argmax(np.where(np.isfinite(far), far, -1.0))))
    both = latency_from(arrays.n_nodes, arrays.tail, arrays.head, arrays.latency_ms, ends[1:])
    eccentric = both.max(axis=0)
    hub = int(rng.choice(np.argsort(eccentric)[:5]))  # near the middle of the diameter
    fastest = latency_from(arrays.n_nodes, arrays.tail, arrays.head, arrays.latency_ms, [hub])[0]
    others = np.flatnonzero(np.isfinite(fastest) & (np.arange(arrays.n_nodes) != hub))
    terminals = tuple(int(t) for t in rng.choice(others, n_terminals, replace=False))
    bounds = tuple(float(latency_factor * fastest[t]) for t in terminals)
    return SteinerInstance(arrays, hub, terminals, bounds)


_DIVERSITY = {"edge": Diversity.EDGE, "node": Diversity.NODE, "srlg": Diversity.SRLG}


def design_demands(demands: Sequence[PeerDemand]) -> list[DesignDemand]:
    """The same demands as the engine's DesignDemand (no jurisdiction or cost limits)."""
    return [
        DesignDemand(
            RouteQuery(d.source, d.target, d.max_latency_ms), paths=d.paths, diversity=_DIVERSITY[d.diversity]
        )
        for d in demands
    ]


def with_srlg(arrays: EdgeArrays, seed: int, n_groups: int) -> EdgeArrays:
    """The arrays with n_groups shared-risk groups, each an edge and a nearby edge that touches
    neither of its ends (a corridor and the one beside it, one block over)."""
    rng = np.random.default_rng(seed)
    incident: list[list[int]] = [[] for _ in range(arrays.n_nodes)]
    for e, (u, v) in enumerate(zip(arrays.tail.tolist(), arrays.head.tolist(), strict=True)):
        incident[u].append(e)
        incident[v].append(e)
    pairs: list[tuple[int, int]] = []
    for _ in range(50 * n_groups):
        if len(pairs) // 2 == n_groups:
            break
        e = int(rng.integers(arrays.n_edges))
        u, v = int(arrays.tail[e]), int(arrays.head[e])
        near = {int(arrays.tail[f]) ^ int(arrays.head[f]) ^ u for f in incident[u]} - {u, v}
        beside = [
            f for w in near for f in incident[w] if not {int(arrays.tail[f]), int(arrays.head[f])} & {u, v}
        ]
        if beside:
            group = len(pairs) // 2
            pairs += [(e, group), (int(rng.choice(beside)), group)]
    edge, group = np.array(pairs, dtype=np.int64).reshape(-1, 2).T
    return replace(arrays, srlg_edge=edge, srlg_group=group)


# --- checking an answer from its edges ------------------------------------------------------


def _walk_problem(arrays: EdgeArrays, edges: Sequence[int], source: int, target: int) -> str | list[int]:
    """The nodes of a simple source-target path over exactly these edges, or what is wrong."""
    if not len(edges):
        return "a route without edges"
    if len(set(edges)) != len(edges):
        return f"repeats an edge: {list(edges)}"
    ends = np.r_[arrays.tail[list(edges)], arrays.head[list(edges)]]
    if (arrays.tail[list(edges)] == arrays.head[list(edges)]).any():
        return "uses a self-loop"
    degree = np.bincount(ends, minlength=arrays.n_nodes)
    inner = np.delete(degree, [source, target])
    if degree[source] != 1 or degree[target] != 1 or not np.isin(inner, (0, 2)).all():
        return "is not a simple path between the demand's ends (a node used twice, or a branch)"
    left, nodes = set(int(e) for e in edges), [source]
    while nodes[-1] != target:
        step = [e for e in left if nodes[-1] in (arrays.tail[e], arrays.head[e])]
        if len(step) != 1:
            return "is not one path"
        left.discard(step[0])
        e = step[0]
        nodes.append(int(arrays.head[e] if arrays.tail[e] == nodes[-1] else arrays.tail[e]))
    return f"holds a cycle besides its path: edges {sorted(left)}" if left else nodes


def route_problems(arrays: EdgeArrays, demand: PeerDemand, routes: Sequence[Sequence[int]]) -> list[str]:
    """What is wrong with a demand's routes (edge ids): their number, each a simple path between
    the ends within the latency bound, and each two diverse as asked.  Empty: nothing."""
    problems = [] if len(routes) == demand.paths else [f"{len(routes)} routes, {demand.paths} asked"]
    interiors, groups = [], []
    for p, edges in enumerate(routes):
        nodes = _walk_problem(arrays, edges, demand.source, demand.target)
        if isinstance(nodes, str):
            problems.append(f"route {p} {nodes}")
            nodes = []
        interiors.append(set(nodes[1:-1]))
        groups.append(set(arrays.srlg_group[np.isin(arrays.srlg_edge, list(edges))].tolist()))
        latency = float(arrays.latency_ms[list(edges)].sum())
        if latency > demand.max_latency_ms + LATENCY_TOLERANCE_MS:
            problems.append(f"route {p} takes {latency!r} ms, bound {demand.max_latency_ms!r} ms")
    for p in range(len(routes)):
        for q in range(p):
            if set(routes[p]) & set(routes[q]):
                problems.append(f"routes {q} and {p} share edges {sorted(set(routes[p]) & set(routes[q]))}")
            if demand.diversity in ("node", "srlg") and interiors[p] & interiors[q]:
                problems.append(f"routes {q} and {p} share nodes {sorted(interiors[p] & interiors[q])}")
            if demand.diversity == "srlg" and groups[p] & groups[q]:
                problems.append(f"routes {q} and {p} share groups {sorted(groups[p] & groups[q])}")
    return problems


def design_problems(arrays: EdgeArrays, demands: Sequence[PeerDemand], result: DesignResult) -> list[str]:
    """What is wrong with an engine's design beyond its status: each demand's routes as asked,
    each route's cost and latency, and the union cost, recomputed from the edges."""
    problems = []
    union: set[int] = set()
    for d, (demand, routes) in enumerate(zip(demands, result.routes, strict=True)):
        problems += [f"demand {d}: {p}" for p in route_problems(arrays, demand, [r.edges for r in routes])]
        for p, r in enumerate(routes):
            if not same_cost(r.cost, float(arrays.cost[list(r.edges)].sum())):
                problems.append(f"demand {d} route {p}: cost {r.cost!r}, its edges cost more or less")
            if not math.isclose(r.latency_ms, float(arrays.latency_ms[list(r.edges)].sum()), abs_tol=1e-9):
                problems.append(f"demand {d} route {p}: latency {r.latency_ms!r} is not its edges' sum")
            union |= set(r.edges)
    if not same_cost(result.cost, float(arrays.cost[sorted(union)].sum())):
        problems.append(
            f"cost {result.cost!r} is not the union cost {float(arrays.cost[sorted(union)].sum())!r}"
        )
    if result.bound > result.cost * (1 + COST_RELATIVE_TOLERANCE) + COST_RELATIVE_TOLERANCE:
        problems.append(f"bound {result.bound!r} above cost {result.cost!r}")
    return problems


def same_cost(a: float, b: float) -> bool:
    """Equal within the problem's relative tolerance (1e-9)."""
    return abs(a - b) <= COST_RELATIVE_TOLERANCE * max(abs(a), abs(b), 1.0)


def route_latency_ms(arrays: EdgeArrays, routes: Sequence[Sequence[int]]) -> float:
    """Total latency of routes given as edge ids."""
    return float(sum(arrays.latency_ms[list(r)].sum() for r in routes))


# --- the cases the tests and the benchmark compare on ---------------------------------------


def fastest_ms(arrays: EdgeArrays, source: int, target: int) -> float:
    """Latency of the fastest source-target route."""
    return float(
        latency_from(arrays.n_nodes, arrays.tail, arrays.head, arrays.latency_ms, [source])[0, target]
    )


def slowest_ms(arrays: EdgeArrays, routes: Sequence[Sequence[int]]) -> float:
    """Latency of the slowest of routes given as edge ids."""
    return max(float(arrays.latency_ms[list(r)].sum()) for r in routes)


def flow_for(arrays: EdgeArrays, demand: PeerDemand, weight: np.ndarray | None = None) -> FlowPeer:
    """The min-cost flow of the demand's pair and diversity (by cost, or by another weight)."""
    weight = arrays.cost if weight is None else weight
    node = demand.diversity != "edge"
    return diverse_flow(
        arrays.n_nodes, arrays.tail, arrays.head, weight, demand.source, demand.target, demand.paths, node
    )


def mip_for(arrays: EdgeArrays, demands: Sequence[PeerDemand], time_limit_s: float) -> MipPeer:
    """The design MIP of the demands on the arrays (their shared-risk groups included)."""
    return design_mip(
        arrays.n_nodes,
        arrays.tail,
        arrays.head,
        arrays.cost,
        arrays.latency_ms,
        demands,
        srlg_edge=arrays.srlg_edge,
        srlg_group=arrays.srlg_group,
        time_limit_s=time_limit_s,
    )


def loose_pair(n_edges: int, seed: int, k: int, kind: str, **grid) -> tuple[EdgeArrays, PeerDemand, FlowPeer]:
    """A grid, a far pair wanting k routes, the flow's answer, and a bound that binds neither the
    flow's routes (1.25x their slowest) nor any route up to 3x the fastest."""
    arrays = grid_for_edges(n_edges, seed, **grid)
    source, target = pick_pair(arrays, seed, min_degree=k)
    demand = PeerDemand(source, target, 3.0 * fastest_ms(arrays, source, target), k, kind)
    flow = flow_for(arrays, demand)
    if flow.cost is not None:
        bound = max(demand.max_latency_ms, 1.25 * slowest_ms(arrays, flow.routes))
        demand = PeerDemand(source, target, bound, k, kind)
    return arrays, demand, flow


def hub_demands(
    n_edges: int, n_terminals: int, seed: int, latency_factor: float = 3.0
) -> tuple[EdgeArrays, list[PeerDemand]]:
    """A Steiner instance as one-route demands hub -> terminal."""
    inst = steiner_instance(n_edges, n_terminals, seed, latency_factor=latency_factor)
    demands = [PeerDemand(inst.hub, t, ms) for t, ms in zip(inst.terminals, inst.max_latency_ms, strict=True)]
    return inst.arrays, demands


def binding_pair(
    n_edges: int, seed: int, k: int, kind: str, groups: int = 0
) -> tuple[EdgeArrays, PeerDemand]:
    """A far pair wanting k routes under a bound halfway between the slowest route of the
    fastest k (least total latency) and the slowest route of the cheapest k: the fastest set
    meets it, the cheapest does not.  groups > 0 adds that many shared-risk groups."""
    arrays = grid_for_edges(n_edges, seed)
    if groups:
        arrays = with_srlg(arrays, seed, groups)
    source, target = pick_pair(arrays, seed, min_degree=k)
    pair = PeerDemand(source, target, math.inf, k, kind)
    cheapest, fastest = flow_for(arrays, pair), flow_for(arrays, pair, arrays.latency_ms)
    bound = 0.5 * (slowest_ms(arrays, cheapest.routes) + slowest_ms(arrays, fastest.routes))
    return arrays, PeerDemand(source, target, bound, k, kind)
