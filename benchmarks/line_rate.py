"""Parts per second at line rate: the overlapped cycle beside the strictly sequential one.

A trigger source fires like a PLC on a conveyor: at a fixed rate, whatever the station is
doing (`station.trigger_future`, the API's and the line's path; a refused trigger is
counted, never queued). Two real headless stations run the shared workload's model on
5 MP frames, one with `[station] cycle = "sequential"`, one `"overlapped"`
(core/overlap.py), taking turns at each rate so both see the same machine load.

The camera: `timed` (default) is a 5 MP camera whose grab takes `--transfer-ms` of wall
time but no CPU, as exposure + transfer over GigE does (5 MB of Bayer8 at ~115 MB/s is
~43 ms); `emulator` is pylon's camera emulator, whose grab decodes the image file on the
CPU (it competes with the model for the 2 cores, which a real camera does not).

Printed per offered rate and mode: parts/s judged (each with its row), latency from the
trigger to the published verdict (p50/p95/max), refused triggers; and the ratio of the
overlapped parts/s to the sequential one.

    .venv/bin/python benchmarks/line_rate.py [--bench ../shared/bench] [--rates 4,8,12,16]
        [--seconds 6] [--camera timed|emulator] [--transfer-ms 43] [--model yolov8n_e2e.onnx]
"""

from __future__ import annotations

import argparse
import functools
import os
import sys
import tempfile
import threading
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
os.environ.setdefault("PYLON_CAMEMU", "1")

import numpy as np  # noqa: E402

from inspection_station.core import station as station_module  # noqa: E402
from inspection_station.core.camera.protocol import CameraState, next_frame_id  # noqa: E402
from inspection_station.core.camera.worker import CameraWorker  # noqa: E402
from inspection_station.core.detect.cpu import cpu_features  # noqa: E402
from inspection_station.core.errors import CameraTimeout  # noqa: E402
from inspection_station.core.frame import Frame  # noqa: E402
from inspection_station.core.images import load_image  # noqa: E402
from inspection_station.core.settings.model import Settings  # noqa: E402

DEFAULT_BENCH = REPO.parent / "shared" / "bench"
PATTERN = """bench:
  - class_id: 0
    inner: [0.45, 0.45, 0.55, 0.55]
    outer: [0.0, 0.0, 1.0, 1.0]
"""


class TimedCamera:
    """A camera whose grab takes `transfer_ms` of wall time (exposure + link), no CPU."""

    def __init__(self, image: np.ndarray, transfer_ms: float) -> None:
        self._image = image
        self._transfer_s = transfer_ms / 1e3
        self.state = CameraState.EMULATED
        self.description = f"timed camera {image.shape[1]}x{image.shape[0]}, {transfer_ms:g} ms per grab"
        self.warnings: list[str] = []

    def open(self) -> None:
        pass

    def close(self) -> None:
        pass

    def grab(self, timeout_ms: int | None = None) -> Frame:
        start = time.perf_counter()
        time.sleep(self._transfer_s)
        return Frame(self._image, next_frame_id(), time.time(), "timed", (time.perf_counter() - start) * 1e3)

    latest_frame = grab

    def start_streaming(self) -> None:
        pass

    def stop_streaming(self) -> None:
        pass

    def wait_hardware_trigger(self, timeout_ms: int | None = None) -> Frame:
        raise CameraTimeout("software triggers only")

    def apply_image_settings(self, settings) -> None:
        pass

    def is_removed(self) -> bool:
        return False


def run_rate(station, rate: float, seconds: float) -> dict:
    """Fire triggers at `rate` per second for `seconds`; wait for the accepted ones."""
    done_at: dict[int, float] = {}
    fired_at: dict[int, float] = {}
    futures = []
    refused = 0
    period = 1.0 / rate
    t0 = time.perf_counter()
    n = 0
    while True:
        due = t0 + n * period
        if due - t0 >= seconds:
            break
        now = time.perf_counter()
        if due > now:
            time.sleep(due - now)
        fired = time.perf_counter()
        future = station.trigger_future("plc")
        if future is None:
            refused += 1
        else:
            key = len(futures)
            fired_at[key] = fired
            future.add_done_callback(lambda f, k=key: done_at.__setitem__(k, time.perf_counter()))
            futures.append(future)
        n += 1
    results = [f.result(timeout=60) for f in futures]
    end = max(done_at.values()) if done_at else time.perf_counter()
    errors = [r.error for r in results if r.error]
    latencies = sorted((done_at[k] - fired_at[k]) * 1e3 for k in fired_at)

    def pct(q: float) -> float:
        return latencies[min(len(latencies) - 1, int(q * len(latencies)))] if latencies else float("nan")

    return {
        "parts_s": len(results) / (end - t0), "triggers": n, "refused": refused, "errors": errors,
        "p50": pct(0.5), "p95": pct(0.95), "max": latencies[-1] if latencies else float("nan"),
    }


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--bench", type=Path, default=DEFAULT_BENCH)
    ap.add_argument("--model", default="yolov8n_e2e.onnx", help="model file in <bench>/models")
    ap.add_argument("--rates", default="4,8,12,16", help="offered trigger rates, parts per second")
    ap.add_argument("--seconds", type=float, default=6.0, help="seconds of triggers per rate and mode")
    ap.add_argument("--camera", default="timed", choices=["timed", "emulator"])
    ap.add_argument("--transfer-ms", type=float, default=43.0, help="the timed camera's grab time")
    ap.add_argument("--spinning", default="off", choices=["off", "on", "auto"], help="[model] spinning")
    ap.add_argument("--archive", default="none", choices=["none", "failed", "all"])
    args = ap.parse_args()
    rates = [float(r) for r in args.rates.split(",") if r.strip()]
    model = args.bench / "models" / args.model
    frame_file = args.bench / "images" / "scene_2448x2048.png"
    image = load_image(frame_file)
    image.setflags(write=False)
    if args.camera == "timed":
        station_module.CameraWorker = functools.partial(
            CameraWorker, camera_factory=lambda _s: TimedCamera(image, args.transfer_ms)
        )
    print(f"CPU: {cpu_features().summary()}")
    with tempfile.TemporaryDirectory(prefix="bench-line-rate-") as tmp:
        tmp = Path(tmp)
        (tmp / "patterns").mkdir()
        (tmp / "patterns" / "bench.yaml").write_text(PATTERN)
        frames = tmp / "frames"
        frames.mkdir()
        (frames / frame_file.name).symlink_to(frame_file.resolve())
        os.environ["PYLON_CAMEMU"] = "2"
        stations = {}
        for i, mode in enumerate(("sequential", "overlapped")):
            s = Settings()
            s = s.replace("camera", emulation_image_dir=str(frames), serial=f"0815-{i:04d}", trigger_mode="software")
            s = s.replace("model", path=str(model), providers=["CPUExecutionProvider"], spinning=args.spinning)
            s = s.replace("patterns", path=str(tmp / "patterns"))
            s = s.replace("results", log_dir=str(tmp / mode / "log"), image_dir=str(tmp / mode / "img"), archive=args.archive)
            station = station_module.Station(s.replace("station", cycle=mode, name=mode))
            station.start()
            station.wait_ready()
            if station.detector is None:
                print(f"model failed to load: {station.pipeline.model_problem}", file=sys.stderr)
                return 2
            while not station.ready:
                time.sleep(0.05)
            for _ in range(3):  # warm-up
                station.run_cycle("warm-up")
            stations[mode] = station
        one = stations["sequential"].run_cycle("probe").times
        print(f"model {model.name} on {stations['sequential'].detector.provider}, camera {args.camera}"
              + (f" ({args.transfer_ms:g} ms per grab)" if args.camera == "timed" else " (pylon emulator)")
              + f", spinning {args.spinning}, archive {args.archive}")
        print(f"one sequential cycle: grab {one.grab_ms:.1f}  preprocess {one.preprocess_ms:.1f}  inference {one.inference_ms:.1f}"
              f"  decode+match {one.decode_ms + one.match_ms:.1f}  log {one.log_ms:.1f} ms")
        print(f"{'offered/s':>9}  {'mode':<11}{'parts/s':>8}{'p50 ms':>8}{'p95 ms':>8}{'max ms':>8}{'refused':>9}   ratio")
        try:
            for k, rate in enumerate(rates):
                got = {}
                order = ("sequential", "overlapped") if k % 2 == 0 else ("overlapped", "sequential")
                for mode in order:
                    got[mode] = run_rate(stations[mode], rate, args.seconds)
                for mode in ("sequential", "overlapped"):
                    r = got[mode]
                    ratio = f"{got['overlapped']['parts_s'] / got['sequential']['parts_s']:.2f}x" if mode == "overlapped" else ""
                    print(f"{rate:>9g}  {mode:<11}{r['parts_s']:>8.2f}{r['p50']:>8.0f}{r['p95']:>8.0f}{r['max']:>8.0f}"
                          f"{r['refused']:>5}/{r['triggers']:<3}  {ratio}"
                          + (f"  {len(r['errors'])} ERROR: {r['errors'][0]}" if r["errors"] else ""))
        finally:
            for station in stations.values():
                station.stop()
    return 0


if __name__ == "__main__":
    threading.current_thread().name = "line-rate"
    raise SystemExit(main())
