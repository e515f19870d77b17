"""Accounts on the operator window: Engineer menu entries (sign in / out, accounts, first
administrator), who is signed in in the status bar, and the role check + audit in front of
"Reset shift". Kept out of main_window.py so the window's layout stays its own."""

from __future__ import annotations

from PySide6.QtCore import QObject
from PySide6.QtWidgets import QLabel

from inspection_station.gui import theme


class WindowAccess(QObject):
    def __init__(self, window, access_ui) -> None:
        """`window` is the MainWindow, `access_ui` a gui.engineer.access_ui.AccessUi."""
        super().__init__(window)
        self.window, self.access_ui = window, access_ui
        menu = window.engineer_menu
        menu.addSeparator()
        self.sign_in_action = menu.addAction("Sign in …", lambda: access_ui.permit("settings", window))
        self.sign_out_action = menu.addAction("Sign out", access_ui.sign_out)
        self.accounts_action = menu.addAction("Accounts …", lambda: access_ui.open_accounts(window))
        self.first_admin_action = menu.addAction("Create the administrator …",
                                                 lambda: access_ui.offer_first_admin(window))
        self.user_label = QLabel("")
        self.user_label.setObjectName("user_label")
        window.statusBar().addPermanentWidget(self.user_label)
        reset = window.statistics.reset_button
        reset.clicked.disconnect()  # the role check and the audit line come first
        reset.clicked.connect(self.request_reset_shift)
        access_ui.changed.connect(self.update)
        access_ui.locked.connect(lambda message: window.show_message(message))
        self.update()

    def request_reset_shift(self) -> None:
        """Reset shift: the configured role (a sign-in if needed), then audited."""
        window = self.window
        if not self.access_ui.permit("reset_shift", window):
            return
        try:  # the panel still asks "zero this shift's counts?"; a No is neither reset nor audited
            self.access_ui.control.reset_shift(window.station.statistics, window.statistics.request_reset)
        except Exception as exc:  # e.g. the audit trail cannot be written: say so
            window.error_route.report(f"shift not reset: {exc}")

    def update(self) -> None:
        control = self.access_ui.control
        problem = control.store.problem()  # which file, and the way out (tooltip)
        self.user_label.setText(self.access_ui.status_text())
        self.user_label.setToolTip(problem)
        self.user_label.setStyleSheet(f"color: {theme.VERDICT_TEXT['NOK']}; font-weight: bold;" if problem else "")
        self.sign_out_action.setEnabled(control.session is not None)
        try:
            self.first_admin_action.setVisible(control.needs_first_admin())
        except Exception:  # noqa: BLE001 - an unreadable store: the sign-in says why
            self.first_admin_action.setVisible(False)
