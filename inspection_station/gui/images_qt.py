"""numpy image -> small Qt pixmaps (previews are downscaled in the core: core/images.py)."""

from __future__ import annotations

import numpy as np
from PySide6.QtGui import QImage, QPixmap

from inspection_station.core.images import downscale

__all__ = ["downscale", "to_pixmap"]


def to_pixmap(image: np.ndarray) -> QPixmap:
    image = np.ascontiguousarray(image, dtype=np.uint8)
    h, w = image.shape[:2]
    if image.ndim == 2:
        qimage = QImage(image.data, w, h, image.strides[0], QImage.Format.Format_Grayscale8)
    else:
        qimage = QImage(image.data, w, h, image.strides[0], QImage.Format.Format_RGB888)
    return QPixmap.fromImage(qimage.copy())  # copy: the QImage must not outlive the array
