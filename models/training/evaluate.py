"""Measure the bundled demo model the way the station uses it, on freshly generated scenes.

Renders a held-out set (another seed than training), runs the station's own Detector and
pattern matcher, and reports: precision / recall at the station's confidence, mAP@0.5,
the detector's box-edge error in camera pixels (what the pattern's tolerances must absorb)
and the verdict confusion (false accepts = NOK judged OK, false rejects = OK judged NOK).

    python models/training/evaluate.py --count 200 --seed 2026
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from dataclasses import replace
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
import generate_scene as scene  # noqa: E402

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO))
from inspection_station.core.detect.agreement import average_precision, iou_matrix  # noqa: E402
from inspection_station.core.detect.detector import Detector  # noqa: E402
from inspection_station.core.detection import Detection  # noqa: E402
from inspection_station.core.patterns.matching import match_pattern  # noqa: E402
from inspection_station.core.patterns.yaml_io import load_pattern_set  # noqa: E402
from inspection_station.core.settings.model import ModelSettings  # noqa: E402

DEFAULT_MODEL = REPO / "models" / "demo_parts.onnx"
DEFAULT_PATTERN = REPO / "resources" / "patterns" / "demo_parts.yaml"


def match_detections(dets: list[Detection], gt: list[tuple], iou_thr: float = 0.5) -> tuple[list[int], list[int]]:
    """Greedy by score, same class, IoU >= thr: per detection its GT index or -1; per GT its detection or -1."""
    order = sorted(range(len(dets)), key=lambda i: -dets[i].score)
    gt_boxes = np.array([g[1:] for g in gt], float).reshape(-1, 4)
    ious = iou_matrix(np.array([d.box for d in dets], float).reshape(-1, 4), gt_boxes)
    det_to_gt, gt_to_det = [-1] * len(dets), [-1] * len(gt)
    for i in order:
        best, best_iou = -1, iou_thr
        for j, g in enumerate(gt):
            if gt_to_det[j] < 0 and g[0] == dets[i].class_id and ious[i, j] >= best_iou:
                best, best_iou = j, ious[i, j]
        if best >= 0:
            det_to_gt[i], gt_to_det[best] = best, i
    return det_to_gt, gt_to_det


def evaluate(model: Path, pattern: Path, count: int, seed: int, confidence: float) -> dict:
    low = Detector.load(model, replace(ModelSettings(), confidence=0.01, providers=["CPUExecutionProvider"]))
    pattern_set = load_pattern_set(pattern, len(low.class_names))
    rng = np.random.default_rng(seed)
    n_cls = len(scene.CLASS_NAMES)
    thresholds = np.round(np.arange(0.5, 0.96, 0.05), 2)
    ap_scores: dict[int, list[float]] = {c: [] for c in range(n_cls)}
    ap_hits: dict[float, dict[int, list[bool]]] = {t: {c: [] for c in range(n_cls)} for t in thresholds}
    true_scores: list[float] = []
    false_scores: list[float] = []
    n_gt = dict.fromkeys(range(n_cls), 0)
    tp = fp = fn = 0
    edge_errors: list[float] = []
    verdicts = {"OK": {"OK": 0, "NOK": 0}, "NOK": {"OK": 0, "NOK": 0}}
    by_defect: dict[str, dict[str, int]] = {}
    gt_verdict_wrong = 0
    mistakes: list[str] = []
    t0 = time.time()
    for i in range(count):
        defect = scene.defect_cycle(i)
        image, gt, truth = scene.render_scene(rng, defect)
        h, w = image.shape[:2]
        all_dets = low.detect(image)
        # mAP over every score; the station's figures at its confidence threshold
        for c in range(n_cls):
            n_gt[c] += sum(1 for g in gt if g[0] == c)
        for d in all_dets:
            ap_scores[d.class_id].append(d.score)
        for t in thresholds:
            d2g, _ = match_detections(all_dets, gt, float(t))
            for d, g in zip(all_dets, d2g, strict=True):
                ap_hits[t][d.class_id].append(g >= 0)
            if t == 0.5:
                for d, g in zip(all_dets, d2g, strict=True):
                    (true_scores if g >= 0 else false_scores).append(d.score)
        dets = [d for d in all_dets if d.score >= confidence]
        d2g, g2d = match_detections(dets, gt)
        tp += sum(1 for g in d2g if g >= 0)
        fp += sum(1 for g in d2g if g < 0)
        fn += sum(1 for d in g2d if d < 0)
        for d, g in zip(dets, d2g, strict=True):
            if g >= 0:
                edge_errors += [abs(a - b) for a, b in zip(d.box, gt[g][1:], strict=True)]
        result = match_pattern(pattern_set, dets, w, h)
        said = "OK" if result.ok else "NOK"
        verdicts[truth][said] += 1
        key = defect or "none"
        by_defect.setdefault(key, {"OK": 0, "NOK": 0})[said] += 1
        if said != truth:
            missing = [s.name for s in result.slots if not s.matched]
            mistakes.append(f"#{i} {key}: judged {said} (unfilled: {', '.join(map(str, missing)) or '-'})")
        gt_dets = [Detection(g[0], scene.CLASS_NAMES[g[0]], 1.0, tuple(g[1:])) for g in gt]
        if ("OK" if match_pattern(pattern_set, gt_dets, w, h).ok else "NOK") != truth:
            gt_verdict_wrong += 1
    ap_at = {t: {scene.CLASS_NAMES[c]: average_precision(ap_scores[c], ap_hits[t][c], n_gt[c]) for c in range(n_cls)} for t in thresholds}
    ap = ap_at[0.5]
    map_50_95 = float(np.mean([np.nanmean(list(a.values())) for a in ap_at.values()]))
    e = np.array(edge_errors) if edge_errors else np.zeros(1)
    return {
        "images": count,
        "seed": seed,
        "confidence": confidence,
        "precision": tp / max(tp + fp, 1),
        "recall": tp / max(tp + fn, 1),
        "tp": tp,
        "fp": fp,
        "fn": fn,
        "mAP50": float(np.nanmean(list(ap.values()))),
        "AP50": ap,
        "mAP50_95": map_50_95,
        "lowest_true_score": min(true_scores, default=float("nan")),
        "highest_false_score": max(false_scores, default=0.0),
        "edge_error_px": {"mean": float(e.mean()), "p95": float(np.percentile(e, 95)),
                          "p99": float(np.percentile(e, 99)), "max": float(e.max())},
        "verdicts": verdicts,
        "verdicts_by_defect": by_defect,
        "false_accepts": verdicts["NOK"]["OK"],
        "false_rejects": verdicts["OK"]["NOK"],
        "pattern_on_ground_truth_wrong": gt_verdict_wrong,
        "mistakes": mistakes,
        "seconds": round(time.time() - t0, 1),
        "provider": low.provider,
    }


def report(r: dict) -> str:
    v = r["verdicts"]
    lines = [
        f"held-out scenes: {r['images']} (seed {r['seed']}), provider {r['provider']}, {r['seconds']} s",
        f"detections at confidence {r['confidence']}: precision {r['precision']:.4f}, recall {r['recall']:.4f} "
        f"(TP {r['tp']}, FP {r['fp']}, FN {r['fn']})",
        f"mAP@0.5 {r['mAP50']:.4f}; per class: " + ", ".join(f"{k} {a:.4f}" for k, a in r["AP50"].items()),
        f"mAP@0.5:0.95 {r['mAP50_95']:.4f}",
        f"scores: lowest found part {r['lowest_true_score']:.3f}, highest false detection {r['highest_false_score']:.3f} "
        "(above 0.01, IoU 0.5)",
        "box edge error (px, 1920x1200 frame): " + ", ".join(f"{k} {x:.1f}" for k, x in r["edge_error_px"].items()),
        f"verdicts: OK parts {v['OK']['OK']} OK / {v['OK']['NOK']} NOK (false rejects); "
        f"NOK parts {v['NOK']['NOK']} NOK / {v['NOK']['OK']} OK (false accepts)",
        "by defect: " + ", ".join(f"{k}: {d['NOK']} NOK, {d['OK']} OK" for k, d in r["verdicts_by_defect"].items()),
        f"pattern applied to the ground-truth boxes: {r['pattern_on_ground_truth_wrong']} wrong verdicts",
    ]
    lines += ["mistake " + m for m in r["mistakes"]]
    return "\n".join(lines)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", type=Path, default=DEFAULT_MODEL)
    ap.add_argument("--pattern", type=Path, default=DEFAULT_PATTERN)
    ap.add_argument("--count", type=int, default=200)
    ap.add_argument("--seed", type=int, default=2026)
    ap.add_argument("--confidence", type=float, default=ModelSettings().confidence)
    ap.add_argument("--json", type=Path, default=None, help="also write the figures here")
    args = ap.parse_args()
    r = evaluate(args.model, args.pattern, args.count, args.seed, args.confidence)
    print(report(r))
    if args.json:
        args.json.write_text(json.dumps(r, indent=2))
    return 0 if r["false_accepts"] == 0 else 1


if __name__ == "__main__":
    raise SystemExit(main())
