"""The pattern editor's "teach from good parts" controls: tolerance, this frame, last N.

Only the inputs and two requests; teaching itself is core/patterns/teaching.py, called by
the editor that owns the draft.
"""

from __future__ import annotations

from PySide6.QtCore import Signal
from PySide6.QtWidgets import (
    QCheckBox,
    QDoubleSpinBox,
    QFormLayout,
    QGroupBox,
    QPushButton,
    QSpinBox,
    QWidget,
)


class TeachPanel(QGroupBox):
    teach_frame = Signal()
    teach_history = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__("Teach from good parts", parent)
        form = QFormLayout(self)
        self.tolerance = QDoubleSpinBox(self)
        self.tolerance.setRange(0.0, 2.0)
        self.tolerance.setSingleStep(0.05)
        self.tolerance.setValue(0.1)
        self.tolerance.setToolTip("Margin as a fraction of each box's size: inner shrinks, outer grows by it")
        form.addRow("Tolerance / widening", self.tolerance)
        self.frame_button = QPushButton("Teach from this frame", self)
        self.frame_button.clicked.connect(self.teach_frame)
        form.addRow(self.frame_button)
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
