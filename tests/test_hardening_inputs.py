"""Issue 15: hostile or unlucky inputs give a value or one located error, never a hang or crash.

Real parts throughout (onnxruntime sessions on tiny real models, the pylon emulator,
real files); a fake only where a real part cannot produce the fault (MemoryError in a load).
"""

from __future__ import annotations

import json
import math
import re
import struct
import zlib

import cv2
import numpy as np
import pytest

from inspection_station.cli import main as cli_main
from inspection_station.core.cycle import Verdict
from inspection_station.core.detect import detector as detector_module
from inspection_station.core.detect.detector import Detector, parse_names
from inspection_station.core.errors import ConfigError, ImageError, ModelError, PatternError
from inspection_station.core.image_header import image_size
from inspection_station.core.images import load_image
from inspection_station.core.patterns.model import PatternFileError
from inspection_station.core.patterns.yaml_io import load_pattern_set, parse_pattern_set
from inspection_station.core.settings.model import (
    Settings,
    load_settings,
    save_settings,
    settings_file_problem,
)
from tests.onnx_models import constant_model, v8_raw_output
from tests.test_station import make_station, setup  # noqa: F401 - the station fixture

SLOT = "  - class_id: 0\n    inner: [0.2, 0.2, 0.3, 0.3]\n    outer: [0.1, 0.1, 0.4, 0.4]\n"


@pytest.fixture
def events():
    return {"results": [], "states": [], "errors": [], "refused": []}


def problems_of(text: str) -> list[str]:
    with pytest.raises(PatternFileError) as info:
        parse_pattern_set(text, "p", "p.yaml")
    return info.value.problems


# --- pattern YAML -----------------------------------------------------------------------------


def test_deeply_nested_yaml_is_one_located_error():
    problems = problems_of("a: " + "[" * 5000 + "]" * 5000 + "\n")
    # ours, or libyaml's own cap where the C parser is there (it may stop first)
    assert len(problems) == 1
    assert re.match(r"p.yaml:1: not valid YAML: (nested deeper than 16|exceeded maximum nesting depth)", problems[0])


def test_nesting_below_the_parser_limits_is_refused_by_ours():
    assert problems_of("v:\n  " + "- " * 30 + "x\n") == ["p.yaml:2: not valid YAML: nested deeper than 16 levels (not a pattern file)"]


def test_yaml_alias_bomb_is_refused_at_the_first_alias():
    bomb = 'a: &a ["x","x","x","x","x","x","x","x","x"]\n' + "".join(
        f"{c}: &{c} [*{p},*{p},*{p},*{p},*{p},*{p},*{p},*{p},*{p}]\n" for p, c in zip("abcdefgh", "bcdefghi", strict=True)
    )
    assert len(bomb) < 600
    problems = problems_of(bomb)
    assert problems == ["p.yaml:2: not valid YAML: aliases (*name) are not allowed in pattern files; write the values out"]


def test_duplicate_key_inside_a_slot_and_a_null_variant_name_are_located():
    text = "v:\n  - class_id: 0\n    inner: [0.2, 0.2, 0.3, 0.3]\n    inner: [0.2, 0.2, 0.3, 0.3]\n    outer: [0.1, 0.1, 0.4, 0.4]\n"
    assert any("p.yaml:4: variant 'v': field 'inner' given twice in one slot (first on line 3)" in p for p in problems_of(text))
    problems = problems_of("null:\n" + SLOT)
    assert problems == ["p.yaml:1: variant name must be text, got None", "p.yaml: no variants (expected at least one variant with slots)"]


def test_a_huge_or_undecodable_pattern_file_is_refused_with_its_name(tmp_path):
    big = tmp_path / "big.yaml"
    big.write_bytes(b"v:\n" + SLOT.encode() * ((5 << 20) // len(SLOT)))
    with pytest.raises(PatternError, match=r"big.yaml: pattern file is larger than 1024 KiB"):
        load_pattern_set(big)
    latin = tmp_path / "latin.yaml"
    latin.write_bytes(b"v:\n  - class_id: 0\n    name: M\xfcller\n")
    with pytest.raises(PatternError, match=r"latin.yaml:3: pattern file is not UTF-8 text \(invalid start byte at byte 30\)"):
        load_pattern_set(latin)


# --- model metadata and outputs ----------------------------------------------------------------


@pytest.mark.parametrize(
    "text",
    [
        "[" * 300 + "]" * 300,  # too deep for the parser
        "-" * 200_000 + "1",  # RecursionError inside literal_eval
        "1" + "+1" * 200_000,
        "{0: 'a', 0.5: 'b'}",
        "{'x': 'a'}",
        "[['nested']]",
        "'just text'",
        "x" * (2 << 20),
    ],
)
def test_pathological_names_metadata_is_a_reason_not_an_exception(text):
    names, problem = parse_names(text, "m.onnx: metadata 'names'")
    assert names is None and problem.startswith("m.onnx: metadata 'names': ") and problem.endswith("ignored")


def test_names_metadata_still_reads_the_ultralytics_forms():
    assert parse_names("{0: 'screw', 1: 'nut'}") == (["screw", "nut"], "")
    assert parse_names("['screw', 'nut']") == (["screw", "nut"], "")


def test_a_model_with_bad_names_loads_with_numbers_and_a_located_warning(tmp_path):
    out = v8_raw_output([(320, 320, 100, 50, 1, 0.9)], 3)
    path = constant_model(tmp_path / "m.onnx", out, metadata={"names": "-" * 200_000 + "1"})
    det = Detector.load(path)
    assert det.class_names == ["0", "1", "2"]
    assert len(det.warnings) == 1
    assert det.warnings[0].startswith(f"{path}: metadata 'names': not a Python literal of class names (")
    plain = constant_model(tmp_path / "plain.onnx", out)
    (tmp_path / "plain.names").write_bytes(b"bolt\nM\xfctter\n")
    det = Detector.load(plain)
    assert det.class_names == ["0", "1", "2"]
    assert det.warnings == [
        f"{tmp_path / 'plain.names'}:2: class names file is not UTF-8 text (invalid start byte at byte 6); "
        "save it as UTF-8; class numbers are used"
    ]


def test_an_unrecognised_output_shape_names_the_model_file(tmp_path):
    path = constant_model(tmp_path / "odd.onnx", np.zeros((1, 3)))
    with pytest.raises(ModelError, match=rf"^{re.escape(str(path))}: unrecognised detector output shape \[1, 3\]"):
        Detector.load(path)


def nan_model(tmp_path):
    return constant_model(tmp_path / "nan.onnx", v8_raw_output([(np.nan, 320, 100, 50, 1, 0.9)], 3))


def test_non_finite_boxes_or_impossible_classes_are_a_model_error(tmp_path):
    with pytest.raises(ModelError, match=r"nan.onnx: the model output has 1 detection\(s\) with NaN or infinite values"):
        Detector.load(nan_model(tmp_path)).detect(np.zeros((64, 64, 3), np.uint8))
    out = np.zeros((1, 300, 6), dtype=np.float32)
    out[0, 0] = (100, 100, 200, 200, 0.9, 7)  # class 7 of a 3-class model
    out[0, 1] = (100, 100, 200, 200, 0.9, np.nan)
    det = Detector.load(constant_model(tmp_path / "e2e.onnx", out, names={0: "a", 1: "b", 2: "c"}))
    with pytest.raises(ModelError, match=r"2 detection\(s\) with an impossible class id \(the model has 3 classes\)"):
        det.detect(np.zeros((64, 64, 3), np.uint8))


def test_nan_below_the_threshold_does_not_fail_the_cycle(tmp_path):
    out = v8_raw_output([(320, 320, 100, 50, 1, 0.9), (np.nan, np.nan, 1, 1, 0, 0.01)], 3)
    assert len(Detector.load(constant_model(tmp_path / "m.onnx", out)).detect(np.zeros((64, 64, 3), np.uint8))) == 1


def test_detect_json_never_prints_nan(tmp_path, capsys):
    img = tmp_path / "x.png"
    cv2.imwrite(str(img), np.zeros((64, 64, 3), np.uint8))
    assert cli_main(["detect", "--model", str(nan_model(tmp_path)), "--json", str(img)]) == 2
    captured = capsys.readouterr()
    assert captured.out == "" and "NaN or infinite values" in captured.err


def test_a_nan_model_cycle_is_error_not_nok(setup, events):  # noqa: F811
    settings, tmp = setup
    settings = settings.replace("model", path=str(nan_model(tmp)))
    with make_station(settings, events) as station:
        assert station.wait_ready(60)
        result = station.run_cycle()
    assert result.verdict is Verdict.ERROR and "NaN or infinite values" in result.error


# --- loader threads ----------------------------------------------------------------------------


def test_a_pattern_nested_5000_deep_gives_a_visible_error_state_not_a_hang(setup, events):  # noqa: F811
    settings, tmp = setup
    deep = tmp / "deep.yaml"
    deep.write_text("a: " + "[" * 5000 + "]" * 5000 + "\n")
    with make_station(settings.replace("patterns", path=str(deep)), events) as station:
        assert station.wait_ready(60)
        result = station.run_cycle()
    assert result.verdict is Verdict.ERROR and re.search("deep.yaml:1: not valid YAML: (nested deeper|exceeded maximum nesting)", result.error)
    assert any(c == "patterns" and s == "error" and "deep.yaml:1" in why for c, s, why in events["states"])


def test_any_exception_in_a_model_load_is_reported_and_a_switch_keeps_the_old_model(setup, events, monkeypatch):  # noqa: F811
    settings, tmp = setup
    with make_station(settings, events) as station:
        assert station.wait_ready(60)
        old = station.detector

        def exhausted(path, model_settings=None):  # a real load cannot be made to run out of memory on cue
            raise MemoryError("out of memory")

        monkeypatch.setattr(detector_module.Detector, "load", staticmethod(exhausted))
        other = tmp / "other.onnx"
        station.apply_settings(settings.replace("model", path=str(other))).result(60)
        assert station.detector is old and station.settings.model == settings.model
        assert station.run_cycle().verdict is Verdict.OK
    assert f"model not loaded: {other}: unexpected failure (MemoryError: out of memory)" in events["errors"]
    assert ("model", "error", f"{other}: unexpected failure (MemoryError: out of memory)") in events["states"]


def test_an_exception_in_the_first_model_load_still_makes_the_station_ready(setup, events, monkeypatch):  # noqa: F811
    settings, _ = setup
    monkeypatch.setattr(detector_module.Detector, "load", staticmethod(lambda *a: 1 / 0))
    with make_station(settings, events) as station:
        assert station.wait_ready(60)
        result = station.run_cycle()
    assert result.verdict is Verdict.ERROR and "unexpected failure (ZeroDivisionError: division by zero)" in result.error


# --- settings, environment, command line --------------------------------------------------------


def test_non_utf8_settings_file_runs_on_defaults_read_only_and_is_never_saved_over(tmp_path):
    path = tmp_path / "settings.toml"
    original = b'[station]\nname = "Linie 3 \xfc"\n'
    path.write_bytes(original)
    loaded = load_settings(path, env={})
    assert loaded.settings == Settings()
    assert loaded.read_only.startswith(f"{path}:2: settings file is not UTF-8 text")
    assert any("running on defaults" in w for w in loaded.warnings)
    with pytest.raises(ConfigError, match="not saved over it: fix or replace the file first"):
        save_settings(loaded.settings, path)
    with pytest.raises(ConfigError):  # a second attempt neither
        save_settings(loaded.settings, path)
    assert path.read_bytes() == original and not (tmp_path / "settings.toml.bak").exists()
    path.write_text('[station]\nname = "Linie 3"\n')  # fixed by the engineer: saving works again
    assert settings_file_problem(path) == ""
    save_settings(Settings(), path)


def test_a_toml_typo_is_read_only_too(tmp_path):
    path = tmp_path / "settings.toml"
    path.write_text('[model]\nconfidence = 0.5\npath = "m.onnx\n')
    loaded = load_settings(path, env={})
    assert loaded.read_only.startswith(f"{path}: not valid TOML")
    with pytest.raises(ConfigError):
        save_settings(loaded.settings, path)


@pytest.mark.parametrize("value", ["nan", "inf", "-inf"])
def test_non_finite_numbers_are_refused_in_file_and_environment(tmp_path, value):
    path = tmp_path / "settings.toml"
    path.write_text(f"[model]\nconfidence = {value}\n[camera]\nreconnect_min_s = {value}\n")
    loaded = load_settings(path, env={"INSPECTION_STATION_MODEL_IOU": value})
    s = loaded.settings
    assert (s.model.confidence, s.model.iou, s.camera.reconnect_min_s) == (0.25, 0.45, 0.5)
    assert f"{path}: [model] confidence: expected a finite number, got {float(value)!r}; using 0.25" in loaded.warnings
    assert f"environment: [model] iou: expected a finite number, got {float(value)!r}; using 0.45" in loaded.warnings
    with pytest.raises(ConfigError, match="finite"):
        Settings().replace("model", confidence=math.nan)


def test_a_bad_list_value_names_the_default_not_a_sentinel(tmp_path):
    path = tmp_path / "settings.toml"
    path.write_text("[model]\nclass_names = 3\n")
    warnings = load_settings(path, env={}).warnings
    assert warnings == [f"{path}: [model] class_names: expected a list of strings, got 3; using []"]


def test_unknown_environment_variables_and_a_folder_as_settings_path_are_warned(tmp_path):
    loaded = load_settings(tmp_path, env={"INSPECTION_STATION_MODLE_PATH": "x.onnx", "INSPECTION_STATION_BUNDLE_ROOT": "."})
    assert loaded.warnings[0] == f"{tmp_path}: is not a file (expected a settings TOML file); running on defaults"
    assert loaded.warnings[1].startswith("environment: INSPECTION_STATION_MODLE_PATH is not a setting")
    assert len(loaded.warnings) == 2 and loaded.read_only


def test_configured_paths_that_do_not_exist_are_warned_at_load(tmp_path):
    path = tmp_path / "settings.toml"
    path.write_text(f'[model]\npath = "{tmp_path / "gone.onnx"}"\n[camera]\nsource = "folder"\nimage_folder = "{tmp_path}"\n')
    assert load_settings(path, env={}).warnings == [f"[model] path: no such model file {str(tmp_path / 'gone.onnx')!r}"]


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["detect", "--model", "m.onnx", "--conf", "5", "x.png"], "argument --conf: expected a number in [0, 1], got '5'"),
        (["detect", "--model", "m.onnx", "--iou", "7", "x.png"], "argument --iou: expected a number in [0, 1], got '7'"),
        (["inspect", "--model", "m", "--patterns", "p", "--conf", "nan", "x.png"], "argument --conf: expected a number in [0, 1], got 'nan'"),
        (["pattern", "derive", "--labels", "l", "--out", "o.yaml", "--tolerance", "-5"], "argument --tolerance: expected a number in [0, 5], got '-5'"),
        (["run", "--headless", "--cycles", "-1"], "argument --cycles: expected a whole number >= 0, got '-1'"),
    ],
)
def test_command_line_numbers_are_checked(argv, message, capsys):
    with pytest.raises(SystemExit) as info:
        cli_main(argv)
    assert info.value.code == 2 and message in capsys.readouterr().err


def test_undecodable_labels_and_truth_files_are_located(tmp_path, capsys):
    labels = tmp_path / "labels"
    labels.mkdir()
    (labels / "a.txt").write_bytes(b"0 0.5 0.5 0.1 0.1\n\xff\n")
    assert cli_main(["pattern", "derive", "--labels", str(labels), "--out", str(tmp_path / "o.yaml")]) == 2
    assert f"{labels / 'a.txt'}:2: label file is not UTF-8 text" in capsys.readouterr().err
    (labels / "a.txt").write_text("0 0.5 nan 0.1 0.1\n")
    assert cli_main(["pattern", "derive", "--labels", str(labels), "--out", str(tmp_path / "o.yaml")]) == 2
    assert f"{labels / 'a.txt'}:1: expected 'class cx cy w h'" in capsys.readouterr().err
    pattern = tmp_path / "p.yaml"
    pattern.write_text("v:\n" + SLOT)
    (labels / "a.txt").write_text("0 0.25 0.25 0.1 0.1\n")
    truth = tmp_path / "truth.csv"
    truth.write_bytes(b"file,verdict\na.png,OK\n\xfe\n")
    code = cli_main(["pattern", "evaluate", "--patterns", str(pattern), "--labels", str(labels), "--truth", str(truth)])
    assert code == 2 and f"{truth}:3: truth file is not UTF-8 text" in capsys.readouterr().err


# --- images --------------------------------------------------------------------------------------


def png_declaring(width: int, height: int) -> bytes:
    """A small, valid PNG whose IHDR claims width x height (a decompression bomb's header)."""
    ok, buf = cv2.imencode(".png", np.zeros((4, 4, 3), np.uint8))
    data = bytearray(buf.tobytes())
    data[16:24] = struct.pack(">II", width, height)
    data[29:33] = struct.pack(">I", zlib.crc32(bytes(data[12:29])))
    return bytes(data)


def test_an_image_declaring_too_many_pixels_is_refused_before_decoding(tmp_path):
    bomb = tmp_path / "bomb.png"
    bomb.write_bytes(png_declaring(20000, 20000))
    assert image_size(bomb.read_bytes()) == (20000, 20000)
    with pytest.raises(ImageError, match=r"bomb.png: declares 20000 x 20000 pixels \(400 MP\), more than the 250 MP allowed"):
        load_image(bomb)
    small = tmp_path / "small.png"
    cv2.imwrite(str(small), np.zeros((48, 64, 3), np.uint8))
    assert load_image(small).shape == (48, 64, 3)
    with pytest.raises(ImageError, match=r"declares 64 x 48 pixels"):
        load_image(small, max_pixels=64 * 48 - 1)


@pytest.mark.parametrize("ext", [".png", ".jpg", ".bmp", ".tif", ".webp"])
def test_header_sizes_agree_with_the_decoder(tmp_path, ext):
    image = np.random.default_rng(1).integers(0, 255, (37, 53, 3), np.uint8)
    ok, buf = cv2.imencode(ext, image)
    assert image_size(buf.tobytes()) == (53, 37)


def test_a_json_dump_of_detections_is_valid_json(tmp_path, capsys):
    img = tmp_path / "x.png"
    cv2.imwrite(str(img), np.zeros((64, 64, 3), np.uint8))
    model = constant_model(tmp_path / "m.onnx", v8_raw_output([(320, 320, 100, 50, 1, 0.9)], 3))
    assert cli_main(["detect", "--model", str(model), "--json", str(img)]) == 0
    json.loads(capsys.readouterr().out, parse_constant=lambda c: pytest.fail(f"{c} in JSON"))
