"""The single engineer password of older versions: its change dialog only.

Stations now sign in with named accounts (login_dialog.py, core/settings/accounts.py);
an old stored hash is migrated into the accounts store as the user `engineer`. This
dialog remains for a SettingsDialog built without accounts (tests, tools).
"""

from __future__ import annotations

from PySide6.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QLabel,
    QLineEdit,
    QVBoxLayout,
    QWidget,
)

from inspection_station.core.settings import access
from inspection_station.core.settings.access import AccessError
from inspection_station.core.settings.model import Settings


def _password_edit(parent: QWidget, name: str) -> QLineEdit:
    edit = QLineEdit(parent)
    edit.setEchoMode(QLineEdit.EchoMode.Password)
    edit.setObjectName(name)
    return edit


class _PasswordDialog(QDialog):
    def __init__(self, title: str, intro: str, parent: QWidget | None) -> None:
        super().__init__(parent)
        self.setWindowTitle(title)
        self.intro = QLabel(intro, self)
        self.intro.setWordWrap(True)
        self.form = QFormLayout()
        self.error = QLabel("", self)
        self.error.setObjectName("error")
        self.error.setStyleSheet("color: #c62828;")
        self.buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel, self)
        self.buttons.accepted.connect(self.try_accept)
        self.buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addWidget(self.intro)
        layout.addLayout(self.form)
        layout.addWidget(self.error)
        layout.addWidget(self.buttons)

    def refuse(self, message: str) -> None:
        self.error.setText(message)

    def try_accept(self) -> None:  # overridden
        self.accept()


class ChangePasswordDialog(_PasswordDialog):
    """Current password + new password twice; `settings` holds the new hash on accept."""

    def __init__(self, settings: Settings, parent: QWidget | None = None) -> None:
        super().__init__("Change the engineer password", "Enter the current password and the new one twice.", parent)
        self.settings = settings
        self.current = _password_edit(self, "current")
        self.new = _password_edit(self, "new")
        self.confirm = _password_edit(self, "confirm")
        self.form.addRow("Current password", self.current)
        self.form.addRow("New password", self.new)
        self.form.addRow("Repeat new password", self.confirm)

    def try_accept(self) -> None:
        try:
            self.settings = access.change_password(
                self.settings, self.current.text(), self.new.text(), self.confirm.text()
            )
        except AccessError as exc:
            self.refuse(str(exc))
            return
        self.accept()
