"""Cameras against Basler's real camera emulator (PYLON_CAMEMU, see conftest) and image folders."""

from __future__ import annotations

import json
import shutil

import cv2
import numpy as np
import pytest
from pypylon import pylon

from inspection_station.cli import main as cli_main
from inspection_station.core.camera.discovery import list_devices
from inspection_station.core.camera.folder_replay import FolderCamera
from inspection_station.core.camera.protocol import Camera, CameraState
from inspection_station.core.camera.transform import FrameTransform, roi_box, rotate
from inspection_station.core.camera.worker import open_camera
from inspection_station.core.errors import CameraError, CameraTimeout
from inspection_station.core.settings.model import CameraSettings

RED, GREEN, BLUE = (255, 0, 0), (0, 255, 0), (0, 0, 255)
W, H = 64, 48


def write_images(folder, colours=(RED, GREEN, BLUE), names=None):
    """Small distinct PNGs; a white 8x4 marker in the top-left corner shows orientation."""
    folder.mkdir(parents=True, exist_ok=True)
    names = names or [f"img_{i:02d}.png" for i in range(len(colours))]
    for name, colour in zip(names, colours, strict=True):
        rgb = np.zeros((H, W, 3), np.uint8)
        rgb[:] = colour
        rgb[:4, :8] = 255
        cv2.imwrite(str(folder / name), rgb[:, :, ::-1])
    return folder


@pytest.fixture
def images(tmp_path):
    return write_images(tmp_path / "images")


def emulator(images, **changes) -> CameraSettings:
    base = dict(emulation_image_dir=str(images), exposure_us=100, grab_timeout_ms=1000)
    return CameraSettings(**{**base, **changes})


@pytest.fixture
def opened():
    cameras: list[Camera] = []

    def _open(settings: CameraSettings) -> Camera:
        camera = open_camera(settings)
        cameras.append(camera)
        return camera

    yield _open
    for camera in cameras:
        camera.close()


def centre(frame):
    return tuple(int(v) for v in np.atleast_1d(frame.image[H // 2, W // 2]))


# --- the emulator ----------------------------------------------------------------------


def test_emulator_serves_the_folder_in_name_order_in_colour(images, opened):
    camera = opened(emulator(images))
    frames = [camera.grab() for _ in range(4)]
    assert camera.state is CameraState.EMULATED
    assert [centre(f) for f in frames] == [RED, GREEN, BLUE, RED]
    assert frames[0].source == "pylon:Emulation 0815-0000"
    assert [f.meta["mode"] for f in frames] == ["software"] * 4
    assert len({f.frame_id for f in frames}) == 4


@pytest.mark.parametrize(
    ("pixel_format", "output_format", "shape", "expect"),
    [
        ("RGB8Packed", "RGB", (H, W, 3), RED),
        ("BGR8Packed", "RGB", (H, W, 3), RED),
        ("RGB8Packed", "BGR", (H, W, 3), (0, 0, 255)),
        ("BayerRG8", "RGB", (H, W, 3), RED),  # demosaiced by the converter
        ("BayerBG8", "RGB", (H, W, 3), RED),
        ("Mono8", "Mono", (H, W), None),
        ("Mono8", "RGB", (H, W, 3), "grey"),
        ("BayerRG8", "Mono", (H, W), None),
    ],
)
def test_pixel_format_and_output_conversion(
    images, opened, pixel_format, output_format, shape, expect
):
    camera = opened(emulator(images, pixel_format=pixel_format, output_format=output_format))
    frame = camera.grab()
    assert frame.image.shape == shape
    assert frame.image.dtype == np.uint8
    assert frame.image.flags["C_CONTIGUOUS"]
    assert frame.meta["pixel_format"] == pixel_format
    if expect == "grey":
        r, g, b = centre(frame)
        assert r == g == b > 0
    elif expect is not None:
        assert centre(frame) == expect


def test_missing_emulator_folder_is_refused_instead_of_serving_the_test_pattern(tmp_path, opened):
    # issue 15: the emulator's built-in test pattern must never be judged in place of the images
    with pytest.raises(CameraError, match="nothing-here has no images.*not serving the emulator's test pattern"):
        opened(emulator(tmp_path / "nothing-here"))


def test_emulator_folder_removed_while_open_fails_the_grab_and_reopens_when_back(tmp_path, images, opened):
    folder = tmp_path / "served"
    shutil.copytree(images, folder)
    camera = opened(emulator(folder))
    assert camera.grab().image.shape[:2] == (H, W)
    hidden = tmp_path / "hidden"
    folder.rename(hidden)
    with pytest.raises(CameraError, match="is gone: not serving the test pattern"):
        camera.grab()
    camera.close()
    with pytest.raises(CameraError, match="has no images"):
        opened(emulator(folder))
    hidden.rename(folder)
    assert opened(emulator(folder)).grab().image.shape[:2] == (H, W)


def test_camera_is_chosen_by_serial(images, opened):
    camera = opened(emulator(images, serial="0815-0001"))
    assert camera.grab().source == "pylon:Emulation 0815-0001"


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"serial": "12345678"}, "no camera with serial '12345678'"),
        ({"emulation": False}, "emulation is off"),
        ({"ip_address": "192.0.2.1"}, "no GigE camera answers at 192.0.2.1"),
        ({"pixel_format": "Mono99"}, "pixel_format = 'Mono99'"),
        ({"exposure_us": 1e12}, "exposure_us"),
    ],
)
def test_bad_selection_or_setting_is_a_clear_camera_error(images, changes, message):
    with pytest.raises(CameraError, match=message.replace("(", r"\(")):
        open_camera(emulator(images, **changes))


def test_a_configured_camera_missing_never_falls_back_to_the_emulator(images):
    with pytest.raises(CameraError, match="no camera with serial"):
        open_camera(emulator(images, serial="40012345", emulation=True))


def test_gige_settings_apply_where_the_node_exists_and_are_reported_where_not(images, opened):
    camera = opened(
        emulator(images, packet_size=1500, transmission_type="Multicast", destination_port=5000)
    )
    assert camera.instant_camera.GevSCPSPacketSize.Value == 1500
    assert any("transmission_type" in w and "not applied" in w for w in camera.warnings)
    assert any("destination_port" in w for w in camera.warnings)
    camera.grab()


def test_software_trigger_frames_are_fresh_not_buffered(images, opened):
    camera = opened(emulator(images))
    camera.grab()
    cam = camera.instant_camera
    # A trigger sent before the camera is ready is ignored: wait, as any trigger source must.
    assert cam.WaitForFrameTriggerReady(5000, pylon.TimeoutHandling_Return)
    cam.ExecuteSoftwareTrigger()  # a stray frame lands in the queue ...
    assert camera.instant_camera.GetGrabResultWaitObject().Wait(5000)
    assert centre(camera.grab()) == BLUE  # ... and is dropped: the next file comes from our trigger


def test_hardware_trigger_that_never_comes_times_out_cleanly(images, opened):
    camera = opened(
        emulator(images, trigger_mode="hardware", trigger_line="Line2", trigger_edge="FallingEdge")
    )
    with pytest.raises(CameraTimeout, match="no hardware trigger on Line2"):
        camera.wait_hardware_trigger(200)
    with pytest.raises(CameraTimeout):
        camera.grab(100)  # grab in hardware mode = the next triggered frame
    assert camera.instant_camera.TriggerSource.Value == "Line2"
    assert camera.instant_camera.TriggerActivation.Value == "FallingEdge"
    # The emulator fires on its TriggerSoftware node even with a line source: our stand-in pulse.
    camera.instant_camera.TriggerSoftware.Execute()
    frame = camera.wait_hardware_trigger(1000)
    assert frame.meta["mode"] == "hardware" and centre(frame) == RED


def test_continuous_streaming_gives_newest_frames_and_fresh_grabs(images, opened):
    camera = opened(emulator(images, trigger_mode="continuous"))
    frames = [camera.latest_frame() for _ in range(3)]
    assert all(f.meta["mode"] == "continuous" for f in frames)
    assert camera.grab().image.shape == (H, W, 3)


def test_streaming_switches_and_returns_to_software_trigger(images, opened):
    camera = opened(emulator(images))
    with pytest.raises(CameraError, match="not streaming"):
        camera.latest_frame()
    camera.start_streaming()
    assert camera.latest_frame().meta["mode"] == "continuous"
    camera.stop_streaming()
    assert camera.grab().meta["mode"] == "software"


@pytest.mark.parametrize(
    ("changes", "shape", "marker_at"),
    [
        ({"rotation_deg": 90}, (W, H, 3), (W - 1, 0)),  # counter-clockwise: top-left -> bottom-left
        ({"rotation_deg": -90}, (W, H, 3), (0, H - 1)),
        ({"rotation_deg": 180}, (H, W, 3), (H - 1, W - 1)),
        (
            {"roi_unit": "px", "roi_x": 4, "roi_y": 2, "roi_width": 20, "roi_height": 10},
            (10, 20, 3),
            (0, 0),
        ),
        ({"roi_unit": "fraction", "roi_x": 0.5, "roi_y": 0.5}, (H // 2, W // 2, 3), None),
    ],
)
def test_rotation_and_roi(images, opened, changes, shape, marker_at):
    frame = opened(emulator(images, **changes)).grab()
    assert frame.image.shape == shape and frame.image.flags["C_CONTIGUOUS"]
    if marker_at:
        assert tuple(frame.image[marker_at]) == (255, 255, 255)


def test_arbitrary_rotation_keeps_the_frame_size():
    image = np.zeros((H, W, 3), np.uint8)
    image[H // 2 - 2 : H // 2 + 2, :] = 255  # a horizontal bar ...
    out = rotate(image, 90.0 + 1e-9)
    assert out.shape == image.shape
    turned = rotate(image, 45)
    assert (
        turned.shape == image.shape and turned[0, 0].sum() == 0 and turned[H // 2, W // 2].sum() > 0
    )


@pytest.mark.parametrize(
    ("roi", "unit", "message"),
    [((0.0, 0.0, 2.0, 0.0), "fraction", "within 0..1"), ((100, 0, 0, 0), "px", "leaves no pixels")],
)
def test_roi_errors_name_the_problem(roi, unit, message):
    with pytest.raises(CameraError, match=message):
        roi_box(W, H, roi, unit)


def test_identity_transform_does_not_copy():
    image = np.zeros((H, W, 3), np.uint8)
    assert FrameTransform().apply(image) is image


# --- folder replay -----------------------------------------------------------------------


def folder(path, **changes) -> CameraSettings:
    return CameraSettings(source="folder", image_folder=str(path), **changes)


def test_folder_camera_replays_in_name_order_and_loops(tmp_path, opened):
    write_images(tmp_path / "f", (BLUE, RED, GREEN), names=["b.png", "a.png", "c.jpg"])
    (tmp_path / "f" / "notes.txt").write_text("not an image")
    camera = opened(folder(tmp_path / "f"))
    frames = [camera.grab() for _ in range(4)]
    assert [f.source.rsplit("/", 1)[-1] for f in frames] == ["a.png", "b.png", "c.jpg", "a.png"]
    assert centre(frames[0]) == RED and camera.state is CameraState.EMULATED


def test_folder_camera_output_formats_and_transform(tmp_path, opened):
    write_images(tmp_path / "f", (RED,))
    assert centre(opened(folder(tmp_path / "f", output_format="BGR")).grab()) == (0, 0, 255)
    assert opened(folder(tmp_path / "f", output_format="Mono")).grab().image.shape == (H, W)
    assert opened(folder(tmp_path / "f", rotation_deg=270)).grab().image.shape == (W, H, 3)


@pytest.mark.parametrize(
    ("setup", "message"),
    [
        (lambda p: None, "no such folder"),
        (lambda p: p.mkdir(), "no image files"),
        (lambda p: (p.mkdir(), (p / "x.png").write_bytes(b"not a png")), "not a readable image"),
    ],
)
def test_folder_camera_bad_folders_are_clear_errors(tmp_path, setup, message):
    path = tmp_path / "f"
    setup(path)
    with pytest.raises(CameraError, match=message):
        open_camera(folder(path)).grab()


def test_folder_camera_needs_a_folder():
    with pytest.raises(CameraError, match="image_folder is not set"):
        open_camera(CameraSettings(source="folder"))


def test_folder_camera_hardware_mode_waits_for_a_pulse(tmp_path):
    write_images(tmp_path / "f")
    camera = FolderCamera(folder(tmp_path / "f", trigger_mode="hardware"))
    camera.open()
    with pytest.raises(CameraTimeout, match="no hardware trigger"):
        camera.grab(50)
    camera.pulse()
    assert camera.grab(1000).meta["mode"] == "hardware"


# --- listing -----------------------------------------------------------------------------


def test_list_devices_includes_the_emulator():
    devices = list_devices()
    emulated = [d for d in devices if d.emulated]
    assert [d.serial for d in emulated][:2] == ["0815-0000", "0815-0001"]
    assert emulated[0].model == "Emulation" and emulated[0].ip_address == ""


def test_cameras_subcommand_lists_devices(capsys):
    assert cli_main(["cameras"]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0].split() == ["MODEL", "SERIAL", "IP", "ADDRESS", "CLASS", "EMULATED"]
    assert any(
        line.split() == ["Emulation", "0815-0000", "-", "BaslerCamEmu", "yes"] for line in out
    )


def test_cameras_subcommand_json(capsys):
    assert cli_main(["cameras", "--json"]) == 0
    records = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert {
        "model": "Emulation",
        "serial": "0815-0001",
        "ip_address": "",
        "device_class": "BaslerCamEmu",
        "emulated": True,
    } in records


def test_emulator_delivers_files_larger_than_its_default_sensor_whole(tmp_path, opened):
    big = np.zeros((1100, 1300, 3), np.uint8)
    big[:, :, 2] = 255
    (tmp_path / "big").mkdir()
    cv2.imwrite(str(tmp_path / "big" / "a.png"), big[:, :, ::-1])
    frame = opened(emulator(tmp_path / "big")).grab()
    assert frame.image.shape == (1100, 1300, 3) and tuple(frame.image[-1, -1]) == BLUE
