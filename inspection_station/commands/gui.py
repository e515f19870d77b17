"""`inspection-station gui [--config F] [--demo]`: the operator window (also the default)."""

from __future__ import annotations

import argparse
import sys


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("gui", help="start the operator window (the default without a command)")
    p.add_argument("--config", metavar="F", help="settings TOML instead of the user's settings")
    p.add_argument("--demo", action="store_true", help="emulated camera, bundled demo model and pattern")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
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
    from inspection_station.core.logging_setup import setup_logging

    setup_logging(settings.logging)

    # Qt only now: other commands never load it (gui/__init__ loads onnxruntime before Qt).

    from inspection_station.gui.app import run_gui

    return run_gui(settings, demo=demo, settings_path=settings_path, warnings=warnings)
