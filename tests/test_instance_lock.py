"""One station per data root and camera: the OS lock, its message, and its end with the process."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import pytest

from inspection_station.core import paths
from inspection_station.core.errors import StationError
from inspection_station.core.instance_lock import (
    AlreadyRunning,
    InstanceLock,
    camera_key,
    station_lock,
)
from inspection_station.core.settings.model import CameraSettings, Settings, demo_settings

HOLDER = """
import sys, time
from inspection_station.core.instance_lock import InstanceLock
lock = InstanceLock(sys.argv[1], "test station").acquire("holder-for-the-test")
print("held", flush=True)
time.sleep(120)
"""


def _cli(*args: str, **kw) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "inspection_station", *args], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, **kw)


def _wait_for_line(stream, needle: str, timeout_s: float = 60) -> str:
    deadline = time.monotonic() + timeout_s
    seen = []
    while time.monotonic() < deadline:
        line = stream.readline()
        if not line:
            break
        seen.append(line)
        if needle in line:
            return line
    raise AssertionError(f"{needle!r} never came; got:\n{''.join(seen)}")


def test_a_second_holder_is_refused_with_the_first_ones_description(tmp_path):
    first = InstanceLock(tmp_path / "a.lock", "station 'x' on camera 1").acquire("gui --demo")
    with pytest.raises(AlreadyRunning) as refused:
        InstanceLock(tmp_path / "a.lock", "station 'x' on camera 1").acquire()
    message = str(refused.value)
    assert f"process {os.getpid()}" in message and "gui --demo" in message
    assert "station 'x' on camera 1 is already running" in message
    assert isinstance(refused.value, StationError)  # the CLI's exit 2 with one line
    assert refused.value.owner["ipc"] == first.ipc_name
    first.release()
    InstanceLock(tmp_path / "a.lock", "x").acquire().release()  # free again


def test_the_lock_goes_with_a_killed_process(tmp_path):
    path = tmp_path / "station.lock"
    holder = subprocess.Popen([sys.executable, "-c", HOLDER, str(path)], stdout=subprocess.PIPE, text=True)
    try:
        _wait_for_line(holder.stdout, "held")
        with pytest.raises(AlreadyRunning, match=f"process {holder.pid} .*holder-for-the-test"):
            InstanceLock(path, "test station").acquire()
        holder.send_signal(signal.SIGKILL)  # no clean-up runs: the kernel drops the lock
        holder.wait(30)
        InstanceLock(path, "test station").acquire().release()
    finally:
        holder.kill()
        holder.wait(30)


def test_the_lock_is_per_camera_and_per_data_root(tmp_path, monkeypatch):
    demo = demo_settings(Settings())
    assert camera_key(demo.camera) == "0815-0000"  # the emulator's serial
    assert camera_key(CameraSettings(ip_address="192.168.3.7")) == "192.168.3.7"
    assert camera_key(CameraSettings()) == "first-camera"
    assert camera_key(CameraSettings(source="folder", image_folder=str(tmp_path))).startswith("folder-")
    other = demo.replace("camera", serial="40012345")
    with station_lock(demo), station_lock(other):  # two cameras: two stations may run
        with pytest.raises(AlreadyRunning):
            station_lock(demo).acquire()
        monkeypatch.setenv(paths.DATA_ROOT_ENV, str(tmp_path / "another-root"))
        station_lock(demo).acquire().release()  # another data root: its own lock
    assert station_lock(demo).path.parent == paths.locks_dir()


@pytest.mark.slow
def test_a_second_station_on_the_camera_exits_2_naming_the_running_one_until_it_is_killed():
    serve = _cli("serve", "--demo")
    try:
        _wait_for_line(serve.stderr, "serving station")
        second = subprocess.run([sys.executable, "-m", "inspection_station", "run", "--headless", "--demo",
                                 "--cycles", "1"], capture_output=True, text=True, timeout=120)
        assert second.returncode == 2, second.stdout + second.stderr
        assert f"process {serve.pid} " in second.stderr and "(serve, started" in second.stderr, second.stderr
        assert "camera 0815-0000 is already running" in second.stderr
        assert str(paths.data_root()) in second.stderr
        assert "#1" not in second.stdout  # no cycle ran
        serve.send_signal(signal.SIGKILL)  # a crash: nothing cleans up
        serve.wait(30)
        third = subprocess.run([sys.executable, "-m", "inspection_station", "run", "--headless", "--demo",
                                "--cycles", "1"], capture_output=True, text=True, timeout=120)
        assert third.returncode == 0, third.stdout + third.stderr
        assert "#1" in third.stdout
    finally:
        serve.kill()
        serve.wait(30)


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="FIFOs are POSIX")
def test_a_fifo_in_the_lock_files_place_is_refused_without_waiting(tmp_path):
    os.mkfifo(tmp_path / "camera-x.lock")
    with pytest.raises(StationError, match="camera-x.lock: is a FIFO"):
        InstanceLock(tmp_path / "camera-x.lock", "x").acquire()
