"""Image archive: policy, paths, background writer, dropped images, review folder."""

from __future__ import annotations

import threading
from datetime import UTC, datetime

import cv2
import numpy as np
import pytest

from inspection_station.core.cycle import Verdict
from inspection_station.core.detection import Detection
from inspection_station.core.errors import ResultsError
from inspection_station.core.results import archive as image_archive
from inspection_station.core.results.archive import (
    ArchivePolicy,
    ImageArchive,
    encode_image,
    safe_name,
    save_for_review,
)

VERDICTS = [Verdict.OK, Verdict.NOK, Verdict.OK, Verdict.ERROR, Verdict.OK, Verdict.OK, Verdict.NOK]


def rgb_image() -> np.ndarray:
    img = np.zeros((24, 32, 3), np.uint8)
    img[..., 0] = 200  # red channel only: a swapped R/B would show
    img[:, :8, 1] = 50
    return img


@pytest.mark.parametrize(
    "mode, expected",
    [
        ("all", [0, 1, 2, 3, 4, 5, 6]),
        ("every_n", [0, 3, 6]),
        ("failed", [1, 3, 6]),
        ("none", []),
        ("every_n_and_failed", [0, 1, 3, 6]),  # the old backend's "every x" + failed ones
    ],
)
def test_policy_picks_the_cycles(mode, expected):
    policy = ArchivePolicy(mode, every_n=3)
    assert [i for i, v in enumerate(VERDICTS) if policy.wants(v, i)] == expected


def test_policy_rejects_unknown_mode():
    with pytest.raises(ResultsError, match="archive policy"):
        ArchivePolicy("sometimes")


def test_path_layout_and_safe_names(tmp_path):
    archive = ImageArchive(tmp_path, image_format="webp")
    ts = datetime(2026, 11, 24, 9, 30).astimezone()
    assert archive.path_for("c:01/a", Verdict.NOK, ts) == tmp_path / "2026-11-24" / "c_01_a_NOK.webp"
    archive.close()
    assert safe_name("..") == "cycle"


@pytest.mark.parametrize("fmt", ["jpg", "png", "webp"])
def test_written_images_decode_with_the_right_colours(tmp_path, fmt):
    archive = ImageArchive(tmp_path, image_format=fmt, quality=95)
    path = archive.path_for("c1", Verdict.OK, datetime.now().astimezone())
    assert archive.submit(rgb_image(), path)
    archive.close()
    assert not archive.is_alive  # close joined the writer thread
    back = cv2.cvtColor(cv2.imread(str(path)), cv2.COLOR_BGR2RGB)
    tolerance = 0 if fmt == "png" else 12
    assert np.abs(back.astype(int) - rgb_image().astype(int)).max() <= tolerance
    assert archive.written == 1
    assert [p.name for p in path.parent.iterdir()] == ["c1_OK." + fmt]  # no temp file left


def test_mono_images_are_archived(tmp_path):
    archive = ImageArchive(tmp_path, image_format="png")
    path = tmp_path / "mono.png"
    archive.submit(np.full((8, 8), 77, np.uint8), path)
    archive.close()
    assert cv2.imread(str(path), cv2.IMREAD_UNCHANGED).max() == 77


def test_unknown_format_is_refused():
    with pytest.raises(ResultsError, match="jpg, png or webp"):
        encode_image(rgb_image(), "bmp")


def test_full_queue_drops_loudly_instead_of_blocking(tmp_path, monkeypatch):
    started, release = threading.Event(), threading.Event()
    real = image_archive.encode_image

    def slow_encode(*args, **kwargs):
        started.set()
        assert release.wait(30)
        return real(*args, **kwargs)

    monkeypatch.setattr(image_archive, "encode_image", slow_encode)
    errors: list[str] = []
    archive = ImageArchive(tmp_path, image_format="png", queue_size=1, on_error=errors.append)
    assert archive.submit(rgb_image(), tmp_path / "a.png")
    assert started.wait(30)  # the writer holds "a"; the queue is empty again
    assert archive.submit(rgb_image(), tmp_path / "b.png")  # fills the queue
    assert not archive.submit(rgb_image(), tmp_path / "c.png")  # dropped, not waited for
    assert archive.dropped == 1
    assert "c.png" in errors[0] and "dropped" in errors[0]
    release.set()
    archive.close()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.png", "b.png"]


def test_write_failure_is_reported_and_the_writer_keeps_going(tmp_path):
    (tmp_path / "blocker").write_bytes(b"a file where a folder should be")
    errors: list[str] = []
    archive = ImageArchive(tmp_path, image_format="png", on_error=errors.append)
    archive.submit(rgb_image(), tmp_path / "blocker" / "x.png")
    archive.submit(rgb_image(), tmp_path / "ok" / "y.png")
    archive.close()
    assert archive.failed == 1 and archive.written == 1
    assert "x.png" in errors[0] and "cannot write" in errors[0]
    assert (tmp_path / "ok" / "y.png").is_file()


def test_submit_after_close_is_reported(tmp_path):
    errors: list[str] = []
    archive = ImageArchive(tmp_path, on_error=errors.append)
    archive.close()
    assert not archive.submit(rgb_image(), tmp_path / "late.jpg")
    assert archive.dropped == 1 and "closed" in errors[0]


def test_archive_and_review_names_start_with_the_station_as_the_csv(tmp_path):
    ts = datetime(2026, 11, 24, 10, 0, tzinfo=UTC)
    archive = ImageArchive(tmp_path, station="検査ライン")
    try:
        assert archive.path_for("c1", Verdict.OK, ts).name == "検査ライン_c1_OK.jpg"
        other = ImageArchive(tmp_path, station="組立ライン")
        assert other.path_for("c1", Verdict.OK, ts) != archive.path_for("c1", Verdict.OK, ts)
        other.close()
    finally:
        archive.close()
    png = save_for_review(tmp_path / "review", rgb_image(), "c7", Verdict.OK, station="Линия 1")
    assert png.name.startswith("Линия_1-") and png.name.endswith("_c7_OK.png")


def test_save_for_review_writes_lossless_png_and_yolo_labels(tmp_path):
    dets = [Detection(1, "nut", 0.9, (8.0, 6.0, 16.0, 18.0)), Detection(0, "screw", 0.5, (0.0, 0.0, 32.0, 24.0))]
    png = save_for_review(tmp_path / "review", rgb_image(), "c7", Verdict.OK, dets)
    assert png == tmp_path / "review" / "c7_OK.png"
    back = cv2.cvtColor(cv2.imread(str(png)), cv2.COLOR_BGR2RGB)
    assert np.array_equal(back, rgb_image())
    assert png.with_suffix(".txt").read_text().splitlines() == [
        "1 0.375000 0.500000 0.250000 0.500000",
        "0 0.500000 0.500000 1.000000 1.000000",
    ]
