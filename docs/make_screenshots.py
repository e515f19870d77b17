"""Render the operator window to PNG screenshots (idle, OK, NOK, ERROR) for the README.

    python docs/make_screenshots.py [--demo | --config F] [--out docs/screenshots]

Runs the REAL window on a real Station (emulated camera, the configured model and
patterns). Without a display it starts its own Xvfb (Linux: `apt-get install xvfb`)
so the pictures come from a real X11 renderer, not the offscreen stub.

- idle:  live view, READY banner
- ok / nok: cycles are triggered until one with that verdict comes (use --ok-product /
  --nok-product to pick the pattern set for each)
- error: one cycle whose grab fails (a camera timeout injected in the camera worker)
- statistics: the same, with the shift statistics tab open
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # run from a source checkout without installing


def start_xvfb(size: str) -> subprocess.Popen | None:
    """Own X server when there is no display (and the caller did not choose a Qt platform)."""
    if os.environ.get("DISPLAY") or os.environ.get("QT_QPA_PLATFORM"):
        return None
    xvfb = shutil.which("Xvfb")
    if xvfb is None:
        sys.exit("screenshots: no DISPLAY and no Xvfb; install xvfb or set QT_QPA_PLATFORM=offscreen")
    for display in range(90, 110):
        if not Path(f"/tmp/.X11-unix/X{display}").exists():
            break
    proc = subprocess.Popen([xvfb, f":{display}", "-screen", "0", f"{size}x24", "-nolisten", "tcp"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 10
    while not Path(f"/tmp/.X11-unix/X{display}").exists():
        if proc.poll() is not None or time.monotonic() > deadline:
            sys.exit("screenshots: Xvfb did not start")
        time.sleep(0.05)
    os.environ["DISPLAY"] = f":{display}"
    os.environ["QT_QPA_PLATFORM"] = "xcb"
    return proc


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--config", metavar="F", help="settings TOML (default: the user's settings)")
    parser.add_argument("--demo", action="store_true", help="emulated camera, bundled demo model and patterns")
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "screenshots")
    parser.add_argument("--ok-product", default="", help="pattern set for the OK shot")
    parser.add_argument("--nok-product", default="", help="pattern set for the NOK shot")
    parser.add_argument("--max-cycles", type=int, default=30, help="cycles to try for each verdict")
    parser.add_argument("--size", default="1920x1080", help="window size WxH")
    args = parser.parse_args(argv)

    width, height = (int(v) for v in args.size.split("x"))
    xvfb = start_xvfb(args.size)
    try:
        return shoot(args, width, height)
    finally:
        if xvfb is not None:
            xvfb.terminate()
            xvfb.wait(5)


def shoot(args, width: int, height: int) -> int:
    from inspection_station.core.errors import CameraTimeout
    from inspection_station.core.settings.model import demo_settings, load_settings
    from inspection_station.core.station import Station
    from inspection_station.gui.app import make_application, start_station
    from inspection_station.gui.error_route import ErrorRoute
    from inspection_station.gui.operator.main_window import MainWindow
    from inspection_station.gui.operator.station_bridge import StationBridge

    loaded = load_settings(args.config)
    settings = demo_settings(loaded.settings) if args.demo else loaded.settings
    app = make_application()
    route = ErrorRoute()
    bridge = StationBridge()
    station = Station(settings, **bridge.callbacks())
    window = MainWindow(station, bridge, settings, error_route=route)
    window.resize(width, height)
    window.show()
    args.out.mkdir(parents=True, exist_ok=True)

    def pump(until, timeout_s: float = 30.0) -> bool:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            app.processEvents()
            if until():
                return True
            time.sleep(0.01)
        return False

    def save(name: str) -> None:
        pump(lambda: False, 0.4)  # let the flash/animations settle and the view repaint
        path = args.out / f"{name}.png"
        window.grab().save(str(path))
        print(f"screenshots: {path}")

    def cycle_until(verdict: str, product: str) -> bool:
        if product:
            window.product_combo.setCurrentText(product)
        for _ in range(args.max_cycles):
            before = window.last_result
            window.inspect("button")
            if not pump(lambda before=before: window.last_result is not before):
                return False
            if str(window.last_result.verdict) == verdict:
                return True
        return False

    start_station(station, route)
    try:
        ready = pump(lambda: window.banner.state == "READY" and window.camera_label.text().split()[1:2]
                     in (["emulated"], ["connected"]), 60)
        if not ready:
            print(f"screenshots: station not ready: {window.banner.reason.text()}", file=sys.stderr)
            save("error")
            return 1
        pump(lambda: window.image_view.frames_drawn >= 3, 10)
        save("idle")
        for verdict, product in (("OK", args.ok_product), ("NOK", args.nok_product)):
            if cycle_until(verdict, product):
                save(verdict.lower())
            else:
                print(f"screenshots: no {verdict} cycle in {args.max_cycles} tries", file=sys.stderr)

        def failing_grab(camera):  # the next grab times out, as with a lost trigger
            def grab(*_a, **_k):
                raise CameraTimeout(f"{camera.description}: no frame within {settings.camera.grab_timeout_ms} ms")

            camera.grab = grab

        station.camera.call_in_worker(failing_grab).result(10)
        before = window.last_result
        window.inspect("button")
        pump(lambda: window.last_result is not before)
        save("error")
        window.side_tabs.setCurrentWidget(window.statistics)
        save("statistics")
        return 0
    finally:
        station.stop()
        window.close()


if __name__ == "__main__":
    raise SystemExit(main())
