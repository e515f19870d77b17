"""What happens to a cycle after its verdict: CSV row, archived image, running statistics.

`ResultsRecorder` is the one object the pipeline calls per cycle. The parts live in small
modules: `csv_log` (CSV), `archive` (images, review folder), `statistics`.

Failure policy: recording never raises for disk trouble, and a cycle whose row is not on
disk is never OK: `record()` returns it as ERROR with a reason naming the file (the banner,
the PLC outputs and the API all read that result). The row kept in memory tells the same
truth (verdict ERROR; the error column names the file and the model's own verdict) and is
retried on the next cycle and on `close()`. The failure goes to `on_error(message)` and to
`health`. A log file deleted, moved or replaced while the station runs is started again
(see csv_log) and reported on `on_warning` (default: `on_error`, the route a GUI lists
as a warning). The callbacks are called from the calling thread or the image writer
thread: a GUI must forward them to its own thread (a queued signal).
"""

from __future__ import annotations

import dataclasses
import logging
import os
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import numpy as np

from inspection_station.core.cycle import CycleResult, Verdict
from inspection_station.core.detection import Detection
from inspection_station.core.errors import ResultsError
from inspection_station.core.results.archive import ArchivePolicy, ImageArchive, save_for_review
from inspection_station.core.results.csv_log import (
    LOG_COLUMNS,
    ResultsLog,
    WriteFn,
    cycle_date,
    cycle_row,
    format_timestamp,
    log_files_for_day,
    read_log,
)
from inspection_station.core.results.row_taps import row_written
from inspection_station.core.results.statistics import Statistics, StatisticsSnapshot
from inspection_station.core.settings.model import ResultsSettings, resolve_results_dirs

__all__ = [
    "LOG_COLUMNS",
    "Overrule",
    "ResultsHealth",
    "ResultsRecorder",
    "Statistics",
    "StatisticsSnapshot",
    "read_log",
    "unrecorded",
]

log = logging.getLogger(__name__)

Report = Callable[[str], None]

_RECENT = 500  # cycles remembered (without frames) so an overrule can copy their details
_TIMING_COLUMNS = ("cycle_ms", "grab_ms", "preprocess_ms", "inference_ms", "decode_ms", "match_ms")


@dataclass(frozen=True, slots=True)
class ResultsHealth:
    """Can the station still keep its records? Shown by the GUI, checked by the CLI."""

    ok: bool  # no rows waiting and the last write succeeded
    last_error: str  # the most recent failure (log or images); "" when none so far
    pending_rows: int  # rows kept in memory, waiting for the disk
    images_written: int
    images_dropped: int  # queue full or archive closed
    images_failed: int  # the writer could not write them


@dataclass(frozen=True, slots=True)
class Overrule:
    """An operator's correction of a past cycle, as written to the log."""

    row_id: str  # the new row's cycle_id
    overrules: str  # the corrected cycle's id
    verdict: Verdict  # the corrected verdict
    note: str
    timestamp: datetime
    review_image: str  # the png saved for retraining, "" when none


class ResultsRecorder:
    """CSV log + image archive + statistics behind one `record(result)` per cycle."""

    def __init__(
        self,
        settings: ResultsSettings,
        station: str,
        *,
        on_error: Report | None = None,
        on_notice: Report | None = None,
        on_warning: Report | None = None,
        statistics: Statistics | None = None,
        seed_statistics: bool = True,
        write_fn: WriteFn = os.write,  # test seam: the system call that writes log rows
    ) -> None:
        self.station = station
        self.log_dir, self.image_dir, self.review_dir = resolve_results_dirs(settings)
        self.policy = ArchivePolicy(settings.archive, settings.archive_every_n)
        self._on_error = on_error
        self._errors_lock = threading.Lock()
        self._last_error = ""
        self.statistics = statistics or Statistics(settings.statistics_window)
        self.log = ResultsLog(
            self.log_dir,
            on_error=self._error,
            on_notice=on_notice,
            on_warning=on_warning or on_error,  # not a failure: health.last_error stays
            write_fn=write_fn,
            station=station,
        )
        self.archive = ImageArchive(
            self.image_dir,
            image_format=settings.image_format,
            quality=settings.image_quality,
            queue_size=settings.archive_queue_size,
            on_error=self._error,
            station=station,
        )
        self._index = 0  # cycles recorded by this recorder (the every_n counter)
        self._recent: OrderedDict[str, CycleResult] = OrderedDict()
        self._recent_lock = threading.Lock()  # record() on the worker, overrule() on the GUI thread
        self._closed = False
        if seed_statistics:
            self._seed_from_today(on_notice)

    # per cycle ------------------------------------------------------------------------------

    def record(self, result: CycleResult, *, count: bool = True) -> CycleResult:
        """Archive (queued), log (on disk when this returns, or kept for retry), count.

        Returns the result with `image_path` set when an image was queued, and
        `times.log_ms` set to the time spent here (the one place the log stage is timed;
        it is not part of `total_ms`, which the row already carries). When the row could
        not be written, the result is ERROR (`unrecorded`): no record, no OK. `count=False`: a
        row that is no part on the line (an uploaded image), kept out of the shift statistics.
        """
        if self._closed:
            raise ResultsError("results recorder is closed; the cycle was not recorded")
        start = time.perf_counter()
        image_path = ""
        frame = result.frame
        if frame is not None and self.policy.wants(result.verdict, self._index):
            path = self.archive.path_for(result.cycle_id, result.verdict, result.timestamp)
            if self.archive.submit(frame.rgb, path):
                image_path = str(path)
        self._index += 1
        result = dataclasses.replace(result, image_path=image_path)
        refused: list[CycleResult] = []

        def as_error(reason: str) -> dict[str, str]:  # the row kept for the retry says ERROR too
            refused.append(unrecorded(result, reason))
            return cycle_row(refused[0], self.station)

        self.log.write(cycle_row(result, self.station), cycle_date(result.timestamp), if_refused=as_error)
        if refused:
            result = refused[0]
        row_written(self.station, cycle_row(result, self.station))  # the plant outbox: the row the CSV keeps
        elapsed = (time.perf_counter() - start) * 1000
        result = dataclasses.replace(result, times=dataclasses.replace(result.times, log_ms=elapsed))
        if count:
            self.statistics.add(result)
            self._remember(result)
        return result

    def overrule(
        self,
        cycle_id: str,
        corrected_verdict: Verdict | str,
        note: str = "",
        image: np.ndarray | None = None,
        detections: Iterable[Detection] | None = None,
    ) -> Overrule:
        """Log an operator's correction of `cycle_id` as a NEW row (past rows stay untouched).

        With `image`, also saves it (png + YOLO txt of the detections) to the review
        folder for retraining; `detections` default to the ones the cycle had, if it is
        one of the recent cycles of this recorder.
        """
        if self._closed:
            raise ResultsError("results recorder is closed; the overrule was not recorded")
        try:
            verdict = Verdict(str(corrected_verdict))
        except ValueError:
            raise ResultsError(
                f"overrule of {cycle_id}: expected a verdict OK, NOK or ERROR, got {corrected_verdict!r}"
            ) from None
        now = datetime.now().astimezone()
        with self._recent_lock:
            original = self._recent.get(cycle_id)
        if detections is None:
            detections = original.detections if original is not None else ()
        review = ""
        if image is not None:
            try:
                review = str(save_for_review(self.review_dir, image, cycle_id, verdict, detections, self.station))
            except ResultsError as exc:
                self._error(str(exc))  # the correction itself is still logged below
        row_id = f"{cycle_id}-overrule-{now:%H%M%S%f}"
        if original is not None:
            row = cycle_row(original, self.station)
            row.update(dict.fromkeys(_TIMING_COLUMNS, ""))
        else:
            row = {"pattern_set": "", "image_path": ""}
        row.update(
            timestamp=format_timestamp(now),
            cycle_id=row_id,
            station=self.station,
            verdict=str(verdict),
            image_path=review or row.get("image_path", ""),
            error="",
            trigger="operator",
            overrules=cycle_id,
            note=note,
        )
        self.log.write(row, cycle_date(now))
        row_written(self.station, row)
        self.statistics.add_overrule(str(verdict))
        return Overrule(row_id, cycle_id, verdict, note, now, review)

    # state ----------------------------------------------------------------------------------

    @property
    def health(self) -> ResultsHealth:
        pending = self.log.pending
        with self._errors_lock:
            last_error = self._last_error
        return ResultsHealth(
            ok=pending == 0,
            last_error=last_error,
            pending_rows=pending,
            images_written=self.archive.written,
            images_dropped=self.archive.dropped,
            images_failed=self.archive.failed,
        )

    def snapshot(self) -> StatisticsSnapshot:
        return self.statistics.snapshot()

    def retry(self) -> bool:
        """Write the rows waiting for the disk now (e.g. from a GUI 'retry' button)."""
        return self.log.retry()

    def close(self) -> None:
        """Write the queued images (joins the writer thread), retry waiting rows, release files.

        Raises ResultsError when rows still could not be written: the last loud report,
        so a headless run ends with an error instead of losing them quietly.
        """
        if self._closed:
            return
        self._closed = True
        self.archive.close()
        left = self.log.close()
        if left:
            rows = b"".join(self.log.unwritten_rows()).decode("utf-8", errors="replace")
            message = f"{self.log_dir}: {left} results row(s) could not be written:\n{rows}"
            self._error(message)
            raise ResultsError(message.splitlines()[0])

    def __enter__(self) -> ResultsRecorder:
        return self

    def __exit__(self, *exc_info) -> None:
        self.close()

    # internals ------------------------------------------------------------------------------

    def _remember(self, result: CycleResult) -> None:
        # without the frame: an overrule needs the details, not megabytes of pixels
        slim = dataclasses.replace(result, frame=None)
        with self._recent_lock:
            self._recent[result.cycle_id] = slim
            while len(self._recent) > _RECENT:
                self._recent.popitem(last=False)

    def _seed_from_today(self, on_notice: Report | None) -> None:
        today = datetime.now().astimezone().date()
        for path in log_files_for_day(self.log_dir, today, self.station):
            try:
                self.statistics.seed(read_log(path))
            except ResultsError as exc:  # statistics are a convenience: start anyway
                log.warning("%s", exc)
                if on_notice is not None:
                    on_notice(f"{exc}; statistics start without it")

    def _error(self, message: str) -> None:
        with self._errors_lock:
            self._last_error = message
        if self._on_error is not None:
            self._on_error(message)


def unrecorded(result: CycleResult, reason: str) -> CycleResult:
    """The cycle as the line gets it when its row cannot be written: ERROR, whatever was judged.

    `reason` names the file (ResultsLog.last_failure). The model's verdict stays in the
    error text, so the row written later by the retry says both what the line was told
    (ERROR) and what the model saw.
    """
    if result.verdict is Verdict.ERROR:
        error = f"{result.error}; results: {reason}; the row waits in memory"
    else:
        error = f"results: {reason}; the row waits in memory, so the line gets ERROR (the model said {result.verdict})"
    return dataclasses.replace(result, verdict=Verdict.ERROR, error=error)


def today_log_paths(settings: ResultsSettings, station: str = "") -> list[Path]:
    """Today's log files of `station` for these settings (base + `_vN`), for tools and the GUI."""
    log_dir = resolve_results_dirs(settings)[0]
    return log_files_for_day(log_dir, datetime.now().astimezone().date(), station)
