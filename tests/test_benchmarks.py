"""Published benchmark loaders and the solver against their known optima."""

from __future__ import annotations

import csv
import gzip
from pathlib import Path

import numpy as np
import pytest

from optimizer.benchmarks import load_dimacs_graph, load_rcsp, load_wcspp_queries
from optimizer.errors import InvalidBenchmarkError
from optimizer.problem import RouteQuery, RouteStatus, SolverOptions
from optimizer.solve import solve_route

BENCHMARKS = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "benchmarks"
needs_data = pytest.mark.skipif(
    not BENCHMARKS.is_dir(), reason=f"published benchmarks not found at {BENCHMARKS}"
)
EXACT = SolverOptions(time_limit_s=60, tie_break_latency=False)


def _known_rcsp() -> dict[str, dict]:
    """optimal_values.csv by instance name."""
    with (BENCHMARKS / "orlib_rcsp" / "optimal_values.csv").open(newline="") as f:
        return {row["instance"]: row for row in csv.DictReader(f)}


@needs_data
@pytest.mark.parametrize("label_search", [True, False], ids=["labels", "cp-sat"])
def test_orlib_rcsp_every_optimum_matched(label_search: bool) -> None:
    known = _known_rcsp()
    numbers = range(1, 25) if label_search else (1, 3, 5, 9, 13, 14, 17, 21)  # CP-SAT: the quick ones
    for number in numbers:
        instance = load_rcsp(BENCHMARKS / "orlib_rcsp" / f"rcsp{number}.txt")
        options = SolverOptions(time_limit_s=60, tie_break_latency=False, label_search=label_search)
        result = solve_route(instance.arrays, instance.query, options=options)
        row = known[instance.name]
        if row["status"] == "INFEASIBLE":
            assert result.status is RouteStatus.INFEASIBLE, instance.name
            assert "resource" in result.reason
        else:
            assert result.status is RouteStatus.OPTIMAL, instance.name
            assert result.cost == float(row["optimal_cost"]), instance.name
            limits = (instance.query.max_latency_ms, *instance.query.max_resources)
            weights = np.c_[instance.arrays.latency_ms, instance.arrays.resources]
            used = weights[list(result.edges)].sum(axis=0)
            assert np.all(used <= np.array(limits)), instance.name


@needs_data
def test_orlib_rcsp_loader_reads_the_header_and_limits() -> None:
    instance = load_rcsp(BENCHMARKS / "orlib_rcsp" / "rcsp5.txt")
    assert instance.arrays.n_nodes == 100 and instance.arrays.n_edges == 990
    assert instance.arrays.directed and instance.arrays.n_resources == 9
    assert instance.query.max_latency_ms == 178.0 and instance.query.max_resources[-1] == 146.0
    assert (instance.query.source, instance.query.target) == (0, 99)


@needs_data
def test_dimacs_ny_queries_match_first_arc_and_multigraph_optima() -> None:
    folder = BENCHMARKS / "dimacs9"
    queries = load_wcspp_queries(folder / "ny_wcspp_verified.csv")
    assert len(queries) == 460
    differing = [q for q in queries if q.multigraph_opt < q.first_arc_opt]
    chosen = [*queries[::97], *differing[:2]]
    for first_arc in (True, False):
        arrays = load_dimacs_graph(
            folder / "USA-road-d.NY.gr.gz", folder / "USA-road-t.NY.gr.gz", first_arc=first_arc
        )
        assert arrays.n_nodes == 264_346
        assert arrays.n_edges == (730_100 if first_arc else 733_846)
        for q in chosen:
            query = RouteQuery(q.source, q.target, max_latency_ms=float(q.budget))
            result = solve_route(arrays, query, options=EXACT)
            assert result.status is RouteStatus.OPTIMAL, q.name
            assert result.cost == (q.first_arc_opt if first_arc else q.multigraph_opt), q.name
            assert arrays.latency_ms[list(result.edges)].sum() <= q.budget


def _write_gr(path: Path, n: int, arcs: list[tuple[int, int, int]]) -> None:
    """A gzipped DIMACS .gr file."""
    lines = ["c test", f"p sp {n} {len(arcs)}", *(f"a {u} {v} {w}" for u, v, w in arcs)]
    path.write_bytes(gzip.compress(("\n".join(lines) + "\n").encode()))


def test_dimacs_first_arc_convention_against_multigraph(tmp_path: Path) -> None:
    # 1 -> 2 listed twice: first (distance 10, time 1), then (distance 3, time 1).
    _write_gr(tmp_path / "d.gr.gz", 3, [(1, 2, 10), (1, 2, 3), (2, 3, 1), (1, 3, 20)])
    _write_gr(tmp_path / "t.gr.gz", 3, [(1, 2, 1), (1, 2, 1), (2, 3, 1), (1, 3, 1)])
    query = RouteQuery(0, 2, max_latency_ms=5.0)
    first = load_dimacs_graph(tmp_path / "d.gr.gz", tmp_path / "t.gr.gz", first_arc=True)
    multi = load_dimacs_graph(tmp_path / "d.gr.gz", tmp_path / "t.gr.gz", first_arc=False)
    assert (first.n_edges, multi.n_edges) == (3, 4)
    assert solve_route(first, query, options=EXACT).cost == 11.0
    assert solve_route(multi, query, options=EXACT).cost == 4.0
    # Directed: nothing runs back from 3 to 1.
    assert solve_route(multi, RouteQuery(2, 0, max_latency_ms=5.0)).status is RouteStatus.INFEASIBLE


def test_dimacs_files_that_disagree_are_rejected_with_the_file(tmp_path: Path) -> None:
    _write_gr(tmp_path / "d.gr.gz", 3, [(1, 2, 10), (2, 3, 1)])
    _write_gr(tmp_path / "t.gr.gz", 3, [(2, 3, 1), (1, 2, 1)])
    with pytest.raises(InvalidBenchmarkError, match=r"t\.gr\.gz"):
        load_dimacs_graph(tmp_path / "d.gr.gz", tmp_path / "t.gr.gz", first_arc=True)
    _write_gr(tmp_path / "bad.gr.gz", 2, [(1, 3, 1)])
    with pytest.raises(InvalidBenchmarkError, match=r"nodes 1\.\.2"):
        load_dimacs_graph(tmp_path / "bad.gr.gz", tmp_path / "bad.gr.gz", first_arc=False)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("3 1 1\n0\n5\n0 0 0\n1 3 4", "ends inside the arcs"),
        ("3 1 1\n1\n5\n0\n0\n0\n1 3 4 2", "lower resource limits"),
        ("3 1 1\n0\n5\n0\n0\n0\n1 4 4 2", "vertices 1..3"),
        ("3 1 1\n0\n5\n0\n0\n0\n1 3 4 2 9", "left after"),
        ("3 1 1\n0\n5\n0\n0\n0\n1 3 x 2", "not a stream of numbers"),
    ],
)
def test_rcsp_files_that_do_not_parse_name_the_problem(tmp_path: Path, text: str, message: str) -> None:
    path = tmp_path / "rcsp_bad.txt"
    path.write_text(text)
    with pytest.raises(InvalidBenchmarkError, match=message):
        load_rcsp(path)


def test_rcsp_vertex_consumption_moves_onto_arcs(tmp_path: Path) -> None:
    # Vertex 2 costs 3 units of the resource to pass; the limit 4 rules out 1->2->3 (1+1+3 = 5).
    path = tmp_path / "rcsp_vertex.txt"
    path.write_text("3 3 1\n0\n4\n0\n3\n0\n1 2 1 1\n2 3 1 1\n1 3 10 4\n")
    instance = load_rcsp(path)
    result = solve_route(instance.arrays, instance.query, options=EXACT)
    assert result.status is RouteStatus.OPTIMAL and result.cost == 10.0
