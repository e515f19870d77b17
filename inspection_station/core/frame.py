"""A grabbed image with where and when it came from; crosses threads, so frozen and read-only."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum

import cv2
import numpy as np


class ColorOrder(StrEnum):
    """The channel order of `Frame.image`: the camera's `output_format`, said once, on the frame."""

    RGB = "RGB"
    BGR = "BGR"
    MONO = "Mono"  # H x W, no channels


@dataclass(frozen=True, slots=True)
class Frame:
    """`image` is C-contiguous uint8, H x W x 3 in `color` order (H x W for mono).

    The colour contract: whoever needs RGB (detector, archive, views) reads `rgb`, never
    assumes `image` is RGB. Published frames are shared by the camera, inference, image
    writer and GUI threads, so `image` is made read-only here: nobody paints on a frame
    another thread is reading (copy it first).
    """

    image: np.ndarray
    frame_id: int
    timestamp: float  # time.time() when the frame was received
    source: str  # e.g. "pylon:Emulation 0815-0000" or "folder:/path/img_001.png"
    grab_ms: float = 0.0  # request -> frame in hand
    meta: dict = field(default_factory=dict)
    color: ColorOrder = ColorOrder.RGB

    def __post_init__(self) -> None:
        self.image.flags.writeable = False

    @property
    def width(self) -> int:
        return int(self.image.shape[1])

    @property
    def height(self) -> int:
        return int(self.image.shape[0])

    @property
    def rgb(self) -> np.ndarray:
        """The pixels in RGB order (no copy unless `color` is BGR); mono stays H x W."""
        if self.color == ColorOrder.BGR and self.image.ndim == 3:
            rgb = cv2.cvtColor(self.image, cv2.COLOR_BGR2RGB)
            rgb.flags.writeable = False
            return rgb
        return self.image
