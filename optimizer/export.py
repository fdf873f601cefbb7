"""Write a solution as GIS files, a map, a report and a JSON summary, atomically, one folder each.

`write_solution` writes DIR/<scenario>/ through a staging folder renamed into place:
routes.gpkg first (the source of truth: layers `routes`, `route_segments`, `sites`,
`jurisdictions_crossed` and the `run` table), then every other format read back from it,
map.html, report.html, and summary.json last as the completion mark. `export_result` adds
formats to a finished folder later, from its routes.gpkg.

summary.json records the byte size and sha256 of every other file in the folder and a sha256
of its own canonical content, so a re-run trusts a folder (`is_complete`) only while every
file is the one written. Staging folders are named after their writer's host, pid and
process start, so a later run removes those of dead writers and never a live one's.
"""

from __future__ import annotations

import hashlib
import json
import logging
import math
import os
import re
import shutil
import socket
import tempfile
import time
from collections.abc import Mapping, Sequence
from dataclasses import fields, is_dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from optimizer import __version__
from optimizer.errors import InvalidRequestError
from optimizer.formats import (
    DEFAULT_FORMATS,
    FORMATS,
    GPKG,
    ResultLayers,
    Written,
    parse_formats,
    read_result,
    write_format,
    write_text_atomic,
)
from optimizer.graph import Network
from optimizer.mapview import map_html
from optimizer.report import report_html
from optimizer.routes import Solution
from optimizer.scenario import Scenario

__all__ = [
    "DEFAULT_FORMATS",
    "FORMATS",
    "OUTPUT_FILES",
    "STALE_STAGING_AGE_S",
    "export_result",
    "file_checksums",
    "format_exports",
    "is_complete",
    "missing_formats",
    "parse_formats",
    "remove_stale_staging",
    "result_problems",
    "routes_frame",
    "run_info_for",
    "solution_layers",
    "solution_summary",
    "staging_prefix",
    "summary_digest",
    "write_solution",
]

logger = logging.getLogger(__name__)

SUMMARY = "summary.json"
OUTPUT_FILES = (GPKG, "map.html", "report.html", SUMMARY)
"""Files every finished result folder holds, whatever its formats."""
STALE_STAGING_AGE_S = 24 * 3600.0
"""A staging folder whose writer cannot be checked (another host, an older fiberopt) is
removed once unchanged this long; writing a result takes minutes at most."""
_STAGING_KINDS = ("staging", "old")
CRS = "EPSG:4326"
_CROSSED_COLUMNS = {
    "demand_id": str,
    "route_index": "int64",
    "jurisdiction_id": str,
    "name": str,
    "level": str,
    "permit_cost": "float64",
}


def routes_frame(solution: Solution, levels: tuple[str, ...]) -> gpd.GeoDataFrame:
    """One row per route (null geometry where a demand has none), units in column names."""
    rows = []
    for r in solution.routes:
        counts = r.count_by_level
        rows.append(
            {
                "demand_id": r.demand_id,
                "route_index": r.route_index,
                "a": r.a,
                "b": r.b,
                "status": r.status.value,
                "reason": r.reason,
                "length_km": r.length_km,
                "latency_ms": r.latency_ms,
                "max_latency_ms": r.max_latency_ms,
                "cost": r.cost,
                "build_cost": r.build_cost,
                "risk_cost": r.risk_cost if r.geometry is not None else float("nan"),
                "permit_cost": r.permit_cost,
                "permit_count": r.permit_count,
                **{f"{level}_count": counts.get(level, 0) for level in levels},
                "jurisdiction_ids": ",".join(j.jurisdiction_id for j in r.jurisdictions),
                "corridor_kinds": ",".join(r.corridor_kinds),
                "outside_km": r.outside_km if r.geometry is not None else float("nan"),
                **{f"outside_km_{level}": r.outside_km_by_level.get(level, float("nan")) for level in levels},
                "shared_km": r.shared_km if r.geometry is not None else float("nan"),
                "warnings": "\n".join(r.warnings),  # one per line
                "bound": r.bound,
                "gap": r.gap,
                "solve_s": r.solve_s,
            }
        )
    return gpd.GeoDataFrame(rows, geometry=[r.geometry for r in solution.routes], crs=CRS)


def segments_frame(solution: Solution, network: Network) -> gpd.GeoDataFrame:
    """One row per graph edge of each route, in travel order, oriented from a to b.

    edge_id names the network edge; shared_by counts the demands whose routes use it and
    shared_demands lists them, so build shared by several demands stands out.
    """
    parts = [
        _route_segments(network, r.demand_id, r.route_index, r.edges, r.nodes)
        for r in solution.routes
        if r.edges
    ]
    parts = parts or [_route_segments(network, "", 0, (), ())]  # no route at all: the columns only
    frame = pd.concat(parts, ignore_index=True)
    users = frame.groupby("edge_id")["demand_id"].agg(lambda ids: sorted(set(ids)))
    listed = frame["edge_id"].map(users)
    frame["shared_by"] = listed.map(len).astype("int64")
    frame["shared_demands"] = listed.map(",".join).astype(object)
    return gpd.GeoDataFrame(frame, geometry="geometry", crs=CRS)


def _route_segments(
    network: Network, demand_id: str, route_index: int, edge_ids: Sequence[int], nodes: Sequence[int]
) -> gpd.GeoDataFrame:
    """The edges of one route as rows, geometry turned to run from a to b."""
    edges = network.edges
    idx = np.asarray(edge_ids, dtype=np.int64)
    internal = ["tail", "head", "site", *(c for c in edges.columns if c.startswith("covered_"))]
    part = edges.iloc[idx].drop(columns=internal, errors="ignore").reset_index(drop=True)
    forward = edges["tail"].to_numpy()[idx] == np.asarray(nodes[:-1], dtype=np.int64)
    geoms = np.asarray(part.geometry.values, dtype=object)
    part = part.set_geometry(gpd.GeoSeries(np.where(forward, geoms, shapely.reverse(geoms)), crs=CRS))
    juris_ids = network.jurisdictions["jurisdiction_id"].astype(str).to_numpy()
    for level in network.levels:
        column = part[f"jurisdiction_{level}"].to_numpy().astype(np.int64)
        part[f"jurisdiction_{level}"] = np.append(juris_ids, "")[column].astype(object)
    keys = edges["edge_id"].to_numpy()[idx] if "edge_id" in edges.columns else idx
    part = part.drop(columns="edge_id", errors="ignore")
    part.insert(0, "edge_id", np.asarray(keys, dtype=np.int64))
    part.insert(0, "seq", np.arange(len(part), dtype=np.int64))
    part.insert(0, "route_index", np.full(len(part), route_index, dtype=np.int64))
    part.insert(0, "demand_id", pd.Series([demand_id] * len(part), dtype=object))
    return part


def crossed_frame(solution: Solution, network: Network) -> gpd.GeoDataFrame:
    """Polygons of every jurisdiction a route enters, one row per (route, jurisdiction)."""
    juris = network.jurisdictions.set_index(network.jurisdictions["jurisdiction_id"].astype(str))
    rows, geoms = [], []
    for r in solution.routes:
        for j in r.jurisdictions:
            rows.append(
                {
                    "demand_id": r.demand_id,
                    "route_index": r.route_index,
                    "jurisdiction_id": j.jurisdiction_id,
                    "name": j.name,
                    "level": j.level,
                    "permit_cost": j.permit_cost,
                }
            )
            geoms.append(_multipolygon(juris.geometry.loc[j.jurisdiction_id]))
    table = pd.DataFrame(rows, columns=list(_CROSSED_COLUMNS)).astype(_CROSSED_COLUMNS)
    return gpd.GeoDataFrame(table, geometry=gpd.GeoSeries(geoms, crs=CRS, dtype="geometry"), crs=CRS)


def _multipolygon(geometry: shapely.Geometry) -> shapely.Geometry:
    """A polygon as a one-part MultiPolygon, so every format holds one geometry type."""
    return shapely.MultiPolygon([geometry]) if geometry.geom_type == "Polygon" else geometry


def sites_frame(network: Network) -> gpd.GeoDataFrame:
    """Sites with whether they reach the network, and why not."""
    sites = network.sites[["site_id", "name", "geometry"]].copy()
    sites["reachable"] = ~sites["site_id"].isin(list(network.unreachable))
    sites["reason"] = [network.unreachable.get(s, "") for s in sites["site_id"]]
    return sites


def run_frame(scenario_digest: str, run_info: Mapping[str, Any] | None) -> pd.DataFrame:
    """The `run` table: one row saying what produced the result (software, scenario, settings)."""
    row = {
        "software": f"fiberopt {__version__}",
        "created_utc": datetime.now(UTC).isoformat(timespec="seconds"),
        "run_sha256": scenario_digest,
    }
    for key, value in (run_info or {}).items():
        row[key] = value if isinstance(value, str) else json.dumps(_plain(value), sort_keys=True)
    return pd.DataFrame([row])


def _plain(value: Any) -> Any:
    """Dataclasses, mappings and tuples as JSON-ready dicts and lists."""
    if is_dataclass(value) and not isinstance(value, type):
        return {f.name: _plain(getattr(value, f.name)) for f in fields(value)}
    if isinstance(value, Mapping):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    return value


def run_info_for(scenario: Scenario) -> dict[str, Any]:
    """What the `run` table records of a scenario: its file, YAML text, settings and solver options."""
    return {
        "scenario_name": scenario.name,
        "scenario_file": str(scenario.path),
        "scenario_sha256": scenario.digest,
        "scenario_yaml": scenario.path.read_text(encoding="utf-8"),
        "settings_json": scenario.settings,
        "solver_json": scenario.solver,
    }


def solution_layers(
    solution: Solution,
    network: Network,
    *,
    scenario_digest: str = "",
    run_info: Mapping[str, Any] | None = None,
) -> ResultLayers:
    """The solution as the GeoPackage's layers and run table."""
    return ResultLayers(
        name=solution.name,
        routes=routes_frame(solution, network.levels),
        route_segments=segments_frame(solution, network),
        sites=sites_frame(network),
        jurisdictions_crossed=crossed_frame(solution, network),
        run=run_frame(scenario_digest, run_info),
    )


def solution_summary(solution: Solution, network: Network, *, scenario_digest: str = "") -> dict:
    """The solution as plain JSON-ready data (the files written are added when they are)."""
    routes = routes_frame(solution, network.levels)
    records = json.loads(routes.drop(columns="geometry").to_json(orient="records"))
    for record, route in zip(records, solution.routes, strict=True):
        record["jurisdictions"] = [j.__dict__ for j in route.jurisdictions]
        record["count_by_level"] = route.count_by_level
    return {
        "name": solution.name,
        "software": f"fiberopt {__version__}",
        "scenario_sha256": scenario_digest,
        "status": solution.status,
        "total_cost": solution.total_cost,
        "total_cost_note": _cost_note(solution),
        "design": _finite(_design(solution)),
        "jurisdictions_overall": list(solution.jurisdictions_overall),
        "timings_s": solution.timings_s,
        "graph": network.stats.as_dict(),
        "routes": _finite(records),
        "warnings": [
            f"{r.demand_id} route {r.route_index}: {w}" for r in solution.routes for w in r.warnings
        ],
        "files": list(OUTPUT_FILES),
    }


def _cost_note(solution: Solution) -> str:
    """What total_cost means for this solution."""
    if solution.shared_build:
        return "shared build: demands designed together, each edge and permit paid once"
    return "each demand optimized on its own; total counts each edge and permit once"


def _design(solution: Solution) -> dict | None:
    """The design summary as plain data, with what sharing saves."""
    d = solution.design
    if d is None:
        return None
    return {
        "shared_build": d.shared_build,
        "cost": d.cost,
        "bound": d.bound,
        "gap": d.gap,
        "independent_cost": d.independent_cost,
        "unsolved_demands": d.unsolved_demands,
        "proof": d.proof,
        "saving": d.independent_cost - d.cost,
        "sum_of_route_costs": float(sum(r.cost for r in solution.routes if r.geometry is not None)),
    }


def _finite(value):
    """JSON has no NaN or Infinity: use null."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {k: _finite(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_finite(v) for v in value]
    return value


def _umask() -> int:
    """The process umask (read by setting and restoring it)."""
    mask = os.umask(0)
    os.umask(mask)
    return mask


# -- staging folders: whose they are, and whether their writer still lives -------------------


def _host_label() -> str:
    """This host's name as one dot-free token of a folder name."""
    return re.sub(r"[^A-Za-z0-9-]", "-", socket.gethostname())[:63] or "unknown"


def _process_start(pid: int) -> str:
    """When process pid started (clock ticks since boot, from /proc), or "0" where unknown."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text(encoding="ascii", errors="replace")
        return stat.rsplit(")", 1)[1].split()[19]  # field 22, counted after the command name
    except (OSError, IndexError):
        return "0"


def staging_prefix(name: str, kind: str = "staging") -> str:
    """Prefix of a staging folder of scenario name: `.<name>.<kind>.<host>.<pid>.<start>.`."""
    pid = os.getpid()
    return f".{name}.{kind}.{_host_label()}.{pid}.{_process_start(pid)}."


def _writer_alive(host: str, pid: int, start: str) -> bool | None:
    """Whether the process that named a staging folder still runs; None where it cannot be told."""
    if host != _host_label() or pid <= 0 or os.name == "nt":  # on Windows os.kill terminates
        return None
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        pass  # it exists, under another user
    except (OSError, OverflowError):
        return None
    now = _process_start(pid)
    if start == "0" or now == "0":
        return None  # a live pid, but it may have been reused
    return now == start


def _staging_writer(name: str, folder: Path) -> tuple[str, int, str] | None:
    """(host, pid, start) of a staging folder of name, ("", 0, "0") if unknown; None if not one."""
    rest = folder.name[len(name) + 2 :].split(".")
    if len(rest) == 5 and rest[0] in _STAGING_KINDS and rest[2].isdigit():
        return rest[1], int(rest[2]), rest[3]
    # older fiberopt named them `.<name>.<random>` and `.<name>.old.<random>` (mkdtemp's 8 characters)
    legacy = rest[1:] if len(rest) == 2 and rest[0] == "old" else rest
    return ("", 0, "0") if len(legacy) == 1 and re.fullmatch(r"[a-z0-9_]{8}", legacy[0]) else None


def _is_stale(name: str, folder: Path, stale_after_s: float) -> bool:
    """Whether a staging folder belongs to a writer that is gone (or is too old to be live)."""
    writer = _staging_writer(name, folder)
    if writer is None:
        return False
    if (alive := _writer_alive(*writer)) is not None:
        return not alive
    try:
        return time.time() - folder.stat().st_mtime > stale_after_s
    except OSError:
        return False


def remove_stale_staging(
    out_dir: Path, name: str, *, stale_after_s: float = STALE_STAGING_AGE_S
) -> tuple[Path, ...]:
    """Remove scenario name's staging folders in out_dir left by killed writers; returns them."""
    out_dir = Path(out_dir)
    try:
        candidates = [p for p in out_dir.iterdir() if p.name.startswith(f".{name}.") and p.is_dir()]
    except OSError:
        return ()
    removed = tuple(p for p in sorted(candidates) if _is_stale(name, p, stale_after_s))
    for path in removed:
        logger.info("%s: removing staging folder of a writer that is gone", path)
        shutil.rmtree(path, ignore_errors=True)
    return removed


# -- writing -------------------------------------------------------------------------------


def write_solution(
    solution: Solution,
    network: Network,
    out_dir: Path,
    *,
    scenario_digest: str = "",
    run_info: Mapping[str, Any] | None = None,
    formats: Sequence[str] = DEFAULT_FORMATS,
    stale_after_s: float = STALE_STAGING_AGE_S,
) -> Path:
    """Write DIR/<name>/ with every output file, replacing any older folder atomically.

    Staging folders of this scenario left by dead writers are removed first (see
    `remove_stale_staging`; stale_after_s bounds those whose writer cannot be checked).
    """
    formats = parse_formats(formats)
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    final = out_dir / solution.name
    remove_stale_staging(out_dir, solution.name, stale_after_s=stale_after_s)
    staging = Path(tempfile.mkdtemp(prefix=staging_prefix(solution.name), dir=out_dir))
    staging.chmod(0o777 & ~_umask())  # mkdtemp makes 0700; results are for sharing like any folder
    try:
        layers = solution_layers(solution, network, scenario_digest=scenario_digest, run_info=run_info)
        summary = solution_summary(solution, network, scenario_digest=scenario_digest)
        _write_files(layers, staging, formats, summary)
        if final.exists():
            old = Path(tempfile.mkdtemp(prefix=staging_prefix(solution.name, "old"), dir=out_dir))
            os.replace(final, old / "x")
            os.replace(staging, final)
            shutil.rmtree(old, ignore_errors=True)
        else:
            os.replace(staging, final)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return final


def _write_files(layers: ResultLayers, folder: Path, formats: Sequence[str], summary: dict) -> None:
    """routes.gpkg, the other formats read back from it, map, report; summary.json last."""
    written = {"gpkg": write_format(layers, folder, "gpkg")}
    layers = read_result(folder, name=layers.name)  # every other file says what the GeoPackage holds
    written |= {fmt: write_format(layers, folder, fmt) for fmt in formats if fmt != "gpkg"}
    write_text_atomic(folder / "map.html", map_html(layers))
    write_text_atomic(folder / "report.html", report_html(layers, summary))
    _write_summary(folder, summary, written)


def _write_summary(folder: Path, summary: dict, written: Mapping[str, Written]) -> None:
    """Record the formats written (and what each dropped) and every file's digest; write summary.json."""
    exports = dict(summary.get("exports", {}))
    exports |= {fmt: w.as_dict() for fmt, w in written.items()}
    checksums = file_checksums(folder)
    body = {
        **{k: v for k, v in summary.items() if k != "summary_sha256"},
        "formats": [f for f in FORMATS if f in exports],
        "exports": {f: exports[f] for f in FORMATS if f in exports},
        "files": sorted({*checksums, SUMMARY}),
        "checksums": checksums,
    }
    body = json.loads(json.dumps(_finite(body)))  # the digest is of what reading the file gives
    body["summary_sha256"] = summary_digest(body)
    write_text_atomic(folder / SUMMARY, json.dumps(body, indent=2) + "\n")


def export_result(folder: Path, formats: Sequence[str]) -> dict[str, Written]:
    """Write more formats into a finished result folder, from its routes.gpkg; summary.json last.

    The folder must verify against its summary first, so a damaged file is never re-recorded.
    """
    folder = Path(folder)
    summary = _read_summary(folder)
    if summary is None:
        raise InvalidRequestError(
            f"{folder}: no readable summary.json, so not a finished result of `fiberopt solve`; "
            f"solve the scenario again"
        )
    if problems := result_problems(folder):
        raise InvalidRequestError(
            f"{folder}/{problems[0]}; not the result `fiberopt solve` wrote; solve the scenario again"
        )
    layers = read_result(folder)
    written = {fmt: write_format(layers, folder, fmt) for fmt in parse_formats(formats)}
    _write_summary(folder, summary, written)
    return written


# -- verifying -----------------------------------------------------------------------------


def _sha256_file(path: Path) -> str:
    """The sha256 of a file's bytes, in hex."""
    with open(path, "rb") as f:
        return hashlib.file_digest(f, "sha256").hexdigest()


def _folder_files(folder: Path) -> set[str]:
    """Every file under folder (relative, with /), summary.json aside."""
    return {p.relative_to(folder).as_posix() for p in folder.rglob("*") if p.is_file()} - {SUMMARY}


def file_checksums(folder: Path) -> dict[str, dict[str, int | str]]:
    """{relative path: {"bytes", "sha256"}} of every file under folder but summary.json, sorted."""
    folder = Path(folder)
    return {
        rel: {"bytes": (folder / rel).stat().st_size, "sha256": _sha256_file(folder / rel)}
        for rel in sorted(_folder_files(folder))
    }


def summary_digest(summary: Mapping[str, Any]) -> str:
    """The sha256 of a summary's canonical JSON (sorted keys, no spaces), its own digest aside."""
    body = {k: v for k, v in summary.items() if k != "summary_sha256"}
    text = json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def _recorded(summary: Mapping[str, Any]) -> dict[str, tuple[int, str]] | None:
    """The checksums a summary records as {path: (bytes, sha256)}, or None where it has none."""
    checksums = summary.get("checksums")
    if not isinstance(checksums, dict) or not checksums:
        return None
    out = {}
    for rel, entry in checksums.items():
        size, digest = (entry.get("bytes"), entry.get("sha256")) if isinstance(entry, dict) else (None, None)
        if type(size) is not int or not isinstance(digest, str):
            return None
        out[rel] = (size, digest)
    return out


def _summary_problems(summary: Mapping[str, Any] | None, scenario_digest: str | None) -> tuple[str, ...]:
    """What is wrong with a summary itself: unreadable, another run, edited, no digests."""
    if summary is None:
        return (f"{SUMMARY}: missing or unreadable",)
    if _recorded(summary) is None:
        return (f"{SUMMARY}: records no file digests (written by an older fiberopt)",)
    if summary.get("summary_sha256") != summary_digest(summary):
        return (f"{SUMMARY}: changed since it was written (its own sha256 differs)",)
    if scenario_digest is not None and summary.get("scenario_sha256") != scenario_digest:
        return (f"{SUMMARY}: written for another run (scenario, geodata or software changed)",)
    return ()


def _layout_problems(folder: Path, recorded: Mapping[str, tuple[int, str]]) -> list[str]:
    """Files missing, added or of another size than recorded (cheap: no file is read)."""
    present = _folder_files(folder)
    problems = [f"{rel}: missing" for rel in sorted({*recorded, *OUTPUT_FILES} - present - {SUMMARY})]
    problems += [f"{rel}: not recorded in {SUMMARY}" for rel in sorted(present - set(recorded))]
    for rel in sorted(present & set(recorded)):
        size = (folder / rel).stat().st_size
        if size != recorded[rel][0]:
            problems.append(f"{rel}: {size} bytes, {SUMMARY} records {recorded[rel][0]}")
    return problems


def result_problems(folder: Path, scenario_digest: str | None = None) -> tuple[str, ...]:
    """Why a result folder is not exactly what write_solution wrote (for this run); empty if it is.

    Sizes are compared before any file is hashed; scenario_digest None skips the run check.
    """
    folder = Path(folder)
    summary = _read_summary(folder)
    if problems := _summary_problems(summary, scenario_digest):
        return problems
    recorded = _recorded(summary)
    try:
        if problems := _layout_problems(folder, recorded):
            return tuple(problems)
        return tuple(
            f"{rel}: content differs from the sha256 {SUMMARY} records"
            for rel, (_, digest) in recorded.items()
            if _sha256_file(folder / rel) != digest
        )
    except OSError as exc:  # removed or unreadable while checked
        return (f"{SUMMARY}: cannot check the files: {exc.strerror or exc}",)


def _read_summary(folder: Path) -> dict | None:
    """A result folder's summary.json, or None where it is missing or unreadable."""
    try:
        summary = json.loads((Path(folder) / SUMMARY).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return summary if isinstance(summary, dict) else None


def is_complete(folder: Path, scenario_digest: str) -> bool:
    """Whether folder holds finished outputs of this run, every file as written."""
    return not result_problems(folder, scenario_digest)


def missing_formats(folder: Path, formats: Sequence[str]) -> tuple[str, ...]:
    """Formats asked for that a finished result folder does not hold yet."""
    held = set((_read_summary(folder) or {}).get("formats", ()))
    return tuple(f for f in parse_formats(formats) if f not in held)


def format_exports(
    name: str,
    written: Mapping[str, Written] | None = None,
    *,
    folder: Path | None = None,
    with_files: bool = True,
) -> str:
    """Lines saying what each format wrote (with_files) and what it could not hold.

    From `written`, or from the `exports` a result folder's summary.json records.
    """
    if written is None:
        exports = (_read_summary(folder) or {}).get("exports", {}) if folder else {}
        written = {f: Written(f, tuple(e["files"]), tuple(e["dropped"])) for f, e in exports.items()}
    lines = []
    for fmt, w in written.items():
        if with_files:
            shown = (
                ", ".join(w.files)
                if len(w.files) <= 4
                else f"{len(w.files)} files in {Path(w.files[0]).parent}/"
            )
            lines.append(f"{name}: {fmt}: wrote {shown}")
        lines += [f"{name}: {fmt}: dropped {note}" for note in w.dropped]
    return "\n".join(lines)
