"""The pattern editor's library column: the pattern sets (files) and the variants of the
open set, each a list with its New / Rename / Duplicate / Delete buttons.

Only the lists and the requests: what each button does (prompts, core's AuditedLibrary,
the draft's undo) is the editor's.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from PySide6.QtWidgets import QGridLayout, QLabel, QListWidget, QPushButton, QVBoxLayout, QWidget

Action = tuple[str, Callable[[], object]]


class LibraryPanel(QWidget):
    def __init__(
        self,
        on_set: Callable[[str], None],
        set_actions: Sequence[Action],
        on_variant: Callable[[str], None],
        variant_actions: Sequence[Action],
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        self._layout = QVBoxLayout(self)
        self._layout.setContentsMargins(0, 0, 0, 0)
        self.sets_list = self._titled_list("Pattern sets (files)", "sets_list", on_set, set_actions)
        self.variants_list = self._titled_list("Variants", "variants_list", on_variant, variant_actions)

    def _titled_list(self, title: str, name: str, chosen: Callable[[str], None],
                     actions: Sequence[Action]) -> QListWidget:
        """A caption, a list (current text -> `chosen`) and its buttons under it, two a row
        (a narrow column: the canvas gets the width)."""
        self._layout.addWidget(QLabel(title, self))
        items = QListWidget(self)
        items.setObjectName(name)
        items.currentTextChanged.connect(chosen)
        self._layout.addWidget(items, 1)
        grid = QGridLayout()
        for i, (text, slot) in enumerate(actions):
            button = QPushButton(text, self)
            button.setMinimumWidth(0)
            button.clicked.connect(slot)
            grid.addWidget(button, i // 2, i % 2)
        self._layout.addLayout(grid)
        return items
