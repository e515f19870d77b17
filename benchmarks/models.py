"""Inference variants side by side: default fp32 session, tuned fp32, int8, OpenVINO.

For each workload (the shared YOLOv8n-shaped model on its 5 MP frame, and the bundled
demo model on a demo frame) the int8 model is made with `model optimize`'s own code,
calibrated on the station's images. The sessions then run the same letterboxed tensor
in turn, round after round (interleaved: all see the same machine load). Printed: ms per
run (median) and the ratio to the default fp32 session. For the demo, the int8 model's
verdicts are compared with fp32's on the 200 held-out generated boards
(models/training/generate_scene.py, seed 2026, as models/training/evaluate.py).

    .venv/bin/python benchmarks/models.py [--bench ../shared/bench] [--runs 30]
        [--heldout DIR]   a folder of held-out boards from an earlier run (else generated)

"default fp32" is an InferenceSession with onnxruntime's default options; "tuned fp32"
is the station's Detector session (graph optimisation "all", cached optimised graph,
intra-op threads = onnxruntime's default of one per physical core).
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

import numpy as np  # noqa: E402
import onnxruntime as ort  # noqa: E402

from inspection_station.core.detect.detector import Detector  # noqa: E402
from inspection_station.core.detect.optimize import (  # noqa: E402
    compare_models,
    evenly_spaced,
    image_paths,
    quantize_int8,
    read_label_folder,
)
from inspection_station.core.images import list_images, load_image  # noqa: E402
from inspection_station.core.patterns.yaml_io import load_pattern_set  # noqa: E402
from inspection_station.core.settings.model import ModelSettings  # noqa: E402

DEFAULT_BENCH = REPO.parent / "shared" / "bench"
DEMO_MODEL = REPO / "models" / "demo_parts.onnx"
DEMO_IMAGES = REPO / "resources" / "demo_images"
DEMO_PATTERN = REPO / "resources" / "patterns" / "demo_parts.yaml"
HELDOUT_COUNT, HELDOUT_SEED = 200, 2026
CPU = ["CPUExecutionProvider"]


def time_sessions(sessions: dict, feed_name: str, tensor: np.ndarray, runs: int) -> dict[str, float]:
    for s in sessions.values():  # warm-up: first runs allocate
        for _ in range(2):
            s.run(None, {feed_name: tensor})
    times: dict[str, list[float]] = {name: [] for name in sessions}
    for _ in range(runs):
        for name, s in sessions.items():
            t = time.perf_counter()
            s.run(None, {feed_name: tensor})
            times[name].append((time.perf_counter() - t) * 1e3)
    return {name: statistics.median(v) for name, v in times.items()}


def sessions_for(model: Path, int8: Path) -> dict:
    out = {"default fp32": ort.InferenceSession(str(model), providers=CPU)}
    out["tuned fp32"] = Detector.load(model, ModelSettings(providers=CPU)).session
    out["int8"] = Detector.load(int8, ModelSettings(providers=CPU)).session
    if "OpenVINOExecutionProvider" in ort.get_available_providers():
        ov = ["OpenVINOExecutionProvider", "CPUExecutionProvider"]
        out["OpenVINO fp32"] = Detector.load(model, ModelSettings(providers=ov)).session
        out["OpenVINO int8"] = Detector.load(int8, ModelSettings(providers=ov)).session
    return out


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


def print_speeds(title: str, speeds: dict[str, float]) -> None:
    base = speeds["default fp32"]
    print(title)
    for name, ms in speeds.items():
        print(f"  {name:<14} {ms:8.2f} ms/run   {ms / base:5.2f}x default fp32")


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
    ap.add_argument("--runs", type=int, default=30)
    ap.add_argument("--heldout", type=Path, help="held-out boards (images + YOLO labels) from an earlier run")
    ap.add_argument("--calibration-images", type=int, default=10)
    args = ap.parse_args()
    print(f"onnxruntime {ort.__version__}, providers {', '.join(ort.get_available_providers())}")

    with tempfile.TemporaryDirectory(prefix="bench-models-") as tmp:
        tmp = Path(tmp)
        os.environ["XDG_DATA_HOME"] = str(tmp / "data")  # the model cache goes there, not to the user's
        # shared workload: calibrated on the bench frame and the demo frames (random weights:
        # only the speed means anything here)
        model = args.bench / "models" / args.model
        frame = args.bench / "images" / "scene_2448x2048.png"
        calib = [frame, *evenly_spaced(list_images(DEMO_IMAGES), args.calibration_images - 1)]
        int8 = quantize_int8(model, calib, tmp / "bench_int8.onnx").path
        det = Detector.load(model, ModelSettings(providers=CPU))
        tensor = det.preprocess(load_image(frame))[0].copy()
        speeds = time_sessions(sessions_for(model, int8), det.input_name, tensor, args.runs)
        print_speeds(f"shared workload: {model.name}, 5 MP frame letterboxed to 640x640, {args.runs} rounds", speeds)

        # the demo model: calibrated on the demo frames the emulator serves
        demo_int8 = quantize_int8(DEMO_MODEL, evenly_spaced(list_images(DEMO_IMAGES), args.calibration_images), tmp / "demo_int8.onnx").path
        det = Detector.load(DEMO_MODEL, ModelSettings(providers=CPU))
        tensor = det.preprocess(load_image(DEMO_IMAGES / "demo_01.png"))[0].copy()
        speeds = time_sessions(sessions_for(DEMO_MODEL, demo_int8), det.input_name, tensor, args.runs)
        print_speeds(f"demo model: {DEMO_MODEL.name}, 1920x1200 frame letterboxed to 640x384, {args.runs} rounds", speeds)

        for path in (model, DEMO_MODEL):
            loads = load_times(path)
            print(f"load {path.name} (session + warm-up, median of 5): "
                  + ", ".join(f"{k} {v:.0f} ms" for k, v in loads.items()))

        boards = heldout_boards(args.heldout, tmp)
        labels, images = read_label_folder(boards, image_paths(boards))
        result = compare_models(
            Detector.load(DEMO_MODEL, ModelSettings(providers=CPU)),
            Detector.load(demo_int8, ModelSettings(providers=CPU)),
            images,
            labels=labels,
            pattern_set=load_pattern_set(DEMO_PATTERN),
        )
    same = result.verdicts_compared - len(result.verdicts_differ)
    print(f"demo held-out boards: {result.images} images against their labels")
    print(f"  mAP@0.5  fp32 {result.fp32.boxes.map50:.4f}  int8 {result.int8.boxes.map50:.4f}  "
          f"(int8 vs fp32 {result.int8_vs_fp32.map50:.4f}, mean IoU {result.int8_vs_fp32.mean_iou:.4f})")
    print(f"  verdicts identical on {same} of {result.verdicts_compared} boards"
          + (f"; differ on {', '.join(result.verdicts_differ)}" if result.verdicts_differ else ""))
    print(f"  per-image run in that pass: int8 {result.speed_ratio:.2f}x fp32")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
