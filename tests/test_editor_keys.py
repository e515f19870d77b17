"""The pattern editor's keyboard and focus model, on the real widgets (issue 24's blocker).

After a click on a slot on the canvas the arrow keys belong to the canvas: Down moves the
box by one image pixel and changes nothing else. Table cells edit only on double-click,
F2 or Enter; every change goes on the undo stack, into Problems and the status line.
"""

from __future__ import annotations

import numpy as np
import pytest
from PySide6.QtCore import QPoint, QPointF, Qt
from PySide6.QtWidgets import QApplication, QComboBox

from inspection_station.core.patterns.model import PatternSet, Slot
from inspection_station.core.patterns.yaml_io import save_pattern_set
from inspection_station.core.settings.audit import AuditLog
from inspection_station.gui.engineer.pattern_editor import PatternEditor
from inspection_station.gui.engineer.slot_table import COL_CLASS, COL_NAME

pytestmark = pytest.mark.qt

W, H = 1920, 1200
NAMES = ["screw", "connector", "chip", "capacitor", "label"]
CAP = Slot(3, (0.40, 0.40, 0.46, 0.48), (0.38, 0.37, 0.48, 0.51), name="capacitor_1")
SCREW = Slot(0, (0.10, 0.10, 0.13, 0.14), (0.09, 0.09, 0.14, 0.15), name="screw_1")


@pytest.fixture
def editor(qtbot, tmp_path):
    folder = tmp_path / "patterns"
    folder.mkdir()
    save_pattern_set(PatternSet("board", {"a": (SCREW, CAP)}), folder / "board.yaml")
    ed = PatternEditor(folder, None, audit=AuditLog(tmp_path / "audit.jsonl"), class_names=NAMES)
    qtbot.addWidget(ed)
    ed.resize(1366, 768)
    ed.show()
    qtbot.waitExposed(ed)
    ed._show_image(np.zeros((H, W, 3), np.uint8), "test frame", ())
    return ed


def _viewport_point(editor, x: float, y: float) -> QPoint:
    """Image pixel (x, y) as a point in the canvas's viewport."""
    scene = editor.view.mapViewToScene(QPointF(x, y))
    return editor.graphics.mapFromScene(scene)


def test_arrow_key_after_a_canvas_click_moves_the_box_one_pixel_and_nothing_else(qtbot, editor):
    editor.table.setFocus()  # where the focus was when the engineer went for the mouse
    # a point inside the capacitor's outer box but outside its inner box: the outer box
    x, y = (CAP.outer[0] + CAP.inner[0]) / 2 * W, (CAP.outer[1] + CAP.outer[3]) / 2 * H
    qtbot.mouseClick(editor.graphics.viewport(), Qt.MouseButton.LeftButton, pos=_viewport_point(editor, x, y))
    qtbot.waitUntil(lambda: editor.rois.selection == (1, "outer"))
    assert editor.table.selected_row() == 1
    focused = QApplication.focusWidget()
    assert focused is editor.graphics, f"the keyboard went to {focused!r}"
    assert not isinstance(focused, QComboBox)

    qtbot.keyClick(focused, Qt.Key.Key_Down)
    after = editor.current_set().variants["a"][1]
    assert after.outer[1] * H - CAP.outer[1] * H == pytest.approx(1.0, abs=1e-3)
    assert after.outer[3] * H - CAP.outer[3] * H == pytest.approx(1.0, abs=1e-3)
    assert (after.outer[0], after.outer[2]) == (CAP.outer[0], CAP.outer[2])
    assert (after.class_id, after.name, after.inner) == (CAP.class_id, CAP.name, CAP.inner)  # nothing else
    assert editor.current_set().variants["a"][0] == SCREW
    assert editor.table.item(1, COL_CLASS).text() == "3: capacitor"
    # typing goes nowhere near the name either
    qtbot.keyClicks(QApplication.focusWidget(), "xyz")
    assert editor.current_set().variants["a"][1].name == "capacitor_1"
    assert "move the outer box of slot 1 by 0, 1 px" in editor.status.text()
    editor.undo()
    assert editor.current_set().variants["a"][1] == CAP and not editor.draft.dirty


def test_table_cells_edit_only_on_double_click_f2_or_enter(qtbot, editor):
    table = editor.table
    table.setFocus()
    table.setCurrentCell(1, COL_NAME)
    qtbot.keyClicks(table, "renamed")  # plain typing: no editor opens, nothing changes
    qtbot.keyClick(table, Qt.Key.Key_Down)
    qtbot.keyClick(table, Qt.Key.Key_Up)
    assert editor.current_set().variants["a"] == (SCREW, CAP) and not editor.draft.can_undo()

    table.setCurrentCell(1, COL_NAME)
    qtbot.keyClick(table, Qt.Key.Key_F2)  # explicit: edit, type, commit
    assert table.state() == table.State.EditingState
    line = QApplication.focusWidget()
    line.selectAll()
    qtbot.keyClicks(line, "cap_left")
    qtbot.keyClick(line, Qt.Key.Key_Return)  # the delegate commits on the next event loop turn
    qtbot.waitUntil(lambda: editor.current_set().variants["a"][1].name == "cap_left")
    assert "name 'capacitor_1' -> 'cap_left'" in editor.status.text()

    table.setCurrentCell(1, COL_CLASS)
    qtbot.keyClick(table, Qt.Key.Key_Return)  # Enter edits too; the class combo exists only now
    combo = QApplication.focusWidget()
    assert isinstance(combo, QComboBox) and combo.currentText() == "3: capacitor"
    combo.setCurrentIndex(4)
    qtbot.keyClick(combo, Qt.Key.Key_Return)
    qtbot.waitUntil(lambda: editor.current_set().variants["a"][1].class_id == 4)
    changed = editor.current_set().variants["a"][1]
    assert changed.class_id == 4 and changed.name == "cap_left"
    assert "class capacitor -> label" in editor.status.text()
    assert editor.draft.undo_text().startswith("slot 1 (cap_left): class capacitor -> label")
    editor.undo()
    editor.undo()
    assert editor.current_set().variants["a"][1] == CAP


def test_a_bad_cell_is_in_problems_and_not_committed(qtbot, editor):
    item = editor.table.item(1, 2)  # outer
    item.setText("0.1, nonsense")
    assert editor.current_set().variants["a"][1] == CAP
    assert any("slot 1, outer: expected 4 numbers" in editor.problem_list.item(i).text()
               for i in range(editor.problem_list.count()))
    item.setText("0.5, 0.5, 0.6, 0.6")  # parses, but the inner box sticks out: a draft problem
    problems = [editor.problem_list.item(i).text() for i in range(editor.problem_list.count())]
    assert any("must lie inside outer" in p for p in problems) and editor.draft.can_undo()


def test_rows_and_canvas_labels_count_alike(editor):
    assert [editor.table.verticalHeaderItem(r).text() for r in range(2)] == ["0", "1"]
    assert editor.rois.labels[1].toPlainText().startswith("1: capacitor_1")
