"""ResultsRecorder: one call per cycle -> CSV row, archived image, statistics; overrules; faults."""

from __future__ import annotations

import errno
import os
import threading
from datetime import datetime

import numpy as np
import pytest

from inspection_station.core.cycle import CycleResult, StageTimes, Verdict
from inspection_station.core.detection import Detection
from inspection_station.core.errors import ResultsError
from inspection_station.core.frame import Frame
from inspection_station.core.patterns.matching import MatchResult, SlotResult
from inspection_station.core.results.csv_log import log_files_for_day, read_log
from inspection_station.core.results.recorder import ResultsRecorder
from inspection_station.core.settings.model import ResultsSettings

VERDICTS = [Verdict.OK, Verdict.NOK, Verdict.OK, Verdict.ERROR, Verdict.OK, Verdict.OK, Verdict.NOK]


def settings(tmp_path, **changes) -> ResultsSettings:
    base = {
        "log_dir": str(tmp_path / "results"),
        "image_dir": str(tmp_path / "images"),
        "review_dir": str(tmp_path / "review"),
        "image_format": "png",
    }
    return ResultsSettings(**{**base, **changes})


def make_result(i: int, verdict: Verdict = Verdict.OK, *, with_frame: bool = True) -> CycleResult:
    image = np.full((16, 20, 3), i % 256, np.uint8)
    frame = Frame(image, i, 0.0, "test") if with_frame else None
    dets = (Detection(0, "screw", 0.9, (1.0, 2.0, 5.0, 6.0)),)
    return CycleResult(
        cycle_id=f"20261124-{i:04d}",
        timestamp=datetime.now().astimezone(),
        verdict=verdict,
        pattern_set="board",
        frame=frame,
        detections=dets,
        times=StageTimes(grab_ms=2.0, inference_ms=8.0, total_ms=12.0 + i),
        model="demo.onnx",
        provider="CPUExecutionProvider",
        error="camera timeout" if verdict is Verdict.ERROR else "",
    )


def today_rows(rec: ResultsRecorder) -> list[dict[str, str]]:
    files = log_files_for_day(rec.log_dir, datetime.now().astimezone().date(), rec.station)
    return [row for f in files for row in read_log(f)]


def test_record_writes_one_row_per_cycle_and_returns_the_image_path(tmp_path):
    rec = ResultsRecorder(settings(tmp_path, archive="all"), "station-9")
    returned = [rec.record(make_result(i, v)) for i, v in enumerate(VERDICTS)]
    rows = today_rows(rec)  # on disk as soon as record() returned
    assert [r["cycle_id"] for r in rows] == [r.cycle_id for r in returned]
    assert [r["verdict"] for r in rows] == [str(v) for v in VERDICTS]
    assert all(r["station"] == "station-9" for r in rows)
    assert [r["image_path"] for r in rows] == [r.image_path for r in returned]
    assert all(r.times.log_ms > 0 for r in returned)
    rec.close()
    assert all(os.path.isfile(r.image_path) for r in returned)
    assert returned[3].image_path.endswith("20261124-0003_ERROR.png")


def test_match_details_reach_the_row(tmp_path):
    slot = lambda i, matched, name=None: SlotResult(i, i, name, matched, 0 if matched else None, (0, 0, 1, 1), (0, 0, 1, 1))  # noqa: E731
    match = MatchResult("variant_b", 1, 3, False, (slot(0, True), slot(1, False), slot(2, False, "left clip")), (), {})
    rec = ResultsRecorder(settings(tmp_path, archive="none"), "s")
    rec.record(CycleResult("c1", datetime.now().astimezone(), Verdict.NOK, "board", match=match))
    rec.close()
    (row,) = today_rows(rec)
    assert (row["variant"], row["filled"], row["expected"]) == ("variant_b", "1", "3")
    assert row["missing_slots"] == "1:1;left clip"


@pytest.mark.parametrize(
    "archive, expected",
    [
        ("all", {0, 1, 2, 3, 4, 5, 6}),
        ("every_n", {0, 3, 6}),
        ("failed", {1, 3, 6}),
        ("none", set()),
        ("every_n_and_failed", {0, 1, 3, 6}),
    ],
)
def test_archive_policies_write_exactly_the_expected_files(tmp_path, archive, expected):
    rec = ResultsRecorder(settings(tmp_path, archive=archive, archive_every_n=3), "s")
    results = [rec.record(make_result(i, v)) for i, v in enumerate(VERDICTS)]
    rec.close()
    day = datetime.now().astimezone().date().isoformat()
    want = {f"s_20261124-{i:04d}_{VERDICTS[i]}.png" for i in expected}  # the station "s" first
    folder = tmp_path / "images" / day
    written = {p.name for p in folder.iterdir()} if folder.exists() else set()
    assert written == want
    assert {i for i, r in enumerate(results) if r.image_path} == expected
    assert rec.health.images_written == len(expected)


def test_a_cycle_without_a_frame_logs_without_an_image(tmp_path):
    rec = ResultsRecorder(settings(tmp_path, archive="all"), "s")
    out = rec.record(make_result(0, Verdict.ERROR, with_frame=False))
    rec.close()
    assert out.image_path == ""
    assert today_rows(rec)[0]["error"] == "camera timeout"


def test_overrule_is_a_new_row_referencing_the_original(tmp_path):
    rec = ResultsRecorder(settings(tmp_path, archive="failed"), "s")
    original = rec.record(make_result(1, Verdict.NOK))
    before = today_rows(rec)
    image = np.full((16, 20, 3), 99, np.uint8)
    o = rec.overrule(original.cycle_id, "OK", note="clip was there, glare", image=image)
    rows = today_rows(rec)
    assert rows[:1] == before  # the original row is untouched
    assert len(rows) == 2
    new = rows[1]
    assert new["overrules"] == original.cycle_id and new["cycle_id"] == o.row_id != original.cycle_id
    assert (new["verdict"], new["note"], new["trigger"]) == ("OK", "clip was there, glare", "operator")
    assert new["pattern_set"] == "board" and new["detections"] == before[0]["detections"]
    assert new["image_path"] == o.review_image
    review = tmp_path / "review" / f"s_{original.cycle_id}_OK.png"
    assert o.review_image == str(review) and review.is_file()
    assert review.with_suffix(".txt").read_text().startswith("0 ")
    assert rec.snapshot().overrules == 1
    assert rec.snapshot().counts == {"OK": 0, "NOK": 1, "ERROR": 0}  # counted, not applied
    rec.close()


def test_overrule_of_an_unknown_cycle_and_a_bad_verdict(tmp_path):
    rec = ResultsRecorder(settings(tmp_path), "s")
    rec.overrule("yesterday-0042", Verdict.NOK, note="found later")
    with pytest.raises(ResultsError, match="expected a verdict"):
        rec.overrule("x", "MAYBE")
    rec.close()
    (row,) = today_rows(rec)
    assert (row["overrules"], row["verdict"], row["image_path"]) == ("yesterday-0042", "NOK", "")


def test_statistics_are_fed_and_seeded_from_todays_log(tmp_path):
    rec = ResultsRecorder(settings(tmp_path, archive="none"), "s")
    for i, v in enumerate(VERDICTS):
        rec.record(make_result(i, v))
    rec.statistics.add_refused_trigger()
    rec.close()
    s = rec.snapshot()
    assert s.counts == {"OK": 4, "NOK": 2, "ERROR": 1}
    assert s.yield_ratio == pytest.approx(4 / 6)

    restarted = ResultsRecorder(settings(tmp_path, archive="none"), "s")
    s2 = restarted.snapshot()
    assert s2.counts == s.counts and s2.percentiles_ms == s.percentiles_ms
    assert s2.refused_triggers == 0  # not in the log: a restart starts that count afresh
    restarted.close()


class FullDisk:
    def __init__(self) -> None:
        self.full = False

    def __call__(self, fd: int, data: bytes) -> int:
        if self.full:
            raise OSError(errno.ENOSPC, "No space left on device")
        return os.write(fd, data)


def test_a_cycle_whose_row_cannot_be_written_is_error_and_its_kept_row_says_so(tmp_path):
    errors: list[str] = []
    disk = FullDisk()
    rec = ResultsRecorder(settings(tmp_path, archive="none"), "s", on_error=errors.append, write_fn=disk)
    assert rec.record(make_result(0)).verdict is Verdict.OK
    disk.full = True
    out = rec.record(make_result(1, Verdict.NOK))
    path = rec.log_dir / f"s_{out.timestamp.astimezone().date().isoformat()}.csv"
    # no record, no OK (nor NOK): the line, the PLC outputs and the API read this result
    assert out.verdict is Verdict.ERROR
    assert out.error == (f"results: {path}: cannot write the results log: No space left on device; "
                         "the row waits in memory, so the line gets ERROR (the model said NOK)")
    assert rec.record(make_result(2)).verdict is Verdict.ERROR
    health = rec.health
    assert (health.ok, health.pending_rows) == (False, 2)
    assert "No space left on device" in health.last_error and errors[-1] == health.last_error
    snap = rec.snapshot()
    assert (snap.cycles, snap.counts["ERROR"]) == (3, 2)
    disk.full = False
    rec.close()  # the last retry lands the waiting rows: they say what the line was told
    rows = today_rows(rec)
    assert [r["cycle_id"] for r in rows] == [f"20261124-{i:04d}" for i in range(3)]
    assert [r["verdict"] for r in rows] == ["OK", "ERROR", "ERROR"]
    assert rows[1]["error"] == out.error and rows[2]["error"].endswith("(the model said OK)")
    assert rec.health.ok


def test_close_raises_when_rows_are_still_unwritten(tmp_path):
    errors: list[str] = []
    disk = FullDisk()
    rec = ResultsRecorder(settings(tmp_path, archive="none"), "s", on_error=errors.append, write_fn=disk)
    disk.full = True
    rec.record(make_result(0))
    with pytest.raises(ResultsError, match="1 results row"):
        rec.close()
    assert "20261124-0000" in errors[-1]  # the rows themselves are in the last report


def test_unwritable_log_folder_at_start_up(tmp_path):
    blocker = tmp_path / "blocker"
    blocker.write_bytes(b"a file where the log folder's parent should be")
    errors: list[str] = []
    rec = ResultsRecorder(settings(tmp_path, log_dir=str(blocker / "results"), archive="none"), "s",
                          on_error=errors.append)
    out = rec.record(make_result(0))
    assert out.verdict is Verdict.ERROR and rec.health.pending_rows == 1 and errors
    assert f"results: {blocker / 'results'}" in out.error and "Not a directory" in out.error
    blocker.unlink()
    blocker.mkdir()
    assert rec.record(make_result(1)).verdict is Verdict.OK
    rec.close()
    rows = today_rows(rec)
    assert [(r["cycle_id"], r["verdict"]) for r in rows] == [("20261124-0000", "ERROR"), ("20261124-0001", "OK")]


def test_close_joins_the_writer_and_refuses_later_records(tmp_path):
    rec = ResultsRecorder(settings(tmp_path, archive="all"), "s")
    rec.record(make_result(0))
    rec.close()
    assert not rec.archive.is_alive
    assert not any(t.name == "image-archive" for t in threading.enumerate())
    with pytest.raises(ResultsError, match="closed"):
        rec.record(make_result(1))
    rec.close()  # idempotent


def test_default_folders_come_from_resolve_results_dirs(tmp_path):
    with ResultsRecorder(ResultsSettings(archive="none"), "s") as rec:
        rec.record(make_result(0))
    assert rec.log_dir.name == "results" and rec.image_dir.name == "images" and rec.review_dir.name == "review"
    assert len(today_rows(rec)) == 1


def test_log_file_carries_the_station_id_and_statistics_seed_from_its_own_file_only(tmp_path):
    """Issue 12: stations share one network folder; each seeds from its own file."""
    shared = settings(tmp_path, archive="none")
    with ResultsRecorder(shared, "line 3/a") as a:
        a.record(make_result(0, Verdict.OK))
        # reduced to fit a file name: the id's hash keeps it apart from "line_3_a", "line 3 a", ...
        assert a.log.current_path.name == f"line_3_a-a09738a1_{datetime.now().astimezone().date()}.csv"
    with ResultsRecorder(shared, "line-4") as b:
        for i in range(2):
            b.record(make_result(10 + i, Verdict.NOK))
    with ResultsRecorder(shared, "line 3/a") as again:
        assert again.snapshot().counts == {"OK": 1, "NOK": 0, "ERROR": 0}
    with ResultsRecorder(shared, "line-4") as again:
        assert again.snapshot().counts == {"OK": 0, "NOK": 2, "ERROR": 0}
