"""Teaching that generalises, on the demo generator's boards (models/training/generate_scene.py).

Teach from 5 good boards at the default margin; the variant must pass every one of 200
held-out good boards and reject every board with a missing, wrong or misplaced part.
Once on the generator's labels (fast: the boards are drawn without the optics, which the
labels never depend on), once on the real demo model's detections on the full boards
(slow: ~0.5 s per board to draw and detect on the shared 2-core machine).
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest

from inspection_station.core.detect.detector import Detector
from inspection_station.core.patterns.teaching import (
    DEFAULT_MARGIN,
    NormBox,
    check_variant,
    derive_variant,
    normalise_detections,
    teach_and_check,
)
from inspection_station.core.settings.model import ModelSettings, resolve_model_path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "models" / "training"))
import generate_scene as scene  # noqa: E402

W, H = scene.IMAGE_WIDTH, scene.IMAGE_HEIGHT


def _labels(boxes) -> list[NormBox]:
    return [NormBox(c, (x1 / W, y1 / H, x2 / W, y2 / H)) for c, x1, y1, x2, y2 in boxes]


def _boards(rng, defect, count, boxes_of) -> list[tuple[str, list[NormBox]]]:
    return [(f"{defect or 'good'}_{i:03d}", boxes_of(rng, defect)) for i in range(count)]


def _teach(frames):
    return derive_variant(frames, margin=DEFAULT_MARGIN, aspect=W / H, width=W, class_names=scene.CLASS_NAMES)


def test_five_labelled_boards_pass_200_good_ones_and_reject_every_defect():
    rng = np.random.default_rng(2024)
    drawn = lambda rng, defect: _labels(scene.render_scene(rng, defect, optics=False)[1])  # noqa: E731
    taught = _teach([boxes for _name, boxes in _boards(rng, None, 5, drawn)])
    assert len(taught.slots) == len(scene.SLOTS) and taught.warnings == ()  # five frames: not thin
    names = [s.name for s in taught.slots]
    assert sorted(names) == sorted(
        ["screw_1", "screw_2", "screw_3", "screw_4", "connector_1", "connector_2", "chip_1",
         "capacitor_1", "capacitor_2", "capacitor_3", "label_1"])
    def nearest(slot):  # the generator's slot this one was taught for
        cx, cy = (slot.outer[0] + slot.outer[2]) / 2 * W, (slot.outer[1] + slot.outer[3]) / 2 * H
        return min(scene.SLOTS, key=lambda s: (s.cx - cx) ** 2 + (s.cy - cy) ** 2).name

    by_place = {nearest(s): s.name for s in taught.slots}
    # numbered as one reads the board: rows top to bottom, each row left to right
    assert [by_place[n] for n in ("screw_tl", "screw_tr", "screw_bl", "screw_br")] == \
        ["screw_1", "screw_2", "screw_3", "screw_4"]
    assert [by_place[n] for n in ("cap_c3", "cap_c1", "cap_c2")] == ["capacitor_1", "capacitor_2", "capacitor_3"]

    good = check_variant(taught.slots, _boards(rng, None, 200, drawn))
    assert (good.passed, good.frames) == (200, 200), good.summary()
    for defect in ("missing", "wrong", "misplaced"):
        bad = check_variant(taught.slots, _boards(rng, defect, 30, drawn))
        assert bad.passed == 0, f"{defect}: {bad.frames - len(bad.failures)} boards judged OK"


def test_one_board_is_thin_and_says_so_but_the_default_margin_still_holds_the_demo():
    rng = np.random.default_rng(77)
    drawn = lambda rng, defect: _labels(scene.render_scene(rng, defect, optics=False)[1])  # noqa: E731
    (one,) = _boards(rng, None, 1, drawn)
    taught, check = teach_and_check([one], others=_boards(rng, None, 60, drawn), margin=DEFAULT_MARGIN,
                                    aspect=W / H, width=W, class_names=scene.CLASS_NAMES)
    assert taught.thin and "ONE frame" in taught.warnings[0] and "31 px" in taught.warnings[0]
    assert check.ok and check.frames == 61  # the frame used, and the others


@pytest.mark.slow
def test_five_boards_taught_from_the_demo_models_detections_generalise():
    detector = Detector.load(resolve_model_path(ModelSettings()), ModelSettings(providers=["CPUExecutionProvider"]))

    def detected(rng, defect):
        image, _boxes, _verdict = scene.render_scene(rng, defect)
        return normalise_detections(detector.detect(image), W, H)

    rng = np.random.default_rng(31337)
    taught = _teach([boxes for _name, boxes in _boards(rng, None, 5, detected)])
    assert len(taught.slots) == len(scene.SLOTS)
    good = check_variant(taught.slots, _boards(rng, None, 200, detected))
    assert (good.passed, good.frames) == (200, 200), good.summary()
    for defect in ("missing", "wrong"):
        bad = check_variant(taught.slots, _boards(rng, defect, 25, detected))
        assert bad.passed == 0, f"{defect}: {bad.passed} boards judged OK"
