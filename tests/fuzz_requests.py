"""Adversarial requests for the RouteOptimizer gRPC service: hypothesis strategies for all six
methods and for raw undecodable bytes, the rules every answer must keep, and a server subprocess
to aim them at. Shared by tests/test_service_fuzz.py, bench/fuzz.py and bench/load.py.

Written as an outside checker from the proto (protos/fiberopt/v1/route_optimizer.proto), the
README and the sample's files, not from the service's code: each case is a valid-looking request
on the sample with one or more fields broken, and says what answers are acceptable for it.
"""

from __future__ import annotations

import copy
import io
import json
import math
import os
import re
import resource
import stat
import subprocess
import sys
import threading
import time
import zipfile
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from functools import lru_cache
from pathlib import Path

import grpc
from google.protobuf import struct_pb2
from google.protobuf.message import DecodeError, Message
from grpc_health.v1 import health_pb2, health_pb2_grpc
from hypothesis import HealthCheck, Phase, given, seed, settings
from hypothesis import strategies as st

from optimizer.api.fiberopt.v1 import route_optimizer_pb2 as pb

ROOT = Path(__file__).resolve().parents[1]
DATA_ROOT = ROOT / "geodata"
SAMPLE_DIR = DATA_ROOT / "sample"
SERVICE = "fiberopt.v1.RouteOptimizer"
LAYERS = ("sites", "corridors", "jurisdictions", "exclusions")

OK = "OK"
ALLOWED_CODES = frozenset(
    {"OK", "INVALID_ARGUMENT", "NOT_FOUND", "RESOURCE_EXHAUSTED", "FAILED_PRECONDITION"}
)
"""Statuses any call may end with."""
TIMING_CODES = frozenset({"DEADLINE_EXCEEDED", "CANCELLED"})
"""Statuses allowed only where the case set a tight deadline or cancelled the call."""
REFUSALS = frozenset({"INVALID_ARGUMENT", "NOT_FOUND", "RESOURCE_EXHAUSTED", "FAILED_PRECONDITION"})
MAX_DETAILS_BYTES = 1100
"""Status details at most ~1 KB (1,024 bytes plus room for a request id)."""
MAX_TRAILER_BYTES = 4096
"""All trailing metadata of an error (google.rpc.Status details included)."""
DEFAULT_DEADLINE_S = 30.0
HANG_SLACK_S = 5.0
"""A call that outlives its deadline by more than this is a hang."""
CLIENT_MESSAGE_BYTES = 256 * 1024 * 1024
LOOPBACK_DEAD_URL = "http://127.0.0.1:9"
"""Nothing listens on the discard port of this machine: /vsicurl/ cases never leave loopback."""
ZIP_SLIP_NAME = "fiberopt-zip-slip-canary.geojson"
"""A zip member climbing out of any extraction folder; it must never appear on disk."""
ZIP_SLIP_PLACES = (Path("/tmp"), Path("/"), ROOT, DATA_ROOT)

LEAK_PATTERNS: tuple[tuple[str, re.Pattern[str]], ...] = tuple(
    (name, re.compile(pattern))
    for name, pattern in (
        ("traceback", r"Traceback \(most recent call last\)|File \"[^\"]+\", line \d+"),
        ("python source path", r"\.py\b[\"':, ]"),
        (
            "python exception name",
            r"\b(TypeError|KeyError|AttributeError|IndexError|ZeroDivisionError|"
            r"RecursionError|MemoryError|AssertionError|UnboundLocalError|NameError|OverflowError|"
            r"UnicodeDecodeError|UnicodeEncodeError|RuntimeError|OSError)\b",
        ),
        ("GEOS/C++ internals", r"GEOSException|std::|bad_alloc|Segmentation|IllegalArgumentException"),
        (
            "OR-Tools internals",
            r"ortools|operations_research|cp_model|CpModel|CpSolver|pywrap|"
            r"SWIG|Highs|linear_solver|num_workers\s*:|\bvariables\s*\{|\bconstraints\s*\{",
        ),
        ("object repr", r"<[\w.]+ object at 0x[0-9a-f]+>|0x[0-9a-f]{8,}"),
        ("lost status (trailers over the metadata limit)", r"metadata size exceeds|Received message larger"),
        ("file content outside the data root", r"root:x:0:0|/bin/(ba)?sh\b"),
    )
)


# --------------------------------------------------------------------------- the sample's facts


@dataclass(frozen=True)
class SampleFacts:
    """What the sample holds, read from its own GeoJSON files."""

    site_ids: tuple[str, ...]
    site_lonlat: dict[str, tuple[float, float]] = field(hash=False, compare=False)
    state_ids: tuple[str, ...]
    county_ids: tuple[str, ...]
    levels: tuple[str, ...]
    corridor_kinds: tuple[str, ...]


@lru_cache(maxsize=4)
def _feature_lines(layer: str, sample_dir: Path = SAMPLE_DIR) -> tuple[str, ...]:
    """The feature lines of one sample layer file (one feature per line, trailing comma removed)."""
    text = (sample_dir / f"{layer}.geojson").read_text(encoding="utf-8")
    lines = [line.rstrip().rstrip(",") for line in text.splitlines()[1:]]
    return tuple(line for line in lines if line.startswith("{"))


@lru_cache(maxsize=1)
def sample_facts(sample_dir: Path = SAMPLE_DIR) -> SampleFacts:
    """Site ids, jurisdiction ids and levels, corridor kinds of the sample."""
    sites = [json.loads(line) for line in _feature_lines("sites", sample_dir)]
    juris = [json.loads(line)["properties"] for line in _feature_lines("jurisdictions", sample_dir)]
    corridors = [json.loads(line)["properties"] for line in _feature_lines("corridors", sample_dir)]
    lonlat = {f["properties"]["site_id"]: tuple(f["geometry"]["coordinates"][:2]) for f in sites}
    return SampleFacts(
        site_ids=tuple(lonlat),
        site_lonlat=lonlat,
        state_ids=tuple(j["jurisdiction_id"] for j in juris if j["level"] == "state"),
        county_ids=tuple(j["jurisdiction_id"] for j in juris if j["level"] == "county"),
        levels=tuple(sorted({j["level"] for j in juris})),
        corridor_kinds=tuple(sorted({c["kind"] for c in corridors})),
    )


def great_circle_km(a: tuple[float, float], b: tuple[float, float]) -> float:
    """Haversine distance between two lon/lat points, km."""
    lon1, lat1, lon2, lat2 = map(math.radians, (*a, *b))
    h = math.sin((lat2 - lat1) / 2) ** 2 + math.cos(lat1) * math.cos(lat2) * math.sin((lon2 - lon1) / 2) ** 2
    return 2 * 6371.0 * math.asin(math.sqrt(h))


def plausible_latency_ms(facts: SampleFacts, a: str, b: str, factor: float) -> float:
    """A latency bound near what a fiber route between two sample sites takes (x factor)."""
    km = great_circle_km(facts.site_lonlat[a], facts.site_lonlat[b])
    return round(max(0.5, km * 1.3 * 0.0049 * factor), 3)


# --------------------------------------------------------------------------- cases and outcomes


@dataclass(frozen=True)
class Target:
    """What the cases aim at: the sample's network id on the server and the sample's facts."""

    network_id: str
    facts: SampleFacts = field(repr=False)
    data_root: Path = DATA_ROOT


@dataclass(frozen=True)
class Case:
    """One request, and what answers are acceptable for it."""

    method: str
    """RouteOptimizer method name, e.g. "Optimize"."""
    request: Message | bytes
    """The message, or raw bytes sent as they are (undecodable input)."""
    summary: str
    """What was broken, short, for reports."""
    family: str = ""
    """Which strategy made it (raw, read, optimize, stream, frontier, load-name, load-inline)."""
    deadline_s: float = DEFAULT_DEADLINE_S
    timing_ok: bool = False
    """The case set a tight deadline or cancels: DEADLINE_EXCEEDED and CANCELLED are allowed."""
    cancel_after_s: float | None = None
    invalid: bool = False
    """The request breaks a documented rule, so OK is a wrong answer."""
    expect: frozenset[str] = frozenset()
    """When set, the only acceptable statuses (timing codes still apply if timing_ok)."""


@dataclass(frozen=True)
class Outcome:
    """What one call ended with."""

    case: Case
    code: str
    details: str
    trailer_bytes: int
    trailer_text: str
    elapsed_s: float
    events: int = 0
    response: Message | None = field(default=None, compare=False)
    final_result: bool = True
    """For streams: the last event was the result."""


def method_path(method: str) -> str:
    """The full gRPC method path."""
    return f"/{SERVICE}/{method}"


STREAMING = frozenset({"OptimizeStream"})
RESPONSE_TYPES: dict[str, type[Message]] = {
    "LoadNetwork": pb.NetworkInfo,
    "ListNetworks": pb.ListNetworksResponse,
    "GetNetwork": pb.NetworkInfo,
    "Optimize": pb.OptimizeResponse,
    "OptimizeStream": pb.OptimizeEvent,
    "Frontier": pb.FrontierResponse,
}
REQUEST_TYPES: dict[str, type[Message]] = {
    "LoadNetwork": pb.LoadNetworkRequest,
    "ListNetworks": pb.ListNetworksRequest,
    "GetNetwork": pb.GetNetworkRequest,
    "Optimize": pb.OptimizeRequest,
    "OptimizeStream": pb.OptimizeRequest,
    "Frontier": pb.FrontierRequest,
}


def open_channel(port: int, host: str = "127.0.0.1") -> grpc.Channel:
    """A plaintext loopback channel that accepts large responses."""
    options = [
        ("grpc.max_receive_message_length", CLIENT_MESSAGE_BYTES),
        ("grpc.max_send_message_length", CLIENT_MESSAGE_BYTES),
    ]
    return grpc.insecure_channel(f"{host}:{port}", options=options)


def _serialized(request: Message | bytes) -> bytes:
    """The bytes on the wire for a request."""
    return request if isinstance(request, bytes) else request.SerializeToString()


def _trailer(exc: grpc.RpcError) -> tuple[int, str]:
    """Size and printable text of an error's trailing metadata."""
    try:
        pairs = exc.trailing_metadata() or ()
    except Exception:  # a cancelled future has no metadata to give
        return 0, ""
    size = sum(len(k) + len(v) for k, v in pairs)
    text = " ".join(f"{k}={v!r}" if isinstance(v, bytes) else f"{k}={v}" for k, v in pairs)
    return size, text


def call(channel: grpc.Channel, case: Case, metadata: Sequence[tuple[str, str]] = ()) -> Outcome:
    """Send one case with its deadline (and cancel if asked); never raises for an RPC status."""
    started = time.monotonic()
    deserialize = RESPONSE_TYPES[case.method].FromString
    kwargs = {"timeout": case.deadline_s, "metadata": tuple(metadata) or None}
    try:
        if case.method in STREAMING:
            return _call_stream(channel, case, deserialize, kwargs, started)
        stub = channel.unary_unary(
            method_path(case.method), request_serializer=_serialized, response_deserializer=deserialize
        )
        future = stub.future(case.request, **kwargs)
        timer = _cancel_timer(case, future.cancel)
        try:
            response = future.result()
        finally:
            if timer:
                timer.cancel()
        return Outcome(case, OK, "", 0, "", time.monotonic() - started, 1, response)
    except grpc.FutureCancelledError:
        return Outcome(case, "CANCELLED", "cancelled by the client", 0, "", time.monotonic() - started)
    except grpc.RpcError as exc:
        size, text = _trailer(exc)
        return Outcome(case, exc.code().name, exc.details() or "", size, text, time.monotonic() - started)


def _cancel_timer(case: Case, cancel: Callable[[], object]) -> threading.Timer | None:
    """Start a timer that cancels the call after the case's cancel_after_s."""
    if case.cancel_after_s is None:
        return None
    timer = threading.Timer(case.cancel_after_s, cancel)
    timer.daemon = True
    timer.start()
    return timer


def _call_stream(
    channel: grpc.Channel, case: Case, deserialize: Callable[[bytes], Message], kwargs: dict, started: float
) -> Outcome:
    """Run a server-streaming case to its end, counting events; the last must be the result."""
    stub = channel.unary_stream(
        method_path(case.method), request_serializer=_serialized, response_deserializer=deserialize
    )
    stream = stub(case.request, **kwargs)
    timer = _cancel_timer(case, stream.cancel)
    events, last = 0, None
    try:
        for event in stream:
            events += 1
            last = event
    except grpc.RpcError as exc:
        size, text = _trailer(exc)
        return Outcome(
            case, exc.code().name, exc.details() or "", size, text, time.monotonic() - started, events
        )
    finally:
        if timer:
            timer.cancel()
    final = last is not None and last.WhichOneof("event") == "result"
    return Outcome(case, OK, "", 0, "", time.monotonic() - started, events, last, final)


def health_ok(channel: grpc.Channel, timeout_s: float = 5.0) -> bool:
    """The standard health check answers SERVING within the timeout."""
    try:
        reply = health_pb2_grpc.HealthStub(channel).Check(health_pb2.HealthCheckRequest(), timeout=timeout_s)
    except grpc.RpcError:
        return False
    return reply.status == health_pb2.HealthCheckResponse.SERVING


def problems(outcome: Outcome, data_root: Path = DATA_ROOT) -> list[str]:
    """Every rule the answer breaks (empty when it is acceptable)."""
    case, found = outcome.case, []
    # RESOURCE_EXHAUSTED may signal overload (a full queue, a caller's quota) on any call.
    expected = case.expect | {"RESOURCE_EXHAUSTED"} if case.expect else ALLOWED_CODES
    allowed = expected | (TIMING_CODES if case.timing_ok else frozenset())
    if outcome.code not in allowed:
        found.append(f"status {outcome.code} not in {sorted(allowed)}")
    if outcome.code == OK and case.invalid:
        found.append("invalid input accepted (OK)")
    if outcome.code == OK and not outcome.final_result:
        found.append(f"stream ended OK after {outcome.events} events without a final result")
    if outcome.elapsed_s > case.deadline_s + HANG_SLACK_S:
        found.append(f"hang: {outcome.elapsed_s:.1f} s for a {case.deadline_s:.1f} s deadline")
    found.extend(_detail_problems(outcome, data_root))
    return found


def _detail_problems(outcome: Outcome, data_root: Path) -> list[str]:
    """Details bounded, no server paths, no internals, no file content from outside."""
    found = []
    size = len(outcome.details.encode("utf-8", "replace"))
    if size > MAX_DETAILS_BYTES:
        found.append(f"details {size} bytes > {MAX_DETAILS_BYTES}")
    if outcome.trailer_bytes > MAX_TRAILER_BYTES:
        found.append(f"trailing metadata {outcome.trailer_bytes} bytes > {MAX_TRAILER_BYTES}")
    text = f"{outcome.details}\n{outcome.trailer_text}"
    sent = _serialized(outcome.case.request)
    for path in {str(data_root.resolve()), str(data_root.resolve().parent)}:
        if path in text and path.encode() not in sent:
            found.append(f"details leak the server path {path}")
    for name, pattern in LEAK_PATTERNS:
        match = pattern.search(text)
        if match and match.group(0).encode() not in sent:
            found.append(f"details leak {name} ({match.group(0)[:40]!r})")
    return found


def zip_slip_escapes() -> list[Path]:
    """Canary files a zip member wrote outside any extraction folder."""
    return [place / ZIP_SLIP_NAME for place in ZIP_SLIP_PLACES if (place / ZIP_SLIP_NAME).exists()]


def describe(outcome: Outcome, width: int = 240) -> str:
    """One line for a report: method, input summary, status, details."""
    details = outcome.details.replace("\n", " ")
    if len(details) > width:
        details = f"{details[:width]}... ({len(outcome.details)} chars)"
    case = outcome.case
    return f"{case.method} [{case.summary}] -> {outcome.code} {outcome.elapsed_s:.1f}s: {details}"


# --------------------------------------------------------------------------- adversarial values

NAN, INF = math.nan, math.inf
NONFINITE = (NAN, INF, -INF)
HUGE = (1e308, -1e308, 1.7976931348623157e308, 1e15, 1e30, 2.0**63, 9.007199254740993e15)
TINY = (5e-324, -5e-324, 1e-300, 0.0, -0.0, -1.0, -1e-9)
INT32_EXTREMES = (-(2**31), -1, 0, 2**31 - 1, 9, 1000, 100_000)
LONG = 20_000


def _label(value: object) -> str:
    """A value shortened for a case summary."""
    text = repr(value)
    return text if len(text) <= 40 else f"{text[:16]}...({len(text)} chars)"


def bad_floats() -> st.SearchStrategy[float]:
    """Numbers that break naive arithmetic."""
    return st.sampled_from(NONFINITE + HUGE + TINY)


def is_nonfinite(value: float) -> bool:
    """NaN or infinite."""
    return not math.isfinite(value)


def odd_strings(known: Sequence[str] = ()) -> st.SearchStrategy[str]:
    """Strings a careless server trips on: long, NUL, control, paths, unicode, near-miss ids."""
    base = [
        "",
        "x" * LONG,
        "\x00",
        "a\x00b",
        "line\nbreak",
        "\u202e\u0000\ufffd",
        "../../etc/passwd",
        "/etc/passwd",
        "%s%s%n",
        "{0}{1}",
        "' OR 1=1 --",
        "\udcff".encode("utf-8", "surrogatepass").decode("utf-8", "replace"),
        "🚀" * 2_000,
    ]
    near = [k + "\x00" for k in known[:3]] + [k.lower() for k in known[:3]] + [k * 5_000 for k in known[:1]]
    return st.one_of(st.sampled_from(base + near), st.text(min_size=1, max_size=64))


# --------------------------------------------------------------------------- demands


@dataclass(frozen=True)
class Broken:
    """A mutation made to a request: where, what, and whether the result is surely invalid."""

    where: str
    value: object
    invalid: bool = False
    expect: frozenset[str] = frozenset()
    timing: bool = False

    def summary(self) -> str:
        """`where=value`, short."""
        return f"{self.where}={_label(self.value)}"


@st.composite
def valid_demand(draw, facts: SampleFacts, *, demand_id: str | None = None, paths_max: int = 2) -> pb.Demand:
    """A demand between two distinct sample sites with a plausible latency bound."""
    a, b = draw(st.lists(st.sampled_from(facts.site_ids), min_size=2, max_size=2, unique=True))
    factor = draw(st.sampled_from((0.9, 1.2, 1.5, 2.0, 3.0)))
    demand = pb.Demand(
        id=demand_id or f"{a.lower()}-{b.lower()}",
        a=a,
        b=b,
        max_latency_ms=plausible_latency_ms(facts, a, b, factor),
        paths=draw(st.integers(0, paths_max)),
    )
    if draw(st.booleans()):
        demand.diversity = draw(st.sampled_from(list(pb.Diversity.values())))
    if draw(st.integers(0, 4)) == 0:
        demand.max_jurisdictions = draw(st.integers(5, 60))
    return demand


def _demand_number_fields() -> tuple[tuple[str, str], ...]:
    """(field, rule) of the demand's numbers: rule 'positive', 'nonneg' or 'free'."""
    return (
        ("max_latency_ms", "positive"),
        ("max_cost", "nonneg"),
        ("min_separation_km", "nonneg"),
        ("endpoint_radius_km", "nonneg"),
    )


DEMAND_UPPER = {"min_separation_km": 1000.0}
"""Documented upper bounds of demand numbers (README: min_separation_km at most 1,000 km)."""


def _number_broken(where: str, value: float, rule: str, upper: float = math.inf) -> Broken:
    """A number mutation and whether the documented rule makes it invalid."""
    invalid = (
        is_nonfinite(value)
        or (rule == "positive" and value <= 0)
        or (rule == "nonneg" and value < 0)
        or value > upper
    )
    return Broken(where, value, invalid=invalid)


@st.composite
def broken_demand(draw, facts: SampleFacts, index: int, demand: pb.Demand) -> tuple[pb.Demand, Broken]:
    """The demand with one field broken."""
    demand = copy.deepcopy(demand)
    where = f"demands[{index}]"
    kind = draw(st.sampled_from(("number", "paths", "ints", "site", "id", "jurisdictions", "diversity")))
    if kind == "number":
        name, rule = draw(st.sampled_from(_demand_number_fields()))
        value = draw(bad_floats())
        setattr(demand, name, value)
        broken = _number_broken(f"{where}.{name}", value, rule, DEMAND_UPPER.get(name, math.inf))
        if name == "max_cost" and value > 1e12 and demand.paths < 2:
            demand.paths = draw(st.sampled_from((2, 3)))  # the TypeError: huge max_cost, paths >= 2
            broken = replace(broken, where=f"{where}.max_cost(paths={demand.paths})")
        return demand, broken
    if kind == "paths":
        value = draw(st.sampled_from(INT32_EXTREMES))
        demand.paths = value
        return demand, Broken(f"{where}.paths", value, invalid=not 0 <= value <= 8)
    if kind == "ints":
        value = draw(st.sampled_from(INT32_EXTREMES))
        demand.max_jurisdictions = value
        return demand, Broken(f"{where}.max_jurisdictions", value, invalid=value < 0)
    if kind == "site":
        end = draw(st.sampled_from(("a", "b")))
        value = draw(odd_strings(facts.site_ids) | st.sampled_from(("NOPE1", "chi1", " CHI1")))
        setattr(demand, end, value)
        known = value in facts.site_ids
        expect = frozenset() if known else frozenset({"NOT_FOUND", "INVALID_ARGUMENT"})
        return demand, Broken(f"{where}.{end}", value, invalid=not known, expect=expect)
    if kind == "id":
        value = draw(odd_strings())
        demand.id = value
        return demand, Broken(f"{where}.id", value)
    if kind == "jurisdictions":
        return _broken_jurisdictions(draw, facts, where, demand)
    value = draw(st.sampled_from((4, 99, -1, 2**31 - 1)))
    demand.diversity = value
    return demand, Broken(f"{where}.diversity", value)


def _broken_jurisdictions(
    draw, facts: SampleFacts, where: str, demand: pb.Demand
) -> tuple[pb.Demand, Broken]:
    """allowed_/avoid_jurisdictions with unknown, odd or thousands of ids."""
    name = draw(st.sampled_from(("allowed_jurisdictions", "avoid_jurisdictions")))
    choice = draw(st.sampled_from(("odd", "many", "unknown", "real")))
    if choice == "odd":
        values = [draw(odd_strings(facts.state_ids))]
    elif choice == "many":
        values = [str(i) for i in range(draw(st.sampled_from((2_000, 20_000))))]
    elif choice == "unknown":
        values = ["99", "XX-NOPE"]
    else:
        values = list(draw(st.lists(st.sampled_from(facts.state_ids + facts.county_ids[:40]), max_size=6)))
    getattr(demand, name).extend(values)
    return demand, Broken(f"{where}.{name}", values if len(values) < 5 else f"{len(values)} ids")


# --------------------------------------------------------------------------- settings and solver

SETTING_RULES: dict[str, tuple[str, float]] = {
    # field: (rule, documented upper bound). README: finite; snap <= 1 km, gap <= 50 km,
    # laterals <= 500 km and <= 20 per site, factors <= 10.
    "snap_tolerance_m": ("nonneg", 1000.0),
    "gap_km": ("nonneg", 50.0),
    "max_lateral_km": ("nonneg", 500.0),
    "lateral_cost_per_km": ("nonneg", math.inf),
    "lateral_route_factor": ("positive", 10.0),
    "group_index": ("positive", 10.0),
    "slack_factor": ("positive", 10.0),
    "min_entry_m": ("nonneg", math.inf),
}
VALID_SETTINGS = (
    None,
    pb.GraphSettings(),
    pb.GraphSettings(max_lateral_km=25.0),
    pb.GraphSettings(counted_levels=["county"]),
)
"""Few valid variants: each different one builds (and caches) a graph on the server."""


@st.composite
def broken_settings(draw, facts: SampleFacts) -> tuple[pb.GraphSettings, Broken]:
    """Graph settings with one value out of its documented range."""
    settings = pb.GraphSettings()
    choice = draw(st.sampled_from((*SETTING_RULES, "laterals_per_site", "counted_levels")))
    if choice == "laterals_per_site":
        value = draw(st.sampled_from((-1, 21, 1000, 2**31 - 1, -(2**31))))
        settings.laterals_per_site = value
        return settings, Broken("settings.laterals_per_site", value, invalid=True)
    if choice == "counted_levels":
        value = draw(st.sampled_from((["nope"], ["x" * LONG], ["\x00"], [*facts.levels, "bogus"])))
        settings.counted_levels.extend(value)
        return settings, Broken("settings.counted_levels", value, invalid=True)
    rule, upper = SETTING_RULES[choice]
    value = draw(
        st.sampled_from((*NONFINITE, 1e308, -1e308, -1.0, upper * 3 if math.isfinite(upper) else -5.0))
    )
    setattr(settings, choice, value)
    invalid = is_nonfinite(value) or value < 0 or value > upper or (rule == "positive" and value <= 0)
    return settings, Broken(f"settings.{choice}", value, invalid=invalid)


@st.composite
def solver_options(draw, *, broken: bool) -> tuple[pb.SolverOptions, Broken | None]:
    """Short time limits (the suite stays fast); broken: one value out of range."""
    options = pb.SolverOptions(time_limit_s=draw(st.sampled_from((0.2, 0.5, 1.0))))
    if draw(st.booleans()):
        options.num_workers = draw(st.sampled_from((1, 2)))
    if not broken:
        return options, None
    if draw(st.booleans()):
        value = draw(st.sampled_from((*NONFINITE, -1.0, -1e308, 0.0, 5e-324, 1e308)))
        options.time_limit_s = value
        # A huge limit runs until the deadline: set a tight one and allow DEADLINE_EXCEEDED.
        timing = math.isfinite(value) and value > 10
        invalid = is_nonfinite(value) or value < 0
        return options, Broken("solver.time_limit_s", value, invalid=invalid, timing=timing)
    value = draw(st.sampled_from(INT32_EXTREMES))
    options.num_workers = value
    return options, Broken("solver.num_workers", value, invalid=value < 0)


# --------------------------------------------------------------------------- Optimize, stream, Frontier


def _timing(draw, case: Case, method: str) -> Case:
    """Sometimes a tight deadline or a cancel (then DEADLINE_EXCEEDED / CANCELLED are allowed)."""
    choice = draw(st.sampled_from(("none", "none", "none", "deadline", "cancel")))
    if choice == "deadline":
        return replace(
            case,
            deadline_s=draw(st.sampled_from((0.001, 0.05, 0.3, 1.0))),
            timing_ok=True,
            summary=f"{case.summary}; deadline",
        )
    if choice == "cancel":
        return replace(
            case,
            cancel_after_s=draw(st.sampled_from((0.0, 0.05, 0.3, 1.0))),
            timing_ok=True,
            summary=f"{case.summary}; cancel",
        )
    return case


def _finish(case: Case, broken: Sequence[Broken]) -> Case:
    """Fold the mutations' summaries and expectations into the case."""
    # The server may name any of several faults: a status is expected only when every fault
    # expects one (then any of theirs); a fault without an expectation allows every refusal.
    expect = frozenset()
    # A field set twice holds its last value: an earlier mutation of it no longer applies.
    last = list({b.where: b for b in broken}.values())
    faults = [b for b in last if b.invalid or b.expect]
    if faults and all(b.expect for b in faults):
        expect = frozenset().union(*(b.expect for b in faults))
    summary = "; ".join(b.summary() for b in broken) or "valid"
    invalid = any(b.invalid for b in last)
    if invalid and expect:
        expect = expect - {OK}
    timing = any(b.timing for b in broken)
    case = replace(case, summary=summary, invalid=invalid, expect=expect)
    if timing:
        case = replace(case, deadline_s=min(case.deadline_s, 5.0), timing_ok=True)
    return case


@st.composite
def optimize_request(draw, target: Target, method: str = "Optimize") -> Case:
    """An Optimize (or OptimizeStream) request on the sample, with 0-3 fields broken."""
    facts = target.facts
    n = draw(st.integers(1, 4))
    demands = [draw(valid_demand(facts, demand_id=f"d{i}")) for i in range(n)]
    request = pb.OptimizeRequest(network_id=target.network_id, demands=demands)
    broken: list[Broken] = []
    for _ in range(draw(st.sampled_from((0, 1, 1, 1, 2, 3)))):
        broken.append(_break_optimize(draw, target, request))
    settings = draw(st.sampled_from(VALID_SETTINGS))
    if settings is not None and not request.HasField("settings"):
        request.settings.CopyFrom(settings)
    options, solver_broken = draw(solver_options(broken=draw(st.integers(0, 5)) == 0))
    request.solver.CopyFrom(options)
    broken += [solver_broken] if solver_broken else []
    request.shared_build = draw(st.booleans())
    request.include_jurisdiction_geometry = draw(st.integers(0, 3)) == 0
    case = _finish(Case(method, request, "", family="stream" if method in STREAMING else "optimize"), broken)
    if len(request.demands) > 8 and not case.timing_ok:  # many demands: the solves may outlast 30 s
        case = replace(case, deadline_s=20.0, timing_ok=True)
    return _timing(draw, case, method)


def _break_optimize(draw, target: Target, request: pb.OptimizeRequest) -> Broken:
    """Break one thing of an Optimize request in place."""
    facts = target.facts
    choices = ("demand", "demand", "demand", "network", "duplicates", "many", "settings", "name", "none")
    choice = draw(st.sampled_from(choices if request.demands else ("network", "settings", "name")))
    if choice == "demand":
        index = draw(st.integers(0, len(request.demands) - 1))
        demand, broken = draw(broken_demand(facts, index, request.demands[index]))
        request.demands[index].CopyFrom(demand)
        return broken
    if choice == "network":
        value = draw(odd_strings((target.network_id,)) | st.sampled_from(("0" * 64, target.network_id[:12])))
        request.network_id = value
        return Broken("network_id", value, invalid=True, expect=frozenset({"NOT_FOUND", "INVALID_ARGUMENT"}))
    if choice == "duplicates":
        copies = draw(st.sampled_from((2, 3, 50)))
        request.demands.extend([copy.deepcopy(request.demands[0]) for _ in range(copies - 1)])
        return Broken("demands", f"{copies} copies of demands[0] (same id)")
    if choice == "many":
        count = draw(st.sampled_from((1_001, 2_500, 5_000)))
        first = request.demands[0]
        del request.demands[:]
        request.demands.extend(
            pb.Demand(id=f"m{i}", a=first.a, b=first.b, max_latency_ms=first.max_latency_ms)
            for i in range(count)
        )
        return Broken("demands", f"{count} demands", timing=True)
    if choice == "settings":
        settings, broken = draw(broken_settings(facts))
        request.settings.CopyFrom(settings)
        return broken
    if choice == "name":
        value = draw(odd_strings())
        request.name = value
        return Broken("name", value)
    del request.demands[:]
    return Broken("demands", "none")


@st.composite
def frontier_request(draw, target: Target) -> Case:
    """A Frontier request on the sample, with 0-2 fields broken."""
    facts = target.facts
    demand = draw(valid_demand(facts, demand_id="f0", paths_max=2))
    request = pb.FrontierRequest(network_id=target.network_id, demand=demand)
    options, solver_broken = draw(solver_options(broken=draw(st.integers(0, 5)) == 0))
    request.solver.CopyFrom(options)
    broken = [solver_broken] if solver_broken else []
    for _ in range(draw(st.sampled_from((0, 1, 1, 2)))):
        choice = draw(st.sampled_from(("demand", "demand", "max_points", "network", "settings", "empty")))
        if choice == "demand":
            new, b = draw(broken_demand(facts, 0, request.demand))
            request.demand.CopyFrom(new)
            broken.append(replace(b, where=b.where.replace("demands[0]", "demand")))
        elif choice == "max_points":
            value = draw(st.sampled_from((-1, -(2**31), 1, 2, 2**31 - 1)))
            request.max_points = value
            broken.append(Broken("max_points", value, invalid=value < 0))
        elif choice == "network":
            value = draw(odd_strings((target.network_id,)))
            request.network_id = value
            broken.append(
                Broken("network_id", value, invalid=True, expect=frozenset({"NOT_FOUND", "INVALID_ARGUMENT"}))
            )
        elif choice == "settings":
            settings, b = draw(broken_settings(facts))
            request.settings.CopyFrom(settings)
            broken.append(b)
        else:
            request.ClearField("demand")
            broken.append(Broken("demand", "unset", invalid=True))
    return _timing(draw, _finish(Case("Frontier", request, "", family="frontier"), broken), "Frontier")


# --------------------------------------------------------------------------- ListNetworks, GetNetwork


@st.composite
def read_request(draw, target: Target) -> Case:
    """ListNetworks, or GetNetwork with a real, unknown or odd id."""
    if draw(st.integers(0, 3)) == 0:
        return Case("ListNetworks", pb.ListNetworksRequest(), "ListNetworks", family="read", deadline_s=10.0)
    value = draw(
        st.one_of(
            st.just(target.network_id),
            odd_strings((target.network_id,)),
            st.sampled_from(
                ("0" * 64, target.network_id.upper(), target.network_id[:-1], target.network_id + " ")
            ),
        )
    )
    if value == target.network_id:
        return Case(
            "GetNetwork",
            pb.GetNetworkRequest(network_id=value),
            "real id",
            family="read",
            deadline_s=10.0,
            expect=frozenset({OK}),
        )
    return Case(
        "GetNetwork",
        pb.GetNetworkRequest(network_id=value),
        f"network_id={_label(value)}",
        family="read",
        deadline_s=10.0,
        invalid=True,
        expect=frozenset({"NOT_FOUND", "INVALID_ARGUMENT"}),
    )


# --------------------------------------------------------------------------- raw bytes

RAW_BYTES = (
    b"\xff",
    b"\xff\xff\xff\xff",
    b"\x0a\xff\xff\xff\xff\x0f",  # a length far beyond the message
    b"\x0a\x05ab",  # a string field cut short
    b"\x08",  # a varint tag with no value
    b"\x80\x80\x80\x80\x80\x80\x80\x80\x80\x80\x01",  # an 11-byte varint
    b"\x0b\x0c",  # start/end group markers
    b"\x0f",  # wire type 7 (invalid)
    b"\x12\x03\xff\xfe\xfd",  # invalid UTF-8 in a string field
)


def decodes_as(method: str, data: bytes) -> bool:
    """The bytes parse as the method's request (then the call is an ordinary one)."""
    try:
        REQUEST_TYPES[method].FromString(data)
    except DecodeError:
        return False
    return True


@st.composite
def raw_request(draw) -> Case:
    """Undecodable bytes for any method (sent with request_serializer=None semantics)."""
    method = draw(st.sampled_from(sorted(REQUEST_TYPES)))
    data = draw(st.one_of(st.sampled_from(RAW_BYTES), st.binary(min_size=1, max_size=256)))
    decodes = decodes_as(method, data)
    summary = f"raw {len(data)} bytes {data[:12].hex()}{'' if not decodes else ' (decodes)'}"
    # Raw bytes that happen to decode are an ordinary (odd) request: any allowed status.
    expect = frozenset() if decodes else frozenset({"INVALID_ARGUMENT"})
    deadline = 20.0 if decodes else 10.0
    return Case(
        method,
        data,
        summary,
        family="raw",
        deadline_s=deadline,
        invalid=not decodes,
        expect=expect,
        timing_ok=decodes,
    )


# --------------------------------------------------------------------------- LoadNetwork by name

NAMES_INVALID = (
    "../sample",
    "sample/..",
    "sample/../../",
    "..",
    "/",
    "/etc",
    "/etc/passwd",
    "/proc/self/environ",
    "sample\x00",
    "sam\x00ple",
    "s" * LONG,
    f"/vsicurl/{LOOPBACK_DEAD_URL}/x.gpkg",
    "/vsizip//tmp/none.zip/a.geojson",
    "/vsizip/sample/corridors.geojson",
    "/vsistdin/",
    "/vsimem/x",
    "~root",
    "..\\..\\windows",
)
NAMES_UNKNOWN = ("", "nope", "SAMPLE", "sample2", "sample/corridors.geojson", "sample/missing", "CON", "☃")


def _struct(values: dict) -> struct_pb2.Struct:
    """A google.protobuf.Struct holding the values (NaN and Inf survive the binary encoding)."""
    out = struct_pb2.Struct()
    for key, value in values.items():
        if isinstance(value, float):
            out.fields[key].number_value = value  # update() would also take them, but say it plainly
        else:
            out.update({key: value})
    return out


@st.composite
def broken_layer_source(draw, facts: SampleFacts) -> tuple[pb.LayerSource, Broken]:
    """One LayerSource over a sample file with one field broken."""
    layer = draw(st.sampled_from(LAYERS))
    source = pb.LayerSource(layer=layer, path=f"{layer}.geojson")
    choice = draw(
        st.sampled_from(
            ("layer", "path", "path", "layer_name", "fields", "defaults", "defaults", "xy", "crs")
        )
    )
    if choice == "layer":
        value = draw(st.sampled_from(("bogus", "", "Sites", "x" * LONG, "sites\x00")))
        source.layer = value
        return source, Broken("layers[0].layer", value, invalid=True)
    if choice == "path":
        value = draw(
            st.sampled_from(
                (
                    "../sample/sites.geojson",
                    "../../../etc/passwd",
                    "/etc/passwd",
                    str(DATA_ROOT / "sample" / "sites.geojson"),
                    f"/vsicurl/{LOOPBACK_DEAD_URL}/c.geojson",
                    "/vsizip/sites.zip/sites.geojson",
                    "/vsimem/x.geojson",
                    "sites.geojson\x00.txt",
                    "p" * LONG,
                    "",
                    "missing.geojson",
                    "README.md",
                    "scenario.yaml",
                    ".",
                )
            )
        )
        source.path = value
        invalid = value not in ("",)
        return source, Broken("layers[0].path", value, invalid=invalid)
    if choice == "layer_name":
        value = draw(st.sampled_from(("nope", "x" * LONG, "\x00", "'; DROP TABLE x; --")))
        source.layer_name = value
        return source, Broken("layers[0].layer_name", value)
    if choice == "fields":
        key = draw(st.sampled_from(("corridor_id", "site_id", "kind", "x" * 200, "\x00")))
        value = draw(st.sampled_from(("nonexistent", "x" * LONG, "", "\x00", "name")))
        source.fields[key] = value
        return source, Broken(f"layers[0].fields[{_label(key)}]", value)
    if choice == "defaults":
        key = draw(st.sampled_from(("cost_per_km", "permit_cost", "kind", "allowed", "level", "srlg")))
        value = draw(st.sampled_from((NAN, INF, -INF, 1e308, -1.0, "x" * LONG, "abc", True)))
        source.defaults.CopyFrom(_struct({key: value}))
        invalid = isinstance(value, float) and (is_nonfinite(value) or (value < 0 and key.endswith("cost")))
        return source, Broken(f"layers[0].defaults.{key}", value, invalid=invalid)
    if choice == "xy":
        source.x_field, source.y_field = draw(
            st.sampled_from((("lon", "lat"), ("x" * LONG, "y"), ("\x00", "\x00")))
        )
        return source, Broken("layers[0].x_field", source.x_field)
    value = draw(st.sampled_from(("EPSG:999999", "+proj=garbage", "x" * LONG, "EPSG:3857", "\x00")))
    source.crs = value
    return source, Broken("layers[0].crs", value)


@st.composite
def load_name_request(draw, target: Target) -> Case:
    """LoadNetwork by name: odd names, layer mappings, cost maps, settings."""
    facts = target.facts
    request = pb.LoadNetworkRequest(name="sample")
    broken: list[Broken] = []
    choice = draw(
        st.sampled_from(("name", "name", "layers", "layers", "costs", "settings", "display", "valid"))
    )
    if choice == "name":
        value = draw(
            st.sampled_from(NAMES_INVALID + NAMES_UNKNOWN + (str(target.data_root.resolve() / "sample"),))
        )
        request.name = value
        expect = frozenset({"NOT_FOUND", "INVALID_ARGUMENT"})
        broken.append(Broken("name", value, invalid=True, expect=expect))
    elif choice == "layers":
        source, b = draw(broken_layer_source(facts))
        others = [
            pb.LayerSource(layer=layer, path=f"{layer}.geojson") for layer in LAYERS if layer != source.layer
        ]
        request.layers.extend([source, *others])  # every layer mapped, one of them broken
        broken.append(b)
    elif choice == "costs":
        broken.append(_break_cost_maps(draw, request))
    elif choice == "settings":
        settings, b = draw(broken_settings(facts))
        request.settings.CopyFrom(settings)
        broken.append(b)
    elif choice == "display":
        value = draw(odd_strings())
        request.display_name = value
        broken.append(Broken("display_name", value))
    return _finish(Case("LoadNetwork", request, "", family="load-name", deadline_s=60.0), broken)


def _break_cost_maps(draw, request: pb.LoadNetworkRequest) -> Broken:
    """cost_per_km_by_kind / permit_cost_by_level with odd keys or values."""
    name = draw(st.sampled_from(("cost_per_km_by_kind", "permit_cost_by_level")))
    key = draw(st.sampled_from(("rail", "highway", "state", "county", "x" * LONG, "\x00", "")))
    value = draw(st.sampled_from((NAN, INF, -INF, -1.0, 1e308, 0.0)))
    getattr(request, name)[key] = value
    return Broken(f"{name}[{_label(key)}]", value, invalid=is_nonfinite(value) or value < 0)


# --------------------------------------------------------------------------- LoadNetwork inline


def zip_bytes(members: dict[str, bytes | str], *, symlinks: Sequence[str] = ()) -> bytes:
    """A deflated zip with fixed timestamps (the same members give the same bytes)."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, content in members.items():
            info = zipfile.ZipInfo(name, date_time=(2024, 1, 1, 0, 0, 0))
            info.compress_type = zipfile.ZIP_DEFLATED
            if name in symlinks:
                info.create_system = 3
                info.external_attr = (stat.S_IFLNK | 0o777) << 16
            archive.writestr(info, content)
    return buffer.getvalue()


def _collection(lines: Sequence[str]) -> str:
    """A GeoJSON FeatureCollection text from feature lines (one per line, like the sample)."""
    return '{"type":"FeatureCollection","features":[\n' + ",\n".join(lines) + "\n]}\n"


@lru_cache(maxsize=2)
def sample_layer_lines(light: bool) -> dict[str, tuple[str, ...]]:
    """The sample's feature lines per layer; light: states only (a graph build of ~1-3 s)."""
    out = {layer: _feature_lines(layer) for layer in LAYERS}
    if light:
        out["jurisdictions"] = tuple(line for line in out["jurisdictions"] if '"level":"state"' in line)
    return out


def sample_zip(
    light: bool = True,
    replaced: dict[str, str | bytes] | None = None,
    extra: dict[str, str | bytes] | None = None,
) -> bytes:
    """The sample's layer files as an inline zip, some files replaced or added."""
    members: dict[str, str | bytes] = {
        f"{layer}.geojson": _collection(lines) for layer, lines in sample_layer_lines(light).items()
    }
    members.update(replaced or {})
    members.update(extra or {})
    return zip_bytes({k: v for k, v in members.items() if v is not None})


@dataclass(frozen=True)
class GeoMutation:
    """One change to one feature of one sample layer."""

    layer: str
    index: int
    what: str
    value: object = None
    invalid: bool = True

    def summary(self) -> str:
        """`layer[row].what=value`."""
        value = "" if self.value is None else f"={_label(self.value)}"
        return f"{self.layer}[{self.index}].{self.what}{value}"


def _positions(geometry: dict) -> list[list[float]]:
    """Every coordinate position of a GeoJSON geometry (mutable lists)."""
    kind, coords = geometry["type"], geometry["coordinates"]
    if kind == "Point":
        return [coords]
    if kind in ("LineString", "MultiPoint"):
        return list(coords)
    if kind in ("Polygon", "MultiLineString"):
        return [p for ring in coords for p in ring]
    return [p for polygon in coords for ring in polygon for p in ring]


def _first_ring(geometry: dict) -> list[list[float]] | None:
    """The first ring of a (Multi)Polygon."""
    if geometry["type"] == "Polygon":
        return geometry["coordinates"][0]
    if geometry["type"] == "MultiPolygon":
        return geometry["coordinates"][0][0]
    return None


def apply_geo_mutation(feature: dict, mutation: GeoMutation, vertex: int) -> dict:
    """The feature with the mutation applied (a copy)."""
    feature = copy.deepcopy(feature)
    geometry, props = feature["geometry"], feature["properties"]
    what, value = mutation.what, mutation.value
    if what in ("lat", "lon"):
        positions = _positions(geometry)
        positions[vertex % len(positions)][1 if what == "lat" else 0] = value
    elif what == "unclosed ring":
        ring = _first_ring(geometry)
        ring.pop()
    elif what == "two-point ring":
        ring = _first_ring(geometry)
        del ring[2:]
    elif what == "one-point line":
        geometry["coordinates"] = geometry["coordinates"][:1]
    elif what == "empty geometry":
        geometry["coordinates"] = []
    elif what == "null geometry":
        feature["geometry"] = None
    elif what == "point geometry":
        feature["geometry"] = {"type": "Point", "coordinates": [-90.0, 38.0]}
    elif what == "nan z":
        for position in _positions(geometry)[:3]:
            position.append(NAN)
    elif what.startswith("property "):
        props[what.removeprefix("property ")] = value
    return feature


def geo_mutations(facts: SampleFacts) -> st.SearchStrategy[GeoMutation]:
    """One broken feature: out-of-range or non-finite coordinates, bad rings, bad properties."""
    coordinate = st.builds(
        lambda layer, index, axis, value: GeoMutation(layer, index, axis, value),
        st.sampled_from(LAYERS),
        st.integers(0, 11),
        st.sampled_from(("lat", "lat", "lon")),
        st.sampled_from((1_895_888.0, -91.0, 90.5, 1e308, -1e308, NAN, INF, 20_000.0, 200.0, -181.0)),
    )
    shapes = st.builds(
        GeoMutation,
        st.sampled_from(("jurisdictions", "exclusions")),
        st.integers(0, 1),
        st.sampled_from(("unclosed ring", "two-point ring", "empty geometry", "null geometry", "nan z")),
        st.none(),
        st.just(False),  # the loader may repair or refuse them: no OK/refusal rule, only no INTERNAL
    )
    lines = st.builds(
        GeoMutation,
        st.just("corridors"),
        st.integers(0, 400),
        st.sampled_from(("one-point line", "empty geometry", "point geometry", "null geometry")),
        st.none(),
        st.just(False),
    )
    props = st.one_of(
        st.builds(
            GeoMutation,
            st.just("corridors"),
            st.integers(0, 400),
            st.just("property cost_per_km"),
            st.sampled_from((NAN, INF, -1.0, 1e308, "abc", None, [1, 2], {"a": 1})),
        ),
        st.builds(
            GeoMutation,
            st.just("corridors"),
            st.integers(1, 400),
            st.just("property corridor_id"),
            st.just("I90W-01"),
        ),  # a duplicate of row 0's id
        st.builds(
            GeoMutation,
            st.just("sites"),
            st.integers(1, 17),
            st.just("property site_id"),
            st.sampled_from(("CHI1", "", None, "x" * LONG)),
        ),
        st.builds(
            GeoMutation,
            st.just("jurisdictions"),
            st.integers(0, 11),
            st.just("property permit_cost"),
            st.sampled_from((NAN, -1.0, 1e308, "free")),
        ),
        st.builds(
            GeoMutation,
            st.just("jurisdictions"),
            st.integers(0, 11),
            st.just("property allowed"),
            st.sampled_from(("maybe", 2, None)),
        ),
        st.builds(
            GeoMutation,
            st.just("corridors"),
            st.integers(0, 400),
            st.just("property name"),
            st.just("n" * LONG),
            st.just(False),
        ),
    )
    return st.one_of(coordinate.map(_coordinate_rule), shapes, lines, props.map(_property_rule))


def _coordinate_rule(mutation: GeoMutation) -> GeoMutation:
    """Invalid when outside EPSG:4326's valid area (lat -90..90, lon -180..180) or not finite."""
    bound = 90.0 if mutation.what == "lat" else 180.0
    return replace(mutation, invalid=not -bound <= mutation.value <= bound)


def _property_rule(mutation: GeoMutation) -> GeoMutation:
    """Which property values are surely invalid: duplicate or empty ids, infinite, negative or
    non-numeric costs, a non-boolean `allowed`. A missing value (None) may take a default, and so
    may NaN: GDAL reads a null number and a NaN alike (README: a NaN cell is an empty one)."""
    value, what = mutation.value, mutation.what
    if what == "property name" or value is None or (isinstance(value, float) and math.isnan(value)):
        return replace(mutation, invalid=False)
    if what in ("property corridor_id", "property site_id"):
        return replace(mutation, invalid=value != "x" * LONG)
    if isinstance(value, float):
        return replace(mutation, invalid=is_nonfinite(value) or value < 0)
    return replace(mutation, invalid=True)


def mutated_sample_zip(mutation: GeoMutation, vertex: int, light: bool = True) -> bytes:
    """The sample's layers as a zip with one feature mutated."""
    lines = list(sample_layer_lines(light)[mutation.layer])
    index = mutation.index % len(lines)
    feature = apply_geo_mutation(json.loads(lines[index]), mutation, vertex)
    lines[index] = json.dumps(feature, allow_nan=True)
    return sample_zip(light, replaced={f"{mutation.layer}.geojson": _collection(lines)})


@lru_cache(maxsize=1)
def zip_bomb(expanded_bytes: int = 1 << 30) -> bytes:
    """One `corridors.geojson` member of 1 GiB of spaces, about 1 MB deflated."""
    buffer = io.BytesIO()
    chunk = b" " * (1 << 20)
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED, compresslevel=9) as archive:
        with archive.open("corridors.geojson", "w") as member:
            for _ in range(expanded_bytes // len(chunk)):
                member.write(chunk)
        for layer in ("sites", "jurisdictions", "exclusions"):
            archive.writestr(f"{layer}.geojson", _collection(sample_layer_lines(True)[layer]))
    return buffer.getvalue()


@lru_cache(maxsize=1)
def lying_zip_bomb() -> bytes:
    """The zip bomb with its headers claiming the big member holds 1,000 bytes."""
    data = bytearray(zip_bomb())
    claimed = (1000).to_bytes(4, "little")
    local = data.find(b"PK\x03\x04")
    data[local + 22 : local + 26] = claimed
    central = data.find(b"PK\x01\x02")
    data[central + 24 : central + 28] = claimed
    return bytes(data)


@lru_cache(maxsize=1)
def many_members_zip(count: int = 20_000) -> bytes:
    """A zip of many empty members."""
    return zip_bytes({f"m{i}.geojson": b"" for i in range(count)})


def corrupt(data: bytes, at: float, how: str) -> bytes:
    """Bytes flipped, cut or zeroed at a relative position."""
    i = max(30, min(len(data) - 1, int(len(data) * at)))
    if how == "flip":
        return data[:i] + bytes(b ^ 0x5A for b in data[i : i + 64]) + data[i + 64 :]
    if how == "cut":
        return data[:i]
    return data[:i] + b"\x00" * 256 + data[i + 256 :]


def vrt_text(source: str) -> str:
    """A GDAL VRT that reads another data source (a disguised reference)."""
    return (
        f'<OGRVRTDataSource><OGRVRTLayer name="corridors"><SrcDataSource>{source}</SrcDataSource>'
        "<GeometryType>wkbLineString</GeometryType></OGRVRTLayer></OGRVRTDataSource>"
    )


def _inline_blob_cases() -> tuple[tuple[str, Callable[[], bytes], bool], ...]:
    """(summary, bytes maker, surely invalid) of inline payloads that are not a sample mutation."""
    light = sample_zip(True)
    return (
        ("empty bytes", lambda: b"", True),
        ("zip bomb (1 GiB member)", zip_bomb, True),
        ("zip bomb, headers claim 1,000 bytes", lying_zip_bomb, True),
        ("20,000 empty members", many_members_zip, True),
        ("corrupt deflate stream", lambda: corrupt(light, 0.3, "flip"), True),
        ("zip cut short", lambda: corrupt(light, 0.6, "cut"), True),
        ("zeroed central directory", lambda: corrupt(light, 0.995, "zero"), True),
        ("zip inside a zip", lambda: zip_bytes({"sample.zip": light}), True),
        (
            "zip slip member",
            lambda: sample_zip(
                True,
                extra={
                    f"../../../../../../../../tmp/{ZIP_SLIP_NAME}": _collection(
                        sample_layer_lines(True)["sites"]
                    )
                },
            ),
            False,
        ),
        ("absolute member path", lambda: sample_zip(True, extra={f"/tmp/{ZIP_SLIP_NAME}": "{}"}), False),
        (
            "symlink sites.geojson -> /etc/passwd",
            lambda: zip_bytes(
                {**_light_members(), "sites.geojson": "/etc/passwd"}, symlinks=("sites.geojson",)
            ),
            True,
        ),
        (
            "VRT named corridors.gpkg -> /etc/passwd",
            lambda: zip_bytes(
                {**_light_members(exclude="corridors"), "corridors.gpkg": vrt_text("/etc/passwd")}
            ),
            True,
        ),
        (
            "VRT named corridors.gpkg -> /vsicurl/ loopback",
            lambda: zip_bytes(
                {
                    **_light_members(exclude="corridors"),
                    "corridors.gpkg": vrt_text(f"/vsicurl/{LOOPBACK_DEAD_URL}/c.geojson"),
                }
            ),
            True,
        ),
        (
            "corridors.geojson is random bytes",
            lambda: sample_zip(True, replaced={"corridors.geojson": os.urandom(4096)}),
            True,
        ),
        (
            "sites.geojson not UTF-8",
            lambda: sample_zip(
                True,
                replaced={
                    "sites.geojson": _collection(sample_layer_lines(True)["sites"])
                    .replace("Elk Grove", "Elk\udcff")
                    .encode("utf-8", "surrogateescape")
                },
            ),
            False,
        ),
        (
            "corridors.geojson nested 10,000 deep",
            lambda: sample_zip(True, replaced={"corridors.geojson": "[" * 10_000 + "]" * 10_000}),
            True,
        ),
        ("sites layer missing", lambda: sample_zip(True, replaced={"sites.geojson": None}), True),
        (
            "a GeoPackage header, then junk",
            lambda: zip_bytes({"sample.gpkg": b"SQLite format 3\x00" + b"\x00" * 4000}),
            True,
        ),
    )


def _light_members(exclude: str = "") -> dict[str, str]:
    """The light sample's layer files, optionally without one."""
    lines = sample_layer_lines(True)
    return {f"{layer}.geojson": _collection(lines[layer]) for layer in LAYERS if layer != exclude}


@st.composite
def load_inline_request(draw, target: Target, *, light: bool = True, sample_mutations: bool = True) -> Case:
    """LoadNetwork with inline data: random bytes, broken zips, or the sample with one feature broken."""
    choice = draw(
        st.sampled_from(
            ("random", "blob", "blob", "sample", "sample", "sample")
            if sample_mutations
            else ("random", "blob", "blob")
        )
    )
    expect_refusal = frozenset({"INVALID_ARGUMENT", "RESOURCE_EXHAUSTED", "FAILED_PRECONDITION"})
    if choice == "random":
        data = draw(st.binary(min_size=1, max_size=2048))
        request = pb.LoadNetworkRequest(inline_data=data)
        return Case(
            "LoadNetwork",
            request,
            f"inline random {len(data)} bytes",
            family="load-inline",
            deadline_s=30.0,
            invalid=True,
            expect=expect_refusal,
        )
    if choice == "blob":
        summary, make, invalid = draw(st.sampled_from(_inline_blob_cases()))
        request = pb.LoadNetworkRequest(inline_data=make())
        if "VRT" in summary and draw(st.booleans()):
            request.layers.append(pb.LayerSource(layer="corridors", path="corridors.gpkg"))
        return Case(
            "LoadNetwork",
            request,
            f"inline {summary}",
            family="load-inline",
            deadline_s=60.0,
            invalid=invalid,
            expect=expect_refusal if invalid else frozenset(),
        )
    mutation = draw(geo_mutations(target.facts))
    vertex = draw(st.integers(0, 50))
    request = pb.LoadNetworkRequest(inline_data=mutated_sample_zip(mutation, vertex, light))
    if draw(st.integers(0, 4)) == 0:
        request.display_name = draw(odd_strings())
    summary = f"inline {'light ' if light else ''}sample, {mutation.summary()} (vertex {vertex})"
    return Case(
        "LoadNetwork", request, summary, family="load-inline", deadline_s=60.0, invalid=mutation.invalid
    )


# --------------------------------------------------------------------------- all methods together


def request_cases(target: Target, *, light: bool = True) -> st.SearchStrategy[Case]:
    """Every family, weighted toward the solving methods."""
    return st.one_of(
        raw_request(),
        read_request(target),
        optimize_request(target),
        optimize_request(target),
        optimize_request(target, "OptimizeStream"),
        frontier_request(target),
        load_name_request(target),
        load_inline_request(target, light=light),
    )


FAMILIES: dict[str, Callable[[Target], st.SearchStrategy[Case]]] = {
    "raw": lambda t: raw_request(),
    "read": read_request,
    "optimize": optimize_request,
    "stream": lambda t: optimize_request(t, "OptimizeStream"),
    "frontier": frontier_request,
    "load-name": load_name_request,
    "load-inline": lambda t: load_inline_request(t, sample_mutations=False),
    "load-geodata": lambda t: load_inline_request(t).filter(lambda c: "sample," in c.summary),
}


# --------------------------------------------------------------------------- a server subprocess


def serve_flags() -> str:
    """The `fiberopt serve --help` text (which flags today's CLI has)."""
    done = subprocess.run(
        [sys.executable, "-m", "optimizer.cli", "serve", "--help"],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=120,
        check=False,
    )
    return done.stdout


class ServerProcess:
    """`fiberopt serve` on a free loopback port, its stderr in a file, memory capped by RLIMIT_AS."""

    def __init__(
        self,
        data_root: Path = DATA_ROOT,
        *,
        work_dir: Path,
        preload: Sequence[str] = ("sample",),
        extra_args: Sequence[str] = (),
        max_vm_bytes: int | None = 6 << 30,
        nice: int = 0,
    ) -> None:
        """Remember how to start; start() starts it."""
        self.data_root, self.work_dir, self.preload = data_root, work_dir, tuple(preload)
        self.extra_args, self.max_vm_bytes, self.nice = tuple(extra_args), max_vm_bytes, nice
        self.process: subprocess.Popen | None = None
        self.port = 0
        self.starts = 0

    def _limit(self) -> None:
        """In the child: cap its address space, lower its priority."""
        if self.max_vm_bytes:
            resource.setrlimit(resource.RLIMIT_AS, (self.max_vm_bytes, self.max_vm_bytes))
        if self.nice:
            os.nice(self.nice)

    @property
    def stderr_path(self) -> Path:
        """Where the server's stderr goes (appended across restarts)."""
        return self.work_dir / "server-stderr.txt"

    def start(self, timeout_s: float = 180.0) -> ServerProcess:
        """Start and wait for SERVING; raises RuntimeError if it does not come up."""
        self.work_dir.mkdir(parents=True, exist_ok=True)
        stdout_path = self.work_dir / f"server-stdout-{self.starts}.txt"
        args = [
            sys.executable,
            "-m",
            "optimizer.cli",
            "serve",
            "--host",
            "127.0.0.1",
            "--port",
            "0",
            "--data-root",
            str(self.data_root),
        ]
        for name in self.preload:
            args += ["--preload", name]
        with stdout_path.open("w") as out, self.stderr_path.open("a") as err:
            self.process = subprocess.Popen(
                [*args, *self.extra_args],
                cwd=ROOT,
                stdout=out,
                stderr=err,
                stdin=subprocess.DEVNULL,
                preexec_fn=self._limit,
            )
        self.starts += 1
        self.port = self._wait_port(stdout_path, timeout_s)
        return self

    def _wait_port(self, stdout_path: Path, timeout_s: float) -> int:
        """The port from the server's 'serving ... on HOST:PORT' line."""
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            match = re.search(r" on \S*?:(\d+)\b", stdout_path.read_text(errors="replace"))
            if match:
                return int(match.group(1))
            if self.process.poll() is not None:
                raise RuntimeError(f"server exited {self.process.returncode}: {self.stderr_tail()}")
            time.sleep(0.1)
        self.stop()
        raise RuntimeError(f"server did not report its port in {timeout_s:.0f} s")

    def alive(self) -> bool:
        """The process is still running."""
        return self.process is not None and self.process.poll() is None

    @property
    def pid(self) -> int:
        """The server's process id."""
        return self.process.pid

    def stderr_text(self) -> str:
        """Everything the server wrote to stderr so far."""
        return self.stderr_path.read_text(errors="replace") if self.stderr_path.exists() else ""

    def stderr_tail(self, chars: int = 2000) -> str:
        """The end of the server's stderr."""
        return self.stderr_text()[-chars:]

    def rss_bytes(self) -> tuple[int, int]:
        """(server RSS, PSS of the server and all its descendants), bytes; 0 when gone.

        The tree is summed as PSS (shared pages split between the processes that map them), so
        a forked build child is not counted twice for the pages it shares with the server."""
        if not self.alive():
            return 0, 0
        own = _status_kib(self.pid, "VmRSS:") * 1024
        tree = sum(_pss_of(pid) for pid in (self.pid, *_descendants(self.pid)))
        return own, max(own, tree)

    def cpu_s(self) -> float:
        """CPU seconds used by the server, its live descendants and the children it waited for."""
        if not self.alive():
            return 0.0
        return _cpu_of(self.pid) + sum(_cpu_of(pid) for pid in _descendants(self.pid))

    def stop(self, grace_s: float = 15.0) -> int | None:
        """SIGTERM, then SIGKILL after the grace period; the exit code."""
        if self.process is None:
            return None
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(grace_s)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(10)
        return self.process.returncode


def _proc_stat(pid: int) -> list[str]:
    """The fields of /proc/PID/stat after the command name."""
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return []
    return text[text.rfind(")") + 2 :].split()


def _descendants(pid: int) -> list[int]:
    """Process ids of every live descendant of pid."""
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            fields = _proc_stat(int(entry.name))
            if fields:
                children.setdefault(int(fields[1]), []).append(int(entry.name))
    found, todo = [], [pid]
    while todo:
        for child in children.get(todo.pop(), []):
            found.append(child)
            todo.append(child)
    return found


def _status_kib(pid: int, key: str) -> int:
    """One kB figure of /proc/PID/status (0 if gone)."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith(key):
                return int(line.split()[1])
    except OSError:
        pass
    return 0


def _pss_of(pid: int) -> int:
    """Proportional set size of a process from /proc/PID/smaps_rollup, bytes (RSS where absent)."""
    try:
        for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines():
            if line.startswith("Pss:"):
                return int(line.split()[1]) * 1024
    except OSError:
        pass
    return _status_kib(pid, "VmRSS:") * 1024


def _cpu_of(pid: int) -> float:
    """utime + stime of a process and of the children it waited for, seconds."""
    fields = _proc_stat(pid)
    if not fields:
        return 0.0
    ticks = sum(int(v) for v in fields[11:15])
    return ticks / os.sysconf("SC_CLK_TCK")


class RssSampler:
    """Samples a server's memory every interval in a daemon thread: its own RSS and the PSS of it
    with its descendants; peaks over the whole run and since the last `window()`."""

    def __init__(self, server: ServerProcess, interval_s: float = 0.5) -> None:
        """Not started yet."""
        self.server, self.interval_s = server, interval_s
        self.peak_own = self.peak_tree = self.window_peak_tree = 0
        self.samples = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True, name="rss-sampler")

    def sample(self) -> None:
        """Take one sample now."""
        own, tree = self.server.rss_bytes()
        self.peak_own, self.peak_tree = max(self.peak_own, own), max(self.peak_tree, tree)
        self.window_peak_tree = max(self.window_peak_tree, tree)
        self.samples += 1

    def window(self) -> None:
        """Start a new window: window_peak_tree counts from now."""
        self.window_peak_tree = 0
        self.sample()

    def _run(self) -> None:
        """Sample until stopped."""
        while not self._stop.wait(self.interval_s):
            self.sample()

    def __enter__(self) -> RssSampler:
        """Start sampling."""
        self._thread.start()
        return self

    def __exit__(self, *_exc: object) -> None:
        """Stop sampling."""
        self._stop.set()
        self._thread.join(5)


def sample_network_id(channel: grpc.Channel, timeout_s: float = 120.0) -> str:
    """The id of the preloaded sample (LoadNetwork by name returns it without rebuilding)."""
    stub = channel.unary_unary(
        method_path("LoadNetwork"),
        request_serializer=_serialized,
        response_deserializer=pb.NetworkInfo.FromString,
    )
    return stub(pb.LoadNetworkRequest(name="sample"), timeout=timeout_s).network_id


def iter_problems(
    outcomes: Sequence[Outcome], data_root: Path = DATA_ROOT
) -> Iterator[tuple[Outcome, list[str]]]:
    """The outcomes that break a rule, with what they break."""
    for outcome in outcomes:
        found = problems(outcome, data_root)
        if found:
            yield outcome, found


# --------------------------------------------------------------------------- drawing and running

DRAW_CHUNK = 250
"""Cases drawn per hypothesis run (each chunk has its own seed: seed + chunk number)."""


def draw_cases(strategy: st.SearchStrategy[Case], count: int, first_seed: int) -> list[Case]:
    """`count` cases from the strategy, the same ones for the same seed (no shrinking, no database)."""
    cases: list[Case] = []
    chunk = 0
    while len(cases) < count:
        want = min(DRAW_CHUNK, count - len(cases))
        drawn: list[Case] = []
        _collect(strategy, want, first_seed + chunk, drawn)
        cases.extend(drawn[:want])
        chunk += 1
        if not drawn:
            break
    return cases


def _collect(strategy: st.SearchStrategy[Case], count: int, seed_value: int, into: list[Case]) -> None:
    """One seeded hypothesis run that only records what it draws."""

    @settings(
        max_examples=count,
        database=None,
        phases=[Phase.generate],
        deadline=None,
        suppress_health_check=list(HealthCheck),
    )
    @seed(seed_value)
    @given(strategy)
    def collect(case: Case) -> None:
        into.append(case)

    collect()


def run_cases(
    channel: grpc.Channel, cases: Sequence[Case], *, clients: int = 1, check_health: bool = False
) -> list[tuple[Outcome, bool]]:
    """Every case (in `clients` threads), each with whether health answered right after it."""

    def one(case: Case) -> tuple[Outcome, bool]:
        outcome = call(channel, case)
        return outcome, (health_ok(channel) if check_health else True)

    with ThreadPoolExecutor(clients, thread_name_prefix="fuzz-client") as pool:
        return list(pool.map(one, cases))
