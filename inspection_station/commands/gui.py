"""`inspection-station gui [--config F] [--demo] [--kiosk]`: the operator window (also the default)."""

from __future__ import annotations

import argparse
import logging
import sys

log = logging.getLogger("inspection_station.gui")


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("gui", help="start the operator window (the default without a command)")
    p.add_argument("--config", metavar="F", help="settings TOML instead of the station's settings")
    p.add_argument("--demo", action="store_true", help="emulated camera, bundled demo model and pattern")
    p.add_argument("--kiosk", action="store_true",
                   help="full screen, Quit for engineers only ([station] kiosk for this start; the installer's kiosk shortcut)")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from inspection_station.core.instance_lock import AlreadyRunning, hold_station_lock
    from inspection_station.core.settings.demo import demo_layer
    from inspection_station.core.settings.model import load_settings

    loaded = load_settings(getattr(args, "config", None))
    for warning in loaded.warnings:
        print(f"inspection-station: warning: {warning}", file=sys.stderr)
    demo = bool(getattr(args, "demo", False))
    settings, settings_path = loaded.settings, getattr(args, "config", None) or loaded.user_file
    warnings = list(loaded.warnings)
    if demo:  # its own layer: the user's file and a --config file are only read
        layer = demo_layer(loaded.settings)
        settings, settings_path = layer.settings, layer.save_path
        warnings += layer.warnings
    if getattr(args, "kiosk", False):
        settings = settings.replace("station", kiosk=True)
    try:
        instance = hold_station_lock(settings, "gui" + (" --demo" if demo else ""))
    except AlreadyRunning as running:  # a second double-click: the running window comes forward
        from inspection_station.gui.single_instance import show_running_station

        return show_running_station(running)
    from inspection_station.core.logging_setup import setup_logging

    setup_logging(settings.logging)
    for line in getattr(args, "station_data_notices", ()):
        log.info("%s", line)

    # Qt only now: other commands never load it (gui/__init__ loads onnxruntime before Qt).

    from inspection_station.gui.app import run_gui

    try:
        return run_gui(settings, demo=demo, settings_path=settings_path, warnings=warnings, instance=instance)
    finally:
        instance.release()
