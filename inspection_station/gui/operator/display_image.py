"""The picture of the live view, made off the GUI thread at the size it is shown.

A 5 MP frame handed to the GUI thread cost it ~25 ms to convert and ~20 ms to scale
while painting, per frame (and a held cycle's full frame more): with cycles running the
display fell to half the camera's rate. Here one display thread takes the newest live
frame (or the held cycle's frame), crops it to the part of the frame the view shows,
scales it to the screen pixels that part covers (INTER_LINEAR) and converts it to a
QImage in the painter's native format (RGB32). The GUI thread only swaps that image
into `FrameItem`, which blits it at 1:1. A zoom or a resize asks for the held frame
again at the new size; nothing on the GUI thread grows with the frame.

Newest wins: the display thread polls the frame source at the display rate and drops
what it did not take; a live picture that arrives after `hold` is discarded by token.
"""

from __future__ import annotations

import logging
import math
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

import cv2
import numpy as np
from PySide6.QtCore import QObject, QPointF, QRectF, Signal
from PySide6.QtGui import QImage, QPainter
from PySide6.QtWidgets import QGraphicsItem

from inspection_station.core.frame import ColorOrder, Frame

log = logging.getLogger(__name__)

Region = tuple[float, float, float, float]  # x0, y0, x1, y1 in original frame pixels
DEFAULT_WIDTH = 1280  # before the view has said how big it is
_TO_BGRA = {ColorOrder.RGB: cv2.COLOR_RGB2BGRA, ColorOrder.BGR: cv2.COLOR_BGR2BGRA}


@dataclass(frozen=True, slots=True)
class ViewTarget:
    """What the view shows of a frame of `frame` size: `region`, on `device` screen pixels."""

    frame: tuple[int, int]
    region: Region
    device: tuple[int, int]


@dataclass(frozen=True, slots=True)
class Prepared:
    image: QImage  # RGB32 over `pixels` (kept alive with it)
    pixels: np.ndarray
    region: Region  # the part of the original frame the image covers
    frame: tuple[int, int]  # the original frame's width, height
    token: int  # 0: a live frame; else the hold it belongs to
    made_ms: float  # time spent on the display thread


def display_pixels(
    image: np.ndarray, color: ColorOrder, frame: tuple[int, int], target: ViewTarget | None
) -> tuple[np.ndarray, Region]:
    """BGRA pixels (RGB32 byte order) of the part of `image` the view shows, at the screen
    pixels it covers (never scaled up), and the region of the original frame they cover.

    `image` may be smaller than `frame` (a history preview): regions are in `frame` pixels."""
    width, height = frame
    ih, iw = image.shape[:2]
    sx, sy = iw / width, ih / height
    if target is not None and target.frame == frame:
        x0, y0, x1, y1 = target.region
        dw, dh = target.device
    else:
        x0, y0, x1, y1 = 0.0, 0.0, float(width), float(height)
        dw = min(iw, DEFAULT_WIDTH)
        dh = max(1, round(dw * height / width))
    ix0 = max(0, min(iw - 1, math.floor(x0 * sx)))
    iy0 = max(0, min(ih - 1, math.floor(y0 * sy)))
    ix1 = max(ix0 + 1, min(iw, math.ceil(x1 * sx)))
    iy1 = max(iy0 + 1, min(ih, math.ceil(y1 * sy)))
    crop = image[iy0:iy1, ix0:ix1]
    cw, ch = ix1 - ix0, iy1 - iy0
    ow, oh = min(cw, max(1, int(dw))), min(ch, max(1, int(dh)))
    if (ow, oh) != (cw, ch):
        crop = cv2.resize(crop, (ow, oh), interpolation=cv2.INTER_LINEAR)
    if crop.ndim == 2:
        bgra = cv2.cvtColor(crop, cv2.COLOR_GRAY2BGRA)
    else:
        bgra = cv2.cvtColor(crop, _TO_BGRA.get(color, cv2.COLOR_RGB2BGRA))  # row-strided crops need no copy
    return bgra, (ix0 / sx, iy0 / sy, ix1 / sx, iy1 / sy)


def to_qimage(bgra: np.ndarray) -> QImage:
    h, w = bgra.shape[:2]
    return QImage(bgra.data, w, h, bgra.strides[0], QImage.Format.Format_RGB32)


@dataclass(frozen=True, slots=True)
class _Held:
    image: np.ndarray
    color: ColorOrder
    frame: tuple[int, int]
    token: int


class DisplayPreparer(QObject):
    """The display thread: `ready(Prepared)` for each picture, queued to the GUI thread."""

    ready = Signal(object)

    def __init__(self, frame_source: Callable[[], Frame | None] | None, display_hz: float = 30.0,
                 parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.frame_source = frame_source
        self.period = 1.0 / max(1.0, display_hz)
        self.stop_event = threading.Event()
        self._wake = threading.Event()
        self._lock = threading.Lock()
        self._target: ViewTarget | None = None
        self._held: _Held | None = None
        self._held_done: tuple[int, ViewTarget | None] | None = None
        self._token = 0
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        if self._thread is None:
            self._thread = threading.Thread(target=self._run, name="display", daemon=True)
            self._thread.start()

    def stop(self, timeout: float = 2.0) -> None:
        self.stop_event.set()
        self._wake.set()
        if self._thread is not None and self._thread is not threading.current_thread():
            self._thread.join(timeout)

    def set_target(self, target: ViewTarget) -> None:
        with self._lock:
            changed = target != self._target
            self._target = target
        if changed:
            self._wake.set()

    def hold(self, image: np.ndarray, color: ColorOrder, width: int, height: int) -> int:
        """Prepare this frame (and again on every zoom) until `go_live`; returns its token."""
        with self._lock:
            self._token += 1
            self._held = _Held(image, color, (int(width), int(height)), self._token)
            token = self._token
        self._wake.set()
        return token

    def go_live(self) -> None:
        with self._lock:
            self._held = None
            self._held_done = None
        self._wake.set()

    # --- the display thread ---------------------------------------------------------------------

    def _prepare(self, image: np.ndarray, color: ColorOrder, frame: tuple[int, int], token: int,
                 target: ViewTarget | None) -> Prepared:
        started = time.perf_counter()
        bgra, region = display_pixels(image, color, frame, target)
        return Prepared(to_qimage(bgra), bgra, region, frame, token, (time.perf_counter() - started) * 1e3)

    def _emit(self, prepared: Prepared) -> bool:
        try:
            self.ready.emit(prepared)
        except RuntimeError:  # the view is gone (its C++ object deleted): the thread ends
            self.stop_event.set()
            return False
        return True

    def _run(self) -> None:
        next_tick = time.perf_counter()
        last_live: Frame | None = None
        live_target: ViewTarget | None = None
        last_error = ""
        while not self.stop_event.is_set():
            with self._lock:
                held, target = self._held, self._target
                wanted = (held.token, target) if held is not None else None
                todo = held is not None and wanted != self._held_done
            try:
                if held is not None:
                    if todo and self._emit(self._prepare(held.image, held.color, held.frame, held.token, target)):
                        with self._lock:
                            if self._held is held:
                                self._held_done = wanted
                    self._wake.wait()  # nothing more until a new hold, a zoom or live
                    self._wake.clear()
                    continue
                frame = self.frame_source() if self.frame_source is not None else None
                if frame is None and target != live_target:
                    frame = last_live  # a slow camera and a new view size: the last frame again
                if frame is not None:
                    self._emit(self._prepare(frame.image, frame.color, (frame.width, frame.height), 0, target))
                    last_live, live_target = frame, target
            except Exception as exc:  # a bad frame must not end the live view; said once per kind
                said = f"{type(exc).__name__}: {exc}"
                if said != last_error:
                    log.exception("display thread: a picture could not be prepared")
                last_error = said
            now = time.perf_counter()
            next_tick = max(next_tick + self.period, now)
            self._wake.wait(next_tick - now)
            self._wake.clear()


class FrameItem(QGraphicsItem):
    """Shows the newest `Prepared` picture over its region, in original frame pixels."""

    def __init__(self, parent: QGraphicsItem | None = None) -> None:
        super().__init__(parent)
        self.prepared: Prepared | None = None
        self._bounds = QRectF(0, 0, 1, 1)

    def set_prepared(self, prepared: Prepared) -> None:
        width, height = prepared.frame
        bounds = QRectF(0, 0, width, height)
        if bounds != self._bounds:
            self.prepareGeometryChange()
            self._bounds = bounds
        self.prepared = prepared
        self.update()

    def boundingRect(self) -> QRectF:  # noqa: N802 (Qt)
        return self._bounds

    def paint(self, painter: QPainter, option, widget=None) -> None:
        p = self.prepared
        if p is None:
            return
        x0, y0, x1, y1 = p.region
        target = QRectF(x0, y0, x1 - x0, y1 - y0)
        device = painter.transform().mapRect(target)
        ratio = painter.device().devicePixelRatioF() if painter.device() is not None else 1.0
        image = p.image
        if abs(device.width() * ratio - image.width()) <= 1.5 and abs(device.height() * ratio - image.height()) <= 1.5:
            image.setDevicePixelRatio(ratio)  # made for these screen pixels: a plain copy, no scaling
            painter.save()
            painter.resetTransform()
            painter.drawImage(QPointF(round(device.x() * ratio) / ratio, round(device.y() * ratio) / ratio), image)
            painter.restore()
        else:  # zoomed past 1:1, or the next picture for a new size is on its way
            painter.drawImage(target, image)
