"""What the installer and `inspection-station service|firewall` run on a Windows PC, checked on
any OS: every command is split back the way Windows splits it and must give what was meant;
the installer's generated include runs exactly those commands."""

from __future__ import annotations

import os
import re
import subprocess
import sys

import pytest

from inspection_station import cli
from inspection_station.core.settings.model import LineSettings
from inspection_station.deploy import acl, firewall, nsis, windows_service


def split_windows(command_line: str) -> list[str]:
    """CommandLineToArgvW / the Microsoft C runtime's rules (backslashes before a quote)."""
    args: list[str] = []
    current: list[str] = []
    quoted = started = False
    i = 0
    while i < len(command_line):
        ch = command_line[i]
        if ch == "\\":
            n = len(command_line[i:]) - len(command_line[i:].lstrip("\\"))
            if i + n < len(command_line) and command_line[i + n] == '"':
                current.append("\\" * (n // 2))
                if n % 2:
                    current.append('"')
                    i += n + 1
                else:
                    i += n
                continue
            current.append("\\" * n)
            i += n
            continue
        if ch == '"':
            quoted, started = not quoted, True
        elif ch in " \t" and not quoted:
            if current or started:
                args.append("".join(current))
            current, started = [], False
        else:
            current.append(ch)
        i += 1
    if current or started:
        args.append("".join(current))
    return args


EXE = r"C:\Program Files\Inspection Station\inspection-station.exe"


def test_the_service_runs_our_own_program_with_its_service_command():
    create, description, failure = windows_service.install_commands(EXE)
    argv = split_windows(windows_service.command_line(create))
    assert argv[:3] == ["sc.exe", "create", windows_service.NAME]
    options = dict(zip(argv[3::2], argv[4::2], strict=True))
    assert options["start="] == "auto" and options["DisplayName="] == windows_service.DISPLAY_NAME
    # the registry's ImagePath: the program quoted (spaces), then `service run`
    image_path = options["binPath="]
    assert image_path == f'"{EXE}" service run'
    program, *command = split_windows(image_path)
    assert program == EXE and command == ["service", "run"]
    # ...which is a command of ours (the Service Control Manager starts exactly that)
    args = cli.build_parser("service").parse_args(command)
    assert args.service_command == "run" and args.func.__module__ == "inspection_station.commands.service"
    assert split_windows(windows_service.command_line(description))[3] == windows_service.DESCRIPTION
    failure_args = split_windows(windows_service.command_line(failure))
    assert failure_args[failure_args.index("actions=") + 1].split("/")[::2] == ["restart"] * 3
    assert [split_windows(windows_service.command_line(c))[1] for c in windows_service.uninstall_commands()] == [
        "stop", "delete"]


def test_the_firewall_opens_only_the_reachable_ports_the_settings_enable():
    line = LineSettings(api_enabled=True, api_host="0.0.0.0", api_port=8443,
                        metrics_enabled=True, metrics_host="127.0.0.1", metrics_port=9464)
    commands, notes = firewall.apply_commands(line)
    removes = [c for c in commands if "delete" in c]
    adds = [split_windows(windows_service.command_line(c)) for c in commands if "add" in c]
    assert len(removes) == len(firewall.RULES)  # ours first removed: a changed port leaves no old rule
    assert len(adds) == 1
    rule = dict(a.split("=", 1) for a in adds[0] if "=" in a)
    assert rule["name"] == firewall.RULES["api"] and rule["localport"] == "8443"
    assert (rule["dir"], rule["action"], rule["protocol"]) == ("in", "allow", "TCP")
    assert any("metrics on 127.0.0.1:9464: loopback only" in n for n in notes)
    assert firewall.apply_commands(LineSettings())[1] == ["the settings enable no listener: no rule"]


def test_the_data_root_acl_names_the_well_known_groups_in_icacls_notation():
    commands = acl.data_root_commands(r"C:\ProgramData\InspectionStation")
    grants = [g for c in commands for g in c if g.startswith("*S-")]
    sids = {g.split(":")[0] for g in grants}
    assert sids == {"*S-1-5-32-544", "*S-1-5-18", "*S-1-5-32-545", "*S-1-3-0"}  # admins, SYSTEM, users, creator
    rights = re.compile(r"^\*S-[\d-]+:(\((OI|CI|IO)\))+(F|M|RX|\((WD|AD|WEA|WA|RX)(,(WD|AD|WEA|WA|RX))*\))$")
    assert all(rights.match(g) for g in grants), grants
    users = [g for g in grants if g.startswith("*S-1-5-32-545")]
    assert not any(g.endswith(("F", "M")) for g in users)  # operators never get full or modify
    assert commands[0][2] == "/inheritance:r"  # nothing inherited from ProgramData (Users: write)


def _runtime(expression: str) -> str:
    """The installer's variables as a default install expands them."""
    return (expression.replace(r"$INSTDIR", r"C:\Program Files\InspectionStation")
            .replace(r"$SYSDIR", r"C:\Windows\System32")
            .replace(r"${DATA_ROOT}", r"C:\ProgramData\InspectionStation"))


def test_the_installer_runs_exactly_the_generated_commands():
    include = nsis.render_include()
    macros = dict(re.findall(r"!macro (\w+)\n(.*?)!macroend", include, re.S))
    installed = r"C:\Program Files\InspectionStation\inspection-station.exe"
    expected = {
        "SERVICE_INSTALL": windows_service.install_commands(installed, r"C:\Windows\System32\sc.exe"),
        "SERVICE_START": windows_service.start_commands(r"C:\Windows\System32\sc.exe"),
        "SERVICE_STOP": windows_service.stop_commands(r"C:\Windows\System32\sc.exe"),
        "SERVICE_UNINSTALL": windows_service.uninstall_commands(r"C:\Windows\System32\sc.exe"),
        "FIREWALL_APPLY": [[installed, "firewall", "--apply"]],
        "FIREWALL_REMOVE": firewall.remove_commands(r"C:\Windows\System32\netsh.exe"),
        "DATA_ROOT_ACL": acl.data_root_commands(r"C:\ProgramData\InspectionStation",
                                                r"C:\Windows\System32\icacls.exe"),
    }
    assert set(macros) == set(expected)
    for name, body in macros.items():
        run = re.findall(r"nsExec::ExecToLog `([^`]*)`", body)
        assert [split_windows(_runtime(line)) for line in run] == expected[name], name
    assert "$$" not in include  # no installer variable of its own slipped in
    with pytest.raises(ValueError):
        nsis.nsis_string("a `quoted` word")


def test_the_commands_are_printed_on_any_os_and_refused_off_windows():
    run = subprocess.run([sys.executable, "-m", "inspection_station", "service", "commands", "--exe", EXE],
                         capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, run.stderr
    printed = [line.strip() for line in run.stdout.splitlines() if line.startswith("  ")]
    assert printed == [windows_service.command_line(c) for c in (
        windows_service.install_commands(EXE) + windows_service.start_commands()
        + windows_service.uninstall_commands())]
    if sys.platform != "win32":
        refused = subprocess.run([sys.executable, "-m", "inspection_station", "service", "install"],
                                 capture_output=True, text=True, timeout=120)
        assert refused.returncode == 2 and "Windows only" in refused.stderr
    shown = subprocess.run([sys.executable, "-m", "inspection_station", "firewall"],
                           capture_output=True, text=True, timeout=120,
                           env={**os.environ, "INSPECTION_STATION_LINE_API_ENABLED": "true",
                                "INSPECTION_STATION_LINE_API_HOST": "0.0.0.0"})
    assert shown.returncode == 0, shown.stderr
    assert "# api on 0.0.0.0:8080: allowed in" in shown.stdout
    assert 'add rule "name=Inspection Station API"' in shown.stdout
