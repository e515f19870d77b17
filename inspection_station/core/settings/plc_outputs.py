"""The `[line] plc_outputs` setting: which station signal drives which camera output line.

`"OK=Line2:UserOutput1:pulse=200"` per item. The format of the setting lives with the
settings (the settings checks and the PLC adapter, core/line/plc_signals.py, both read it).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from inspection_station.core.errors import ConfigError

SIGNALS = ("READY", "BUSY", "OK", "NOK", "ERROR")
VERDICT_SIGNALS = ("OK", "NOK", "ERROR")
WHERE = "[line] plc_outputs"
_LINE = re.compile(r"^Line\d+$")
_USER_OUTPUT = re.compile(r"^UserOutput\d+$")


@dataclass(frozen=True, slots=True)
class OutputSpec:
    signal: str
    line: str
    user_output: str
    pulse_ms: int = 0  # 0 = level (held until the next trigger)
    inverted: bool = False


def parse_outputs(items: list[str]) -> tuple[OutputSpec, ...]:
    """`["OK=Line2:UserOutput1:pulse=200", "READY=Line3:UserOutput2:inverted"]` -> specs.

    ConfigError naming the item and what was expected.
    """
    specs: list[OutputSpec] = []
    for n, item in enumerate(items, 1):
        where = f"{WHERE} item {n} {item!r}"
        signal, eq, rest = item.partition("=")
        signal = signal.strip().upper()
        parts = [p.strip() for p in rest.split(":")]
        if not eq or signal not in SIGNALS or len(parts) < 2:
            raise ConfigError(
                f"{where}: expected SIGNAL=LINE:USEROUTPUT[:pulse=MS][:inverted] with SIGNAL one of "
                f"{', '.join(SIGNALS)}, e.g. 'OK=Line2:UserOutput1:pulse=200'"
            )
        line, user_output, options = parts[0], parts[1], parts[2:]
        if not _LINE.match(line):
            raise ConfigError(f"{where}: expected a line name like Line2, got {line!r}")
        if not _USER_OUTPUT.match(user_output):
            raise ConfigError(f"{where}: expected a user output like UserOutput1, got {user_output!r}")
        pulse_ms, inverted = 0, False
        for option in options:
            key, _, value = option.partition("=")
            if key == "inverted" and not value:
                inverted = True
            elif key == "pulse" and value.isdigit() and 1 <= int(value) <= 60_000:
                if signal not in VERDICT_SIGNALS:
                    raise ConfigError(f"{where}: only OK, NOK and ERROR can pulse; {signal} is a level")
                pulse_ms = int(value)
            else:
                raise ConfigError(f"{where}: expected 'pulse=MS' (1..60000) or 'inverted', got {option!r}")
        for other in specs:
            for field, mine in (("signal", signal), ("line", line), ("user_output", user_output)):
                if getattr(other, field) == mine:
                    raise ConfigError(f"{where}: {field} {mine} is already used by {other.signal}")
        specs.append(OutputSpec(signal, line, user_output, pulse_ms, inverted))
    return tuple(specs)


def check_trigger_line(outputs: tuple[OutputSpec, ...], trigger_mode: str, trigger_line: str) -> None:
    """An output on the hardware trigger's input line would silence the PLC's trigger."""
    if trigger_mode != "hardware":
        return
    for spec in outputs:
        if spec.line == trigger_line:
            raise ConfigError(
                f"{WHERE}: {spec.signal} on {spec.line}, but {spec.line} is the hardware trigger input "
                "([camera] trigger_line); choose another line"
            )
