"""Listeners on a station's life: what line integration (PLC outputs, metrics, API) hooks into.

A listener overrides the methods it needs. They are called from the station's threads
(the trigger's caller, the camera worker for a line trigger, the inference thread, the
model loader), so each must be quick and thread-safe; an exception is logged, never raised
into the station.

Order within one cycle: `cycle_started` (busy taken) -> `cycle_finished` (still busy),
so a listener never sees the next cycle start before this one finished.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from inspection_station.core.cycle import CycleResult


class StationListener:
    def cycle_started(self, source: str) -> None:
        """A trigger was accepted: a cycle is running from now on."""

    def cycle_finished(self, result: CycleResult) -> None:
        """The cycle's result, recorded (CSV row written or kept for retry)."""

    def trigger_refused(self, source: str) -> None:
        """A trigger came while a cycle was running; it was counted and dropped."""

    def state_changed(self, component: str, state: str, reason: str) -> None:
        """("camera" | "model" | "patterns", state, reason), as `Station(on_state=)` gets it."""

    def overruled(self, cycle_id: str, verdict: str) -> None:
        """An operator corrected the verdict of `cycle_id`."""


def listener_handler(listener: StationListener):
    """An event-bus handler calling `listener`'s methods (core/events.py is the one route;
    a StationListener is one way to read it)."""
    from inspection_station.core import events as ev

    def handle(event: ev.Event) -> None:
        if isinstance(event, ev.CycleStarted):
            listener.cycle_started(event.source)
        elif isinstance(event, ev.CycleFinished):
            listener.cycle_finished(event.result)
        elif isinstance(event, ev.TriggerRefused):
            listener.trigger_refused(event.source)
        elif isinstance(event, ev.ComponentChanged):
            listener.state_changed(event.component, event.state, event.reason)
        elif isinstance(event, ev.Overruled):
            listener.overruled(event.cycle_id, event.new_verdict)

    return handle
