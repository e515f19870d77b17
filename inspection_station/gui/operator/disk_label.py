"""LOW DISK in the status bar while the image folder's disk is below `[retention] low_disk_mb`
(the station reports ("disk", "low" | "ok", message) from its retention thread)."""

from __future__ import annotations

from PySide6.QtWidgets import QLabel

from inspection_station.core.states import DiskState
from inspection_station.gui import theme


class DiskLabel(QLabel):
    def __init__(self, parent=None) -> None:
        super().__init__("", parent)
        self.setObjectName("disk_label")
        self.setStyleSheet(f"color: {theme.VERDICT_TEXT['NOK']}; font-weight: bold;")
        self.setVisible(False)

    def show_state(self, state: str, reason: str) -> None:
        low = state == DiskState.LOW
        self.setText("LOW DISK" if low else "")
        self.setToolTip(reason)
        self.setVisible(low)
