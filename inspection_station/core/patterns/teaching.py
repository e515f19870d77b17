"""Teaching a pattern variant from good parts: one routine for the editor and `pattern derive`.

Input: the boxes of one or more good frames (detections or YOLO labels), normalised.
Boxes are grouped into slots by class and position: each frame's boxes are assigned to
the slots' running mean centres (Hungarian assignment per class), so a slot collects one
box per frame. Each edge of a slot then gets a window: from the lowest to the highest
position seen, widened on both sides by

    m = max(margin - spread, MIN_MARGIN_SHARE x margin)  [+ tolerance x the part's size]

`margin` is how far a good part's edge may sit from where a good board showed it, as a
fraction of the frame width (the same number of pixels vertically). With one frame the
window is that frame's edge +- margin; with several, the spread seen already covers part
of the wandering, so the window is [highest - margin, lowest + margin]: it holds every
position within `margin` of all the frames seen (never less than the spread plus a
quarter margin). DEFAULT_MARGIN is measured on the demo generator
(models/training/measure_jitter.py). `tolerance` is the old tool's size-relative widening
(a fraction of the part's mean width / height, per class with `class_tolerance`), 0 by
default.

inner = (highest x1, highest y1, lowest x2, lowest y2) + the windows, outer = the other
ends: the rule "each edge between inner and outer" is then exactly the window. Every
taught frame passes the derived variant by construction. An inner box that the windows
would turn inside out is capped (kept at a tenth of the always-covered core) and said.

After teaching, `check_variant` judges the variant on good frames (the frames used, the
station's recent cycles and log, a folder): the pass rate and the slots that failed.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from inspection_station.core.detection import Detection
from inspection_station.core.errors import PatternError
from inspection_station.core.patterns.matching import assignment_solver
from inspection_station.core.patterns.model import Box, Slot
from inspection_station.core.text_files import read_text_limited

_DECIMALS = 6  # what the YAML keeps: ~1/1000 px on a 1000 px image


DEFAULT_MARGIN = 0.016  # of the frame width; measure_jitter.py: 27.3 px (0.0142) at most on 200 demo boards
MIN_MARGIN_SHARE = 0.25  # the widening never drops below a quarter of the margin (detector noise)
INNER_KEEP = 0.10  # a capped inner box keeps this share of the always-covered core
CAP_SAID = 0.9  # a cap that keeps less than this share of the inward window is said


@dataclass(frozen=True, slots=True)
class NormBox:
    """One object, box x1, y1, x2, y2 normalised to the image (0..1); labels score 1."""

    class_id: int
    box: Box
    score: float = 1.0


@dataclass(frozen=True)
class TeachResult:
    slots: tuple[Slot, ...]
    samples: tuple[int, ...]  # boxes taught per slot (== frames when every frame had it)
    frames: int
    notes: tuple[str, ...]  # frames that did not fit the layout (they may fail the variant)
    odd_frames: tuple[int, ...] = ()  # their indices
    warnings: tuple[str, ...] = ()  # what the engineer must know: one frame is thin, capped slots
    margin_px: float | None = None  # the margin in pixels of the taught frames (when their width is known)

    @property
    def thin(self) -> bool:
        """Taught from a single frame: the windows are the default margin, not a seen spread."""
        return self.frames == 1


def normalise_detections(detections: Sequence[Detection], width: float, height: float) -> list[NormBox]:
    """Detections in pixels -> normalised boxes, clipped to the image."""
    if not (width > 0 and height > 0):
        raise ValueError(f"image size must be positive, got {width} x {height}")
    out = []
    for d in detections:
        x1, y1, x2, y2 = d.box
        box = (x1 / width, y1 / height, x2 / width, y2 / height)
        out.append(NormBox(int(d.class_id), _clip(box), float(d.score)))
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
    """Normalised boxes as Detections (their scores; 1 for labels) in a width x height image."""
    return [
        Detection(b.class_id, str(b.class_id), b.score,
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


def slot_geometry(
    class_id: int, boxes: Sequence[Box], tolerance: float = 0.0, margin: float = 0.0, aspect: float = 1.0
) -> tuple[Slot, bool]:
    """(the slot every one of `boxes` fills, whether its inner box had to be capped).

    See the module docstring; `margin` is a fraction of the frame width, `aspect` the
    frames' width / height (so the vertical margin is the same number of pixels)."""
    if tolerance < 0 or margin < 0:
        raise ValueError(f"tolerance and margin must be >= 0, got {tolerance}, {margin}")
    a = np.asarray(boxes, dtype=np.float64).reshape(-1, 4)
    lo, hi = a.min(axis=0), a.max(axis=0)  # per edge x1 y1 x2 y2
    if not (hi[0] < lo[2] and hi[1] < lo[3]):
        raise PatternError(
            f"class {class_id}: the part moves more than its own size across the frames "
            f"(x1 up to {hi[0]:.4f} but x2 down to {lo[2]:.4f}, y1 up to {hi[1]:.4f} but y2 down to {lo[3]:.4f}); "
            "no inner box is covered by every frame"
        )
    size = np.array([np.mean(a[:, 2] - a[:, 0]), np.mean(a[:, 3] - a[:, 1])])
    axis_margin = np.array([margin, margin * aspect, margin, margin * aspect])
    m = np.where(axis_margin > 0, np.maximum(axis_margin - (hi - lo), MIN_MARGIN_SHARE * axis_margin), 0.0)
    m = m + tolerance * np.r_[size, size]
    # inward: x1 / y1 edges may go up to hi + m, x2 / y2 down to lo - m; the inner box keeps a core
    core = np.array([lo[2] - hi[0], lo[3] - hi[1]])
    capped = False
    inward = m.copy()
    for axis in (0, 1):
        room = (1 - INNER_KEEP) * core[axis]
        both = inward[axis] + inward[axis + 2]
        if both > room:
            inward[axis] *= room / both
            inward[axis + 2] *= room / both
            capped = capped or room / both < CAP_SAID  # a sliver off the window is not worth a warning
    inner = (
        _loose(hi[0] + inward[0], hi[0], upward=True),
        _loose(hi[1] + inward[1], hi[1], upward=True),
        _loose(lo[2] - inward[2], lo[2], upward=False),
        _loose(lo[3] - inward[3], lo[3], upward=False),
    )
    if not (inner[0] < inner[2] and inner[1] < inner[3]):  # rounding ate a tiny core: keep exact
        inner = (hi[0] + inward[0], hi[1] + inward[1], lo[2] - inward[2], lo[3] - inward[3])
    outer = (
        max(0.0, _loose(lo[0] - m[0], lo[0], upward=False)),
        max(0.0, _loose(lo[1] - m[1], lo[1], upward=False)),
        min(1.0, _loose(hi[2] + m[2], hi[2], upward=True)),
        min(1.0, _loose(hi[3] + m[3], hi[3], upward=True)),
    )
    slot = Slot(int(class_id), tuple(float(v) for v in inner), tuple(float(v) for v in outer))  # type: ignore[arg-type]
    return slot, capped


def slot_from_boxes(class_id: int, boxes: Sequence[Box], tolerance: float, margin: float = 0.0,
                    aspect: float = 1.0) -> Slot:
    """The slot every one of `boxes` fills, widened by `margin` and `tolerance` (module docstring)."""
    return slot_geometry(class_id, boxes, tolerance, margin, aspect)[0]


def slot_name_base(class_id: int, class_names: Sequence[str] | Mapping[int, str] = ()) -> str:
    """`capacitor` for class 3 of the model's names; `class_3` without a name."""
    if isinstance(class_names, Mapping):
        name = class_names.get(class_id, "")
    else:
        name = class_names[class_id] if 0 <= class_id < len(class_names) else ""
    name = "_".join(str(name).split())
    return name or f"class_{class_id}"


def name_slots(slots: Sequence[Slot], class_names: Sequence[str] | Mapping[int, str] = ()) -> tuple[Slot, ...]:
    """Slots named after their class, numbered in their order (top to bottom, left to right):
    capacitor_1, capacitor_2, ...; a slot that has a name keeps it."""
    counts: dict[int, int] = {}
    named = []
    for slot in slots:
        counts[slot.class_id] = counts.get(slot.class_id, 0) + 1
        if slot.name:
            named.append(slot)
            continue
        base = slot_name_base(slot.class_id, class_names)
        named.append(dataclasses.replace(slot, name=f"{base}_{counts[slot.class_id]}"))
    return tuple(named)


def reading_order(slots: Sequence[Slot]) -> list[int]:
    """Slot indices as one reads the board: rows top to bottom, each left to right. A slot
    joins a row when its centre lies within the row's first slot's height (parts of one row
    sit a few pixels apart; rounding y would split them by chance)."""
    centre_y = [(s.outer[1] + s.outer[3]) / 2 for s in slots]
    rows: list[list[int]] = []
    for i in sorted(range(len(slots)), key=lambda i: (centre_y[i], slots[i].outer[0])):
        if rows:
            first = slots[rows[-1][0]]
            if first.outer[1] <= centre_y[i] <= first.outer[3]:
                rows[-1].append(i)
                continue
        rows.append([i])
    return [i for row in rows for i in sorted(row, key=lambda i: (slots[i].outer[0], i))]


def derive_variant(
    frames: Sequence[Sequence[NormBox]],
    tolerance: float = 0.0,
    class_tolerance: Mapping[int, float] | None = None,
    classes: Collection[int] | None = None,
    *,
    margin: float = DEFAULT_MARGIN,
    aspect: float = 1.0,
    width: int | None = None,
    class_names: Sequence[str] | Mapping[int, str] | None = None,
) -> TeachResult:
    """A variant every given good frame passes; slots ordered top-to-bottom, left-to-right.

    `margin`: see the module docstring (0 = the envelope of the boxes seen, widened by
    `tolerance` alone). `aspect`: the frames' width / height; `width`: their width in
    pixels (only to say the margin in pixels). `class_tolerance` overrides the tolerance
    per class id (the old tool's per-class factor); `classes` keeps only those class ids
    (the old tool's class filter). `class_names` (None = leave the slots unnamed) names
    each slot after its class: capacitor_1, capacitor_2.
    """
    frames = [[b for b in f if classes is None or b.class_id in classes] for f in frames]
    if not frames or not any(frames):
        raise PatternError("teaching needs at least one frame with boxes" + (
            f" of classes {', '.join(map(str, sorted(classes)))}" if classes is not None else ""))
    if not (aspect > 0 and math.isfinite(aspect)):
        raise ValueError(f"aspect must be a positive number, got {aspect}")
    tolerances = dict(class_tolerance or {})
    slot_class, members, notes = cluster_boxes(frames)
    shaped = [slot_geometry(c, m, tolerances.get(c, tolerance), margin, aspect)
              for c, m in zip(slot_class, members, strict=True)]
    order = reading_order([slot for slot, _capped in shaped])
    slots = tuple(shaped[i][0] for i in order)
    if class_names is not None:
        slots = name_slots(slots, class_names)
    margin_px = margin * width if width else None
    said = f"{margin_px:.0f} px" if margin_px is not None else f"{margin:.4f} of the frame width"
    warnings = []
    if len(frames) == 1 and margin > 0:
        warnings.append(
            f"Taught from ONE frame: every edge may move {said} from where this one part was; "
            "a single frame says nothing about how good parts really vary. Teach from several "
            "good parts (5 or more) and check the result on other good frames before saving.")
    for position, i in enumerate(order):
        if shaped[i][1]:
            label = slots[position].label(position)
            warnings.append(f"{label}: the part is small for the margin; its inner box is capped, so a good "
                            f"part that moves nearly {said} may fail (teach from more frames or lower the margin)")
    return TeachResult(
        slots=slots,
        samples=tuple(len(members[i]) for i in order),
        frames=len(frames),
        notes=tuple(notes[i] for i in sorted(notes)),
        odd_frames=tuple(sorted(notes)),
        warnings=tuple(warnings),
        margin_px=margin_px,
    )


def variant_from_detections(
    detections: Sequence[Detection], width: float, height: float, tolerance: float = 0.0,
    margin: float = DEFAULT_MARGIN,
) -> tuple[Slot, ...]:
    """One frame's detections -> a variant (module docstring; one frame is thin)."""
    frame = normalise_detections(detections, width, height)
    return derive_variant([frame], tolerance, margin=margin, aspect=width / height).slots


# --- checking a taught variant on good frames --------------------------------------------------


@dataclass(frozen=True)
class TeachCheck:
    """A taught variant judged on good frames: how many pass, which slots failed where."""

    frames: int
    passed: int
    failures: tuple[tuple[str, tuple[str, ...]], ...] = ()  # (frame, labels of its unfilled slots)

    @property
    def ok(self) -> bool:
        return self.frames > 0 and self.passed == self.frames

    @property
    def pass_rate(self) -> float | None:
        return self.passed / self.frames if self.frames else None

    def slot_failures(self) -> dict[str, int]:
        """Slot label -> frames in which it stayed unfilled, most first."""
        counts: dict[str, int] = {}
        for _frame, labels in self.failures:
            for label in labels:
                counts[label] = counts.get(label, 0) + 1
        return dict(sorted(counts.items(), key=lambda kv: (-kv[1], kv[0])))

    def summary(self) -> str:
        if not self.frames:
            return "no good frames to check on"
        text = f"passes {self.passed} of {self.frames} good frames ({100 * self.passed / self.frames:.0f} %)"
        failing = self.slot_failures()
        if failing:
            text += "; failing slots: " + ", ".join(f"{label} ({n})" for label, n in failing.items())
        return text


def check_variant(
    slots: Sequence[Slot],
    frames: Iterable[tuple[str, Sequence[NormBox]]],
    min_scores: Mapping[int, float] | None = None,
) -> TeachCheck:
    """Judge `slots` (one variant, the set's `min_scores`) on each (name, boxes) good frame."""
    from inspection_station.core.patterns.matching import match_pattern
    from inspection_station.core.patterns.model import PatternSet

    variant = PatternSet("check", {"taught": tuple(slots)}, None, dict(min_scores or {}))
    total = passed = 0
    failures = []
    for name, boxes in frames:
        total += 1
        result = match_pattern(variant, to_detections(boxes), 1.0, 1.0)
        if result.ok:
            passed += 1
        else:
            failures.append((name, tuple(slots[s.index].label(s.index) for s in result.slots if not s.matched)))
    return TeachCheck(total, passed, tuple(failures))


def teach_and_check(
    frames: Sequence[tuple[str, Sequence[NormBox]]],
    *,
    others: Iterable[tuple[str, Sequence[NormBox]]] = (),
    min_scores: Mapping[int, float] | None = None,
    **derive,
) -> tuple[TeachResult, TeachCheck]:
    """Teach from `frames` ((name, boxes) each) and check the variant on them and on `others`:
    the editor's and `pattern derive`'s one routine. `derive`: derive_variant's options."""
    taught = derive_variant([boxes for _name, boxes in frames], **derive)
    classes = derive.get("classes")
    keep = (lambda boxes: boxes) if classes is None else (lambda boxes: [b for b in boxes if b.class_id in classes])
    seen = [(name, keep(boxes)) for name, boxes in frames]
    seen += [(name, keep(boxes)) for name, boxes in others]
    return taught, check_variant(taught.slots, seen, min_scores)
