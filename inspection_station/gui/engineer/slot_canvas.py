"""The pattern editor's canvas: the frame, the slots on it, zoom, pan and keyboard nudges.

Wheel zooms at the pointer, dragging the background pans, Fit shows the whole frame and
1:1 one image pixel per screen pixel. Arrow keys move the selected box by one image
pixel (Shift: ten), Ctrl+arrow moves its right / bottom edge; I and O pick the inner or
the outer box of the selected slot. The canvas only asks: the editor changes the draft.
"""

from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QEvent, QObject, QRectF, Qt, Signal
from PySide6.QtWidgets import (
    QButtonGroup,
    QHBoxLayout,
    QLabel,
    QSizePolicy,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from inspection_station.gui.engineer.slot_rois import SlotRois

ZOOM_STEP = 1.25
_ARROWS = {Qt.Key.Key_Left: (-1, 0), Qt.Key.Key_Right: (1, 0), Qt.Key.Key_Up: (0, -1), Qt.Key.Key_Down: (0, 1)}


class SlotCanvas(QWidget):
    nudge_requested = Signal(int, int, bool)  # dx, dy in image pixels, resize (right/bottom edge)
    box_chosen = Signal(str)  # "inner" / "outer" from the toggle or the I / O keys

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.graphics = pg.GraphicsView(background="#202020")
        self.graphics.setFocusPolicy(Qt.FocusPolicy.StrongFocus)  # a click gives it the arrow keys
        self.graphics.setMinimumSize(200, 150)
        self.graphics.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Expanding)
        self.view = pg.ViewBox(lockAspect=True, invertY=True, enableMenu=False)
        self.graphics.setCentralItem(self.view)
        self.image_item = pg.ImageItem(axisOrder="row-major")
        self.view.addItem(self.image_item)
        self.rois = SlotRois(self.view, self)
        self.image_size = (1, 1)

        tools = QHBoxLayout()
        self.fit_button = self._tool("&Fit", "Show the whole frame", self.fit)
        self.one_to_one_button = self._tool("&1:1", "One image pixel per screen pixel", self.one_to_one)
        self.zoom_in_button = self._tool("+", "Zoom in (or the mouse wheel)", lambda: self.zoom(ZOOM_STEP))
        self.zoom_out_button = self._tool("−", "Zoom out", lambda: self.zoom(1 / ZOOM_STEP))
        for b in (self.fit_button, self.one_to_one_button, self.zoom_in_button, self.zoom_out_button):
            tools.addWidget(b)
        tools.addSpacing(16)
        tools.addWidget(QLabel("Edit box:", self))
        self.inner_button = self._tool("&Inner", "Edit the selected slot's inner box (key I)", None, checkable=True)
        self.outer_button = self._tool("&Outer", "Edit the selected slot's outer box (key O)", None, checkable=True)
        self.outer_button.setChecked(True)
        group = QButtonGroup(self)
        group.setExclusive(True)
        for b in (self.inner_button, self.outer_button):
            group.addButton(b)
            tools.addWidget(b)
        self.inner_button.clicked.connect(lambda: self.box_chosen.emit("inner"))
        self.outer_button.clicked.connect(lambda: self.box_chosen.emit("outer"))
        self.hint = QLabel("arrows 1 px · Shift 10 px · Ctrl resize", self)
        self.hint.setStyleSheet("color: #a0a0a0;")
        self.hint.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)  # may be cut, never widens
        tools.addWidget(self.hint, 1)
        self.zoom_label = QLabel("", self)
        tools.addWidget(self.zoom_label)

        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addLayout(tools)
        layout.addWidget(self.graphics, 1)
        self.graphics.installEventFilter(self)
        self.view.sigRangeChanged.connect(lambda *_: self._show_zoom())

    def _tool(self, text: str, tip: str, slot, checkable: bool = False) -> QToolButton:
        button = QToolButton(self)  # compact: a push button's 80 px minimum would widen the editor
        button.setText(text)
        button.setToolTip(tip)
        button.setCheckable(checkable)
        button.setFocusPolicy(Qt.FocusPolicy.NoFocus)  # the arrow keys stay with the canvas
        if slot is not None:
            button.clicked.connect(slot)
        return button

    # --- image and view -----------------------------------------------------------------------

    def set_image(self, image: np.ndarray) -> None:
        self.image_item.setImage(image, levels=(0, 255), autoLevels=False)
        self.image_size = (int(image.shape[1]), int(image.shape[0]))
        self.fit()

    def fit(self) -> None:
        w, h = self.image_size
        self.view.setRange(QRectF(0, 0, w, h), padding=0.02)

    def screen_px_per_image_px(self) -> float:
        (x0, x1), _ = self.view.viewRange()
        return self.view.width() / (x1 - x0) if x1 > x0 else 1.0

    def one_to_one(self) -> None:
        """One image pixel per screen pixel, centred where the view is now."""
        (x0, x1), (y0, y1) = self.view.viewRange()
        cx, cy = (x0 + x1) / 2, (y0 + y1) / 2
        vw, vh = max(1.0, self.view.width()), max(1.0, self.view.height())
        self.view.setRange(QRectF(cx - vw / 2, cy - vh / 2, vw, vh), padding=0)

    def zoom(self, factor: float) -> None:
        self.view.scaleBy((1 / factor, 1 / factor))

    def _show_zoom(self) -> None:
        self.zoom_label.setText(f"{100 * self.screen_px_per_image_px():.0f} %")

    def set_box(self, which: str) -> None:
        (self.inner_button if which == "inner" else self.outer_button).setChecked(True)

    # --- keys -------------------------------------------------------------------------------

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:  # noqa: N802 (Qt)
        if watched is self.graphics and event.type() == QEvent.Type.KeyPress:
            return self.handle_key(event.key(), event.modifiers())
        return super().eventFilter(watched, event)

    def handle_key(self, key: int, modifiers) -> bool:
        if key in _ARROWS:
            step = 10 if modifiers & Qt.KeyboardModifier.ShiftModifier else 1
            dx, dy = _ARROWS[key]
            self.nudge_requested.emit(dx * step, dy * step, bool(modifiers & Qt.KeyboardModifier.ControlModifier))
            return True
        if key in (Qt.Key.Key_I, Qt.Key.Key_O):
            which = "inner" if key == Qt.Key.Key_I else "outer"
            self.set_box(which)
            self.box_chosen.emit(which)
            return True
        return False
