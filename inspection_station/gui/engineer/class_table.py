"""Class names and colours overriding the model's, for the settings dialog's model tab."""

from __future__ import annotations

from PySide6.QtGui import QColor
from PySide6.QtWidgets import (
    QColorDialog,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from inspection_station.gui import theme


class ClassTable(QWidget):
    """Class names and colours overriding the model's (row = class id)."""

    def __init__(self, names: list[str], colors: list[str], model_names: list[str], parent=None) -> None:
        super().__init__(parent)
        self.table = QTableWidget(0, 2, self)
        self.table.setObjectName("model.class_names")
        self.table.setHorizontalHeaderLabels(["Name", "Colour (#rrggbb)"])
        self.table.horizontalHeader().setStretchLastSection(True)
        self.table.setMinimumHeight(theme.px(120))
        self.table.cellDoubleClicked.connect(self._pick_colour)
        add = QPushButton("Add class", self)
        add.clicked.connect(lambda: self._add_row("", ""))
        remove = QPushButton("Remove last", self)
        remove.clicked.connect(lambda: self.table.setRowCount(max(0, self.table.rowCount() - 1)))
        from_model = QPushButton("Copy model's names", self)
        from_model.clicked.connect(lambda: self.set_values(list(model_names), self.colors()))
        from_model.setEnabled(bool(model_names))
        hint = QLabel(
            "Empty = the model's own names"
            + (f": {', '.join(model_names)}" if model_names else "")
            + ". Double-click a colour to pick one.",
            self,
        )
        hint.setWordWrap(True)
        buttons = QHBoxLayout()
        for b in (add, remove, from_model):
            buttons.addWidget(b)
        buttons.addStretch(1)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(hint)
        layout.addWidget(self.table)
        layout.addLayout(buttons)
        self.set_values(names, colors)

    def _add_row(self, name: str, colour: str) -> None:
        row = self.table.rowCount()
        self.table.insertRow(row)
        self.table.setItem(row, 0, QTableWidgetItem(name))
        item = QTableWidgetItem(colour)
        if QColor.isValidColorName(colour):
            item.setBackground(QColor(colour))
        self.table.setItem(row, 1, item)

    def set_values(self, names: list[str], colors: list[str]) -> None:
        self.table.setRowCount(0)
        for i in range(max(len(names), len(colors))):
            self._add_row(names[i] if i < len(names) else "", colors[i] if i < len(colors) else "")

    def _text(self, row: int, col: int) -> str:
        item = self.table.item(row, col)
        return item.text().strip() if item else ""

    def names(self) -> list[str]:
        names = [self._text(r, 0) for r in range(self.table.rowCount())]
        return [] if not any(names) else names  # all empty = use the model's names

    def colors(self) -> list[str]:
        colours = [self._text(r, 1) for r in range(self.table.rowCount())]
        while colours and not colours[-1]:
            colours.pop()
        return colours

    def _pick_colour(self, row: int, col: int) -> None:
        if col != 1:
            return
        current = QColor(self._text(row, 1) or "#ffffff")
        chosen = QColorDialog.getColor(current, self, "Class colour")
        if chosen.isValid():
            self.table.setItem(row, 1, QTableWidgetItem(chosen.name()))
            self.table.item(row, 1).setBackground(chosen)
