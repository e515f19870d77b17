"""The old system's clients against the station (`[line] legacy_api = true`): the old web
frontend's own request code (tests/old_frontend.py, retyped) triggers a real station cycle
and reads the old JSON keys; the other old routes answer in their old shapes."""

from __future__ import annotations

import logging

import cv2
import httpx
import numpy as np
import pytest

from inspection_station.core.line.auth import hash_token
from tests import old_frontend
from tests.line_clients import WAIT_S, api_factory, start_api, stop_api

TOKEN = "the-old-frontends-token"


@pytest.fixture
def api(tmp_path):
    with api_factory(tmp_path, ready=True, legacy_api=True) as make:
        yield make


def part_png(tmp_path) -> bytes:
    return cv2.imencode(".png", cv2.imread(str(tmp_path / "emulator" / "part.png")))[1].tobytes()


def test_the_old_frontend_triggers_a_cycle_and_reads_the_old_keys(api):
    a = api(api_token_sha256=[f"old-frontend={hash_token(TOKEN)}"])
    state = old_frontend.trigger(a.url + "/main/with-camera", token=TOKEN)
    assert state["decision"] is True and state["pattern_name"] == "variant_a" and state["pattern_lg"] == [True, True]
    assert state["message"] == "Bounding-Boxes found for pattern variant_a"
    assert state["raw"].shape == (480, 640, 3) and state["bboxes"].shape == (480, 640, 3)
    assert np.abs(state["raw"].astype(int) - state["bboxes"]).max() > 100  # the drawn one has boxes
    bboxes, class_ids, scores = state["boxes"]
    assert bboxes == [[100.0, 20.0, 200.0, 120.0], [300.0, 220.0, 400.0, 340.0]]
    assert class_ids == [0, 1] and scores == [0.9, 0.8]
    rows = a.rows()
    assert [(r["trigger"], r["verdict"], r["pattern_set"]) for r in rows] == [("legacy", "OK", "product_ok")]
    with pytest.raises(Exception, match="status code 401"):  # the old frontend's own error path
        old_frontend.trigger(a.url + "/main/with-camera")


def test_pattern_key_and_min_score_are_the_cycles_own(api):
    a = api()
    nok = old_frontend.trigger(a.url + "/main/with-camera", pattern_key="product_nok")
    assert nok["decision"] is False
    assert nok["message"] == "Not all objects were found. Best pattern: variant_a with 2 / 3."
    assert a.station.active_pattern_set.name == "product_ok"  # the product is not switched
    strict = old_frontend.trigger(a.url + "/main/with-camera", min_score=0.85)  # drops the clip (0.8)
    assert strict["decision"] is False and strict["boxes"][1] == [0]
    assert [(r["pattern_set"], r["verdict"], r["n_detections"]) for r in a.rows()] == [
        ("product_nok", "NOK", "2"), ("product_ok", "NOK", "1")]
    upper = a.client.get("/main/with-camera", params={"pattern_key": "PRODUCT_NOK"})  # lowered, as the old one
    assert upper.status_code == 200 and upper.json()["decision"] is False


@pytest.mark.parametrize(("options", "keys"), [
    (1, {"decision"}), (2, {"pattern_name", "pattern_lg"}), (4, {"images"}), (16 | 64, {"results"}), (0, set()),
])
def test_return_options_shape_the_answer_as_the_old_bit_flags(api, options, keys):
    a = api()
    body = a.client.get("/main/with-camera", params={"return_options": options}).json()
    assert set(body) == keys
    if options == 4:
        assert set(body["images"]) == {"img"}
    if options == 16 | 64:
        assert set(body["results"]) == {"bboxes", "scores"}


@pytest.mark.parametrize("params", [{"min_score": 2}, {"min_score": "x"}, {"return_options": 128},
                                    {"return_options": -1}])
def test_bad_old_parameters_are_422(api, params):
    a = api()
    r = a.client.get("/main/with-camera", params=params)
    assert r.status_code == 422 and a.rows() == []


def test_an_unknown_pattern_key_is_404_naming_the_sets(api):
    a = api()
    r = a.client.get("/main/with-camera", params={"pattern_key": "nope"})
    assert r.status_code == 404 and "product_ok" in r.json()["detail"] and a.rows() == []


def test_the_old_camera_parameters_are_accepted_and_said_once(api, caplog):
    a = api()
    with caplog.at_level(logging.INFO, logger="inspection_station.core.line.legacy"):
        for _ in range(2):
            old_frontend.trigger(a.url + "/main/with-camera")
    said = [r.getMessage() for r in caplog.records if "ignored" in r.getMessage()]
    assert len(said) == 1 and "convert_to_format, format, pixel_format" in said[0]


def test_legacy_routes_are_off_by_default(api):
    a = api(legacy_api=False)
    for method, path in (("get", "/main/with-camera"), ("post", "/check-pattern"), ("get", "/image-raw")):
        assert getattr(a.client, method)(path).status_code == 404


def test_check_pattern_takes_fractions_and_answers_decision_pattern_name_lg(api):
    a = api()
    boxes = [[100 / 640, 20 / 480, 200 / 640, 120 / 480], [300 / 640, 220 / 480, 400 / 640, 340 / 480]]
    r = a.client.post("/check-pattern", json={"coordinates": boxes, "class_ids": [0, 1], "pattern_key": "product_ok"})
    assert r.json() == {"decision": True, "pattern_name": "variant_a", "lg": [True, True]}
    r = a.client.post("/check-pattern", json={"coordinates": boxes[:1], "class_ids": [0]})
    assert r.json() == {"decision": False, "pattern_name": "variant_a", "lg": [True, False]}
    assert a.client.post("/check-pattern", json={"coordinates": boxes, "class_ids": [0]}).status_code == 422
    inline = {"coordinates": boxes, "class_ids": [0, 1], "pattern": {"class_id": 0}}
    assert a.client.post("/check-pattern", json=inline).status_code == 422


def test_main_with_an_uploaded_image_get_as_the_old_backend_and_post(api, tmp_path):
    a = api()
    files = {"image": ("part.png", part_png(tmp_path), "image/png")}
    for method in ("GET", "POST"):
        r = a.client.request(method, "/main", files=files, params={"return_options": 1 | 2 | 16})
        assert r.status_code == 200, r.text
        assert r.json()["decision"] is True and r.json()["results"]["bboxes"][0] == [100.0, 20.0, 200.0, 120.0]
    assert a.rows() == []  # an upload, not a station cycle


def test_image_raw_and_draw_give_the_newest_jpeg(api, tmp_path):
    a = api()
    none = a.client.get("/image-raw")
    assert none.text == "No image captured yet" and none.headers["content-type"].startswith("text/plain")
    a.client.get("/main/with-camera", params={"return_options": 1})
    for path in ("/image-raw", "/image-draw"):
        r = a.client.get(path)
        assert r.headers["content-type"] == "image/jpeg"
        assert cv2.imdecode(np.frombuffer(r.content, np.uint8), cv2.IMREAD_COLOR).shape == (480, 640, 3)


def test_the_old_inference_route_answers_boxes(api, tmp_path):
    a = api()
    r = httpx.post(a.url + "/inference", files={"image": ("image.png", part_png(tmp_path), "image/png")},
                   timeout=WAIT_S)
    assert r.json() == {"bboxes": [[100.0, 20.0, 200.0, 120.0], [300.0, 220.0, 400.0, 340.0]],
                        "class_ids": [0, 1], "scores": [0.9, 0.8]}
    wrong = httpx.post(a.url + "/inference", files={"image": ("a.txt", b"hello", "text/plain")}, timeout=WAIT_S)
    assert wrong.status_code == 400 and wrong.json()["detail"] == "Uploaded file is not an image."


def test_the_old_trigger_is_the_stations_action_refused_on_hold(api, tmp_path):
    from inspection_station.core.settings.audit import Actor

    a = api()
    actions = a.services.actions
    assert actions.hold(Actor("os:test", "system", "station-1"), "changeover").ok
    r = a.client.get("/main/with-camera")
    assert r.status_code == 503 and "hold" in r.json()["detail"] and a.rows() == []


def test_pattern_key_and_min_score_in_the_overlapped_cycle(tmp_path):
    from tests.known_station import station_settings

    settings = station_settings(tmp_path).replace("station", cycle="overlapped")
    a = start_api(tmp_path, settings, legacy_api=True)
    try:
        a.wait_ready()
        assert a.station.cycle_mode == "overlapped"
        nok = old_frontend.trigger(a.url + "/main/with-camera", pattern_key="product_nok", min_score=0.85)
        assert nok["decision"] is False and nok["boxes"][1] == [0]
        assert [(r["pattern_set"], r["n_detections"]) for r in a.rows()] == [("product_nok", "1")]
    finally:
        stop_api(a)
