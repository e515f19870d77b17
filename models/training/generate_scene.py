"""Synthetic demo scene: a PCB-like plate with components at fixed nominal positions.

Reproducible (numpy Generator + OpenCV only, no torch) so that the bundled demo images,
the training set and held-out evaluation sets all come from one place with different
seeds. Every component is drawn as an upright RGBA sprite, rotated and alpha-composited
onto the plate; its label is the tight box of the rotated sprite's alpha mask, which is
what a detector can see.

    python models/training/generate_scene.py --out DIR --count 200 --seed 7

writes DIR/scene_NNNN.png + scene_NNNN.txt (YOLO labels) + ground_truth.csv, and

    python models/training/generate_scene.py --demo --out resources/demo_images --labels resources/demo_labels

rewrites the bundled demo sequence (images for the emulated camera; labels + ground truth).
"""

from __future__ import annotations

import argparse
import csv
import math
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

IMAGE_WIDTH = 1920
IMAGE_HEIGHT = 1200

CLASS_NAMES = ("screw", "connector", "chip", "capacitor", "label")
SCREW, CONNECTOR, CHIP, CAPACITOR, LABEL = range(5)

# Plate placement (the fixture holds it to within a few pixels).
PLATE_BOX = (210, 125, 1710, 1075)
PLATE_JITTER_PX = 4.0

# Per-component placement tolerance of an OK part on top of the plate's offset.
PART_JITTER_PX = 7.0
PART_JITTER_DEG = 2.5

# A misplaced part is shifted this far (px) from its nominal position: far outside
# the pattern's tolerance (see resources/patterns/demo_parts.yaml).
MISPLACED_SHIFT_PX = (90.0, 150.0)

DEFECTS = ("missing", "misplaced", "wrong")


@dataclass(frozen=True)
class Slot:
    """A nominal component position on the plate (centre in image px, angle in degrees)."""

    name: str
    class_id: int
    cx: float
    cy: float
    angle: float = 0.0


# The demo product: 11 parts. Connector 2 stands vertically.
SLOTS: tuple[Slot, ...] = (
    Slot("screw_tl", SCREW, 275, 190),
    Slot("screw_tr", SCREW, 1645, 190),
    Slot("screw_bl", SCREW, 275, 1010),
    Slot("screw_br", SCREW, 1645, 1010),
    Slot("chip_mcu", CHIP, 760, 560),
    Slot("connector_power", CONNECTOR, 1280, 260),
    Slot("connector_io", CONNECTOR, 1545, 640, 90.0),
    Slot("cap_c1", CAPACITOR, 1080, 470),
    Slot("cap_c2", CAPACITOR, 1080, 700),
    Slot("cap_c3", CAPACITOR, 470, 370),
    Slot("label_serial", LABEL, 1180, 930),
)


# --- sprites: upright RGBA drawings of one component -----------------------------------------


def _blank(w: int, h: int) -> np.ndarray:
    return np.zeros((h, w, 4), np.uint8)


def _circle(img: np.ndarray, c: tuple[float, float], r: float, color, thickness: int = -1) -> None:
    # 4 fractional bits: sub-pixel circles keep sprites smooth and centred
    cv2.circle(img, (int(round(c[0] * 16)), int(round(c[1] * 16))), int(round(r * 16)), color, thickness, cv2.LINE_AA, 4)


def _screw(rng: np.random.Generator) -> np.ndarray:
    d = 68
    s = _blank(d, d)
    c = (d / 2 - 0.5, d / 2 - 0.5)
    _circle(s, c, d / 2 - 1, (150, 150, 145, 255))  # washer
    _circle(s, c, d / 2 - 1, (95, 95, 95, 255), 2)
    head = d / 2 - 9
    for i in range(12):  # domed head: light centre, darker rim
        v = int(215 - 7 * i)
        _circle(s, (c[0] - 2 + i * 0.15, c[1] - 2 + i * 0.15), head * (1 - i / 13), (v, v, v + 5, 255))
    ang = rng.uniform(0, math.pi)
    for a in (ang, ang + math.pi / 2):  # Phillips cross at a random turn
        dx, dy = math.cos(a) * head * 0.6, math.sin(a) * head * 0.6
        cv2.line(s, (int(c[0] - dx), int(c[1] - dy)), (int(c[0] + dx), int(c[1] + dy)), (55, 55, 60, 255), 5, cv2.LINE_AA)
    return s


def _capacitor(rng: np.random.Generator) -> np.ndarray:
    d = 100
    s = _blank(d, d)
    c = (d / 2 - 0.5, d / 2 - 0.5)
    _circle(s, c, d / 2 - 1, (30, 45, 120, 255))  # blue sleeve
    cv2.ellipse(s, (int(c[0]), int(c[1])), (d // 2 - 2, d // 2 - 2), 0, 200, 300, (200, 205, 215, 255), 7, cv2.LINE_AA)
    _circle(s, c, d / 2 - 11, (185, 188, 192, 255))  # aluminium top
    _circle(s, c, d / 2 - 11, (120, 122, 128, 255), 2)
    r = d / 2 - 18
    for a in (90, 210, 330):  # the K-shaped vent
        t = math.radians(a)
        cv2.line(s, (int(c[0]), int(c[1])), (int(c[0] + r * math.cos(t)), int(c[1] + r * math.sin(t))), (110, 112, 118, 255), 3, cv2.LINE_AA)
    return s


def _chip(rng: np.random.Generator) -> np.ndarray:
    body, pin_len, n_pins = 150, 14, 12
    d = body + 2 * pin_len
    s = _blank(d, d)
    o = pin_len
    pitch = body / (n_pins + 1)
    for i in range(n_pins):  # tinned gull-wing pins on four sides
        p = int(o + pitch * (i + 1))
        col = (170, 172, 168, 255)
        cv2.rectangle(s, (p - 3, 0), (p + 3, o + 2), col, -1)
        cv2.rectangle(s, (p - 3, d - o - 3), (p + 3, d - 1), col, -1)
        cv2.rectangle(s, (0, p - 3), (o + 2, p + 3), col, -1)
        cv2.rectangle(s, (d - o - 3, p - 3), (d - 1, p + 3), col, -1)
    cv2.rectangle(s, (o, o), (o + body - 1, o + body - 1), (28, 28, 30, 255), -1)
    cv2.rectangle(s, (o + 4, o + 4), (o + body - 5, o + body - 5), (40, 40, 42, 255), 1)
    _circle(s, (o + 18, o + 18), 6, (60, 60, 62, 255))  # pin-1 dimple
    cv2.putText(s, "STM32", (o + 26, o + 72), cv2.FONT_HERSHEY_SIMPLEX, 0.95, (150, 150, 150, 255), 2, cv2.LINE_AA)
    cv2.putText(s, f"F{rng.integers(100, 999)}", (o + 40, o + 108), cv2.FONT_HERSHEY_SIMPLEX, 0.7, (130, 130, 130, 255), 1, cv2.LINE_AA)
    return s


def _connector(rng: np.random.Generator) -> np.ndarray:
    w, h = 280, 84
    s = _blank(w, h)
    cv2.rectangle(s, (0, 0), (w - 1, h - 1), (222, 214, 190, 255), -1)  # nylon housing
    cv2.rectangle(s, (0, 0), (w - 1, h - 1), (160, 152, 130, 255), 2)
    cv2.rectangle(s, (10, 12), (w - 11, h - 13), (70, 66, 60, 255), -1)  # the socket cavity
    cv2.rectangle(s, (w // 2 - 22, h - 13), (w // 2 + 22, h - 1), (222, 214, 190, 255), -1)  # key notch
    for row in range(2):
        for i in range(8):
            x = 28 + i * 32
            y = 28 + row * 28
            cv2.rectangle(s, (x - 5, y - 5), (x + 5, y + 5), (200, 165, 60, 255), -1)  # gold pins
    return s


def _label(rng: np.random.Generator) -> np.ndarray:
    w, h = 300, 120
    s = _blank(w, h)
    cv2.rectangle(s, (0, 0), (w - 1, h - 1), (238, 238, 232, 255), -1)
    x = 14
    while x < w - 14:  # a barcode of random bars
        bw = int(rng.integers(2, 6))
        if rng.random() < 0.55:
            cv2.rectangle(s, (x, 12), (x + bw - 1, 66), (20, 20, 20, 255), -1)
        x += bw
    cv2.putText(s, f"SN {rng.integers(10**7, 10**8)}", (14, 92), cv2.FONT_HERSHEY_SIMPLEX, 0.65, (30, 30, 30, 255), 2, cv2.LINE_AA)
    cv2.putText(s, "REV C  QC PASS", (14, 112), cv2.FONT_HERSHEY_SIMPLEX, 0.45, (60, 60, 60, 255), 1, cv2.LINE_AA)
    return s


SPRITES = {SCREW: _screw, CONNECTOR: _connector, CHIP: _chip, CAPACITOR: _capacitor, LABEL: _label}


def _composite(canvas: np.ndarray, sprite: np.ndarray, cx: float, cy: float, angle: float) -> tuple[float, float, float, float] | None:
    """Rotate `sprite` about its centre, paste it centred at (cx, cy); return its tight box."""
    h, w = sprite.shape[:2]
    diag = int(math.ceil(math.hypot(w, h))) + 4
    m = cv2.getRotationMatrix2D(((w - 1) / 2, (h - 1) / 2), -angle, 1.0)  # positive angle = clockwise on screen
    m[0, 2] += (diag - 1) / 2 - (w - 1) / 2 + (cx - round(cx))
    m[1, 2] += (diag - 1) / 2 - (h - 1) / 2 + (cy - round(cy))
    rot = cv2.warpAffine(sprite, m, (diag, diag), flags=cv2.INTER_LINEAR, borderValue=(0, 0, 0, 0))
    x0 = int(round(cx)) - (diag - 1) // 2
    y0 = int(round(cy)) - (diag - 1) // 2
    H, W = canvas.shape[:2]
    cx0, cy0 = max(x0, 0), max(y0, 0)
    cx1, cy1 = min(x0 + diag, W), min(y0 + diag, H)
    if cx1 <= cx0 or cy1 <= cy0:
        return None
    part = rot[cy0 - y0 : cy1 - y0, cx0 - x0 : cx1 - x0]
    alpha = part[..., 3:4].astype(np.float32) / 255.0
    region = canvas[cy0:cy1, cx0:cx1]
    region[:] = np.clip(region * (1 - alpha) + part[..., :3].astype(np.float32) * alpha + 0.5, 0, 255).astype(np.uint8)
    ys, xs = np.nonzero(part[..., 3] > 127)
    if xs.size == 0:
        return None
    return (float(cx0 + xs.min()), float(cy0 + ys.min()), float(cx0 + xs.max() + 1), float(cy0 + ys.max() + 1))


# --- plate, footprints, optics ----------------------------------------------------------------


def _footprint(canvas: np.ndarray, slot: Slot) -> None:
    """What the bare plate shows where a part belongs (visible when the part is missing)."""
    cx, cy = int(slot.cx), int(slot.cy)
    gold, silk = (175, 150, 70), (215, 220, 210)
    if slot.class_id == SCREW:
        cv2.circle(canvas, (cx, cy), 30, gold, -1, cv2.LINE_AA)
        cv2.circle(canvas, (cx, cy), 15, (25, 25, 25), -1, cv2.LINE_AA)
    elif slot.class_id == CAPACITOR:
        cv2.circle(canvas, (cx, cy), 52, silk, 2, cv2.LINE_AA)
        cv2.putText(canvas, "+", (cx - 62, cy - 38), cv2.FONT_HERSHEY_SIMPLEX, 0.8, silk, 2, cv2.LINE_AA)
        for dx in (-18, 18):
            cv2.circle(canvas, (cx + dx, cy), 7, gold, -1, cv2.LINE_AA)
    elif slot.class_id == CHIP:
        cv2.rectangle(canvas, (cx - 80, cy - 80), (cx + 80, cy + 80), silk, 2, cv2.LINE_AA)
        for i in range(12):
            p = int(-75 + 150 / 13 * (i + 1))
            for x, y, w, h in ((cx + p - 3, cy - 92, 6, 14), (cx + p - 3, cy + 78, 6, 14), (cx - 92, cy + p - 3, 14, 6), (cx + 78, cy + p - 3, 14, 6)):
                cv2.rectangle(canvas, (x, y), (x + w, y + h), gold, -1)
    elif slot.class_id == CONNECTOR:
        vertical = abs(slot.angle - 90) < 1
        for row in range(2):
            for i in range(8):
                a, b = -112 + i * 32, -14 + row * 28
                x, y = (cx - b, cy + a) if vertical else (cx + a, cy + b)
                cv2.circle(canvas, (x, y), 8, gold, -1, cv2.LINE_AA)
                cv2.circle(canvas, (x, y), 4, (25, 25, 25), -1, cv2.LINE_AA)
    elif slot.class_id == LABEL:
        cv2.rectangle(canvas, (cx - 155, cy - 65), (cx + 155, cy + 65), silk, 1, cv2.LINE_AA)


def _plate(rng: np.random.Generator, offset: tuple[float, float]) -> np.ndarray:
    canvas = np.empty((IMAGE_HEIGHT, IMAGE_WIDTH, 3), np.uint8)
    canvas[:] = int(rng.uniform(55, 75))  # the fixture's grey anodised surface
    x1, y1, x2, y2 = (int(round(v + offset[i % 2])) for i, v in enumerate(PLATE_BOX))
    cv2.rectangle(canvas, (x1 + 6, y1 + 8), (x2 + 6, y2 + 8), (35, 35, 35), -1)  # drop shadow
    green = np.array([30, 95, 55]) * rng.uniform(0.9, 1.1)
    cv2.rectangle(canvas, (x1, y1), (x2, y2), green.tolist(), -1)
    trace = (green * 1.35).tolist()
    for _ in range(26):  # copper traces under the solder mask
        x, y = rng.uniform(x1 + 30, x2 - 30), rng.uniform(y1 + 30, y2 - 30)
        for _ in range(3):
            if rng.random() < 0.5:
                nx, ny = x + rng.uniform(-300, 300), y
            else:
                nx, ny = x, y + rng.uniform(-250, 250)
            nx, ny = float(np.clip(nx, x1 + 20, x2 - 20)), float(np.clip(ny, y1 + 20, y2 - 20))
            cv2.line(canvas, (int(x), int(y)), (int(nx), int(ny)), trace, int(rng.integers(3, 8)), cv2.LINE_AA)
            x, y = nx, ny
        cv2.circle(canvas, (int(x), int(y)), 7, (175, 150, 70), -1, cv2.LINE_AA)
        cv2.circle(canvas, (int(x), int(y)), 3, (25, 25, 25), -1, cv2.LINE_AA)
    cv2.putText(canvas, "IS-DEMO-01 REV C", (x1 + 150, y2 - 30), cv2.FONT_HERSHEY_SIMPLEX, 1.0, (215, 220, 210), 2, cv2.LINE_AA)
    for slot in SLOTS:
        _footprint(canvas, Slot(slot.name, slot.class_id, slot.cx + offset[0], slot.cy + offset[1], slot.angle))
    return canvas


def _optics(rng: np.random.Generator, canvas: np.ndarray) -> np.ndarray:
    """Lighting gradient + vignetting, lens blur, shot and read noise; returns uint8 RGB."""
    yy, xx = np.mgrid[0:IMAGE_HEIGHT:8, 0:IMAGE_WIDTH:8].astype(np.float32)
    gx, gy = rng.uniform(-0.18, 0.18, 2)
    u, v = xx / IMAGE_WIDTH - 0.5, yy / IMAGE_HEIGHT - 0.5
    light = rng.uniform(0.9, 1.1) * (1 + gx * u + gy * v) * (1 - 0.35 * (u**2 + v**2))
    light = cv2.resize(light, (IMAGE_WIDTH, IMAGE_HEIGHT), interpolation=cv2.INTER_LINEAR)
    img = canvas.astype(np.float32) * light[..., None]
    img = cv2.GaussianBlur(img, (0, 0), rng.uniform(0.8, 1.4))
    sigma = rng.uniform(1.5, 2.5)
    noise = rng.standard_normal(img.shape[:2], dtype=np.float32) * sigma  # shared across channels,
    img += noise[..., None] * (0.6 + img / 400.0)  # brighter pixels are noisier (shot noise)
    return np.ascontiguousarray(np.clip(img + 0.5, 0, 255).astype(np.uint8))


# --- scenes -----------------------------------------------------------------------------------


def _choose_defect_slot(rng: np.random.Generator, defect: str) -> int:
    return int(rng.integers(len(SLOTS)))


def _misplaced_center(rng: np.random.Generator, slot: Slot, placed: list[tuple[float, float, float]]) -> tuple[float, float]:
    """A centre well outside the slot's tolerance, on the plate, clear of the other parts."""
    x1, y1, x2, y2 = PLATE_BOX
    for _ in range(200):
        a = rng.uniform(0, 2 * math.pi)
        d = rng.uniform(*MISPLACED_SHIFT_PX)
        cx, cy = slot.cx + d * math.cos(a), slot.cy + d * math.sin(a)
        r = _radius(slot.class_id, slot.angle)
        if not (x1 + r[0] < cx < x2 - r[0] and y1 + r[1] < cy < y2 - r[1]):
            continue
        if all(abs(cx - px) > r[0] + rx + 10 or abs(cy - py) > r[1] + ry + 10 for px, py, (rx, ry) in ((p[0], p[1], p[2]) for p in placed)):
            return cx, cy
    # fall back: a plain large shift along x (always clear of the tolerance)
    return slot.cx + MISPLACED_SHIFT_PX[1] * (1 if slot.cx < IMAGE_WIDTH / 2 else -1), slot.cy


_HALF_SIZE = {SCREW: (34, 34), CONNECTOR: (140, 42), CHIP: (89, 89), CAPACITOR: (50, 50), LABEL: (150, 60)}


def _radius(class_id: int, angle: float) -> tuple[float, float]:
    hx, hy = _HALF_SIZE[class_id]
    return (hy, hx) if abs(angle % 180 - 90) < 45 else (hx, hy)


def render_scene(
    rng: np.random.Generator, defect: str | None = None, optics: bool = True
) -> tuple[np.ndarray, list[tuple[int, float, float, float, float]], str]:
    """One camera frame of the demo product.

    defect: None (a good part), "missing", "misplaced" or "wrong" (another class in a slot).
    optics=False skips lighting, blur and noise (6x faster; the labels never depend on them,
    but the random stream, and so the following boards, differ).
    Returns (image H x W x 3 uint8 RGB, boxes [(class_id, x1, y1, x2, y2) in px], "OK"/"NOK").
    """
    if defect is not None and defect not in DEFECTS:
        raise ValueError(f"defect must be None or one of {DEFECTS}, got {defect!r}")
    offset = tuple(rng.uniform(-PLATE_JITTER_PX, PLATE_JITTER_PX, 2))
    canvas = _plate(rng, offset)
    target = _choose_defect_slot(rng, defect) if defect else -1
    placed = [(s.cx, s.cy, _radius(s.class_id, s.angle)) for i, s in enumerate(SLOTS) if i != target]
    boxes: list[tuple[int, float, float, float, float]] = []
    for i, slot in enumerate(SLOTS):
        class_id, cx, cy = slot.class_id, slot.cx, slot.cy
        angle = slot.angle + rng.uniform(-PART_JITTER_DEG, PART_JITTER_DEG)
        if slot.class_id == SCREW:
            angle = rng.uniform(0, 360)  # round: any turn, same box
        jx, jy = rng.uniform(-PART_JITTER_PX, PART_JITTER_PX, 2)
        if i == target:
            if defect == "missing":
                continue
            if defect == "misplaced":
                cx, cy = _misplaced_center(rng, slot, placed)
                jx = jy = 0.0
            if defect == "wrong":
                # a part of another class that fits the space (no label over a screw hole)
                choices = {SCREW: (CAPACITOR,), CAPACITOR: (SCREW, CHIP), CHIP: (CAPACITOR, SCREW, LABEL),
                           CONNECTOR: (LABEL, CHIP), LABEL: (CONNECTOR, CHIP)}[slot.class_id]
                class_id = int(rng.choice(choices))
                if class_id in (CONNECTOR, LABEL) and slot.class_id == CONNECTOR:
                    angle = slot.angle + rng.uniform(-PART_JITTER_DEG, PART_JITTER_DEG)
                elif class_id != SCREW:
                    angle = rng.uniform(-PART_JITTER_DEG, PART_JITTER_DEG)
        box = _composite(canvas, SPRITES[class_id](rng), cx + jx + offset[0], cy + jy + offset[1], angle)
        if box is not None:
            boxes.append((class_id, *box))
    return (_optics(rng, canvas) if optics else canvas), boxes, "OK" if defect is None else "NOK"


def render_random_scene(rng: np.random.Generator) -> tuple[np.ndarray, list[tuple[int, float, float, float, float]]]:
    """Training variety: the same plate with parts of random classes at random places and turns.

    Keeps the detector from learning "a chip is always at (760, 560)", so that misplaced and
    wrong parts are reported where and as what they really are.
    """
    offset = tuple(rng.uniform(-40, 40, 2))
    canvas = _plate(rng, offset)
    x1, y1, x2, y2 = PLATE_BOX
    occupied: list[tuple[float, float, float, float]] = []
    boxes: list[tuple[int, float, float, float, float]] = []
    for _ in range(int(rng.integers(8, 16))):
        class_id = int(rng.integers(len(CLASS_NAMES)))
        angle = float(rng.choice([0.0, 90.0, 180.0, 270.0])) + rng.uniform(-6, 6)
        if class_id == SCREW:
            angle = rng.uniform(0, 360)
        rx, ry = _radius(class_id, angle)
        for _ in range(30):
            cx = rng.uniform(x1 - 60 + rx, x2 + 60 - rx)
            cy = rng.uniform(y1 - 40 + ry, y2 + 40 - ry)
            if all(abs(cx - ox) > rx + orx + 6 or abs(cy - oy) > ry + ory + 6 for ox, oy, orx, ory in occupied):
                break
        else:
            continue
        occupied.append((cx, cy, rx, ry))
        box = _composite(canvas, SPRITES[class_id](rng), cx, cy, angle)
        if box is not None:
            boxes.append((class_id, *box))
    return _optics(rng, canvas), boxes


# --- files ------------------------------------------------------------------------------------


def yolo_lines(boxes, width: int = IMAGE_WIDTH, height: int = IMAGE_HEIGHT) -> list[str]:
    """YOLO label lines: class cx cy w h, normalised to the image."""
    out = []
    for c, x1, y1, x2, y2 in boxes:
        out.append(f"{c} {(x1 + x2) / 2 / width:.6f} {(y1 + y2) / 2 / height:.6f} {(x2 - x1) / width:.6f} {(y2 - y1) / height:.6f}")
    return out


def read_yolo_labels(path: Path, width: int, height: int) -> list[tuple[int, float, float, float, float]]:
    boxes = []
    for line in Path(path).read_text().splitlines():
        if line.strip():
            c, cx, cy, w, h = line.split()
            cx, cy, w, h = float(cx) * width, float(cy) * height, float(w) * width, float(h) * height
            boxes.append((int(c), cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2))
    return boxes


def write_image(path: Path, image_rgb: np.ndarray, jpeg_quality: int = 95) -> None:
    bgr = cv2.cvtColor(image_rgb, cv2.COLOR_RGB2BGR)
    params = [cv2.IMWRITE_JPEG_QUALITY, jpeg_quality] if path.suffix.lower() in (".jpg", ".jpeg") else [cv2.IMWRITE_PNG_COMPRESSION, 9]
    ok, data = cv2.imencode(path.suffix, bgr, params)
    if not ok:
        raise OSError(f"{path}: could not encode")
    path.write_bytes(data.tobytes())


def defect_cycle(index: int) -> str | None:
    """A balanced, deterministic mix for generated sets: OK, missing, OK, misplaced, OK, wrong."""
    return (None, "missing", None, "misplaced", None, "wrong")[index % 6]


def write_set(out: Path, count: int, seed: int, suffix: str = ".png") -> None:
    out.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    rows = []
    for i in range(count):
        defect = defect_cycle(i)
        image, boxes, verdict = render_scene(rng, defect)
        name = f"scene_{i:04d}{suffix}"
        write_image(out / name, image)
        (out / name).with_suffix(".txt").write_text("\n".join(yolo_lines(boxes)) + "\n")
        rows.append((name, verdict, defect or ""))
    with (out / "ground_truth.csv").open("w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(("file", "verdict", "defect"))
        w.writerows(rows)


# The bundled demo images (resources/demo_images/): the emulated camera serves them in name
# order, so the demo shows good parts with each kind of defect in between. Their labels and
# ground truth live in a sibling folder: pylon's emulator tries to decode EVERY file in its
# image folder, and a .txt or .csv there turns into broken frames.
DEMO_SEQUENCE: tuple[str | None, ...] = (None, None, "missing", None, "misplaced", None, "wrong", None, "missing", "wrong")
DEMO_SEED = 5


def write_demo_images(images: Path, labels: Path, seed: int = DEMO_SEED) -> None:
    images.mkdir(parents=True, exist_ok=True)
    labels.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    rows = []
    for i, defect in enumerate(DEMO_SEQUENCE, start=1):
        image, boxes, verdict = render_scene(rng, defect)
        name = f"demo_{i:02d}.png"
        write_image(images / name, image)
        (labels / name).with_suffix(".txt").write_text("\n".join(yolo_lines(boxes)) + "\n")
        rows.append((name, verdict, defect or ""))
    with (labels / "ground_truth.csv").open("w", newline="") as fh:
        w = csv.writer(fh, lineterminator="\n")
        w.writerow(("file", "verdict", "defect"))
        w.writerows(rows)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", type=Path, required=True)
    ap.add_argument("--demo", action="store_true", help="write the bundled demo sequence: images to OUT, labels to --labels")
    ap.add_argument("--labels", type=Path, help="with --demo: folder for the labels and ground_truth.csv")
    ap.add_argument("--count", type=int, default=12)
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--format", choices=("png", "jpg"), default="png")
    args = ap.parse_args()
    if args.demo:
        write_demo_images(args.out, args.labels or args.out.parent / "demo_labels")
        return
    write_set(args.out, args.count, args.seed, "." + args.format)


if __name__ == "__main__":
    main()
