"""Resume that verifies: a re-run trusts a result folder only while every file is the one written,
and staging folders of killed writers are removed, never a live writer's."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path
from types import SimpleNamespace

import pytest
import yaml

from optimizer.cli import main
from optimizer.errors import InvalidRequestError
from optimizer.export import (
    STALE_STAGING_AGE_S,
    export_result,
    file_checksums,
    is_complete,
    missing_formats,
    remove_stale_staging,
    result_problems,
    run_info_for,
    staging_prefix,
    summary_digest,
    write_solution,
)
from optimizer.formats import read_result
from optimizer.pipeline import run_digest, solve_scenario
from optimizer.scenario import load_scenario

ROOT = Path(__file__).resolve().parents[1]
SAMPLE = ROOT / "geodata" / "sample"
NAME = "one"


@pytest.fixture(scope="module")
def solved(tmp_path_factory):
    """One demand of the sample network, solved once (well under a second)."""
    path = tmp_path_factory.mktemp("scenario") / "one.yaml"
    raw = {
        "name": NAME,
        "geodata": str(SAMPLE),  # the set with its own defaults (geodata.yaml), as the sample has it
        "demands": [{"id": "stl-ind", "a": "STL1", "b": "IND1", "max_latency_ms": 2.0}],
    }
    path.write_text(yaml.safe_dump(raw))
    scenario = load_scenario(path)
    solution, network = solve_scenario(scenario)
    return SimpleNamespace(scenario=scenario, solution=solution, network=network, digest=run_digest(scenario))


def _write(solved, out: Path, formats=("gpkg", "geojson")) -> Path:
    """The solution written by the real write_solution."""
    return write_solution(
        solved.solution,
        solved.network,
        out,
        scenario_digest=solved.digest,
        run_info=run_info_for(solved.scenario),
        formats=formats,
    )


def _summary(folder: Path) -> dict:
    return json.loads((folder / "summary.json").read_text(encoding="utf-8"))


def _dead_pid() -> int:
    """The pid of a process that has exited (and been reaped)."""
    child = subprocess.Popen([sys.executable, "-c", ""])
    child.wait()
    return child.pid


def _staging(
    out: Path, name: str, *, pid: int | None = None, start: str | None = None, host=None, token="abcd1234"
) -> Path:
    """A staging folder named as write_solution names them, for another writer if asked."""
    kind, my_host, my_pid, my_start, _ = staging_prefix(name)[len(name) + 2 :].split(".")
    parts = [kind, host or my_host, str(pid or my_pid), start or my_start, token]
    folder = out / f".{name}.{'.'.join(parts)}"
    folder.mkdir(parents=True)
    (folder / "routes.gpkg").write_bytes(b"half written")
    return folder


def _age(folder: Path, seconds: float) -> None:
    """Make a folder look unchanged for seconds."""
    then = time.time() - seconds
    os.utime(folder, (then, then))


# -- what write_solution records ------------------------------------------------------------


def test_summary_records_every_file_and_its_own_digest(solved, tmp_path):
    folder = _write(solved, tmp_path, formats=("gpkg", "geojson", "shp", "csv"))
    summary = _summary(folder)
    on_disk = sorted(p.relative_to(folder).as_posix() for p in folder.rglob("*") if p.is_file())
    assert sorted(summary["checksums"]) == [f for f in on_disk if f != "summary.json"]
    assert {"routes.gpkg", "map.html", "report.html", "shapefile/routes.dbf", "csv/run.csv"} <= set(
        summary["checksums"]
    )
    assert summary["checksums"] == file_checksums(folder)
    assert summary["files"] == on_disk
    assert summary["summary_sha256"] == summary_digest(summary)
    assert is_complete(folder, solved.digest) and result_problems(folder, solved.digest) == ()
    assert not is_complete(folder, "another run")


# -- what a re-run does not trust -----------------------------------------------------------


def test_truncated_geopackage_is_not_complete(solved, tmp_path):
    folder = _write(solved, tmp_path)
    size = (folder / "routes.gpkg").stat().st_size
    os.truncate(folder / "routes.gpkg", 4096)
    assert not is_complete(folder, solved.digest)
    assert result_problems(folder, solved.digest) == (
        f"routes.gpkg: 4096 bytes, summary.json records {size}",
    )


def test_same_size_change_is_caught_by_the_digest(solved, tmp_path):
    folder = _write(solved, tmp_path)
    path = folder / "routes.geojson"
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0x01
    path.write_bytes(bytes(data))
    assert result_problems(folder, solved.digest) == (
        "routes.geojson: content differs from the sha256 summary.json records",
    )


@pytest.mark.parametrize(
    "edit",
    [
        lambda s: s["routes"][0].update(cost=1.0),
        lambda s: s.update(total_cost=s["total_cost"] * 2),
        lambda s: s.update(formats=[*s["formats"], "kml"]),
        lambda s: s["checksums"].pop("map.html"),
        lambda s: s.update(scenario_sha256="0" * 64),  # claims another run, digest kept
    ],
    ids=["route-cost", "total-cost", "formats", "checksums", "run"],
)
def test_hand_edited_summary_is_not_complete(solved, tmp_path, edit):
    folder = _write(solved, tmp_path)
    summary = _summary(folder)
    edit(summary)
    (folder / "summary.json").write_text(json.dumps(summary, indent=2), encoding="utf-8")
    assert not is_complete(folder, solved.digest)
    assert result_problems(folder, solved.digest)[0].startswith("summary.json: changed since it was written")


def test_summary_rewritten_with_the_same_content_is_still_complete(solved, tmp_path):
    folder = _write(solved, tmp_path)
    summary = _summary(folder)
    (folder / "summary.json").write_text(json.dumps(summary, indent=4, sort_keys=True), encoding="utf-8")
    assert is_complete(folder, solved.digest)  # the digest is of the content, not the layout


def test_deleted_or_added_format_file_is_not_complete(solved, tmp_path):
    folder = _write(solved, tmp_path)
    moved = (folder / "sites.geojson").rename(tmp_path / "sites.geojson")
    assert result_problems(folder, solved.digest) == ("sites.geojson: missing",)
    moved.rename(folder / "sites.geojson")
    assert is_complete(folder, solved.digest)
    (folder / "routes.kml").write_text("<kml/>", encoding="utf-8")  # a format it never wrote
    assert result_problems(folder, solved.digest) == ("routes.kml: not recorded in summary.json",)
    (folder / "routes.kml").unlink()
    (folder / "shapefile").mkdir()
    (folder / "shapefile" / "routes.shp").write_bytes(b"x")
    assert not is_complete(folder, solved.digest)


def test_summary_of_an_older_version_is_not_complete(solved, tmp_path):
    folder = _write(solved, tmp_path)
    summary = _summary(folder)
    del summary["checksums"], summary["summary_sha256"]  # as fiberopt wrote it before digests
    (folder / "summary.json").write_text(json.dumps(summary, indent=2), encoding="utf-8")
    assert result_problems(folder, solved.digest) == (
        "summary.json: records no file digests (written by an older fiberopt)",
    )
    with pytest.raises(InvalidRequestError, match=r"older fiberopt\); not the result"):
        export_result(folder, ["kml"])  # nor would it record digests of files it never checked


def test_missing_folder_or_summary_is_not_complete(solved, tmp_path):
    assert not is_complete(tmp_path / "nothing", solved.digest)
    folder = _write(solved, tmp_path)
    (folder / "summary.json").write_text("{not json", encoding="utf-8")
    assert result_problems(folder, solved.digest) == ("summary.json: missing or unreadable",)


# -- export_result keeps the record and refuses damaged folders ------------------------------


def test_export_records_the_new_files(solved, tmp_path):
    folder = _write(solved, tmp_path, formats=("gpkg",))
    gpkg = _summary(folder)["checksums"]["routes.gpkg"]
    export_result(folder, ["kml", "fgb"])
    summary = _summary(folder)
    assert {"routes.kml", "routes.fgb", "sites.fgb"} <= set(summary["checksums"])
    assert summary["checksums"]["routes.gpkg"] == gpkg
    assert missing_formats(folder, ["kml", "fgb"]) == () and is_complete(folder, solved.digest)


def test_export_refuses_a_damaged_folder_and_records_nothing(solved, tmp_path):
    folder = _write(solved, tmp_path, formats=("gpkg",))
    before = (folder / "summary.json").read_bytes()
    os.truncate(folder / "routes.gpkg", 4096)
    with pytest.raises(InvalidRequestError, match=r"routes.gpkg: 4096 bytes, summary.json records \d+"):
        export_result(folder, ["kml"])
    assert (folder / "summary.json").read_bytes() == before and not (folder / "routes.kml").exists()


def test_failed_export_leaves_a_folder_that_still_verifies(solved, tmp_path, monkeypatch):
    from optimizer import formats

    folder = _write(solved, tmp_path, formats=("gpkg",))

    def killed(layers, temp):
        (temp / "routes.kml").write_text("<kml><Document>", encoding="utf-8")  # half written
        raise OSError("killed")

    monkeypatch.setitem(formats._WRITERS, "kml", killed)
    with pytest.raises(OSError, match="killed"):
        export_result(folder, ["kml"])
    assert is_complete(folder, solved.digest) and missing_formats(folder, ["kml"]) == ("kml",)


# -- stale staging folders ------------------------------------------------------------------


def test_staging_of_a_dead_writer_is_removed_and_a_live_one_kept(tmp_path):
    dead = _staging(tmp_path, NAME, pid=_dead_pid())
    live = _staging(tmp_path, NAME)  # this test's own pid: a live concurrent writer
    _age(live, 10 * STALE_STAGING_AGE_S)  # however old it looks
    assert remove_stale_staging(tmp_path, NAME) == (dead,)
    assert not dead.exists() and live.is_dir()


def test_staging_of_a_reused_pid_is_removed(tmp_path):
    reused = _staging(tmp_path, NAME, start="1")  # our pid, but a process that started at another time
    assert remove_stale_staging(tmp_path, NAME) == (reused,)


def test_staging_that_cannot_be_checked_is_removed_only_when_old(tmp_path):
    fresh = _staging(tmp_path, NAME, host="other-host", pid=12)
    old = _staging(tmp_path, NAME, host="other-host", pid=13, token="efgh5678")
    legacy_fresh, legacy_old = tmp_path / f".{NAME}.k2j4h6g8", tmp_path / f".{NAME}.old.q1w2e3r4"
    legacy_fresh.mkdir(), legacy_old.mkdir()
    _age(old, STALE_STAGING_AGE_S + 60)
    _age(legacy_old, STALE_STAGING_AGE_S + 60)
    assert set(remove_stale_staging(tmp_path, NAME)) == {old, legacy_old}
    assert fresh.is_dir() and legacy_fresh.is_dir()


def test_only_this_scenarios_staging_folders_are_touched(tmp_path):
    others = [
        _staging(tmp_path, f"{NAME}.b", pid=_dead_pid()),  # another scenario's, named one.b
        tmp_path / f".{NAME}.notes",
        tmp_path / f"{NAME}-2",
    ]
    for folder in others[1:]:
        folder.mkdir()
        _age(folder, 10 * STALE_STAGING_AGE_S)
    assert remove_stale_staging(tmp_path, NAME) == ()
    assert all(folder.is_dir() for folder in others)


def test_write_solution_removes_dead_staging_first(solved, tmp_path):
    dead = _staging(tmp_path, NAME, pid=_dead_pid(), start="0")
    _staging(tmp_path / "elsewhere", NAME, pid=_dead_pid())
    live = _staging(tmp_path, NAME)
    folder = _write(solved, tmp_path)
    assert not dead.exists() and live.is_dir() and is_complete(folder, solved.digest)
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted([NAME, live.name, "elsewhere"])


# -- the CLI end to end ---------------------------------------------------------------------


def test_cli_rerun_redoes_a_damaged_folder(tmp_path, capsys):
    scenario = SAMPLE / "scenario.yaml"
    name = yaml.safe_load(scenario.read_text())["name"]
    folder = tmp_path / name
    assert main(["solve", str(scenario), "--out", str(tmp_path), "--quiet"]) == 0
    digest = run_digest(load_scenario(scenario))
    assert is_complete(folder, digest)
    os.truncate(folder / "routes.gpkg", 4096)  # a copy cut short, a full disk ...
    dead = _staging(tmp_path, name, pid=_dead_pid())
    live = _staging(tmp_path, name)
    capsys.readouterr()
    assert main(["solve", str(scenario), "--out", str(tmp_path), "--quiet"]) == 0
    out = capsys.readouterr().out
    assert "skipped" not in out and f"{name}: wrote {folder}" in out
    assert (folder / "routes.gpkg").stat().st_size > 4096 and is_complete(folder, digest)
    assert len(read_result(folder).routes) == len(_summary(folder)["routes"])
    assert not dead.exists() and live.is_dir()
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted([name, live.name])
    capsys.readouterr()
    assert main(["solve", str(scenario), "--out", str(tmp_path), "--quiet"]) == 0
    assert "skipped" in capsys.readouterr().out  # what it wrote, it trusts
