"""`serve` as a Windows service: the service's definition and its sc.exe commands.

The service is the frozen console program itself (`inspection-station.exe service run`),
hosted by pywin32's service framework (inspection_station/winservice.py): no wrapper
process between the Service Control Manager and the station, so a stop from the SCM reaches
the station's own stop event. It reads the machine-wide station data (the [line] settings
say what it serves) and runs as LocalSystem, which the data root's ACL gives full control.
"""

from __future__ import annotations

import subprocess

NAME = "InspectionStation"
DISPLAY_NAME = "Inspection Station (serve)"
DESCRIPTION = (
    "The inspection station without a window: HTTP API, metrics and hardware triggers as the "
    "[line] settings in the station's data root enable them."
)
HOST_ARGS = ("service", "run")  # what the SCM starts: `inspection-station.exe service run`
# Restart after a crash: 10 s, 10 s, then 60 s; the failure count resets after a day.
FAILURE_ACTIONS = "restart/10000/restart/10000/restart/60000"
RESET_AFTER_S = 86400


def image_path(exe: str) -> str:
    """The service's command line (the registry's ImagePath): the program quoted, then its args."""
    return command_line([exe, *HOST_ARGS], quote_first=True)


def install_commands(exe: str, sc: str = "sc.exe") -> list[list[str]]:
    """Create the service (started with Windows, restarted after a failure)."""
    return [
        [sc, "create", NAME, "binPath=", image_path(exe), "start=", "auto", "DisplayName=", DISPLAY_NAME],
        [sc, "description", NAME, DESCRIPTION],
        [sc, "failure", NAME, "reset=", str(RESET_AFTER_S), "actions=", FAILURE_ACTIONS],
    ]


def start_commands(sc: str = "sc.exe") -> list[list[str]]:
    return [[sc, "start", NAME]]


def stop_commands(sc: str = "sc.exe") -> list[list[str]]:
    """A stopped or missing service only makes sc say so."""
    return [[sc, "stop", NAME]]


def uninstall_commands(sc: str = "sc.exe") -> list[list[str]]:
    return [*stop_commands(sc), [sc, "delete", NAME]]


def quote(arg: str, force: bool = False) -> str:
    """One argument as the Microsoft C runtime (and so sc.exe, netsh, our exe) splits it back:
    subprocess.list2cmdline's rules, plus quoting on demand (a path that holds an installer
    variable such as $INSTDIR may expand to one with spaces)."""
    if not force and "$" not in arg:
        return subprocess.list2cmdline([arg])
    out, backslashes = ['"'], 0
    for ch in arg:
        if ch == "\\":
            backslashes += 1
            continue
        if ch == '"':
            out.append("\\" * (backslashes * 2 + 1) + '"')
        else:
            out.append("\\" * backslashes + ch)
        backslashes = 0
    out.append("\\" * (backslashes * 2) + '"')
    return "".join(out)


def command_line(argv: list[str], quote_first: bool = False) -> str:
    """One command as CreateProcess (and cmd.exe) read it; the program is always quoted when
    `quote_first` (a service's ImagePath must quote a path with spaces)."""
    return " ".join(quote(a, force=quote_first and i == 0) for i, a in enumerate(argv))
