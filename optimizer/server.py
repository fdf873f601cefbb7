"""Run the RouteOptimizer gRPC server: health, reflection, limits and graceful shutdown."""

from __future__ import annotations

import logging
import signal
import threading
from concurrent import futures
from dataclasses import dataclass
from pathlib import Path

import grpc
from grpc_health.v1 import health, health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection

from optimizer.api.fiberopt.v1 import route_optimizer_pb2 as pb
from optimizer.api.fiberopt.v1 import route_optimizer_pb2_grpc as pb_grpc
from optimizer.service import RouteOptimizerService, ServiceLimits

__all__ = ["RunningServer", "create_server", "serve"]

logger = logging.getLogger(__name__)

SERVICE_NAME = pb.DESCRIPTOR.services_by_name["RouteOptimizer"].full_name
MESSAGE_SLACK_BYTES = 4 * 1024 * 1024


@dataclass(frozen=True, eq=False)
class RunningServer:
    """A started server with the port it listens on and its servicer and health state."""

    server: grpc.Server
    port: int
    service: RouteOptimizerService
    health: health.HealthServicer

    def stop(self, grace_s: float = 5.0) -> None:
        """Health to NOT_SERVING first, then stop with a grace period for calls in flight."""
        self.health.enter_graceful_shutdown()
        self.server.stop(grace_s).wait()


def create_server(
    data_root: Path,
    *,
    port: int = 0,
    host: str = "[::]",
    limits: ServiceLimits | None = None,
    preload: tuple[str, ...] = (),
    max_workers: int = 16,
) -> RunningServer:
    """Start a server (port 0 picks a free one); SERVING once the preloads are built."""
    limits = limits or ServiceLimits()
    message_bytes = limits.max_inline_bytes + MESSAGE_SLACK_BYTES
    server = grpc.server(
        futures.ThreadPoolExecutor(max_workers=max_workers, thread_name_prefix="grpc"),
        options=[
            ("grpc.max_receive_message_length", message_bytes),
            ("grpc.max_send_message_length", message_bytes),
        ],
    )
    service = RouteOptimizerService(data_root, limits=limits)
    pb_grpc.add_RouteOptimizerServicer_to_server(service, server)
    health_servicer = health.HealthServicer()
    health_pb2_grpc.add_HealthServicer_to_server(health_servicer, server)
    names = (SERVICE_NAME, health.SERVICE_NAME, reflection.SERVICE_NAME)
    reflection.enable_server_reflection(names, server)
    for name in ("", SERVICE_NAME):
        health_servicer.set(name, health_pb2.HealthCheckResponse.NOT_SERVING)
    bound = server.add_insecure_port(f"{host}:{port}")
    if bound == 0:
        raise OSError(f"cannot listen on {host}:{port}")
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
    return RunningServer(server, bound, service, health_servicer)


def serve(
    data_root: Path,
    *,
    port: int,
    host: str = "[::]",
    preload: tuple[str, ...] = (),
    limits: ServiceLimits | None = None,
    grace_s: float = 10.0,
) -> None:
    """Serve until SIGTERM or SIGINT, then shut down gracefully."""
    running = create_server(data_root, port=port, host=host, preload=preload, limits=limits)
    print(f"fiberopt serving {SERVICE_NAME} on {host}:{running.port} (data root {data_root})", flush=True)
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
