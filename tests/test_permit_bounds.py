"""The jurisdiction floor is a true lower bound: checked against every simple path.

For each arc, no simple source -> target route through it may pay less permit cost (or count fewer
jurisdictions) than the floor says; the overall least must be at most the cheapest route. The
enumeration is the independent oracle of tests/bruteforce_directed.py.
"""

from __future__ import annotations

import math

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from optimizer.permit_bounds import jurisdiction_floor
from optimizer.prune import ShortestPathGraph
from tests.bruteforce_directed import path_totals, simple_paths
from tests.test_directed_bruteforce import make_arrays

SLACK = 1e-9


def _floors(arrays, source: int, target: int, weight: np.ndarray, keep: np.ndarray | None = None):
    """The floor over the non-loop arcs (those keep marks), with the arcs it is indexed by."""
    graph = ShortestPathGraph.of(arrays, arrays.tail != arrays.head)
    if keep is not None:
        graph = graph.restrict(keep[: graph.n_arcs])
    floor = jurisdiction_floor(arrays, graph.edge, graph.tail, graph.head, source, target, weight)
    return graph, floor


def _as_directed(arrays, graph: ShortestPathGraph):
    """One directed edge per arc of graph, carrying its edge's jurisdictions."""
    return make_arrays(
        arrays.n_nodes,
        [(u, v, 1.0, 1.0) for u, v in zip(graph.tail.tolist(), graph.head.tolist(), strict=True)],
        directed=True,
        jurisdiction=arrays.jurisdiction[graph.edge],
        permit_cost=arrays.permit_cost.tolist(),
        counted=arrays.counted.tolist(),
    )


def _check_against_paths(arrays, source: int, target: int, keep: np.ndarray | None = None) -> None:
    """Floor <= the least permit cost and count of the routes (over the kept arcs) through each arc."""
    graph, _ = _floors(arrays, source, target, arrays.permit_cost, keep)
    arcs = _as_directed(arrays, graph)
    paid, counted = {}, {}
    least_paid = least_counted = math.inf
    for arc_ids, nodes in simple_paths(arcs, source, target):
        edges = graph.edge[list(arc_ids)].tolist()
        totals = path_totals(arrays, edges, nodes)
        least_paid = min(least_paid, totals.permit_cost)
        least_counted = min(least_counted, totals.counted_jurisdictions)
        for e, u in zip(edges, nodes[:-1], strict=True):
            paid[e, u] = min(paid.get((e, u), math.inf), totals.permit_cost)
            counted[e, u] = min(counted.get((e, u), math.inf), totals.counted_jurisdictions)
    for weight, best, least in (
        (arrays.permit_cost, paid, least_paid),
        (arrays.counted.astype(float), counted, least_counted),
    ):
        graph, floor = _floors(arrays, source, target, weight, keep)
        assert floor.least <= least + SLACK
        for a, (e, u) in enumerate(zip(graph.edge.tolist(), graph.tail.tolist(), strict=True)):
            if (e, u) in best:
                assert floor.per_arc[a] <= best[e, u] + SLACK, (e, u, floor.per_arc[a], best[e, u])


@st.composite
def instances(draw):
    """Small multigraphs with two jurisdiction levels, gaps (-1) and ids shared across levels."""
    n = draw(st.integers(3, 7))
    m = draw(st.integers(2, 12))
    n_juris = draw(st.integers(1, 5))
    rows = [(draw(st.integers(0, n - 1)), draw(st.integers(0, n - 1)), 1.0, 1.0) for _ in range(m)]
    juris = [[draw(st.integers(-1, n_juris - 1)) for _ in range(2)] for _ in range(m)]
    permits = [draw(st.sampled_from([0.0, 1.0, 2.5, 10.0])) for _ in range(n_juris)]
    counted = [draw(st.booleans()) for _ in range(n_juris)]
    arrays = make_arrays(
        n,
        rows,
        directed=draw(st.booleans()),
        jurisdiction=juris,
        permit_cost=permits,
        counted=counted,
    )
    source, target = draw(st.permutations(range(n)))[:2]
    keep = np.array(draw(st.lists(st.booleans(), min_size=2 * m, max_size=2 * m)))  # pruned arcs
    return arrays, source, target, keep


@settings(max_examples=400, deadline=None)
@given(instances())
def test_floor_never_exceeds_a_route(case) -> None:
    arrays, source, target, keep = case
    _check_against_paths(arrays, source, target)
    _check_against_paths(arrays, source, target, keep)  # e.g. one direction of an edge pruned


def test_floor_is_exact_along_a_chain() -> None:
    # 0 -J0- 1 -J1- 2 -J2- 3 and a detour 1 -J3- 3 that skips J2.
    rows = [(0, 1, 1, 1), (1, 2, 1, 1), (2, 3, 1, 1), (1, 3, 1, 1)]
    arrays = make_arrays(
        4, rows, directed=False, jurisdiction=[[0], [1], [2], [3]], permit_cost=[1.0, 2.0, 4.0, 8.0]
    )
    graph, floor = _floors(arrays, 0, 3, arrays.permit_cost)
    arcs = zip(graph.edge.tolist(), graph.tail.tolist(), floor.per_arc.tolist(), strict=True)
    by_arc = {(e, u): f for e, u, f in arcs}
    assert floor.least == 7.0  # J0 + J1 + J2
    assert by_arc[1, 1] == 7.0 and by_arc[2, 2] == 7.0
    assert by_arc[3, 1] == 9.0  # J0 + J3
    _check_against_paths(arrays, 0, 3)


def test_reentering_a_jurisdiction_pays_it_once() -> None:
    # 0 -J0- 1 -J1- 2 -J0- 3: J0 is left and entered again, and paid once (route pays 6).
    rows = [(0, 1, 1, 1), (1, 2, 1, 1), (2, 3, 1, 1)]
    arrays = make_arrays(4, rows, directed=True, jurisdiction=[[0], [1], [0]], permit_cost=[5.0, 1.0])
    _, floor = _floors(arrays, 0, 3, arrays.permit_cost)
    # Both ends lie in J0, so regions alone cannot tell that J1 must be crossed, except on its arc.
    assert floor.least == 5.0
    assert floor.per_arc.tolist() == [5.0, 6.0, 5.0]
    _check_against_paths(arrays, 0, 3)


def test_stretches_outside_every_jurisdiction_do_not_join_far_places() -> None:
    # Two separate unclaimed stretches must not act as one region (a shortcut from J0 to J2).
    rows = [(0, 1, 1, 1), (1, 2, 1, 1), (2, 3, 1, 1), (3, 4, 1, 1), (4, 5, 1, 1)]
    juris = [[0], [-1], [1], [-1], [2]]
    arrays = make_arrays(6, rows, directed=False, jurisdiction=juris, permit_cost=[1.0, 3.0, 1.0])
    _, floor = _floors(arrays, 0, 5, arrays.permit_cost)
    assert floor.least == 5.0
