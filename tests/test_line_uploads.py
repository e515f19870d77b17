"""Uploaded images beside the line: bounded, counted, optionally logged, and giving way to
station cycles (a real onnxruntime run stopped by a trigger and run again after it)."""

from __future__ import annotations

import threading
import time

import cv2
import httpx
import pytest

from inspection_station.core.listeners import StationListener
from tests.known_station import CLASS_NAMES, MODEL_OUTPUT, station_settings
from tests.line_clients import WAIT_S, api_factory
from tests.onnx_models import slow_constant_model


@pytest.fixture
def api(tmp_path):
    with api_factory(tmp_path) as make:
        yield make


def part_png(tmp_path) -> bytes:
    ok, png = cv2.imencode(".png", cv2.imread(str(tmp_path / "emulator" / "part.png")))
    assert ok
    return png.tobytes()


def upload(a, data: bytes, name: str = "part.png") -> httpx.Response:
    return httpx.post(a.url + "/inspect/image", files={"image": (name, data, "image/png")}, timeout=WAIT_S)


class Hold(StationListener):
    """Keeps a station cycle running (busy) until released."""

    def __init__(self) -> None:
        self.release = threading.Event()

    def cycle_finished(self, result) -> None:
        self.release.wait(WAIT_S)


def test_uploads_are_counted_apart_and_not_logged_by_default(api, tmp_path):
    a = api()
    r = upload(a, part_png(tmp_path))
    assert r.status_code == 200 and r.json()["verdict"] == "OK" and r.json()["trigger"] == "upload"
    assert a.rows() == [] and a.station.statistics.snapshot().cycles == 0
    assert a.metric('inspection_station_uploads_total{station="station-1",verdict="OK"}') == 1.0
    assert a.metric('inspection_station_cycles_total{station="station-1",verdict="OK"}') == 0.0


def test_log_uploads_writes_a_row_outside_the_shift_statistics(api, tmp_path):
    a = api(log_uploads=True)
    a.wait_ready()
    assert upload(a, part_png(tmp_path)).json()["verdict"] == "OK"
    assert a.client.post("/inspect").json()["verdict"] == "OK"
    rows = a.rows()
    assert [r["trigger"] for r in rows] == ["upload", "api"]
    assert rows[0]["verdict"] == "OK" and rows[0]["station"] == "station-1"
    assert a.station.statistics.snapshot().cycles == 1  # the station's cycle only


def test_a_full_upload_lane_answers_503(api, tmp_path):
    a = api(upload_queue=1)
    a.wait_ready()
    hold = Hold()
    a.station.add_listener(hold)
    trigger = threading.Thread(target=lambda: a.station.run_cycle("test"))
    trigger.start()
    deadline = time.monotonic() + WAIT_S
    while not a.station.busy:
        assert time.monotonic() < deadline
        time.sleep(0.01)
    first = {}
    waiting = threading.Thread(target=lambda: first.update(r=upload(a, part_png(tmp_path))))
    waiting.start()  # waits in the lane: the model is the station cycle's
    while a.services.uploads._slots._value > 0:
        assert time.monotonic() < deadline
        time.sleep(0.01)
    second = upload(a, part_png(tmp_path))
    assert second.status_code == 503 and "upload_queue" in second.json()["detail"]
    hold.release.set()
    trigger.join(WAIT_S)
    waiting.join(WAIT_S)
    assert first["r"].status_code == 200 and first["r"].json()["verdict"] == "OK"


def test_a_station_cycle_stops_an_upload_run_and_the_upload_runs_after_it(api, tmp_path):
    settings = station_settings(tmp_path)
    slow = slow_constant_model(tmp_path / "slow.onnx", MODEL_OUTPUT, layers=10, names=CLASS_NAMES)
    a = api(settings.replace("model", path=str(slow)))
    a.wait_ready()
    lane = a.services.uploads
    answer = {}
    data = part_png(tmp_path)
    sender = threading.Thread(target=lambda: answer.update(r=upload(a, data), done=time.monotonic()))
    sender.start()
    deadline = time.monotonic() + WAIT_S
    while lane._running is None:  # the upload's model run is under way
        assert time.monotonic() < deadline and sender.is_alive()
        time.sleep(0.001)
    cycle = a.station.run_cycle("test")  # takes the model: the upload's run is stopped
    cycle_done = time.monotonic()
    sender.join(WAIT_S)
    assert cycle.verdict.value == "OK"
    assert lane.yielded >= 1
    assert answer["r"].status_code == 200 and answer["r"].json()["verdict"] == "OK"
    assert answer["done"] > cycle_done  # the cycle went first, the upload after it
    assert a.metric('inspection_station_uploads_total{station="station-1",verdict="OK"}') == 1.0


def test_an_unreadable_upload_is_422_and_the_lane_stays_usable(api, tmp_path):
    a = api(upload_queue=1)
    for _ in range(3):  # a place is freed after each failure
        bad = upload(a, b"\x89PNG\r\n\x1a\nnot really", "bad.png")
        assert bad.status_code == 422 and "bad.png" in bad.json()["detail"]
    assert upload(a, part_png(tmp_path)).json()["verdict"] == "OK"
