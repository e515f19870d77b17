"""Image retention on a synthetic archive with old mtimes: exactly the expected files go."""

from __future__ import annotations

import logging
import os
import time
from datetime import datetime, timedelta
from pathlib import Path

import pytest

from inspection_station.core.results.retention import (
    RetentionWorker,
    apply_retention,
    plan_retention,
)
from inspection_station.core.settings.model import RetentionSettings
from tests.test_station import events, make_station, setup  # noqa: F401  (fixtures)

DAY = 86_400


@pytest.fixture
def archive(tmp_path):
    """image_dir/<day>/<id>_<verdict>.jpg, 1000 bytes each, mtime = that day at noon."""
    now = datetime.now().astimezone().replace(hour=12, minute=0, second=0, microsecond=0)
    images, review = tmp_path / "images", tmp_path / "images" / "review"
    files: dict[str, Path] = {}

    def put(folder: Path, name: str, days_ago: int) -> None:
        path = folder / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(b"x" * 1000)
        t = (now - timedelta(days=days_ago)).timestamp()
        os.utime(path, (t, t))
        files[name] = path

    for days_ago in (40, 20, 8, 3):
        day = (now - timedelta(days=days_ago)).date().isoformat()
        put(images / day, f"d{days_ago}_OK.jpg", days_ago)
        put(images / day, f"d{days_ago}_NOK.jpg", days_ago)
    today = now.date().isoformat()
    put(images / today, "today_OK.jpg", 0)
    put(images / today, "today_NOK.jpg", 0)
    put(images / today, "today_ERROR.png", 0)
    put(review, "old_review_OK.png", 90)  # review folder inside the archive: never touched
    (images / today / "notes.txt").write_text("not an image")
    return images, review, files, now.timestamp()


def _names(paths):
    return sorted(Path(p).name for p in paths)


def test_age_limit_deletes_exactly_the_old_images(archive, caplog):
    images, review, files, now = archive
    caplog.set_level(logging.INFO, logger="inspection_station.core.results.retention")
    report = apply_retention(images, RetentionSettings(max_age_days=10), review_dir=review, now=now)
    assert _names(report.deleted) == ["d20_NOK.jpg", "d20_OK.jpg", "d40_NOK.jpg", "d40_OK.jpg"]
    assert report.freed_bytes == 4000
    assert all(not p.exists() for p in report.deleted)
    assert files["old_review_OK.png"].exists() and files["d8_OK.jpg"].exists()
    assert (images / (datetime.fromtimestamp(now) - timedelta(days=40)).date().isoformat()).exists() is False
    logged = caplog.text
    assert all(str(p) in logged for p in report.deleted)  # what was deleted is logged


def test_quota_deletes_oldest_first_but_never_review_or_todays_failed(archive):
    images, review, files, now = archive
    # 11 archive images = 11000 bytes (review not counted); a 1500-byte quota cannot be met
    # without today's two failed ones, so everything else goes, oldest first
    quota = RetentionSettings(quota_mb=1500 / 2**20)
    doomed, kept = plan_retention(images, quota, review_dir=review, now=now)
    assert [d.path.name for d in doomed][:3] == ["d40_NOK.jpg", "d40_OK.jpg", "d20_NOK.jpg"]
    report = apply_retention(images, quota, review_dir=review, now=now)
    left = _names(p for p in images.rglob("*") if p.is_file())
    assert left == ["notes.txt", "old_review_OK.png", "today_ERROR.png", "today_NOK.jpg"]
    assert len(report.deleted) == 9 and report.kept_bytes == 2000 == kept


def test_quota_stops_as_soon_as_the_archive_fits(archive):
    images, review, files, now = archive
    report = apply_retention(images, RetentionSettings(quota_mb=8500 / 2**20), review_dir=review, now=now)
    assert [p.name for p in report.deleted] == ["d40_NOK.jpg", "d40_OK.jpg", "d20_NOK.jpg"]  # oldest first
    assert report.kept_bytes == 8000


def test_no_limits_delete_nothing(archive):
    images, review, files, now = archive
    assert apply_retention(images, RetentionSettings(), review_dir=review, now=now).deleted == ()
    assert all(p.exists() for p in files.values())


def test_worker_runs_off_the_cycle_path_and_reports_low_disk_once(archive):
    images, review, files, _now = archive
    reports = []
    worker = RetentionWorker(images, review, RetentionSettings(max_age_days=10, low_disk_mb=1e12),
                             on_low_disk=lambda low, msg: reports.append((low, msg)))
    worker.start()
    deadline = time.monotonic() + 20
    while worker.runs < 1 and time.monotonic() < deadline:
        time.sleep(0.01)
    worker.run_now()
    while worker.runs < 2 and time.monotonic() < deadline:
        time.sleep(0.01)
    worker.stop()
    assert worker.runs >= 2 and not files["d40_OK.jpg"].exists()
    assert len(reports) == 1 and reports[0][0] is True and "low disk" in reports[0][1]


def test_the_station_runs_retention_and_reports_a_low_disk_as_state_and_error(setup, events):  # noqa: F811
    settings, tmp = setup
    old = tmp / "img" / "2020-01-01" / "x_OK.jpg"
    old.parent.mkdir(parents=True)
    old.write_bytes(b"x")
    os.utime(old, (time.time() - 30 * DAY,) * 2)
    settings = settings.replace("retention", max_age_days=7, low_disk_mb=1e12)
    station = make_station(settings, events)
    station.start()
    try:
        deadline = time.monotonic() + 20
        while (old.exists() or not events["errors"]) and time.monotonic() < deadline:
            time.sleep(0.02)
    finally:
        station.stop()
    assert not old.exists()
    assert any(s[:2] == ("disk", "low") for s in events["states"])
    assert any("low disk" in e for e in events["errors"])
