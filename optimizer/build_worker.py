"""Network builds (geodata load and graph) in a killable child process with a memory cap.

The service never builds a graph on its own threads: a build of hostile or merely huge
geodata can take minutes inside GEOS, where no stop signal reaches, and allocate until the
kernel kills the server. Here each build runs in a child forked from a forkserver that has
the geodata and graph modules imported already (a fork costs milliseconds, not the seconds
of importing geopandas and OR-Tools), with its address space capped by `RLIMIT_AS`. The
parent waits in short slices, so a cancelled call or a passed deadline kills the child
within a fraction of a second and nothing half-built is ever cached.
"""

from __future__ import annotations

import logging
import multiprocessing
import multiprocessing.connection
import resource
import threading
import time
import types
from dataclasses import dataclass
from multiprocessing.reduction import ForkingPickler

from optimizer.config import GraphSettings
from optimizer.errors import CapacityError, OptimizerError
from optimizer.geodata import GeodataSpec, Layers, load_geodata
from optimizer.graph import Network, build_graph
from optimizer.limits import DEFAULT_LIMITS, InputLimits
from optimizer.problem import StopSignal

__all__ = ["BuildSettings", "BuildStoppedError", "build_network"]

logger = logging.getLogger(__name__)

DEFAULT_BUILD_MEMORY_BYTES = 4 * 1024**3
"""Address space a build may add on top of what its forked child starts with."""

_POLL_S = 0.1
_PRELOAD = ["optimizer.build_worker"]
_context_lock = threading.Lock()
_context: multiprocessing.context.BaseContext | None = None


def _reduce_mappingproxy(proxy: types.MappingProxyType) -> tuple:
    """Pickle a read-only mapping (frozen settings hold them) as a new proxy of a copy."""
    return _mappingproxy, (dict(proxy),)


def _mappingproxy(values: dict) -> types.MappingProxyType:
    """A read-only view of values (the unpickling side of _reduce_mappingproxy)."""
    return types.MappingProxyType(values)


ForkingPickler.register(types.MappingProxyType, _reduce_mappingproxy)


@dataclass(frozen=True)
class BuildSettings:
    """How builds run: in a child (the service) or in this process (tests, tools)."""

    isolated: bool = True
    memory_bytes: int = DEFAULT_BUILD_MEMORY_BYTES
    input_limits: InputLimits = DEFAULT_LIMITS


class BuildStoppedError(Exception):
    """The build was stopped by its caller (cancelled or past its deadline)."""


def build_network(
    spec: GeodataSpec | None,
    settings: GraphSettings,
    *,
    layers: Layers | None = None,
    stop: StopSignal | None = None,
    deadline_s: float | None = None,
    build: BuildSettings = BuildSettings(),
) -> tuple[Layers, Network]:
    """Load the layers (unless given) and build their graph, stoppable and memory-capped."""
    if not build.isolated:
        layers = load_geodata(spec, limits=build.input_limits) if layers is None else layers
        return layers, build_graph(layers, settings=settings)
    parent, child = _mp().Pipe(duplex=False)
    process = _mp().Process(
        target=_child_main,
        args=(child, spec, settings, layers, build),
        name="fiberopt-build",
        daemon=True,
    )
    process.start()
    child.close()
    try:
        outcome = _wait(parent, process, stop, deadline_s, build.memory_bytes)
    finally:
        if process.is_alive():
            process.kill()
        process.join()
        parent.close()
    kind, value = outcome
    if kind == "ok":
        return value
    raise value


def _wait(
    conn: multiprocessing.connection.Connection,
    process: multiprocessing.process.BaseProcess,
    stop: StopSignal | None,
    deadline_s: float | None,
    memory_bytes: int,
) -> tuple[str, object]:
    """The child's answer, or an error once stopped, past the deadline or dead."""
    while True:
        if stop is not None and stop.is_set():
            raise BuildStoppedError()
        if deadline_s is not None and time.monotonic() >= deadline_s:
            raise BuildStoppedError()
        if conn.poll(_POLL_S):
            try:
                return conn.recv()
            except (EOFError, OSError):
                break
        if not process.is_alive() and not conn.poll(0):
            break
    process.join(1.0)
    return "error", CapacityError(
        f"network build ended without an answer (exit code {process.exitcode}); it most likely ran "
        f"past its memory limit of {memory_bytes / 1024**2:,.0f} MiB; send smaller geodata"
    )


def _child_main(
    conn: multiprocessing.connection.Connection,
    spec: GeodataSpec | None,
    settings: GraphSettings,
    layers: Layers | None,
    build: BuildSettings,
) -> None:
    """Child: cap the address space, build, send ("ok", (layers, network)) or ("error", exc)."""
    memory_bytes = build.memory_bytes
    _cap_memory(memory_bytes)
    try:
        layers = load_geodata(spec, limits=build.input_limits) if layers is None else layers
        network = build_graph(layers, settings=settings)
        conn.send(("ok", (layers, network)))
    except OptimizerError as exc:
        conn.send(("error", exc))
    except MemoryError:
        conn.send(("error", _memory_error(memory_bytes)))
    except Exception as exc:  # GEOS reports an exhausted heap as GEOSException('std::bad_alloc')
        if "bad_alloc" in str(exc):
            conn.send(("error", _memory_error(memory_bytes)))
        else:
            logger.exception("network build failed")
            conn.send(("error", RuntimeError(f"network build failed: {type(exc).__name__}")))
    finally:
        conn.close()


def _memory_error(memory_bytes: int) -> CapacityError:
    """The error of a build over its memory cap."""
    return CapacityError(
        f"network build needs more than its memory limit of {memory_bytes / 1024**2:,.0f} MiB; "
        f"send smaller geodata or raise the server's build memory limit"
    )


def _cap_memory(memory_bytes: int) -> None:
    """Limit this process's address space to what it maps now plus memory_bytes."""
    with open("/proc/self/statm") as handle:
        mapped = int(handle.read().split()[0]) * resource.getpagesize()
    limit = mapped + memory_bytes
    _soft, hard = resource.getrlimit(resource.RLIMIT_AS)
    if hard != resource.RLIM_INFINITY:
        limit = min(limit, hard)
    resource.setrlimit(resource.RLIMIT_AS, (limit, hard))


def _mp() -> multiprocessing.context.BaseContext:
    """The forkserver context, its server preloaded with the build modules, made once."""
    global _context
    with _context_lock:
        if _context is None:
            context = multiprocessing.get_context("forkserver")
            context.set_forkserver_preload(_PRELOAD)
            _context = context
        return _context
