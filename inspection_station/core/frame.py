"""A grabbed image with where and when it came from; crosses threads, so frozen."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np


@dataclass(frozen=True, slots=True)
class Frame:
    """`image` is C-contiguous uint8, H x W x 3 RGB (or H x W for mono output)."""

    image: np.ndarray
    frame_id: int
    timestamp: float  # time.time() when the frame was received
    source: str  # e.g. "pylon:Emulation 0815-0000" or "folder:/path/img_001.png"
    grab_ms: float = 0.0  # request -> frame in hand
    meta: dict = field(default_factory=dict)

    @property
    def width(self) -> int:
        return int(self.image.shape[1])

    @property
    def height(self) -> int:
        return int(self.image.shape[0])
