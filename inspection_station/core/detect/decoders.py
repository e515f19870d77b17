"""YOLO output layouts: one small decoder each, chosen by the output shape (DESIGN.md's table), and NMS."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import cv2
import numpy as np

from inspection_station.core.errors import ModelError


@dataclass(frozen=True, slots=True)
class Candidates:
    """Decoded rows before NMS: boxes x1 y1 x2 y2 (model-input pixels), scores, classes."""

    boxes: np.ndarray
    scores: np.ndarray
    classes: np.ndarray


def _xywh_to_xyxy(xywh: np.ndarray) -> np.ndarray:
    half = xywh[:, 2:4] / 2
    return np.concatenate([xywh[:, :2] - half, xywh[:, :2] + half], axis=1)


def _decode_v8_raw(out: np.ndarray, conf: float) -> Candidates:
    """[1, 4+C, N]: cx cy w h, then C class scores; no objectness."""
    pred = out[0]
    cls_scores = pred[4:]
    classes = cls_scores.argmax(axis=0)
    scores = cls_scores[classes, np.arange(cls_scores.shape[1])]
    keep = np.flatnonzero(scores >= conf)
    return Candidates(_xywh_to_xyxy(pred[:4, keep].T), scores[keep], classes[keep])


def _decode_v5_raw(out: np.ndarray, conf: float) -> Candidates:
    """[1, N, 5+C]: cx cy w h objectness, then C class scores."""
    pred = out[0]
    pred = pred[pred[:, 4] >= conf]  # cheap objectness pre-filter before the class product
    cls_scores = pred[:, 5:] * pred[:, 4:5]
    classes = cls_scores.argmax(axis=1)
    scores = cls_scores[np.arange(len(pred)), classes]
    keep = scores >= conf
    return Candidates(_xywh_to_xyxy(pred[keep, :4]), scores[keep], classes[keep])


def _class_ids(column: np.ndarray) -> np.ndarray:
    """End-to-end class column (floats) as ids; a NaN or fractional id becomes -1 (refused later)."""
    ok = np.isfinite(column) & (column == np.round(column)) & (np.abs(column) < 2**31)
    return np.where(ok, column, -1).astype(np.int64)


def _decode_v7_e2e(out: np.ndarray, conf: float) -> Candidates:
    """[K, 7]: batch, x1 y1 x2 y2, class, score (NMS done inside the model)."""
    rows = out[(out[:, 0] == 0) & (out[:, 6] >= conf)]
    return Candidates(rows[:, 1:5], rows[:, 6], _class_ids(rows[:, 5]))


def _decode_e2e(out: np.ndarray, conf: float) -> Candidates:
    """[1, K, 6]: x1 y1 x2 y2, score, class (NMS done inside the model)."""
    rows = out[0]
    rows = rows[rows[:, 4] >= conf]
    return Candidates(rows[:, :4], rows[:, 4], _class_ids(rows[:, 5]))


def check_candidates(c: Candidates, num_classes: int | None) -> str:
    """Why these candidates cannot be judged ("" = fine): non-finite values, impossible classes.

    Only candidates above the confidence threshold are here, so a NaN in a discarded row
    does not fail a cycle; one in a row that would count does.
    """
    if len(c.scores) == 0:
        return ""
    bad_values = ~(np.isfinite(c.boxes).all(axis=1) & np.isfinite(c.scores))
    if bad_values.any():
        return f"the model output has {int(bad_values.sum())} detection(s) with NaN or infinite values"
    bad_class = c.classes < 0
    if num_classes is not None:
        bad_class |= c.classes >= num_classes
    if bad_class.any():
        known = f" (the model has {num_classes} classes)" if num_classes is not None else ""
        return f"the model output has {int(bad_class.sum())} detection(s) with an impossible class id{known}"
    return ""


@dataclass(frozen=True, slots=True)
class Layout:
    name: str
    decode: Callable[[np.ndarray, float], Candidates]
    needs_nms: bool
    num_classes: Callable[[tuple[int, ...]], int | None]  # from the output shape


LAYOUTS = {
    "yolov8_raw": Layout("yolov8_raw", _decode_v8_raw, True, lambda s: s[1] - 4),
    "yolov5_raw": Layout("yolov5_raw", _decode_v5_raw, True, lambda s: s[2] - 5),
    "yolov7_e2e": Layout("yolov7_e2e", _decode_v7_e2e, False, lambda s: None),
    "end2end": Layout("end2end", _decode_e2e, False, lambda s: None),
}


def _grid_cells(in_w: int, in_h: int, strides: Sequence[int] = (8, 16, 32)) -> int:
    return sum((in_w // s) * (in_h // s) for s in strides)


def recognise_layout(shape: tuple[int, ...], in_w: int, in_h: int) -> Layout:
    """Pick the decoder from an output shape alone (DESIGN.md's table)."""
    if len(shape) == 2 and shape[1] == 7:
        return LAYOUTS["yolov7_e2e"]
    if len(shape) == 3 and shape[0] == 1:
        rows, cols = shape[1], shape[2]
        cells = _grid_cells(in_w, in_h)
        # The anchor/cell count of the standard strides settles the ambiguous cases
        # ([1, 300, 6] end-to-end vs. a one-class YOLOv5 [1, N, 6]).
        if cols == cells and rows > 4:
            return LAYOUTS["yolov8_raw"]
        if rows == 3 * cells and cols > 5:
            return LAYOUTS["yolov5_raw"]
        if cols == 6:
            return LAYOUTS["end2end"]
        if cols > rows and rows > 4:
            return LAYOUTS["yolov8_raw"]
        if rows > cols and cols > 5:
            return LAYOUTS["yolov5_raw"]
    raise ModelError(
        f"unrecognised detector output shape {list(shape)}: expected [1, 4+C, N] (YOLOv8/v9/v11), "
        "[1, N, 5+C] (YOLOv5/v7), [K, 7] (YOLOv7 end-to-end) or [1, K, 6] (end-to-end)"
    )


def nms_per_class(c: Candidates, iou: float, max_det: int) -> np.ndarray:
    """Indices kept by class-aware NMS (boxes of different classes never suppress each other)."""
    if len(c.scores) == 0:
        return np.empty(0, dtype=np.int64)
    # Offsetting each class into its own region makes one class-agnostic NMS class-aware.
    offset = c.classes.astype(np.float32)[:, None] * (float(np.abs(c.boxes).max()) + 1.0)
    shifted = c.boxes + offset
    xywh = np.concatenate([shifted[:, :2], shifted[:, 2:] - shifted[:, :2]], axis=1)
    # No top_k: OpenCV applies it to the candidates BEFORE suppression, which would let
    # duplicates of the best objects crowd out other objects. Cap the survivors instead.
    keep = cv2.dnn.NMSBoxes(xywh.tolist(), c.scores.astype(float).tolist(), 0.0, iou)
    return np.asarray(keep, dtype=np.int64).reshape(-1)[:max_det]


