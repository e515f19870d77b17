"""The cycle in three stages on three threads, overlapped for line rate (or not).

    grab     a software trigger asks the camera for a frame (a hardware trigger brings one)
    judge    preprocess, infer, decode, match: `Pipeline.judge` (the inference thread)
    record   CSV row, archive queue, statistics, then the result is published

Strictly sequential (`[station] cycle = "sequential"`, the default), a trigger is refused
while any stage of the previous cycle runs. Overlapped (`"overlapped"`), while the model
runs on frame n the camera may grab frame n+1 and the recorder writes row n-1: a trigger
is accepted when no other frame is being grabbed or waiting for the model (the intake),
so on a hardware-triggered line the next part's grab and the previous part's row overlap
with inference. What stays as in the sequential cycle:

- verdicts are published in trigger order: one thread per stage, each first in first out;
- one row per accepted trigger (ERROR cycles included), none for a refused one;
- a refused trigger stays refused (counted by the caller), never queued: at most one frame
  waits for the model.

`CycleResult.times.total_ms` stays trigger -> verdict, so in overlapped mode it includes
the wait for the model (the latency the line sees); `grab_ms` is the grab alone.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass

from inspection_station.core.cycle import CycleResult
from inspection_station.core.frame import Frame

log = logging.getLogger(__name__)

MODES = ("sequential", "overlapped")


@dataclass(frozen=True)
class Grabbed:
    """What the grab stage hands on: a frame, or why there is none."""

    frame: Frame | None
    error: str = ""
    grab_ms: float | None = None  # None: the frame's own grab_ms


GrabFn = Callable[[], Grabbed]
# judge(grabbed, source, started, part_id, options) -> (result without its row, the function that
# records it); options: the cycle's own (pattern set, min score), the old API's per-request ones
JudgeFn = Callable[..., tuple[CycleResult, Callable[[CycleResult], CycleResult] | None]]
PublishFn = Callable[[CycleResult], CycleResult]  # after the row: history, listeners; returns the final result


class CycleScheduler:
    """Runs accepted cycles through grab -> judge -> record; refuses what does not fit."""

    def __init__(self, *, grab: GrabFn, judge: JudgeFn, publish: PublishFn, mode: str = "sequential") -> None:
        if mode not in MODES:
            raise ValueError(f"cycle mode: expected one of {', '.join(MODES)}, got {mode!r}")
        self.mode = mode
        self._grab, self._judge, self._publish = grab, judge, publish
        self._lock = threading.Lock()
        self._in_flight = 0  # accepted, not yet published
        self._intake_taken = False  # a frame is being grabbed or waits for the model
        self._closed = False
        self._grabber = ThreadPoolExecutor(1, thread_name_prefix="cycle-grab")
        self._judger = ThreadPoolExecutor(1, thread_name_prefix="inference")
        self._recorder = ThreadPoolExecutor(1, thread_name_prefix="cycle-record")

    @property
    def overlapped(self) -> bool:
        return self.mode == "overlapped"

    @property
    def busy(self) -> bool:
        """A trigger now would be refused."""
        with self._lock:
            return self._refuses()

    @property
    def in_flight(self) -> int:
        return self._in_flight

    def _refuses(self) -> bool:
        return self._closed or (self._intake_taken if self.overlapped else self._in_flight > 0)

    def trigger(
        self, source: str, started: float | None = None, grabbed: Grabbed | None = None, part_id: str = "",
        options: tuple = (None, 0.0),
    ) -> Future | None:
        """Accept a cycle (None = refused: the caller counts it). `grabbed` = the frame of a
        hardware trigger, already taken; else the grab stage asks the camera for one.
        `part_id`: the id typed or scanned for this part, taken at the trigger."""
        started = time.perf_counter() if started is None else started
        with self._lock:
            if self._refuses():
                return None
            self._in_flight += 1
            self._intake_taken = True
        future: Future = Future()
        future.set_running_or_notify_cancel()
        try:
            if grabbed is None:
                self._grabber.submit(self._grab_stage, future, source, started, part_id, options)
            else:
                self._judger.submit(self._judge_stage, future, grabbed, source, started, part_id, options)
        except RuntimeError:  # closed meanwhile
            self._done()
            return None
        return future

    @property
    def record_stage(self) -> ThreadPoolExecutor:
        """The record stage's thread: work submitted here runs between two rows, in order
        (the station swaps its results log there)."""
        return self._recorder

    def close(self) -> None:
        """Finish the cycles accepted so far (every accepted trigger gets its row), then stop."""
        with self._lock:
            self._closed = True
        for executor in (self._grabber, self._judger, self._recorder):
            executor.shutdown(wait=True)

    # --- stages -------------------------------------------------------------------------------

    def _grab_stage(self, future: Future, source: str, started: float, part_id: str, options: tuple) -> None:
        try:
            grabbed = self._grab()
        except Exception as exc:  # noqa: BLE001 - a grab failure is this cycle's ERROR row
            grabbed = Grabbed(None, str(exc) or type(exc).__name__)
        self._submit(self._judger, future, self._judge_stage, future, grabbed, source, started, part_id, options)

    def _judge_stage(
        self, future: Future, grabbed: Grabbed, source: str, started: float, part_id: str, options: tuple = (None, 0.0)
    ) -> None:
        if self.overlapped:
            with self._lock:
                self._intake_taken = False  # the model has this frame: the camera may grab the next
        try:
            extra = (options,) if options != (None, 0.0) else ()  # a judge without options takes four
            result, record = self._judge(grabbed, source, started, part_id, *extra)
        except BaseException as exc:  # noqa: BLE001 - handed to the caller's future
            self._fail(future, exc)
            return
        self._submit(self._recorder, future, self._record_stage, future, result, record)

    def _record_stage(self, future: Future, result: CycleResult, record) -> None:
        try:
            if record is not None:
                result = record(result)
            result = self._publish(result)
        except BaseException as exc:  # noqa: BLE001 - handed to the caller's future
            self._fail(future, exc)
            return
        self._done()
        future.set_result(result)

    def _submit(self, executor: ThreadPoolExecutor, future: Future, fn, *args) -> None:
        try:
            executor.submit(fn, *args)
        except RuntimeError as exc:  # shut down under us: the cycle still ends, never hangs
            self._fail(future, exc)

    def _fail(self, future: Future, exc: BaseException) -> None:
        self._done()
        future.set_exception(exc)

    def _done(self) -> None:
        with self._lock:
            self._in_flight -= 1
            if self._in_flight == 0 or not self.overlapped:
                self._intake_taken = False
