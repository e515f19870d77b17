"""The `inspection-station` command: GUI by default, subcommands for everything else.

Each subcommand lives in `inspection_station/commands/<name>.py` with
`register(subparsers)`; it sets `func(args) -> int` as the handler. A StationError (or an
OSError) becomes a one-line message on stderr and exit code 2, never a traceback.
"""

from __future__ import annotations

import argparse
import importlib
import sys

from inspection_station.core.errors import StationError, located_error

# Order = order in --help. Modules are imported lazily so `detect` never loads Qt.
COMMANDS = (
    "gui", "run", "serve", "detect", "inspect", "cameras", "pattern", "export_predictions", "import_old_config", "model",
    "product", "user", "audit", "plant", "service", "firewall",
)
# The command line name and one line of help per module, so that the top-level --help
# and --version import no command module (their imports reach numpy, onnxruntime, Qt):
# only the chosen command's module is imported. A module missing here is imported for
# --help, which stays correct, only slower.
SUMMARIES = {
    "gui": ("gui", "start the operator window (the default without a command)"),
    "run": ("run", "run the station loop (--headless: no window, software trigger)"),
    "serve": ("serve", "the station without a window: API / hardware triggers, metrics"),
    "detect": ("detect", "run the detector on image files"),
    "inspect": ("inspect", "verdict per image: exit 0 = all OK, 1 = any NOK, 2 = error"),
    "cameras": ("cameras", "list Basler cameras (and the pylon emulator)"),
    "pattern": ("pattern", "teach a pattern from good parts, or evaluate one on a labelled set"),
    "export_predictions": ("export-predictions", "YOLO txt labels + drawn images for a folder of images"),
    "import_old_config": ("import-old-config", "write station settings from the old system's .env / TOML files"),
    "model": ("model", "fastest way to run a model here (optimize); model facts (info)"),
    "product": ("product", "list the products, or select the one the station judges against"),
    "user": ("user", "station accounts: add, list, passwd, role, remove, unlock"),
    "audit": ("audit", "the audit trail: verify its hash chain"),
    "plant": ("plant", "plant-wide results: database schema (migrate), report, outbox status"),
    "service": ("service", "`serve` as a Windows service: install, uninstall, the commands"),
    "firewall": ("firewall", "Windows firewall rules for the ports the settings enable"),
}
# Commands that read or write the station's data root: it is created, and the per-user data
# of 0.1 moved into it, before they read anything (core/data_root.py).
STATION_DATA_COMMANDS = frozenset({"gui", "run", "serve", "product", "user", "audit", "plant", "service", "firewall"})


class _VersionAction(argparse.Action):
    """--version, reading the installed metadata only when asked (importlib.metadata: ~30 ms)."""

    def __init__(self, option_strings, dest=argparse.SUPPRESS, default=argparse.SUPPRESS, help=None):
        super().__init__(option_strings, dest=dest, default=default, nargs=0, help=help)

    def __call__(self, parser, namespace, values, option_string=None) -> None:
        from inspection_station import __version__

        print(f"{parser.prog} {__version__}")  # stdout, as argparse's own version action
        parser.exit()


def build_parser(command: str | None = None) -> argparse.ArgumentParser:
    """The parser with every command registered, or only `command` (a command line name)."""
    parser = argparse.ArgumentParser(
        prog="inspection-station",
        description="Optical inspection station: camera -> ONNX detection -> pattern verdict -> CSV log.",
    )
    parser.add_argument("--version", action=_VersionAction, help="show the version and exit")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in COMMANDS:
        cli_name, summary = SUMMARIES.get(name, (None, None))
        if command is not None and cli_name is not None and cli_name != command:
            sub.add_parser(cli_name, help=summary, add_help=False)  # listed, not imported
            continue
        try:
            module = importlib.import_module(f"inspection_station.commands.{name}")
        except ModuleNotFoundError as exc:
            if exc.name == f"inspection_station.commands.{name}":
                continue  # a subcommand not built yet
            raise
        module.register(sub)
    return parser


def _chosen_command(argv: list[str]) -> str:
    """The command line names the first word that is not an option; none = the GUI."""
    return next((word for word in argv if not word.startswith("-")), "")


def _prepare_station_data(args: argparse.Namespace) -> None:
    from inspection_station.core.data_root import prepare_data_root

    args.station_data_notices = prepare_data_root()
    if sys.stderr is not None:  # the windowed Windows build has none (the audit and log have it)
        for line in args.station_data_notices:
            print(f"inspection-station: {line}", file=sys.stderr)


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    command = _chosen_command(argv)
    parser = build_parser(command or "gui")
    args = parser.parse_args(argv)
    if args.command is None:
        if "gui" not in parser._subparsers._group_actions[0].choices:  # noqa: SLF001
            parser.print_help()
            return 2
        args = parser.parse_args(["gui", *argv])
    try:
        if args.command in STATION_DATA_COMMANDS:
            _prepare_station_data(args)
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
    except Exception as exc:  # noqa: BLE001 - last net: one line and exit 2, never a traceback
        print(f"inspection-station: error: {located_error(args.command, exc)}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    raise SystemExit(main())
