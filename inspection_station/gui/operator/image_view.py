"""The big picture: live frames (newest wins) or a held cycle with its overlay.

The one live-frame path: the display thread (display_image.py) takes the newest frame
from `frame_source` (the station, which empties the camera worker's one-frame slot) at
the display rate, so the display rate is independent of the camera rate and no buffer
sits in between. It hands back a picture already cropped and scaled to the screen pixels
the view shows; the GUI thread swaps it in and repaints the picture's area. A held cycle
goes the same way (prepared off the GUI thread, again on zoom), so no GUI-thread work
grows with the frame size; the overlay (overlay.py) is one item painted in place.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QEvent, QRectF, Signal
from PySide6.QtWidgets import QVBoxLayout, QWidget

from inspection_station.core.frame import ColorOrder, Frame
from inspection_station.core.states import ViewMode
from inspection_station.gui.operator.display_image import (
    DisplayPreparer,
    FrameItem,
    Prepared,
    ViewTarget,
)
from inspection_station.gui.operator.overlay import Overlay

FrameSource = Callable[[], Frame | None]  # the newest frame since the last call, or None


class ImageView(QWidget):
    """Passive view: live frames from `frame_source`; the window says `hold` and `go_live`."""

    frame_drawn = Signal()  # after each new picture (tests and the live fps counter)
    mode_changed = Signal(str)  # "live" / "held"

    def __init__(
        self,
        class_colors: Sequence[str] = (),
        display_hz: float = 30.0,
        parent=None,
        *,
        frame_source: FrameSource | None = None,
    ) -> None:
        super().__init__(parent)
        self.frame_source = frame_source
        self.graphics = pg.GraphicsView(background="#000000")
        self.view = pg.ViewBox(lockAspect=True, invertY=True, enableMenu=False)
        self.view.setDefaultPadding(0.0)
        self.graphics.setCentralItem(self.view)
        self.picture = FrameItem()
        self.picture.setZValue(0)
        self.view.addItem(self.picture)
        # Overlay lives beside the picture (not inside it) in original-pixel coordinates.
        self.overlay_root = pg.ItemGroup()
        self.overlay_root.setZValue(10)
        self.view.addItem(self.overlay_root)
        self.overlay = Overlay(self.overlay_root, class_colors)
        self.placeholder = pg.TextItem("Waiting for the camera …", color="#9e9e9e", anchor=(0.5, 0.5))
        self.placeholder.setFont(pg.QtGui.QFont("Sans Serif", 28))
        self.view.addItem(self.placeholder)
        self.view.setRange(QRectF(-1, -1, 2, 2))

        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.graphics)

        self.mode = ViewMode.LIVE
        self.frames_drawn = 0
        self.last_made_ms = 0.0  # display-thread time of the newest picture (benchmarks)
        self._shape: tuple[int, int] | None = None  # (w, h) the view was last fitted to
        self._token = 0  # the hold whose pictures are wanted; 0 = live
        self.preparer = DisplayPreparer(self._take_frame, display_hz, self)
        self.preparer.ready.connect(self._show_prepared)
        self.destroyed.connect(self.preparer.stop_event.set)  # a plain Event: safe in a destructor
        self.view.sigRangeChanged.connect(lambda *_: self._publish_target())
        self.graphics.viewport().installEventFilter(self)
        self.preparer.start()

    def _take_frame(self) -> Frame | None:  # on the display thread
        source = self.frame_source
        return source() if source is not None else None

    # --- what to show --------------------------------------------------------------------

    def hold(self, image: np.ndarray, detections, match, width: int, height: int,
             color: ColorOrder = ColorOrder.RGB) -> None:
        """Show a cycle's frame with its overlay until `go_live` or the next `hold`.

        `image` may be a downscaled preview: it is stretched to `width` x `height`
        (the original size), the overlay's coordinate system."""
        self._set_mode(ViewMode.HELD)
        self._token = self.preparer.hold(image, color, width, height)
        self._fit(width, height)
        self.overlay.show(detections, match, width, height)

    def go_live(self) -> None:
        self._set_mode(ViewMode.LIVE)
        self._token = 0
        self.preparer.go_live()
        self.overlay.clear()

    def _set_mode(self, mode: ViewMode) -> None:
        if mode != self.mode:
            self.mode = mode
            self.mode_changed.emit(mode)

    def set_overlay_visible(self, visible: bool) -> None:
        self.overlay.set_visible(visible)

    def stop(self) -> None:
        """End the display thread (the window closing; tests)."""
        self.preparer.stop()

    # --- drawing -------------------------------------------------------------------------------

    def _show_prepared(self, prepared: Prepared) -> None:
        """A picture from the display thread (GUI thread): swap it in if it is still wanted."""
        if prepared.token != self._token:
            return  # a live picture after a hold, or an older hold's
        self.picture.set_prepared(prepared)
        self._fit(*prepared.frame)
        self.last_made_ms = prepared.made_ms
        self.frames_drawn += 1
        self.frame_drawn.emit()

    def _fit(self, width: int, height: int) -> None:
        if self._shape != (width, height):
            self._shape = (width, height)
            self.placeholder.setVisible(False)
            self.view.setRange(QRectF(0, 0, width, height), padding=0)
            self._publish_target()

    def eventFilter(self, watched, event) -> bool:  # noqa: N802 (Qt)
        if event.type() == QEvent.Type.Resize:
            self._publish_target()
        return super().eventFilter(watched, event)

    def _publish_target(self) -> None:
        """Tell the display thread which part of the frame is shown on how many screen pixels."""
        if self._shape is None:
            return
        width, height = self._shape
        (x0, x1), (y0, y1) = self.view.viewRange()
        region = QRectF(0, 0, width, height).intersected(QRectF(x0, y0, x1 - x0, y1 - y0))
        if region.isEmpty():
            return
        device = self.view.mapViewToDevice(region).boundingRect()
        ratio = self.graphics.devicePixelRatioF()
        self.preparer.set_target(ViewTarget(
            (width, height), (region.left(), region.top(), region.right(), region.bottom()),
            (max(1, round(device.width() * ratio)), max(1, round(device.height() * ratio)))))
