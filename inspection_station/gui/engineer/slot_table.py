"""The table of one variant's slots: class, inner box, outer box, name, min score.

Boxes are edited as text "x1, y1, x2, y2" (normalised). A cell that does not parse is
reported (located) and not committed; everything else is checked by the pattern
validation, so the table holds no rules of its own.

Focus and keys: a cell edits only on an explicit action (double-click, F2 or Enter);
typing or an arrow key never changes a value. The class is plain text in the cell, its
combo box exists only while the cell is being edited (a delegate): a selected row holds
no live widget that could take the keyboard (an arrow key once changed a slot's class).
Rows are numbered from 0, as the canvas labels and the Problems list number them.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence

from PySide6.QtCore import QModelIndex, QSignalBlocker, Qt, Signal
from PySide6.QtGui import QColor
from PySide6.QtWidgets import (
    QAbstractItemView,
    QComboBox,
    QHeaderView,
    QStyledItemDelegate,
    QTableWidget,
    QTableWidgetItem,
    QWidget,
)

from inspection_station.core.patterns.model import Box, Slot
from inspection_station.gui import theme

COL_CLASS, COL_INNER, COL_OUTER, COL_NAME, COL_MIN_SCORE = range(5)
HEADERS = ["Class", "Inner x1, y1, x2, y2", "Outer x1, y1, x2, y2", "Name (optional)", "Min score (optional)"]
BAD_CELL = QColor("#ffcdd2")
CLASS_ROLE = Qt.ItemDataRole.UserRole  # the class cell's class id
EDIT_TRIGGERS = QAbstractItemView.EditTrigger.DoubleClicked | QAbstractItemView.EditTrigger.EditKeyPressed


def format_box(box: Sequence[float]) -> str:
    return ", ".join(f"{v:.4f}" for v in box)


def parse_box(text: str) -> Box:
    parts = [p for p in text.replace(";", ",").replace("[", "").replace("]", "").split(",") if p.strip()]
    if len(parts) != 4:
        raise ValueError(f"expected 4 numbers x1, y1, x2, y2, got {text!r}")
    try:
        return tuple(float(p) for p in parts)  # type: ignore[return-value]
    except ValueError:
        raise ValueError(f"expected 4 numbers x1, y1, x2, y2, got {text!r}") from None


def class_text(class_id: int, class_names: Sequence[str]) -> str:
    name = class_names[class_id] if 0 <= class_id < len(class_names) else ""
    return f"{class_id}: {name}" if name else str(class_id)


class ClassDelegate(QStyledItemDelegate):
    """The class cell's editor: a combo box of the model's classes, only while editing."""

    def __init__(self, table: SlotTable) -> None:
        super().__init__(table)
        self.table = table

    def createEditor(self, parent, option, index: QModelIndex) -> QComboBox:  # noqa: N802 (Qt)
        combo = QComboBox(parent)
        combo.setObjectName("slot_class")
        class_id = int(index.data(CLASS_ROLE) or 0)
        for i in range(max(len(self.table.class_names), class_id + 1)):
            combo.addItem(class_text(i, self.table.class_names), i)
        return combo

    def setEditorData(self, editor: QComboBox, index: QModelIndex) -> None:  # noqa: N802 (Qt)
        editor.setCurrentIndex(max(0, editor.findData(int(index.data(CLASS_ROLE) or 0))))

    def setModelData(self, editor: QComboBox, model, index: QModelIndex) -> None:  # noqa: N802 (Qt)
        class_id = int(editor.currentData())
        if class_id != int(index.data(CLASS_ROLE) or 0):
            model.setData(index, class_id, CLASS_ROLE)
            model.setData(index, class_text(class_id, self.table.class_names), Qt.ItemDataRole.DisplayRole)


class SlotTable(QTableWidget):
    """Emits `slot_edited(row, Slot)` for a valid edit, `cell_problem(row, text)` otherwise."""

    slot_edited = Signal(int, object)
    cell_problems_changed = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(0, len(HEADERS), parent)
        self.setObjectName("slot_table")
        self.setHorizontalHeaderLabels(HEADERS)
        self.horizontalHeader().setStretchLastSection(True)
        self.setWordWrap(False)
        header = self.horizontalHeader()
        for col in (COL_CLASS, COL_INNER, COL_OUTER):  # boxes readable in full: "0.2000, 0.2000, 0.3000, 0.3000"
            header.setSectionResizeMode(col, QHeaderView.ResizeMode.ResizeToContents)
        self.setColumnWidth(COL_NAME, theme.px(160))
        self.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.setEditTriggers(EDIT_TRIGGERS)  # typing never edits; Enter does (keyPressEvent)
        self.setItemDelegateForColumn(COL_CLASS, ClassDelegate(self))
        self.class_names: list[str] = []
        self.problems: dict[tuple[int, int], str] = {}  # (row, column) -> why the text is not used
        self.image_size = (1, 1)  # the frame's pixels, for the cells' tooltips
        self._slots: list[Slot] = []
        self.itemChanged.connect(self._item_changed)

    # --- showing --------------------------------------------------------------------------

    def set_slots(self, slots: Sequence[Slot]) -> None:
        """Show `slots` (replaces every row; pending cell problems are dropped)."""
        self._slots = list(slots)
        self.problems.clear()
        with QSignalBlocker(self):
            self.setRowCount(len(slots))
            self.setVerticalHeaderLabels([str(row) for row in range(len(slots))])
            for row, slot in enumerate(slots):
                cls = QTableWidgetItem(class_text(slot.class_id, self.class_names))
                cls.setData(CLASS_ROLE, slot.class_id)
                self.setItem(row, COL_CLASS, cls)
                self.setItem(row, COL_INNER, QTableWidgetItem(format_box(slot.inner)))
                self.setItem(row, COL_OUTER, QTableWidgetItem(format_box(slot.outer)))
                self.setItem(row, COL_NAME, QTableWidgetItem(slot.name or ""))
                self.setItem(row, COL_MIN_SCORE, QTableWidgetItem("" if slot.min_score is None else f"{slot.min_score:g}"))
            self.resizeRowsToContents()
            for row in range(len(slots)):
                self._pixel_tips(row)
        self.cell_problems_changed.emit()

    def show_slot(self, row: int, slot: Slot) -> None:
        """One row after an edit from elsewhere (a nudge, a drag): no edit signal back."""
        if not 0 <= row < len(self._slots):
            return
        self._slots[row] = slot
        with QSignalBlocker(self):
            cls = self.item(row, COL_CLASS)
            cls.setText(class_text(slot.class_id, self.class_names))
            cls.setData(CLASS_ROLE, slot.class_id)
            self.item(row, COL_INNER).setText(format_box(slot.inner))
            self.item(row, COL_OUTER).setText(format_box(slot.outer))
            self.item(row, COL_NAME).setText(slot.name or "")
            self.item(row, COL_MIN_SCORE).setText("" if slot.min_score is None else f"{slot.min_score:g}")
            self._pixel_tips(row)

    def show_boxes(self, row: int, inner: Box, outer: Box) -> None:
        """Live update while a rectangle is dragged (no edit signal: the drag commits itself)."""
        with QSignalBlocker(self):
            self.item(row, COL_INNER).setText(format_box(inner))
            self.item(row, COL_OUTER).setText(format_box(outer))
            self._pixel_tips(row)

    def set_image_size(self, width: int, height: int) -> None:
        """The frame the boxes are on: each box cell's tooltip gives it in image pixels."""
        self.image_size = (width, height)
        for row in range(self.rowCount()):
            self._pixel_tips(row)

    def _pixel_tips(self, row: int) -> None:
        w, h = self.image_size
        for col in (COL_INNER, COL_OUTER):
            item = self.item(row, col)
            if item is None or (row, col) in self.problems:
                continue  # a bad cell's tooltip says what is wrong
            try:
                x1, y1, x2, y2 = parse_box(item.text())
            except ValueError:
                continue
            item.setToolTip(f"in image pixels: x {x1 * w:.1f} – {x2 * w:.1f}, y {y1 * h:.1f} – {y2 * h:.1f} "
                            f"({(x2 - x1) * w:.1f} x {(y2 - y1) * h:.1f} px on {w} x {h})")

    # --- editing --------------------------------------------------------------------------

    def keyPressEvent(self, event) -> None:  # noqa: N802 (Qt)
        """Enter edits the current cell (as F2 does); while editing, the editor has the keys."""
        if event.key() in (Qt.Key.Key_Return, Qt.Key.Key_Enter) and self.state() != QAbstractItemView.State.EditingState:
            index = self.currentIndex()
            if index.isValid():
                self.edit(index)
                return
        super().keyPressEvent(event)

    def _item_changed(self, item: QTableWidgetItem) -> None:
        self._commit(item.row())

    def _commit(self, row: int) -> None:
        if row >= len(self._slots):
            return
        for col in (COL_INNER, COL_OUTER, COL_MIN_SCORE):
            self.problems.pop((row, col), None)
        cls = self.item(row, COL_CLASS)
        class_id = int(cls.data(CLASS_ROLE)) if cls is not None else self._slots[row].class_id
        values: dict = {}
        for col, key in ((COL_INNER, "inner"), (COL_OUTER, "outer")):
            try:
                values[key] = parse_box(self.item(row, col).text())
            except ValueError as exc:
                self.problems[(row, col)] = f"{key}: {exc}"
        score_text = self.item(row, COL_MIN_SCORE).text().strip()
        try:
            values["min_score"] = float(score_text) if score_text else None
        except ValueError:
            self.problems[(row, COL_MIN_SCORE)] = f"min_score: expected a number in [0, 1] or empty, got {score_text!r}"
        name = self.item(row, COL_NAME).text().strip() or None
        self._mark(row)
        self.cell_problems_changed.emit()
        if any(r == row for r, _ in self.problems):
            return
        slot = dataclasses.replace(self._slots[row], class_id=class_id, inner=values["inner"], outer=values["outer"],
                                   name=name, min_score=values["min_score"])  # fields it does not show are kept
        self._slots[row] = slot
        self.slot_edited.emit(row, slot)

    def _mark(self, row: int) -> None:
        with QSignalBlocker(self):
            for col in (COL_INNER, COL_OUTER, COL_MIN_SCORE):
                item = self.item(row, col)
                if item is not None:
                    item.setBackground(BAD_CELL if (row, col) in self.problems else QColor(0, 0, 0, 0))
                    item.setToolTip(self.problems.get((row, col), ""))
            self._pixel_tips(row)

    def selected_row(self) -> int:
        rows = self.selectionModel().selectedRows()
        return rows[0].row() if rows else -1
