"""Station cycle vs. bare inference on the shared workload (../shared/bench).

The camera emulator serves the 5-megapixel frame; the station runs its real headless
cycle (grab -> preprocess -> infer -> decode -> match -> log). Interleaved with the
cycles, a bare `session.run` on the same preprocessed tensor with the same session
times the model alone. Printed: per-stage medians, the bare median, and the ratio
(cycle - grab) / bare: what the station adds around the model. Ratios from one run
survive the noise of a shared machine; absolute milliseconds do not.

    .venv/bin/python benchmarks/cycle.py [--model yolov8n_e2e.onnx] [--cycles 30]
"""

from __future__ import annotations

import argparse
import os
import resource
import statistics
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
os.environ.setdefault("PYLON_CAMEMU", "1")

from inspection_station.core.images import load_image  # noqa: E402
from inspection_station.core.settings.model import Settings  # noqa: E402
from inspection_station.core.station import Station  # noqa: E402

DEFAULT_BENCH = REPO.parent / "shared" / "bench"
# One slot anywhere in the frame for class 0: matching runs for real on every cycle.
PATTERN = """bench:
  - class_id: 0
    inner: [0.45, 0.45, 0.55, 0.55]
    outer: [0.0, 0.0, 1.0, 1.0]
"""


def median(values) -> float:
    return statistics.median(values) if values else float("nan")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--bench", type=Path, default=DEFAULT_BENCH, help="the shared bench folder")
    ap.add_argument("--model", default="yolov8n_e2e.onnx", help="model file in <bench>/models")
    ap.add_argument("--image", default="scene_2448x2048.png", help="image file in <bench>/images")
    ap.add_argument("--cycles", type=int, default=30)
    ap.add_argument("--warmup", type=int, default=3)
    ap.add_argument("--archive", default="none", choices=["none", "failed", "all"])
    args = ap.parse_args()

    model = args.bench / "models" / args.model
    image = args.bench / "images" / args.image
    with tempfile.TemporaryDirectory(prefix="bench-") as tmp:
        tmp = Path(tmp)
        (tmp / "frames").mkdir()
        (tmp / "frames" / image.name).symlink_to(image.resolve())
        (tmp / "patterns").mkdir()
        (tmp / "patterns" / "bench.yaml").write_text(PATTERN)
        s = Settings()
        s = s.replace("camera", emulation_image_dir=str(tmp / "frames"), serial="", trigger_mode="software")
        s = s.replace("model", path=str(model), providers=["CPUExecutionProvider"])
        s = s.replace("patterns", path=str(tmp / "patterns"))
        s = s.replace("results", log_dir=str(tmp / "log"), image_dir=str(tmp / "img"), archive=args.archive)

        with Station(s) as station:
            station.wait_ready()
            det = station.detector
            if det is None:
                print(f"model failed to load: {station.pipeline.model_problem}", file=sys.stderr)
                return 2
            tensor, _ = det.preprocess(load_image(image))
            feed = {det.input_name: tensor}
            for _ in range(args.warmup):
                station.run_cycle("bench")
                det.session.run([det.output_name], feed)
            rss0 = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
            cycles, bare = [], []
            for _ in range(args.cycles):  # interleaved: both see the same machine load
                r = station.run_cycle("bench")
                if r.error:
                    print(f"cycle error: {r.error}", file=sys.stderr)
                    return 2
                cycles.append(r.times)
                t = time.perf_counter()
                det.session.run([det.output_name], feed)
                bare.append((time.perf_counter() - t) * 1e3)
            rss1 = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
            frame = r.frame
            provider = det.provider

    stage = {
        name: median([getattr(t, f"{name}_ms") for t in cycles])
        for name in ("grab", "preprocess", "inference", "decode", "match", "log")
    }

    def whole(t) -> float:  # total_ms is trigger -> verdict; the log write (log_ms) comes after it
        return t.total_ms + t.log_ms

    total = median([whole(t) for t in cycles])
    station_part = median([whole(t) - t.grab_ms for t in cycles])
    # What no stage accounts for: thread hand-offs, result bookkeeping (per cycle, then median).
    stage["other"] = median(
        [whole(t) - t.grab_ms - t.preprocess_ms - t.inference_ms - t.decode_ms - t.match_ms - t.log_ms for t in cycles]
    )
    bare_ms = median(bare)
    print(f"workload: {model.name} on {provider}, frame {frame.width}x{frame.height} from the pylon emulator")
    print(f"cycles: {args.cycles} (after {args.warmup} warm-up), medians in ms")
    for name, value in stage.items():
        print(f"  {name:<11} {value:8.2f}")
    print(f"  total       {total:8.2f}")
    print(f"  bare run    {bare_ms:8.2f}   (session.run on the same tensor, same session)")
    print(f"cycle - grab  {station_part:8.2f}")
    print(f"ratio (cycle - grab) / bare = {station_part / bare_ms:.3f}   (target <= 1.10)")
    print(f"ratio cycle / bare          = {total / bare_ms:.3f}")
    own = median([t.preprocess_ms + t.decode_ms + t.match_ms + t.log_ms for t in cycles])
    print(f"station's own stages (preprocess + decode + match + log) = {own:.2f} ms = {own / bare_ms:.1%} of bare")
    print(f"max RSS {rss0 / 1024:.0f} MiB after warm-up, {rss1 / 1024:.0f} MiB after the cycles")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
