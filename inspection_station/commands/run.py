"""`inspection-station run --headless`: the station loop without a window.

Ctrl+C or SIGTERM ends it after the running cycle (its row written).
"""

from __future__ import annotations

import argparse
import logging
import signal
import sys
import threading

from inspection_station.commands.arguments import number
from inspection_station.core.cycle import CycleResult, Verdict

log = logging.getLogger("inspection_station.run")


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("run", help="run the station loop (--headless: no window, software trigger)")
    p.add_argument("--headless", action="store_true", help="no window: trigger by software every cycle")
    p.add_argument("--cycles", type=number(0, integer=True), default=0, help="stop after N cycles (0 = until Ctrl+C)")
    p.add_argument("--config", metavar="F", help="settings TOML instead of the station's settings")
    p.add_argument("--demo", action="store_true", help="emulated camera, bundled demo model and pattern")
    p.set_defaults(func=run)


def load_station_settings(args: argparse.Namespace):
    """Settings for `run`/`serve`: tolerant load, warnings on stderr, --demo applied."""
    return station_settings(args)[0]


def station_settings(args: argparse.Namespace, *, quiet: bool = False):
    """(settings, the file the station saves to, warnings): the user's settings or `--config F`;
    with `--demo` the demo's own layer, so a demo never writes the user's files."""
    from inspection_station.core.settings.demo import demo_layer
    from inspection_station.core.settings.model import load_settings

    config = getattr(args, "config", None)
    loaded = load_settings(config)
    settings, path, warnings = loaded.settings, config or loaded.user_file, list(loaded.warnings)
    if getattr(args, "demo", False):
        layer = demo_layer(loaded.settings)
        settings, path = layer.settings, layer.save_path
        warnings += layer.warnings
    if not quiet:
        for warning in warnings:
            print(f"inspection-station: warning: {warning}", file=sys.stderr)
    return settings, path, warnings


def cycle_line(n: int, r: CycleResult) -> str:
    t = r.times
    if r.verdict is Verdict.ERROR:
        what = r.error
    else:
        m = r.match
        what = m.summary() if m else ""
    return (
        f"#{n:<4} {r.cycle_id}  {r.verdict.value:<5} {what}  det={len(r.detections)}  "
        f"cycle={t.total_ms:.1f}ms grab={t.grab_ms:.1f} infer={t.inference_ms:.1f}"
        + (f"  image={r.image_path}" if r.image_path else "")
    )


def run(args: argparse.Namespace) -> int:
    if not args.headless:
        from inspection_station.commands.gui import run as run_gui

        return run_gui(args)
    from inspection_station.core.instance_lock import hold_station_lock
    from inspection_station.core.station import Station

    settings = load_station_settings(args)
    settings = settings.replace("camera", trigger_mode="software")  # headless: we are the trigger
    instance = hold_station_lock(settings, "run --headless")  # AlreadyRunning: exit 2, naming it
    from inspection_station.core.logging_setup import setup_logging

    setup_logging(settings.logging, console=False)  # stderr already gets the states and errors
    for line in getattr(args, "station_data_notices", ()):
        log.info("%s", line)
    say = lambda text: print(text, file=sys.stderr, flush=True)  # noqa: E731
    stop = threading.Event()
    # Ctrl+C or SIGTERM (a service manager, `kill`): the running cycle finishes and its row is
    # written, then the station stops
    previous = {sig: signal.signal(sig, lambda *_: stop.set()) for sig in (signal.SIGINT, signal.SIGTERM)}
    errors = 0
    n = 0
    try:
        with Station(
            settings,
            on_state=lambda comp, state, reason: say(f"[{comp}] {state}: {reason}"),
            on_error=lambda msg: (say(f"inspection-station: error: {msg}"), log.error("%s", msg)),
            on_notice=lambda msg: say(f"inspection-station: {msg}"),
        ) as station:
            while not station.wait_ready(0.2) and not stop.is_set():
                pass  # Ctrl+C still works during a slow model load
            while not stop.is_set() and (args.cycles <= 0 or n < args.cycles):
                n += 1
                result = station.run_cycle("headless")
                errors += result.verdict is Verdict.ERROR
                print(cycle_line(n, result), flush=True)
                # Free-running: while the camera is away, wait for it (its state lines say
                # why) instead of writing an ERROR row per loop turn.
                while station.camera is not None and not station.camera.available and not stop.is_set():
                    stop.wait(0.1)
            log_file = station.recorder.log.current_path if station.recorder else None
    finally:
        for sig, handler in previous.items():  # callers in-process get Ctrl+C back
            signal.signal(sig, handler)
        instance.release()
    print("\n".join(station.statistics.summary_lines()))
    if log_file:
        print(f"log: {log_file}")
    return 1 if errors else 0
