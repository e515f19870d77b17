"""The part id field on the operator screen: typed, or scanned (USB scanners type like a
keyboard and end with Enter). Enter hands the id to the station for the next cycle."""

from __future__ import annotations

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import QHBoxLayout, QLabel, QLineEdit, QWidget

from inspection_station.core.cycle import CycleResult
from inspection_station.core.errors import StationError
from inspection_station.core.trace.part_id import MAX_LENGTH


class PartIdField(QWidget):
    taken = Signal(str)  # an id was handed to the station (the window may start the cycle)

    def __init__(self, station, report, parent: QWidget | None = None) -> None:
        """`station` has set_part_id(text) -> str; `report(message)` is the error route."""
        super().__init__(parent)
        self.station = station
        self.report = report
        self.edit = QLineEdit(self)
        self.edit.setObjectName("part_id_edit")
        self.edit.setPlaceholderText("scan or type the part id, then Enter")
        self.edit.setMaxLength(MAX_LENGTH)
        self.edit.setClearButtonEnabled(True)
        self.status = QLabel("Next part: –", self)
        self.status.setObjectName("part_id_status")
        self.status.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        layout = QHBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(QLabel("Part id", self))
        layout.addWidget(self.edit, 2)
        layout.addWidget(self.status, 3)
        self.edit.returnPressed.connect(self.submit)

    def submit(self) -> None:
        text = self.edit.text()
        try:
            part_id = self.station.set_part_id(text)
        except StationError as exc:
            self.report(f"part id not taken: {exc}")
            return
        self.edit.clear()
        self.status.setText(f"Next part: {part_id or '–'}")
        if part_id:
            self.taken.emit(part_id)

    def cycle_done(self, result: CycleResult) -> None:
        """The id was taken by this cycle: show it, and be ready for the next scan."""
        self.status.setText(f"Last part: {result.part_id or '–'}   ·   Next part: –")
        if self.isVisible():
            self.edit.setFocus()
