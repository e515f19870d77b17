"""Image retention: archived images older than N days, or beyond a disk quota, are deleted.

Oldest first, on a background thread (never on a cycle's path). Never touched: the review
folder (operator overrules kept for retraining) and today's failed images (NOK / ERROR, the
ones someone is most likely to look at next). Each deleted file is logged. The same thread
watches the free disk space and reports a low disk once when it drops below the limit.
"""

from __future__ import annotations

import contextlib
import logging
import shutil
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path

from inspection_station.core.settings.model import RetentionSettings

log = logging.getLogger(__name__)

IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".webp")
FAILED_MARKS = ("_NOK.", "_ERROR.")  # archive names: <cycle id>_<verdict>.<ext>
DAY = 86_400.0


@dataclass(frozen=True)
class RetentionReport:
    deleted: tuple[Path, ...] = ()
    freed_bytes: int = 0
    kept_bytes: int = 0  # what the archive holds afterwards
    problems: tuple[str, ...] = field(default_factory=tuple)  # files that could not be deleted


@dataclass(frozen=True)
class _Image:
    path: Path
    mtime: float
    size: int


def _inside(path: Path, folder: Path | None) -> bool:
    if folder is None:
        return False
    try:
        path.resolve().relative_to(folder.resolve())
    except ValueError:
        return False
    return True


def is_protected(path: Path, image_dir: Path, review_dir: Path | None, today: date) -> bool:
    """Review images always; today's failed images (in today's date folder) always."""
    if _inside(path, review_dir):
        return True
    try:
        day_folder = path.relative_to(image_dir).parts[0]
    except (ValueError, IndexError):
        return True  # not under the archive: not ours to delete
    return day_folder == today.isoformat() and any(mark in path.name for mark in FAILED_MARKS)


def _archive_images(image_dir: Path) -> list[_Image]:
    images = []
    for path in image_dir.rglob("*"):
        if path.suffix.lower() not in IMAGE_SUFFIXES:
            continue
        try:
            st = path.stat()
        except OSError:  # deleted meanwhile
            continue
        if path.is_file():
            images.append(_Image(path, st.st_mtime, st.st_size))
    return images


def plan_retention(
    image_dir: Path,
    settings: RetentionSettings,
    *,
    review_dir: Path | None = None,
    now: float | None = None,
) -> tuple[list[_Image], int]:
    """(images to delete, oldest first; bytes kept afterwards). Reads the folder, deletes nothing."""
    now = time.time() if now is None else now
    today = datetime.fromtimestamp(now).astimezone().date()
    # the review folder may sit inside the archive: it is neither counted nor deleted
    images = sorted(
        (i for i in _archive_images(image_dir) if not _inside(i.path, review_dir)),
        key=lambda i: (i.mtime, str(i.path)),
    )
    candidates = [i for i in images if not is_protected(i.path, image_dir, review_dir, today)]
    doomed: list[_Image] = []
    if settings.max_age_days > 0:
        limit = now - settings.max_age_days * DAY
        doomed = [i for i in candidates if i.mtime < limit]
    total = sum(i.size for i in images) - sum(i.size for i in doomed)
    if settings.quota_mb > 0:
        quota = int(settings.quota_mb * 1024 * 1024)
        chosen = {i.path for i in doomed}
        for image in candidates:  # oldest first, until the archive fits
            if total <= quota:
                break
            if image.path not in chosen:
                doomed.append(image)
                total -= image.size
        doomed.sort(key=lambda i: (i.mtime, str(i.path)))
    return doomed, total


def apply_retention(
    image_dir: str | Path,
    settings: RetentionSettings,
    *,
    review_dir: str | Path | None = None,
    now: float | None = None,
) -> RetentionReport:
    """Delete what `plan_retention` chose; log each file; remove date folders left empty."""
    image_dir = Path(image_dir)
    review = Path(review_dir) if review_dir else None
    if not image_dir.is_dir() or (settings.max_age_days <= 0 and settings.quota_mb <= 0):
        return RetentionReport()
    doomed, kept = plan_retention(image_dir, settings, review_dir=review, now=now)
    deleted, problems, freed = [], [], 0
    for image in doomed:
        try:
            image.path.unlink()
        except FileNotFoundError:
            continue
        except OSError as exc:
            problems.append(f"{image.path}: cannot delete: {exc.strerror or exc}")
            kept += image.size
            continue
        deleted.append(image.path)
        freed += image.size
        log.info("retention: deleted %s (%d bytes, modified %s)", image.path, image.size,
                 datetime.fromtimestamp(image.mtime).astimezone().isoformat(timespec="seconds"))
    for folder in {p.parent for p in deleted}:
        if folder != image_dir and not _inside(folder, review):
            with contextlib.suppress(OSError):
                folder.rmdir()  # only when empty
    if deleted:
        log.info("retention: %d archived image(s) deleted, %.1f MB freed, %.1f MB kept",
                 len(deleted), freed / 2**20, kept / 2**20)
    for problem in problems:
        log.warning("retention: %s", problem)
    return RetentionReport(tuple(deleted), freed, kept, tuple(problems))


def free_mb(folder: Path) -> float:
    """Free space on the disk holding `folder` (its nearest existing parent)."""
    probe = folder
    while not probe.exists() and probe.parent != probe:
        probe = probe.parent
    return shutil.disk_usage(probe).free / 2**20


class RetentionWorker:
    """Runs retention and the free-space check every `check_interval_s` on its own thread."""

    def __init__(
        self,
        image_dir: Path,
        review_dir: Path | None,
        settings: RetentionSettings,
        *,
        on_low_disk: Callable[[bool, str], None] | None = None,  # (low, message), on changes
        on_problem: Callable[[str], None] | None = None,
    ) -> None:
        self.image_dir, self.review_dir, self.settings = image_dir, review_dir, settings
        self._on_low_disk = on_low_disk
        self._on_problem = on_problem
        self._stop = threading.Event()
        self._wake = threading.Event()
        self.low_disk: bool | None = None  # unknown until the first check
        self.last_report = RetentionReport()
        self.runs = 0
        self._thread = threading.Thread(target=self._run, name="retention", daemon=True)

    def start(self) -> RetentionWorker:
        self._thread.start()
        return self

    def run_now(self) -> None:
        self._wake.set()

    def update(self, image_dir: Path, review_dir: Path | None, settings: RetentionSettings) -> None:
        self.image_dir, self.review_dir, self.settings = image_dir, review_dir, settings
        self._wake.set()

    def stop(self) -> None:
        self._stop.set()
        self._wake.set()
        if self._thread.is_alive():
            self._thread.join()

    def check_once(self) -> None:
        try:
            self.last_report = apply_retention(self.image_dir, self.settings, review_dir=self.review_dir)
            for problem in self.last_report.problems:
                self._call(self._on_problem, problem)
            self._check_disk()
        except Exception as exc:  # noqa: BLE001 - housekeeping must never end the station
            log.exception("retention failed")
            self._call(self._on_problem, f"{self.image_dir}: image retention failed: {exc}")
        self.runs += 1

    def _check_disk(self) -> None:
        limit = self.settings.low_disk_mb
        if limit <= 0:
            return
        free = free_mb(self.image_dir)
        low = free < limit
        if self.low_disk is None and not low:  # the first check: say nothing when all is well
            self.low_disk = False
        elif low != self.low_disk:
            self.low_disk = low
            if low:
                message = f"low disk: {free:.0f} MB free for {self.image_dir} (warning below {limit:.0f} MB)"
                log.warning(message)
            else:
                message = f"disk space ok: {free:.0f} MB free for {self.image_dir}"
            self._call(self._on_low_disk, low, message)

    def _run(self) -> None:
        while not self._stop.is_set():
            self.check_once()
            self._wake.wait(self.settings.check_interval_s)
            self._wake.clear()

    @staticmethod
    def _call(callback, *args) -> None:
        if callback is None:
            return
        try:
            callback(*args)
        except Exception:  # noqa: BLE001 - a listener's bug must not stop housekeeping
            log.exception("retention listener failed")
