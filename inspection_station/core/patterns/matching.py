"""Slot <-> detection assignment and the verdict (DESIGN.md, "Patterns").

A detection fits a slot when the classes agree, its score reaches the slot's minimum
(if any) and each edge lies between the slot's inner and outer box, inclusive, in
normalised coordinates. One detection fills at most one slot: a maximum bipartite
matching, not the old system's greedy first-fit, so a box that fits two slots cannot
starve the second. The best variant has the most filled slots (first in file order on
ties); OK when it has every slot filled.
"""

from __future__ import annotations

import importlib.machinery
import importlib.util
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from inspection_station.core.cycle import Verdict
from inspection_station.core.detection import Detection
from inspection_station.core.errors import PatternError
from inspection_station.core.patterns.model import Box, PatternSet, Slot


@dataclass(frozen=True, slots=True)
class SlotResult:
    index: int  # position in the variant, file order
    class_id: int
    name: str | None
    matched: bool
    detection: int | None  # index into the detections that filled it
    inner: Box
    outer: Box
    # An unfilled slot with a detection of ANOTHER class sitting in it (its centre inside
    # the outer box, most of it inside): a wrong part, not a missing one. Detection index.
    wrong_detection: int | None = None
    wrong_class_id: int | None = None


def slot_label(slot: SlotResult, class_names: Sequence[str] = ()) -> str:
    """A slot as people name it: its name, else its class name, else "slot <index>"."""
    if slot.name:
        return slot.name
    if 0 <= slot.class_id < len(class_names) and class_names[slot.class_id]:
        return class_names[slot.class_id]
    return f"slot {slot.index}"


def wrong_part_name(slot: SlotResult, detections: Sequence[Detection]) -> str:
    """The part sitting wrongly in `slot` ('capacitor'); "" when the slot has none."""
    if slot.wrong_detection is None or not 0 <= slot.wrong_detection < len(detections):
        return ""
    det = detections[slot.wrong_detection]
    return det.class_name or f"class {det.class_id}"


def wrong_part_text(slot: SlotResult, detections: Sequence[Detection], class_names: Sequence[str] = ()) -> str:
    """'capacitor in slot chip_mcu' for a wrong part; "" when the slot has none."""
    part = wrong_part_name(slot, detections)
    return f"{part} in slot {slot_label(slot, class_names)}" if part else ""


@dataclass(frozen=True)
class MatchResult:
    variant: str | None
    filled: int
    expected: int
    ok: bool
    slots: tuple[SlotResult, ...]
    unmatched: tuple[int, ...]  # detection indices that filled no slot of the best variant
    per_variant: dict[str, int]  # filled count of every variant, file order

    @property
    def wrong_parts(self) -> tuple[SlotResult, ...]:
        """Unfilled slots that hold a part of another class."""
        return tuple(s for s in self.slots if not s.matched and s.wrong_detection is not None)

    @property
    def verdict(self) -> Verdict:
        """The verdict rule, written once: OK when the best variant has every slot filled."""
        return Verdict.OK if self.ok else Verdict.NOK

    def summary(self) -> str:
        """'variant_a 5/6': the one text every view and command shows for a match."""
        return f"{self.variant or '-'} {self.filled}/{self.expected}"

    def missing(self, wrong_too: bool = True) -> list[str]:
        """The unfilled slots of the best variant, as people read them: name, else position and class.
        `wrong_too=False` leaves out the slots that hold a wrong part (named by `nok_reason`)."""
        return [s.name or f"slot {s.index} (class {s.class_id})" for s in self.slots
                if not s.matched and (wrong_too or s.wrong_detection is None)]

    def wrong_part_texts(self, detections: Sequence[Detection], class_names: Sequence[str] = ()) -> list[str]:
        """'capacitor in slot chip_mcu' per slot holding a part of another class."""
        return [wrong_part_text(s, detections, class_names) for s in self.wrong_parts]

    def nok_reason(self, detections: Sequence[Detection], class_names: Sequence[str] = ()) -> str:
        """'wrong part: capacitor in slot chip_mcu; missing: screw_left': a NOK's reason, written once."""
        wrong = self.wrong_part_texts(detections, class_names)
        missing = self.missing(wrong_too=False)
        return "; ".join(
            (["wrong part: " + ", ".join(wrong)] if wrong else []) + (["missing: " + ", ".join(missing)] if missing else [])
        )

    def to_json_slots(self) -> list[dict]:
        """DESIGN.md's `slots` list for `inspect --json`."""
        return [{"class_id": s.class_id, "matched": s.matched, "detection": s.detection} for s in self.slots]


def verdict_fields(verdict: str, pattern_set: str, match: MatchResult | None) -> dict:
    """The verdict keys of `inspect --json` (DESIGN.md), written once: `inspect`, `pattern check`,
    the API's cycle records and POST /check all build them here."""
    return {
        "verdict": str(verdict),
        "pattern_set": pattern_set,
        "variant": match.variant if match else None,
        "matched": match.filled if match else 0,
        "expected": match.expected if match else 0,
        "slots": match.to_json_slots() if match else [],
    }


def fit_matrix(
    slots: Sequence[Slot],
    min_scores: Sequence[float | None],
    classes: np.ndarray,
    scores: np.ndarray,
    boxes: np.ndarray,
) -> np.ndarray:
    """Bool [slots, detections]: which detection fits which slot (boxes normalised, N x 4)."""
    if not slots or len(classes) == 0:
        return np.zeros((len(slots), len(classes)), dtype=bool)
    slot_cls = np.array([s.class_id for s in slots])[:, None]
    # absent minimum = -inf, so any score (even NaN-free negatives) passes
    need = np.array([-np.inf if m is None else m for m in min_scores], dtype=np.float64)[:, None]
    edges_ok = place_matrix(slots, boxes)
    return edges_ok & (slot_cls == classes[None, :]) & (scores[None, :] >= need)


def place_matrix(slots: Sequence[Slot], boxes: np.ndarray) -> np.ndarray:
    """Bool [slots, detections]: which detection's edges fit which slot, whatever its class."""
    if not slots or len(boxes) == 0:
        return np.zeros((len(slots), len(boxes)), dtype=bool)
    inner = np.array([s.inner for s in slots], dtype=np.float64)[:, None, :]
    outer = np.array([s.outer for s in slots], dtype=np.float64)[:, None, :]
    # x1, y1 between outer (low) and inner (high); x2, y2 between inner (low) and outer (high)
    lo = np.concatenate([outer[..., :2], inner[..., 2:]], axis=-1)
    hi = np.concatenate([inner[..., :2], outer[..., 2:]], axis=-1)
    return np.all((lo <= boxes[None, :, :]) & (boxes[None, :, :] <= hi), axis=-1)


def sits_in_matrix(slots: Sequence[Slot], boxes: np.ndarray) -> np.ndarray:
    """Bool [slots, detections]: the detection sits in the slot, whatever its class and size:
    its centre inside the outer box and at least half its area inside it. Looser than the
    edge fit on purpose: a wrong part rarely has the right part's size."""
    if not slots or len(boxes) == 0:
        return np.zeros((len(slots), len(boxes)), dtype=bool)
    outer = np.array([s.outer for s in slots], dtype=np.float64)[:, None, :]  # S x 1 x 4
    b = boxes[None, :, :]
    cx, cy = (b[..., 0] + b[..., 2]) / 2, (b[..., 1] + b[..., 3]) / 2
    centre_in = (outer[..., 0] <= cx) & (cx <= outer[..., 2]) & (outer[..., 1] <= cy) & (cy <= outer[..., 3])
    iw = np.clip(np.minimum(b[..., 2], outer[..., 2]) - np.maximum(b[..., 0], outer[..., 0]), 0, None)
    ih = np.clip(np.minimum(b[..., 3], outer[..., 3]) - np.maximum(b[..., 1], outer[..., 1]), 0, None)
    area = np.clip((b[..., 2] - b[..., 0]) * (b[..., 3] - b[..., 1]), 1e-12, None)
    return centre_in & (iw * ih >= 0.5 * area)


def _wrong_parts(
    slots: Sequence[Slot], assigned: np.ndarray, classes: np.ndarray, scores: np.ndarray, boxes: np.ndarray
) -> list[int | None]:
    """Per slot: the most confident unused detection of another class that sits in it."""
    wrong: list[int | None] = [None] * len(slots)
    if not slots or len(boxes) == 0:
        return wrong
    used = {int(a) for a in assigned if a >= 0}
    places = sits_in_matrix(slots, boxes)
    for i, slot in enumerate(slots):
        if assigned[i] >= 0:
            continue
        candidates = [j for j in np.flatnonzero(places[i]) if int(j) not in used and classes[j] != slot.class_id]
        if candidates:
            best = max(candidates, key=lambda j: scores[j])
            wrong[i] = int(best)
            used.add(int(best))  # one part is wrong in one slot only
    return wrong


_LSAP = "scipy.optimize._lsap"
_solver: Callable | None = None


def assignment_solver() -> Callable:
    """scipy's assignment solver without the rest of scipy.optimize, loaded on first use.

    `from scipy.optimize import linear_sum_assignment` runs scipy.optimize's __init__,
    which pulls in scipy.linalg, sparse and more: 0.36 s of every start. The solver is one
    C extension (scipy.optimize._lsap) that needs only numpy, so it is loaded from its file;
    the ordinary import is the fallback for a layout where the file is not found.
    """
    global _solver
    if _solver is None:
        module = sys.modules.get(_LSAP)
        if module is None:
            try:
                import scipy

                loader = (importlib.machinery.ExtensionFileLoader, importlib.machinery.EXTENSION_SUFFIXES)
                folder = Path(scipy.__path__[0]) / "optimize"
                spec = importlib.machinery.FileFinder(str(folder), loader).find_spec(_LSAP)
                if spec is None or spec.loader is None:
                    raise ImportError(_LSAP)
                module = importlib.util.module_from_spec(spec)
                spec.loader.exec_module(module)
                sys.modules[_LSAP] = module  # a later `import scipy.optimize` reuses it
            except Exception:  # noqa: BLE001 - any surprise: the ordinary (slower) import
                from scipy.optimize import linear_sum_assignment

                _solver = linear_sum_assignment
                return _solver
        _solver = module.linear_sum_assignment
    return _solver


def assign(fits: np.ndarray, scores: np.ndarray) -> np.ndarray:
    """Per slot the detection index filling it, or -1; maximum cardinality matching.

    Weight 1 per fitting pair plus a score bonus below 1/S in total keeps the count
    maximal while preferring the more confident detection among equal matchings.
    """
    n_slots, n_dets = fits.shape
    result = np.full(n_slots, -1, dtype=np.int64)
    if n_slots == 0 or n_dets == 0 or not fits.any():
        return result
    bonus = np.clip(np.nan_to_num(scores, nan=0.0), 0.0, 1.0) / (n_slots + 1)
    weight = np.where(fits, 1.0 + bonus[None, :], 0.0)
    rows, cols = assignment_solver()(weight, maximize=True)
    keep = fits[rows, cols]
    result[rows[keep]] = cols[keep]
    return result


def _arrays(detections: Sequence[Detection], width: float, height: float):
    if not (width > 0 and height > 0):
        raise ValueError(f"image size must be positive, got {width} x {height}")
    n = len(detections)
    classes = np.fromiter((d.class_id for d in detections), dtype=np.int64, count=n)
    scores = np.fromiter((d.score for d in detections), dtype=np.float64, count=n)
    boxes = np.array([d.box for d in detections], dtype=np.float64).reshape(n, 4)
    boxes /= np.array([width, height, width, height], dtype=np.float64)
    return classes, scores, boxes


def match_pattern(
    pattern_set: PatternSet, detections: Sequence[Detection], width: float, height: float
) -> MatchResult:
    """Match detections (original pixels) against every variant; the best decides the verdict."""
    if not pattern_set.variants:
        raise PatternError(f"{pattern_set.source}: no variants, nothing to match (a cycle without a pattern is never OK)")
    classes, scores, boxes = _arrays(detections, width, height)
    best: tuple[str, tuple[Slot, ...], np.ndarray] | None = None
    per_variant: dict[str, int] = {}
    for name, slots in pattern_set.variants.items():
        fits = fit_matrix(slots, [pattern_set.min_score_for(s) for s in slots], classes, scores, boxes)
        assigned = assign(fits, scores)
        per_variant[name] = int((assigned >= 0).sum())
        if best is None or per_variant[name] > per_variant[best[0]]:  # strict: file order wins ties
            best = (name, slots, assigned)
    assert best is not None
    name, slots, assigned = best
    wrong = _wrong_parts(slots, assigned, classes, scores, boxes)
    slot_results = tuple(
        SlotResult(i, s.class_id, s.name, bool(a >= 0), int(a) if a >= 0 else None, s.inner, s.outer,
                   w, int(classes[w]) if w is not None else None)
        for i, (s, a, w) in enumerate(zip(slots, assigned, wrong, strict=True))
    )
    used = set(int(a) for a in assigned if a >= 0)
    filled = per_variant[name]
    return MatchResult(
        variant=name,
        filled=filled,
        expected=len(slots),
        ok=len(slots) > 0 and filled == len(slots),
        slots=slot_results,
        unmatched=tuple(i for i in range(len(detections)) if i not in used),
        per_variant=per_variant,
    )
