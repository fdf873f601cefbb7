"""The service under hostile or huge input: builds stop at the deadline and stay under a memory
cap, errors are bounded and sanitized with field violations, and bad requests are never INTERNAL."""

from __future__ import annotations

import io
import json
import math
import time
import zipfile
from pathlib import Path

import geopandas as gpd
import grpc
import pytest
from google.rpc import error_details_pb2
from grpc_status import rpc_status
from shapely import LineString, Point

from optimizer.api.fiberopt.v1 import route_optimizer_pb2 as pb
from optimizer.client import connect
from optimizer.server import create_server
from optimizer.service import ServiceLimits

ROOT = Path(__file__).resolve().parents[1]
SAMPLE = ROOT / "geodata" / "sample"


@pytest.fixture(scope="module")
def server():
    """A real server on a free loopback port with the sample preloaded."""
    running = create_server(ROOT / "geodata", port=0, host="127.0.0.1", preload=("sample",))
    yield running
    running.stop(grace_s=0)


@pytest.fixture(scope="module")
def stub(server):
    """A raw stub on a real channel (the client would hide some of what is checked here)."""
    with connect(f"127.0.0.1:{server.port}", timeout_s=60) as client:
        yield client.stub


def _error(call, request, **kwargs) -> grpc.RpcError:
    """The error a call ends with (it must end with one)."""
    with pytest.raises(grpc.RpcError) as info:
        call(request, timeout=kwargs.pop("timeout", 60), **kwargs)
    return info.value


def _zip(files: dict[str, bytes]) -> bytes:
    """A zip archive of the given files."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in files.items():
            archive.writestr(name, data)
    return buffer.getvalue()


def _sample_files() -> dict[str, bytes]:
    """The sample set's layer files by name."""
    return {p.name: p.read_bytes() for p in SAMPLE.glob("*.geojson")}


def write_dense_set(folder: Path, n: int = 700) -> Path:
    """Two crossing families of n corridors each: a legitimate set whose noding takes many seconds."""
    lines = []
    for i in range(n):
        lines.append(LineString([(-100, 35 + i * 0.004), (-97, 35.5 + i * 0.004)]))
        lines.append(LineString([(-100 + i * 0.004, 34.9), (-99.7 + i * 0.004, 38)]))
    gpd.GeoDataFrame(
        {"corridor_id": [f"c{i}" for i in range(len(lines))], "kind": "rail", "cost_per_km": 1000.0},
        geometry=lines,
        crs="EPSG:4326",
    ).to_file(folder / "corridors.geojson")
    gpd.GeoDataFrame(
        {"site_id": ["A", "B"]}, geometry=[Point(-100, 35), Point(-97, 38)], crs="EPSG:4326"
    ).to_file(folder / "sites.geojson")
    return folder


def _inline(folder: Path) -> pb.LoadNetworkRequest:
    """A LoadNetwork request carrying a folder's layer files as a zip."""
    return pb.LoadNetworkRequest(inline_data=_zip({p.name: p.read_bytes() for p in folder.iterdir()}))


def test_load_network_stops_at_the_deadline_and_caches_nothing(server, stub, tmp_path):
    request = _inline(write_dense_set(tmp_path))
    started = time.monotonic()
    error = _error(stub.LoadNetwork, request, timeout=1.0)
    elapsed = time.monotonic() - started
    assert error.code() == grpc.StatusCode.DEADLINE_EXCEEDED
    # The build of this set takes many seconds (about 10 s quiet); the call ends soon after its deadline.
    assert elapsed < 4.0
    time.sleep(0.5)  # a build that went on regardless would still be running (and later cached)
    assert server.service.active_calls == 0
    names = [n.network_id for n in stub.ListNetworks(pb.ListNetworksRequest(), timeout=10).networks]
    assert len(names) == 1  # the sample only


def test_a_build_over_its_memory_cap_is_resource_exhausted(tmp_path):
    running = create_server(
        ROOT / "geodata", port=0, host="127.0.0.1", limits=ServiceLimits(build_memory_bytes=20 * 1024**2)
    )
    try:
        with connect(f"127.0.0.1:{running.port}", timeout_s=60) as client:
            error = _error(client.stub.LoadNetwork, _inline(write_dense_set(tmp_path, n=200)))
        assert error.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
        assert "memory limit" in error.details()
    finally:
        running.stop(grace_s=0)


def test_a_far_out_coordinate_is_invalid_argument_naming_the_row(stub):
    files = _sample_files()
    jurisdictions = json.loads(files["jurisdictions.geojson"])
    feature = next(f for f in jurisdictions["features"] if f["geometry"]["type"] == "Polygon")
    feature["geometry"]["coordinates"][0][1][1] = 1_895_888.0
    files["jurisdictions.geojson"] = json.dumps(jurisdictions).encode()
    error = _error(stub.LoadNetwork, pb.LoadNetworkRequest(inline_data=_zip(files)))
    assert error.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert "jurisdictions row" in error.details()
    assert feature["properties"]["jurisdiction_id"] in error.details()


def test_error_details_are_bounded_and_carry_a_request_id(stub):
    error = _error(stub.GetNetwork, pb.GetNetworkRequest(network_id="x" * 20_000))
    assert error.code() == grpc.StatusCode.NOT_FOUND
    assert len(error.details()) <= 1100
    assert "[request " in error.details()


def test_invalid_argument_lists_field_violations(stub, server):
    sample_id = stub.LoadNetwork(pb.LoadNetworkRequest(name="sample"), timeout=60).network_id
    request = pb.OptimizeRequest(
        network_id=sample_id,
        demands=[
            pb.Demand(id="d0", a="CHI1", b="DAL1", max_latency_ms=-1),
            pb.Demand(id="d1", a="CHI1", b="CHI1", max_latency_ms=5),
        ],
    )
    error = _error(stub.Optimize, request)
    assert error.code() == grpc.StatusCode.INVALID_ARGUMENT
    status = rpc_status.from_call(error)
    bad = error_details_pb2.BadRequest()
    assert status.details[0].Unpack(bad)
    fields = [v.field for v in bad.field_violations]
    assert "demands[0].max_latency_ms" in fields


def test_errors_never_show_server_paths(stub):
    error = _error(stub.LoadNetwork, pb.LoadNetworkRequest(inline_data=_zip({"sites.geojson": b"{nope"})))
    assert error.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert "/tmp" not in error.details() and str(ROOT) not in error.details()
    error = _error(stub.LoadNetwork, pb.LoadNetworkRequest(name="sample/none"))
    assert str(ROOT) not in error.details()


def _corrupt_deflate() -> bytes:
    """A zip whose member's compressed bytes are damaged (the header still reads)."""
    data = bytearray(_zip({"sites.geojson": (SAMPLE / "sites.geojson").read_bytes()}))
    start = 30 + len("sites.geojson")  # local header, then the deflate stream
    for i in range(start + 5, start + 40):
        data[i] ^= 0x5A
    return bytes(data)


@pytest.mark.parametrize(
    ("request_", "field"),
    [
        (pb.LoadNetworkRequest(inline_data=_corrupt_deflate()), "inline_data"),
        (
            pb.LoadNetworkRequest(
                name="sample", layers=[pb.LayerSource(layer="sites", path="sites\x00.geojson")]
            ),
            "layers[0].path",
        ),
        (pb.LoadNetworkRequest(name="sample", display_name="n" * 5000), "display_name"),
    ],
)
def test_bad_load_requests_are_invalid_argument(stub, request_, field):
    error = _error(stub.LoadNetwork, request_)
    assert error.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert error.details().startswith(field)


def test_non_finite_layer_defaults_are_invalid_argument(stub):
    source = pb.LayerSource(layer="corridors", path="corridors.geojson")
    source.defaults.update({"cost_per_km": math.inf})
    error = _error(stub.LoadNetwork, pb.LoadNetworkRequest(name="sample", layers=[source]))
    assert error.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert error.details().startswith("layers[0].defaults.cost_per_km")


def test_time_limits_and_names_are_bounded(stub):
    sample_id = stub.LoadNetwork(pb.LoadNetworkRequest(name="sample"), timeout=60).network_id
    demand = pb.Demand(id="d", a="CHI1", b="DAL1", max_latency_ms=9)
    request = pb.OptimizeRequest(
        network_id=sample_id, demands=[demand], solver=pb.SolverOptions(time_limit_s=1e9)
    )
    assert _error(stub.Optimize, request).details().startswith("solver.time_limit_s")
    request = pb.OptimizeRequest(network_id=sample_id, demands=[demand], name="a\nb")
    assert _error(stub.Optimize, request).details().startswith("name holds control characters")
    long_id = pb.Demand(id="d" * 300, a="CHI1", b="DAL1", max_latency_ms=9)
    request = pb.OptimizeRequest(network_id=sample_id, demands=[long_id])
    assert _error(stub.Optimize, request).code() == grpc.StatusCode.INVALID_ARGUMENT
