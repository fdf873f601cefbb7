"""A small typed Python client of the RouteOptimizer service, for planning tools."""

from __future__ import annotations

import io
import zipfile
from collections.abc import Iterator, Sequence
from pathlib import Path

import grpc
from google.protobuf import struct_pb2

from optimizer.api.fiberopt.v1 import route_optimizer_pb2 as pb
from optimizer.api.fiberopt.v1 import route_optimizer_pb2_grpc as pb_grpc
from optimizer.config import GraphSettings
from optimizer.convert import (
    NetworkView,
    demand_to_proto,
    penalty_area_to_proto,
    settings_to_proto,
    solution_from_proto,
)
from optimizer.geodata import GeodataSpec
from optimizer.penalties import PenaltyArea
from optimizer.problem import SolverOptions
from optimizer.routes import Demand, Solution
from optimizer.scenario import Scenario
from optimizer.security import (
    InvalidCredentialsError,
    channel_credentials,
    check_token,
    is_loopback_target,
    token_metadata_interceptor,
)

__all__ = ["RouteOptimizerClient", "connect"]

MAX_MESSAGE_BYTES = 256 * 1024 * 1024


class RouteOptimizerClient:
    """Calls a fiberopt server: load networks, optimize, stream progress."""

    def __init__(self, channel: grpc.Channel, *, timeout_s: float | None = None) -> None:
        self.channel = channel
        self.stub = pb_grpc.RouteOptimizerStub(channel)
        self.timeout_s = timeout_s

    def __enter__(self) -> RouteOptimizerClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        """Close the channel."""
        self.channel.close()

    def load_named(self, name: str, *, settings: GraphSettings | None = None) -> pb.NetworkInfo:
        """Load a geodata set that sits under the server's data root."""
        request = pb.LoadNetworkRequest(name=name)
        if settings is not None:
            request.settings.CopyFrom(settings_to_proto(settings))
        return self.stub.LoadNetwork(request, timeout=self.timeout_s)

    def load_geodata(self, spec: GeodataSpec, *, settings: GraphSettings | None = None) -> pb.NetworkInfo:
        """Send a local geodata set (every layer file, mapping and defaults) inline."""
        request = _inline_request(spec)
        if settings is not None:
            request.settings.CopyFrom(settings_to_proto(settings))
        return self.stub.LoadNetwork(request, timeout=self.timeout_s)

    def list_networks(self) -> list[pb.NetworkInfo]:
        """Networks loaded on the server."""
        return list(self.stub.ListNetworks(pb.ListNetworksRequest(), timeout=self.timeout_s).networks)

    def get_network(self, network_id: str) -> pb.NetworkInfo:
        """One loaded network."""
        return self.stub.GetNetwork(pb.GetNetworkRequest(network_id=network_id), timeout=self.timeout_s)

    def optimize(
        self,
        network_id: str,
        demands: Sequence[Demand],
        *,
        solver: SolverOptions | None = None,
        settings: GraphSettings | None = None,
        name: str = "",
        include_jurisdiction_geometry: bool = False,
        shared_build: bool = False,
        penalty_areas: Sequence[PenaltyArea] = (),
        timeout_s: float | None = None,
    ) -> pb.OptimizeResponse:
        """Solve demands on a loaded network (unary); shared_build designs them together;
        penalty_areas price risk areas for this call on top of the network's own."""
        request = _optimize_request(
            network_id, demands, solver, settings, name, include_jurisdiction_geometry
        )
        request.shared_build = shared_build
        request.penalty_areas.extend(penalty_area_to_proto(a) for a in penalty_areas)
        return self.stub.Optimize(request, timeout=timeout_s or self.timeout_s)

    def frontier(
        self,
        network_id: str,
        demand: Demand,
        *,
        solver: SolverOptions | None = None,
        settings: GraphSettings | None = None,
        max_points: int = 0,
        timeout_s: float | None = None,
    ) -> pb.FrontierResponse:
        """The cost-latency frontier of one demand (its max_latency_ms is ignored)."""
        request = pb.FrontierRequest(
            network_id=network_id, demand=demand_to_proto(demand), max_points=max_points
        )
        _set_solver_and_settings(request, solver, settings)
        return self.stub.Frontier(request, timeout=timeout_s or self.timeout_s)

    def stream(
        self,
        network_id: str,
        demands: Sequence[Demand],
        *,
        solver: SolverOptions | None = None,
        settings: GraphSettings | None = None,
        name: str = "",
        timeout_s: float | None = None,
    ) -> Iterator[pb.OptimizeEvent]:
        """Progress events, routes and the final result as the server sends them."""
        request = _optimize_request(network_id, demands, solver, settings, name, False)
        return self.stub.OptimizeStream(request, timeout=timeout_s or self.timeout_s)

    def solve_scenario(self, scenario: Scenario) -> tuple[Solution, NetworkView]:
        """A scenario solved through the server, as Solution and the network view to export."""
        info = self.load_geodata(scenario.geodata, settings=scenario.settings)
        response = self.optimize(
            info.network_id,
            scenario.demands,
            solver=scenario.solver,
            name=scenario.name,
            include_jurisdiction_geometry=True,
            shared_build=scenario.shared_build,
            penalty_areas=scenario.penalty_areas,
        )
        return solution_from_proto(response)


def connect(
    target: str,
    *,
    timeout_s: float | None = None,
    tls: bool = False,
    ca_file: Path | None = None,
    cert_file: Path | None = None,
    key_file: Path | None = None,
    token: str | None = None,
) -> RouteOptimizerClient:
    """A client of the server at HOST:PORT.

    TLS when tls is set or any file is given: ca_file is the CA that signed the server's
    certificate (default: the system roots), cert_file and key_file the client's for mutual
    TLS. token is sent as ``authorization: Bearer TOKEN``: as call credentials over TLS, or as
    plain metadata on a plaintext channel, which is allowed only to a loopback address.
    """
    options = [
        ("grpc.max_receive_message_length", MAX_MESSAGE_BYTES),
        ("grpc.max_send_message_length", MAX_MESSAGE_BYTES),
    ]
    if tls or ca_file or cert_file or key_file:
        credentials = channel_credentials(ca_file, cert_file, key_file)
        if token:
            call = grpc.access_token_call_credentials(check_token(token, "token"))
            credentials = grpc.composite_channel_credentials(credentials, call)
        channel = grpc.secure_channel(target, credentials, options=options)
    else:
        channel = grpc.insecure_channel(target, options=options)
        if token:
            if not is_loopback_target(target):
                raise InvalidCredentialsError(
                    f"token: not sent in plaintext to {target}; connect with TLS (a CA file) "
                    f"or to a loopback address"
                )
            channel = grpc.intercept_channel(channel, token_metadata_interceptor(token))
    return RouteOptimizerClient(channel, timeout_s=timeout_s)


def _optimize_request(
    network_id: str,
    demands: Sequence[Demand],
    solver: SolverOptions | None,
    settings: GraphSettings | None,
    name: str,
    include_jurisdiction_geometry: bool,
) -> pb.OptimizeRequest:
    """The OptimizeRequest message."""
    request = pb.OptimizeRequest(
        network_id=network_id,
        demands=[demand_to_proto(d) for d in demands],
        name=name,
        include_jurisdiction_geometry=include_jurisdiction_geometry,
    )
    _set_solver_and_settings(request, solver, settings)
    return request


def _set_solver_and_settings(
    request: pb.OptimizeRequest | pb.FrontierRequest,
    solver: SolverOptions | None,
    settings: GraphSettings | None,
) -> None:
    """Fill a request's solver options and graph settings where given."""
    if solver is not None:
        request.solver.time_limit_s = solver.time_limit_s
        request.solver.num_workers = solver.num_workers
    if settings is not None:
        request.settings.CopyFrom(settings_to_proto(settings))


def _inline_request(spec: GeodataSpec) -> pb.LoadNetworkRequest:
    """Every file of a spec (with sidecars) zipped, and its layer mapping pointing into the zip."""
    buffer = io.BytesIO()
    layers, names = [], {}
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for layer, sources in spec.sources.items():
            for src in sources:
                if src.path not in names:
                    names[src.path] = f"f{len(names)}/{src.path.name}"
                    for path in _with_sidecars(src.path):
                        archive.write(path, f"f{len(names) - 1}/{path.name}")
                defaults = struct_pb2.Struct()
                defaults.update(dict(src.defaults))
                layers.append(
                    pb.LayerSource(
                        layer=layer,
                        path=names[src.path],
                        layer_name=src.layer or "",
                        fields=dict(src.fields),
                        defaults=defaults,
                        x_field=src.x_field or "",
                        y_field=src.y_field or "",
                        crs=src.crs or "",
                        where=src.where or "",
                        on_invalid=src.on_invalid,
                    )
                )
    return pb.LoadNetworkRequest(
        inline_data=buffer.getvalue(),
        layers=layers,
        cost_per_km_by_kind=dict(spec.cost_per_km_by_kind),
        permit_cost_by_level=dict(spec.permit_cost_by_level),
        display_name=spec.name,
    )


def _with_sidecars(path: Path) -> list[Path]:
    """A layer file with its sidecars (.dbf, .shx, .prj, .cpg for a shapefile)."""
    if not path.exists():
        return []
    return sorted(p for p in path.parent.iterdir() if p.is_file() and p.stem == path.stem)
