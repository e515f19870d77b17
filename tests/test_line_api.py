"""The HTTP API: a real uvicorn server on loopback in front of a real station (emulator,
onnxruntime), driven by a real HTTP client."""

from __future__ import annotations

import concurrent.futures
import re
import socket
import threading
import time
from pathlib import Path

import cv2
import httpx
import numpy as np
import pytest

from inspection_station.core.errors import ConfigError, StationError
from inspection_station.core.line.auth import hash_token
from inspection_station.core.line.metrics import metric_names
from inspection_station.core.line.server import HttpServer, parse_bind
from inspection_station.core.line.services import LineServices
from inspection_station.core.listeners import StationListener
from inspection_station.core.results.csv_log import read_log
from inspection_station.core.station import Station
from tests.known_station import station_settings

TOKEN = "a-long-random-token-for-tests"
WAIT_S = 60.0  # bounded waits, never asserted as durations


class Running:
    def __init__(self, station: Station, services: LineServices) -> None:
        self.station = station
        self.services = services
        self.client = httpx.Client(base_url=services.api.url if services.api else "", timeout=WAIT_S)

    def rows(self) -> list[dict[str, str]]:
        path = self.station.recorder.log.current_path
        return read_log(path) if path is not None else []


def start(settings, **bind) -> Running:
    station = Station(settings)
    services = LineServices(station, settings.line, **bind)
    station.start()
    assert station.wait_ready(WAIT_S)
    services.start()
    return Running(station, services)


@pytest.fixture
def make(tmp_path):
    running: list[Running] = []

    def _make(settings=None, **bind) -> Running:
        settings = settings or station_settings(tmp_path).replace("line", api_enabled=True, api_port=0)
        r = start(settings, **bind)
        running.append(r)
        return r

    yield _make
    for r in running:
        r.client.close()
        r.services.stop()
        r.station.stop()


def wait_camera(api: Running) -> None:
    for _ in range(int(WAIT_S / 0.05)):
        if api.client.get("/health").json()["ready"]:
            return
        threading.Event().wait(0.05)
    raise AssertionError("the station never became ready")


def test_health_inspect_results_and_images(make):
    api = make()
    wait_camera(api)
    health = api.client.get("/health").json()
    assert health["ready"] is True and health["camera"]["state"] == "emulated"
    assert health["model"]["file"] == "constant.onnx" and health["provider"] == "CPUExecutionProvider"
    assert health["pattern_set"] == "product_ok" and health["station"] == "station-1"
    assert api.client.get("/ready").status_code == 200

    r = api.client.post("/inspect")
    assert r.status_code == 200
    body = r.json()
    assert body["verdict"] == "OK" and body["matched"] == body["expected"] == 2
    assert (body["width"], body["height"]) == (640, 480) and body["trigger"] == "api"
    assert [d["class_name"] for d in body["detections"]] == ["screw", "clip"]
    assert body["times_ms"]["total_ms"] > 0 and body["links"]["self"] == f"/results/{body['cycle_id']}"
    assert [row["cycle_id"] for row in api.rows()] == [body["cycle_id"]]

    assert api.client.get("/results/last").json()["cycle_id"] == body["cycle_id"]
    assert api.client.get(body["links"]["self"]).json() == body
    missing = api.client.get("/results/20000101-000000-000-0000")
    assert missing.status_code == 404 and "last 50 cycles" in missing.json()["detail"]

    raw = api.client.get(body["links"]["image"])
    assert raw.status_code == 200 and raw.headers["content-type"] == "image/png"
    raw_img = cv2.imdecode(np.frombuffer(raw.content, np.uint8), cv2.IMREAD_COLOR)
    assert raw_img.shape == (480, 640, 3)
    drawn = api.client.get(body["links"]["annotated"] + "&format=jpeg")
    assert drawn.headers["content-type"] == "image/jpeg"
    drawn_img = cv2.imdecode(np.frombuffer(drawn.content, np.uint8), cv2.IMREAD_COLOR)
    assert drawn_img.shape == raw_img.shape and np.abs(drawn_img.astype(int) - raw_img).max() > 100
    assert api.client.get(body["links"]["image"] + "?format=gif").status_code == 422


def test_product_selection_and_check_pattern(make):
    api = make()
    wait_camera(api)
    assert api.client.put("/product", json={"pattern_set": "product_nok"}).json() == {"pattern_set": "product_nok"}
    assert api.client.post("/inspect").json()["verdict"] == "NOK"
    unknown = api.client.put("/product", json={"pattern_set": "nope"})
    assert unknown.status_code == 404 and "product_ok" in unknown.json()["detail"]
    assert api.client.put("/product", json={}).status_code == 422

    boxes = [{"class_id": 0, "box": [100, 20, 200, 120]}, {"class_id": 1, "box": [300, 220, 400, 340]}]
    ok = api.client.post("/check", json={"boxes": boxes, "width": 640, "height": 480, "pattern_set": "product_ok"})
    assert ok.status_code == 200
    assert ok.json() | {"slots": None} == {
        "verdict": "OK", "pattern_set": "product_ok", "variant": "variant_a", "matched": 2, "expected": 2,
        "slots": None,
    }
    nok = api.client.post("/check", json={"boxes": boxes[:1], "width": 640, "height": 480})
    assert nok.json()["verdict"] == "NOK" and nok.json()["pattern_set"] == "product_nok"  # the active one
    assert [s["matched"] for s in nok.json()["slots"]] == [True, False, False]
    as_detect_json = {"image": "a.png", "width": 640, "height": 480, "pattern_set": "product_ok",
                      "detections": [dict(b, class_name="screw", score=0.9) for b in boxes]}
    assert api.client.post("/check", json=as_detect_json).json()["verdict"] == "OK"  # `detect --json` as is
    unknown = api.client.post("/check", json={"boxes": boxes, "width": 640, "height": 480, "pattern_set": "x"})
    assert unknown.status_code == 404 and "no pattern set 'x'; have: product_nok, product_ok" in unknown.json()["detail"]


def test_a_stopped_station_answers_503_and_the_server_stays_up(make):
    api = make()
    api.station.stop()
    r = api.client.post("/inspect")
    assert r.status_code == 503 and "stopped" in r.json()["detail"]
    assert api.client.get("/health").json()["ready"] is False


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"boxes": [{"class_id": 0, "box": [1, 2, 3]}], "width": 640, "height": 480}, "box"),
        ({"boxes": [{"class_id": 0, "box": [300, 2, 3, 4]}], "width": 640, "height": 480}, "box"),
        ({"boxes": [], "width": 0, "height": 480}, "width"),
        ({"boxes": [{"class_id": -1, "box": [1, 2, 3, 4]}], "width": 640, "height": 480}, "class_id"),
        ({"width": 640, "height": 480}, "boxes"),
        ({"boxes": [{"class_id": 0, "box": [1, 2, "Infinity", 4]}], "width": 640, "height": 480}, "box"),
    ],
)
def test_bad_check_bodies_are_422_naming_the_field(make, body, field):
    api = make()
    r = api.client.post("/check", json=body)
    assert r.status_code == 422
    assert any(field in map(str, err["loc"]) for err in r.json()["detail"])
    assert api.client.get("/health").status_code == 200  # the station is undisturbed


def test_uploaded_image_verdict_is_not_a_station_cycle(make, tmp_path):
    api = make()
    picture = cv2.imread(str(tmp_path / "emulator" / "part.png"))
    ok, png = cv2.imencode(".png", picture)
    r = api.client.post("/inspect/image", files={"image": ("part.png", png.tobytes(), "image/png")})
    assert r.status_code == 200
    assert r.json()["verdict"] == "OK" and r.json()["image"] == "part.png" and r.json()["width"] == 640
    assert api.rows() == [] and api.station.last_result is None
    bad = api.client.post("/inspect/image", files={"image": ("x.png", b"not an image", "image/png")})
    assert bad.status_code == 422 and "x.png" in bad.json()["detail"] and "not a readable image" in bad.json()["detail"]
    assert api.client.post("/inspect/image").status_code == 422  # no file part


def test_upload_over_the_limit_is_413(tmp_path, make):
    settings = station_settings(tmp_path).replace("line", api_enabled=True, api_port=0, max_upload_mb=0.1)
    api = make(settings)
    big = b"\0" * 200_000
    r = api.client.post("/inspect/image", files={"image": ("big.png", big, "image/png")})
    assert r.status_code == 413 and "max_upload_mb" in r.json()["detail"]


def test_twenty_parallel_triggers_each_cycle_logged_once_overlaps_refused_and_counted(make):
    api = make()
    wait_camera(api)
    hold = threading.Event()
    api.station.add_listener(_Holding(hold))  # the first cycle waits until all requests are in flight

    def post(_):
        with httpx.Client(base_url=api.services.api.url, timeout=WAIT_S) as client:
            return client.post("/inspect")

    with concurrent.futures.ThreadPoolExecutor(20) as pool:
        futures = [pool.submit(post, n) for n in range(20)]
        refused = 0
        for _ in range(int(WAIT_S / 0.02)):  # until the other 19 were answered 409
            refused = sum(f.done() and f.result().status_code == 409 for f in futures)
            if refused == 19:
                break
            threading.Event().wait(0.02)
        hold.set()
        responses = [f.result() for f in futures]
    codes = sorted(r.status_code for r in responses)
    assert codes == [200] + [409] * 19
    assert all("refused" in r.json()["detail"] for r in responses if r.status_code == 409)
    ok_ids = [r.json()["cycle_id"] for r in responses if r.status_code == 200]
    assert [row["cycle_id"] for row in api.rows()] == ok_ids
    assert api.station.statistics.snapshot().refused_triggers == 19
    metrics = api.client.get("/metrics").text
    assert 'inspection_station_refused_triggers_total{source="api",station="station-1"} 19.0' in metrics
    assert 'inspection_station_cycles_total{station="station-1",verdict="OK"} 1.0' in metrics
    assert 'inspection_station_api_requests_total{endpoint="/inspect",station="station-1",status="409"} 19.0' in metrics
    assert 'inspection_station_api_request_duration_seconds_count{endpoint="/inspect",station="station-1"} 20.0' in metrics


def test_sequential_clients_every_cycle_logged_once(make):
    api = make()
    wait_camera(api)

    def post(_):
        with httpx.Client(base_url=api.services.api.url, timeout=WAIT_S) as client:
            for _ in range(200):  # retry while busy, as a PLC gateway would
                r = client.post("/inspect")
                if r.status_code == 200:
                    return r.json()["cycle_id"]
                assert r.status_code == 409
            raise AssertionError("never got a cycle")

    with concurrent.futures.ThreadPoolExecutor(20) as pool:
        ids = list(pool.map(post, range(20)))
    assert len(set(ids)) == 20
    assert sorted(row["cycle_id"] for row in api.rows()) == sorted(ids)
    refused = api.station.statistics.snapshot().refused_triggers
    text = api.client.get("/metrics").text
    assert f'inspection_station_refused_triggers_total{{source="api",station="station-1"}} {float(refused)}' in text


class _Holding(StationListener):
    """Keeps the first cycle busy (on the inference thread) until released: a slow part."""

    def __init__(self, release: threading.Event) -> None:
        self.release = release

    def cycle_finished(self, result) -> None:
        self.release.wait(WAIT_S)


def test_tokens_required_off_loopback_401_403(tmp_path, make):
    settings = station_settings(tmp_path).replace("line", api_enabled=True, api_host="0.0.0.0", api_port=0)
    with pytest.raises(ConfigError, match=r"\[line\] API on 0.0.0.0:0: .* needs bearer tokens"):
        LineServices(Station(settings), settings.line)
    with pytest.raises(ConfigError, match="needs bearer tokens"):
        LineServices(Station(settings), settings.line, metrics_bind=("192.168.10.5", 9464))
    # Configured tokens are enforced on any bind; the test binds loopback only (no LAN exposure).
    settings = settings.replace("line", api_host="127.0.0.1", api_token_sha256=[hash_token(TOKEN)])
    api = make(settings)
    url = api.services.api.url
    for method, path in [("get", "/health"), ("post", "/inspect"), ("get", "/metrics"), ("get", "/results/last")]:
        assert getattr(httpx, method)(url + path).status_code == 401
        wrong = getattr(httpx, method)(url + path, headers={"Authorization": "Bearer wrong"})
        assert wrong.status_code == 403
    assert httpx.get(url + "/health", headers={"Authorization": f"Bearer {TOKEN}"}).status_code == 200
    assert httpx.get(url + "/openapi.json").status_code == 200  # describes, does not act (documented)
    assert api.rows() == []  # refused requests never triggered a cycle


def test_bad_token_digest_in_settings_is_a_located_error(tmp_path):
    settings = station_settings(tmp_path).replace("line", api_enabled=True, api_token_sha256=["secret"])
    with pytest.raises(ConfigError, match=r"\[line\] api_token_sha256: expected sha256 hex digests"):
        LineServices(Station(settings), settings.line)


def test_openapi_schema_lists_the_contract(make):
    api = make()
    paths = api.client.get("/openapi.json").json()["paths"]
    for path in ("/health", "/inspect", "/inspect/image", "/check", "/results/last", "/results/{cycle_id}",
                 "/results/{cycle_id}/image", "/product", "/metrics"):
        assert path in paths


def test_metrics_on_their_own_port_and_nothing_listens_by_default(tmp_path, make):
    settings = station_settings(tmp_path)
    plain = LineServices(Station(settings), settings.line)
    assert plain.api_bind is None and plain.metrics_bind is None and plain.metrics is None
    api = make(settings, metrics_bind=("127.0.0.1", 0))
    assert api.services.api is None
    text = httpx.get(api.services.metrics_server.url + "/metrics").text
    assert "inspection_station_cycles_total" in text
    assert httpx.get(api.services.metrics_server.url + "/inspect").status_code == 404
    assert "inspection_station_cycles_total" in metric_names(api.services.metrics)


def test_random_check_bodies_never_break_the_server(make):
    """Whatever a client sends to /check, the answer is 200 or a 4xx with a reason, never a 500."""
    from hypothesis import HealthCheck, given, settings
    from hypothesis import strategies as st

    api = make()
    number = st.one_of(st.floats(allow_nan=True, allow_infinity=True), st.integers(-10**12, 10**12), st.text(max_size=3))
    box = st.fixed_dictionaries({"class_id": st.one_of(st.integers(-2, 5), st.text(max_size=2)),
                                 "box": st.lists(number, max_size=5)},
                                optional={"score": number, "class_name": st.text(max_size=5)})
    body = st.fixed_dictionaries({"boxes": st.lists(box, max_size=4)},
                                 optional={"width": number, "height": number,
                                           "pattern_set": st.one_of(st.none(), st.text(max_size=8))})

    @settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
    @given(body)
    def check(payload):
        import json

        r = api.client.post("/check", content=json.dumps(payload), headers={"content-type": "application/json"})
        assert r.status_code in (200, 404, 422), (r.status_code, r.text)
        if r.status_code != 200:
            assert r.json()["detail"]

    check()
    assert api.client.get("/health").status_code == 200


@pytest.mark.parametrize(
    ("text", "bind"),
    [("8080", ("127.0.0.1", 8080)), ("0.0.0.0:9464", ("0.0.0.0", 9464)), ("[::1]:0", ("::1", 0)),
     ("localhost:80", ("localhost", 80))],
)
def test_bind_addresses(text, bind):
    assert parse_bind(text) == bind


@pytest.mark.parametrize("text", ["http", "1.2.3.4:", "70000", "host:-1"])
def test_bad_bind_addresses_are_located(text):
    with pytest.raises(StationError, match=rf"--api {re.escape(repr(text))}: "):
        parse_bind(text)


def test_a_port_in_use_is_a_located_error():
    from fastapi import FastAPI

    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        with pytest.raises(StationError, match=f"http-api: cannot listen on 127.0.0.1:{port}: "):
            HttpServer(FastAPI(), "127.0.0.1", port)


def test_new_token_prints_a_token_and_its_digest(capsys):
    from inspection_station import cli

    assert cli.main(["serve", "--new-token"]) == 0
    out = capsys.readouterr().out
    token = re.search(r"^token: (\S+)$", out, re.M).group(1)
    digest = re.search(r'^api_token_sha256 = \["([0-9a-f]{64})"\]$', out, re.M).group(1)
    assert len(token) >= 40 and digest == hash_token(token)


def test_an_older_cycle_image_comes_from_the_archive(tmp_path, make):
    settings = station_settings(tmp_path).replace("line", api_enabled=True, api_port=0).replace(
        "results", archive="all", image_format="png")
    api = make(settings)
    wait_camera(api)
    first = api.client.post("/inspect").json()
    for _ in range(6):  # only the newest 5 cycles keep their frames
        api.client.post("/inspect")
    kept = next(r for r in api.station.recent_results if r.cycle_id == first["cycle_id"])
    assert kept.frame is None and kept.image_path
    deadline = time.monotonic() + WAIT_S
    while not Path(kept.image_path).is_file():  # the archive writes behind the cycle
        assert time.monotonic() < deadline
        time.sleep(0.02)
    r = api.client.get(first["links"]["image"])
    assert r.status_code == 200
    assert cv2.imdecode(np.frombuffer(r.content, np.uint8), cv2.IMREAD_COLOR).shape == (480, 640, 3)


def test_an_older_cycle_without_archive_is_404_with_the_reason(make):
    api = make()
    wait_camera(api)
    first = api.client.post("/inspect").json()
    for _ in range(6):
        api.client.post("/inspect")
    r = api.client.get(first["links"]["image"])
    assert r.status_code == 404 and "no longer kept and it was not archived" in r.json()["detail"]


def test_random_uploads_and_product_names_never_break_the_server(make):
    from hypothesis import HealthCheck, given, settings
    from hypothesis import strategies as st

    api = make()
    png_head = b"\x89PNG\r\n\x1a\n"

    @settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
    @given(st.one_of(st.binary(max_size=2000), st.binary(max_size=500).map(lambda b: png_head + b)),
           st.text(max_size=30))
    def poke(data, name):
        r = api.client.post("/inspect/image", files={"image": ("x.png", data, "image/png")})
        assert r.status_code == 422 and "x.png" in r.json()["detail"], (r.status_code, r.text)
        r = api.client.put("/product", json={"pattern_set": name})
        assert r.status_code in (200, 404, 422), (r.status_code, r.text)

    poke()
    assert api.station.active_pattern_set is not None
    assert api.client.get("/health").status_code == 200


def test_an_internal_fault_is_a_500_counted_and_the_station_runs_on(make, monkeypatch):
    from inspection_station.core.line import api as api_module

    api = make()
    wait_camera(api)
    cycle = api.client.post("/inspect").json()

    def broken(*_a, **_k):  # a fault no real encoder gives on demand
        raise RuntimeError("encoder exploded")

    monkeypatch.setattr(api_module, "encode_image", broken)
    r = api.client.get(cycle["links"]["image"])
    assert r.status_code == 500 and r.json()["detail"] == "internal error: RuntimeError: encoder exploded"
    text = api.client.get("/metrics").text
    assert 'endpoint="/results/{cycle_id}/image",station="station-1",status="500"} 1.0' in text
    assert api.client.post("/inspect").json()["verdict"] == "OK"
