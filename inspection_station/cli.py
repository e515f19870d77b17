"""The `inspection-station` command: GUI by default, subcommands for everything else.

Each subcommand lives in `inspection_station/commands/<name>.py` with
`register(subparsers)`; it sets `func(args) -> int` as the handler. A StationError (or an
OSError) becomes a one-line message on stderr and exit code 2, never a traceback.
"""

from __future__ import annotations

import argparse
import importlib
import sys

from inspection_station import __version__
from inspection_station.core.errors import StationError

# Order = order in --help. Modules are imported lazily so `detect` never loads Qt.
COMMANDS = (
    "gui", "run", "detect", "inspect", "cameras", "pattern", "export_predictions", "import_old_config",
    "user", "audit",
)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="inspection-station",
        description="Optical inspection station: camera -> ONNX detection -> pattern verdict -> CSV log.",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in COMMANDS:
        try:
            module = importlib.import_module(f"inspection_station.commands.{name}")
        except ModuleNotFoundError as exc:
            if exc.name == f"inspection_station.commands.{name}":
                continue  # a subcommand not built yet
            raise
        module.register(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command is None:
        if "gui" not in parser._subparsers._group_actions[0].choices:  # noqa: SLF001
            parser.print_help()
            return 2
        args = parser.parse_args(["gui", *(argv or [])])
    try:
        return int(args.func(args) or 0)
    except StationError as exc:
        print(f"inspection-station: error: {exc}", file=sys.stderr)
        return 2
    except OSError as exc:  # e.g. an output folder that cannot be created: still one located line
        where = f"{exc.filename}: " if exc.filename else ""
        print(f"inspection-station: error: {where}{exc.strerror or exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    raise SystemExit(main())
