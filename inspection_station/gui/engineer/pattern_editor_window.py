"""The pattern editor in its own window, as large as the screen it opens on.

Inside the settings dialog's tab the canvas was a postcard (a 1920x1200 frame in 470x290
px); here it gets the screen. The settings dialog owns the editor; this window only
hosts it, so closing the window keeps the draft (and its undo) for the next opening.
"""

from __future__ import annotations

from PySide6.QtCore import Qt, QTimer
from PySide6.QtGui import QKeySequence, QShortcut
from PySide6.QtWidgets import QHBoxLayout, QLabel, QPushButton, QVBoxLayout, QWidget

from inspection_station.gui.engineer.pattern_editor import PatternEditor
from inspection_station.gui.screen_fit import fit_to_screen


class PatternEditorWindow(QWidget):
    def __init__(self, editor: PatternEditor, parent: QWidget | None = None) -> None:
        super().__init__(parent, Qt.WindowType.Window)
        self.setObjectName("pattern_editor_window")  # theme.py: the engineer's compact controls
        self.editor = editor
        self.setWindowTitle("Pattern editor")
        self.place = QLabel("", self)
        self.place.setStyleSheet("color: #a0a0a0;")
        self.close_button = QPushButton("&Close editor", self)
        self.close_button.clicked.connect(self.close)
        QShortcut(QKeySequence(Qt.Key.Key_Escape), self, self.close)
        bottom = QHBoxLayout()
        bottom.addWidget(self.place, 1)
        bottom.addWidget(self.close_button)
        layout = QVBoxLayout(self)
        layout.addWidget(editor, 1)
        layout.addLayout(bottom)

    def open(self) -> None:
        """Show on the screen of the window that asked, filling it."""
        self.place.setText(f"Pattern folder: {self.editor.folder.name}")
        self.place.setToolTip(str(self.editor.folder))
        owner = self.parentWidget()
        screen = owner.screen() if owner is not None else None
        fit_to_screen(self, 1.0, screen=screen)
        self.showMaximized()
        self.editor.refresh_frame()  # the part under the camera now, not the last cycle's
        QTimer.singleShot(0, self.editor.balance_columns)  # once the maximised size is known
        self.raise_()
        self.activateWindow()
