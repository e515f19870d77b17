"""Draw the application icon: resources/icons/app.png and app.ico (build time only).

    python packaging/make_icon.py

A dark rounded square with a camera lens and a green check mark, drawn with numpy +
OpenCV at several sizes. OpenCV cannot write .ico, so the ICO container is written
here by hand: an ICONDIR header and one PNG-compressed image per size (Windows Vista
and later read PNG entries). The app never runs this; it only loads the files.
"""

from __future__ import annotations

import struct
from pathlib import Path

import cv2
import numpy as np

ICONS = Path(__file__).resolve().parents[1] / "resources" / "icons"
SIZES = (16, 24, 32, 48, 64, 128, 256)
SUPERSAMPLE = 4


def draw(size: int) -> np.ndarray:
    """One RGBA icon image, drawn large and scaled down for smooth edges."""
    n = size * SUPERSAMPLE
    s = n / 256.0  # drawing units: a 256 x 256 canvas
    bgra = np.zeros((n, n, 4), np.uint8)

    def pt(x: float, y: float) -> tuple[int, int]:
        return int(round(x * s)), int(round(y * s))

    # Rounded square background (dark slate blue).
    radius = int(44 * s)
    body = (70, 52, 38, 255)  # BGR + alpha
    lo, hi = int(8 * s), int(248 * s)
    cv2.rectangle(bgra, (lo + radius, lo), (hi - radius, hi), body, -1)
    cv2.rectangle(bgra, (lo, lo + radius), (hi, hi - radius), body, -1)
    for cx, cy in (
        (lo + radius, lo + radius),
        (hi - radius, lo + radius),
        (lo + radius, hi - radius),
        (hi - radius, hi - radius),
    ):
        cv2.circle(bgra, (cx, cy), radius, body, -1, cv2.LINE_AA)

    # Camera lens: rings.
    cv2.circle(bgra, pt(112, 112), int(78 * s), (200, 200, 200, 255), -1, cv2.LINE_AA)
    cv2.circle(bgra, pt(112, 112), int(62 * s), (40, 30, 25, 255), -1, cv2.LINE_AA)
    cv2.circle(bgra, pt(112, 112), int(40 * s), (160, 110, 60, 255), -1, cv2.LINE_AA)
    cv2.circle(bgra, pt(96, 96), int(12 * s), (240, 230, 220, 255), -1, cv2.LINE_AA)

    # Verdict badge: green disc with a white check mark.
    cv2.circle(bgra, pt(184, 184), int(58 * s), (255, 255, 255, 255), -1, cv2.LINE_AA)
    cv2.circle(bgra, pt(184, 184), int(50 * s), (60, 170, 40, 255), -1, cv2.LINE_AA)
    check = np.array([pt(158, 186), pt(178, 206), pt(212, 164)], np.int32)
    cv2.polylines(bgra, [check], False, (255, 255, 255, 255), int(13 * s), cv2.LINE_AA)

    return cv2.resize(bgra, (size, size), interpolation=cv2.INTER_AREA)


def png_bytes(bgra: np.ndarray) -> bytes:
    ok, buf = cv2.imencode(".png", bgra)
    if not ok:
        raise RuntimeError("PNG encoding failed")
    return buf.tobytes()


def ico_bytes(images: dict[int, bytes]) -> bytes:
    """An ICO file holding PNG images (ICONDIR + ICONDIRENTRY table + data)."""
    header = struct.pack("<HHH", 0, 1, len(images))
    offset = len(header) + 16 * len(images)
    table, data = b"", b""
    for size, png in sorted(images.items()):
        dim = 0 if size >= 256 else size  # 0 means 256 in an ICONDIRENTRY
        table += struct.pack("<BBBBHHII", dim, dim, 0, 0, 1, 32, len(png), offset + len(data))
        data += png
    return header + table + data


def main() -> None:
    ICONS.mkdir(parents=True, exist_ok=True)
    images = {size: png_bytes(draw(size)) for size in SIZES}
    (ICONS / "app.png").write_bytes(images[256])
    (ICONS / "app.ico").write_bytes(ico_bytes(images))
    print(f"wrote {ICONS / 'app.png'} and {ICONS / 'app.ico'} ({', '.join(map(str, SIZES))} px)")


if __name__ == "__main__":
    main()
