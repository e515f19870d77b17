"""Rotation, region of interest and output colour order applied to every camera frame.

Order: rotate first, then crop, so the ROI is drawn on the image the operator sees.
Positive angles turn counter-clockwise (numpy's rot90 and OpenCV's convention).
Multiples of 90 degrees use np.rot90 (a view, then one copy); any other angle uses
cv2.warpAffine around the centre, keeping the frame size (corners fill black).
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from inspection_station.core.errors import CameraError
from inspection_station.core.settings.model import CameraSettings


@dataclass(frozen=True)
class FrameTransform:
    rotation_deg: float = 0.0
    roi_unit: str = "fraction"  # "fraction" of the rotated frame, or "px"
    roi: tuple[float, float, float, float] = (
        0.0,
        0.0,
        0.0,
        0.0,
    )  # x, y, width, height; 0 size = to the edge

    @classmethod
    def from_settings(cls, settings: CameraSettings) -> FrameTransform:
        return cls(
            rotation_deg=settings.rotation_deg,
            roi_unit=settings.roi_unit,
            roi=(settings.roi_x, settings.roi_y, settings.roi_width, settings.roi_height),
        )

    @property
    def is_identity(self) -> bool:
        return self.rotation_deg % 360 == 0 and not any(self.roi)

    def apply(self, image: np.ndarray) -> np.ndarray:
        """The rotated, cropped image, C-contiguous (a copy unless nothing changes)."""
        if self.is_identity:
            return np.ascontiguousarray(image)
        out = rotate(image, self.rotation_deg)
        x0, y0, x1, y1 = roi_box(out.shape[1], out.shape[0], self.roi, self.roi_unit)
        return np.ascontiguousarray(out[y0:y1, x0:x1])


def rotate(image: np.ndarray, degrees: float) -> np.ndarray:
    angle = degrees % 360
    if angle == 0:
        return image
    quarter = angle / 90
    if quarter.is_integer():
        return np.rot90(image, int(quarter))  # cheap: a strided view
    h, w = image.shape[:2]
    matrix = cv2.getRotationMatrix2D((w / 2, h / 2), angle, 1.0)
    return cv2.warpAffine(
        image, matrix, (w, h), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT
    )


def roi_box(
    width: int, height: int, roi: tuple[float, float, float, float], unit: str
) -> tuple[int, int, int, int]:
    """(x0, y0, x1, y1) pixel box of the ROI inside a width x height image, clipped to it."""
    x, y, w, h = roi
    if unit == "fraction":
        if max(x, y, w, h) > 1.0:
            raise CameraError(
                f"camera ROI {roi} in fractions must lie within 0..1 (roi_unit = 'fraction')"
            )
        x, w = x * width, w * width
        y, h = y * height, h * height
    elif unit != "px":
        raise CameraError(f"camera roi_unit: expected 'fraction' or 'px', got {unit!r}")
    x0, y0 = int(round(x)), int(round(y))
    x1 = width if w <= 0 else min(width, int(round(x + w)))
    y1 = height if h <= 0 else min(height, int(round(y + h)))
    if x0 >= x1 or y0 >= y1:
        raise CameraError(
            f"camera ROI {roi} ({unit}) leaves no pixels of the {width} x {height} frame (after rotation)"
        )
    return x0, y0, x1, y1


def to_output_format(rgb: np.ndarray, output_format: str) -> np.ndarray:
    """An RGB (or already-mono) array as RGB, BGR or Mono (H x W), C-contiguous uint8."""
    if output_format == "RGB":
        return rgb if rgb.ndim == 3 else cv2.cvtColor(rgb, cv2.COLOR_GRAY2RGB)
    if output_format == "BGR":
        return cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR if rgb.ndim == 3 else cv2.COLOR_GRAY2BGR)
    if output_format == "Mono":
        return rgb if rgb.ndim == 2 else cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY)
    raise CameraError(
        f"camera output_format: expected 'RGB', 'BGR' or 'Mono', got {output_format!r}"
    )
