"""An ASGI app served by uvicorn on a thread (and event loop) of its own, with bounds.

The socket is bound here, before the thread starts, so a port in use or a wrong
address is a located StationError at start, not a log line from a background thread.
uvicorn installs no signal handlers off the main thread: the owner (the `serve` command,
the GUI) keeps SIGINT/SIGTERM and calls `stop()`.

uvicorn's own limits do not bound a hostile client (measured: benchmarks/api_flood.py):
a connection that never sends a byte is kept for ever (its keep-alive timer starts only
after a first response), one that sends a header byte every few seconds too (each byte
cancels the timer), `limit_concurrency` counts idle connections against requests, and its
TLS handshake has no deadline of ours and no cap at all. So each connection goes through
`GuardedH11Protocol`, uvicorn's h11 protocol with:

- a cap on open connections shared by the process's servers (`ConnectionGate`, sized by
  core/line/descriptors.py so the camera and the log always keep descriptors); one more
  is answered 503 and closed at once;
- a deadline for the request head from connect (the TLS handshake included) or from the
  request's first byte, and one for the body from the head; then 408 / closed;
- TLS done here (`loop.start_tls`) after the connection is counted, so a handshake that
  never finishes holds a counted slot for `header_timeout_s` only;
- a request answered before its body was read (413, 401) ends its connection after a
  short linger (reading paused), instead of reading and discarding a gigabyte to keep it alive.

Accept errors (EMFILE and the like) are logged once per burst with a count.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import socket
import ssl
import threading
import time
from dataclasses import dataclass
from typing import cast

import h11
import uvicorn
from uvicorn.protocols.http.h11_impl import H11Protocol

from inspection_station.core.errors import StationError
from inspection_station.core.line.request_guard import MAX_HEAD_BYTES

log = logging.getLogger(__name__)
START_TIMEOUT_S = 20.0
GRACEFUL_S = 5
BACKLOG = 128  # also how many connections asyncio accepts per loop turn: bounds a burst's descriptors
LINGER_S = 1.0  # after an early answer (413): time for the client to read it before the close
BURST_QUIET_S = 5.0  # a burst of the same problem ends after this long without one


def _plain_response(status: str, text: str) -> bytes:
    body = text.encode()
    return (f"HTTP/1.1 {status}\r\ncontent-type: text/plain; charset=utf-8\r\ncontent-length: {len(body)}\r\n"
            "connection: close\r\n" + ("retry-after: 1\r\n" if status.startswith("503") else "") + "\r\n"
            ).encode() + body


_503 = _plain_response("503 Service Unavailable", "too many connections: try again in a while")
_408 = _plain_response("408 Request Timeout", "the request did not arrive in time")


def parse_bind(text: str, default_host: str = "127.0.0.1", what: str = "--api") -> tuple[str, int]:
    """`[HOST:]PORT` -> (host, port); IPv6 as `[::1]:8080`."""
    host, sep, port = text.rpartition(":")
    host = host.strip("[]") if sep else default_host
    try:
        number = int(port)
    except ValueError:
        raise StationError(f"{what} {text!r}: expected [HOST:]PORT, e.g. 8080 or 0.0.0.0:8080") from None
    if not 0 <= number <= 65535:
        raise StationError(f"{what} {text!r}: port must be 0..65535 (0 = any free port)")
    return host or default_host, number


@dataclass(frozen=True)
class ServerLimits:
    header_timeout_s: float = 10.0
    body_timeout_s: float = 60.0
    keep_alive_s: float = 5.0

    @classmethod
    def from_line(cls, line) -> ServerLimits:
        return cls(line.header_timeout_s, line.body_timeout_s, line.keep_alive_s)


class BurstLog:
    """One warning when a burst of the same problem starts; its count when it ends."""

    def __init__(self, logger: logging.Logger, what: str, quiet_s: float = BURST_QUIET_S) -> None:
        self._log = logger
        self._what = what
        self._quiet_s = quiet_s
        self._lock = threading.Lock()
        self._count = 0
        self._first = self._last = 0.0
        self.total = 0

    def hit(self, detail: str) -> None:
        now = time.monotonic()
        with self._lock:
            self.total += 1
            if self._count and now - self._last > self._quiet_s:
                self._summary_locked()
            self._count += 1
            self._last = now
            if self._count == 1:
                self._first = now
                self._log.warning("%s: %s (more are counted, not logged, until %.0f s pass without one)",
                                  self._what, detail, self._quiet_s)

    def flush(self, force: bool = False) -> None:
        """Log the count of a burst that has ended (or, with `force`, of any)."""
        with self._lock:
            if self._count and (force or time.monotonic() - self._last > self._quiet_s):
                self._summary_locked()

    def _summary_locked(self) -> None:
        if self._count > 1:
            self._log.warning("%s: %d in %.1f s", self._what, self._count, self._last - self._first)
        self._count = 0


class ConnectionGate:
    """Open connections of all of a process's servers against one cap; why others were closed."""

    REASONS = ("over_capacity", "header_timeout", "body_timeout", "tls_handshake")

    def __init__(self, cap: int) -> None:
        self.cap = cap
        self._lock = threading.Lock()
        self.open = 0
        self.closed = dict.fromkeys(self.REASONS, 0)
        self.refusals = BurstLog(log, "API connection refused")
        self.accept_errors = BurstLog(log, "API accept failed")

    def admit(self) -> bool:
        with self._lock:
            if self.open >= self.cap:
                self.closed["over_capacity"] += 1
                admitted = False
            else:
                self.open += 1
                admitted = True
        if not admitted:
            self.refusals.hit(f"{self.cap} connections open (the cap); answered 503")
        return admitted

    def release(self) -> None:
        with self._lock:
            self.open -= 1

    def count(self, reason: str) -> None:
        with self._lock:
            self.closed[reason] += 1


class GuardedH11Protocol(H11Protocol):
    """uvicorn's h11 protocol behind the gate, the deadlines and (optionally) our TLS."""

    def __init__(self, config, server_state, app_state, _loop=None, *, guard: _Guard) -> None:
        super().__init__(config, server_state, app_state, _loop)
        self._guard = guard
        self._raw: asyncio.Transport | None = None
        self._admitted = False
        self._http = False  # uvicorn's connection_made ran (after TLS, if any)
        self._early: list[bytes] = []  # data decrypted before that (the handshake's last flight)
        self._timer: asyncio.TimerHandle | None = None
        self._phase = ""  # "head" | "body" | ""
        self._ended = False  # counted as closed for a reason (once)

    # --- connection ---------------------------------------------------------------------

    def connection_made(self, transport) -> None:
        self._raw = transport
        if not self._guard.gate.admit():
            with contextlib.suppress(Exception):
                transport.write(_503)
            transport.close()
            return
        self._admitted = True
        self._guard.pending.add(self)
        self._arm("head", self._guard.limits.header_timeout_s)
        if self._guard.tls is None:
            self._begin_http(transport)
        else:
            self.loop.create_task(self._handshake(transport, self._guard.tls))

    async def _handshake(self, transport, context: ssl.SSLContext) -> None:
        try:
            secure = await self.loop.start_tls(
                transport, self, context, server_side=True,
                ssl_handshake_timeout=self._guard.limits.header_timeout_s)
        except Exception:  # noqa: BLE001 - any failed handshake (plain HTTP, a scanner) ends this one only
            self._end("tls_handshake")
            transport.close()
            self._release()
            return
        self._begin_http(secure)

    def _begin_http(self, transport) -> None:
        super().connection_made(transport)
        self._http = True
        early, self._early = self._early, []
        for data in early:
            self.data_received(data)

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm()
        self._release()
        if self._http:
            super().connection_lost(exc)

    def _release(self) -> None:
        self._guard.pending.discard(self)
        if self._admitted:
            self._admitted = False
            self._guard.gate.release()

    def close_now(self) -> None:
        """At shutdown: a connection uvicorn does not know yet (TLS handshake under way)."""
        if not self._http and self._raw is not None:
            self._raw.close()

    # --- data and deadlines -----------------------------------------------------------------

    def data_received(self, data: bytes) -> None:
        if not self._http:
            self._early.append(data)
            return
        if self.conn.their_state is h11.IDLE and self._phase != "head":
            self._arm("head", self._guard.limits.header_timeout_s)  # a new request's first byte
        super().data_received(data)
        self._follow()

    def on_response_complete(self) -> None:
        unfinished = self.conn.their_state is h11.SEND_BODY  # answered before its body was read
        super().on_response_complete()
        if unfinished and not self.transport.is_closing():
            self._linger()
        else:
            self._follow()

    def _follow(self) -> None:
        """The deadline that fits what the client is sending now."""
        state = self.conn.their_state
        if state is h11.SEND_BODY:
            if self._phase == "head":
                self._arm("body", self._guard.limits.body_timeout_s)
        elif state is not h11.IDLE and self._phase:
            self._disarm()  # the request is in: the answer may take as long as it takes

    def _linger(self) -> None:
        """The answer is out; the client may still be sending the body: read no more of it
        (its writes stall), give it LINGER_S to read the answer, then close."""
        self._disarm()
        self._unset_keepalive_if_required()
        self.flow.pause_reading()
        transport = self.transport
        if transport.can_write_eof():
            with contextlib.suppress(OSError, RuntimeError):
                transport.write_eof()
        self.loop.call_later(LINGER_S, transport.close)

    def _arm(self, phase: str, seconds: float) -> None:
        self._disarm()
        self._phase = phase
        self._timer = self.loop.call_later(seconds, self._expired)

    def _disarm(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
        self._timer = None
        self._phase = ""

    def _expired(self) -> None:
        phase, self._timer, self._phase = self._phase, None, ""
        self._end("header_timeout" if phase == "head" else "body_timeout")
        transport = self.transport if self._http else self._raw
        if transport is None or transport.is_closing():
            return
        if self._http and self.conn.our_state is h11.IDLE:
            with contextlib.suppress(Exception):
                transport.write(_408)
        transport.close()

    def _end(self, reason: str) -> None:
        if not self._ended:
            self._ended = True
            self._guard.gate.count(reason)


@dataclass
class _Guard:
    gate: ConnectionGate
    limits: ServerLimits
    tls: ssl.SSLContext | None
    pending: set


class _Server(uvicorn.Server):
    """uvicorn's server, with accept errors counted and pending TLS handshakes closed at stop."""

    def __init__(self, config: uvicorn.Config, guard: _Guard) -> None:
        super().__init__(config)
        self._guard = guard

    async def serve(self, sockets=None) -> None:
        loop = asyncio.get_running_loop()
        loop.set_exception_handler(self._loop_exception)
        await super().serve(sockets)

    async def on_tick(self, counter: int) -> bool:
        if counter % 10 == 0:  # once a second: log the counts of bursts that have ended
            self._guard.gate.accept_errors.flush()
            self._guard.gate.refusals.flush()
        return await super().on_tick(counter)

    async def shutdown(self, sockets=None) -> None:
        for protocol in list(self._guard.pending):
            protocol.close_now()
        await super().shutdown(sockets)
        self._guard.gate.accept_errors.flush(force=True)
        self._guard.gate.refusals.flush(force=True)

    def _loop_exception(self, loop: asyncio.AbstractEventLoop, context: dict) -> None:
        message = str(context.get("message", ""))
        if message.startswith("socket.accept() out of system resource"):
            exc = context.get("exception")
            detail = getattr(exc, "strerror", None) or str(exc) or message
            self._guard.gate.accept_errors.hit(f"{detail}; accepting again in 1 s")
            return
        loop.default_exception_handler(context)


class HttpServer:
    def __init__(
        self,
        app,
        host: str,
        port: int,
        *,
        name: str = "http-api",
        gate: ConnectionGate | None = None,
        limits: ServerLimits | None = None,
        tls: ssl.SSLContext | None = None,
    ) -> None:
        self.host = host
        self._name = name
        self.tls = tls is not None
        family = socket.AF_INET6 if ":" in host else socket.AF_INET
        # IPPROTO_TCP named explicitly: asyncio sets TCP_NODELAY only on sockets that say so,
        # and without it a kept-alive connection waits ~40 ms per answer (Nagle + delayed ACK)
        sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
        try:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            sock.bind((host, port))
        except OSError as exc:
            sock.close()
            raise StationError(f"{name}: cannot listen on {host}:{port}: {exc.strerror or exc}") from None
        self._socket = sock
        self.port = int(sock.getsockname()[1])
        self.gate = gate or ConnectionGate(64)
        limits = limits or ServerLimits()
        guard = _Guard(self.gate, limits, tls, set())
        # h11 and no websockets: pure Python, nothing optional for a frozen build to miss
        protocol = cast("type[asyncio.Protocol]", functools.partial(GuardedH11Protocol, guard=guard))
        config = uvicorn.Config(
            app, http=protocol, ws="none", loop="asyncio",
            lifespan="off", log_level="warning", access_log=False, backlog=BACKLOG,
            timeout_keep_alive=cast(int, limits.keep_alive_s),  # call_later takes floats: 0.5 s works
            h11_max_incomplete_event_size=MAX_HEAD_BYTES,  # a head still arriving: 400 beyond this
            timeout_graceful_shutdown=GRACEFUL_S,  # requests in flight get this long at stop()
        )
        self._server = _Server(config, guard)
        self._thread: threading.Thread | None = None
        self._failure: BaseException | None = None

    @property
    def url(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{'https' if self.tls else 'http'}://{host}:{self.port}"

    def start(self) -> HttpServer:
        self._thread = threading.Thread(target=self._run, name=self._name, daemon=True)
        self._thread.start()
        deadline = threading.Event()
        waited = 0.0
        while not self._server.started and self._thread.is_alive() and waited < START_TIMEOUT_S:
            deadline.wait(0.01)
            waited += 0.01
        if not self._server.started:
            self.stop()
            raise StationError(f"{self._name}: the server on {self.url} did not start: {self._failure or 'timeout'}")
        return self

    def stop(self, timeout_s: float = 10.0) -> None:
        self._server.should_exit = True
        if self._thread is not None and self._thread is not threading.current_thread():
            self._thread.join(timeout_s)
        self._socket.close()

    def _run(self) -> None:
        try:
            self._server.run(sockets=[self._socket])
        except BaseException as exc:  # noqa: BLE001 - uvicorn exits via SystemExit on failures
            self._failure = exc
            log.exception("%s stopped", self._name)
