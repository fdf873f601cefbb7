"""The generated API code is what `make proto` makes from the committed .proto (no hand edits)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
GENERATED = ROOT / "optimizer" / "api" / "fiberopt" / "v1"


def test_generated_code_is_up_to_date(tmp_path):
    pytest.importorskip("grpc_tools", reason="grpcio-tools (dev extra) generates the API code")
    command = [
        sys.executable,
        "-m",
        "grpc_tools.protoc",
        f"-Ioptimizer/api={ROOT / 'protos'}",
        f"--python_out={tmp_path}",
        f"--grpc_python_out={tmp_path}",
        f"--pyi_out={tmp_path}",
        "optimizer/api/fiberopt/v1/route_optimizer.proto",
    ]
    subprocess.run(command, check=True, cwd=ROOT)
    fresh = tmp_path / "optimizer" / "api" / "fiberopt" / "v1"
    for name in ("route_optimizer_pb2.py", "route_optimizer_pb2.pyi", "route_optimizer_pb2_grpc.py"):
        assert (fresh / name).read_text() == (GENERATED / name).read_text(), f"run `make proto`: {name}"
