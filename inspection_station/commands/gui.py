"""`inspection-station gui [--config F] [--demo]`: the operator window (also the default)."""

from __future__ import annotations

import argparse


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("gui", help="start the operator window (the default without a command)")
    p.add_argument("--config", metavar="F", help="settings TOML instead of the user's settings")
    p.add_argument("--demo", action="store_true", help="emulated camera, bundled demo model and pattern")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from inspection_station.commands.run import station_settings

    settings, settings_path, warnings = station_settings(args)
    demo = bool(getattr(args, "demo", False))
    from inspection_station.core.logging_setup import setup_logging

    setup_logging(settings.logging)

    # Qt only now: other commands never load it (gui/__init__ loads onnxruntime before Qt).

    from inspection_station.gui.app import run_gui

    return run_gui(settings, demo=demo, settings_path=settings_path, warnings=warnings)
