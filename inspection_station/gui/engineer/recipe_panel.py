"""The engineer's recipes: list, create from the current set-up, rename, duplicate, delete,
and the difference between two. Every operation is an action (role-checked, audited):
`StationActions.create_recipe`, and the pattern library's rename / duplicate / delete, which
take the recipe file along with its pattern file. Selecting a recipe stays the product switch."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtWidgets import (
    QComboBox,
    QHBoxLayout,
    QInputDialog,
    QLabel,
    QListWidget,
    QPlainTextEdit,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from inspection_station.core.actions import StationActions
from inspection_station.core.errors import StationError
from inspection_station.core.recipes.active import recipe_folder
from inspection_station.core.recipes.model import recipe_difference


class RecipePanel(QWidget):
    def __init__(self, actions: StationActions, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.actions = actions
        layout = QVBoxLayout(self)
        self.list = QListWidget(self)
        self.list.setObjectName("recipe_list")
        layout.addWidget(QLabel("Recipes (one per pattern set; the active one is marked ●):", self))
        layout.addWidget(self.list, 1)
        row = QHBoxLayout()
        self.buttons: dict[str, QPushButton] = {}
        for key, text in (("create", "Save current set-up as recipe"), ("rename", "Rename…"),
                          ("duplicate", "Duplicate…"), ("delete", "Delete")):
            button = QPushButton(text, self)
            button.setObjectName(f"recipe_{key}")
            button.clicked.connect(getattr(self, key))
            row.addWidget(button)
            self.buttons[key] = button
        layout.addLayout(row)
        diff_row = QHBoxLayout()
        self.left, self.right = QComboBox(self), QComboBox(self)
        self.left.setObjectName("recipe_diff_left")
        self.right.setObjectName("recipe_diff_right")
        for combo in (self.left, self.right):
            combo.currentIndexChanged.connect(self.show_difference)
            diff_row.addWidget(combo, 1)
        layout.addWidget(QLabel("Difference between two recipes:", self))
        layout.addLayout(diff_row)
        self.difference = QPlainTextEdit(self)
        self.difference.setObjectName("recipe_difference")
        self.difference.setReadOnly(True)
        layout.addWidget(self.difference, 1)
        self.message = QLabel("", self)
        self.message.setObjectName("recipe_message")
        self.message.setWordWrap(True)
        layout.addWidget(self.message)
        self.refresh()

    # --- showing --------------------------------------------------------------------------

    def refresh(self) -> None:
        try:
            self.recipes = self.actions.recipes()
        except StationError as exc:
            self.recipes = {}
            self.message.setText(str(exc))
        active = self.actions.state.settings.patterns.active or self.actions.state.product
        self.list.clear()
        for name, recipe in self.recipes.items():
            version = f"version {recipe.version}" if recipe.version else "station-wide settings (no recipe file)"
            keys = f"sets {', '.join(sorted(recipe.keys))}" if recipe.keys else "sets nothing of its own"
            self.list.addItem(f"{'● ' if name == active else '   '}{name}: {version}; {keys}")
        for combo in (self.left, self.right):
            combo.blockSignals(True)
            current = combo.currentText()
            combo.clear()
            combo.addItems(list(self.recipes))
            if current in self.recipes:
                combo.setCurrentText(current)
            combo.blockSignals(False)
        if self.right.count() > 1 and self.right.currentIndex() == self.left.currentIndex():
            self.right.setCurrentIndex(1)
        self.show_difference()

    def selected(self) -> str | None:
        row = self.list.currentRow()
        names = list(self.recipes)
        return names[row] if 0 <= row < len(names) else None

    def show_difference(self) -> None:
        a, b = self.recipes.get(self.left.currentText()), self.recipes.get(self.right.currentText())
        if a is None or b is None:
            self.difference.setPlainText("")
            return
        lines = [f"{d.key}: {_shown(d.left)}  →  {_shown(d.right)}"
                 for d in recipe_difference(a, b, self.actions.store.settings)]
        self.difference.setPlainText("\n".join(lines) or "No difference.")

    # --- acting ----------------------------------------------------------------------------

    def _say(self, text: str) -> None:
        self.message.setText(text)
        self.refresh()

    def create(self) -> None:
        name = self.selected() or self.actions.state.product
        if not name:
            self._say("Choose a pattern set first.")
            return
        self._say(self.actions.create_recipe(self.actions.gui_actor(), name).message)

    def _library(self):
        return self.actions.library(recipe_folder(self.actions.state.settings))

    def _pattern(self, name: str) -> Path | None:
        from inspection_station.core.recipes.active import pattern_file_of

        return pattern_file_of(self.actions.state.settings, name)

    def rename(self) -> None:
        self._copy_or_rename("rename")

    def duplicate(self) -> None:
        self._copy_or_rename("duplicate")

    def _copy_or_rename(self, what: str) -> None:
        name = self.selected()
        path = self._pattern(name) if name else None
        if path is None:
            self._say("Choose a recipe first.")
            return
        new, ok = QInputDialog.getText(self, f"{what.capitalize()} recipe", f"New name for {name}:")
        if not ok or not new.strip():
            return
        self.rename_to(name, new.strip(), what)

    def rename_to(self, name: str, new: str, what: str = "rename") -> None:
        path = self._pattern(name)
        try:
            outcome = getattr(self._library(), what)(path, new)
        except StationError as exc:
            self._say(str(exc))
            return
        self._say(outcome.message)

    def delete(self) -> None:
        name = self.selected()
        path = self._pattern(name) if name else None
        if path is None:
            self._say("Choose a recipe first.")
            return
        try:
            self._say(self._library().delete(path).message)
        except StationError as exc:
            self._say(str(exc))


def _shown(value) -> str:
    return "(station-wide)" if value is None else repr(value)
