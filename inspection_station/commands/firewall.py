"""`inspection-station firewall [--apply | --remove]`: Windows firewall rules for the ports
the station's settings enable ([line] API, metrics). Without an option it prints the netsh
commands; `--apply` replaces our rules by them, `--remove` deletes ours (as administrator).
The installer's firewall option runs `--apply`; its uninstaller removes them."""

from __future__ import annotations

import argparse
import subprocess
import sys

from inspection_station.core.errors import StationError


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("firewall", help="Windows firewall rules for the ports the settings enable")
    p.add_argument("--config", metavar="F", help="settings TOML instead of the station's settings")
    what = p.add_mutually_exclusive_group()
    what.add_argument("--apply", action="store_true", help="replace our rules by these (Windows, administrator)")
    what.add_argument("--remove", action="store_true", help="delete our rules")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from inspection_station.core.settings.model import load_settings
    from inspection_station.deploy import firewall
    from inspection_station.deploy.windows_service import command_line

    if args.remove:
        commands, notes = firewall.remove_commands(), ["our rules removed"]
    else:
        commands, notes = firewall.apply_commands(load_settings(args.config).settings.line)
    for note in notes:
        print(f"# {note}")
    if not (args.apply or args.remove):
        print("\n".join(command_line(c) for c in commands))
        return 0
    if sys.platform != "win32":
        raise StationError("firewall --apply/--remove: Windows only (without them it prints the commands)")
    failed = 0
    for argv in commands:
        done = subprocess.run(argv, capture_output=True, text=True, check=False)
        # deleting a rule that is not there fails harmlessly
        failed += done.returncode != 0 and "delete" not in argv
        print(f"> {command_line(argv)}\n{(done.stdout or done.stderr).strip()}")
    return 2 if failed else 0
