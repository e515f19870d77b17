"""Boxes drawn into a copy of an image, for exported predictions (the GUI draws items)."""

from __future__ import annotations

from collections.abc import Sequence

import cv2
import numpy as np

from inspection_station.core.detection import Detection


def class_colour(class_id: int) -> tuple[int, int, int]:
    """A stable, well-separated RGB colour per class (golden-angle hue steps)."""
    hue = int((class_id * 137.508) % 360) // 2  # OpenCV hue is 0..179
    bgr = cv2.cvtColor(np.array([[[hue, 220, 255]]], np.uint8), cv2.COLOR_HSV2BGR)[0, 0]
    return int(bgr[2]), int(bgr[1]), int(bgr[0])


def draw_detections(image: np.ndarray, detections: Sequence[Detection]) -> np.ndarray:
    """RGB copy with each detection's box and `name score` label."""
    out = np.ascontiguousarray(image.copy())
    thick = max(2, round(max(out.shape[:2]) / 600))
    scale = max(0.5, max(out.shape[:2]) / 1600)
    for d in detections:
        x1, y1, x2, y2 = (round(v) for v in d.box)
        colour = class_colour(d.class_id)
        cv2.rectangle(out, (x1, y1), (x2, y2), colour, thick)
        text = f"{d.class_name} {d.score:.2f}"
        (tw, th), base = cv2.getTextSize(text, cv2.FONT_HERSHEY_SIMPLEX, scale, thick)
        top = max(0, y1 - th - base - 2)
        cv2.rectangle(out, (x1, top), (x1 + tw + 4, top + th + base + 2), colour, -1)
        cv2.putText(out, text, (x1 + 2, top + th + 1), cv2.FONT_HERSHEY_SIMPLEX, scale, (0, 0, 0), thick, cv2.LINE_AA)
    return out
