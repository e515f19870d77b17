"""The camera interface every frame source implements.

Implementations: `PylonCamera` (a Basler camera or Basler's emulator, core/camera/pylon_device.py)
and `FolderCamera` (replays image files, core/camera/folder_replay.py). A camera object is used
by one thread only: `CameraWorker` (core/camera/worker.py) owns it and hands frames out.

Trigger modes (`CameraSettings.trigger_mode`):
- "software":   the grab engine runs with a software trigger; `grab()` triggers one fresh frame.
- "hardware":   the camera waits for a pulse on `trigger_line`; `wait_hardware_trigger()` /
                `grab()` return the next triggered frame or raise CameraTimeout.
- "continuous": free-run streaming, newest frame wins (live view); `grab()` skips the frame
                already under way and returns the next whole one.

Frames are C-contiguous uint8, H x W x 3 in `output_format` order (RGB by default), or
H x W for "Mono" output (the detector converts mono itself). Each frame says its order in
`Frame.color`; consumers read `Frame.rgb` (core/frame.py), so "BGR" output stays correct.
"""

from __future__ import annotations

import itertools
from enum import StrEnum
from typing import Protocol, runtime_checkable

from inspection_station.core.errors import CameraError
from inspection_station.core.frame import Frame
from inspection_station.core.settings.model import CameraSettings


class CameraState(StrEnum):
    CONNECTING = "connecting"
    CONNECTED = "connected"  # a real camera
    EMULATED = "emulated"  # Basler's emulator or an image folder: frames are not from the line
    DISCONNECTED = "disconnected"  # lost or not found; the worker keeps retrying
    CLOSED = "closed"


class FrameIncomplete(CameraError):
    """The camera delivered a damaged buffer (lost packets, ...); the next grab may succeed."""


class FrameSkipped(CameraError):
    """One frame could not be made (an unreadable file in a replay) and was skipped; the
    camera itself is fine: the next grab serves the next file, with no reconnect."""


_frame_ids = itertools.count(1)


def next_frame_id() -> int:
    """Process-wide increasing id, so ids stay unique across reconnects and camera objects."""
    return next(_frame_ids)


@runtime_checkable
class Camera(Protocol):
    @property
    def state(self) -> CameraState: ...

    @property
    def description(self) -> str:
        """One line for the status bar, e.g. "Basler acA2440-20gc 40012345 (192.168.1.20)"."""
        ...

    @property
    def warnings(self) -> list[str]:
        """Settings the device could not take (node not available), one line each."""
        ...

    def open(self) -> None: ...

    def close(self) -> None:
        """Release the device; safe to call twice and after a failure."""
        ...

    def grab(self, timeout_ms: int | None = None) -> Frame:
        """The next frame taken after this call (see trigger modes); CameraTimeout if none."""
        ...

    def start_streaming(self) -> None:
        """Switch to free-run streaming (newest frame wins) until stop_streaming()."""
        ...

    def stop_streaming(self) -> None:
        """Back to the configured trigger mode."""
        ...

    def latest_frame(self, timeout_ms: int | None = None) -> Frame:
        """While streaming: the newest frame (waits for one if none is ready)."""
        ...

    def wait_hardware_trigger(self, timeout_ms: int | None = None) -> Frame:
        """In hardware mode: the next frame triggered by the line; CameraTimeout if no pulse."""
        ...

    def apply_image_settings(self, settings: CameraSettings) -> None:
        """Take new rotation / ROI / output_format at once (software only, no reopening)."""
        ...

    def is_removed(self) -> bool:
        """True once the device is gone; the owner must close it and open a new camera."""
        ...
