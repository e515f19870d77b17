"""Issue 15: faults (camera away, bad replay file, full disk, kill -9) never mislead or tear a record."""

from __future__ import annotations

import csv
import datetime
import io
import os
import signal
import stat
import subprocess
import sys
import time
from pathlib import Path

import pytest

from inspection_station.core.atomic import atomic_write_bytes, backup_path, remove_stale_temp_files
from inspection_station.core.camera.protocol import CameraState, FrameSkipped
from inspection_station.core.camera.worker import CameraWorker, open_camera
from inspection_station.core.errors import CameraError
from inspection_station.core.results.csv_log import LOG_COLUMNS, ResultsLog
from inspection_station.core.settings.model import CameraSettings, Settings
from tests.known_station import signed_in_actions
from tests.test_camera import BLUE, RED, centre, write_images
from tests.test_camera_worker import WAIT_S, Recorder, wait_until
from tests.test_results_log import FlakyWrite

REPO = Path(__file__).resolve().parents[1]
DAY = datetime.date(2026, 11, 24)


def row(i: int) -> dict:
    return {"cycle_id": f"c{i:04d}", "verdict": "OK", "detections": '[[0,0.9,1.0,2.0,3.0,4.0]]', "error": 'a "quoted", text'}


@pytest.fixture
def workers():
    made: list[CameraWorker] = []
    yield made
    for worker in made:
        worker.stop()


# --- camera ------------------------------------------------------------------------------------


def test_a_bad_file_in_a_replay_is_skipped_with_one_error_and_replay_goes_on(tmp_path, workers):
    folder = write_images(tmp_path / "f", (RED, RED, BLUE), names=["a.png", "b.png", "c.png"])
    (folder / "b.png").write_bytes(b"not a png")
    rec = Recorder()
    worker = CameraWorker(CameraSettings(source="folder", image_folder=str(folder)), **rec.kwargs())
    workers.append(worker)
    worker.start()
    outcomes = []
    for _ in range(4):
        try:
            outcomes.append(centre(worker.request_frame().result(WAIT_S)))
        except FrameSkipped as exc:
            outcomes.append(str(exc))
    assert outcomes[0] == RED and outcomes[2] == BLUE and outcomes[3] == RED  # c after b, then round again
    assert "b.png: not a readable image" in outcomes[1] and "skipped, replay goes on" in outcomes[1]
    assert not rec.saw(CameraState.DISCONNECTED)  # no reopen: a reopen would restart at a.png


def test_requests_while_the_source_is_missing_do_not_cut_the_back_off(tmp_path, workers):
    opens = []

    def counting_open(settings):  # the real opener, counted
        opens.append(time.monotonic())
        return open_camera(settings)

    settings = CameraSettings(source="folder", image_folder=str(tmp_path / "gone"), reconnect_min_s=60, reconnect_max_s=60)
    worker = CameraWorker(settings, camera_factory=counting_open)
    workers.append(worker)
    worker.start()
    wait_until(lambda: worker.state is CameraState.DISCONNECTED, "the failed first open")
    for _ in range(500):
        with pytest.raises(CameraError, match="camera disconnected: camera image_folder .*gone: no such folder"):
            worker.request_frame().result(WAIT_S)
    assert len(opens) == 1 and not worker.available  # the 60 s delay stands; one ERROR per request


# --- results log -------------------------------------------------------------------------------


def whole_file_records(path: Path) -> list[list[str]]:
    """csv.reader over the WHOLE file, as Excel or pandas read it (not our line-wise reader)."""
    return list(csv.reader(io.StringIO(path.read_bytes().decode("utf-8-sig"), newline="")))


def test_a_full_disk_mid_row_leaves_no_fragment_in_the_file(tmp_path):
    fault = FlakyWrite()
    log = ResultsLog(tmp_path, on_error=lambda m: None, write_fn=fault)
    log.write(row(0), DAY)
    fault.full, fault.torn = True, 40  # 40 bytes of row 1 reach the disk, then ENOSPC
    assert not log.write(row(1), DAY)
    path = tmp_path / "2026-11-24.csv"
    assert path.read_bytes().endswith(b"\n")  # the fragment was cut off at once
    assert not log.write(row(2), DAY)
    fault.full = False
    assert log.retry()
    log.close()
    records = whole_file_records(path)
    assert [len(r) for r in records] == [len(LOG_COLUMNS)] * 4
    assert [r[1] for r in records[1:]] == ["c0000", "c0001", "c0002"]


def test_a_torn_tail_from_a_crash_is_cut_before_the_next_row(tmp_path):
    log = ResultsLog(tmp_path)
    log.write(row(0), DAY)
    log.close()
    path = tmp_path / "2026-11-24.csv"
    fragment = b'2026-11-24T10:00:00+01:00,c9999,station,"[[0,0.9'
    with path.open("ab") as fh:
        fh.write(fragment)
    notices: list[str] = []
    log = ResultsLog(tmp_path, on_notice=notices.append)
    log.write(row(1), DAY)
    log.close()
    assert [r[1] for r in whole_file_records(path)[1:]] == ["c0000", "c0001"]
    assert notices == [f"{path}: {len(fragment)} byte(s) of an unfinished row at the end removed"]


# --- atomic writer -----------------------------------------------------------------------------


def test_atomic_write_keeps_the_mode_and_backs_up_whole(tmp_path):
    target = tmp_path / "settings.toml"
    target.write_bytes(b"old")
    os.chmod(target, 0o640)
    atomic_write_bytes(target, b"new")
    assert stat.S_IMODE(target.stat().st_mode) == 0o640
    assert target.read_bytes() == b"new" and backup_path(target).read_bytes() == b"old"
    atomic_write_bytes(target, b"newer")
    assert backup_path(target).read_bytes() == b"new"  # the previous version, not the first
    fresh = tmp_path / "fresh.yaml"
    atomic_write_bytes(fresh, b"x")
    umask = os.umask(0)
    os.umask(umask)
    assert stat.S_IMODE(fresh.stat().st_mode) == 0o666 & ~umask
    assert sorted(p.name for p in tmp_path.iterdir()) == ["fresh.yaml", "settings.toml", "settings.toml.bak"]


def test_stale_temp_files_of_a_crashed_write_are_removed(tmp_path):
    target = tmp_path / "settings.toml"
    stale = tmp_path / ".settings.toml.abc123.tmp"
    stale.write_bytes(b"half")
    fresh = tmp_path / ".settings.toml.def456.tmp"  # a write under way right now: kept
    fresh.write_bytes(b"busy")
    old = time.time() - 3600
    os.utime(stale, (old, old))
    assert remove_stale_temp_files(target) == [stale]
    assert fresh.exists() and not stale.exists()


def test_loading_a_pattern_folder_removes_leftover_temp_files(tmp_path):
    from inspection_station.core.patterns.yaml_io import load_pattern_library

    (tmp_path / "a.yaml").write_text("v:\n  - class_id: 0\n    inner: [0.2, 0.2, 0.3, 0.3]\n    outer: [0.1, 0.1, 0.4, 0.4]\n")
    stale = tmp_path / ".a.yaml.x1y2.tmp"
    stale.write_text("half a save")
    old = time.time() - 3600
    os.utime(stale, (old, old))
    assert list(load_pattern_library(tmp_path)) == ["a"]
    assert not stale.exists()


_REWRITER = """
import sys
from inspection_station.core.atomic import atomic_write_bytes
i = 0
while True:
    atomic_write_bytes(sys.argv[1], bytes([65 + i % 2]) * 2_000_000, fsync=False)
    i += 1
"""


def test_kill_9_during_saves_never_tears_the_file_or_its_backup(tmp_path):
    target = tmp_path / "big.toml"
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    for kill in range(8):
        child = subprocess.Popen([sys.executable, "-c", _REWRITER, str(target)], cwd=REPO, env=env)
        try:
            deadline = time.monotonic() + 120  # a safety net against a hung child, not a measurement
            while not backup_path(target).exists():
                assert child.poll() is None and time.monotonic() < deadline
                time.sleep(0.005)
            time.sleep(0.013 * kill)  # land the kill at a different point of a save each time
        finally:
            child.send_signal(signal.SIGKILL)
            child.wait()
        for path in (target, backup_path(target)):
            data = path.read_bytes()
            assert data in (b"A" * 2_000_000, b"B" * 2_000_000), f"{path}: torn ({len(data)} bytes)"


# --- the settings dialog says read-only ------------------------------------------------------------


@pytest.mark.qt
def test_the_dialog_says_read_only_and_never_saves_over_a_broken_file(qtbot, tmp_path):
    from inspection_station.gui.engineer.settings_dialog import SettingsDialog

    path = tmp_path / "settings.toml"
    original = b'[station]\nname = "broken\n'
    path.write_bytes(original)
    dialog = SettingsDialog(Settings(), None, actions=signed_in_actions(Settings(), tmp_path, settings_path=path))
    qtbot.addWidget(dialog)
    assert dialog.message.text().startswith("Read-only: running on defaults.")
    assert "not valid TOML" in dialog.message.text()
    dialog._widget_of("station", "name").setText("station-9")
    assert not dialog.apply()
    assert "not saved over it" in dialog.message.text()
    assert path.read_bytes() == original


# --- archived images: a row's image path counts once the index confirms it --------------------


def test_the_image_index_confirms_written_images_only(tmp_path):
    import numpy as np

    from inspection_station.core.results.archive import ImageArchive
    from inspection_station.core.results.image_index import image_state, index_path, written_images

    errors: list[str] = []
    archive = ImageArchive(tmp_path, image_format="png", on_error=errors.append)
    day = tmp_path / "2026-11-24"
    good = day / "c1_NOK.png"
    blocked = tmp_path / "2026-11-25"
    blocked.write_text("a file where the day's folder should be: the image cannot be written")
    bad = blocked / "c2_NOK.png"
    assert archive.submit(np.zeros((8, 8, 3), np.uint8), good)
    assert archive.submit(np.zeros((8, 8, 3), np.uint8), bad)  # queued: the row names it
    archive.close()
    assert written_images(day) == {"c1_NOK.png"} and index_path(day) == tmp_path / "2026-11-24.written.txt"
    assert (image_state(str(good)), image_state(str(bad)), image_state("")) == ("written", "not written", "")
    assert len(errors) == 1 and "c2_NOK.png: cannot write the archived image" in errors[0]
    good.unlink()  # e.g. retention
    assert image_state(str(good)) == "removed"
    assert sorted(p.name for p in day.iterdir()) == []  # the index is beside the images, not among them
