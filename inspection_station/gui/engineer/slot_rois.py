"""The slots on the editor's canvas: inner and outer box per slot, one of them editable.

Selection model: one slot is selected (click it on the canvas or in the table), and of
that slot one box, inner or outer (`select(row, which)`). Only that box has handles and
can be dragged; every other box is drawn only, and a click on it selects it. So what a
drag moves is never luck. Drawing convention and palette are the live overlay's
(inner solid, outer dashed; theme.SLOT_* colours).

ROIs live in image-pixel coordinates on a y-down view; slots are normalised, so this
module converts both ways. A drag reports live (`moving`) and once at the end (`moved`,
one undo step); `set_slots` moves ROIs with their signals blocked so a table edit never
echoes back as a drag.
"""

from __future__ import annotations

from collections.abc import Sequence

import pyqtgraph as pg
from PySide6.QtCore import QObject, Qt, Signal
from PySide6.QtGui import QPen

from inspection_station.core.patterns.geometry import to_normalised
from inspection_station.core.patterns.model import Box, Slot
from inspection_station.gui import theme

BOXES = ("inner", "outer")


def _pen(color: str, which: str, selected: bool) -> QPen:
    pen = pg.mkPen(color, width=3 if selected else 2)
    pen.setStyle(Qt.PenStyle.SolidLine if which == "inner" else Qt.PenStyle.DashLine)
    pen.setCosmetic(True)
    return pen


class SlotRois(QObject):
    moving = Signal(int, object, object)  # row, inner Box, outer Box (live, during a drag)
    moved = Signal(int, object, object)  # row, inner Box, outer Box (drag finished)
    selected = Signal(int, str)  # row, "inner" / "outer": a click on the canvas chose it

    def __init__(self, view: pg.ViewBox, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.view = view
        self.size = (1, 1)  # image width, height in pixels
        self.pairs: list[tuple[pg.RectROI, pg.RectROI]] = []  # (inner, outer) per slot
        self.labels: list[pg.TextItem] = []
        self.selection: tuple[int, str] = (-1, "outer")
        self._filled: Sequence[bool] | None = None
        self._slots: list[Slot] = []
        self._names: Sequence[str] = ()

    def clear(self) -> None:
        for inner, outer in self.pairs:
            self.view.removeItem(inner)
            self.view.removeItem(outer)
        for label in self.labels:
            self.view.removeItem(label)
        self.pairs, self.labels = [], []

    # --- building ---------------------------------------------------------------------------

    def _roi(self, row: int, which: str, box: Box) -> pg.RectROI:
        w, h = self.size
        x1, y1, x2, y2 = box
        editable = self.selection == (row, which)
        roi = pg.RectROI((x1 * w, y1 * h), ((x2 - x1) * w, (y2 - y1) * h), pen=_pen(self._color(row), which, editable),
                         movable=editable, removable=False, resizable=editable)
        if editable:
            roi.addScaleHandle((0, 0), (1, 1))  # resize from the top-left corner too
        else:
            for handle in list(roi.getHandles()):
                roi.removeHandle(handle)
            roi.setAcceptedMouseButtons(Qt.MouseButton.LeftButton)
            roi.sigClicked.connect(lambda _r, _ev, row=row, which=which: self._clicked(row, which))
        # the editable box on top; an inner box above its outer one, so both can be clicked
        roi.setZValue(40 if editable else (22 if which == "inner" else 20))
        roi.sigRegionChanged.connect(lambda _r, row=row: self._changed(row, finished=False))
        roi.sigRegionChangeFinished.connect(lambda _r, row=row: self._changed(row, finished=True))
        return roi

    def _color(self, row: int) -> str:
        filled = self._filled
        if filled is not None and row < len(filled):
            return theme.SLOT_FILLED if filled[row] else theme.SLOT_MISSING
        return theme.SLOT_SELECTED if row == self.selection[0] else theme.SLOT_PENDING

    def _rebuild(self) -> None:
        self.clear()
        for row, slot in enumerate(self._slots):
            inner = self._roi(row, "inner", slot.inner)
            outer = self._roi(row, "outer", slot.outer)
            for roi in (outer, inner):
                self.view.addItem(roi)
            label = pg.TextItem("", color="#ffffff", anchor=(0, 1))
            label.setZValue(45)
            self.view.addItem(label)
            self.pairs.append((inner, outer))
            self.labels.append(label)
        for row, slot in enumerate(self._slots):
            self.place(row, slot)

    def set_slots(self, slots: Sequence[Slot], size: tuple[int, int], names: Sequence[str] = ()) -> None:
        """Show `slots` on an image of `size` (w, h); rebuilds only when the count changed."""
        rebuild = size != self.size or len(slots) != len(self.pairs)
        self._slots, self._names, self.size = list(slots), names, size
        if self.selection[0] >= len(slots):
            self.selection = (-1, self.selection[1])
        if rebuild:
            self._rebuild()
        for row, slot in enumerate(slots):
            self.place(row, slot)

    def select(self, row: int, which: str = "outer") -> None:
        """Make `which` box of slot `row` the editable one (row -1: none)."""
        if which not in BOXES:
            raise ValueError(f"which box: expected 'inner' or 'outer', got {which!r}")
        if (row, which) != self.selection:
            self.selection = (row, which)
            self._rebuild()

    def editable_roi(self) -> pg.RectROI | None:
        row, which = self.selection
        if not 0 <= row < len(self.pairs):
            return None
        return self.pairs[row][BOXES.index(which)]

    # --- placing and reading ------------------------------------------------------------------

    def place(self, row: int, slot: Slot) -> None:
        """Move one slot's rectangles without emitting anything."""
        w, h = self.size
        if row < len(self._slots):
            self._slots[row] = slot
        inner, outer = self.pairs[row]
        for roi, box in ((inner, slot.inner), (outer, slot.outer)):
            x1, y1, x2, y2 = box
            roi.blockSignals(True)
            try:
                roi.setPos((x1 * w, y1 * h), update=False, finish=False)
                roi.setSize(((x2 - x1) * w, (y2 - y1) * h), update=True, finish=False)
            finally:
                roi.blockSignals(False)
        names = self._names
        text = slot.name or (names[slot.class_id] if slot.class_id < len(names) else f"class {slot.class_id}")
        self.labels[row].setText(f"{row}: {text}")
        self.labels[row].setPos(slot.outer[0] * w, slot.outer[1] * h)

    def box_of(self, roi: pg.RectROI) -> Box:
        x, y = roi.pos()
        sw, sh = roi.size()
        return to_normalised((x, y, x + sw, y + sh), *self.size)

    def boxes(self, row: int) -> tuple[Box, Box]:
        inner, outer = self.pairs[row]
        return self.box_of(inner), self.box_of(outer)

    def _changed(self, row: int, finished: bool) -> None:
        inner, outer = self.boxes(row)
        (self.moved if finished else self.moving).emit(row, inner, outer)

    def _clicked(self, row: int, which: str) -> None:
        self.selected.emit(row, which)

    def colour_by_match(self, filled: Sequence[bool] | None) -> None:
        """After "Try": green when the slot was filled, red when missing; None resets."""
        self._filled = None if filled is None else list(filled)
        for row, (inner, outer) in enumerate(self.pairs):
            editable = self.selection[0] == row
            inner.setPen(_pen(self._color(row), "inner", editable and self.selection[1] == "inner"))
            outer.setPen(_pen(self._color(row), "outer", editable and self.selection[1] == "outer"))
