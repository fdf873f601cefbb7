"""Load benchmark (`make bench`): concurrent clients against a `fiberopt serve` subprocess on
loopback, a mix of good Optimize calls on the sample (single routes and a shared build), cheap
bad calls (unknown network id, bad demand) and health checks.

Prints calls/s, p50/p99 latency per kind, status codes per kind, health p99 and max (from the
mix and from a prober every 0.25 s), the server's peak RSS and CPU (from /proc), and checks that
every good answer equals the single-client answer (the same routes at the same costs). Exits 1
when a status outside OK / INVALID_ARGUMENT / NOT_FOUND / RESOURCE_EXHAUSTED appears, health took
over 1 s, or a proven answer differs from the single-client one.

    python bench/load.py                        # 32 clients x 60 s
    python bench/load.py --clients 8 --seconds 15
Where the server takes --auth-token-file, each client gets its own token (a caller of its own,
like separate carriers); --one-caller sends none, so every client counts as the same caller.
"""

from __future__ import annotations

import argparse
import collections
import json
import math
import random
import secrets
import sys
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # tests/ holds the server-process helper; bench/ is scripts

import grpc  # noqa: E402
import yaml  # noqa: E402
from grpc_health.v1 import health_pb2, health_pb2_grpc  # noqa: E402

from optimizer.api.fiberopt.v1 import route_optimizer_pb2 as pb  # noqa: E402
from tests import fuzz_requests as fr  # noqa: E402

SCENARIO = ROOT / "geodata" / "sample" / "scenario.yaml"
SHARED = ROOT / "geodata" / "sample" / "shared-build.yaml"
MIX = (("single", 35), ("shared", 5), ("bad-network", 20), ("bad-demand", 20), ("health", 20))
"""Kinds of call and their weights."""
GOOD = frozenset({"single", "shared"})
ALLOWED = frozenset({"OK", "INVALID_ARGUMENT", "NOT_FOUND", "RESOURCE_EXHAUSTED"})
EXPECTED = {"bad-network": "NOT_FOUND", "bad-demand": "INVALID_ARGUMENT", "health": "OK"}
DEADLINE_S = {"single": 60.0, "shared": 90.0, "bad-network": 10.0, "bad-demand": 10.0, "health": 5.0}
SINGLE_TIME_LIMIT_S = 10.0
SHARED_TIME_LIMIT_S = 30.0
HEALTH_BOUND_S = 1.0
COST_TOLERANCE = 1e-6
REFUSED_PAUSE_S = 0.05
"""A client pauses this long after RESOURCE_EXHAUSTED before its next call."""


# --------------------------------------------------------------------------- the requests


def _demand(row: dict) -> pb.Demand:
    """A proto Demand from a scenario YAML row."""
    demand = pb.Demand(id=row["id"], a=row["a"], b=row["b"], max_latency_ms=float(row["max_latency_ms"]))
    demand.paths = int(row.get("paths", 1))
    if "max_jurisdictions" in row:
        demand.max_jurisdictions = int(row["max_jurisdictions"])
    demand.allowed_jurisdictions.extend(str(j) for j in row.get("allowed_jurisdictions", ()))
    diversity = row.get("diversity")
    if diversity:
        demand.diversity = pb.Diversity.Value(f"DIVERSITY_{diversity.upper()}")
    return demand


def _scenario(path: Path) -> dict:
    """A sample scenario YAML (demands, settings)."""
    return yaml.safe_load(path.read_text())


def _settings(scenario: dict) -> pb.GraphSettings:
    """The scenario's graph settings as the proto message."""
    return pb.GraphSettings(**{k: float(v) for k, v in scenario.get("settings", {}).items()})


@dataclass(frozen=True)
class Requests:
    """The good requests (one per single-route demand, and the shared build) and the bad ones."""

    singles: tuple[pb.OptimizeRequest, ...]
    shared: pb.OptimizeRequest
    bad_network: pb.OptimizeRequest
    bad_demand: pb.OptimizeRequest


def build_requests(network_id: str) -> Requests:
    """The sample scenario's single-route demands one per call, its shared build, two bad calls."""
    scenario, shared = _scenario(SCENARIO), _scenario(SHARED)
    singles = tuple(
        pb.OptimizeRequest(
            network_id=network_id,
            demands=[_demand(row)],
            name=row["id"],
            solver=pb.SolverOptions(time_limit_s=SINGLE_TIME_LIMIT_S, num_workers=1),
        )
        for row in scenario["demands"]
        if int(row.get("paths", 1)) == 1
    )
    shared_request = pb.OptimizeRequest(
        network_id=network_id,
        demands=[_demand(r) for r in shared["demands"]],
        shared_build=True,
        name="shared",
        solver=pb.SolverOptions(time_limit_s=SHARED_TIME_LIMIT_S, num_workers=2),
    )
    demand = _demand(scenario["demands"][0])
    bad_network = pb.OptimizeRequest(network_id="0" * 64, demands=[demand])
    broken = pb.Demand()
    broken.CopyFrom(demand)
    broken.max_latency_ms = -1.0
    bad_demand = pb.OptimizeRequest(network_id=network_id, demands=[broken])
    return Requests(singles, shared_request, bad_network, bad_demand)


# --------------------------------------------------------------------------- answers


@dataclass(frozen=True)
class Answer:
    """What must not change under load: per route its status, cost and latency; the design cost."""

    routes: tuple[tuple[str, int, str, float, float], ...]
    design_cost: float
    proven: bool
    """Every route OPTIMAL or INFEASIBLE (and the shared design's gap 0): nothing a time limit cut."""


def answer_of(response: pb.OptimizeResponse) -> Answer:
    """The comparable part of an Optimize response."""
    routes = tuple(
        (r.demand_id, r.route_index, pb.RouteStatus.Name(r.status), round(r.cost, 6), round(r.latency_ms, 9))
        for r in response.routes
    )
    settled = {pb.ROUTE_STATUS_OPTIMAL, pb.ROUTE_STATUS_INFEASIBLE}
    proven = all(r.status in settled for r in response.routes)
    if response.design.shared_build:
        proven = proven and response.design.gap == 0.0
    return Answer(routes, round(response.design.cost, 6), proven)


def same_answer(a: Answer, b: Answer) -> bool:
    """Equal statuses and costs (to a relative 1e-6) route by route, and the same design cost."""
    if len(a.routes) != len(b.routes) or [r[:3] for r in a.routes] != [r[:3] for r in b.routes]:
        return False
    costs = [(x[3], y[3]) for x, y in zip(a.routes, b.routes, strict=True)] + [(a.design_cost, b.design_cost)]
    return all(
        (math.isnan(x) and math.isnan(y)) or abs(x - y) <= COST_TOLERANCE * max(1.0, abs(x), abs(y))
        for x, y in costs
    )


# --------------------------------------------------------------------------- clients


@dataclass(frozen=True)
class Call:
    """One call of the load: kind, status, latency and, for good ones, what it answered."""

    kind: str
    key: str
    code: str
    latency_s: float
    started_s: float
    answer: Answer | None = None


@dataclass
class Shared:
    """Results of every client, and the end time."""

    until: float
    calls: list[Call] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)


def _health(channel: grpc.Channel, timeout_s: float) -> str:
    """One health check's status name."""
    try:
        reply = health_pb2_grpc.HealthStub(channel).Check(health_pb2.HealthCheckRequest(), timeout=timeout_s)
    except grpc.RpcError as exc:
        return exc.code().name
    return "OK" if reply.status == health_pb2.HealthCheckResponse.SERVING else "NOT_SERVING"


def _optimize(
    channel: grpc.Channel,
    request: pb.OptimizeRequest,
    timeout_s: float,
    metadata: tuple[tuple[str, str], ...],
) -> tuple[str, Answer | None]:
    """One Optimize call's status name and answer."""
    stub = channel.unary_unary(
        fr.method_path("Optimize"),
        request_serializer=pb.OptimizeRequest.SerializeToString,
        response_deserializer=pb.OptimizeResponse.FromString,
    )
    try:
        response = stub(request, timeout=timeout_s, metadata=metadata or None)
    except grpc.RpcError as exc:
        return exc.code().name, None
    return "OK", answer_of(response)


def client_loop(
    number: int, port: int, requests: Requests, shared: Shared, token: str | None, seed: int
) -> None:
    """Calls of the mix, one after another, until the end time."""
    rng = random.Random(seed * 1000 + number)
    kinds, weights = zip(*MIX, strict=True)
    metadata = (("authorization", f"Bearer {token}"),) if token else ()
    mine: list[Call] = []
    with fr.open_channel(port) as channel:
        while time.monotonic() < shared.until:
            kind = rng.choices(kinds, weights)[0]
            started = time.monotonic()
            key, answer = kind, None
            if kind == "health":
                code = _health(channel, DEADLINE_S[kind])
            else:
                request = _pick(kind, requests, rng)
                key = f"{kind}:{request.name or request.demands[0].id}"
                code, answer = _optimize(channel, request, DEADLINE_S[kind], metadata)
            mine.append(Call(kind, key, code, time.monotonic() - started, started, answer))
            if code == "RESOURCE_EXHAUSTED":
                time.sleep(REFUSED_PAUSE_S)
    with shared.lock:
        shared.calls.extend(mine)


def _pick(kind: str, requests: Requests, rng: random.Random) -> pb.OptimizeRequest:
    """The request of a kind (a random single-route demand for `single`)."""
    if kind == "single":
        return rng.choice(requests.singles)
    if kind == "shared":
        return requests.shared
    return requests.bad_network if kind == "bad-network" else requests.bad_demand


class Prober:
    """Health every 0.25 s on its own channel, and the server's memory and CPU every 0.5 s."""

    def __init__(self, server: fr.ServerProcess) -> None:
        """Not started yet."""
        self.server = server
        self.health: list[tuple[float, str]] = []
        self.cpu: list[tuple[float, float]] = []
        self.memory = fr.RssSampler(server)
        self._stop = threading.Event()
        self._threads = [
            threading.Thread(target=self._probe, daemon=True),
            threading.Thread(target=self._cpu, daemon=True),
        ]

    def _probe(self) -> None:
        """Health checks until stopped."""
        with fr.open_channel(self.server.port) as channel:
            while not self._stop.wait(0.25):
                started = time.monotonic()
                code = _health(channel, 5.0)
                self.health.append((time.monotonic() - started, code))

    def _cpu(self) -> None:
        """CPU seconds of the server over time until stopped."""
        while not self._stop.wait(0.5):
            self.cpu.append((time.monotonic(), self.server.cpu_s()))

    def __enter__(self) -> Prober:
        """Start probing."""
        self.memory.__enter__()
        for thread in self._threads:
            thread.start()
        return self

    def __exit__(self, *_exc: object) -> None:
        """Stop probing."""
        self._stop.set()
        for thread in self._threads:
            thread.join(10)
        self.memory.__exit__()


# --------------------------------------------------------------------------- the run and the report


def percentile(values: Sequence[float], share: float) -> float:
    """The value at a share of the sorted values (nearest rank)."""
    ordered = sorted(values)
    return (
        ordered[min(len(ordered) - 1, max(0, round(share * len(ordered)) - 1))] if ordered else float("nan")
    )


def baselines(port: int, requests: Requests, token: str | None) -> dict[str, Answer]:
    """Each good request's single-client answer (the server otherwise idle)."""
    metadata = (("authorization", f"Bearer {token}"),) if token else ()
    out = {}
    with fr.open_channel(port) as channel:
        for kind, request in [("single", r) for r in requests.singles] + [("shared", requests.shared)]:
            started = time.monotonic()
            code, answer = _optimize(channel, request, DEADLINE_S[kind], metadata)
            if code != "OK":
                raise RuntimeError(f"single-client {kind} {request.name} failed: {code}")
            out[f"{kind}:{request.name}"] = answer
            print(
                f"  single client {kind:<6} {request.name:<18} {time.monotonic() - started:6.2f} s "
                f"{'proven' if answer.proven else 'NOT proven'}",
                flush=True,
            )
    return out


def tokens_for(clients: int, server_help: str, one_caller: bool, work_dir: Path) -> tuple[list, list[str]]:
    """Per-client tokens and the serve arguments for them, where the server takes a token file."""
    if one_caller or "--auth-token-file" not in server_help:
        return [None] * clients, []
    tokens = [secrets.token_hex(16) for _ in range(clients + 1)]
    path = work_dir / "tokens.txt"
    path.write_text("".join(f"client-{i} {t}\n" for i, t in enumerate(tokens)))
    path.chmod(0o600)
    return tokens, ["--auth-token-file", str(path)]


def main(argv: Sequence[str] | None = None) -> int:
    """Run the load and print the report; 1 when a rule was broken."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--clients", type=int, default=32)
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument("--seed", type=int, default=15)
    parser.add_argument("--one-caller", action="store_true", help="no per-client tokens")
    parser.add_argument(
        "--max-vm-gb", type=float, default=6.0, help="server address-space cap (default 6 GiB)"
    )
    parser.add_argument("--server-arg", action="append", default=[], help="extra `fiberopt serve` argument")
    parser.add_argument(
        "--out", type=Path, default=None, help="results folder (default bench/results/load-TIME)"
    )
    args = parser.parse_args(argv)
    work_dir = args.out or ROOT / "bench" / "results" / time.strftime("load-%Y%m%d-%H%M%S")
    work_dir.mkdir(parents=True, exist_ok=True)
    tokens, token_args = tokens_for(args.clients, fr.serve_flags(), args.one_caller, work_dir)
    server = fr.ServerProcess(
        fr.DATA_ROOT,
        work_dir=work_dir,
        extra_args=[*token_args, *args.server_arg],
        max_vm_bytes=int(args.max_vm_gb * (1 << 30)),
    ).start()
    try:
        report = _run(args, server, tokens)
    finally:
        server.stop()
    (work_dir / "report.json").write_text(json.dumps(report, indent=2))
    print(f"\nresults in {work_dir}")
    return 1 if report["violations"] else 0


def _run(args: argparse.Namespace, server: fr.ServerProcess, tokens: list) -> dict:
    """Baselines, then the clients for the given time, then the report."""
    setup_token = tokens[-1] if tokens and tokens[-1] else None
    with fr.open_channel(server.port) as channel:
        metadata = (("authorization", f"Bearer {setup_token}"),) if setup_token else ()
        stub = channel.unary_unary(
            fr.method_path("LoadNetwork"),
            request_serializer=pb.LoadNetworkRequest.SerializeToString,
            response_deserializer=pb.NetworkInfo.FromString,
        )
        settings = _settings(_scenario(SCENARIO))
        network_id = stub(
            pb.LoadNetworkRequest(
                name="sample", settings=settings, permit_cost_by_level={"state": 15000, "county": 4000}
            ),
            timeout=300,
            metadata=metadata or None,
        ).network_id
    requests = build_requests(network_id)
    print(
        f"server pid {server.pid} on port {server.port}; callers: "
        f"{'one token per client' if setup_token else 'one (no tokens)'}"
    )
    base = baselines(server.port, requests, setup_token)
    shared = Shared(until=time.monotonic() + args.seconds)
    threads = [
        threading.Thread(
            target=client_loop, args=(i, server.port, requests, shared, tokens[i], args.seed), daemon=True
        )
        for i in range(args.clients)
    ]
    cpu_start, started = server.cpu_s(), time.monotonic()
    with Prober(server) as probe:
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        wall_s = time.monotonic() - started
        cpu_s = server.cpu_s() - cpu_start
    alive = server.alive()
    return _report(args, shared.calls, base, probe, wall_s, cpu_s, alive)


def _report(
    args, calls: list[Call], base: dict[str, Answer], probe: Prober, wall_s: float, cpu_s: float, alive: bool
) -> dict:
    """Print the figures; the same as a dict, with the violations."""
    by_kind: dict[str, list[Call]] = collections.defaultdict(list)
    for c in calls:
        by_kind[c.kind].append(c)
    print(
        f"\n{args.clients} clients x {args.seconds:.0f} s: {len(calls):,} calls in {wall_s:.1f} s = "
        f"{len(calls) / wall_s:,.1f} calls/s (no call starts after {args.seconds:.0f} s; the calls then in "
        f"flight took {max(0.0, wall_s - args.seconds):.1f} s more to end)\n"
    )
    header = f"{'kind':<12}{'calls':>8}{'calls/s':>9}{'p50 ms':>9}{'p99 ms':>9}{'max ms':>9}  status codes"
    print(header)
    rows = {}
    for kind, _ in MIX:
        mine = by_kind.get(kind, [])
        latencies = [c.latency_s for c in mine]
        codes = collections.Counter(c.code for c in mine)
        rows[kind] = {
            "calls": len(mine),
            "p50_ms": percentile(latencies, 0.5) * 1000,
            "p99_ms": percentile(latencies, 0.99) * 1000,
            "max_ms": max(latencies, default=0) * 1000,
            "codes": dict(codes),
        }
        r = rows[kind]
        print(
            f"{kind:<12}{len(mine):>8,}{len(mine) / wall_s:>9.1f}{r['p50_ms']:>9.0f}{r['p99_ms']:>9.0f}"
            f"{r['max_ms']:>9.0f}  {dict(codes.most_common())}"
        )
    ok_good = [c for c in calls if c.kind in GOOD and c.code == "OK"]
    for kind in sorted(GOOD):
        ok = [c.latency_s for c in ok_good if c.kind == kind]
        if ok:
            print(
                f"  {kind} answered OK: p50 {percentile(ok, 0.5) * 1000:.0f} ms, "
                f"p99 {percentile(ok, 0.99) * 1000:.0f} ms"
            )
    mismatches = [
        c
        for c in ok_good
        if c.answer.proven and base[c.key].proven and not same_answer(c.answer, base[c.key])
    ]
    unproven = [c for c in ok_good if not c.answer.proven]
    health = [s for s, _ in probe.health]
    health_bad = [code for _, code in probe.health if code != "OK"]
    mix_health = [c.latency_s for c in by_kind.get("health", [])]
    cores = cpu_s / wall_s
    print(
        f"\nhealth prober: {len(health)} checks, p99 {percentile(health, 0.99) * 1000:.0f} ms, "
        f"max {max(health, default=0) * 1000:.0f} ms, {len(health_bad)} not OK; in the mix: "
        f"p99 {percentile(mix_health, 0.99) * 1000:.0f} ms, max {max(mix_health, default=0) * 1000:.0f} ms"
    )
    print(
        f"server: peak RSS {probe.memory.peak_own / 2**20:,.0f} MiB (with children, PSS "
        f"{probe.memory.peak_tree / 2**20:,.0f} MiB); CPU {cpu_s:.0f} s = {cores:.2f} cores on average"
    )
    print(
        f"good answers: {len(ok_good):,} OK, {len(mismatches)} differ from the single-client answer, "
        f"{len(unproven)} not proven (a time limit cut them under load)"
    )
    violations = _violations(calls, mismatches, health, mix_health, health_bad, alive)
    for line in violations:
        print(f"VIOLATION: {line}")
    for c in mismatches[:5]:
        print(f"  differs: {c.key}: {c.answer.routes} vs {base[c.key].routes}")
    return {
        "clients": args.clients,
        "seconds": args.seconds,
        "calls": len(calls),
        "wall_s": wall_s,
        "calls_per_s": len(calls) / wall_s,
        "kinds": rows,
        "health_p99_ms": percentile(health, 0.99) * 1000,
        "health_max_ms": max(health, default=0) * 1000,
        "mix_health_max_ms": max(mix_health, default=0) * 1000,
        "peak_rss_mib": probe.memory.peak_own / 2**20,
        "peak_tree_pss_mib": probe.memory.peak_tree / 2**20,
        "server_cpu_s": cpu_s,
        "server_cores": cores,
        "good_ok": len(ok_good),
        "mismatches": len(mismatches),
        "unproven": len(unproven),
        "violations": violations,
    }


def _violations(
    calls: list[Call],
    mismatches: list[Call],
    health: list[float],
    mix_health: list[float],
    health_bad: list[str],
    alive: bool,
) -> list[str]:
    """What breaks issue 15's load rules."""
    out = []
    odd = collections.Counter((c.kind, c.code) for c in calls if c.code not in ALLOWED)
    out += [f"{n} {kind} calls ended {code}" for (kind, code), n in odd.items()]
    wrong = collections.Counter(
        (c.kind, c.code)
        for c in calls
        if c.kind in EXPECTED and c.code not in (EXPECTED[c.kind], "RESOURCE_EXHAUSTED")
    )
    out += [
        f"{n} {kind} calls ended {code}, not {EXPECTED[kind]}"
        for (kind, code), n in wrong.items()
        if code in ALLOWED
    ]
    slow = [s for s in health + mix_health if s > HEALTH_BOUND_S]
    if slow:
        out.append(f"{len(slow)} health checks took over {HEALTH_BOUND_S:.0f} s (max {max(slow):.1f} s)")
    if health_bad:
        out.append(f"{len(health_bad)} prober health checks not OK: {collections.Counter(health_bad)}")
    if mismatches:
        out.append(f"{len(mismatches)} good answers differ from the single-client answer")
    if not alive:
        out.append("the server died")
    return out


if __name__ == "__main__":
    sys.exit(main())
