"""Station callbacks (called on worker threads) re-emitted as Qt signals in the GUI thread.

The core Station knows nothing about Qt; it calls plain callbacks from its worker
threads. Emitting a signal of a QObject that lives in the GUI thread from another
thread is delivered queued, so every slot connected here runs in the GUI thread.

Live frames are coalesced: at most one frame event is queued at a time and it
delivers whatever frame is newest when the GUI gets to it (newest-frame-wins; a
slow GUI never builds a backlog of 15 MB frames). The camera worker keeps its own
newest-frame slot and calls on_frame only when that slot was empty, so the bridge
empties it through `set_frame_source(camera.take_live_frame)` on each delivery.
"""

from __future__ import annotations

import threading
from collections.abc import Callable

from PySide6.QtCore import QObject, Qt, Signal, Slot

from inspection_station.core.cycle import CycleResult
from inspection_station.core.frame import Frame


class StationBridge(QObject):
    result_ready = Signal(object)  # CycleResult
    frame_ready = Signal(object)  # Frame (the newest one)
    state_changed = Signal(str, str, str)  # component, state, reason
    error = Signal(str)
    refused = Signal(str)  # why a trigger was refused
    notice = Signal(str)  # something worth a status-bar line, not an error

    _frame_arrived = Signal()  # internal: "there is a newest frame to deliver"

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._lock = threading.Lock()
        self._latest_frame: Frame | None = None
        self._frame_queued = False
        self._frame_source: Callable[[], Frame | None] | None = None
        self._frame_arrived.connect(self._deliver_frame, Qt.ConnectionType.QueuedConnection)

    def callbacks(self) -> dict:
        """The keyword arguments for `Station(settings, **bridge.callbacks())`."""
        return {
            "on_result": self.on_result,
            "on_state": self.on_state,
            "on_frame": self.on_frame,
            "on_error": self.on_error,
            "on_refused": self.on_refused,
            "on_notice": self.on_notice,
        }

    def set_frame_source(self, take: Callable[[], Frame | None] | None) -> None:
        """A function returning (and removing) the camera's newest frame, called at delivery."""
        self._frame_source = take

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

    def on_frame(self, frame: Frame) -> None:
        with self._lock:
            self._latest_frame = frame
            if self._frame_queued:
                return  # the queued event will pick this newer frame up
            self._frame_queued = True
        self._frame_arrived.emit()

    # --- GUI thread ---------------------------------------------------------------------

    @Slot()
    def _deliver_frame(self) -> None:
        with self._lock:
            frame, self._latest_frame = self._latest_frame, None
            self._frame_queued = False
        take = self._frame_source
        if take is not None:
            newest = take()
            frame = newest if newest is not None else frame
        if frame is not None:
            self.frame_ready.emit(frame)
