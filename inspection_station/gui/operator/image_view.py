"""The big picture: live frames (newest wins, drawn on a timer) or a held cycle with its overlay.

One `setImage` per displayed frame: C-contiguous uint8, explicit levels (0, 255), no
autoLevels, so pyqtgraph skips its per-frame level sampling. The one live-frame path:
each display tick takes the newest frame from its `frame_source` (the station, which
empties the camera worker's one-frame slot), so the display rate is independent of the
camera rate, no buffer sits in between and a slow paint never builds a queue.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QRectF, QTimer, Signal
from PySide6.QtWidgets import QVBoxLayout, QWidget

from inspection_station.core.frame import Frame
from inspection_station.core.states import ViewMode
from inspection_station.gui.operator.overlay import Overlay

LEVELS = (0, 255)
FrameSource = Callable[[], Frame | None]  # the newest frame since the last call, or None


class ImageView(QWidget):
    """Passive view: live frames from `frame_source`; the window says `hold` and `go_live`."""

    frame_drawn = Signal()  # after each setImage (tests and the live fps counter)
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
        self.image_item = pg.ImageItem(axisOrder="row-major")
        self.image_item.setZValue(0)
        self.view.addItem(self.image_item)
        # Overlay lives beside the image (not inside it) in original-pixel coordinates.
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
        self._shape: tuple[int, int] | None = None  # (w, h) the view was last fitted to
        self._timer = QTimer(self)
        self._timer.setInterval(max(1, int(1000 / display_hz)))
        self._timer.timeout.connect(self._draw_pending)
        self._timer.start()

    # --- what to show --------------------------------------------------------------------

    def hold(self, image: np.ndarray, detections, match, width: int, height: int) -> None:
        """Show a cycle's frame with its overlay until `go_live` or the next `hold`.

        `image` may be a downscaled preview: it is stretched to `width` x `height`
        (the original size), the overlay's coordinate system.
        """
        self._set_mode(ViewMode.HELD)
        self._set_image(image, width, height)
        self.overlay.show(detections, match, width, height)

    def go_live(self) -> None:
        self._set_mode(ViewMode.LIVE)
        self.overlay.clear()

    def _set_mode(self, mode: ViewMode) -> None:
        if mode != self.mode:
            self.mode = mode
            self.mode_changed.emit(mode)

    def set_overlay_visible(self, visible: bool) -> None:
        self.overlay.set_visible(visible)

    # --- drawing -------------------------------------------------------------------------------

    def _draw_pending(self) -> None:
        """A display tick: draw the source's newest frame, if any came since the last tick."""
        if self.mode != ViewMode.LIVE or self.frame_source is None:
            return  # held: the camera's live frames are off (the window stops them)
        frame = self.frame_source()
        if frame is not None:
            step = self.live_step(frame.width)
            image = frame.rgb if step == 1 else frame.rgb[::step, ::step]
            self._set_image(image, frame.width, frame.height)

    def live_step(self, image_width: int) -> int:
        """Pixel step for live frames: about one image pixel per screen pixel.

        A 5 MP frame costs ~23 ms per setImage + paint, every 2nd pixel ~8 ms; the view
        cannot show more pixels than it has anyway. Held cycles are shown at full size.
        """
        screen_px = self.graphics.viewport().width() * self.devicePixelRatioF()
        return max(1, round(image_width / max(screen_px, 1.0)))

    def _set_image(self, image: np.ndarray, width: int, height: int) -> None:
        if image.dtype != np.uint8 or not image.flags.c_contiguous:
            image = np.ascontiguousarray(image, dtype=np.uint8)
        self.image_item.setImage(image, autoLevels=False, levels=LEVELS)
        self.image_item.setRect(QRectF(0, 0, width, height))
        if self._shape != (width, height):
            self._shape = (width, height)
            self.placeholder.setVisible(False)
            self.view.setRange(QRectF(0, 0, width, height), padding=0)
        self.frames_drawn += 1
        self.frame_drawn.emit()
