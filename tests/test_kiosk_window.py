"""Kiosk mode in a real window: the real `inspection-station gui` under Xvfb with openbox (a
real window manager), driven from outside with xdotool / wmctrl the way a person or the
window manager would: F11, the window manager's close (Alt+F4, wmctrl -c) and minimise must
not leave kiosk mode; outside kiosk mode the window manager's close asks first.

The window's state is read back from the X server (xprop _NET_WM_STATE), not from Qt."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from inspection_station.core.settings.model import save_settings
from tests.known_station import station_settings

pytestmark = pytest.mark.qt

TOOLS = ("Xvfb", "openbox", "xdotool", "wmctrl", "xprop")
WAIT_S = 60.0


def _need_tools() -> None:
    missing = [t for t in TOOLS if shutil.which(t) is None]
    if missing:  # CI installs them (.ci/run); a machine without them must say so, not pass
        pytest.fail(f"kiosk test needs {', '.join(missing)} (Debian: xvfb openbox xdotool wmctrl x11-utils)")


def _free_display() -> str:
    for n in range(71, 99):
        if not Path(f"/tmp/.X11-unix/X{n}").exists() and not Path(f"/tmp/.X{n}-lock").exists():
            return f":{n}"
    raise RuntimeError("no free X display number")


def _until(check, what: str, timeout: float = WAIT_S):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what}")


class Desktop:
    def __init__(self, tmp_path: Path) -> None:
        _need_tools()
        self.display = _free_display()
        self.env = {**os.environ, "DISPLAY": self.display, "QT_QPA_PLATFORM": "xcb"}
        self.procs = [subprocess.Popen(["Xvfb", self.display, "-screen", "0", "1366x768x24", "-nolisten", "tcp"],
                                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)]
        _until(lambda: Path(f"/tmp/.X11-unix/X{self.display[1:]}").exists(), "Xvfb")
        self.procs.append(subprocess.Popen(["openbox"], env=self.env, stdout=subprocess.DEVNULL,
                                           stderr=subprocess.DEVNULL))
        self.tmp = tmp_path
        self.app: subprocess.Popen | None = None

    def x(self, *cmd: str) -> str:
        return subprocess.run(cmd, env=self.env, capture_output=True, text=True, timeout=30).stdout

    def start_gui(self, **station) -> str:
        config = self.tmp / "settings.toml"
        save_settings(station_settings(self.tmp, **station), config)
        # stderr to a file, never an unread pipe: a full pipe would block the station's GUI thread
        self.stderr_path = self.tmp / "gui.stderr"
        with self.stderr_path.open("wb") as err:
            self.app = subprocess.Popen([sys.executable, "-m", "inspection_station", "gui", "--config", str(config)],
                                        env=self.env, stdout=subprocess.DEVNULL, stderr=err)
        window = _until(lambda: self.x("xdotool", "search", "--name", "Inspection Station —").split(),
                        "the station's window")[0]
        return window

    def states(self, window: str) -> str:
        return self.x("xprop", "-id", window, "_NET_WM_STATE")

    def alive(self) -> bool:
        return self.app is not None and self.app.poll() is None

    def stop_and_read(self) -> str:
        """The station's stderr so far (it is stopped to read it): for a failure's message."""
        if self.app is None:
            return ""
        if self.app.poll() is None:
            self.app.send_signal(signal.SIGTERM)
        try:
            self.app.wait(15)
        except subprocess.TimeoutExpired:
            self.app.kill()
            self.app.wait(10)
        return self.stderr_path.read_text(errors="replace")[-4000:]

    def close(self) -> None:
        if self.app is not None and self.app.poll() is None:
            self.app.send_signal(signal.SIGTERM)
            try:
                self.app.wait(10)
            except subprocess.TimeoutExpired:
                self.app.kill()
        for p in reversed(self.procs):
            p.terminate()
            try:
                p.wait(10)
            except subprocess.TimeoutExpired:
                p.kill()


@pytest.fixture
def desktop(tmp_path):
    d = Desktop(tmp_path)
    yield d
    d.close()


def _stays(check, seconds: float = 1.5) -> bool:
    """`check` holds at every look for `seconds` (what must NOT happen has had time to happen)."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if not check():
            return False
        time.sleep(0.1)
    return True


def test_kiosk_mode_cannot_be_left_by_f11_close_alt_f4_or_minimise(desktop):
    window = desktop.start_gui(kiosk=True)
    fullscreen = lambda: "_NET_WM_STATE_FULLSCREEN" in desktop.states(window)  # noqa: E731
    _until(fullscreen, "kiosk full screen")

    desktop.x("xdotool", "windowactivate", "--sync", window)
    desktop.x("xdotool", "key", "--window", window, "F11")
    assert _stays(fullscreen), "F11 left full screen in kiosk mode"

    desktop.x("xdotool", "key", "--window", window, "alt+F4")  # openbox: Close
    desktop.x("wmctrl", "-i", "-c", window)  # the window manager's close (WM_DELETE_WINDOW)
    assert _stays(lambda: desktop.alive() and fullscreen()), "the window manager's close stopped the station"
    assert window in desktop.x("xdotool", "search", "--name", "Inspection Station —").split()

    desktop.x("xdotool", "windowminimize", "--sync", window)
    _until(lambda: fullscreen() and "_NET_WM_STATE_HIDDEN" not in desktop.states(window), "the minimise undone")
    assert desktop.alive()


def test_outside_kiosk_mode_the_window_managers_close_asks_first(desktop):
    window = desktop.start_gui()

    def close_asked() -> list[str]:  # the close is repeated until the window takes events
        asked = desktop.x("xdotool", "search", "--name", "^Quit$").split()
        if not asked:
            desktop.x("wmctrl", "-i", "-c", window)
            time.sleep(0.5)
        return asked

    try:
        question = _until(close_asked, "the Quit question")
    except AssertionError as exc:  # say what the desktop and the station showed instead
        raise AssertionError(f"{exc}; station alive: {desktop.alive()}; windows:\n"
                             f"{desktop.x('wmctrl', '-l')}\nstation's stderr:\n{desktop.stop_and_read()}") from None
    assert desktop.alive()
    desktop.x("xdotool", "windowactivate", "--sync", question[0])
    desktop.x("xdotool", "key", "--window", question[0], "Escape")  # Cancel: the station stays
    _until(lambda: not desktop.x("xdotool", "search", "--name", "^Quit$").split(), "the question gone")
    assert _stays(desktop.alive)
