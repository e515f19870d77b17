"""numpy image -> small Qt pixmaps and downscaled previews (strided, no resampling cost)."""

from __future__ import annotations

import math

import numpy as np
from PySide6.QtGui import QImage, QPixmap


def downscale(image: np.ndarray, max_width: int) -> np.ndarray:
    """A C-contiguous copy at most `max_width` wide (every k-th pixel: cheap, good enough to look at)."""
    step = max(1, math.ceil(image.shape[1] / max_width))
    return np.ascontiguousarray(image[::step, ::step])


def to_pixmap(image: np.ndarray) -> QPixmap:
    image = np.ascontiguousarray(image, dtype=np.uint8)
    h, w = image.shape[:2]
    if image.ndim == 2:
        qimage = QImage(image.data, w, h, image.strides[0], QImage.Format.Format_Grayscale8)
    else:
        qimage = QImage(image.data, w, h, image.strides[0], QImage.Format.Format_RGB888)
    return QPixmap.fromImage(qimage.copy())  # copy: the QImage must not outlive the array
