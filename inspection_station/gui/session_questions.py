"""Questions bound to the session that asked them: signing out (or the idle lock, or the next
sign-in) closes every open question of that session unanswered.

"Reset the shift?", "Quit?", "Discard the changes?" are decisions of the person who was
signed in when they were asked. A box left open after that person is gone must not
act for them: it is rejected as soon as the session ends, and the action called with the
answer checks the session id again (core/actions.py), so a late click does nothing either.
"""

from __future__ import annotations

from collections.abc import Callable

from PySide6.QtCore import QObject, Qt
from PySide6.QtWidgets import QMessageBox, QWidget

from inspection_station.core.events import SessionChanged


class SessionQuestions(QObject):
    def __init__(self, session_id: Callable[[], str | None], parent: QObject | None = None) -> None:
        """`session_id()`: the id of the session signed in now (None: nobody)."""
        super().__init__(parent)
        self._session_id = session_id
        self._open: list[tuple[QMessageBox, str | None]] = []
        self.cancelled = 0  # questions closed because their session ended (tests read it)

    def on_event(self, event) -> None:
        """Connected to StationBridge.event (GUI thread)."""
        if isinstance(event, SessionChanged):
            self.session_changed(event.session_id or None)

    def session_changed(self, now: str | None) -> None:
        for box, asked_in in list(self._open):
            if asked_in is not None and asked_in != now:
                self.cancelled += 1
                box.reject()

    def ask(self, parent: QWidget | None, title: str, question: str, yes: str) -> tuple[bool, str | None]:
        """A yes/cancel question (modal; the safe answer is the default). Returns (yes, the id of
        the session that asked) — yes only when that session is still the one signed in."""
        asked_in = self._session_id()
        box = QMessageBox(QMessageBox.Icon.Question, title, question, QMessageBox.StandardButton.NoButton, parent)
        box.setWindowModality(Qt.WindowModality.WindowModal)
        accept = box.addButton(yes, QMessageBox.ButtonRole.AcceptRole)
        cancel = box.addButton("Cancel", QMessageBox.ButtonRole.RejectRole)
        box.setDefaultButton(cancel)
        box.setEscapeButton(cancel)
        entry = (box, asked_in)
        self._open.append(entry)
        try:
            box.exec()
            answered_yes = box.clickedButton() is accept and self._session_id() == asked_in
            box.deleteLater()
        except RuntimeError:  # the window (its parent) went away while it was open: no answer
            answered_yes = False
        finally:
            self._open.remove(entry)
        return answered_yes, asked_in

    def open_questions(self) -> list[QMessageBox]:
        return [box for box, _ in self._open]
