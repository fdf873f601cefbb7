"""Build the routing graph from validated corridor, site and jurisdiction layers."""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, replace

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from scipy.sparse import coo_array
from scipy.sparse.csgraph import connected_components

from optimizer.config import GraphSettings
from optimizer.errors import InvalidScenarioError
from optimizer.geodata import Layers
from optimizer.geometry import (
    FIXED,
    PRIVATE,
    PUBLIC,
    Events,
    WorkingProjection,
    cluster_points,
    crossing_points,
    geodesic_length_km,
    line_end_events,
    split_lines,
)
from optimizer.penalties import penalized
from optimizer.problem import EdgeArrays

__all__ = ["GraphStats", "Network", "build_graph", "srlg_groups"]

logger = logging.getLogger(__name__)

LATERAL, CONNECTOR = "lateral", "connector"
_DENSIFY_DEG = 0.01
"""Longest lon/lat segment (degrees, ~1 km) taken into the working projection."""
_CHUNK_SEGMENTS = 32
"""Segments per chunk: long lines are searched, intersected and measured chunk by chunk, so the
work per query or crossing does not grow with the length of the whole line."""


@dataclass(frozen=True)
class GraphStats:
    """Size and make-up of a routing graph, and how long it took to build."""

    nodes: int
    edges: int
    components: int
    km_total: float
    km_by_kind: dict[str, float]
    laterals: int
    lateral_km: float
    connectors: int
    connector_km: float
    edges_excluded: int
    unreachable_sites: int
    build_s: float
    edges_uncovered: int = 0
    """Edges outside every jurisdiction of a coverage level (left out with uncovered: forbid)."""
    uncovered_km: float = 0.0

    def as_dict(self) -> dict:
        """Plain dict for JSON."""
        return {k: getattr(self, k) for k in self.__dataclass_fields__}


@dataclass(frozen=True, eq=False)
class Network:
    """The routing graph: solver arrays plus the geometry and attributes behind each edge."""

    arrays: EdgeArrays
    edges: gpd.GeoDataFrame
    node_lonlat: np.ndarray
    site_node: dict[str, int]
    sites: gpd.GeoDataFrame
    jurisdictions: gpd.GeoDataFrame
    levels: tuple[str, ...]
    unreachable: dict[str, str]
    stats: GraphStats
    settings: GraphSettings
    name: str = ""
    areas: gpd.GeoDataFrame | None = None
    """The geodata's named areas (area_id, name, group, cost_multiplier), lon/lat."""


@dataclass(frozen=True, eq=False)
class _Lines:
    """Line parts in the working projection with the attributes they carry into edges."""

    geometry: np.ndarray
    corridor_row: np.ndarray  # row in corridors, -1 for laterals and connectors
    kind: np.ndarray
    cost_per_km: np.ndarray
    crossings: np.ndarray  # bool: may be joined where it meets other lines
    length_factor: np.ndarray
    site: np.ndarray  # site row for laterals, -1 otherwise


@dataclass(frozen=True, eq=False)
class _Chunks:
    """Lines cut into runs of at most _CHUNK_SEGMENTS consecutive segments (chunks of one line
    share their seam vertex), in line order, with where each starts along its line."""

    geometry: np.ndarray
    line: np.ndarray  # line of each chunk
    start_m: np.ndarray  # distance along the line to the chunk's first vertex (m)


def build_graph(layers: Layers, *, settings: GraphSettings | None = None) -> Network:
    """Node corridors, attach sites, split at jurisdictions and price every edge."""
    settings = settings or GraphSettings()
    _check_levels(layers.jurisdictions, settings)
    started = time.perf_counter()
    corridors = layers.corridors[layers.corridors["usable"]].reset_index(drop=True)
    proj = WorkingProjection.fitted(_extent(layers.sites, corridors))
    work = _project(proj, corridors, layers.sites, layers.jurisdictions, layers.exclusions)
    lines = _corridor_lines(corridors, work["corridors"])
    chunks = _chunked(lines.geometry)
    chunk_tree = shapely.STRtree(chunks.geometry)
    site_xy = shapely.get_coordinates(work["sites"])
    laterals, unreachable = _laterals(lines, chunks, chunk_tree, site_xy, layers.sites, settings)
    connectors = _connectors(lines, chunks, chunk_tree, settings)
    all_lines = _concat_lines([lines, laterals, connectors])
    all_chunks = _concat_chunks(
        [chunks, _chunked(laterals.geometry), _chunked(connectors.geometry)],
        [0, len(lines.geometry), len(lines.geometry) + len(laterals.geometry)],
    )
    n_sites = len(layers.sites)
    levels, juris = _jurisdiction_table(layers.jurisdictions, settings)
    events = _cut_events(all_lines, all_chunks, work, juris, levels, settings)
    pieces = split_lines(all_lines.geometry, events)
    node_of_event, node_xy = _assign_nodes(events, settings.snap_tolerance_m, site_xy)
    tail = node_of_event[pieces.start_event]
    head = node_of_event[pieces.end_event]
    geometry = _pin_ends(pieces.geometry, node_xy[tail], node_xy[head])
    piece_juris, covered = _piece_jurisdictions(geometry, work["jurisdictions"], juris, levels, settings)
    ruled_out = _in_exclusions(geometry, work["exclusions"]) | _disallowed(piece_juris, juris)
    outside = (tail != head) & ~covered[:, _coverage_columns(levels, settings)].all(axis=1) & ~ruled_out
    excluded = ruled_out | outside if settings.uncovered == "forbid" else ruled_out
    excluded |= _lateral_to_excluded(pieces.line, all_lines, excluded)
    keep = (tail != head) & ~excluded
    edges = _edge_frame(
        proj,
        geometry[keep],
        pieces.line[keep],
        tail[keep],
        head[keep],
        piece_juris[keep],
        all_lines,
        corridors,
        levels,
        settings,
    )
    for k, level in enumerate(levels):  # False: outside every polygon of the level
        edges[f"covered_{level}"] = covered[keep][:, k]
    outside_km = _length_km(proj, geometry[outside], all_lines.length_factor[pieces.line[outside]])
    edges, node_lonlat, site_node = _compact_nodes(
        edges, proj.points_to_lonlat(node_xy), n_sites, layers.sites
    )
    unreachable |= _sites_cut_off(edges, site_node, unreachable, settings)
    arrays = _edge_arrays(edges, len(node_lonlat), juris, levels)
    forbidden = int(outside.sum()) if settings.uncovered == "forbid" else 0
    stats = _stats(edges, arrays, unreachable, int(excluded.sum()) - forbidden, time.perf_counter() - started)
    stats = replace(stats, edges_uncovered=int(outside.sum()), uncovered_km=outside_km)
    logger.info("graph built: %s", stats)
    network = Network(
        arrays=arrays,
        edges=edges,
        node_lonlat=node_lonlat,
        site_node=site_node,
        sites=layers.sites,
        jurisdictions=juris,
        levels=levels,
        unreachable=unreachable,
        stats=stats,
        settings=settings,
        name=layers.name,
        areas=layers.areas,
    )
    return penalized(network)  # the areas layer's cost multipliers, if any


def _check_levels(jurisdictions: gpd.GeoDataFrame, settings: GraphSettings) -> None:
    """counted_levels and coverage_levels name only levels some jurisdiction has; forbidding
    uncovered corridors needs jurisdictions to cover them."""
    present = list(dict.fromkeys(jurisdictions["level"].astype(str)))
    for name in ("counted_levels", "coverage_levels"):
        named = getattr(settings, name)
        if named is not None and (unknown := [level for level in named if level not in present]):
            raise InvalidScenarioError(
                f"settings.{name}: no jurisdiction has the levels {unknown}; the levels present are {present}"
            )
    if settings.uncovered == "forbid" and not present:
        raise InvalidScenarioError(
            "settings.uncovered: forbid keeps routes inside the jurisdictions, but the geodata has none"
        )


def _extent(sites: gpd.GeoDataFrame, corridors: gpd.GeoDataFrame) -> tuple[float, ...]:
    """Lon/lat bounds of sites and corridors together."""
    bounds = np.vstack([sites.total_bounds, corridors.total_bounds])
    bounds = bounds[np.isfinite(bounds).all(axis=1)]
    return (bounds[:, 0].min(), bounds[:, 1].min(), bounds[:, 2].max(), bounds[:, 3].max())


def _project(proj: WorkingProjection, corridors, sites, jurisdictions, exclusions) -> dict:
    """Geometry arrays of every layer in the working projection.

    Segments are first densified in lon/lat, so a long straight lon/lat segment stays on
    its course in the projection (a parallel is an arc in a conic projection).
    """
    return {
        name: frame.geometry.segmentize(_DENSIFY_DEG).to_crs(proj.crs).values
        for name, frame in (
            ("corridors", corridors),
            ("sites", sites),
            ("jurisdictions", jurisdictions),
            ("exclusions", exclusions),
        )
    }


def _corridor_lines(corridors: gpd.GeoDataFrame, geoms: np.ndarray) -> _Lines:
    """Single-part corridor lines (multi-lines exploded), zero-length parts dropped."""
    parts, row = shapely.get_parts(geoms, return_index=True)
    ok = shapely.length(parts) > 0
    parts, row = parts[ok], row[ok]
    return _Lines(
        geometry=parts,
        corridor_row=row,
        kind=corridors["kind"].to_numpy(dtype=object)[row],
        cost_per_km=corridors["cost_per_km"].to_numpy(dtype=float)[row],
        crossings=(corridors["access"].to_numpy() == "crossings")[row],
        length_factor=np.ones(len(parts)),
        site=np.full(len(parts), -1),
    )


def _new_build(geoms: np.ndarray, kind: str, site: np.ndarray, settings: GraphSettings) -> _Lines:
    """Laterals or gap connectors: straight new-build lines priced per km with a route factor."""
    n = len(geoms)
    return _Lines(
        geometry=geoms,
        corridor_row=np.full(n, -1),
        kind=np.full(n, kind, dtype=object),
        cost_per_km=np.full(n, settings.lateral_cost_per_km),
        crossings=np.zeros(n, dtype=bool),
        length_factor=np.full(n, settings.lateral_route_factor),
        site=site,
    )


def _concat_lines(parts: list[_Lines]) -> _Lines:
    """All lines of several batches."""
    return _Lines(*(np.concatenate([getattr(p, f) for p in parts]) for f in _Lines.__dataclass_fields__))


def _chunked(lines: np.ndarray, max_segments: int = _CHUNK_SEGMENTS) -> _Chunks:
    """Single-part lines cut into chunks of at most max_segments segments."""
    coords, owner = shapely.get_coordinates(lines, return_index=True)
    n_lines = len(lines)
    first = np.searchsorted(owner, np.arange(n_lines))
    n_vertices = np.bincount(owner, minlength=n_lines)
    per_line = -(-np.maximum(n_vertices - 1, 1) // max_segments)
    line = np.repeat(np.arange(n_lines), per_line)
    start = first[line] + max_segments * _ramp(per_line)
    end = np.minimum(start + max_segments, first[line] + n_vertices[line] - 1)
    size = end - start + 1
    rows = np.repeat(start, size) + _ramp(size)
    geometry = shapely.linestrings(coords[rows], indices=np.repeat(np.arange(len(line)), size))
    # summed per line (not as one running total over all lines, which would lose precision)
    through = pd.Series(shapely.length(geometry)).groupby(line).cumsum().to_numpy()
    opens_line = np.ones(len(line), dtype=bool)
    opens_line[1:] = line[1:] != line[:-1]
    return _Chunks(geometry, line, np.where(opens_line, 0.0, np.roll(through, 1)))


def _ramp(counts: np.ndarray) -> np.ndarray:
    """0..count-1 for each count, concatenated."""
    return np.arange(counts.sum()) - np.repeat(np.cumsum(counts) - counts, counts)


def _concat_chunks(parts: list[_Chunks], line_offsets: list[int]) -> _Chunks:
    """Chunks of several batches of lines numbered one after the other."""
    return _Chunks(
        geometry=np.concatenate([p.geometry for p in parts]),
        line=np.concatenate([p.line + off for p, off in zip(parts, line_offsets, strict=True)]),
        start_m=np.concatenate([p.start_m for p in parts]),
    )


def _attach_points(
    lines: _Lines, chunks: _Chunks, tree: shapely.STRtree, points: np.ndarray, reach_m: float
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(point, line) pairs within reach_m, ordered by point then line, and where each point
    attaches to each line: its nearest point on crossing-access lines, its nearer end on
    endpoint-access ones."""
    p_idx, c_idx = tree.query(points, predicate="dwithin", distance=reach_m)
    line = chunks.line[c_idx]
    dist = np.zeros(len(c_idx))
    crossing = lines.crossings[line]
    dist[crossing] = shapely.distance(points[p_idx[crossing]], chunks.geometry[c_idx[crossing]])
    order = np.lexsort((c_idx, dist, line, p_idx))  # per pair: nearest chunk, ties to the earliest
    p_idx, c_idx, line = p_idx[order], c_idx[order], line[order]
    first = np.ones(len(order), dtype=bool)
    first[1:] = (p_idx[1:] != p_idx[:-1]) | (line[1:] != line[:-1])
    p_idx, c_idx, line = p_idx[first], c_idx[first], line[first]
    near, chunk = points[p_idx], chunks.geometry[c_idx]
    on_line = shapely.line_interpolate_point(chunk, shapely.line_locate_point(chunk, near))
    geoms = lines.geometry[line]
    start, end = shapely.get_point(geoms, 0), shapely.get_point(geoms, -1)
    nearer_end = np.where(shapely.distance(near, start) <= shapely.distance(near, end), start, end)
    return p_idx, line, np.where(lines.crossings[line], on_line, nearer_end)


def _laterals(
    lines: _Lines,
    chunks: _Chunks,
    chunk_tree: shapely.STRtree,
    site_xy: np.ndarray,
    sites: gpd.GeoDataFrame,
    settings: GraphSettings,
) -> tuple[_Lines, dict[str, str]]:
    """New-build laterals from each site to its nearest corridors within max_lateral_km."""
    points = shapely.points(site_xy)
    reach_m = settings.max_lateral_km * 1000.0
    site_idx, line_idx, attach = _attach_points(lines, chunks, chunk_tree, points, reach_m)
    dist = shapely.distance(points[site_idx], attach)
    ok = dist <= reach_m
    site_idx, line_idx, attach, dist = site_idx[ok], line_idx[ok], attach[ok], dist[ok]
    frame = pd.DataFrame({"site": site_idx, "corridor": lines.corridor_row[line_idx], "dist": dist})
    frame["pos"] = np.arange(len(frame))
    nearest = (
        frame.sort_values(["site", "dist", "pos"])
        .drop_duplicates(["site", "corridor"])
        .groupby("site")
        .head(settings.laterals_per_site)
    )
    pick = nearest["pos"].to_numpy()
    geoms = shapely.linestrings(
        np.stack([site_xy[site_idx[pick]], shapely.get_coordinates(attach[pick])], axis=1)
    )
    ids = sites["site_id"].to_numpy()
    reached = set(site_idx[pick].tolist())
    unreachable = {
        str(ids[i]): f"site {ids[i]} has no corridor within {settings.max_lateral_km:g} km"
        for i in range(len(ids))
        if i not in reached
    }
    return _new_build(geoms, LATERAL, site_idx[pick], settings), unreachable


def _connectors(
    lines: _Lines, chunks: _Chunks, chunk_tree: shapely.STRtree, settings: GraphSettings
) -> _Lines:
    """New-build connectors from dead ends to another corridor within gap_km."""
    empty = _new_build(np.array([], dtype=object), CONNECTOR, np.array([], int), settings)
    if settings.gap_km <= 0 or not len(lines.geometry):
        return empty
    crossing = np.flatnonzero(lines.crossings)
    ends = np.concatenate(
        [shapely.get_point(lines.geometry[crossing], 0), shapely.get_point(lines.geometry[crossing], -1)]
    )
    owner = np.concatenate([crossing, crossing])
    e_idx, c_idx = chunk_tree.query(ends, predicate="dwithin", distance=settings.snap_tolerance_m)
    l_idx = chunks.line[c_idx]
    touching = np.zeros(len(ends), dtype=bool)
    touching[e_idx[owner[e_idx] != l_idx]] = True
    dead = np.flatnonzero(~touching)
    e_idx, l_idx, attach = _attach_points(lines, chunks, chunk_tree, ends[dead], settings.gap_km * 1000.0)
    other = lines.corridor_row[l_idx] != lines.corridor_row[owner[dead[e_idx]]]
    e_idx, l_idx, attach = e_idx[other], l_idx[other], attach[other]
    if not len(e_idx):
        return empty
    points = ends[dead[e_idx]]
    dist = shapely.distance(points, attach)
    reach = dist <= settings.gap_km * 1000.0  # an endpoint-access target is joined at an end
    frame = pd.DataFrame({"end": e_idx[reach], "dist": dist[reach], "pos": np.flatnonzero(reach)})
    pick = frame.sort_values(["end", "dist", "pos"]).drop_duplicates("end")["pos"].to_numpy()
    start_xy = shapely.get_coordinates(points[pick])
    end_xy = shapely.get_coordinates(attach[pick])
    geoms = shapely.linestrings(np.stack([start_xy, end_xy], axis=1))
    # two dead ends facing each other would each build the same connector: keep one
    key = np.round(np.concatenate([np.minimum(start_xy, end_xy), np.maximum(start_xy, end_xy)], 1), 3)
    unique = np.unique(key, axis=0, return_index=True)[1]
    geoms = geoms[np.sort(unique)]
    geoms = geoms[shapely.length(geoms) > 0]
    return _new_build(geoms, CONNECTOR, np.full(len(geoms), -1), settings)


def _jurisdiction_table(
    jurisdictions: gpd.GeoDataFrame, settings: GraphSettings
) -> tuple[tuple[str, ...], gpd.GeoDataFrame]:
    """Levels in order of appearance, and the jurisdictions with a `counted` flag."""
    levels = tuple(dict.fromkeys(jurisdictions["level"].astype(str)))
    juris = jurisdictions.reset_index(drop=True).copy()
    counted = settings.counted_levels
    juris["counted"] = juris["level"].isin(levels if counted is None else counted)
    return levels, juris


def _cut_events(
    lines: _Lines,
    chunks: _Chunks,
    work: dict,
    juris: gpd.GeoDataFrame,
    levels: tuple[str, ...],
    settings: GraphSettings,
) -> Events:
    """Every place a line is cut: ends, crossings, snapped ends, laterals, boundaries."""
    n = len(lines.geometry)
    end_kind = np.full(2 * n, PUBLIC, np.int8)
    end_node = np.full(2 * n, -1, np.int64)
    is_lateral = lines.site >= 0
    end_kind[:n][is_lateral] = FIXED
    end_node[:n][is_lateral] = lines.site[is_lateral]
    parts = [line_end_events(lines.geometry, end_kind, end_node)]
    crossing = np.flatnonzero(lines.crossings)
    parts.append(_crossing_events(lines.geometry, crossing))
    parts.append(_touching_end_events(lines, crossing, settings.snap_tolerance_m))
    boundaries = shapely.boundary(work["jurisdictions"])
    for level in levels:
        on_level = (juris["level"] == level).to_numpy()
        parts.append(_boundary_events(lines.geometry, chunks, boundaries[on_level]))
    parts.append(_boundary_events(lines.geometry, chunks, shapely.boundary(work["exclusions"])))
    return Events.concat(parts)


def _crossing_events(geoms: np.ndarray, crossing: np.ndarray) -> Events:
    """Public cuts where crossing-access lines cross, touch or overlap each other."""
    sub = geoms[crossing]
    tree = shapely.STRtree(sub)
    a, b = tree.query(sub, predicate="intersects")
    pair = a < b
    a, b = crossing[a[pair]], crossing[b[pair]]
    points, owner = crossing_points(geoms[a], geoms[b])
    return Events.concat(
        [
            Events.on_lines(geoms, a[owner], points, PUBLIC),
            Events.on_lines(geoms, b[owner], points, PUBLIC),
        ]
    )


def _touching_end_events(lines: _Lines, crossing: np.ndarray, tolerance_m: float) -> Events:
    """Public cuts on crossing-access lines where another line's end touches or nearly does."""
    geoms = lines.geometry
    not_lateral = np.flatnonzero(lines.site < 0)
    everything = np.arange(len(geoms))
    ends = np.concatenate([shapely.get_point(geoms[not_lateral], 0), shapely.get_point(geoms, -1)])
    owner = np.concatenate([not_lateral, everything])
    tree = shapely.STRtree(geoms[crossing])
    e_idx, l_idx = tree.query(ends, predicate="dwithin", distance=max(tolerance_m, 1e-6))
    target = crossing[l_idx]
    other = target != owner[e_idx]
    return Events.on_lines(geoms, target[other], ends[e_idx[other]], PUBLIC)


def _boundary_events(geoms: np.ndarray, chunks: _Chunks, boundaries: np.ndarray) -> Events:
    """Private cuts where lines cross polygon boundaries.

    Line chunks meet boundary chunks; a point met is placed on its own line chunk. Where a line
    runs along a boundary, the stretches found on each chunk pair are merged per line and
    polygon first, so only the two ends of the whole overlap cut (as on the whole line).
    """
    if not len(boundaries):
        return Events.concat([])
    rings, polygon = shapely.get_parts(boundaries, return_index=True)
    ring_chunks = _chunked(rings)
    tree = shapely.STRtree(ring_chunks.geometry)
    c_idx, r_idx = tree.query(chunks.geometry, predicate="intersects")
    met = shapely.intersection(chunks.geometry[c_idx], ring_chunks.geometry[r_idx])
    parts, owner = shapely.get_parts(met, return_index=True)
    parts, sub = shapely.get_parts(parts, return_index=True)  # flatten nested multi-parts
    owner = owner[sub]
    kind = shapely.get_type_id(parts)
    chunk = c_idx[owner]
    pair = np.column_stack([chunks.line[chunk], polygon[ring_chunks.line[r_idx[owner]]]])
    is_point, linear = kind == 0, np.isin(kind, (1, 2))
    if not linear.any():
        return _chunk_point_events(chunks, chunk[is_point], parts[is_point])
    overlap_pair, group = np.unique(pair[linear], axis=0, return_inverse=True)
    group = group.ravel()
    by_group = np.argsort(group, kind="stable")
    merged = shapely.line_merge(shapely.multilinestrings(parts[linear][by_group], indices=group[by_group]))
    # a chunk pair that only touches a stretch found by its neighbours adds no cut inside it
    point_group = _row_index(overlap_pair, pair[is_point])
    inside = point_group >= 0
    inside[inside] = shapely.intersects(merged[point_group[inside]], parts[is_point][inside])
    points = _chunk_point_events(chunks, chunk[is_point][~inside], parts[is_point][~inside])
    ends, end_owner = shapely.get_parts(shapely.boundary(merged), return_index=True)
    overlaps = Events.on_lines(geoms, overlap_pair[end_owner, 0], ends, PRIVATE)
    return Events.concat([points, overlaps])


def _row_index(table: np.ndarray, rows: np.ndarray) -> np.ndarray:
    """Index of each (a, b) row in a table of unique (a, b) rows, -1 where absent."""
    index = pd.MultiIndex.from_arrays([table[:, 0], table[:, 1]])
    return index.get_indexer(pd.MultiIndex.from_arrays([rows[:, 0], rows[:, 1]]))


def _chunk_point_events(chunks: _Chunks, chunk: np.ndarray, points: np.ndarray) -> Events:
    """Private events at points on line chunks (a point met twice on one line counts once)."""
    if not len(chunk):
        return Events.empty()
    xy = shapely.get_coordinates(points)
    first = np.unique(np.column_stack([chunks.line[chunk], xy]), axis=0, return_index=True)[1]
    chunk, points = chunk[first], points[first]
    local_m = shapely.line_locate_point(chunks.geometry[chunk], points)
    n = len(chunk)
    return Events(
        line=chunks.line[chunk],
        m=chunks.start_m[chunk] + local_m,
        xy=shapely.get_coordinates(shapely.line_interpolate_point(chunks.geometry[chunk], local_m)),
        kind=np.full(n, PRIVATE, np.int8),
        node=np.full(n, -1, np.int64),
    )


def _assign_nodes(events: Events, tolerance_m: float, site_xy: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Node id per event: sites first, then snapped public clusters, then private cuts."""
    node = np.full(len(events.line), -1, np.int64)
    fixed = events.kind == FIXED
    node[fixed] = events.node[fixed]
    public = np.flatnonzero(events.kind == PUBLIC)
    labels = _clustered(events.xy[public], tolerance_m)
    n_sites = len(site_xy)
    node[public] = n_sites + labels
    n_public = int(labels.max()) + 1 if len(labels) else 0
    private = np.flatnonzero(events.kind == PRIVATE)
    node[private] = n_sites + n_public + np.arange(len(private))
    xy = np.zeros((n_sites + n_public + len(private), 2))
    xy[:n_sites] = site_xy
    first = np.unique(labels, return_index=True)[1]  # representative: first member
    xy[n_sites + labels[first]] = events.xy[public[first]]
    xy[n_sites + n_public :] = events.xy[private]
    return node, xy


def _clustered(xy: np.ndarray, tolerance_m: float) -> np.ndarray:
    """cluster_points over distinct positions only, labels numbered as it numbers them (by first
    member): a junction holds dozens of coincident events, whose pairs would grow quadratically."""
    if not len(xy):
        return np.zeros(0, np.int64)
    order = np.lexsort((xy[:, 1], xy[:, 0]))
    new_position = np.ones(len(order), dtype=bool)
    new_position[1:] = (xy[order[1:]] != xy[order[:-1]]).any(axis=1)
    position = np.empty(len(order), np.int64)
    position[order] = np.cumsum(new_position) - 1
    labels = cluster_points(xy[order[new_position]], tolerance_m)[position]
    first_member = np.full(labels.max() + 1, len(labels), np.int64)
    np.minimum.at(first_member, labels, np.arange(len(labels)))
    rank = np.empty(len(first_member), np.int64)
    rank[np.argsort(first_member)] = np.arange(len(first_member))
    return rank[labels]


def _pin_ends(geoms: np.ndarray, start_xy: np.ndarray, end_xy: np.ndarray) -> np.ndarray:
    """Pieces with first and last vertex moved onto their (snapped) node positions."""
    coords, owner = shapely.get_coordinates(geoms, return_index=True)
    starts = np.searchsorted(owner, np.arange(len(geoms)))
    ends = np.searchsorted(owner, np.arange(len(geoms)), side="right") - 1
    coords[starts] = start_xy
    coords[ends] = end_xy
    return shapely.linestrings(coords, indices=owner)


def _piece_jurisdictions(
    geoms: np.ndarray,
    polygons: np.ndarray,
    juris: gpd.GeoDataFrame,
    levels: tuple[str, ...],
    settings: GraphSettings,
) -> tuple[np.ndarray, np.ndarray]:
    """Jurisdiction row per piece and level (-1 where the piece is not min_entry_m inside one),
    and whether any polygon of the level covers the piece at all (False: outside them all)."""
    out = np.full((len(geoms), len(levels)), -1, np.int64)
    if not len(levels) or not len(geoms):
        return out, np.zeros(out.shape, dtype=bool)
    mid = shapely.line_interpolate_point(geoms, 0.5, normalized=True)
    poly, piece = shapely.STRtree(mid).query(polygons, predicate="intersects")  # polygons prepared
    order = np.lexsort((poly, piece))
    piece, poly = piece[order], poly[order]
    used = np.unique(poly)
    inner = np.empty(len(polygons), dtype=object)
    inner[used] = shapely.buffer(polygons[used], -settings.min_entry_m)
    shapely.prepare(inner[used])
    deep = shapely.intersects(inner[poly], geoms[piece])
    level_of = pd.Index(levels).get_indexer(juris["level"].to_numpy())
    covered = np.zeros(out.shape, dtype=bool)
    covered[piece, level_of[poly]] = True
    for lvl in range(len(levels)):
        hit = deep & (level_of[poly] == lvl)
        first = np.unique(piece[hit], return_index=True)[1]
        out[piece[hit][first], lvl] = poly[hit][first]
    return out, covered


def _coverage_columns(levels: tuple[str, ...], settings: GraphSettings) -> list[int]:
    """Columns of the coverage levels among levels."""
    covering = settings.coverage_of(levels)
    return [k for k, level in enumerate(levels) if level in covering]


def _length_km(proj: WorkingProjection, geoms: np.ndarray, factor: np.ndarray) -> float:
    """Total km of working-projection pieces, each times its line's length factor."""
    if not len(geoms):
        return 0.0
    return round(float((geodesic_length_km(proj.to_lonlat(geoms)) * factor).sum()), 3)


def _in_exclusions(geoms: np.ndarray, exclusions: np.ndarray) -> np.ndarray:
    """Pieces lying inside an exclusion polygon."""
    if not len(exclusions) or not len(geoms):
        return np.zeros(len(geoms), dtype=bool)
    mid = shapely.line_interpolate_point(geoms, 0.5, normalized=True)
    _, piece = shapely.STRtree(mid).query(exclusions, predicate="intersects")  # exclusions prepared
    out = np.zeros(len(geoms), dtype=bool)
    out[piece] = True
    return out


def _disallowed(piece_juris: np.ndarray, juris: gpd.GeoDataFrame) -> np.ndarray:
    """Pieces inside a jurisdiction marked allowed: false."""
    if not piece_juris.size:
        return np.zeros(len(piece_juris), dtype=bool)
    allowed = np.append(juris["allowed"].to_numpy(dtype=bool), True)  # index -1: no jurisdiction
    return ~allowed[piece_juris].all(axis=1)


def _lateral_to_excluded(piece_line: np.ndarray, lines: _Lines, excluded: np.ndarray) -> np.ndarray:
    """All pieces of a lateral or connector that is cut anywhere (it is one straight build)."""
    new_build = lines.corridor_row[piece_line] < 0
    broken_lines = np.unique(piece_line[excluded & new_build])
    return new_build & np.isin(piece_line, broken_lines)


def _edge_frame(
    proj: WorkingProjection,
    geoms: np.ndarray,
    line: np.ndarray,
    tail: np.ndarray,
    head: np.ndarray,
    piece_juris: np.ndarray,
    lines: _Lines,
    corridors: gpd.GeoDataFrame,
    levels: tuple[str, ...],
    settings: GraphSettings,
) -> gpd.GeoDataFrame:
    """One row per edge: geometry in lon/lat, km, ms, cost and where it came from."""
    lonlat = proj.to_lonlat(geoms)
    km = geodesic_length_km(lonlat) * lines.length_factor[line]
    row = lines.corridor_row[line]
    has_row = row >= 0
    corridor_id = np.full(len(line), "", dtype=object)
    corridor_id[has_row] = corridors["corridor_id"].to_numpy(dtype=object)[row[has_row]]
    srlg = np.full(len(line), "", dtype=object)
    srlg[has_row] = corridors["srlg"].to_numpy(dtype=object)[row[has_row]]
    frame = gpd.GeoDataFrame(
        {
            "tail": tail,
            "head": head,
            "kind": lines.kind[line],
            "corridor_id": corridor_id,
            "srlg": srlg,
            "length_km": km,
            "latency_ms": km * settings.latency_ms_per_km,
            "cost": km * lines.cost_per_km[line],
            "cost_per_km": lines.cost_per_km[line],
            "site": lines.site[line],
        },
        geometry=lonlat,
        crs="EPSG:4326",
    )
    for k, level in enumerate(levels):
        frame[f"jurisdiction_{level}"] = piece_juris[:, k]
    return frame


def _compact_nodes(
    edges: gpd.GeoDataFrame, node_lonlat: np.ndarray, n_sites: int, sites: gpd.GeoDataFrame
) -> tuple[gpd.GeoDataFrame, np.ndarray, dict[str, int]]:
    """Renumber nodes 0..n-1 keeping only used ones; sites keep ids 0..n_sites-1."""
    used = np.zeros(len(node_lonlat), dtype=bool)
    used[:n_sites] = True
    used[edges["tail"].to_numpy()] = True
    used[edges["head"].to_numpy()] = True
    new_id = np.cumsum(used) - 1
    edges = edges.assign(tail=new_id[edges["tail"].to_numpy()], head=new_id[edges["head"].to_numpy()])
    site_node = {str(s): i for i, s in enumerate(sites["site_id"])}
    return edges.reset_index(drop=True), node_lonlat[used], site_node


def _sites_cut_off(
    edges: gpd.GeoDataFrame,
    site_node: dict[str, int],
    known: dict[str, str],
    settings: GraphSettings,
) -> dict[str, str]:
    """Sites whose every lateral was removed by exclusions or forbidden jurisdictions."""
    ends = np.concatenate([edges["tail"].to_numpy(), edges["head"].to_numpy()])
    attached = set(np.unique(ends).tolist())
    return {
        s: f"site {s} has no usable corridor within {settings.max_lateral_km:g} km "
        f"(every lateral crosses an exclusion or a forbidden jurisdiction)"
        for s, n in site_node.items()
        if n not in attached and s not in known
    }


def _edge_arrays(
    edges: gpd.GeoDataFrame, n_nodes: int, juris: gpd.GeoDataFrame, levels: tuple[str, ...]
) -> EdgeArrays:
    """Solver arrays for the edges."""
    jcols = [f"jurisdiction_{level}" for level in levels]
    jmatrix = edges[jcols].to_numpy(dtype=np.int64) if jcols else np.zeros((len(edges), 0), np.int64)
    srlg_edge, srlg_group = _srlg_pairs(edges["srlg"].to_numpy(dtype=object))
    return EdgeArrays(
        n_nodes=n_nodes,
        tail=edges["tail"].to_numpy(dtype=np.int64),
        head=edges["head"].to_numpy(dtype=np.int64),
        cost=edges["cost"].to_numpy(dtype=float),
        latency_ms=edges["latency_ms"].to_numpy(dtype=float),
        jurisdiction=jmatrix,
        permit_cost=juris["permit_cost"].to_numpy(dtype=float),
        counted=juris["counted"].to_numpy(dtype=bool),
        srlg_edge=srlg_edge,
        srlg_group=srlg_group,
    )


def _srlg_pairs(srlg: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(edge, group number) pairs from comma-separated shared-risk group ids per edge."""
    texts, inverse = np.unique(srlg.astype(str), return_inverse=True)
    numbers: dict[str, int] = {}
    per_text = [[numbers.setdefault(g, len(numbers)) for g in _groups(t)] for t in texts]
    lengths = np.array([len(g) for g in per_text], dtype=np.int64)
    flat = np.array([g for gs in per_text for g in gs], dtype=np.int64)
    starts = np.cumsum(lengths) - lengths
    counts = lengths[inverse]
    edge = np.repeat(np.arange(len(srlg), dtype=np.int64), counts)
    ramp = np.arange(len(edge)) - np.repeat(np.cumsum(counts) - counts, counts)
    return edge, flat[starts[inverse][edge] + ramp]


def srlg_groups(srlg: pd.Series) -> pd.Series:
    """The shared-risk groups of each row's srlg field, one per row of the result (same index)."""
    return srlg.astype(str).str.split(",").explode().str.strip()


def _groups(text: str) -> list[str]:
    """Distinct, trimmed group ids of one srlg field."""
    return list(dict.fromkeys(g.strip() for g in text.split(",") if g.strip()))


def _stats(
    edges: gpd.GeoDataFrame,
    arrays: EdgeArrays,
    unreachable: dict[str, str],
    excluded: int,
    build_s: float,
) -> GraphStats:
    """Counts and km of the built graph."""
    n = arrays.n_nodes
    adjacency = coo_array((np.ones(arrays.n_edges), (arrays.tail, arrays.head)), shape=(n, n))
    used = np.zeros(n, dtype=bool)
    used[arrays.tail] = used[arrays.head] = True
    labels = connected_components(adjacency, directed=False)[1]
    km_by_kind = edges.groupby("kind")["length_km"].sum().round(3).to_dict()
    lateral = edges["kind"] == LATERAL
    connector = edges["kind"] == CONNECTOR
    return GraphStats(
        nodes=int(used.sum()),
        edges=arrays.n_edges,
        components=len(np.unique(labels[used])),
        km_total=round(float(edges["length_km"].sum()), 3),
        km_by_kind=km_by_kind,
        laterals=int(edges.loc[lateral, "site"].size),
        lateral_km=round(float(edges.loc[lateral, "length_km"].sum()), 3),
        connectors=int(connector.sum()),
        connector_km=round(float(edges.loc[connector, "length_km"].sum()), 3),
        edges_excluded=excluded,
        unreachable_sites=len(unreachable),
        build_s=round(build_s, 3),
    )
