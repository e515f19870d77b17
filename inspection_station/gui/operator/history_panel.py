"""The last N cycles: time, verdict, thumbnail. Clicking one shows its frame + overlay again.

Entries keep a downscaled preview (<= PREVIEW_WIDTH px wide) instead of the full frame:
fifty 5 MP frames would hold ~750 MB; the image view stretches the preview back to the
original size so the overlay (original pixels) still lines up.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import numpy as np
from PySide6.QtCore import QSize, Qt, Signal
from PySide6.QtGui import QColor, QIcon
from PySide6.QtWidgets import QListWidget, QListWidgetItem, QVBoxLayout, QWidget

from inspection_station.core.cycle import CycleResult
from inspection_station.core.images import PREVIEW_WIDTH
from inspection_station.gui import theme
from inspection_station.gui.images_qt import downscale, to_pixmap

THUMB_SIZE = QSize(128, 96)  # at 1920x1080; scaled with the screen (theme.px)


@dataclass(frozen=True)
class HistoryEntry:
    result: CycleResult  # without its frame (see module docstring)
    preview: np.ndarray | None
    width: int  # original frame size: the overlay's coordinates
    height: int

    @classmethod
    def from_result(cls, result: CycleResult) -> HistoryEntry:
        frame = result.frame
        if frame is None:
            return cls(result, None, 0, 0)
        # the station made the preview on its thread; a result built elsewhere gets one here
        preview = result.preview if result.preview is not None else downscale(frame.rgb, PREVIEW_WIDTH)
        return cls(dataclasses.replace(result, frame=None), preview, frame.width, frame.height)


def short_detail(result: CycleResult) -> str:
    """'variant_a 5/6 · 142 ms', or the error, cut to fit a narrow list."""
    text = result.match.summary() if result.match is not None else result.error or ""
    if result.times.total_ms:
        text += f" · {result.times.total_ms:.0f} ms"
    return text if len(text) <= 32 else text[:31] + "…"


def _text(result: CycleResult, overruled: str = "") -> str:
    verdict = f"{result.verdict} → {overruled} (overruled)" if overruled else str(result.verdict)
    return f"{result.timestamp:%H:%M:%S}   {verdict}\n{short_detail(result)}"


class HistoryPanel(QWidget):
    entry_selected = Signal(object)  # HistoryEntry

    def __init__(self, size: int = 50, parent=None) -> None:
        super().__init__(parent)
        self.size = max(1, int(size))
        self.list = QListWidget()
        self.thumb_size = QSize(theme.px(THUMB_SIZE.width()), theme.px(THUMB_SIZE.height()))
        self.list.setIconSize(self.thumb_size)
        self.list.setUniformItemSizes(True)
        self.list.setVerticalScrollMode(QListWidget.ScrollMode.ScrollPerPixel)
        self.list.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.list.setTextElideMode(Qt.TextElideMode.ElideRight)
        self.list.itemClicked.connect(self._clicked)
        self.list.itemActivated.connect(self._clicked)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.list)

    def add_result(self, result: CycleResult) -> HistoryEntry:
        """Newest on top; the oldest beyond `size` is dropped."""
        entry = HistoryEntry.from_result(result)
        item = QListWidgetItem(_text(result))
        item.setData(Qt.ItemDataRole.UserRole, entry)
        item.setForeground(QColor(theme.VERDICT_TEXT.get(str(result.verdict), theme.TEXT)))
        if entry.preview is not None:
            thumb = downscale(entry.preview, self.thumb_size.width())
            item.setIcon(QIcon(to_pixmap(thumb)))
        self.list.insertItem(0, item)
        while self.list.count() > self.size:
            self.list.takeItem(self.list.count() - 1)
        return entry

    def mark_overruled(self, cycle_id: str, corrected: str) -> bool:
        """An operator corrected `cycle_id`: its line says so (False when it left the list)."""
        for i in range(self.list.count()):
            item = self.list.item(i)
            if item.data(Qt.ItemDataRole.UserRole).result.cycle_id == cycle_id:
                item.setText(_text(item.data(Qt.ItemDataRole.UserRole).result, str(corrected)))
                return True
        return False

    def entries(self) -> list[HistoryEntry]:
        """Newest first."""
        return [self.list.item(i).data(Qt.ItemDataRole.UserRole) for i in range(self.list.count())]

    def clear(self) -> None:
        self.list.clear()

    def _clicked(self, item: QListWidgetItem) -> None:
        self.entry_selected.emit(item.data(Qt.ItemDataRole.UserRole))
