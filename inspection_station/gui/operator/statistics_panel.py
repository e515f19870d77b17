"""This shift at a glance: counts per verdict, yield, cycle-time trend and histogram,
detections per class with their score range; "Reset shift" starts over.

The numbers come from the core `Statistics` (the same ones the headless run prints),
read as a frozen snapshot after each cycle. The trend plot shows the cycle times of the
cycles this window received (display data only). Plots are updated in place (setData).
"""

from __future__ import annotations

from collections import deque

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QGridLayout,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QPushButton,
    QScrollArea,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from inspection_station.core.cycle import CycleResult
from inspection_station.core.results.statistics import Statistics
from inspection_station.gui import theme

TREND_LENGTH = 500  # cycles in the trend plot and histogram


def _big_label(text: str, color: str) -> QLabel:
    label = QLabel(text)
    label.setStyleSheet(f"color: {color}; font-size: {theme.pt(22)}pt; font-weight: bold;")
    label.setAlignment(Qt.AlignmentFlag.AlignCenter)
    return label


def _caption(text: str) -> QLabel:
    label = QLabel(text)
    label.setStyleSheet(f"color: {theme.MUTED}; font-size: {theme.pt(12)}pt;")
    label.setAlignment(Qt.AlignmentFlag.AlignCenter)
    return label


class StatisticsPanel(QWidget):

    def __init__(self, statistics: Statistics, parent=None) -> None:
        super().__init__(parent)
        self.statistics = statistics
        self.cycle_ms: deque[float] = deque(maxlen=TREND_LENGTH)
        self.count_labels = {
            "OK": _big_label("0", theme.VERDICT_TEXT["OK"]),
            "NOK": _big_label("0", theme.VERDICT_TEXT["NOK"]),
            "ERROR": _big_label("0", theme.VERDICT_TEXT["ERROR"]),
        }
        self.yield_label = _big_label("–", theme.TEXT)
        self.corrected_yield_label = _big_label("–", theme.TEXT)
        self.corrected_yield_label.setToolTip("Yield with the operators' 'wrong verdict' corrections applied")
        self.overrules_label = _big_label("0", theme.MUTED)
        self.refused_label = _big_label("0", theme.MUTED)
        grid = QGridLayout()
        cells = [*self.count_labels.items(), ("Yield", self.yield_label),
                 ("Refused", self.refused_label), ("Overruled", self.overrules_label),
                 ("Corrected yield", self.corrected_yield_label)]
        for i, (name, label) in enumerate(cells):  # two rows of four: fits a narrow side panel
            row, col = divmod(i, 4)
            grid.addWidget(label, 2 * row, col)
            grid.addWidget(_caption(name), 2 * row + 1, col)

        pg_label = {"color": theme.MUTED, "font-size": "11pt"}
        self.trend_plot = pg.PlotWidget(background=theme.PANEL)
        self.trend_plot.setLabel("left", "cycle ms", **pg_label)
        self.trend_plot.setLabel("bottom", "cycle", **pg_label)
        self.trend_plot.setMouseEnabled(False, False)
        self.trend_plot.setMenuEnabled(False)
        self.trend_curve = self.trend_plot.plot(pen=pg.mkPen("#4fc3f7", width=2), symbol="o", symbolSize=4,
                                                symbolBrush="#4fc3f7", symbolPen=None)
        self.hist_plot = pg.PlotWidget(background=theme.PANEL)
        self.hist_plot.setLabel("bottom", "cycle ms", **pg_label)
        self.hist_plot.setLabel("left", "cycles", **pg_label)
        self.hist_plot.setMouseEnabled(False, False)
        self.hist_plot.setMenuEnabled(False)
        self.hist_curve = self.hist_plot.plot(stepMode="center", fillLevel=0, fillBrush="#4fc3f780",
                                              pen=pg.mkPen("#4fc3f7", width=1))
        for plot in (self.trend_plot, self.hist_plot):
            plot.setMinimumHeight(theme.px(110))  # readable; the panel scrolls on a small screen  # the window must fit a 1080p screen with its big banner

        self.class_table = QTableWidget(0, 3)
        self.class_table.setHorizontalHeaderLabels(["class", "count", "score range"])
        self.class_table.verticalHeader().setVisible(False)
        self.class_table.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.Stretch)
        self.class_table.setEditTriggers(QTableWidget.EditTrigger.NoEditTriggers)
        self.class_table.setSelectionMode(QTableWidget.SelectionMode.NoSelection)
        self.class_table.setMinimumHeight(theme.px(110))

        # the window connects it to the station's "reset shift" action (role, question, audit)
        self.reset_button = QPushButton("Reset shift …")
        self.reset_button.setObjectName("reset_shift")  # rarely used: not a touch-sized target
        buttons = QHBoxLayout()
        buttons.addStretch(1)
        buttons.addWidget(self.reset_button)

        # The content scrolls on a small panel: plots keep a readable height instead of
        # being squashed to a line, and the window still fits the screen.
        content = QWidget()
        layout = QVBoxLayout(content)
        layout.addLayout(grid)
        self.percentile_label = _caption("")
        layout.addWidget(self.percentile_label)
        layout.addWidget(self.trend_plot, 2)
        layout.addWidget(self.hist_plot, 2)
        layout.addWidget(self.class_table, 2)
        layout.addLayout(buttons)
        scroll = QScrollArea(self)
        scroll.setWidgetResizable(True)
        scroll.setFrameShape(QScrollArea.Shape.NoFrame)
        scroll.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        scroll.setWidget(content)
        outer = QVBoxLayout(self)
        outer.setContentsMargins(0, 0, 0, 0)
        outer.addWidget(scroll)

    # --- inputs --------------------------------------------------------------------------

    def add_result(self, result: CycleResult) -> None:
        if result.times.total_ms > 0:
            self.cycle_ms.append(float(result.times.total_ms))
        self.refresh()

    def shift_reset(self) -> None:
        """The station's shift was reset (its action): the trend starts over too."""
        self.cycle_ms.clear()
        self.refresh()

    # --- drawing --------------------------------------------------------------------------------

    def refresh(self) -> None:
        snap = self.statistics.snapshot()
        for name, label in self.count_labels.items():
            label.setText(str(snap.counts.get(name, 0)))
        self.yield_label.setText("–" if snap.yield_ratio is None else f"{100 * snap.yield_ratio:.1f} %")
        self.refused_label.setText(str(snap.refused_triggers))
        self.overrules_label.setText(str(snap.overrules))
        corrected = snap.corrected_yield_ratio
        self.corrected_yield_label.setText("–" if corrected is None else f"{100 * corrected:.1f} %")
        times = np.fromiter(self.cycle_ms, dtype=np.float64, count=len(self.cycle_ms))
        if len(times):
            self.trend_curve.setData(np.arange(len(times)), times)
            counts, edges = np.histogram(times, bins=min(30, max(5, len(times) // 4)))
            self.hist_curve.setData(edges, counts)
        else:
            self.trend_curve.clear()
            self.hist_curve.clear()
        p = snap.percentiles_ms
        self.percentile_label.setText(
            "  ".join(f"p{k} {v:.0f} ms" for k, v in p.items()) if p else "no cycle times yet"
        )
        self.class_table.setRowCount(len(snap.classes))
        for row, cs in enumerate(snap.classes):
            name = cs.name or f"class {cs.class_id}"
            for col, text in enumerate((name, str(cs.count), f"{cs.min_score:.2f} – {cs.max_score:.2f}")):
                item = self.class_table.item(row, col)
                if item is None:
                    self.class_table.setItem(row, col, QTableWidgetItem(text))
                else:
                    item.setText(text)
