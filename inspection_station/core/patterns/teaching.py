"""Teaching a pattern variant from good parts (the old tools/determine_desired_coordinates).

Input: the boxes of several good frames (detections or YOLO labels), normalised. Boxes
are grouped into slots by class and position: each frame's boxes are assigned to the
slots' running mean centres (Hungarian assignment per class), so a slot collects one box
per frame. Per slot, with margin m = tolerance x the slot's mean box width/height:

- inner = the region every taught box covers (max x1, max y1, min x2, min y2), shrunk by m
- outer = the envelope of all taught boxes, grown by m, clipped to [0, 1]

Both loosen the rule (the edges may wander by m beyond what was seen), and by
construction every taught frame passes the derived variant. The shrink is capped so
the inner box never collapses.
"""

from __future__ import annotations

import math
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from inspection_station.core.detection import Detection
from inspection_station.core.errors import PatternError
from inspection_station.core.patterns.matching import assignment_solver
from inspection_station.core.patterns.model import Box, Slot
from inspection_station.core.text_files import read_text_limited

_DECIMALS = 6  # what the YAML keeps: ~1/1000 px on a 1000 px image


@dataclass(frozen=True, slots=True)
class NormBox:
    """One object, box x1, y1, x2, y2 normalised to the image (0..1)."""

    class_id: int
    box: Box


@dataclass(frozen=True)
class TeachResult:
    slots: tuple[Slot, ...]
    samples: tuple[int, ...]  # boxes taught per slot (== frames when every frame had it)
    frames: int
    notes: tuple[str, ...]  # frames that did not fit the layout (they may fail the variant)
    odd_frames: tuple[int, ...] = ()  # their indices


def normalise_detections(detections: Sequence[Detection], width: float, height: float) -> list[NormBox]:
    """Detections in pixels -> normalised boxes, clipped to the image."""
    if not (width > 0 and height > 0):
        raise ValueError(f"image size must be positive, got {width} x {height}")
    out = []
    for d in detections:
        x1, y1, x2, y2 = d.box
        box = (x1 / width, y1 / height, x2 / width, y2 / height)
        out.append(NormBox(int(d.class_id), _clip(box)))
    return out


def _clip(box: Sequence[float]) -> Box:
    return tuple(min(1.0, max(0.0, float(v))) for v in box)  # type: ignore[return-value]


def parse_yolo_labels(text: str, source: str = "labels") -> list[NormBox]:
    """YOLO txt lines `class cx cy w h` (normalised) -> boxes x1 y1 x2 y2, clipped to [0, 1].

    Extra columns (a score written by exporters) are ignored; blank lines are skipped.
    """
    boxes = []
    for number, line in enumerate(text.splitlines(), start=1):
        parts = line.split()
        if not parts:
            continue
        try:
            if len(parts) < 5:
                raise ValueError
            cls_f = float(parts[0])
            cx, cy, w, h = (float(v) for v in parts[1:5])
            if not all(math.isfinite(v) for v in (cls_f, cx, cy, w, h)):
                raise ValueError  # nan/inf would pass the checks below and clip to nonsense
            if not cls_f.is_integer() or cls_f < 0 or w < 0 or h < 0:
                raise ValueError
        except ValueError:
            raise PatternError(f"{source}:{number}: expected 'class cx cy w h' (normalised), got {line.strip()!r}") from None
        boxes.append(NormBox(int(cls_f), _clip((cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2))))
    return boxes


def read_yolo_labels(path: str | Path) -> list[NormBox]:
    p = Path(path)
    return parse_yolo_labels(read_text_limited(p, what="label file", error=PatternError), str(p))


def to_detections(boxes: Sequence[NormBox], width: float = 1.0, height: float = 1.0) -> list[Detection]:
    """Normalised boxes as Detections (score 1) in a width x height image, for matching labels."""
    return [
        Detection(b.class_id, str(b.class_id), 1.0,
                  (b.box[0] * width, b.box[1] * height, b.box[2] * width, b.box[3] * height))
        for b in boxes
    ]


# --- clustering -------------------------------------------------------------------------------


def _centres(boxes: np.ndarray) -> np.ndarray:
    return np.stack([(boxes[:, 0] + boxes[:, 2]) / 2, (boxes[:, 1] + boxes[:, 3]) / 2], axis=1)


def _reference_frame(frames: Sequence[Sequence[NormBox]]) -> int:
    """The first frame with the most common box count: a missed or extra box elsewhere stays an outlier."""
    counts = [len(f) for f in frames]
    values, freq = np.unique(counts, return_counts=True)
    best = max(v for v, c in zip(values, freq, strict=True) if c == freq.max())
    return counts.index(int(best))


def cluster_boxes(
    frames: Sequence[Sequence[NormBox]],
) -> tuple[list[int], list[list[Box]], dict[int, str]]:
    """Group boxes into slots: (class per slot, boxes per slot, {odd frame index: note})."""
    ref_index = _reference_frame(frames)
    ref = frames[ref_index]
    slot_class = [b.class_id for b in ref]
    members: list[list[Box]] = [[b.box] for b in ref]
    notes: dict[int, str] = {}
    order = [ref_index] + [i for i in range(len(frames)) if i != ref_index]
    for fi in order[1:]:
        frame = frames[fi]
        taken = 0
        for cls in sorted({b.class_id for b in frame} | set(slot_class)):
            slot_ids = [s for s, c in enumerate(slot_class) if c == cls]
            boxes = [b.box for b in frame if b.class_id == cls]
            if not slot_ids or not boxes:
                continue
            mean_centres = np.array([_centres(np.array(members[s])).mean(axis=0) for s in slot_ids])
            box_centres = _centres(np.array(boxes))
            cost = np.linalg.norm(mean_centres[:, None, :] - box_centres[None, :, :], axis=-1)
            rows, cols = assignment_solver()(cost)
            for r, c in zip(rows, cols, strict=True):
                members[slot_ids[r]].append(boxes[c])
            taken += len(rows)
        if taken != len(ref) or len(frame) != len(ref):
            notes[fi] = f"frame {fi}: {len(frame)} boxes, {taken} assigned of {len(ref)} slots"
    return slot_class, members, notes


# --- slot geometry ---------------------------------------------------------------------------


def _loose(value: float, bound: float, upward: bool) -> float:
    """`value` rounded for a readable file, but never tighter than `bound` (the taught boxes)."""
    r = round(value, _DECIMALS)
    return max(r, bound) if upward else min(r, bound)


def slot_from_boxes(class_id: int, boxes: Sequence[Box], tolerance: float) -> Slot:
    """The loosest-by-`tolerance` slot every one of `boxes` fills (see the module docstring)."""
    if tolerance < 0:
        raise ValueError(f"tolerance must be >= 0, got {tolerance}")
    a = np.asarray(boxes, dtype=np.float64).reshape(-1, 4)
    lo_x1, lo_y1 = a[:, 0].min(), a[:, 1].min()
    hi_x1, hi_y1 = a[:, 0].max(), a[:, 1].max()
    lo_x2, lo_y2 = a[:, 2].min(), a[:, 3].min()
    hi_x2, hi_y2 = a[:, 2].max(), a[:, 3].max()
    if not (hi_x1 < lo_x2 and hi_y1 < lo_y2):
        raise PatternError(
            f"class {class_id}: the part moves more than its own size across the frames "
            f"(x1 up to {hi_x1:.4f} but x2 down to {lo_x2:.4f}, y1 up to {hi_y1:.4f} but y2 down to {lo_y2:.4f}); "
            "no inner box is covered by every frame"
        )
    mx = tolerance * float(np.mean(a[:, 2] - a[:, 0]))
    my = tolerance * float(np.mean(a[:, 3] - a[:, 1]))
    # the inner shrink may use at most a quarter of the always-covered core, so it stays a box
    sx = min(mx, (lo_x2 - hi_x1) / 4)
    sy = min(my, (lo_y2 - hi_y1) / 4)
    inner = (
        _loose(hi_x1 + sx, hi_x1, upward=True),
        _loose(hi_y1 + sy, hi_y1, upward=True),
        _loose(lo_x2 - sx, lo_x2, upward=False),
        _loose(lo_y2 - sy, lo_y2, upward=False),
    )
    if not (inner[0] < inner[2] and inner[1] < inner[3]):  # rounding ate a tiny core: keep exact
        inner = (hi_x1 + sx, hi_y1 + sy, lo_x2 - sx, lo_y2 - sy)
    outer = (
        max(0.0, _loose(lo_x1 - mx, lo_x1, upward=False)),
        max(0.0, _loose(lo_y1 - my, lo_y1, upward=False)),
        min(1.0, _loose(hi_x2 + mx, hi_x2, upward=True)),
        min(1.0, _loose(hi_y2 + my, hi_y2, upward=True)),
    )
    return Slot(int(class_id), tuple(float(v) for v in inner), tuple(float(v) for v in outer))  # type: ignore[arg-type]


def derive_variant(
    frames: Sequence[Sequence[NormBox]],
    tolerance: float = 0.1,
    class_tolerance: Mapping[int, float] | None = None,
    classes: Collection[int] | None = None,
) -> TeachResult:
    """A variant every given good frame passes; slots ordered top-to-bottom, left-to-right.

    `class_tolerance` overrides the margin per class id (the old tool's per-class factor);
    `classes` keeps only those class ids (the old tool's class filter).
    """
    frames = [[b for b in f if classes is None or b.class_id in classes] for f in frames]
    if not frames or not any(frames):
        raise PatternError("teaching needs at least one frame with boxes" + (
            f" of classes {', '.join(map(str, sorted(classes)))}" if classes is not None else ""))
    margins = dict(class_tolerance or {})
    slot_class, members, notes = cluster_boxes(frames)
    slots = [slot_from_boxes(c, m, margins.get(c, tolerance)) for c, m in zip(slot_class, members, strict=True)]
    order = sorted(range(len(slots)), key=lambda i: (round(slots[i].outer[1], 2), slots[i].outer[0], i))
    return TeachResult(
        slots=tuple(slots[i] for i in order),
        samples=tuple(len(members[i]) for i in order),
        frames=len(frames),
        notes=tuple(notes[i] for i in sorted(notes)),
        odd_frames=tuple(sorted(notes)),
    )


def variant_from_detections(
    detections: Sequence[Detection], width: float, height: float, tolerance: float = 0.1
) -> tuple[Slot, ...]:
    """One frame's detections -> a variant: inner = box shrunk, outer = box grown by tolerance."""
    return derive_variant([normalise_detections(detections, width, height)], tolerance).slots
