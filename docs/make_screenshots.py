"""Screenshots of the real station on a real X server, for the README.

    python docs/make_screenshots.py [--demo | --config F] [--size 1366x768] [--out docs/screenshots]

Runs the REAL window on a real Station (emulated camera, the configured model and
patterns) and grabs the WHOLE SCREEN, so a window that does not fit shows as cut off.
Without a display it starts its own Xvfb (+ openbox when installed, so "maximised" means
what a window manager makes of it) of `--size`; `--display :N` picks the display number.
Pictures go to `<out>/<size>/`:

- operator: idle (live, READY), ok, nok, wrong_part (a NOK naming a part of another class
  in a slot), error (a camera timeout injected in the camera worker), replay (an older
  cycle shown again from the history), statistics
- engineer: settings_<tab> for every settings tab, pattern_editor (zoomed in on a slot)
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # run from a source checkout without installing


def start_x(size: str, display: str | None) -> list[subprocess.Popen]:
    """Own X server (+ window manager) when there is no display; [] when one is given."""
    if os.environ.get("DISPLAY") and display is None:
        os.environ.setdefault("QT_QPA_PLATFORM", "xcb")
        return []
    xvfb = shutil.which("Xvfb")
    if xvfb is None:
        sys.exit("screenshots: no DISPLAY and no Xvfb; install xvfb")
    if display is None:
        number = next(n for n in range(90, 110) if not Path(f"/tmp/.X11-unix/X{n}").exists())
        display = f":{number}"
    socket = Path(f"/tmp/.X11-unix/X{display.lstrip(':')}")
    procs = [subprocess.Popen([xvfb, display, "-screen", "0", f"{size}x24", "-nolisten", "tcp"],
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)]
    deadline = time.monotonic() + 10
    while not socket.exists():
        if procs[0].poll() is not None or time.monotonic() > deadline:
            sys.exit(f"screenshots: Xvfb did not start on {display}")
        time.sleep(0.05)
    os.environ["DISPLAY"] = display
    os.environ["QT_QPA_PLATFORM"] = "xcb"
    openbox = shutil.which("openbox")
    if openbox:
        procs.append(subprocess.Popen([openbox], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
        time.sleep(0.5)
    return procs


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--config", metavar="F", help="settings TOML (default: the user's settings)")
    parser.add_argument("--demo", action="store_true", help="emulated camera, bundled demo model and patterns")
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "screenshots")
    parser.add_argument("--ok-product", default="", help="pattern set for the OK shot")
    parser.add_argument("--nok-product", default="", help="pattern set for the NOK shot")
    parser.add_argument("--max-cycles", type=int, default=30, help="cycles to try for each verdict")
    parser.add_argument("--size", default="1920x1080", help="screen size WxH (own Xvfb only)")
    parser.add_argument("--display", default=None, help="X display for the own Xvfb, e.g. :21")
    args = parser.parse_args(argv)

    procs = start_x(args.size, args.display)
    try:
        return shoot(args)
    finally:
        for proc in reversed(procs):
            proc.terminate()
            proc.wait(5)


def shoot(args) -> int:
    from inspection_station.core.errors import CameraTimeout
    from inspection_station.core.settings.audit import AuditLog
    from inspection_station.core.settings.model import demo_settings, load_settings
    from inspection_station.core.station import Station
    from inspection_station.gui.app import make_application, start_station
    from inspection_station.gui.engineer.settings_dialog import SettingsDialog
    from inspection_station.gui.error_route import ErrorRoute
    from inspection_station.gui.operator.main_window import MainWindow
    from inspection_station.gui.operator.station_bridge import StationBridge

    loaded = load_settings(args.config)
    settings = demo_settings(loaded.settings) if args.demo else loaded.settings
    app = make_application()
    screen = app.primaryScreen().geometry()
    out = args.out / f"{screen.width()}x{screen.height()}"
    out.mkdir(parents=True, exist_ok=True)
    route = ErrorRoute()
    bridge = StationBridge()
    station = Station(settings, previews=True)
    window = MainWindow(station, bridge, settings, error_route=route)
    window.showMaximized()
    scratch = Path(tempfile.mkdtemp(prefix="screenshots-"))  # the dialog saves nothing of the user's

    def pump(until, timeout_s: float = 30.0) -> bool:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            app.processEvents()
            if until():
                return True
            time.sleep(0.01)
        return False

    def save(name: str) -> None:
        pump(lambda: False, 0.5)  # let the view repaint
        path = out / f"{name}.png"
        app.primaryScreen().grabWindow(0).save(str(path))  # the whole screen, not one window
        print(f"screenshots: {path}")

    def cycle_until(verdict: str, product: str, also=lambda result: True) -> bool:
        if product:
            window.product_combo.setCurrentText(product)
        for _ in range(args.max_cycles):
            before = window.last_result
            window.inspect("button")
            if not pump(lambda before=before: window.last_result is not before):
                return False
            if str(window.last_result.verdict) == verdict and also(window.last_result):
                return True
            pump(lambda: not window.banner.is_flashing(), 3)
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
        if cycle_until("NOK", args.nok_product, lambda r: r.match is not None and bool(r.match.wrong_parts)):
            save("wrong_part")
        good_frame = next((r for r in reversed(station.recent_results) if r.frame is not None), None)

        def failing_grab(camera):  # the next grab times out, as with a lost trigger
            original = camera.grab

            def grab(*_a, **_k):
                camera.grab = original  # once: the pattern editor wants a frame again
                raise CameraTimeout(f"{camera.description}: no frame within {settings.camera.grab_timeout_ms} ms")

            camera.grab = grab

        station.camera.call_in_worker(failing_grab).result(10)
        before = window.last_result
        window.inspect("button")
        pump(lambda: window.last_result is not before)
        save("error")
        window.side_tabs.setCurrentWidget(window.statistics)
        save("statistics")
        window.side_tabs.setCurrentWidget(window.history)
        older = window.history.list.item(min(2, window.history.list.count() - 1))
        window.history.list.setCurrentItem(older)
        window.history.list.itemClicked.emit(older)
        save("replay")
        window.go_live()

        dialog = SettingsDialog(window.settings, station, window, settings_path=scratch / "settings.toml",
                                audit=AuditLog(scratch / "audit.jsonl"), bridge=bridge)
        dialog.show()
        pump(dialog.isVisible, 5)
        for index in range(dialog.tabs.count()):
            dialog.tabs.setCurrentIndex(index)
            tab = dialog.tabs.tabText(index).replace("&", "").lower()
            save("settings_" + "_".join(tab.split()))  # "Access and records" -> access_and_records
        editor = dialog.pattern_editor
        dialog.open_editor_button.click()
        pump(dialog.pattern_window.isVisible, 5)
        if good_frame is not None:
            editor._show_image(good_frame.frame.rgb, f"cycle {good_frame.cycle_id}", good_frame.detections)
        editor.select_slot(0, "outer")
        slots = editor._slots()
        if slots:
            from PySide6.QtCore import QRectF

            w, h = editor._size()
            x1, y1, x2, y2 = slots[0].outer
            editor.view.setRange(QRectF(x1 * w, y1 * h, (x2 - x1) * w, (y2 - y1) * h), padding=0.8)
        editor.try_pattern()
        save("pattern_editor")
        dialog.pattern_window.close()
        dialog.close()
        return 0
    finally:
        station.stop()
        window.close()
        shutil.rmtree(scratch, ignore_errors=True)


if __name__ == "__main__":
    raise SystemExit(main())
