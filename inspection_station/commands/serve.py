"""`inspection-station serve`: the station as a service without a screen.

It waits for triggers from the API (`--api`) or the camera's input line
([camera] trigger_mode = "hardware") until SIGINT/SIGTERM; `--metrics` serves
Prometheus metrics on a port of its own. Nothing listens unless configured.
As a Windows service (`inspection-station service`) the same `serve_station` loop runs,
stopped by the Service Control Manager instead of a signal.

A service: it logs to the station's log file as the GUI does (stderr gets the states and
errors too), and SIGINT/SIGTERM stop it after the running cycle has finished and its row
is written (API requests in flight get their answer). `--tls-cert/--tls-key` (or
[line] tls_certificate / tls_key) serve HTTPS.
"""

from __future__ import annotations

import argparse
import logging
import signal
import sys
import threading
from collections.abc import Callable

log = logging.getLogger("inspection_station.serve")


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("serve", help="the station without a window: API / hardware triggers, metrics")
    p.add_argument("--config", metavar="F", help="settings TOML instead of the station's settings")
    p.add_argument("--demo", action="store_true", help="emulated camera, bundled demo model and pattern")
    p.add_argument("--api", metavar="[HOST:]PORT", help="serve the HTTP API (HOST defaults to 127.0.0.1)")
    p.add_argument("--metrics", metavar="[HOST:]PORT", help="serve /metrics on a port of its own")
    p.add_argument("--opcua", metavar="[HOST:]PORT", nargs="?", const="4840",
                   help="serve OPC UA (OPC 40100 Machine Vision; default port 4840, HOST 127.0.0.1)")
    p.add_argument("--tls-cert", metavar="PEM", help="serve HTTPS with this certificate (chain) file "
                   "([line] tls_certificate)")
    p.add_argument("--tls-key", metavar="PEM", help="its private key ([line] tls_key; default: in --tls-cert)")
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

    settings, settings_path, _warnings = station_settings(args)
    stop = threading.Event()
    handlers = {sig: signal.signal(sig, lambda *_: stop.set()) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        return serve_station(settings, stop, api=args.api, metrics=args.metrics, opcua=args.opcua, command="serve",
                             settings_path=settings_path, tls_certificate=args.tls_cert, tls_key=args.tls_key)
    finally:
        for sig, handler in handlers.items():
            signal.signal(sig, handler)


def _stderr(text: str) -> None:
    if sys.stderr is not None:
        print(text, file=sys.stderr, flush=True)


def serve_station(
    settings,
    stop: threading.Event,
    *,
    api: str | None = None,
    metrics: str | None = None,
    opcua: str | None = None,
    command: str = "serve",
    settings_path=None,
    tls_certificate: str | None = None,
    tls_key: str | None = None,
    say: Callable[[str], None] = _stderr,
) -> int:
    """The station with its line integration until `stop` is set (holding the station's lock)."""
    from inspection_station.core.actions import StationActions
    from inspection_station.core.instance_lock import hold_station_lock
    from inspection_station.core.line.server import parse_bind
    from inspection_station.core.line.services import LineServices
    from inspection_station.core.logging_setup import setup_logging
    from inspection_station.core.station import Station

    api_bind = parse_bind(api, what="--api") if api else None
    metrics_bind = parse_bind(metrics, what="--metrics") if metrics else None
    opcua_bind = parse_bind(opcua, what="--opcua") if opcua else None
    instance = hold_station_lock(settings, command)  # AlreadyRunning: exit 2, naming the other one
    log_file = setup_logging(settings.logging, console=False)  # stderr already gets the states and errors
    try:
        station = Station(
            settings,
            on_state=lambda comp, state, reason: (say(f"[{comp}] {state}: {reason}"),
                                                  log.info("[%s] %s: %s", comp, state, reason)),
            on_error=lambda msg: (say(f"inspection-station: error: {msg}"), log.error("%s", msg)),
            on_notice=lambda msg: say(f"inspection-station: {msg}"),
            on_result=lambda r: print(f"{r.cycle_id} {r.verdict.value} {r.trigger} {r.error}".rstrip(), flush=True)
            if sys.stdout is not None else None,
        )
        # the API's product switch is saved where this station's settings come from
        actions = StationActions.for_station(station, settings_path)
        services = LineServices(station, settings.line, api_bind=api_bind, metrics_bind=metrics_bind,
                                opcua_bind=opcua_bind, actions=actions, tls_certificate=tls_certificate,
                                tls_key=tls_key,
                                on_problem=lambda msg: say(f"inspection-station: error: {msg}"),
                                on_notice=lambda msg: say(f"inspection-station: {msg}"))
        try:
            station.start()
            for line in services.start():
                say(f"inspection-station: {line}")
                log.info("%s", line)
            if log_file is not None:
                say(f"inspection-station: log file: {log_file}")
            say(f"inspection-station: serving station {settings.station.name!r}; Ctrl+C or SIGTERM stops")
            while not stop.wait(0.5):
                pass
            say("inspection-station: stopping after the running cycle")
        finally:
            services.stop()
            station.stop()
    finally:
        instance.release()
    return 0
