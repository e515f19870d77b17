"""Letterbox: resize keeping aspect into the model input, padded with 114, centred."""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

PAD_VALUE = 114
# INTER_LINEAR is what the YOLO exports are trained with (ultralytics' LetterBox) and it
# costs ~1 ms whatever the frame size (it samples 2x2 source pixels per output pixel);
# INTER_AREA averages every pixel and costs 12-40 ms from 1.25 to 12 MP on this CPU.
INTERPOLATION = cv2.INTER_LINEAR


@dataclass(frozen=True, slots=True)
class Letterbox:
    """How an original image was placed into the model input (to map boxes back)."""

    scale: float
    pad_x: int
    pad_y: int
    width: int  # original image size
    height: int

    def to_original(self, boxes: np.ndarray) -> np.ndarray:
        """x1 y1 x2 y2 in model-input pixels -> original pixels, clipped to the image."""
        offset = np.array([self.pad_x, self.pad_y, self.pad_x, self.pad_y], dtype=np.float32)
        limit = np.array([self.width, self.height, self.width, self.height], dtype=np.float32)
        return np.clip((boxes.astype(np.float32) - offset) / self.scale, 0.0, limit)


def placement(width: int, height: int, in_w: int, in_h: int) -> tuple[Letterbox, int, int]:
    """Where a width x height image lands in the input: (letterbox, new_w, new_h)."""
    scale = min(in_w / width, in_h / height)
    new_w, new_h = max(1, round(width * scale)), max(1, round(height * scale))
    pad_x, pad_y = (in_w - new_w) // 2, (in_h - new_h) // 2
    return Letterbox(scale, pad_x, pad_y, width, height), new_w, new_h


def letterbox(image: np.ndarray, in_w: int, in_h: int) -> tuple[np.ndarray, Letterbox]:
    """Resize keeping aspect into a new in_h x in_w canvas padded with 114, centred."""
    return LetterboxBuffer(in_w, in_h).fill(image)


class LetterboxBuffer:
    """A letterbox into a canvas and an NCHW float tensor allocated once, reused every frame.

    A 640x640 float tensor is 4.9 MB: allocated per frame it is fresh pages (faults)
    every cycle. The pad is painted only when the frame size changes. What `fill` and
    `tensor` return is overwritten by the next call: one caller at a time, as the Detector.
    """

    def __init__(self, in_w: int, in_h: int) -> None:
        self.in_w, self.in_h = in_w, in_h
        self.canvas = np.full((in_h, in_w, 3), PAD_VALUE, dtype=np.uint8)
        self._tensor = np.empty((1, 3, in_h, in_w), dtype=np.float32)
        self._painted: tuple[int, int] | None = None  # the frame size the pad is painted for

    def fill(self, image: np.ndarray) -> tuple[np.ndarray, Letterbox]:
        """Letterbox an H x W x 3 uint8 image into the canvas (returned, not copied)."""
        h, w = image.shape[:2]
        box, new_w, new_h = placement(w, h, self.in_w, self.in_h)
        if self._painted != (w, h):
            self.canvas[...] = PAD_VALUE
            self._painted = (w, h)
        view = self.canvas[box.pad_y : box.pad_y + new_h, box.pad_x : box.pad_x + new_w]
        if (new_w, new_h) != (w, h):
            cv2.resize(image, (new_w, new_h), dst=view, interpolation=INTERPOLATION)
        else:
            view[...] = image
        return self.canvas, box

    def tensor(self, image: np.ndarray) -> tuple[np.ndarray, Letterbox]:
        """Letterbox, then HWC uint8 -> NCHW float32 in [0, 1] into the reused tensor."""
        canvas, box = self.fill(image)
        out = self._tensor[0]
        out[...] = canvas.transpose(2, 0, 1)  # one strided cast pass
        out *= np.float32(1 / 255.0)
        return self._tensor, box
