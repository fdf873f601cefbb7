"""Limits on what fiberopt reads: layer files, geometry, scenario YAML, ids and money.

Every input is checked against these before any geometry work (reprojection, repair, noding),
so a hostile or broken file costs a stat, a header read or one vectorized pass, never a graph
build. A violation is one error naming the layer, row and field (or the scenario key).
`load_geodata(spec, limits=...)` and `load_scenario(path, limits=...)` take an `InputLimits`;
the defaults below let the real nationwide data (Census 2016 states and counties, Natural
Earth railroads, Internet Atlas, PeeringDB, an OSM extract) and the 10^6-edge synthetic
benchmark network through with room to spare.

| limit | default | the largest real input (shared/data, bench) |
| --- | --- | --- |
| max_layer_file_bytes | 512 MiB | Census GeoPackage 24.3 MB; synthetic 10^6 edges 173 MB |
| max_geodata_bytes | 1 GiB | every file of one geodata set together |
| max_features_per_layer | 2,000,000 | synthetic 847,582 corridors; Census 3,233 counties |
| max_vertices_per_line | 100,000 | Natural Earth railroads 393; OSM Helsinki ways 107 |
| max_vertices_per_polygon | 500,000 | Census states 116,599 (Alaska); counties 14,052 |
| max_vertices_per_layer | 10,000,000 | synthetic corridors 3,357,094; Census counties 1,039,365 |
| max_vertices_total | 20,000,000 | every layer of one geodata set together |
| max_jurisdiction_levels | 16 | 2 (state, county) |
| max_id_chars | 256 | site, corridor, jurisdiction and exclusion ids |
| max_text_chars | 1,024 | names, kinds, levels, srlg lists |
| max_cost_per_km | 1e9 | 90,000 (sample highways); a row's or a kind's default |
| max_permit_cost | 1e12 | 50,000 (state permits in the test beds) |
| max_lateral_cost_per_km | 1e9 | 60,000 (the default) |
| crs_area_margin_deg | 10 | projected data may reach this far past its CRS's area of use |
| max_scenario_bytes | 1 MiB | the sample scenarios are about 2 kB |
| max_yaml_depth | 32 | the sample scenarios nest 4 deep |
| max_yaml_alias_uses | 100 | none in the samples |
| max_yaml_nodes | 200,000 | nodes after aliases are expanded; 1,000 demands are about 10,000 |
| max_scenario_name_chars | 128 | a scenario's name is its output folder's name |
| max_time_limit_s | 604,800 | a week: solver.time_limit_s of one scenario |
| max_num_workers | 256 | solver.num_workers |

The money ceilings keep every cost a solver sees finite: an edge costs at most its length
(km, bounded by the vertex limits) times max_cost_per_km, a route at most the sum of its edges
and permits, all far inside a float's range; the solvers scale costs into integers relative
to the largest (optimizer.flows `_INT_BUDGET` 2^56, optimizer.model `COST_SCALE_BUDGET` 2^40),
so only an infinite or NaN total could break them, and these ceilings rule that out.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["DEFAULT_LIMITS", "InputLimits", "MiB"]

MiB = 1024 * 1024


@dataclass(frozen=True)
class InputLimits:
    """Every input limit, by name; see the module docstring for the defaults and why."""

    max_layer_file_bytes: int = 512 * MiB
    """Bytes of one layer file (with its sidecars: .dbf, .shx of a shapefile)."""
    max_geodata_bytes: int = 1024 * MiB
    """Bytes of every layer file of one geodata set together."""
    max_features_per_layer: int = 2_000_000
    """Rows of one layer, all its sources together."""
    max_vertices_per_line: int = 100_000
    """Vertices of one line feature (a corridor); a line's cost to node grows with them."""
    max_vertices_per_polygon: int = 500_000
    """Vertices of one polygon feature (a jurisdiction or exclusion)."""
    max_vertices_per_layer: int = 10_000_000
    """Vertices of one layer, all its sources together."""
    max_vertices_total: int = 20_000_000
    """Vertices of every layer of one geodata set together."""
    max_jurisdiction_levels: int = 16
    """Distinct jurisdiction levels: each is a column of every edge."""
    max_id_chars: int = 256
    """Characters of a site, corridor, jurisdiction or exclusion id."""
    max_text_chars: int = 1024
    """Characters of any other text cell (names, kinds, levels, srlg lists)."""
    max_cost_per_km: float = 1e9
    """Highest cost_per_km of a corridor row, a layer default or a per-kind default."""
    max_permit_cost: float = 1e12
    """Highest permit_cost of a jurisdiction or per-level default."""
    max_lateral_cost_per_km: float = 1e9
    """Highest settings.lateral_cost_per_km."""
    crs_area_margin_deg: float = 10.0
    """Degrees past a projected CRS's area of use that its coordinates may still reach."""
    max_scenario_bytes: int = 1 * MiB
    """Bytes of one scenario file."""
    max_yaml_depth: int = 32
    """Nesting of mappings and sequences in a scenario file."""
    max_yaml_alias_uses: int = 100
    """YAML aliases (*name) in a scenario file."""
    max_yaml_nodes: int = 200_000
    """Nodes of a scenario file with every alias expanded (a "billion laughs" has 10^9)."""
    max_scenario_name_chars: int = 128
    """Characters of a scenario's name (its output folder)."""
    max_time_limit_s: float = 604_800.0
    """Longest solver.time_limit_s of a scenario."""
    max_num_workers: int = 256
    """Most solver.num_workers of a scenario."""


DEFAULT_LIMITS = InputLimits()
"""The defaults, shared (the dataclass is frozen)."""
