"""The operator window's side of accounts: ask for a login when an action needs one, show who
is signed in, lock an idle session again, offer the first-run administrator dialog.

All decisions (who may do what, throttling, audit lines) are `AccessControl`'s; this object
only opens dialogs and watches for user input (any key or click restarts the idle time).
"""

from __future__ import annotations

import logging

from PySide6.QtCore import QEvent, QObject, Qt, QTimer, Signal
from PySide6.QtWidgets import QApplication, QDialog, QMessageBox, QWidget

from inspection_station.core.errors import StationError
from inspection_station.core.settings.accounts import AccountStore
from inspection_station.core.settings.audit import AuditLog
from inspection_station.core.settings.model import Settings
from inspection_station.core.settings.session import AccessControl
from inspection_station.gui.engineer.login_dialog import FirstAdminDialog, LoginDialog

NO_ACCOUNTS = (
    "No accounts exist on this station yet, so nobody can sign in.\n\n"
    "Create the administrator first: Engineer ▸ Create the administrator …, or the command "
    "`inspection-station user add NAME --role admin`."
)
log = logging.getLogger(__name__)
_INPUT_EVENTS = (QEvent.Type.KeyPress, QEvent.Type.MouseButtonPress, QEvent.Type.Wheel)


def station_access(settings: Settings, holder=None) -> AccessControl:
    """The station's AccessControl on the per-station account store and audit trail, keeping
    its session in `holder` (the station's state); an older station's single engineer password
    becomes the account `engineer` (same hash)."""
    control = AccessControl(AccountStore(), AuditLog(), settings.access, settings.station.name, holder=holder)
    try:
        control.migrate_legacy_password(settings.station.engineer_password_hash)
    except StationError as exc:  # a damaged store: sign-in will say so; the station still runs
        log.error("accounts: %s", exc)
    return control


class AccessUi(QObject):
    changed = Signal()  # signed in / out (the status label follows)
    locked = Signal(str)  # an idle session was signed out; the message says so

    def __init__(self, control: AccessControl, parent: QObject | None = None, *, check_ms: int = 1000) -> None:
        super().__init__(parent)
        self.control = control
        self.timer = QTimer(self)
        self.timer.timeout.connect(self.check_idle)
        self.timer.start(check_ms)
        app = QApplication.instance()
        if app is not None:
            app.installEventFilter(self)
        self.last_message = ""  # what the last refusal told the user (tests read it)

    # --- the GUI's questions ----------------------------------------------------------------

    def permit(self, action: str, parent: QWidget | None = None) -> bool:
        """True when the action may go ahead now, after a sign-in if one is needed."""
        if self.control.allowed(action):
            self.control.touch()
            return True
        try:
            empty = self.control.store.is_empty()
        except StationError as exc:  # missing once accounts existed, or damaged: say where, refuse
            self.last_message = f"Nobody can sign in: {exc}"
            self.changed.emit()  # the status bar says so from now on
            self.show_message(parent, "Accounts unavailable", self.last_message)
            return False
        if empty:
            self.last_message = NO_ACCOUNTS
            self.show_message(parent, "No accounts yet", NO_ACCOUNTS)
            return False
        dialog = LoginDialog(self.control, action, parent)
        accepted = self.run_dialog(dialog) == QDialog.DialogCode.Accepted
        self.changed.emit()
        return accepted and self.control.allowed(action)

    def offer_first_admin(self, parent: QWidget | None = None, *, modal: bool = True) -> bool:
        """The explicit first-run dialog, when no administrator exists; True once one does.

        `modal=False` opens it without blocking (at start-up, over the running window)."""
        try:  # a store that is missing although accounts existed is no first run: it raises
            if not self.control.needs_first_admin():
                return True
        except StationError as exc:
            self.last_message = f"Nobody can sign in: {exc}"
            self.changed.emit()
            self.show_message(parent, "Accounts unavailable", self.last_message)
            return False
        dialog = FirstAdminDialog(self.control, parent)
        if not modal:
            self.first_admin_dialog = dialog
            dialog.finished.connect(lambda _code: self.changed.emit())
            # not modal: INSPECT, the pedal and the window's own close keep working meanwhile
            dialog.setWindowModality(Qt.WindowModality.NonModal)
            dialog.show()
            return False
        created = self.run_dialog(dialog) == QDialog.DialogCode.Accepted
        self.changed.emit()
        return created

    def open_accounts(self, parent: QWidget | None = None) -> bool:
        """The admin's accounts page, after an admin sign-in if needed."""
        from inspection_station.gui.engineer.accounts_dialog import AccountsDialog

        if not self.permit("users", parent):
            return False
        self.run_dialog(AccountsDialog(self.control, parent))
        self.changed.emit()
        return True

    def sign_out(self) -> None:
        if self.control.logout():
            self.changed.emit()

    def status_text(self) -> str:
        if self.control.store.problem():
            return "ACCOUNTS UNAVAILABLE: engineer actions locked"
        session = self.control.session
        return f"Signed in: {session.user} ({session.role})" if session else "Not signed in"

    # --- idle lock --------------------------------------------------------------------------

    def check_idle(self) -> bool:
        session = self.control.session
        if self.control.lock_if_idle():
            message = f"{session.user if session else 'The session'} was signed out after " \
                      f"{self.control.settings.idle_lock_s:g} s without input"
            self.locked.emit(message)
            self.changed.emit()
            return True
        return False

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:  # noqa: N802 - Qt's name
        if event.type() in _INPUT_EVENTS:
            self.control.touch()
        return False

    def offer_drafts(self, parent: QWidget | None, drafts) -> bool:
        """Edits kept when this user was signed out: restore them (True) or discard them (False)."""
        listing = "\n".join(f"• {d.describe()}" for d in drafts)
        box = QMessageBox(QMessageBox.Icon.Question, "Unsaved changes kept",
                          f"These changes were not applied when you were signed out:\n\n{listing}\n\n"
                          "Restore them into the settings (you still decide to Apply or Save), or discard them?",
                          QMessageBox.StandardButton.NoButton, parent)
        restore = box.addButton("&Restore", QMessageBox.ButtonRole.AcceptRole)
        box.addButton("&Discard them", QMessageBox.ButtonRole.DestructiveRole)
        box.setDefaultButton(restore)
        self.run_dialog(box)
        return box.clickedButton() is restore

    # --- seams (tests drive dialogs without a nested event loop) ------------------------------

    def run_dialog(self, dialog: QDialog) -> int:
        return dialog.exec()

    def show_message(self, parent: QWidget | None, title: str, text: str) -> None:
        QMessageBox.information(parent, title, text)

    def close(self) -> None:
        self.timer.stop()
        app = QApplication.instance()
        if app is not None:
            app.removeEventFilter(self)
