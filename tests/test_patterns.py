"""Pattern files: the old format read unchanged, located validation, atomic saving."""

from __future__ import annotations

import os

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from inspection_station.core.errors import PatternError
from inspection_station.core.patterns.model import (
    PatternFileError,
    PatternSet,
    Slot,
    validate_pattern_set,
)
from inspection_station.core.patterns.yaml_io import (
    load_pattern_library,
    load_pattern_set,
    parse_pattern_set,
    pattern_set_to_yaml,
    save_pattern_set,
)

OLD_FILE = """\
variant_a:
  - class_id: 0
    inner: [0.20, 0.20, 0.30, 0.30]
    outer: [0.18, 0.18, 0.32, 0.32]
  - class_id: 1
    inner: [0.60, 0.40, 0.70, 0.52]
    outer: [0.57, 0.37, 0.73, 0.55]
variant_b:
  - class_id: 0
    inner: [0.2, 0.6, 0.3, 0.7]
    outer: [0.1, 0.5, 0.4, 0.8]
"""

GOOD_SLOT = "{class_id: 0, inner: [0.2, 0.2, 0.3, 0.3], outer: [0.1, 0.1, 0.4, 0.4]}"


def write(tmp_path, text, name="product.yaml"):
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def test_the_old_format_loads_unchanged(tmp_path):
    ps = load_pattern_set(write(tmp_path, OLD_FILE))
    assert ps.name == "product" and ps.path == tmp_path / "product.yaml"
    assert list(ps.variants) == ["variant_a", "variant_b"]  # file order
    a0, a1 = ps.variants["variant_a"]
    assert a0 == Slot(0, (0.2, 0.2, 0.3, 0.3), (0.18, 0.18, 0.32, 0.32))
    assert (a1.class_id, a1.name, a1.min_score) == (1, None, None)
    assert ps.min_scores == {} and ps.min_score_for(a0) is None


def test_names_and_min_scores_are_optional_extras(tmp_path):
    text = """\
a:
  - {class_id: 0, inner: [0.2, 0.2, 0.3, 0.3], outer: [0.1, 0.1, 0.4, 0.4], name: screw, min_score: 0.7}
  - {class_id: 0, inner: [0.6, 0.2, 0.7, 0.3], outer: [0.5, 0.1, 0.8, 0.4]}
  - {class_id: 1, inner: [0.6, 0.6, 0.7, 0.7], outer: [0.5, 0.5, 0.8, 0.8], name: 7}
_settings:
  min_score: {0: 0.5}
"""
    ps = load_pattern_set(write(tmp_path, text))
    s0, s1, s2 = ps.variants["a"]
    assert list(ps.variants) == ["a"]  # _settings is not a variant
    assert (s0.name, ps.min_score_for(s0)) == ("screw", 0.7)  # the slot's own wins
    assert ps.min_score_for(s1) == 0.5  # its class's
    assert (s2.name, ps.min_score_for(s2)) == ("7", None)


def test_library_of_a_folder_is_ordered_by_name_and_a_file_is_a_library_of_one(tmp_path):
    write(tmp_path, OLD_FILE, "zeta.yaml")
    write(tmp_path, OLD_FILE, "alpha.yml")
    (tmp_path / "sub").mkdir()
    write(tmp_path / "sub", OLD_FILE, "mid.yaml")  # the old system searched recursively
    write(tmp_path, "broken: [", "zeta.yaml.bak")  # backups and other files are not patterns
    write(tmp_path, "notes", "readme.txt")
    library = load_pattern_library(tmp_path)
    assert list(library) == ["alpha", "mid", "zeta"]
    assert list(load_pattern_library(tmp_path / "zeta.yaml")) == ["zeta"]


def test_library_problems(tmp_path):
    with pytest.raises(PatternError, match="no such pattern file or folder"):
        load_pattern_library(tmp_path / "nowhere")
    (tmp_path / "empty").mkdir()
    with pytest.raises(PatternError, match="no pattern files"):
        load_pattern_library(tmp_path / "empty")
    write(tmp_path, OLD_FILE, "same.yaml")
    (tmp_path / "sub").mkdir()
    write(tmp_path / "sub", OLD_FILE, "same.yml")
    write(tmp_path, "a: []\n", "bad.yaml")
    with pytest.raises(PatternFileError) as err:
        load_pattern_library(tmp_path)
    problems = err.value.problems  # every file's problems together
    assert any("bad.yaml" in p and "no slots" in p for p in problems)
    assert any("'same' already defined" in p for p in problems)


def test_missing_file(tmp_path):
    with pytest.raises(PatternError, match="no such pattern file"):
        load_pattern_set(tmp_path / "gone.yaml")


# --- validation: every message names file (+ line), variant, slot and field --------------------

S = "{class_id: 0, inner: %s, outer: %s}"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        # (file text, substrings of one located message)
        ("v:\n  - " + S % ("[0.2, 0.2, 0.3, 0.3]", "[0.1, 0.1, 0.4, 1.2]"),
         [":2:", "variant 'v'", "slot 0", "outer:", "in [0, 1]"]),
        ("v:\n  - " + S % ("[0.2, 0.2, 0.3, 0.3]", "[-0.1, 0.1, 0.4, 0.4]"),
         [":2:", "slot 0", "outer:", "in [0, 1]"]),
        ("v:\n  - " + S % ("[0.2, a, 0.3, 0.3]", "[0.1, 0.1, 0.4, 0.4]"),
         [":2:", "slot 0", "inner:", "expected 4 numbers"]),
        ("v:\n  - " + S % ("[0.2, true, 0.3, 0.3]", "[0.1, 0.1, 0.4, 0.4]"),
         [":2:", "slot 0", "inner:", "expected 4 numbers"]),
        ("v:\n  - " + S % ("[0.2, .nan, 0.3, 0.3]", "[0.1, 0.1, 0.4, 0.4]"),
         [":2:", "slot 0", "inner:", "expected 4 numbers"]),
        ("v:\n  - " + S % ("[0.2, 0.2, 0.3]", "[0.1, 0.1, 0.4, 0.4]"),
         [":2:", "slot 0", "inner:", "expected 4 numbers"]),
        ("v:\n  - " + S % ("[0.3, 0.2, 0.3, 0.3]", "[0.1, 0.1, 0.4, 0.4]"),
         [":2:", "slot 0", "inner:", "x1 must be < x2"]),
        ("v:\n  - " + S % ("[0.2, 0.2, 0.3, 0.3]", "[0.1, 0.4, 0.4, 0.1]"),
         [":2:", "slot 0", "outer:", "y1 must be < y2"]),
        ("v:\n  - " + S % ("[0.05, 0.2, 0.3, 0.3]", "[0.1, 0.1, 0.4, 0.4]"),
         [":2:", "slot 0", "inner:", "must lie inside outer"]),
        ("v:\n  - " + GOOD_SLOT + "\n  - {class_id: 1.5, inner: [0.2, 0.2, 0.3, 0.3], outer: [0.1, 0.1, 0.4, 0.4]}",
         [":3:", "variant 'v'", "slot 1", "class_id:", "whole number"]),
        ("v:\n  - {class_id: -1, inner: [0.2, 0.2, 0.3, 0.3], outer: [0.1, 0.1, 0.4, 0.4]}",
         [":2:", "slot 0", "class_id:", ">= 0"]),
        ("v:\n  - {inner: [0.2, 0.2, 0.3, 0.3], outer: [0.1, 0.1, 0.4, 0.4]}",
         [":2:", "slot 0", "class_id:", "missing"]),
        ("v:\n  - {class_id: 0, outer: [0.1, 0.1, 0.4, 0.4]}", [":2:", "slot 0", "inner:", "missing"]),
        # an unknown field is kept with a warning (the old system ignored it), so a typo of
        # a required field shows as that field missing
        ("v:\n  - {class_id: 0, innr: [0.2, 0.2, 0.3, 0.3], outer: [0.1, 0.1, 0.4, 0.4]}",
         [":2:", "slot 0", "inner:", "missing"]),
        ("v:\n  - {class_id: 0, inner: [0.2, 0.2, 0.3, 0.3], outer: [0.1, 0.1, 0.4, 0.4], min_score: 2}",
         [":2:", "slot 0", "min_score:", "[0, 1]"]),
        ("v:\n  - {class_id: 0, inner: [0.2, 0.2, 0.3, 0.3], outer: [0.1, 0.1, 0.4, 0.4], name: '  '}",
         [":2:", "slot 0", "name:", "blank"]),
        ("v:\n  - {class_id: 0, inner: [0.2, 0.2, 0.3, 0.3], outer: [0.1, 0.1, 0.4, 0.4], name: a}\n"
         "  - {class_id: 0, inner: [0.6, 0.2, 0.7, 0.3], outer: [0.5, 0.1, 0.8, 0.4], name: a}",
         [":3:", "variant 'v'", "slot 1 (name 'a')", "name:", "duplicate slot name 'a' (also slot 0)"]),
        ("v:\n  - 3", [":2:", "variant 'v'", "slot 0", "expected a mapping"]),
        ("ok:\n  - " + GOOD_SLOT + "\nv: []", [":3:", "variant 'v'", "no slots"]),
        ("v: {class_id: 0}", [":1:", "variant 'v'", "expected a list of slots"]),
        ("v:\n  - " + GOOD_SLOT + "\nv:\n  - " + GOOD_SLOT, [":3:", "variant 'v'", "duplicate variant name"]),
        ("v:\n  - " + GOOD_SLOT + "\n_settings: {min_score: {0: 1.5}}", ["_settings", "min_score", "[0, 1]"]),
        ("v:\n  - " + GOOD_SLOT + "\n_settings: {min_score: {a: 0.5}}", [":3:", "_settings", "min_score", "class id"]),
        ("v:\n  - " + GOOD_SLOT + "\n_settings: {threshold: 1}", [":3:", "_settings", "threshold", "unknown setting"]),
        ("_settings: {min_score: {0: 0.5}}", ["no variants"]),
        ("v:\n  - [0.2, 0.2\n", [":3:", "not valid YAML"]),
        ("v: {a: [1, 2}\n", [":1:", "not valid YAML"]),
        ("- 1\n- 2\n", ["top level must map variant names", "list"]),
        ("", ["the file is empty"]),
        ("# only a comment\n", ["the file is empty"]),
    ],
)
def test_every_problem_is_located(tmp_path, text, expected):
    path = write(tmp_path, text)
    with pytest.raises(PatternFileError) as err:
        load_pattern_set(path)
    messages = err.value.problems
    assert all(m.startswith(str(path)) for m in messages), messages
    assert any(all(part in m for part in expected) for m in messages), messages
    assert str(path) in str(err.value)  # the one-line message the CLI prints


def test_unknown_class_ids_need_the_models_class_count(tmp_path):
    path = write(tmp_path, OLD_FILE)
    load_pattern_set(path)  # no model: any class id >= 0
    with pytest.raises(PatternFileError) as err:
        load_pattern_set(path, num_classes=1)
    assert err.value.problems == [
        f"{path}:5: variant 'variant_a', slot 1, class_id: unknown class 1: the model has 1 classes (0..0)"
    ]


def test_all_problems_are_collected(tmp_path):
    text = "a:\n  - " + S % ("[0.3, 0.2, 0.3, 0.3]", "[0.1, 0.1, 0.4, 0.4]") + "\nb: []\n"
    with pytest.raises(PatternFileError) as err:
        load_pattern_set(write(tmp_path, text))
    assert len(err.value.problems) == 2


def test_yaml_is_read_safely(tmp_path):
    text = "v: !!python/object/apply:os.system ['echo hi']\n"
    with pytest.raises(PatternFileError, match="not valid YAML"):
        load_pattern_set(write(tmp_path, text))


def test_validate_pattern_set_for_live_editing():
    good = PatternSet("p", {"a": [Slot(0, (0.2, 0.2, 0.3, 0.3), (0.1, 0.1, 0.4, 0.4))]})
    assert validate_pattern_set(good) == []
    assert validate_pattern_set(good, num_classes=1) == []
    bad = PatternSet(
        "p",
        {
            "a": [
                Slot(0, (0.2, 0.2, 0.3, 0.3), (0.1, 0.1, 0.4, 0.4), name="x"),
                Slot(3, (0.2, 0.2, 0.1, 0.3), (0.1, 0.1, 0.4, 0.4), name="x", min_score=-1),
            ],
            "b": [],
        },
        min_scores={0: 2.0},
    )
    assert validate_pattern_set(bad, num_classes=2) == [
        "p: variant 'a', slot 1 (name 'x'), class_id: unknown class 3: the model has 2 classes (0..1)",
        "p: variant 'a', slot 1 (name 'x'), inner: x1 must be < x2, got [0.2, 0.2, 0.1, 0.3]",
        "p: variant 'a', slot 1 (name 'x'), min_score: must lie in [0, 1], got -1",
        "p: variant 'a', slot 1 (name 'x'), name: duplicate slot name 'x' (also slot 0)",
        "p: variant 'b': has no slots (a variant needs at least one)",
        "p: _settings, min_score: class 0 must lie in [0, 1], got 2",
    ]
    assert validate_pattern_set(PatternSet("p", {})) == ["p: no variants (expected at least one variant with slots)"]


# --- saving ---------------------------------------------------------------------------------


def test_save_writes_the_old_format_and_reads_back_equal(tmp_path):
    ps = load_pattern_set(write(tmp_path, OLD_FILE))
    out = save_pattern_set(ps, tmp_path / "copy.yaml")
    text = out.read_text()
    assert "inner: [0.2, 0.2, 0.3, 0.3]" in text  # boxes on one line, as people write them
    assert "name" not in text and "min_score" not in text and "_settings" not in text
    assert yaml.safe_load(text) == yaml.safe_load(OLD_FILE)  # what the old system reads
    again = load_pattern_set(out)
    assert (again.name, again.variants) == ("copy", ps.variants)


def test_save_keeps_extras(tmp_path):
    slot = Slot(1, (0.2, 0.2, 0.3, 0.3), (0.1, 0.1, 0.4, 0.4), name="nut", min_score=0.25)
    ps = PatternSet("p", {"a": [slot]}, min_scores={1: 0.5})
    again = load_pattern_set(save_pattern_set(ps, tmp_path / "p.yaml"))
    assert again.variants == {"a": (slot,)} and again.min_scores == {1: 0.5}


def test_save_is_atomic_keeps_a_backup_and_refuses_invalid_sets(tmp_path):
    path = write(tmp_path, OLD_FILE)
    ps = load_pattern_set(path)
    changed = PatternSet(ps.name, {"only": ps.variants["variant_b"]}, ps.path)
    save_pattern_set(changed)  # to its own path
    assert (tmp_path / "product.yaml.bak").read_text() == OLD_FILE
    assert list(load_pattern_set(path).variants) == ["only"]

    before = path.read_bytes()
    backup_before = (tmp_path / "product.yaml.bak").read_bytes()
    invalid = PatternSet(ps.name, {"only": [Slot(0, (0.5, 0.5, 0.4, 0.6), (0.1, 0.1, 0.9, 0.9))]}, ps.path)
    with pytest.raises(PatternFileError) as err:
        save_pattern_set(invalid)
    assert "not saved to" in str(err.value) and "x1 must be < x2" in str(err.value)
    assert path.read_bytes() == before  # untouched
    assert (tmp_path / "product.yaml.bak").read_bytes() == backup_before
    assert sorted(os.listdir(tmp_path)) == ["product.yaml", "product.yaml.bak"]  # no temp files left

    with pytest.raises(PatternError, match="unknown class"):
        save_pattern_set(ps, tmp_path / "new.yaml", num_classes=1)
    assert not (tmp_path / "new.yaml").exists()


def test_save_needs_a_target():
    with pytest.raises(PatternError, match="no file to save to"):
        save_pattern_set(PatternSet("p", {"a": [Slot(0, (0.2, 0.2, 0.3, 0.3), (0.1, 0.1, 0.4, 0.4))]}))


@st.composite
def valid_slots(draw):
    xs = sorted(draw(st.lists(st.floats(0.0, 1.0), min_size=4, max_size=4, unique=True)))
    ys = sorted(draw(st.lists(st.floats(0.0, 1.0), min_size=4, max_size=4, unique=True)))
    return Slot(
        draw(st.integers(0, 50)),
        (xs[1], ys[1], xs[2], ys[2]),
        (xs[0], ys[0], xs[3], ys[3]),
        min_score=draw(st.none() | st.floats(0.0, 1.0)),
    )


@settings(max_examples=100, deadline=None)
@given(
    st.dictionaries(
        st.text(st.characters(codec="utf-8", exclude_categories=("Cs", "Cc")), min_size=1, max_size=12)
        .filter(lambda k: k != "_settings"),
        st.lists(valid_slots(), min_size=1, max_size=4),
        min_size=1,
        max_size=3,
    )
)
def test_any_valid_set_round_trips_through_yaml_exactly(variants):
    ps = PatternSet("p", variants)
    assert validate_pattern_set(ps) == []
    again = parse_pattern_set(pattern_set_to_yaml(ps), "p")
    assert again.variants == ps.variants  # floats too: YAML keeps repr precision
