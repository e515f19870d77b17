"""One cycle: frame -> detect -> match -> record; any failure is ERROR, never OK."""

from __future__ import annotations

import numpy as np
import pytest

from inspection_station.core.cycle import Verdict
from inspection_station.core.detect.detector import Detector
from inspection_station.core.frame import Frame
from inspection_station.core.patterns.model import PatternSet, Slot
from inspection_station.core.pipeline import Pipeline
from inspection_station.core.results.csv_log import read_log
from inspection_station.core.results.recorder import ResultsRecorder
from inspection_station.core.settings.model import ResultsSettings
from tests.onnx_models import constant_model, v8_raw_output

# On a 640 x 640 frame: a chip (class 1) at 270..370 x 295..345 px.
CHIP = (320, 320, 100, 50, 1, 0.9)


@pytest.fixture
def detector(tmp_path):
    path = constant_model(tmp_path / "m.onnx", v8_raw_output([CHIP], 3), names={0: "screw", 1: "chip", 2: "label"})
    return Detector.load(path)


def frame() -> Frame:
    return Frame(np.zeros((640, 640, 3), np.uint8), 1, 0.0, "test", grab_ms=12.5)


def chip_slot(**kw) -> Slot:
    x1, y1, x2, y2 = 270 / 640, 295 / 640, 370 / 640, 345 / 640
    return Slot(1, (x1 + 0.01, y1 + 0.01, x2 - 0.01, y2 - 0.01), (x1 - 0.01, y1 - 0.01, x2 + 0.01, y2 + 0.01), **kw)


def pattern(*slots) -> PatternSet:
    return PatternSet("product", {"variant_a": list(slots)})


def test_complete_pattern_is_ok_with_stage_times(detector):
    r = Pipeline(detector, pattern(chip_slot())).inspect(frame())
    assert r.verdict is Verdict.OK and r.error == ""
    assert (r.match.variant, r.match.filled, r.match.expected) == ("variant_a", 1, 1)
    assert r.times.grab_ms == 12.5
    assert r.times.inference_ms > 0 and r.times.total_ms >= r.times.inference_ms
    assert (r.model, r.provider, r.pattern_set) == ("m.onnx", "CPUExecutionProvider", "product")


def test_missing_slot_is_nok(detector):
    screw = Slot(0, (0.1, 0.1, 0.2, 0.2), (0.05, 0.05, 0.25, 0.25))
    r = Pipeline(detector, pattern(chip_slot(), screw)).inspect(frame())
    assert r.verdict is Verdict.NOK
    assert [s.matched for s in r.match.slots] == [True, False]


@pytest.mark.parametrize(
    "make, reason",
    [
        (lambda d: Pipeline(d, pattern(chip_slot())).inspect(None, grab_error="timeout after 2000 ms"), "camera: timeout"),
        (lambda d: Pipeline(None, pattern(chip_slot()), model_problem="x.onnx: no such model file").inspect(frame()), "model: x.onnx"),
        (lambda d: Pipeline(d, None).inspect(frame()), "pattern: no pattern set loaded"),
        (lambda d: Pipeline(d, PatternSet("empty", {})).inspect(frame()), "pattern: "),
        (lambda d: Pipeline(d, pattern(chip_slot())).inspect(Frame(np.zeros((0, 0, 3), np.uint8), 1, 0, "t")), "model: "),
    ],
)
def test_every_failure_is_an_error_cycle_with_its_reason(detector, make, reason):
    r = make(detector)
    assert r.verdict is Verdict.ERROR
    assert r.error.startswith(reason)


def test_unexpected_exception_in_a_stage_is_an_error_not_a_crash(detector, monkeypatch):
    def boom(image):
        raise RuntimeError("driver went away")

    monkeypatch.setattr(detector, "detect_timed", boom)
    r = Pipeline(detector, pattern(chip_slot())).inspect(frame())
    assert r.verdict is Verdict.ERROR and r.error == "model: RuntimeError: driver went away"


def test_recorded_cycle_lands_in_the_csv_before_inspect_returns(detector, tmp_path):
    settings = ResultsSettings(log_dir=str(tmp_path / "log"), image_dir=str(tmp_path / "img"), archive="none")
    with ResultsRecorder(settings, "line-1") as recorder:
        pipe = Pipeline(detector, pattern(chip_slot()), recorder)
        ok = pipe.inspect(frame())
        bad = Pipeline(detector, None, recorder).inspect(frame())
        rows = read_log(recorder.log.current_path)
    assert [(row["cycle_id"], row["verdict"]) for row in rows] == [(ok.cycle_id, "OK"), (bad.cycle_id, "ERROR")]
    assert rows[0]["station"] == "line-1" and rows[0]["variant"] == "variant_a"
    assert rows[1]["error"] == "pattern: no pattern set loaded"
    assert ok.times.log_ms > 0


def test_a_pattern_set_swapped_during_a_cycle_does_not_break_it(detector):
    """The GUI may select another pattern set while the inference thread runs a cycle."""
    pipe = Pipeline(detector, pattern(chip_slot()))
    detect_timed = detector.detect_timed

    def detect_then_swap(image):
        out = detect_timed(image)
        pipe.pattern_set = None  # e.g. a reload that found no pattern files
        return out

    detector.detect_timed = detect_then_swap
    r = pipe.inspect(frame())
    assert r.verdict is Verdict.OK and r.pattern_set == "product", r.error
