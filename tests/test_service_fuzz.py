"""Fuzz the gRPC service from outside: a real `fiberopt serve` subprocess on loopback (memory
capped, stderr kept), adversarial requests drawn by hypothesis (seeded, bounded) for all six
methods and raw undecodable bytes, and one test per defect of issue 15 that a request can show.

Every call has a client deadline and must end OK, INVALID_ARGUMENT, NOT_FOUND,
RESOURCE_EXHAUSTED or FAILED_PRECONDITION (DEADLINE_EXCEEDED / CANCELLED only where the case set
a tight deadline or cancelled); details at most ~1 KB, without the server's paths or internals;
health answers after each call. FIBEROPT_FUZZ_REQUESTS=N (default 180) sets the total number of
drawn requests, FIBEROPT_FUZZ_SEED the seed; `make fuzz` (bench/fuzz.py) is the deep run.
"""

from __future__ import annotations

import json
import math
import os
import re
import time
from collections.abc import Sequence
from dataclasses import dataclass

import grpc
import pytest

from optimizer.api.fiberopt.v1 import route_optimizer_pb2 as pb
from tests import fuzz_requests as fr

TOTAL = int(os.environ.get("FIBEROPT_FUZZ_REQUESTS", "180"))
SEED = int(os.environ.get("FIBEROPT_FUZZ_SEED", "15"))
SHARE = {  # of TOTAL per family: an inline or by-name load costs 2-10 s, a raw or read call ms
    "raw": 0.15,
    "read": 0.15,
    "optimize": 0.3,
    "stream": 0.12,
    "frontier": 0.12,
    "load-name": 0.06,
    "load-inline": 0.05,
    "load-geodata": 0.025,
}
MEMORY_LIMIT_BYTES = 2 << 30
"""Issue 15's bound on server memory (the server and its build children together)."""


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    """`fiberopt serve` on a free loopback port with the sample preloaded (address space 6 GiB)."""
    process = fr.ServerProcess(fr.DATA_ROOT, work_dir=tmp_path_factory.mktemp("fuzz-server")).start()
    yield process
    process.stop()


@pytest.fixture(scope="module")
def rss(server):
    """The server's RSS (with its children) sampled every 0.5 s for the whole module."""
    with fr.RssSampler(server) as sampler:
        yield sampler


@pytest.fixture(scope="module")
def target(server):
    """The sample's network id on the server and the sample's facts."""
    with fr.open_channel(server.port) as channel:
        return fr.Target(fr.sample_network_id(channel), fr.sample_facts())


@dataclass
class Service:
    """The server under test, a channel to it, its memory sampler and the sample's facts."""

    server: fr.ServerProcess
    channel: grpc.Channel
    rss: fr.RssSampler
    target: fr.Target


@pytest.fixture(scope="module")
def svc(server, rss, target):
    """Everything a test needs to send cases and check the server's log and memory."""
    with fr.open_channel(server.port) as channel:
        yield Service(server, channel, rss, target)


def count_for(family: str) -> int:
    """Cases drawn for one family (at least 3)."""
    return max(3, round(TOTAL * SHARE[family]))


def report(bad: Sequence[tuple[str, list[str]]], limit: int = 25) -> str:
    """The broken calls, one per line, for a failure message."""
    lines = [f"{what}\n      broke: {'; '.join(found)}" for what, found in bad[:limit]]
    more = f"\n  ... and {len(bad) - limit} more" if len(bad) > limit else ""
    return f"{len(bad)} calls broke a rule:\n  " + "\n  ".join(lines) + more


def check(svc: Service, cases: Sequence[fr.Case], *, clients: int = 1) -> list[fr.Outcome]:
    """Run the cases; fail unless every answer keeps the rules, health answers after each, the
    server logged no traceback meanwhile and stayed under 2 GiB."""
    log_before = len(svc.server.stderr_text())
    svc.rss.window()
    results = fr.run_cases(svc.channel, cases, clients=clients, check_health=True)
    svc.rss.sample()
    bad = [(fr.describe(o), found) for o, _ in results if (found := fr.problems(o))]
    bad += [
        (fr.describe(o), ["health did not answer SERVING after it"]) for o, healthy in results if not healthy
    ]
    bad += server_problems(svc, log_before)
    if bad:
        pytest.fail(report(bad), pytrace=False)
    return [o for o, _ in results]


def server_problems(svc: Service, log_before: int) -> list[tuple[str, list[str]]]:
    """Tracebacks the server logged since log_before, memory over the bound, a dead server."""
    found = []
    added = svc.server.stderr_text()[log_before:]
    count = added.count("Traceback (most recent call last)")
    if count:
        errors = [
            line[:160] for line in added.splitlines() if re.match(r"^[A-Za-z_.]+(Error|Exception)\b", line)
        ]
        found.append(("server log", [f"{count} tracebacks, e.g. {errors[:3]}"]))
    if svc.rss.window_peak_tree >= MEMORY_LIMIT_BYTES:
        found.append(
            (
                "server memory",
                [f"peaked at {svc.rss.window_peak_tree / 2**20:,.0f} MiB (PSS with children)"],
            )
        )
    if not svc.server.alive():
        found.append(("server", [f"died: {svc.server.stderr_tail(500)}"]))
    return found


def one(svc: Service, case: fr.Case) -> fr.Outcome:
    """Run one case and fail unless it keeps the rules."""
    return check(svc, [case])[0]


def family_cases(target: fr.Target, family: str) -> list[fr.Case]:
    """The seeded draw of one family."""
    offset = sorted(fr.FAMILIES).index(family) * 1000
    return fr.draw_cases(fr.FAMILIES[family](target), count_for(family), SEED + offset)


# --------------------------------------------------------------------------- hypothesis families


@pytest.mark.parametrize("family", SHARE)
def test_fuzz_family(svc, family):
    """Every drawn request of the family gets an allowed, bounded, sanitized answer."""
    check(svc, family_cases(svc.target, family), clients=2)


# --------------------------------------------------------------------------- the defects


def light_zip_with(layer: str, index: int, what: str, value: object = None, vertex: int = 2) -> bytes:
    """The light sample (states only) as a zip with one feature of one layer mutated."""
    return fr.mutated_sample_zip(fr.GeoMutation(layer, index, what, value), vertex, light=True)


def load_inline(
    data: bytes, summary: str, *, invalid: bool = True, expect: frozenset[str] = frozenset()
) -> fr.Case:
    """A LoadNetwork case with inline bytes."""
    return fr.Case(
        "LoadNetwork",
        pb.LoadNetworkRequest(inline_data=data),
        summary,
        deadline_s=60.0,
        invalid=invalid,
        expect=expect,
    )


INVALID = frozenset({"INVALID_ARGUMENT"})


def test_huge_latitude_in_a_county_is_refused_without_eating_memory(svc):
    """Defect 1: one county vertex at latitude 1,895,888 in the whole sample, sent inline."""
    svc.rss.window()
    data = fr.mutated_sample_zip(fr.GeoMutation("jurisdictions", 40, "lat", 1_895_888.0), 3, light=False)
    outcome = one(svc, load_inline(data, "county[40] lat 1,895,888", expect=INVALID))
    assert "jurisdictions" in outcome.details
    assert svc.rss.window_peak_tree < MEMORY_LIMIT_BYTES


def test_out_of_range_coordinates_are_refused(svc):
    """Defects 1 and 7: latitude outside [-90, 90] (-91 was accepted, then the CLI crashed),
    longitude outside [-180, 180] (200 was accepted) or not finite: INVALID_ARGUMENT naming the layer."""
    cases = [
        load_inline(
            light_zip_with(layer, row, axis, value, vertex=0),
            f"{layer}[{row}] {axis} {value}",
            expect=INVALID,
        )
        for layer, row, axis, value in [
            ("sites", 3, "lat", -91.0),
            ("corridors", 10, "lat", 1e308),
            ("jurisdictions", 2, "lat", math.nan),
            ("corridors", 11, "lon", 200.0),
        ]
    ]
    outcomes = check(svc, cases, clients=2)
    unnamed = [fr.describe(o) for o in outcomes if o.case.summary.split("[")[0] not in o.details]
    assert not unnamed, f"errors that do not name the layer: {unnamed}"


@pytest.mark.parametrize("what", ["unclosed ring", "two-point ring"])
def test_bad_ring_is_refused_or_repaired_never_internal(svc, what):
    """Defect 6: an unclosed ring was INTERNAL."""
    one(svc, load_inline(light_zip_with("jurisdictions", 2, what), what, invalid=False))


def test_duplicate_corridor_id_is_refused(svc):
    """Defect 7: a duplicate corridor_id was accepted silently."""
    data = light_zip_with("corridors", 5, "property corridor_id", "I90W-01")
    one(svc, load_inline(data, "duplicate corridor_id", expect=INVALID))


@pytest.mark.parametrize("value", [math.nan, math.inf, -math.inf])
@pytest.mark.parametrize("key", ["cost_per_km", "permit_cost"])
def test_non_finite_layer_defaults_are_refused(svc, key, value):
    """Defect 6: NaN or Inf in a layer's defaults was INTERNAL."""
    layer = "corridors" if key == "cost_per_km" else "jurisdictions"
    sources = [pb.LayerSource(layer=name, path=f"{name}.geojson") for name in fr.LAYERS]
    sources[fr.LAYERS.index(layer)].defaults.CopyFrom(fr._struct({key: value}))
    request = pb.LoadNetworkRequest(name="sample", layers=sources)
    one(
        svc,
        fr.Case(
            "LoadNetwork",
            request,
            f"{layer} defaults {key}={value}",
            deadline_s=60.0,
            invalid=True,
            expect=INVALID,
        ),
    )


def test_corrupt_deflate_stream_is_refused(svc):
    """Defect 6: a corrupt deflate stream was INTERNAL."""
    data = fr.corrupt(fr.sample_zip(True), 0.3, "flip")
    one(svc, load_inline(data, "corrupt deflate", expect=INVALID))


@pytest.mark.parametrize("name", ["sam\x00ple", "sample/\x00", pytest.param("s" * fr.LONG, id="20000-chars")])
def test_nul_or_over_long_name_is_refused(svc, name):
    """Defect 6: a NUL byte in a path or an over-long name was INTERNAL."""
    request = pb.LoadNetworkRequest(name=name)
    one(
        svc,
        fr.Case(
            "LoadNetwork",
            request,
            f"name {name[:12]!r} ({len(name)})",
            invalid=True,
            expect=frozenset({"INVALID_ARGUMENT", "NOT_FOUND"}),
        ),
    )


def test_nul_in_a_layer_path_is_refused(svc):
    """Defect 6: a NUL byte in a layer path was INTERNAL."""
    sources = [pb.LayerSource(layer=name, path=f"{name}.geojson") for name in fr.LAYERS]
    sources[0].path = "sites.geojson\x00.txt"
    request = pb.LoadNetworkRequest(name="sample", layers=sources)
    one(
        svc,
        fr.Case(
            "LoadNetwork",
            request,
            "layer path with NUL",
            deadline_s=60.0,
            invalid=True,
            expect=frozenset({"INVALID_ARGUMENT", "NOT_FOUND"}),
        ),
    )


@pytest.mark.parametrize("shared_build", [False, True])
def test_huge_max_cost_with_diverse_paths_is_not_internal(svc, shared_build):
    """Defect 6: max_cost >= 1e15 with paths >= 2 or a shared build was an OR-Tools TypeError."""
    demands = [
        pb.Demand(id="pair", a="CHI1", b="DAL1", max_latency_ms=7.5, paths=2, max_cost=1e15),
        pb.Demand(id="one", a="STL1", b="DAL1", max_latency_ms=5.0, max_cost=1e308),
    ]
    request = pb.OptimizeRequest(
        network_id=svc.target.network_id,
        demands=demands,
        shared_build=shared_build,
        solver=pb.SolverOptions(time_limit_s=2.0),
    )
    one(
        svc,
        fr.Case(
            "Optimize",
            request,
            f"max_cost 1e15, paths 2, shared {shared_build}",
            deadline_s=30.0,
            timing_ok=False,
        ),
    )


@pytest.mark.parametrize(
    "network_id",
    [
        pytest.param("x" * fr.LONG, id="ascii-20000"),
        pytest.param("🚀" * 2_000, id="4-byte-utf8-2000"),
        pytest.param("\x00" * 5_000, id="nul-5000"),
        pytest.param("%" * 10_000, id="percent-10000"),
    ],
)
def test_over_long_ids_keep_their_status_and_short_details(svc, network_id):
    """Defect 5: an over-long id came back as RESOURCE_EXHAUSTED (trailers over the metadata limit)."""
    case = fr.Case(
        "GetNetwork",
        pb.GetNetworkRequest(network_id=network_id),
        f"id of {len(network_id)} chars",
        deadline_s=10.0,
        invalid=True,
        expect=frozenset({"NOT_FOUND", "INVALID_ARGUMENT"}),
    )
    one(svc, case)


def test_unknown_site_with_long_id_is_short(svc):
    """Defect 5: error details echo input without bound (a demand's site id)."""
    demand = pb.Demand(id="d" * fr.LONG, a="Q" * fr.LONG, b="DAL1", max_latency_ms=7.0)
    request = pb.OptimizeRequest(network_id=svc.target.network_id, demands=[demand])
    one(
        svc,
        fr.Case(
            "Optimize",
            request,
            "20,000-char site id",
            invalid=True,
            expect=frozenset({"NOT_FOUND", "INVALID_ARGUMENT"}),
        ),
    )


def test_absolute_name_inside_the_data_root_does_not_leak_the_path(svc):
    """Defect 5: details leaked absolute server paths."""
    path = str(fr.DATA_ROOT.resolve() / "sample" / "nope")
    outcome = one(
        svc,
        fr.Case(
            "LoadNetwork",
            pb.LoadNetworkRequest(name="sample/nope"),
            "missing set",
            invalid=True,
            expect=frozenset({"NOT_FOUND", "INVALID_ARGUMENT"}),
        ),
    )
    assert path not in outcome.details


@pytest.mark.parametrize("source", ["/etc/passwd", f"/vsicurl/{fr.LOOPBACK_DEAD_URL}/c.geojson"])
def test_vrt_disguised_as_gpkg_is_refused_unread(svc, source):
    """Defect 10: a GDAL VRT named .gpkg was opened and followed (it read /etc/passwd)."""
    members = {**fr._light_members(exclude="corridors"), "corridors.gpkg": fr.vrt_text(source)}
    request = pb.LoadNetworkRequest(inline_data=fr.zip_bytes(members))
    request.layers.extend(pb.LayerSource(layer=name, path=f"{name}.geojson") for name in fr.LAYERS)
    request.layers[1].path = "corridors.gpkg"
    outcome = one(
        svc,
        fr.Case("LoadNetwork", request, f"VRT -> {source}", deadline_s=30.0, invalid=True, expect=INVALID),
    )
    assert "root:" not in outcome.details


@pytest.mark.parametrize("maker", ["zip_bomb", "lying_zip_bomb", "many_members_zip"])
def test_zip_bombs_are_refused_at_once(svc, maker):
    """Limits at the boundary: a zip bomb is refused before it is unpacked, at once, in < 1 GiB."""
    svc.rss.window()
    outcome = one(
        svc,
        load_inline(
            getattr(fr, maker)(), maker, expect=frozenset({"INVALID_ARGUMENT", "RESOURCE_EXHAUSTED"})
        ),
    )
    assert outcome.elapsed_s < 5.0, f"{outcome.elapsed_s:.1f} s to refuse a zip bomb"
    svc.rss.sample()
    assert svc.rss.window_peak_tree < 1 << 30, (
        f"{svc.rss.window_peak_tree / 2**20:,.0f} MiB while refusing it"
    )


def test_zip_slip_writes_nothing_outside(svc):
    """A member named ../../tmp/... (or /tmp/...) is refused and never written."""
    lines = fr._collection(fr.sample_layer_lines(True)["sites"])
    for name in (f"../../../../../../../../tmp/{fr.ZIP_SLIP_NAME}", f"/tmp/{fr.ZIP_SLIP_NAME}"):
        one(svc, load_inline(fr.sample_zip(True, extra={name: lines}), name, invalid=False))
    assert not fr.zip_slip_escapes()


@pytest.mark.parametrize("data", fr.RAW_BYTES, ids=lambda d: d.hex()[:16])
def test_undecodable_bytes_are_invalid_argument(svc, data):
    """Defect 6: undecodable protobuf was INTERNAL."""
    for method in sorted(fr.REQUEST_TYPES):
        if fr.decodes_as(method, data):
            continue
        one(svc, fr.Case(method, data, f"raw {data.hex()}", deadline_s=10.0, invalid=True, expect=INVALID))


def test_undecodable_flood_is_not_logged_per_request(svc):
    """Defect 6 / what to build 3: undecodable requests are logged once per interval, not per request."""
    before = svc.server.stderr_text()
    case = fr.Case("Optimize", b"\xff\xff\xff", "raw ff ff ff", deadline_s=10.0, invalid=True, expect=INVALID)
    check(svc, [case] * 60, clients=2)
    time.sleep(0.5)
    added = svc.server.stderr_text()[len(before) :]
    assert "Traceback (most recent call last)" not in added
    mentions = [line for line in added.splitlines() if "access" not in line and line.strip()]
    assert len(mentions) <= 10, f"{len(mentions)} log lines for 60 undecodable requests:\n" + "\n".join(
        mentions[:5]
    )


def test_load_deadline_stops_the_build(svc):
    """Defect 2: LoadNetwork ignored the deadline and built on (and cached) after it passed."""
    lines = list(fr.sample_layer_lines(False)["corridors"])
    feature = json.loads(lines[0])
    feature["properties"]["cost_per_km"] = 86_100.0 + (time.time_ns() % 1_000_000) / 1000  # a unique set
    lines[0] = json.dumps(feature)
    data = fr.sample_zip(False, replaced={"corridors.geojson": fr._collection(lines)})
    case = fr.Case(
        "LoadNetwork",
        pb.LoadNetworkRequest(inline_data=data),
        "whole sample, 0.3 s deadline",
        deadline_s=0.3,
        timing_ok=True,
    )
    outcome = one(svc, case)
    assert outcome.code == "DEADLINE_EXCEEDED", "a whole-sample build cannot end in 0.3 s"
    time.sleep(1.5)  # issue 15: cancellation reaches graph builds within 1 s
    cpu_before = svc.server.cpu_s()
    time.sleep(2.0)
    busy = (svc.server.cpu_s() - cpu_before) / 2.0
    assert busy < 0.3, f"the server kept {busy:.0%} of a core busy 1.5-3.5 s after the deadline"


def test_cancelled_shared_build_stops(svc):
    """Defect 3: shared builds ignored cancellation for about 26 s."""
    demands = [
        pb.Demand(id=f"d{i}", a=a, b=b, max_latency_ms=ms)
        for i, (a, b, ms) in enumerate(
            [
                ("CHI1", "DAL1", 7.5),
                ("CHI2", "DAL2", 7.5),
                ("STL1", "DAL1", 5.0),
                ("KCY1", "DAL2", 4.5),
                ("CHI1", "OKC1", 6.5),
                ("STL1", "TUL1", 4.0),
                ("IND1", "ATL1", 5.0),
                ("MEM1", "BHM1", 3.0),
            ]
        )
    ]
    demands[0].paths = 2
    request = pb.OptimizeRequest(
        network_id=svc.target.network_id,
        demands=demands,
        shared_build=True,
        solver=pb.SolverOptions(time_limit_s=60.0, num_workers=2),
    )
    case = fr.Case(
        "Optimize",
        request,
        "shared build of 8, cancelled at 1 s",
        deadline_s=90.0,
        timing_ok=True,
        cancel_after_s=1.0,
    )
    one(svc, case)
    time.sleep(1.5)
    cpu_before = svc.server.cpu_s()
    time.sleep(2.0)
    busy = (svc.server.cpu_s() - cpu_before) / 2.0
    assert busy < 0.3, f"the server kept {busy:.0%} of a core busy 1.5-3.5 s after the cancel"


# --------------------------------------------------------------------------- afterwards (run last)


def test_zz_server_alive_and_healthy(svc):
    """After everything above (each test checked its own log lines and memory): the server lives
    and answers health."""
    assert svc.server.alive(), f"server died: {svc.server.stderr_tail()}"
    assert fr.health_ok(svc.channel)
