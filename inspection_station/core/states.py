"""The names of the station's states, as enums: what `on_state(component, state, reason)` says.

StrEnum: the values compare equal to their strings, so a listener that still compares
with "ready" keeps working, and Qt signals carry them as plain `str`.
"""

from __future__ import annotations

from enum import StrEnum

from inspection_station.core.camera.protocol import CameraState

__all__ = ["CameraState", "Component", "DiskState", "LoadState", "ViewMode"]


class Component(StrEnum):
    """Who reports a state."""

    CAMERA = "camera"  # states: CameraState
    MODEL = "model"  # states: LoadState
    PATTERNS = "patterns"  # states: LoadState (READY or ERROR)
    CYCLE = "cycle"  # LoadState.ERROR: a cycle raised and gave no result
    DISK = "disk"  # states: DiskState (the image folder's free space, from the retention thread)


class LoadState(StrEnum):
    LOADING = "loading"
    READY = "ready"
    ERROR = "error"


class DiskState(StrEnum):
    LOW = "low"  # below [retention] low_disk_mb
    OK = "ok"  # back above it


class ViewMode(StrEnum):
    """What the operator's picture shows."""

    LIVE = "live"  # the newest camera frame
    HELD = "held"  # a cycle's frame with its overlay
