"""Running statistics against hand-computed values."""

from __future__ import annotations

from datetime import date, datetime

import pytest

from inspection_station.core.cycle import CycleResult, StageTimes, Verdict
from inspection_station.core.detection import Detection
from inspection_station.core.results.csv_log import ResultsLog, cycle_row, read_log
from inspection_station.core.results.statistics import Statistics, nearest_rank


def cycle(verdict: Verdict, total_ms: float, dets=(), **stages) -> CycleResult:
    return CycleResult(
        cycle_id=f"c{total_ms}",
        timestamp=datetime(2026, 11, 24, 10).astimezone(),
        verdict=verdict,
        detections=tuple(dets),
        times=StageTimes(total_ms=total_ms, **stages),
    )


@pytest.mark.parametrize(
    "values, p, expected",
    [
        (list(range(1, 101)), 50, 50),
        (list(range(1, 101)), 90, 90),
        (list(range(1, 101)), 99, 99),
        ([10.0, 20.0, 30.0, 40.0], 50, 20.0),  # ceil(0.5 * 4) = 2nd
        ([10.0, 20.0, 30.0, 40.0], 90, 40.0),  # ceil(0.9 * 4) = 4th
        ([7.0], 99, 7.0),
    ],
)
def test_nearest_rank(values, p, expected):
    assert nearest_rank(values, p) == expected


def test_counts_yield_error_rate_and_percentiles():
    stats = Statistics()
    # 6 OK, 2 NOK, 2 ERROR; cycle times 10, 20, ..., 100 ms
    verdicts = [Verdict.OK] * 6 + [Verdict.NOK] * 2 + [Verdict.ERROR] * 2
    for i, v in enumerate(verdicts):
        stats.add(cycle(v, 10.0 * (i + 1)))
    s = stats.snapshot()
    assert s.cycles == 10
    assert s.counts == {"OK": 6, "NOK": 2, "ERROR": 2}
    assert s.yield_ratio == pytest.approx(6 / 8)
    assert s.error_rate == pytest.approx(2 / 10)
    assert (s.p50_ms, s.p90_ms, s.p99_ms) == (50.0, 90.0, 100.0)
    assert s.window == 10


def test_percentiles_cover_only_the_last_window():
    stats = Statistics(window=10)
    for ms in range(1, 21):
        stats.add(cycle(Verdict.OK, float(ms)))
    s = stats.snapshot()
    assert s.cycles == 20 and s.window == 10
    assert (s.p50_ms, s.p90_ms, s.p99_ms) == (15.0, 19.0, 20.0)  # over 11..20


def test_stage_means_skip_stages_that_did_not_run():
    stats = Statistics()
    stats.add(cycle(Verdict.OK, 30.0, grab_ms=10.0, inference_ms=12.0, match_ms=1.0))
    stats.add(cycle(Verdict.OK, 40.0, grab_ms=20.0, inference_ms=18.0, match_ms=2.0))
    stats.add(cycle(Verdict.ERROR, 5.0, grab_ms=3.0))  # camera ok, model failed
    means = stats.snapshot().stage_means_ms
    assert means == pytest.approx({"grab": 11.0, "inference": 15.0, "match": 1.5})


def test_per_class_counts_and_score_range():
    stats = Statistics()
    box = (0.0, 0.0, 1.0, 1.0)
    stats.add(cycle(Verdict.OK, 1.0, [Detection(1, "nut", 0.9, box), Detection(0, "screw", 0.4, box)]))
    stats.add(cycle(Verdict.OK, 1.0, [Detection(1, "nut", 0.6, box), Detection(1, "nut", 0.95, box)]))
    (screw, nut) = stats.snapshot().classes
    assert (screw.class_id, screw.name, screw.count, screw.min_score, screw.max_score) == (0, "screw", 1, 0.4, 0.4)
    assert (nut.class_id, nut.name, nut.count, nut.min_score, nut.max_score) == (1, "nut", 3, 0.6, 0.95)


def test_refused_overrules_and_reset():
    stats = Statistics()
    stats.add(cycle(Verdict.NOK, 1.0))
    stats.add_refused_trigger()
    stats.add_refused_trigger()
    stats.add_overrule()
    s = stats.snapshot()
    assert (s.refused_triggers, s.overrules, s.counts["NOK"]) == (2, 1, 1)
    stats.reset()
    s = stats.snapshot()
    assert (s.cycles, s.refused_triggers, s.overrules, s.yield_ratio, s.error_rate) == (0, 0, 0, None, None)
    assert s.percentiles_ms == {} and s.stage_means_ms == {} and s.classes == ()


def test_seeding_from_the_log_matches_live_counting(tmp_path):
    box = (1.0, 2.0, 3.0, 4.0)
    results = [
        cycle(Verdict.OK, 20.0, [Detection(0, "screw", 0.8, box)], grab_ms=5.0, inference_ms=10.0),
        cycle(Verdict.NOK, 30.0, [Detection(0, "screw", 0.5, box)], grab_ms=7.0, inference_ms=14.0),
        cycle(Verdict.ERROR, 10.0, grab_ms=9.0),
    ]
    live = Statistics()
    log = ResultsLog(tmp_path)
    for r in results:
        live.add(r)
        log.write(cycle_row(r, "s1"), date(2026, 11, 24))
    log.write({"cycle_id": "x", "verdict": "OK", "overrules": "c20.0"}, date(2026, 11, 24))
    log.close()

    seeded = Statistics()
    assert seeded.seed(read_log(tmp_path / "2026-11-24.csv")) == 4
    a, b = live.snapshot(), seeded.snapshot()
    assert (b.counts, b.percentiles_ms) == (a.counts, a.percentiles_ms)
    assert b.stage_means_ms == pytest.approx(a.stage_means_ms)
    assert b.overrules == 1
    assert [(c.class_id, c.count, c.min_score, c.max_score) for c in b.classes] == [(0, 2, 0.5, 0.8)]


def test_a_shift_seeded_from_the_log_starts_at_its_first_row_not_at_the_station_start():
    from datetime import datetime, timedelta

    stats = Statistics()
    started = stats.snapshot().since
    early = (started - timedelta(hours=3)).replace(microsecond=0)
    rows = [{"timestamp": early.isoformat(), "cycle_id": "a", "verdict": "OK"},
            {"timestamp": "not a time", "cycle_id": "b", "verdict": "NOK"}]
    assert stats.seed(rows) == 2
    snap = stats.snapshot()
    assert snap.since == early and snap.seeded == 2 and snap.cycles == 2
    stats.reset()
    assert stats.snapshot().since >= started and stats.snapshot().seeded == 0
    stats.seed([{"timestamp": (datetime.now().astimezone() + timedelta(hours=1)).isoformat(), "verdict": "OK"}])
    assert stats.snapshot().since <= datetime.now().astimezone()  # a later row never moves it forward


def test_summary_lines_show_the_stage_breakdown():
    stats = Statistics()
    stats.add(cycle(Verdict.OK, 40.0, [Detection(0, "screw", 0.7, (0, 0, 1, 1))], grab_ms=10.0, preprocess_ms=2.0,
                    inference_ms=20.0, decode_ms=1.0, match_ms=0.5, log_ms=0.75))
    stats.add(cycle(Verdict.NOK, 60.0))
    text = "\n".join(stats.summary_lines())
    assert "cycles: 2  (OK 1, NOK 1, ERROR 0)" in text
    assert "yield: 50.0 %" in text and "error rate: 0.0 %" in text
    assert "p50 40.0  p90 60.0  p99 60.0" in text
    assert "stage means ms: grab 10.0  preprocess 2.0  inference 20.0  decode 1.0  match 0.5  log 0.8" in text
    assert "class 0 screw: 1 detections, score 0.70..0.70" in text
    assert "refused triggers: 0  overrules: 0" in text
