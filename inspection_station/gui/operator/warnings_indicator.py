"""The status bar's warnings button: every settings and pattern warning since start.

Warnings used to flash in the status bar for a few seconds; a station started with a
broken setting must keep saying so. The button shows the count; a click lists them all.
"""

from __future__ import annotations

from datetime import datetime

from PySide6.QtWidgets import QMessageBox, QToolButton, QWidget


class WarningsIndicator(QToolButton):
    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("warnings_indicator")
        self.items: list[tuple[datetime, str]] = []
        self.clicked.connect(self.show_list)
        self.setVisible(False)  # nothing to say yet

    def add(self, text: str) -> None:
        if not text or any(seen == text for _, seen in self.items):
            return  # the same report again (a reload, a retry) is the same warning
        self.items.append((datetime.now().astimezone(), text))
        n = len(self.items)
        self.setText(f"⚠ {n} warning{'s' if n != 1 else ''}")
        self.setToolTip(text)
        self.setVisible(True)

    def texts(self) -> list[str]:
        return [text for _, text in self.items]

    def show_list(self) -> None:
        box = QMessageBox(QMessageBox.Icon.Warning, "Warnings since start",
                          f"{len(self.items)} warning(s) since the station started:", parent=self)
        box.setDetailedText("\n".join(f"{when:%H:%M:%S}  {text}" for when, text in self.items))
        box.setInformativeText("\n".join(f"• {text}" for _, text in self.items[-8:]))
        box.setStandardButtons(QMessageBox.StandardButton.Close)
        self.list_box = box
        box.open()
