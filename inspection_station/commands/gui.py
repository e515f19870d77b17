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
    early = start_station_early(settings, demo=demo)

    # Qt only now: other commands never load it (gui/__init__ loads onnxruntime before Qt).

    try:
        from inspection_station.gui.app import run_gui

        return run_gui(settings, demo=demo, settings_path=settings_path, warnings=warnings, early=early)
    except BaseException:
        early[0].stop()  # the window never came up (or is gone): nothing may keep the process alive
        raise


def start_station_early(settings, demo: bool = False):
    """The station started before Qt is imported and the window is built: the camera opens
    and the model loads on the station's threads while the main thread builds the window
    (what the station publishes meanwhile waits in an EventReplay for the window's bridge).
    Windows: onnxruntime's DLLs must load before Qt's, so its preload is awaited first."""
    from inspection_station.core import preload
    from inspection_station.core.event_replay import EventReplay
    from inspection_station.core.state import StationState
    from inspection_station.core.station import Station

    preload.start_for_station(settings.camera.source)
    station = Station(settings, state=StationState(settings, demo=demo), previews=True)
    replay = EventReplay(station.bus)  # before the launch: nothing it says is missed
    launched = station.launch(live=True)
    preload.wait("onnxruntime")
    return station, replay, launched
