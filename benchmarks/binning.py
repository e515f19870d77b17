"""Preprocess cost with and without software binning, on the shared 5 MP bench frame.

Software binning (`[camera] binning = 2`, `binning_mode = "software"`) averages 2 x 2
blocks in the frame transform, then the detector letterboxes the quarter-size frame to
its input. Timed, interleaved round by round so all see the same machine load: the
letterbox alone on the full frame, the binning alone, and binning + letterbox. Printed:
medians in ms and the ratio (binning + letterbox) / letterbox on the full frame. On a
camera that bins on the sensor (`binning_mode = "camera"`) the binning costs nothing here.

    .venv/bin/python benchmarks/binning.py [--bench ../shared/bench] [--runs 50] [--factor 2]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from inspection_station.core.camera.transform import FrameTransform  # noqa: E402
from inspection_station.core.detect.detector import Detector  # noqa: E402
from inspection_station.core.images import load_image  # noqa: E402
from inspection_station.core.settings.model import ModelSettings  # noqa: E402

DEFAULT_BENCH = REPO.parent / "shared" / "bench"


def ms(fn) -> float:
    t = time.perf_counter()
    fn()
    return (time.perf_counter() - t) * 1000


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--bench", type=Path, default=DEFAULT_BENCH, help="the shared bench folder")
    ap.add_argument("--model", default="yolov8n_e2e.onnx", help="model file in <bench>/models")
    ap.add_argument("--image", default="scene_2448x2048.png", help="image file in <bench>/images")
    ap.add_argument("--factor", type=int, default=2, choices=[2, 4])
    ap.add_argument("--runs", type=int, default=50)
    args = ap.parse_args()

    image = load_image(args.bench / "images" / args.image)
    detector = Detector.load(args.bench / "models" / args.model, ModelSettings(providers=["CPUExecutionProvider"]))
    binning = FrameTransform(decimation=args.factor)
    binned = binning.apply(image)
    times: dict[str, list[float]] = {"letterbox, full frame": [], "binning alone": [], "binning + letterbox": []}
    for _ in range(3):  # warm-up: buffers, caches
        detector.preprocess(image)
        detector.preprocess(binning.apply(image))
    for _ in range(args.runs):
        times["letterbox, full frame"].append(ms(lambda: detector.preprocess(image)))
        times["binning alone"].append(ms(lambda: binning.apply(image)))
        times["binning + letterbox"].append(ms(lambda: detector.preprocess(binning.apply(image))))
    h, w = image.shape[:2]
    print(f"frame {w} x {h} -> binned {binned.shape[1]} x {binned.shape[0]}; model input {detector.input_size}")
    medians = {name: statistics.median(values) for name, values in times.items()}
    for name, value in medians.items():
        print(f"  {name:<22} {value:8.2f} ms (median of {args.runs})")
    ratio = medians["binning + letterbox"] / medians["letterbox, full frame"]
    print(f"  ratio (binning + letterbox) / letterbox on the full frame = {ratio:.3f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
