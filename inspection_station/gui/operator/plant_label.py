"""SENDER DOWN / LOW BUFFER in the status bar while the plant outbox needs attention.

The plant senders run on threads of their own (core/line/plant/); this label reads their
frozen `PlantStatus` once a second on the GUI thread and stays until the warning is over.
The tooltip says what and why (the outbox's depth, each sender's state and counts).
"""

from __future__ import annotations

from collections.abc import Callable

from PySide6.QtCore import QTimer
from PySide6.QtWidgets import QLabel

from inspection_station.gui import theme

REFRESH_MS = 1000


class PlantLabel(QLabel):
    def __init__(self, parent=None) -> None:
        super().__init__("", parent)
        self.setObjectName("plant_label")
        self.setStyleSheet(f"color: {theme.VERDICT_TEXT['NOK']}; font-weight: bold;")
        self.setVisible(False)
        self._status: Callable[[], object] | None = None
        self._timer = QTimer(self)
        self._timer.setInterval(REFRESH_MS)
        self._timer.timeout.connect(self.refresh)

    def watch(self, status: Callable[[], object] | None) -> None:
        """Follow `status()` (a PlantStatus or None); None = no plant results: hidden."""
        self._status = status
        if status is None:
            self._timer.stop()
        else:
            self._timer.start()
        self.refresh()

    def refresh(self) -> None:
        status = self._status() if self._status is not None else None
        warnings = status.warnings if status is not None else ()
        self.setText("  ".join(warnings))
        self.setToolTip("\n".join(status.lines()) if status is not None else "")
        self.setVisible(bool(warnings))
