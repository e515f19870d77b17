"""Reading image files as RGB arrays with a clear, located error; downscaled previews."""

from __future__ import annotations

import math
from pathlib import Path

import cv2
import numpy as np

from inspection_station.core.errors import ImageError
from inspection_station.core.image_header import HEADER_BYTES, image_size
from inspection_station.core.regular_files import open_regular

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff", ".webp")
# The largest Basler sensors have ~65 MP; 250 MP (0.75 GB as RGB) leaves room for stitched
# or upscaled files while a header declaring 20000 x 20000 is refused before decoding.
DEFAULT_MAX_PIXELS = 250_000_000
# A cycle's preview (history views): about a screen wide; fifty 5 MP frames would be 750 MB.
PREVIEW_WIDTH = 1600


def downscale(image: np.ndarray, max_width: int) -> np.ndarray:
    """At most `max_width` wide (every k-th pixel: cheap, good enough to look at), C-contiguous.

    An image that already fits is returned as it is, not copied (frames are read-only).
    """
    step = max(1, math.ceil(image.shape[1] / max_width))
    return np.ascontiguousarray(image[::step, ::step]) if step > 1 else np.ascontiguousarray(image)


def load_image(path: str | Path, max_pixels: int = DEFAULT_MAX_PIXELS) -> np.ndarray:
    """Return the file as a C-contiguous uint8 H x W x 3 RGB array.

    The pixel count the header declares is checked before decoding (`max_pixels`).
    """
    p = Path(path)
    with open_regular(p, "image file", ImageError) as fh:  # never a FIFO or a device
        try:
            data = np.fromfile(fh, dtype=np.uint8)  # fromfile+imdecode handles non-ASCII Windows paths
        except OSError as exc:
            raise ImageError(f"{p}: cannot read: {exc.strerror or exc}") from None
    if data.size == 0:
        raise ImageError(f"{p}: the file is empty")
    # the first 64 kB hold the size (a JPEG with a bigger EXIF block needs the whole file)
    size = image_size(data[:HEADER_BYTES].tobytes()) or image_size(data.tobytes())
    if size is None:  # a format we cannot size is not decoded: its pixel count is unknown
        raise ImageError(f"{p}: not a readable image (expected PNG, JPEG, BMP, TIFF or WebP)")
    width, height = size
    if width * height > max_pixels:
        raise ImageError(
            f"{p}: declares {width} x {height} pixels ({width * height / 1e6:.0f} MP), more than the "
            f"{max_pixels / 1e6:.0f} MP allowed ([camera] max_image_pixels); not decoded"
        )
    img = cv2.imdecode(data, cv2.IMREAD_COLOR)
    if img is None:
        raise ImageError(f"{p}: not a readable image (expected PNG, JPEG, BMP, TIFF or WebP)")
    if img.shape[0] == 0 or img.shape[1] == 0:
        raise ImageError(f"{p}: the image has no pixels")
    return np.ascontiguousarray(cv2.cvtColor(img, cv2.COLOR_BGR2RGB))


def list_images(folder: str | Path) -> list[Path]:
    """Image files in a folder, sorted by name (the order a camera replays them)."""
    return sorted(p for p in Path(folder).iterdir() if p.suffix.lower() in IMAGE_SUFFIXES)
