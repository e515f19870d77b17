"""Running statistics of a station: what the old system exported as Prometheus counters.

Fed by the worker thread (one `add` per cycle), read by the GUI through `snapshot()` (a
frozen value, safe to hand across threads) and printed by the headless run through
`summary_lines()`. Plain Python and one lock: a cycle adds a handful of numbers.

Definitions (so the numbers can be checked by hand):
- yield = OK / (OK + NOK); ERROR cycles are left out of it and reported as error rate
  = ERROR / all cycles.
- cycle time percentiles use the nearest-rank method over the last `window` cycles:
  p-th percentile = the ceil(p/100 * n)-th smallest value.
- stage means are over the cycles since reset in which the stage ran (time > 0), so an
  ERROR cycle that never reached inference does not pull the inference mean down.
- overrules are counted, not applied: the per-verdict counts stay what the station decided.
  Beside the raw yield, corrected yield = (OK + overrules to OK - overrules to NOK) /
  (OK + NOK): what the yield is once the operators' corrections are believed. (An
  overrule to OK corrects a NOK, one to NOK corrects an OK: the only two corrections.)
"""

from __future__ import annotations

import json
import math
import threading
from collections import deque
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime

from inspection_station.core.cycle import CycleResult, Verdict

STAGES: tuple[str, ...] = ("grab", "preprocess", "inference", "decode", "match", "log")
PERCENTILES: tuple[int, ...] = (50, 90, 99)


@dataclass(frozen=True, slots=True)
class ClassStats:
    class_id: int
    name: str  # "" when only seen in the log (the log stores class ids)
    count: int
    min_score: float
    max_score: float


@dataclass(frozen=True)
class StatisticsSnapshot:
    cycles: int
    counts: dict[str, int]  # per verdict: "OK", "NOK", "ERROR"
    yield_ratio: float | None  # OK / (OK + NOK); None before the first OK/NOK cycle
    error_rate: float | None  # ERROR / cycles; None before the first cycle
    window: int  # cycles the percentiles are taken over
    percentiles_ms: dict[int, float]  # {50: .., 90: .., 99: ..}; empty without cycle times
    stage_means_ms: dict[str, float]  # only stages that ran at least once
    classes: tuple[ClassStats, ...]  # by class id
    refused_triggers: int
    overrules: int
    since: datetime  # start, or the last reset (a shift); the first cycle seeded from the log if earlier
    overrules_to: dict[str, int] | None = None  # corrected verdict -> count ("OK", "NOK")
    corrected_yield_ratio: float | None = None  # yield with the overrules applied
    seeded: int = 0  # of the cycles, those counted from the log at start-up (today's so far)

    @property
    def p50_ms(self) -> float | None:
        return self.percentiles_ms.get(50)

    @property
    def p90_ms(self) -> float | None:
        return self.percentiles_ms.get(90)

    @property
    def p99_ms(self) -> float | None:
        return self.percentiles_ms.get(99)


def nearest_rank(sorted_values: list[float], p: int) -> float:
    """The p-th percentile (nearest rank) of an ascending, non-empty list."""
    rank = max(1, math.ceil(p * len(sorted_values) / 100))
    return sorted_values[rank - 1]


def _float(text: str | None) -> float:
    try:
        return float(text) if text else 0.0
    except ValueError:
        return 0.0


def _timestamp(text: str | None) -> datetime | None:
    """A log row's ISO timestamp (with its UTC offset); None when missing or malformed."""
    try:
        stamp = datetime.fromisoformat(text) if text else None
    except ValueError:
        return None
    return stamp.astimezone() if stamp is not None and stamp.tzinfo is not None else None


class Statistics:
    _since: datetime  # set by reset(): the shift's start
    _seeded: int  # cycles counted from the log at start-up

    def __init__(self, window: int = 1000) -> None:
        self._lock = threading.Lock()
        self._window = max(1, window)
        self.reset()

    # feeding --------------------------------------------------------------------------------

    def add(self, result: CycleResult) -> None:
        """Count one recorded cycle."""
        t = result.times
        stages = {
            "grab": t.grab_ms,
            "preprocess": t.preprocess_ms,
            "inference": t.inference_ms,
            "decode": t.decode_ms,
            "match": t.match_ms,
            "log": t.log_ms,
        }
        dets = [(d.class_id, d.class_name, d.score) for d in result.detections]
        self._add(str(result.verdict), t.total_ms, stages, dets)

    def add_row(self, row: Mapping[str, str]) -> None:
        """Count one row of the results log (`read_log`); an overrule row counts as an overrule."""
        if row.get("overrules"):
            self.add_overrule(row.get("verdict", ""))
            return
        verdict = row.get("verdict", "")
        if verdict not in Verdict.__members__:
            return  # a row from some other file: not a cycle we can count
        stages = {s: _float(row.get(f"{s}_ms")) for s in STAGES}
        try:
            dets = [(int(d[0]), "", float(d[1])) for d in json.loads(row.get("detections") or "[]")]
        except (ValueError, TypeError, IndexError):
            dets = []
        self._add(verdict, _float(row.get("cycle_ms")), stages, dets)

    def seed(self, rows: Iterable[Mapping[str, str]]) -> int:
        """Count rows read from the log at start-up (today's so far); returns how many.

        The counts then cover the day since its first row: `since` moves back to it (the
        shift did not start when the station did)."""
        n = 0
        first: datetime | None = None
        for row in rows:
            self.add_row(row)
            n += 1
            if first is None:
                first = _timestamp(row.get("timestamp"))
        with self._lock:
            self._seeded += n
            if first is not None and first < self._since:
                self._since = first
        return n

    def add_refused_trigger(self) -> None:
        with self._lock:
            self._refused += 1

    def add_overrule(self, corrected: str = "") -> None:
        """One operator correction; `corrected` (OK / NOK) feeds the corrected yield."""
        with self._lock:
            self._overrules += 1
            if corrected in (Verdict.OK, Verdict.NOK):
                self._overrules_to[str(corrected)] += 1

    def reset(self) -> None:
        """Start over (a new shift)."""
        with self._lock:
            self._counts = {v.value: 0 for v in Verdict}
            self._times: deque[float] = deque(maxlen=self._window)
            self._stage_sum = dict.fromkeys(STAGES, 0.0)
            self._stage_n = dict.fromkeys(STAGES, 0)
            self._classes: dict[int, list] = {}  # id -> [name, count, min, max]
            self._refused = 0
            self._overrules = 0
            self._overrules_to = {Verdict.OK.value: 0, Verdict.NOK.value: 0}
            self._since = datetime.now().astimezone()
            self._seeded = 0

    def _add(self, verdict: str, total_ms: float, stages: Mapping[str, float], dets) -> None:
        with self._lock:
            self._counts[verdict] = self._counts.get(verdict, 0) + 1
            if total_ms > 0:
                self._times.append(float(total_ms))
            for stage, ms in stages.items():
                if ms > 0:
                    self._stage_sum[stage] += ms
                    self._stage_n[stage] += 1
            for class_id, name, score in dets:
                entry = self._classes.get(class_id)
                if entry is None:
                    self._classes[class_id] = [name, 1, score, score]
                else:
                    entry[0] = entry[0] or name
                    entry[1] += 1
                    entry[2] = min(entry[2], score)
                    entry[3] = max(entry[3], score)

    # reading --------------------------------------------------------------------------------

    def snapshot(self) -> StatisticsSnapshot:
        with self._lock:
            counts = dict(self._counts)
            times = sorted(self._times)
            stage_means = {
                s: self._stage_sum[s] / self._stage_n[s] for s in STAGES if self._stage_n[s]
            }
            classes = tuple(
                ClassStats(cid, e[0], e[1], float(e[2]), float(e[3]))
                for cid, e in sorted(self._classes.items())
            )
            refused, overrules, since, seeded = self._refused, self._overrules, self._since, self._seeded
            overrules_to = dict(self._overrules_to)
        cycles = sum(counts.values())
        decided = counts[Verdict.OK] + counts[Verdict.NOK]
        corrected_ok = counts[Verdict.OK] + overrules_to[Verdict.OK] - overrules_to[Verdict.NOK]
        return StatisticsSnapshot(
            cycles=cycles,
            counts=counts,
            yield_ratio=counts[Verdict.OK] / decided if decided else None,
            error_rate=counts[Verdict.ERROR] / cycles if cycles else None,
            window=len(times),
            percentiles_ms={p: nearest_rank(times, p) for p in PERCENTILES} if times else {},
            stage_means_ms=stage_means,
            classes=classes,
            refused_triggers=refused,
            overrules=overrules,
            since=since,
            overrules_to=overrules_to,
            corrected_yield_ratio=min(1.0, max(0.0, corrected_ok / decided)) if decided else None,
            seeded=seeded,
        )

    def summary_lines(self) -> list[str]:
        """Human-readable end-of-run summary (headless run), with the per-stage breakdown."""
        s = self.snapshot()
        c = s.counts
        pct = lambda r: "-" if r is None else f"{100 * r:.1f} %"  # noqa: E731
        lines = [
            f"cycles: {s.cycles}  (OK {c['OK']}, NOK {c['NOK']}, ERROR {c['ERROR']})",
            f"yield: {pct(s.yield_ratio)}  corrected yield: {pct(s.corrected_yield_ratio)}"
            f"  error rate: {pct(s.error_rate)}",
        ]
        if s.percentiles_ms:
            parts = "  ".join(f"p{p} {v:.1f}" for p, v in s.percentiles_ms.items())
            lines.append(f"cycle time ms (last {s.window}): {parts}")
        if s.stage_means_ms:
            parts = "  ".join(f"{k} {v:.1f}" for k, v in s.stage_means_ms.items())
            lines.append(f"stage means ms: {parts}")
        for k in s.classes:
            label = f"{k.class_id} {k.name}".rstrip()
            lines.append(f"class {label}: {k.count} detections, score {k.min_score:.2f}..{k.max_score:.2f}")
        lines.append(f"refused triggers: {s.refused_triggers}  overrules: {s.overrules}")
        return lines
