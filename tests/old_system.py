"""Copies of the old system's logic (tools/ and Backend/check_boxes.py), to write fixtures in
its formats and to compare verdicts with its rule. Test helpers only; never the station's code.
"""

from __future__ import annotations

import numpy as np
import yaml


def xywh2xyxy(xywh) -> np.ndarray:  # tools/utils/bboxes.py
    xywh = np.asarray(xywh, dtype=float)
    if xywh.ndim > 1:
        xy0, wh2 = xywh[:, :2], xywh[:, 2:] / 2
    else:
        xy0, wh2 = xywh[:2], xywh[2:] / 2
    return np.hstack((xy0 - wh2, xy0 + wh2))


def old_pattern_yaml(variants: dict[str, list[tuple[int, list[float], list[float]]]]) -> str:
    """What determine_desired_coordinates.py wrote: inner/outer given as centre x/y/w/h,
    clipped to [0, 1] in that form, then converted to edges and rounded to 3 places (so an
    edge can overhang the image)."""
    info = {}
    for name, slots in variants.items():
        info[name] = [
            {
                "class_id": c,
                "inner": xywh2xyxy(np.clip(inner, 0, 1)).round(3).tolist(),
                "outer": xywh2xyxy(np.clip(outer, 0, 1)).round(3).tolist(),
            }
            for c, inner, outer in slots
        ]
    return yaml.dump(info)


def check_box(id_act, bbx_act, id_des, bbx_in, bbx_out) -> bool:  # Backend/check_boxes.py
    found = False
    if id_act == id_des:
        found = (bbx_in[0] >= bbx_act[0] >= bbx_out[0]) and \
                (bbx_in[1] >= bbx_act[1] >= bbx_out[1]) and \
                (bbx_in[2] <= bbx_act[2] <= bbx_out[2]) and \
                (bbx_in[3] <= bbx_act[3] <= bbx_out[3])
    return bool(found)


def check_boxes(bboxes, class_ids, config) -> tuple[str, list[bool]]:  # Backend/check_boxes.py (greedy)
    info = ""
    found_boxes_best: list[bool] = []
    for ky, vl in config.items():
        found_boxes = []
        for el in vl:
            found = False
            for bbx_act, id_act in zip(bboxes, class_ids, strict=False):
                found = check_box(id_act, bbx_act, el["class_id"], el["inner"], el["outer"])
                if found:
                    break
            found_boxes.append(found)
        if sum(found_boxes) > sum(found_boxes_best):
            info = ky
            found_boxes_best = found_boxes
            if all(found_boxes_best):
                break
    return info, found_boxes_best


def old_decision(lg: list[bool]) -> bool:  # tools/overall_coordinate_evaluation.py
    return (len(lg) > 1) and all(lg)


def rotate_180_label_text(text: str) -> str:
    """tools/rotate_bbox.py on one label file: centres mirrored, '%.3g' printed."""
    labels = np.atleast_2d(np.loadtxt(text.splitlines()))
    labels[:, 1:3] = 1.0 - labels[:, 1:3]
    return "\n".join(" ".join(f"{el:.3g}" for el in row) for row in labels)
