"""Demands on a network: solve each one and describe its route for people and GIS."""

from __future__ import annotations

import contextlib
import difflib
import math
import time
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field, replace

import numpy as np
import pandas as pd
import pyproj
import shapely

from optimizer.design import solve_design, union_cost
from optimizer.errors import (
    InvalidRequestError,
    UnknownAreaError,
    UnknownCorridorError,
    UnknownJurisdictionError,
    UnknownSiteError,
)
from optimizer.frontier import cost_latency_frontier
from optimizer.geometry import WorkingProjection
from optimizer.graph import Network, srlg_groups
from optimizer.model import CallStop
from optimizer.penalties import risk_cost_of
from optimizer.problem import (
    MAX_PATHS,
    DesignDemand,
    DesignResult,
    Diversity,
    RouteQuery,
    RouteResult,
    RouteStatus,
    SolverOptions,
    StopSignal,
)
from optimizer.prune import evaluate_path
from optimizer.solve import solve_route
from optimizer.via import (
    MAX_LAYERED_EDGES,
    MAX_STOPS_ANY_ORDER,
    MAX_STOPS_GIVEN_ORDER,
    Layered,
    layered,
    layered_edges,
)

__all__ = [
    "ID_LIST_FIELDS",
    "Demand",
    "DemandFrontier",
    "DesignSummary",
    "FrontierStep",
    "JurisdictionCrossed",
    "Route",
    "Solution",
    "check_demand_names",
    "check_demands",
    "check_shared_build",
    "design_demand",
    "diverse_from_solved",
    "id_kind",
    "routes_union_cost",
    "separation_conflicts",
    "site_nodes",
    "solve_demand",
    "solve_demands",
    "solve_frontier",
    "solve_in_turn",
    "via_sites",
    "via_stops",
]

DIVERSITY_KINDS = ("edge", "node", "srlg")
VIA_ORDERS = ("given", "any")
_KIND_WORDS = {"edge": "edge", "node": "node", "srlg": "SRLG"}
FALLBACKS = ("strict", "least_shared")
ID_LIST_FIELDS = (
    "allowed_jurisdictions",
    "avoid_jurisdictions",
    "exclude_corridors",
    "exclude_srlgs",
    "diverse_from_corridors",
    "diverse_from_srlgs",
)
"""A demand's fields that list ids (of jurisdictions, corridors or shared-risk groups)."""
MAX_AREAS = 100
"""Most polygons (or lines) a demand's avoid_areas, within_areas or diverse_from_lines may list."""
_LONLAT = shapely.box(-180, -90, 180, 90)
_NO_AREAS = pd.DataFrame({"area_id": pd.Series(dtype=str), "group": pd.Series(dtype=str)})
MAX_AREA_VERTICES = 100_000
"""Most vertices of one such polygon."""
MAX_SEPARATION_KM = 1000.0
"""The widest min_separation_km a demand may ask (a continent's width would keep nothing apart)."""
MAX_SEPARATION_PAIRS = 500_000
"""The most edge pairs a demand's separation may make too close: each is a constraint of its
design, and finding them costs about 7 us each; past this the demand is refused, naming the field."""
_SEPARATION_CHUNK_PAIRS = 1 << 16
_METRES_PER_DEGREE = 111_320.0
"""Metres per degree of latitude; a degree of longitude is shorter, so a buffer in degrees is
never wider than the metres it stands for."""
_AREA_TOLERANCE_DEG = 1e-9
"""A segment on a within-area's boundary is inside it (coordinates rounded on the way)."""
"""Candidate pairs looked at per slice of the search, bounding its memory."""


@dataclass(frozen=True)
class Demand:
    """A request for routes between two sites within a one-way latency bound."""

    id: str
    a: str
    b: str
    max_latency_ms: float
    paths: int = 1
    diversity: str = "srlg"
    max_jurisdictions: int | None = None
    max_cost: float | None = None
    allowed_jurisdictions: tuple[str, ...] = ()
    avoid_jurisdictions: tuple[str, ...] = ()
    min_separation_km: float = 0.0
    """Between two routes of this demand, outside endpoint_radius_km of its sites (0: off)."""
    endpoint_radius_km: float = 10.0
    exclude_corridors: tuple[str, ...] = ()
    """corridor_id values whose segments the routes may not use."""
    exclude_srlgs: tuple[str, ...] = ()
    """Shared-risk groups (srlg field) whose corridors the routes may not use."""
    avoid_areas: tuple[shapely.Geometry | str, ...] = ()
    """Polygons (lon/lat) no segment of the routes may touch: a flood zone, a closed reserve; or
    the area_id or group of areas in the geodata's areas layer."""
    within_areas: tuple[shapely.Geometry | str, ...] = ()
    """Polygons (lon/lat, or areas by id or group) the routes must stay inside: each segment
    wholly within their union."""
    diverse_from_corridors: tuple[str, ...] = ()
    """An existing route, as the corridor ids it runs on: the new routes are diverse from it."""
    diverse_from_srlgs: tuple[str, ...] = ()
    """An existing route, as the shared-risk groups it runs in."""
    diverse_from_lines: tuple[shapely.Geometry, ...] = ()
    """An existing route, as lines (lon/lat): the graph segments along them within the snap tolerance."""
    diverse_from_demand: str = ""
    """Another demand (earlier in the same list): the new routes are diverse from its routes."""
    via: tuple[str | shapely.Point, ...] = ()
    """Stops the route must pass: site ids, or points (lon/lat) on a corridor within the snap tolerance."""
    via_order: str = "given"
    """"given": the route passes the via stops in the order listed; "any": in whichever order is best."""
    diversity_fallback: str = "strict"
    """"strict": routes only when fully diverse; "least_shared": else the set that shares the least."""

    def __post_init__(self) -> None:
        """Check types and values, naming the demand and field at fault (never a TypeError)."""
        where = f"demand {_short(self.id)}"
        problems = [f"{where}: {p}" for p in self._text_problems()]
        if isinstance(self.a, str) and self.a == self.b:
            problems.append(f"{where}: a and b are the same site {_short(self.a)}")
        problems += [
            f"{where}: {p}" for p in _number_problems("max_latency_ms", self.max_latency_ms, positive=True)
        ]
        for name in ("min_separation_km", "endpoint_radius_km"):
            problems += [f"{where}: {p}" for p in _number_problems(name, getattr(self, name))]
        if _is_number(self.min_separation_km) and self.min_separation_km > MAX_SEPARATION_KM:
            problems.append(
                f"{where}: min_separation_km must be at most {MAX_SEPARATION_KM:g}, "
                f"got {self.min_separation_km:g}"
            )
        if self.max_cost is not None:
            problems += [f"{where}: {p}" for p in _number_problems("max_cost", self.max_cost)]
        if not (_is_integer(self.paths) and 1 <= self.paths <= MAX_PATHS):
            problems.append(
                f"{where}: paths must be an integer in [1, {MAX_PATHS}], got {_short(self.paths)}"
            )
        if not (isinstance(self.diversity, str) and self.diversity in DIVERSITY_KINDS):
            problems.append(
                f"{where}: diversity must be one of {DIVERSITY_KINDS}, got {_short(self.diversity)}"
            )
        if self.max_jurisdictions is not None and not (
            _is_integer(self.max_jurisdictions) and self.max_jurisdictions >= 0
        ):
            problems.append(
                f"{where}: max_jurisdictions must be an integer >= 0, got {_short(self.max_jurisdictions)}"
            )
        problems += [f"{where}: {p}" for p in self._area_problems()]
        problems += [f"{where}: {p}" for p in self._via_problems()]
        if not (isinstance(self.diversity_fallback, str) and self.diversity_fallback in FALLBACKS):
            got = _short(self.diversity_fallback)
            problems.append(f"{where}: diversity_fallback must be one of {FALLBACKS}, got {got}")
        if problems:
            raise InvalidRequestError("; ".join(problems))

    def _area_problems(self) -> list[str]:
        """What in avoid_areas, within_areas and diverse_from_lines is not valid lon/lat geometry
        of its kind, or too big."""
        polygonal = (shapely.Polygon, shapely.MultiPolygon)
        linear = (shapely.LineString, shapely.MultiLineString)
        return [
            *_geometry_problems("avoid_areas", self.avoid_areas, polygonal, "polygon"),
            *_geometry_problems("within_areas", self.within_areas, polygonal, "polygon"),
            *_geometry_problems("diverse_from_lines", self.diverse_from_lines, linear, "line"),
        ]

    def _via_problems(self) -> list[str]:
        """What in via and via_order is not a short list of distinct sites and lon/lat points."""
        if not (isinstance(self.via_order, str) and self.via_order in VIA_ORDERS):
            return [f"via_order must be one of {VIA_ORDERS}, got {_short(self.via_order)}"]
        if not isinstance(self.via, tuple):
            return [f"via must be a tuple of site ids and points, got {_short(self.via)}"]
        most = MAX_STOPS_GIVEN_ORDER if self.via_order == "given" else MAX_STOPS_ANY_ORDER
        if len(self.via) > most:
            return [f"via lists {len(self.via)} stops; the limit is {most} with via_order {self.via_order}"]
        if self.via and _is_integer(self.paths) and self.paths != 1:
            return [f"via is for single routes: paths must be 1, got {self.paths}"]
        problems, seen = [], set()
        for i, stop in enumerate(self.via):
            if isinstance(stop, str):
                if stop in (self.a, self.b):
                    problems.append(f"via[{i}] is the demand's own end {_short(stop)}")
                elif stop in seen:
                    problems.append(f"via[{i}] names site {_short(stop)} a second time")
                seen.add(stop)
            elif not isinstance(stop, shapely.Point) or stop.is_empty:
                problems.append(f"via[{i}] must be a site id or a point, got {_short(stop)}")
            elif not (np.isfinite([stop.x, stop.y]).all() and _LONLAT.covers(stop)):
                problems.append(f"via[{i}] must lie within lon [-180, 180], lat [-90, 90]")
        return problems

    def _text_problems(self) -> list[str]:
        """What in the text fields is not text: ids, site names, jurisdiction id tuples."""
        texts = (
            ("id", self.id),
            ("a", self.a),
            ("b", self.b),
            ("diverse_from_demand", self.diverse_from_demand),
        )
        problems = [
            f"{name} must be text, got {_short(value)}" for name, value in texts if not isinstance(value, str)
        ]
        if self.diverse_from_demand and self.diverse_from_demand == self.id:
            problems.append("diverse_from_demand names the demand itself")
        for name in ID_LIST_FIELDS:
            values = getattr(self, name)
            if not isinstance(values, tuple):
                problems.append(f"{name} must be a tuple of {id_kind(name)} ids, got {_short(values)}")
                continue
            bad = [(i, v) for i, v in enumerate(values) if not isinstance(v, str)][:3]
            problems += [f"{name}[{i}] must be text, got {_short(v)}" for i, v in bad]
        return problems


def id_kind(field_name: str) -> str:
    """What the ids of one of ID_LIST_FIELDS name: jurisdiction, corridor or srlg."""
    return "jurisdiction" if field_name.endswith("jurisdictions") else field_name.rsplit("_", 1)[1][:-1]


def _geometry_problems(name: str, values: object, types: tuple[type, ...], kind: str) -> list[str]:
    """Why values is not a tuple of at most MAX_AREAS valid lon/lat geometries of types."""
    if not isinstance(values, tuple):
        return [f"{name} must be a tuple of {kind}s, got {_short(values)}"]
    if len(values) > MAX_AREAS:
        return [f"{name} has {len(values):,} {kind}s; the limit is {MAX_AREAS}"]
    problems = []
    for i, geom in enumerate(values):
        if kind == "polygon" and isinstance(geom, str):
            if not geom.strip():
                problems.append(f"{name}[{i}] names no area (an empty id)")
            continue
        if not isinstance(geom, types) or geom.is_empty:
            problems.append(f"{name}[{i}] must be a {kind}, got {_short(getattr(geom, 'geom_type', geom))}")
        elif shapely.get_num_coordinates(geom) > MAX_AREA_VERTICES:
            problems.append(f"{name}[{i}] has over {MAX_AREA_VERTICES:,} vertices")
        elif not np.isfinite(shapely.get_coordinates(geom)).all() or not _LONLAT.covers(geom):
            problems.append(f"{name}[{i}] must lie within lon [-180, 180], lat [-90, 90]")
        elif kind == "polygon" and not geom.is_valid:
            problems.append(f"{name}[{i}] is not a valid polygon ({shapely.is_valid_reason(geom)})")
    return problems


def _is_number(value: object) -> bool:
    """A real number (bools excluded)."""
    return isinstance(value, int | float) and not isinstance(value, bool)


def _is_integer(value: object) -> bool:
    """An integer (bools excluded)."""
    return isinstance(value, int) and not isinstance(value, bool)


def _number_problems(name: str, value: object, *, positive: bool = False) -> list[str]:
    """Why value is not a finite number >= 0 (> 0 when positive), in words naming the field."""
    if not _is_number(value):
        return [f"{name} must be a number, got {_short(value)}"]
    finite = math.isfinite(value)  # type: ignore[arg-type]
    if positive and not (finite and value > 0):  # type: ignore[operator]
        return [f"{name} must be > 0{'' if finite else ' and finite'}, got {value!r}"]
    if not (finite and value >= 0):  # type: ignore[operator]
        return [f"{name} must be a {'' if finite else 'finite '}number >= 0, got {value!r}"]
    return []


def _short(value: object, limit: int = 40) -> str:
    """A value's repr for a message, cut to a short prefix (input is never echoed unbounded)."""
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


@dataclass(frozen=True)
class JurisdictionCrossed:
    """A permit jurisdiction a route enters."""

    jurisdiction_id: str
    name: str
    level: str
    permit_cost: float


@dataclass(frozen=True)
class Route:
    """One demand's outcome: the route (if any), its figures, status and proof."""

    demand_id: str
    route_index: int
    a: str
    b: str
    status: RouteStatus
    reason: str
    max_latency_ms: float
    geometry: shapely.LineString | None
    length_km: float
    latency_ms: float
    cost: float
    build_cost: float
    permit_cost: float
    corridor_kinds: tuple[str, ...]
    jurisdictions: tuple[JurisdictionCrossed, ...]
    bound: float
    gap: float
    solve_s: float
    edges: tuple[int, ...] = ()
    nodes: tuple[int, ...] = ()
    outside_km: float = 0.0
    """Km outside every jurisdiction of a coverage level (settings.coverage_levels)."""
    outside_km_by_level: Mapping[str, float] = field(default_factory=dict)
    """Per jurisdiction level, the km outside all of that level's jurisdictions."""
    warnings: tuple[str, ...] = ()
    """What the planner should know about a route that stands (e.g. it leaves the coverage)."""
    shared_km: float = 0.0
    """Km of this route's segments another route of its demand runs too (a least-shared set)."""
    risk_cost: float = 0.0
    """The part of the cost that penalty areas add (cost = build_cost + risk_cost + permit_cost)."""

    @property
    def permit_count(self) -> int:
        """Number of distinct permit jurisdictions entered."""
        return len(self.jurisdictions)

    @property
    def count_by_level(self) -> dict[str, int]:
        """Jurisdictions entered, counted per level."""
        counts: dict[str, int] = {}
        for j in self.jurisdictions:
            counts[j.level] = counts.get(j.level, 0) + 1
        return counts


@dataclass(frozen=True)
class DesignSummary:
    """What the routes of a scenario cost together: each edge and permit paid once."""

    shared_build: bool
    """True when the demands were optimized together for the union's cost."""
    cost: float
    bound: float = float("nan")
    """Proven lower bound on the least union cost (shared build); NaN when not optimized jointly."""
    gap: float = float("nan")
    independent_cost: float = float("nan")
    """Union cost when every demand is optimized on its own: what sharing saves against."""
    solve_s: float = float("nan")
    unsolved_demands: int = 0
    """Demands without a route when time ran out: bound then covers only the others, gap is NaN."""

    @property
    def proof(self) -> str:
        """How far the design is proven, in words (one rule for CLI, report and map)."""
        if self.unsolved_demands:
            n = self.unsolved_demands
            return (
                f"{n} demand{'s' if n > 1 else ''} unsolved; bound {self.bound:,.0f} covers only "
                "the demands with routes, no gap for the whole design"
            )
        if self.gap == 0:
            return "optimal"
        return f"gap {self.gap:.2%}, bound {self.bound:,.0f}"


@dataclass(frozen=True)
class Solution:
    """All routes of a scenario with totals and timings."""

    name: str
    routes: tuple[Route, ...]
    graph_stats: dict
    timings_s: dict[str, float] = field(default_factory=dict)
    design: DesignSummary | None = None

    @property
    def total_cost(self) -> float:
        """Build plus permit cost of the routes found, each edge and permit paid once."""
        if self.design is not None:
            return self.design.cost
        return float(sum(r.cost for r in self.routes if r.geometry is not None))

    @property
    def shared_build(self) -> bool:
        """Whether the demands were optimized together."""
        return self.design is not None and self.design.shared_build

    @property
    def status(self) -> str:
        """OPTIMAL when every demand is proven, else the weakest status met."""
        order = [RouteStatus.OPTIMAL, RouteStatus.FEASIBLE, RouteStatus.INFEASIBLE, RouteStatus.UNSOLVED]
        worst = max((order.index(r.status) for r in self.routes), default=0)
        return order[worst].value

    @property
    def jurisdictions_overall(self) -> tuple[str, ...]:
        """Distinct jurisdiction ids entered by any route."""
        return tuple(sorted({j.jurisdiction_id for r in self.routes for j in r.jurisdictions}))


def check_demands(network: Network, demands: Sequence[Demand], *, where: str = "") -> None:
    """Every site and jurisdiction the demands name exists in the network (before any solving)."""
    check_demand_names(
        demands,
        network.site_node,
        network.jurisdictions["jurisdiction_id"].astype(str),
        areas=network.areas if network.areas is not None else _NO_AREAS,
        where=where,
    )


def check_demand_names(
    demands: Sequence[Demand],
    site_ids: Iterable[str] | None,
    jurisdiction_ids: Iterable[str] | None,
    corridors: pd.DataFrame | None = None,
    *,
    areas: pd.DataFrame | None = None,
    where: str = "",
) -> None:
    """Every site and jurisdiction the demands name is among the ids given, every corridor and
    shared-risk group they exclude in corridors, every area they name in areas (by area_id or
    group; when given); the error names the demand and field at fault, with the closest ids
    there are. None: those names are not checked."""
    known = {}
    named = ("exclude_corridors", "exclude_srlgs", "diverse_from_corridors", "diverse_from_srlgs")
    if corridors is not None and any(getattr(d, f) for d in demands for f in named):
        srlgs = srlg_groups(corridors["srlg"]) if "srlg" in corridors else []
        corridor_ids, groups = set(corridors["corridor_id"].astype(str)), {g for g in srlgs if g}
        known = {
            "exclude_corridors": corridor_ids,
            "exclude_srlgs": groups,
            "diverse_from_corridors": corridor_ids,
            "diverse_from_srlgs": groups,
        }
    earlier: set[str] = set()
    area_names: set[str] | None = None  # read from areas once, when a demand names one
    for i, demand in enumerate(demands):
        of = f"in demand {_short(demand.id)}"
        if demand.diverse_from_demand and demand.diverse_from_demand not in earlier:
            raise InvalidRequestError(
                f"{where}demands[{i}].diverse_from_demand: {_short(demand.diverse_from_demand)} {of} is "
                f"not an earlier demand of this list{_close(demand.diverse_from_demand, earlier)}"
            )
        earlier.add(demand.id)
        for name, ids in known.items():
            if unknown := sorted(set(getattr(demand, name)) - ids):
                kind = "corridors" if name.endswith("corridors") else "shared-risk groups"
                close = _close(unknown[0], ids)
                raise UnknownCorridorError(
                    f"{where}demands[{i}].{name}: unknown {kind} {_short(unknown[0])} {of}{close}"
                )
        if areas is not None and any(isinstance(x, str) for x in (*demand.avoid_areas, *demand.within_areas)):
            area_names = _area_names(areas) if area_names is None else area_names
            _check_areas(demand, i, area_names, where)
        if site_ids is not None:
            _check_sites(demand, i, set(map(str, site_ids)), where)
        if jurisdiction_ids is not None:
            _check_jurisdictions(demand, i, set(map(str, jurisdiction_ids)), where)


def _area_names(areas: pd.DataFrame) -> set[str]:
    """The names an area goes by in demands: its area_id and, where set, its group."""
    known = set(areas["area_id"].astype(str)) if len(areas) else set()
    if len(areas) and "group" in areas:
        known |= set(areas["group"].astype(str)) - {""}
    return known


def _check_areas(demand: Demand, i: int, known: set[str], where: str) -> None:
    """The areas demand i names (by id or group) are among the known names."""
    for name in ("avoid_areas", "within_areas"):
        named = [a for a in getattr(demand, name) if isinstance(a, str)]
        if unknown := [a for a in named if a not in known]:
            where_from = "" if known else " (the geodata has no areas layer)"
            raise UnknownAreaError(
                f"{where}demands[{i}].{name}: unknown area {_short(unknown[0])} in demand {_short(demand.id)}"
                f"{where_from}{_close(unknown[0], known)}"
            )


def _check_sites(demand: Demand, i: int, sites: set[str], where: str) -> None:
    """Both ends of demand i are known sites."""
    of = f"in demand {_short(demand.id)}"
    named = [("a", demand.a), ("b", demand.b)]
    named += [(f"via[{j}]", v) for j, v in enumerate(demand.via) if isinstance(v, str)]
    for name, site in named:
        if site not in sites:
            raise UnknownSiteError(
                f"{where}demands[{i}].{name}: unknown site {_short(site)} {of}{_close(site, sites)}"
            )


def _check_jurisdictions(demand: Demand, i: int, juris: set[str], where: str) -> None:
    """The jurisdictions demand i allows or avoids are known."""
    of = f"in demand {_short(demand.id)}"
    for name in ("allowed_jurisdictions", "avoid_jurisdictions"):
        if unknown := sorted(set(getattr(demand, name)) - juris):
            shown = ", ".join(_short(j) for j in unknown[:5]) + (" ..." if len(unknown) > 5 else "")
            close = _close(unknown[0], juris)
            raise UnknownJurisdictionError(
                f"{where}demands[{i}].{name}: unknown jurisdictions {shown} {of}{close}"
            )


def _close(name: str, known: set[str]) -> str:
    """Words listing the known ids closest to name, if any are close."""
    near = difflib.get_close_matches(name, sorted(known), n=3, cutoff=0.5) if len(known) < 100_000 else []
    return f" (close matches: {', '.join(map(repr, near))})" if near else ""


def demand_query(network: Network, demand: Demand) -> RouteQuery:
    """The solver query for a demand whose names check_demands has passed."""
    return RouteQuery(
        source=network.site_node[demand.a],
        target=network.site_node[demand.b],
        max_latency_ms=float(demand.max_latency_ms),
        max_jurisdictions=demand.max_jurisdictions,
        max_cost=demand.max_cost,
        edge_allowed=_edge_allowed(network, demand),
        source_name=demand.a,
        target_name=demand.b,
    )


def _edge_allowed(network: Network, demand: Demand) -> np.ndarray:
    """Edges the demand may use: not another site's lateral, and within its jurisdictions."""
    edges = network.edges
    site = edges["site"].to_numpy()
    own = {network.site_node[s] for s in (demand.a, demand.b, *via_sites(demand))}
    allowed = (site < 0) | np.isin(site, list(own))
    allowed &= _outside_exclusions(network, demand)
    juris_ids = network.jurisdictions["jurisdiction_id"].astype(str).to_numpy()
    juris_level = network.jurisdictions["level"].to_numpy()
    for k, level in enumerate(network.levels):
        column = network.arrays.jurisdiction[:, k]
        ids = np.append(juris_ids, "")[column]  # -1 (none) maps to ""
        if demand.avoid_jurisdictions:
            allowed &= ~np.isin(ids, demand.avoid_jurisdictions)
        listed = [j for j in demand.allowed_jurisdictions if juris_level[juris_ids == j][0] == level]
        if listed:  # a piece on a border enters none there; one outside them all is foreign
            on_border = (column < 0) & network.edges[f"covered_{level}"].to_numpy()
            allowed &= np.isin(ids, listed) | on_border
    return allowed


def _outside_exclusions(network: Network, demand: Demand) -> np.ndarray:
    """Edges the demand's own exclusions leave usable: corridors, shared-risk groups, areas."""
    edges = network.edges
    allowed = np.ones(len(edges), dtype=bool)
    if demand.exclude_corridors:
        allowed &= ~edges["corridor_id"].isin(demand.exclude_corridors).to_numpy()
    if demand.exclude_srlgs:
        allowed &= ~_srlg_hits(edges, demand.exclude_srlgs)
    if demand.avoid_areas:
        area = shapely.union_all(area_geometries(network, demand.avoid_areas))
        touched = edges.sindex.query(area, predicate="intersects")
        allowed[touched] = False
    if demand.within_areas:
        area = shapely.union_all(area_geometries(network, demand.within_areas)).buffer(_AREA_TOLERANCE_DEG)
        inside = np.zeros(len(edges), dtype=bool)
        inside[edges.sindex.query(area, predicate="covers")] = True
        allowed &= inside
    if demand.diverse_from_corridors or demand.diverse_from_srlgs or demand.diverse_from_lines:
        allowed &= ~_sharing_with_existing(network, demand)
    return allowed


def via_sites(demand: Demand) -> tuple[str, ...]:
    """The sites among the demand's via stops."""
    return tuple(v for v in demand.via if isinstance(v, str))


def via_stops(network: Network, demand: Demand, *, where: str = "") -> list[np.ndarray]:
    """Each via stop as the edges a route passes it by: a site's laterals, the segments within
    the snap tolerance of a point.  A point on no segment, or two stops on one, is an
    InvalidRequestError naming the demand and stop."""
    edges, stops = network.edges, []
    site = edges["site"].to_numpy()
    tolerance_m = network.settings.snap_tolerance_m
    for i, stop in enumerate(demand.via):
        at = f"{where}demand {_short(demand.id)}: via[{i}]"
        if isinstance(stop, str):
            stops.append(np.flatnonzero(site == network.site_node[stop]))
            continue
        degrees = tolerance_m / (_METRES_PER_DEGREE * max(math.cos(math.radians(stop.y)), 0.01))
        near = edges.sindex.query(stop, predicate="dwithin", distance=degrees)
        near = near[site[near] < 0]
        if len(near):
            km = _distances_km(edges.geometry.values[near], stop)
            near = near[km <= tolerance_m / 1000.0]
        if not len(near):
            nearest = edges.sindex.nearest(stop, return_all=False)[1]
            away = _distances_km(edges.geometry.values[nearest[site[nearest] < 0]], stop)
            gap = f" (the nearest is {away.min():,.2f} km away)" if len(away) else ""
            raise InvalidRequestError(
                f"{at}: point ({stop.x:.6f}, {stop.y:.6f}) lies on no corridor within the snap "
                f"tolerance {tolerance_m:g} m{gap}; place it on a corridor or name a site"
            )
        stops.append(np.sort(near))
    for i, stop in enumerate(stops):
        for j in range(i):
            if np.intersect1d(stop, stops[j]).size:
                raise InvalidRequestError(
                    f"{where}demand {_short(demand.id)}: via[{j}] and via[{i}] lie on one segment; "
                    "one stop there passes both"
                )
    return stops


def _distances_km(geoms: np.ndarray, point: shapely.Point) -> np.ndarray:
    """Distance (km) from a lon/lat point to each geometry, measured in the azimuthal
    equidistant projection centred on the point (true to the metre at a via's tolerance)."""
    centred = WorkingProjection(
        pyproj.CRS.from_proj4(f"+proj=aeqd +lat_0={point.y} +lon_0={point.x} +ellps=WGS84 +units=m")
    )
    return shapely.distance(centred.from_lonlat(np.asarray(geoms)), shapely.Point(0.0, 0.0)) / 1000.0


def area_geometries(network: Network, areas: Sequence[shapely.Geometry | str]) -> list[shapely.Geometry]:
    """The polygons of a demand's areas: those given, and for a name every area of the
    network's areas layer with that area_id or group (names checked by check_demand_names)."""
    found = [a for a in areas if not isinstance(a, str)]
    names = {a for a in areas if isinstance(a, str)}
    if names and network.areas is not None and len(network.areas):
        layer = network.areas
        hit = layer["area_id"].astype(str).isin(names) | layer["group"].astype(str).isin(names)
        found += list(layer.geometry.values[hit.to_numpy()])
    return found


def _srlg_hits(edges: pd.DataFrame, groups: Iterable[str]) -> np.ndarray:
    """Edges whose srlg field names any of groups."""
    hit = srlg_groups(edges["srlg"]).isin(set(groups) - {""}).groupby(level=0).any()
    return hit.reindex(edges.index, fill_value=False).to_numpy(dtype=bool)


def _sharing_with_existing(network: Network, demand: Demand) -> np.ndarray:
    """Edges a route diverse (by the demand's diversity) from its existing route would share
    with it: the existing route's own segments; for node and SRLG diversity also every segment
    at one of its junctions (the demand's own sites excepted); for SRLG also its risk groups."""
    edges = network.edges
    on = np.array(edges["corridor_id"].isin(demand.diverse_from_corridors), dtype=bool)  # a copy
    on |= _srlg_hits(edges, demand.diverse_from_srlgs)
    if demand.diverse_from_lines:
        tolerance_deg = network.settings.snap_tolerance_m / _METRES_PER_DEGREE
        along = shapely.union_all(demand.diverse_from_lines).buffer(tolerance_deg)
        on[edges.sindex.query(along, predicate="covers")] = True
    shared = on.copy()
    if demand.diversity in ("node", "srlg"):
        tail, head = network.arrays.tail, network.arrays.head
        nodes = np.zeros(network.arrays.n_nodes, dtype=bool)
        nodes[tail[on]] = nodes[head[on]] = True
        for site in (demand.a, demand.b):  # the sites are the routes' common ends
            nodes[[network.site_node[site], *site_nodes(network, site)]] = False
        shared |= nodes[tail] | nodes[head]
    if demand.diversity == "srlg":
        groups = edges["srlg"].to_numpy()[on].astype(str)
        shared |= _srlg_hits(edges, {g.strip() for text in groups for g in text.split(",")})
    return shared


def design_demand(network: Network, demand: Demand, stop: StopSignal | None = None) -> DesignDemand:
    """The solver's view of a demand (names already checked): query, diversity, too-close pairs,
    and the nodes each site lies on (shared by all its routes)."""
    query = demand_query(network, demand)
    conflicts = None
    if demand.paths > 1 and demand.min_separation_km > 0:
        conflicts = separation_conflicts(network, demand, query.edge_allowed, stop=stop)
    source, target = site_nodes(network, demand.a), site_nodes(network, demand.b)
    both = set(source) & set(target)  # co-located sites: a node of both is neither's own
    return DesignDemand(
        query,
        demand.paths,
        Diversity(demand.diversity),
        conflicts,
        source_nodes=tuple(n for n in source if n not in both),
        target_nodes=tuple(n for n in target if n not in both),
        fallback_least_shared=demand.diversity_fallback == "least_shared",
    )


@contextlib.contextmanager
def _timed(options: SolverOptions | None) -> Iterator[SolverOptions]:
    """options whose stop also follows their time limit from now, so the demands' views (their
    separation pairs) count against it as the solve does."""
    options = options or SolverOptions()
    with CallStop(options.stop, options.time_limit_s) as stop:
        yield replace(options, stop=stop)


def site_nodes(network: Network, site_id: str) -> tuple[int, ...]:
    """Nodes the site lies on besides its own: reached along its own laterals within the snap
    tolerance (a site on a junction or a span's end), sorted."""
    node = network.site_node[site_id]  # a site's node id is its row, which laterals carry
    own = np.flatnonzero(network.edges["site"].to_numpy() == node)
    km = network.edges["length_km"].to_numpy()[own] / network.settings.lateral_route_factor
    reach_km = _reach_km(node, network.arrays.tail[own], network.arrays.head[own], km)
    limit_km = network.settings.snap_tolerance_m / 1000.0 * (1 + 1e-9)
    return tuple(sorted(n for n, d in reach_km.items() if d <= limit_km and n != node))


def _reach_km(start: int, tail: np.ndarray, head: np.ndarray, km: np.ndarray) -> dict[int, float]:
    """Shortest distance from start to every node over a few undirected edges (Bellman-Ford)."""
    reach = {start: 0.0}
    for _ in range(len(km)):
        changed = False
        for u, v, d in zip(tail.tolist(), head.tolist(), km.tolist(), strict=True):
            for a, b in ((u, v), (v, u)):
                if a in reach and reach[a] + d < reach.get(b, math.inf):
                    reach[b], changed = reach[a] + d, True
        if not changed:
            break
    return reach


def separation_conflicts(
    network: Network,
    demand: Demand,
    allowed: np.ndarray | None,
    *,
    stop: StopSignal | None = None,
    max_pairs: int = MAX_SEPARATION_PAIRS,
) -> np.ndarray:
    """Edge pairs closer than min_separation_km, beyond endpoint_radius_km of the demand's sites.

    Distances are measured in an equidistant projection fitted to the edges considered. More than
    max_pairs is an InvalidRequestError naming the demand. Once stop is set the search ends with
    the pairs found so far: the solve that follows sees the same stop and answers UNSOLVED.
    """
    idx = np.flatnonzero(allowed) if allowed is not None else np.arange(network.arrays.n_edges)
    geoms = network.edges.geometry.values[idx]
    if not len(idx):
        return np.zeros((0, 2), dtype=np.int64)
    project = WorkingProjection.fitted(tuple(shapely.total_bounds(geoms))).from_lonlat
    ends = network.node_lonlat[[network.site_node[demand.a], network.site_node[demand.b]]]
    disks = shapely.buffer(project(shapely.points(ends)), demand.endpoint_radius_km * 1000.0, quad_segs=16)
    clipped = shapely.difference(project(geoms), shapely.union_all(disks))
    keep = ~shapely.is_empty(clipped)
    clipped, idx = clipped[keep], idx[keep]
    separation_m = demand.min_separation_km * 1000.0
    tree, found, count = shapely.STRtree(clipped), [], 0
    step = max(1, _SEPARATION_CHUNK_PAIRS // max(len(clipped), 1))
    for start in range(0, len(clipped), step):
        if stop is not None and stop.is_set():
            break
        chunk = np.arange(start, min(start + step, len(clipped)))
        local, right = tree.query(clipped[chunk], predicate="dwithin", distance=separation_m)
        left = chunk[local]
        pair = left < right
        left, right = left[pair], right[pair]
        count += len(left)
        if count > max_pairs:
            raise InvalidRequestError(
                f"demand {_short(demand.id)}: min_separation_km {demand.min_separation_km:g} makes over "
                f"{max_pairs:,} edge pairs too close beyond endpoint_radius_km "
                f"{demand.endpoint_radius_km:g} of its sites; ask a smaller separation"
            )
        close = shapely.distance(clipped[left], clipped[right]) < separation_m
        found.append(np.column_stack([idx[left[close]], idx[right[close]]]))
    return np.concatenate(found).astype(np.int64) if found else np.zeros((0, 2), dtype=np.int64)


def solve_demand(
    network: Network, demand: Demand, *, options: SolverOptions | None = None
) -> tuple[Route, ...]:
    """The demand's optimal routes (paths of them, fastest first), or why there are none."""
    check_demands(network, [demand])
    return _solve_checked(network, demand, options)


def _solve_checked(network: Network, demand: Demand, options: SolverOptions | None) -> tuple[Route, ...]:
    """solve_demand for a demand whose names are known to be good."""
    started = time.perf_counter()
    if unreachable := _unreachable(network, demand):
        return (describe_route(network, demand, unreachable, time.perf_counter() - started),)
    with _timed(options) as timed:
        if demand.via:
            graph = _via_graph(network, demand)
            result = graph.original(solve_route(graph.arrays, graph.query, options=timed))
            return (describe_route(network, demand, result, time.perf_counter() - started),)
        views = [design_demand(network, demand, timed.stop)]
        result = solve_design(network.arrays, views, options=timed)
    return _describe_design(network, [demand], result, time.perf_counter() - started)[0]


def _via_graph(network: Network, demand: Demand) -> Layered:
    """The layered graph of a demand with via stops; one too big to build is refused, naming it."""
    stops = via_stops(network, demand)
    query = demand_query(network, demand)
    ordered = demand.via_order == "given"
    allowed = network.arrays.n_edges
    if query.edge_allowed is not None:
        allowed = int(np.count_nonzero(query.edge_allowed))
    if layered_edges(allowed, len(stops), ordered=ordered) > MAX_LAYERED_EDGES:
        layers = len(stops) + 1 if ordered else 2 ** len(stops)
        raise InvalidRequestError(
            f"demand {_short(demand.id)}: via with {len(stops)} stops (via_order {demand.via_order}) "
            f"copies the {allowed:,} usable segments {layers} times, beyond the {MAX_LAYERED_EDGES:,} "
            "a search may hold; list fewer stops, give their order, or narrow the area"
        )
    return layered(network.arrays, query, stops, ordered=ordered)


def check_shared_build(demands: Sequence[Demand], *, where: str = "") -> None:
    """Demands of a shared build ask nothing it cannot design jointly: via stops, diversity from
    another demand's routes and the least-shared fallback are solved one demand at a time."""
    for i, demand in enumerate(demands):
        if demand.via:
            field_name = "via"
        elif demand.diverse_from_demand:
            field_name = "diverse_from_demand"
        elif demand.diversity_fallback != "strict":
            field_name = "diversity_fallback"
        else:
            continue
        raise InvalidRequestError(
            f"{where}demands[{i}].{field_name}: demand {_short(demand.id)} is solved on its own, not in a "
            "shared build; set shared_build: false or drop the field"
        )


def solve_demands(
    network: Network,
    demands: Sequence[Demand],
    *,
    options: SolverOptions | None = None,
    on_route: Callable[[Route], None] | None = None,
    shared_build: bool = False,
) -> tuple[tuple[Route, ...], DesignSummary]:
    """Every demand's routes, one demand at a time or (shared_build) all designed together.

    on_route sees each route as it is settled (progress).
    """
    check_demands(network, demands)
    if shared_build:
        check_shared_build(demands)
    started = time.perf_counter()
    if shared_build:
        routes, design = _solve_shared(network, demands, options)
        for route in routes:
            if on_route:
                on_route(route)
    else:
        routes = []
        for demand in demands:
            for route in solve_in_turn(network, demand, routes, options=options, checked=True):
                routes.append(route)
                if on_route:
                    on_route(route)
        design = None
    cost = routes_union_cost(network, routes)
    solve_s = time.perf_counter() - started
    if design is None:
        return tuple(routes), DesignSummary(False, cost, independent_cost=cost, solve_s=solve_s)
    summary = DesignSummary(
        True, cost, design.bound, design.gap, design.independent_cost, solve_s, design.unsolved_demands
    )
    return tuple(routes), summary


def solve_in_turn(
    network: Network,
    demand: Demand,
    solved: Sequence[Route],
    *,
    options: SolverOptions | None = None,
    checked: bool = False,
) -> tuple[Route, ...]:
    """One demand of a list solved on its own, after the routes solved before it: diverse from
    those of diverse_from_demand (by their lines), with a warning when that demand has none."""
    resolved = diverse_from_solved(demand, solved)
    if not checked:
        check_demands(network, [resolved])
    routes = _solve_checked(network, resolved, options)
    if resolved.diverse_from_lines != demand.diverse_from_lines or not demand.diverse_from_demand:
        return routes
    note = (
        f"diverse_from_demand {_short(demand.diverse_from_demand)} has no route, so nothing was there to "
        "be diverse from"
    )
    return tuple(replace(r, warnings=(*r.warnings, note)) if r.geometry is not None else r for r in routes)


def diverse_from_solved(demand: Demand, solved: Sequence[Route]) -> Demand:
    """The demand with the routes of the demand it must be diverse from (among those solved) as
    existing lines, and that reference resolved; a demand that names none as it is."""
    if not demand.diverse_from_demand:
        return demand
    lines = tuple(
        r.geometry for r in solved if r.demand_id == demand.diverse_from_demand and r.geometry is not None
    )
    return replace(demand, diverse_from_lines=demand.diverse_from_lines + lines, diverse_from_demand="")


def _solve_shared(
    network: Network, demands: Sequence[Demand], options: SolverOptions | None
) -> tuple[list[Route], DesignResult | None]:
    """All demands with reachable sites in one design; the others carry their reason."""
    started = time.perf_counter()
    reachable = [d for d in demands if _unreachable(network, d) is None]
    with _timed(options) as timed:
        views = [design_demand(network, d, timed.stop) for d in reachable]
        result = solve_design(network.arrays, views, options=timed)
    solve_s = time.perf_counter() - started
    solved = dict(
        zip((d.id for d in reachable), _describe_design(network, reachable, result, solve_s), strict=True)
    )
    routes: list[Route] = []
    for demand in demands:
        if demand.id in solved:
            routes.extend(solved[demand.id])
        else:
            unreachable = _unreachable(network, demand)
            assert unreachable is not None
            routes.append(describe_route(network, demand, unreachable, 0.0))
    return routes, result


def _unreachable(network: Network, demand: Demand) -> RouteResult | None:
    """An INFEASIBLE result when one of the demand's sites has no lateral at all."""
    for end in (demand.a, demand.b, *via_sites(demand)):
        if end in network.unreachable:
            return RouteResult(RouteStatus.INFEASIBLE, reason=network.unreachable[end])
    return None


def _describe_design(
    network: Network, demands: Sequence[Demand], result: DesignResult, solve_s: float
) -> list[tuple[Route, ...]]:
    """Routes of each demand for people and GIS, route 0 the fastest."""
    described = []
    for demand, routes, status, reason in zip(
        demands, result.routes, result.demand_status, result.demand_reason, strict=True
    ):
        if not routes:
            none = RouteResult(
                status, reason=reason, bound=math.inf if status is RouteStatus.INFEASIBLE else math.nan
            )
            described.append((describe_route(network, demand, none, solve_s),))
            continue
        found = tuple(
            describe_route(network, demand, r, solve_s, route_index=i) for i, r in enumerate(routes)
        )
        described.append(_with_sharing(network, demand, found))
    return described


def _with_sharing(network: Network, demand: Demand, routes: tuple[Route, ...]) -> tuple[Route, ...]:
    """A least-shared set's routes with the km each shares and a warning naming what is shared
    (segments by corridor, junctions, risk groups); a fully diverse set as it is."""
    if demand.diversity_fallback != "least_shared" or len(routes) < 2:
        return routes
    edges = network.edges
    own = _site_edges(network, demand)
    uses = Counter(e for r in routes for e in set(r.edges) if not own[e])
    shared = {e for e, n in uses.items() if n > 1}
    ends = {network.site_node[s] for s in (demand.a, demand.b)}
    ends |= {*site_nodes(network, demand.a), *site_nodes(network, demand.b)}
    visits = Counter(v for r in routes for v in set(r.nodes) if v not in ends)
    junctions = sorted(v for v, n in visits.items() if n > 1) if demand.diversity != "edge" else []
    groups: set[str] = set()
    if demand.diversity == "srlg":
        held = Counter(g for r in routes for g in _route_groups(edges, [e for e in r.edges if not own[e]]))
        groups = {g for g, n in held.items() if n > 1}
    if not (shared or junctions or groups):
        return routes
    km = edges["length_km"].to_numpy()
    total_km = sum(float(km[e]) * (uses[e] - 1) for e in shared)
    names = sorted({str(c) or "a site lateral" for c in edges["corridor_id"].to_numpy()[sorted(shared)]})
    parts = [f"{total_km:,.1f} km of segments ({_listed(names)})"] if shared else []
    if junctions:
        at = ", ".join(f"({x:.4f}, {y:.4f})" for x, y in network.node_lonlat[junctions[:3]].tolist())
        more = " ..." if len(junctions) > 3 else ""
        parts.append(f"{len(junctions)} junction{'s' if len(junctions) > 1 else ''} (at {at}{more})")
    if groups:
        parts.append(f"risk group{'s' if len(groups) > 1 else ''} {_listed(sorted(groups))}")
    warning = (
        f"diversity_fallback least_shared: no {demand.paths} fully {_KIND_WORDS[demand.diversity]}-diverse "
        f"routes exist; this set shares {' and '.join(parts)}"
    )
    return tuple(
        replace(
            r,
            shared_km=round(float(sum(km[e] for e in r.edges if e in shared)), 3),
            warnings=(*r.warnings, warning),
        )
        for r in routes
    )


def _site_edges(network: Network, demand: Demand) -> np.ndarray:
    """Per edge: both ends on one of the demand's sites (its own node and the junctions it lies on)."""
    tail, head = network.arrays.tail, network.arrays.head
    own = np.zeros(network.arrays.n_edges, dtype=bool)
    for site in (demand.a, demand.b):
        nodes = np.zeros(network.arrays.n_nodes, dtype=bool)
        nodes[[network.site_node[site], *site_nodes(network, site)]] = True
        own |= nodes[tail] & nodes[head]
    return own


def _route_groups(edges: pd.DataFrame, idx: Sequence[int]) -> set[str]:
    """The shared-risk groups the edges idx run in."""
    return set(srlg_groups(edges["srlg"].iloc[list(idx)])) - {""}


def _listed(names: Sequence[str], most: int = 5) -> str:
    """Names for a message, the first few and how many more."""
    shown = ", ".join(names[:most])
    return shown + (f" and {len(names) - most} more" if len(names) > most else "")


def routes_union_cost(network: Network, routes: Sequence[Route]) -> float:
    """Cost of the routes' distinct edges and permits."""
    found = [evaluate_path(network.arrays, r.nodes[0], r.edges) for r in routes if r.edges]
    return union_cost(network.arrays, found)


def describe_route(
    network: Network, demand: Demand, result: RouteResult, solve_s: float, *, route_index: int = 0
) -> Route:
    """A route's geometry and figures, from the solver's edge list."""
    edges = network.edges
    idx = np.asarray(result.edges, dtype=np.int64)
    geometry = _route_geometry(network, result) if result.has_route else None
    kinds = tuple(dict.fromkeys(edges["kind"].to_numpy()[idx].tolist())) if len(idx) else ()
    juris = network.jurisdictions
    crossed = tuple(
        JurisdictionCrossed(
            jurisdiction_id=str(juris["jurisdiction_id"].iloc[j]),
            name=str(juris["name"].iloc[j]),
            level=str(juris["level"].iloc[j]),
            permit_cost=float(juris["permit_cost"].iloc[j]),
        )
        for j in result.jurisdictions
    )
    outside = _outside_km(network, idx) if result.has_route else {}
    outside_km = outside.pop("", 0.0)
    risk = risk_cost_of(edges, idx) if result.has_route else 0.0
    return Route(
        demand_id=demand.id,
        route_index=route_index,
        a=demand.a,
        b=demand.b,
        status=result.status,
        reason=_with_coverage(network, result),
        max_latency_ms=float(demand.max_latency_ms),
        geometry=geometry,
        length_km=float(edges["length_km"].to_numpy()[idx].sum()) if result.has_route else float("nan"),
        latency_ms=result.latency_ms,
        cost=result.cost,
        build_cost=result.edge_cost - risk,
        permit_cost=result.permit_cost,
        corridor_kinds=kinds,
        jurisdictions=crossed,
        bound=result.bound,
        gap=result.gap,
        solve_s=solve_s,
        edges=result.edges,
        nodes=result.nodes,
        outside_km=outside_km,
        outside_km_by_level=outside,
        risk_cost=risk,
        warnings=_coverage_warnings(network, outside_km, outside) + _diversity_warnings(network, demand, idx),
    )


def _outside_km(network: Network, idx: np.ndarray) -> dict[str, float]:
    """Km of the edges idx outside all jurisdictions of each level; under "" outside any
    coverage level (the levels settings.coverage_levels names, or all)."""
    edges = network.edges
    km = edges["length_km"].to_numpy()[idx]
    covering = network.settings.coverage_of(network.levels)
    out: dict[str, float] = {}
    anywhere = np.zeros(len(idx), dtype=bool)
    for level in network.levels:
        outside = ~edges[f"covered_{level}"].to_numpy()[idx]
        out[level] = round(float(km[outside].sum()), 3)
        if level in covering:
            anywhere |= outside
    out[""] = round(float(km[anywhere].sum()), 3)
    return out


def _coverage_warnings(network: Network, outside_km: float, by_level: Mapping[str, float]) -> tuple[str, ...]:
    """The warning for a route that leaves the coverage, where settings.uncovered is "warn"."""
    if network.settings.uncovered != "warn" or outside_km <= 0:
        return ()
    levels = network.settings.coverage_of(network.levels)
    per_level = ", ".join(f"{by_level[level]:,.1f} km outside every {level}" for level in levels)
    return (
        f"runs {outside_km:,.1f} km outside the jurisdictions ({per_level}): no permits are priced "
        "there; settings.uncovered: forbid keeps routes inside",
    )


def _diversity_warnings(network: Network, demand: Demand, idx: np.ndarray) -> tuple[str, ...]:
    """The warning for SRLG-diverse routes over corridors that name no shared-risk group."""
    if demand.paths < 2 or demand.diversity != "srlg" or not len(idx):
        return ()
    corridor = network.edges["corridor_id"].to_numpy()[idx].astype(str) != ""
    if not corridor.any() or (network.edges["srlg"].to_numpy()[idx][corridor].astype(str) != "").any():
        return ()
    return (
        "diversity srlg: no corridor of this route names a shared-risk group (srlg field), so it is "
        "diverse by segments and junctions only, as with diversity node",
    )


def _with_coverage(network: Network, result: RouteResult) -> str:
    """The result's reason, saying for an infeasible demand what uncovered: forbid left out."""
    stats = network.stats
    if result.status is not RouteStatus.INFEASIBLE or network.settings.uncovered != "forbid":
        return result.reason
    if not stats.edges_uncovered:
        return result.reason
    return (
        f"{result.reason}; settings.uncovered: forbid left out {stats.edges_uncovered:,} edges "
        f"({stats.uncovered_km:,.1f} km) outside the jurisdictions"
    )


def _route_geometry(network: Network, result: RouteResult) -> shapely.LineString:
    """The route as one LineString ordered from a to b."""
    geoms = network.edges.geometry.values
    tails = network.arrays.tail
    parts = []
    for e, node in zip(result.edges, result.nodes[:-1], strict=True):
        coords = shapely.get_coordinates(geoms[e])
        parts.append(coords if tails[e] == node else coords[::-1])
    stitched = [parts[0]] + [p[1:] for p in parts[1:]]
    return shapely.LineString(np.concatenate(stitched))


@dataclass(frozen=True)
class FrontierStep:
    """One Pareto-optimal design of a demand: its cost, slowest latency and routes."""

    cost: float
    latency_ms: float
    routes: tuple[Route, ...]


@dataclass(frozen=True)
class DemandFrontier:
    """A demand's cost-latency frontier, fastest point first."""

    demand: Demand
    points: tuple[FrontierStep, ...]
    complete: bool
    reason: str
    solve_s: float


def solve_frontier(
    network: Network,
    demand: Demand,
    *,
    options: SolverOptions | None = None,
    max_points: int | None = None,
) -> DemandFrontier:
    """Every Pareto-optimal (cost, latency) design of the demand, ignoring its latency bound."""
    started = time.perf_counter()
    check_demands(network, [demand])
    if unreachable := _unreachable(network, demand):
        return DemandFrontier(demand, (), True, unreachable.reason, time.perf_counter() - started)
    with _timed(options) as timed:
        if demand.via:
            graph = _via_graph(network, demand)
            arrays, view, back = graph.arrays, DesignDemand(graph.query), graph.original
        else:
            arrays, view, back = network.arrays, design_demand(network, demand, timed.stop), None
        result = cost_latency_frontier(arrays, view, options=timed, max_points=max_points)
    solve_s = time.perf_counter() - started
    points = tuple(
        FrontierStep(
            p.cost,
            p.latency_ms,
            tuple(
                describe_route(network, demand, back(r) if back else r, solve_s, route_index=i)
                for i, r in enumerate(p.routes)
            ),
        )
        for p in result.points
    )
    return DemandFrontier(demand, points, result.complete, result.reason, solve_s)
