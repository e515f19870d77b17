"""Pattern files the old tools wrote load: small overhangs clipped, unknown fields kept, and
each file of a folder loads (or fails) on its own."""

from __future__ import annotations

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from inspection_station.core.errors import PatternError
from inspection_station.core.patterns.model import PatternFileError
from inspection_station.core.patterns.yaml_io import (
    CLIP_TOLERANCE,
    choose_pattern_set,
    load_pattern_library,
    load_pattern_set,
    parse_pattern_set,
    read_pattern_library,
    save_pattern_set,
)
from tests.old_system import old_pattern_yaml
from tests.test_cli import cli, images, model  # noqa: F401  (fixtures)
from tests.test_station import PATTERN, events, make_station, setup  # noqa: F401  (fixtures)

# an edge part: centre x 0.03, width 0.1 -> x1 = -0.02 after the old tool's conversion
EDGE_SLOTS = {
    "variant_a": [
        (0, [0.03, 0.5, 0.04, 0.1], [0.03, 0.5, 0.1, 0.2]),
        (1, [0.5, 0.98, 0.2, 0.02], [0.5, 0.98, 0.3, 0.06]),
        (2, [0.5, 0.5, 0.2, 0.2], [0.5, 0.5, 0.3, 0.3]),
    ]
}


def test_a_file_the_old_tool_wrote_loads_with_located_clip_warnings(tmp_path):
    text = old_pattern_yaml(EDGE_SLOTS)
    raw = yaml.safe_load(text)
    assert raw["variant_a"][0]["outer"][0] < 0 and raw["variant_a"][1]["outer"][3] > 1  # really overhangs
    path = tmp_path / "old.yaml"
    path.write_text(text)
    ps = load_pattern_set(path)
    s0, s1, s2 = ps.variants["variant_a"]
    assert s0.outer == (0.0, *raw["variant_a"][0]["outer"][1:])
    assert s1.outer == (*raw["variant_a"][1]["outer"][:3], 1.0)
    assert s2.outer == tuple(raw["variant_a"][2]["outer"])  # inside: untouched
    assert len(ps.warnings) == 2
    w0, w1 = ps.warnings
    line0 = text.splitlines().index("variant_a:") + 2  # the first slot's line
    assert w0.startswith(f"{path}:{line0}: variant 'variant_a', slot 0, outer: coordinates [")
    assert "clipped to [0," in w0
    assert "slot 1, outer" in w1 and "clipped" in w1


def test_beyond_the_tolerance_is_still_an_error(tmp_path):
    bad = -(CLIP_TOLERANCE + 0.01)
    path = tmp_path / "p.yaml"
    path.write_text(f"v:\n  - {{class_id: 0, inner: [0.2, 0.2, 0.3, 0.3], outer: [{bad}, 0.1, 0.4, 0.4]}}\n")
    with pytest.raises(PatternFileError) as err:
        load_pattern_set(path)
    assert err.value.problems == [
        f"{path}:2: variant 'v', slot 0, outer: coordinates must lie in [0, 1] (normalised to the image), "
        f"got [{bad:g}, 0.1, 0.4, 0.4]"
    ]


def test_unknown_fields_are_kept_warned_about_and_saved_back(tmp_path):
    path = tmp_path / "p.yaml"
    path.write_text(
        "v:\n"
        "  - {class_id: 0, inner: [0.2, 0.2, 0.3, 0.3], outer: [0.1, 0.1, 0.4, 0.4], comment: left screw, tol: 3}\n"
    )
    ps = load_pattern_set(path)
    (slot,) = ps.variants["v"]
    assert dict(slot.extras) == {"comment": "left screw", "tol": 3}
    assert [w.split(": unknown")[0] for w in ps.warnings] == [
        f"{path}:2: variant 'v', slot 0, comment", f"{path}:2: variant 'v', slot 0, tol"
    ]
    save_pattern_set(ps, tmp_path / "again.yaml")
    again = yaml.safe_load((tmp_path / "again.yaml").read_text())
    assert again["v"][0]["comment"] == "left screw" and again["v"][0]["tol"] == 3


BROKEN = "v:\n  - {class_id: 0, inner: [0.3, 0.2, 0.2, 0.3], outer: [0.1, 0.1, 0.4, 0.4]}\n"


def test_each_file_of_a_folder_loads_on_its_own(tmp_path):
    (tmp_path / "good.yaml").write_text(PATTERN)
    (tmp_path / "old.yaml").write_text(old_pattern_yaml(EDGE_SLOTS))
    (tmp_path / "broken.yaml").write_text(BROKEN)
    library = read_pattern_library(tmp_path)
    assert list(library.sets) == ["good", "old"]
    assert list(library.failed) == [str(tmp_path / "broken.yaml")]
    assert library.failed[str(tmp_path / "broken.yaml")][0].startswith(f"{tmp_path / 'broken.yaml'}:2: variant 'v'")
    assert len(library.warnings) == 2  # the old file's clips
    assert library.summary() == "2 pattern set(s) loaded; not loaded: broken.yaml"
    assert choose_pattern_set(library, "good", tmp_path).name == "good"
    assert choose_pattern_set(library, "", tmp_path).name == "good"
    with pytest.raises(PatternFileError, match="x1 must be < x2"):
        choose_pattern_set(library, "broken", tmp_path)  # its own problems, located
    with pytest.raises(PatternError, match="no pattern set 'nope'; have: good, old"):
        choose_pattern_set(library, "nope", tmp_path)
    with pytest.raises(PatternFileError):  # the strict form is kept for tools that want it
        load_pattern_library(tmp_path)


def test_inspect_uses_the_set_that_loaded_and_names_the_broken_file(tmp_path, model, images):  # noqa: F811
    folder = tmp_path / "patterns"
    folder.mkdir()
    (folder / "good.yaml").write_text(PATTERN)
    (folder / "broken.yaml").write_text(BROKEN)
    proc = cli("inspect", "--model", str(model), "--patterns", str(folder), "--pattern-set", "good", str(images[0]))
    assert proc.returncode == 0, proc.stderr
    assert "OK" in proc.stdout
    assert f"warning: {folder / 'broken.yaml'}:2:" in proc.stderr
    proc = cli("inspect", "--model", str(model), "--patterns", str(folder), "--pattern-set", "broken", str(images[0]))
    assert proc.returncode == 2
    assert f"error: {folder / 'broken.yaml'}:2: variant 'v', slot 0, inner: x1 must be < x2" in proc.stderr


def test_the_station_runs_with_the_sets_that_loaded(setup, events):  # noqa: F811
    settings, tmp = setup
    patterns = tmp / "patterns"
    (patterns / "aaa_broken.yaml").write_text(BROKEN)  # sorts first: must not become the active set
    station = make_station(settings, events)
    with station:
        assert station.wait_ready(60)
        assert list(station.pattern_sets) == ["product_a", "product_b"]
        r = station.run_cycle()
        assert r.verdict.value == "OK", r.error
        assert any(str(patterns / "aaa_broken.yaml") in w for w in station.pattern_warnings)
        assert any("pattern file not loaded" in e and "aaa_broken.yaml:2" in e for e in events["errors"])
        assert ("patterns", "ready", "product_a (2 pattern set(s) loaded; not loaded: aaa_broken.yaml)") in events["states"]


def test_a_headless_run_inspects_with_the_sets_that_loaded(tmp_path, model):  # noqa: F811
    import cv2
    import numpy as np

    frames = tmp_path / "frames"
    frames.mkdir()
    cv2.imwrite(str(frames / "a.png"), np.full((480, 640, 3), 60, np.uint8))
    patterns = tmp_path / "patterns"
    patterns.mkdir()
    (patterns / "product_a.yaml").write_text(PATTERN)
    (patterns / "product_b.yaml").write_text(BROKEN)
    config = tmp_path / "station.toml"
    config.write_text(
        f"[camera]\nserial = \"0815-0000\"\nemulation_image_dir = '{frames}'\n[model]\npath = '{model}'\n"
        f"[patterns]\npath = '{patterns}'\nactive = \"product_a\"\n"
        f"[results]\nlog_dir = '{tmp_path / 'log'}'\narchive = \"none\"\n"
    )
    proc = cli("run", "--headless", "--cycles", "2", "--config", str(config))
    assert proc.returncode == 0, proc.stdout + proc.stderr
    lines = [ln for ln in proc.stdout.splitlines() if ln.startswith("#")]
    assert len(lines) == 2 and all(" OK " in ln for ln in lines)
    assert f"pattern file not loaded: {patterns / 'product_b.yaml'}:2:" in proc.stderr


@settings(max_examples=80, deadline=None)
@given(st.floats(-0.2, 1.2, allow_nan=False))
def test_the_clip_rule(v):
    # the outer box's left edge at v (everything else valid): loads clipped within the tolerance, else fails
    x1 = float(f"{min(v, 0.15):.6f}")  # as a file holds it
    text = f"v:\n  - {{class_id: 0, inner: [0.2, 0.2, 0.3, 0.3], outer: [{x1:.6f}, 0.1, 0.4, 0.4]}}\n"
    if x1 >= -CLIP_TOLERANCE:
        (slot,) = parse_pattern_set(text, "p").variants["v"]
        assert slot.outer[0] == max(0.0, x1)
    else:
        with pytest.raises(PatternFileError, match=r"outer: coordinates must lie in \[0, 1\]"):
            parse_pattern_set(text, "p")
