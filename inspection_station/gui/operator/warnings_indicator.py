"""The status bar's warnings button: every settings and pattern warning since start.

Warnings used to flash in the status bar for a few seconds; a station started with a
broken setting must keep saying so. The button shows the count; a click lists them all in
a window sized from the screen (a message box grew to 1000x4472 px at 4K) that scrolls.

One problem arrives by several routes (a broken pattern file: the station's error, the
library's note per file, the "no pattern set loaded" state): a warning each of whose
located problems ("file:line: what") is already listed is the same warning, not listed
again.
"""

from __future__ import annotations

import re
from datetime import datetime

from PySide6.QtCore import QSize
from PySide6.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QLabel,
    QPlainTextEdit,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from inspection_station.gui.screen_fit import fit_to_screen

# what the routes put in front of the same text
ROUTE_PREFIXES = ("patterns: ", "settings: ", "pattern file not loaded: ", "not loaded: ", "patterns not loaded: ")


def warning_core(text: str) -> str:
    """`text` without the route prefixes it came with (for telling duplicates apart)."""
    core = text.strip()
    changed = True
    while changed:
        changed = False
        for prefix in ROUTE_PREFIXES:
            if core.startswith(prefix):
                core, changed = core[len(prefix):].strip(), True
    return core


_LOCATED = re.compile(r"(\S+:\d+: .+)$")  # "file.yaml:2: variant 'a', slot 0, inner: ..."


def warning_parts(text: str) -> list[str]:
    """The problems a warning names: its ';'-separated parts, each from its location on."""
    parts = []
    for part in warning_core(text).split("; "):
        located = _LOCATED.search(part)
        parts.append(located.group(1) if located else part.strip())
    return [p for p in parts if p]


class WarningsDialog(QDialog):
    def __init__(self, items: list[tuple[datetime, str]], parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Warnings since start")
        layout = QVBoxLayout(self)
        layout.addWidget(QLabel(f"{len(items)} warning{'s' if len(items) != 1 else ''} since the station started:", self))
        self.text = QPlainTextEdit(self)
        self.text.setReadOnly(True)
        self.text.setLineWrapMode(QPlainTextEdit.LineWrapMode.WidgetWidth)
        self.text.setPlainText("\n\n".join(f"{when:%H:%M:%S}  {text}" for when, text in items))
        layout.addWidget(self.text, 1)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close, self)
        buttons.rejected.connect(self.reject)
        layout.addWidget(buttons)
        fit_to_screen(self, 0.6, most=QSize(1400, 900))


class WarningsIndicator(QToolButton):
    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("warnings_indicator")
        self.items: list[tuple[datetime, str]] = []
        self.clicked.connect(self.show_list)
        self.setVisible(False)  # nothing to say yet

    def add(self, text: str) -> bool:
        """List `text` unless it is a warning already listed (any route); True when added."""
        parts = warning_parts(text or "")
        listed = [warning_core(seen) for _, seen in self.items]
        if not parts or all(any(part in seen for seen in listed) for part in parts):
            return False  # the same report again (a reload, a retry, another route)
        self.items.append((datetime.now().astimezone(), text))
        n = len(self.items)
        self.setText(f"⚠ {n} warning{'s' if n != 1 else ''}")
        self.setToolTip(text)
        self.setVisible(True)
        return True

    def texts(self) -> list[str]:
        return [text for _, text in self.items]

    def show_list(self) -> None:
        self.list_box = WarningsDialog(self.items, self)
        self.list_box.open()
