"""The JSON of a cycle as the API returns it: `inspect --json` (DESIGN.md) plus the cycle's facts."""

from __future__ import annotations

import dataclasses
from typing import TYPE_CHECKING

import cv2
import numpy as np

from inspection_station.core.annotate import draw_detections
from inspection_station.core.cycle import CycleResult
from inspection_station.core.errors import ImageError
from inspection_station.core.images import load_image
from inspection_station.core.patterns.matching import verdict_fields

if TYPE_CHECKING:
    pass

IMAGE_TYPES = {"png": ("image/png", ".png"), "jpeg": ("image/jpeg", ".jpg")}


def cycle_record(result: CycleResult, station: str = "") -> dict:
    """`inspect --json`'s keys + cycle_id, timestamp, station, error, trigger, model, timings, links."""
    width, height = result.image_size or (0, 0)
    cid = result.cycle_id
    return {
        "image": result.image_path or (result.frame.source if result.frame is not None else ""),
        "width": width,
        "height": height,
        "detections": [d.to_dict() for d in result.detections],
        **verdict_fields(result.verdict.value, result.pattern_set, result.match),
        "cycle_id": cid,
        "timestamp": result.timestamp.isoformat(timespec="milliseconds"),
        "station": station,
        "error": result.error,
        "trigger": result.trigger,
        "model": result.model,
        "provider": result.provider,
        "times_ms": {k: round(v, 3) for k, v in dataclasses.asdict(result.times).items()},
        "links": {
            "self": f"/results/{cid}",
            "image": f"/results/{cid}/image",
            "annotated": f"/results/{cid}/image?annotated=1",
        },
    }


def cycle_image(result: CycleResult, *, annotated: bool) -> np.ndarray:
    """The cycle's RGB image (kept frame, else the archived file), boxes drawn if asked.

    ImageError when neither is there any more (only the newest cycles keep their frames).
    """
    if result.frame is not None:
        image = result.frame.rgb  # whatever the camera's output order
    elif result.image_path:
        image = load_image(result.image_path)
    else:
        raise ImageError(
            f"cycle {result.cycle_id}: its frame is no longer kept and it was not archived "
            "([results] archive)"
        )
    if image.ndim == 2:
        image = cv2.cvtColor(image, cv2.COLOR_GRAY2RGB)
    return draw_detections(image, result.detections) if annotated else image


def encode_image(image: np.ndarray, kind: str, quality: int = 90) -> bytes:
    """RGB array -> PNG or JPEG bytes."""
    params = [cv2.IMWRITE_JPEG_QUALITY, quality] if kind == "jpeg" else []
    ok, data = cv2.imencode(IMAGE_TYPES[kind][1], cv2.cvtColor(image, cv2.COLOR_RGB2BGR), params)
    if not ok:
        raise ImageError(f"could not encode the image as {kind}")
    return data.tobytes()


def decode_upload(data: bytes, name: str) -> np.ndarray:
    """Uploaded file bytes -> RGB array; ImageError naming the upload when it is no image."""
    if not data:
        raise ImageError(f"upload {name!r}: the file is empty")
    img = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_COLOR)
    if img is None or img.size == 0:
        raise ImageError(f"upload {name!r}: not a readable image (expected PNG, JPEG, BMP, TIFF or WebP)")
    return np.ascontiguousarray(cv2.cvtColor(img, cv2.COLOR_BGR2RGB))
