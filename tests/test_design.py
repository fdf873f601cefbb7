"""Diverse routes, separation, shared build and the frontier on real geometry (the sample and
small networks made in code), each checked against figures recomputed here from the edges."""

from __future__ import annotations

import csv
import itertools
import math
import re
from pathlib import Path

import numpy as np
import pyogrio
import pyproj
import pytest
import shapely
from shapely import LineString, Point, box

from optimizer.cli import main
from optimizer.export import segments_frame
from optimizer.geodata import load_geodata
from optimizer.graph import _srlg_pairs, build_graph
from optimizer.problem import RouteQuery, SolverOptions
from optimizer.routes import (
    Demand,
    Solution,
    design_demand,
    routes_union_cost,
    separation_conflicts,
    site_nodes,
    solve_demand,
    solve_demands,
    solve_frontier,
)
from optimizer.scenario import load_scenario
from optimizer.solve import solve_route

from .conftest import make_layers

SAMPLE = Path(__file__).resolve().parents[1] / "geodata" / "sample"


@pytest.fixture(scope="module")
def sample():
    """The sample network and its scenario."""
    scenario = load_scenario(SAMPLE / "scenario.yaml")
    return build_graph(load_geodata(scenario.geodata), settings=scenario.settings), scenario


def _groups(network, edges) -> set[str]:
    """Shared-risk group names of edges, read from the edge table's text."""
    texts = network.edges["srlg"].to_numpy()[list(edges)]
    return {g.strip() for t in texts for g in str(t).split(",") if g.strip()}


def test_srlg_text_becomes_edge_group_pairs():
    edge, group = _srlg_pairs(np.array(["", "a,b", "b", " ", "c , a,a"], dtype=object))
    pairs = {(int(e), int(g)) for e, g in zip(edge, group, strict=True)}
    names = {}
    for e, g in pairs:
        names.setdefault(g, set()).add(e)
    assert sorted(map(sorted, names.values())) == [[1, 2], [1, 4], [4]]  # b, a, c
    assert len(pairs) == len(edge) == 5  # a listed twice on edge 4 counts once


def test_sample_diverse_pair_shares_no_edge_junction_or_risk_group(sample):
    network, scenario = sample
    demand = next(d for d in scenario.demands if d.id == "chi-dal-pair")
    first, second = solve_demand(network, demand, options=scenario.solver)
    assert (first.route_index, second.route_index) == (0, 1)
    assert first.status.value == second.status.value == "OPTIMAL"
    assert first.latency_ms <= second.latency_ms <= demand.max_latency_ms + 1e-6
    assert not set(first.edges) & set(second.edges)
    assert not set(first.nodes[1:-1]) & set(second.nodes[1:-1])
    assert not _groups(network, first.edges) & _groups(network, second.edges)
    assert _groups(network, first.edges) and _groups(network, second.edges)  # groups were in play
    # Each route leaves each site by its own lateral.
    laterals = network.edges["kind"].to_numpy() == "lateral"
    assert {e for e in first.edges if laterals[e]}.isdisjoint(e for e in second.edges if laterals[e])


def test_edge_diversity_is_cheaper_than_srlg_on_the_sample(sample):
    network, scenario = sample
    base = next(d for d in scenario.demands if d.id == "chi-dal-pair")
    srlg = solve_demand(network, base, options=scenario.solver)
    edge = solve_demand(network, Demand(**{**base.__dict__, "diversity": "edge"}), options=scenario.solver)
    assert routes_union_cost(network, edge) <= routes_union_cost(network, srlg) + 1e-6
    assert _groups(network, edge[0].edges) & _groups(network, edge[1].edges)  # SRLG was binding


def test_diversity_infeasible_reason_gives_the_latency_needed(sample):
    network, scenario = sample
    demand = next(d for d in scenario.demands if d.id == "chi-dal-fast-pair")
    (route,) = solve_demand(network, demand, options=scenario.solver)
    assert route.status.value == "INFEASIBLE" and route.geometry is None
    assert route.reason == "2 SRLG-diverse routes CHI1-DAL1 need 7.16 ms, bound is 7.00 ms"


def _line(points):
    return LineString(points)


def test_site_with_a_single_way_in_cannot_have_diverse_routes():
    # A is attached to one corridor end only; B has two corridors.
    layers = make_layers(
        corridors=[
            {"geometry": _line([(0.0, 0.0), (0.5, 0.0)])},
            {"geometry": _line([(0.5, 0.0), (1.0, 0.3), (1.5, 0.0)])},
            {"geometry": _line([(0.5, 0.0), (1.0, -0.3), (1.5, 0.0)])},
        ],
        sites=[
            {"site_id": "A", "geometry": Point(-0.01, 0.0)},
            {"site_id": "B", "geometry": Point(1.51, 0.0)},
        ],
    )
    network = build_graph(layers)
    (route,) = solve_demand(network, Demand("ab", "A", "B", max_latency_ms=50, paths=2, diversity="edge"))
    assert route.status.value == "INFEASIBLE"
    assert "only 1 edge-diverse route exists between A and B" in route.reason
    two = solve_demand(network, Demand("ab", "A", "B", max_latency_ms=50, paths=2, diversity="node"))
    assert two[0].status.value == "INFEASIBLE" and "only 1 node-diverse route" in two[0].reason


RING = [(0.0, 0.0), (0.5, 0.0), (0.5, 0.5), (0.0, 0.5)]
"""Corners of a square ring of four corridors, ~55 km a side (c0 south, c1 east, c2 north, c3 west)."""


def _ring_network(kind: str, offset_deg: float = 0.0, *, srlg: bool = True, jurisdictions=()):
    """The ring, each side its own corridor (own risk group when srlg), with site A near the
    south-west corner and B near the north-east one, offset_deg out along the diagonal
    (negative: inside the ring); existing_fiber sides are leased spans entered at their ends."""
    access = {"access": "endpoints"} if kind == "existing_fiber" else {}
    corridors = [
        {
            "geometry": _line([RING[i], RING[(i + 1) % 4]]),
            "kind": kind,
            "srlg": f"side{i}" if srlg else "",
            **access,
        }
        for i in range(4)
    ]
    sites = [
        {"site_id": "A", "geometry": Point(-offset_deg, -offset_deg)},
        {"site_id": "B", "geometry": Point(0.5 + offset_deg, 0.5 + offset_deg)},
    ]
    return build_graph(make_layers(corridors, sites, jurisdictions))


def _node_at(network, lonlat: tuple[float, float]) -> int:
    """The junction node at a corner (site nodes excluded)."""
    close = np.flatnonzero(np.abs(network.node_lonlat - lonlat).max(axis=1) < 1e-9)
    return int(close[close >= len(network.site_node)][0])


def _site_sets(network, demand: Demand) -> tuple[set[int], set[int]]:
    """Each end's site node with the nodes it lies on."""
    design = design_demand(network, demand)
    query = design.query
    return {query.source, *design.source_nodes}, {query.target, *design.target_nodes}


def _assert_share_only_the_sites(network, demand: Demand, routes) -> None:
    """Two routes share no edge, node or risk group outside the two sites' own nodes and edges."""
    at_a, at_b = _site_sets(network, demand)
    tails, heads = network.arrays.tail, network.arrays.head

    def ordinary(route) -> set[int]:
        return {e for e in route.edges if not ({tails[e], heads[e]} <= at_a or {tails[e], heads[e]} <= at_b)}

    first, second = (ordinary(r) for r in routes)
    assert not first & second
    assert not (set(routes[0].nodes) & set(routes[1].nodes)) - at_a - at_b
    assert not _groups(network, first) & _groups(network, second)


@pytest.mark.parametrize("kind", ["rail", "existing_fiber"])
@pytest.mark.parametrize("offset_deg", [0.0, 1e-4], ids=["on-corner", "16m-off"])
@pytest.mark.parametrize("diversity", ["edge", "node", "srlg"])
def test_sites_on_ring_corners_get_a_route_each_way_round(kind, offset_deg, diversity):
    network = _ring_network(kind, offset_deg, srlg=diversity == "srlg")
    demand = Demand("ab", "A", "B", max_latency_ms=50, paths=2, diversity=diversity)
    # Each site lies on its corner junction (within the snap tolerance): that node is the site's.
    assert site_nodes(network, "A") == (_node_at(network, RING[0]),)
    assert site_nodes(network, "B") == (_node_at(network, RING[2]),)
    routes = solve_demand(network, demand)
    assert [r.status.value for r in routes] == ["OPTIMAL", "OPTIMAL"], routes[0].reason
    corridors = network.edges["corridor_id"].to_numpy()
    ways = sorted(sorted({corridors[e] for e in r.edges} - {""}) for r in routes)
    assert ways == [["c0", "c1"], ["c2", "c3"]]  # south-east and west-north
    _assert_share_only_the_sites(network, demand, routes)
    on_ring = set(np.flatnonzero(network.edges["kind"].to_numpy() == kind).tolist())
    assert sorted(e for r in routes for e in r.edges if e in on_ring) == sorted(on_ring)  # each side once


def test_site_nodes_follow_a_lateral_cut_at_a_county_line():
    # A is 16 m off its corner; a county line between them cuts each lateral in two.
    counties = [
        {"jurisdiction_id": "w", "name": "W", "level": "county", "geometry": box(-1, -1, -5e-5, 1)},
        {"jurisdiction_id": "e", "name": "E", "level": "county", "geometry": box(-5e-5, -1, 1, 1)},
    ]
    network = _ring_network("rail", 1e-4, jurisdictions=counties)
    nodes = site_nodes(network, "A")
    corner = _node_at(network, RING[0])
    assert corner in nodes and len(nodes) > 1  # the corner and the cuts on the way to it
    lateral = network.edges["site"].to_numpy() == network.site_node["A"]
    assert set(nodes) | {network.site_node["A"]} == set(network.arrays.tail[lateral]) | set(
        network.arrays.head[lateral]
    )
    demand = Demand("ab", "A", "B", max_latency_ms=50, paths=2, diversity="srlg")
    routes = solve_demand(network, demand)
    assert [r.status.value for r in routes] == ["OPTIMAL", "OPTIMAL"], routes[0].reason
    _assert_share_only_the_sites(network, demand, routes)


@pytest.mark.parametrize("kind", ["rail", "existing_fiber"])
def test_sites_near_but_not_on_a_corner_behave_as_before(kind):
    # ~4.7 km out along the diagonal: both laterals of a site reach the corner junction, which is
    # no site's node, so only edge-diverse routes exist (each leaves by its own lateral).
    outside = _ring_network(kind, 0.03)
    assert site_nodes(outside, "A") == site_nodes(outside, "B") == ()
    for diversity in ("node", "srlg"):
        (route,) = solve_demand(
            outside, Demand("ab", "A", "B", max_latency_ms=50, paths=2, diversity=diversity)
        )
        assert route.status.value == "INFEASIBLE"
        assert re.search(r"site [AB] has a single way in: only 1 (node|SRLG)-diverse route", route.reason)
    routes = solve_demand(outside, Demand("ab", "A", "B", max_latency_ms=50, paths=2, diversity="edge"))
    assert [r.status.value for r in routes] == ["OPTIMAL", "OPTIMAL"]
    laterals = outside.edges["kind"].to_numpy() == "lateral"
    assert {e for e in routes[0].edges if laterals[e]}.isdisjoint(e for e in routes[1].edges if laterals[e])
    # ~4.7 km inside: a crossing-access side is met at its nearest point, away from the corner,
    # so node-diverse routes exist without any site node.
    if kind == "rail":
        inside = _ring_network(kind, -0.03)
        assert site_nodes(inside, "A") == site_nodes(inside, "B") == ()
        demand = Demand("ab", "A", "B", max_latency_ms=50, paths=2, diversity="srlg")
        routes = solve_demand(inside, demand)
        assert [r.status.value for r in routes] == ["OPTIMAL", "OPTIMAL"]
        assert not set(routes[0].nodes[1:-1]) & set(routes[1].nodes[1:-1])


def _parallel_network(gap_deg: float):
    """Two parallel corridors between sites A and B, gap_deg apart in the middle."""
    half = gap_deg / 2

    def corridor(end_y: float, mid_y: float) -> LineString:
        return _line([(0.05, end_y), (0.3, mid_y), (1.7, mid_y), (1.95, end_y)])

    return build_graph(
        make_layers(
            corridors=[
                {"geometry": corridor(0.01, half)},
                {"geometry": corridor(-0.01, -half)},
                {"geometry": corridor(0.03, 0.2), "cost_per_km": 3000.0},
            ],
            sites=[
                {"site_id": "A", "geometry": Point(-0.02, 0.0)},
                {"site_id": "B", "geometry": Point(2.02, 0.0)},
            ],
        )
    )


def test_separation_conflicts_are_exactly_the_close_edge_pairs():
    network = _parallel_network(0.05)  # ~5.6 km apart
    demand = Demand("ab", "A", "B", max_latency_ms=50, paths=2, min_separation_km=8, endpoint_radius_km=40)
    conflicts = {tuple(sorted(p)) for p in separation_conflicts(network, demand, None).tolist()}
    # Brute force: every pair of edges, clipped outside 40 km of the sites, in a CONUS Albers
    # projection (a different one than the solver's), closer than 8 km.
    to_m = pyproj.Transformer.from_crs("EPSG:4326", "EPSG:5070", always_xy=True)
    project = lambda g: shapely.transform(g, lambda xy: np.column_stack(to_m.transform(*xy.T)))  # noqa: E731
    ends = project(shapely.points(network.node_lonlat[[network.site_node["A"], network.site_node["B"]]]))
    keep_out = shapely.union_all(shapely.buffer(ends, 40_000))
    clipped = shapely.difference(project(network.edges.geometry.values), keep_out)
    expected = set()
    for i, j in itertools.combinations(range(len(clipped)), 2):
        if not (clipped[i].is_empty or clipped[j].is_empty):
            d = shapely.distance(clipped[i], clipped[j])
            assert abs(d - 8000) > 100, "a pair this close to the limit would depend on the projection"
            if d < 8000:
                expected.add((i, j))
    assert conflicts == expected and expected


def test_min_separation_forces_the_far_corridor():
    near = _parallel_network(0.05)
    loose = solve_demand(near, Demand("ab", "A", "B", max_latency_ms=50, paths=2, endpoint_radius_km=40))
    tight = solve_demand(
        near, Demand("ab", "A", "B", max_latency_ms=50, paths=2, min_separation_km=8, endpoint_radius_km=40)
    )
    assert all(r.status.value == "OPTIMAL" for r in loose + tight)
    assert routes_union_cost(near, tight) > routes_union_cost(near, loose)
    to_m = pyproj.Transformer.from_crs("EPSG:4326", "EPSG:5070", always_xy=True)
    project = lambda g: shapely.transform(g, lambda xy: np.column_stack(to_m.transform(*xy.T)))  # noqa: E731
    ends = project(shapely.points(near.node_lonlat[[near.site_node["A"], near.site_node["B"]]]))
    keep_out = shapely.union_all(shapely.buffer(ends, 40_000))
    apart = [shapely.difference(project(r.geometry), keep_out) for r in tight]
    assert shapely.distance(apart[0], apart[1]) >= 8000 - 50
    close = [shapely.difference(project(r.geometry), keep_out) for r in loose]
    assert shapely.distance(close[0], close[1]) < 8000


def test_shared_build_pays_shared_edges_once_and_beats_independent(sample):
    network, _ = sample
    shared = load_scenario(SAMPLE / "shared-build.yaml")
    routes, design = solve_demands(network, shared.demands, options=shared.solver, shared_build=True)
    _alone, independent = solve_demands(network, shared.demands, options=shared.solver)
    assert design.shared_build and design.gap == 0.0
    assert design.cost == pytest.approx(routes_union_cost(network, routes), rel=1e-12)
    assert design.independent_cost == pytest.approx(independent.cost, rel=1e-9)
    assert design.cost < independent.cost  # sharing pays on this set
    assert design.cost <= sum(r.cost for r in routes) - 1.0  # edges and permits counted once
    for demand in shared.demands:  # each keeps its own bound and diversity
        own = [r for r in routes if r.demand_id == demand.id]
        assert len(own) == demand.paths
        assert all(r.latency_ms <= demand.max_latency_ms + 1e-6 for r in own)
        for a, b in itertools.combinations(own, 2):
            assert not _groups(network, a.edges) & _groups(network, b.edges)
    segments = segments_frame(Solution("s", routes, {}, design=design), network)
    used_by = segments.groupby("edge_id")["demand_id"].nunique()
    assert (segments["shared_by"] == segments["edge_id"].map(used_by)).all()
    assert (segments["shared_by"] >= 2).any()


def test_frontier_runs_from_fastest_to_cheapest_and_matches_single_solves(sample):
    network, scenario = sample
    demand = next(d for d in scenario.demands if d.id == "chi-dal")
    frontier = solve_frontier(network, demand, options=scenario.solver)
    points = frontier.points
    assert frontier.complete and len(points) >= 3
    assert all(p.latency_ms < q.latency_ms and p.cost > q.cost for p, q in itertools.pairwise(points))
    query = RouteQuery(network.site_node["CHI1"], network.site_node["DAL1"], max_latency_ms=1e6)
    cheapest = solve_route(network.arrays, query)
    assert points[-1].cost == pytest.approx(cheapest.cost, rel=1e-9)
    fastest = solve_route(network.arrays, RouteQuery(query.source, query.target, max_latency_ms=1e-3))
    assert f"fastest possible route is {points[0].latency_ms:.2f} ms" in fastest.reason
    for bound in (6.9, 7.0, 7.2):  # the cheapest point within a bound is the bound's optimum
        (route,) = solve_demand(network, Demand("x", "CHI1", "DAL1", max_latency_ms=bound))
        best = min(p.cost for p in points if p.latency_ms <= bound + 1e-6)
        assert route.cost == pytest.approx(best, rel=1e-9)


def test_cli_frontier_writes_csv_png_and_gpkg(tmp_path, capsys):
    code = main(["frontier", str(SAMPLE / "scenario.yaml"), "--demand", "stl-ind", "--out", str(tmp_path)])
    out = capsys.readouterr().out
    assert code == 0 and "Pareto-optimal points" in out
    folder = tmp_path / "central-us-frontier-stl-ind"
    rows = list(csv.DictReader((folder / "frontier.csv").open()))
    assert len(rows) >= 2
    latencies = [float(r["latency_ms"]) for r in rows]
    costs = [float(r["cost"]) for r in rows]
    assert latencies == sorted(latencies) and costs == sorted(costs, reverse=True)
    assert rows[-1]["cost_per_ms_saved"] == ""
    saved = (costs[0] - costs[1]) / (latencies[1] - latencies[0])
    assert math.isclose(float(rows[0]["cost_per_ms_saved"]), saved, rel_tol=1e-9)
    assert (folder / "frontier.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    routes = pyogrio.read_dataframe(folder / "frontier.gpkg", layer="routes")
    assert sorted(set(routes["point"])) == list(range(len(rows)))


def test_cli_frontier_names_an_unknown_demand(tmp_path, capsys):
    code = main(["frontier", str(SAMPLE / "scenario.yaml"), "--demand", "nope", "--out", str(tmp_path)])
    err = capsys.readouterr().err
    assert code == 2 and "no demand 'nope'" in err and err.count("\n") == 1


def test_a_model_that_loses_the_known_start_is_not_trusted(monkeypatch):
    """If CP-SAT's bound ever sits above a design already in hand, no optimum is claimed."""
    import optimizer.design as design_module
    from optimizer.problem import DesignDemand, EdgeArrays, RouteStatus

    # Two disjoint routes 0-1-3 (cost 2) and 0-2-3 (cost 4), and a direct edge 0-3 (cost 10).
    tail, head = np.array([0, 1, 0, 2, 0]), np.array([1, 3, 2, 3, 3])
    arrays = EdgeArrays(
        4, tail, head, np.array([1.0, 1, 2, 2, 10]), np.array([1.0, 1, 2, 2, 0.5]),
        np.full((5, 1), -1), np.zeros(0), np.zeros(0, dtype=bool),
    )  # fmt: skip
    solve = design_module.solve_design_model

    def losing_edge_0(design, *, options, time_limit_s):
        for s, slot in enumerate(design.slots):
            for a in np.flatnonzero(slot.arcs.edge == 0).tolist():
                design.model.add(design.x[s][a] == 0)
        return solve(design, options=options, time_limit_s=time_limit_s)

    monkeypatch.setattr(design_module, "solve_design_model", losing_edge_0)
    # A separation pair (here a harmless self-pair) keeps the demand on CP-SAT, past the flow.
    separated = DesignDemand(RouteQuery(0, 3, max_latency_ms=5), paths=2, conflicts=np.array([[4, 4]]))
    result = design_module.solve_design(arrays, [separated])
    assert result.demand_status[0] is RouteStatus.FEASIBLE  # the start (cost 6) kept, unproven
    assert result.cost == pytest.approx(6.0) and not result.bound >= 6.0


def test_a_design_with_an_unsolved_demand_claims_no_gap(monkeypatch):
    """A demand out of time (simulated) is retried once, then left UNSOLVED: the bound covers only
    the demands with routes, so the design reports no gap and says how many are missing."""
    import optimizer.design as design_module
    from optimizer.problem import DesignDemand, EdgeArrays, RouteStatus

    # A square 0-1-3-2-0 with a diagonal 1-2: two demands that can share edge 1-2.
    tail, head = np.array([0, 1, 0, 2, 1]), np.array([1, 3, 2, 3, 2])
    arrays = EdgeArrays(
        4, tail, head, np.array([1.0, 1, 2, 2, 1]), np.ones(5), np.full((5, 1), -1),
        np.zeros(0), np.zeros(0, dtype=bool),
    )  # fmt: skip
    demands = [
        DesignDemand(RouteQuery(0, 3, 10.0)),
        DesignDemand(RouteQuery(1, 2, 10.0)),
        DesignDemand(RouteQuery(0, 2, 10.0)),
    ]
    solve_alone = design_module._solve_alone
    calls = []

    def out_of_time_for_the_last(arrays, demand, options, diagnose=True):
        calls.append(demand)
        if demand is demands[2]:
            return design_module._Outcome(RouteStatus.UNSOLVED, reason="time limit reached")
        return solve_alone(arrays, demand, options, diagnose=diagnose)

    monkeypatch.setattr(design_module, "_solve_alone", out_of_time_for_the_last)
    result = design_module.solve_design(arrays, demands, options=SolverOptions(time_limit_s=30))
    assert calls.count(demands[2]) == 2  # retried once with the time left
    assert result.demand_status[:2] == (RouteStatus.OPTIMAL, RouteStatus.OPTIMAL)
    assert result.demand_status[2] is RouteStatus.UNSOLVED and result.status is RouteStatus.UNSOLVED
    assert result.unsolved_demands == 1 and math.isnan(result.gap)
    assert result.bound == pytest.approx(result.cost)  # proven over the two with routes only
    assert all(r.gap == 0.0 for rs in result.routes for r in rs)
