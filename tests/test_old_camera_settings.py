"""The old camera adapter's settings: the four-edge ROI (fraction or pixels) before or after
rotation, rotation expand, the frame-rate limit, test images by list/glob in random order."""

from __future__ import annotations

import numpy as np
import pytest

from inspection_station.core.camera.folder_replay import FolderCamera
from inspection_station.core.camera.transform import FrameTransform, edges_box, rotate
from inspection_station.core.errors import CameraError
from inspection_station.core.settings.model import CameraSettings
from tests.test_camera import centre, emulator, images, opened, write_images  # noqa: F401  (fixtures)

W, H = 64, 48


def gradient(h=H, w=W) -> np.ndarray:
    """Every pixel distinct: a crop is identified by its pixels."""
    y, x = np.mgrid[0:h, 0:w]
    return np.dstack([x * 3, y * 5, (x + y) % 256]).astype(np.uint8)


@pytest.mark.parametrize(("edges", "new"), [
    ((0.25, 0.5, 0.75, 1.0), dict(roi_unit="fraction", roi_x=0.25, roi_y=0.5, roi_width=0.5, roi_height=0.5)),
    ((8, 6, 40, 30), dict(roi_unit="px", roi_x=8, roi_y=6, roi_width=32, roi_height=24)),
    ((0.125, 6, 0, 0), dict(roi_unit="px", roi_x=8, roi_y=6)),  # mixed: 0.125 of 64 px; 0 = to the edge
])
def test_the_old_roi_form_gives_the_same_crop_as_the_new_form(edges, new):
    image = gradient()
    left, top, right, bottom = edges
    old = FrameTransform.from_settings(CameraSettings(roi_left=left, roi_top=top, roi_right=right, roi_bottom=bottom))
    assert np.array_equal(old.apply(image), FrameTransform.from_settings(CameraSettings(**new)).apply(image))


def test_old_roi_edges_are_located_errors():
    with pytest.raises(CameraError, match="leave no pixels"):
        edges_box(W, H, (0.8, 0, 0.2, 0))
    both = FrameTransform.from_settings(CameraSettings(roi_left=0.1, roi_x=0.1))
    with pytest.raises(CameraError, match="not both"):
        both.apply(gradient())


def test_crop_before_rotation_is_the_old_adapters_order():
    image = gradient()
    s = dict(rotation_deg=90.0, roi_left=8, roi_top=6, roi_right=40, roi_bottom=30)
    first = FrameTransform.from_settings(CameraSettings(roi_before_rotation=True, **s)).apply(image)
    assert np.array_equal(first, np.rot90(image[6:30, 8:40], 1))
    after = FrameTransform.from_settings(CameraSettings(**s)).apply(image)
    assert np.array_equal(after, np.rot90(image, 1)[6:30, 8:40])
    assert not np.array_equal(first.shape, after.shape)


def test_rotation_expand_keeps_the_corners():
    image = np.full((H, W, 3), 200, np.uint8)
    kept = rotate(image, 30, expand=False)
    grown = rotate(image, 30, expand=True)
    assert kept.shape == image.shape
    c, s = np.cos(np.radians(30)), np.sin(np.radians(30))
    assert grown.shape[:2] == (int(np.ceil(W * s + H * c)), int(np.ceil(W * c + H * s)))
    # all of the frame's area survives the turn (within the edge's interpolation), none is cut
    assert abs(int((grown > 100).all(axis=2).sum()) - W * H) < 0.05 * W * H
    assert (kept > 100).all(axis=2).sum() < 0.85 * W * H
    via_settings = FrameTransform.from_settings(CameraSettings(rotation_deg=30, rotation_expand=True)).apply(image)
    assert via_settings.shape == grown.shape


def test_the_old_roi_on_the_real_emulator(images, opened):  # noqa: F811
    frame = opened(emulator(images, roi_left=0.5, roi_top=0.5)).grab()
    assert frame.image.shape == (H // 2, W // 2, 3)


def test_frame_rate_limit_reaches_the_camera(images, opened):  # noqa: F811
    camera = opened(emulator(images, frame_rate_limit=7.5))
    node = camera.instant_camera.GetNodeMap()
    assert node.GetNode("AcquisitionFrameRateEnable").GetValue() is True
    assert node.GetNode("AcquisitionFrameRateAbs").GetValue() == pytest.approx(7.5)
    assert not [w for w in camera.warnings if "frame_rate_limit" in w]


def test_test_images_by_glob_sequential_and_random(tmp_path):
    a = write_images(tmp_path / "a", names=["x_0.png", "x_1.png", "y_0.png"])
    write_images(tmp_path / "b", colours=((9, 9, 9),), names=["z.png"])
    settings = CameraSettings(source="folder", test_images=[str(a / "x_*.png"), str(tmp_path / "b" / "z.png"),
                                                             str(tmp_path / "none_*.png")])
    cam = FolderCamera(settings)
    cam.open()
    assert [p.name for p in cam.files] == ["x_0.png", "x_1.png", "z.png"]
    assert [cam.grab().meta["file"].rsplit("/", 1)[-1] for _ in range(4)] == ["x_0.png", "x_1.png", "z.png", "x_0.png"]
    assert cam.warnings == [f"[camera] test_images {str(tmp_path / 'none_*.png')!r}: no image files match"]
    assert cam.description == "test images (3 files, sequential)"

    rand = FolderCamera(CameraSettings(source="folder", test_images=[str(a / "*.png")], test_image_order="random"))
    rand.open()
    picks = [rand.grab().meta["file"] for _ in range(40)]
    assert set(picks) == {str(p) for p in rand.files}  # every file comes up ...
    cycle = [str(p) for p in rand.files] * 14
    assert picks != cycle[:40]  # ... not in name order

    with pytest.raises(CameraError, match="no image files match"):
        FolderCamera(CameraSettings(source="folder", test_images=[str(tmp_path / "nothing*.png")])).open()


def test_settings_checks_know_the_old_forms(tmp_path):
    from inspection_station.core.settings.checks import check_settings
    from inspection_station.core.settings.model import Settings

    both = Settings().replace("camera", roi_left=0.1, roi_x=0.2)
    assert [(p.key, "not both" in p.message) for p in check_settings(both)] == [("roi_left", True)]
    replay = Settings().replace("camera", source="folder", test_images=[str(tmp_path / "*.png")])
    assert check_settings(replay) == []  # test images alone are a source: no image_folder needed
    gone = Settings().replace("model", class_map=str(tmp_path / "gone.csv"))
    assert [p.key for p in check_settings(gone)] == ["class_map"]
