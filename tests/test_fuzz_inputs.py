"""Issue 15: fuzzing the readers of user files with hypothesis.

For the pattern loader, the settings loader, the label and truth readers and the model's
`names` metadata: any input gives a value or ONE located error of the station's own type
(never another exception), within a memory bound. The time bound is structural (each
reader caps size and depth before work grows), so nothing here times a call.
"""

from __future__ import annotations

import tempfile
import tracemalloc
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from inspection_station.commands.pattern import read_truth
from inspection_station.core.detect.detector import parse_names
from inspection_station.core.errors import PatternError
from inspection_station.core.patterns.model import PatternFileError, PatternSet
from inspection_station.core.patterns.teaching import parse_yolo_labels, read_yolo_labels
from inspection_station.core.patterns.yaml_io import load_pattern_set, parse_pattern_set
from inspection_station.core.settings.model import ENV_PREFIX, SECTIONS, Settings, load_settings

MEMORY_BOUND = 64 << 20  # bytes allocated at the peak of one call: far above what a reader needs
FUZZ = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow], database=None)

YAML_TOKENS = [
    "v", "variant_a", ":", " ", "  ", "\n", "- ", "[", "]", "{", "}", ",", "class_id", "inner", "outer",
    "name", "min_score", "_settings", "0", "1", "-1", "0.2", "0.5", "1e999", ".nan", ".inf", "null", "~",
    "true", "&a ", "*a", "!!str ", "!!python/object:os.system ", "'", '"', "#", "? ", "%YAML 1.1\n", "---\n",
    "\t", "\\", "\x00", "é", "<<: ", "[0.2, 0.2, 0.3, 0.3]", "[0.1, 0.1, 0.4, 0.4]",
]
yaml_like = st.lists(st.sampled_from(YAML_TOKENS), max_size=80).map("".join)
TOML_TOKENS = [
    "[camera]", "[model]", "[station]", "[nope]", "\n", " = ", "=", "confidence", "iou", "path", "name",
    "reconnect_min_s", "providers", "class_names", "0.5", "nan", "inf", "-inf", "1e999", "true", '"x"', "'y'",
    '"""', "[", "]", "{", "}", ",", "#", "\\u0000", "\xff", "é", "[[model]]", "a.b", "3", "-1",
]
toml_like = st.lists(st.sampled_from(TOML_TOKENS), max_size=60).map("".join)
LABEL_TOKENS = ["0", "1", "-1", "0.5", "1.5", "nan", "inf", "-inf", "1e999", "x", " ", "\t", "\n", "\r\n", "0.1", "2.0"]
label_like = st.lists(st.sampled_from(LABEL_TOKENS), max_size=60).map("".join)


def bounded(fn, *args):
    """Call fn(*args); fail when it allocates more than MEMORY_BOUND at its peak."""
    tracemalloc.start()
    try:
        return fn(*args)
    finally:
        _, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
        assert peak < MEMORY_BOUND, f"{getattr(fn, '__name__', fn)} peaked at {peak} bytes"


def one_file(data: bytes, name: str) -> Path:
    folder = Path(tempfile.mkdtemp(prefix="fuzz-"))
    path = folder / name
    path.write_bytes(data)
    return path


# --- pattern files ------------------------------------------------------------------------------


def check_pattern_outcome(fn, *args, src: str) -> None:
    try:
        result = bounded(fn, *args)
    except PatternFileError as exc:
        assert exc.problems and all(p.startswith(src) for p in exc.problems), exc.problems
    except PatternError as exc:
        assert str(exc).startswith(src) and "\n" not in str(exc)
    else:
        assert isinstance(result, PatternSet) and result.variants


@FUZZ
@given(st.one_of(yaml_like, st.text(max_size=300)))
def test_pattern_text_gives_a_pattern_or_located_problems(text):
    check_pattern_outcome(parse_pattern_set, text, "p", "dir/p.yaml", 3, src="dir/p.yaml")


@FUZZ
@given(st.one_of(yaml_like.map(lambda t: t.encode("utf-8", "surrogatepass")), st.binary(max_size=300)))
def test_pattern_file_bytes_give_a_pattern_or_located_problems(data):
    path = one_file(data, "fuzz.yaml")
    check_pattern_outcome(load_pattern_set, path, src=str(path))


# --- settings -----------------------------------------------------------------------------------


@FUZZ
@given(st.one_of(toml_like.map(lambda t: t.encode("utf-8", "surrogatepass")), st.binary(max_size=300)))
def test_settings_file_gives_settings_and_located_warnings(data):
    path = one_file(data, "settings.toml")
    loaded = bounded(lambda: load_settings(path, env={}))
    assert isinstance(loaded.settings, Settings)
    # located by the file, or (configured paths that do not exist) by section and key
    assert all(w.startswith((str(path), "[")) for w in loaded.warnings), loaded.warnings
    assert bool(loaded.read_only) == (loaded.files[-1:] != [path])  # read-only exactly when not read


env_names = st.one_of(
    st.sampled_from([f"{ENV_PREFIX}{s.upper()}_" for s in SECTIONS] + [ENV_PREFIX]).flatmap(
        lambda prefix: st.sampled_from(["CONFIDENCE", "IOU", "RECONNECT_MIN_S", "NAME", "NOPE", "PROVIDERS", ""]).map(prefix.__add__)
    ),
    st.text(max_size=20).map(lambda s: ENV_PREFIX + s),
)


@FUZZ
@given(st.dictionaries(env_names, st.one_of(st.sampled_from(["nan", "inf", "1e999", "-1", "0.5", "yes", ""]), st.text(max_size=20)), max_size=6))
def test_environment_gives_settings_and_located_warnings(env):
    empty = one_file(b"", "settings.toml")
    loaded = bounded(lambda: load_settings(empty, env=env))
    assert isinstance(loaded.settings, Settings)
    assert all(w.startswith(("environment: ", "[")) for w in loaded.warnings), loaded.warnings
    s = loaded.settings
    assert 0 <= s.model.confidence <= 1 and 0 <= s.model.iou <= 1 and 0.05 <= s.camera.reconnect_min_s <= 60


# --- labels and truth ----------------------------------------------------------------------------


@FUZZ
@given(st.one_of(label_like, st.text(max_size=200)))
def test_label_text_gives_boxes_in_the_image_or_a_located_error(text):
    try:
        boxes = bounded(parse_yolo_labels, text, "l.txt")
    except PatternError as exc:
        assert str(exc).startswith("l.txt:")
    else:
        assert all(0 <= v <= 1 for b in boxes for v in b.box) and all(b.class_id >= 0 for b in boxes)


@FUZZ
@given(st.one_of(label_like.map(str.encode), st.binary(max_size=200)))
def test_label_file_bytes_give_boxes_or_a_located_error(data):
    path = one_file(data, "a.txt")
    try:
        bounded(read_yolo_labels, path)
    except PatternError as exc:
        assert str(exc).startswith(str(path))


@FUZZ
@given(st.one_of(
    st.lists(st.sampled_from(["a.png", ",", "OK", "NOK", "ok", "file", "verdict", "\n", "\r\n", '"', "x" * 50, "\x00"]), max_size=40)
    .map(lambda t: "".join(t).encode()),
    st.binary(max_size=200),
))
def test_truth_file_gives_verdicts_or_a_located_error(data):
    path = one_file(data, "truth.csv")
    try:
        truth = bounded(read_truth, path)
    except PatternError as exc:
        assert str(exc).startswith(str(path))
    else:
        assert set(truth.values()) <= {"OK", "NOK"}


# --- model names metadata ------------------------------------------------------------------------


NAME_TOKENS = ["{", "}", "[", "]", "(", ")", "0", "1", ":", ",", "'a'", '"b"', "-", "+", "j", "1e999", "None", "True", "*", " "]


@FUZZ
@given(st.one_of(st.lists(st.sampled_from(NAME_TOKENS), max_size=200).map("".join), st.text(max_size=200)))
def test_names_metadata_gives_names_or_a_reason(text):
    names, problem = bounded(parse_names, text, "m.onnx: metadata 'names'")
    assert (names is None) == bool(problem)
    if names is None:
        assert problem.startswith("m.onnx: metadata 'names': ")
    else:
        assert all(isinstance(n, str) for n in names)
