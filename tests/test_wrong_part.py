"""A part of another class sitting in a slot is a WRONG part, named as such: in the match,
the banner text and the results log (a real ONNX session, a real recorder, a real CSV)."""

from __future__ import annotations

import numpy as np
import pytest

from inspection_station.core.cycle import Verdict
from inspection_station.core.detect.detector import Detector
from inspection_station.core.detection import Detection
from inspection_station.core.frame import Frame
from inspection_station.core.patterns.matching import match_pattern, wrong_part_text
from inspection_station.core.patterns.model import PatternSet, Slot
from inspection_station.core.pipeline import Pipeline
from inspection_station.core.results.csv_log import read_log
from inspection_station.core.results.recorder import ResultsRecorder
from inspection_station.core.results.statistics import Statistics
from inspection_station.core.settings.model import ResultsSettings
from tests.onnx_models import constant_model, v8_raw_output

# On a 640 x 640 frame: a capacitor (class 2) at 270..370 x 295..345 px, where the chip goes.
CAPACITOR = (320, 320, 100, 50, 2, 0.9)
NAMES = {0: "screw", 1: "chip", 2: "capacitor"}


def chip_slot() -> Slot:
    x1, y1, x2, y2 = 270 / 640, 295 / 640, 370 / 640, 345 / 640
    return Slot(1, (x1 + 0.01, y1 + 0.01, x2 - 0.01, y2 - 0.01), (x1 - 0.01, y1 - 0.01, x2 + 0.01, y2 + 0.01),
                name="chip_mcu")


def test_a_capacitor_in_the_chip_slot_is_a_wrong_part_in_match_and_csv(tmp_path):
    model = constant_model(tmp_path / "m.onnx", v8_raw_output([CAPACITOR], 3), names=NAMES)
    settings = ResultsSettings(log_dir=str(tmp_path / "log"), image_dir=str(tmp_path / "img"), archive="none")
    recorder = ResultsRecorder(settings, "st-1")
    try:
        pipeline = Pipeline(Detector.load(model), PatternSet("board", {"v": (chip_slot(),)}), recorder)
        result = pipeline.inspect(Frame(np.zeros((640, 640, 3), np.uint8), 1, 0.0, "test"))
    finally:
        recorder.close()
    assert result.verdict is Verdict.NOK
    (slot,) = result.match.wrong_parts
    assert slot.wrong_class_id == 2
    assert wrong_part_text(slot, result.detections) == "capacitor in slot chip_mcu"
    (row,) = read_log(recorder.log.current_path)
    assert row["wrong_parts"] == "capacitor in slot chip_mcu"
    assert row["missing_slots"] == "chip_mcu"


def test_a_part_outside_the_slot_or_of_the_right_class_is_not_a_wrong_part():
    slot = chip_slot()
    far = Detection(2, "capacitor", 0.9, (10, 10, 60, 40))  # another class, elsewhere
    match = match_pattern(PatternSet("b", {"v": (slot,)}), [far], 640, 640)
    assert not match.ok and match.wrong_parts == ()
    right = Detection(1, "chip", 0.9, (270, 295, 370, 345))
    match = match_pattern(PatternSet("b", {"v": (slot,)}), [right, far], 640, 640)
    assert match.ok and match.wrong_parts == ()


def test_one_wrong_part_is_blamed_on_one_slot_only():
    twin = Slot(1, chip_slot().inner, chip_slot().outer, name="chip_b")
    capacitor = Detection(2, "capacitor", 0.9, (270, 295, 370, 345))
    match = match_pattern(PatternSet("b", {"v": (chip_slot(), twin)}), [capacitor], 640, 640)
    assert [s.name for s in match.wrong_parts] == ["chip_mcu"]


@pytest.mark.parametrize(
    "overrules, raw, corrected",
    [
        ([], 0.5, 0.5),
        (["OK"], 0.5, 0.75),  # one NOK was really good
        (["NOK"], 0.5, 0.25),  # one OK was really bad
        (["OK", "OK"], 0.5, 1.0),
    ],
)
def test_corrected_yield_applies_the_overrules_beside_the_raw_yield(overrules, raw, corrected):
    stats = Statistics()
    for verdict in ("OK", "OK", "NOK", "NOK", "ERROR"):
        stats.add_row({"verdict": verdict, "cycle_ms": "10"})
    for verdict in overrules:
        stats.add_row({"verdict": verdict, "overrules": "some-cycle"})
    snap = stats.snapshot()
    assert snap.yield_ratio == raw and snap.corrected_yield_ratio == corrected
    assert snap.overrules == len(overrules)
    assert f"corrected yield: {100 * corrected:.1f} %" in "\n".join(stats.summary_lines())


@pytest.mark.qt
def test_the_banner_and_the_overlay_name_the_wrong_part(qtbot, tmp_path):
    import pyqtgraph as pg

    from inspection_station.gui.operator.overlay import Overlay
    from inspection_station.gui.operator.verdict_banner import describe

    model = constant_model(tmp_path / "m.onnx", v8_raw_output([CAPACITOR], 3), names=NAMES)
    screw = Slot(0, (0.1, 0.1, 0.2, 0.2), (0.05, 0.05, 0.25, 0.25), name="screw_left")
    pipeline = Pipeline(Detector.load(model), PatternSet("board", {"v": (chip_slot(), screw)}))
    result = pipeline.inspect(Frame(np.zeros((640, 640, 3), np.uint8), 1, 0.0, "test"))
    _detail, reason = describe(result)
    assert reason == "wrong part: capacitor in slot chip_mcu; missing: screw_left"
    root = pg.ItemGroup()
    overlay = Overlay(root)
    overlay.show(result.detections, result.match, 640, 640)
    assert overlay.drawn_slot_labels() == ["wrong: capacitor", "missing screw_left"]


@pytest.mark.parametrize("image", ["demo_07.png", "demo_10.png"])
def test_the_demo_boards_with_a_wrong_part_say_which_part_is_in_which_slot(image):
    """The bundled demo model on the bundled 'wrong part' boards (ground_truth.csv)."""
    from inspection_station.core import paths
    from inspection_station.core.images import load_image
    from inspection_station.core.patterns.yaml_io import load_pattern_set

    detector = Detector.load(paths.models_dir() / "demo_parts.onnx")
    pattern = load_pattern_set(paths.resources_dir() / "patterns" / "demo_parts.yaml")
    picture = load_image(paths.resources_dir() / "demo_images" / image)
    frame = Frame(picture, 1, 0.0, "demo")
    result = Pipeline(detector, pattern).inspect(frame)
    assert result.verdict is Verdict.NOK
    texts = [wrong_part_text(s, result.detections) for s in result.match.wrong_parts]
    assert texts and all(" in slot " in t for t in texts), texts
