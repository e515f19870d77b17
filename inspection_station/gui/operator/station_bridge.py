"""Station callbacks (called on worker threads) re-emitted as Qt signals in the GUI thread.

The core Station knows nothing about Qt; it calls plain callbacks from its worker
threads. Emitting a signal of a QObject that lives in the GUI thread from another
thread is delivered queued, so every slot connected here runs in the GUI thread.

Live frames do not pass here: the image view's display thread takes the newest frame
from the station itself (`Station.take_live_frame`), the one live-frame path.
"""

from __future__ import annotations

from PySide6.QtCore import QObject, Signal

from inspection_station.core.cycle import CycleResult
from inspection_station.core.listeners import StationListener


class _CycleStarts(StationListener):
    def __init__(self, bridge: StationBridge) -> None:
        self.bridge = bridge

    def cycle_started(self, source: str) -> None:
        self.bridge.cycle_started.emit(str(source))


class StationBridge(QObject):
    result_ready = Signal(object)  # CycleResult
    state_changed = Signal(str, str, str)  # component, state, reason
    error = Signal(str)
    refused = Signal(str)  # why a trigger was refused
    notice = Signal(str)  # something worth a status-bar line, not an error
    cycle_started = Signal(str)  # a trigger was accepted (any route: button, pedal, API, PLC line)

    def callbacks(self) -> dict:
        """The keyword arguments for `Station(settings, **bridge.callbacks())`."""
        return {
            "on_result": self.on_result,
            "on_state": self.on_state,
            "on_error": self.on_error,
            "on_refused": self.on_refused,
            "on_notice": self.on_notice,
        }

    def listener(self) -> StationListener:
        """For `station.add_listener`: the cycle starts of every trigger route, as a signal."""
        return _CycleStarts(self)

    # --- called from any thread -------------------------------------------------------

    def on_result(self, result: CycleResult) -> None:
        self.result_ready.emit(result)

    def on_state(self, component: str, state: str, reason: str = "") -> None:
        self.state_changed.emit(str(component), str(state), str(reason or ""))

    def on_error(self, message) -> None:
        self.error.emit(str(message))

    def on_refused(self, source: str = "") -> None:
        self.refused.emit(str(source or ""))

    def on_notice(self, message) -> None:
        self.notice.emit(str(message))
