"""The server's call envelope over real loopback channels: TLS and mutual TLS, bearer tokens,
health open, per-caller quotas, undecodable requests, the access log, port reuse off, the
default host, and the gRPC pool sized so health answers while every solve slot is taken."""

from __future__ import annotations

import datetime
import inspect
import ipaddress
import logging
import queue
import time
from collections.abc import Iterator
from pathlib import Path

import grpc
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID
from grpc_health.v1 import health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection_pb2, reflection_pb2_grpc

from optimizer.api.fiberopt.v1 import route_optimizer_pb2 as pb
from optimizer.cli import _parser, main
from optimizer.client import connect
from optimizer.convert import demand_to_proto
from optimizer.routes import Demand
from optimizer.security import (
    InvalidCredentialsError,
    RateLimitedLog,
    TlsConfig,
    is_loopback_target,
    load_tokens,
    read_client_token,
)
from optimizer.server import DEFAULT_HOST, SERVICE_NAME, create_server, pool_size
from optimizer.service import ServiceLimits
from tests.test_service import HARD_DEMANDS, write_hard_set

ROOT = Path(__file__).resolve().parents[1]
DATA_ROOT = ROOT / "geodata"
ALICE = "alice-token-" + "a" * 40
BOB = "bob-token-" + "b" * 40
WRONG = "wrong-token-" + "w" * 40
QUICK = [Demand("d", "CHI1", "DAL1", 7.0)]
ACCESS = "fiberopt.access"


# -- certificates and tokens -------------------------------------------------------------------


def _name(common_name: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])


def _issue(
    subject: str,
    issuer: tuple[x509.Name, ec.EllipticCurvePrivateKey] | None,
    *,
    ca: bool,
    usage=None,
    sans=(),
) -> tuple[x509.Certificate, ec.EllipticCurvePrivateKey]:
    """A certificate and its key, self-signed when issuer is None."""
    key = ec.generate_private_key(ec.SECP256R1())
    issuer_name, issuer_key = issuer or (_name(subject), key)
    now = datetime.datetime.now(datetime.UTC)
    builder = (
        x509.CertificateBuilder()
        .subject_name(_name(subject))
        .issuer_name(issuer_name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
    )
    if usage:
        builder = builder.add_extension(x509.ExtendedKeyUsage([usage]), critical=False)
    if sans:
        builder = builder.add_extension(x509.SubjectAlternativeName(list(sans)), critical=False)
    return builder.sign(issuer_key, hashes.SHA256()), key


def _write(folder: Path, stem: str, cert: x509.Certificate, key: ec.EllipticCurvePrivateKey) -> None:
    (folder / f"{stem}.pem").write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    (folder / f"{stem}.key").write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
    )


@pytest.fixture(scope="session")
def pki(tmp_path_factory) -> Path:
    """A CA, a server certificate (localhost, 127.0.0.1) and a client certificate, as PEM files."""
    folder = tmp_path_factory.mktemp("pki")
    ca_cert, ca_key = _issue("fiberopt test CA", None, ca=True)
    _write(folder, "ca", ca_cert, ca_key)
    sans = (x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1")))
    issuer = (ca_cert.subject, ca_key)
    server = _issue("localhost", issuer, ca=False, usage=ExtendedKeyUsageOID.SERVER_AUTH, sans=sans)
    _write(folder, "server", *server)
    client = _issue("planner-7", issuer, ca=False, usage=ExtendedKeyUsageOID.CLIENT_AUTH)
    _write(folder, "client", *client)
    return folder


@pytest.fixture(scope="session")
def token_file(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("tokens") / "tokens.txt"
    path.write_text(f"# caller token\nalice {ALICE}\n\nbob {BOB}\n")
    path.chmod(0o600)
    return path


@pytest.fixture(scope="module")
def tls_server(pki, token_file):
    """TLS with tokens, the sample preloaded."""
    running = create_server(
        DATA_ROOT,
        preload=("sample",),
        tls=TlsConfig(pki / "server.pem", pki / "server.key"),
        tokens=load_tokens(token_file),
    )
    yield running
    running.stop(grace_s=0)


@pytest.fixture(scope="module")
def mtls_server(pki):
    """Mutual TLS, no tokens."""
    running = create_server(
        DATA_ROOT, tls=TlsConfig(pki / "server.pem", pki / "server.key", client_ca_file=pki / "ca.pem")
    )
    yield running
    running.stop(grace_s=0)


@pytest.fixture
def plain_server(token_file):
    """Plaintext on loopback with tokens and a quota of one call per caller (fresh per test)."""
    running = create_server(DATA_ROOT, tokens=load_tokens(token_file), max_calls_per_caller=1)
    yield running
    running.stop(grace_s=0)


def _target(running) -> str:
    return f"127.0.0.1:{running.port}"


def _error(fn) -> grpc.RpcError:
    with pytest.raises(grpc.RpcError) as info:
        fn()
    return info.value


def _health(channel: grpc.Channel, timeout_s: float = 5.0) -> int:
    reply = health_pb2_grpc.HealthStub(channel).Check(
        health_pb2.HealthCheckRequest(service=SERVICE_NAME), timeout=timeout_s
    )
    return reply.status


# -- TLS and tokens ----------------------------------------------------------------------------


def test_plaintext_call_to_a_tls_server_is_unavailable(tls_server):
    with connect(_target(tls_server), timeout_s=5, token=ALICE) as c:
        assert _error(c.list_networks).code() == grpc.StatusCode.UNAVAILABLE


@pytest.mark.parametrize("token", [None, WRONG], ids=["no-token", "wrong-token"])
def test_tls_call_without_a_valid_token_is_unauthenticated(tls_server, pki, token):
    with connect(_target(tls_server), timeout_s=5, ca_file=pki / "ca.pem", token=token) as c:
        error = _error(c.list_networks)
    assert error.code() == grpc.StatusCode.UNAUTHENTICATED
    assert "Bearer TOKEN" in error.details()


def test_reflection_needs_a_token_too(tls_server, pki):
    with connect(_target(tls_server), timeout_s=5, ca_file=pki / "ca.pem") as c:
        stub = reflection_pb2_grpc.ServerReflectionStub(c.channel)
        replies = stub.ServerReflectionInfo(iter([reflection_pb2.ServerReflectionRequest(list_services="")]))
        assert _error(lambda: next(replies)).code() == grpc.StatusCode.UNAUTHENTICATED


def test_health_is_open_without_a_token(tls_server, pki):
    with connect(f"localhost:{tls_server.port}", ca_file=pki / "ca.pem") as c:  # the DNS name SAN
        assert _health(c.channel) == health_pb2.HealthCheckResponse.SERVING


def test_the_right_token_lists_and_optimizes_with_a_request_id(tls_server, pki):
    with connect(_target(tls_server), timeout_s=60, ca_file=pki / "ca.pem", token=ALICE) as c:
        listed, call = c.stub.ListNetworks.with_call(pb.ListNetworksRequest(), timeout=10)
        assert listed.networks
        request_id = dict(call.trailing_metadata())["x-request-id"]
        assert len(request_id) == 12 and int(request_id, 16) >= 0
        sample_id = c.load_named("sample").network_id  # preloaded: answered from the cache
        response = c.optimize(sample_id, QUICK)
    assert response.routes[0].status == pb.ROUTE_STATUS_OPTIMAL


def test_mutual_tls_refuses_a_client_without_a_certificate(mtls_server, pki):
    with connect(_target(mtls_server), timeout_s=5, ca_file=pki / "ca.pem") as c:
        assert _error(c.list_networks).code() == grpc.StatusCode.UNAVAILABLE


def test_mutual_tls_accepts_a_client_certificate_and_names_the_caller(mtls_server, pki, caplog):
    caplog.set_level(logging.INFO, logger=ACCESS)
    files = {"ca_file": pki / "ca.pem", "cert_file": pki / "client.pem", "key_file": pki / "client.key"}
    with connect(_target(mtls_server), timeout_s=5, **files) as c:
        assert c.list_networks() == []
    assert any(r.caller == "cert:planner-7" for r in caplog.records if r.name == ACCESS)


def test_a_token_is_never_sent_in_plaintext_off_the_machine():
    with pytest.raises(InvalidCredentialsError, match="not sent in plaintext"):
        connect("planner.example.net:50051", token=ALICE)


def test_plaintext_loopback_carries_the_token_as_metadata(plain_server):
    with connect(_target(plain_server), timeout_s=5, token=BOB) as c:
        assert c.list_networks() == []
    with connect(_target(plain_server), timeout_s=5) as c:
        assert _error(c.list_networks).code() == grpc.StatusCode.UNAUTHENTICATED


@pytest.fixture(scope="module")
def hard_root(tmp_path_factory) -> Path:
    """A data root holding the hard grid set (small: quick to build) as hard/."""
    root = tmp_path_factory.mktemp("root")
    (root / "hard").mkdir()
    write_hard_set(root / "hard")
    return root


def test_cli_solve_through_a_tls_server_with_a_token_file(
    tls_server, pki, hard_root, tmp_path, capsys, monkeypatch
):
    scenario = tmp_path / "grid.yaml"
    scenario.write_text(
        f"name: grid\ngeodata: {hard_root / 'hard'}\nsolver: {{time_limit_s: 20}}\n"
        "demands:\n  - {id: sw-ne, a: SW, b: NE, max_latency_ms: 2.95}\n"
    )
    client_token = tmp_path / "token"
    client_token.write_text(f"{ALICE}\n")
    client_token.chmod(0o600)
    base = ["solve", str(scenario), "--quiet", "--server", _target(tls_server)]
    base += ["--tls-ca", str(pki / "ca.pem")]
    monkeypatch.setenv("FIBEROPT_TOKEN", WRONG)  # read when no --token-file is given
    assert main([*base, "--out", str(tmp_path / "refused")]) == 2
    assert "UNAUTHENTICATED" in capsys.readouterr().err
    assert main([*base, "--out", str(tmp_path / "out"), "--token-file", str(client_token)]) == 0
    assert (tmp_path / "out" / "grid" / "summary.json").is_file()


# -- token files -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "no tokens"),
        ("# only a comment\n\n", "no tokens"),
        ("alice short-token\n", "at least 32 are required"),
        (f"alice {ALICE} extra\n", "expected 'CALLER-NAME TOKEN'"),
        (f"al ice {ALICE}\n", "expected 'CALLER-NAME TOKEN'"),
        (f"alice/x {ALICE}\n", "caller name must be"),
        (f"alice {ALICE}\nbob {ALICE}\n", "line 2: token already given to 'alice'"),
    ],
)
def test_bad_token_files_are_refused(tmp_path, text, message):
    path = tmp_path / "tokens"
    path.write_text(text)
    path.chmod(0o600)
    with pytest.raises(InvalidCredentialsError, match=message) as info:
        load_tokens(path)
    assert "a" * 20 not in str(info.value)  # the message never echoes a token


def test_token_files_map_tokens_to_callers_and_warn_when_others_may_read(token_file, tmp_path, caplog):
    assert load_tokens(token_file) == {ALICE: "alice", BOB: "bob"}
    assert not caplog.records
    shared = tmp_path / "shared"
    shared.write_text(f"carol {ALICE}\n")
    shared.chmod(0o644)
    assert read_client_token(shared) == ALICE
    assert "readable by group or others" in caplog.text


@pytest.mark.parametrize(
    ("target", "loopback"),
    [
        ("localhost:50051", True),
        ("127.0.0.1:1", True),
        ("[::1]:50051", True),
        ("unix:/tmp/fiberopt.sock", True),
        ("10.0.0.5:50051", False),
        ("[2001:db8::1]:50051", False),
        ("planner.example.net:443", False),
        ("localhost.example.net:443", False),
    ],
)
def test_loopback_targets(target, loopback):
    assert is_loopback_target(target) is loopback


# -- undecodable requests, quotas, the access log ----------------------------------------------


def test_undecodable_bytes_are_invalid_argument_logged_once(plain_server, caplog):
    caplog.set_level(logging.INFO)
    channel = grpc.insecure_channel(_target(plain_server))
    raw = channel.unary_unary("/fiberopt.v1.RouteOptimizer/Optimize")  # bytes in, bytes out
    metadata = (("authorization", f"Bearer {ALICE}"),)
    for _ in range(25):
        error = _error(lambda: raw(b"\xff\xff\xff\x0a\x05ab", timeout=5, metadata=metadata))
        assert error.code() == grpc.StatusCode.INVALID_ARGUMENT
        assert error.details() == "request is not a valid fiberopt.v1.OptimizeRequest message"
    channel.close()
    undecodable = [r for r in caplog.records if "undecodable" in r.getMessage()]
    assert len(undecodable) == 1
    assert not [r for r in caplog.records if r.name.startswith("grpc") and r.levelno >= logging.ERROR]
    access = [r for r in caplog.records if r.name == ACCESS]
    assert [r.status for r in access] == ["INVALID_ARGUMENT"] * 25


def test_rate_limited_log_counts_what_it_suppressed(caplog):
    log = RateLimitedLog(logging.getLogger("fiberopt.test"), interval_s=0.05)
    for _ in range(10):
        log.warning("bad %s", "thing")
    time.sleep(0.06)
    log.warning("bad %s", "thing")
    assert [r.getMessage() for r in caplog.records] == [
        "bad thing",
        "bad thing (and 9 more since the last such message)",
    ]


class _HeldStream:
    """A reflection stream kept open by the client: one call in flight until released."""

    def __init__(self, channel: grpc.Channel, metadata=()) -> None:
        self._requests: queue.Queue = queue.Queue()
        self._requests.put(reflection_pb2.ServerReflectionRequest(list_services=""))
        stub = reflection_pb2_grpc.ServerReflectionStub(channel)
        self.replies = stub.ServerReflectionInfo(self._iterate(), metadata=metadata, timeout=30)

    def _iterate(self) -> Iterator[reflection_pb2.ServerReflectionRequest]:
        while (item := self._requests.get()) is not None:
            yield item

    def admitted(self) -> bool:
        """Wait for the first answer: the call got past the guard."""
        return next(self.replies).HasField("list_services_response")

    def release(self) -> None:
        self._requests.put(None)
        assert list(self.replies) == []


def test_per_caller_quota_is_resource_exhausted_at_once(plain_server):
    with (
        connect(_target(plain_server), timeout_s=5, token=ALICE) as alice,
        connect(_target(plain_server), timeout_s=5, token=BOB) as bob,
    ):
        held = _HeldStream(alice.channel)
        assert held.admitted()
        started = time.monotonic()
        error = _error(alice.list_networks)
        assert error.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
        assert "caller quota" in error.details()
        assert time.monotonic() - started < 2
        assert bob.list_networks() == []  # another caller is not held up
        assert _health(alice.channel) == health_pb2.HealthCheckResponse.SERVING  # health has no quota
        held.release()
        _wait_until(lambda: plain_server.guard.calls_in_flight == 0)
        assert alice.list_networks() == []


def test_access_log_lines_carry_request_id_caller_method_and_status(plain_server, caplog):
    caplog.set_level(logging.INFO, logger=ACCESS)
    with connect(_target(plain_server), timeout_s=5, token=ALICE) as c:
        _, call = c.stub.ListNetworks.with_call(pb.ListNetworksRequest(), timeout=5)
        request_id = dict(call.trailing_metadata())["x-request-id"]
        error = _error(lambda: c.get_network("nope"))
    refused_id = dict(error.trailing_metadata())["x-request-id"]
    with connect(_target(plain_server), timeout_s=5) as anonymous:
        _error(anonymous.list_networks)
    records = {r.request_id: r for r in caplog.records if r.name == ACCESS}
    ok, missing = records[request_id], records[refused_id]
    assert (ok.caller, ok.method, ok.status) == ("alice", "/fiberopt.v1.RouteOptimizer/ListNetworks", "OK")
    assert (missing.method, missing.status) == ("/fiberopt.v1.RouteOptimizer/GetNetwork", "NOT_FOUND")
    assert ok.peer.startswith("ipv4:127.0.0.1:") and ok.duration_ms >= 0
    assert f"{request_id} caller=alice peer=ipv4:127.0.0.1:" in ok.getMessage()
    assert "UNAUTHENTICATED" in {r.status for r in records.values()}


def test_a_cancelled_stream_is_logged_and_frees_its_slot(plain_server, caplog):
    caplog.set_level(logging.INFO, logger=ACCESS)
    with connect(_target(plain_server), timeout_s=5, token=ALICE) as c:
        held = _HeldStream(c.channel)
        assert held.admitted()
        held.replies.cancel()
        _wait_until(lambda: plain_server.guard.calls_in_flight == 0)
        assert c.list_networks() == []
    statuses = [r.status for r in caplog.records if r.name == ACCESS and "Reflection" in r.method]
    # The cancel also ends the request stream, so the servicer may finish first and send OK to a
    # client that has gone; either way the call is logged once and its slot is free.
    assert statuses in (["CANCELLED"], ["OK"])


# -- binding and the pool ----------------------------------------------------------------------


def test_a_second_server_on_the_same_port_fails_to_start(plain_server):
    with pytest.raises(OSError, match=f"cannot listen on 127.0.0.1:{plain_server.port}"):
        create_server(DATA_ROOT, port=plain_server.port)


def test_the_default_host_is_loopback():
    assert DEFAULT_HOST == "127.0.0.1"
    assert inspect.signature(create_server).parameters["host"].default == DEFAULT_HOST
    assert _parser().parse_args(["serve"]).host == DEFAULT_HOST


def test_the_pool_exceeds_what_the_service_admits():
    sizes = pool_size(ServiceLimits(max_concurrent_solves=2, max_queued_solves=16))
    assert sizes.threads > sizes.calls_in_flight > 18
    assert 18 < sizes.calls_per_caller < sizes.calls_in_flight


def _wait_until(condition, timeout_s: float = 10.0) -> None:
    end = time.monotonic() + timeout_s
    while not condition():
        assert time.monotonic() < end, "condition not reached"
        time.sleep(0.02)


def test_health_answers_while_every_solve_slot_and_thread_is_taken(hard_root):
    limits = ServiceLimits(max_concurrent_solves=1, max_queued_solves=1, max_solver_threads=1)
    running = create_server(hard_root, limits=limits, max_calls_per_caller=0)
    held: list[_HeldStream] = []
    try:
        with connect(_target(running), timeout_s=30) as c:
            info = c.load_named("hard")
            request = pb.OptimizeRequest(
                network_id=info.network_id,
                demands=[demand_to_proto(d) for d in HARD_DEMANDS],
                solver=pb.SolverOptions(time_limit_s=20),
            )
            solves = [c.stub.Optimize.future(request, timeout=25) for _ in range(2)]
            _wait_until(lambda: running.service.active_calls == 2)  # one running, one queued
            assert "server busy" in _error(lambda: c.stub.Optimize(request, timeout=5)).details()
            started = time.monotonic()
            assert _health(c.channel, timeout_s=1) == health_pb2.HealthCheckResponse.SERVING
            free = pool_size(limits).calls_in_flight - running.guard.calls_in_flight
            held = [_HeldStream(c.channel) for _ in range(free)]
            assert all(h.admitted() for h in held)
            error = _error(lambda: c.list_networks())
            assert error.code() == grpc.StatusCode.RESOURCE_EXHAUSTED and "server busy" in error.details()
            assert _health(c.channel, timeout_s=1) == health_pb2.HealthCheckResponse.SERVING
            assert time.monotonic() - started < 5
            for solve in solves:
                solve.cancel()
    finally:
        for h in held:
            h.replies.cancel()
        running.stop(grace_s=0)


def test_server_logs_carry_the_request_id(plain_server, caplog):
    """A log line written while serving a call names it (RequestIdFilter on the handler)."""
    from optimizer.security import RequestIdFilter

    seen: list[str] = []

    class Keep(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            seen.append(record.request_id)

    handler = Keep()
    handler.addFilter(RequestIdFilter())
    security_log = logging.getLogger("optimizer.security")
    security_log.addHandler(handler)
    try:
        channel = grpc.insecure_channel(_target(plain_server))
        raw = channel.unary_unary("/fiberopt.v1.RouteOptimizer/GetNetwork")
        metadata = (("authorization", f"Bearer {ALICE}"),)
        error = _error(lambda: raw(b"\x0a\x02\xff\xfe", timeout=5, metadata=metadata))
        channel.close()
    finally:
        security_log.removeHandler(handler)
    assert seen == [dict(error.trailing_metadata())["x-request-id"]]


def test_cli_serve_on_a_taken_port_exits_with_a_clear_error(plain_server):
    import subprocess
    import sys

    command = [sys.executable, "-m", "optimizer.cli", "serve", "--port", str(plain_server.port)]
    done = subprocess.run(
        [*command, "--data-root", str(DATA_ROOT)], capture_output=True, text=True, timeout=60, cwd=ROOT
    )
    assert done.returncode == 2
    assert f"cannot listen on 127.0.0.1:{plain_server.port}" in done.stderr


@pytest.mark.parametrize(
    ("flags", "message"),
    [
        (["--tls-cert", "server.pem"], "--tls-cert and --tls-key go together"),
        (["--tls-client-ca", "ca.pem"], "--tls-client-ca needs --tls-cert"),
        (["--max-calls-per-caller", "-1"], "--max-calls-per-caller must be >= 0"),
    ],
)
def test_cli_serve_checks_its_security_options(flags, message, capsys):
    assert main(["serve", "--data-root", str(DATA_ROOT), *flags]) == 2
    assert message in capsys.readouterr().err


def test_cli_serve_refuses_a_bad_token_file(tmp_path, capsys):
    path = tmp_path / "tokens"
    path.write_text("alice short\n")
    assert main(["serve", "--data-root", str(DATA_ROOT), "--auth-token-file", str(path)]) == 2
    assert "at least 32 are required" in capsys.readouterr().err


def test_health_watchers_hold_no_threads(caplog):
    caplog.set_level(logging.INFO, logger=ACCESS)
    limits = ServiceLimits(max_concurrent_solves=1, max_queued_solves=1)
    running = create_server(DATA_ROOT, limits=limits)
    channel = grpc.insecure_channel(_target(running))
    stub = health_pb2_grpc.HealthStub(channel)
    try:
        watchers = []
        for _ in range(2 * pool_size(limits).threads):  # one by one: a burst is refused at the pool
            watchers.append(stub.Watch(health_pb2.HealthCheckRequest(service=SERVICE_NAME), timeout=30))
            assert next(watchers[-1]).status == health_pb2.HealthCheckResponse.SERVING
        assert _health(channel, timeout_s=1) == health_pb2.HealthCheckResponse.SERVING
        with connect(_target(running), timeout_s=5) as c:
            assert c.list_networks() == []
        for w in watchers:
            w.cancel()

        def watched() -> list[str]:
            return [r.status for r in caplog.records if r.name == ACCESS and r.method.endswith("Watch")]

        _wait_until(lambda: len(watched()) == len(watchers))
        assert set(watched()) == {"CANCELLED"}
    finally:
        channel.close()
        running.stop(grace_s=0)
