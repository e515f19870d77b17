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
    early = start_station_early(settings)

    # Qt only now: other commands never load it (gui/__init__ loads onnxruntime before Qt).

    try:
        from inspection_station.gui.app import run_gui

        return run_gui(settings, demo=demo, settings_path=settings_path, warnings=warnings, early=early)
    except BaseException:
        early[0].stop()  # the window never came up (or is gone): nothing may keep the process alive
        raise


def start_station_early(settings):
    """The station started before Qt is imported and the window is built: the camera opens
    and the model loads on the station's threads while the main thread builds the window
    (what the station reports meanwhile waits in a CallbackRelay for the window's bridge).
    Windows: onnxruntime's DLLs must load before Qt's, so its preload is awaited first."""
    from inspection_station.core import preload
    from inspection_station.core.callback_relay import CallbackRelay
    from inspection_station.core.station import Station

    preload.start_for_station(settings.camera.source)
    relay = CallbackRelay()
    station = Station(settings, **relay.callbacks())
    launched = station.launch(live=True)
    preload.wait("onnxruntime")
    return station, relay, launched
