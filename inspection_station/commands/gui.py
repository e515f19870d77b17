"""`inspection-station gui [--config F] [--demo] [--kiosk]`: the operator window (also the default)."""

from __future__ import annotations

import argparse
import logging

log = logging.getLogger("inspection_station.gui")


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("gui", help="start the operator window (the default without a command)")
    p.add_argument("--config", metavar="F", help="settings TOML instead of the station's settings")
    p.add_argument("--demo", action="store_true", help="emulated camera, bundled demo model and pattern")
    p.add_argument("--kiosk", action="store_true",
                   help="full screen, Quit for engineers only ([station] kiosk for this start; the installer's kiosk shortcut)")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from inspection_station.commands.run import station_settings
    from inspection_station.core.instance_lock import AlreadyRunning, hold_station_lock

    settings, settings_path, warnings = station_settings(args)
    demo = bool(getattr(args, "demo", False))
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
