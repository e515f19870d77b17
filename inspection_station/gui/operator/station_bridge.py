"""The station's events (core/events.py, published on worker threads) as Qt signals in the
GUI thread: the one place where the core's event route meets Qt.

Emitting a signal of a QObject that lives in the GUI thread from another thread is
delivered queued, so every slot connected here runs in the GUI thread. Views connect to
the signals they need; `event` carries every event for views that read the typed ones
(product, settings, session, shift, hold).

Live frames do not pass here: the image view's display timer takes the newest frame
from the station itself (`Station.take_live_frame`), the one live-frame path.
"""

from __future__ import annotations

from collections.abc import Callable

from PySide6.QtCore import QObject, Signal

from inspection_station.core import events as ev


class StationBridge(QObject):
    result_ready = Signal(object)  # CycleResult
    state_changed = Signal(str, str, str)  # component, state, reason
    error = Signal(str)
    refused = Signal(str)  # why a trigger was refused
    notice = Signal(str)  # something worth a status-bar line, not an error
    event = Signal(object)  # every event, typed (core/events.py)

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._unsubscribe: Callable[[], None] | None = None
        self._bus: ev.EventBus | None = None

    def attach(self, bus: ev.EventBus) -> None:
        """Subscribe to `bus` (once; a second attach to the same bus is a no-op)."""
        if self._bus is bus:
            return
        self.detach()
        self._bus = bus
        self._unsubscribe = bus.subscribe(self.deliver)

    def detach(self) -> None:
        if self._unsubscribe is not None:
            self._unsubscribe()
        self._unsubscribe = self._bus = None

    # --- called from any thread -------------------------------------------------------

    def deliver(self, event: ev.Event) -> None:
        if isinstance(event, ev.CycleFinished):
            self.result_ready.emit(event.result)
        elif isinstance(event, ev.ComponentChanged):
            self.state_changed.emit(event.component, event.state, event.reason)
        elif isinstance(event, ev.ErrorReported):
            self.error.emit(event.message)
        elif isinstance(event, ev.TriggerRefused):
            self.refused.emit(f"{event.source} trigger refused: {event.reason}")
        elif isinstance(event, (ev.Notice, ev.RecordsWarning)):
            self.notice.emit(event.message)
        self.event.emit(event)
