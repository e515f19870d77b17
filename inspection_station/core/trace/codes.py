"""1D/2D codes (DataMatrix, QR, Code 128, ...) read from a region of the frame with zxing-cpp.

zxing-cpp is a maintained C++ decoder with Python bindings and wheels for Windows and
Linux; it reads straight from a numpy array (no copy for a C-contiguous crop).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import cv2
import numpy as np

from inspection_station.core.settings.code_formats import _zxing, parse_formats


@dataclass(frozen=True, slots=True)
class DecodedCode:
    text: str
    format: str  # e.g. "DataMatrix"
    position: tuple[tuple[int, int], ...]  # corners in full-frame pixels


def region_pixels(width: int, height: int, x: float, y: float, w: float, h: float) -> tuple[int, int, int, int]:
    """(x1, y1, x2, y2) in pixels of a fractional region; 0 width/height = to the edge."""
    x1, y1 = int(round(x * width)), int(round(y * height))
    x2 = width if w <= 0 else int(round((x + w) * width))
    y2 = height if h <= 0 else int(round((y + h) * height))
    x1, y1 = min(max(x1, 0), width - 1), min(max(y1, 0), height - 1)
    return x1, y1, max(x1 + 1, min(x2, width)), max(y1 + 1, min(y2, height))


class CodeReader:
    """Reads the codes of the configured formats in one region of each frame."""

    def __init__(self, formats: Sequence[str], region: tuple[float, float, float, float] = (0, 0, 0, 0)) -> None:
        self._formats = parse_formats(formats) if formats else []
        self.region = region

    def read(self, image: np.ndarray) -> list[DecodedCode]:
        zx = _zxing()
        height, width = image.shape[:2]
        x1, y1, x2, y2 = region_pixels(width, height, *self.region)
        crop = np.ascontiguousarray(image[y1:y2, x1:x2])
        if crop.ndim == 3 and crop.shape[2] == 3:
            # one grey channel: the decoder binarises anyway, and RGB vs BGR does not matter
            crop = cv2.cvtColor(crop, cv2.COLOR_RGB2GRAY)
        kwargs = {"formats": tuple(self._formats)} if self._formats else {}
        codes = []
        for found in zx.read_barcodes(crop, **kwargs):
            if not found.valid:
                continue
            p = found.position
            corners = tuple(
                (int(pt.x) + x1, int(pt.y) + y1) for pt in (p.top_left, p.top_right, p.bottom_right, p.bottom_left)
            )
            codes.append(DecodedCode(found.text, found.format.name, corners))
        return codes
