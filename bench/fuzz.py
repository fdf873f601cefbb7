"""The deep fuzz run (`make fuzz`): adversarial requests for every RouteOptimizer method through a
`fiberopt serve` subprocess, with the server's memory sampled from /proc every 0.5 s.

Prints a table of status codes per method, the calls that broke a rule (INTERNAL, UNKNOWN,
UNAVAILABLE, details over ~1 KB or leaking paths or internals, hangs, invalid input accepted),
tracebacks in the server's stderr, server deaths, peak RSS, CPU and health latency. With
`--geodata N`, also runs N broken geodata sets through `fiberopt solve` when
tests/fuzz_geodata.py exists. Exits 1 when anything broke a rule.

    python bench/fuzz.py                      # 10,000 requests, seed 15
    python bench/fuzz.py --requests 2000 --clients 2 --geodata 500
Results (every outcome as JSON lines, and the report) go to bench/results/fuzz-<time>/.
"""

from __future__ import annotations

import argparse
import collections
import importlib
import json
import resource
import statistics
import subprocess
import sys
import threading
import time
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # tests/ holds the strategies; bench/ is scripts, not a package

from hypothesis import strategies as st  # noqa: E402

from tests import fuzz_requests as fr  # noqa: E402

HEALTH_EVERY_S = 1.0


# --------------------------------------------------------------------------- running them


@dataclass
class RunState:
    """The server in use and what happened to it (shared by the client threads)."""

    server: fr.ServerProcess
    channel: object
    lock: threading.Lock = field(default_factory=threading.Lock)
    deaths: list[str] = field(default_factory=list)
    in_flight: dict[int, fr.Case] = field(default_factory=dict)
    generation: int = 0


def run_one(state: RunState, number: int, case: fr.Case) -> fr.Outcome:
    """Send one case; if the server died meanwhile, record it and start a new one."""
    with state.lock:
        channel, generation = state.channel, state.generation
        state.in_flight[number] = case
    outcome = fr.call(channel, case)
    with state.lock:
        state.in_flight.pop(number, None)
        if generation == state.generation and not state.server.alive():
            code = state.server.process.returncode
            state.deaths.append(
                f"exit {code} after {fr.describe(outcome)}; in flight: "
                + "; ".join(c.summary for c in state.in_flight.values())
            )
            state.channel.close()
            state.server.start()
            state.channel = fr.open_channel(state.server.port)
            state.generation += 1
    return outcome


class HealthProbe:
    """Checks health every second on its own channel; keeps latencies, failures, and for checks
    slower than 1 s the cases then in flight."""

    def __init__(self, state: RunState) -> None:
        """Not started yet."""
        self.state = state
        self.latencies_s: list[float] = []
        self.failures = 0
        self.slow: list[tuple[float, list[str]]] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True, name="health-probe")

    def _run(self) -> None:
        """Probe until stopped (a new channel whenever the server was restarted)."""
        port, channel = 0, None
        while not self._stop.wait(HEALTH_EVERY_S):
            with self.state.lock:
                if self.state.server.port != port:
                    port = self.state.server.port
                    channel = fr.open_channel(port)
            started = time.monotonic()
            ok = fr.health_ok(channel, timeout_s=5.0)
            elapsed = time.monotonic() - started
            self.latencies_s.append(elapsed)
            self.failures += not ok
            if elapsed > 1.0:
                with self.state.lock:
                    self.slow.append((elapsed, [c.summary[:80] for c in self.state.in_flight.values()]))
        if channel is not None:
            channel.close()

    def __enter__(self) -> HealthProbe:
        """Start probing."""
        self._thread.start()
        return self

    def __exit__(self, *_exc: object) -> None:
        """Stop probing."""
        self._stop.set()
        self._thread.join(10)


def run_cases(state: RunState, cases: Sequence[fr.Case], clients: int) -> list[fr.Outcome]:
    """Every case through `clients` threads, in order per thread; progress on stderr."""
    outcomes: list[fr.Outcome | None] = [None] * len(cases)
    started = time.monotonic()

    def work(item: tuple[int, fr.Case]) -> None:
        number, case = item
        outcomes[number] = run_one(state, number, case)
        done = number + 1
        if done % 500 == 0:
            print(
                f"  {done:,}/{len(cases):,} calls, {time.monotonic() - started:.0f} s",
                file=sys.stderr,
                flush=True,
            )

    with ThreadPoolExecutor(clients, thread_name_prefix="fuzz-client") as pool:
        list(pool.map(work, enumerate(cases)))
    return [o for o in outcomes if o is not None]


# --------------------------------------------------------------------------- broken geodata


GEODATA_TIMEOUT_S = 120.0
"""A `fiberopt solve` of one small broken set that runs longer than this is a hang."""
HOSTILE_MARKS = (b"<OGRVRT", b"gdal_streamed_alg")
OUTSIDE_TEXT = "outside the geodata set"
"""What fuzz_geodata's file beside the sets says; a VRT that reached it would echo it."""


@dataclass(frozen=True)
class SolveRun:
    """One broken set through `fiberopt solve`: exit code (None = hang), stderr, what was broken."""

    scenario: Path
    mutations: str
    code: int | None
    stderr: str
    elapsed_s: float
    hostile: bool


def run_geodata(count: int, work_dir: Path, workers: int) -> dict:
    """N broken geodata sets (tests/fuzz_geodata.py, seeded) through `fiberopt solve`, in parallel."""
    try:
        module = importlib.import_module("tests.fuzz_geodata")
    except ModuleNotFoundError as exc:
        if exc.name not in ("tests.fuzz_geodata", "tests"):
            raise
        print("geodata: skipped: tests/fuzz_geodata.py does not exist (yet)")
        return {"skipped": "tests/fuzz_geodata.py absent"}
    write_cases = getattr(module, "write_cases", None)
    if not callable(write_cases):
        print("geodata: skipped: tests/fuzz_geodata.py has no write_cases(out_dir, n)")
        return {"skipped": "no write_cases"}
    scenarios = list(write_cases(work_dir / "geodata-sets", count))[:count]
    print(
        f"\ngeodata: {len(scenarios)} broken sets through `fiberopt solve` ({workers} at a time)", flush=True
    )
    started = time.monotonic()
    with ThreadPoolExecutor(workers, thread_name_prefix="solve") as pool:
        runs = list(pool.map(lambda item: _solve_one(*item, work_dir), enumerate(scenarios)))
    peak_mib = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    return _geodata_report(runs, time.monotonic() - started, peak_mib)


def _solve_one(number: int, scenario: Path, work_dir: Path) -> SolveRun:
    """`fiberopt solve` on one set, with a timeout."""
    folder = scenario.parent
    mutations = (
        (folder / "MUTATIONS.txt").read_text().strip().replace("\n", "; ")
        if (folder / "MUTATIONS.txt").exists()
        else folder.name
    )
    hostile = any(
        mark in path.read_bytes()[:4096]
        for path in folder.iterdir()
        if path.is_file()
        for mark in HOSTILE_MARKS
    )
    args = [
        sys.executable,
        "-m",
        "optimizer.cli",
        "solve",
        str(scenario),
        "--out",
        str(work_dir / "geodata-out" / f"{number:04d}"),
        "--quiet",
        "--format",
        "gpkg",
    ]
    started = time.monotonic()
    try:
        done = subprocess.run(
            args,
            capture_output=True,
            text=True,
            errors="replace",
            timeout=GEODATA_TIMEOUT_S,
            cwd=ROOT,
            check=False,
            stdin=subprocess.DEVNULL,
        )
    except subprocess.TimeoutExpired as exc:
        stderr = exc.stderr.decode(errors="replace") if isinstance(exc.stderr, bytes) else (exc.stderr or "")
        return SolveRun(scenario, mutations, None, stderr, time.monotonic() - started, hostile)
    return SolveRun(scenario, mutations, done.returncode, done.stderr, time.monotonic() - started, hostile)


def solve_problems(run: SolveRun) -> list[str]:
    """What a CLI run broke: exit 0/1/2 only, no traceback, exit 2 one clean line, no VRT followed."""
    found = []
    if run.code is None:
        return [f"hang (> {GEODATA_TIMEOUT_S:.0f} s)"]
    if run.code not in (0, 1, 2):
        found.append(f"exit {run.code}")
    if "Traceback (most recent call last)" in run.stderr:
        found.append("traceback")
    if run.code == 2 and not (run.stderr.startswith("fiberopt: error: ") and run.stderr.count("\n") == 1):
        found.append("exit 2 without one clean 'fiberopt: error:' line")
    if run.code in (0, 1) and run.hostile:
        found.append("a VRT or GDAL pipeline file was accepted")
    if OUTSIDE_TEXT in run.stderr:
        found.append("a file outside the set was read")
    return found


def _geodata_report(runs: Sequence[SolveRun], wall_s: float, peak_mib: float) -> dict:
    """Print exit codes and what broke a rule; the same as a dict."""
    codes = collections.Counter("hang" if r.code is None else f"exit {r.code}" for r in runs)
    bad = [(r, found) for r in runs if (found := solve_problems(r))]
    kinds = collections.Counter(p for _, found in bad for p in found)
    slowest = max(runs, key=lambda r: r.elapsed_s, default=None)
    print(
        f"geodata: {len(runs)} sets in {wall_s:.0f} s: {dict(codes.most_common())}; "
        f"peak RSS of one `fiberopt solve` {peak_mib:,.0f} MiB; slowest {slowest.elapsed_s:.1f} s "
        f"({slowest.mutations[:100]})"
        if slowest
        else "geodata: no sets"
    )
    print(f"geodata: {len(bad)} runs broke a rule: {dict(kinds)}")
    for run, found in bad[:40]:
        last = run.stderr.strip().splitlines()[-1:] if run.stderr.strip() else []
        print(f"  {', '.join(found)}: {run.mutations[:140]} -> {last[0][:200] if last else ''}")
    return {
        "sets": len(runs),
        "codes": dict(codes),
        "wall_s": wall_s,
        "peak_solve_rss_mib": peak_mib,
        "bad": [
            {"mutations": r.mutations, "problems": f, "exit": r.code, "stderr_tail": r.stderr[-600:]}
            for r, f in bad
        ],
    }


# --------------------------------------------------------------------------- the report


def status_table(outcomes: Sequence[fr.Outcome]) -> str:
    """Status code counts per method, as a text table."""
    counts = collections.Counter((o.case.method, o.code) for o in outcomes)
    methods = sorted({m for m, _ in counts})
    codes = sorted({c for _, c in counts}, key=lambda c: (c != "OK", c))
    width = max(14, *(len(m) for m in methods)) + 2
    lines = ["method".ljust(width) + "".join(c[:18].rjust(20) for c in codes) + "total".rjust(8)]
    for method in methods:
        row = [counts[(method, c)] for c in codes]
        lines.append(method.ljust(width) + "".join(f"{n:>20,}" for n in row) + f"{sum(row):>8,}")
    totals = [sum(counts[(m, c)] for m in methods) for c in codes]
    lines.append("all".ljust(width) + "".join(f"{n:>20,}" for n in totals) + f"{sum(totals):>8,}")
    return "\n".join(lines)


def grouped_problems(outcomes: Sequence[fr.Outcome], data_root: Path) -> list[tuple[str, int, str]]:
    """(rule broken per method and status, count, first example), most frequent first."""
    groups: dict[str, list[fr.Outcome]] = collections.defaultdict(list)
    for outcome, found in fr.iter_problems(outcomes, data_root):
        for problem in found:
            key = f"{outcome.case.method} {outcome.code}: {_generic(problem)}"
            groups[key].append(outcome)
    return sorted(((k, len(v), fr.describe(v[0])) for k, v in groups.items()), key=lambda g: -g[1])


def _generic(problem: str) -> str:
    """A problem text without its per-call numbers (so equal problems group)."""
    for cut in (" bytes >", ": ", " ("):
        if cut in problem and problem.startswith(("details ", "trailing", "hang")):
            return problem.split(cut)[0]
    return problem


def latency_line(values: Sequence[float]) -> str:
    """p50 / p99 / max of latencies in ms."""
    if not values:
        return "none"
    ordered = sorted(values)
    p99 = ordered[min(len(ordered) - 1, int(0.99 * len(ordered)))]
    p50, top = statistics.median(ordered), ordered[-1]
    return f"p50 {p50 * 1000:.0f} ms, p99 {p99 * 1000:.0f} ms, max {top * 1000:.0f} ms"


def write_outcomes(path: Path, outcomes: Sequence[fr.Outcome], data_root: Path) -> None:
    """Every outcome as one JSON line (summary, status, details prefix, time, problems)."""
    with path.open("w") as out:
        for o in outcomes:
            row = {
                "method": o.case.method,
                "family": o.case.family,
                "summary": o.case.summary,
                "code": o.code,
                "details": o.details[:400],
                "details_bytes": len(o.details.encode()),
                "elapsed_s": round(o.elapsed_s, 3),
                "deadline_s": o.case.deadline_s,
                "problems": fr.problems(o, data_root),
            }
            out.write(json.dumps(row) + "\n")


def main(argv: Sequence[str] | None = None) -> int:
    """Run the fuzz, print the report; 1 when any rule was broken."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--requests", type=int, default=10_000, help="requests to send (default 10,000; 0: none)"
    )
    parser.add_argument("--seed", type=int, default=15)
    parser.add_argument("--clients", type=int, default=2, help="concurrent client threads (default 2)")
    parser.add_argument(
        "--families", default="all", help=f"comma-separated from {', '.join(fr.FAMILIES)} or all"
    )
    parser.add_argument(
        "--full-sample",
        action="store_true",
        help="mutate the whole sample (1,355 jurisdictions) rather than its states only",
    )
    parser.add_argument(
        "--geodata",
        type=int,
        default=0,
        metavar="N",
        help="broken geodata sets (tests/fuzz_geodata.py) to run through `fiberopt solve`",
    )
    parser.add_argument(
        "--max-vm-gb", type=float, default=6.0, help="server address-space cap (default 6 GiB)"
    )
    parser.add_argument("--server-arg", action="append", default=[], help="extra `fiberopt serve` argument")
    parser.add_argument(
        "--out", type=Path, default=None, help="results folder (default bench/results/fuzz-TIME)"
    )
    args = parser.parse_args(argv)
    work_dir = args.out or ROOT / "bench" / "results" / time.strftime("fuzz-%Y%m%d-%H%M%S")
    work_dir.mkdir(parents=True, exist_ok=True)
    report: dict = {"calls_breaking_rules": 0, "server_deaths": 0}
    if args.geodata:  # first: RUSAGE_CHILDREN's peak is then the solves' alone
        report["geodata"] = run_geodata(args.geodata, work_dir, args.clients)
    if args.requests:
        server = fr.ServerProcess(
            fr.DATA_ROOT,
            work_dir=work_dir,
            extra_args=args.server_arg,
            max_vm_bytes=int(args.max_vm_gb * (1 << 30)),
        ).start()
        try:
            report |= _fuzz(args, server, work_dir)
        finally:
            exit_code = server.stop()
        print(f"server exit code at the end: {exit_code}")
    (work_dir / "report.json").write_text(json.dumps(report, indent=2))
    print(f"\nresults in {work_dir}")
    geodata_bad = bool(report.get("geodata", {}).get("bad"))
    return 1 if report["calls_breaking_rules"] or report["server_deaths"] or geodata_bad else 0


def _strategy(args: argparse.Namespace, target: fr.Target) -> st.SearchStrategy[fr.Case]:
    """All families (weighted) or the chosen ones."""
    if args.families == "all":
        return fr.request_cases(target, light=not args.full_sample)
    chosen = [name.strip() for name in args.families.split(",")]
    return st.one_of([fr.FAMILIES[name](target) for name in chosen])


@dataclass(frozen=True)
class Measured:
    """What one fuzz run measured."""

    outcomes: list[fr.Outcome]
    wall_s: float
    cpu_s: float
    leftover_cpu: float
    """Share of a core the server kept busy 2-5 s after the last call."""
    peak_own_mib: float
    peak_tree_mib: float
    rss_samples: int
    health_s: list[float]
    health_failures: int
    health_slow: list[tuple[float, list[str]]]
    deaths: list[str]
    stderr: str


def _fuzz(args: argparse.Namespace, server: fr.ServerProcess, work_dir: Path) -> dict:
    """Draw, run and report the requests against the running server."""
    channel = fr.open_channel(server.port)
    target = fr.Target(fr.sample_network_id(channel), fr.sample_facts())
    started = time.monotonic()
    cases = fr.draw_cases(_strategy(args, target), args.requests, args.seed)
    print(
        f"drew {len(cases):,} cases in {time.monotonic() - started:.0f} s (seed {args.seed}); "
        f"server pid {server.pid} on port {server.port}",
        flush=True,
    )
    measured = _measure(RunState(server, channel), cases, args.clients)
    write_outcomes(work_dir / "outcomes.jsonl", measured.outcomes, fr.DATA_ROOT)
    return _report(measured, args)


def _measure(state: RunState, cases: Sequence[fr.Case], clients: int) -> Measured:
    """Run the cases with RSS sampling and a health probe; then the server's idle CPU."""
    server = state.server
    cpu_before = server.cpu_s()
    started = time.monotonic()
    with fr.RssSampler(server) as rss, HealthProbe(state) as health:
        outcomes = run_cases(state, cases, clients)
        wall_s = time.monotonic() - started
        cpu_s = server.cpu_s() - cpu_before
        time.sleep(2.0)
        idle_before = server.cpu_s()
        time.sleep(3.0)
        leftover = (server.cpu_s() - idle_before) / 3.0
    return Measured(
        outcomes,
        wall_s,
        cpu_s,
        leftover,
        rss.peak_own / 2**20,
        rss.peak_tree / 2**20,
        rss.samples,
        health.latencies_s,
        health.failures,
        health.slow,
        state.deaths,
        server.stderr_text(),
    )


def _report(m: Measured, args: argparse.Namespace) -> dict:
    """Print the figures and the broken rules; the same as a dict for report.json."""
    outcomes, stderr = m.outcomes, m.stderr
    escaped = fr.zip_slip_escapes()
    problems = grouped_problems(outcomes, fr.DATA_ROOT)
    breaking = sum(1 for _ in fr.iter_problems(outcomes, fr.DATA_ROOT))
    codes = collections.Counter(o.code for o in outcomes)
    hangs = sum(o.elapsed_s > o.case.deadline_s + fr.HANG_SLACK_S for o in outcomes)
    tracebacks = stderr.count("Traceback (most recent call last)")
    rate = len(outcomes) / max(m.wall_s, 1e-9)
    print(f"\n{len(outcomes):,} calls in {m.wall_s:.0f} s ({rate:.1f} calls/s, {args.clients} clients)\n")
    print(status_table(outcomes))
    print(
        f"\nINTERNAL {codes['INTERNAL']}, UNKNOWN {codes['UNKNOWN']}, UNAVAILABLE {codes['UNAVAILABLE']}, "
        f"hangs {hangs}, server deaths {len(m.deaths)}"
    )
    print(
        f"server stderr: {tracebacks} tracebacks, {len(stderr.splitlines()):,} lines, "
        f"{len(stderr.encode()):,} bytes"
    )
    print(
        f"peak RSS: server {m.peak_own_mib:,.0f} MiB, with its children {m.peak_tree_mib:,.0f} MiB "
        f"({m.rss_samples} samples every 0.5 s)"
    )
    print(
        f"server CPU {m.cpu_s:.0f} s over {m.wall_s:.0f} s; "
        f"{m.leftover_cpu * 100:.0f}% of a core busy 2-5 s after the last call"
    )
    print(f"health: {len(m.health_s)} checks, {m.health_failures} failed, {latency_line(m.health_s)}")
    for elapsed, in_flight in sorted(m.health_slow, reverse=True)[:5]:
        print(f"  health took {elapsed:.1f} s while in flight: {in_flight}")
    for death in m.deaths:
        print(f"DEATH: {death}")
    if escaped:
        print(f"ZIP SLIP: files written outside: {escaped}")
    print(f"\n{breaking:,} calls broke a rule, {len(problems)} kinds:")
    for key, count, example in problems:
        print(f"  {count:>6,}  {key}\n          e.g. {example}")
    by_method = collections.Counter(f"{o.case.method} {o.code}" for o in outcomes)
    return {
        "calls": len(outcomes),
        "wall_s": m.wall_s,
        "clients": args.clients,
        "seed": args.seed,
        "codes": dict(codes),
        "by_method": dict(by_method),
        "hangs": hangs,
        "server_deaths": len(m.deaths),
        "deaths": m.deaths,
        "tracebacks": tracebacks,
        "stderr_lines": len(stderr.splitlines()),
        "peak_rss_mib": m.peak_own_mib,
        "peak_tree_rss_mib": m.peak_tree_mib,
        "server_cpu_s": m.cpu_s,
        "leftover_cpu_share": m.leftover_cpu,
        "health_checks": len(m.health_s),
        "health_failures": m.health_failures,
        "health_max_s": max(m.health_s, default=0.0),
        "health_slow": m.health_slow,
        "zip_slip": [str(p) for p in escaped],
        "calls_breaking_rules": breaking,
        "problems": [{"kind": k, "count": n, "example": e} for k, n, e in problems],
    }


if __name__ == "__main__":
    sys.exit(main())
