"""Command line: `fiberopt solve` for batches of scenarios, `frontier`, `inspect`, `export`, `serve`."""

from __future__ import annotations

import argparse
import logging
import math
import os
import sys
from collections import Counter
from collections.abc import Sequence
from pathlib import Path

import grpc
import pandas as pd
from tqdm import tqdm

from optimizer import __version__
from optimizer.build_worker import DEFAULT_BUILD_MEMORY_BYTES
from optimizer.client import connect
from optimizer.config import GraphSettings
from optimizer.errors import OptimizerError
from optimizer.export import (
    FORMATS,
    export_result,
    format_exports,
    is_complete,
    missing_formats,
    parse_formats,
    result_problems,
    run_info_for,
    write_solution,
)
from optimizer.frontier_export import frontier_folder, frontier_table, write_frontier
from optimizer.geodata import Layers, load_geodata, spec_from_path
from optimizer.geometry import geodesic_length_km
from optimizer.graph import Network, build_graph
from optimizer.pipeline import run_digest, scenario_network, solve_scenario
from optimizer.routes import (
    Demand,
    DemandFrontier,
    Route,
    Solution,
    diverse_from_solved,
    solve_frontier,
    solve_in_turn,
)
from optimizer.scenario import Scenario, load_scenario
from optimizer.security import RequestIdFilter, TlsConfig, load_tokens, read_client_token
from optimizer.server import DEFAULT_HOST, serve
from optimizer.service import ServiceLimits

__all__ = ["main"]

logger = logging.getLogger("fiberopt")

TOKEN_ENV = "FIBEROPT_TOKEN"
"""Environment variable holding the bearer token for --server, when --token-file is not given."""


def main(argv: Sequence[str] | None = None) -> int:
    """Run the fiberopt command line; returns the exit code."""
    parser = _parser()
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=logging.INFO if args.verbose else logging.WARNING, format="%(levelname)s %(name)s: %(message)s"
    )
    try:
        return args.func(args)
    except OptimizerError as exc:
        print(f"fiberopt: error: {exc}", file=sys.stderr)
        return 2
    except grpc.RpcError as exc:  # a --server call the server refused
        print(f"fiberopt: error: server said {exc.code().name}: {exc.details()}", file=sys.stderr)
        return 2


def _parser() -> argparse.ArgumentParser:
    """Argument parser with one subcommand per job."""
    parser = argparse.ArgumentParser(prog="fiberopt", description=__doc__)
    parser.add_argument("--version", action="version", version=f"fiberopt {__version__}")
    parser.add_argument("-v", "--verbose", action="store_true", help="log progress details")
    sub = parser.add_subparsers(required=True, metavar="COMMAND")
    solve = sub.add_parser("solve", help="solve scenario files into an output folder")
    solve.add_argument("scenarios", nargs="+", type=Path, metavar="SCENARIO")
    solve.add_argument("--out", type=Path, default=Path("out"), help="output folder (default out/)")
    solve.add_argument("--force", action="store_true", help="redo scenarios already finished")
    solve.add_argument("--quiet", action="store_true", help="no progress bar or route table")
    solve.add_argument(
        "--format",
        default="gpkg,geojson",
        help=f"GIS formats, comma-separated, from {', '.join(FORMATS)} or all (default gpkg,geojson; "
        "routes.gpkg, map.html and report.html are always written)",
    )
    solve.add_argument("--server", metavar="HOST:PORT", help="solve through a fiberopt server")
    _add_client_credentials(solve)
    solve.set_defaults(func=_cmd_solve)
    serve = sub.add_parser("serve", help="run the gRPC RouteOptimizer service")
    serve.add_argument("--port", type=int, default=50051, help="port (default 50051; 0 = any free)")
    serve.add_argument(
        "--host",
        default=DEFAULT_HOST,
        help=f"address to listen on (default {DEFAULT_HOST}, this machine only; [::] or 0.0.0.0 for all)",
    )
    serve.add_argument(
        "--data-root",
        type=Path,
        default=Path("geodata"),
        help="folder of geodata sets that LoadNetwork may name (default geodata/)",
    )
    serve.add_argument(
        "--preload",
        action="append",
        default=[],
        metavar="NAME",
        help="geodata set under the data root to load before reporting SERVING",
    )
    serve.add_argument("--max-concurrent-solves", type=int, default=2, metavar="N")
    serve.add_argument("--max-solver-threads", type=int, default=2, metavar="N")
    serve.add_argument(
        "--build-memory-mib",
        type=int,
        default=DEFAULT_BUILD_MEMORY_BYTES // 2**20,
        metavar="MIB",
        help="memory one network build (a child process) may use before it is refused "
        f"(default {DEFAULT_BUILD_MEMORY_BYTES // 2**20})",
    )
    _add_server_security(serve)
    serve.set_defaults(func=_cmd_serve)
    frontier = sub.add_parser("frontier", help="the cost-latency frontier of one demand of a scenario")
    frontier.add_argument("scenario", type=Path, metavar="SCENARIO")
    frontier.add_argument("--demand", required=True, metavar="ID", help="demand id in the scenario")
    frontier.add_argument("--out", type=Path, default=Path("out"), help="output folder (default out/)")
    frontier.add_argument(
        "--max-points", type=int, default=200, metavar="N", help="stop after N points (default 200)"
    )
    frontier.set_defaults(func=_cmd_frontier)
    export = sub.add_parser("export", help="write more GIS formats into a solved scenario's folder")
    export.add_argument("result", type=Path, metavar="RESULT_DIR", help="a folder `fiberopt solve` wrote")
    export.add_argument("--format", required=True, help=f"comma-separated, from {', '.join(FORMATS)} or all")
    export.set_defaults(func=_cmd_export)
    inspect = sub.add_parser("inspect", help="validate geodata and print its statistics")
    inspect.add_argument(
        "geodata", type=Path, metavar="GEODATA", help="GeoPackage, folder of layer files, or a scenario .yaml"
    )
    inspect.set_defaults(func=_cmd_inspect)
    return parser


def _add_server_security(serve: argparse.ArgumentParser) -> None:
    """serve's TLS, token and quota options."""
    group = serve.add_argument_group("security")
    group.add_argument("--tls-cert", type=Path, metavar="PEM", help="server certificate chain; serves TLS")
    group.add_argument("--tls-key", type=Path, metavar="PEM", help="the server certificate's private key")
    group.add_argument(
        "--tls-client-ca",
        type=Path,
        metavar="PEM",
        help="CA of client certificates: mutual TLS, a client without a certificate it signed is refused",
    )
    group.add_argument(
        "--auth-token-file",
        type=Path,
        metavar="FILE",
        help="'CALLER-NAME TOKEN' per line (# comments); every call but health then needs "
        "'authorization: Bearer TOKEN'",
    )
    group.add_argument(
        "--max-calls-per-caller",
        type=int,
        metavar="N",
        help="calls in flight per caller (token, client certificate or peer address); over it "
        "RESOURCE_EXHAUSTED (default: every solve slot and queue place plus 4; 0 = no quota)",
    )


def _add_client_credentials(parser: argparse.ArgumentParser) -> None:
    """The TLS and token options of a command that connects to a server."""
    group = parser.add_argument_group("server credentials (with --server)")
    group.add_argument("--tls", action="store_true", help="connect with TLS, trusting the system's CAs")
    group.add_argument(
        "--tls-ca", type=Path, metavar="PEM", help="CA of the server certificate (implies TLS)"
    )
    group.add_argument("--tls-cert", type=Path, metavar="PEM", help="client certificate, for mutual TLS")
    group.add_argument("--tls-key", type=Path, metavar="PEM", help="the client certificate's private key")
    group.add_argument(
        "--token-file",
        type=Path,
        metavar="FILE",
        help=f"file holding the bearer token (default: the {TOKEN_ENV} environment variable); sent "
        "only over TLS or to a loopback address",
    )


def _client_credentials(args: argparse.Namespace) -> dict:
    """connect()'s credential arguments from the command line and the environment."""
    token = read_client_token(args.token_file) if args.token_file else os.environ.get(TOKEN_ENV) or None
    return {
        "tls": args.tls,
        "ca_file": args.tls_ca,
        "cert_file": args.tls_cert,
        "key_file": args.tls_key,
        "token": token,
    }


def _cmd_solve(args: argparse.Namespace) -> int:
    """Solve each scenario; skip finished ones unless --force; one folder each."""
    formats = parse_formats(args.format)
    scenarios = [load_scenario(p) for p in args.scenarios]
    names = [s.name for s in scenarios]
    if dupes := sorted({n for n in names if names.count(n) > 1}):
        print(f"fiberopt: error: several scenarios share the name {dupes}", file=sys.stderr)
        return 2
    credentials = _client_credentials(args) if args.server else {}
    total = sum(len(s.demands) for s in scenarios)
    bar = tqdm(total=total, unit="demand", disable=args.quiet, file=sys.stderr, leave=False)
    failed = 0
    for scenario in scenarios:
        digest = run_digest(scenario)
        folder = args.out / scenario.name
        if not args.force and is_complete(folder, digest):
            bar.update(len(scenario.demands))
            if missing := missing_formats(folder, formats):  # finished: only add the formats asked for
                print(format_exports(scenario.name, export_result(folder, missing)))
            print(f"{scenario.name}: outputs complete in {folder}, skipped (use --force to redo)")
            continue
        if not args.force and folder.exists() and (problems := result_problems(folder, digest)):
            print(f"{scenario.name}: redoing {folder}: {problems[0]}")

        def progress(route: Route, name: str = scenario.name) -> None:
            bar.set_postfix_str(f"{name}/{route.demand_id} {route.status.value}")
            bar.update(route.route_index == 0)  # one step per demand, whatever its paths

        if args.server:
            with connect(args.server, **credentials) as client:
                solution, network = client.solve_scenario(scenario)
            bar.update(len(scenario.demands))
        else:
            solution, network = solve_scenario(scenario, on_route=progress)
        written = write_solution(
            solution,
            network,
            args.out,
            scenario_digest=digest,
            run_info=run_info_for(scenario),
            formats=formats,
        )
        if not args.quiet:
            bar.clear()
            print(format_solution(solution))
            print(format_exports(scenario.name, folder=written, with_files=False))
        print(f"{scenario.name}: wrote {written}")
        failed += solution.status == "UNSOLVED"
    bar.close()
    return 1 if failed else 0


def _cmd_serve(args: argparse.Namespace) -> int:
    """Serve until SIGTERM or SIGINT."""
    if not args.data_root.is_dir():
        print(f"fiberopt: error: --data-root {args.data_root} is not a folder", file=sys.stderr)
        return 2
    if problem := _tls_problem(args):
        print(f"fiberopt: error: {problem}", file=sys.stderr)
        return 2
    if args.build_memory_mib < 64:
        print("fiberopt: error: --build-memory-mib must be at least 64", file=sys.stderr)
        return 2
    limits = ServiceLimits(
        max_concurrent_solves=args.max_concurrent_solves,
        max_solver_threads=args.max_solver_threads,
        build_memory_bytes=args.build_memory_mib * 2**20,
    )
    tls = TlsConfig(args.tls_cert, args.tls_key, args.tls_client_ca) if args.tls_cert else None
    tokens = load_tokens(args.auth_token_file) if args.auth_token_file else None
    _serve_logging()
    try:
        serve(
            args.data_root,
            port=args.port,
            host=args.host,
            preload=tuple(args.preload),
            limits=limits,
            tls=tls,
            tokens=tokens,
            max_calls_per_caller=args.max_calls_per_caller,
        )
    except OSError as exc:  # the port is taken (port reuse is off) or the address is not ours
        print(f"fiberopt: error: {exc}", file=sys.stderr)
        return 2
    return 0


def _tls_problem(args: argparse.Namespace) -> str:
    """Why serve's TLS and quota options do not fit together ("" when they do)."""
    if bool(args.tls_cert) != bool(args.tls_key):
        return "--tls-cert and --tls-key go together"
    if args.tls_client_ca and not args.tls_cert:
        return "--tls-client-ca needs --tls-cert and --tls-key (mutual TLS is TLS first)"
    if args.max_calls_per_caller is not None and args.max_calls_per_caller < 0:
        return "--max-calls-per-caller must be >= 0"
    return ""


def _serve_logging() -> None:
    """Every log line with its call's request id; the access log on even without --verbose."""
    for handler in logging.getLogger().handlers:
        handler.addFilter(RequestIdFilter())
        handler.setFormatter(logging.Formatter("%(levelname)s %(name)s [%(request_id)s]: %(message)s"))
    logging.getLogger("fiberopt.access").setLevel(logging.INFO)


def format_solution(solution: Solution) -> str:
    """The route table: demand, route index, status, km, ms, cost, permits; reasons below."""
    w = max([14, *(len(r.demand_id) for r in solution.routes)])
    header = (
        f"{'demand':<{w}} {'#':>2} {'status':<10} {'km':>9} {'ms':>7} {'bound_ms':>8} "
        f"{'cost':>14} {'permits':>7}"
    )
    lines = [f"== {solution.name} ==", header, "-" * len(header)]
    notes = []
    for r in solution.routes:
        if r.geometry is None:
            lines.append(
                f"{r.demand_id:<{w}} {'-':>2} {r.status.value:<10} {'-':>9} {'-':>7} "
                f"{r.max_latency_ms:>8.2f} {'-':>14} {'-':>7}"
            )
            notes.append(f"  {r.demand_id}: {r.reason}")
        else:
            lines.append(
                f"{r.demand_id:<{w}} {r.route_index:>2} {r.status.value:<10} {r.length_km:>9.1f} "
                f"{r.latency_ms:>7.3f} {r.max_latency_ms:>8.2f} {r.cost:>14,.0f} "
                f"{r.permit_count:>7d}"
            )
            if r.gap > 0 and r.route_index == 0 and not solution.shared_build:
                notes.append(f"  {r.demand_id}: gap {r.gap:.2%} (bound {r.bound:,.0f})")
            notes += [f"  {r.demand_id} route {r.route_index}: warning: {w}" for w in r.warnings]
    lines.append("-" * len(header))
    counts = Counter(r.status.value for r in solution.routes if r.route_index == 0)
    statuses = ", ".join(f"{n} {status}" for status, n in counts.items())
    lines.append(
        f"total cost {solution.total_cost:,.0f} (each edge and permit once); {statuses}; timings "
        + ", ".join(f"{k} {v:.2f} s" for k, v in solution.timings_s.items())
    )
    if solution.shared_build and (design := solution.design) is not None:
        saved = design.independent_cost - design.cost
        proof = design.proof
        lines.append(
            f"shared build: {design.cost:,.0f} ({proof}); each demand on its own: "
            f"{design.independent_cost:,.0f}; sharing saves {saved:,.0f} "
            f"({saved / max(design.independent_cost, 1e-12):.1%})"
        )
    return "\n".join(lines + notes)


def _cmd_frontier(args: argparse.Namespace) -> int:
    """Sweep one demand's frontier; write frontier.csv, .png and .gpkg; print the table."""
    scenario = load_scenario(args.scenario)
    demand = next((d for d in scenario.demands if d.id == args.demand), None)
    if demand is None:
        known = ", ".join(d.id for d in scenario.demands)
        print(
            f"fiberopt: error: {args.scenario}: no demand {args.demand!r} (demands: {known})", file=sys.stderr
        )
        return 2
    if args.max_points < 1:
        print("fiberopt: error: --max-points must be >= 1", file=sys.stderr)
        return 2
    network, _load_s, _graph_s = scenario_network(scenario)
    demand = diverse_from_solved(demand, _referenced_routes(network, scenario, demand))
    frontier = solve_frontier(network, demand, options=scenario.solver, max_points=args.max_points)
    folder = frontier_folder(args.out, scenario.name, demand.id)
    written = write_frontier(frontier, folder)
    print(format_frontier(frontier))
    print(f"{scenario.name}/{demand.id}: wrote {', '.join(str(p) for p in written.values())}")
    return 0 if frontier.complete and frontier.points else 1


def _referenced_routes(network: Network, scenario: Scenario, demand: Demand) -> tuple[Route, ...]:
    """The routes of the demands this one must be diverse from, each solved in turn."""
    chain, by_id = [], {d.id: d for d in scenario.demands}
    while demand.diverse_from_demand:
        demand = by_id[demand.diverse_from_demand]
        chain.insert(0, demand)
    routes: list[Route] = []
    for earlier in chain:
        routes += solve_in_turn(network, earlier, routes, options=scenario.solver)
    return tuple(routes)


def format_frontier(frontier: DemandFrontier) -> str:
    """The frontier as a table, fastest first, with the price of each millisecond saved."""
    d = frontier.demand
    header = f"{'point':>5} {'latency_ms':>10} {'cost':>14} {'km':>9} {'cost/ms saved':>14} {'bound':>5}"
    lines = [f"== frontier {d.id}: {d.a}-{d.b}, paths {d.paths} ==", header, "-" * len(header)]
    for row in frontier_table(frontier):
        per_ms = "-" if math.isnan(row["cost_per_ms_saved"]) else f"{row['cost_per_ms_saved']:,.0f}"
        lines.append(
            f"{row['point']:>5} {row['latency_ms']:>10.4f} {row['cost']:>14,.0f} {row['length_km']:>9.1f} "
            f"{per_ms:>14} {'ok' if row['meets_bound'] else '-':>5}"
        )
    lines.append("-" * len(header))
    state = "complete" if frontier.complete else f"incomplete: {frontier.reason}"
    if not frontier.points and frontier.reason:
        state = f"no design: {frontier.reason}"
    lines.append(f"{len(frontier.points)} Pareto-optimal points in {frontier.solve_s:.2f} s; {state}")
    return "\n".join(lines)


def _cmd_export(args: argparse.Namespace) -> int:
    """Write the asked formats into a solved scenario's folder, from its routes.gpkg."""
    written = export_result(args.result, parse_formats(args.format))
    print(format_exports(args.result.name, written))
    return 0


def _cmd_inspect(args: argparse.Namespace) -> int:
    """Validate a geodata set and print its statistics and graph figures."""
    if args.geodata.suffix in (".yaml", ".yml"):
        scenario = load_scenario(args.geodata)
        spec, settings = scenario.geodata, scenario.settings
    else:
        spec, settings = spec_from_path(args.geodata), GraphSettings()
    layers = load_geodata(spec)
    print(format_layers(layers))
    network = build_graph(layers, settings=settings)
    print(format_graph(network))
    return 0


def format_layers(layers: Layers) -> str:
    """Layer counts, corridor km by kind and jurisdictions by level."""
    km = geodesic_length_km(layers.corridors.geometry.values)
    by_kind = layers.corridors.assign(km=km).groupby("kind")["km"].agg(["count", "sum"])
    lines = [
        f"geodata {layers.name}: valid",
        f"  sites: {len(layers.sites)}",
        f"  corridors: {len(layers.corridors)} ({km.sum():,.1f} km)",
    ]
    lines += [
        f"    {kind:<16} {int(row['count']):>6} rows {row['sum']:>12,.1f} km"
        for kind, row in by_kind.iterrows()
    ]
    lines.append(f"  jurisdictions: {len(layers.jurisdictions)}")
    lines += [
        f"    {level:<16} {n:>6}"
        for level, n in layers.jurisdictions["level"].value_counts().sort_index().items()
    ]
    lines.append(f"  exclusions: {len(layers.exclusions)}")
    if len(layers.areas):
        priced = layers.areas["cost_multiplier"].notna()
        lines.append(f"  areas: {len(layers.areas)} ({int(priced.sum())} with a cost multiplier)")
        lines += [
            f"    {row.area_id:<16} {row.group or '-':<10} "
            + (f"cost x{row.cost_multiplier:g}" if pd.notna(row.cost_multiplier) else "no penalty")
            for row in layers.areas.head(20).itertuples()
        ]
    lines += [f"  repaired: {note}" for note in layers.repairs]
    return "\n".join(lines)


def format_graph(network: Network) -> str:
    """Graph size, components, new-build km and unreachable sites."""
    s = network.stats
    lines = [
        f"graph: {s.nodes:,} nodes, {s.edges:,} edges, {s.components} components, "
        f"{s.km_total:,.1f} km, built in {s.build_s:.2f} s",
        f"  laterals: {s.laterals} edges, {s.lateral_km:,.1f} km; connectors: {s.connectors}, "
        f"{s.connector_km:,.1f} km; edges removed by exclusions/forbidden jurisdictions: "
        f"{s.edges_excluded}",
    ]
    lines += [f"  unreachable: {reason}" for reason in network.unreachable.values()]
    return "\n".join(lines)


if __name__ == "__main__":
    sys.exit(main())
