"""An ASGI app served by uvicorn on a thread (and event loop) of its own.

The socket is bound here, before the thread starts, so a port in use or a wrong
address is a located StationError at start, not a log line from a background thread.
uvicorn installs no signal handlers off the main thread: the owner (the `serve` command,
the GUI) keeps SIGINT/SIGTERM and calls `stop()`.
"""

from __future__ import annotations

import logging
import socket
import threading

import uvicorn

from inspection_station.core.errors import StationError

log = logging.getLogger(__name__)
START_TIMEOUT_S = 20.0
GRACEFUL_S = 5


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


class HttpServer:
    def __init__(self, app, host: str, port: int, *, name: str = "http-api") -> None:
        self.host = host
        self._name = name
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
        # h11 and no websockets: pure Python, nothing optional for a frozen build to miss
        config = uvicorn.Config(
            app, http="h11", ws="none", loop="asyncio", lifespan="off", log_level="warning", access_log=False,
            timeout_graceful_shutdown=GRACEFUL_S,  # requests in flight get this long at stop()
        )
        self._server = uvicorn.Server(config)
        self._thread: threading.Thread | None = None
        self._failure: BaseException | None = None

    @property
    def url(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}"

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
