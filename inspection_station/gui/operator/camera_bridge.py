"""CameraWorker callbacks (camera thread) re-emitted as Qt signals in the GUI thread.

No logic here: the worker decides everything. Signals of a QObject living in the GUI
thread, emitted from the camera thread, are delivered queued. Live frames stay
newest-wins: the worker calls on_frame only when its one-frame slot was empty, and
the GUI-thread relay takes whatever frame is newest by then.
"""

from __future__ import annotations

from PySide6.QtCore import QObject, Qt, Signal, Slot

from inspection_station.core.camera.protocol import CameraState
from inspection_station.core.camera.worker import CameraWorker
from inspection_station.core.frame import Frame


class CameraBridge(QObject):
    frame_ready = Signal(object)  # Frame: the newest live frame
    triggered = Signal(object)  # Frame taken on a hardware trigger: run one cycle with it
    state_changed = Signal(str, str)  # CameraState value, reason

    _frame_waiting = Signal()  # internal: the worker's slot holds a frame

    def __init__(self, worker: CameraWorker, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._worker = worker
        self._frame_waiting.connect(self._relay_newest_frame, Qt.ConnectionType.QueuedConnection)
        worker.on_frame = self._on_frame
        worker.on_triggered = self._on_triggered
        worker.on_state = self._on_state

    @property
    def worker(self) -> CameraWorker:
        return self._worker

    # --- camera thread -----------------------------------------------------------------

    def _on_frame(self, _frame: Frame) -> None:
        self._frame_waiting.emit()

    def _on_triggered(self, frame: Frame) -> None:
        self.triggered.emit(frame)

    def _on_state(self, state: CameraState, reason: str) -> None:
        self.state_changed.emit(str(state), reason)

    # --- GUI thread --------------------------------------------------------------------

    @Slot()
    def _relay_newest_frame(self) -> None:
        frame = self._worker.take_live_frame()
        if frame is not None:
            self.frame_ready.emit(frame)
