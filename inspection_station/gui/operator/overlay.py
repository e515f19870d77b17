"""Detection boxes and pattern slots drawn over the image as pyqtgraph child items.

Items are pooled and updated in place (setRect / setPos / setText); the image is never
redrawn to show boxes. Coordinates are ORIGINAL image pixels; the overlay's parent is
placed in the same view as the image item, so a downscaled preview image that was
stretched back to the original size (ImageItem.setRect) still lines up.
"""

from __future__ import annotations

from collections.abc import Sequence

import pyqtgraph as pg
from PySide6.QtCore import QRectF, Qt
from PySide6.QtGui import QBrush, QColor, QPen
from PySide6.QtWidgets import QGraphicsItem, QGraphicsRectItem

from inspection_station.core.detection import Detection
from inspection_station.core.patterns.matching import wrong_part_name
from inspection_station.gui import theme

Z_SLOTS = 10
Z_BOXES = 20
Z_LABELS = 30


def _pen(color: str, width: float, dashed: bool = False) -> QPen:
    pen = QPen(QColor(color))
    pen.setWidthF(width)
    pen.setCosmetic(True)  # width in screen pixels, whatever the zoom
    if dashed:
        pen.setStyle(Qt.PenStyle.DashLine)
    return pen


class _Pool:
    """Reusable graphics items of one kind: `take()` the next, `finish()` hides the rest."""

    def __init__(self, factory) -> None:
        self._factory = factory
        self.items: list = []
        self._used = 0

    def begin(self) -> None:
        self._used = 0

    def take(self):
        if self._used == len(self.items):
            self.items.append(self._factory())
        item = self.items[self._used]
        self._used += 1
        item.setVisible(True)
        return item

    def finish(self) -> None:
        for item in self.items[self._used:]:
            item.setVisible(False)

    @property
    def visible(self) -> list:
        return self.items[: self._used]


class Overlay:
    """What one cycle found, drawn on top of its frame.

    - detection boxes: colour per class, label "name 0.93"
    - pattern slots of the best variant: inner (solid) and outer (dashed) bounds,
      green when filled, red (and shaded, labelled "missing") when not
    """

    def __init__(self, parent: QGraphicsItem, class_colors: Sequence[str] = ()) -> None:
        self.root = parent
        self._class_colors = tuple(class_colors)
        self._boxes = _Pool(lambda: self._rect(Z_BOXES))
        self._box_labels = _Pool(lambda: self._label())
        self._slot_inner = _Pool(lambda: self._rect(Z_SLOTS))
        self._slot_outer = _Pool(lambda: self._rect(Z_SLOTS))
        self._slot_labels = _Pool(lambda: self._label())
        self._pools = (self._boxes, self._box_labels, self._slot_inner, self._slot_outer, self._slot_labels)

    def _rect(self, z: float) -> QGraphicsRectItem:
        item = QGraphicsRectItem(self.root)
        item.setZValue(z)
        item.setBrush(QBrush(Qt.BrushStyle.NoBrush))
        return item

    def _label(self) -> pg.TextItem:
        item = pg.TextItem(anchor=(0, 1))  # bottom-left at the box corner; ignores zoom
        item.setParentItem(self.root)
        item.setZValue(Z_LABELS)
        item.setFont(pg.QtGui.QFont("Sans Serif", 13, pg.QtGui.QFont.Weight.Bold))
        return item

    # --- public ------------------------------------------------------------------------------

    def set_class_colors(self, class_colors: Sequence[str]) -> None:
        """Takes effect with the next `show` (settings changed by the engineer)."""
        self._class_colors = tuple(class_colors)

    def set_visible(self, visible: bool) -> None:
        self.root.setVisible(visible)

    def is_visible(self) -> bool:
        return self.root.isVisible()

    def clear(self) -> None:
        for pool in self._pools:
            pool.begin()
            pool.finish()

    def show(self, detections: Sequence[Detection], match, width: int, height: int) -> None:
        """Draw `detections` and the slots of `match` (a MatchResult or None) in place."""
        for pool in self._pools:
            pool.begin()
        for det in detections:
            color = theme.class_color(det.class_id, self._class_colors)
            x1, y1, x2, y2 = (float(v) for v in det.box)
            box = self._boxes.take()
            box.setPen(_pen(color, 3))
            box.setRect(QRectF(x1, y1, x2 - x1, y2 - y1))
            label = self._box_labels.take()
            label.fill = pg.mkBrush(color)
            label.setText(f"{det.class_name} {det.score:.2f}", color="#000000")
            label.setPos(x1, y1)
        for slot in getattr(match, "slots", None) or ():
            color = theme.SLOT_FILLED if slot.matched else theme.SLOT_MISSING
            inner = _to_pixels(slot.inner, width, height)
            outer = _to_pixels(slot.outer, width, height)
            inner_item = self._slot_inner.take()
            inner_item.setPen(_pen(color, 2 if slot.matched else 3))
            inner_item.setRect(inner)
            outer_item = self._slot_outer.take()
            outer_item.setPen(_pen(color, 2 if slot.matched else 3, dashed=True))
            shade = QColor(color)
            shade.setAlpha(0 if slot.matched else 60)
            outer_item.setBrush(QBrush(shade))
            outer_item.setRect(outer)
            if not slot.matched:
                label = self._slot_labels.take()
                label.fill = pg.mkBrush(theme.SLOT_MISSING)
                wrong = wrong_part_name(slot, detections)
                if wrong:  # under the box: the wrong part's own label sits on top of it
                    label.setAnchor((0, 0))
                    label.setText(f"wrong: {wrong}", color="#ffffff")
                    label.setPos(outer.left(), outer.bottom())
                else:
                    label.setAnchor((0, 1))
                    label.setText(f"missing {slot.name or f'class {slot.class_id}'}", color="#ffffff")
                    label.setPos(outer.left(), outer.top())
        for pool in self._pools:
            pool.finish()

    # --- for tests and tools: what is drawn right now -----------------------------------------

    def drawn_boxes(self) -> list[QRectF]:
        return [item.rect() for item in self._boxes.visible]

    def drawn_labels(self) -> list[str]:
        return [item.toPlainText() for item in self._box_labels.visible]

    def drawn_slot_labels(self) -> list[str]:
        return [item.toPlainText() for item in self._slot_labels.visible]

    def drawn_slots(self) -> list[tuple[QRectF, QRectF, bool]]:
        """(inner, outer, filled) per drawn slot."""
        return [
            (inner.rect(), outer.rect(), inner.pen().color().name() == QColor(theme.SLOT_FILLED).name())
            for inner, outer in zip(self._slot_inner.visible, self._slot_outer.visible, strict=True)
        ]


def _to_pixels(box: Sequence[float], width: int, height: int) -> QRectF:
    x1, y1, x2, y2 = box
    return QRectF(x1 * width, y1 * height, (x2 - x1) * width, (y2 - y1) * height)
