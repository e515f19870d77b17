"""`model optimize` and `model info` on the bundled demo model, real onnxruntime quantisation."""

from __future__ import annotations

import hashlib
import json
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper

from inspection_station.core.detect.agreement import box_agreement
from inspection_station.core.detect.detector import Detector
from inspection_station.core.detection import Detection
from inspection_station.core.images import list_images
from inspection_station.core.patterns.yaml_io import load_pattern_set
from inspection_station.core.settings.model import ModelSettings
from inspection_station.core.tuning.optimize import (
    compare_models,
    evenly_spaced,
    head_tail_nodes,
    quantize_int8,
)
from tests.onnx_models import constant_model, v8_raw_output

REPO = Path(__file__).resolve().parents[1]
DEMO_MODEL = REPO / "models" / "demo_parts.onnx"
DEMO_IMAGES = REPO / "resources" / "demo_images"
DEMO_LABELS = REPO / "resources" / "demo_labels"
DEMO_PATTERN = REPO / "resources" / "patterns" / "demo_parts.yaml"


def cli(*args):
    return subprocess.run(
        [sys.executable, "-m", "inspection_station", *map(str, args)], capture_output=True, text=True, timeout=600
    )


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.fixture(scope="module")
def demo_int8(tmp_path_factory):
    """The demo model quantised once for the module (calibration is the slow part)."""
    out = tmp_path_factory.mktemp("int8") / "demo_int8.onnx"
    made = quantize_int8(DEMO_MODEL, evenly_spaced(list_images(DEMO_IMAGES), 4), out)
    return made


@pytest.fixture(scope="module")
def optimized(tmp_path_factory):
    """One real `model optimize` run on the demo: every candidate made, compared and timed."""
    out = tmp_path_factory.mktemp("optimize") / "int8.onnx"
    before = sha256(DEMO_MODEL)
    proc = cli(
        "model", "optimize", "--model", DEMO_MODEL, "--images", DEMO_IMAGES, "--labels", DEMO_LABELS,
        "--patterns", DEMO_PATTERN, "--out", out, "--calibration-images", 4, "--runs", 3, "--json",
    )
    assert sha256(DEMO_MODEL) == before  # the input is never touched
    return proc, out


@pytest.mark.slow
def test_optimize_tries_every_candidate_of_this_machine_and_recommends_one_with_fp32s_verdicts(optimized):
    proc, out = optimized
    assert proc.returncode in (0, 1), proc.stdout + proc.stderr
    report = json.loads(proc.stdout.splitlines()[-1])
    rows = {r["name"]: r for r in report["candidates"]}
    assert list(rows) == ["fp32 onnxruntime", "int8 QDQ onnxruntime", "int8 QDQ OpenVINO", "fp32 OpenVINO", "int8 NNCF OpenVINO"]
    assert rows["fp32 OpenVINO"]["provider"].startswith("OpenVINO") and rows["fp32 onnxruntime"]["runtime"] == "onnxruntime"
    assert rows["int8 NNCF OpenVINO"]["path"] == str(out.with_name("int8.nncf.onnx"))
    assert "accuracy control" in rows["int8 NNCF OpenVINO"]["how"]
    assert report["reference"] == "labels" and report["images"] == 10 and report["verdicts_compared"] == 10
    # the recommendation is the fastest of those with fp32's verdicts on every image
    qualifying = [r for r in rows.values() if r["qualifies"]]
    assert all(r["verdicts_differ"] == [] and r["vs_fp32"]["map50"] >= 0.95 for r in qualifying)
    assert report["recommended"] == min(qualifying, key=lambda r: r["ms_per_run"])["name"]
    assert (proc.returncode == 0) == (report["recommended"] != "fp32 onnxruntime") == report["switch"]
    assert all(r["ms_per_run"] > 0 for r in rows.values())  # reported, never judged here
    # this CPU's half precisions are named with the reason, not silently dropped
    not_tried = {n["name"]: n["why"] for n in report["not_tried"]}
    from inspection_station.core.detect.cpu import cpu_features

    if not cpu_features().bf16:
        assert "no AMX-BF16" in not_tried["bf16 OpenVINO"]
    import onnxruntime

    if "CUDAExecutionProvider" not in onnxruntime.get_available_providers():  # no GPU here: said, not dropped
        assert "needs onnxruntime-gpu" in not_tried["fp32 CUDA"] and "fp32 TensorRT" in not_tried
    assert "flags" in report["cpu"] and "rotated" in report["timing"]


@pytest.mark.parametrize("name", ["int8.onnx", "int8.nncf.onnx"])
def test_both_int8_files_keep_the_metadata_and_say_how_they_were_made(optimized, name):
    _, out = optimized
    model = onnx.load(str(out.with_name(name)))
    assert any(n.op_type == "QuantizeLinear" for n in model.graph.node)
    meta = {p.key: p.value for p in model.metadata_props}
    original = {p.key: p.value for p in onnx.load(str(DEMO_MODEL)).metadata_props}
    for key in ("names", "stride", "imgsz"):
        assert meta[key] == original[key]
    how = "int8 static QDQ per-channel" if name == "int8.onnx" else "int8 NNCF QDQ for OpenVINO, accuracy control"
    assert how in meta["quantization"] and sha256(DEMO_MODEL) in meta["quantization"]


@pytest.mark.slow
def test_the_table_names_the_cpu_the_method_and_the_settings_to_use(tmp_path):
    images = tmp_path / "images"
    images.mkdir()
    for path in list_images(DEMO_IMAGES)[:3]:
        shutil.copy(path, images / path.name)
    proc = cli(
        "model", "optimize", "--model", DEMO_MODEL, "--images", images, "--out", tmp_path / "i8.onnx",
        "--calibration-images", 1, "--runs", 1,
    )
    assert proc.returncode == 1, proc.stdout + proc.stderr  # no pattern: nothing recommended
    text = proc.stdout
    assert text.startswith("CPU: ") and "timing: spinning off, order rotated" in text
    assert "int8 NNCF OpenVINO" in text and "(plain)" in text  # no pattern: no accuracy control
    assert "NOT RECOMMENDED: no pattern given" in text


def test_the_nncf_model_runs_on_openvino_with_the_names_and_verdicts_of_fp32(optimized):
    _, out = optimized
    ov = ModelSettings(runtime="openvino")
    int8, fp32 = Detector.load(out.with_name("int8.nncf.onnx"), ov), Detector.load(DEMO_MODEL)
    assert int8.class_names == fp32.class_names and int8.provider.startswith("OpenVINO")
    pattern = load_pattern_set(DEMO_PATTERN)
    result = compare_models(fp32, int8, list_images(DEMO_IMAGES), pattern_set=pattern, rounds=2)
    assert result.verdicts_compared == 10 and result.verdicts_differ == ()


def test_the_int8_detector_reads_names_and_size_from_the_kept_metadata(demo_int8):
    fp32, int8 = Detector.load(DEMO_MODEL), Detector.load(demo_int8.path)
    assert int8.class_names == fp32.class_names == ["screw", "connector", "chip", "capacitor", "label"]
    assert int8.input_size == fp32.input_size and int8.layout.name == fp32.layout.name
    assert demo_int8.calibration_images == 4 and demo_int8.float_nodes > 0


def test_a_model_whose_verdicts_differ_is_flagged_and_not_recommended(demo_int8, tmp_path):
    # A real model that finds nothing stands in for an int8 model that lost its boxes.
    blind = constant_model(tmp_path / "blind.onnx", v8_raw_output([], 5, n=4800), names={i: str(i) for i in range(5)}, input_shape=(1, 3, 384, 640))
    images = list_images(DEMO_IMAGES)
    result = compare_models(Detector.load(DEMO_MODEL), Detector.load(blind), images, pattern_set=load_pattern_set(DEMO_PATTERN), rounds=2)
    assert not result.recommended
    ok_images = {"demo_01.png", "demo_02.png", "demo_04.png", "demo_06.png", "demo_08.png"}
    assert set(result.verdicts_differ) == ok_images  # the good boards: fp32 OK, blind NOK
    assert any("verdicts differ from fp32 on 5 of 10 images" in r for r in result.reasons)
    assert result.int8_vs_fp32.map50 == 0.0 and result.reference == "fp32 predictions"


def test_without_a_pattern_verdicts_are_not_checked_and_no_recommendation_is_made(demo_int8):
    images = list_images(DEMO_IMAGES)[:3]
    result = compare_models(Detector.load(DEMO_MODEL), Detector.load(demo_int8.path), images, rounds=2)
    assert result.verdicts_compared == 0 and not result.recommended
    assert result.reasons == ("no pattern given (--patterns): verdict agreement not checked",)
    assert result.fp32.boxes.map50 == 1.0  # fp32 against its own predictions


@pytest.mark.parametrize(
    "case, expected",
    [
        ("empty-images", "no images"),
        ("out-is-model", "--out is the input model"),
        ("not-onnx", "not a loadable ONNX model"),
        ("unreadable-images", "none of the 1 calibration images could be read"),
    ],
)
def test_bad_input_is_one_located_line_exit_2_and_an_existing_out_survives(tmp_path, case, expected):
    model, images = tmp_path / "m.onnx", tmp_path / "images"
    images.mkdir()
    shutil.copy(DEMO_MODEL, model)
    out = tmp_path / "out.onnx"
    out.write_bytes(b"previous")
    if case == "out-is-model":
        out = model
    if case == "not-onnx":
        model.write_bytes(b"not a model")
    if case in ("out-is-model", "not-onnx"):
        shutil.copy(DEMO_IMAGES / "demo_01.png", images / "a.png")
    if case == "unreadable-images":
        (images / "broken.png").write_bytes(b"\x89PNG broken")
    proc = cli("model", "optimize", "--model", model, "--images", images, "--out", out)
    assert proc.returncode == 2, proc.stdout + proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and expected in lines[0], proc.stderr
    if case != "out-is-model":
        assert out.read_bytes() == b"previous"


def test_info_reports_layout_input_classes_hash_and_the_provider_in_use():
    proc = cli("model", "info", DEMO_MODEL, "--json")
    assert proc.returncode == 0, proc.stderr
    facts = json.loads(proc.stdout)
    assert facts["sha256"] == sha256(DEMO_MODEL)
    assert facts["layout"] == "yolov8_raw" and facts["input_shape"] == [1, 3, 384, 640]
    assert facts["input_size"] == [640, 384] and facts["output_shape"] == [1, 9, 4800]
    assert facts["classes"] == ["screw", "connector", "chip", "capacitor", "label"]
    assert facts["provider"] in facts["available_providers"] and facts["quantisation"] == ""
    assert facts["runtime"] == "onnxruntime" and facts["available_runtimes"] == ["onnxruntime", "openvino"]
    text = cli("model", "info", DEMO_MODEL)
    assert text.returncode == 0 and "yolov8_raw" in text.stdout and facts["sha256"] in text.stdout
    ov = cli("model", "info", DEMO_MODEL, "--runtime", "openvino", "--json")
    assert ov.returncode == 0, ov.stderr
    ov_facts = json.loads(ov.stdout)
    assert ov_facts["runtime"] == "openvino" and ov_facts["provider"].startswith("OpenVINO")
    assert ov_facts["classes"] == facts["classes"] and ov_facts["input_shape"] == facts["input_shape"]
    assert ov_facts["metadata"] == facts["metadata"]  # names, stride, imgsz read by OpenVINO's reader too


def test_head_tail_is_what_follows_the_last_convolutions():
    w = helper.make_tensor("w", TensorProto.FLOAT, [4, 3, 1, 1], np.ones(12, np.float32))
    nodes = [
        helper.make_node("Conv", ["x", "w"], ["c1"], name="conv1"),
        helper.make_node("Sigmoid", ["c1"], ["s1"], name="act1"),
        helper.make_node("Conv", ["s1", "w2"], ["c2"], name="conv2"),  # the head's last conv
        helper.make_node("Split", ["c2"], ["box", "cls"], name="split", axis=1),
        helper.make_node("Sigmoid", ["cls"], ["score"], name="score"),
        helper.make_node("Mul", ["box", "k"], ["pixels"], name="to_pixels"),
        helper.make_node("Concat", ["pixels", "score"], ["y"], name="concat", axis=1),
    ]
    w2 = helper.make_tensor("w2", TensorProto.FLOAT, [4, 4, 1, 1], np.ones(16, np.float32))
    k = helper.make_tensor("k", TensorProto.FLOAT, [1], [16.0])
    graph = helper.make_graph(
        nodes, "g", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 3, 8, 8])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)], initializer=[w, w2, k],
    )
    assert head_tail_nodes(graph) == ["conv2", "split", "score", "to_pixels", "concat"]


def box(x1, y1, x2, y2, cls=0, score=0.9):
    return Detection(cls, str(cls), score, (x1, y1, x2, y2))


@pytest.mark.parametrize(
    "predicted, reference, map50, mean_iou",
    [
        ([[box(0, 0, 10, 10)]], [[box(0, 0, 10, 10)]], 1.0, 1.0),
        ([[box(0, 0, 10, 10)]], [[box(0, 0, 10, 12)]], 1.0, 100 / 120),
        ([[box(0, 0, 10, 10, cls=1)]], [[box(0, 0, 10, 10)]], 0.0, float("nan")),  # class differs
        ([[box(0, 0, 10, 10)], []], [[box(0, 0, 10, 10)], [box(5, 5, 9, 9)]], 0.5, 1.0),  # one missed
        ([[box(0, 0, 10, 10), box(0, 0, 10, 10, score=0.5)]], [[box(0, 0, 10, 10)]], 1.0, 1.0),  # duplicate = FP after
    ],
)
def test_box_agreement(predicted, reference, map50, mean_iou):
    a = box_agreement(predicted, reference)
    assert a.map50 == pytest.approx(map50)
    assert np.isnan(a.mean_iou) if np.isnan(mean_iou) else a.mean_iou == pytest.approx(mean_iou, abs=1e-6)
