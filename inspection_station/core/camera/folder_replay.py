"""A camera that replays image files from a folder in name order, looping.

`test_images` (files or globs, the old adapter's TEST_IMAGE) add files to replay, and
`test_image_order = "random"` picks each frame at random among them.

For demos, tests and re-running a day's archived images through the station. It has no
trigger line: `pulse()` stands in for one (a pedal press) so hardware-trigger mode can be
exercised without a camera. Files are decoded at each grab (the folder may be large).
"""

from __future__ import annotations

import glob
import random
import threading
import time
from pathlib import Path

import numpy as np

from inspection_station.core.camera.protocol import CameraState, FrameSkipped, next_frame_id
from inspection_station.core.camera.transform import FrameTransform, to_output_format
from inspection_station.core.errors import CameraError, CameraTimeout, ImageError
from inspection_station.core.frame import ColorOrder, Frame
from inspection_station.core.images import IMAGE_SUFFIXES, list_images, load_image
from inspection_station.core.settings.model import CameraSettings

STREAM_PERIOD_S = 0.05  # live replay pace: a folder is not a sensor, don't spin a core


class FolderCamera:
    def __init__(self, settings: CameraSettings, folder: str | Path | None = None) -> None:
        self._settings = settings
        self._folder = Path(folder if folder is not None else settings.image_folder)
        self._transform = FrameTransform.from_settings(settings)
        self._files: list[Path] = []
        self._index = 0
        self._failed_in_a_row = 0
        self._state = CameraState.CLOSED
        self._streaming = False
        self._last_stream_t = 0.0
        self._pulse = threading.Event()
        self._rng = random.Random()
        self._warnings: list[str] = []

    # --- Camera protocol -------------------------------------------------------------

    @property
    def state(self) -> CameraState:
        return self._state

    @property
    def description(self) -> str:
        if self._settings.test_images:
            return f"test images ({len(self._files)} files, {self._settings.test_image_order})"
        return f"image folder {self._folder} ({len(self._files)} images)"

    @property
    def warnings(self) -> list[str]:
        s = self._settings
        if s.binning > 1 and s.binning_mode == "camera":  # files have no sensor to bin
            return [*self._warnings, f"[camera] binning: {self.description} has no sensor binning; "
                    "not applied (binning_mode = 'software' shrinks replayed files)"]
        return list(self._warnings)

    @property
    def files(self) -> list[Path]:
        return list(self._files)

    def open(self) -> None:
        if self._settings.test_images:
            self._files = self._test_image_files()
            self._index = 0
            self._failed_in_a_row = 0
            self._state = CameraState.EMULATED
            return
        if not str(self._folder) or str(self._folder) == ".":
            raise CameraError(
                "camera image_folder is not set (source = 'folder' needs a folder of images)"
            )
        if not self._folder.is_dir():
            raise CameraError(f"camera image_folder {self._folder}: no such folder")
        self._files = list_images(self._folder)
        if not self._files:
            raise CameraError(
                f"camera image_folder {self._folder}: no image files (expected {', '.join(IMAGE_SUFFIXES)})"
            )
        self._index = 0
        self._failed_in_a_row = 0
        self._state = CameraState.EMULATED

    def _test_image_files(self) -> list[Path]:
        """The files of `test_images` (plus image_folder's, if set), each once, in name order."""
        files: list[Path] = list_images(self._folder) if str(self._folder) not in ("", ".") and self._folder.is_dir() else []
        self._warnings = []
        for entry in self._settings.test_images:
            matched = [Path(p) for p in sorted(glob.glob(entry, recursive=True))]
            matched = [p for p in matched if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES]
            if not matched:
                self._warnings.append(f"[camera] test_images {entry!r}: no image files match")
            files += [p for p in matched if p not in files]
        if not files:
            raise CameraError(
                f"camera test_images {self._settings.test_images}: no image files match "
                f"(expected files or globs of {', '.join(IMAGE_SUFFIXES)})"
            )
        return files

    def close(self) -> None:
        self._state = CameraState.CLOSED
        self._streaming = False

    def grab(self, timeout_ms: int | None = None) -> Frame:
        if self._settings.trigger_mode == "hardware":
            return self.wait_hardware_trigger(timeout_ms)
        return self._next_frame(time.perf_counter(), "software")

    def start_streaming(self) -> None:
        self._streaming = True

    def stop_streaming(self) -> None:
        self._streaming = False

    def latest_frame(self, timeout_ms: int | None = None) -> Frame:
        self._require_open()
        if not self._streaming:
            raise CameraError(
                "latest_frame: the camera is not streaming (call start_streaming first)"
            )
        limit = self._settings.frame_rate_limit
        period = max(STREAM_PERIOD_S, 1.0 / limit) if limit > 0 else STREAM_PERIOD_S  # frame_rate_limit holds here too
        wait = self._last_stream_t + period - time.monotonic()
        if wait > 0:
            time.sleep(wait)
        self._last_stream_t = time.monotonic()
        return self._next_frame(time.perf_counter(), "continuous")

    def wait_hardware_trigger(self, timeout_ms: int | None = None) -> Frame:
        self._require_open()
        start = time.perf_counter()
        timeout_ms = self._settings.grab_timeout_ms if timeout_ms is None else timeout_ms
        if not self._pulse.wait(timeout_ms / 1000):
            raise CameraTimeout(f"no hardware trigger within {timeout_ms} ms ({self.description})")
        self._pulse.clear()
        return self._next_frame(start, "hardware")

    def apply_image_settings(self, settings: CameraSettings) -> None:
        self._transform = FrameTransform.from_settings(settings)
        self._settings = settings

    def is_removed(self) -> bool:
        return False

    # --- extras ------------------------------------------------------------------------

    def pulse(self) -> None:
        """Simulate one pulse on the trigger line (any thread)."""
        self._pulse.set()

    def _require_open(self) -> None:
        if self._state is CameraState.CLOSED:
            raise CameraError(f"{self.description}: the camera is not open")

    def _next_frame(self, start: float, mode: str) -> Frame:
        self._require_open()
        if self._settings.test_image_order == "random":
            path = self._rng.choice(self._files)  # the old adapter picked test images at random
        else:
            path = self._files[self._index]
            self._index = (self._index + 1) % len(self._files)
        try:
            rgb = load_image(path, self._settings.max_image_pixels)
        except ImageError as exc:
            self._failed_in_a_row += 1
            if not self._settings.test_images and not self._folder.is_dir():  # the whole folder went
                raise CameraError(f"camera image_folder {self._folder}: the folder is gone") from None
            if self._failed_in_a_row >= len(self._files):  # none left to serve: the source is gone
                raise CameraError(f"image folder camera: no file could be read in a whole round; last: {exc}") from None
            # skipped: the index already points at the next file
            raise FrameSkipped(f"image folder camera: {exc}; skipped, replay goes on") from None
        self._failed_in_a_row = 0
        image = to_output_format(self._transform.apply(rgb), self._settings.output_format)
        return Frame(
            image=np.ascontiguousarray(image),
            frame_id=next_frame_id(),
            timestamp=time.time(),
            source=f"folder:{path}",
            grab_ms=(time.perf_counter() - start) * 1000,
            meta={"mode": mode, "file": str(path)},
            color=ColorOrder(self._settings.output_format),
        )
