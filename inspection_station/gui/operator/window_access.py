"""Accounts on the operator window: Engineer menu entries (sign in / out, accounts, first
administrator, hold), who is signed in in the status bar. Kept out of main_window.py so the
window's layout stays its own; what each entry does is one of the station's actions."""

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
        menu.addSeparator()
        self.hold_action = menu.addAction("Hold the station (refuse triggers) …", self.request_hold)
        self.release_action = menu.addAction("Release the hold", self.release_hold)
        self.user_label = QLabel("")
        self.user_label.setObjectName("user_label")
        window.statusBar().addPermanentWidget(self.user_label)
        access_ui.changed.connect(self.update)
        access_ui.locked.connect(lambda message: window.show_message(message))
        window.bridge.event.connect(lambda _event: self.update())
        self.update()

    def request_hold(self) -> None:
        window = self.window
        if not self.access_ui.permit("hold", window):
            return
        outcome = window.actions.hold(window.actions.gui_actor(), f"held by {window.actions.gui_actor().user}")
        window.show_message(outcome.message, error=not outcome.ok)

    def release_hold(self) -> None:
        window = self.window
        if not self.access_ui.permit("hold", window):
            return
        outcome = window.actions.release_hold(window.actions.gui_actor())
        window.show_message(outcome.message, error=not outcome.ok)

    def update(self) -> None:
        control = self.access_ui.control
        problem = control.store.problem()  # which file, and the way out (tooltip)
        self.user_label.setText(self.access_ui.status_text())
        self.user_label.setToolTip(problem)
        self.user_label.setStyleSheet(f"color: {theme.VERDICT_TEXT['NOK']}; font-weight: bold;" if problem else "")
        self.sign_out_action.setEnabled(control.session is not None)
        held = bool(self.window.actions.state.hold)
        self.hold_action.setEnabled(not held)
        self.release_action.setEnabled(held)
        try:
            self.first_admin_action.setVisible(control.needs_first_admin())
        except Exception:  # noqa: BLE001 - an unreadable store: the sign-in says why
            self.first_admin_action.setVisible(False)
