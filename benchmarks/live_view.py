"""The live view at camera rate: the real operator window fed 5 MP frames at 60 fps.

A fast in-memory camera (behind the station's Camera protocol, in the real camera
worker) produces a 2448x2048 RGB frame (the demo boards scaled up) every 1/60 s,
free-running like a real camera, with the bundled demo model and pattern:
a frame nobody takes is gone. The real Station, StationBridge and MainWindow run as
`inspection-station gui` builds them, on Xvfb (--display, e.g. DISPLAY=:27) or Qt
offscreen. Two phases, each timed by the window's own `frame_drawn` signal and a 1 ms
timer in the GUI thread that records the longest gap between its ticks (a stall):

  live      live view only
  cycles    inspection cycles back to back (the button's path), live view in between

Printed per phase: frames produced, displayed fps, frames dropped (produced, never
shown), the longest GUI-thread stall and, for cycles, how many ran.

    DISPLAY=:27 .venv/bin/python benchmarks/live_view.py --display [--seconds 8] [--spinning auto|on|off]

`--spinning` is the station's `[model] spinning`: "auto" (the default, as `gui` runs it) is
off in a GUI process; "on" is onnxruntime's default, its threads busy-waiting between runs.
Run it once each way (each in its own process) to see what spinning costs the GUI thread.
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

import numpy as np  # noqa: E402

from inspection_station.core import station as station_module  # noqa: E402
from inspection_station.core.camera.protocol import CameraState, next_frame_id  # noqa: E402
from inspection_station.core.camera.worker import LIVE_MAX_FPS, CameraWorker  # noqa: E402
from inspection_station.core.errors import CameraTimeout  # noqa: E402
from inspection_station.core.frame import Frame  # noqa: E402
from inspection_station.core.settings.model import Settings, demo_settings  # noqa: E402

WIDTH, HEIGHT, FPS = 2448, 2048, 60.0
DEMO_IMAGES = REPO / "resources" / "demo_images"


class MemoryCamera:
    """Frames from memory at a fixed rate; the Camera protocol the worker drives."""

    def __init__(self, frames: list[np.ndarray], fps: float) -> None:
        self._frames = frames
        self._period = 1.0 / fps
        self._t0 = 0.0
        self._last = -1
        self.state = CameraState.EMULATED
        self.description = f"in-memory {WIDTH}x{HEIGHT} at {fps:g} fps"
        self.warnings: list[str] = []

    def open(self) -> None:
        self._t0 = time.perf_counter()

    def close(self) -> None:
        pass

    def produced(self) -> int:
        return int((time.perf_counter() - self._t0) / self._period)

    def _next_frame(self) -> Frame:
        start = time.perf_counter()
        index = max(self.produced(), self._last + 1)  # the newest, never the same twice
        due = self._t0 + index * self._period
        if due > start:
            time.sleep(due - start)
        self._last = index
        return Frame(
            image=self._frames[index % len(self._frames)],
            frame_id=next_frame_id(),
            timestamp=time.time(),
            source="memory",
            grab_ms=(time.perf_counter() - start) * 1e3,
        )

    def grab(self, timeout_ms: int | None = None) -> Frame:
        return self._next_frame()

    latest_frame = grab

    def start_streaming(self) -> None:
        pass

    def stop_streaming(self) -> None:
        pass

    def wait_hardware_trigger(self, timeout_ms: int | None = None) -> Frame:
        raise CameraTimeout("no trigger line on an in-memory camera")

    def apply_image_settings(self, settings) -> None:
        pass

    def is_removed(self) -> bool:
        return False


def make_frames() -> list[np.ndarray]:
    """The demo boards, scaled to the 5 MP width on a grey sensor: the demo model finds
    its 11 parts, as on a line (a photo gives it hundreds of junk boxes to draw)."""
    import cv2

    from inspection_station.core.images import list_images, load_image

    frames = []
    for path in list_images(DEMO_IMAGES)[:4]:
        board = load_image(path)
        h = round(board.shape[0] * WIDTH / board.shape[1])
        frame = np.full((HEIGHT, WIDTH, 3), 96, np.uint8)
        top = (HEIGHT - h) // 2
        frame[top : top + h] = cv2.resize(board, (WIDTH, h), interpolation=cv2.INTER_LINEAR)
        frame.setflags(write=False)
        frames.append(frame)
    return frames


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seconds", type=float, default=8.0, help="length of each phase")
    ap.add_argument("--display", action="store_true", help="use $DISPLAY (Xvfb) instead of Qt offscreen")
    ap.add_argument("--spinning", default="auto", choices=["auto", "on", "off"], help="[model] spinning")
    ap.add_argument("--runtime", default="onnxruntime", choices=["onnxruntime", "openvino"], help="[model] runtime")
    args = ap.parse_args()
    if not args.display:
        os.environ["QT_QPA_PLATFORM"] = "offscreen"
    os.environ.setdefault("PYLON_CAMEMU", "1")

    from PySide6.QtCore import QElapsedTimer, QTimer

    from inspection_station.gui import app as gui_app
    from inspection_station.gui.error_route import ErrorRoute
    from inspection_station.gui.operator.main_window import MainWindow
    from inspection_station.gui.operator.station_bridge import StationBridge

    cameras: list[MemoryCamera] = []
    frames = make_frames()

    def factory(_settings):
        camera = MemoryCamera(frames, FPS)
        camera.open()
        cameras.append(camera)
        return camera

    # The benchmark's one substitution: the station's camera worker opens the memory camera.
    station_module.CameraWorker = functools.partial(CameraWorker, camera_factory=factory)

    with tempfile.TemporaryDirectory(prefix="bench-live-") as tmp:
        from inspection_station.core.detect.runtimes import set_interactive

        set_interactive(True)  # as gui/app.py: "auto" spinning is off under a window
        settings = demo_settings(Settings()).replace("camera", trigger_mode="continuous")
        settings = settings.replace("model", spinning=args.spinning, runtime=args.runtime)
        settings = settings.replace("results", log_dir=f"{tmp}/log", image_dir=f"{tmp}/img", archive="none")
        qt = gui_app.make_application()
        route = ErrorRoute()
        bridge = StationBridge()
        station = station_module.Station(settings, previews=True)
        window = MainWindow(station, bridge, settings, error_route=route)
        window.resize(1366, 768)
        window.show()

        drawn = [0]
        window.image_view.frame_drawn.connect(lambda: drawn.__setitem__(0, drawn[0] + 1))
        clock = QElapsedTimer()
        stall = {"last": 0, "max": 0}

        def tick() -> None:
            now = clock.elapsed()
            stall["max"] = max(stall["max"], now - stall["last"])
            stall["last"] = now

        ticker = QTimer()
        ticker.setInterval(1)
        ticker.timeout.connect(tick)
        results: list[dict] = []
        detections: list[int] = []
        bridge.result_ready.connect(lambda r: detections.append(len(r.detections)))
        cycles = [0]
        stop_cycles = threading.Event()

        def cycle_loop() -> None:  # the button's path, the next trigger once a cycle ended
            while not stop_cycles.is_set():
                if not station.busy and station.trigger("bench"):
                    cycles[0] += 1
                time.sleep(0.005)  # a waiting line, not a refused trigger per poll

        def phase(name: str, then) -> None:
            camera = cameras[-1]
            state = {"drawn": drawn[0], "produced": camera.produced(), "cycles": cycles[0]}
            stall["max"], stall["last"] = 0, clock.elapsed()
            t0 = time.perf_counter()

            def end() -> None:
                seconds = time.perf_counter() - t0
                shown = drawn[0] - state["drawn"]
                produced = camera.produced() - state["produced"]
                results.append({
                    "phase": name, "seconds": seconds, "produced": produced, "displayed": shown,
                    "fps": shown / seconds, "dropped": produced - shown, "stall_ms": stall["max"],
                    "cycles": cycles[0] - state["cycles"],
                })
                then()

            QTimer.singleShot(int(args.seconds * 1000), end)

        def start_cycles() -> None:
            threading.Thread(target=cycle_loop, daemon=True).start()
            phase("cycles", finish)

        def finish() -> None:
            stop_cycles.set()
            qt.quit()

        def wait_ready() -> None:
            if station.wait_ready(0) and cameras and window.image_view.mode == "live" and drawn[0] > 3:
                clock.start()
                ticker.start()
                phase("live", start_cycles)
            else:
                QTimer.singleShot(50, wait_ready)

        QTimer.singleShot(0, lambda: gui_app.start_station(station, route))
        QTimer.singleShot(0, wait_ready)
        try:
            qt.exec()
        finally:
            station.stop()
    platform = os.environ.get("QT_QPA_PLATFORM") or f"xcb on {os.environ.get('DISPLAY', '?')}"
    print(f"live view: {WIDTH}x{HEIGHT} RGB frames at {FPS:g} fps from memory, real MainWindow 1366x768 ({platform})")
    print(f"camera worker live cap LIVE_MAX_FPS = {LIVE_MAX_FPS:g}; model {station.detector.describe() if station.detector else 'none'}")
    from inspection_station.core.detect.cpu import cpu_features

    print(f"[model] spinning = {args.spinning}; CPU: {cpu_features().summary()}")
    if detections:
        print(f"detections per shown result: median {int(np.median(detections))}, max {max(detections)}")
    for r in results:
        extra = f", {r['cycles']} cycles" if r["phase"] == "cycles" else ""
        print(
            f"  {r['phase']:<7} {r['seconds']:5.1f} s: produced {r['produced']}, displayed {r['displayed']} "
            f"({r['fps']:.1f} fps), dropped {r['dropped']} ({r['dropped'] / max(1, r['produced']):.0%}), "
            f"longest GUI-thread stall {r['stall_ms']} ms{extra}"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
