"""Exact lower bounds on what the distinct jurisdictions of a route weigh (permit cost, or how
many are counted), for every arc a route could use.

Per jurisdiction level, each arc lies in one region: its jurisdiction, or, outside all of that
level, the connected stretch of such arcs it belongs to. A route walks from a region of an arc
out of the source to a region of an arc into the target, stepping only between regions that
meet at a node, so the regions it enters form a connected set of the region graph holding
those two ends and the region of every arc it uses. Such a set weighs at least a node-weighted
Steiner tree on the three: min over a centre c of D_s(c) + D(c, r) + D_t(c) - 2 w(c), with D
node-weighted shortest paths (both ends counted). The levels' bounds add up: a jurisdiction
found at several levels (never in real data) lends each an equal share of its weight. Two small
Dijkstra calls per level over the region graph give every arc's bound.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp
from scipy.sparse.csgraph import connected_components, dijkstra

from optimizer.problem import EdgeArrays

__all__ = ["JurisdictionFloor", "jurisdiction_floor"]


@dataclass(frozen=True, eq=False)
class JurisdictionFloor:
    """Least weight of distinct jurisdictions on any route over a graph's arcs: per arc (for
    routes through it; inf when none reaches it) and over all routes."""

    per_arc: np.ndarray
    least: float


def jurisdiction_floor(
    arrays: EdgeArrays,
    edge: np.ndarray,
    tail: np.ndarray,
    head: np.ndarray,
    source: int,
    target: int,
    weight: np.ndarray,
) -> JurisdictionFloor:
    """Lower bounds on weight (one value >= 0 per jurisdiction) summed over the distinct
    jurisdictions of a source -> target route over the arcs (edge, tail, head)."""
    per_arc = np.zeros(len(edge))
    least = 0.0
    juris_by_level = arrays.jurisdiction[edge].T
    weight = weight / np.maximum(_levels_holding(juris_by_level, len(weight)), 1)
    for juris in juris_by_level:
        inside = juris >= 0
        if not (weight[juris[inside]] > 0).any():
            continue  # nothing on these arcs weighs anything at this level
        region, region_weight = _regions(juris, inside, tail, head, weight)
        steiner, least_here = _steiner(region, region_weight, tail, head, source, target)
        per_arc += steiner[region]
        least += least_here
    return JurisdictionFloor(per_arc, least)


def _levels_holding(juris_by_level: np.ndarray, n_juris: int) -> np.ndarray:
    """How many levels each jurisdiction appears at (a route pays it once, so a jurisdiction
    met at several levels lends each a share of its weight)."""
    held = np.zeros(n_juris, dtype=np.int64)
    for juris in juris_by_level:
        present = np.zeros(n_juris + 1, dtype=bool)
        present[juris] = True  # -1 lands on the spare last slot
        held += present[:n_juris]
    return held


def _regions(
    juris: np.ndarray, inside: np.ndarray, tail: np.ndarray, head: np.ndarray, weight: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Compact region id of each arc and each region's weight; arcs outside every jurisdiction
    of the level form one weightless region per connected stretch."""
    n_juris = len(weight)
    region = juris.astype(np.int64)
    outside = ~inside
    if outside.any():
        ends = np.concatenate([tail[outside], head[outside]])
        nodes, local = np.unique(ends, return_inverse=True)
        m = int(outside.sum())
        links = sp.coo_array((np.ones(m), (local[:m], local[m:])), shape=(len(nodes), len(nodes)))
        _, component = connected_components(links, directed=False)
        region[outside] = n_juris + component[local[:m]]
    present = np.zeros(int(region.max()) + 1, dtype=bool)
    present[region] = True
    ids = np.flatnonzero(present)
    compact = (np.cumsum(present) - 1)[region]
    region_weight = np.where(ids < n_juris, weight[np.minimum(ids, n_juris - 1)], 0.0)
    return compact, region_weight.astype(float)


def _steiner(
    region: np.ndarray,
    region_weight: np.ndarray,
    tail: np.ndarray,
    head: np.ndarray,
    source: int,
    target: int,
) -> tuple[np.ndarray, float]:
    """Per region: least weight of a connected region set joining the source's regions, it and
    the target's regions; and the least weight joining the two ends alone."""
    n = len(region_weight)
    a, b = _adjacent(region, tail, head)
    starts = np.unique(region[tail == source])
    ends = np.unique(region[head == target])
    # Nodes 0..n-1 are regions; n and n+1 are super-sources for the source and target ends.
    rows = np.concatenate([a, np.full(len(starts), n), np.full(len(ends), n + 1)])
    cols = np.concatenate([b, starts, ends])
    graph = sp.csr_array((region_weight[cols], (rows, cols)), shape=(n + 2, n + 2))
    from_s, from_t = dijkstra(graph, directed=True, indices=[n, n + 1])[:, :n]
    least = float(from_s[ends].min(initial=np.inf))
    centre = from_s + from_t - region_weight  # >= 0: each distance counts the region itself
    reach = np.flatnonzero(np.isfinite(centre))
    rows = np.concatenate([a, np.full(len(reach), n)])
    cols = np.concatenate([b, reach])
    weights = np.concatenate([region_weight[b], centre[reach]])
    graph = sp.csr_array((weights, (rows, cols)), shape=(n + 1, n + 1))
    steiner = dijkstra(graph, directed=True, indices=n)[:n]
    return steiner, least


def _adjacent(region: np.ndarray, tail: np.ndarray, head: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Ordered pairs of distinct regions whose arcs meet at a node, each pair once (both ends of
    each arc count: pruning may have kept only one direction of an edge)."""
    n = int(region.max(initial=-1)) + 1
    ends = np.concatenate([tail, head]).astype(np.int64)
    regions = np.concatenate([region, region])
    size = int(ends.max(initial=-1)) + 1
    low, high = np.full(size, n), np.full(size, -1)
    np.minimum.at(low, ends, regions)
    np.maximum.at(high, ends, regions)
    border = (low != high)[ends]  # only nodes where two regions meet make pairs
    key = _distinct(ends[border] * n + regions[border])
    node, reg = key // n, key % n
    pairs = [np.zeros(0, np.int64)]
    for step in range(1, len(key)):
        i = np.flatnonzero(node[step:] == node[:-step])
        if not len(i):
            break
        a, b = reg[i], reg[i + step]
        pairs += [a * n + b, b * n + a]
    both = _distinct(np.concatenate(pairs))
    return both // n, both % n


def _distinct(keys: np.ndarray) -> np.ndarray:
    """Sorted distinct values (a sort beats np.unique's hashing on these arrays)."""
    keys = np.sort(keys)
    return keys[np.concatenate([[True], keys[1:] != keys[:-1]])] if len(keys) else keys
