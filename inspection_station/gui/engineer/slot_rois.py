"""Draggable, resizable rectangles (pyqtgraph ROIs) for the slots: outer and inner per slot.

ROIs live in image-pixel coordinates on a y-down view; slots are normalised, so this
module converts both ways. A drag reports live (`moving`) and once at the end
(`moved`, one undo step); `set_slots` moves ROIs with their signals blocked so a
table edit never echoes back as a drag.
"""

from __future__ import annotations

from collections.abc import Sequence

import pyqtgraph as pg
from PySide6.QtCore import QObject, Signal

from inspection_station.core.patterns.model import Box, Slot

OUTER_PEN = "#ffb300"
INNER_PEN = "#29b6f6"
OK_PEN = "#43a047"
MISSING_PEN = "#e53935"


def _rect_roi(box: Box, w: int, h: int, color: str, dashed: bool) -> pg.RectROI:
    pen = pg.mkPen(color, width=2, style=pg.QtCore.Qt.PenStyle.DashLine if dashed else pg.QtCore.Qt.PenStyle.SolidLine)
    x1, y1, x2, y2 = box
    roi = pg.RectROI((x1 * w, y1 * h), ((x2 - x1) * w, (y2 - y1) * h), pen=pen, movable=True, removable=False)
    roi.addScaleHandle((0, 0), (1, 1))  # resize from the top-left corner too
    return roi


class SlotRois(QObject):
    moving = Signal(int, object, object)  # row, inner Box, outer Box (live, during a drag)
    moved = Signal(int, object, object)  # row, inner Box, outer Box (drag finished)

    def __init__(self, view: pg.ViewBox, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.view = view
        self.size = (1, 1)  # image width, height in pixels
        self.pairs: list[tuple[pg.RectROI, pg.RectROI]] = []  # (inner, outer) per slot
        self.labels: list[pg.TextItem] = []

    def clear(self) -> None:
        for inner, outer in self.pairs:
            self.view.removeItem(inner)
            self.view.removeItem(outer)
        for label in self.labels:
            self.view.removeItem(label)
        self.pairs, self.labels = [], []

    def set_slots(self, slots: Sequence[Slot], size: tuple[int, int], names: Sequence[str] = ()) -> None:
        """Show `slots` on an image of `size` (w, h); rebuilds only when the count changed."""
        if size != self.size or len(slots) != len(self.pairs):
            self.clear()
            self.size = size
            w, h = size
            for row, slot in enumerate(slots):
                outer = _rect_roi(slot.outer, w, h, OUTER_PEN, dashed=False)
                inner = _rect_roi(slot.inner, w, h, INNER_PEN, dashed=True)
                for roi in (outer, inner):
                    roi.setZValue(20)
                    self.view.addItem(roi)
                    roi.sigRegionChanged.connect(lambda _r, row=row: self._changed(row, finished=False))
                    roi.sigRegionChangeFinished.connect(lambda _r, row=row: self._changed(row, finished=True))
                label = pg.TextItem("", color="#ffffff", anchor=(0, 1))
                label.setZValue(21)
                self.view.addItem(label)
                self.pairs.append((inner, outer))
                self.labels.append(label)
        for row, slot in enumerate(slots):
            self.place(row, slot)
            text = slot.name or (names[slot.class_id] if slot.class_id < len(names) else f"class {slot.class_id}")
            self.labels[row].setText(f"{row}: {text}")

    def place(self, row: int, slot: Slot) -> None:
        """Move one slot's rectangles without emitting anything."""
        w, h = self.size
        inner, outer = self.pairs[row]
        for roi, box in ((inner, slot.inner), (outer, slot.outer)):
            x1, y1, x2, y2 = box
            roi.blockSignals(True)
            try:
                roi.setPos((x1 * w, y1 * h), update=False, finish=False)
                roi.setSize(((x2 - x1) * w, (y2 - y1) * h), update=True, finish=False)
            finally:
                roi.blockSignals(False)
        self.labels[row].setPos(slot.outer[0] * w, slot.outer[1] * h)

    def box_of(self, roi: pg.RectROI) -> Box:
        w, h = self.size
        x, y = roi.pos()
        sw, sh = roi.size()
        # 6 decimals as the YAML keeps them: no 0.30000000000000004 in the file
        return tuple(round(v, 6) for v in (x / w, y / h, (x + sw) / w, (y + sh) / h))  # type: ignore[return-value]

    def boxes(self, row: int) -> tuple[Box, Box]:
        inner, outer = self.pairs[row]
        return self.box_of(inner), self.box_of(outer)

    def _changed(self, row: int, finished: bool) -> None:
        inner, outer = self.boxes(row)
        (self.moved if finished else self.moving).emit(row, inner, outer)

    def colour_by_match(self, filled: Sequence[bool] | None) -> None:
        """After "Try": outer green when the slot was filled, red when missing; None resets."""
        for row, (_inner, outer) in enumerate(self.pairs):
            color = OUTER_PEN if filled is None or row >= len(filled) else (OK_PEN if filled[row] else MISSING_PEN)
            outer.setPen(pg.mkPen(color, width=2))
