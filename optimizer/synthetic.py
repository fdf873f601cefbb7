"""Seeded synthetic corridor networks of 10^4 to 10^6 edges, written as geodata the loader reads.

A perturbed grid of build corridors (highway, rail and utility "roads", each grid edge a wiggled
LineString between jittered junctions, some removed, some cells crossed by a diagonal) over a
US-sized lon/lat extent, long-haul existing-fiber links between junctions, a lattice of
jittered quadrilateral counties grouped into blocks of states, and datacenter sites near
junctions. Everything is vectorized (numpy, shapely 2): a million edges take seconds to generate.
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

__all__ = [
    "US_EXTENT_LONLAT",
    "SyntheticNetwork",
    "SyntheticPlan",
    "expected_edges",
    "synthetic_network",
    "write_synthetic",
]

US_EXTENT_LONLAT = (-124.0, 25.5, -67.5, 48.5)
"""Lon/lat box (minx, miny, maxx, maxy) the grid spans: about the 48 contiguous states."""
KM_PER_DEG_LAT = 110.95
STATES_X, STATES_Y = 8, 6
"""48 states in blocks of counties."""
BUILD_KINDS = ("highway", "rail", "utility")
BUILD_KIND_SHARES = (0.5, 0.3, 0.2)
COST_PER_KM_BY_KIND = {"highway": 30_000.0, "rail": 40_000.0, "utility": 35_000.0, "existing_fiber": 9_000.0}
PERMIT_COST_BY_LEVEL = {"state": 50_000.0, "county": 10_000.0}
LATERALS_PER_SITE = 3
"""GraphSettings default: each site adds about this many laterals and as many cuts."""
_EDGE_VERTICES = 4
"""Vertices of a grid edge: its two junctions and two wiggled interior points."""


@dataclass(frozen=True)
class SyntheticPlan:
    """What to generate: a target edge count and the shape of the network, seeded."""

    target_edges: int
    seed: int = 0
    sites: int | None = None
    """Datacenter sites; None: target_edges / 200, within 20..200."""
    counties_per_state_side: int | None = None
    """Counties per state are this squared; None: 8 (3,072 counties) from 10^4 edges up, else 2."""
    extent_lonlat: tuple[float, float, float, float] = US_EXTENT_LONLAT
    drop_share: float = 0.12
    """Grid edges removed, so blocks are irregular and some junctions are dead ends."""
    diagonal_share: float = 0.08
    """Grid cells crossed corner to corner by a diagonal corridor."""
    fiber_share: float = 0.02
    """Existing-fiber links per grid edge."""
    fiber_km: tuple[float, float] = (60.0, 400.0)
    """Length range of an existing-fiber link (straight, junction to junction)."""
    jitter: float = 0.3
    """Junction offset from its grid position, as a share of the grid spacing."""
    wiggle: float = 0.12
    """Sideways offset of a grid edge's interior vertices, as a share of the grid spacing."""

    @property
    def site_count(self) -> int:
        """Sites to place."""
        return self.sites if self.sites is not None else int(np.clip(self.target_edges // 200, 20, 200))

    @property
    def county_side(self) -> int:
        """Counties along each side of a state."""
        if self.counties_per_state_side is not None:
            return self.counties_per_state_side
        return 8 if self.target_edges >= 10_000 else 2


@dataclass(frozen=True, eq=False)
class SyntheticNetwork:
    """Generated layers in EPSG:4326, with the grid spacing chosen for the target."""

    plan: SyntheticPlan
    spacing_km: float
    sites: gpd.GeoDataFrame
    corridors: gpd.GeoDataFrame
    jurisdictions: gpd.GeoDataFrame


@dataclass(frozen=True, eq=False)
class _Grid:
    """Jittered junctions of an nx x ny grid, lon/lat, row-major (index = j * nx + i)."""

    nx: int
    ny: int
    lonlat: np.ndarray
    spacing_km: float


def synthetic_network(plan: SyntheticPlan) -> SyntheticNetwork:
    """Generate the layers of a plan; the same plan always gives the same layers."""
    rng = np.random.default_rng(plan.seed)
    spacing_km = _spacing_for(plan)
    grid = _grid(plan, spacing_km, rng)
    roads = _grid_roads(plan, grid, rng)
    fiber = _fiber_links(plan, grid, len(roads), rng)
    corridors = pd.concat([roads, fiber], ignore_index=True)
    corridors["corridor_id"] = "c" + pd.Series(np.arange(len(corridors))).astype(str)
    corridors["cost_per_km"] = corridors["kind"].map(COST_PER_KM_BY_KIND)
    return SyntheticNetwork(
        plan=plan,
        spacing_km=spacing_km,
        sites=_sites(plan, grid, rng),
        corridors=gpd.GeoDataFrame(corridors, geometry="geometry", crs="EPSG:4326"),
        jurisdictions=_jurisdictions(plan, spacing_km, rng),
    )


def write_synthetic(plan: SyntheticPlan, path: Path) -> Path:
    """Write a plan's network as one GeoPackage (layers sites, corridors, jurisdictions)."""
    network = synthetic_network(plan)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.stem}.{os.getpid()}{path.suffix}")
    tmp.unlink(missing_ok=True)
    for layer in ("sites", "corridors", "jurisdictions"):
        getattr(network, layer).to_file(tmp, layer=layer, driver="GPKG", engine="pyogrio")
    os.replace(tmp, path)
    return path


def _extent_km(plan: SyntheticPlan) -> tuple[float, float, float]:
    """Width and height of the extent in km, and km per degree of longitude at its middle."""
    minx, miny, maxx, maxy = plan.extent_lonlat
    km_per_deg_lon = KM_PER_DEG_LAT * math.cos(math.radians((miny + maxy) / 2))
    return (maxx - minx) * km_per_deg_lon, (maxy - miny) * KM_PER_DEG_LAT, km_per_deg_lon


def expected_edges(plan: SyntheticPlan, spacing_km: float) -> float:
    """Graph edges a grid spacing should give: grid edges and fiber links, each cut where it
    crosses a county boundary, plus the laterals of the sites and the cuts they make."""
    width_km, height_km, _ = _extent_km(plan)
    nx, ny = width_km / spacing_km + 1, height_km / spacing_km + 1
    horizontal = (nx - 1) * ny * (1 - plan.drop_share)
    vertical = nx * (ny - 1) * (1 - plan.drop_share)
    diagonal = (nx - 1) * (ny - 1) * plan.diagonal_share
    county_w = width_km / (STATES_X * plan.county_side)
    county_h = height_km / (STATES_Y * plan.county_side)
    roads = (
        horizontal * (1 + spacing_km / county_w)
        + vertical * (1 + spacing_km / county_h)
        + diagonal * (1 + spacing_km / county_w + spacing_km / county_h)
    )
    fiber_km = sum(plan.fiber_km) / 2
    fibers = plan.fiber_share * (horizontal + vertical + diagonal)
    fiber_pieces = fibers * (1 + fiber_km * 2 / math.pi * (1 / county_w + 1 / county_h))
    return roads + fiber_pieces + 2 * LATERALS_PER_SITE * plan.site_count


def _spacing_for(plan: SyntheticPlan) -> float:
    """Grid spacing (km) whose expected edge count meets the target (bisection, log scale)."""
    low, high = 0.2, 2_000.0
    for _ in range(60):
        mid = math.sqrt(low * high)
        if expected_edges(plan, mid) > plan.target_edges:
            low = mid
        else:
            high = mid
    return math.sqrt(low * high)


def _grid(plan: SyntheticPlan, spacing_km: float, rng: np.random.Generator) -> _Grid:
    """Junctions on a grid of the given spacing, each moved by up to jitter x spacing."""
    minx, miny, _, _ = plan.extent_lonlat
    width_km, height_km, km_per_deg_lon = _extent_km(plan)
    nx = max(2, int(width_km / spacing_km) + 1)
    ny = max(2, int(height_km / spacing_km) + 1)
    i, j = np.meshgrid(np.arange(nx), np.arange(ny))
    offset = rng.uniform(-plan.jitter, plan.jitter, size=(ny * nx, 2))
    x_km = (i.ravel() + offset[:, 0]) * spacing_km
    y_km = (j.ravel() + offset[:, 1]) * spacing_km
    lonlat = np.column_stack([minx + x_km / km_per_deg_lon, miny + y_km / KM_PER_DEG_LAT])
    return _Grid(nx, ny, lonlat, spacing_km)


def _grid_roads(plan: SyntheticPlan, grid: _Grid, rng: np.random.Generator) -> pd.DataFrame:
    """Grid edges (and diagonals) as wiggled lines; a grid row or column keeps one kind."""
    nx, ny = grid.nx, grid.ny
    node = np.arange(nx * ny).reshape(ny, nx)
    row_kind = rng.choice(len(BUILD_KINDS), size=ny, p=BUILD_KIND_SHARES)
    col_kind = rng.choice(len(BUILD_KINDS), size=nx, p=BUILD_KIND_SHARES)
    tails = [node[:, :-1].ravel(), node[:-1, :].ravel()]
    heads = [node[:, 1:].ravel(), node[1:, :].ravel()]
    kinds = [np.repeat(row_kind, nx - 1), np.tile(col_kind, ny - 1)]
    cells = node[:-1, :-1].ravel()
    diagonal = rng.random(len(cells)) < plan.diagonal_share
    rising = rng.random(len(cells)) < 0.5
    tails.append(np.where(rising, cells, cells + 1)[diagonal])
    heads.append(np.where(rising, cells + nx + 1, cells + nx)[diagonal])
    kinds.append(rng.choice(len(BUILD_KINDS), size=int(diagonal.sum()), p=BUILD_KIND_SHARES))
    tail, head, kind = (np.concatenate(parts) for parts in (tails, heads, kinds))
    grid_edges = len(tail) - int(diagonal.sum())
    keep = np.ones(len(tail), dtype=bool)
    keep[:grid_edges] = rng.random(grid_edges) >= plan.drop_share
    tail, head, kind = tail[keep], head[keep], kind[keep]
    geometry = _wiggled_lines(grid.lonlat[tail], grid.lonlat[head], plan.wiggle, rng)
    return pd.DataFrame({"kind": np.asarray(BUILD_KINDS, dtype=object)[kind], "geometry": geometry})


def _wiggled_lines(start: np.ndarray, end: np.ndarray, wiggle: float, rng: np.random.Generator) -> np.ndarray:
    """Lines from start to end through interior points pushed sideways by up to wiggle x length."""
    steps = np.linspace(0.0, 1.0, _EDGE_VERTICES)
    along = start[:, None, :] + (end - start)[:, None, :] * steps[None, :, None]
    normal = np.column_stack([-(end - start)[:, 1], (end - start)[:, 0]])
    push = rng.uniform(-wiggle, wiggle, size=(len(start), _EDGE_VERTICES))
    push[:, [0, -1]] = 0.0
    return shapely.linestrings(along + push[:, :, None] * normal[:, None, :])


def _fiber_links(plan: SyntheticPlan, grid: _Grid, n_roads: int, rng: np.random.Generator) -> pd.DataFrame:
    """Straight existing-fiber links from junction to junction, fiber_km long, any direction."""
    count = round(plan.fiber_share * n_roads)
    start = rng.integers(0, grid.nx * grid.ny, size=count)
    length_cells = rng.uniform(*plan.fiber_km, size=count) / grid.spacing_km
    angle = rng.uniform(0.0, 2 * math.pi, size=count)
    i0, j0 = start % grid.nx, start // grid.nx
    i1 = np.clip(np.rint(i0 + length_cells * np.cos(angle)), 0, grid.nx - 1).astype(np.int64)
    j1 = np.clip(np.rint(j0 + length_cells * np.sin(angle)), 0, grid.ny - 1).astype(np.int64)
    end = j1 * grid.nx + i1
    apart = end != start
    geometry = shapely.linestrings(np.stack([grid.lonlat[start[apart]], grid.lonlat[end[apart]]], axis=1))
    return pd.DataFrame({"kind": "existing_fiber", "geometry": geometry})


def _sites(plan: SyntheticPlan, grid: _Grid, rng: np.random.Generator) -> gpd.GeoDataFrame:
    """Sites 0.3 to 2 km from distinct random junctions."""
    n = min(plan.site_count, grid.nx * grid.ny)
    at = rng.choice(grid.nx * grid.ny, size=n, replace=False)
    _, _, km_per_deg_lon = _extent_km(plan)
    distance_km = rng.uniform(0.3, 2.0, size=n)
    angle = rng.uniform(0.0, 2 * math.pi, size=n)
    lon = grid.lonlat[at, 0] + distance_km * np.cos(angle) / km_per_deg_lon
    lat = grid.lonlat[at, 1] + distance_km * np.sin(angle) / KM_PER_DEG_LAT
    ids = [f"S{k:04d}" for k in range(n)]
    return gpd.GeoDataFrame(
        {"site_id": ids, "name": [f"Site {k}" for k in range(n)]},
        geometry=shapely.points(lon, lat),
        crs="EPSG:4326",
    )


def _jurisdictions(plan: SyntheticPlan, spacing_km: float, rng: np.random.Generator) -> gpd.GeoDataFrame:
    """Counties as quadrilaterals of a jittered lattice, states as blocks of side x side counties,
    reaching past the grid far enough to hold every jittered junction, wiggle and site."""
    side = plan.county_side
    cx, cy = STATES_X * side, STATES_Y * side
    minx, miny, maxx, maxy = plan.extent_lonlat
    _, _, km_per_deg_lon = _extent_km(plan)
    margin_km = (plan.jitter + plan.wiggle) * spacing_km + 10.0
    mx, my = margin_km / km_per_deg_lon, margin_km / KM_PER_DEG_LAT
    x = np.linspace(minx - mx, maxx + mx, cx + 1)
    y = np.linspace(miny - my, maxy + my, cy + 1)
    lattice = np.stack(np.meshgrid(x, y), axis=-1)  # (cy + 1, cx + 1, 2)
    step = np.array([x[1] - x[0], y[1] - y[0]])
    lattice[1:-1, 1:-1] += rng.uniform(-0.25, 0.25, size=(cy - 1, cx - 1, 2)) * step
    j, i = np.meshgrid(np.arange(cy), np.arange(cx), indexing="ij")
    j, i = j.ravel(), i.ravel()
    ring = [(j, i), (j, i + 1), (j + 1, i + 1), (j + 1, i), (j, i)]
    counties = shapely.polygons(np.stack([lattice[a, b] for a, b in ring], axis=1))
    state_of = (j // side) * STATES_X + i // side
    states = shapely.polygons(_state_rings(lattice, side))
    state_ids = np.array([f"ST{k + 1:02d}" for k in range(STATES_X * STATES_Y)], dtype=object)
    within = (j % side) * side + i % side + 1
    county_ids = state_ids[state_of] + "-" + pd.Series(within).astype(str).str.zfill(2).to_numpy(dtype=object)
    frame = pd.DataFrame(
        {
            "jurisdiction_id": np.concatenate([state_ids, county_ids]),
            "name": np.concatenate([["State " + s[2:] for s in state_ids], "County " + county_ids]),
            "level": ["state"] * len(states) + ["county"] * len(counties),
        }
    )
    frame["permit_cost"] = frame["level"].map(PERMIT_COST_BY_LEVEL)
    return gpd.GeoDataFrame(frame, geometry=np.concatenate([states, counties]), crs="EPSG:4326")


def _state_rings(lattice: np.ndarray, side: int) -> np.ndarray:
    """Closed rings (n_states, 4 * side + 1, 2) along the lattice around each block of counties."""
    k = np.arange(side)
    rings = []
    for sj in range(STATES_Y):
        for si in range(STATES_X):
            j0, i0 = sj * side, si * side
            rows = np.concatenate([np.full(side, j0), j0 + k, np.full(side, j0 + side), j0 + side - k, [j0]])
            cols = np.concatenate([i0 + k, np.full(side, i0 + side), i0 + side - k, np.full(side, i0), [i0]])
            rings.append(lattice[rows, cols])
    return np.stack(rings)
