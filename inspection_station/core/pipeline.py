"""One inspection cycle: frame -> detect -> match -> record, each stage timed.

Any failure (camera, model, pattern, file) yields an ERROR result that carries the
reason: a cycle that failed is never OK. So is a cycle whose row cannot be written (full
disk, read-only folder): the recorder returns it as ERROR naming the file, keeps the row
(saying ERROR too) for the retry and reports the problem on its own error route.
"""

from __future__ import annotations

import dataclasses
import itertools
import time
from datetime import datetime
from typing import Protocol

from inspection_station.core.cycle import CycleResult, StageTimes, Verdict
from inspection_station.core.detect.detector import Detector
from inspection_station.core.errors import StationError
from inspection_station.core.fingerprints import pattern_set_hash, short
from inspection_station.core.frame import Frame
from inspection_station.core.patterns.matching import match_pattern
from inspection_station.core.patterns.model import PatternSet
from inspection_station.core.trace.part_id import PartIdPolicy


class Recorder(Protocol):
    def record(self, result: CycleResult) -> CycleResult: ...

    def close(self) -> None: ...


_sequence = itertools.count(1)


def new_cycle_id(now: datetime) -> str:
    """Sortable, unique within a process and, by the milliseconds, across restarts."""
    return f"{now:%Y%m%d-%H%M%S}-{now.microsecond // 1000:03d}-{next(_sequence) % 10000:04d}"


class Pipeline:
    """The cycle's logic with no threads and no camera: feed it a frame (or a grab failure)."""

    def __init__(
        self,
        detector: Detector | None,
        pattern_set: PatternSet | None,
        recorder: Recorder | None = None,
        *,
        model_problem: str = "",
        pattern_problem: str = "",
    ) -> None:
        self.detector = detector
        self.pattern_set = pattern_set
        self.recorder = recorder
        self.model_problem = model_problem  # why there is no detector, for ERROR cycles
        self.pattern_problem = pattern_problem
        self.part_id_policy: PartIdPolicy | None = None  # None = no part ids
        self._pattern_hash: tuple[PatternSet, str] | None = None
        self.recipe: tuple[str, str] = ("", "")  # (name, version) of the recipe in force, for the row

    def inspect(
        self,
        frame: Frame | None,
        *,
        grab_error: str = "",
        grab_ms: float | None = None,
        trigger: str = "software",
        started: float | None = None,
        part_id: str = "",
        pattern_set: PatternSet | None = None,
        min_score: float = 0.0,
    ) -> CycleResult:
        """Run one cycle on `frame`; `started` is the perf_counter() of the trigger.

        `grab_ms` is the grab as the caller saw it; None = the camera's own `frame.grab_ms`.
        `part_id` is the id typed or scanned for this part ("" = none / decode it).
        `pattern_set` and `min_score` (drop detections scoring less) are one cycle's own, as the
        old backend took them per request (core/line/legacy.py); None / 0 = the station's.
        """
        result, recorder = self._judge(frame, grab_error, grab_ms, trigger, started, part_id, pattern_set, min_score)
        return recorder.record(result) if recorder is not None else result

    def judge(
        self,
        frame: Frame | None,
        *,
        grab_error: str = "",
        grab_ms: float | None = None,
        trigger: str = "software",
        started: float | None = None,
        part_id: str = "",
        pattern_set: PatternSet | None = None,
        min_score: float = 0.0,
    ) -> tuple[CycleResult, Recorder | None]:
        """`inspect` without the recording: the verdict and the recorder to record it with
        (read at the start, as `inspect` does). The overlapped cycle (core/overlap.py)
        records on its own thread while the model runs on the next frame."""
        return self._judge(frame, grab_error, grab_ms, trigger, started, part_id, pattern_set, min_score)

    def _judge(
        self, frame, grab_error, grab_ms, trigger, started, part_id,
        pattern_set: PatternSet | None = None, min_score: float = 0.0,
    ) -> tuple[CycleResult, Recorder | None]:
        started = time.perf_counter() if started is None else started
        now = datetime.now().astimezone()
        # Read once: another thread may swap the model or pattern set while this cycle runs.
        det, patterns, recorder, recipe = self.detector, pattern_set or self.pattern_set, self.recorder, self.recipe
        base = CycleResult(
            cycle_id=new_cycle_id(now),
            timestamp=now,
            verdict=Verdict.ERROR,
            pattern_set=patterns.name if patterns else "",
            frame=frame,
            image_size=(frame.width, frame.height) if frame is not None else None,
            model=det.model_path.name if det else "",
            provider=det.provider if det else "",
            trigger=trigger,
            part_id=part_id,
            model_sha256=self._model_sha(det),
            pattern_hash=self._pattern_sha(patterns),
            recipe=recipe[0],
            recipe_version=recipe[1],
        )
        if grab_ms is None:
            grab_ms = frame.grab_ms if frame is not None else 0.0
        times = {"grab_ms": grab_ms}
        result = self._decide(base, frame, grab_error, times, det, patterns, min_score)
        # Measured once: trigger -> verdict. The CSV row carries this total, so it cannot
        # include its own write; the recorder adds that as `log_ms`, outside the total.
        result = dataclasses.replace(result, times=StageTimes(**times, total_ms=_ms_since(started)))
        return result, recorder

    def _decide(
        self,
        base: CycleResult,
        frame: Frame | None,
        grab_error: str,
        times: dict,
        detector: Detector | None,
        pattern_set: PatternSet | None,
        min_score: float = 0.0,
    ) -> CycleResult:
        if frame is None:
            return dataclasses.replace(base, error=f"camera: {grab_error or 'no frame'}")
        policy = self.part_id_policy
        if policy is not None and policy.enabled:
            outcome = policy.decide(base.part_id, frame.image)
            base = dataclasses.replace(base, part_id=outcome.part_id)
            if outcome.error:
                return dataclasses.replace(base, error=outcome.error)
        if detector is None:
            return dataclasses.replace(base, error=f"model: {self.model_problem or 'no model loaded'}")
        if pattern_set is None:
            return dataclasses.replace(base, error=f"pattern: {self.pattern_problem or 'no pattern set loaded'}")
        try:
            out = detector.detect_timed(frame.rgb)
        except Exception as exc:  # any failure of the stage is this cycle's ERROR, never a crash
            return dataclasses.replace(base, error=f"model: {_reason(exc)}")
        times.update(preprocess_ms=out.preprocess_ms, inference_ms=out.inference_ms, decode_ms=out.decode_ms)
        detections = tuple(d for d in out.detections if d.score >= min_score)
        t = time.perf_counter()
        try:
            match = match_pattern(pattern_set, detections, frame.width, frame.height)
        except Exception as exc:
            return dataclasses.replace(base, detections=detections, error=f"pattern: {_reason(exc)}")
        times["match_ms"] = _ms_since(t)
        return dataclasses.replace(base, verdict=match.verdict, detections=detections, match=match)

    @staticmethod
    def _model_sha(detector: Detector | None) -> str:
        """The detector's file hash (the station computes it at load, off the cycle's path)."""
        if detector is None:
            return ""
        try:
            return short(detector.model_sha256)
        except (OSError, StationError):  # the file went away (or is no file now) before it was hashed
            return ""

    def _pattern_sha(self, pattern_set: PatternSet | None) -> str:
        if pattern_set is None:
            return ""
        cached = self._pattern_hash
        if cached is None or cached[0] is not pattern_set:  # hashed once per loaded set
            cached = self._pattern_hash = (pattern_set, short(pattern_set_hash(pattern_set)))
        return cached[1]


def _reason(exc: Exception) -> str:
    return str(exc) if isinstance(exc, StationError) else f"{type(exc).__name__}: {exc}"


def _ms_since(t: float) -> float:
    return (time.perf_counter() - t) * 1e3
