"""Broken geodata sets through the real CLI, in process: never a traceback, one clean line on exit 2.

FIBEROPT_FUZZ_GEODATA=N runs N cases (default 150; `make fuzz` runs 500). Cases are seeded and
the same on every run (hypothesis, derandomized); tests/fuzz_geodata.py says what they break.
"""

from __future__ import annotations

import os
import traceback
from pathlib import Path

import numpy as np
import pyogrio
import shapely
from hypothesis import HealthCheck, Phase, given, settings

from optimizer.cli import main
from tests.fuzz_geodata import OUTSIDE_TARGET, Case, cases, write_case

CASES = int(os.environ.get("FIBEROPT_FUZZ_GEODATA", "150"))
OUTPUT_SUFFIXES = (".gpkg", ".geojson")


def _output_coordinates_in_range(folder: Path) -> list[str]:
    """Every vertex of every GIS file written, checked finite and within lon/lat; what is not."""
    bad = []
    for path in sorted(p for p in folder.rglob("*") if p.suffix in OUTPUT_SUFFIXES):
        for layer, _ in pyogrio.list_layers(path):
            frame = pyogrio.read_dataframe(path, layer=layer)
            if "geometry" not in frame:
                continue
            xy = shapely.get_coordinates(frame.geometry.values)
            ok = np.isfinite(xy).all() and (np.abs(xy[:, 0]) <= 180).all() and (np.abs(xy[:, 1]) <= 90).all()
            if not ok:
                bad.append(f"{path.name}:{layer}")
    return bad


def _run(case: Case, folder: Path, capfd) -> tuple[int, str]:
    """Solve a case's scenario with the CLI; its exit code and what it wrote to stderr."""
    scenario = write_case(case, folder / "set")
    capfd.readouterr()
    try:
        code = main(["solve", str(scenario), "--out", str(folder / "out"), "--quiet", "--format", "gpkg"])
    except Exception as exc:  # the point: nothing may escape
        frame = traceback.extract_tb(exc.__traceback__)[-1]
        raise AssertionError(
            f"{case!r}: {type(exc).__name__}: {exc} at {frame.filename}:{frame.lineno} ({frame.name})"
        ) from exc
    return code, capfd.readouterr().err


@settings(
    max_examples=CASES,
    derandomize=True,
    database=None,
    deadline=None,
    phases=[Phase.generate],
    suppress_health_check=list(HealthCheck),
)
@given(case=cases())
def test_broken_geodata_never_escapes_the_cli(case, tmp_path_factory, capfd):
    folder = tmp_path_factory.mktemp("case")
    code, err = _run(case, folder, capfd)
    assert code in (0, 1, 2), f"{case!r}: exit {code}"
    if code == 2:
        assert err.startswith("fiberopt: error: ") and err.count("\n") == 1, f"{case!r}: stderr {err!r}"
        assert "outside the geodata set" not in err, f"{case!r}: {OUTSIDE_TARGET} was read"
    else:
        hostile = any(data.startswith(b"<OGRVRT") or b"gdal_streamed_alg" in data for _, data in case.files)
        assert not hostile, f"{case!r}: a VRT or GDAL pipeline was accepted (exit {code})"
        assert not (bad := _output_coordinates_in_range(folder / "out")), f"{case!r}: out of range in {bad}"
