"""Grab latency on Basler's camera emulator: the station's software trigger vs. GrabOne.

The station keeps the grab engine running and fires a software trigger per frame;
pypylon's `GrabOne` starts and stops the grab engine on every call. Both read the
same image file from the same emulated camera, in blocks, in one process run.

    .venv/bin/python benchmarks/camera.py [--image FILE] [--grabs 30]
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
os.environ.setdefault("PYLON_CAMEMU", "1")

from inspection_station.core.camera.worker import open_camera  # noqa: E402
from inspection_station.core.settings.model import CameraSettings  # noqa: E402

DEFAULT_IMAGE = REPO.parent / "shared" / "bench" / "images" / "scene_2448x2048.png"


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--image", type=Path, default=DEFAULT_IMAGE)
    ap.add_argument("--grabs", type=int, default=30)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory(prefix="camera-bench-") as tmp:
        (Path(tmp) / args.image.name).symlink_to(args.image.resolve())
        settings = dataclasses.replace(CameraSettings(), emulation_image_dir=tmp, trigger_mode="software")
        camera = open_camera(settings)
        camera.open()
        try:
            from pypylon import pylon

            cam = camera.instant_camera
            trigger, grab_one = [], []
            frame = camera.grab()
            # In blocks, two rounds: restarting the engine makes the emulator re-read its file,
            # which is GrabOne's cost but must not be charged to the triggered grabs.
            for _ in range(2):
                for _ in range(args.grabs // 2):
                    t = time.perf_counter()
                    frame = camera.grab()
                    trigger.append((time.perf_counter() - t) * 1e3)
                cam.StopGrabbing()  # GrabOne needs the engine stopped and free-running frames
                cam.TriggerMode.Value = "Off"
                for _ in range(args.grabs // 2):
                    t = time.perf_counter()
                    with cam.GrabOne(5000) as result:
                        _ = result.Array.copy()
                    grab_one.append((time.perf_counter() - t) * 1e3)
                cam.TriggerMode.Value = "On"
                cam.StartGrabbing(pylon.GrabStrategy_OneByOne)
                camera.grab()  # the first triggered frame after a restart reads the file again
        finally:
            camera.close()
    t_med, g_med = statistics.median(trigger), statistics.median(grab_one)
    print(f"emulated camera serving {args.image.name} ({frame.width}x{frame.height}), {args.grabs} grabs each, medians:")
    print(f"  software trigger, grab engine running (the station)  {t_med:8.2f} ms  (RGB frame in hand)")
    print(f"  GrabOne (engine started and stopped per call)         {g_med:8.2f} ms  (raw buffer copied)")
    print(f"  ratio GrabOne / software trigger = {g_med / t_med:.2f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
