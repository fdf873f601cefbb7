"""Convert between the gRPC API messages and fiberopt's domain dataclasses."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, fields
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from optimizer.api.fiberopt.v1 import route_optimizer_pb2 as pb
from optimizer.config import GraphSettings
from optimizer.errors import InvalidRequestError
from optimizer.graph import GraphStats, Network
from optimizer.penalties import MAX_PENALTY_AREAS, PenaltyArea, penalty_problems
from optimizer.problem import MAX_PATHS, RouteStatus, SolverOptions
from optimizer.routes import (
    DIVERSITY_KINDS,
    ID_LIST_FIELDS,
    MAX_SEPARATION_KM,
    Demand,
    DemandFrontier,
    DesignSummary,
    JurisdictionCrossed,
    Route,
    Solution,
)

__all__ = [
    "NetworkView",
    "demand_from_proto",
    "demand_to_proto",
    "demands_from_proto",
    "design_from_proto",
    "design_to_proto",
    "frontier_to_proto",
    "network_info",
    "penalty_area_to_proto",
    "penalty_areas_from_proto",
    "route_to_proto",
    "settings_from_proto",
    "settings_to_proto",
    "solution_from_proto",
    "solver_from_proto",
]

STATUS_TO_PROTO = {
    RouteStatus.OPTIMAL: pb.ROUTE_STATUS_OPTIMAL,
    RouteStatus.FEASIBLE: pb.ROUTE_STATUS_FEASIBLE,
    RouteStatus.INFEASIBLE: pb.ROUTE_STATUS_INFEASIBLE,
    RouteStatus.UNSOLVED: pb.ROUTE_STATUS_UNSOLVED,
}
STATUS_FROM_PROTO = {v: k for k, v in STATUS_TO_PROTO.items()}
DIVERSITY_TO_PROTO = {
    "edge": pb.DIVERSITY_EDGE,
    "node": pb.DIVERSITY_NODE,
    "srlg": pb.DIVERSITY_SRLG,
}
DIVERSITY_FROM_PROTO = {v: k for k, v in DIVERSITY_TO_PROTO.items()} | {pb.DIVERSITY_UNSPECIFIED: "srlg"}
FALLBACK_TO_PROTO = {
    "strict": pb.DIVERSITY_FALLBACK_STRICT,
    "least_shared": pb.DIVERSITY_FALLBACK_LEAST_SHARED,
}
FALLBACK_FROM_PROTO = {v: k for k, v in FALLBACK_TO_PROTO.items()}
MAX_TEXT_CHARS = 256
"""Longest id or name a request may carry (site, demand, jurisdiction ids, names)."""
MAX_LIST_ITEMS = 10_000
"""Most entries of a list field of one demand (allowed or avoided jurisdictions)."""
MAX_AREA_GEOJSON_CHARS = 4 * 1024 * 1024
"""Longest GeoJSON text of one avoid or within area a request may carry."""
MAX_TIME_LIMIT_S = 3600.0
"""Longest solver time limit a request may ask for, by default."""
_SCALAR_SETTINGS = [
    f.name
    for f in fields(GraphSettings)
    if f.name not in ("counted_levels", "coverage_levels", "permit_cost_by_level", "cost_per_km_by_kind")
]


def settings_from_proto(message: pb.GraphSettings, *, base: GraphSettings | None = None) -> GraphSettings:
    """GraphSettings from the message's set fields over base (or the defaults)."""
    values = {} if base is None else {f.name: getattr(base, f.name) for f in fields(GraphSettings)}
    for name in _SCALAR_SETTINGS:
        if message.HasField(name):
            values[name] = getattr(message, name)
    for name in ("counted_levels", "coverage_levels"):
        if getattr(message, name):
            values[name] = tuple(getattr(message, name))
    try:
        return GraphSettings(**values)
    except (TypeError, ValueError) as exc:
        raise InvalidRequestError(str(exc)) from exc


def settings_to_proto(settings: GraphSettings) -> pb.GraphSettings:
    """The message carrying every graph setting explicitly."""
    message = pb.GraphSettings(**{name: getattr(settings, name) for name in _SCALAR_SETTINGS})
    for name in ("counted_levels", "coverage_levels"):
        if getattr(settings, name) is not None:
            getattr(message, name).extend(getattr(settings, name))
    return message


def solver_from_proto(
    message: pb.SolverOptions, *, max_workers: int, max_time_limit_s: float = MAX_TIME_LIMIT_S
) -> SolverOptions:
    """Solver options within the server's thread and time caps; errors name the field."""
    time_limit_s = message.time_limit_s if message.HasField("time_limit_s") else min(60.0, max_time_limit_s)
    if not (0 < time_limit_s <= max_time_limit_s):
        raise InvalidRequestError(
            f"solver.time_limit_s must be > 0 and at most {max_time_limit_s:g}, got {time_limit_s:g}"
        )
    workers = message.num_workers if message.HasField("num_workers") else max_workers
    if workers < 1:
        raise InvalidRequestError(f"solver.num_workers must be >= 1, got {workers}")
    return SolverOptions(time_limit_s=time_limit_s, num_workers=min(workers, max_workers))


def demands_from_proto(messages: Sequence[pb.Demand]) -> tuple[Demand, ...]:
    """Demands, checked field by field; errors name `demands[i].field`."""
    if not messages:
        raise InvalidRequestError("demands must hold at least one demand")
    demands = tuple(demand_from_proto(m, at=f"demands[{i}]") for i, m in enumerate(messages))
    ids = [d.id for d in demands]
    if dupes := sorted({d for d in ids if ids.count(d) > 1}):
        raise InvalidRequestError(f"demands: duplicate ids {dupes}")
    return demands


def demand_from_proto(m: pb.Demand, *, at: str = "demand") -> Demand:
    """One demand, checked field by field; errors name `<at>.field`."""
    _check_demand_fields(at, m)
    return Demand(
        id=m.id,
        a=m.a,
        b=m.b,
        max_latency_ms=m.max_latency_ms,
        paths=m.paths or 1,
        diversity=DIVERSITY_FROM_PROTO.get(m.diversity, "srlg"),
        max_jurisdictions=m.max_jurisdictions if m.HasField("max_jurisdictions") else None,
        max_cost=m.max_cost if m.HasField("max_cost") else None,
        allowed_jurisdictions=tuple(m.allowed_jurisdictions),
        avoid_jurisdictions=tuple(m.avoid_jurisdictions),
        min_separation_km=m.min_separation_km,
        endpoint_radius_km=m.endpoint_radius_km if m.HasField("endpoint_radius_km") else 10.0,
        exclude_corridors=tuple(m.exclude_corridors),
        exclude_srlgs=tuple(m.exclude_srlgs),
        avoid_areas=_areas_from_geojson(m.avoid_areas_geojson, f"{at}.avoid_areas_geojson")
        + tuple(m.avoid_area_ids),
        within_areas=_areas_from_geojson(m.within_areas_geojson, f"{at}.within_areas_geojson")
        + tuple(m.within_area_ids),
        diverse_from_corridors=tuple(m.diverse_from_corridors),
        diverse_from_srlgs=tuple(m.diverse_from_srlgs),
        diverse_from_lines=_areas_from_geojson(
            m.diverse_from_lines_geojson, f"{at}.diverse_from_lines_geojson"
        ),
        via=_via_from_proto(m.via, f"{at}.via"),
        via_order="any" if m.via_any_order else "given",
        diversity_fallback=FALLBACK_FROM_PROTO.get(m.diversity_fallback, "strict"),
        diverse_from_demand=m.diverse_from_demand,
    )


def _via_from_proto(stops: Sequence[pb.Via], at: str) -> tuple[str | shapely.Point, ...]:
    """Via stops as site ids and points; a stop with neither is named."""
    found: list[str | shapely.Point] = []
    for i, stop in enumerate(stops):
        kind = stop.WhichOneof("stop")
        if kind == "site":
            if problems := check_text(f"{at}[{i}].site", stop.site):
                raise InvalidRequestError(problems[0])
            found.append(stop.site)
        elif kind == "point":
            found.append(shapely.Point(stop.point.lon, stop.point.lat))
        else:
            raise InvalidRequestError(f"{at}[{i}] must set site or point")
    return tuple(found)


def _via_to_proto(stop: str | shapely.Point) -> pb.Via:
    """One via stop as a message."""
    if isinstance(stop, str):
        return pb.Via(site=stop)
    return pb.Via(point=pb.LonLat(lon=stop.x, lat=stop.y))


def penalty_areas_from_proto(messages: Sequence[pb.PenaltyArea]) -> tuple[PenaltyArea, ...]:
    """A request's penalty areas, each polygon bounded in size and checked; errors name the index."""
    if len(messages) > MAX_PENALTY_AREAS:
        raise InvalidRequestError(
            f"penalty_areas has {len(messages):,} areas; the limit is {MAX_PENALTY_AREAS}"
        )
    areas = []
    for i, m in enumerate(messages):
        at = f"penalty_areas[{i}]"
        _refuse(check_text(f"{at}.name", m.name))
        (geometry,) = _areas_from_geojson([m.geometry_geojson], f"{at}.geometry_geojson")
        areas.append(PenaltyArea(geometry, m.cost_multiplier, m.name or at))
    if problems := penalty_problems(areas, "penalty_areas"):
        raise InvalidRequestError("; ".join(problems[:5]))
    return tuple(areas)


def penalty_area_to_proto(area: PenaltyArea) -> pb.PenaltyArea:
    """One penalty area as a message."""
    return pb.PenaltyArea(
        geometry_geojson=shapely.to_geojson(area.geometry),
        cost_multiplier=area.cost_multiplier,
        name=area.name,
    )


def _refuse(problems: Sequence[str]) -> None:
    """Raise the first problem found, if any."""
    if problems:
        raise InvalidRequestError(problems[0])


def _areas_from_geojson(texts: Sequence[str], at: str) -> tuple[shapely.Geometry, ...]:
    """Geometries from GeoJSON texts, each bounded in size; errors name the field and index."""
    areas = []
    for i, text in enumerate(texts):
        if len(text) > MAX_AREA_GEOJSON_CHARS:
            raise InvalidRequestError(
                f"{at}[{i}] is {len(text):,} characters; the limit is {MAX_AREA_GEOJSON_CHARS:,}"
            )
        try:
            areas.append(shapely.from_geojson(text))
        except (shapely.errors.GEOSException, ValueError, TypeError) as exc:
            raise InvalidRequestError(f"{at}[{i}] is not a GeoJSON geometry ({str(exc)[:80]})") from None
    return tuple(areas)


def check_text(at: str, value: str, *, max_chars: int = MAX_TEXT_CHARS) -> list[str]:
    """Problems of one id or name: too long, or holding control characters."""
    if len(value) > max_chars:
        return [f"{at} is {len(value):,} characters; the limit is {max_chars}"]
    if any(ord(c) < 32 or ord(c) == 127 for c in value):
        return [f"{at} holds control characters"]
    return []


def _check_demand_fields(at: str, m: pb.Demand) -> None:
    """Range checks of one demand message, naming <at>.field."""
    problems = [f"{at}.{name} is empty" for name in ("id", "a", "b") if not getattr(m, name)]
    for name in ("id", "a", "b", "diverse_from_demand"):
        problems += check_text(f"{at}.{name}", getattr(m, name))
    for name in (*ID_LIST_FIELDS, "avoid_area_ids", "within_area_ids"):
        values = getattr(m, name)
        if len(values) > MAX_LIST_ITEMS:
            problems.append(f"{at}.{name} has {len(values):,} entries; the limit is {MAX_LIST_ITEMS:,}")
        else:
            problems += [p for i, v in enumerate(values) for p in check_text(f"{at}.{name}[{i}]", v)][:5]
    if not (m.max_latency_ms > 0 and math.isfinite(m.max_latency_ms)):
        problems.append(f"{at}.max_latency_ms must be > 0, got {m.max_latency_ms:g}")
    if m.a and m.a == m.b:
        problems.append(f"{at}.b must differ from a, both are {m.a!r}")
    if not 0 <= m.paths <= MAX_PATHS:
        problems.append(f"{at}.paths must be in [1, {MAX_PATHS}] (0 means 1), got {m.paths}")
    if not 0 <= m.min_separation_km <= MAX_SEPARATION_KM:
        problems.append(
            f"{at}.min_separation_km must be in [0, {MAX_SEPARATION_KM:g}], got {m.min_separation_km:g}"
        )
    if m.HasField("endpoint_radius_km") and not (
        m.endpoint_radius_km >= 0 and math.isfinite(m.endpoint_radius_km)
    ):
        problems.append(f"{at}.endpoint_radius_km must be >= 0, got {m.endpoint_radius_km:g}")
    if m.diversity not in DIVERSITY_FROM_PROTO:
        problems.append(f"{at}.diversity is not one of {DIVERSITY_KINDS}")
    if m.HasField("max_jurisdictions") and m.max_jurisdictions < 0:
        problems.append(f"{at}.max_jurisdictions must be >= 0, got {m.max_jurisdictions}")
    if m.HasField("max_cost") and not (m.max_cost >= 0 and math.isfinite(m.max_cost)):
        problems.append(f"{at}.max_cost must be >= 0, got {m.max_cost:g}")
    if problems:
        raise InvalidRequestError("; ".join(problems))


def demand_to_proto(demand: Demand) -> pb.Demand:
    """The message for a demand."""
    message = pb.Demand(
        id=demand.id,
        a=demand.a,
        b=demand.b,
        max_latency_ms=demand.max_latency_ms,
        paths=demand.paths,
        diversity=DIVERSITY_TO_PROTO[demand.diversity],
        allowed_jurisdictions=list(demand.allowed_jurisdictions),
        avoid_jurisdictions=list(demand.avoid_jurisdictions),
        min_separation_km=demand.min_separation_km,
        endpoint_radius_km=demand.endpoint_radius_km,
        exclude_corridors=list(demand.exclude_corridors),
        exclude_srlgs=list(demand.exclude_srlgs),
        avoid_areas_geojson=[shapely.to_geojson(a) for a in demand.avoid_areas if not isinstance(a, str)],
        within_areas_geojson=[shapely.to_geojson(a) for a in demand.within_areas if not isinstance(a, str)],
        avoid_area_ids=[a for a in demand.avoid_areas if isinstance(a, str)],
        within_area_ids=[a for a in demand.within_areas if isinstance(a, str)],
        diverse_from_corridors=list(demand.diverse_from_corridors),
        diverse_from_srlgs=list(demand.diverse_from_srlgs),
        diverse_from_lines_geojson=[shapely.to_geojson(g) for g in demand.diverse_from_lines],
        via=[_via_to_proto(v) for v in demand.via],
        via_any_order=demand.via_order == "any",
        diversity_fallback=FALLBACK_TO_PROTO[demand.diversity_fallback],
        diverse_from_demand=demand.diverse_from_demand,
    )
    if demand.max_jurisdictions is not None:
        message.max_jurisdictions = demand.max_jurisdictions
    if demand.max_cost is not None:
        message.max_cost = demand.max_cost
    return message


def stats_to_proto(stats: GraphStats | Mapping[str, Any]) -> pb.GraphStats:
    """Graph stats message."""
    values = stats.as_dict() if isinstance(stats, GraphStats) else dict(stats)
    return pb.GraphStats(**values)


def stats_from_proto(message: pb.GraphStats) -> GraphStats:
    """Graph stats from their message."""
    values = {f.name: getattr(message, f.name) for f in fields(GraphStats)}
    return GraphStats(**values | {"km_by_kind": dict(message.km_by_kind)})


def sites_to_proto(network: Network) -> list[pb.Site]:
    """Every site of a network with its reachability."""
    sites = network.sites
    return [
        pb.Site(
            site_id=str(s),
            name=str(n),
            lon=g.x,
            lat=g.y,
            reachable=str(s) not in network.unreachable,
            reason=network.unreachable.get(str(s), ""),
        )
        for s, n, g in zip(sites["site_id"], sites["name"], sites.geometry, strict=True)
    ]


def network_info(network_id: str, network: Network, *, repairs: Sequence[str] = ()) -> pb.NetworkInfo:
    """The NetworkInfo message of a loaded network."""
    return pb.NetworkInfo(
        network_id=network_id,
        name=network.name,
        stats=stats_to_proto(network.stats),
        sites=sites_to_proto(network),
        levels=list(network.levels),
        repairs=list(repairs),
    )


def route_to_proto(
    route: Route, network: Network, *, with_polygons: bool = False, polygons_sent: set[str] | None = None
) -> pb.Route:
    """A route with its segments (oriented a to b) and the jurisdictions it enters; with_polygons
    adds each jurisdiction's polygon once per polygons_sent set (a response sends each once)."""
    polygons_sent = set() if polygons_sent is None else polygons_sent
    juris = network.jurisdictions.set_index(network.jurisdictions["jurisdiction_id"].astype(str))
    message = pb.Route(
        demand_id=route.demand_id,
        route_index=route.route_index,
        a=route.a,
        b=route.b,
        status=STATUS_TO_PROTO[route.status],
        reason=route.reason,
        max_latency_ms=route.max_latency_ms,
        length_km=route.length_km,
        latency_ms=route.latency_ms,
        cost=route.cost,
        build_cost=route.build_cost,
        permit_cost=route.permit_cost,
        corridor_kinds=list(route.corridor_kinds),
        count_by_level=route.count_by_level,
        permit_count=route.permit_count,
        bound=route.bound,
        gap=route.gap,
        solve_s=route.solve_s,
        outside_km=route.outside_km,
        outside_km_by_level=dict(route.outside_km_by_level),
        warnings=list(route.warnings),
        shared_km=route.shared_km,
        risk_cost=route.risk_cost,
    )
    if route.geometry is not None:
        message.geometry_wkb = shapely.to_wkb(route.geometry)
        message.geometry_geojson = shapely.to_geojson(route.geometry)
    for j in route.jurisdictions:
        first = with_polygons and j.jurisdiction_id not in polygons_sent
        polygon = shapely.to_wkb(juris.geometry.loc[j.jurisdiction_id]) if first else b""
        polygons_sent.add(j.jurisdiction_id)
        message.jurisdictions.append(
            pb.JurisdictionCrossed(
                jurisdiction_id=j.jurisdiction_id,
                name=j.name,
                level=j.level,
                permit_cost=j.permit_cost,
                geometry_wkb=polygon,
            )
        )
    message.segments.extend(_segments(route, network))
    return message


def _segments(route: Route, network: Network) -> list[pb.RouteSegment]:
    """The route's graph edges in travel order, geometry oriented from a to b."""
    edges = network.edges
    ids = np.append(network.jurisdictions["jurisdiction_id"].astype(str).to_numpy(), "")
    out = []
    for seq, (e, node) in enumerate(zip(route.edges, route.nodes[:-1], strict=True)):
        row = edges.iloc[e]
        geom = row.geometry if row["tail"] == node else shapely.reverse(row.geometry)
        out.append(
            pb.RouteSegment(
                seq=seq,
                corridor_id=str(row["corridor_id"]),
                kind=str(row["kind"]),
                srlg=str(row["srlg"]),
                length_km=row["length_km"],
                latency_ms=row["latency_ms"],
                cost=row["cost"],
                cost_per_km=row["cost_per_km"],
                jurisdiction_by_level={lv: ids[row[f"jurisdiction_{lv}"]] for lv in network.levels},
                geometry_wkb=shapely.to_wkb(geom),
                edge_id=int(e),
                risk_cost=row.get("risk_cost", 0.0),
            )
        )
    return out


def struct_to_dict(struct: Any) -> dict:
    """A google.protobuf.Struct as a plain dict (whole numbers back to int; nested values as sent)."""
    out: dict[str, Any] = {}
    for key, value in struct.fields.items():
        kind = value.WhichOneof("kind")
        if kind == "number_value":
            number = value.number_value
            out[key] = int(number) if number.is_integer() else number
        elif kind in ("string_value", "bool_value"):
            out[key] = getattr(value, kind)
        elif kind in ("null_value", None):
            out[key] = None
        else:  # a nested struct or list: no layer default is one; the caller refuses it by type
            out[key] = value
    return out


@dataclass(frozen=True, eq=False)
class NetworkView:
    """The part of a Network a solution's exports read, rebuilt from an Optimize response."""

    edges: gpd.GeoDataFrame
    jurisdictions: gpd.GeoDataFrame
    sites: gpd.GeoDataFrame
    levels: tuple[str, ...]
    unreachable: dict[str, str]
    stats: GraphStats
    name: str


def solution_from_proto(response: pb.OptimizeResponse) -> tuple[Solution, NetworkView]:
    """Routes and the network view behind them, as the in-process solve would give them."""
    levels = tuple(response.levels)
    juris_rows, juris_index = _crossed_table(response)
    edge_rows, routes = [], []
    for message in response.routes:
        base = len(edge_rows)
        for s in message.segments:
            edge_rows.append(
                {
                    "tail": base + s.seq,
                    "head": base + s.seq + 1,
                    "kind": s.kind,
                    "corridor_id": s.corridor_id,
                    "edge_id": s.edge_id,
                    "srlg": s.srlg,
                    "length_km": s.length_km,
                    "latency_ms": s.latency_ms,
                    "cost": s.cost,
                    "cost_per_km": s.cost_per_km,
                    "site": -1,
                    **{
                        f"jurisdiction_{lv}": juris_index.get(s.jurisdiction_by_level.get(lv, ""), -1)
                        for lv in levels
                    },
                    "geometry": shapely.from_wkb(s.geometry_wkb),
                    "risk_cost": s.risk_cost,
                }
            )
        n = len(message.segments)
        routes.append(
            _route_from_proto(
                message,
                edges=tuple(range(base, base + n)),
                nodes=tuple(range(base, base + n + 1)) if n else (),
            )
        )
    edges = (
        gpd.GeoDataFrame(pd.DataFrame(edge_rows), geometry="geometry", crs="EPSG:4326")
        if edge_rows
        else gpd.GeoDataFrame({"tail": []}, geometry=gpd.GeoSeries([]), crs="EPSG:4326")
    )
    sites = gpd.GeoDataFrame(
        {"site_id": [s.site_id for s in response.sites], "name": [s.name for s in response.sites]},
        geometry=gpd.points_from_xy([s.lon for s in response.sites], [s.lat for s in response.sites]),
        crs="EPSG:4326",
    )
    view = NetworkView(
        edges=edges,
        jurisdictions=gpd.GeoDataFrame(juris_rows, geometry="geometry", crs="EPSG:4326")
        if juris_rows
        else gpd.GeoDataFrame({"jurisdiction_id": []}, geometry=gpd.GeoSeries([]), crs="EPSG:4326"),
        sites=sites,
        levels=levels,
        unreachable={s.site_id: s.reason for s in response.sites if not s.reachable},
        stats=stats_from_proto(response.stats),
        name=response.name,
    )
    timings = {"graph": response.timings.graph_s, "solve": response.timings.solve_s}
    design = design_from_proto(response.design) if response.HasField("design") else None
    return Solution(response.name, tuple(routes), view.stats.as_dict(), timings, design), view


def design_to_proto(design: DesignSummary) -> pb.Design:
    """The design summary message."""
    return pb.Design(
        shared_build=design.shared_build,
        cost=design.cost,
        bound=design.bound,
        gap=design.gap,
        independent_cost=design.independent_cost,
        unsolved_demands=design.unsolved_demands,
    )


def design_from_proto(message: pb.Design) -> DesignSummary:
    """The design summary from its message."""
    return DesignSummary(
        shared_build=message.shared_build,
        cost=message.cost,
        bound=message.bound,
        gap=message.gap,
        independent_cost=message.independent_cost,
        unsolved_demands=message.unsolved_demands,
    )


def _crossed_table(response: pb.OptimizeResponse) -> tuple[list[dict], dict[str, int]]:
    """Distinct jurisdictions any route enters, as rows, and their row index by id."""
    rows, index = [], {}
    for route in response.routes:
        for j in route.jurisdictions:
            if j.jurisdiction_id not in index:
                index[j.jurisdiction_id] = len(rows)
                rows.append(
                    {
                        "jurisdiction_id": j.jurisdiction_id,
                        "name": j.name,
                        "level": j.level,
                        "permit_cost": j.permit_cost,
                        "geometry": shapely.from_wkb(j.geometry_wkb) if j.geometry_wkb else None,
                    }
                )
    return rows, index


def _route_from_proto(m: pb.Route, *, edges: tuple[int, ...], nodes: tuple[int, ...]) -> Route:
    """A Route from its message, pointing at the view's edge rows."""
    return Route(
        demand_id=m.demand_id,
        route_index=m.route_index,
        a=m.a,
        b=m.b,
        status=STATUS_FROM_PROTO[m.status],
        reason=m.reason,
        max_latency_ms=m.max_latency_ms,
        geometry=shapely.from_wkb(m.geometry_wkb) if m.geometry_wkb else None,
        length_km=m.length_km,
        latency_ms=m.latency_ms,
        cost=m.cost,
        build_cost=m.build_cost,
        permit_cost=m.permit_cost,
        corridor_kinds=tuple(m.corridor_kinds),
        jurisdictions=tuple(
            JurisdictionCrossed(j.jurisdiction_id, j.name, j.level, j.permit_cost) for j in m.jurisdictions
        ),
        bound=m.bound,
        gap=m.gap,
        solve_s=m.solve_s,
        edges=edges,
        nodes=nodes,
        outside_km=m.outside_km,
        outside_km_by_level=dict(m.outside_km_by_level),
        warnings=tuple(m.warnings),
        shared_km=m.shared_km,
        risk_cost=m.risk_cost,
    )


def frontier_to_proto(frontier: DemandFrontier, network: Network) -> pb.FrontierResponse:
    """The frontier message: each point's cost, latency and routes, fastest first."""
    return pb.FrontierResponse(
        demand_id=frontier.demand.id,
        points=[
            pb.FrontierPoint(
                cost=p.cost,
                latency_ms=p.latency_ms,
                routes=[route_to_proto(r, network) for r in p.routes],
            )
            for p in frontier.points
        ],
        complete=frontier.complete,
        reason=frontier.reason,
        solve_s=frontier.solve_s,
    )
