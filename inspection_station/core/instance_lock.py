"""One station per data root and camera: an OS file lock that a crash releases.

`hold_station_lock(settings)` takes `<data root>/locks/camera-<camera>.lock` for the life of
the process (gui, run, serve). The lock is the operating system's (flock on POSIX, a
LockFileEx byte range on Windows): it belongs to the open file, so the kernel drops it when
the process ends in any way, kill -9 and power loss included; nothing stale is left to
clean up. The holder writes who it is into the same file (pid, command, start time), so a
second start can name the process it collides with; the GUI uses `ipc_name` to ask the
running window to come to the front (gui/single_instance.py).
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import socket
import sys
import time
from pathlib import Path

from inspection_station.core import paths
from inspection_station.core.errors import StationError
from inspection_station.core.regular_files import kind_of_mode, open_regular, refusal

if sys.platform == "win32":
    import msvcrt
else:
    import fcntl

# Windows locks a byte range; the owner's description sits before it and stays readable.
_WINDOWS_LOCK_OFFSET = 1 << 20
_OWNER_BYTES = 4096


class AlreadyRunning(StationError):
    """Another process holds the lock; `owner` is what it wrote about itself."""

    def __init__(self, message: str, owner: dict, lock: InstanceLock) -> None:
        super().__init__(message)
        self.owner = owner
        self.lock = lock


def camera_key(camera) -> str:
    """What names one camera for the lock: the serial, else the address, else the replayed
    folder; a station that takes whichever camera comes first is `first-camera`."""
    if camera.source == "folder":
        folder = str(Path(camera.image_folder).resolve()) if camera.image_folder else ""
        return "folder-" + hashlib.sha256(folder.encode()).hexdigest()[:12]
    for value in (camera.serial, camera.ip_address):
        if value:
            return re.sub(r"[^A-Za-z0-9._-]", "_", str(value))[:64]
    return "first-camera"


def describe_owner(owner: dict) -> str:
    if not owner.get("pid"):
        return "another process (it wrote nothing about itself yet)"
    command = owner.get("command") or "inspection-station"
    started = owner.get("started", "")
    where = f" on {owner['host']}" if owner.get("host") and owner.get("host") != socket.gethostname() else ""
    return f"process {owner['pid']}{where} ({command}, started {started})".replace(", started )", ")")


class InstanceLock:
    """An exclusive, non-blocking lock on one file; `acquire()` raises AlreadyRunning."""

    def __init__(self, path: Path, what: str) -> None:
        self.path = Path(path)
        self.what = what  # "station 'line-3' on camera 0815-0000", for the messages
        self._fd: int | None = None

    @property
    def held(self) -> bool:
        return self._fd is not None

    @property
    def ipc_name(self) -> str:
        """A local-socket name that is the same for every process using this lock file."""
        digest = hashlib.sha256(str(self.path.resolve()).lower().encode()).hexdigest()[:16]
        return f"InspectionStation-{digest}"

    def acquire(self, command: str = "", wait_s: float = 0.0) -> InstanceLock:
        """Take it now, or within `wait_s` (polled); else AlreadyRunning naming the holder."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        flags = os.O_RDWR | os.O_CREAT | getattr(os, "O_BINARY", 0) | getattr(os, "O_NONBLOCK", 0)
        fd = os.open(self.path, flags, 0o664)
        kind = kind_of_mode(os.fstat(fd).st_mode)
        if kind:  # a FIFO or device put in its place: never locked, written or waited on
            os.close(fd)
            raise StationError(refusal(self.path, kind, "lock file"))
        deadline = time.monotonic() + wait_s
        while True:
            try:
                _lock(fd)
                break
            except OSError:
                if time.monotonic() < deadline:
                    time.sleep(0.05)
                    continue
            os.close(fd)
            owner = self.owner()
            raise AlreadyRunning(
                f"{self.what} is already running: {describe_owner(owner)}; data root {paths.data_root()}. "
                "Stop that one first (one station per data root and camera)",
                owner,
                self,
            ) from None
        self._fd = fd
        self._write_owner(command)
        return self

    def release(self) -> None:
        fd, self._fd = self._fd, None
        if fd is not None:
            os.close(fd)  # the lock goes with the file (a stale owner text is never read: see owner)

    def owner(self) -> dict:
        """What the holder wrote about itself ({} when nothing readable is there). Read only
        when the lock is held by someone: a text left by an ended process is never shown."""
        try:
            with open_regular(self.path, "lock file") as fh:
                text = fh.read(_OWNER_BYTES).split(b"\0", 1)[0].decode("utf-8", "replace")
            return json.loads(text) if text.strip() else {}
        except (OSError, ValueError, StationError):
            return {}

    def _write_owner(self, command: str) -> None:
        owner = {
            "pid": os.getpid(),
            "host": socket.gethostname(),
            "command": command or " ".join(["inspection-station", *sys.argv[1:]])[:300],
            "started": time.strftime("%Y-%m-%d %H:%M:%S"),
            "ipc": self.ipc_name,
        }
        # fixed size, NUL-padded: written over in place, never truncated (Windows refuses
        # to change the size of a file with a locked range on some file systems)
        data = json.dumps(owner).encode("utf-8")[: _OWNER_BYTES - 1].ljust(_OWNER_BYTES, b"\0")
        fd = self._fd
        if fd is None:
            raise StationError(f"{self.path}: the lock is not held")
        os.lseek(fd, 0, os.SEEK_SET)
        os.write(fd, data)
        os.fsync(fd)

    def __enter__(self) -> InstanceLock:
        return self if self.held else self.acquire()

    def __exit__(self, *exc) -> None:
        self.release()


def _lock(fd: int) -> None:
    """Exclusive, without waiting; OSError when another open file holds it."""
    if sys.platform == "win32":
        os.lseek(fd, _WINDOWS_LOCK_OFFSET, os.SEEK_SET)
        msvcrt.locking(fd, msvcrt.LK_NBLCK, 1)  # one byte past the owner text
        os.lseek(fd, 0, os.SEEK_SET)
    else:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)


def station_lock(settings) -> InstanceLock:
    """The lock of this station's camera in this data root (not yet taken)."""
    key = camera_key(settings.camera)
    what = f"station {settings.station.name!r} on camera {key}"
    return InstanceLock(paths.locks_dir() / f"camera-{key}.lock", what)


def hold_station_lock(settings, command: str = "") -> InstanceLock:
    """Take the station's lock for the rest of the process, or raise AlreadyRunning (exit 2)."""
    return station_lock(settings).acquire(command)
