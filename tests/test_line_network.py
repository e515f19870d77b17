"""The API as a hostile network sees it: real uvicorn on loopback in front of a real station
(emulator, onnxruntime), driven by httpx and by raw sockets (idle, slowloris, streamed
bodies), with a real TLS handshake on a certificate made here."""

from __future__ import annotations

import json
import logging
import os
import socket
import ssl
import threading
import time

import httpx
import pytest

from inspection_station.core.errors import ConfigError
from inspection_station.core.line.auth import Access, TokenCheck, hash_token
from inspection_station.core.line.request_guard import HostPolicy
from inspection_station.core.line.server import BurstLog
from inspection_station.core.line.services import LineServices
from inspection_station.core.listeners import StationListener
from inspection_station.core.settings.model import LineSettings
from inspection_station.core.station import Station
from tests.known_station import station_settings
from tests.line_clients import (
    WAIT_S,
    api_factory,
    connect,
    png_declaring,
    read_until_closed,
    rss_mb,
    self_signed_certificate,
    start_api,
    stop_api,
)

TOKEN = "a-long-random-token-for-tests"


@pytest.fixture
def api(tmp_path):
    with api_factory(tmp_path) as make:
        yield make


def closed_for(api, reason: str) -> float:
    return api.metric(f'inspection_station_api_connections_closed_total{{reason="{reason}",station="station-1"}}')


# --- connections: idle, slow, too many ----------------------------------------------------------


def test_a_connection_that_sends_nothing_is_closed_after_the_header_timeout(api):
    a = api(header_timeout_s=0.5)
    with connect(a.port) as idle:
        answer = read_until_closed(idle, limit_s=10)
    assert answer.startswith(b"HTTP/1.1 408 ")
    assert closed_for(a, "header_timeout") == 1.0
    assert a.client.get("/health").status_code == 200


def test_slowloris_headers_are_cut_off_although_every_byte_is_on_time(api):
    a = api(header_timeout_s=1.0, keep_alive_s=0.5)
    head = b"GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\n" + b"X-Slow: " + b"a" * 200
    with connect(a.port) as slow:
        sent, started = 0, time.monotonic()
        try:
            for byte in head:  # one byte per 50 ms: each one would reset uvicorn's keep-alive timer
                slow.send(bytes([byte]))
                sent += 1
                time.sleep(0.05)
        except (BrokenPipeError, ConnectionResetError):
            pass
        answer = read_until_closed(slow, limit_s=10)
    assert sent < len(head), "the server waited for the whole trickled head"
    assert time.monotonic() - started < 10
    assert answer.startswith(b"HTTP/1.1 408 ") or answer == b""
    assert closed_for(a, "header_timeout") == 1.0


def test_a_body_that_stalls_is_cut_off_after_the_body_timeout(api):
    a = api(body_timeout_s=0.5)
    with connect(a.port) as slow:
        slow.sendall(b"POST /check HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
                     b"Content-Length: 1000\r\n\r\n{\"boxes\": [")
        read_until_closed(slow, limit_s=10)
    assert closed_for(a, "body_timeout") == 1.0
    assert a.client.get("/health").status_code == 200


def test_connections_over_the_cap_get_503_and_the_station_serves_on(api):
    a = api(max_connections=4, header_timeout_s=1.5)
    a.wait_ready()
    with httpx.Client(base_url=a.url, timeout=WAIT_S) as kept:
        assert kept.get("/health").status_code == 200  # one kept-alive connection, counted
        idle = [connect(a.port) for _ in range(3)]  # the cap is reached
        try:
            with connect(a.port) as extra:
                answer = read_until_closed(extra, limit_s=10)
            assert answer.startswith(b"HTTP/1.1 503 ") and b"too many connections" in answer
            assert kept.post("/inspect").json()["verdict"] == "OK"  # the kept one still triggers cycles
        finally:
            for sock in idle:
                sock.close()
    # the idle ones are gone: new clients are served again
    deadline = time.monotonic() + WAIT_S
    while True:
        try:
            if httpx.get(a.url + "/health", timeout=5).status_code == 200:
                break
        except httpx.HTTPError:
            pass
        assert time.monotonic() < deadline
        time.sleep(0.1)
    assert closed_for(a, "over_capacity") >= 1.0
    assert [r["verdict"] for r in a.rows()] == ["OK"]


def test_requests_in_flight_are_capped_with_503(api):
    a = api(max_requests_in_flight=1)
    a.wait_ready()
    release = threading.Event()

    class Hold(StationListener):  # the cycle (and so its request) stays in flight until released
        def cycle_finished(self, result) -> None:
            release.wait(WAIT_S)

    a.station.add_listener(Hold())
    first = threading.Thread(target=lambda: httpx.post(a.url + "/inspect", timeout=WAIT_S))
    first.start()
    deadline = time.monotonic() + WAIT_S
    while a.services.api_app.in_flight < 1:
        assert time.monotonic() < deadline
        time.sleep(0.01)
    refused = a.client.get("/health")
    release.set()
    first.join(WAIT_S)
    assert refused.status_code == 503 and "max_requests_in_flight" in refused.json()["detail"]
    assert refused.headers["retry-after"] == "1"
    assert a.client.get("/health").status_code == 200


# --- bodies and images: limits before parsing -------------------------------------------------------


def test_a_900_megapixel_png_header_is_refused_before_decoding(api):
    a = api()
    a.wait_ready()
    png = png_declaring(30_000, 30_000)
    assert len(png) < 10_000
    before = rss_mb()
    started = time.monotonic()
    r = a.client.post("/inspect/image", files={"image": ("huge.png", png, "image/png")})
    assert r.status_code == 413
    assert "30000 x 30000 = 900 MP" in r.json()["detail"] and "max_image_pixels" in r.json()["detail"]
    assert time.monotonic() - started < 10
    assert rss_mb() - before < 100  # decoded it would be 2.7 GB
    assert a.rows() == []


def test_a_1_gb_chunked_upload_is_refused_after_the_limit_with_flat_memory(api):
    a = api(max_upload_mb=1.0)
    limit = (1 << 20) + 64 * 1024
    chunk = b"\0" * 65536
    before = rss_mb()
    with connect(a.port) as sock:
        sock.sendall(b"POST /inspect/image HTTP/1.1\r\nHost: 127.0.0.1\r\nTransfer-Encoding: chunked\r\n"
                     b"Content-Type: multipart/form-data; boundary=xx\r\n\r\n")
        sock.sendall(b"%x\r\n" % 100 + b"--xx\r\nContent-Disposition: form-data; name=\"image\"; "
                     b"filename=\"a.png\"\r\nContent-Type: image/png\r\n\r\n".ljust(100, b" ") + b"\r\n")
        sent, answer = 0, b""
        sock.setblocking(False)
        deadline = time.monotonic() + WAIT_S
        while sent < (1 << 30) and time.monotonic() < deadline:  # a 1 GB body, generated, never allocated
            try:
                answer += sock.recv(65536)
                if answer:
                    break
            except BlockingIOError:
                pass
            except ConnectionResetError:
                break
            try:
                sock.send(b"%x\r\n" % len(chunk) + chunk + b"\r\n")
                sent += len(chunk)
            except BlockingIOError:
                time.sleep(0.005)
            except (BrokenPipeError, ConnectionResetError):
                break
        sock.setblocking(True)
        answer += read_until_closed(sock, limit_s=10)
    assert answer.startswith(b"HTTP/1.1 413 "), answer[:200]
    assert b"max_upload_mb" in answer
    assert sent < 8 * limit  # refused after about the limit (plus what the socket buffers held)
    assert rss_mb() - before < 100


def test_a_1_gb_body_from_a_generator_is_cut_short(api):
    a = api(max_upload_mb=1.0)
    produced = 0

    def gigabyte():
        nonlocal produced
        chunk = b"\0" * 65536
        for _ in range((1 << 30) // len(chunk)):
            produced += len(chunk)
            yield chunk

    try:
        r = httpx.post(a.url + "/check", content=gigabyte(), timeout=WAIT_S,
                       headers={"content-type": "application/json"})
        assert r.status_code == 413
    except (httpx.WriteError, httpx.RemoteProtocolError, httpx.ReadError):
        pass  # the server closed while the client was still writing: refused just as well
    assert produced < 64 << 20


def test_a_declared_200_mb_json_body_is_refused_unread(api):
    a = api()
    with connect(a.port) as sock:
        sock.sendall(b"POST /check HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
                     b"Content-Length: 209715200\r\n\r\n")
        answer = read_until_closed(sock, limit_s=10)
    assert answer.startswith(b"HTTP/1.1 413 ") and b"max_json_mb" in answer
    assert a.client.get("/health").status_code == 200


def test_a_huge_class_id_is_422_not_500(api):
    a = api()
    r = a.client.post("/check", json={"boxes": [{"class_id": 10**30, "box": [1, 2, 3, 4]}], "width": 640, "height": 480})
    assert r.status_code == 422 and any("class_id" in map(str, e["loc"]) for e in r.json()["detail"])


# --- browser safety ------------------------------------------------------------------------------


def test_a_cross_origin_form_post_runs_no_cycle(api):
    a = api()
    a.wait_ready()
    form = {"content-type": "text/plain", "origin": "http://evil.example"}
    r = a.client.post("/inspect", content="x", headers=form)
    assert r.status_code == 403 and "cors_origins" in r.json()["detail"]
    no_origin = a.client.post("/inspect", headers={"sec-fetch-site": "cross-site"})
    assert no_origin.status_code == 403
    put = a.client.put("/product", json={"pattern_set": "product_nok"}, headers={"origin": "null"})
    assert put.status_code == 403
    assert a.rows() == [] and a.station.active_pattern_set.name == "product_ok"
    same = a.client.post("/inspect", headers={"origin": a.url})  # the API's own page (/docs)
    assert same.status_code == 200
    assert a.client.get("/results/last", headers={"origin": "http://evil.example"}).status_code == 200  # reads: CORS
    assert "access-control-allow-origin" not in r.headers


def test_configured_origins_get_cors_and_may_change_state(api):
    a = api(cors_origins=["https://mes.plant.example"])
    a.wait_ready()
    pre = a.client.options("/inspect", headers={"origin": "https://mes.plant.example",
                                                "access-control-request-method": "POST"})
    assert pre.status_code == 200 and pre.headers["access-control-allow-origin"] == "https://mes.plant.example"
    r = a.client.post("/inspect", headers={"origin": "https://mes.plant.example"})
    assert r.status_code == 200 and r.headers["access-control-allow-origin"] == "https://mes.plant.example"
    assert a.client.post("/inspect", headers={"origin": "https://other.example"}).status_code == 403


def test_a_foreign_host_is_refused_even_for_reads(api):
    a = api(allowed_hosts=["station7.plant.example", ".line3.example"])
    for host in ("evil.example", "evil.example:8080", "127.0.0.1.nip.example"):
        r = a.client.get("/results/last", headers={"host": host})
        assert r.status_code == 421 and "allowed_hosts" in r.json()["detail"]
    for host in (f"127.0.0.1:{a.port}", "localhost", f"[::1]:{a.port}", "10.1.2.3", "station7.plant.example",
                 "cam.line3.example:8080", socket.gethostname()):
        assert a.client.get("/health", headers={"host": host}).status_code == 200, host


def test_host_policy_names():
    policy = HostPolicy(["MES.Plant.example."])
    assert policy.allows("mes.plant.example:443") and policy.allows("LOCALHOST") and policy.allows("app.localhost")
    assert not policy.allows("mes.plant.example.evil") and not policy.allows("evil")
    assert HostPolicy(["*"]).allows("anything")


# --- tokens and TLS ----------------------------------------------------------------------------------


def test_named_tokens_say_who_called():
    check = TokenCheck([f"mes={hash_token('one')}", hash_token("two")])
    assert check.authenticate("Bearer one").actor == "mes"
    assert check.authenticate("Bearer two").actor == f"token-{hash_token('two')[:8]}"
    assert check.authenticate("Bearer three").access is Access.WRONG
    assert TokenCheck([]).authenticate(None).actor == "api"
    with pytest.raises(ConfigError, match="given twice"):
        TokenCheck([f"mes={hash_token('a')}", f"mes={hash_token('b')}"])
    with pytest.raises(ConfigError, match="token name"):
        TokenCheck([f"m es={hash_token('a')}"])


def test_tls_with_a_self_signed_certificate_real_handshake(api, tmp_path):
    cert, key = self_signed_certificate(tmp_path)
    trust = ssl.create_default_context(cafile=str(cert))
    a = start_api(tmp_path, station_settings(tmp_path), verify=trust, tls_certificate=str(cert), tls_key=str(key),
                  api_token_sha256=[f"mes={hash_token(TOKEN)}"], header_timeout_s=2.0)
    try:
        assert a.url.startswith("https://127.0.0.1:")
        r = a.client.get("/health", headers={"authorization": f"Bearer {TOKEN}"})
        assert r.status_code == 200 and r.json()["transport"]["tls"] is True
        assert r.extensions["network_stream"].get_extra_info("ssl_object").version() in ("TLSv1.2", "TLSv1.3")
        with pytest.raises(httpx.ConnectError):  # the certificate is checked: an unknown one is refused
            httpx.get(a.url + "/health", timeout=WAIT_S)
        with connect(a.port) as plain:  # the token over plain HTTP: no answer, the handshake fails
            plain.sendall(f"GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer {TOKEN}\r\n\r\n".encode())
            assert b"ready" not in read_until_closed(plain, limit_s=10)
        with connect(a.port):  # a handshake that never starts holds its slot for header_timeout_s only
            pass
        with connect(a.port) as stalled:
            read_until_closed(stalled, limit_s=10)
        text = a.client.get("/metrics", headers={"authorization": f"Bearer {TOKEN}"}).text
        assert 'inspection_station_api_connections_closed_total{reason="tls_handshake",station="station-1"}' in text
    finally:
        stop_api(a)


def test_tokens_off_loopback_need_tls_or_an_explicit_plain_http(tmp_path):
    cert, key = self_signed_certificate(tmp_path)
    base = station_settings(tmp_path).replace("line", api_enabled=True, api_host="0.0.0.0", api_port=0,
                                              api_token_sha256=[hash_token(TOKEN)])
    with pytest.raises(ConfigError, match=r"without TLS would send the bearer tokens in clear.*allow_plain_http"):
        LineServices(Station(base), base.line)
    plain = base.replace("line", allow_plain_http=True)
    services = LineServices(Station(plain), plain.line)  # checked, nothing opened
    assert services.transport.describe()["warning"].startswith("bearer tokens cross the network in clear")
    secure = base.replace("line", tls_certificate=str(cert), tls_key=str(key))
    assert LineServices(Station(secure), secure.line).transport.describe() == {
        "tls": True, "plain_http_allowed": False, "warning": ""}
    broken = base.replace("line", tls_certificate=str(key), tls_key="")
    with pytest.raises(ConfigError, match=r"\[line\] tls_certificate: .*not a usable PEM"):
        LineServices(Station(broken), broken.line)
    missing = base.replace("line", tls_certificate=str(tmp_path / "nope.crt"))
    with pytest.raises(ConfigError, match="no such PEM certificate"):
        LineServices(Station(missing), missing.line)
    os.mkfifo(tmp_path / "fifo.key")  # would block the load for ever: refused without opening it
    fifo = base.replace("line", tls_certificate=str(cert), tls_key=str(tmp_path / "fifo.key"))
    with pytest.raises(ConfigError, match=r"fifo.key: is a FIFO .*refused without opening it"):
        LineServices(Station(fifo), fifo.line)
    # the settings dialog's check names the same fields before anything is applied
    from inspection_station.core.settings.checks import check_settings

    assert [(p.key, "in clear" in p.message) for p in check_settings(base) if p.section == "line"] == [("api_host", True)]
    assert [p for p in check_settings(plain) if p.section == "line"] == []
    assert [p for p in check_settings(secure) if p.section == "line"] == []
    assert [p.key for p in check_settings(broken) if p.section == "line"] == ["tls_certificate"]


def test_plain_http_off_loopback_is_said_on_health(api, tmp_path):
    a = api(allow_plain_http=True)
    health = a.client.get("/health").json()
    assert health["transport"] == {"tls": False, "plain_http_allowed": False, "warning": ""}  # bound to loopback


# --- metrics: routes, _created, process ------------------------------------------------------------


def test_route_labels_name_every_route_and_no_created_series(api):
    a = api()
    a.client.get("/docs")
    a.client.get("/openapi.json")
    a.client.get("/no/such/path")
    a.client.delete("/inspect")  # the route, another method
    a.client.get("/health", headers={"host": "evil.example"})  # refused by the guard: still its route
    text = a.client.get("/metrics").text
    for endpoint, status in (("/docs", 200), ("/openapi.json", 200), ("unmatched", 404), ("/inspect", 405),
                             ("/health", 421)):
        assert f'inspection_station_api_requests_total{{endpoint="{endpoint}",station="station-1",status="{status}"}} 1.0' in text
    assert "_created" not in text
    for name in ("process_resident_memory_bytes", "process_open_fds", "process_max_fds",
                 "process_cpu_seconds_total", "process_start_time_seconds"):
        assert f'inspection_station_{name}{{station="station-1"}}' in text
    assert 'inspection_station_api_connections{station="station-1"}' in text


def test_burst_log_says_the_first_and_counts_the_rest(caplog):
    burst = BurstLog(logging.getLogger("test.burst"), "accept failed", quiet_s=0.2)
    with caplog.at_level(logging.WARNING, logger="test.burst"):
        for _ in range(500):
            burst.hit("Too many open files")
        time.sleep(0.3)
        burst.flush()
        burst.hit("Too many open files")
        burst.flush(force=True)
    lines = [r.getMessage() for r in caplog.records]
    assert len(lines) == 3 and burst.total == 501
    assert lines[0].startswith("accept failed: Too many open files") and lines[1].startswith("accept failed: 500 in")


def test_bad_json_and_bad_lengths_are_4xx(api):
    a = api()
    with connect(a.port) as sock:
        sock.sendall(b"POST /check HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: lots\r\n\r\n")
        assert read_until_closed(sock, limit_s=10).startswith(b"HTTP/1.1 400 ")
    r = a.client.post("/check", content=b"{not json", headers={"content-type": "application/json"})
    assert r.status_code == 422
    r = a.client.post("/check", content=json.dumps({"boxes": []}).encode() * 3, headers={"content-type": "application/json"})
    assert r.status_code == 422
    with connect(a.port) as sock:
        sock.sendall(b"GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Big: " + b"a" * 20000 + b"\r\n\r\n")
        assert read_until_closed(sock, limit_s=10).startswith(b"HTTP/1.1 431 ")  # whole: the guard
    with connect(a.port) as sock:
        sock.sendall(b"GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Big: " + b"a" * 20000)
        assert read_until_closed(sock, limit_s=10).startswith(b"HTTP/1.1 400 ")  # still arriving: h11



def test_a_named_token_is_the_audit_actor_of_a_product_switch(tmp_path):
    from tests.test_actions import Running, audit_lines

    r = Running(tmp_path)
    line = LineSettings(api_enabled=True, api_port=0, api_token_sha256=[f"mes={hash_token(TOKEN)}"])
    services = LineServices(r.station, line, actions=r.actions)
    services.start()
    try:
        with httpx.Client(base_url=services.api.url, timeout=WAIT_S,
                          headers={"authorization": f"Bearer {TOKEN}"}) as client:
            assert client.put("/product", json={"pattern_set": "product_nok"}).status_code == 200
    finally:
        services.stop()
        r.stop()
    assert [x["user"] for x in audit_lines(r.audit, "product")] == ["api:mes"]
