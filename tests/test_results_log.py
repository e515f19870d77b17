"""The per-day CSV log: header once, whole rows, never rewritten, retried after disk faults."""

from __future__ import annotations

import csv
import errno
import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest

from inspection_station.core.cycle import CycleResult, StageTimes, Verdict
from inspection_station.core.detection import Detection
from inspection_station.core.results.csv_log import (
    LOG_COLUMNS,
    ResultsLog,
    cycle_date,
    cycle_row,
    log_files_for_day,
    log_path,
    read_log,
    station_file_prefix,
)

REPO = Path(__file__).resolve().parents[1]
DAY = date(2026, 11, 24)


def row(i: int, **extra) -> dict[str, str]:
    return {"cycle_id": f"c{i:04d}", "verdict": "OK", **extra}


def csv_records(path: Path) -> list[list[str]]:
    with path.open(encoding="utf-8-sig", newline="") as fh:
        return list(csv.reader(fh))


def test_header_once_across_appends_and_reopening(tmp_path):
    first = ResultsLog(tmp_path)
    for i in range(5):
        assert first.write(row(i), DAY)
    assert first.close() == 0
    second = ResultsLog(tmp_path)  # a restart the same day appends to the same file
    for i in range(5, 8):
        assert second.write(row(i), DAY)
    second.close()

    path = tmp_path / "2026-11-24.csv"
    records = csv_records(path)
    assert records[0] == list(LOG_COLUMNS)
    assert [r for r in records if r == list(LOG_COLUMNS)] == [records[0]]
    assert all(len(r) == len(LOG_COLUMNS) for r in records)
    assert [r["cycle_id"] for r in read_log(path)] == [f"c{i:04d}" for i in range(8)]


def test_awkward_values_stay_one_line_and_parse(tmp_path):
    nasty = 'camera said "no",\nthen\r\nnothing; ok'
    log = ResultsLog(tmp_path)
    log.write(row(0, error=nasty, note="ä ö ✓"), DAY)
    log.close()
    raw = (tmp_path / "2026-11-24.csv").read_bytes()
    assert raw.count(b"\n") == 2 and b"\r" not in raw  # header + one row: line breaks are escaped
    (only,) = read_log(tmp_path / "2026-11-24.csv")
    assert only["error"] == 'camera said "no",\\nthen\\r\\nnothing; ok'
    assert only["note"] == "ä ö ✓"


# OWASP's CSV injection cases; a spreadsheet must show each as text, never run it
FORMULAS = [
    ("=1+1", "'=1+1"), ("+41 7", "'+41 7"), ("-2+3", "'-2+3"), ("@SUM(A1:A9)", "'@SUM(A1:A9)"),
    ("=HYPERLINK(\"http://x\",\"y\")", "'=HYPERLINK(\"http://x\",\"y\")"),
    ("\t=cmd|' /C calc'!A0", "'\\t=cmd|' /C calc'!A0"), ("\r=1", "'\\r=1"),
    ("'=1", "''=1"),  # an apostrophe of its own is doubled: read_log gives it back exactly
    ("-1", "-1"), ("-1.5", "-1.5"), ("-2e-3", "-2e-3"),  # plain numbers stay numbers
    ("plain", "plain"), ("a=b", "a=b"), ("", ""),
]


@pytest.mark.parametrize(("value", "cell"), FORMULAS)
def test_formula_cells_are_neutralised(tmp_path, value, cell):
    log = ResultsLog(tmp_path)
    log.write(row(0, part_id=value, note=value, pattern_set=value), DAY)
    log.close()
    (record,) = csv_records(tmp_path / "2026-11-24.csv")[1:]
    assert record[LOG_COLUMNS.index("part_id")] == cell == record[LOG_COLUMNS.index("note")]
    back = read_log(tmp_path / "2026-11-24.csv")[0]
    assert back["part_id"] == value.replace("\t", "\\t").replace("\r", "\\r")  # escapes stay, the guard goes


@pytest.mark.parametrize(("value", "cell"), [
    ("a\nb", "a\\nb"), ("a\u2028b", "a\\u2028b"), ("a\u2029b", "a\\u2029b"), ("a\x85b", "a\\x85b"),
    ("a\x00b", "a\\x00b"), ("\x1b[31mred", "\\x1b[31mred"), ("tab\there", "tab\\there"),
])
def test_control_and_separator_characters_are_escaped_in_every_text_cell(tmp_path, value, cell):
    log = ResultsLog(tmp_path)
    log.write(row(0, error=value, station=value, variant=value, missing_slots=value), DAY)
    log.close()
    raw = (tmp_path / "2026-11-24.csv").read_bytes()
    assert raw.count(b"\n") == 2
    assert value.encode() not in raw or value.isprintable()
    (record,) = csv_records(tmp_path / "2026-11-24.csv")[1:]
    for column in ("error", "station", "variant", "missing_slots"):
        assert record[LOG_COLUMNS.index(column)] == cell


# station ids -> file names: distinct ids never share a file (Windows folders ignore case)
STATION_FILES = [
    ("station-1", "station-1_"),
    ("検査ライン", "検査ライン_"), ("組立ライン", "組立ライン_"),
    ("Станция 1", "Станция_1-"), ("Линия 1", "Линия_1-"),
    ("line 3/a", "line_3_a-"), ("line_3_a", "line_3_a_"), ("Line-A", "Line-A-"), ("line-a", "line-a_"),
    ("a" * 60, "a" * 40 + "-"), ("...", ""), ("", ""),
]


@pytest.mark.parametrize(("station", "starts"), STATION_FILES)
def test_station_file_names(station, starts):
    name = station_file_prefix(station)
    assert name.startswith(starts)
    assert not re.search(r'[\\/:*?"<>|\s]', name)  # fits any file system


def test_distinct_station_ids_write_distinct_files(tmp_path):
    ids = [sid for sid, _ in STATION_FILES if sid] + ["line 3 a", "line-3/a", "Station A", "station a", " a", "a"]
    paths = {log_path(tmp_path, DAY, station=sid) for sid in ids}
    assert len(paths) == len(ids)
    assert len({str(p).casefold() for p in paths}) == len(ids)  # also where case is ignored
    for sid in ("検査ライン", "Станция 1"):
        log = ResultsLog(tmp_path, station=sid)
        log.write(row(0, station=sid), DAY)
        log.close()
    assert sorted(p.name for p in tmp_path.glob("*.csv")) == sorted(
        log_path(tmp_path, DAY, station=sid).name for sid in ("検査ライン", "Станция 1"))


def test_rows_go_to_the_file_of_their_local_day(tmp_path):
    log = ResultsLog(tmp_path)
    log.write(row(0), DAY)
    log.write(row(1), DAY + timedelta(days=1))
    log.write(row(2), DAY)
    log.close()
    assert [r["cycle_id"] for r in read_log(tmp_path / "2026-11-24.csv")] == ["c0000", "c0002"]
    assert [r["cycle_id"] for r in read_log(tmp_path / "2026-11-25.csv")] == ["c0001"]


@pytest.fixture
def utc_plus_one(monkeypatch):
    monkeypatch.setenv("TZ", "XXX-1")  # POSIX form: UTC+1 all year, no tz database needed
    time.tzset()
    yield
    monkeypatch.undo()
    time.tzset()


def test_rows_file_by_the_local_day_not_the_utc_day(tmp_path, utc_plus_one):
    late = datetime(2026, 11, 24, 23, 30, tzinfo=UTC)  # already 25 November locally
    assert cycle_date(late) == date(2026, 11, 25)
    result = CycleResult(cycle_id="c1", timestamp=late, verdict=Verdict.OK)
    assert cycle_row(result, "s")["timestamp"] == "2026-11-25T00:30:00.000+01:00"


def test_cycle_row_columns():
    det = Detection(2, "screw", 0.87654, (10.04, 20.06, 30.0, 40.55))
    result = CycleResult(
        cycle_id="c1",
        timestamp=datetime(2026, 11, 24, 10, 0, 0, 123000).astimezone(),
        verdict=Verdict.NOK,
        pattern_set="board",
        detections=(det,),
        times=StageTimes(grab_ms=1.234, inference_ms=5, total_ms=12.5),
        model="demo.onnx",
        provider="CPUExecutionProvider",
        trigger="pedal",
    )
    r = cycle_row(result, "station-7")
    assert set(r) == set(LOG_COLUMNS)
    assert r["timestamp"].startswith("2026-11-24T10:00:00.123")
    assert r["timestamp"][-6] in "+-"  # ISO-8601 with the UTC offset
    assert r["detections"] == "[[2,0.877,10.0,20.1,30.0,40.5]]"
    assert (r["n_detections"], r["cycle_ms"], r["grab_ms"], r["inference_ms"]) == ("1", "12.50", "1.23", "5.00")
    assert (r["station"], r["verdict"], r["trigger"], r["overrules"]) == ("station-7", "NOK", "pedal", "")
    assert (r["filled"], r["expected"], r["missing_slots"]) == ("", "", "")


def test_older_header_is_kept_and_rows_go_to_a_versioned_file(tmp_path):
    old = tmp_path / "2026-11-24.csv"
    old_bytes = b"timestamp,cycle_id,verdict\n2026-11-24T08:00:00+01:00,old1,OK\n"
    old.write_bytes(old_bytes)
    notices = []
    log = ResultsLog(tmp_path, on_notice=notices.append)
    log.write(row(0), DAY)
    log.write(row(1), DAY)
    log.close()
    assert old.read_bytes() == old_bytes
    assert [r["cycle_id"] for r in read_log(tmp_path / "2026-11-24_v2.csv")] == ["c0000", "c0001"]
    assert len(notices) == 1 and "2026-11-24_v2.csv" in notices[0]
    assert log_files_for_day(tmp_path, DAY) == [old, tmp_path / "2026-11-24_v2.csv"]
    # a restart continues in the versioned file
    again = ResultsLog(tmp_path)
    again.write(row(2), DAY)
    again.close()
    assert len(read_log(tmp_path / "2026-11-24_v2.csv")) == 3
    assert not (tmp_path / "2026-11-24_v3.csv").exists()


def test_read_log_ignores_a_torn_last_line_and_the_writer_continues_on_a_new_line(tmp_path):
    log = ResultsLog(tmp_path)
    log.write(row(0), DAY)
    log.close()
    path = tmp_path / "2026-11-24.csv"
    with path.open("ab") as fh:
        fh.write(b'2026-11-24T10:00:00+01:00,c9999,station,"[[0,0.9')  # a crash mid-row
    assert [r["cycle_id"] for r in read_log(path)] == ["c0000"]
    log = ResultsLog(tmp_path)
    log.write(row(1), DAY)
    log.close()
    assert [r["cycle_id"] for r in read_log(path)] == ["c0000", "c0001"]
    assert path.read_bytes().endswith(b"\n")


def test_read_log_of_missing_or_empty_file(tmp_path):
    assert read_log(tmp_path / "nope.csv") == []
    (tmp_path / "empty.csv").write_bytes(b"")
    assert read_log(tmp_path / "empty.csv") == []


# --- crash safety ---------------------------------------------------------------------------

_CHILD = """
import datetime, sys
from inspection_station.core.results.csv_log import ResultsLog
log = ResultsLog(sys.argv[1])
day = datetime.date(2026, 11, 24)
i = 0
while True:
    log.write({"cycle_id": f"c{i:07d}", "verdict": "NOK", "error": 'quote " comma ,',
               "detections": "[[0,0.9,1.0,2.0,3.0,4.0],[1,0.8,5.0,6.0,7.0,8.0]]"}, day)
    i += 1
"""


def test_kill_9_while_writing_leaves_only_whole_rows(tmp_path):
    path = tmp_path / "2026-11-24.csv"
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    child = subprocess.Popen([sys.executable, "-c", _CHILD, str(tmp_path)], cwd=REPO, env=env)
    try:
        deadline = time.monotonic() + 120  # a safety net against a hung child, not a measurement
        while not (path.exists() and path.read_bytes().count(b"\n") > 200):
            assert child.poll() is None, "the writer process died on its own"
            assert time.monotonic() < deadline, "the writer process wrote nothing"
            time.sleep(0.01)
    finally:
        child.send_signal(signal.SIGKILL)
        child.wait()
    assert child.returncode == -signal.SIGKILL

    raw = path.read_bytes()
    assert raw.endswith(b"\n")  # no torn last line
    records = csv_records(path)
    assert records[0] == list(LOG_COLUMNS)
    assert all(len(r) == len(LOG_COLUMNS) for r in records[1:])
    ids = [r[LOG_COLUMNS.index("cycle_id")] for r in records[1:]]
    assert ids == [f"c{i:07d}" for i in range(len(ids))]
    assert len(read_log(path)) == len(ids) >= 200  # 200+ newlines = header + 200+ rows


# --- disk faults ----------------------------------------------------------------------------


class FlakyWrite:
    """os.write that can be told the disk is full; optionally writes a torn prefix first."""

    def __init__(self) -> None:
        self.full = False
        self.torn = 0  # bytes to write before failing

    def __call__(self, fd: int, data: bytes) -> int:
        if self.full:
            if self.torn:
                os.write(fd, data[: self.torn])
            raise OSError(errno.ENOSPC, "No space left on device")
        return os.write(fd, data)


def test_full_disk_keeps_rows_and_writes_them_in_order_once_it_clears(tmp_path):
    errors: list[str] = []
    notices: list[str] = []
    fault = FlakyWrite()
    log = ResultsLog(tmp_path, on_error=errors.append, on_notice=notices.append, write_fn=fault)
    assert log.write(row(0), DAY)
    fault.full = True
    assert not log.write(row(1), DAY)
    assert not log.write(row(2), DAY)
    assert log.pending == 2
    assert len(errors) == 2 and "No space left on device" in errors[-1] and "2 row(s) kept" in errors[-1]
    assert "2026-11-24.csv" in errors[-1]
    fault.full = False
    assert log.write(row(3), DAY)
    assert log.pending == 0
    assert any("writable again" in n for n in notices)
    log.close()
    assert [r["cycle_id"] for r in read_log(tmp_path / "2026-11-24.csv")] == ["c0000", "c0001", "c0002", "c0003"]


def test_a_short_write_on_a_full_disk_does_not_duplicate_or_merge_rows(tmp_path):
    fault = FlakyWrite()
    log = ResultsLog(tmp_path, on_error=lambda m: None, write_fn=fault)
    log.write(row(0), DAY)
    fault.full, fault.torn = True, 10
    assert not log.write(row(1), DAY)  # leaves 10 bytes of row 1 on disk
    fault.full = False
    assert log.retry()
    log.write(row(2), DAY)
    log.close()
    path = tmp_path / "2026-11-24.csv"
    assert [r["cycle_id"] for r in read_log(path)] == ["c0000", "c0001", "c0002"]


def _make_unwritable(folder: Path) -> tuple[Path, Callable[[], None]]:
    """A log folder the station cannot write to, and how to repair it.

    Read-only permissions where they bite; running as root they do not, so then the
    folder's parent is made a FILE, which stops root as well.
    """
    folder.mkdir()
    folder.chmod(0o555)
    try:
        (folder / "probe").write_bytes(b"")
    except PermissionError:
        return folder, lambda: folder.chmod(0o755)
    (folder / "probe").unlink()
    folder.chmod(0o755)
    blocker = folder / "blocker"
    blocker.write_bytes(b"not a folder")

    def repair() -> None:
        blocker.unlink()
        blocker.mkdir()

    return blocker / "results", repair


def test_read_only_folder_rows_wait_and_land_after_repair(tmp_path):
    log_dir, repair = _make_unwritable(tmp_path / "logs")
    errors: list[str] = []
    log = ResultsLog(log_dir, on_error=errors.append)
    for i in range(3):
        assert not log.write(row(i), DAY)
    assert log.pending == 3 and len(errors) == 3
    assert log.last_error == errors[-1]
    repair()
    assert log.write(row(3), DAY)
    assert log.close() == 0
    files = log_files_for_day(log_dir, DAY)
    assert len(files) == 1
    assert [r["cycle_id"] for r in read_log(files[0])] == ["c0000", "c0001", "c0002", "c0003"]
    assert csv_records(files[0])[0] == list(LOG_COLUMNS)


def test_error_callback_may_ask_for_the_state(tmp_path):
    seen: list[int] = []
    fault = FlakyWrite()
    fault.full = True
    log = ResultsLog(tmp_path, write_fn=fault, on_error=lambda message: seen.append(log.pending))
    log.write(row(0), DAY)  # the callback runs after the log's lock is released
    assert seen == [1]


def test_close_reports_rows_it_could_not_write(tmp_path):
    fault = FlakyWrite()
    log = ResultsLog(tmp_path, on_error=lambda m: None, write_fn=fault)
    fault.full = True
    log.write(row(0), DAY)
    assert log.close() == 1
    assert b"c0000" in log.unwritten_rows()[0]


# --- the file goes away under the writer (issue 20) ---------------------------------------------

BOM_HEADER = b"\xef\xbb\xbf" + b",".join(c.encode() for c in LOG_COLUMNS) + b"\n"


def test_a_file_replaced_at_its_path_gets_the_later_rows(tmp_path):
    warnings: list[str] = []
    log = ResultsLog(tmp_path, on_warning=warnings.append)
    log.write(row(0), DAY)
    path = tmp_path / "2026-11-24.csv"
    replacement = tmp_path / "edited.csv"
    replacement.write_bytes(path.read_bytes())  # e.g. saved back by a spreadsheet
    os.replace(replacement, path)
    log.write(row(1), DAY)
    log.close()
    assert [r["cycle_id"] for r in read_log(path)] == ["c0000", "c0001"]
    assert log.recreated == 1 and "was replaced by another file" in warnings[0]


def test_a_truncated_file_gets_its_header_again(tmp_path):
    warnings: list[str] = []
    log = ResultsLog(tmp_path, on_warning=warnings.append)
    log.write(row(0), DAY)
    path = tmp_path / "2026-11-24.csv"
    os.truncate(path, 0)
    log.write(row(1), DAY)
    log.close()
    assert path.read_bytes().startswith(BOM_HEADER)
    assert [r["cycle_id"] for r in read_log(path)] == ["c0001"]
    assert "was truncated" in warnings[0] and log.recreated == 1


def test_a_file_deleted_while_its_rows_wait_for_the_disk_is_noticed_too(tmp_path):
    warnings: list[str] = []
    fault = FlakyWrite()
    log = ResultsLog(tmp_path, on_error=lambda m: None, on_warning=warnings.append, write_fn=fault)
    log.write(row(0), DAY)
    fault.full = True
    assert not log.write(row(1), DAY)  # the descriptor is closed now, the row waits
    path = tmp_path / "2026-11-24.csv"
    path.unlink()
    fault.full = False
    assert log.write(row(2), DAY)
    log.close()
    assert path.read_bytes().startswith(BOM_HEADER)
    assert [r["cycle_id"] for r in read_log(path)] == ["c0001", "c0002"]
    assert log.recreated == 1 and "while rows were waiting for the disk" in warnings[0]


def test_a_full_disk_on_the_first_row_is_no_deleted_file(tmp_path):
    warnings: list[str] = []
    fault = FlakyWrite()
    fault.full = True
    log = ResultsLog(tmp_path, on_error=lambda m: None, on_warning=warnings.append, write_fn=fault)
    assert not log.write(row(0), DAY)  # the new file stays empty (the torn write is cut off)
    fault.full = False
    assert log.write(row(1), DAY)
    log.close()
    assert warnings == [] and log.recreated == 0


def test_a_file_deleted_in_the_middle_of_a_write_gets_the_row_again(tmp_path):
    """The deletion lands between the check before the row and its write: a real unlink at
    the one moment no test can hit from outside, so the write seam does it."""
    path = tmp_path / "2026-11-24.csv"
    deletions = {"left": 0}

    def write_then_lose(fd: int, data: bytes) -> int:
        if deletions["left"]:
            deletions["left"] -= 1
            path.unlink()
        return os.write(fd, data)

    warnings: list[str] = []
    log = ResultsLog(tmp_path, on_warning=warnings.append, write_fn=write_then_lose, on_error=lambda m: None)
    log.write(row(0), DAY)
    deletions["left"] = 1
    assert log.write(row(1), DAY)
    assert [r["cycle_id"] for r in read_log(path)] == ["c0001"]  # row 0 went with the deleted file
    assert log.recreated == 1
    deletions["left"] = 10  # it keeps vanishing: after a few tries the row waits, reported
    assert not log.write(row(2), DAY)
    assert log.pending == 1 and "keeps being removed" in log.last_error
    deletions["left"] = 0
    assert log.retry()
    log.close()
    assert [r["cycle_id"] for r in read_log(path)] == ["c0002"]


def test_a_refused_row_is_kept_as_if_refused_says(tmp_path):
    fault = FlakyWrite()
    fault.full = True
    log = ResultsLog(tmp_path, on_error=lambda m: None, write_fn=fault)
    reasons: list[str] = []

    def as_error(i: int):
        def kept(reason: str) -> dict:
            reasons.append(reason)
            return row(i, verdict="ERROR", error=f"results: {reason}")
        return kept

    assert not log.write(row(0), DAY, if_refused=as_error(0))
    assert reasons == [f"{tmp_path / '2026-11-24.csv'}: cannot write the results log: No space left on device"]
    assert not log.write(row(1), DAY, if_refused=as_error(1)) and len(reasons) == 2
    fault.full = False
    assert log.write(row(2), DAY, if_refused=as_error(2)) and len(reasons) == 2  # written: not called
    log.close()
    rows = read_log(tmp_path / "2026-11-24.csv")
    assert [(r["cycle_id"], r["verdict"]) for r in rows] == [("c0000", "ERROR"), ("c0001", "ERROR"), ("c0002", "OK")]
    assert rows[0]["error"] == f"results: {reasons[0]}"
