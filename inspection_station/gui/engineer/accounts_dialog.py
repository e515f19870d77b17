"""The administrator's accounts page: list, add, set a password, unlock, remove.

Every action is `AccessControl`'s (role check, store, audit line naming the admin); the
page only collects names and passwords and shows the result. The same actions are the
`inspection-station user ...` commands.
"""

from __future__ import annotations

from PySide6.QtWidgets import (
    QAbstractItemView,
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QGridLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QPushButton,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from inspection_station.core.errors import StationError
from inspection_station.core.settings.accounts import ROLES
from inspection_station.core.settings.session import AccessControl

ERROR_STYLE = "color: #c62828;"
OK_STYLE = "color: #2e7d32;"


class AccountsDialog(QDialog):
    def __init__(self, control: AccessControl, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.control = control
        self.setWindowTitle("Accounts (admin)")
        self.table = QTableWidget(0, 3, self)
        self.table.setHorizontalHeaderLabels(["user", "role", "state"])
        self.table.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.Stretch)
        self.table.verticalHeader().setVisible(False)
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)

        self.name = QLineEdit(self)
        self.name.setObjectName("name")
        self.role = QComboBox(self)
        self.role.addItems(ROLES)
        self.role.setCurrentText("operator")  # a new account gets the least rights unless chosen
        self.password = QLineEdit(self)
        self.password.setEchoMode(QLineEdit.EchoMode.Password)
        self.confirm = QLineEdit(self)
        self.confirm.setEchoMode(QLineEdit.EchoMode.Password)
        form = QFormLayout()
        form.addRow("User", self.name)
        form.addRow("Role", self.role)
        form.addRow("Password", self.password)
        form.addRow("Repeat password", self.confirm)

        self.add_button = QPushButton("Add user", self)
        self.password_button = QPushButton("Set password", self)
        self.role_button = QPushButton("Set role", self)
        self.unlock_button = QPushButton("Unlock", self)
        self.remove_button = QPushButton("Remove", self)
        actions = QGridLayout()  # three columns: the theme's big buttons fit a 1366 x 768 screen
        buttons = (self.add_button, self.password_button, self.role_button, self.unlock_button, self.remove_button)
        for i, button in enumerate(buttons):
            actions.addWidget(button, i // 3, i % 3)
            button.setToolTip("the user selected in the list" if button is not self.add_button else "")
        self.add_button.clicked.connect(self.add_user)
        self.password_button.clicked.connect(self.set_password)
        self.role_button.clicked.connect(self.set_role)
        self.unlock_button.clicked.connect(self.unlock)
        self.remove_button.clicked.connect(self.remove)
        self.table.itemSelectionChanged.connect(self._fill_from_selection)

        self.message = QLabel("", self)
        self.message.setWordWrap(True)
        close = QDialogButtonBox(QDialogButtonBox.StandardButton.Close, self)
        close.rejected.connect(self.reject)
        self.table.setMinimumHeight(120)
        layout = QVBoxLayout(self)
        layout.addWidget(self.table, 1)
        layout.addLayout(form)
        layout.addLayout(actions)
        layout.addWidget(self.message)
        layout.addWidget(close)
        screen = self.screen().availableGeometry() if self.screen() is not None else None
        if screen is not None:  # sized from the screen, never beyond it
            self.resize(min(900, screen.width() - 40), min(720, screen.height() - 40))
        self.refresh()

    def _fill_from_selection(self) -> None:
        """The fields show the selected user: "Set role" starts from the role they have now."""
        row = self.table.currentRow()
        if row < 0 or self.table.item(row, 1) is None:
            return
        self.name.setText(self.table.item(row, 0).text())
        self.role.setCurrentText(self.table.item(row, 1).text())

    def refresh(self) -> None:
        selected = self.selected()
        try:
            users = self.control.store.users()
        except StationError as exc:
            self._say(str(exc), error=True)
            users = []
        self.table.setRowCount(len(users))
        for row, user in enumerate(users):
            state = "locked" if user.locked else (f"{user.failed_logins} failed" if user.failed_logins else "")
            for col, text in enumerate((user.name, user.role, state)):
                self.table.setItem(row, col, QTableWidgetItem(text))
        if selected:
            self.select(selected)  # the same user stays selected (and shown) after an action

    def selected(self) -> str:
        row = self.table.currentRow()
        item = self.table.item(row, 0) if row >= 0 else None
        return item.text() if item is not None else ""

    def select(self, name: str) -> None:
        for row in range(self.table.rowCount()):
            if self.table.item(row, 0).text() == name:
                self.table.selectRow(row)
                return

    # --- actions --------------------------------------------------------------------------

    def add_user(self) -> None:
        self._do(lambda: self.control.add_user(self.name.text().strip(), self.role.currentText(),
                                               self.password.text(), self.confirm.text()),
                 lambda user: f"{user.name} ({user.role}) added.")

    def set_password(self) -> None:
        name = self.selected()
        self._do(lambda: self.control.set_password(name, self.password.text(), self.confirm.text()),
                 lambda user: f"Password of {user.name} set.", need=name)

    def set_role(self) -> None:
        name = self.selected()
        role = self.role.currentText()
        self._do(lambda: self.control.set_role(name, role), lambda user: f"{user.name} is now {user.role}.", need=name)

    def unlock(self) -> None:
        name = self.selected()
        self._do(lambda: self.control.unlock_user(name), lambda user: f"{user.name} unlocked.", need=name)

    def remove(self) -> None:
        name = self.selected()
        self._do(lambda: self.control.remove_user(name), lambda user: f"{user.name} removed.", need=name)

    def _do(self, action, success, *, need: str | None = None) -> None:
        if need == "":
            self._say("Select a user in the list first.", error=True)
            return
        try:
            user = action()
        except StationError as exc:
            self._say(str(exc), error=True)
            return
        self.password.clear()
        self.confirm.clear()
        self.refresh()
        self._say(success(user))

    def _say(self, text: str, *, error: bool = False) -> None:
        self.message.setStyleSheet(ERROR_STYLE if error else OK_STYLE)
        self.message.setText(text)
