"""The floor every benchmark solve is timed against: one plain scipy.sparse.csgraph Dijkstra."""

from __future__ import annotations

import time

import numpy as np
import scipy.sparse as sp
from scipy.sparse.csgraph import dijkstra

from optimizer.problem import EdgeArrays


def cheapest_arcs_matrix(rows: np.ndarray, cols: np.ndarray, weights: np.ndarray, n: int) -> sp.csr_array:
    """A sparse graph keeping the least weight of parallel arcs (scipy would add them up)."""
    order = np.lexsort((weights, cols, rows))
    rows, cols, weights = rows[order], cols[order], weights[order]
    first = np.ones(len(rows), dtype=bool)
    first[1:] = (rows[1:] != rows[:-1]) | (cols[1:] != cols[:-1])
    return sp.csr_array((weights[first], (rows[first], cols[first])), shape=(n, n))


def floor_matrix(arrays: EdgeArrays) -> sp.csr_array:
    """The whole graph, cost-weighted, both ways of an undirected edge (built once, untimed)."""
    tail, head, cost = arrays.tail, arrays.head, arrays.cost
    if not arrays.directed:
        tail, head, cost = np.r_[tail, head], np.r_[head, tail], np.r_[cost, cost]
    return cheapest_arcs_matrix(tail, head, cost, arrays.n_nodes)


def floor_s(matrix: sp.csr_array, source: int) -> float:
    """Time of one unconstrained Dijkstra from source over the whole graph."""
    started = time.perf_counter()
    dijkstra(matrix, directed=True, indices=source)
    return time.perf_counter() - started
