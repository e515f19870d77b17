"""How well one set of boxes agrees with another: mAP@0.5 and mean IoU, per image set.

The reference is either labels (ground truth) or another model's predictions (a
quantised model against its fp32 original). Matching is per image, same class, greedy
by score at IoU >= 0.5, as VOC/COCO evaluation does.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from inspection_station.core.detection import Detection

IOU_THRESHOLD = 0.5


def iou_matrix(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """IoU of every box in a [N, 4] with every box in b [M, 4] (x1 y1 x2 y2)."""
    if len(a) == 0 or len(b) == 0:
        return np.zeros((len(a), len(b)))
    lt = np.maximum(a[:, None, :2], b[None, :, :2])
    rb = np.minimum(a[:, None, 2:], b[None, :, 2:])
    inter = np.prod(np.clip(rb - lt, 0, None), axis=2)
    area_a = np.prod(np.clip(a[:, 2:] - a[:, :2], 0, None), axis=1)
    area_b = np.prod(np.clip(b[:, 2:] - b[:, :2], 0, None), axis=1)
    return inter / (area_a[:, None] + area_b[None] - inter + 1e-9)


def match_to_reference(
    predicted: Sequence[Detection], reference: Sequence[Detection], iou_thr: float = IOU_THRESHOLD
) -> tuple[list[int], list[float]]:
    """Per prediction the reference index it matched (-1 = none), and that pair's IoU.

    Greedy by score: the most confident prediction takes its best free reference box of
    the same class with IoU >= iou_thr.
    """
    ious = iou_matrix(
        np.array([d.box for d in predicted], float).reshape(-1, 4),
        np.array([r.box for r in reference], float).reshape(-1, 4),
    )
    taken = np.zeros(len(reference), bool)
    ref_classes = np.array([r.class_id for r in reference], int)
    matched, pair_iou = [-1] * len(predicted), [0.0] * len(predicted)
    for i in sorted(range(len(predicted)), key=lambda k: -predicted[k].score):
        if not len(reference):
            break
        row = np.where((ref_classes == predicted[i].class_id) & ~taken, ious[i], -1.0)
        j = int(row.argmax())
        if row[j] >= iou_thr:
            matched[i], pair_iou[i], taken[j] = j, float(row[j]), True
    return matched, pair_iou


def average_precision(scores: Sequence[float], hits: Sequence[bool], n_reference: int) -> float:
    """Area under the all-points interpolated precision/recall curve (VOC 2010+)."""
    if n_reference == 0:
        return float("nan")
    order = np.argsort(-np.array(scores, float), kind="stable")
    tp = np.array(hits, float)[order]
    ctp, cfp = np.cumsum(tp), np.cumsum(1 - tp)
    recall = ctp / n_reference
    precision = ctp / np.maximum(ctp + cfp, 1e-9)
    r = np.concatenate([[0.0], recall, [1.0]])
    p = np.concatenate([[1.0], precision, [0.0]])
    p = np.maximum.accumulate(p[::-1])[::-1]
    return float(np.sum((r[1:] - r[:-1]) * p[1:]))


@dataclass(frozen=True, slots=True)
class BoxAgreement:
    map50: float  # mean over the classes present in the reference; nan if it has no boxes
    mean_iou: float  # over the matched pairs; nan if none matched
    matched: int
    predicted: int
    reference: int

    def to_dict(self) -> dict:
        def num(v: float) -> float | None:
            return None if np.isnan(v) else round(float(v), 4)

        return {
            "map50": num(self.map50),
            "mean_iou": num(self.mean_iou),
            "matched": self.matched,
            "predicted": self.predicted,
            "reference": self.reference,
        }


def box_agreement(
    predicted: Sequence[Sequence[Detection]], reference: Sequence[Sequence[Detection]]
) -> BoxAgreement:
    """mAP@0.5 and mean IoU of predictions against a reference, image by image."""
    if len(predicted) != len(reference):
        raise ValueError(f"{len(predicted)} predicted images against {len(reference)} reference images")
    per_class: dict[int, tuple[list[float], list[bool]]] = {}
    ref_count: dict[int, int] = {}
    ious: list[float] = []
    for preds, refs in zip(predicted, reference, strict=True):
        for r in refs:
            ref_count[r.class_id] = ref_count.get(r.class_id, 0) + 1
        matched, pair_iou = match_to_reference(preds, refs)
        for d, j, iou in zip(preds, matched, pair_iou, strict=True):
            scores, hits = per_class.setdefault(d.class_id, ([], []))
            scores.append(d.score)
            hits.append(j >= 0)
            if j >= 0:
                ious.append(iou)
    aps = [
        average_precision(*per_class.get(cls, ([], [])), n)
        for cls, n in sorted(ref_count.items())
    ]
    return BoxAgreement(
        map50=float(np.mean(aps)) if aps else float("nan"),
        mean_iou=float(np.mean(ious)) if ious else float("nan"),
        matched=len(ious),
        predicted=sum(len(p) for p in predicted),
        reference=sum(ref_count.values()),
    )
