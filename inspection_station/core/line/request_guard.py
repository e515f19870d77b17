"""What the API refuses before any handler, parser or spool sees a request (pure ASGI).

In this order, each a 4xx/503 with a `detail` naming the setting:

0. A request head over 16 kB (431).
1. `Host` not allowed (421): a DNS-rebinding page reaches 127.0.0.1 under its own name,
   so names are checked: loopback names, this machine's names and `[line] allowed_hosts`
   pass, as does any IP literal (a rebinding page cannot choose one as its Host).
2. A state-changing request (POST, PUT, PATCH, DELETE) from a browser page of another
   origin (403): `Origin` must be the API's own or one of `[line] cors_origins`; a request
   without `Origin` (curl, a PLC gateway, an MES script) is no browser's and passes. CORS
   headers are sent only for `cors_origins` (none by default).
3. More than `[line] max_requests_in_flight` requests being answered (503).
4. A body larger than its endpoint's limit (413): a declared Content-Length at once, a
   streamed (chunked) body as soon as it passes the limit, before anything is spooled.

It also counts every request per route template for the metrics (refused ones included:
`/inspect`, `/docs`; `unmatched` only for paths no route has) and answers a handler's
crash as a 500 naming the fault, with the server and station running on.
"""

from __future__ import annotations

import ipaddress
import json
import logging
import socket
import time
from collections.abc import Callable, Iterable, Mapping

from fastapi import HTTPException
from starlette.routing import Match

log = logging.getLogger(__name__)

UNSAFE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})
SMALL_BODY = 64 * 1024  # endpoints that take no body still get this much (a stray form, a probe)
MAX_HEAD_BYTES = 16 * 1024  # request line + headers


class BodyTooLarge(HTTPException):
    """Raised from `receive` once a streamed body passes its limit (FastAPI answers it 413)."""

    def __init__(self, limit: int, what: str) -> None:
        super().__init__(413, f"request body larger than {limit} bytes ({what})")


def machine_names() -> set[str]:
    names = {"localhost"}
    for name in (socket.gethostname(), socket.getfqdn()):
        if name:
            names.add(name.lower().rstrip("."))
    return names


class HostPolicy:
    """Which `Host` headers the API answers (see the module's docstring)."""

    def __init__(self, allowed: Iterable[str] = ()) -> None:
        extra = [a.strip().lower().rstrip(".") for a in allowed if a.strip()]
        self.any = "*" in extra
        self.names = machine_names() | {a for a in extra if not a.startswith(".")}
        self.suffixes = tuple(a for a in extra if a.startswith("."))  # ".plant.example": its sub-domains

    def allows(self, host_header: str | None) -> bool:
        if self.any or not host_header:
            return True  # no Host: HTTP/1.0, never a browser
        host = _host_part(host_header)
        try:
            ipaddress.ip_address(host)
            return True
        except ValueError:
            pass
        return host in self.names or host.endswith(".localhost") or any(host.endswith(s) for s in self.suffixes)


def _host_part(header: str) -> str:
    header = header.strip().lower()
    if header.startswith("["):  # [v6]:port
        return header[1:].split("]", 1)[0]
    name, sep, port = header.rpartition(":")
    return (name if sep and port.isdigit() else header).rstrip(".")


class RequestGuard:
    def __init__(
        self,
        app,
        *,
        routes: Callable[[], list],
        hosts: HostPolicy,
        cors_origins: Iterable[str] = (),
        body_limits: Mapping[str, tuple[int, str]] | None = None,
        max_in_flight: int = 32,
        on_request: Callable[[str, int, float], None] | None = None,
    ) -> None:
        self.inner = app
        self.routes = routes
        self.hosts = hosts
        self.origins = frozenset(o.rstrip("/") for o in cors_origins)
        self.body_limits = dict(body_limits or {})
        self.max_in_flight = max_in_flight
        self.in_flight = 0
        self.on_request = on_request
        if self.origins:
            from starlette.middleware.cors import CORSMiddleware

            self.app = CORSMiddleware(app, allow_origins=sorted(self.origins), allow_methods=["GET", "POST", "PUT"],
                                      allow_headers=["authorization", "content-type"], max_age=600)
        else:
            self.app = app

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = [0]

        async def tracked(message) -> None:
            if message["type"] == "http.response.start":
                status[0] = message["status"]
            await send(message)

        try:
            refusal = self._refusal(scope)
            if refusal is not None:
                await _answer(tracked, *refusal)
                return
            self.in_flight += 1  # one event loop: no lock needed
            try:
                await self.app(scope, self._limited(scope, receive), tracked)
            except BodyTooLarge as exc:  # raised outside FastAPI's handlers (nothing else reads bodies)
                if not status[0]:
                    await _answer(tracked, 413, exc.detail)
            except Exception:  # noqa: BLE001 - already answered (500) by the app's handler: keep the connection
                if not status[0]:
                    log.exception("API %s %s failed", scope.get("method"), scope.get("path"))
                    await _answer(tracked, 500, "internal error")
            finally:
                self.in_flight -= 1
        finally:
            if self.on_request is not None:
                self.on_request(self._route_label(scope), status[0] or 500, time.perf_counter() - started)

    # --- the checks -----------------------------------------------------------------------------

    def _refusal(self, scope) -> tuple[int, str, dict] | None:
        size = len(scope.get("raw_path") or b"") + len(scope.get("query_string") or b"") + sum(
            len(k) + len(v) + 4 for k, v in scope.get("headers", ()))
        if size > MAX_HEAD_BYTES:  # h11 bounds what it buffers, not a head that arrives whole
            return 431, f"request head of {size} bytes; at most {MAX_HEAD_BYTES}", {}
        headers = _headers(scope)
        host = headers.get("host")
        if not self.hosts.allows(host):
            return 421, (f"Host {host!r} is not one of this station's names: add it to [line] allowed_hosts "
                         "if the plant reaches the station under that name"), {}
        if scope["method"] in UNSAFE_METHODS and not self._origin_allowed(scope, headers):
            origin = headers.get("origin") or headers.get("sec-fetch-site", "")
            return 403, (f"cross-origin {scope['method']} refused: origin {origin!r} is not allowed "
                         "([line] cors_origins)"), {}
        if self.in_flight >= self.max_in_flight:
            return 503, (f"{self.in_flight} requests are being answered ([line] max_requests_in_flight); "
                         "try again in a while"), {"retry-after": "1"}
        declared = headers.get("content-length")
        if declared is not None:
            if not declared.strip().isdigit():
                return 400, f"Content-Length {declared!r} is not a number", {}
            limit, what = self._limit(scope)
            if int(declared) > limit:
                return 413, f"request body of {int(declared)} bytes is larger than {limit} bytes ({what})", {}
        return None

    def _origin_allowed(self, scope, headers: dict[str, str]) -> bool:
        origin = headers.get("origin")
        if origin is None:
            # browsers send Origin on every cross-origin POST; Sec-Fetch-Site where they send that
            return headers.get("sec-fetch-site", "same-origin") in ("same-origin", "none")
        origin = origin.rstrip("/")
        own = f"{scope.get('scheme', 'http')}://{headers.get('host', '')}"
        return origin == own or origin in self.origins

    def _limit(self, scope) -> tuple[int, str]:
        return self.body_limits.get(scope["path"], (SMALL_BODY, "this endpoint takes no body"))

    def _limited(self, scope, receive):
        limit, what = self._limit(scope)
        seen = 0

        async def limited_receive():
            nonlocal seen
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > limit:
                    raise BodyTooLarge(limit, what)
            return message

        return limited_receive

    def _route_label(self, scope) -> str:
        route = scope.get("route")
        if route is not None and getattr(route, "path", None):
            return route.path
        partial = "unmatched"
        for candidate in self.routes():
            try:
                match, _child = candidate.matches(scope)
            except Exception:  # noqa: BLE001 - a label, never a failure
                continue
            if match is Match.FULL:
                return getattr(candidate, "path", "unmatched")
            if match is Match.PARTIAL and partial == "unmatched":  # the path, another method (405)
                partial = getattr(candidate, "path", "unmatched")
        return partial


def _headers(scope) -> dict[str, str]:
    out: dict[str, str] = {}
    for key, value in scope.get("headers", ()):
        out.setdefault(key.decode("latin-1").lower(), value.decode("latin-1"))
    return out


async def _answer(send, status: int, detail: str, headers: dict | None = None) -> None:
    body = json.dumps({"detail": detail}).encode()
    raw = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
    raw += [(k.encode(), v.encode()) for k, v in (headers or {}).items()]
    await send({"type": "http.response.start", "status": status, "headers": raw})
    await send({"type": "http.response.body", "body": body})
