"""Detection boxes and pattern slots drawn over the image: one graphics item, painted in place.

A cycle can bring hundreds of boxes (a model on a busy photo); one QGraphicsItem per box
and one text item per label cost the GUI thread 0.25-1.3 s per result (setText lays out a
text document; each item is indexed by the scene). Here `show` only stores plain lists
and asks for one repaint; `paint` draws every rectangle in device pixels (pens cosmetic,
batched per colour) and the labels from a cache of QStaticText. Labels: every slot's,
and the LABELS_MAX most confident detections' (hundreds of overlapping labels read as
noise; every box is drawn). The item is cached in device pixels (Qt's
DeviceCoordinateCache): a new picture underneath, or a repaint of the view, reuses it.

Coordinates are ORIGINAL image pixels; the item's parent sits in the same view as the
picture, so a downscaled display image still lines up. Labels keep their size whatever
the zoom, at the box's top-left corner (kept inside the frame).
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass

from PySide6.QtCore import QPointF, QRectF, Qt
from PySide6.QtGui import QBrush, QColor, QFont, QFontMetricsF, QPainter, QPen, QStaticText
from PySide6.QtWidgets import QGraphicsItem

from inspection_station.core.detection import Detection
from inspection_station.core.patterns.matching import wrong_part_name
from inspection_station.gui import theme

LABEL_PT = 13
LABELS_MAX = 60  # detection labels drawn per result, most confident first
LABEL_CACHE = 2000  # distinct label texts kept as QStaticText
PAD = 3  # px around a label's text


def _pen(color: str, width: float, dashed: bool = False) -> QPen:
    pen = QPen(QColor(color))
    pen.setWidthF(width)
    pen.setCosmetic(True)  # width in screen pixels, whatever the zoom
    if dashed:
        pen.setStyle(Qt.PenStyle.DashLine)
    return pen


@dataclass(frozen=True, slots=True)
class DrawnBox:
    rect: QRectF  # original image pixels
    color: str
    width: float
    dashed: bool = False
    shade: int = 0  # alpha of a fill in `color` (a missing slot)


@dataclass(frozen=True, slots=True)
class DrawnLabel:
    text: str
    at: QPointF  # original image pixels
    fill: str
    ink: str
    below: bool = False  # under the point (a wrong part's label), else above it


class OverlayItem(QGraphicsItem):
    """Paints the overlay's boxes and labels; `set_content` swaps them in one go."""

    def __init__(self, parent: QGraphicsItem | None = None) -> None:
        super().__init__(parent)
        self.setCacheMode(QGraphicsItem.CacheMode.DeviceCoordinateCache)  # painted once per content or zoom
        self.boxes: list[DrawnBox] = []
        self.labels: list[DrawnLabel] = []
        self._bounds = QRectF(0, 0, 1, 1)
        self.font = QFont("Sans Serif")
        self.font.setPointSize(theme.pt(LABEL_PT))
        self.font.setBold(True)
        self._metrics = QFontMetricsF(self.font)
        self._texts: OrderedDict[str, QStaticText] = OrderedDict()
        self._pens: dict[tuple, QPen] = {}

    def set_content(self, boxes: list[DrawnBox], labels: list[DrawnLabel], width: int, height: int) -> None:
        bounds = QRectF(0, 0, max(1, width), max(1, height))
        if bounds != self._bounds:
            self.prepareGeometryChange()
            self._bounds = bounds
        self.boxes, self.labels = boxes, labels
        self.update()

    def boundingRect(self) -> QRectF:  # noqa: N802 (Qt)
        return self._bounds

    def _pen_for(self, color: str, width: float, dashed: bool) -> QPen:
        key = (color, width, dashed)
        pen = self._pens.get(key)
        if pen is None:
            pen = self._pens[key] = _pen(color, width, dashed)
        return pen

    def _static(self, text: str) -> QStaticText:
        static = self._texts.get(text)
        if static is None:
            static = QStaticText(text)
            static.setTextFormat(Qt.TextFormat.PlainText)
            static.prepare(font=self.font)
            self._texts[text] = static
            if len(self._texts) > LABEL_CACHE:
                self._texts.popitem(last=False)
        else:
            self._texts.move_to_end(text)
        return static

    def paint(self, painter: QPainter, option, widget=None) -> None:
        if not self.boxes and not self.labels:
            return
        t = painter.transform()  # original pixels -> device: scale and shift (no rotation here)
        frame = t.mapRect(self._bounds)
        painter.save()
        painter.resetTransform()
        painter.setRenderHint(QPainter.RenderHint.Antialiasing, False)
        groups: dict[tuple, list[QRectF]] = {}
        for box in self.boxes:
            rect = t.mapRect(box.rect)
            if box.shade:
                shade = QColor(box.color)
                shade.setAlpha(box.shade)
                painter.fillRect(rect, shade)
            groups.setdefault((box.color, box.width, box.dashed), []).append(rect)
        painter.setBrush(QBrush(Qt.BrushStyle.NoBrush))
        for (color, width, dashed), rects in groups.items():
            painter.setPen(self._pen_for(color, width, dashed))
            painter.drawRects(rects)
        painter.setFont(self.font)
        height = self._metrics.height() + 2 * PAD
        for label in self.labels:
            static = self._static(label.text)
            size = static.size()
            point = t.map(label.at)
            x = min(max(point.x(), frame.left()), max(frame.left(), frame.right() - size.width() - 2 * PAD))
            y = point.y() if label.below else point.y() - height
            y = min(max(y, frame.top()), max(frame.top(), frame.bottom() - height))  # inside the frame
            painter.fillRect(QRectF(x, y, size.width() + 2 * PAD, height), QColor(label.fill))
            painter.setPen(QColor(label.ink))
            painter.drawStaticText(QPointF(x + PAD, y + PAD), static)
        painter.restore()


class Overlay:
    """What one cycle found, drawn on top of its frame.

    - detection boxes: colour per class, label "name 0.93"
    - pattern slots of the best variant: inner (solid) and outer (dashed) bounds,
      green when filled, red (and shaded, labelled "missing") when not
    """

    def __init__(self, parent: QGraphicsItem, class_colors: Sequence[str] = (), *, labels_below: bool = False) -> None:
        self.root = parent
        self._class_colors = tuple(class_colors)
        self.labels_below = labels_below  # the pattern editor's slot names sit above the boxes
        self.item = OverlayItem(parent)
        self.item.setZValue(10)
        self._detections: list[DrawnBox] = []
        self._det_labels: list[DrawnLabel] = []
        self._slots: list[tuple[DrawnBox, DrawnBox, bool]] = []
        self._slot_labels: list[DrawnLabel] = []

    # --- public ------------------------------------------------------------------------------

    def set_class_colors(self, class_colors: Sequence[str]) -> None:
        """Takes effect with the next `show` (settings changed by the engineer)."""
        self._class_colors = tuple(class_colors)

    def set_visible(self, visible: bool) -> None:
        self.root.setVisible(visible)

    def is_visible(self) -> bool:
        return self.root.isVisible()

    def clear(self) -> None:
        self._detections, self._det_labels, self._slots, self._slot_labels = [], [], [], []
        self.item.set_content([], [], 1, 1)

    def show(self, detections: Sequence[Detection], match, width: int, height: int) -> None:
        """Draw `detections` and the slots of `match` (a MatchResult or None): plain lists
        and one repaint, whatever the count."""
        boxes: list[DrawnBox] = []
        labels: list[DrawnLabel] = []
        slots: list[tuple[DrawnBox, DrawnBox, bool]] = []
        slot_labels: list[DrawnLabel] = []
        for slot in getattr(match, "slots", None) or ():
            color = theme.SLOT_FILLED if slot.matched else theme.SLOT_MISSING
            pen_width = 2 if slot.matched else 3
            inner = DrawnBox(_to_pixels(slot.inner, width, height), color, pen_width)
            outer = DrawnBox(_to_pixels(slot.outer, width, height), color, pen_width, dashed=True,
                             shade=0 if slot.matched else 60)
            slots.append((inner, outer, bool(slot.matched)))
            if not slot.matched:
                wrong = wrong_part_name(slot, detections)
                if wrong:  # under the box: the wrong part's own label sits on top of it
                    slot_labels.append(DrawnLabel(f"wrong: {wrong}", outer.rect.bottomLeft(),
                                                  theme.SLOT_MISSING, "#ffffff", below=True))
                else:
                    slot_labels.append(DrawnLabel(f"missing {slot.name or f'class {slot.class_id}'}",
                                                  outer.rect.topLeft(), theme.SLOT_MISSING, "#ffffff"))
        colors = {}
        for det in detections:
            color = colors.get(det.class_id)
            if color is None:
                color = colors[det.class_id] = theme.class_color(det.class_id, self._class_colors)
            x1, y1, x2, y2 = det.box
            boxes.append(DrawnBox(QRectF(x1, y1, x2 - x1, y2 - y1), color, 3))
        labelled = range(len(detections))
        if len(detections) > LABELS_MAX:
            labelled = sorted(sorted(labelled, key=lambda i: -detections[i].score)[:LABELS_MAX])
        for i in labelled:
            det = detections[i]
            rect = boxes[i].rect
            labels.append(DrawnLabel(f"{det.class_name} {det.score:.2f}",
                                     rect.bottomLeft() if self.labels_below else rect.topLeft(), boxes[i].color,
                                     "#000000", below=self.labels_below))
        self._detections, self._det_labels, self._slots, self._slot_labels = boxes, labels, slots, slot_labels
        # slots under the detections, their labels on top of everything
        drawn = [b for pair in slots for b in (pair[1], pair[0])] + boxes
        self.item.set_content(drawn, labels + slot_labels, width, height)

    # --- for tests and tools: what is drawn right now -----------------------------------------

    def drawn_boxes(self) -> list[QRectF]:
        return [b.rect for b in self._detections]

    def drawn_box_colors(self) -> list[str]:
        return [QColor(b.color).name() for b in self._detections]

    def drawn_labels(self) -> list[str]:
        return [label.text for label in self._det_labels]

    def drawn_slot_labels(self) -> list[str]:
        return [label.text for label in self._slot_labels]

    def drawn_slots(self) -> list[tuple[QRectF, QRectF, bool]]:
        """(inner, outer, filled) per drawn slot."""
        return [(inner.rect, outer.rect, filled) for inner, outer, filled in self._slots]

    def drawn_slot_colors(self) -> list[tuple[str, bool, bool]]:
        """(colour, inner solid, outer dashed) per drawn slot."""
        return [(QColor(inner.color).name(), not inner.dashed, outer.dashed) for inner, outer, _ in self._slots]


def _to_pixels(box: Sequence[float], width: int, height: int) -> QRectF:
    x1, y1, x2, y2 = box
    return QRectF(x1 * width, y1 * height, (x2 - x1) * width, (y2 - y1) * height)
