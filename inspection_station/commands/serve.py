"""`inspection-station serve`: the station as a service without a screen.

It waits for triggers from the API (`--api`) or the camera's input line
([camera] trigger_mode = "hardware") until SIGINT/SIGTERM; `--metrics` serves
Prometheus metrics on a port of its own. Nothing listens unless configured.
"""

from __future__ import annotations

import argparse
import signal
import sys
import threading


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("serve", help="the station without a window: API / hardware triggers, metrics")
    p.add_argument("--config", metavar="F", help="settings TOML instead of the user's settings")
    p.add_argument("--demo", action="store_true", help="emulated camera, bundled demo model and pattern")
    p.add_argument("--api", metavar="[HOST:]PORT", help="serve the HTTP API (HOST defaults to 127.0.0.1)")
    p.add_argument("--metrics", metavar="[HOST:]PORT", help="serve /metrics on a port of its own")
    p.add_argument("--opcua", metavar="[HOST:]PORT", nargs="?", const="4840",
                   help="serve OPC UA (OPC 40100 Machine Vision; default port 4840, HOST 127.0.0.1)")
    p.add_argument("--new-token", action="store_true",
                   help="print a new API token and the digest for [line] api_token_sha256, then exit")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    if args.new_token:
        from inspection_station.core.line.auth import hash_token, new_token

        token = new_token()
        print(f"token: {token}\napi_token_sha256 = [\"{hash_token(token)}\"]")
        return 0
    from inspection_station.commands.run import station_settings
    from inspection_station.core.actions import StationActions
    from inspection_station.core.line.server import parse_bind
    from inspection_station.core.line.services import LineServices
    from inspection_station.core.station import Station

    settings, settings_path, _warnings = station_settings(args)
    api_bind = parse_bind(args.api, what="--api") if args.api else None
    metrics_bind = parse_bind(args.metrics, what="--metrics") if args.metrics else None
    opcua_bind = parse_bind(args.opcua, what="--opcua") if args.opcua else None
    say = lambda text: print(text, file=sys.stderr, flush=True)  # noqa: E731
    stop = threading.Event()
    handlers = {sig: signal.signal(sig, lambda *_: stop.set()) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        station = Station(
            settings,
            on_state=lambda comp, state, reason: say(f"[{comp}] {state}: {reason}"),
            on_error=lambda msg: say(f"inspection-station: error: {msg}"),
            on_notice=lambda msg: say(f"inspection-station: {msg}"),
            on_result=lambda r: print(f"{r.cycle_id} {r.verdict.value} {r.trigger} {r.error}".rstrip(), flush=True),
        )
        # the API's product switch is saved where this station's settings come from
        actions = StationActions.for_station(station, settings_path)
        services = LineServices(station, settings.line, api_bind=api_bind, metrics_bind=metrics_bind,
                                opcua_bind=opcua_bind, actions=actions,
                                on_problem=lambda msg: say(f"inspection-station: error: {msg}"),
                                on_notice=lambda msg: say(f"inspection-station: {msg}"))
        try:
            station.start()
            for line in services.start():
                say(f"inspection-station: {line}")
            say(f"inspection-station: serving station {settings.station.name!r}; Ctrl+C or SIGTERM stops")
            while not stop.wait(0.5):
                pass
        finally:
            services.stop()
            station.stop()
    finally:
        for sig, handler in handlers.items():
            signal.signal(sig, handler)
    return 0
