"""Waiting for the camera's answer to a recipe's settings (its reopen, or its refusal).

A recipe that changes the exposure, gain or binning makes the camera worker close and open
the camera again with the new values; a camera that refuses a value (outside its range)
fails that open and reports DISCONNECTED with the reason. The recipe switch waits for that
outcome on the station's event route, so "the camera refuses the exposure" is the switch's
answer, not a line in a log.
"""

from __future__ import annotations

import dataclasses
import queue
from concurrent.futures import Future

from inspection_station.core.camera.protocol import CameraState
from inspection_station.core.camera.worker import SOFTWARE_ONLY_KEYS
from inspection_station.core.events import ComponentChanged, EventBus
from inspection_station.core.settings.model import CameraSettings

_ANSWERS = {CameraState.CONNECTED, CameraState.EMULATED, CameraState.DISCONNECTED, CameraState.CLOSED}


def camera_reopens(old: CameraSettings, new: CameraSettings) -> bool:
    """True when the worker must reopen the camera for `new` (not only re-crop in software)."""
    changed = {f.name for f in dataclasses.fields(new) if getattr(old, f.name) != getattr(new, f.name)}
    changed -= {"reconnect_min_s", "reconnect_max_s"}
    return bool(changed - SOFTWARE_ONLY_KEYS)


class CameraOutcome:
    """Subscribe BEFORE the reconfigure is posted: the worker's states arrive on the bus."""

    def __init__(self, bus: EventBus, *, reopens: bool) -> None:
        self.reopens = reopens
        self._events: queue.Queue[ComponentChanged] = queue.Queue()
        self._unsubscribe = bus.subscribe(self._seen, ComponentChanged)

    def _seen(self, event: ComponentChanged) -> None:
        if event.component == "camera":
            self._events.put(event)

    def wait(self, reconfigured: Future | None, timeout_s: float) -> str:
        """'' once the camera runs with the new settings, else why not."""
        if reconfigured is not None:
            try:
                reconfigured.result(timeout_s)
            except Exception as exc:  # noqa: BLE001 - the worker's failure is the answer
                return f"the camera did not take the settings: {exc}"
        if not self.reopens:
            return ""
        connecting = False
        while True:
            try:
                event = self._events.get(timeout=timeout_s)
            except queue.Empty:
                return f"the camera did not answer within {timeout_s:g} s"
            if event.state == CameraState.CONNECTING:
                connecting = True
            elif connecting and event.state in _ANSWERS:
                if event.state in (CameraState.CONNECTED, CameraState.EMULATED):
                    return ""
                return f"the camera refused the settings: {event.reason}"

    def close(self) -> None:
        self._unsubscribe()
