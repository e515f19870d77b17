"""The table of one variant's slots: class, inner box, outer box, name, min score.

Boxes are edited as text "x1, y1, x2, y2" (normalised). A cell that does not parse is
reported (located) and not committed; everything else is checked by the pattern
validation, so the table holds no rules of its own.
"""

from __future__ import annotations

from collections.abc import Sequence

from PySide6.QtCore import QSignalBlocker, Signal
from PySide6.QtGui import QColor
from PySide6.QtWidgets import (
    QAbstractItemView,
    QComboBox,
    QHeaderView,
    QTableWidget,
    QTableWidgetItem,
    QWidget,
)

from inspection_station.core.patterns.model import Box, Slot
from inspection_station.gui import theme

COL_CLASS, COL_INNER, COL_OUTER, COL_NAME, COL_MIN_SCORE = range(5)
HEADERS = ["Class", "Inner x1, y1, x2, y2", "Outer x1, y1, x2, y2", "Name (optional)", "Min score (optional)"]
BAD_CELL = QColor("#ffcdd2")


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
        self.class_names: list[str] = []
        self.problems: dict[tuple[int, int], str] = {}  # (row, column) -> why the text is not used
        self.image_size = (1, 1)  # the frame's pixels, for the cells' tooltips
        self._slots: list[Slot] = []
        self.itemChanged.connect(self._item_changed)

    # --- showing --------------------------------------------------------------------------

    def _class_combo(self, class_id: int) -> QComboBox:
        combo = QComboBox(self)
        combo.setObjectName("slot_class")
        combo.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToContents)
        count = max(len(self.class_names), class_id + 1)
        for i in range(count):
            name = self.class_names[i] if i < len(self.class_names) else ""
            combo.addItem(f"{i}: {name}" if name else str(i), i)
        combo.setCurrentIndex(class_id)
        combo.currentIndexChanged.connect(lambda _i, c=combo: self._class_changed(c))
        return combo

    def set_slots(self, slots: Sequence[Slot]) -> None:
        """Show `slots` (replaces every row; pending cell problems are dropped)."""
        self._slots = list(slots)
        self.problems.clear()
        with QSignalBlocker(self):
            self.setRowCount(len(slots))
            for row, slot in enumerate(slots):
                self.setCellWidget(row, COL_CLASS, self._class_combo(slot.class_id))
                self.setItem(row, COL_INNER, QTableWidgetItem(format_box(slot.inner)))
                self.setItem(row, COL_OUTER, QTableWidgetItem(format_box(slot.outer)))
                self.setItem(row, COL_NAME, QTableWidgetItem(slot.name or ""))
                self.setItem(row, COL_MIN_SCORE, QTableWidgetItem("" if slot.min_score is None else f"{slot.min_score:g}"))
            # rows as tall as their class box: combo boxes never overlap the next row
            self.resizeRowsToContents()
            for row in range(len(slots)):
                self._pixel_tips(row)
        self.cell_problems_changed.emit()

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

    def _class_changed(self, combo: QComboBox) -> None:
        for row in range(self.rowCount()):
            if self.cellWidget(row, COL_CLASS) is combo:
                self._commit(row)
                return

    def _item_changed(self, item: QTableWidgetItem) -> None:
        self._commit(item.row())

    def _commit(self, row: int) -> None:
        if row >= len(self._slots):
            return
        for col in (COL_INNER, COL_OUTER, COL_MIN_SCORE):
            self.problems.pop((row, col), None)
        combo = self.cellWidget(row, COL_CLASS)
        class_id = int(combo.currentData()) if combo is not None else self._slots[row].class_id
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
        slot = Slot(class_id, values["inner"], values["outer"], name, values["min_score"])
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
