"""The old backend's class map CSV (id,name,color) names and colours the classes."""

from __future__ import annotations

import pytest

from inspection_station.core.detect.class_map import class_colours, read_class_map
from inspection_station.core.detect.detector import Detector
from inspection_station.core.errors import ModelError
from inspection_station.core.settings.model import ModelSettings
from tests.onnx_models import constant_model, v8_raw_output


def test_the_old_csv_with_header_gaps_and_colour_forms(tmp_path):
    path = tmp_path / "class_map.csv"
    path.write_text("id,name,color\n0,Magnet,#FF0000\n2,Circle Element CCW,00ff00\n3,Circle Element CW,\"0 0 255\"\n")
    cm = read_class_map(path)
    assert cm.names == ("Magnet", "1", "Circle Element CCW", "Circle Element CW")
    assert cm.colors == ("#ff0000", "", "#00ff00", "#0000ff")


@pytest.mark.parametrize(("text", "expected"), [
    ("0,a,#ff0000\nx,b,#00ff00\n", ":2: id: expected a whole number"),
    ("0,a,#ff0000\n1,,#00ff00\n", ":2: name: missing"),
    ("0,a,red-ish\n", ":1: color: expected #rrggbb"),
    ("0,a,1 2 300\n", ":1: color: expected #rrggbb"),
    ("0,a\n0,b\n", ":2: id 0 is listed twice"),
    ("id,name,color\n", "no classes"),
])
def test_bad_class_maps_are_located(tmp_path, text, expected):
    path = tmp_path / "m.csv"
    path.write_text(text)
    with pytest.raises(ModelError) as err:
        read_class_map(path)
    assert str(err.value).startswith(str(path)) and expected in str(err.value)


def test_the_detector_names_classes_from_the_map_and_settings_win(tmp_path):
    model = constant_model(tmp_path / "m.onnx", v8_raw_output([(320, 320, 100, 50, 1, 0.9)], 3))
    cmap = tmp_path / "map.csv"
    cmap.write_text("0,screw,#102030\n1,chip,#405060\n2,label,#708090\n")
    det = Detector.load(model, ModelSettings(class_map=str(cmap)))
    assert det.class_names == ["screw", "chip", "label"]
    assert Detector.load(model, ModelSettings(class_map=str(cmap), class_names=["a", "b", "c"])).class_names == ["a", "b", "c"]
    assert class_colours(ModelSettings(class_map=str(cmap))) == ["#102030", "#405060", "#708090"]
    assert class_colours(ModelSettings(class_map=str(cmap), class_colors=["#ffffff"])) == ["#ffffff"]
    with pytest.raises(ModelError, match="gone.csv: no such class map"):
        Detector.load(model, ModelSettings(class_map=str(tmp_path / "gone.csv")))
    assert class_colours(ModelSettings(class_map=str(tmp_path / "gone.csv"))) == []  # the GUI never fails on it


def test_an_fp64_model_runs_on_a_float64_tensor(tmp_path):
    # the old inference server's MODEL_PRECISION=fp64: the station reads it from the model
    from onnx import TensorProto

    out = v8_raw_output([(320, 320, 100, 100, 0, 0.9)], 3)
    det = Detector.load(constant_model(tmp_path / "fp64.onnx", out, input_type=TensorProto.DOUBLE))
    assert det.input_dtype.__name__ == "float64"
    assert len(det.detect(__import__("numpy").zeros((480, 640, 3), "uint8"))) == 1
