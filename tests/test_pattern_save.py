"""Saving a pattern over the engineer's file keeps what they wrote around the values:
comments, key order, quoting, flow lists, and the file's mode (ruamel.yaml round trip)."""

from __future__ import annotations

import dataclasses
import os
import stat

import pytest

from inspection_station.core.patterns.model import PatternSet, Slot
from inspection_station.core.patterns.yaml_io import load_pattern_set, save_pattern_set

ORIGINAL = """\
# Board rev C: the two screws are the customer's critical features.
variant_b:   # the newer board first, on purpose
  - class_id: 1
    name: "chip_mcu"   # the MCU, quoted by habit
    inner: [0.20, 0.20, 0.30, 0.30]
    outer: [0.18, 0.18, 0.32, 0.32]
variant_a:
  # left screw
  - class_id: 0
    inner: [0.60, 0.40, 0.70, 0.52]
    outer: [0.57, 0.37, 0.73, 0.55]
"""


@pytest.fixture
def pattern_file(tmp_path):
    path = tmp_path / "board.yaml"
    path.write_text(ORIGINAL, encoding="utf-8")
    os.chmod(path, 0o640)
    return path


def test_save_keeps_comments_key_order_quoting_and_mode(pattern_file):
    ps = load_pattern_set(pattern_file)
    moved = dataclasses.replace(ps.variants["variant_a"][0], inner=(0.61, 0.40, 0.70, 0.52))
    save_pattern_set(dataclasses.replace(ps, variants={**ps.variants, "variant_a": (moved,)}), pattern_file)
    text = pattern_file.read_text(encoding="utf-8")
    for kept in ("# Board rev C: the two screws", "# the newer board first, on purpose",
                 '"chip_mcu"   # the MCU, quoted by habit', "# left screw"):
        assert kept in text
    assert text.index("variant_b:") < text.index("variant_a:")
    assert "inner: [0.61, 0.40, 0.70, 0.52]" in text  # unchanged numbers keep their spelling
    assert stat.S_IMODE(pattern_file.stat().st_mode) == 0o640
    assert load_pattern_set(pattern_file).variants["variant_a"][0].inner == (0.61, 0.40, 0.70, 0.52)
    assert (pattern_file.parent / "board.yaml.bak").read_text(encoding="utf-8") == ORIGINAL


def test_added_and_removed_slots_and_variants_are_written(pattern_file):
    ps = load_pattern_set(pattern_file)
    extra = Slot(2, (0.4, 0.4, 0.5, 0.5), (0.35, 0.35, 0.55, 0.55), name="label")
    changed = PatternSet(ps.name, {"variant_b": (*ps.variants["variant_b"], extra), "variant_c": (extra,)}, ps.path)
    save_pattern_set(changed, pattern_file)
    again = load_pattern_set(pattern_file)
    assert again.variants == changed.variants
    text = pattern_file.read_text(encoding="utf-8")
    assert "# left screw" not in text  # variant_a and its comment went
    assert "# Board rev C" in text


def test_a_new_file_gets_the_usual_mode_not_0600(tmp_path):
    path = save_pattern_set(PatternSet("p", {"a": (Slot(0, (0.2, 0.2, 0.3, 0.3), (0.1, 0.1, 0.4, 0.4)),)}),
                            tmp_path / "p.yaml")
    umask = os.umask(0)
    os.umask(umask)
    assert stat.S_IMODE(path.stat().st_mode) == 0o666 & ~umask


def test_unknown_fields_of_an_old_file_survive_a_save_even_in_a_new_slot(tmp_path):
    path = tmp_path / "old.yaml"
    path.write_text("a:\n  - class_id: 0\n    inner: [0.2, 0.2, 0.3, 0.3]\n    outer: [0.1, 0.1, 0.4, 0.4]\n"
                    "    operator_hint: check the thread  # the old tool's field\n", encoding="utf-8")
    ps = load_pattern_set(path)
    (slot,) = ps.variants["a"]
    save_pattern_set(dataclasses.replace(ps, variants={"a": (slot,), "b": (slot,)}), path)
    text = path.read_text(encoding="utf-8")
    assert text.count("operator_hint: check the thread") == 2
    assert "# the old tool's field" in text
