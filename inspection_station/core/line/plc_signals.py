"""Station signals on the camera's digital outputs, for the line's PLC.

Signals: READY (the station can take a trigger), BUSY (a cycle runs), OK, NOK, ERROR.
Each mapped signal drives one output line through one user output:
`LineSelector = LINE, LineMode = Output, LineSource = USEROUTPUT`, then the level is
`UserOutputSelector = USEROUTPUT, UserOutputValue = level` (inverted: the value written is
the opposite of the signal's logical level).

Handshake (docs/plant_integration.md has the timing diagram):
trigger -> verdict lines cleared, READY low, BUSY high -> cycle -> verdict line high ->
BUSY low, READY high. A verdict line holds until the next trigger, or for `pulse` ms.
A refused trigger changes nothing. On camera loss READY drops (written before the device
is closed, where it still answers) and every line is set again after the reconnect.

Every device write happens in the camera worker thread (posted with `call_in_worker`, or
in the worker's open/close hooks), in the order the station decided them.
"""

from __future__ import annotations

import logging
import threading
from collections import deque
from typing import TYPE_CHECKING, Protocol, runtime_checkable

from inspection_station.core.cycle import CycleResult, Verdict
from inspection_station.core.errors import CameraError, ConfigError
from inspection_station.core.listeners import StationListener
from inspection_station.core.settings.plc_outputs import (  # the setting's format, written once there
    VERDICT_SIGNALS,
    WHERE,
    OutputSpec,
)

if TYPE_CHECKING:
    from inspection_station.core.station import Station

log = logging.getLogger(__name__)

@runtime_checkable
class DigitalOutputs(Protocol):
    """What a camera offers for outputs (PylonCamera does; an image folder does not)."""

    def configure_output(self, line: str, user_output: str) -> None: ...

    def set_user_output(self, user_output: str, value: bool) -> None: ...


class PlcSignals(StationListener):
    """Drives the mapped outputs from the station's events; attach after `station.start()`."""

    def __init__(self, station: Station, outputs: tuple[OutputSpec, ...]) -> None:
        self._station = station
        self._specs = {spec.signal: spec for spec in outputs}
        self._lock = threading.Lock()  # decisions and their posting keep one order
        self._levels = dict.fromkeys(self._specs, False)  # logical levels, True = active
        self._camera_open = False  # from the worker's hooks: the device the outputs live on
        self._busy = False
        self._generation = 0  # cycles started; a pulse ends only in its own cycle
        self._pulse: threading.Timer | None = None
        self._warned = False
        self.problem = ""  # why the outputs could not be set up on the current camera
        # (signal, level, written to a device, why): the device's side of the story, for tests
        # and diagnostics; why = start | verdict | state | open | close | pulse
        self.history: deque[tuple[str, bool, bool, str]] = deque(maxlen=1000)

    @property
    def outputs(self) -> tuple[OutputSpec, ...]:
        return tuple(self._specs.values())

    def attach(self) -> None:
        camera = self._station.camera
        if camera is None:
            raise ConfigError(f"{WHERE}: the station has no camera worker (start the station first)")
        self._station.add_listener(self)
        camera.add_camera_hooks(self._opened, self._closing).result(timeout=30)

    def detach(self) -> None:
        """Stop driving the outputs: READY drops (nobody answers for it now), the other lines
        keep their levels; the station itself runs on."""
        self._station.remove_listener(self)
        with self._lock:
            if self._pulse is not None:
                self._pulse.cancel()
            self._post({"READY": False}, "close")
        camera = self._station.camera
        if camera is not None and camera.running:
            camera.remove_camera_hooks(self._opened, self._closing).add_done_callback(_log_failure)

    def levels(self) -> dict[str, bool]:
        with self._lock:
            return dict(self._levels)

    # --- station events (any thread) -----------------------------------------------------

    def cycle_started(self, source: str) -> None:
        with self._lock:
            self._generation += 1
            self._busy = True
            if self._pulse is not None:
                self._pulse.cancel()
            self._post({**dict.fromkeys(VERDICT_SIGNALS, False), "READY": False, "BUSY": True}, "start")

    def cycle_finished(self, result: CycleResult) -> None:
        signal = {Verdict.OK: "OK", Verdict.NOK: "NOK"}.get(result.verdict, "ERROR")
        with self._lock:
            self._busy = False
            # the verdict first, then BUSY low: a PLC reads the verdict on BUSY's falling edge
            self._post({signal: True, "BUSY": False, "READY": self._ready()}, "verdict")
            spec = self._specs.get(signal)
            if spec is not None and spec.pulse_ms:
                generation = self._generation
                self._pulse = threading.Timer(spec.pulse_ms / 1e3, self._end_pulse, (signal, generation))
                self._pulse.daemon = True
                self._pulse.start()

    def state_changed(self, component: str, state: str, reason: str) -> None:
        if component not in ("model", "patterns"):
            return  # the camera's part comes from the worker's own open/close hooks
        with self._lock:
            self._post({"READY": self._ready()}, "state")

    # --- camera worker thread ------------------------------------------------------------

    def _opened(self, camera) -> None:
        if not isinstance(camera, DigitalOutputs):
            self.problem = f"{WHERE}: {camera.description} has no digital outputs; PLC signals are not sent"
            if not self._warned:
                self._warned = True
                log.warning("%s", self.problem)
            return
        try:
            for spec in self._specs.values():
                camera.configure_output(spec.line, spec.user_output)
        except CameraError as exc:  # a line this camera lacks: say so; the station inspects on
            self.problem = f"{WHERE}: {exc}"
            log.error("%s", self.problem)
            return
        self.problem = ""
        with self._lock:
            levels = dict(self._levels)
        self._write(camera, levels, "open")  # a new device starts from the current levels
        with self._lock:
            self._camera_open = True
            # posted, not written: it then runs after writes decided before this reconnect
            self._post({"READY": self._ready()}, "open")

    def _closing(self, camera) -> None:
        with self._lock:
            self._camera_open = False
            if "READY" in self._levels:
                self._levels["READY"] = False
        if isinstance(camera, DigitalOutputs) and "READY" in self._specs:
            self._write(camera, {"READY": False}, "close")  # may fail on a device already gone

    # --- internals -----------------------------------------------------------------------

    def _ready(self) -> bool:
        """READY as the PLC sees it: the station's rule (Station.ready), with the camera and
        busy parts as this object saw them, so the levels follow the order of events."""
        station = self._station
        return (
            self._camera_open
            and station.detector is not None
            and station.active_pattern_set is not None
            and not self._busy
        )

    def _end_pulse(self, signal: str, generation: int) -> None:
        with self._lock:
            if generation == self._generation:
                self._post({signal: False}, "pulse")

    def _post(self, wanted: dict[str, bool], why: str) -> None:
        """Lock held: record the new levels and hand the changes to the camera thread."""
        changed = {s: v for s, v in wanted.items() if s in self._levels and self._levels[s] != v}
        if not changed:
            return
        self._levels.update(changed)
        camera = self._station.camera
        if camera is None:
            return
        future = camera.call_in_worker(lambda cam: self._write(cam, changed, why))
        future.add_done_callback(_log_failure)

    def _write(self, camera, levels: dict[str, bool], why: str) -> None:
        """Worker thread: put the levels on the device (None while disconnected: at reopen)."""
        if camera is None or not isinstance(camera, DigitalOutputs):
            for signal, level in levels.items():
                self.history.append((signal, level, False, why))
            return
        for signal, level in levels.items():
            spec = self._specs[signal]
            try:
                camera.set_user_output(spec.user_output, level != spec.inverted)
            except Exception as exc:  # noqa: BLE001 - a lost device refuses; the reopen rewrites all
                log.warning("%s: %s not written: %s", WHERE, signal, exc)
                self.history.append((signal, level, False, why))
            else:
                self.history.append((signal, level, True, why))


def _log_failure(future) -> None:
    if not future.cancelled() and future.exception() is not None:
        log.warning("%s: output write failed: %s", WHERE, future.exception())
