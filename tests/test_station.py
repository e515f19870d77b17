"""The Qt-free station on the real camera emulator and real onnxruntime sessions."""

from __future__ import annotations

import threading
import time

import cv2
import numpy as np
import pytest

from inspection_station.core.cycle import Verdict
from inspection_station.core.errors import StationError
from inspection_station.core.results.csv_log import read_log
from inspection_station.core.settings.model import Settings
from tests.onnx_models import constant_model, v8_raw_output

# The constant model always sees one chip in the middle of its 640 x 640 input: on the
# 640 x 480 frames served below that is 270..370 x 215..265 px (80 px of letterbox pad).
PATTERN = """product_a:
  - class_id: 1
    name: chip
    inner: [0.43, 0.46, 0.57, 0.54]
    outer: [0.40, 0.42, 0.60, 0.58]
"""
PATTERN_NOK = PATTERN + """  - class_id: 0
    inner: [0.1, 0.1, 0.2, 0.2]
    outer: [0.05, 0.05, 0.25, 0.25]
"""


def wait_for(predicate, timeout=20.0):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if predicate():
            return True
        time.sleep(0.02)
    return False


@pytest.fixture
def setup(tmp_path):
    frames = tmp_path / "frames"
    frames.mkdir()
    for i in range(3):
        cv2.imwrite(str(frames / f"img_{i}.png"), np.full((480, 640, 3), 40 * (i + 1), np.uint8))
    patterns = tmp_path / "patterns"
    patterns.mkdir()
    (patterns / "product_a.yaml").write_text(PATTERN)
    (patterns / "product_b.yaml").write_text(PATTERN_NOK)
    model = constant_model(
        tmp_path / "m.onnx", v8_raw_output([(320, 320, 100, 50, 1, 0.9)], 3), names={0: "screw", 1: "chip", 2: "x"}
    )
    s = Settings()
    s = s.replace("camera", serial="0815-0000", emulation_image_dir=str(frames), grab_timeout_ms=3000)
    s = s.replace("model", path=str(model))
    s = s.replace("patterns", path=str(patterns))
    s = s.replace("results", log_dir=str(tmp_path / "log"), image_dir=str(tmp_path / "img"), archive="all")
    return s, tmp_path


@pytest.fixture
def events():
    return {"results": [], "states": [], "errors": [], "refused": []}


def make_station(settings, events):
    from inspection_station.core.station import Station

    return Station(
        settings,
        on_result=events["results"].append,
        on_state=lambda *a: events["states"].append(a),
        on_error=events["errors"].append,
        on_refused=events["refused"].append,
    )


def test_headless_cycle_ok_and_logged(setup, events):
    settings, tmp = setup
    threads_before = set(threading.enumerate())
    station = make_station(settings, events)
    station.start()
    try:
        assert station.wait_ready(60)
        assert station.detector.provider == "CPUExecutionProvider"
        assert list(station.pattern_sets) == ["product_a", "product_b"]
        r = station.run_cycle()
        assert r.verdict is Verdict.OK, r.error
        assert (r.frame.width, r.frame.height) == (640, 480)
        assert r.match.variant == "product_a" and r.match.filled == 1
        station.select_pattern_set("product_b")
        r2 = station.run_cycle()
        assert r2.verdict is Verdict.NOK and (r2.match.filled, r2.match.expected) == (1, 2)
        rows = read_log(station.recorder.log.current_path)
        assert [(x["cycle_id"], x["verdict"], x["pattern_set"]) for x in rows] == [
            (r.cycle_id, "OK", "product_a"),
            (r2.cycle_id, "NOK", "product_b"),
        ]
        assert any(
            (c, s) == ("camera", "emulated") and why.startswith("Emulation 0815-0000") for c, s, why in events["states"]
        )
    finally:
        station.stop()
    assert wait_for(lambda: station.recorder.archive.is_alive is False, 5)
    leftover = [t for t in threading.enumerate() if t not in threads_before and t.is_alive()]
    assert leftover == []


def test_trigger_during_a_cycle_is_refused_and_counted(setup, events):
    settings, _ = setup
    with make_station(settings, events) as station:
        assert station.wait_ready(60)
        assert station.trigger("button") is True
        assert station.trigger("pedal") is False  # the first cycle still holds the station
        assert wait_for(lambda: len(events["results"]) == 1)
        assert events["refused"] == ["pedal trigger refused: a cycle is still running"]
        assert station.statistics.snapshot().refused_triggers == 1
        assert wait_for(lambda: not station.busy)
        assert station.trigger("button") is True
        assert wait_for(lambda: len(events["results"]) == 2)
    assert [r.trigger for r in events["results"]] == ["button", "button"]


def test_broken_model_on_apply_keeps_the_old_one(setup, events):
    settings, tmp = setup
    broken = tmp / "broken.onnx"
    broken.write_bytes(b"\x00garbage")
    with make_station(settings, events) as station:
        assert station.wait_ready(60)
        old = station.detector
        station.apply_settings(settings.replace("model", path=str(broken))).result(60)
        assert station.detector is old
        assert station.settings.model.path == settings.model.path
        assert any(c == "model" and s == "error" and "broken.onnx" in why for c, s, why in events["states"])
        assert station.run_cycle().verdict is Verdict.OK


def test_missing_model_makes_every_cycle_an_error_not_a_crash(setup, events):
    settings, tmp = setup
    settings = settings.replace("model", path=str(tmp / "nope.onnx"))
    with make_station(settings, events) as station:
        assert station.wait_ready(60)
        r = station.run_cycle()
    assert r.verdict is Verdict.ERROR and "nope.onnx: no such model file" in r.error
    assert any("model not loaded" in e for e in events["errors"])


def test_grab_timeout_is_an_error_cycle(setup, events):
    settings, _ = setup
    # Hardware trigger mode but a software request: no frame can come, the grab times out.
    settings = settings.replace("camera", trigger_mode="hardware", grab_timeout_ms=300)
    with make_station(settings, events) as station:
        assert station.wait_ready(60)
        r = station.run_cycle()
    assert r.verdict is Verdict.ERROR and r.error.startswith("camera: ")


def test_overrule_writes_a_row_and_a_review_image(setup, events):
    settings, tmp = setup
    with make_station(settings, events) as station:
        assert station.wait_ready(60)
        r = station.run_cycle()
        station.overrule(r.cycle_id, Verdict.NOK, "label crooked")
        rows = read_log(station.recorder.log.current_path)
        review = station.recorder.review_dir
    assert rows[-1]["overrules"] == r.cycle_id and rows[-1]["verdict"] == "NOK"
    assert len(list(review.glob("*.png"))) == 1


def test_unknown_pattern_set_is_a_located_error(setup, events):
    settings, _ = setup
    with make_station(settings, events) as station:
        assert station.wait_ready(60)
        with pytest.raises(StationError, match="no pattern set 'product_z'; have: product_a, product_b"):
            station.select_pattern_set("product_z")


def test_only_the_newest_results_keep_their_frames(setup, events):
    from inspection_station.core.station import RECENT_FRAMES

    settings, _ = setup
    with make_station(settings, events) as station:
        assert station.wait_ready(60)
        for _ in range(RECENT_FRAMES + 3):
            station.run_cycle()
        kept = [r.frame is not None for r in station.recent_results]
        sizes = {r.image_size for r in station.recent_results}
    assert kept == [False] * 3 + [True] * RECENT_FRAMES
    assert sizes == {(640, 480)}  # teaching from history still knows each image's size


def test_reopening_the_results_log_does_not_count_todays_cycles_again(setup, events):
    settings, _ = setup
    with make_station(settings, events) as station:
        assert station.wait_ready(60)
        station.run_cycle()
        station.apply_settings(settings.replace("results", archive="none"))
        r = station.run_cycle()
        rows = read_log(station.recorder.log.current_path)
        total = station.statistics.snapshot().cycles
    assert total == 2 and len(rows) == 2 and rows[-1]["cycle_id"] == r.cycle_id


def test_start_twice_is_refused_and_triggers_after_stop_say_why(setup, events):
    settings, _ = setup
    station = make_station(settings, events)
    station.start()
    try:
        with pytest.raises(StationError, match="already started"):
            station.start()
    finally:
        station.stop()
    assert station.trigger("pedal") is False
    assert events["refused"] == ["pedal trigger refused: the station is stopped"]
    assert station.statistics.snapshot().refused_triggers == 0  # not a refused cycle of a running shift


# --- every Station future reports its failure to the one error route ----------------------------


def test_an_exception_inside_the_model_load_future_reaches_the_error_route(setup, events):
    """A listener bug (not a StationError) raised on the loader thread used to vanish."""
    from inspection_station.core.station import Station

    settings, _ = setup

    def on_state(component, state, reason):
        events["states"].append((component, state, reason))
        if (component, state) == ("model", "loading"):
            raise RuntimeError("listener broke while the model loaded")

    station = Station(settings, on_state=on_state, on_error=events["errors"].append)
    future = station.start()
    try:
        assert isinstance(future.exception(timeout=60), RuntimeError)
        assert wait_for(lambda: events["errors"])
        assert events["errors"] == ["model load failed: RuntimeError: listener broke while the model loaded"]
        assert station.wait_ready(0)  # a waiter (run --headless) is released, not left hanging
        r = station.run_cycle()
        assert r.verdict is Verdict.ERROR and "RuntimeError: listener broke" in r.error  # says why
    finally:
        station.stop()


def test_a_cycle_that_raises_reports_it_and_ends_the_cycle_for_listeners(setup, events):
    settings, _ = setup
    station = make_station(settings, events)
    station.start()
    try:
        assert station.wait_ready(60)
        station.recorder.close()  # a real fault: the cycle cannot be recorded, record() raises
        assert station.trigger("button") is True
        assert wait_for(lambda: any(s[0] == "cycle" for s in events["states"]))
        assert events["results"] == []
        reason = "results recorder is closed; the cycle was not recorded"
        assert events["errors"] == [f"inspection cycle failed: {reason}"]
        assert ("cycle", "error", reason) in events["states"]
        assert wait_for(lambda: not station.busy)  # the next trigger is accepted again
    finally:
        station.stop()


def test_launch_starts_off_the_callers_thread_and_reports_a_failed_start(setup, events):
    settings, _ = setup
    station = make_station(settings, events)
    try:
        station.launch().result(timeout=60)
        assert station.wait_ready(60)
        assert station.run_cycle().verdict is Verdict.OK
        second = station.launch()  # already started: the future fails, the route says why
        assert isinstance(second.exception(timeout=10), StationError)
        assert wait_for(lambda: events["errors"])
        assert events["errors"] == ["start-up failed: the station is already started"]
    finally:
        station.stop()


def test_submit_overrule_writes_the_row_off_the_callers_thread(setup, events):
    settings, _ = setup
    station = make_station(settings, events)
    station.start()
    try:
        assert station.wait_ready(60)
        r = station.run_cycle()
        station.submit_overrule(r.cycle_id, Verdict.NOK, "label crooked").result(timeout=30)
        rows = read_log(station.recorder.log.current_path)
        assert [(x["verdict"], x["overrules"]) for x in rows] == [("OK", ""), ("NOK", r.cycle_id)]
        failed = station.submit_overrule(r.cycle_id, "MAYBE")
        assert isinstance(failed.exception(timeout=30), StationError)
        assert wait_for(lambda: events["errors"])
        assert events["errors"][0].startswith(f"overrule of {r.cycle_id} failed: overrule of {r.cycle_id}: expected a verdict")
    finally:
        station.stop()


def test_results_come_with_a_preview_made_on_the_stations_thread(setup, events):
    settings, _ = setup
    station = make_station(settings, events)
    station.start()
    try:
        assert station.wait_ready(60)
        r = station.run_cycle()
        assert r.preview is not None and r.preview.shape == r.frame.rgb.shape  # 640 px: fits, not copied
        assert r.preview is r.frame.rgb and not r.preview.flags.writeable
    finally:
        station.stop()
    from inspection_station.core.station import Station

    headless = Station(settings)  # no result listener: no preview made nor kept
    headless.start()
    try:
        assert headless.wait_ready(60)
        assert headless.run_cycle().preview is None
    finally:
        headless.stop()


def test_downscaled_previews_stay_under_the_preview_width():
    import numpy as np

    from inspection_station.core.images import PREVIEW_WIDTH, downscale

    big = np.zeros((2048, 2448, 3), np.uint8)
    small = downscale(big, PREVIEW_WIDTH)
    assert small.shape == (1024, 1224, 3) and small.flags.c_contiguous


def test_detect_file_runs_on_the_inference_thread_and_reports_a_bad_file(setup, events):
    settings, tmp = setup
    station = make_station(settings, events)
    station.start()
    try:
        assert station.wait_ready(60)
        image, detections = station.detect_file(tmp / "frames" / "img_0.png").result(timeout=30)
        assert image.shape == (480, 640, 3) and [d.class_id for d in detections] == [1]
        bad = tmp / "bad.png"
        bad.write_text("not a picture")
        assert isinstance(station.detect_file(bad).exception(timeout=30), StationError)
        assert wait_for(lambda: events["errors"])
        assert events["errors"] == [f"detection on {bad} failed: {bad}: not a readable image (expected PNG, JPEG, BMP, TIFF or WebP)"]
    finally:
        station.stop()
