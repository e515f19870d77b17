"""The detector on real onnxruntime sessions of tiny models with known outputs."""

from __future__ import annotations

import json

import cv2
import numpy as np
import pytest
from onnx import TensorProto

from inspection_station.cli import main
from inspection_station.core.detect.decoders import recognise_layout
from inspection_station.core.detect.detector import Detector, choose_providers
from inspection_station.core.detect.letterbox import LetterboxBuffer, letterbox
from inspection_station.core.errors import ModelError
from inspection_station.core.settings.model import ModelSettings
from tests.onnx_models import constant_model, v5_raw_output, v8_raw_output

NAMES = {0: "screw", 1: "chip", 2: "label"}


def image(w: int, h: int) -> np.ndarray:
    return np.full((h, w, 3), 80, dtype=np.uint8)


def boxes(dets):
    return [tuple(round(v, 3) for v in d.box) for d in dets]


@pytest.fixture
def v8_model(tmp_path):
    # One chip centred at (320, 320) of the 640x640 input, 100 x 50.
    out = v8_raw_output([(320, 320, 100, 50, 1, 0.9)], num_classes=3)
    return constant_model(tmp_path / "v8.onnx", out, names=NAMES)


def test_v8_raw_boxes_map_back_through_letterbox_on_non_square_image(v8_model):
    det = Detector.load(v8_model)
    assert det.layout.name == "yolov8_raw"
    assert det.input_size == (640, 640)
    # 1280 x 960 -> scale 0.5, content 640 x 480, padded 80 px top and bottom.
    (d,) = det.detect(image(1280, 960))
    assert (d.class_id, d.class_name) == (1, "chip")
    assert d.score == pytest.approx(0.9)
    assert d.box == pytest.approx((540.0, 430.0, 740.0, 530.0))


def test_non_square_model_input(tmp_path):
    # The old system's 544 x 640 style input: H=384, W=640 here, square 1000 px image.
    out = v8_raw_output([(320, 192, 64, 32, 0, 0.8)], num_classes=3, n=_cells(640, 384))
    det = Detector.load(constant_model(tmp_path / "wide.onnx", out, input_shape=(1, 3, 384, 640)))
    assert det.input_size == (640, 384)
    # scale = 0.384, content 384 x 384 placed at x = 128.
    (d,) = det.detect(image(1000, 1000))
    assert d.box == pytest.approx(((288 - 128) / 0.384, 176 / 0.384, (352 - 128) / 0.384, 208 / 0.384), rel=1e-4)


def _cells(w, h):
    return sum((w // s) * (h // s) for s in (8, 16, 32))


def test_boxes_are_clipped_to_the_image(tmp_path):
    out = v8_raw_output([(10, 320, 60, 700, 2, 0.7)], num_classes=3)
    det = Detector.load(constant_model(tmp_path / "edge.onnx", out))
    (d,) = det.detect(image(640, 640))
    assert d.box == pytest.approx((0.0, 0.0, 40.0, 640.0))


def test_nms_merges_same_class_and_keeps_different_classes(tmp_path):
    rows = [
        (300, 300, 100, 100, 0, 0.9),
        (305, 302, 100, 100, 0, 0.8),  # same class, IoU ~0.9: suppressed
        (302, 301, 100, 100, 1, 0.7),  # other class, same place: kept
        (500, 500, 40, 40, 0, 0.6),  # same class, elsewhere: kept
        (100, 100, 40, 40, 2, 0.1),  # below the confidence threshold
    ]
    det = Detector.load(constant_model(tmp_path / "nms.onnx", v8_raw_output(rows, 3)))
    got = sorted((d.class_id, round(d.score, 2)) for d in det.detect(image(640, 640)))
    assert got == [(0, 0.6), (0, 0.9), (1, 0.7)]


def test_max_detections_caps_the_survivors_of_nms_not_its_candidates(tmp_path):
    # 4 objects, each seen 3 times (near-duplicates score higher than the next object):
    # capping before NMS would keep only the duplicates of the first objects.
    rows = [
        (80 + 150 * i + j, 300, 60, 60, 0, 0.95 - 0.2 * i - 0.01 * j)
        for i in range(4)
        for j in range(3)
    ]
    det = Detector.load(constant_model(tmp_path / "cap.onnx", v8_raw_output(rows, 3)), ModelSettings(max_detections=4))
    got = sorted(round(d.box[0]) for d in det.detect(image(640, 640)))
    assert got == [50, 200, 350, 500]


def test_iou_threshold_is_honoured(tmp_path):
    rows = [(300, 300, 100, 100, 0, 0.9), (340, 300, 100, 100, 0, 0.8)]  # IoU = 60/140 = 0.43
    path = constant_model(tmp_path / "iou.onnx", v8_raw_output(rows, 3))
    assert len(Detector.load(path, ModelSettings(iou=0.5)).detect(image(640, 640))) == 2
    assert len(Detector.load(path, ModelSettings(iou=0.3)).detect(image(640, 640))) == 1


def test_v5_raw_uses_objectness_times_class_score(tmp_path):
    rows = [
        (320, 320, 100, 100, 0.9, 2, 0.9),  # 0.81
        (100, 100, 20, 20, 0.3, 1, 0.9),  # 0.27
        (500, 500, 20, 20, 0.2, 0, 1.0),  # 0.20 < 0.25: dropped
    ]
    det = Detector.load(constant_model(tmp_path / "v5.onnx", v5_raw_output(rows, 3), names=NAMES))
    assert det.layout.name == "yolov5_raw"
    got = sorted((d.class_name, round(d.score, 3)) for d in det.detect(image(640, 640)))
    assert got == [("chip", 0.27), ("label", 0.81)]


def test_yolov7_end_to_end_is_not_nmsed_again(tmp_path):
    out = np.array(
        [
            [0, 100, 100, 200, 200, 1, 0.9],
            [0, 102, 101, 201, 202, 1, 0.8],  # overlaps the first: the model kept it, so do we
            [0, 300, 300, 350, 350, 0, 0.1],  # below threshold
        ],
        dtype=np.float32,
    )
    det = Detector.load(constant_model(tmp_path / "v7e2e.onnx", out))
    assert det.layout.name == "yolov7_e2e"
    assert boxes(det.detect(image(640, 640))) == [(100, 100, 200, 200), (102, 101, 201, 202)]


def test_end2end_layout_maps_back_and_keeps_overlaps(tmp_path):
    out = np.zeros((1, 300, 6), dtype=np.float32)
    out[0, 0] = (100, 180, 200, 280, 0.95, 2)
    out[0, 1] = (101, 181, 201, 281, 0.90, 2)
    det = Detector.load(constant_model(tmp_path / "e2e.onnx", out, names=NAMES))
    assert det.layout.name == "end2end"
    # 640 x 400 image -> scale 1, padded 120 px at the top.
    got = det.detect(image(640, 400))
    assert [d.class_name for d in got] == ["label", "label"]
    assert got[0].box == pytest.approx((100, 60, 200, 160))


def test_float16_input_gets_a_float16_tensor(tmp_path):
    out = v8_raw_output([(320, 320, 100, 100, 0, 0.9)], 3)
    det = Detector.load(constant_model(tmp_path / "fp16.onnx", out, input_type=TensorProto.FLOAT16))
    assert det.input_dtype == np.float16
    tensor, _ = det.preprocess(image(320, 320))
    assert tensor.dtype == np.float16
    assert len(det.detect(image(640, 640))) == 1


def test_dynamic_input_falls_back_to_configured_size(tmp_path):
    out = v8_raw_output([(160, 160, 32, 32, 0, 0.9)], 3, n=_cells(320, 320))
    path = constant_model(tmp_path / "dyn.onnx", out, input_shape=("batch", 3, "height", "width"))
    det = Detector.load(path, ModelSettings(input_width=320, input_height=320))
    assert det.input_size == (320, 320)
    (d,) = det.detect(image(640, 640))
    assert d.box == pytest.approx((288, 288, 352, 352))


def test_class_names_from_metadata_sidecar_settings_or_numbers(tmp_path):
    out = v8_raw_output([(320, 320, 100, 100, 1, 0.9)], 3)
    assert Detector.load(constant_model(tmp_path / "m.onnx", out, names=NAMES)).class_names == [
        "screw",
        "chip",
        "label",
    ]
    plain = constant_model(tmp_path / "plain.onnx", out)
    assert Detector.load(plain).class_names == ["0", "1", "2"]
    (tmp_path / "plain.names").write_text("bolt\nnut\nwasher\n")
    assert Detector.load(plain).class_names == ["bolt", "nut", "washer"]
    assert Detector.load(plain, ModelSettings(class_names=["a", "b", "c"])).detect(image(64, 64))[0].class_name == "b"


def test_provider_choice_is_filtered_and_reported(v8_model):
    assert choose_providers(["CUDAExecutionProvider", "CPUExecutionProvider"], ["CPUExecutionProvider"]) == [
        "CPUExecutionProvider"
    ]
    assert choose_providers(["DmlExecutionProvider"], ["DmlExecutionProvider", "CPUExecutionProvider"]) == [
        "DmlExecutionProvider",
        "CPUExecutionProvider",
    ]
    # the default preference takes OpenVINO where its build is installed, before the CPU
    openvino = ["OpenVINOExecutionProvider", "CPUExecutionProvider"]
    assert choose_providers(ModelSettings().providers, openvino) == openvino
    import onnxruntime

    det = Detector.load(v8_model, ModelSettings(providers=["CUDAExecutionProvider"]))
    assert det.provider in onnxruntime.get_available_providers()
    assert det.provider == det.runtime.session.get_providers()[0]


def test_letterbox_pads_with_114_centred():
    canvas, box = letterbox(np.zeros((100, 200, 3), np.uint8), 64, 64)
    assert canvas.shape == (64, 64, 3)
    assert (box.scale, box.pad_x, box.pad_y) == (0.32, 0, 16)
    assert (canvas[:16] == 114).all() and (canvas[48:] == 114).all() and (canvas[16:48] == 0).all()


@pytest.mark.parametrize("sizes", [[(200, 100), (100, 200)], [(64, 64), (300, 90), (300, 90)]])
def test_reused_letterbox_buffer_matches_a_fresh_letterbox_frame_after_frame(sizes):
    buf = LetterboxBuffer(64, 64)
    rng = np.random.default_rng(1)
    for w, h in sizes:
        frame = rng.integers(0, 256, (h, w, 3), dtype=np.uint8)
        tensor, box = buf.tensor(frame)
        fresh, fresh_box = letterbox(frame, 64, 64)
        assert box == fresh_box
        # no pixel of an earlier frame of another size survives in the pad
        assert np.array_equal(buf.canvas, fresh)
        np.testing.assert_allclose(tensor, cv2.dnn.blobFromImage(fresh, 1 / 255.0), atol=1e-6)


def test_mono_frames_are_accepted(v8_model):
    assert len(Detector.load(v8_model).detect(np.zeros((480, 640), np.uint8))) == 1


@pytest.mark.parametrize(
    "shape, layout",
    [
        ((1, 84, 8400), "yolov8_raw"),
        ((1, 5, 8400), "yolov8_raw"),
        ((1, 25200, 85), "yolov5_raw"),
        ((1, 25200, 6), "yolov5_raw"),  # one class: the cell count tells it from end-to-end
        ((1, 300, 6), "end2end"),
        ((17, 7), "yolov7_e2e"),
    ],
)
def test_layout_table(shape, layout):
    assert recognise_layout(shape, 640, 640).name == layout


# --- bad input -----------------------------------------------------------------------


def test_missing_model_file(tmp_path):
    with pytest.raises(ModelError, match=r"missing\.onnx: no such model file"):
        Detector.load(tmp_path / "missing.onnx")


def test_not_an_onnx_file(tmp_path):
    bad = tmp_path / "bad.onnx"
    bad.write_bytes(b"this is not a protobuf at all" * 10)
    with pytest.raises(ModelError, match=r"bad\.onnx: not a loadable ONNX model"):
        Detector.load(bad)


def test_input_that_is_not_an_image_tensor(tmp_path):
    path = constant_model(tmp_path / "vec.onnx", np.zeros((1, 84, 8400)), input_shape=(1, 10))
    with pytest.raises(ModelError, match=r"vec\.onnx: input 'images' has shape \[1, 10\]; expected an image tensor"):
        Detector.load(path)


def test_unrecognised_output_names_the_shape(tmp_path):
    path = constant_model(tmp_path / "odd.onnx", np.zeros((1, 3)))
    with pytest.raises(ModelError, match=r"unrecognised detector output shape \[1, 3\]"):
        Detector.load(path)


# --- the command -------------------------------------------------------------------------


def test_detect_command_json_contract(v8_model, tmp_path, capsys):
    img = tmp_path / "part.png"
    cv2.imwrite(str(img), np.full((960, 1280, 3), 50, np.uint8))
    assert main(["detect", "--model", str(v8_model), "--json", str(img)]) == 0
    record = json.loads(capsys.readouterr().out)
    assert record["image"] == str(img)
    assert (record["width"], record["height"]) == (1280, 960)
    (d,) = record["detections"]
    assert d == {"class_id": 1, "class_name": "chip", "score": 0.9, "box": [540.0, 430.0, 740.0, 530.0]}


def test_detect_command_conf_flag(v8_model, tmp_path, capsys):
    img = tmp_path / "part.png"
    cv2.imwrite(str(img), np.zeros((64, 64, 3), np.uint8))
    assert main(["detect", "--model", str(v8_model), "--conf", "0.95", "--json", str(img)]) == 0
    assert json.loads(capsys.readouterr().out)["detections"] == []


@pytest.mark.parametrize(
    "content, message",
    [(None, "no such image file"), (b"", "the file is empty"), (b"not an image", "not a readable image")],
)
def test_bad_images_give_one_located_line_and_exit_2(v8_model, tmp_path, capsys, content, message):
    img = tmp_path / "broken.png"
    if content is not None:
        img.write_bytes(content)
    assert main(["detect", "--model", str(v8_model), str(img)]) == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0
    assert str(img) in err and message in err
    assert "Traceback" not in err


def test_bad_model_exits_2_without_traceback(tmp_path, capsys):
    bad = tmp_path / "bad.onnx"
    bad.write_bytes(b"garbage")
    img = tmp_path / "x.png"
    cv2.imwrite(str(img), np.zeros((8, 8, 3), np.uint8))
    assert main(["detect", "--model", str(bad), str(img)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("inspection-station: error: ") and str(bad) in err and err.count("\n") == 1


def test_inspect_with_an_unnamed_end_to_end_model_accepts_its_class_ids(tmp_path, capsys):
    # An end-to-end output does not tell the class count; with no names either, the
    # pattern's class ids cannot be checked, so they must not be refused as unknown.
    out = np.zeros((1, 300, 6), dtype=np.float32)
    out[0, 0] = (100, 100, 200, 200, 0.9, 0)
    model = constant_model(tmp_path / "e2e.onnx", out)
    assert Detector.load(model).class_count is None
    pattern = tmp_path / "p.yaml"
    pattern.write_text("a:\n  - class_id: 0\n    inner: [0.16, 0.16, 0.31, 0.31]\n    outer: [0.15, 0.15, 0.32, 0.32]\n")
    img = tmp_path / "part.png"
    cv2.imwrite(str(img), np.zeros((640, 640, 3), np.uint8))
    assert main(["inspect", "--model", str(model), "--patterns", str(pattern), str(img)]) == 0, capsys.readouterr().err
    assert "OK  a 1/1" in capsys.readouterr().out
