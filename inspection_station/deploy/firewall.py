"""Windows firewall rules for the ports the station's settings enable (netsh advfirewall).

One inbound TCP rule per enabled listener, named after what it serves, so `--apply` can
replace them and the uninstaller remove them by name. Loopback-only listeners need none.
"""

from __future__ import annotations

RULE_PREFIX = "Inspection Station"
# listener -> rule name. The OPC UA server ([line] opcua_*, issue 22) adds its entry here and
# in `listeners()`.
RULES = {
    "api": f"{RULE_PREFIX} API",
    "metrics": f"{RULE_PREFIX} metrics",
}
LOOPBACK = {"127.0.0.1", "localhost", "::1"}


def listeners(line) -> list[tuple[str, str, int]]:
    """(listener, host, port) that the [line] settings enable."""
    found = []
    if line.api_enabled:
        found.append(("api", line.api_host, int(line.api_port)))
    if line.metrics_enabled:
        found.append(("metrics", line.metrics_host, int(line.metrics_port)))
    return found


def remove_commands(netsh: str = "netsh") -> list[list[str]]:
    return [[netsh, "advfirewall", "firewall", "delete", "rule", f"name={name}"] for name in RULES.values()]


def apply_commands(line, netsh: str = "netsh") -> tuple[list[list[str]], list[str]]:
    """(commands, notes): ours removed, then one allow rule per enabled, reachable port."""
    commands = remove_commands(netsh)
    notes = []
    for listener, host, port in listeners(line):
        if host in LOOPBACK:
            notes.append(f"{listener} on {host}:{port}: loopback only, no rule needed")
            continue
        commands.append([
            netsh, "advfirewall", "firewall", "add", "rule", f"name={RULES[listener]}", "dir=in",
            "action=allow", "protocol=TCP", f"localport={port}", "profile=any",
            f"description=Inspection Station {listener} ([line] settings)",
        ])
        notes.append(f"{listener} on {host}:{port}: allowed in")
    if not notes:
        notes.append("the settings enable no listener: no rule")
    return commands, notes
