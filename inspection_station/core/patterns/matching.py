"""Slot <-> detection assignment and the verdict (DESIGN.md, "Patterns").

A detection fits a slot when the classes agree, its score reaches the slot's minimum
(if any) and each edge lies between the slot's inner and outer box, inclusive, in
normalised coordinates. One detection fills at most one slot: a maximum bipartite
matching, not the old system's greedy first-fit, so a box that fits two slots cannot
starve the second. The best variant has the most filled slots (first in file order on
ties); OK when it has every slot filled.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from scipy.optimize import linear_sum_assignment

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
    def verdict(self) -> Verdict:
        """The verdict rule, written once: OK when the best variant has every slot filled."""
        return Verdict.OK if self.ok else Verdict.NOK

    def summary(self) -> str:
        """'variant_a 5/6': the one text every view and command shows for a match."""
        return f"{self.variant or '-'} {self.filled}/{self.expected}"

    def missing(self) -> list[str]:
        """The unfilled slots of the best variant, as people read them: name, else position and class."""
        return [s.name or f"slot {s.index} (class {s.class_id})" for s in self.slots if not s.matched]

    def to_json_slots(self) -> list[dict]:
        """DESIGN.md's `slots` list for `inspect --json`."""
        return [{"class_id": s.class_id, "matched": s.matched, "detection": s.detection} for s in self.slots]


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
    inner = np.array([s.inner for s in slots], dtype=np.float64)[:, None, :]  # S x 1 x 4
    outer = np.array([s.outer for s in slots], dtype=np.float64)[:, None, :]
    slot_cls = np.array([s.class_id for s in slots])[:, None]
    # absent minimum = -inf, so any score (even NaN-free negatives) passes
    need = np.array([-np.inf if m is None else m for m in min_scores], dtype=np.float64)[:, None]
    b = boxes[None, :, :]  # 1 x N x 4
    # x1, y1 between outer (low) and inner (high); x2, y2 between inner (low) and outer (high)
    lo = np.concatenate([outer[..., :2], inner[..., 2:]], axis=-1)
    hi = np.concatenate([inner[..., :2], outer[..., 2:]], axis=-1)
    edges_ok = np.all((lo <= b) & (b <= hi), axis=-1)
    return edges_ok & (slot_cls == classes[None, :]) & (scores[None, :] >= need)


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
    rows, cols = linear_sum_assignment(weight, maximize=True)
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
    slot_results = tuple(
        SlotResult(i, s.class_id, s.name, bool(a >= 0), int(a) if a >= 0 else None, s.inner, s.outer)
        for i, (s, a) in enumerate(zip(slots, assigned, strict=True))
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
