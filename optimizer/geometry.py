"""Vectorized line geometry: working projection, cut events, splitting, snapping, geodesic km."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pyproj
import shapely
from scipy.sparse import coo_array
from scipy.sparse.csgraph import connected_components
from scipy.spatial import cKDTree

__all__ = [
    "FIXED",
    "PRIVATE",
    "PUBLIC",
    "Events",
    "Pieces",
    "WorkingProjection",
    "cluster_points",
    "crossing_points",
    "geodesic_length_km",
    "split_lines",
]

FIXED, PUBLIC, PRIVATE = 0, 1, 2
"""Cut event kinds: PUBLIC ends snap with other public ends nearby (junctions); PRIVATE cuts
(jurisdiction and exclusion boundaries) join only the two pieces of their own line; FIXED
events carry a node id chosen by the caller (sites)."""

_GEOD = pyproj.Geod(ellps="WGS84")


@dataclass(frozen=True)
class WorkingProjection:
    """An equidistant conic fitted to the data's extent: metres, for snapping and buffers."""

    crs: pyproj.CRS

    @classmethod
    def fitted(cls, bounds_lonlat: tuple[float, float, float, float]) -> WorkingProjection:
        """The projection for a lon/lat extent (minx, miny, maxx, maxy)."""
        minx, miny, maxx, maxy = bounds_lonlat
        lon0, lat0 = (minx + maxx) / 2, (miny + maxy) / 2
        span = max(maxy - miny, 1.0)
        lat1, lat2 = lat0 - span / 3, lat0 + span / 3
        if abs(lat1 + lat2) < 1.0:  # straddles the equator: a cone degenerates
            proj = f"+proj=eqc +lat_ts={lat0} +lon_0={lon0} +ellps=WGS84 +units=m +no_defs"
        else:
            proj = (
                f"+proj=eqdc +lat_0={lat0} +lon_0={lon0} +lat_1={lat1} +lat_2={lat2} "
                f"+ellps=WGS84 +units=m +no_defs"
            )
        return cls(pyproj.CRS.from_proj4(proj))

    def from_lonlat(self, geoms: np.ndarray) -> np.ndarray:
        """Lon/lat geometries in this projection (metres)."""
        transformer = pyproj.Transformer.from_crs("EPSG:4326", self.crs, always_xy=True)
        return shapely.transform(geoms, lambda xy: np.column_stack(transformer.transform(*xy.T)))

    def to_lonlat(self, geoms: np.ndarray) -> np.ndarray:
        """Geometries from this projection back to lon/lat."""
        transformer = pyproj.Transformer.from_crs(self.crs, "EPSG:4326", always_xy=True)
        return shapely.transform(geoms, lambda xy: np.column_stack(transformer.transform(*xy.T)))

    def points_to_lonlat(self, xy: np.ndarray) -> np.ndarray:
        """An (n, 2) array of projected points as lon/lat."""
        transformer = pyproj.Transformer.from_crs(self.crs, "EPSG:4326", always_xy=True)
        return np.column_stack(transformer.transform(xy[:, 0], xy[:, 1]))


@dataclass(frozen=True, eq=False)
class Events:
    """Points where lines are cut: line index, distance along it (m), position, kind, node."""

    line: np.ndarray
    m: np.ndarray
    xy: np.ndarray
    kind: np.ndarray
    node: np.ndarray  # caller's node id for FIXED events, -1 otherwise

    @staticmethod
    def concat(parts: list[Events]) -> Events:
        """All events of several batches."""
        if not parts:
            return Events.empty()
        return Events(
            line=np.concatenate([p.line for p in parts]).astype(np.int64),
            m=np.concatenate([p.m for p in parts]).astype(float),
            xy=np.concatenate([p.xy.reshape(-1, 2) for p in parts]).astype(float),
            kind=np.concatenate([p.kind for p in parts]).astype(np.int8),
            node=np.concatenate([p.node for p in parts]).astype(np.int64),
        )

    @staticmethod
    def empty() -> Events:
        """No events."""
        return Events(
            np.zeros(0, np.int64), np.zeros(0), np.zeros((0, 2)), np.zeros(0, np.int8), np.zeros(0, np.int64)
        )

    @staticmethod
    def on_lines(lines: np.ndarray, line_idx: np.ndarray, points: np.ndarray, kind: int) -> Events:
        """Events at points lying on (or projected onto) the given lines."""
        line_idx = np.asarray(line_idx, dtype=np.int64)
        m = shapely.line_locate_point(lines[line_idx], points)
        xy = shapely.get_coordinates(shapely.line_interpolate_point(lines[line_idx], m))
        n = len(line_idx)
        return Events(line_idx, m, xy, np.full(n, kind, np.int8), np.full(n, -1, np.int64))


@dataclass(frozen=True, eq=False)
class Pieces:
    """Lines cut at events: geometry, source line, and the event at each end."""

    geometry: np.ndarray
    line: np.ndarray
    start_event: np.ndarray
    end_event: np.ndarray


def line_end_events(lines: np.ndarray, kinds: np.ndarray, nodes: np.ndarray | None = None) -> Events:
    """Start and end of every line as events (start rows first, then end rows)."""
    n = len(lines)
    idx = np.arange(n, dtype=np.int64)
    start = shapely.get_coordinates(shapely.get_point(lines, 0))
    end = shapely.get_coordinates(shapely.get_point(lines, -1))
    length = shapely.length(lines)
    node = np.full(2 * n, -1, np.int64) if nodes is None else np.asarray(nodes, np.int64)
    return Events(
        line=np.concatenate([idx, idx]),
        m=np.concatenate([np.zeros(n), length]),
        xy=np.concatenate([start, end]),
        kind=np.asarray(kinds, np.int8),
        node=node,
    )


def crossing_points(a: np.ndarray, b: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Points where geometries a[k] and b[k] meet (overlaps give their ends), with k."""
    inter = shapely.intersection(a, b)
    parts, owner = shapely.get_parts(inter, return_index=True)
    parts, sub = shapely.get_parts(parts, return_index=True)  # flatten nested multi-parts
    owner = owner[sub]
    kind = shapely.get_type_id(parts)
    is_point = kind == 0
    linear = np.isin(kind, (1, 2))
    # overlaps come back as many short segments: merge them so only their ends cut
    lin_owner = owner[linear]
    merged_owner = np.unique(lin_owner)
    merged = shapely.line_merge(
        shapely.multilinestrings(parts[linear], indices=np.searchsorted(merged_owner, lin_owner))
    )
    ends = shapely.boundary(merged)
    end_pts, end_owner = shapely.get_parts(ends, return_index=True)
    points = np.concatenate([parts[is_point], end_pts])
    owners = np.concatenate([owner[is_point], merged_owner[end_owner]])
    return points, owners


def split_lines(lines: np.ndarray, events: Events, *, merge_m: float = 1e-6) -> Pieces:
    """Cut every line at its events; each piece knows the events at its two ends.

    Events on one line closer than merge_m are one cut (FIXED before PUBLIC before
    PRIVATE). Every line must carry its own start (m=0) and end (m=length) events.
    """
    length = shapely.length(lines)
    order = np.lexsort((events.m, events.line))
    line, m = events.line[order], events.m[order]
    new_run = np.ones(len(order), dtype=bool)
    new_run[1:] = (line[1:] != line[:-1]) | (m[1:] - m[:-1] > merge_m)
    new_run |= length[line] <= merge_m  # a zero-length line keeps both ends
    run = np.cumsum(new_run) - 1
    best = np.lexsort((events.kind[order], run))  # within a run: FIXED, then PUBLIC, then PRIVATE
    first_of_run = np.ones(len(best), dtype=bool)
    first_of_run[1:] = run[best][1:] != run[best][:-1]
    event_id = order[best[first_of_run]]
    line, m = events.line[event_id], m[new_run]  # a run's cut sits at its first position
    xy = events.xy[event_id]
    first = np.ones(len(line), dtype=bool)
    first[1:] = line[1:] != line[:-1]
    last = np.ones(len(line), dtype=bool)
    last[:-1] = line[1:] != line[:-1]
    m = np.where(first, 0.0, np.where(last, length[line], m))

    coords, vline = shapely.get_coordinates(lines, return_index=True)
    seg = np.hypot(*np.diff(coords, axis=0).T)
    seg[vline[1:] != vline[:-1]] = 0.0
    vm = np.concatenate([[0.0], np.cumsum(seg)])
    line_start_m = vm[np.searchsorted(vline, np.arange(len(lines)))]
    vm = vm - line_start_m[vline]
    # drop vertices that coincide with a cut: the cut's own coordinate stands for them
    vkeep = _vertices_not_at_events(vline, vm, line, m, merge_m)
    vline, vm, vxy = vline[vkeep], vm[vkeep], coords[vkeep]

    # rows: each interior event twice (end of the piece before, start of the one after)
    n_ev = len(line)
    end_rows = ~first
    start_rows = ~last
    rows_line = np.concatenate([line[end_rows], line[start_rows], vline])
    # a line's first cut opens its first piece and its last cut closes its last one, even
    # when both sit at m = 0 (a zero-length lateral from a site lying on a corridor)
    end_m = np.where(last, length[line] + 1.0, m)
    start_m = np.where(first, -1.0, m)
    rows_m = np.concatenate([end_m[end_rows], start_m[start_rows], vm])
    rows_order = np.concatenate(
        [np.zeros(end_rows.sum()), np.ones(start_rows.sum()), np.full(len(vline), 2.0)]
    )
    rows_xy = np.concatenate([xy[end_rows], xy[start_rows], vxy])
    rows_event = np.concatenate([event_id[end_rows], event_id[start_rows], np.full(len(vline), -1)])
    rows_is_start = np.concatenate(
        [np.zeros(end_rows.sum(), bool), np.ones(start_rows.sum(), bool), np.zeros(len(vline), bool)]
    )
    sort = np.lexsort((rows_order, rows_m, rows_line))
    piece = np.cumsum(rows_is_start[sort]) - 1
    geometry = shapely.linestrings(rows_xy[sort], indices=piece)
    ev_sorted = rows_event[sort]
    is_start_sorted = rows_is_start[sort]
    n_pieces = int(piece[-1]) + 1 if len(piece) else 0
    start_event = np.full(n_pieces, -1, np.int64)
    end_event = np.full(n_pieces, -1, np.int64)
    start_event[piece[is_start_sorted]] = ev_sorted[is_start_sorted]
    is_end = rows_order[sort] == 0
    end_event[piece[is_end]] = ev_sorted[is_end]
    piece_line = rows_line[sort][np.searchsorted(piece, np.arange(n_pieces))]
    assert n_ev - len(np.unique(line)) == n_pieces
    return Pieces(geometry, piece_line, start_event, end_event)


def _vertices_not_at_events(
    vline: np.ndarray, vm: np.ndarray, line: np.ndarray, m: np.ndarray, tol: float
) -> np.ndarray:
    """Mask of vertices farther than tol (along their line) from every event of that line."""
    all_line = np.concatenate([line, vline])
    all_m = np.concatenate([m, vm])
    is_event = np.concatenate([np.ones(len(line), bool), np.zeros(len(vline), bool)])
    order = np.lexsort((all_m, all_line))
    pos = np.arange(len(order))
    ev_here = is_event[order]
    prev = np.maximum.accumulate(np.where(ev_here, pos, -1))
    nxt = np.minimum.accumulate(np.where(ev_here, pos, len(order))[::-1])[::-1]
    sorted_line, sorted_m = all_line[order], all_m[order]
    near = np.zeros(len(order), dtype=bool)
    for other in (prev, nxt):
        valid = (other >= 0) & (other < len(order))
        o = np.clip(other, 0, len(order) - 1)
        near |= valid & (sorted_line[o] == sorted_line) & (np.abs(sorted_m[o] - sorted_m) <= tol)
    keep_sorted = ~near | ev_here
    keep = np.empty(len(order), dtype=bool)
    keep[order] = keep_sorted
    return keep[len(line) :]


def cluster_points(xy: np.ndarray, tolerance_m: float) -> np.ndarray:
    """Cluster label per point: points within tolerance (transitively) share a label."""
    n = len(xy)
    if n == 0:
        return np.zeros(0, np.int64)
    pairs = cKDTree(xy).query_pairs(r=tolerance_m, output_type="ndarray")
    graph = coo_array((np.ones(len(pairs)), (pairs[:, 0], pairs[:, 1])), shape=(n, n))
    return connected_components(graph, directed=False)[1].astype(np.int64)


def geodesic_length_km(lines_lonlat: np.ndarray) -> np.ndarray:
    """Length of each lon/lat line on the WGS84 ellipsoid, km."""
    coords, owner = shapely.get_coordinates(lines_lonlat, return_index=True)
    if len(coords) < 2:
        return np.zeros(len(lines_lonlat))
    same = owner[1:] == owner[:-1]
    _, _, dist = _GEOD.inv(
        coords[:-1, 0][same], coords[:-1, 1][same], coords[1:, 0][same], coords[1:, 1][same]
    )
    return np.bincount(owner[1:][same], weights=dist, minlength=len(lines_lonlat)) / 1000.0
