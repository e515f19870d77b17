"""Sign-in, first-run "create the administrator" and "change my password" dialogs.

They only collect text and show refusals; accounts, throttling, lockout, permissions and
the audit lines are core/settings/session.py's (`AccessControl`).
"""

from __future__ import annotations

import math
import time

from PySide6.QtCore import QTimer
from PySide6.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QLabel,
    QLineEdit,
    QVBoxLayout,
    QWidget,
)

from inspection_station.core.errors import StationError
from inspection_station.core.settings.accounts import LoginRefused
from inspection_station.core.settings.session import ACTION_TEXT, AccessControl

ERROR_STYLE = "color: #c62828;"


def line_edit(parent: QWidget, name: str, *, secret: bool = False) -> QLineEdit:
    edit = QLineEdit(parent)
    edit.setObjectName(name)
    if secret:
        edit.setEchoMode(QLineEdit.EchoMode.Password)
    return edit


class FormDialog(QDialog):
    """Intro, a form, one error line, OK / Cancel; `try_accept` decides whether to close."""

    def __init__(self, title: str, intro: str, parent: QWidget | None) -> None:
        super().__init__(parent)
        self.setWindowTitle(title)
        self.intro = QLabel(intro, self)
        self.intro.setWordWrap(True)
        self.form = QFormLayout()
        self.error = QLabel("", self)
        self.error.setObjectName("error")
        self.error.setWordWrap(True)
        self.error.setStyleSheet(ERROR_STYLE)
        self.buttons = QDialogButtonBox(
            QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel, self
        )
        self.buttons.accepted.connect(self.try_accept)
        self.buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addWidget(self.intro)
        layout.addLayout(self.form)
        layout.addWidget(self.error)
        layout.addWidget(self.buttons)
        self.setMinimumWidth(420)

    @property
    def ok_button(self):
        return self.buttons.button(QDialogButtonBox.StandardButton.Ok)

    def refuse(self, message: str) -> None:
        self.error.setText(message)

    def try_accept(self) -> None:  # overridden
        self.accept()


class LoginDialog(FormDialog):
    """User name + password for `action`; accepted once someone allowed to do it signed in."""

    def __init__(self, control: AccessControl, action: str, parent: QWidget | None = None) -> None:
        needed = control.needed_role(action)
        super().__init__(
            "Sign in",
            f"To {ACTION_TEXT.get(action, action)} sign in with an account of the role {needed} "
            "(or higher).",
            parent,
        )
        self.control, self.action = control, action
        self.user = line_edit(self, "user")
        self.password = line_edit(self, "password", secret=True)
        self.form.addRow("User", self.user)
        self.form.addRow("Password", self.password)
        # the growing delay after a refusal, counted down on screen; the button returns at 0
        self._wait = QTimer(self)
        self._wait.setInterval(250)
        self._wait.timeout.connect(self._count_down)
        self._refusal = ""
        self._retry_at = 0.0
        if control.session is not None:
            self.user.setText(control.session.user)
            self.password.setFocus()
        else:
            self.user.setFocus()

    def _count_down(self) -> None:
        left = self._retry_at - time.monotonic()
        if left <= 0:
            self._wait.stop()
            self.ok_button.setEnabled(True)
            self.refuse(f"{self._refusal}\nYou can sign in again now.")
            return
        self.refuse(f"{self._refusal}\nSign in again in {math.ceil(left)} s.")

    def try_accept(self) -> None:
        name = self.user.text().strip()
        try:
            self.control.login(name, self.password.text())
        except LoginRefused as exc:
            self.password.clear()
            self._refusal = str(exc)
            self.refuse(self._refusal)
            if exc.retry_after_s > 0:  # growing delay: the button comes back when it is over
                self._retry_at = time.monotonic() + exc.retry_after_s
                self.ok_button.setEnabled(False)
                self._count_down()
                self._wait.start()
            return
        except StationError as exc:  # e.g. an unreadable accounts file: say where
            self.refuse(str(exc))
            return
        if not self.control.allowed(self.action):
            role = self.control.session.role if self.control.session else ""
            self.control.logout(f"signed in as {role}: not allowed to {ACTION_TEXT.get(self.action, self.action)}")
            self.password.clear()
            self.refuse(f"{name} is {role}; this needs {self.control.needed_role(self.action)}.")
            return
        self.accept()


class FirstAdminDialog(FormDialog):
    """The explicit first-run step: create the station's administrator account."""

    INTRO = (
        "This station has no administrator account yet.\n\n"
        "The administrator creates the accounts of engineers and operators, sets their "
        "roles and unlocks accounts locked after failed logins. Engineers change the "
        "settings and patterns; operators run the line.\n\n"
        "Create the administrator now, or later from the Engineer menu or with the command "
        "\"inspection-station user add NAME --role admin\"."
    )

    def __init__(self, control: AccessControl, parent: QWidget | None = None) -> None:
        super().__init__("Create the administrator", self.INTRO, parent)
        self.control = control
        self.user = line_edit(self, "user")
        self.password = line_edit(self, "password", secret=True)
        self.confirm = line_edit(self, "confirm", secret=True)
        self.form.addRow("Administrator name", self.user)
        self.form.addRow("Password", self.password)
        self.form.addRow("Repeat password", self.confirm)
        self.ok_button.setText("Create administrator")
        self.buttons.button(QDialogButtonBox.StandardButton.Cancel).setText("Later")
        self.user.setFocus()

    def try_accept(self) -> None:
        try:
            self.control.create_first_admin(self.user.text().strip(), self.password.text(), self.confirm.text())
        except StationError as exc:
            self.refuse(str(exc))
            return
        self.accept()


class ChangeOwnPasswordDialog(FormDialog):
    """The signed-in user's new password (twice), after their current one."""

    def __init__(self, control: AccessControl, parent: QWidget | None = None) -> None:
        user = control.session.user if control.session else ""
        super().__init__("Change my password", f"Change the password of {user}.", parent)
        self.control = control
        self.current = line_edit(self, "current", secret=True)
        self.new = line_edit(self, "new", secret=True)
        self.confirm = line_edit(self, "confirm", secret=True)
        self.form.addRow("Current password", self.current)
        self.form.addRow("New password", self.new)
        self.form.addRow("Repeat new password", self.confirm)

    def try_accept(self) -> None:
        session = self.control.session
        if session is None:
            self.refuse("Nobody is signed in (the session was locked); sign in again.")
            return
        try:
            self.control.store.authenticate(session.user, self.current.text())
            self.control.set_password(session.user, self.new.text(), self.confirm.text())
        except LoginRefused as exc:
            self.refuse(f"The current password is wrong ({exc}).")
            return
        except StationError as exc:
            self.refuse(str(exc))
            return
        self.accept()
