"""Slots drawn into a copy of a frame: taught patterns and evaluation disagreements as PNGs."""

from __future__ import annotations

from collections.abc import Sequence

import cv2
import numpy as np

from inspection_station.core.annotate import draw_detections
from inspection_station.core.detection import Detection
from inspection_station.core.patterns.model import Slot

FILLED = (40, 200, 60)  # RGB
MISSING = (230, 40, 40)
TAUGHT = (40, 140, 255)


def draw_slots(image: np.ndarray, slots: Sequence[Slot], colours: Sequence[tuple[int, int, int]] | None = None) -> np.ndarray:
    """RGB copy with each slot's outer box (solid) and inner box (thin) and its index."""
    out = np.ascontiguousarray(image.copy() if image.ndim == 3 else cv2.cvtColor(image, cv2.COLOR_GRAY2RGB))
    h, w = out.shape[:2]
    thick = max(1, round(max(h, w) / 800))
    for index, slot in enumerate(slots):
        colour = colours[index] if colours is not None else TAUGHT
        ox1, oy1, ox2, oy2 = _px(slot.outer, w, h)
        ix1, iy1, ix2, iy2 = _px(slot.inner, w, h)
        cv2.rectangle(out, (ox1, oy1), (ox2, oy2), colour, thick + 1)
        cv2.rectangle(out, (ix1, iy1), (ix2, iy2), colour, thick)
        cv2.putText(out, slot.label(index), (ox1 + 2, max(12, oy1 - 4)), cv2.FONT_HERSHEY_SIMPLEX,
                    max(0.4, max(h, w) / 2000), colour, thick, cv2.LINE_AA)
    return out


def draw_judgement(
    image: np.ndarray, slots: Sequence[Slot], filled: Sequence[bool], detections: Sequence[Detection]
) -> np.ndarray:
    """The boxes found plus the best variant's slots: filled green, missing red."""
    drawn = draw_detections(image if image.ndim == 3 else cv2.cvtColor(image, cv2.COLOR_GRAY2RGB), detections)
    return draw_slots(drawn, slots, [FILLED if f else MISSING for f in filled])


def blank_frame(width: int = 640, height: int = 640) -> np.ndarray:
    """A grey canvas where no image of the frame is at hand (labels only)."""
    return np.full((height, width, 3), 96, np.uint8)


def _px(box: Sequence[float], w: int, h: int) -> tuple[int, int, int, int]:
    return round(box[0] * w), round(box[1] * h), round(box[2] * w), round(box[3] * h)
