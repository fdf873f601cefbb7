"""The call envelope of the gRPC server: TLS, bearer tokens, per-caller quotas, request ids,
safe request decoding and the access log, in one server interceptor.

Token file format (``--auth-token-file``): one caller per line, ``CALLER-NAME TOKEN``,
separated by spaces; blank lines and lines starting with ``#`` are ignored. Caller names are
letters, digits, ``.``, ``_`` and ``-``; a token is at least 32 printable ASCII characters
without spaces (e.g. ``python -c "import secrets; print(secrets.token_urlsafe(32))"``), each
token used once; a caller may have several tokens (for rotation). The file should be readable
by its owner only (``chmod 600``). Clients send ``authorization: Bearer TOKEN``.
"""

from __future__ import annotations

import contextvars
import hashlib
import hmac
import logging
import re
import secrets
import stat
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import grpc
from google.protobuf import descriptor_pool

from optimizer.errors import OptimizerError

__all__ = [
    "MIN_TOKEN_CHARS",
    "CallGuard",
    "GuardSettings",
    "InvalidCredentialsError",
    "RateLimitedLog",
    "RequestIdFilter",
    "TlsConfig",
    "channel_credentials",
    "check_token",
    "current_request_id",
    "is_loopback_target",
    "load_tokens",
    "read_client_token",
    "server_credentials",
    "token_metadata_interceptor",
]

logger = logging.getLogger(__name__)
access_logger = logging.getLogger("fiberopt.access")

MIN_TOKEN_CHARS = 32
"""Shortest token accepted: 32 characters of a URL-safe alphabet carry about 190 bits."""
UNDECODABLE_LOG_INTERVAL_S = 60.0
"""Undecodable requests are logged at most once per this interval, with a count of the rest."""
HEALTH_PREFIX = "/grpc.health.v1.Health/"
REQUEST_ID_HEADER = "x-request-id"

_CALLER_NAME = re.compile(r"[A-Za-z0-9._-]{1,64}")
_TOKEN = re.compile(r"[!-~]+")  # printable ASCII, no spaces: valid in a metadata value
_UNSAFE_NAME = re.compile(r"[^A-Za-z0-9._@-]")  # a certificate name goes into log lines as is
_BEARER = "bearer "
_request_id: contextvars.ContextVar[str] = contextvars.ContextVar("fiberopt_request_id", default="")


class InvalidCredentialsError(OptimizerError, ValueError):
    """A TLS file, token file or token that cannot be used as given."""


def current_request_id() -> str:
    """The id of the call this thread is serving, or "" outside a call."""
    return _request_id.get()


class RequestIdFilter(logging.Filter):
    """Adds ``record.request_id`` (the current call's id, or "-") for log formats to show."""

    def filter(self, record: logging.LogRecord) -> bool:
        """Annotate the record; never drops it."""
        if not hasattr(record, "request_id"):
            record.request_id = current_request_id() or "-"
        return True


# -- TLS ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class TlsConfig:
    """Server TLS: its certificate chain and key (PEM); with client_ca_file, mutual TLS."""

    cert_file: Path
    key_file: Path
    client_ca_file: Path | None = None


def server_credentials(tls: TlsConfig) -> grpc.ServerCredentials:
    """Server credentials; client certificates signed by client_ca_file required when given."""
    key = _read_pem(tls.key_file, "tls key_file")
    cert = _read_pem(tls.cert_file, "tls cert_file")
    if tls.client_ca_file is None:
        return grpc.ssl_server_credentials([(key, cert)])
    client_ca = _read_pem(tls.client_ca_file, "tls client_ca_file")
    return grpc.ssl_server_credentials([(key, cert)], root_certificates=client_ca, require_client_auth=True)


def channel_credentials(
    ca_file: Path | None = None, cert_file: Path | None = None, key_file: Path | None = None
) -> grpc.ChannelCredentials:
    """Client TLS: trust ca_file (else the system roots); cert_file and key_file for mutual TLS."""
    if (cert_file is None) != (key_file is None):
        raise InvalidCredentialsError("tls: give the client certificate and its key together")
    return grpc.ssl_channel_credentials(
        root_certificates=None if ca_file is None else _read_pem(ca_file, "tls ca_file"),
        private_key=None if key_file is None else _read_pem(key_file, "tls key_file"),
        certificate_chain=None if cert_file is None else _read_pem(cert_file, "tls cert_file"),
    )


def _read_pem(path: Path, what: str) -> bytes:
    """A PEM file's bytes, or a clear error naming the setting."""
    try:
        data = Path(path).read_bytes()
    except OSError as exc:
        raise InvalidCredentialsError(f"{what}: cannot read {path} ({exc.strerror})") from exc
    if b"-----BEGIN " not in data:
        raise InvalidCredentialsError(f"{what}: {path} is not a PEM file")
    return data


# -- tokens ------------------------------------------------------------------------------------


def load_tokens(path: Path) -> Mapping[str, str]:
    """A token file (see the module docstring) as token -> caller name; refuses a bad file."""
    text = _read_secret_file(Path(path), "auth token file")
    tokens: dict[str, str] = {}
    problems = []
    for number, raw in enumerate(text.splitlines(), start=1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        parts = line.split()
        where = f"{path} line {number}"
        if len(parts) != 2:
            problems.append(f"{where}: expected 'CALLER-NAME TOKEN', found {len(parts)} words")
        elif not _CALLER_NAME.fullmatch(parts[0]):
            problems.append(f"{where}: caller name must be 1-64 of A-Z a-z 0-9 . _ -")
        elif problem := _token_problem(parts[1]):
            problems.append(f"{where}: {problem}")
        elif parts[1] in tokens:
            problems.append(f"{where}: token already given to {tokens[parts[1]]!r}; use each token once")
        else:
            tokens[parts[1]] = parts[0]
    if problems:
        raise InvalidCredentialsError("; ".join(problems))
    if not tokens:
        raise InvalidCredentialsError(f"{path}: no tokens; write one 'CALLER-NAME TOKEN' per line")
    return tokens


def read_client_token(path: Path) -> str:
    """The token in a client's token file: its first line that is not blank or a # comment."""
    text = _read_secret_file(Path(path), "token file")
    lines = [s.strip() for s in text.splitlines() if s.strip() and not s.strip().startswith("#")]
    if not lines:
        raise InvalidCredentialsError(f"token file {path}: no token in it")
    token = lines[0].split()[-1]  # a server-style "name token" line works too
    if problem := _token_problem(token):
        raise InvalidCredentialsError(f"token file {path}: {problem}")
    return token


def check_token(token: str, what: str) -> str:
    """The token, or an error saying why it cannot be sent."""
    if problem := _token_problem(token):
        raise InvalidCredentialsError(f"{what}: {problem}")
    return token


def _token_problem(token: str) -> str:
    """Why a token is unusable ("" if it is fine); never echoes the token."""
    if not _TOKEN.fullmatch(token):
        return "token must be printable ASCII without spaces"
    if len(token) < MIN_TOKEN_CHARS:
        return f"token is {len(token)} characters; at least {MIN_TOKEN_CHARS} are required"
    return ""


def _read_secret_file(path: Path, what: str) -> str:
    """A secret file's text; warns when others may read it."""
    try:
        mode = path.stat().st_mode
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise InvalidCredentialsError(f"{what} {path}: cannot read ({exc.strerror})") from exc
    except UnicodeDecodeError as exc:
        raise InvalidCredentialsError(f"{what} {path}: not UTF-8 text") from exc
    if mode & (stat.S_IRWXG | stat.S_IRWXO):
        logger.warning("%s %s: readable by group or others (mode %o); chmod 600 it", what, path, mode & 0o777)
    return text


class _TokenTable:
    """Known tokens as digests; a lookup compares against every one, in constant time."""

    def __init__(self, tokens: Mapping[str, str]) -> None:
        self._entries = [(_digest(token), caller) for token, caller in tokens.items()]

    def caller(self, presented: str) -> str | None:
        """The caller owning the presented token, or None; no early exit, no length leak."""
        candidate = _digest(presented)
        found = None
        for digest, caller in self._entries:
            if hmac.compare_digest(candidate, digest):
                found = caller
        return found


def _digest(token: str) -> bytes:
    """SHA-256 of a token, so comparisons take the same time whatever its length."""
    return hashlib.sha256(token.encode("utf-8", "surrogateescape")).digest()


# -- client side -------------------------------------------------------------------------------


def is_loopback_target(target: str) -> bool:
    """Whether a gRPC target (HOST:PORT, unix:PATH) stays on this machine."""
    if target.startswith(("unix:", "unix-abstract:")):
        return True
    host = target.removeprefix("dns:///").removeprefix("ipv4:").removeprefix("ipv6:")
    if host.startswith("["):
        host = host[1:].partition("]")[0]
    elif host.count(":") == 1:
        host = host.partition(":")[0]
    return host in ("localhost", "::1") or host.startswith("127.")


class _TokenMetadata(
    grpc.UnaryUnaryClientInterceptor,
    grpc.UnaryStreamClientInterceptor,
    grpc.StreamUnaryClientInterceptor,
    grpc.StreamStreamClientInterceptor,
):
    """Adds the bearer token to every call's metadata (for plaintext loopback channels)."""

    def __init__(self, token: str) -> None:
        self._header = ("authorization", f"Bearer {token}")

    def _details(self, details: grpc.ClientCallDetails) -> grpc.ClientCallDetails:
        """The call details with the token added."""
        metadata = [*(details.metadata or ()), self._header]
        return details._replace(metadata=metadata)  # grpc's own details are a namedtuple

    def intercept_unary_unary(self, continuation, client_call_details, request):
        """Unary call with the token."""
        return continuation(self._details(client_call_details), request)

    def intercept_unary_stream(self, continuation, client_call_details, request):
        """Server-streaming call with the token."""
        return continuation(self._details(client_call_details), request)

    def intercept_stream_unary(self, continuation, client_call_details, request_iterator):
        """Client-streaming call with the token."""
        return continuation(self._details(client_call_details), request_iterator)

    def intercept_stream_stream(self, continuation, client_call_details, request_iterator):
        """Bidirectional call with the token."""
        return continuation(self._details(client_call_details), request_iterator)


def token_metadata_interceptor(token: str) -> grpc.UnaryUnaryClientInterceptor:
    """A client interceptor sending ``authorization: Bearer TOKEN`` on every call."""
    return _TokenMetadata(check_token(token, "token"))


# -- the server interceptor --------------------------------------------------------------------


@dataclass(frozen=True)
class GuardSettings:
    """What the call guard enforces; None or 0 turns a limit off."""

    tokens: Mapping[str, str] | None = None
    max_calls_per_caller: int | None = None
    max_calls_in_flight: int | None = None
    """Calls in flight beyond health checks; the rest of the pool stays free for health."""
    undecodable_log_interval_s: float = UNDECODABLE_LOG_INTERVAL_S


class RateLimitedLog:
    """A warning logged at most once per interval, then with the count of those suppressed."""

    def __init__(self, log: logging.Logger, interval_s: float) -> None:
        self._log = log
        self._interval_s = interval_s
        self._lock = threading.Lock()
        self._last = -float("inf")
        self._suppressed = 0

    def warning(self, message: str, *args: object) -> None:
        """Log now, or count it if one was logged within the interval."""
        with self._lock:
            now = time.monotonic()
            if now - self._last < self._interval_s:
                self._suppressed += 1
                return
            suppressed, self._suppressed, self._last = self._suppressed, 0, now
        if suppressed:
            message += f" (and {suppressed} more since the last such message)"
        self._log.warning(message, *args)


class _Undecodable:
    """Stands in for a request whose bytes did not parse."""

    __slots__ = ("size_bytes",)

    def __init__(self, size_bytes: int) -> None:
        self.size_bytes = size_bytes


class _Counter:
    """Calls in flight, per key, under one lock."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._counts: dict[str, int] = {}
        self.total = 0

    def enter(self, key: str, per_key: int | None, total: int | None) -> str:
        """Count a call in; returns "" or which limit refused it (then nothing is counted)."""
        with self._lock:
            if total and self.total >= total:
                return f"server busy: {self.total} calls in flight (limit {total}); retry later"
            held = self._counts.get(key, 0)
            if per_key and held >= per_key:
                return f"caller quota: {held} calls in flight (limit {per_key}); retry later"
            self._counts[key] = held + 1
            self.total += 1
            return ""

    def leave(self, key: str) -> None:
        """Count a call out."""
        with self._lock:
            held = self._counts.pop(key) - 1
            if held:
                self._counts[key] = held
            self.total -= 1


class _Call:
    """One call's envelope: its id, caller, start time, quota slot and access-log line."""

    __slots__ = (
        "_counter",
        "_done",
        "_lock",
        "caller",
        "context",
        "method",
        "quota",
        "request_id",
        "started",
    )

    def __init__(self, method: str, context: grpc.ServicerContext, counter: _Counter) -> None:
        self.method = method
        self.context = context
        self.request_id = secrets.token_hex(6)
        self.caller = "-"
        self.started = time.perf_counter()
        self.quota = ""
        self._counter = counter
        self._lock = threading.Lock()
        self._done = False

    def finish(self, code: grpc.StatusCode | None) -> None:
        """Release the quota slot and write the access-log line; once, whoever comes first."""
        with self._lock:
            if self._done:
                return
            self._done = True
        if self.quota:
            self._counter.leave(self.quota)
        sent = tuple(self.context.trailing_metadata() or ())  # the handler's own (e.g. error details)
        self.context.set_trailing_metadata((*sent, (REQUEST_ID_HEADER, self.request_id)))
        status = (code or grpc.StatusCode.OK).name
        duration_ms = (time.perf_counter() - self.started) * 1000.0
        peer = self.context.peer()
        access_logger.info(
            "%s caller=%s peer=%s method=%s status=%s duration_ms=%.1f",
            self.request_id,
            self.caller,
            peer,
            self.method,
            status,
            duration_ms,
            extra={
                "request_id": self.request_id,
                "caller": self.caller,
                "peer": peer,
                "method": self.method,
                "status": status,
                "duration_ms": duration_ms,
            },
        )

    def finished_code(self) -> grpc.StatusCode:
        """A returned handler's status: the code it set, else OK (CANCELLED if the client left)."""
        if (code := self.context.code()) is not None:
            return code
        return grpc.StatusCode.OK if self.context.is_active() else grpc.StatusCode.CANCELLED


_HANDLER_KINDS = {
    (False, False): ("unary_unary", grpc.unary_unary_rpc_method_handler),
    (False, True): ("unary_stream", grpc.unary_stream_rpc_method_handler),
    (True, False): ("stream_unary", grpc.stream_unary_rpc_method_handler),
    (True, True): ("stream_stream", grpc.stream_stream_rpc_method_handler),
}
"""(request streaming, response streaming) -> the handler's behaviour attribute and its factory."""


class CallGuard(grpc.ServerInterceptor):
    """Request id, authentication, quotas, safe decoding and the access log, for every call."""

    def __init__(self, settings: GuardSettings | None = None) -> None:
        self.settings = settings or GuardSettings()
        self._tokens = _TokenTable(self.settings.tokens) if self.settings.tokens else None
        self._counter = _Counter()
        self._undecodable = RateLimitedLog(logger, self.settings.undecodable_log_interval_s)
        self._wrapped: dict[str, tuple[grpc.RpcMethodHandler, grpc.RpcMethodHandler]] = {}
        self._lock = threading.Lock()

    @property
    def calls_in_flight(self) -> int:
        """Calls counted in now (health checks are not counted)."""
        return self._counter.total

    def intercept_service(self, continuation, handler_call_details):
        """The method's handler wrapped in the envelope (built once per method)."""
        handler = continuation(handler_call_details)
        if handler is None:
            return None
        method = handler_call_details.method
        known = self._wrapped.get(method)
        if known is not None and known[0] is handler:
            return known[1]
        wrapped = self._wrap(method, handler)
        with self._lock:
            self._wrapped[method] = (handler, wrapped)
        return wrapped

    def _wrap(self, method: str, handler: grpc.RpcMethodHandler) -> grpc.RpcMethodHandler:
        """A handler of the same kind whose behaviour runs inside the envelope."""
        deserializer = _safe_deserializer(handler.request_deserializer)
        message = _request_type_name(method)
        attr, make = _HANDLER_KINDS[(handler.request_streaming, handler.response_streaming)]
        behavior = getattr(handler, attr)
        if getattr(behavior, "experimental_non_blocking", False):  # health Watch: no thread per watcher
            guard = self._guard_callback
        else:
            guard = self._guard_stream if handler.response_streaming else self._guard_unary
        guarded = guard(method, message, behavior, handler.request_streaming)
        for name in ("experimental_non_blocking", "experimental_thread_pool"):
            if hasattr(behavior, name):
                setattr(guarded, name, getattr(behavior, name))
        return make(
            guarded, request_deserializer=deserializer, response_serializer=handler.response_serializer
        )

    def _guard_unary(
        self, method: str, message: str, behavior: Callable, request_streaming: bool
    ) -> Callable:
        """A unary-response behaviour in the envelope; the access line when it returns."""

        def guarded(request: Any, context: grpc.ServicerContext) -> Any:
            call = _Call(method, context, self._counter)
            token = _request_id.set(call.request_id)
            try:
                try:
                    response = behavior(self._admit(call, request, message, request_streaming), context)
                except BaseException:  # an abort (gRPC raises a bare Exception) or a failure
                    call.finish(_failed_code(context))
                    raise
                call.finish(call.finished_code())
                return response
            finally:
                _request_id.reset(token)

        return guarded

    def _guard_stream(
        self, method: str, message: str, behavior: Callable, request_streaming: bool
    ) -> Callable:
        """A streaming-response behaviour in the envelope; the access line when it ends or is cancelled."""

        def guarded(request: Any, context: grpc.ServicerContext) -> Iterator[Any]:
            call = _Call(method, context, self._counter)
            _request_id.set(call.request_id)  # gRPC runs each call in a context of its own
            try:
                responses = behavior(self._admit(call, request, message, request_streaming), context)
            except BaseException:
                call.finish(_failed_code(context))
                raise
            if not context.add_callback(lambda: call.finish(context.code() or grpc.StatusCode.CANCELLED)):
                call.finish(grpc.StatusCode.CANCELLED)
            return _finishing(responses, call)

        return guarded

    def _guard_callback(
        self, method: str, message: str, behavior: Callable, request_streaming: bool
    ) -> Callable:
        """A non-blocking behaviour (it sends through a callback, None ends the call) in the envelope."""

        def guarded(request: Any, context: grpc.ServicerContext, send: Callable[[Any], None]) -> None:
            call = _Call(method, context, self._counter)
            _request_id.set(call.request_id)

            def send_and_finish(response: Any) -> None:
                if response is None:
                    call.finish(call.finished_code())
                send(response)

            try:
                behavior(self._admit(call, request, message, request_streaming), context, send_and_finish)
            except BaseException:
                call.finish(_failed_code(context))
                raise
            if not context.add_callback(lambda: call.finish(context.code() or grpc.StatusCode.CANCELLED)):
                call.finish(grpc.StatusCode.CANCELLED)

        return guarded

    def _admit(self, call: _Call, request: Any, message: str, request_streaming: bool) -> Any:
        """Authenticate, take a quota slot and check the request decoded; aborts otherwise."""
        context = call.context
        health = call.method.startswith(HEALTH_PREFIX)
        call.caller = self._caller(context, health)
        if not health:
            s = self.settings
            refused = self._counter.enter(call.caller, s.max_calls_per_caller, s.max_calls_in_flight)
            if refused:
                context.abort(grpc.StatusCode.RESOURCE_EXHAUSTED, refused)
            call.quota = call.caller
        if request_streaming:
            return self._checked_stream(request, call, message)
        self._check_decoded(request, call, message)
        return request

    def _caller(self, context: grpc.ServicerContext, health: bool) -> str:
        """Who is calling: the token's caller, else the client certificate's name, else the peer host."""
        if self._tokens is not None:
            caller = self._tokens.caller(_bearer(context))
            if caller is not None:
                return caller
            if not health:
                context.abort(
                    grpc.StatusCode.UNAUTHENTICATED,
                    "authorization: a valid 'Bearer TOKEN' is required for this server",
                )
        names = context.auth_context().get("x509_common_name")
        if names:
            return "cert:" + _UNSAFE_NAME.sub("_", names[0].decode("utf-8", "replace"))[:64]
        return "peer:" + _peer_host(context.peer())

    def _check_decoded(self, request: Any, call: _Call, message: str) -> None:
        """INVALID_ARGUMENT for bytes that did not parse, logged at most once per interval."""
        if isinstance(request, _Undecodable):
            self._undecodable.warning(
                "%s: undecodable %s (%d bytes) from %s (caller %s)",
                call.request_id,
                message,
                request.size_bytes,
                call.context.peer(),
                call.caller,
            )
            call.context.abort(grpc.StatusCode.INVALID_ARGUMENT, f"request is not a valid {message} message")

    def _checked_stream(self, requests: Iterator[Any], call: _Call, message: str) -> Iterator[Any]:
        """A request stream whose undecodable messages end the call with INVALID_ARGUMENT."""
        for request in requests:
            self._check_decoded(request, call, message)
            yield request


def _finishing(responses: Iterator[Any], call: _Call) -> Iterator[Any]:
    """The responses, with the call's access line written when they end."""
    try:
        yield from responses
    except BaseException:
        call.finish(_failed_code(call.context))
        raise
    call.finish(call.finished_code())


def _failed_code(context: grpc.ServicerContext) -> grpc.StatusCode:
    """The status of a call whose handler raised: its abort code, CANCELLED, or UNKNOWN."""
    if (code := context.code()) is not None:
        return code
    return grpc.StatusCode.UNKNOWN if context.is_active() else grpc.StatusCode.CANCELLED


def _safe_deserializer(deserialize: Callable[[bytes], Any] | None) -> Callable[[bytes], Any]:
    """A deserializer that returns a marker for bad bytes instead of raising (gRPC says INTERNAL)."""
    if deserialize is None:
        return lambda data: data

    def safe(data: bytes) -> Any:
        try:
            return deserialize(data)
        except Exception:  # protobuf's DecodeError, or anything a custom deserializer raises
            return _Undecodable(len(data))

    return safe


def _request_type_name(method: str) -> str:
    """The full name of a method's request message (e.g. fiberopt.v1.OptimizeRequest)."""
    try:
        found = descriptor_pool.Default().FindMethodByName(method.strip("/").replace("/", "."))
    except KeyError:
        return "request"
    return found.input_type.full_name


def _bearer(context: grpc.ServicerContext) -> str:
    """The bearer token in the call's authorization metadata, or ""."""
    for key, value in context.invocation_metadata():
        if key == "authorization" and isinstance(value, str) and value[:7].lower() == _BEARER:
            return value[7:].strip()
    return ""


def _peer_host(peer: str) -> str:
    """The host part of a gRPC peer string (ipv4:1.2.3.4:5678, ipv6:[::1]:5678, unix:...)."""
    kind, _, address = peer.partition(":")
    if kind == "ipv6" and address.startswith("["):
        return address[1:].partition("]")[0]
    if kind == "ipv4":
        return address.rpartition(":")[0]
    return peer[:64]
