"""Archived cycle images, written off the cycle's critical path; review images for retraining.

The archive path is decided when the cycle is recorded (so it lands in the CSV row); the
encoding and writing happen in one background thread fed by a bounded queue. When the
queue is full the image is DROPPED and reported, never waited for: a slow or full disk
must not slow the line down. The cycle's row then carries no image path, so the log never
points at an image that was not even attempted.
"""

from __future__ import annotations

import logging
import queue
import re
import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import cv2
import numpy as np

from inspection_station.core.atomic import atomic_write_bytes, atomic_write_text
from inspection_station.core.cycle import Verdict
from inspection_station.core.detection import Detection
from inspection_station.core.errors import ResultsError
from inspection_station.core.results.csv_log import station_file_prefix
from inspection_station.core.results.image_index import confirm_written, index_path

log = logging.getLogger(__name__)

Report = Callable[[str], None]

ARCHIVE_MODES = ("all", "every_n", "failed", "none", "every_n_and_failed")
_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")


@dataclass(frozen=True, slots=True)
class ArchivePolicy:
    """Which cycles keep their image (the old system's choices)."""

    mode: str = "failed"  # all / every_n / failed (NOK + ERROR) / none / every_n_and_failed
    every_n: int = 10

    def __post_init__(self) -> None:
        if self.mode not in ARCHIVE_MODES:
            raise ResultsError(f"archive policy: expected one of {', '.join(ARCHIVE_MODES)}, got {self.mode!r}")
        if self.every_n < 1:
            raise ResultsError(f"archive policy: every_n must be at least 1, got {self.every_n}")

    def wants(self, verdict: Verdict | str, index: int) -> bool:
        """`index` counts recorded cycles from 0: every_n keeps cycles 0, n, 2n, ..."""
        if self.mode == "all":
            return True
        every = index % self.every_n == 0
        failed = str(verdict) in (Verdict.NOK, Verdict.ERROR)
        if self.mode == "every_n":
            return every
        if self.mode == "failed":
            return failed
        if self.mode == "every_n_and_failed":  # the old backend: "every x" plus every failed check
            return every or failed
        return False


def safe_name(text: str) -> str:
    """A file-name-safe form of a cycle id (Windows forbids ':' and friends)."""
    return _UNSAFE.sub("_", text).strip("._") or "cycle"


def encode_image(image: np.ndarray, ext: str, quality: int = 90) -> bytes:
    """RGB (or mono) uint8 -> file bytes in `ext` (jpg / png / webp)."""
    ext = ext.lower().lstrip(".")
    if image.ndim == 3 and image.shape[2] == 3:
        image = cv2.cvtColor(image, cv2.COLOR_RGB2BGR)  # cv2 writes BGR
    if ext in ("jpg", "jpeg"):
        params = [cv2.IMWRITE_JPEG_QUALITY, int(quality)]
    elif ext == "webp":
        params = [cv2.IMWRITE_WEBP_QUALITY, int(quality)]
    elif ext == "png":
        params = [cv2.IMWRITE_PNG_COMPRESSION, 3]  # lossless either way; 3 = fast enough
    else:
        raise ResultsError(f"image format: expected jpg, png or webp, got {ext!r}")
    ok, buf = cv2.imencode(f".{ext}", image, params)
    if not ok:
        raise ResultsError(f"cannot encode a {image.shape} image as {ext}")
    return buf.tobytes()


_STOP = object()


class ImageArchive:
    """`<image_dir>/YYYY-MM-DD/<station>_<cycle id>_<verdict>.<ext>`, encoded and written by one
    thread; `<station>_` as the CSV files name it (csv_log.station_file_prefix: stations sharing
    a folder never share a name)."""

    def __init__(
        self,
        image_dir: str | Path,
        *,
        image_format: str = "jpg",
        quality: int = 90,
        queue_size: int = 8,
        on_error: Report | None = None,
        station: str = "",
    ) -> None:
        self.image_dir = Path(image_dir)
        self.prefix = station_file_prefix(station)
        self.image_format = image_format.lower().lstrip(".")
        self.quality = quality
        self._on_error = on_error
        self._queue: queue.Queue = queue.Queue(maxsize=max(1, queue_size))
        self._counts_lock = threading.Lock()
        self.written = 0
        self.dropped = 0
        self.failed = 0
        self.last_error = ""
        self._closed = False
        self._thread = threading.Thread(target=self._run, name="image-archive", daemon=True)
        self._thread.start()

    def path_for(self, cycle_id: str, verdict: Verdict | str, timestamp: datetime) -> Path:
        day = timestamp.astimezone().date().isoformat()
        return self.image_dir / day / f"{self.prefix}{safe_name(cycle_id)}_{verdict}.{self.image_format}"

    def submit(self, image: np.ndarray, path: Path) -> bool:
        """Queue one image for writing; False (and reported) when it was dropped."""
        if self._closed:
            self._report(f"{path}: image archive is closed; image not written", dropped=True)
            return False
        try:
            self._queue.put_nowait((image, path))
        except queue.Full:
            self._report(
                f"{path}: image archive queue full ({self._queue.maxsize} waiting, disk too slow?); "
                "image dropped",
                dropped=True,
            )
            return False
        return True

    @property
    def is_alive(self) -> bool:
        return self._thread.is_alive()

    def close(self, timeout: float | None = None) -> None:
        """Write everything still queued, then stop and join the writer thread."""
        if not self._closed:
            self._closed = True
            self._queue.put(_STOP)  # blocks only until the writer makes room
        self._thread.join(timeout)

    def _run(self) -> None:
        while True:
            item = self._queue.get()
            if item is _STOP:
                return
            image, path = item
            try:
                # temp file + replace: a crash never leaves a half image under the final name
                data = encode_image(image, self.image_format, self.quality)
                atomic_write_bytes(path, data, backup=False, fsync=False)
            except Exception as exc:  # noqa: BLE001 - the writer thread must outlive any one image
                reason = getattr(exc, "strerror", None) or exc
                self._report(f"{path}: cannot write the archived image: {reason}", dropped=False)
                continue
            with self._counts_lock:
                self.written += 1
            try:
                confirm_written(path)  # the row's image path counts from here (image_index.py)
            except OSError as exc:
                message = f"{path}: image written, but not confirmed in {index_path(path.parent)}: {exc.strerror or exc}"
                log.error(message)
                if self._on_error is not None:
                    self._on_error(message)

    def _report(self, message: str, *, dropped: bool) -> None:
        with self._counts_lock:
            if dropped:
                self.dropped += 1
            else:
                self.failed += 1
            self.last_error = message
        log.error(message)
        if self._on_error is not None:
            self._on_error(message)


# --- review folder (operator overrules -> retraining data) ---------------------------------


def yolo_label_lines(detections: Iterable[Detection], width: int, height: int) -> list[str]:
    """`class cx cy w h`, normalised to the image, one line per detection (YOLO txt)."""
    lines = []
    for d in detections:
        x1, y1, x2, y2 = (float(v) for v in d.box)
        cx, cy = (x1 + x2) / 2 / width, (y1 + y2) / 2 / height
        w, h = (x2 - x1) / width, (y2 - y1) / height
        lines.append(f"{int(d.class_id)} {cx:.6f} {cy:.6f} {w:.6f} {h:.6f}")
    return lines


def save_for_review(
    review_dir: str | Path,
    image: np.ndarray,
    cycle_id: str,
    verdict: Verdict | str,
    detections: Iterable[Detection] = (),
    station: str = "",
) -> Path:
    """`<review_dir>/<station>_<cycle id>_<verdict>.png` (lossless) + `.txt` with the detections.

    The labels are what the model saw, as a starting point for whoever corrects them.
    Synchronous: an overrule is a rare operator action, and the operator should learn
    at once if it could not be saved. Raises ResultsError.
    """
    stem = f"{station_file_prefix(station)}{safe_name(cycle_id)}_{verdict}"
    png = Path(review_dir) / f"{stem}.png"
    try:
        atomic_write_bytes(png, encode_image(image, "png"), backup=False)
        height, width = image.shape[:2]
        lines = yolo_label_lines(detections, width, height)
        atomic_write_text(png.with_suffix(".txt"), "".join(f"{line}\n" for line in lines), backup=False)
    except OSError as exc:
        raise ResultsError(f"{png}: cannot save the review image: {exc.strerror or exc}") from None
    return png
