"""Every way to run the model, side by side: `model optimize`'s candidates on two workloads.

For each workload (the shared YOLOv8n-shaped model on its 5 MP frame, and the bundled
demo model on its demo frames) the candidates are made and measured with `model
optimize`'s own code (core/tuning/candidates.py): fp32 and int8 QDQ on onnxruntime, the
same two files on the OpenVINO runtime, int8 from NNCF for OpenVINO (with accuracy control
on the demo's verdicts), bf16/f16 where the CPU has them. Timing is the one fair method
(core/detect/fair_timing.py): spinning off in every session, warm-up, order rotated every
round, medians; ratios are to the fp32 onnxruntime session of the same run. The demo's
candidates are then compared with fp32 on the 200 held-out generated boards
(models/training/generate_scene.py, seed 2026, as models/training/evaluate.py).

    .venv/bin/python benchmarks/models.py [--bench ../shared/bench] [--runs 20]
        [--heldout DIR]   a folder of held-out boards from an earlier run (else generated)
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "models" / "training"))

from inspection_station.commands.model import report_lines  # noqa: E402
from inspection_station.core.detect import fair_timing  # noqa: E402
from inspection_station.core.detect.cpu import cpu_features  # noqa: E402
from inspection_station.core.detect.detector import Detector  # noqa: E402
from inspection_station.core.images import list_images  # noqa: E402
from inspection_station.core.patterns.yaml_io import load_pattern_set  # noqa: E402
from inspection_station.core.settings.model import ModelSettings  # noqa: E402
from inspection_station.core.tuning.candidates import FP32, optimize_model  # noqa: E402
from inspection_station.core.tuning.optimize import (  # noqa: E402
    compare_candidates,
    evenly_spaced,
    image_paths,
    read_label_folder,
)

DEFAULT_BENCH = REPO.parent / "shared" / "bench"
DEMO_MODEL = REPO / "models" / "demo_parts.onnx"
DEMO_IMAGES = REPO / "resources" / "demo_images"
DEMO_PATTERN = REPO / "resources" / "patterns" / "demo_parts.yaml"
HELDOUT_COUNT, HELDOUT_SEED = 200, 2026
CPU = ["CPUExecutionProvider"]


def load_times(model: Path, rounds: int = 5) -> dict[str, float]:
    """Detector.load (session + warm-up) without and with the optimised-graph cache, interleaved."""
    warm = ModelSettings(providers=CPU)
    Detector.load(model, warm)  # writes the cache entry
    times: dict[str, list[float]] = {"optimise at load": [], "cached graph": []}
    for _ in range(rounds):
        for name, settings in (("optimise at load", ModelSettings(providers=CPU, cache_optimized=False)), ("cached graph", warm)):
            t = time.perf_counter()
            Detector.load(model, settings)
            times[name].append((time.perf_counter() - t) * 1e3)
    return {name: statistics.median(v) for name, v in times.items()}


def heldout_boards(folder: Path | None, tmp: Path) -> Path:
    if folder is not None:
        return folder
    import generate_scene  # numpy + OpenCV only

    out = tmp / "heldout"
    print(f"rendering {HELDOUT_COUNT} held-out boards (seed {HELDOUT_SEED}) ...", file=sys.stderr, flush=True)
    generate_scene.write_set(out, HELDOUT_COUNT, HELDOUT_SEED, ".png")
    return out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--bench", type=Path, default=DEFAULT_BENCH, help="the shared bench folder")
    ap.add_argument("--model", default="yolov8n_raw.onnx", help="model file in <bench>/models")
    ap.add_argument("--runs", type=int, default=fair_timing.DEFAULT_ROUNDS, help="timing rounds per candidate")
    ap.add_argument("--heldout", type=Path, help="held-out boards (images + YOLO labels) from an earlier run")
    ap.add_argument("--calibration-images", type=int, default=10)
    args = ap.parse_args()
    import onnxruntime as ort

    print(f"CPU: {cpu_features().summary()}")
    print(f"onnxruntime {ort.__version__}, providers {', '.join(ort.get_available_providers())}")

    with tempfile.TemporaryDirectory(prefix="bench-models-") as tmp:
        tmp = Path(tmp)
        os.environ["XDG_DATA_HOME"] = str(tmp / "data")  # the model cache goes there, not to the user's
        # shared workload: calibrated on the bench frame and the demo frames (random weights:
        # only the speed means anything here, so no pattern and no recommendation)
        model = args.bench / "models" / args.model
        frame = args.bench / "images" / "scene_2448x2048.png"
        demo_frames = list_images(DEMO_IMAGES)
        calib = [frame, *evenly_spaced(demo_frames, args.calibration_images - 1)]
        report = optimize_model(model, calib, tmp / "bench_int8.onnx", [frame], rounds=args.runs)
        print(f"\nshared workload: {model.name}, 5 MP frame letterboxed to 640x640")
        print("\n".join("  " + line for line in report_lines(report, args.runs)[1:]))

        # the demo model: calibrated on the demo frames the emulator serves, judged on its pattern
        labels, labelled = read_label_folder(REPO / "resources" / "demo_labels", demo_frames)
        pattern = load_pattern_set(DEMO_PATTERN)
        demo = optimize_model(DEMO_MODEL, evenly_spaced(demo_frames, args.calibration_images), tmp / "demo_int8.onnx",
                              labelled, labels=labels, pattern_set=pattern, rounds=args.runs)
        print(f"\ndemo model: {DEMO_MODEL.name}, 1920x1200 frames letterboxed to 640x384")
        print("\n".join("  " + line for line in report_lines(demo, args.runs)[1:]))

        for path in (model, DEMO_MODEL):
            loads = load_times(path)
            print(f"load {path.name} (session + warm-up, median of 5): "
                  + ", ".join(f"{k} {v:.0f} ms" for k, v in loads.items()))

        boards = heldout_boards(args.heldout, tmp)
        labels, images = read_label_folder(boards, image_paths(boards))
        detectors = {c.name: Detector.load(c.path, c.settings) for c in demo.candidates}
        held = compare_candidates(detectors, images, fp32=FP32, labels=labels, pattern_set=pattern, rounds=args.runs)
    print(f"\ndemo held-out boards: {held.images} images against their labels (recommended: {demo.recommended})")
    for name, score in held.scores.items():
        same = held.verdicts_compared - len(score.verdicts_differ)
        print(f"  {name:<22} verdicts identical on {same} of {held.verdicts_compared}, mAP@0.5 {score.score.boxes.map50:.4f} "
              f"(vs fp32 {score.vs_fp32.map50:.4f}, mean IoU {score.vs_fp32.mean_iou:.4f}), {held.speed_ratio(name):.2f}x fp32"
              + (f"; differ on {', '.join(score.verdicts_differ[:5])}" if score.verdicts_differ else ""))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
