"""The camera picker of the settings dialog: enumerated cameras, or a serial typed by hand."""

from __future__ import annotations

from PySide6.QtCore import Qt, Signal, Slot
from PySide6.QtWidgets import QComboBox, QHBoxLayout, QLabel, QPushButton, QWidget


def enumerate_camera_devices() -> list[tuple[str, str]]:
    """(serial, label) of every camera pylon sees (emulated included); [] on failure.

    Enumeration is core/camera/discovery.py's (the `cameras` command uses it too); the
    picker keeps working with a typed serial when it is unavailable or fails.
    """
    try:
        from inspection_station.core.camera.discovery import list_devices

        return [(d.serial, d.label) for d in list_devices()]
    except Exception:  # noqa: BLE001 - no camera runtime, a driver error: the picker still works
        return []


class DevicePicker(QWidget):
    """Combo of enumerated cameras (editable: a serial not attached now can be typed).

    With `find` (the station's `find_cameras`) the search runs on the station's thread and
    the list fills in when it is done; without a station it runs here, as a fallback.
    """

    _found = Signal(object)  # the search's Future, done; from the station's thread

    def __init__(self, serial: str, parent: QWidget | None = None, *, find=None) -> None:
        super().__init__(parent)
        self._find = find
        # queued even when the future is already done: the list always fills in from the event loop
        self._found.connect(self._show_found, Qt.ConnectionType.QueuedConnection)
        self.combo = QComboBox(self)
        self.combo.setEditable(True)
        self.combo.setObjectName("camera.serial")
        self.refresh_button = QPushButton("Find cameras", self)
        self.refresh_button.clicked.connect(self.refresh)
        self.note = QLabel("", self)
        layout = QHBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.combo, 1)
        layout.addWidget(self.refresh_button)
        layout.addWidget(self.note)
        self.set_devices([], serial)

    def set_devices(self, devices: list[tuple[str, str]], serial: str | None = None) -> None:
        serial = self.serial() if serial is None else serial
        self.combo.clear()
        self.combo.addItem("(first camera found)", "")
        for dev_serial, description in devices:
            self.combo.addItem(f"{dev_serial}  {description}".strip(), dev_serial)
        self.set_serial(serial)

    def set_serial(self, serial: str) -> None:
        index = self.combo.findData(serial)
        if index < 0:
            self.combo.addItem(serial, serial)
            index = self.combo.count() - 1
        self.combo.setCurrentIndex(index)

    def serial(self) -> str:
        text = self.combo.currentText().strip()
        index = self.combo.currentIndex()
        if index >= 0 and text == self.combo.itemText(index):
            return str(self.combo.itemData(index) or "")
        return text.split()[0] if text else ""  # typed by hand

    @Slot()
    def refresh(self) -> None:
        if self._find is None:
            self._show_devices(enumerate_camera_devices())
            return
        self.refresh_button.setEnabled(False)
        self.note.setText("searching …")
        self._find().add_done_callback(self._found.emit)

    @Slot(object)
    def _show_found(self, future) -> None:
        self.refresh_button.setEnabled(True)
        # a failed search is on the error route already; the picker still takes a typed serial
        found = [] if future.cancelled() or future.exception() is not None else future.result()
        self._show_devices([(d.serial, d.label) for d in found])

    def _show_devices(self, devices: list[tuple[str, str]]) -> None:
        self.set_devices(devices)
        self.note.setText(f"{len(devices)} found" if devices else "none found (type a serial)")
