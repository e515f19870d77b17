"""Uploaded images (POST /inspect/image, the old /main and /inference) inspected beside the
line, never in its way.

An upload once ran on the station's inference thread: a 400 MP PNG held the next station
cycle for 4.6 s. Now:

- its header is sized before anything is decoded (`[camera] max_image_pixels`: 413);
- at most `[line] upload_queue` uploads are taken (one decoded and inspected at a time on
  the lane's own thread, at a lower OS priority; the others wait); one more is a 503;
- the model runs on it only while no station cycle runs, and a trigger arriving during
  that run stops it (onnxruntime's RunOptions.terminate, within ~2 ms); the upload runs
  again after the cycle. A station cycle therefore waits for an upload by that stop's
  latency at most (benchmarks/api_flood.py measures it).

Verdicts are counted (`inspection_station_uploads_total`), and written as CSV rows with
trigger "upload" when `[line] log_uploads` is set (never part of the shift statistics).
"""

from __future__ import annotations

import contextlib
import logging
import os
import sys
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from typing import TYPE_CHECKING, cast

import numpy as np

from inspection_station.core.cycle import CycleResult
from inspection_station.core.detect.letterbox import LetterboxBuffer
from inspection_station.core.errors import ModelError, StationError
from inspection_station.core.frame import Frame
from inspection_station.core.image_header import HEADER_BYTES, image_size
from inspection_station.core.line.records import decode_upload
from inspection_station.core.listeners import StationListener
from inspection_station.core.pipeline import Pipeline

if TYPE_CHECKING:
    from inspection_station.core.detect.detector import Detector, DetectorOutput
    from inspection_station.core.detect.runtimes import RunStop
    from inspection_station.core.patterns.model import PatternSet
    from inspection_station.core.station import Station

log = logging.getLogger(__name__)
MAX_YIELDS = 200  # a line cycling back to back for this many cycles leaves an upload unanswered
IDLE_POLL_S = 0.005


class UploadRefused(StationError):
    """An upload not taken: `status` is the HTTP answer (413 too large, 503 lane full)."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


def check_upload_header(head: bytes, name: str, max_pixels: int) -> None:
    """Refuse (413) an image whose header declares more than `max_pixels`, before decoding."""
    size = image_size(head[:HEADER_BYTES])
    if size is not None and size[0] * size[1] > max_pixels:
        w, h = size
        raise UploadRefused(413, f"upload {name!r}: {w} x {h} = {w * h / 1e6:.0f} MP declared by its header; "
                                 f"at most {max_pixels / 1e6:g} MP ([camera] max_image_pixels)")


class UploadLane(StationListener):
    def __init__(
        self,
        station: Station,
        *,
        queue_size: int = 2,
        log_rows: bool = False,
        on_result: Callable[[CycleResult], None] | None = None,
    ) -> None:
        self.station = station
        self.log_rows = log_rows
        self.on_result = on_result
        self._slots = threading.BoundedSemaphore(queue_size)
        self.queue_size = queue_size
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="upload")
        self._lock = threading.Lock()
        self._running: RunStop | None = None  # the stop of the upload's model run under way, if any
        self._buffers: dict[int, LetterboxBuffer] = {}  # per detector: the lane's own tensor
        self.yielded = 0  # model runs stopped for a station cycle (for tests and benchmarks)
        self.stop_latency_ms: list[float] = []  # trigger -> the upload's run returned, per stop
        self._stop_asked = 0.0
        self._closing = False

    # --- the API's side -----------------------------------------------------------------------

    def reserve(self) -> None:
        """Take a place in the lane before the body is read in; UploadRefused(503) when full."""
        if not self._slots.acquire(blocking=False):
            raise UploadRefused(503, f"{self.queue_size} uploads are being inspected or waiting "
                                     "([line] upload_queue); try again in a while")

    def release(self) -> None:
        self._slots.release()

    def submit(
        self, data: bytes, name: str, *, pattern_set: PatternSet | None = None, min_score: float = 0.0
    ) -> Future[CycleResult]:
        """Inspect an uploaded file's bytes (a place reserved); the place is freed when done.

        `pattern_set` / `min_score`: this upload's own (the old backend's per-request ones)."""
        try:
            check_upload_header(data, name, self.station.settings.camera.max_image_pixels)
            future = self._executor.submit(self._inspect, data, name, pattern_set, min_score)
        except BaseException:
            self.release()
            raise
        future.add_done_callback(lambda _f: self.release())
        return future

    def close(self) -> None:
        with self._lock:
            self._closing = True
            running = self._running
        if running is not None:
            running.stop()
        self._executor.shutdown(wait=True, cancel_futures=True)

    # --- the station's side (listener) ------------------------------------------------------------

    def cycle_started(self, source: str) -> None:
        """A station cycle takes the model: stop the upload's run now (it runs again after)."""
        with self._lock:
            running = self._running
            if running is not None:
                self._stop_asked = time.perf_counter()
        if running is not None:
            running.stop()

    # --- the lane's thread -----------------------------------------------------------------------

    def _inspect(self, data: bytes, name: str, pattern_set: PatternSet | None, min_score: float) -> CycleResult:
        _lower_own_priority()
        image = decode_upload(data, name)
        del data
        station = self.station
        current = station.pipeline
        detector = current.detector
        pipeline = Pipeline(
            cast("Detector", _GivingWay(detector, self)) if detector is not None else None,
            pattern_set or current.pattern_set,
            model_problem=current.model_problem,
            pattern_problem=current.pattern_problem,
        )
        frame = Frame(image, 0, time.time(), f"upload:{name}")
        result = pipeline.inspect(frame, trigger="upload", min_score=min_score)
        if self.log_rows and station.recorder is not None:
            try:
                result = station.recorder.record(result, count=False)
            except StationError as exc:
                log.error("upload %s: not logged: %s", name, exc)
        if self.on_result is not None:
            try:
                self.on_result(result)
            except Exception:  # a metrics bug must not lose the verdict
                log.exception("upload listener failed")
        return result

    def run_model(self, detector: Detector, tensor: np.ndarray) -> np.ndarray:
        """The model's output for the upload's tensor, run only while no station cycle runs."""
        from inspection_station.core.detect.runtimes import RunStop

        for _ in range(MAX_YIELDS):
            while self.station.cycling and not self._closing:
                time.sleep(IDLE_POLL_S)
            if self._closing:
                raise ModelError("the API is stopping; upload not inspected")
            stop = RunStop()
            with self._lock:
                self._running = stop
            try:
                if self.station.cycling:  # a trigger came between the wait and the registration
                    continue
                return detector.infer(tensor, stop)
            except ModelError:
                if not stop.requested:
                    raise
                self.yielded += 1  # stopped for a station cycle: wait for it, then again
                if len(self.stop_latency_ms) < 10_000:
                    self.stop_latency_ms.append((time.perf_counter() - self._stop_asked) * 1e3)
            finally:
                with self._lock:
                    self._running = None
        raise ModelError(f"the line kept the model busy through {MAX_YIELDS} cycles; upload not inspected")

    def buffer_for(self, detector: Detector) -> LetterboxBuffer:
        buffer = self._buffers.get(id(detector))
        if buffer is None or (buffer.in_w, buffer.in_h) != tuple(detector.input_size):
            self._buffers = {id(detector): LetterboxBuffer(*detector.input_size)}  # the newest model only
            buffer = self._buffers[id(detector)]
        return buffer


class _GivingWay:
    """The station's detector as the lane uses it: its own letterbox buffer, a model run that
    gives way to station cycles; everything else (name, provider, hash) is the detector's."""

    def __init__(self, detector: Detector, lane: UploadLane) -> None:
        self._detector = detector
        self._lane = lane

    def __getattr__(self, name: str):
        return getattr(self._detector, name)

    def detect_timed(self, image) -> DetectorOutput:
        from inspection_station.core.detect.detector import DetectorOutput

        det = self._detector
        t0 = time.perf_counter()
        tensor, box = det.preprocess(image, self._lane.buffer_for(det))
        t1 = time.perf_counter()
        out = self._lane.run_model(det, tensor)
        t2 = time.perf_counter()
        detections = det.decode(out, box)
        t3 = time.perf_counter()
        return DetectorOutput(detections, (t1 - t0) * 1e3, (t2 - t1) * 1e3, (t3 - t2) * 1e3)


def _lower_own_priority() -> None:
    """The lane's thread yields the CPU to the station's threads (decoding a big PNG takes seconds)."""
    if getattr(_lower_own_priority, "done", None) == threading.get_ident():
        return
    _lower_own_priority.done = threading.get_ident()  # type: ignore[attr-defined]
    with contextlib.suppress(Exception):  # best effort: a platform without it still works
        if sys.platform.startswith("linux"):
            os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), 10)  # this thread only (a Linux task)
        elif sys.platform == "win32":
            import ctypes

            kernel32 = ctypes.windll.kernel32  # type: ignore[attr-defined]
            kernel32.SetThreadPriority(kernel32.GetCurrentThread(), -1)  # THREAD_PRIORITY_BELOW_NORMAL

