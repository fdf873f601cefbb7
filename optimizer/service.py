"""The RouteOptimizer gRPC servicer: networks loaded once, demands solved per call."""

from __future__ import annotations

import contextlib
import contextvars
import functools
import hashlib
import io
import json
import logging
import math
import queue
import re
import tempfile
import threading
import time
import zipfile
import zlib
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, fields, replace
from pathlib import Path

import grpc
from google.protobuf import any_pb2
from google.rpc import code_pb2, error_details_pb2, status_pb2
from grpc_status import rpc_status

from optimizer.api.fiberopt.v1 import route_optimizer_pb2 as pb
from optimizer.api.fiberopt.v1 import route_optimizer_pb2_grpc as pb_grpc
from optimizer.build_worker import DEFAULT_BUILD_MEMORY_BYTES, BuildSettings, BuildStoppedError, build_network
from optimizer.config import GraphSettings
from optimizer.convert import (
    MAX_TIME_LIMIT_S,
    STATUS_TO_PROTO,
    check_text,
    demand_from_proto,
    demands_from_proto,
    design_to_proto,
    frontier_to_proto,
    network_info,
    penalty_areas_from_proto,
    route_to_proto,
    settings_from_proto,
    sites_to_proto,
    solver_from_proto,
    stats_to_proto,
    struct_to_dict,
)
from optimizer.errors import (
    CapacityError,
    InvalidGeodataError,
    InvalidRequestError,
    InvalidScenarioError,
    OptimizerError,
    UnknownAreaError,
    UnknownCorridorError,
    UnknownJurisdictionError,
    UnknownNetworkError,
    UnknownSiteError,
    Violation,
)
from optimizer.geodata import (
    LAYERS,
    GeodataSpec,
    Layers,
    LayerSource,
    check_layer_file,
    check_spec,
)
from optimizer.graph import Network
from optimizer.limits import DEFAULT_LIMITS, InputLimits
from optimizer.penalties import penalized
from optimizer.problem import RouteStatus, SolverOptions, StopSignal
from optimizer.routes import (
    DesignSummary,
    Route,
    Solution,
    check_demand_names,
    check_demands,
    check_shared_build,
    routes_union_cost,
    solve_demands,
    solve_frontier,
    solve_in_turn,
)
from optimizer.scenario import SET_DEFAULTS_FILE, GeodataSet, load_geodata_set
from optimizer.security import current_request_id

__all__ = ["RouteOptimizerService", "ServiceLimits"]

logger = logging.getLogger(__name__)

STATUS_CODE = {
    InvalidGeodataError: grpc.StatusCode.INVALID_ARGUMENT,
    InvalidScenarioError: grpc.StatusCode.INVALID_ARGUMENT,
    InvalidRequestError: grpc.StatusCode.INVALID_ARGUMENT,
    UnknownSiteError: grpc.StatusCode.NOT_FOUND,
    UnknownCorridorError: grpc.StatusCode.NOT_FOUND,
    UnknownAreaError: grpc.StatusCode.NOT_FOUND,
    UnknownJurisdictionError: grpc.StatusCode.NOT_FOUND,
    UnknownNetworkError: grpc.StatusCode.NOT_FOUND,
    CapacityError: grpc.StatusCode.RESOURCE_EXHAUSTED,
}
"""Domain errors to gRPC status codes; anything else is INTERNAL, never UNKNOWN."""

_DEADLINE_MARGIN_S = 0.2
_NO_DEADLINE_S = 1e7
_SLOT_POLL_S = 0.1
_QUEUE_GIVE_UP_S = 1.0
"""A call still waiting for a work slot this long before its deadline is RESOURCE_EXHAUSTED."""
_BUILD_LOCK_STRIPES = 64
_MAX_ZIP_MEMBERS = 1000
_MAX_LAYER_SOURCES = 64
_MAX_PATH_CHARS = 1024
_UNZIP_SLICE_BYTES = 1024 * 1024
_UNZIP_ERRORS = (OSError, EOFError, zipfile.BadZipFile, zlib.error, NotImplementedError, RuntimeError)
"""What reading a damaged, encrypted or exotic zip member raises."""
_ANSWER_MARGIN_S = (0.25, 1.0)
"""A solve ends this long before its call's deadline (a fifth of the time left, within these
bounds) and answers with what it found, so a deadline shorter than the time limit is a time limit."""


@dataclass(frozen=True)
class ServiceLimits:
    """Server-side limits, sized for a 2-core machine by default."""

    max_concurrent_solves: int = 2
    max_queued_solves: int = 16
    max_solver_threads: int = 2
    max_inline_bytes: int = 64 * 1024 * 1024
    max_unzipped_bytes: int = 512 * 1024 * 1024
    max_demands: int = 1000
    max_networks: int = 32
    max_frontier_points: int = 500
    max_time_limit_s: float = MAX_TIME_LIMIT_S
    build_memory_bytes: int = DEFAULT_BUILD_MEMORY_BYTES
    """Memory a network build (in its own child process) may use before it is refused."""
    isolated_builds: bool = True
    """Build networks in a killable child process (off only for debugging)."""
    max_error_chars: int = 1024
    """Longest error message sent back; input quoted in errors is cut to a short prefix anyway."""
    max_violations: int = 20
    """Field violations listed in an error's google.rpc.BadRequest details."""
    input: InputLimits = DEFAULT_LIMITS
    """Limits on the geodata a request sends or names (sizes, counts, coordinates, money)."""

    @property
    def build(self) -> BuildSettings:
        """How this server runs network builds."""
        return BuildSettings(
            isolated=self.isolated_builds, memory_bytes=self.build_memory_bytes, input_limits=self.input
        )


@dataclass(frozen=True, eq=False)
class _Loaded:
    """A loaded network: its validated layers and graphs built per settings."""

    network_id: str
    layers: Layers
    graphs: dict[str, Network]
    default_key: str


def _status_of(exc: OptimizerError) -> grpc.StatusCode:
    """The gRPC status code for a domain error (by its class or nearest base)."""
    for cls in type(exc).__mro__:
        if cls in STATUS_CODE:
            return STATUS_CODE[cls]
    return grpc.StatusCode.INVALID_ARGUMENT


@contextlib.contextmanager
def _status_mapping(context: grpc.ServicerContext, method: str, limits: ServiceLimits) -> Iterator[None]:
    """Map domain errors to status codes and anything unexpected to INTERNAL, never UNKNOWN."""
    try:
        yield
    except (_StoppedError, BuildStoppedError):
        code, message = _stopped_status(context)
        context.abort(code, _with_request_id(message))
    except OptimizerError as exc:
        code = _status_of(exc)
        logger.info("%s [%s] refused: %s: %s", method, current_request_id(), code.name, _clip(str(exc), 300))
        context.abort_with_status(_rich_status(code, exc, limits))
    except Exception:  # the one place that turns a bug into INTERNAL; its details stay in the log
        logger.exception("%s [%s] failed", method, current_request_id())
        context.abort(
            grpc.StatusCode.INTERNAL, _with_request_id("internal error; the server log has the details")
        )


_MAX_DETAILS_BYTES = 2048
"""Bytes of BadRequest details per status (sent base64 in a header, with the message)."""
_ABSOLUTE_PATH = re.compile(r"(?<![\w.~-])/(?:[^\s/:'\",;()\[\]]+/)+")


def _sanitized(text: str, max_chars: int) -> str:
    """A message without server paths (only the last part of a path is kept), in ASCII (gRPC
    percent-encodes anything else, tripling it on the wire), cut to max_chars."""
    plain = _ABSOLUTE_PATH.sub("", text).encode("ascii", "backslashreplace").decode("ascii")
    return _clip(plain, max_chars)


def _clip(text: str, max_chars: int) -> str:
    """Text cut to max_chars, marked where cut."""
    return text if len(text) <= max_chars else text[: max_chars - 15] + f"... ({len(text):,} chars)"


def _with_request_id(message: str) -> str:
    """A status message ending with the call's request id (also in the access log)."""
    request_id = current_request_id()
    return f"{message} [request {request_id}]" if request_id else message


def _rich_status(code: grpc.StatusCode, exc: OptimizerError, limits: ServiceLimits) -> grpc.Status:
    """The status for a domain error: bounded, sanitized message; BadRequest field violations."""
    message = _with_request_id(_sanitized(str(exc), limits.max_error_chars))
    status = status_pb2.Status(code=getattr(code_pb2, code.name), message=message)
    if code == grpc.StatusCode.INVALID_ARGUMENT:
        details = error_details_pb2.BadRequest()
        for violation in exc.violations[: limits.max_violations]:
            details.field_violations.append(_field_violation(violation))
            if details.ByteSize() > _MAX_DETAILS_BYTES:  # headers must stay far under 8 KB
                del details.field_violations[-1]
                break
        packed = any_pb2.Any()
        packed.Pack(details)
        status.details.append(packed)
    return rpc_status.to_status(status)


def _field_violation(violation: Violation) -> error_details_pb2.BadRequest.FieldViolation:
    """One BadRequest entry, its parts sanitized and bounded."""
    return error_details_pb2.BadRequest.FieldViolation(
        field=_sanitized(violation.field, 200), description=_sanitized(violation.description, 300)
    )


def _unary(method: Callable) -> Callable:
    """A unary RPC method with its errors mapped to status codes."""

    @functools.wraps(method)
    def wrapper(self, request, context):
        with _status_mapping(context, method.__name__, self.limits):
            return method(self, request, context)

    return wrapper


def _streaming(method: Callable) -> Callable:
    """A server-streaming RPC method with its errors mapped to status codes."""

    @functools.wraps(method)
    def wrapper(self, request, context):
        with _status_mapping(context, method.__name__, self.limits):
            yield from method(self, request, context)

    return wrapper


class RouteOptimizerService(pb_grpc.RouteOptimizerServicer):
    """Holds loaded networks and solves demands on them; thread-safe."""

    def __init__(self, data_root: Path, *, limits: ServiceLimits | None = None) -> None:
        self.data_root = Path(data_root).resolve()
        self.limits = limits or ServiceLimits()
        self._networks: dict[str, _Loaded] = {}
        self._lock = threading.Lock()
        self._build_locks = tuple(threading.Lock() for _ in range(_BUILD_LOCK_STRIPES))
        self._running = threading.BoundedSemaphore(self.limits.max_concurrent_solves)
        self._admitted = 0

    @property
    def active_calls(self) -> int:
        """Optimize calls running or waiting for a solve slot."""
        with self._lock:
            return self._admitted

    # -- loading -----------------------------------------------------------------------------

    def load(
        self,
        request: pb.LoadNetworkRequest,
        *,
        stop: StopSignal | None = None,
        deadline_s: float | None = None,
    ) -> tuple[str, Network]:
        """Load (or find) the network a request describes; returns its id and default graph."""
        _refuse(check_text("display_name", request.display_name))
        settings_from_proto(request.settings)  # bad settings refused before any file is touched
        stop = stop or StopSignal()
        with tempfile.TemporaryDirectory(prefix="fiberopt-load-") as tmp:
            root = self._materialize(request, Path(tmp))
            found = _geodata_set(root, self.limits.input, layers=not request.layers)
            spec = _spec(request, root, found.spec)
            settings = settings_from_proto(request.settings, base=found.graph_settings())
            check_spec(spec, limits=self.limits.input)
            files = _confined_files(spec, root, self.data_root if request.HasField("name") else Path(tmp))
            network_id = _content_id(root, files, request, settings, spec)
            with self._work_slot(deadline_s, stop), self._once(network_id, deadline_s, stop):
                with self._lock:
                    known = self._networks.get(network_id)
                if known is not None:  # a twin request built it while this one waited
                    return network_id, known.graphs[known.default_key]
                layers, network = build_network(
                    spec, settings, stop=stop, deadline_s=deadline_s, build=self.limits.build
                )
                name = request.display_name or (request.name if request.HasField("name") else network_id[:12])
                network = _renamed(network, name)
                key = _settings_key(settings)
                with self._lock:
                    self._networks.setdefault(network_id, _Loaded(network_id, layers, {key: network}, key))
                    while len(self._networks) > self.limits.max_networks:  # forget the oldest loaded
                        self._networks.pop(next(iter(self._networks)))
        logger.info("network %s (%s) loaded: %s", network_id[:12], name, network.stats)
        return network_id, network

    def _materialize(self, request: pb.LoadNetworkRequest, tmp: Path) -> Path:
        """The folder or file holding the set."""
        source = request.WhichOneof("source")
        if source == "name":
            return self._inside_root(request.name)
        if source == "inline_data":
            return self._unpack(request.inline_data, tmp)
        raise InvalidRequestError("source: give name (a set under the data root) or inline_data")

    def _inside_root(self, name: str) -> Path:
        """A data set path that cannot leave the data root (no absolute paths, .., symlinks out)."""
        _refuse(check_text("name", name, max_chars=_MAX_PATH_CHARS))
        if not name or Path(name).is_absolute() or ".." in Path(name).parts:
            raise InvalidRequestError(f"name {name!r} must be a relative path inside the data root")
        try:
            path = (self.data_root / name).resolve()
            inside, exists = path.is_relative_to(self.data_root), path.exists()
        except OSError as exc:  # e.g. a path part longer than the file system allows
            raise InvalidRequestError(f"name {name[:40]!r}...: not a usable path ({exc.strerror})") from exc
        if not inside:
            raise InvalidRequestError(f"name {name!r} must be a relative path inside the data root")
        if not exists:
            raise UnknownNetworkError(f"name {name!r}: no such geodata set under the data root")
        return path

    def _unpack(self, data: bytes, tmp: Path) -> Path:
        """Inline bytes as files: a GeoPackage as is, a zip extracted safely."""
        if len(data) > self.limits.max_inline_bytes:
            raise CapacityError(
                f"inline_data is {len(data):,} bytes; the limit is {self.limits.max_inline_bytes:,}"
            )
        if data.startswith(b"SQLite format 3\x00"):
            path = tmp / "geodata.gpkg"
            path.write_bytes(data)
            return path
        if not data.startswith(b"PK"):
            raise InvalidRequestError("inline_data must be a GeoPackage or a zip of layer files")
        try:
            archive = zipfile.ZipFile(io.BytesIO(data))
        except zipfile.BadZipFile as exc:
            raise InvalidRequestError(f"inline_data: not a readable zip ({exc})") from exc
        members = [m for m in archive.infolist() if not m.is_dir()]
        budget = self.limits.max_unzipped_bytes
        if len(members) > _MAX_ZIP_MEMBERS:
            raise CapacityError(
                f"inline_data: {len(members):,} files in the zip; the limit is {_MAX_ZIP_MEMBERS}"
            )
        if sum(m.file_size for m in members) > self.limits.max_unzipped_bytes:
            raise CapacityError(f"inline_data unpacks beyond {self.limits.max_unzipped_bytes:,} bytes")
        for member in members:
            parts = Path(member.filename).parts
            if Path(member.filename).is_absolute() or ".." in parts or "\x00" in member.filename:
                raise InvalidRequestError(f"inline_data: member {member.filename!r} leaves the archive")
            target = tmp.joinpath(*parts)
            try:
                target.parent.mkdir(parents=True, exist_ok=True)
                budget -= _extract_bounded(archive, member, target, budget)
            except (
                OSError,
                EOFError,
                zipfile.BadZipFile,
                zlib.error,
                NotImplementedError,
                RuntimeError,
            ) as exc:
                raise InvalidRequestError(f"inline_data: cannot unpack {member.filename!r} ({exc})") from exc
        return tmp

    def network(
        self,
        network_id: str,
        settings: GraphSettings | None = None,
        *,
        stop: StopSignal | None = None,
        deadline_s: float | None = None,
    ) -> Network:
        """A loaded network's graph, built once per distinct settings (call within a work slot)."""
        loaded = self._loaded(network_id)
        key = loaded.default_key if settings is None else _settings_key(settings)
        if key not in loaded.graphs:
            with self._once(f"{network_id}/{key}", deadline_s, stop or StopSignal()):
                if key not in loaded.graphs:
                    _, network = build_network(
                        None,
                        settings,
                        layers=loaded.layers,
                        stop=stop,
                        deadline_s=deadline_s,
                        build=self.limits.build,
                    )
                    loaded.graphs[key] = _renamed(network, loaded.graphs[loaded.default_key].name)
        return loaded.graphs[key]

    def _settings_for(self, request: pb.OptimizeRequest | pb.FrontierRequest) -> GraphSettings | None:
        """A call's own graph settings over the ones its network was loaded with; None: those."""
        if not request.HasField("settings"):
            return None
        settings_from_proto(request.settings)  # bad settings are INVALID_ARGUMENT whatever the network
        loaded = self._loaded(request.network_id)
        return settings_from_proto(request.settings, base=loaded.graphs[loaded.default_key].settings)

    def _loaded(self, network_id: str) -> _Loaded:
        """A loaded network by id, or NOT_FOUND."""
        with self._lock:
            loaded = self._networks.get(network_id)
        if loaded is None:
            raise UnknownNetworkError(f"network_id {network_id!r}: no such network; call LoadNetwork")
        return loaded

    @contextlib.contextmanager
    def _once(self, key: str, deadline_s: float | None, stop: StopSignal) -> Iterator[None]:
        """One build per key at a time: a twin waits (until its own stop) and then finds it cached."""
        lock = self._build_locks[hash(key) % len(self._build_locks)]
        _acquire(lock, deadline_s, stop)
        try:
            yield
        finally:
            lock.release()

    # -- solving -----------------------------------------------------------------------------

    def solve(
        self,
        request: pb.OptimizeRequest,
        *,
        stop: StopSignal,
        deadline_s: float | None,
        on_route: Callable[[int, pb.Route], None] | None = None,
        on_incumbent: Callable[[str, float, float], None] | None = None,
    ) -> pb.OptimizeResponse:
        """Solve a request's demands in turn, within the deadline; the shared library path."""
        if len(request.demands) > self.limits.max_demands:
            raise CapacityError(
                f"demands: {len(request.demands)} over the limit of {self.limits.max_demands}"
            )
        _refuse(check_text("name", request.name))
        demands = demands_from_proto(request.demands)
        penalty_areas = penalty_areas_from_proto(request.penalty_areas)
        if request.shared_build:
            check_shared_build(demands)
        settings = self._settings_for(request)
        options = solver_from_proto(
            request.solver,
            max_workers=self.limits.max_solver_threads,
            max_time_limit_s=self.limits.max_time_limit_s,
        )
        self._loaded(request.network_id)  # NOT_FOUND before waiting for a slot
        with self._work_slot(deadline_s, stop):
            started = time.perf_counter()
            network = self.network(request.network_id, settings, stop=stop, deadline_s=deadline_s)
            network = penalized(network, penalty_areas)
            check_demands(network, demands)
            check_demand_names(demands, None, None, self._loaded(request.network_id).layers.corridors)
            answer_by = _answer_by(deadline_s)
            graph_s = time.perf_counter() - started
            routes: list[Route] = []
            messages: list[pb.Route] = []
            polygons, sent = request.include_jurisdiction_geometry, set()  # each polygon sent once

            def emit(i: int, demand_routes: Sequence[Route]) -> None:
                for route in demand_routes:
                    routes.append(route)
                    messages.append(
                        route_to_proto(route, network, with_polygons=polygons, polygons_sent=sent)
                    )
                    if on_route is not None:
                        on_route(i, messages[-1])

            if request.shared_build:
                report = None if on_incumbent is None else functools.partial(on_incumbent, "")
                options = _with(options, self._limit(options, answer_by), stop, report)
                found, design = solve_demands(network, demands, options=options, shared_build=True)
                self._check_stopped(stop, deadline_s)
                for i, demand in enumerate(demands):
                    emit(i, [r for r in found if r.demand_id == demand.id])
            else:
                for i, demand in enumerate(demands):
                    self._check_stopped(stop, deadline_s)
                    report = None if on_incumbent is None else functools.partial(on_incumbent, demand.id)
                    limit = self._limit(options, answer_by)
                    limited = _with(options, limit, stop, report)
                    demand_routes = solve_in_turn(network, demand, routes, options=limited, checked=True)
                    self._check_stopped(stop, deadline_s)  # a cut-short answer ends the call with its cause
                    emit(i, demand_routes)
                cost = routes_union_cost(network, routes)
                design = DesignSummary(False, cost, independent_cost=cost)
        solution = Solution(request.name, tuple(routes), network.stats.as_dict(), design=design)
        return pb.OptimizeResponse(
            name=request.name,
            network_id=request.network_id,
            routes=messages,
            total_cost=solution.total_cost,
            status=STATUS_TO_PROTO[RouteStatus(solution.status)],
            timings=pb.Timings(graph_s=graph_s, solve_s=time.perf_counter() - started - graph_s),
            stats=stats_to_proto(network.stats),
            sites=sites_to_proto(network),
            levels=list(network.levels),
            design=design_to_proto(design),
        )

    @staticmethod
    def _limit(options: SolverOptions, answer_by: float | None) -> float:
        """The solver time limit, never beyond the moment the call must answer."""
        if answer_by is None:
            return options.time_limit_s
        return min(options.time_limit_s, max(answer_by - time.monotonic(), 0.01))

    @staticmethod
    def _check_stopped(stop: StopSignal, deadline_s: float | None) -> None:
        """End the call with its cause once it was cancelled or its deadline passed."""
        if stop.is_set() or (deadline_s is not None and time.monotonic() >= deadline_s):
            raise _StoppedError()

    def frontier(
        self, request: pb.FrontierRequest, *, stop: StopSignal, deadline_s: float | None
    ) -> pb.FrontierResponse:
        """The frontier of one demand on a loaded network, within the call's deadline."""
        if not request.HasField("demand"):
            raise InvalidRequestError("demand is required")
        demand = demand_from_proto(request.demand)
        if request.max_points < 0:
            raise InvalidRequestError(f"max_points must be >= 0, got {request.max_points}")
        max_points = min(
            request.max_points or self.limits.max_frontier_points, self.limits.max_frontier_points
        )
        settings = self._settings_for(request)
        options = solver_from_proto(
            request.solver,
            max_workers=self.limits.max_solver_threads,
            max_time_limit_s=self.limits.max_time_limit_s,
        )
        self._loaded(request.network_id)
        with self._work_slot(deadline_s, stop):
            network = self.network(request.network_id, settings, stop=stop, deadline_s=deadline_s)
            check_demands(network, [demand])
            check_demand_names([demand], None, None, self._loaded(request.network_id).layers.corridors)
            limit = self._limit(options, _answer_by(deadline_s))
            result = solve_frontier(
                network, demand, options=_with(options, limit, stop, None), max_points=max_points
            )
            self._check_stopped(stop, deadline_s)
        return frontier_to_proto(result, network)

    @contextlib.contextmanager
    def _work_slot(self, deadline_s: float | None, stop: StopSignal) -> Iterator[None]:
        """Admission of solves and builds: run now, wait in a bounded queue, or RESOURCE_EXHAUSTED."""
        cap = self.limits.max_concurrent_solves + self.limits.max_queued_solves
        with self._lock:
            if self._admitted >= cap:
                raise CapacityError(
                    f"server busy: {self._admitted} solves or network builds running or queued "
                    f"(limit {cap}); retry later"
                )
            self._admitted += 1
        try:
            try:  # a call that cannot start before its deadline hears so while it still can
                _acquire(self._running, None if deadline_s is None else deadline_s - _QUEUE_GIVE_UP_S, stop)
            except _StoppedError:
                if stop.is_set():
                    raise
                raise CapacityError(
                    "server busy: no solve slot came free before the call's deadline; retry later"
                ) from None
            try:
                yield
            finally:
                self._running.release()
        finally:
            with self._lock:
                self._admitted -= 1

    # -- RPC methods -------------------------------------------------------------------------

    @_unary
    def LoadNetwork(self, request, context):  # noqa: N802 - gRPC method name
        """Load a geodata set and build its graph; the deadline and cancellation stop the build."""
        stop = StopSignal()
        context.add_callback(stop.set)
        network_id, network = self.load(request, stop=stop, deadline_s=_deadline(context))
        with self._lock:
            loaded = self._networks.get(network_id)
        return network_info(network_id, network, repairs=loaded.layers.repairs if loaded else ())

    @_unary
    def ListNetworks(self, request, context):  # noqa: N802
        """Every loaded network."""
        with self._lock:
            loaded = list(self._networks.values())
        return pb.ListNetworksResponse(
            networks=[
                network_info(n.network_id, n.graphs[n.default_key], repairs=n.layers.repairs) for n in loaded
            ]
        )

    @_unary
    def GetNetwork(self, request, context):  # noqa: N802
        """One loaded network."""
        loaded = self._loaded(request.network_id)
        network = loaded.graphs[loaded.default_key]
        return network_info(request.network_id, network, repairs=loaded.layers.repairs)

    @_unary
    def Optimize(self, request, context):  # noqa: N802
        """Solve every demand; the client's deadline and cancellation stop the solver."""
        stop = StopSignal()
        context.add_callback(stop.set)
        return self.solve(request, stop=stop, deadline_s=_deadline(context))

    @_unary
    def Frontier(self, request, context):  # noqa: N802
        """The cost-latency frontier of one demand; deadline and cancellation stop the sweep."""
        stop = StopSignal()
        context.add_callback(stop.set)
        return self.frontier(request, stop=stop, deadline_s=_deadline(context))

    @_streaming
    def OptimizeStream(self, request, context):  # noqa: N802
        """Progress events, each finished route, then the final result."""
        stop = StopSignal()
        context.add_callback(stop.set)
        events: queue.Queue = queue.Queue()
        n = max(len(request.demands), 1)
        finished = [0]

        def progress(demand_id: str = "", **values: float) -> pb.OptimizeEvent:
            percent = 100.0 * finished[0] / n
            return pb.OptimizeEvent(
                progress=pb.Progress(phase=pb.PHASE_SOLVE, percent=percent, demand_id=demand_id, **values)
            )

        def on_incumbent(demand_id: str, cost: float, bound: float) -> None:
            events.put(progress(demand_id, incumbent_cost=cost, bound=bound))

        def on_route(i: int, route: pb.Route) -> None:
            finished[0] = i + 1
            events.put(pb.OptimizeEvent(route=route))
            events.put(progress(route.demand_id))

        def work() -> None:
            try:
                deadline_s = _deadline(context)
                events.put(
                    self.solve(
                        request,
                        stop=stop,
                        deadline_s=deadline_s,
                        on_route=on_route,
                        on_incumbent=on_incumbent,
                    )
                )
            except BaseException as exc:
                events.put(exc)

        yield pb.OptimizeEvent(progress=pb.Progress(phase=pb.PHASE_GRAPH, percent=0.0))
        # The solve runs in a copy of this call's context, so its log lines carry the request id.
        worker = threading.Thread(
            target=contextvars.copy_context().run, args=(work,), name="optimize-stream", daemon=True
        )
        worker.start()
        try:
            while True:
                item = events.get()
                if isinstance(item, BaseException):
                    raise item
                if isinstance(item, pb.OptimizeResponse):
                    yield pb.OptimizeEvent(progress=pb.Progress(phase=pb.PHASE_DONE, percent=100.0))
                    yield pb.OptimizeEvent(result=item)
                    return
                yield item
        finally:
            stop.set()  # a cancelled or failed stream stops its solve
            worker.join()


class _StoppedError(Exception):
    """The call was cancelled or its deadline passed; the solve stopped early."""


def _acquire(lock: threading.Lock | threading.Semaphore, deadline_s: float | None, stop: StopSignal) -> None:
    """Acquire, waiting in short slices, but never past the call's stop or deadline."""
    while not lock.acquire(timeout=_SLOT_POLL_S):
        if stop.is_set() or (deadline_s is not None and time.monotonic() >= deadline_s):
            raise _StoppedError()


def _stopped_status(context: grpc.ServicerContext) -> tuple[grpc.StatusCode, str]:
    """CANCELLED or DEADLINE_EXCEEDED, whichever ended the call."""
    remaining = context.time_remaining()
    if remaining is not None and remaining <= _DEADLINE_MARGIN_S:
        return grpc.StatusCode.DEADLINE_EXCEEDED, "deadline reached; the solve was stopped"
    return grpc.StatusCode.CANCELLED, "call cancelled; the solve was stopped"


def _answer_by(deadline_s: float | None) -> float | None:
    """When a solve must end to answer before the deadline, with what it found by then."""
    if deadline_s is None:
        return None
    low, high = _ANSWER_MARGIN_S
    return deadline_s - min(max((deadline_s - time.monotonic()) / 5, low), high)


def _deadline(context: grpc.ServicerContext) -> float | None:
    """The call's deadline on the monotonic clock, if it has one."""
    remaining = context.time_remaining()
    if remaining is None or remaining > _NO_DEADLINE_S:  # gRPC says ~9e18 s for "no deadline"
        return None
    return time.monotonic() + remaining


def _with(
    options: SolverOptions, time_limit_s: float, stop: StopSignal, report: Callable | None
) -> SolverOptions:
    """Solver options for one demand of a call."""
    return replace(options, time_limit_s=time_limit_s, stop=stop, on_incumbent=report)


def _geodata_set(root: Path, limits: InputLimits, *, layers: bool) -> GeodataSet:
    """The set at root (its layers by their file names, where layers) with its own defaults
    file, which must lie inside the set's folder."""
    defaults = root / SET_DEFAULTS_FILE
    if root.is_dir() and defaults.exists() and not defaults.resolve().is_relative_to(root.resolve()):
        raise InvalidRequestError(f"{SET_DEFAULTS_FILE} must stay inside the geodata set")
    try:
        return load_geodata_set(root, limits=limits, layers=layers)
    except InvalidScenarioError as exc:  # named by its path inside the set, never the server's
        raise InvalidRequestError(str(exc).replace(str(root), root.name)) from None


def _spec(request: pb.LoadNetworkRequest, root: Path, base: GeodataSpec) -> GeodataSpec:
    """The geodata spec a request describes, its paths confined to the set's folder; the
    request's default tables override the set's own key by key."""
    sources: dict[str, list[LayerSource]] = {}
    folder = root if root.is_dir() else root.parent
    if len(request.layers) > _MAX_LAYER_SOURCES:
        raise InvalidRequestError(f"layers: {len(request.layers)} sources; the limit is {_MAX_LAYER_SOURCES}")
    for i, layer in enumerate(request.layers):
        at = f"layers[{i}]"
        if layer.layer not in LAYERS:
            raise InvalidRequestError(f"{at}.layer must be one of {LAYERS}, got {layer.layer[:40]!r}")
        _refuse(_layer_problems(at, layer))
        rel = Path(layer.path) if layer.path else Path(root.name)
        if rel.is_absolute() or ".." in rel.parts:
            raise InvalidRequestError(f"{at}.path {layer.path!r} must stay inside the geodata set")
        path = folder / rel if layer.path else root
        sources.setdefault(layer.layer, []).append(
            LayerSource(
                path=path,
                layer=layer.layer_name or None,
                fields=dict(layer.fields),
                defaults=struct_to_dict(layer.defaults),
                x_field=layer.x_field or None,
                y_field=layer.y_field or None,
                crs=layer.crs or None,
                where=layer.where or None,
                on_invalid=layer.on_invalid or "refuse",
            )
        )
    merged = dict(base.sources) | {k: tuple(v) for k, v in sources.items()}
    return GeodataSpec(
        sources=merged,
        cost_per_km_by_kind={**base.cost_per_km_by_kind, **request.cost_per_km_by_kind},
        permit_cost_by_level={**base.permit_cost_by_level, **request.permit_cost_by_level},
        name=base.name,
    )


def _extract_bounded(archive: zipfile.ZipFile, member: zipfile.ZipInfo, target: Path, budget: int) -> int:
    """Unpack one member in slices, refused as soon as it inflates past its header's size or
    the request's budget (a zip's sizes are claims, not facts); returns the bytes written."""
    written = 0
    with archive.open(member) as source, target.open("wb") as sink:
        while chunk := source.read(_UNZIP_SLICE_BYTES):
            written += len(chunk)
            if written > member.file_size:
                raise InvalidRequestError(
                    f"inline_data: member {member.filename[:80]!r} inflates past the "
                    f"{member.file_size:,} bytes its header claims"
                )
            if written > budget:
                raise CapacityError("inline_data unpacks beyond the server's limit")
            sink.write(chunk)
    return written


def _refuse(problems: list[str]) -> None:
    """Raise INVALID_ARGUMENT with every problem found, if any."""
    if problems:
        raise InvalidRequestError("; ".join(problems))


def _layer_problems(at: str, layer: pb.LayerSource) -> list[str]:
    """Texts of one layer source within bounds, and its defaults finite numbers or short texts."""
    problems = check_text(f"{at}.path", layer.path, max_chars=1024)
    for name in ("layer_name", "x_field", "y_field", "crs", "where", "on_invalid"):
        problems += check_text(f"{at}.{name}", getattr(layer, name), max_chars=1024)
    for key, value in layer.fields.items():
        problems += check_text(f"{at}.fields[{key[:40]!r}]", key) + check_text(
            f"{at}.fields.{key[:40]}", value
        )
    for key, value in struct_to_dict(layer.defaults).items():
        where = f"{at}.defaults.{key[:40]}"
        problems += check_text(where, key)
        if isinstance(value, float) and not math.isfinite(value):
            problems.append(f"{where} must be a finite number, got {value}")
        elif isinstance(value, str):
            problems += check_text(where, value)
        elif not isinstance(value, int | float | bool) and value is not None:
            problems.append(f"{where} must be a number, text or true/false, got a {type(value).__name__}")
    return problems


def _confined_files(spec: GeodataSpec, root: Path, boundary: Path) -> list[Path]:
    """Every file the spec will open, with sidecars; each inside the set, of a plain format."""
    folder = (root if root.is_dir() else root.parent).resolve()
    files: set[Path] = set()
    for layer, sources in spec.sources.items():
        for src in sources:
            resolved = src.path.resolve()
            if not (resolved.is_relative_to(folder) and resolved.is_relative_to(boundary.resolve())):
                raise InvalidRequestError(f"{layer}: {src.path.name} lies outside the geodata set")
            if not resolved.is_file():
                raise InvalidGeodataError(f"{layer}: file {src.path.name} does not exist in the set")
            check_layer_file(layer, resolved)
            files.update(p for p in resolved.parent.iterdir() if p.is_file() and p.stem == resolved.stem)
    return sorted(files)


def _content_id(
    root: Path, files: list[Path], request: pb.LoadNetworkRequest, settings: GraphSettings, spec: GeodataSpec
) -> str:
    """Hash of every data file's bytes, the layer mapping and the graph settings."""
    h = hashlib.sha256()
    folder = (root if root.is_dir() else root.parent).resolve()
    for path in files:
        h.update(path.relative_to(folder).as_posix().encode())
        h.update(hashlib.sha256(path.read_bytes()).digest())
    mapping = pb.LoadNetworkRequest(
        layers=request.layers,
        cost_per_km_by_kind=request.cost_per_km_by_kind,
        permit_cost_by_level=request.permit_cost_by_level,
    )
    h.update(mapping.SerializeToString(deterministic=True))
    tables = {"by_kind": dict(spec.cost_per_km_by_kind), "by_level": dict(spec.permit_cost_by_level)}
    h.update(json.dumps(tables, sort_keys=True).encode())  # the set's own defaults file included
    h.update(_settings_key(settings).encode())
    return h.hexdigest()


def _settings_key(settings: GraphSettings) -> str:
    """A canonical text of graph settings, for caching graphs."""
    values = {f.name: getattr(settings, f.name) for f in fields(GraphSettings)}
    return json.dumps(values, sort_keys=True, default=lambda v: dict(v) if hasattr(v, "items") else list(v))


def _renamed(network: Network, name: str) -> Network:
    """The network with a display name."""
    return replace(network, name=name)
