"""A second start of the GUI brings the running station's window to the front.

The station's lock (core/instance_lock.py) decides who runs; this is only the handshake on
top of it: the running GUI listens on a QLocalServer named after the lock file, and a second
start that finds the lock taken asks it, over a QLocalSocket, to show its window, then ends.
When nothing answers (the running one is `serve` or `run --headless`, or it is still
starting), the second start says which process holds the station and exits 2.
"""

from __future__ import annotations

import logging
import sys
import time

from PySide6.QtCore import QObject, Qt
from PySide6.QtNetwork import QLocalServer, QLocalSocket
from PySide6.QtWidgets import QApplication, QMessageBox, QWidget

log = logging.getLogger(__name__)

SHOW = b"show\n"
SHOWN = b"shown\n"
ANSWER_MS = 2000
STARTING_GRACE_S = 5.0  # a GUI that holds the lock may still be building its window


class RunningWindowServer(QObject):
    """In the running GUI: answers `show` by bringing `window` to the front."""

    def __init__(self, name: str, window: QWidget) -> None:
        super().__init__(window)
        self.window = window
        self.shown_count = 0
        self.server = QLocalServer(self)
        # We hold the station's lock, so a socket file left by a crashed GUI is nobody's.
        QLocalServer.removeServer(name)
        self.server.setSocketOptions(QLocalServer.SocketOption.UserAccessOption)
        if not self.server.listen(name):
            log.warning("single instance: cannot listen on %s: %s", name, self.server.errorString())
        self.server.newConnection.connect(self._connection)

    def _connection(self) -> None:
        while self.server.hasPendingConnections():
            socket = self.server.nextPendingConnection()
            socket.setProperty("request", b"")
            socket.readyRead.connect(lambda s=socket: self._request(s))
            socket.disconnected.connect(socket.deleteLater)
            if socket.bytesAvailable():  # it came before readyRead was connected: no signal for it
                self._request(socket)

    def _request(self, socket: QLocalSocket) -> None:
        request = bytes(socket.property("request") or b"") + bytes(socket.readAll())
        socket.setProperty("request", request)
        if len(request) < len(SHOW) and SHOW.startswith(request):
            return  # the rest is on its way
        if not request.startswith(SHOW) or socket.property("answered"):
            socket.disconnectFromServer()
            return
        socket.setProperty("answered", True)
        bring_to_front(self.window)
        self.shown_count += 1
        log.info("single instance: a second start asked for the window; brought it to the front")
        socket.write(SHOWN)
        socket.waitForBytesWritten(ANSWER_MS)  # a few bytes to a local socket: at once

    def close(self) -> None:
        self.server.close()


def bring_to_front(window: QWidget) -> None:
    window.setWindowState(window.windowState() & ~Qt.WindowState.WindowMinimized)
    window.show()
    window.raise_()
    window.activateWindow()


def ask_running_window(name: str, timeout_ms: int = ANSWER_MS) -> bool:
    """True when the GUI listening on `name` answered that its window is in front now."""
    socket = QLocalSocket()
    socket.connectToServer(name)
    if not socket.waitForConnected(timeout_ms):
        return False
    socket.write(SHOW)
    socket.waitForBytesWritten(timeout_ms)
    answer = b""
    deadline = time.monotonic() + timeout_ms / 1000
    while time.monotonic() < deadline:
        answer += bytes(socket.readAll())  # what came while the request was written, too
        if SHOWN in answer or socket.state() != QLocalSocket.LocalSocketState.ConnectedState:
            break
        # short slices: a wait that began before the answer came may miss it (seen with Qt 6.11)
        socket.waitForReadyRead(100)
    socket.abort()
    return SHOWN in answer


def _allow_foreground(pid) -> None:
    """Windows lets only the foreground process raise a window: pass that right on."""
    if sys.platform == "win32" and pid:
        import ctypes

        ctypes.windll.user32.AllowSetForegroundWindow(int(pid))


def show_running_station(running) -> int:
    """The second start (`running`: core.instance_lock.AlreadyRunning): 0 when the running
    window came to the front, else the message (stderr and a box) and 2."""
    app = QApplication.instance() or QApplication(sys.argv[:1])
    owner = running.owner
    _allow_foreground(owner.get("pid"))
    name = owner.get("ipc") or running.lock.ipc_name
    deadline = time.monotonic() + STARTING_GRACE_S
    while True:
        if ask_running_window(name):
            text = f"{running.lock.what} is already running (process {owner.get('pid', '?')}): its window is in front now"
            if sys.stderr is not None:
                print(f"inspection-station: {text}", file=sys.stderr)
            return 0
        if time.monotonic() >= deadline or "gui" not in str(owner.get("command", "")):
            break
        time.sleep(0.2)
    if sys.stderr is not None:
        print(f"inspection-station: error: {running}", file=sys.stderr)
    box = QMessageBox(QMessageBox.Icon.Warning, "Inspection Station", str(running))
    box.setStandardButtons(QMessageBox.StandardButton.Close)
    if app.platformName() != "offscreen":  # a real screen: somebody double-clicked and waits for a word
        box.exec()
    return 2
