"""Reading image files as RGB arrays with a clear, located error."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np

from inspection_station.core.errors import ImageError

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff", ".webp")


def load_image(path: str | Path) -> np.ndarray:
    """Return the file as a C-contiguous uint8 H x W x 3 RGB array."""
    p = Path(path)
    if not p.is_file():
        raise ImageError(f"{p}: no such image file")
    data = np.fromfile(p, dtype=np.uint8)  # fromfile+imdecode handles non-ASCII Windows paths
    if data.size == 0:
        raise ImageError(f"{p}: the file is empty")
    img = cv2.imdecode(data, cv2.IMREAD_COLOR)
    if img is None:
        raise ImageError(f"{p}: not a readable image (expected PNG, JPEG, BMP, TIFF or WebP)")
    if img.shape[0] == 0 or img.shape[1] == 0:
        raise ImageError(f"{p}: the image has no pixels")
    return np.ascontiguousarray(cv2.cvtColor(img, cv2.COLOR_BGR2RGB))


def list_images(folder: str | Path) -> list[Path]:
    """Image files in a folder, sorted by name (the order a camera replays them)."""
    return sorted(p for p in Path(folder).iterdir() if p.suffix.lower() in IMAGE_SUFFIXES)
