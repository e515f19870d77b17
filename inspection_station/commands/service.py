"""`inspection-station service run|install|uninstall|commands`: `serve` as a Windows service.

`commands` prints the sc.exe command lines (any OS; what the installer's "service" option
runs, generated from inspection_station/deploy/windows_service.py). `install` / `uninstall`
run them (Windows, as administrator). `run` is what the Service Control Manager starts.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
from pathlib import Path

from inspection_station.core.errors import StationError


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("service", help="`serve` as a Windows service: install, uninstall, the commands")
    actions = p.add_subparsers(dest="service_command", metavar="ACTION", required=True)
    for name, text in (("install", "create and start the service (Windows, as administrator)"),
                       ("uninstall", "stop and delete the service"),
                       ("commands", "print the sc.exe commands of install and uninstall")):
        action = actions.add_parser(name, help=text)
        action.add_argument("--exe", metavar="PATH", help="the program the service runs (default: this one)")
    actions.add_parser("run", help="the service itself (started by the Service Control Manager only)")
    p.set_defaults(func=run)


def _this_program() -> str:
    """The console program the service runs: this frozen exe, else the installed entry point."""
    if getattr(sys, "frozen", False):
        return str(Path(sys.executable).with_name("inspection-station.exe"))
    scripts = Path(sys.executable).parent
    return str(scripts / ("inspection-station.exe" if sys.platform == "win32" else "inspection-station"))


def run(args: argparse.Namespace) -> int:
    from inspection_station.deploy import windows_service as ws

    if args.service_command == "run":
        if sys.platform != "win32":
            raise StationError("service run: Windows only (on Linux run `inspection-station serve` from systemd)")
        from inspection_station.core.extras import require_extra

        require_extra("service", "service run")
        from inspection_station.winservice import dispatch

        return dispatch()
    exe = args.exe or _this_program()
    install, uninstall = ws.install_commands(exe), ws.uninstall_commands()
    if args.service_command == "commands":
        print("install:")
        print("\n".join("  " + ws.command_line(c) for c in install + ws.start_commands()))
        print("uninstall:")
        print("\n".join("  " + ws.command_line(c) for c in uninstall))
        return 0
    if sys.platform != "win32":
        raise StationError(f"service {args.service_command}: Windows only (`service commands` prints them)")
    steps = install + ws.start_commands() if args.service_command == "install" else uninstall
    failed = 0
    for argv in steps:
        done = subprocess.run(argv, capture_output=True, text=True, check=False)
        print(f"> {ws.command_line(argv)}\n{(done.stdout or done.stderr).strip()}")
        # stopping a service that is not running fails harmlessly; anything else counts
        failed += done.returncode != 0 and argv[1] != "stop"
    return 2 if failed else 0
