"""A demand's own exclusions: corridors, shared-risk groups, areas to avoid and areas to stay
within (issue 14, items 2 and 3), checked against brute force over an independently built mask."""

from __future__ import annotations

import math
from dataclasses import replace

import pytest
import shapely
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from shapely import LineString, Point, box

from optimizer.api.fiberopt.v1 import route_optimizer_pb2 as pb
from optimizer.convert import demand_from_proto, demand_to_proto
from optimizer.errors import InvalidRequestError, UnknownCorridorError
from optimizer.graph import build_graph
from optimizer.routes import Demand, check_demand_names, demand_query, solve_demand, solve_demands

from .bruteforce import brute_force_route
from .conftest import make_layers

STEP = 0.2
SRLGS = ("", "r1", "r2", "r1,r3")


def _grid(srlgs: list[str]):
    """A 3x3 grid of corridors (12 sides, each its own corridor c0..c11) near 40 N, 100 W, with
    sites A and B just off two opposite corners."""
    corridors = []
    for i in range(3):
        for j in range(2):
            corridors.append(((-100 + j * STEP, 40 + i * STEP), (-100 + (j + 1) * STEP, 40 + i * STEP)))
            corridors.append(((-100 + i * STEP, 40 + j * STEP), (-100 + i * STEP, 40 + (j + 1) * STEP)))
    rows = [
        {"geometry": LineString(ends), "srlg": srlgs[k], "cost_per_km": 1000.0 + 37.0 * k}
        for k, ends in enumerate(corridors)
    ]
    sites = [
        {"site_id": "A", "geometry": Point(-100.01, 39.99)},
        {"site_id": "B", "geometry": Point(-100 + 2 * STEP + 0.01, 40 + 2 * STEP + 0.01)},
    ]
    return build_graph(make_layers(rows, sites))


def _independent_mask(network, demand: Demand) -> list[bool]:
    """Edges the exclusions leave, decided edge by edge from the problem statement."""
    avoid = shapely.union_all(demand.avoid_areas) if demand.avoid_areas else None
    within = shapely.union_all(demand.within_areas).buffer(1e-9) if demand.within_areas else None
    mask = []
    for _, edge in network.edges.iterrows():
        groups = {g.strip() for g in str(edge["srlg"]).split(",") if g.strip()}
        ok = edge["corridor_id"] not in demand.exclude_corridors and not groups & set(demand.exclude_srlgs)
        ok = ok and (avoid is None or not avoid.intersects(edge.geometry))
        ok = ok and (within is None or within.covers(edge.geometry))
        mask.append(ok)
    return mask


def _boxes(draw) -> tuple[shapely.Polygon, ...]:
    """Zero to two boxes over the grid."""
    out = []
    for _ in range(draw(st.integers(0, 2))):
        x0, y0 = draw(st.floats(-100.1, -99.65)), draw(st.floats(39.9, 40.35))
        w, h = draw(st.floats(0.05, 0.5)), draw(st.floats(0.05, 0.5))
        out.append(box(x0, y0, x0 + w, y0 + h))
    return tuple(out)


def _within(draw) -> tuple[shapely.Geometry, ...]:
    """The grid's area (sites included) with up to two boxes cut out of it."""
    area = box(-100.05, 39.95, -99.55, 40.45)
    for hole in _boxes(draw):
        area = area.difference(hole)
    return (area,) if isinstance(area, shapely.Polygon | shapely.MultiPolygon) and not area.is_empty else ()


@st.composite
def cases(draw):
    srlgs = draw(st.lists(st.sampled_from(SRLGS), min_size=12, max_size=12))
    demand = Demand(
        "ab",
        "A",
        "B",
        max_latency_ms=draw(st.sampled_from((0.4, 0.5, 0.8))),
        exclude_corridors=tuple(draw(st.lists(st.sampled_from([f"c{k}" for k in range(12)]), max_size=4))),
        exclude_srlgs=tuple(draw(st.lists(st.sampled_from(("r1", "r2", "r3")), max_size=1))),
        avoid_areas=_boxes(draw) if draw(st.booleans()) else (),
        within_areas=_within(draw) if draw(st.integers(0, 2)) == 0 else (),
    )
    return srlgs, demand


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow], derandomize=True)
@given(cases())
def test_exclusions_match_brute_force_over_an_independent_mask(case):
    srlgs, demand = case
    network = _grid(srlgs)
    _assert_matches_brute_force(network, demand, _independent_mask(network, demand))


def _assert_matches_brute_force(network, demand: Demand, independent: list[bool]) -> None:
    """The demand's route is the brute-force optimum over the edges independent allows (the sites'
    laterals ruled as for any demand), or both say there is none."""
    (route,) = solve_demand(network, demand)
    base = demand_query(network, Demand("ab", "A", "B", demand.max_latency_ms))
    mask = [b and m for b, m in zip(base.edge_allowed, independent, strict=True)]
    best = brute_force_route(network.arrays, replace(base, edge_allowed=mask))
    if best is None:
        assert route.status.value == "INFEASIBLE", route
        return
    assert route.status.value == "OPTIMAL"
    assert math.isclose(route.cost, best.cost, rel_tol=1e-9, abs_tol=1e-6)
    assert all(mask[e] for e in route.edges)


def test_an_excluded_corridor_or_group_that_does_not_exist_is_named():
    network = _grid(["r1"] * 12)
    corridors = network.edges[network.edges["corridor_id"] != ""]
    with pytest.raises(
        UnknownCorridorError, match=r"demands\[0\]\.exclude_corridors: unknown corridors 'c99'"
    ):
        check_demand_names([Demand("ab", "A", "B", 1.0, exclude_corridors=("c99",))], None, None, corridors)
    with pytest.raises(UnknownCorridorError, match=r"unknown shared-risk groups 'r9' in demand 'ab' \(close"):
        check_demand_names([Demand("ab", "A", "B", 1.0, exclude_srlgs=("r9",))], None, None, corridors)


@pytest.mark.parametrize(
    ("area", "message"),
    [
        (Point(0, 0), "avoid_areas[0] must be a polygon, got 'Point'"),
        (box(170, 80, 190, 95), "avoid_areas[0] must lie within lon [-180, 180], lat [-90, 90]"),
        (
            shapely.Polygon([(0, 0), (1, 1), (1, 0), (0, 1)]),
            "avoid_areas[0] is not a valid polygon (Self-intersection",
        ),
    ],
)
def test_bad_areas_are_named(area, message):
    with pytest.raises(InvalidRequestError, match=message.replace("(", r"\(").replace("[", r"\[")):
        Demand("ab", "A", "B", 1.0, avoid_areas=(area,))


def test_areas_and_exclusions_travel_over_grpc():
    demand = Demand(
        "ab",
        "A",
        "B",
        1.0,
        exclude_corridors=("c1",),
        exclude_srlgs=("r2",),
        avoid_areas=(box(-99.9, 40.0, -99.8, 40.1),),
        within_areas=(box(-101, 39, -99, 41),),
    )
    back = demand_from_proto(demand_to_proto(demand))
    assert back.exclude_corridors == ("c1",) and back.exclude_srlgs == ("r2",)
    assert back.avoid_areas[0].equals(demand.avoid_areas[0]) and back.within_areas[0].equals(
        demand.within_areas[0]
    )
    broken = pb.Demand(id="ab", a="A", b="B", max_latency_ms=1, avoid_areas_geojson=['{"type": "Polygon"'])
    with pytest.raises(
        InvalidRequestError, match=r"demand\.avoid_areas_geojson\[0\] is not a GeoJSON geometry"
    ):
        demand_from_proto(broken)


def test_a_scenario_avoids_an_inline_flood_zone_on_the_sample(tmp_path):
    """GeoJSON written in the scenario: the route goes round it, dearer or slower, never through."""
    from pathlib import Path

    import yaml

    from optimizer.pipeline import solve_scenario
    from optimizer.scenario import load_scenario

    sample = Path(__file__).resolve().parents[1] / "geodata" / "sample"
    zone = {
        "type": "Polygon",
        "coordinates": [[[-95.5, 35.5], [-93.5, 35.5], [-93.5, 38.0], [-95.5, 38.0], [-95.5, 35.5]]],
    }
    demands = [
        {"id": "free", "a": "CHI1", "b": "DAL1", "max_latency_ms": 9.0},
        {"id": "round", "a": "CHI1", "b": "DAL1", "max_latency_ms": 9.0, "avoid_areas": [zone]},
    ]
    path = tmp_path / "flood.yaml"
    path.write_text(yaml.safe_dump({"name": "flood", "geodata": str(sample), "demands": demands}))
    solution, _ = solve_scenario(load_scenario(path))
    free, round_ = solution.routes
    assert free.status.value == round_.status.value == "OPTIMAL"
    assert shapely.intersects(free.geometry, shapely.geometry.shape(zone))  # the zone is in the way
    assert not shapely.intersects(round_.geometry, shapely.geometry.shape(zone))
    assert round_.cost >= free.cost


def _independent_diverse_mask(network, demand: Demand) -> list[bool]:
    """Edges a route diverse from the existing one may use, decided edge by edge: never one of
    its segments; for node and srlg not at one of its junctions (the sites excepted); for srlg
    not in one of its risk groups."""
    from optimizer.routes import site_nodes

    tolerance = network.settings.snap_tolerance_m / 111_320.0
    line = (
        shapely.union_all(demand.diverse_from_lines).buffer(tolerance) if demand.diverse_from_lines else None
    )
    rows = list(network.edges.itertuples())

    def groups(row) -> set[str]:
        return {g.strip() for g in str(row.srlg).split(",") if g.strip()}

    existing = [
        row.corridor_id in demand.diverse_from_corridors
        or bool(groups(row) & set(demand.diverse_from_srlgs))
        or (line is not None and line.covers(row.geometry))
        for row in rows
    ]
    ends = (
        {network.site_node[s] for s in ("A", "B")}
        | set(site_nodes(network, "A"))
        | set(site_nodes(network, "B"))
    )
    junctions = {n for row, on in zip(rows, existing, strict=True) if on for n in (row.tail, row.head)} - ends
    risks = set().union(*(groups(row) for row, on in zip(rows, existing, strict=True) if on))
    mask = []
    for row, on in zip(rows, existing, strict=True):
        ok = not on
        if demand.diversity in ("node", "srlg"):
            ok = ok and row.tail not in junctions and row.head not in junctions
        if demand.diversity == "srlg":
            ok = ok and not groups(row) & risks
        mask.append(ok)
    return mask


@st.composite
def diverse_cases(draw):
    srlgs = draw(st.lists(st.sampled_from(SRLGS), min_size=12, max_size=12))
    network = _grid(srlgs)
    corridors = draw(st.lists(st.integers(0, 11), max_size=4, unique=True))
    geoms = network.edges[network.edges["corridor_id"].isin([f"c{k}" for k in corridors])].geometry
    as_line = draw(st.booleans()) and len(geoms)
    demand = Demand(
        "ab",
        "A",
        "B",
        max_latency_ms=draw(st.sampled_from((0.5, 0.8))),
        diversity=draw(st.sampled_from(("edge", "node", "srlg"))),
        diverse_from_corridors=() if as_line else tuple(f"c{k}" for k in corridors),
        diverse_from_srlgs=tuple(draw(st.lists(st.sampled_from(("r1", "r2", "r3")), max_size=1))),
        diverse_from_lines=(shapely.line_merge(shapely.union_all(geoms.values)),) if as_line else (),
    )
    return network, demand


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow], derandomize=True)
@given(diverse_cases())
def test_diverse_from_an_existing_route_matches_brute_force(case):
    network, demand = case
    _assert_matches_brute_force(network, demand, _independent_diverse_mask(network, demand))


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow], derandomize=True)
@given(
    st.lists(st.sampled_from(SRLGS), min_size=12, max_size=12),
    st.sampled_from((0.5, 0.8)),
    st.sampled_from(("edge", "node", "srlg")),
)
def test_diverse_from_another_demand_matches_brute_force(srlgs, latency_ms, diversity):
    network = _grid(srlgs)
    first = Demand("first", "A", "B", latency_ms)
    second = Demand("second", "A", "B", 0.8, diversity=diversity, diverse_from_demand="first")
    routes, _summary = solve_demands(network, [first, second])
    earlier, later = routes
    if earlier.geometry is None:
        assert later.status.value != "INFEASIBLE" or "has no route" not in later.reason
        return
    base = demand_query(network, Demand("ab", "A", "B", second.max_latency_ms))
    # as from the earlier route's line: parallel segments along it (e.g. a site's laterals to
    # one corner, one per corridor) are its trench too
    independent = _independent_diverse_mask(network, replace(second, diverse_from_lines=(earlier.geometry,)))
    mask = [b and m for b, m in zip(base.edge_allowed, independent, strict=True)]
    best = brute_force_route(network.arrays, replace(base, edge_allowed=mask))
    if best is None:
        assert later.status.value == "INFEASIBLE", later
        return
    assert later.status.value == "OPTIMAL"
    assert math.isclose(later.cost, best.cost, rel_tol=1e-9, abs_tol=1e-6)
    assert all(mask[e] for e in later.edges) and not set(later.edges) & set(earlier.edges)


def test_diverse_from_demand_must_name_an_earlier_demand():
    demands = [Demand("x", "A", "B", 1.0, diverse_from_demand="y"), Demand("y", "A", "B", 1.0)]
    with pytest.raises(
        InvalidRequestError, match=r"demands\[0\]\.diverse_from_demand: 'y' .* not an earlier"
    ):
        check_demand_names(demands, ["A", "B"], None)
    with pytest.raises(InvalidRequestError, match="names the demand itself"):
        Demand("x", "A", "B", 1.0, diverse_from_demand="x")
    message = demand_to_proto(Demand("x", "A", "B", 1.0, diverse_from_demand="y"))
    assert demand_from_proto(message).diverse_from_demand == "y"
