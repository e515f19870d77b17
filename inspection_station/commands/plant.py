"""`inspection-station plant migrate | report | status`: the plant's database and the station's outbox.

`migrate` creates or updates the schema in `[plant] database_url` (run it once per database,
by a user allowed to create tables); `report` prints yield, NOK reasons and cycle times per
station / recipe / shift from that database; `status` shows this station's outbox: rows
queued, per sender sent / to send / lost, and the latest losses.
"""

from __future__ import annotations

import argparse
import json
import sys
from datetime import datetime


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("plant", help="plant-wide results: database schema (migrate), report, outbox status")
    actions = p.add_subparsers(dest="plant_command", metavar="ACTION", required=True)
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--config", metavar="F", help="settings TOML instead of the user's settings")
    db = argparse.ArgumentParser(add_help=False)
    db.add_argument("--database-url", metavar="URL",
                    help="instead of [plant] database_url (no password in it: the environment or credentials file)")
    actions.add_parser("migrate", parents=[common, db], help="create or update the plant database's schema")
    report = actions.add_parser("report", parents=[common, db],
                                help="yield, NOK reasons, cycle times per station / recipe / shift")
    report.add_argument("--since", default="7d", help="7d, 12h, 30m, 2w or an ISO date (default 7d)")
    report.add_argument("--station", default="", help="only this station")
    report.add_argument("--recipe", default="", help="only this recipe (pattern set)")
    report.add_argument("--shifts", default="", help="shift starts HH:MM,HH:MM,... instead of [plant] shifts")
    report.add_argument("--json", action="store_true", help="one JSON object")
    actions.add_parser("status", parents=[common], help="this station's outbox: queued, sent, lost")
    p.set_defaults(func=run)


def _settings(args):
    from inspection_station.core.settings.model import load_settings

    loaded = load_settings(args.config)
    for warning in loaded.warnings:
        print(f"inspection-station: warning: {warning}", file=sys.stderr)
    return loaded.settings


def _connect(args, plant):
    from inspection_station.core.errors import ConfigError
    from inspection_station.core.line.plant.credentials import check_database_url
    from inspection_station.core.line.plant.postgres import connect
    from inspection_station.core.line.plant.sender import SinkError

    url = args.database_url or plant.database_url
    if not url:
        raise ConfigError("no plant database: set [plant] database_url or pass --database-url")
    try:
        return connect(check_database_url(url), plant.credentials_file, timeout_s=plant.connect_timeout_s)
    except SinkError as exc:
        raise ConfigError(f"plant database {exc}") from None


def run(args: argparse.Namespace) -> int:
    settings = _settings(args)
    plant = settings.plant
    if args.plant_command == "status":
        return _status(settings)
    conn = _connect(args, plant)
    try:
        if args.plant_command == "migrate":
            from inspection_station.core.line.plant.schema import SCHEMA_VERSION, migrate

            done = migrate(conn)
            for line in done:
                print(line)
            if not done:
                print(f"schema version {SCHEMA_VERSION}: up to date")
            return 0
        from inspection_station.core.line.plant.report import (
            parse_shifts,
            parse_since,
            plant_report,
        )

        since = parse_since(args.since)
        shifts = parse_shifts(args.shifts.split(",") if args.shifts else plant.shifts)
        report = plant_report(conn, since, shifts, station=args.station, recipe=args.recipe)
    finally:
        conn.close()
    if args.json:
        print(json.dumps(report.to_json(), indent=1))
    else:
        print("\n".join(report.lines()))
    return 0


def _status(settings) -> int:
    from inspection_station.core.line.plant.outbox import peek
    from inspection_station.core.line.plant.service import outbox_path, plant_enabled

    path = outbox_path(settings.plant, settings.station.name)
    found = peek(path)
    if not plant_enabled(settings.plant):
        print("plant results are off ([plant] database_url and mqtt_url are empty)")
    if found is None:
        print(f"{path}: no outbox yet")
        return 0
    state, losses = found
    print(f"{path}: {state.depth} row(s) queued, oldest {state.oldest_age_s:.0f} s")
    for c in state.cursors:
        print(f"  {c.sender}: {c.behind} to send, {c.sent} sent, {c.lost} lost")
    for loss in losses:
        when = datetime.fromtimestamp(loss.at).astimezone()
        print(f"  lost {when:%Y-%m-%d %H:%M:%S}: {loss.rows} row(s) for {loss.sender} ({loss.reason}): "
              f"cycles {loss.first_cycle} .. {loss.last_cycle} (in the CSV log)")
    return 0
