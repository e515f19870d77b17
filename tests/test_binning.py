"""Binning towards the model's resolution: on the camera's sensor or in software, with the
pattern's verdicts unchanged (its coordinates are fractions of the frame)."""

from __future__ import annotations

import numpy as np
import pytest

from inspection_station.core.camera.folder_replay import FolderCamera
from inspection_station.core.camera.transform import FrameTransform, decimate
from inspection_station.core.detect.detector import Detector
from inspection_station.core.errors import CameraError, ConfigError
from inspection_station.core.images import list_images
from inspection_station.core.patterns.yaml_io import load_pattern_set
from inspection_station.core.pipeline import Pipeline
from inspection_station.core.settings.model import (
    CameraSettings,
    ModelSettings,
    PatternSettings,
    load_settings,
    resolve_emulation_image_dir,
    resolve_model_path,
    resolve_patterns_path,
)
from tests.known_station import signed_in_actions
from tests.test_camera import emulator, images, opened  # noqa: F401 - fixtures

DEMO_IMAGES = resolve_emulation_image_dir(CameraSettings())


def test_software_binning_halves_the_frame_by_block_means():
    image = np.zeros((6, 10, 3), np.uint8)
    image[0:2, 0:2] = (200, 100, 40)  # one 2 x 2 block of colour; the rest black
    image[0:2, 2:4] = 40  # the next block: a flat 40
    out = decimate(image, 2)
    assert out.shape == (3, 5, 3)
    assert tuple(out[0, 0]) == (200, 100, 40)
    assert tuple(out[0, 1]) == (40, 40, 40)
    assert int(decimate(np.array([[0, 255], [0, 255]], np.uint8), 2)[0, 0]) in (127, 128)  # a mean, not a pick
    assert decimate(np.zeros((7, 9), np.uint8), 2).shape == (3, 4)  # odd edges drop, as on a sensor


def test_software_binning_comes_before_rotation_and_roi():
    image = np.zeros((48, 64, 3), np.uint8)
    image[:4, :8] = 255  # top-left marker
    t = FrameTransform.from_settings(
        CameraSettings(binning=2, rotation_deg=90, roi_unit="px", roi_width=10, roi_height=20)
    )
    out = t.apply(image)
    assert out.shape == (20, 10, 3) and out.flags["C_CONTIGUOUS"]  # 32 x 24 turned to 24 x 32, then cut
    assert tuple(out[-1, 0]) == (0, 0, 0)
    assert tuple(FrameTransform.from_settings(CameraSettings(binning=2, rotation_deg=90)).apply(image)[-1, 0]) == (255,) * 3
    # "camera" mode leaves the frames to the sensor
    assert FrameTransform.from_settings(CameraSettings(binning=2, binning_mode="camera")).is_identity


def test_folder_frames_arrive_exactly_half_size_with_software_binning_2():
    full = FolderCamera(CameraSettings(source="folder", image_folder=str(DEMO_IMAGES)))
    half = FolderCamera(CameraSettings(source="folder", image_folder=str(DEMO_IMAGES), binning=2))
    full.open()
    half.open()
    a, b = full.grab(), half.grab()
    assert (b.width, b.height) == (a.width // 2, a.height // 2)
    assert b.image.shape == (a.height // 2, a.width // 2, 3)


def test_folder_replay_reports_camera_binning_as_not_applied():
    cam = FolderCamera(
        CameraSettings(source="folder", image_folder=str(DEMO_IMAGES), binning=2, binning_mode="camera")
    )
    cam.open()
    assert any("binning" in w and "not applied" in w for w in cam.warnings)
    frame = cam.grab()
    assert frame.image.shape[:2] == (frame.height, frame.width) and frame.width > 1000  # full size


def test_camera_binning_sets_the_emulators_binning_nodes(images, opened):  # noqa: F811
    camera = opened(emulator(images, binning=2, binning_mode="camera"))
    cam = camera.instant_camera  # read back: the emulator takes the nodes but serves files whole
    assert cam.BinningHorizontal.Value == cam.BinningVertical.Value == 2
    assert not any("binning" in w for w in camera.warnings)
    camera.grab()


def test_camera_binning_1_leaves_the_nodes_alone(images, opened):  # noqa: F811
    cam = opened(emulator(images)).instant_camera
    assert cam.BinningHorizontal.Value == cam.BinningVertical.Value == 1


@pytest.mark.parametrize(("toml", "message"), [
    ("binning = 3", r"\[camera\] binning: expected one of 1, 2, 4, got 3"),
    ("binning = 2.5", r"\[camera\] binning: expected a whole number"),
    ('binning_mode = "sensor"', r"\[camera\] binning_mode: expected one of 'software', 'camera', got 'sensor'"),
])
def test_bad_binning_values_are_located_errors(tmp_path, toml, message):
    path = tmp_path / "settings.toml"
    path.write_text(f"[camera]\n{toml}\n", encoding="utf-8")
    with pytest.raises(ConfigError, match=message):
        load_settings(path, strict=True)


def test_demo_verdicts_are_the_same_with_software_binning_2():
    detector = Detector.load(resolve_model_path(ModelSettings()), ModelSettings(providers=["CPUExecutionProvider"]))
    pattern_set = load_pattern_set(resolve_patterns_path(PatternSettings()) / "demo_parts.yaml")
    pipeline = Pipeline(detector, pattern_set)
    count = len(list_images(DEMO_IMAGES))

    def verdicts(binning: int) -> list[str]:
        camera = FolderCamera(CameraSettings(source="folder", image_folder=str(DEMO_IMAGES), binning=binning))
        camera.open()
        return [pipeline.inspect(camera.grab()).verdict.value for _ in range(count)]

    full, binned = verdicts(1), verdicts(2)
    assert set(full) == {"OK", "NOK"}  # the demo holds both, so a change would show
    assert binned == full


def test_software_binning_4_is_the_block_mean_and_refuses_other_factors():
    rng = np.random.default_rng(17)
    image = rng.integers(0, 256, (40, 48, 3), dtype=np.uint8)
    out = decimate(image, 4)
    exact = image.reshape(10, 4, 12, 4, 3).mean(axis=(1, 3))
    assert out.shape == (10, 12, 3) and np.abs(out - exact).max() <= 1.0
    with pytest.raises(CameraError, match="binning: expected 1, 2 or 4, got 3"):
        decimate(image, 3)


@pytest.mark.qt
def test_the_settings_dialog_offers_binning_and_saves_it_as_a_number(qtbot, tmp_path):
    from inspection_station.core.settings.model import Settings
    from inspection_station.gui.engineer.settings_dialog import SettingsDialog

    dialog = SettingsDialog(Settings(), None, actions=signed_in_actions(Settings(), tmp_path, audit_path=tmp_path / "a.jsonl"))
    qtbot.addWidget(dialog)
    box = dialog._widget_of("camera", "binning")
    assert [box.itemText(i) for i in range(box.count())] == ["1", "2", "4"]
    box.setCurrentIndex(box.findData(2))
    mode = dialog._widget_of("camera", "binning_mode")
    mode.setCurrentIndex(mode.findData("camera"))
    assert dialog.apply(), dialog.message.text()
    saved = load_settings(tmp_path / "settings.toml", strict=True).settings.camera
    assert saved.binning == 2 and isinstance(saved.binning, int) and saved.binning_mode == "camera"
