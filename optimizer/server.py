"""Run the RouteOptimizer gRPC server: TLS, tokens, quotas, health, reflection, limits and
graceful shutdown."""

from __future__ import annotations

import logging
import signal
import threading
from collections.abc import Mapping
from concurrent import futures
from dataclasses import dataclass
from pathlib import Path

import grpc
from grpc_health.v1 import health, health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection

from optimizer.api.fiberopt.v1 import route_optimizer_pb2 as pb
from optimizer.api.fiberopt.v1 import route_optimizer_pb2_grpc as pb_grpc
from optimizer.security import CallGuard, GuardSettings, TlsConfig, is_loopback_target, server_credentials
from optimizer.service import RouteOptimizerService, ServiceLimits

__all__ = ["DEFAULT_HOST", "PoolSize", "RunningServer", "create_server", "pool_size", "serve"]

logger = logging.getLogger(__name__)

SERVICE_NAME = pb.DESCRIPTOR.services_by_name["RouteOptimizer"].full_name
MESSAGE_SLACK_BYTES = 4 * 1024 * 1024
DEFAULT_HOST = "127.0.0.1"
"""Loopback only unless told otherwise: exposing the server is a decision, not a default."""
CHEAP_CALL_HEADROOM = 8
"""gRPC threads beyond the solves the service admits (running + queued), for cheap calls:
ListNetworks, GetNetwork, refusals of loads and solves, reflection."""
HEALTH_RESERVE = 2
GRPC_QUEUE_FACTOR = 4
"""gRPC's maximum_concurrent_rpcs is this many times the pool: a flood beyond it is refused by
gRPC itself; below it a call waits only for a thread to run the guard, which answers at once."""
"""gRPC threads only health checks may take, so health answers while everything else is full."""


@dataclass(frozen=True)
class PoolSize:
    """The gRPC thread pool and the call limits derived from what the service admits."""

    threads: int
    """Pool threads (gRPC's maximum_concurrent_rpcs is GRPC_QUEUE_FACTOR times this)."""
    calls_in_flight: int
    """Calls other than health checks in flight at once; beyond it RESOURCE_EXHAUSTED at once."""
    calls_per_caller: int
    """Default per-caller quota: every solve slot and queue place, and half the cheap headroom."""


def pool_size(limits: ServiceLimits) -> PoolSize:
    """Threads = solves admitted + CHEAP_CALL_HEADROOM + HEALTH_RESERVE, so nothing queues inside gRPC."""
    admitted = limits.max_concurrent_solves + limits.max_queued_solves
    threads = admitted + CHEAP_CALL_HEADROOM + HEALTH_RESERVE
    return PoolSize(threads, threads - HEALTH_RESERVE, admitted + CHEAP_CALL_HEADROOM // 2)


@dataclass(frozen=True, eq=False)
class RunningServer:
    """A started server with the port it listens on and its servicer and health state."""

    server: grpc.Server
    port: int
    service: RouteOptimizerService
    health: health.HealthServicer
    guard: CallGuard | None = None

    def stop(self, grace_s: float = 5.0) -> None:
        """Health to NOT_SERVING first, then stop with a grace period for calls in flight."""
        self.health.enter_graceful_shutdown()
        self.server.stop(grace_s).wait()


def create_server(
    data_root: Path,
    *,
    port: int = 0,
    host: str = DEFAULT_HOST,
    limits: ServiceLimits | None = None,
    preload: tuple[str, ...] = (),
    tls: TlsConfig | None = None,
    tokens: Mapping[str, str] | None = None,
    max_calls_per_caller: int | None = None,
) -> RunningServer:
    """Start a server (port 0 picks a free one); SERVING once the preloads are built.

    tls: serve TLS (mutual TLS with a client CA) instead of plaintext; tokens: token -> caller
    name, required on every call but health; max_calls_per_caller: calls in flight per caller
    (None: PoolSize.calls_per_caller; 0: no per-caller quota).
    """
    limits = limits or ServiceLimits()
    sizes = pool_size(limits)
    per_caller = sizes.calls_per_caller if max_calls_per_caller is None else max_calls_per_caller
    guard = CallGuard(GuardSettings(tokens, per_caller or None, sizes.calls_in_flight))
    server = _grpc_server(limits, sizes, guard)
    service = RouteOptimizerService(data_root, limits=limits)
    pb_grpc.add_RouteOptimizerServicer_to_server(service, server)
    health_servicer = health.HealthServicer()
    health_pb2_grpc.add_HealthServicer_to_server(health_servicer, server)
    names = (SERVICE_NAME, health.SERVICE_NAME, reflection.SERVICE_NAME)
    reflection.enable_server_reflection(names, server)
    for name in ("", SERVICE_NAME):
        health_servicer.set(name, health_pb2.HealthCheckResponse.NOT_SERVING)
    bound = _bind(server, host, port, tls)
    server.start()
    try:
        for name in preload:
            network_id, network = service.load(pb.LoadNetworkRequest(name=name))
            logger.info("preloaded %s as %s (%d edges)", name, network_id[:12], network.stats.edges)
    except BaseException:
        server.stop(0)
        raise
    for name in ("", SERVICE_NAME):
        health_servicer.set(name, health_pb2.HealthCheckResponse.SERVING)
    return RunningServer(server, bound, service, health_servicer, guard)


def _grpc_server(limits: ServiceLimits, sizes: PoolSize, guard: CallGuard) -> grpc.Server:
    """The gRPC server: pool sized to admission, message limits, port reuse off, the call guard."""
    message_bytes = limits.max_inline_bytes + MESSAGE_SLACK_BYTES
    return grpc.server(
        futures.ThreadPoolExecutor(max_workers=sizes.threads, thread_name_prefix="grpc"),
        interceptors=(guard,),
        options=[
            ("grpc.max_receive_message_length", message_bytes),
            ("grpc.max_send_message_length", message_bytes),
            ("grpc.so_reuseport", 0),  # a second server on the same port fails instead of sharing it
        ],
        # gRPC's own cap counts health too, so it sits well above the pool: the guard refuses
        # non-health calls beyond calls_in_flight at once, which keeps HEALTH_RESERVE threads free.
        maximum_concurrent_rpcs=sizes.threads * GRPC_QUEUE_FACTOR,
    )


def _bind(server: grpc.Server, host: str, port: int, tls: TlsConfig | None) -> int:
    """Listen on host:port (TLS when configured); the port bound, or OSError."""
    address = f"{host}:{port}"
    try:
        if tls is None:
            bound = server.add_insecure_port(address)
        else:
            bound = server.add_secure_port(address, server_credentials(tls))
    except RuntimeError as exc:  # gRPC: "Failed to bind to address ..."
        raise OSError(f"cannot listen on {address}: address in use or not available on this host") from exc
    if bound == 0:
        raise OSError(f"cannot listen on {address}: address in use or not available on this host")
    return bound


def serve(
    data_root: Path,
    *,
    port: int,
    host: str = DEFAULT_HOST,
    preload: tuple[str, ...] = (),
    limits: ServiceLimits | None = None,
    tls: TlsConfig | None = None,
    tokens: Mapping[str, str] | None = None,
    max_calls_per_caller: int | None = None,
    grace_s: float = 10.0,
) -> None:
    """Serve until SIGTERM or SIGINT, then shut down gracefully."""
    running = create_server(
        data_root,
        port=port,
        host=host,
        preload=preload,
        limits=limits,
        tls=tls,
        tokens=tokens,
        max_calls_per_caller=max_calls_per_caller,
    )
    print(
        f"fiberopt serving {SERVICE_NAME} on {host}:{running.port} (data root {data_root}; "
        f"{_describe_security(tls, tokens)})",
        flush=True,
    )
    _warn_if_exposed(host, tls, tokens)
    stopping = threading.Event()

    def on_signal(signum: int, _frame: object) -> None:
        logger.info("signal %d: shutting down, grace %.0f s", signum, grace_s)
        stopping.set()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    # A signal may land on a gRPC thread; Python runs the handler only when the main thread is
    # back in the interpreter, so wait in short slices rather than block in one long wait.
    while not stopping.wait(0.2):
        pass
    running.stop(grace_s)


def _describe_security(tls: TlsConfig | None, tokens: Mapping[str, str] | None) -> str:
    """One phrase for the banner: transport and authentication."""
    transport = "plaintext" if tls is None else ("mutual TLS" if tls.client_ca_file else "TLS")
    callers = "no tokens" if not tokens else f"tokens for {len(set(tokens.values()))} callers"
    return f"{transport}, {callers}"


def _warn_if_exposed(host: str, tls: TlsConfig | None, tokens: Mapping[str, str] | None) -> None:
    """Warn when a non-loopback address is served without TLS or without tokens."""
    if is_loopback_target(f"{host}:0"):
        return
    if tls is None:
        logger.warning("listening on %s in plaintext: tokens and data cross the network unencrypted", host)
    if not tokens:
        logger.warning("listening on %s without --auth-token-file: anyone who can reach it may call it", host)
