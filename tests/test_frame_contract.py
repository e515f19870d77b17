"""The frame contract: the colour order is said once, on the frame, and every consumer that
needs RGB reads `frame.rgb`; published frames are read-only (four threads share them)."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from inspection_station.core.frame import ColorOrder
from inspection_station.core.pipeline import Pipeline
from inspection_station.core.results.recorder import ResultsRecorder
from inspection_station.core.settings.model import ResultsSettings
from tests.test_camera import RED, emulator, opened, write_images  # noqa: F401 - opened is a fixture


@pytest.mark.parametrize(("output_format", "color", "raw_centre"), [("RGB", "RGB", RED), ("BGR", "BGR", RED[::-1])])
def test_the_emulator_says_its_colour_order_and_rgb_is_always_rgb(tmp_path, opened, output_format, color, raw_centre):  # noqa: F811
    camera = opened(emulator(write_images(tmp_path / "img", (RED,)), output_format=output_format))
    frame = camera.grab()
    assert frame.color == ColorOrder(color)
    assert tuple(int(v) for v in frame.image[24, 32]) == raw_centre
    assert tuple(int(v) for v in frame.rgb[24, 32]) == RED


def test_mono_frames_say_so_and_stay_two_dimensional(tmp_path, opened):  # noqa: F811
    camera = opened(emulator(write_images(tmp_path / "img", (RED,)), pixel_format="Mono8", output_format="Mono"))
    frame = camera.grab()
    assert frame.color == ColorOrder.MONO and frame.rgb.ndim == 2


def test_published_frames_are_read_only(tmp_path, opened):  # noqa: F811
    frame = opened(emulator(write_images(tmp_path / "img", (RED,)))).grab()
    with pytest.raises(ValueError, match="read-only"):
        frame.image[0, 0, 0] = 7
    with pytest.raises(ValueError, match="read-only"):
        frame.rgb[0, 0, 0] = 7


def test_a_bgr_camera_archives_the_same_picture_as_an_rgb_one(tmp_path, opened):  # noqa: F811
    """The archive (like the detector and the views) reads `rgb`: BGR output changes nothing."""
    images = write_images(tmp_path / "img", (RED,))
    written = {}
    for fmt in ("RGB", "BGR"):
        frame = opened(emulator(images, output_format=fmt)).grab()
        settings = ResultsSettings(
            log_dir=str(tmp_path / fmt / "log"), image_dir=str(tmp_path / fmt / "images"), archive="all", image_format="png"
        )
        recorder = ResultsRecorder(settings, "st1")
        try:
            result = Pipeline(None, None, recorder, model_problem="no model here").inspect(frame)
        finally:
            recorder.close()
        back = cv2.imread(result.image_path)
        written[fmt] = back[:, :, ::-1]  # cv2 reads BGR
    assert np.array_equal(written["RGB"], written["BGR"])
    assert tuple(int(v) for v in written["BGR"][24, 32]) == RED
