"""`inspection-station product list | select NAME`: the station's product (pattern set).

The same action as the screen's product choice and the API's PUT /product
(core/actions.py): role-checked, saved to the station's settings file (so the next start
judges against it), audited as the operating-system account. A station that is running
takes a switch from the screen or the API; this command is for a station being set up.
"""

from __future__ import annotations

import argparse
import sys


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("product", help="list the products, or select the one the station judges against")
    p.add_argument("--config", metavar="F", help="settings TOML instead of the user's settings")
    p.add_argument("--demo", action="store_true", help="the embedded demo's own settings layer")
    actions = p.add_subparsers(dest="product_command", metavar="ACTION", required=True)
    actions.add_parser("list", help="the products (pattern sets); * marks the active one")
    select = actions.add_parser("select", help="make NAME the active product (saved, audited)")
    select.add_argument("name")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from inspection_station.commands.run import station_settings
    from inspection_station.core.actions import StationActions
    from inspection_station.core.settings.session import cli_actor

    settings, path, _warnings = station_settings(args)
    actions = StationActions.offline(settings, path)
    if args.product_command == "list":
        active = settings.patterns.active
        names = actions.product_names()
        for name in names:
            print(f"{'*' if name == active or (not active and name == names[0]) else ' '} {name}")
        return 0
    outcome = actions.select_product(cli_actor(settings.station.name), args.name)
    if not outcome.ok:
        print(f"inspection-station: error: {outcome.message}", file=sys.stderr)
        return 2
    print(f"{outcome.message} (saved to {path})")
    return 0
