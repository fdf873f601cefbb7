"""Loaders for published latency-bounded shortest path instances, as solver-core problems.

- OR-Library RCSP 1-24 (Beasley and Christofides 1989): directed, K additive resources.
  Resource 1 becomes the latency budget, resources 2..K extra resource limits.
- DIMACS 9th challenge road graphs (`.gr`, distance and travel-time files listing the same
  arcs in the same order): distance is the cost, travel time the latency resource.
  `first_arc=True` keeps only the first listed arc of each (u, v), the convention of the
  published optima; False keeps every arc (a multigraph, the product's own semantics).
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from optimizer.errors import InvalidBenchmarkError
from optimizer.problem import EdgeArrays, RouteQuery

__all__ = [
    "RcspInstance",
    "WcsppQuery",
    "load_dimacs_graph",
    "load_rcsp",
    "load_wcspp_queries",
]


@dataclass(frozen=True, eq=False)
class RcspInstance:
    """One OR-Library RCSP instance: the graph and its query (vertex 1 to vertex n)."""

    name: str
    arrays: EdgeArrays
    query: RouteQuery


def load_rcsp(path: Path) -> RcspInstance:
    """An OR-Library RCSP file as a directed graph with its resource limits."""
    numbers = _Numbers.of(path)
    n, m, k = (int(v) for v in numbers.take(3, "header n m K"))
    if n < 2 or m < 1 or k < 1:
        raise InvalidBenchmarkError(f"{path}: header n={n} m={m} K={k} must have n >= 2, m >= 1, K >= 1")
    lower = numbers.take(k, "lower limits")
    upper = numbers.take(k, "upper limits")
    if np.any(lower != 0):
        raise InvalidBenchmarkError(
            f"{path}: lower resource limits {lower.tolist()} are not supported (only 0)"
        )
    vertex = numbers.take(n * k, "vertex consumptions").reshape(n, k)
    arcs = numbers.take(m * (3 + k), "arcs").reshape(m, 3 + k)
    numbers.finish(f"{m} arcs")
    tail, head = arcs[:, 0].astype(np.int64) - 1, arcs[:, 1].astype(np.int64) - 1
    if min(tail.min(), head.min()) < 0 or max(tail.max(), head.max()) >= n:
        raise InvalidBenchmarkError(f"{path}: arc ends must be vertices 1..{n}")
    if np.any(arcs[:, 2:] < 0) or np.any(vertex < 0):
        raise InvalidBenchmarkError(f"{path}: costs and consumptions must be >= 0")
    # A vertex's consumption is paid on entering it, so it moves onto the arcs into it; the
    # source's own is paid by every route, so it comes off the limits.
    use = arcs[:, 3:] + vertex[head]
    limits = upper - vertex[0]
    if limits[0] <= 0 or np.any(limits < 0):
        raise InvalidBenchmarkError(f"{path}: upper limits {upper.tolist()} leave no room past the source")
    arrays = _directed_arrays(
        n,
        tail,
        head,
        arcs[:, 2],
        use[:, 0],
        resources=use[:, 1:].astype(float),
        resource_names=tuple(f"of resource {r}" for r in range(2, k + 1)),
    )
    query = RouteQuery(
        0,
        n - 1,
        max_latency_ms=float(limits[0]),
        max_resources=tuple(float(v) for v in limits[1:]),
        source_name="vertex 1",
        target_name=f"vertex {n}",
    )
    return RcspInstance(path.stem, arrays, query)


@dataclass
class _Numbers:
    """A file's whitespace-separated integers, read front to back."""

    path: Path
    values: np.ndarray
    at: int = 0

    @classmethod
    def of(cls, path: Path) -> _Numbers:
        """Every number of the file."""
        try:
            values = np.array(path.read_text().split(), dtype=np.float64)
        except ValueError as err:
            raise InvalidBenchmarkError(f"{path}: not a stream of numbers ({err})") from err
        if np.any(values != np.round(values)):
            raise InvalidBenchmarkError(f"{path}: values must be integers")
        return cls(path, values.astype(np.int64))

    def take(self, count: int, what: str) -> np.ndarray:
        """The next count numbers."""
        if self.at + count > len(self.values):
            raise InvalidBenchmarkError(f"{self.path}: file ends inside the {what}")
        self.at += count
        return self.values[self.at - count : self.at]

    def finish(self, after: str) -> None:
        """Check nothing is left over."""
        if self.at != len(self.values):
            raise InvalidBenchmarkError(
                f"{self.path}: {len(self.values) - self.at} numbers left after {after}"
            )


def load_dimacs_graph(distance_gr: Path, time_gr: Path, *, first_arc: bool) -> EdgeArrays:
    """A DIMACS road graph: distance as cost, travel time as latency, directed arcs."""
    n, tail, head, distance = _read_gr(distance_gr)
    n_t, tail_t, head_t, travel = _read_gr(time_gr)
    if n_t != n or not (np.array_equal(tail, tail_t) and np.array_equal(head, head_t)):
        raise InvalidBenchmarkError(f"{time_gr}: does not list the arcs of {distance_gr} in the same order")
    if first_arc:
        keep = _first_of_each_pair(tail, head, n)
        tail, head, distance, travel = tail[keep], head[keep], distance[keep], travel[keep]
    return _directed_arrays(n, tail, head, distance, travel)


def _directed_arrays(
    n_nodes: int, tail: np.ndarray, head: np.ndarray, cost: np.ndarray, latency: np.ndarray, **extra: object
) -> EdgeArrays:
    """A directed graph with no jurisdictions: every arc is priced by cost alone."""
    return EdgeArrays(
        n_nodes=n_nodes,
        tail=tail,
        head=head,
        cost=cost.astype(float),
        latency_ms=latency.astype(float),
        jurisdiction=np.zeros((len(tail), 0), dtype=np.int64),
        permit_cost=np.zeros(0),
        counted=np.zeros(0, dtype=bool),
        directed=True,
        **extra,
    )


def _first_of_each_pair(tail: np.ndarray, head: np.ndarray, n_nodes: int) -> np.ndarray:
    """Mask of the first listed arc of each (tail, head) pair."""
    key = tail * n_nodes + head
    _, first = np.unique(key, return_index=True)
    keep = np.zeros(len(key), dtype=bool)
    keep[first] = True
    return keep


def _read_gr(path: Path) -> tuple[int, np.ndarray, np.ndarray, np.ndarray]:
    """Node count and 0-based arcs (tail, head, weight) of a DIMACS `.gr` file (gzip or plain)."""
    table = pd.read_csv(
        path,
        sep=" ",
        header=None,
        names=["kind", "a", "b", "c"],
        dtype=str,
        comment="c",
        skip_blank_lines=True,
    )
    kinds = table["kind"].to_numpy()
    problem = np.flatnonzero(kinds == "p")
    if len(problem) != 1 or table["a"].iat[problem[0]] != "sp":
        raise InvalidBenchmarkError(f"{path}: needs exactly one 'p sp N M' line")
    if not np.all((kinds == "a") | (kinds == "p")):
        bad = table.iloc[int(np.flatnonzero((kinds != "a") & (kinds != "p"))[0])].tolist()
        raise InvalidBenchmarkError(f"{path}: expected 'c', 'p' or 'a' lines, got {bad}")
    n_nodes, n_arcs = int(table["b"].iat[problem[0]]), int(table["c"].iat[problem[0]])
    try:
        arcs = table.drop(index=table.index[problem[0]])[["a", "b", "c"]].to_numpy(dtype=np.int64)
    except (TypeError, ValueError) as err:
        raise InvalidBenchmarkError(f"{path}: arc lines must be 'a u v w' with integers ({err})") from err
    if len(arcs) != n_arcs:
        raise InvalidBenchmarkError(f"{path}: {len(arcs)} arcs listed, problem line says {n_arcs}")
    tail, head, weight = arcs[:, 0] - 1, arcs[:, 1] - 1, arcs[:, 2]
    if len(arcs) and (min(tail.min(), head.min()) < 0 or max(tail.max(), head.max()) >= n_nodes):
        raise InvalidBenchmarkError(f"{path}: arc ends must be nodes 1..{n_nodes}")
    if len(arcs) and weight.min() < 0:
        raise InvalidBenchmarkError(f"{path}: arc weights must be >= 0")
    return n_nodes, tail, head, weight


@dataclass(frozen=True)
class WcsppQuery:
    """One weight-constrained query on a DIMACS graph, with its known optima."""

    name: str
    source: int
    target: int
    budget: int
    published_opt: int
    first_arc_opt: int
    multigraph_opt: int


def load_wcspp_queries(path: Path) -> tuple[WcsppQuery, ...]:
    """The verified query table (`ny_wcspp_verified.csv`), with 0-based nodes."""
    with path.open(newline="") as f:
        rows = list(csv.DictReader(f))
    queries = []
    for i, row in enumerate(rows, start=2):
        try:
            queries.append(
                WcsppQuery(
                    name=f"{row['set']}/{row['instance_id']}/{row['start_1based']}-{row['goal_1based']}",
                    source=int(row["start_1based"]) - 1,
                    target=int(row["goal_1based"]) - 1,
                    budget=int(row["budget_time"]),
                    published_opt=int(row["published_opt_distance"]),
                    first_arc_opt=int(row["first_arc_opt_distance"]),
                    multigraph_opt=int(row["multigraph_opt_distance"]),
                )
            )
        except (KeyError, ValueError) as err:
            raise InvalidBenchmarkError(f"{path}:{i}: bad or missing field ({err})") from err
    return tuple(queries)
