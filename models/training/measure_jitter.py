"""How far a good demo part's box edges wander between boards: the default teaching margin.

Renders good boards of the demo generator, groups the boxes into the board's slots (the
same clustering the station teaches with) and, per slot and edge, takes the range of the
edge's position over the boards: from the generator's labels and, with --model, from the
bundled model's detections (the labels' jitter plus the detector's box error). The largest
range is how far a good part may sit from where ONE board showed it; as a fraction of the
frame width it is core/patterns/teaching.py's DEFAULT_MARGIN.

    python models/training/measure_jitter.py --count 200 --seed 99 [--model models/demo_parts.onnx]
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
import generate_scene as scene  # noqa: E402

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO))
from inspection_station.core.patterns.teaching import NormBox, cluster_boxes  # noqa: E402

EDGES = ("x1", "y1", "x2", "y2")


def edge_ranges(frames: list[list[NormBox]], width: int, height: int) -> list[tuple[str, np.ndarray]]:
    """Per slot (named after the generator's slot nearest to it): each edge's range in px."""
    classes, members, _notes = cluster_boxes(frames)
    scale = np.array([width, height, width, height], float)
    out = []
    for cls, boxes in zip(classes, members, strict=True):
        a = np.asarray(boxes, float) * scale
        cx, cy = (a[:, 0] + a[:, 2]).mean() / 2, (a[:, 1] + a[:, 3]).mean() / 2
        name = min((s for s in scene.SLOTS if s.class_id == cls), key=lambda s: (s.cx - cx) ** 2 + (s.cy - cy) ** 2).name
        out.append((name, a.max(axis=0) - a.min(axis=0)))
    return out


def report(what: str, ranges: list[tuple[str, np.ndarray]], width: int) -> float:
    print(f"{what}: edge range over the boards, px (x1 y1 x2 y2)")
    for name, r in sorted(ranges, key=lambda t: -t[1].max()):
        print(f"  {name:<16} " + " ".join(f"{v:5.1f}" for v in r))
    worst = max(float(r.max()) for _, r in ranges)
    print(f"  largest {worst:.1f} px = {worst / width:.4f} of the frame width")
    return worst


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--count", type=int, default=200, help="good boards to render")
    ap.add_argument("--seed", type=int, default=99)
    ap.add_argument("--model", type=Path, help="also measure the model's detections (e.g. models/demo_parts.onnx)")
    args = ap.parse_args()
    detector = None
    if args.model:
        from inspection_station.core.detect.detector import Detector
        from inspection_station.core.patterns.teaching import normalise_detections
        from inspection_station.core.settings.model import ModelSettings

        detector = Detector.load(args.model, ModelSettings())
    rng = np.random.default_rng(args.seed)
    w, h = scene.IMAGE_WIDTH, scene.IMAGE_HEIGHT
    labels, detected = [], []
    t0 = time.perf_counter()
    for _ in range(args.count):
        image, boxes, _verdict = scene.render_scene(rng, None)
        labels.append([NormBox(c, (x1 / w, y1 / h, x2 / w, y2 / h)) for c, x1, y1, x2, y2 in boxes])
        if detector is not None:
            detected.append(normalise_detections(detector.detect(image), w, h))
    print(f"{args.count} good boards (seed {args.seed}), {w}x{h}, in {time.perf_counter() - t0:.0f} s")
    print(f"generator: plate +-{scene.PLATE_JITTER_PX:g} px, part +-{scene.PART_JITTER_PX:g} px and "
          f"+-{scene.PART_JITTER_DEG:g} deg")
    report("labels", edge_ranges(labels, w, h), w)
    if detected:
        report("model detections", edge_ranges(detected, w, h), w)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
