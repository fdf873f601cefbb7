"""The design as a fixed-charge multicommodity network design MIP, solved by an LP-based solver.

One 0/1 arc flow per route to find (slot) over its demand's pruned arcs, one build variable per
edge that several demands may share, linking rows x <= y per demand and edge (the strong
formulation: its LP relaxation is the multicommodity flow bound), permit indicators, latency,
jurisdiction and cost rows, and the diversity of each demand's routes as capacity rows.
The matrix is built as numpy arrays and handed to OR-Tools' model builder in one call; HiGHS
or SCIP (both in OR-Tools' wheel) solve it.
"""

from __future__ import annotations

import contextlib
import itertools
import math
import os
import pickle
import subprocess
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np
import scipy.sparse as sp
from ortools.linear_solver.python import model_builder_helper as mbh

from optimizer.design_model import Slot, poll
from optimizer.flows import site_edges, site_node_mask
from optimizer.model import CallStop, ModelOutcome
from optimizer.problem import (
    LATENCY_TOLERANCE_MS,
    DesignDemand,
    Diversity,
    EdgeArrays,
    RouteStatus,
    SolverOptions,
    StopSignal,
)
from optimizer.prune import arcs_along, cost_ceiling

__all__ = ["MIP_SOLVERS", "DesignMip", "build_design_mip", "solve_design_mip", "start_values"]

MIP_SOLVERS = ("highs", "scip")
"""LP-based MIP solvers the model builder of OR-Tools 9.15 links."""

_STATUS = {
    mbh.SolveStatus.OPTIMAL: RouteStatus.OPTIMAL,
    mbh.SolveStatus.FEASIBLE: RouteStatus.FEASIBLE,
    mbh.SolveStatus.INFEASIBLE: RouteStatus.INFEASIBLE,
    mbh.SolveStatus.NOT_SOLVED: RouteStatus.UNSOLVED,
    mbh.SolveStatus.CANCELLED_BY_USER: RouteStatus.UNSOLVED,
    mbh.SolveStatus.UNKNOWN_STATUS: RouteStatus.UNSOLVED,
    mbh.SolveStatus.ABNORMAL: RouteStatus.UNSOLVED,
}
"""Model builder terminations mapped to statuses (a numerical warning or an abnormal end proves
nothing; a solution it holds is still checked and used); any other is a bug and raises."""


class _Rows:
    """Sparse rows collected family by family: (row, column, coefficient) triplets and bounds."""

    def __init__(self) -> None:
        self.rows: list[np.ndarray] = []
        self.cols: list[np.ndarray] = []
        self.vals: list[np.ndarray] = []
        self.lower: list[np.ndarray] = []
        self.upper: list[np.ndarray] = []
        self.count = 0

    def add(self, row: np.ndarray, col: np.ndarray, val, lower, upper, n_rows: int) -> None:
        """n_rows new rows; row numbers local to the family (0..n_rows-1)."""
        if n_rows == 0:
            return
        self.rows.append(np.asarray(row, np.int64) + self.count)
        self.cols.append(np.asarray(col, np.int64))
        self.vals.append(np.broadcast_to(np.asarray(val, float), np.shape(row)).astype(float))
        self.lower.append(np.broadcast_to(np.asarray(lower, float), (n_rows,)).astype(float))
        self.upper.append(np.broadcast_to(np.asarray(upper, float), (n_rows,)).astype(float))
        self.count += n_rows

    def grouped(self, keys: np.ndarray, cols: np.ndarray, val, lower, upper) -> None:
        """One row per distinct key over the columns carrying it."""
        if not len(keys):
            return
        uniq, row = np.unique(keys, return_inverse=True)
        self.add(row, cols, val, lower, upper, len(uniq))

    def matrix(self, n_cols: int) -> tuple[sp.csr_matrix, np.ndarray, np.ndarray]:
        """The rows as CSR with their bounds."""
        if not self.rows:
            return sp.csr_matrix((0, n_cols)), np.zeros(0), np.zeros(0)
        coo = sp.coo_matrix(
            (np.concatenate(self.vals), (np.concatenate(self.rows), np.concatenate(self.cols))),
            shape=(self.count, n_cols),
        )
        return coo.tocsr(), np.concatenate(self.lower), np.concatenate(self.upper)


@dataclass(eq=False)
class DesignMip:
    """A design MIP: its columns (arc flows first, slot after slot), rows and objective."""

    slots: list[Slot]
    offsets: np.ndarray
    """First column of each slot's arc flows; offsets[-1] = number of arc columns."""
    n_cols: int
    cost: np.ndarray
    """Objective coefficient per column (currency)."""
    latency: np.ndarray
    """Latency per column (arc columns only, 0 elsewhere), for the tie-break."""
    lower: np.ndarray
    upper: np.ndarray
    matrix: sp.csr_matrix
    row_lower: np.ndarray
    row_upper: np.ndarray
    integral: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))
    """Columns that must take 0/1 values: the arc flows, or (rooted) the build columns."""
    links: list[tuple[np.ndarray, np.ndarray]] = field(default_factory=list)
    """(column, arc columns that force it on) per indicator family, to complete a start."""

    def split(self, values: np.ndarray) -> list[np.ndarray]:
        """Arc values cut into one 0/1 array per slot."""
        arc = values[: self.offsets[-1]] > 0.5
        return [arc[self.offsets[i] : self.offsets[i + 1]] for i in range(len(self.slots))]

    @property
    def n_arc_cols(self) -> int:
        """Number of arc-flow columns."""
        return int(self.offsets[-1])


@dataclass(frozen=True, eq=False)
class _Arcs:
    """Every slot's arcs in one flat table: slot, demand, edge, tail, head, column."""

    slot: np.ndarray
    demand: np.ndarray
    edge: np.ndarray
    tail: np.ndarray
    head: np.ndarray

    @classmethod
    def of(cls, slots: Sequence[Slot]) -> _Arcs:
        """The concatenated arcs of the slots, in column order."""
        parts = [np.full(len(s.arcs.edge), i, np.int64) for i, s in enumerate(slots)]

        def cat(values: list[np.ndarray]) -> np.ndarray:
            return np.concatenate(values) if values else np.zeros(0, np.int64)

        slot = cat(parts)
        demand = np.array([s.demand for s in slots], np.int64)[slot] if len(slot) else slot
        return cls(
            slot,
            demand,
            cat([s.arcs.edge for s in slots]),
            cat([s.arcs.tail for s in slots]),
            cat([s.arcs.head for s in slots]),
        )


def build_design_mip(
    arrays: EdgeArrays,
    demands: Sequence[DesignDemand],
    slots: list[Slot],
    *,
    root: int | None = None,
    bounded: Sequence[int] = (),
    stop: StopSignal | None = None,
) -> DesignMip:
    """Minimum union cost of every slot's route, each demand's routes diverse and bounded.

    min   sum_e cost_e y_e + sum_j permit_j w_j          (y_e: edge e built, w_j: j entered)
    s.t.  flow balance of slot s at every node, one arc in at most        (1)
          sum_a latency_a x_sa <= max_latency_ms, per slot                (2)
          sum_{s in d} x_s(e) <= y_e per demand d and shared edge e       (3)
          y_e <= w_j for each edge e in a priced jurisdiction j           (4)
          a demand's routes share no edge / node / risk group             (5)
          counted jurisdictions per slot <= max_jurisdictions             (6)
          each demand's own cost <= max_cost                              (7)
          slots of a demand ordered by latency (symmetry)                 (8)
    An edge only one demand's slots use carries its cost on their arcs directly (diversity
    keeps it on one of them), except a site edge, which all may share.
    x is 0/1; y, w and the other indicators are continuous in [0, 1]: minimization or their
    rows set them to the 0/1 value the arcs imply.

    root, a node every demand (one route each) starts or ends at, builds per edge and
    direction away from the root (the directed formulation of a Steiner tree, far stronger
    than the undirected one), with latency rows (2) only for the slots in bounded.  Without
    latency rows some optimal design is a tree out of the root, so the model's optimum bounds
    the design's.  With them it is exact when every edge has latency > 0 and the routes have
    no other per-route limit: if route P ran u->v and Q v->u, one of them could follow the
    other's part from the root to that edge instead, strictly faster and on edges built
    anyway, so some optimum of least total latency uses every edge one way only.

    stop, when set, ends the build between row families (BuildStoppedError).
    """
    arcs = _Arcs.of(slots)
    n_arcs = len(arcs.edge)
    offsets = np.concatenate([[0], np.cumsum([len(s.arcs.edge) for s in slots])]).astype(np.int64)
    b = _Builder(arrays, demands, slots, arcs, root)
    poll(stop)
    b.flow_rows()  # (1)
    b.latency_rows(range(len(slots)) if root is None else bounded)  # (2)
    poll(stop)
    b.build_columns()  # (3)
    b.permit_columns()  # (4)
    for d in np.unique(arcs.demand).tolist():
        poll(stop)
        b.diversity_rows(d)  # (5), (8)
        b.cost_row(d)  # (7)
    poll(stop)
    b.count_rows()  # (6)
    poll(stop)
    matrix, row_lower, row_upper = b.rows.matrix(b.n_cols)
    cost = np.zeros(b.n_cols)
    for col, value in b.objective:
        cost[col] += value
    latency = np.zeros(b.n_cols)
    latency[:n_arcs] = arrays.latency_ms[arcs.edge]
    upper = np.ones(b.n_cols)
    # Rooted, once the build columns are 0/1 each demand's flow is a shortest path problem
    # over them, whose LP is integral: only the build columns branch.
    bounded_arcs = np.flatnonzero(np.isin(arcs.slot, np.asarray(list(bounded), dtype=np.int64)))
    integral = np.concatenate([b.build_cols, bounded_arcs]) if root is not None else np.arange(n_arcs)
    return DesignMip(
        slots,
        offsets,
        b.n_cols,
        cost,
        latency,
        np.zeros(b.n_cols),
        upper,
        matrix,
        row_lower,
        row_upper,
        integral,
        b.links,
    )


class _Builder:
    """Columns and rows of a design MIP, family by family."""

    def __init__(
        self,
        arrays: EdgeArrays,
        demands: Sequence[DesignDemand],
        slots: list[Slot],
        arcs: _Arcs,
        root: int | None = None,
    ) -> None:
        self.arrays, self.demands, self.slots, self.arcs = arrays, demands, slots, arcs
        self.root = root
        self.rows = _Rows()
        self.n_cols = len(arcs.edge)
        self.objective: list[tuple[np.ndarray, np.ndarray]] = []
        self.links: list[tuple[np.ndarray, np.ndarray]] = []
        self.site = np.zeros(len(arcs.edge), dtype=bool)
        for d, demand in enumerate(demands):
            if demand.source_nodes or demand.target_nodes:
                mine = arcs.demand == d
                self.site[mine] = site_edges(arrays, demand)[arcs.edge[mine]]
        self.used_col = np.zeros(0, np.int64)  # per arc: column that says its edge is built
        self.direct = np.zeros(0, dtype=bool)  # per arc: its edge's cost sits on the arc itself

    def new_columns(self, n: int) -> np.ndarray:
        """n new continuous columns in [0, 1]."""
        cols = np.arange(self.n_cols, self.n_cols + n, dtype=np.int64)
        self.n_cols += n
        return cols

    def flow_rows(self) -> None:
        """Unit flow source -> target per slot (rows for both ends even with no arc), in-degree <= 1."""
        a, n = self.arcs, self.arrays.n_nodes
        cols = np.arange(len(a.edge))
        ends = [(i, self.demands[s.demand].query) for i, s in enumerate(self.slots)]
        keys = np.concatenate([a.slot * n + a.tail, a.slot * n + a.head])
        extra = np.array([k for i, q in ends for k in (i * n + q.source, i * n + q.target)], np.int64)
        uniq, row = np.unique(np.concatenate([keys, extra]), return_inverse=True)
        rhs = np.zeros(len(uniq))
        for i, q in ends:
            rhs[np.searchsorted(uniq, i * n + q.source)] += 1.0
            rhs[np.searchsorted(uniq, i * n + q.target)] -= 1.0
        vals = np.concatenate([np.ones(len(cols)), -np.ones(len(cols))])
        self.rows.add(row[: 2 * len(cols)], np.concatenate([cols, cols]), vals, rhs, rhs, len(uniq))
        if self.root is not None:
            return  # a cycle beside a shortest path only costs more; the path is read from the source
        into = a.slot * n + a.head
        counts = np.bincount(np.unique(into, return_inverse=True)[1]) if len(into) else np.zeros(0)
        many = np.isin(into, np.unique(into)[counts > 1])
        self.rows.grouped(into[many], cols[many], 1.0, -np.inf, 1.0)

    def latency_rows(self, members: Sequence[int]) -> None:
        """Each member slot's latency within its demand's bound."""
        a = self.arcs
        members = np.asarray(list(members), dtype=np.int64)
        if not len(members):
            return
        limit = np.array([self.demands[self.slots[i].demand].query.max_latency_ms for i in members])
        row_of = np.full(len(self.slots), -1, np.int64)
        row_of[members] = np.arange(len(members))
        on = np.flatnonzero(row_of[a.slot] >= 0)
        self.rows.add(
            row_of[a.slot[on]], on, self.arrays.latency_ms[a.edge[on]], -np.inf,
            limit + 0.5 * LATENCY_TOLERANCE_MS, len(members),
        )  # fmt: skip

    def build_columns(self) -> None:
        """A build column y_e per edge several demands (or several routes, on a site edge) use;
        with a root, one per edge and direction away from the root."""
        a = self.arcs
        cols = np.arange(len(a.edge))
        per_edge_demands = _distinct_count(a.edge, a.demand)
        per_edge_slots = _distinct_count(a.edge, a.slot)
        shared = (per_edge_demands[a.edge] > 1) | (self.site & (per_edge_slots[a.edge] > 1))
        self.direct = ~shared
        self.objective.append((cols[self.direct], self.arrays.cost[a.edge[self.direct]]))
        build_key = self._build_key()
        keys = np.unique(build_key[shared])
        y = self.new_columns(len(keys))
        self.build_cols = np.concatenate([y, cols[self.direct]])
        self.objective.append((y, self.arrays.cost[keys // 2 if self.root is not None else keys]))
        self.used_col = cols.copy()
        self.used_col[shared] = y[np.searchsorted(keys, build_key[shared])]
        # x <= y: per demand and edge (a demand's routes are exclusive on it), per slot on site edges
        group = np.where(self.site, a.slot + len(self.demands), a.demand)
        on = np.flatnonzero(shared)
        width = len(self.demands) + len(self.slots)
        uniq, row = np.unique(build_key[on] * width + group[on], return_inverse=True)
        y_of = y[np.searchsorted(keys, uniq // width)]
        self.rows.add(
            np.concatenate([row, np.arange(len(uniq))]),
            np.concatenate([on, y_of]),
            np.concatenate([np.ones(len(on)), -np.ones(len(uniq))]),
            -np.inf, 0.0, len(uniq),
        )  # fmt: skip
        self.links.append((self.used_col[on], on))

    def _build_key(self) -> np.ndarray:
        """Per arc: what a build column stands for, its edge, or (rooted) its edge and the
        direction it runs away from the root (2 e + 1 when away means head -> tail)."""
        a, arrays = self.arcs, self.arrays
        if self.root is None:
            return a.edge
        along = a.tail == arrays.tail[a.edge]  # the arc runs tail -> head of its edge
        from_root = np.array([self.demands[s.demand].query.source == self.root for s in self.slots])[a.slot]
        return 2 * a.edge + (along != from_root)

    def permit_columns(self) -> None:
        """An indicator per priced jurisdiction, on whenever an edge in it is built."""
        a, arrays = self.arcs, self.arrays
        if not arrays.jurisdiction.shape[1] or not len(a.edge):
            return
        juris = arrays.jurisdiction[a.edge]  # (n_arcs, levels)
        arc_idx = np.repeat(np.arange(len(a.edge)), juris.shape[1])
        j = juris.ravel()
        ok = j >= 0
        ok[ok] = arrays.permit_cost[j[ok]] > 0
        arc_idx, j = arc_idx[ok], j[ok]
        if not len(j):
            return
        priced = np.unique(j)
        w = self.new_columns(len(priced))
        self.objective.append((w, arrays.permit_cost[priced]))
        w_of = w[np.searchsorted(priced, j)]
        used = self.used_col[arc_idx]
        pairs = np.unique(np.column_stack([used, w_of]), axis=0)  # built column <= permit column
        n = len(pairs)
        self.rows.add(
            np.concatenate([np.arange(n), np.arange(n)]), pairs.T.ravel(),
            np.concatenate([np.ones(n), -np.ones(n)]), -np.inf, 0.0, n,
        )  # fmt: skip
        self.links.append((w_of, arc_idx))

    def diversity_rows(self, d: int) -> None:
        """Demand d's routes share nothing but its sites; they are ordered by latency."""
        demand = self.demands[d]
        members = [i for i, s in enumerate(self.slots) if s.demand == d]
        if len(members) < 2:
            return
        a, arrays = self.arcs, self.arrays
        mine = np.flatnonzero((a.demand == d) & ~self.site)
        src, tgt = site_node_mask(arrays, demand)
        exempt = src | tgt
        tail_ex, head_ex = exempt[arrays.tail[a.edge[mine]]], exempt[arrays.head[a.edge[mine]]]
        edge_rows = mine if demand.diversity is Diversity.EDGE else mine[tail_ex & head_ex]
        self.rows.grouped(a.edge[edge_rows], edge_rows, 1.0, -np.inf, 1.0)
        if demand.diversity is not Diversity.EDGE:
            into = mine[~exempt[a.head[mine]]]
            self.rows.grouped(a.head[into], into, 1.0, -np.inf, 1.0)
        if demand.diversity is Diversity.SRLG and len(arrays.srlg_edge):
            self._srlg_rows(mine, members)
        lat = arrays.latency_ms[a.edge]
        for first, second in itertools.pairwise(members):
            one, two = np.flatnonzero(a.slot == first), np.flatnonzero(a.slot == second)
            self.rows.add(
                np.zeros(len(one) + len(two), np.int64), np.concatenate([one, two]),
                np.concatenate([lat[one], -lat[two]]), -np.inf, 0.0, 1,
            )  # fmt: skip

    def _srlg_rows(self, mine: np.ndarray, members: list[int]) -> None:
        """z_sg >= arcs of slot s on group g; at most one slot of the demand per group."""
        a, arrays = self.arcs, self.arrays
        order = np.argsort(arrays.srlg_edge, kind="stable")
        se, sg = arrays.srlg_edge[order], arrays.srlg_group[order]
        lo = np.searchsorted(se, a.edge[mine], side="left")
        hi = np.searchsorted(se, a.edge[mine], side="right")
        counts = hi - lo
        arc = np.repeat(mine, counts)
        group = (
            sg[np.concatenate([np.arange(x, y) for x, y in zip(lo, hi, strict=True)])] if len(arc) else arc
        )
        if not len(arc):
            return
        n_slots = len(self.slots)
        key = group * n_slots + a.slot[arc]
        uniq, zrow = np.unique(key, return_inverse=True)
        z = self.new_columns(len(uniq))
        self._at_least(z[zrow], arc)
        self.rows.grouped(uniq // n_slots, z, 1.0, -np.inf, 1.0)

    def count_rows(self) -> None:
        """Per slot of a demand with a jurisdiction limit: counted jurisdictions entered <= limit."""
        a, arrays = self.arcs, self.arrays
        if not arrays.jurisdiction.shape[1]:
            return
        for i, slot in enumerate(self.slots):
            limit = self.demands[slot.demand].query.max_jurisdictions
            if limit is None:
                continue
            own = np.flatnonzero(a.slot == i)
            juris = arrays.jurisdiction[a.edge[own]]
            arc = np.repeat(own, juris.shape[1])
            j = juris.ravel()
            ok = j >= 0
            ok[ok] = arrays.counted[j[ok]]
            arc, j = arc[ok], j[ok]
            if not len(j):
                continue
            uniq, vrow = np.unique(j, return_inverse=True)
            v = self.new_columns(len(uniq))
            self._at_least(v[vrow], arc)
            self.rows.add(np.zeros(len(v), np.int64), v, 1.0, -np.inf, float(limit), 1)

    def cost_row(self, d: int) -> None:
        """Demand d's own edges and permits within its max_cost (no row when it cannot bind)."""
        max_cost = self.demands[d].query.max_cost
        if max_cost is None:
            return
        a, arrays = self.arcs, self.arrays
        mine = np.flatnonzero(a.demand == d)
        plain = mine[~self.site[mine]]
        cols, vals = [plain], [arrays.cost[a.edge[plain]]]
        shared_site = mine[self.site[mine]]
        if len(shared_site):  # a site edge is paid once for all the demand's routes
            edges, inv = np.unique(a.edge[shared_site], return_inverse=True)
            u = self.new_columns(len(edges))
            self._at_least(u[inv], shared_site)
            cols.append(u)
            vals.append(arrays.cost[edges])
        if arrays.jurisdiction.shape[1]:
            juris = arrays.jurisdiction[a.edge[mine]]
            arc = np.repeat(mine, juris.shape[1])
            j = juris.ravel()
            ok = j >= 0
            ok[ok] = arrays.permit_cost[j[ok]] > 0
            if ok.any():
                uniq, prow = np.unique(j[ok], return_inverse=True)
                p = self.new_columns(len(uniq))
                self._at_least(p[prow], arc[ok])
                cols.append(p)
                vals.append(arrays.permit_cost[uniq])
        col, val = np.concatenate(cols), np.concatenate(vals)
        if cost_ceiling(max_cost) >= float(val.sum()):
            return  # every column at 1 fits: a huge max_cost would only strain the solver's numerics
        self.rows.add(np.zeros(len(col), np.int64), col, val, -np.inf, cost_ceiling(max_cost), 1)

    def _at_least(self, indicator: np.ndarray, arc: np.ndarray) -> None:
        """indicator[i] >= x[arc[i]], row by row."""
        n = len(arc)
        self.rows.add(
            np.concatenate([np.arange(n), np.arange(n)]), np.concatenate([arc, indicator]),
            np.concatenate([np.ones(n), -np.ones(n)]), -np.inf, 0.0, n,
        )  # fmt: skip
        self.links.append((indicator, arc))


def _distinct_count(key: np.ndarray, other: np.ndarray) -> np.ndarray:
    """Per key value (indexable up to key.max()): how many distinct values of other it meets."""
    if not len(key):
        return np.zeros(0, np.int64)
    pairs = np.unique(np.column_stack([key, other]), axis=0)
    return np.bincount(pairs[:, 0], minlength=int(key.max()) + 1)


def start_values(mip: DesignMip, routes: Sequence[Sequence[int]]) -> np.ndarray | None:
    """Column values of a complete start (edge lists per slot, from each slot's source)."""
    values = np.zeros(mip.n_cols)
    for i, (slot, edges) in enumerate(zip(mip.slots, routes, strict=True)):
        on = arcs_along(slot.arcs, slot.source, edges)
        if on is None:
            return None
        values[mip.offsets[i] : mip.offsets[i + 1]] = on
    for cols, arcs in mip.links:
        np.maximum.at(values, cols, values[arcs])
    return values


_CHILD_NONZEROS = 2_000
"""Models at least this large, when a caller can stop them, are solved in a child process:
HiGHS in OR-Tools 9.15 does not honour an interrupt (a 70,000-nonzero diverse pair ran its
full two minutes after a cancel), and a process can always be ended.  Smaller ones take
milliseconds in process."""


@dataclass(frozen=True, eq=False)
class _MipTask:
    """Everything one MIP solve needs, picklable for a child process."""

    lower: np.ndarray
    upper: np.ndarray
    objective: np.ndarray
    matrix: sp.csr_matrix
    row_lower: np.ndarray
    row_upper: np.ndarray
    integral: np.ndarray
    start: np.ndarray | None
    solver_name: str
    parameters: str
    time_limit_s: float
    log: bool


def solve_design_mip(
    mip: DesignMip,
    *,
    options: SolverOptions,
    time_limit_s: float,
    solver_name: str = "highs",
    cutoff: float = math.inf,
    objective: np.ndarray | None = None,
    cost_cap: float | None = None,
    start: np.ndarray | None = None,
) -> ModelOutcome:
    """Solve to proven optimality or the time limit; arc values (floats; split() reads them as
    0/1) come back per slot, concatenated.

    cutoff: a known design's cost (nodes that cannot beat it are pruned). objective replaces
    the cost (the tie-break minimizes latency) and cost_cap then holds the cost at most there.
    start is a complete solution for the solvers that take one (SCIP).  options.stop ends the
    solve (a large one runs in a child process, ended at once).
    """
    matrix, row_lower, row_upper = mip.matrix, mip.row_lower, mip.row_upper
    if cost_cap is not None:
        matrix = sp.vstack([matrix, sp.csr_matrix(mip.cost)]).tocsr()
        row_lower = np.append(row_lower, -np.inf)
        row_upper = np.append(row_upper, cost_cap)
    task = _MipTask(
        mip.lower,
        mip.upper,
        mip.cost if objective is None else objective,
        matrix,
        row_lower,
        row_upper,
        mip.integral,
        start if solver_name == "scip" else None,  # HiGHS through OR-Tools 9.15 crashes on hints
        solver_name,
        _parameters(solver_name, options, cutoff if objective is None else math.inf),
        max(time_limit_s, 0.01),
        options.log_search,
    )
    stop = options.stop
    if stop is not None and stop.is_set():
        return ModelOutcome(RouteStatus.UNSOLVED, None, math.nan, -math.inf, 0.0)
    if _may_stop_early(stop) and matrix.nnz >= _CHILD_NONZEROS:
        outcome = _solve_in_child(task, stop)
    else:
        outcome = _solve_task(task, stop)
    if outcome.arc_values is None:
        return outcome
    return replace(outcome, arc_values=outcome.arc_values[: mip.n_arc_cols])


def _may_stop_early(stop: StopSignal | None) -> bool:
    """Whether stop may be set before the solver's own time limit ends it: a caller's signal or
    a rival engine's, not a call's bare timer (HiGHS keeps that limit itself)."""
    return stop is not None and not (isinstance(stop, CallStop) and stop.timer_only)


def _solve_task(task: _MipTask, stop: StopSignal | None = None) -> ModelOutcome:
    """One MIP solve in this process; stop interrupts the solvers that listen (SCIP)."""
    helper = mbh.ModelBuilderHelper()
    helper.fill_model_from_sparse_data(
        task.lower, task.upper, task.objective, task.row_lower, task.row_upper, task.matrix
    )
    for col in task.integral.tolist():
        helper.set_var_integrality(col, True)
    if task.start is not None:
        for col in np.flatnonzero(task.start).tolist():
            helper.add_hint(col, 1.0)
    solver = mbh.ModelSolverHelper(task.solver_name)
    solver.set_time_limit_in_seconds(task.time_limit_s)
    solver.set_solver_specific_parameters(task.parameters)
    if task.log:
        solver.enable_output(True)
    with stop.hooked(solver.interrupt_solve) if stop else contextlib.nullcontext():
        solver.solve(helper)
    code = solver.status()
    if code not in _STATUS:
        raise RuntimeError(f"{task.solver_name} ended {code}: {solver.status_string()}")
    status = _STATUS[code]
    values = None
    value = bound = math.nan
    if solver.has_solution() and status in (RouteStatus.OPTIMAL, RouteStatus.FEASIBLE, RouteStatus.UNSOLVED):
        values = np.asarray(solver.variable_values(), dtype=float)
        value = float(solver.objective_value())
        if status is RouteStatus.UNSOLVED:
            status = RouteStatus.FEASIBLE
    if status is not RouteStatus.INFEASIBLE:
        bound = float(solver.best_objective_bound())
        bound = bound if math.isfinite(bound) else -math.inf
    if status is RouteStatus.OPTIMAL:
        bound = min(bound, value) if math.isfinite(bound) else value
    return ModelOutcome(status, values, value, bound, float(solver.wall_time()))


def _solve_in_child(task: _MipTask, stop: StopSignal) -> ModelOutcome:
    """The solve in a child interpreter (python -m optimizer.design_mip), killed when stop is
    set (UNSOLVED then).  The task goes in on stdin, the outcome comes back on stdout, pickled."""
    package_root = str(Path(__file__).resolve().parents[1])  # importable even from a source tree
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join(filter(None, [package_root, os.environ.get("PYTHONPATH")])),
    }
    child = subprocess.Popen(
        [sys.executable, "-m", "optimizer.design_mip"], stdin=subprocess.PIPE, stdout=subprocess.PIPE, env=env
    )
    started = time.perf_counter()
    with stop.hooked(child.kill):
        out, _ = child.communicate(pickle.dumps(task, protocol=pickle.HIGHEST_PROTOCOL))
    if child.returncode != 0 or not out:
        if stop.is_set():
            return ModelOutcome(
                RouteStatus.UNSOLVED, None, math.nan, -math.inf, time.perf_counter() - started
            )
        raise RuntimeError(f"the {task.solver_name} child process ended with code {child.returncode}")
    answer = pickle.loads(out)
    if isinstance(answer, BaseException):
        raise answer
    return answer


def _child_main() -> None:
    """Child process: read a task on stdin, solve, write the outcome (or the error) on stdout;
    anything else printed goes to stderr."""
    result = os.fdopen(os.dup(1), "wb")
    os.dup2(2, 1)
    task = pickle.load(sys.stdin.buffer)
    try:
        answer: object = _solve_task(task)
    except Exception as error:  # the parent re-raises it
        answer = error
    pickle.dump(answer, result, protocol=pickle.HIGHEST_PROTOCOL)
    result.close()


def _parameters(solver_name: str, options: SolverOptions, cutoff: float) -> str:
    """Exact gaps (relative 1e-10: costs within 1e-9 are ties), quiet; HiGHS prunes at the cutoff
    (SCIP gets the start as a hint instead).  HiGHS's thread count is never set: its scheduler
    is global to the process and started once, and a later solve asking another count fails
    (an UNKNOWN status), as a run of both engines side by side showed."""
    if solver_name == "highs":
        lines = [
            "output_flag=false",
            "mip_rel_gap=1e-10",
            "mip_abs_gap=1e-9",
            "mip_feasibility_tolerance=1e-9",
            "primal_feasibility_tolerance=1e-9",
        ]
        if math.isfinite(cutoff):
            lines.append(f"objective_bound={cutoff!r}")
        return "\n".join(lines)
    lines = [
        "limits/gap = 1e-10",
        "limits/absgap = 1e-9",
        "numerics/feastol = 1e-9",
        f"parallel/maxnthreads = {max(1, options.num_workers)}",
        "display/verblevel = 0",
    ]
    return "\n".join(lines)


if __name__ == "__main__":
    _child_main()
