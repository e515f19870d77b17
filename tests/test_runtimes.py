"""onnxruntime and the OpenVINO runtime behind one interface: same boxes, names, verdicts.

Real sessions of both (the openvino package is in the test extra): the tiny known-output
models of tests/onnx_models.py and the bundled demo model on its demo frames.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from onnx import TensorProto

from inspection_station.core.detect import runtimes
from inspection_station.core.detect.cpu import CpuFeatures
from inspection_station.core.detect.detector import Detector
from inspection_station.core.detect.fair_timing import quiet, rotated, time_alternating
from inspection_station.core.errors import ModelError
from inspection_station.core.images import list_images, load_image
from inspection_station.core.patterns.matching import match_pattern
from inspection_station.core.patterns.yaml_io import load_pattern_set
from inspection_station.core.settings.model import ModelSettings
from tests.onnx_models import constant_model, v8_raw_output

REPO = Path(__file__).resolve().parents[1]
DEMO_MODEL = REPO / "models" / "demo_parts.onnx"
DEMO_IMAGES = REPO / "resources" / "demo_images"
DEMO_PATTERN = REPO / "resources" / "patterns" / "demo_parts.yaml"
NAMES = {0: "screw", 1: "chip", 2: "label"}
RUNTIMES = ["onnxruntime", "openvino"]


def image(w: int, h: int) -> np.ndarray:
    return np.full((h, w, 3), 80, dtype=np.uint8)


@pytest.mark.parametrize("runtime", RUNTIMES)
def test_both_runtimes_map_boxes_back_and_read_the_names_from_the_metadata(tmp_path, runtime):
    out = v8_raw_output([(320, 320, 100, 50, 1, 0.9), (100, 100, 20, 20, 0, 0.6)], num_classes=3)
    det = Detector.load(constant_model(tmp_path / "v8.onnx", out, names=NAMES), ModelSettings(runtime=runtime))
    assert det.runtime.name == runtime and det.class_names == ["screw", "chip", "label"]
    assert det.provider.startswith("OpenVINO") if runtime == "openvino" else det.provider == "CPUExecutionProvider"
    got = sorted((d.class_name, round(d.score, 3), tuple(round(v, 2) for v in d.box)) for d in det.detect(image(1280, 960)))
    assert got == [("chip", 0.9, (540.0, 430.0, 740.0, 530.0)), ("screw", 0.6, (180.0, 20.0, 220.0, 60.0))]  # y: (100 - 80 pad) / 0.5


@pytest.mark.parametrize("runtime", RUNTIMES)
def test_float16_and_dynamic_inputs_work_on_both(tmp_path, runtime):
    settings = ModelSettings(runtime=runtime, input_width=320, input_height=320)
    fp16 = constant_model(tmp_path / "fp16.onnx", v8_raw_output([(320, 320, 100, 100, 0, 0.9)], 3), input_type=TensorProto.FLOAT16)
    det = Detector.load(fp16, settings)
    assert det.input_dtype == np.float16 and len(det.detect(image(640, 640))) == 1
    n = sum((320 // s) ** 2 for s in (8, 16, 32))
    dyn = constant_model(tmp_path / "dyn.onnx", v8_raw_output([(160, 160, 32, 32, 0, 0.9)], 3, n=n),
                         input_shape=("batch", 3, "height", "width"))
    det = Detector.load(dyn, settings)
    assert det.input_size == (320, 320)
    (d,) = det.detect(image(640, 640))
    assert d.box == pytest.approx((288, 288, 352, 352))


@pytest.mark.parametrize("runtime", RUNTIMES)
def test_a_broken_file_is_one_located_error_on_both(tmp_path, runtime):
    bad = tmp_path / "bad.onnx"
    bad.write_bytes(b"this is not a protobuf at all" * 10)
    with pytest.raises(ModelError, match=r"bad\.onnx: not a loadable ONNX model"):
        Detector.load(bad, ModelSettings(runtime=runtime))
    odd = constant_model(tmp_path / "odd.onnx", np.zeros((1, 3)))
    with pytest.raises(ModelError, match=r"odd\.onnx: unrecognised detector output shape \[1, 3\]"):
        Detector.load(odd, ModelSettings(runtime=runtime))


def test_the_demo_model_gives_the_same_verdicts_and_near_identical_boxes_on_both():
    pattern = load_pattern_set(DEMO_PATTERN)
    ort, ov = (Detector.load(DEMO_MODEL, ModelSettings(runtime=r)) for r in RUNTIMES)
    assert ov.metadata["names"] == ort.metadata["names"] and ov.layout.name == ort.layout.name
    verdicts = []
    for path in list_images(DEMO_IMAGES):
        frame = load_image(path)
        a, b = ort.detect(frame), ov.detect(frame)
        assert [d.class_id for d in a] == [d.class_id for d in b]
        np.testing.assert_allclose([d.box for d in a], [d.box for d in b], atol=0.5)
        va, vb = (match_pattern(pattern, dets, frame.shape[1], frame.shape[0]).verdict for dets in (a, b))
        assert va == vb
        verdicts.append(str(va))
    assert verdicts.count("OK") == 5 and verdicts.count("NOK") == 5  # the demo's boards, both ways


def test_an_unknown_runtime_is_refused_by_the_settings_and_by_the_table(tmp_path):
    import dataclasses

    from inspection_station.core.settings.model import load_settings

    config = tmp_path / "settings.toml"
    config.write_text('[model]\nruntime = "tensorflow"\n')
    loaded = load_settings(config, env={})
    assert loaded.settings.model.runtime == "onnxruntime"  # the default, and said where
    assert any("runtime" in p and "settings.toml" in p for p in loaded.warnings), loaded.warnings
    with pytest.raises(ModelError, match="runtime: expected one of onnxruntime, openvino"):
        runtimes.open_runtime(DEMO_MODEL, dataclasses.replace(ModelSettings(), runtime="tensorflow"))


def test_openvino_sends_no_usage_telemetry():
    # import openvino / nncf would send usage events to Intel when openvino_telemetry imports
    code = (
        "import sys\n"
        "from inspection_station.core.detect.detector import Detector\n"
        "from inspection_station.core.settings.model import ModelSettings\n"
        f"d = Detector.load({str(DEMO_MODEL)!r}, ModelSettings(runtime='openvino'))\n"
        "from inspection_station.core.tuning.nncf_quantize import _nncf\n"
        "_nncf()\n"
        "import nncf.telemetry.wrapper as w\n"
        "print(sys.modules.get('openvino_telemetry', 'absent'), type(w.telemetry).__name__)\n"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300, cwd=REPO)
    assert proc.returncode == 0, proc.stderr
    module, telemetry = proc.stdout.split()
    assert module == "None" and telemetry == "MagicMock"  # NNCF's own stub when the package cannot import


def test_spinning_follows_the_gui_and_the_setting(monkeypatch):
    monkeypatch.setattr(runtimes, "_interactive", False)
    assert runtimes.spinning_enabled(ModelSettings()) is True  # headless: auto = on
    runtimes.set_interactive(True)
    assert runtimes.spinning_enabled(ModelSettings()) is False  # a GUI runs: auto = off
    assert runtimes.spinning_enabled(ModelSettings(spinning="on")) is True
    assert runtimes.spinning_enabled(quiet(ModelSettings(spinning="on"))) is False  # the timing rule
    ort = runtimes._ort()
    options = runtimes.ort_session_options(ort, ModelSettings(), ["CPUExecutionProvider"], "all")
    assert options.get_session_config_entry("session.intra_op.allow_spinning") == "0"
    assert runtimes.openvino_config(ModelSettings()) == {
        "PERFORMANCE_HINT": "LATENCY", "ENABLE_CPU_PINNING": False, "INFERENCE_PRECISION_HINT": "f32",
    }
    det = Detector.load(DEMO_MODEL, ModelSettings(runtime="openvino", intra_op_threads=1))
    assert det.runtime.compiled.get_property("INFERENCE_NUM_THREADS") == 1
    assert str(det.runtime.compiled.get_property("INFERENCE_PRECISION_HINT")) == "<Type: 'float32'>"


def test_gpu_providers_come_in_preference_order_with_a_cached_tensorrt_engine():
    gpu = ["TensorrtExecutionProvider", "CUDAExecutionProvider", "CPUExecutionProvider"]
    preference = ["TensorrtExecutionProvider", *ModelSettings().providers]
    assert runtimes.choose_providers(preference, gpu) == gpu
    assert runtimes.choose_providers(ModelSettings().providers, gpu) == ["CUDAExecutionProvider", "CPUExecutionProvider"]
    (trt, trt_options), (cuda, cuda_options), _ = runtimes.provider_options(gpu)
    assert (trt, cuda) == ("TensorrtExecutionProvider", "CUDAExecutionProvider") and cuda_options == {}
    assert trt_options["trt_engine_cache_enable"] == "True" and trt_options["trt_engine_cache_path"].endswith("tensorrt")


def test_cpu_summary_names_what_the_cpu_lacks():
    avx2 = CpuFeatures("x86_64", "AMD EPYC", ("avx", "avx2"))
    assert avx2.summary() == "AMD EPYC, flags avx avx2 (no VNNI, no AMX, no AVX-512-FP16)"
    assert not avx2.int8_dot_product and not avx2.bf16
    spr = CpuFeatures("x86_64", "Xeon", ("amx_bf16", "amx_int8", "amx_tile", "avx512_fp16", "avx512_vnni"))
    assert spr.int8_dot_product and spr.bf16 and spr.fp16 and "(no" not in spr.summary()


def test_fair_timing_warms_up_then_rotates_the_order_every_round():
    calls: list[str] = []
    runs = {name: (lambda n: lambda: calls.append(n))(name) for name in "abc"}
    timings = time_alternating(runs, rounds=3, warmup=2)
    assert calls[:6] == list("aabbcc")  # warm-up first
    assert calls[6:] == list("abc") + list("bca") + list("cab")
    assert rotated(["a", "b"], 1) == ["b", "a"] and all(len(t.samples_ms) == 3 for t in timings.values())
