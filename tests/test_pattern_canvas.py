"""The pattern editor's canvas: select a slot, then its inner or outer box; only that box
is editable; arrow keys nudge it by exactly one image pixel (Shift: ten); zoom, fit, 1:1;
Try keeps the variant being edited. Real widgets, real pattern files."""

from __future__ import annotations

import numpy as np
import pytest
from PySide6.QtCore import Qt

from inspection_station.core.patterns.geometry import nudge
from inspection_station.core.patterns.model import PatternSet, Slot
from inspection_station.core.patterns.yaml_io import load_pattern_set, save_pattern_set
from inspection_station.core.settings.audit import AuditLog
from inspection_station.gui import theme
from inspection_station.gui.engineer.pattern_editor import PatternEditor

W, H = 1920, 1200  # the frame size of the field report: 1 px is 1/1920 of the width
SLOT = Slot(0, (0.20, 0.20, 0.30, 0.30), (0.18, 0.18, 0.32, 0.32), name="screw")
OTHER = Slot(1, (0.60, 0.60, 0.70, 0.70), (0.58, 0.58, 0.72, 0.72), name="clip")


@pytest.fixture
def editor(qtbot, tmp_path):
    folder = tmp_path / "patterns"
    folder.mkdir()
    save_pattern_set(PatternSet("board", {"a": (SLOT, OTHER), "b": (OTHER,)}), folder / "board.yaml")
    ed = PatternEditor(folder, None, audit=AuditLog(tmp_path / "audit.jsonl"), class_names=["screw", "clip"])
    qtbot.addWidget(ed)
    ed.resize(1400, 900)
    ed.show()
    ed._show_image(np.zeros((H, W, 3), np.uint8), "test frame", ())
    return ed


def _px(value: float, size: int) -> float:
    return value * size


@pytest.mark.parametrize("which", ["outer", "inner"])
def test_arrow_key_moves_the_selected_box_by_exactly_one_image_pixel(qtbot, editor, which):
    editor.select_slot(0, which)
    editor.graphics.setFocus()
    before = editor.current_set().variants["a"][0]
    qtbot.keyClick(editor.graphics, Qt.Key.Key_Right)
    after = editor.current_set().variants["a"][0]
    old, new = getattr(before, which), getattr(after, which)
    assert _px(new[0], W) - _px(old[0], W) == pytest.approx(1.0, abs=1e-3)
    assert _px(new[2], W) - _px(old[2], W) == pytest.approx(1.0, abs=1e-3)
    assert new[1] == old[1] and new[3] == old[3]
    other = "inner" if which == "outer" else "outer"
    assert getattr(after, other) == getattr(before, other)  # only the selected box moved
    assert editor.current_set().variants["a"][1] == OTHER  # and only the selected slot

    qtbot.keyClick(editor.graphics, Qt.Key.Key_Down, Qt.KeyboardModifier.ShiftModifier)
    moved = getattr(editor.current_set().variants["a"][0], which)
    assert _px(moved[1], H) - _px(old[1], H) == pytest.approx(10.0, abs=1e-3)
    editor.undo()
    editor.undo()
    assert editor.current_set().variants["a"][0] == before  # one undo step per press


def test_ctrl_arrow_moves_only_the_right_edge_and_the_save_reads_back_pixel_exact(qtbot, editor, tmp_path):
    editor.select_slot(0, "outer")
    editor.graphics.setFocus()
    qtbot.keyClick(editor.graphics, Qt.Key.Key_Right, Qt.KeyboardModifier.ControlModifier)
    outer = editor.current_set().variants["a"][0].outer
    assert outer[0] == SLOT.outer[0]
    assert _px(outer[2], W) - _px(SLOT.outer[2], W) == pytest.approx(1.0, abs=1e-3)
    assert editor.save()
    saved = load_pattern_set(tmp_path / "patterns" / "board.yaml").variants["a"][0].outer
    assert _px(saved[2], W) - _px(SLOT.outer[2], W) == pytest.approx(1.0, abs=1e-3)


def test_only_the_selected_box_has_handles_and_moves(editor):
    editor.select_slot(1, "inner")
    inner, outer = editor.rois.pairs[1]
    assert inner.translatable and inner.getHandles()
    assert not outer.translatable and not outer.getHandles()
    for row_inner, row_outer in (editor.rois.pairs[0],):
        assert not row_inner.translatable and not row_outer.translatable
    assert editor.table.selected_row() == 1 and editor.canvas.inner_button.isChecked()
    editor.canvas.handle_key(Qt.Key.Key_O, Qt.KeyboardModifier.NoModifier)
    assert editor.rois.selection == (1, "outer") and editor.rois.pairs[1][1].translatable


def test_editor_draws_inner_solid_outer_dashed_in_the_overlay_palette(editor):
    editor.select_slot(-1)
    inner, outer = editor.rois.pairs[0]
    assert inner.pen.style() == Qt.PenStyle.SolidLine and outer.pen.style() == Qt.PenStyle.DashLine
    assert inner.pen.color().name() == theme.SLOT_PENDING.lower()
    editor.try_pattern()  # no detections: both slots missing
    assert editor.rois.pairs[0][0].pen.color().name() == theme.SLOT_MISSING.lower()


def test_zoom_fit_and_one_to_one(editor):
    editor.canvas.fit()
    fitted = editor.canvas.screen_px_per_image_px()
    assert fitted < 1.0  # a 1920 px frame in a smaller canvas
    editor.canvas.one_to_one()
    assert editor.canvas.screen_px_per_image_px() == pytest.approx(1.0, rel=0.02)
    editor.canvas.zoom(2.0)
    assert editor.canvas.screen_px_per_image_px() == pytest.approx(2.0, rel=0.02)
    editor.canvas.fit()
    assert editor.canvas.screen_px_per_image_px() == pytest.approx(fitted, rel=0.02)


def test_try_keeps_the_variant_being_edited(editor):
    editor.select_variant("b")
    editor.detections = []
    editor.try_pattern()
    assert editor.variant == "b" and "variant b 0/1" in editor.try_label.text()
    assert "would pick variant a 0/2" in editor.try_label.text()  # said, not jumped to


def test_nudge_is_pixel_exact_for_any_frame_size():
    for width, height in ((640, 480), (1920, 1200), (5472, 3648)):
        moved = nudge(SLOT, "outer", 1, -1, width, height)
        assert moved.outer[0] * width - SLOT.outer[0] * width == pytest.approx(1.0, abs=1e-3)
        assert moved.outer[1] * height - SLOT.outer[1] * height == pytest.approx(-1.0, abs=1e-3)


def test_table_cells_give_the_boxes_in_image_pixels(editor):
    from inspection_station.gui.engineer.slot_table import COL_OUTER

    tip = editor.table.item(0, COL_OUTER).toolTip()
    assert "x 345.6 – 614.4" in tip and f"on {W} x {H}" in tip  # 0.18 and 0.32 of 1920 px
    editor.select_slot(0, "outer")
    editor.nudge(1, 0)
    assert "x 346.6 – 615.4" in editor.table.item(0, COL_OUTER).toolTip()
