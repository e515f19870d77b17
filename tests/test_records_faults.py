"""Issue 20: records that cannot silently stop, on the REAL station (Basler's emulator, a real
onnxruntime session, real pattern files, the real CSV log) while its cycles run.

The CSV is deleted, moved, its folder removed, made read-only or made impossible to create
under a running station. After each event every row is in the file at the log's path, or
the cycle was ERROR naming the file (never OK); each event is a warning and counted.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

import pytest

from inspection_station.core.cycle import CycleResult, Verdict
from inspection_station.core.line.metrics import StationMetrics
from inspection_station.core.results.csv_log import LOG_COLUMNS, encode_row, log_path, read_log
from inspection_station.core.station import Station
from tests.known_station import station_settings
from tests.refusals import read_only_folder

REPO = Path(__file__).resolve().parents[1]
WAIT_S = 60.0  # a safety net for a stuck station, never a measurement
HEADER = b"\xef\xbb\xbf" + encode_row(LOG_COLUMNS)


@dataclass
class Running:
    """A real station whose cycles run on a thread of their own until `stop()`."""

    station: Station
    errors: list[str] = field(default_factory=list)
    results: list[CycleResult] = field(default_factory=list)
    _stop: threading.Event = field(default_factory=threading.Event)
    _thread: threading.Thread | None = None

    def start(self) -> Running:
        self.station.start()
        assert self.station.wait_ready(WAIT_S)
        self._thread = threading.Thread(target=self._cycles, name="test-cycles")
        self._thread.start()
        return self

    def _cycles(self) -> None:
        while not self._stop.is_set():
            self.results.append(self.station.run_cycle("headless"))

    def wait_cycles(self, n: int, *, after: float = 0.0) -> None:
        """Until n more cycles that STARTED after `after` (time.time()) have finished."""
        deadline = time.monotonic() + WAIT_S
        while sum(r.timestamp.timestamp() > after for r in list(self.results)) < n:
            assert time.monotonic() < deadline, f"the station stalled: {self.errors[-3:]}"
            time.sleep(0.005)

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(WAIT_S)
        self.station.stop()

    def after(self, t: float) -> list[CycleResult]:
        return [r for r in self.results if r.timestamp.timestamp() > t]

    @property
    def path(self) -> Path:
        settings = self.station.settings
        return log_path(Path(settings.results.log_dir), datetime.now().astimezone().date(), station=settings.station.name)


@pytest.fixture
def running(tmp_path):
    settings = station_settings(tmp_path)
    made: list[Running] = []

    def start() -> Running:
        errors: list[str] = []
        run = Running(Station(settings, on_error=errors.append), errors)
        made.append(run)
        return run.start()

    yield start
    for run in made:
        run.stop()


def _ids(path: Path) -> list[str]:
    return [r["cycle_id"] for r in read_log(path)]


def _assert_rows_after(run: Running, t_event: float, path: Path) -> list[CycleResult]:
    """Every cycle started after the event is a row of `path`, with its verdict, once."""
    later = run.after(t_event)
    rows = {r["cycle_id"]: r for r in read_log(path)}
    assert later, "no cycle after the event"
    missing = [r.cycle_id for r in later if r.cycle_id not in rows]
    assert not missing, f"{len(missing)} of {len(later)} rows after the event lost"
    assert [rows[r.cycle_id]["verdict"] for r in later] == [str(r.verdict) for r in later]
    assert len(_ids(path)) == len(set(_ids(path)))  # no row twice
    assert path.read_bytes().startswith(HEADER)  # started again: BOM + header first
    return later


# --- the file or its folder goes away: started again, nothing after the event lost ----------


def test_deleting_the_csv_while_cycles_run_loses_no_later_row(running):
    run = running()
    run.wait_cycles(5)
    run.path.unlink()
    t_event = time.time()
    run.wait_cycles(20, after=t_event)
    run.stop()
    later = _assert_rows_after(run, t_event, run.path)
    assert all(r.verdict is Verdict.OK for r in later)  # a recreated file is no failure
    assert run.station.recorder.log.recreated == 1
    [warning] = [e for e in run.errors if "results log" in e]
    assert f"{run.path}: the results log was deleted while the station was writing it" in warning
    assert "a new file is started at its path (header first)" in warning and "1 time(s)" in warning


def test_moving_the_csv_keeps_its_rows_there_and_later_rows_at_the_path(running, tmp_path):
    run = running()
    run.wait_cycles(5)
    moved = tmp_path / "log" / "kept-aside.csv"
    run.path.rename(moved)
    t_event = time.time()
    run.wait_cycles(20, after=t_event)
    run.stop()
    _assert_rows_after(run, t_event, run.path)
    everything = set(_ids(moved)) | set(_ids(run.path))
    assert {r.cycle_id for r in run.results} <= everything  # every cycle in one of the two files
    assert run.station.recorder.log.recreated == 1
    assert any("was moved or renamed (the rows so far are in the moved file)" in e for e in run.errors)


def test_removing_the_whole_results_folder_recreates_it(running, tmp_path):
    run = running()
    run.wait_cycles(5)
    folder = tmp_path / "log"
    while folder.exists():  # as `rm -rf` does; the station may recreate it in between: again
        shutil.rmtree(folder, ignore_errors=True)
    t_event = time.time()
    run.wait_cycles(20, after=t_event)
    run.stop()
    _assert_rows_after(run, t_event, run.path)
    assert run.station.recorder.log.recreated >= 1
    assert any(f"was removed with its folder {folder}" in e for e in run.errors)


def test_the_recreations_are_a_counter_on_the_metrics(running):
    run = running()
    metrics = StationMetrics("s", recorder=lambda: run.station.recorder)
    run.wait_cycles(2)
    for _ in range(2):
        run.path.unlink()
        run.wait_cycles(3, after=time.time())
    run.stop()
    text = metrics.exposition().decode()
    assert 'inspection_station_log_files_recreated_total{station="s"} 2.0' in text


# --- the row cannot be written: the cycle is ERROR, never OK ----------------------------------


def _assert_error_or_written(results: list[CycleResult], path: Path) -> None:
    """Each cycle: ERROR naming the file, or its row is in the file. Never an OK without a row."""
    rows = set(_ids(path))
    for r in results:
        if r.verdict is Verdict.ERROR:
            assert r.error.startswith(f"results: {path}") and "the line gets ERROR (the model said OK)" in r.error
        else:
            assert r.cycle_id in rows, f"{r.cycle_id} was {r.verdict} but its row is not on disk"


def test_a_read_only_folder_and_file_while_cycles_run(running, tmp_path):
    run = running()
    run.wait_cycles(5)
    folder = tmp_path / "log"
    with read_only_folder(folder, files_too=True) as how:
        t_event = time.time()
        run.wait_cycles(10, after=t_event)
        during = run.after(t_event)
        # a normal user: the open file stays writable (permissions are checked at open), rows
        # land; root: the immutable file refuses every write, the cycles are ERROR
        if how == "immutable":
            assert all(r.verdict is Verdict.ERROR for r in during)
        _assert_error_or_written(during, run.path)
    t_repair = time.time()
    run.wait_cycles(5, after=t_repair)
    run.stop()
    assert all(r.verdict is Verdict.OK for r in run.after(t_repair))
    # after the repair the waiting rows landed, saying what the line was told
    rows = {r["cycle_id"]: r["verdict"] for r in read_log(run.path)}
    assert {r.cycle_id: str(r.verdict) for r in run.results} == rows


def test_a_deleted_csv_in_a_read_only_folder_makes_every_cycle_error_until_repaired(running, tmp_path):
    run = running()
    run.wait_cycles(5)
    folder = tmp_path / "log"
    run.path.unlink()
    with read_only_folder(folder):  # the file cannot be made again
        t_event = time.time()
        run.wait_cycles(10, after=t_event)
        during = run.after(t_event)
        assert during and all(r.verdict is Verdict.ERROR for r in during)
        _assert_error_or_written(during, run.path)
        assert run.station.recorder.health.pending_rows >= 10
    t_repair = time.time()
    run.wait_cycles(5, after=t_repair)
    run.stop()
    rows = {r["cycle_id"]: r for r in read_log(run.path)}
    for r in during:  # kept in memory, written once the folder was writable: ERROR, and why
        assert rows[r.cycle_id]["verdict"] == "ERROR" and rows[r.cycle_id]["error"] == r.error
    assert all(rows[r.cycle_id]["verdict"] == "OK" for r in run.after(t_repair))
    assert run.station.recorder.health.pending_rows == 0


def test_a_results_folder_that_cannot_be_created_makes_the_cycles_error(running, tmp_path):
    run = running()
    run.wait_cycles(3)
    folder = tmp_path / "log"
    shutil.rmtree(folder)
    folder.write_bytes(b"a file where the results folder was")  # no mkdir can make it now, root or not
    t_event = time.time()
    run.wait_cycles(5, after=t_event)
    during = [r for r in run.after(t_event)]
    assert during and all(r.verdict is Verdict.ERROR for r in during)
    assert all(r.error.startswith(f"results: {run.path}") and "cannot write the results log" in r.error
               for r in during)
    folder.unlink()
    t_repair = time.time()
    run.wait_cycles(3, after=t_repair)
    run.stop()
    rows = {r["cycle_id"]: r["verdict"] for r in read_log(run.path)}
    assert all(rows[r.cycle_id] == "ERROR" for r in during)


@pytest.mark.slow
def test_run_headless_exits_non_zero_when_rows_cannot_be_written(tmp_path):
    settings = station_settings(tmp_path)
    blocker = tmp_path / "blocker"
    blocker.write_bytes(b"a file where the results folder's parent should be")
    log_dir = blocker / "results"
    config = tmp_path / "station.toml"
    config.write_text(
        "[camera]\n"
        f'serial = "{settings.camera.serial}"\nemulation = true\n'
        f'emulation_image_dir = "{Path(settings.camera.emulation_image_dir).as_posix()}"\n'
        "[model]\n"
        f'path = "{Path(settings.model.path).as_posix()}"\n'
        "[patterns]\n"
        f'path = "{Path(settings.patterns.path).as_posix()}"\nactive = "product_ok"\n'
        "[results]\n"
        f'log_dir = "{log_dir.as_posix()}"\narchive = "none"\n'
        f'image_dir = "{(tmp_path / "images").as_posix()}"\n',
        encoding="utf-8",
    )
    env = {**os.environ, "PYLON_CAMEMU": "1", "PYTHONPATH": str(REPO)}
    done = subprocess.run(
        [sys.executable, "-m", "inspection_station", "run", "--headless", "--cycles", "3", "--config", str(config)],
        cwd=REPO, env=env, capture_output=True, text=True, timeout=WAIT_S * 2,
    )
    cycles = [line for line in done.stdout.splitlines() if line.startswith("#")]
    assert len(cycles) == 3 and all(" ERROR " in line for line in cycles), done.stdout + done.stderr
    assert all(f"results: {log_dir}" in line and "the model said OK" in line for line in cycles)
    assert done.returncode == 2  # rows still unwritten at the end: the last error lists them
    assert "3 results row(s) could not be written" in done.stderr
    assert all(line.split()[1] in done.stderr for line in cycles)
