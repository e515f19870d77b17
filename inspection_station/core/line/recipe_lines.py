"""Recipe selection by the PLC on the camera's digital inputs (issue 22).

The PLC sets a recipe number binary-coded on N input lines (`[line] recipe_lines`, least
significant bit first) and then either pulses a strobe line (`recipe_strobe`: the number is
latched on its rising edge) or, with no strobe, the number is latched at each trigger (the
cycle that trigger starts runs with the recipe in force; the switch follows it). The number
is looked up in `recipe_table` ("NUMBER=RECIPE") and selected through the same action as every
other product switch (actor "plc", role `[line] api_role`): audited, persisted, and refused with
its reason (reported on the error route) when the recipe cannot be applied.

The lines are read through `LineInputs`: on a real camera `CameraLineInputs` reads
`LineStatusAll` on the camera worker's thread. Basler's emulator has no LineStatus nodes
(checked: pypylon's emulator offers LineSelector/LineMode/LineSource, no status), so tests
drive `InjectedLineInputs` — a fault-injection seam behind the same interface.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

from inspection_station.core.errors import ConfigError, StationError
from inspection_station.core.events import CycleFinished, CycleStarted

if TYPE_CHECKING:
    from inspection_station.core.actions import Outcome, StationActions
    from inspection_station.core.station import Station

log = logging.getLogger(__name__)
LINES = ("Line1", "Line2", "Line3", "Line4", "Line5", "Line6", "Line7", "Line8")
POLL_S = 0.01  # a PLC strobe is held >= 20 ms


class LineInputs(Protocol):
    def read(self) -> int:
        """The input lines' levels as a bit mask (bit 0 = Line1); StationError when unreadable."""


class CameraLineInputs:
    """LineStatusAll of the station's camera, read on the camera worker's thread."""

    def __init__(self, station: Station, timeout_s: float = 1.0) -> None:
        self.station = station
        self.timeout_s = timeout_s

    def read(self) -> int:
        camera = self.station.camera
        if camera is None:
            raise StationError("the camera is not open")
        return int(camera.call_in_worker(_line_status_all).result(self.timeout_s))


def _line_status_all(camera: Any) -> int:
    device = getattr(camera, "instant_camera", None)
    try:
        return int(device.LineStatusAll.Value)  # type: ignore[union-attr]
    except Exception as exc:  # noqa: BLE001 - the emulator and some models have no such node
        raise StationError(f"the camera has no readable LineStatusAll ({type(exc).__name__}): "
                           "recipe selection by lines needs a camera with input status") from None


class InjectedLineInputs:
    """Test seam: input levels set by the test (the emulator cannot show input levels)."""

    def __init__(self) -> None:
        self.mask = 0
        self.fault = ""

    def set(self, *high: str) -> None:
        self.mask = sum(1 << LINES.index(line) for line in high)

    def read(self) -> int:
        if self.fault:
            raise StationError(self.fault)
        return self.mask


@dataclass(frozen=True)
class RecipeLinesSpec:
    lines: tuple[str, ...]  # bit 0 first
    strobe: str  # "" = latch at each trigger
    table: dict[int, str]


def parse_recipe_lines(lines: list[str], strobe: str, table: list[str]) -> RecipeLinesSpec:
    """The `[line] recipe_*` settings, checked (ConfigError names the key and what was expected)."""
    for line in (*lines, *([strobe] if strobe else [])):
        if line not in LINES:
            raise ConfigError(f"[line] recipe_lines/recipe_strobe: {line!r} is no input line (expected {', '.join(LINES)})")
    if not lines:
        raise ConfigError("[line] recipe_lines: expected at least one input line, e.g. [\"Line2\", \"Line3\"]")
    if strobe in lines or len(set(lines)) != len(lines):
        raise ConfigError("[line] recipe_lines: each line once, and not the strobe line")
    parsed: dict[int, str] = {}
    for entry in table:
        number, sep, name = entry.partition("=")
        try:
            value = int(number)
        except ValueError:
            value = -1
        if not sep or not name.strip() or not 0 < value < (1 << len(lines)):
            raise ConfigError(f"[line] recipe_table: {entry!r}: expected NUMBER=RECIPE with NUMBER 1.."
                              f"{(1 << len(lines)) - 1} ({len(lines)} lines; 0 = no recipe asked)")
        parsed[value] = name.strip()
    return RecipeLinesSpec(tuple(lines), strobe, parsed)


class RecipeLines:
    def __init__(self, station: Station, actions: StationActions, spec: RecipeLinesSpec, inputs: LineInputs, *,
                 on_problem: Callable[[str], None] | None = None) -> None:
        self.station = station
        self.actions = actions
        self.spec = spec
        self.inputs = inputs
        self.on_problem = on_problem or (lambda message: log.error("%s", message))
        self.outcomes: list[Outcome] = []  # what each latched number did (tests, diagnostics)
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._pending: str | None = None
        self._unsubscribe: Callable[[], None] | None = None
        self._last_problem = ""

    def number(self, mask: int) -> int:
        return sum(1 << bit for bit, line in enumerate(self.spec.lines) if mask & (1 << LINES.index(line)))

    def start(self) -> RecipeLines:
        if self.spec.strobe:
            self._thread = threading.Thread(target=self._watch_strobe, name="recipe-lines", daemon=True)
            self._thread.start()
        else:
            self._unsubscribe = self.station.bus.subscribe(self._on_cycle, CycleStarted, CycleFinished)
        return self

    def stop(self) -> None:
        self._stop.set()
        if self._unsubscribe is not None:
            self._unsubscribe()
        if self._thread is not None:
            self._thread.join(5)

    def _read(self) -> int | None:
        try:
            mask = self.inputs.read()
        except StationError as exc:
            if str(exc) != self._last_problem:  # said once, not every poll
                self._last_problem = str(exc)
                self.on_problem(f"recipe lines: {exc}")
            return None
        self._last_problem = ""
        return mask

    def _watch_strobe(self) -> None:
        strobe_bit = 1 << LINES.index(self.spec.strobe)
        was_high = True  # a strobe already high at start is not an edge
        while not self._stop.wait(POLL_S):
            mask = self._read()
            if mask is None:
                continue
            high = bool(mask & strobe_bit)
            if high and not was_high:
                self.latch(mask)
            was_high = high

    def _on_cycle(self, event) -> None:
        if isinstance(event, CycleStarted):
            mask = self._read()
            if mask is not None:
                name = self._name_of(mask)
                if name and name != self.station.state.product:
                    self._pending = name  # this cycle runs with the recipe in force; then the switch
        elif self._pending is not None:
            name, self._pending = self._pending, None
            # the switch waits for loads: never on the inference thread that publishes this
            threading.Thread(target=self._select, args=(name,), name="recipe-lines-switch", daemon=True).start()

    def _name_of(self, mask: int) -> str | None:
        number = self.number(mask)
        if number == 0:
            return None
        name = self.spec.table.get(number)
        if name is None:
            self.on_problem(f"recipe lines: recipe number {number} is not in [line] recipe_table")
        return name

    def latch(self, mask: int) -> None:
        name = self._name_of(mask)
        if name is not None:
            self._select(name)

    def _select(self, name: str) -> None:
        outcome = self.actions.select_product(self.actions.plc_actor(), name)
        self.outcomes.append(outcome)
        if not outcome.ok:
            self.on_problem(f"recipe lines: {outcome.message}")
