"""The pattern editor's "teach from good parts" controls: margin, and where the frames come from.

Only the inputs and the requests; teaching itself is core/patterns/teaching.py, called by
the editor that owns the draft. Sources: this frame, frames added one by one, the last N
cycles, a folder of images. One frame is thin: the editor says so after teaching.
"""

from __future__ import annotations

from PySide6.QtCore import Signal
from PySide6.QtWidgets import (
    QCheckBox,
    QDoubleSpinBox,
    QFormLayout,
    QGridLayout,
    QGroupBox,
    QLabel,
    QPushButton,
    QSpinBox,
    QWidget,
)

from inspection_station.core.patterns.teaching import DEFAULT_MARGIN


class TeachPanel(QGroupBox):
    teach_frame = Signal()
    add_frame = Signal()
    teach_added = Signal()
    clear_added = Signal()
    teach_history = Signal()
    teach_folder = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__("Teach from good parts", parent)
        form = QFormLayout(self)
        self.margin = QDoubleSpinBox(self)
        self.margin.setObjectName("teach_margin")
        self.margin.setRange(0.0, 20.0)
        self.margin.setDecimals(2)
        self.margin.setSingleStep(0.1)
        self.margin.setSuffix(" %")
        self.margin.setValue(100 * DEFAULT_MARGIN)
        self.margin.setToolTip(
            "How far a good part's edge may sit from where the good frames had it, in % of the frame "
            f"width (the same pixels vertically). Default {100 * DEFAULT_MARGIN:g} %: measured on the demo "
            "board's placement spread. With several frames, their spread uses up part of it.")
        self.margin_px = QLabel("", self)
        self.margin.valueChanged.connect(lambda _v: self._show_px())
        form.addRow("Margin", self.margin)
        form.addRow("", self.margin_px)
        self._width = 0

        grid = QGridLayout()
        self.frame_button = self._button("Teach from this frame", self.teach_frame, grid, 0, 0, 2)
        self.add_button = self._button("Add this frame", self.add_frame, grid, 1, 0)
        self.clear_button = self._button("Clear added", self.clear_added, grid, 1, 1)
        self.added_button = self._button("Teach from 0 added frames", self.teach_added, grid, 2, 0, 2)
        self.folder_button = self._button("Teach from a folder …", self.teach_folder, grid, 3, 0, 2)
        form.addRow(grid)
        self.last_n = QSpinBox(self)
        self.last_n.setRange(1, 1000)
        self.last_n.setValue(10)
        form.addRow("Last N cycles", self.last_n)
        self.only_ok = QCheckBox("only cycles judged OK", self)
        self.only_ok.setChecked(True)
        form.addRow(self.only_ok)
        self.history_button = QPushButton("Teach from the last N cycles", self)
        self.history_button.clicked.connect(self.teach_history)
        form.addRow(self.history_button)
        self.set_added(0)

    def _button(self, text: str, signal, grid: QGridLayout, row: int, col: int, span: int = 1) -> QPushButton:
        button = QPushButton(text, self)
        button.setMinimumWidth(0)
        button.clicked.connect(signal)
        grid.addWidget(button, row, col, 1, span)
        return button

    def margin_fraction(self) -> float:
        """The margin as a fraction of the frame width (core's unit)."""
        return self.margin.value() / 100.0

    def set_frame_width(self, width: int) -> None:
        self._width = int(width)
        self._show_px()

    def _show_px(self) -> None:
        self.margin_px.setText(f"= {self.margin_fraction() * self._width:.0f} px on this frame" if self._width else "")

    def set_added(self, count: int) -> None:
        self.added_button.setText(f"Teach from {count} added frame{'s' if count != 1 else ''}")
        self.added_button.setEnabled(count > 0)
        self.clear_button.setEnabled(count > 0)
