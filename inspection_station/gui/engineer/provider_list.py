"""Execution providers in preference order, for the settings dialog's model tab."""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QAbstractItemView, QListWidget, QListWidgetItem, QWidget

from inspection_station.core.detect.runtimes import KNOWN_PROVIDERS
from inspection_station.gui import theme


class ProviderList(QListWidget):
    """Execution providers in preference order: check to use, drag to reorder."""

    def __init__(self, providers: list[str], parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("model.providers")
        self.setDragDropMode(QAbstractItemView.DragDropMode.InternalMove)
        self.setMaximumHeight(theme.px(110))
        self.set_providers(providers)

    def set_providers(self, providers: list[str]) -> None:
        self.clear()
        for name in list(providers) + [p for p in KNOWN_PROVIDERS if p not in providers]:
            item = QListWidgetItem(name, self)
            item.setFlags(item.flags() | Qt.ItemFlag.ItemIsUserCheckable | Qt.ItemFlag.ItemIsDragEnabled)
            item.setCheckState(Qt.CheckState.Checked if name in providers else Qt.CheckState.Unchecked)

    def providers(self) -> list[str]:
        return [
            self.item(i).text() for i in range(self.count()) if self.item(i).checkState() == Qt.CheckState.Checked
        ]
