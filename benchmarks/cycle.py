"""Station cycle vs. bare inference on the shared workload (../shared/bench).

The camera emulator serves the 5-megapixel frame; the station runs its real headless
cycle (grab -> preprocess -> infer -> decode -> match -> log). Interleaved with the
cycles, a bare `session.run` on the same preprocessed tensor with the same session
times the model alone. Printed: per-stage medians, the bare median, and the ratio
(cycle - grab) / bare: what the station adds around the model. Ratios from one run
survive the noise of a shared machine; absolute milliseconds do not.

    .venv/bin/python benchmarks/cycle.py [--model yolov8n_e2e.onnx] [--cycles 30]
    .venv/bin/python benchmarks/cycle.py --sizes 1.25,5,12   # the frame resized, one process each
    .venv/bin/python benchmarks/cycle.py --binning 1,2       # software binning, interleaved

Fair measurement (core/detect/fair_timing.py, as `model optimize` and models.py): the
session is made with thread spinning off (`--spinning`, default off), cycle and bare run
alternate their order every round, warm-up first. Several frame sizes each run in their
OWN process, one station and one session each: interleaving several sessions in one
process let each size's grab absorb the previous session's spinning threads while its
bare run paid for them, which pushed (cycle - grab) / bare below 1.0 (bias, not noise).
"""

from __future__ import annotations

import argparse
import contextlib
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

from inspection_station.core.detect.cpu import cpu_features  # noqa: E402
from inspection_station.core.detect.fair_timing import rotated  # noqa: E402
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


# --sizes: megapixels -> a Basler-like sensor (1.3 MP acA1300, 5 MP acA2440, 12 MP acA4024)
SIZES = {"1.25": (1280, 976), "5": (2448, 2048), "12": (4096, 3000)}


def settings_for(
    tmp: Path, name: str, frames: Path, model: Path, serial: str, archive: str, binning: int = 1,
    spinning: str = "off", runtime: str = "onnxruntime",
) -> Settings:
    s = Settings()
    s = s.replace(
        "camera", emulation_image_dir=str(frames), serial=serial, trigger_mode="software",
        binning=binning, binning_mode="software",
    )
    s = s.replace("model", path=str(model), providers=["CPUExecutionProvider"], spinning=spinning, runtime=runtime)
    s = s.replace("patterns", path=str(tmp / "patterns"))
    return s.replace("results", log_dir=str(tmp / name / "log"), image_dir=str(tmp / name / "img"), archive=archive)


def frames_folder(tmp: Path, image: Path, size: tuple[int, int] | None) -> Path:
    """A folder the emulator serves: the bench frame, or it resized to a sensor size."""
    folder = tmp / (f"frames_{size[0]}x{size[1]}" if size else "frames")
    folder.mkdir()
    if size is None:
        (folder / image.name).symlink_to(image.resolve())
        return folder
    import cv2

    frame = cv2.imread(str(image), cv2.IMREAD_COLOR)
    resized = cv2.resize(frame, size, interpolation=cv2.INTER_CUBIC)
    # uncompressed: the emulator decodes the file on every grab
    cv2.imwrite(str(folder / f"scene_{size[0]}x{size[1]}.png"), resized, [cv2.IMWRITE_PNG_COMPRESSION, 0])
    return folder


def report(label: str, cycles: list, bare: list[float], target: float) -> float:
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
    print(label)
    for name, value in stage.items():
        print(f"  {name:<11} {value:8.2f}")
    print(f"  total       {total:8.2f}")
    print(f"  bare run    {bare_ms:8.2f}   (session.run on the same tensor, same session options)")
    print(f"  cycle - grab  {station_part:8.2f}")
    print(f"  ratio (cycle - grab) / bare = {station_part / bare_ms:.3f}   (target <= {target:.2f})")
    print(f"  ratio cycle / bare          = {total / bare_ms:.3f}")
    own = median([t.preprocess_ms + t.decode_ms + t.match_ms + t.log_ms for t in cycles])
    print(f"  station's own stages (preprocess + decode + match + log) = {own:.2f} ms = {own / bare_ms:.1%} of bare")
    return station_part / bare_ms


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--bench", type=Path, default=DEFAULT_BENCH, help="the shared bench folder")
    ap.add_argument("--model", default="yolov8n_e2e.onnx", help="model file in <bench>/models")
    ap.add_argument("--image", default="scene_2448x2048.png", help="image file in <bench>/images")
    ap.add_argument(
        "--sizes", default="",
        help="comma list of frame sizes in megapixels from " + ", ".join(SIZES)
        + ": the bench frame resized to each, one emulated camera per size, cycles interleaved",
    )
    ap.add_argument(
        "--binning", default="1",
        help="comma list of software binning factors (1, 2, 4): one emulated camera each, cycles interleaved",
    )
    ap.add_argument("--cycles", type=int, default=30)
    ap.add_argument("--warmup", type=int, default=3)
    ap.add_argument("--archive", default="none", choices=["none", "failed", "all"])
    ap.add_argument("--spinning", default="off", choices=["off", "on", "auto"],
                    help="[model] spinning of the station's session (off: the fair method)")
    ap.add_argument("--runtime", default="onnxruntime", choices=["onnxruntime", "openvino"])
    args = ap.parse_args()
    print(f"CPU: {cpu_features().summary()}")

    model = args.bench / "models" / args.model
    image = args.bench / "images" / args.image
    sizes = [s.strip() for s in args.sizes.split(",") if s.strip()]
    unknown = [s for s in sizes if s not in SIZES]
    if unknown:
        print(f"--sizes: unknown {', '.join(unknown)}; expected some of {', '.join(SIZES)}", file=sys.stderr)
        return 2
    factors = [int(f) for f in args.binning.split(",") if f.strip()]
    if not set(factors) <= {1, 2, 4} or (len(factors) > 1 and sizes):
        print("--binning: factors from 1, 2, 4; several only without --sizes", file=sys.stderr)
        return 2
    if len(sizes) > 1:
        return sizes_in_own_processes(sizes)
    configs = [(size, factors[0]) for size in sizes] or [(None, f) for f in factors]
    # one emulated camera per configuration, chosen by its serial (0815-0000, 0815-0001, ...)
    os.environ["PYLON_CAMEMU"] = str(len(configs))
    with tempfile.TemporaryDirectory(prefix="bench-") as tmp, contextlib.ExitStack() as stack:
        tmp = Path(tmp)
        (tmp / "patterns").mkdir()
        (tmp / "patterns" / "bench.yaml").write_text(PATTERN)
        runs = []  # (label, station, feed)
        folders: dict[str | None, Path] = {}
        for i, (size, binning) in enumerate(configs):
            if size not in folders:
                folders[size] = frames_folder(tmp, image, SIZES[size] if size else None)
            frames = folders[size]
            serial = f"0815-{i:04d}" if len(configs) > 1 else ""
            station = stack.enter_context(
                Station(settings_for(tmp, f"s{i}", frames, model, serial, args.archive, binning, args.spinning, args.runtime))
            )
            station.wait_ready()
            det = station.detector
            if det is None:
                print(f"model failed to load: {station.pipeline.model_problem}", file=sys.stderr)
                return 2
            frame_file = next(frames.iterdir())
            tensor, _ = det.preprocess(load_image(frame_file))  # the model's input size either way
            runs.append([size, station, tensor.copy(), [], []])
        for _ in range(args.warmup):
            for _, station, feed, _, _ in runs:
                station.run_cycle("bench")
                station.detector.runtime.run(feed)
        rss0 = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        def bare_run(station, feed, bare) -> None:
            det = station.detector
            t = time.perf_counter()
            det.runtime.run(feed)
            bare.append((time.perf_counter() - t) * 1e3)

        for i in range(args.cycles):  # interleaved: every configuration and its bare run see the same load
            for _, station, feed, cycles, bare in runs:
                # The order alternates (fair_timing.rotated): whichever runs second finds the
                # caches as the first left them, and that must hit both alike.
                for what in rotated(["cycle", "bare"], i):
                    if what == "bare":
                        bare_run(station, feed, bare)
                        continue
                    r = station.run_cycle("bench")
                    if r.error:
                        print(f"cycle error: {r.error}", file=sys.stderr)
                        return 2
                    cycles.append(r.times)
        rss1 = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        provider = runs[0][1].detector.provider
        frame_sizes = [(r.frame.width, r.frame.height) for r in (st.last_result for _, st, _, _, _ in runs)]
    print(f"workload: {model.name} on {provider}, frames from the pylon emulator")
    print(f"cycles: {args.cycles} per size (after {args.warmup} warm-up), interleaved; medians in ms")
    ratios = []
    for (_, _, _, cycles, bare), (w, h), (_, binning) in zip(runs, frame_sizes, configs, strict=True):
        label = f"frame {w}x{h} ({w * h / 1e6:.2f} MP)" + (f", software binning {binning}" if binning > 1 else "")
        ratios.append((label, report(label, cycles, bare, 1.03 if sizes else 1.10)))
    if len(ratios) > 1:
        print("(cycle - grab) / bare by size: " + ", ".join(f"{label.split()[1]} {r:.3f}" for label, r in ratios))
    print(f"max RSS {rss0 / 1024:.0f} MiB after warm-up, {rss1 / 1024:.0f} MiB after the cycles")
    return 0


def sizes_in_own_processes(sizes: list[str]) -> int:
    """Each frame size in its own process (one station, one session), one after the other."""
    import re
    import subprocess

    argv, skip = [], False
    for arg in sys.argv[1:]:  # this command line less --sizes
        if skip:
            skip = False
        elif arg == "--sizes":
            skip = True
        elif not arg.startswith("--sizes="):
            argv.append(arg)
    ratios = []
    for size in sizes:
        proc = subprocess.run([sys.executable, __file__, *argv, "--sizes", size], capture_output=True, text=True)
        print(proc.stdout, end="")
        if proc.returncode != 0:
            print(proc.stderr, file=sys.stderr)
            return proc.returncode
        found = re.search(r"ratio \(cycle - grab\) / bare = ([0-9.]+)", proc.stdout)
        ratios.append(f"{size} MP {found.group(1) if found else '?'}")
    print("(cycle - grab) / bare by size, single session in its own process: " + ", ".join(ratios))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
