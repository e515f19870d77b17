"""A second start of the GUI shows the running window instead of a second station."""

from __future__ import annotations

import os
import subprocess
import sys
import time

import pytest
from PySide6.QtWidgets import QWidget

from inspection_station.core.instance_lock import InstanceLock, station_lock
from inspection_station.core.settings.demo import demo_layer
from inspection_station.core.settings.model import Settings
from inspection_station.gui.single_instance import RunningWindowServer, ask_running_window

pytestmark = pytest.mark.qt


def test_the_running_window_comes_to_the_front_when_asked(qtbot, tmp_path):
    window = QWidget()
    qtbot.addWidget(window)
    name = InstanceLock(tmp_path / "x.lock", "x").ipc_name
    server = RunningWindowServer(name, window)
    window.showMinimized()
    try:
        answered = []
        # the blocking client would starve this thread's event loop: ask from a worker thread
        import threading

        # generous waits: under a loaded full suite the answer has taken more than 5 s
        asker = threading.Thread(target=lambda: answered.append(ask_running_window(name, 20000)))
        asker.start()
        qtbot.waitUntil(lambda: server.shown_count == 1, timeout=25000)
        qtbot.waitUntil(lambda: not asker.is_alive(), timeout=25000)  # the server answers from this loop
        assert answered == [True]
        assert window.isVisible() and not window.isMinimized()
    finally:
        server.close()
    assert ask_running_window(name, 300) is False  # nobody listens any more


def test_nothing_answers_where_nothing_runs(qapp, tmp_path):
    assert ask_running_window(InstanceLock(tmp_path / "none.lock", "x").ipc_name, 300) is False


@pytest.mark.slow
def test_a_second_gui_start_brings_the_first_forward_and_ends(qapp):
    env = {**os.environ, "QT_QPA_PLATFORM": "offscreen"}
    first = subprocess.Popen([sys.executable, "-m", "inspection_station", "gui", "--demo"], env=env,
                             stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    try:
        name = station_lock(demo_layer(Settings()).settings).ipc_name  # the lock the demo takes
        deadline = time.monotonic() + 90
        while not ask_running_window(name, 500):
            assert first.poll() is None, first.stderr.read()
            assert time.monotonic() < deadline, "the first GUI never listened"
            time.sleep(0.2)
        second = subprocess.run([sys.executable, "-m", "inspection_station", "gui", "--demo"], env=env,
                                capture_output=True, text=True, timeout=120)
        assert second.returncode == 0, second.stderr
        assert f"(process {first.pid}): its window is in front now" in second.stderr
        assert first.poll() is None  # the first one runs on
    finally:
        first.kill()
        first.wait(30)
