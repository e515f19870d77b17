"""The single engineer password of older versions: its change dialog only.

Stations now sign in with named accounts (login_dialog.py, core/settings/accounts.py);
an old stored hash is migrated into the accounts store as the user `engineer`. This
dialog remains for a SettingsDialog built without accounts (tests, tools).
"""

from __future__ import annotations

from PySide6.QtWidgets import QWidget

from inspection_station.core.settings import access
from inspection_station.core.settings.access import AccessError
from inspection_station.core.settings.model import Settings
from inspection_station.gui.engineer.login_dialog import FormDialog, line_edit


class ChangePasswordDialog(FormDialog):
    """Current password + new password twice; `settings` holds the new hash on accept."""

    def __init__(self, settings: Settings, parent: QWidget | None = None) -> None:
        super().__init__("Change the engineer password", "Enter the current password and the new one twice.", parent)
        self.settings = settings
        self.current = line_edit(self, "current", secret=True)
        self.new = line_edit(self, "new", secret=True)
        self.confirm = line_edit(self, "confirm", secret=True)
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
