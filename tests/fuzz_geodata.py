"""Broken geodata sets for fuzzing the loader and the CLI: a hypothesis strategy.

Each case is the Oklahoma part of geodata/sample (3 sites, 53 corridors, the state and its 77
counties, one exclusion, written as GeoJSON) with one to three mutations: coordinates out of
range, NaN, Inf or 1e308; unclosed rings, one-point lines, wrong geometry types; wrong types,
huge numbers, duplicate ids and missing columns in fields; missing or doubled layers; bad or
missing CRS; EPSG:3857 numbers without a crs member; truncated, empty, binary, VRT or GDAL
pipeline files; and a scenario YAML next to the layers, itself sometimes broken (settings,
solver options, names, defaults, nesting, aliases, encoding).

  python tests/fuzz_geodata.py OUT_DIR [N]   writes N cases (default 50) as folders, seeded
"""

from __future__ import annotations

import copy
import functools
import json
import math
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import geopandas as gpd
import pyproj
import shapely
import yaml
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

__all__ = ["SCENARIO_FILE", "Case", "base_layers", "cases", "write_case", "write_cases"]

SAMPLE = Path(__file__).resolve().parents[1] / "geodata" / "sample"
SCENARIO_FILE = "scenario.yaml"
REGION_LONLAT = (-98.2, 34.6, -94.8, 36.8)
"""The part of the sample every case starts from: Oklahoma City, Tulsa and Pryor."""
SITES = ("OKC1", "TUL1", "PRY1")
STATE = "40"
LAYER_FILES = ("sites", "corridors", "jurisdictions", "exclusions")
OUTSIDE_TARGET = "outside-the-set.csv"
"""A file next to every case folder's parent that VRT and GDAL pipeline mutations point at."""

BAD_NUMBERS = (91.0, -91.0, 200.0, -200.0, 1_895_888.0, 20_000.0, 1e15, 1e308, -1e308)
NON_FINITE = (math.nan, math.inf, -math.inf)
BAD_VALUES = ("abc", "", None, -5, 1e308, "1e308", [1, 2], {"a": 1}, True, math.nan, math.inf, "x" * 5000)

Layers = dict[str, dict]
"""Layer name -> GeoJSON FeatureCollection (as parsed JSON)."""


@dataclass(frozen=True)
class Case:
    """One broken geodata set: its files (name -> bytes) and what was done to it."""

    files: tuple[tuple[str, bytes], ...]
    mutations: tuple[str, ...]

    def __repr__(self) -> str:
        """The mutations, which say what the case is (the bytes would not)."""
        return f"Case({'; '.join(self.mutations)})"


@functools.cache
def base_layers() -> str:
    """The region of the sample as GeoJSON text per layer (a JSON object of layer -> text)."""
    box = shapely.box(*REGION_LONLAT)
    frames = {name: gpd.read_file(SAMPLE / f"{name}.geojson") for name in LAYER_FILES}
    frames["sites"] = frames["sites"][frames["sites"]["site_id"].isin(SITES)]
    frames["corridors"] = frames["corridors"][frames["corridors"].intersects(box)]
    juris = frames["jurisdictions"]
    frames["jurisdictions"] = juris[juris["jurisdiction_id"].str.startswith(STATE)]
    frames["exclusions"] = frames["exclusions"][frames["exclusions"].intersects(box)]
    return json.dumps({name: json.loads(frame.to_json(drop_id=True)) for name, frame in frames.items()})


def base_scenario() -> dict:
    """The scenario next to the layers: two demands, short time limits."""
    return {
        "name": "fuzz",
        "geodata": {"path": ".", "permit_cost_by_level": {"state": 15000, "county": 4000}},
        "settings": {"lateral_cost_per_km": 60000, "max_lateral_km": 30},
        "solver": {"time_limit_s": 5, "num_workers": 1},
        "demands": [
            {"id": "okc-tul", "a": "OKC1", "b": "TUL1", "max_latency_ms": 3.0},
            {"id": "pry-okc", "a": "PRY1", "b": "OKC1", "max_latency_ms": 3.0},
        ],
    }


@dataclass
class _Draft:
    """A case being built: layers as JSON, the scenario, and files replaced as raw bytes."""

    layers: Layers
    scenario: dict
    raw: dict[str, bytes | None]  # file name -> bytes to write instead (None: no file)
    scenario_text: bytes | None = None


Mutation = Callable[[Callable[[st.SearchStrategy], Any], _Draft], str]
"""Changes a draft using hypothesis's draw; returns what it did."""


def _feature(draw: Any, draft: _Draft, layer: str) -> dict | None:
    """One feature of a layer (None where the layer has none left)."""
    features = draft.layers[layer]["features"]
    return draw(st.sampled_from(features)) if features else None


def _vertex_paths(geometry: dict) -> list[list]:
    """The coordinate lists ([x, y] pairs) of a GeoJSON geometry, each a list one can edit."""
    coords = geometry.get("coordinates") if geometry else None
    if geometry and geometry.get("type") == "Point":
        return [[coords]]
    found: list[list] = []

    def walk(node: Any) -> None:
        if (
            isinstance(node, list)
            and node
            and isinstance(node[0], list)
            and node[0]
            and not isinstance(node[0][0], list)
        ):
            found.append(node)
        elif isinstance(node, list):
            for child in node:
                walk(child)

    walk(coords)
    return found


def _some_vertex(draw: Any, draft: _Draft) -> tuple[str, dict, list] | None:
    """A layer, a feature and one [x, y] vertex of it."""
    layer = draw(st.sampled_from(LAYER_FILES))
    feature = _feature(draw, draft, layer)
    if feature is None or not (paths := _vertex_paths(feature["geometry"])):
        return None
    path = draw(st.sampled_from(paths))
    return layer, feature, draw(st.sampled_from(path))


def coordinate_out_of_range(draw: Any, draft: _Draft) -> str:
    """One vertex moved to a latitude or longitude that cannot be."""
    picked = _some_vertex(draw, draft)
    if picked is None:
        return "nothing to move"
    layer, _, vertex = picked
    axis = draw(st.sampled_from((0, 1)))
    vertex[axis] = draw(st.sampled_from(BAD_NUMBERS))
    return f"{layer}: vertex {'xy'[axis]} = {vertex[axis]:g}"


def coordinate_not_finite(draw: Any, draft: _Draft) -> str:
    """One vertex given NaN or an infinity."""
    picked = _some_vertex(draw, draft)
    if picked is None:
        return "nothing to change"
    layer, _, vertex = picked
    axis = draw(st.sampled_from((0, 1)))
    vertex[axis] = draw(st.sampled_from(NON_FINITE))
    return f"{layer}: vertex {'xy'[axis]} = {vertex[axis]}"


def unclosed_ring(draw: Any, draft: _Draft) -> str:
    """A polygon ring whose last vertex is dropped (or cut to 2-3 vertices)."""
    layer = draw(st.sampled_from(("jurisdictions", "exclusions")))
    feature = _feature(draw, draft, layer)
    if feature is None:
        return "no polygon"
    if not (rings := _vertex_paths(feature["geometry"])):
        return "no ring"
    ring = draw(st.sampled_from(rings))
    keep = draw(st.sampled_from((len(ring) - 1, 2, 3)))
    del ring[keep:]
    return f"{layer}: ring cut to {keep} vertices, unclosed"


def one_point_line(draw: Any, draft: _Draft) -> str:
    """A corridor of one vertex (or none)."""
    feature = _feature(draw, draft, "corridors")
    if feature is None:
        return "no corridor"
    n = draw(st.sampled_from((0, 1)))
    feature["geometry"] = {"type": "LineString", "coordinates": [[-97.0, 35.5]][:n]}
    return f"corridors: a line of {n} vertices"


def wrong_geometry(draw: Any, draft: _Draft) -> str:
    """A feature of another geometry type, a null geometry, or a self-crossing polygon."""
    layer = draw(st.sampled_from(LAYER_FILES))
    feature = _feature(draw, draft, layer)
    if feature is None:
        return "no feature"
    choice = draw(st.sampled_from(("point", "line", "null", "bowtie", "collection")))
    geometry = {
        "point": {"type": "Point", "coordinates": [-97.0, 35.5]},
        "line": {"type": "LineString", "coordinates": [[-97.0, 35.5], [-96.0, 35.9]]},
        "null": None,
        "bowtie": {
            "type": "Polygon",
            "coordinates": [[[-97, 35], [-96, 36], [-96, 35], [-97, 36], [-97, 35]]],
        },
        "collection": {
            "type": "GeometryCollection",
            "geometries": [{"type": "Point", "coordinates": [-97, 35]}],
        },
    }[choice]
    feature["geometry"] = geometry
    return f"{layer}: geometry {choice}"


def dense_corridor(draw: Any, draft: _Draft) -> str:
    """A corridor with more vertices than a line may have (or just under)."""
    feature = _feature(draw, draft, "corridors")
    if feature is None:
        return "no corridor"
    n = draw(st.sampled_from((20_000, 120_000)))
    (x0, y0), (x1, y1) = (-97.5, 35.5), (-95.9, 36.1)  # Oklahoma City to Tulsa
    feature["geometry"] = {
        "type": "LineString",
        "coordinates": [[x0 + (x1 - x0) * i / (n - 1), y0 + (y1 - y0) * i / (n - 1)] for i in range(n)],
    }
    return f"corridors: a line of {n:,} vertices"


def web_mercator_numbers(draw: Any, draft: _Draft) -> str:
    """A layer in EPSG:3857 metres, with or without saying so in a crs member, sometimes huge."""
    layer = draw(st.sampled_from(LAYER_FILES))
    to_3857 = pyproj.Transformer.from_crs("EPSG:4326", "EPSG:3857", always_xy=True)
    for feature in draft.layers[layer]["features"]:
        for path in _vertex_paths(feature["geometry"]):
            for vertex in path:
                vertex[0], vertex[1] = to_3857.transform(vertex[0], vertex[1])
    member = draw(st.sampled_from(("none", "crs", "crs-huge")))
    if member != "none":
        draft.layers[layer]["crs"] = {"type": "name", "properties": {"name": "urn:ogc:def:crs:EPSG::3857"}}
    picked = _feature(draw, draft, layer)
    if member == "crs-huge" and picked is not None and (paths := _vertex_paths(picked["geometry"])):
        paths[0][0][1] = draw(st.sampled_from((1e12, 1e300, -4e7)))
    return f"{layer}: EPSG:3857 coordinates, {member}"


def bad_crs(draw: Any, draft: _Draft) -> str:
    """A crs member that names no CRS, or a geocentric or local one."""
    layer = draw(st.sampled_from(LAYER_FILES))
    name = draw(st.sampled_from(("EPSG:999999", "urn:ogc:def:crs:EPSG::4978", "garbage", "", "EPSG:32614")))
    draft.layers[layer]["crs"] = {"type": "name", "properties": {"name": name}}
    return f"{layer}: crs {name!r}"


def bad_field(draw: Any, draft: _Draft) -> str:
    """A field of one feature set to a value of the wrong type or size."""
    layer, column = draw(
        st.sampled_from(
            (
                ("sites", "site_id"),
                ("sites", "name"),
                ("corridors", "corridor_id"),
                ("corridors", "kind"),
                ("corridors", "cost_per_km"),
                ("corridors", "access"),
                ("corridors", "usable"),
                ("corridors", "srlg"),
                ("jurisdictions", "jurisdiction_id"),
                ("jurisdictions", "level"),
                ("jurisdictions", "permit_cost"),
                ("jurisdictions", "allowed"),
            )
        )
    )
    feature = _feature(draw, draft, layer)
    if feature is None:
        return "no feature"
    value = draw(st.sampled_from((*BAD_VALUES, "a\nb", 2, "maybe", "everywhere", -0.0)))
    feature["properties"][column] = value
    return f"{layer}.{column} = {_shown(value)}"


def duplicate_ids(draw: Any, draft: _Draft) -> str:
    """Two rows with one id; for corridors, sometimes with a different cost or kind."""
    layer = draw(st.sampled_from(("sites", "corridors", "jurisdictions")))
    features = draft.layers[layer]["features"]
    if len(features) < 2:
        return "too few features"
    i = draw(st.integers(0, len(features) - 1))
    a, b = features[i], features[(i + draw(st.integers(1, len(features) - 1))) % len(features)]
    id_field = {"sites": "site_id", "corridors": "corridor_id", "jurisdictions": "jurisdiction_id"}[layer]
    shared = a["properties"].setdefault(id_field, "dup")
    b["properties"][id_field] = shared
    if layer == "corridors" and draw(st.booleans()):
        cost = a["properties"].get("cost_per_km")
        b["properties"]["cost_per_km"] = (cost if isinstance(cost, int | float) else 0) + 1
    return f"{layer}: duplicate {id_field} {_shown(shared)}"


def missing_column(draw: Any, draft: _Draft) -> str:
    """A field removed from every feature of a layer."""
    layer, column = draw(
        st.sampled_from(
            (
                ("sites", "site_id"),
                ("corridors", "corridor_id"),
                ("corridors", "kind"),
                ("corridors", "cost_per_km"),
                ("jurisdictions", "jurisdiction_id"),
                ("jurisdictions", "level"),
            )
        )
    )
    for feature in draft.layers[layer]["features"]:
        feature["properties"].pop(column, None)
    return f"{layer}: no {column} column"


def many_levels(draw: Any, draft: _Draft) -> str:
    """Every jurisdiction a level of its own."""
    for i, feature in enumerate(draft.layers["jurisdictions"]["features"]):
        feature["properties"]["level"] = f"level-{i}"
    return "jurisdictions: one level per row"


def emptied_layer(draw: Any, draft: _Draft) -> str:
    """A layer with no features."""
    layer = draw(st.sampled_from(LAYER_FILES))
    draft.layers[layer]["features"] = []
    return f"{layer}: no features"


def file_damage(draw: Any, draft: _Draft) -> str:
    """A layer file missing, doubled, truncated, empty, binary, XML (a VRT) or a GDAL pipeline."""
    layer = draw(st.sampled_from(LAYER_FILES))
    name = f"{layer}.geojson"
    text = _layer_bytes(draft.layers[layer])
    kind = draw(
        st.sampled_from(("missing", "doubled", "truncated", "empty", "binary", "vrt", "gdalg", "latin1"))
    )
    target = f"../{OUTSIDE_TARGET}"
    if kind == "missing":
        draft.raw[name] = None
    elif kind == "doubled":
        draft.raw[f"{layer}.json"] = text
    elif kind == "truncated":
        draft.raw[name] = text[: draw(st.integers(1, max(1, len(text) - 1)))]
    elif kind == "empty":
        draft.raw[name] = b""
    elif kind == "binary":
        draft.raw[name] = bytes(draw(st.binary(min_size=1, max_size=64)))
    elif kind == "vrt":
        draft.raw[name] = (
            f"<OGRVRTDataSource><OGRVRTLayer name='{layer}'><SrcDataSource>{target}</SrcDataSource>"
            "</OGRVRTLayer></OGRVRTDataSource>"
        ).encode()
    elif kind == "gdalg":
        command = f"gdal vector pipeline ! read {target} ! write --of stream streamed_dataset"
        draft.raw[name] = json.dumps({"type": "gdal_streamed_alg", "command_line": command}).encode()
    else:
        draft.raw[name] = text.replace(b'"name"', b'"n\xe9me"', 1)
    return f"{name}: {kind}"


def scenario_settings(draw: Any, draft: _Draft) -> str:
    """A graph setting of the wrong type or out of range."""
    key, value = draw(
        st.sampled_from(
            (
                ("snap_tolerance_m", "x"),
                ("snap_tolerance_m", None),
                ("laterals_per_site", 2.5),
                ("laterals_per_site", True),
                ("counted_levels", ["cuonty"]),
                ("counted_levels", "county"),
                ("counted_levels", ["county"]),
                ("gap_km", 1e9),
                ("gap_km", math.nan),
                ("lateral_cost_per_km", 1e308),
                ("max_lateral_km", [1]),
                ("group_index", {"a": 1}),
            )
        )
    )
    draft.scenario["settings"][key] = value
    return f"settings.{key} = {_shown(value)}"


def scenario_geodata(draw: Any, draft: _Draft) -> str:
    """Per-kind or per-level defaults, or layer defaults and mappings, that cannot be used."""
    choice = draw(st.sampled_from(("permit", "kind", "defaults", "fields", "table", "crs", "path")))
    geodata = draft.scenario["geodata"]
    if choice == "permit":
        geodata["permit_cost_by_level"]["state"] = draw(st.sampled_from((1e308, math.inf, "x", -1, None)))
    elif choice == "kind":
        geodata["cost_per_km_by_kind"] = {"rail": draw(st.sampled_from((1e308, math.nan, "x", [1])))}
    elif choice in ("defaults", "fields"):
        entry: dict[str, Any] = {"path": "corridors.geojson"}
        if choice == "defaults":
            entry["defaults"] = {"cost_per_km": draw(st.sampled_from((math.nan, math.inf, 1e308, [1])))}
        else:
            entry["fields"] = {"corridor_id": draw(st.sampled_from(("nope", "kind", 5)))}
        geodata["layers"] = {"corridors": [entry]}
    elif choice == "table":
        draft.raw["sites.csv"] = b"site_id,lon,lat\nOKC1,-97.56,35.49\nTUL1,abc,36.12\nPRY1,-95.25,136.236\n"
        geodata["layers"] = {
            "sites": {"path": "sites.csv", "x_field": "lon", "y_field": "lat", "crs": "EPSG:4326"}
        }
    elif choice == "crs":
        draft.raw["sites.csv"] = b"site_id,lon,lat\nOKC1,-97.56,35.49\nTUL1,-95.9,36.12\nPRY1,-95.25,36.236\n"
        crs = draw(st.sampled_from(("EPSG:0", "nonsense", None, "EPSG:3857")))
        geodata["layers"] = {"sites": {"path": "sites.csv", "x_field": "lon", "y_field": "lat", "crs": crs}}
    else:
        geodata["path"] = draw(
            st.sampled_from(("/vsicurl/http://127.0.0.1:9/x.gpkg", "nowhere", "a\x00b", 5))
        )
    return f"geodata: {choice}"


def scenario_solver(draw: Any, draft: _Draft) -> str:
    """A solver option of the wrong type or out of range."""
    key, value = draw(
        st.sampled_from(
            (
                ("time_limit_s", "x"),
                ("time_limit_s", -1),
                ("time_limit_s", 1e308),
                ("num_workers", 0),
                ("num_workers", True),
                ("num_workers", 1e6),
                ("design_engine", 5),
                ("label_search", "yes"),
                ("stop", 5),
            )
        )
    )
    draft.scenario["solver"][key] = value
    return f"solver.{key} = {_shown(value)}"


def scenario_text(draw: Any, draft: _Draft) -> str:
    """A scenario whose name, nesting, aliases or encoding cannot be read."""
    choice = draw(st.sampled_from(("newline", "long", "control", "deep", "bomb", "latin1", "demand", "list")))
    if choice in ("newline", "long", "control"):
        draft.scenario["name"] = {"newline": "a\nb", "long": "n" * 5000, "control": "a\x07b"}[choice]
        return f"scenario name: {choice}"
    if choice == "demand":
        demand = draft.scenario["demands"][0]
        key, value = draw(
            st.sampled_from(
                (("max_latency_ms", "x"), ("a", "NOPE"), ("avoid_jurisdictions", 5), ("paths", 3))
            )
        )
        demand[key] = value
        return f"demands[0].{key} = {_shown(value)}"
    if choice == "list":
        draft.scenario["demands"][0]["avoid_jurisdictions"] = [["40001"], {"a": 1}]
        return "demands[0].avoid_jurisdictions nested"
    text = yaml.safe_dump(draft.scenario).encode()
    if choice == "deep":
        depth = draw(st.sampled_from((40, 1000, 5000)))
        text += b"description: " + b"[" * depth + b"]" * depth + b"\n"
    elif choice == "bomb":
        lines = ['l0: &l0 ["lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol"]']
        lines += [f"l{i}: &l{i} [{', '.join([f'*l{i - 1}'] * 9)}]" for i in range(1, 9)]
        text = text.replace(b"demands:", "\n".join(lines).encode() + b"\ndemands:", 1)
        text = text.replace(b"max_latency_ms: 3.0", b"max_latency_ms: 3.0\n  avoid_jurisdictions: *l8", 1)
    else:
        text = text.replace(b"name: fuzz", b"name: fuzz\xe9\xff", 1)
    draft.scenario_text = text
    return f"scenario: {choice}"


MUTATIONS: tuple[Mutation, ...] = (
    coordinate_out_of_range,
    coordinate_not_finite,
    unclosed_ring,
    one_point_line,
    wrong_geometry,
    dense_corridor,
    web_mercator_numbers,
    bad_crs,
    bad_field,
    duplicate_ids,
    missing_column,
    many_levels,
    emptied_layer,
    file_damage,
    scenario_settings,
    scenario_geodata,
    scenario_solver,
    scenario_text,
)


def _shown(value: Any) -> str:
    """A mutated value for a case's description, short."""
    text = repr(value)
    return text if len(text) <= 30 else text[:27] + "..."


def _layer_bytes(layer: dict) -> bytes:
    """A layer as GeoJSON bytes, NaN and Infinity written as JSON5-style tokens GDAL reads."""
    return json.dumps(layer, allow_nan=True).encode()


@st.composite
def cases(draw: Any, max_mutations: int = 3) -> Case:
    """A broken geodata set: the base region with one to max_mutations mutations."""
    draft = _Draft(layers=json.loads(base_layers()), scenario=copy.deepcopy(base_scenario()), raw={})
    count = draw(st.integers(1, max_mutations))
    mutations = [draw(st.sampled_from(MUTATIONS)) for _ in range(count)]
    done = tuple(m(draw, draft) for m in mutations)
    files = {f"{name}.geojson": _layer_bytes(layer) for name, layer in draft.layers.items()}
    files |= draft.raw
    files[SCENARIO_FILE] = draft.scenario_text or yaml.safe_dump(draft.scenario, allow_unicode=True).encode()
    return Case(files=tuple(sorted((k, v) for k, v in files.items() if v is not None)), mutations=done)


def write_case(case: Case, folder: Path) -> Path:
    """Write a case's files into folder (and the file outside it that VRTs point at); the scenario."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder.parent / OUTSIDE_TARGET).write_text("id,secret\n1,outside the geodata set\n")
    for name, data in case.files:
        (folder / name).write_bytes(data)
    (folder / "MUTATIONS.txt").write_text("\n".join(case.mutations) + "\n")
    return folder / SCENARIO_FILE


def write_cases(out: Path, n: int) -> list[Path]:
    """Write n seeded cases as out/case-0000 ...; their scenario files."""
    written: list[Path] = []

    @settings(
        max_examples=n,
        derandomize=True,
        database=None,
        deadline=None,
        phases=[Phase.generate],
        suppress_health_check=list(HealthCheck),
    )
    @given(case=cases())
    def collect(case: Case) -> None:
        written.append(write_case(case, out / f"case-{len(written):04d}"))

    collect()
    return written


if __name__ == "__main__":
    paths = write_cases(Path(sys.argv[1]), int(sys.argv[2]) if len(sys.argv) > 2 else 50)
    print(f"{len(paths)} cases written under {sys.argv[1]}")
