"""The old system's pattern tools, as station commands: transform, check --boxes, evaluate's
images and exit code, derive's per-class margins, class filter and drawing."""

from __future__ import annotations

import json
import random

import cv2
import numpy as np
import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from inspection_station.cli import main
from inspection_station.core.patterns.geometry_ops import (
    transform_label_text,
    transform_pattern_set,
)
from inspection_station.core.patterns.model import PatternSet, Slot
from inspection_station.core.patterns.teaching import NormBox, parse_yolo_labels
from inspection_station.core.patterns.yaml_io import load_pattern_set, pattern_set_to_yaml
from tests.old_system import check_boxes, old_decision, old_pattern_yaml, rotate_180_label_text
from tests.test_cli import cli, images, model  # noqa: F401  (fixtures)
from tests.test_station import PATTERN
from tests.test_teach import jittered_frames

PAT = """\
front:
  - {class_id: 0, inner: [0.2, 0.1, 0.3, 0.25], outer: [0.18, 0.05, 0.33, 0.3], name: screw, tag: left}
  - {class_id: 1, inner: [0.6, 0.4, 0.7, 0.52], outer: [0.57, 0.37, 0.73, 0.55]}
"""


def write_labels(folder, frames):
    folder.mkdir(parents=True, exist_ok=True)
    for i, frame in enumerate(frames):
        lines = [f"{b.class_id} {(b.box[0] + b.box[2]) / 2:.6f} {(b.box[1] + b.box[3]) / 2:.6f} "
                 f"{b.box[2] - b.box[0]:.6f} {b.box[3] - b.box[1]:.6f}" for b in frame]
        (folder / f"img{i:03d}.txt").write_text("\n".join(lines) + "\n")


# --- transform -------------------------------------------------------------------------------

LABEL = "0 0.3 0.25 0.1 0.2\n3 0.875 0.5 0.25 0.125 0.93\n"


@pytest.mark.parametrize(("op", "expected"), [
    ("rotate90", "0 0.75 0.3 0.2 0.1\n3 0.5 0.875 0.125 0.25 0.93\n"),
    ("rotate180", "0 0.7 0.75 0.1 0.2\n3 0.125 0.5 0.25 0.125 0.93\n"),
    ("rotate270", "0 0.25 0.7 0.2 0.1\n3 0.5 0.125 0.125 0.25 0.93\n"),
    ("flip_h", "0 0.7 0.25 0.1 0.2\n3 0.125 0.5 0.25 0.125 0.93\n"),
    ("flip_v", "0 0.3 0.75 0.1 0.2\n3 0.875 0.5 0.25 0.125 0.93\n"),
])
def test_label_transforms_are_exact_to_the_printed_digits(op, expected):
    assert transform_label_text(LABEL, op) == expected  # the extra score column stays as written


def test_rotate180_agrees_with_the_old_rotate_bbox_tool():
    text = "0 0.3 0.25 0.1 0.2\n2 0.125 0.5 0.25 0.125\n"
    old = parse_yolo_labels(rotate_180_label_text(text))
    new = parse_yolo_labels(transform_label_text(text, "rotate180"))
    assert [b.class_id for b in old] == [b.class_id for b in new]
    assert np.allclose([b.box for b in old], [b.box for b in new], atol=1e-3)  # the old tool printed 3 digits


digits = st.integers(0, 10_000).map(lambda v: f"{v / 10_000:.4f}")


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 9), digits, digits, digits, digits), min_size=1, max_size=6))
def test_label_round_trips_are_the_identity(rows):
    text = "".join(f"{c} {cx} {cy} {w} {h}\n" for c, cx, cy, w, h in rows)
    twice = transform_label_text(transform_label_text(text, "rotate180"), "rotate180")
    four = text
    for _ in range(4):
        four = transform_label_text(four, "rotate90")
    assert twice == text and four == text
    assert transform_label_text(transform_label_text(text, "rotate90"), "rotate270") == text
    assert transform_label_text(transform_label_text(text, "flip_h"), "flip_h") == text


def test_pattern_round_trips_are_the_identity_and_boxes_move_as_the_image(tmp_path):
    path = tmp_path / "p.yaml"
    path.write_text(PAT)
    ps = load_pattern_set(path)
    four = ps
    for _ in range(4):
        four = transform_pattern_set(four, "rotate90")
    assert pattern_set_to_yaml(four) == pattern_set_to_yaml(ps)
    twice = transform_pattern_set(transform_pattern_set(ps, "rotate180"), "rotate180")
    assert pattern_set_to_yaml(twice) == pattern_set_to_yaml(ps)
    r90 = transform_pattern_set(ps, "rotate90").variants["front"][0]
    assert r90.inner == (0.75, 0.2, 0.9, 0.3) and r90.outer == (0.7, 0.18, 0.95, 0.33)
    assert (r90.name, dict(r90.extras)) == ("screw", {"tag": "left"})


def test_a_rotated_image_passes_the_rotated_pattern(tmp_path):
    # the geometry agrees with the camera: boxes found on np.rot90(clockwise) frames fill the rotated slots
    ps = PatternSet("p", {"v": [Slot(0, (0.2, 0.1, 0.3, 0.25), (0.18, 0.05, 0.33, 0.3))]})
    img = np.zeros((100, 200), np.uint8)
    img[8:27, 38:62] = 255  # the part: x 0.19..0.31, y 0.08..0.27 -> fills the slot

    def part_box(a):
        ys, xs = np.nonzero(a)
        h, w = a.shape
        return (xs.min() / w, ys.min() / h, (xs.max() + 1) / w, (ys.max() + 1) / h)

    (slot,) = ps.variants["v"]
    box = part_box(img)
    assert slot.outer[0] <= box[0] <= slot.inner[0] and slot.inner[2] <= box[2] <= slot.outer[2]
    box = part_box(np.rot90(img, -1))  # clockwise
    (slot,) = transform_pattern_set(ps, "rotate90").variants["v"]
    assert slot.outer[0] <= box[0] <= slot.inner[0] and slot.inner[2] <= box[2] <= slot.outer[2]
    assert slot.outer[1] <= box[1] <= slot.inner[1] and slot.inner[3] <= box[3] <= slot.outer[3]


def test_cli_transform_pattern_file_and_label_folder(tmp_path, capsys):
    src = tmp_path / "p.yaml"
    src.write_text(PAT)
    out = tmp_path / "p_rot.yaml"
    assert main(["pattern", "transform", "--rotate", "180", str(src), "--out", str(out)]) == 0
    back = tmp_path / "p_back.yaml"
    assert main(["pattern", "transform", "--rotate", "180", str(out), "--out", str(back)]) == 0
    assert yaml.safe_load(back.read_text()) == yaml.safe_load(src.read_text())

    labels = tmp_path / "labels"
    labels.mkdir()
    (labels / "a.txt").write_text(LABEL)
    (labels / "classes.txt").write_text("screw\nnut\n")
    assert main(["pattern", "transform", "--flip", "v", str(labels), "--out", str(tmp_path / "flipped")]) == 0
    assert (tmp_path / "flipped" / "a.txt").read_text() == "0 0.3 0.75 0.1 0.2\n3 0.875 0.5 0.25 0.125 0.93\n"
    assert (tmp_path / "flipped" / "classes.txt").read_text() == "screw\nnut\n"
    capsys.readouterr()

    assert main(["pattern", "transform", "--flip", "h", str(labels), "--out", str(labels)]) == 2
    assert "the output folder is the input folder" in capsys.readouterr().err
    (labels / "b.txt").write_text("0 0.5 0.5 0.1\n")
    assert main(["pattern", "transform", "--flip", "h", str(labels), "--out", str(tmp_path / "f2")]) == 2
    assert f"{labels / 'b.txt'}:1: expected 'class cx cy w h'" in capsys.readouterr().err
    assert not (tmp_path / "f2").exists()  # nothing written when one file is bad


# --- check --boxes ---------------------------------------------------------------------------


def test_check_boxes_from_detect_json_exit_codes(tmp_path, model, images):  # noqa: F811
    boxes = tmp_path / "f.json"
    proc = cli("detect", "--model", str(model), "--json", str(images[0]))
    boxes.write_text(proc.stdout)
    ok = tmp_path / "ok.yaml"
    ok.write_text(PATTERN)
    proc = cli("pattern", "check", "--boxes", str(boxes), "--patterns", str(ok), "--json")
    assert proc.returncode == 0, proc.stderr
    record = json.loads(proc.stdout)
    assert (record["verdict"], record["pattern_set"], record["matched"], record["expected"]) == ("OK", "ok", 1, 1)
    assert record["image"] == str(images[0])
    nok = tmp_path / "nok.yaml"
    nok.write_text(PATTERN + "  - {class_id: 0, inner: [0.1, 0.1, 0.2, 0.2], outer: [0.05, 0.05, 0.25, 0.25]}\n")
    proc = cli("pattern", "check", "--boxes", str(boxes), "--patterns", str(nok))
    assert proc.returncode == 1 and "NOK" in proc.stdout
    boxes.write_text('{"width": 640, "height": 480, "detections": [{"class_id": 1, "box": [1, 2, 3]}]}')
    proc = cli("pattern", "check", "--boxes", str(boxes), "--patterns", str(ok))
    assert proc.returncode == 2
    assert f"error: {boxes}: detections[0].box: expected 4 numbers" in proc.stderr


@pytest.mark.parametrize(("text", "expected"), [
    ("{", ":1: not valid JSON"),
    ('{"width": 0, "height": 480, "detections": []}', "width: expected the image's size"),
    ('{"width": 640, "height": 480}', "detections: expected a list"),
    ('{"width": 640, "height": 480, "detections": [{"class_id": -1, "box": [0, 0, 1, 1]}]}', "detections[0].class_id"),
    ('{"width": 64, "height": 48, "detections": []}\n[1]\n', ":2: expected an object"),
])
def test_check_boxes_bad_input_is_located(tmp_path, capsys, text, expected):
    boxes = tmp_path / "b.json"
    boxes.write_text(text)
    pat = tmp_path / "p.yaml"
    pat.write_text(PATTERN)
    assert main(["pattern", "check", "--boxes", str(boxes), "--patterns", str(pat)]) == 2
    err = capsys.readouterr().err
    assert f"error: {boxes}" in err and expected in err, err


def test_check_boxes_agrees_with_the_old_rule(tmp_path, capsys):
    # Random layouts where the old greedy rule cannot go wrong (slots far apart, one box each):
    # there the station's verdict must be the old one. Patterns of 2+ slots (the old rule never
    # passed a single slot).
    rng = random.Random(7)
    pattern = {"v": [
        {"class_id": c, "inner": [x + 0.03, y + 0.03, x + 0.12, y + 0.12], "outer": [x, y, x + 0.15, y + 0.15]}
        for c, (x, y) in enumerate([(0.05, 0.05), (0.55, 0.05), (0.05, 0.55), (0.55, 0.55)])
    ]}
    pat = tmp_path / "p.yaml"
    pat.write_text(yaml.safe_dump(pattern))
    lines, old = [], []
    for _ in range(60):
        dets = []
        for slot in pattern["v"]:
            if rng.random() < 0.08:
                continue  # a part missing
            o = slot["outer"]
            box = [o[0] + rng.uniform(-0.002, 0.032), o[1] + rng.uniform(-0.002, 0.032),
                   o[2] - rng.uniform(-0.002, 0.032), o[3] - rng.uniform(-0.002, 0.032)]
            cls = slot["class_id"] if rng.random() > 0.05 else (slot["class_id"] + 1) % 4
            dets.append((cls, box))
        _, lg = check_boxes([b for _, b in dets], [c for c, _ in dets], pattern)
        old.append("OK" if old_decision(lg) else "NOK")
        lines.append(json.dumps({"width": 1000, "height": 800, "detections": [
            {"class_id": c, "score": 0.9, "box": [b[0] * 1000, b[1] * 800, b[2] * 1000, b[3] * 800]} for c, b in dets
        ]}))
    boxes = tmp_path / "many.json"
    boxes.write_text("\n".join(lines) + "\n")
    code = main(["pattern", "check", "--boxes", str(boxes), "--patterns", str(pat), "--json"])
    new = [json.loads(line)["verdict"] for line in capsys.readouterr().out.splitlines()]
    assert new == old
    assert {"OK", "NOK"} <= set(new)  # both verdicts really occurred
    assert code == 1


# --- evaluate: images of disagreements, exit 1 on a false accept --------------------------------


def test_evaluate_saves_disagreements_and_exits_1_on_false_accepts(tmp_path, capsys):
    labels = tmp_path / "labels"
    frames = jittered_frames(4, jitter=0.005)
    write_labels(labels, frames)
    pat = tmp_path / "p.yaml"
    assert main(["pattern", "derive", "--labels", str(labels), "--out", str(pat)]) == 0
    imgs = tmp_path / "images"
    imgs.mkdir()
    for i in range(4):
        cv2.imwrite(str(imgs / f"img{i:03d}.png"), np.full((480, 640, 3), 60, np.uint8))
    truth = tmp_path / "truth.csv"
    truth.write_text("file,verdict\nimg000,OK\nimg001,OK\nimg002,OK\nimg003,OK\n")
    capsys.readouterr()
    assert main(["pattern", "evaluate", "--patterns", str(pat), "--labels", str(labels), "--truth", str(truth)]) == 0

    truth.write_text("img000,NOK\nimg001,OK\nimg002,OK\nimg003,OK\n")  # img000 is truly bad: accepted
    shots = tmp_path / "wrong"
    capsys.readouterr()
    code = main(["pattern", "evaluate", "--patterns", str(pat), "--labels", str(labels), "--images", str(imgs),
                 "--truth", str(truth), "--save-images", str(shots), "--json"])
    report = json.loads(capsys.readouterr().out)
    assert code == 1 and report["summary"]["false_accepts"] == 1 and report["summary"]["images_saved"] == 1
    (saved,) = shots.iterdir()
    assert saved.name == "img000_OK-vs-NOK.jpg"
    drawn = cv2.imread(str(saved))
    assert drawn.shape == (480, 640, 3) and (drawn != 60).any()  # the frame with boxes drawn on it

    # a false reject alone is no false accept: exit 0, its image drawn on a blank frame (no --images)
    (labels / "img001.txt").write_text("")
    truth.write_text("img000,OK\nimg001,OK\nimg002,OK\nimg003,OK\n")
    shots2 = tmp_path / "wrong2"
    assert main(["pattern", "evaluate", "--patterns", str(pat), "--labels", str(labels),
                 "--truth", str(truth), "--save-images", str(shots2)]) == 0
    assert [p.name for p in shots2.iterdir()] == ["img001_NOK-vs-OK.jpg"]


# --- derive: per-class margins, class filter, drawing --------------------------------------------


def test_derive_per_class_margin_class_filter_and_png(tmp_path, capsys):
    labels = tmp_path / "labels"
    write_labels(labels, jittered_frames(5, jitter=0.005))
    imgs = tmp_path / "images"
    imgs.mkdir()
    for i in range(5):
        cv2.imwrite(str(imgs / f"img{i:03d}.png"), np.full((480, 640, 3), 30, np.uint8))
    plain, wide = tmp_path / "plain.yaml", tmp_path / "wide.yaml"
    assert main(["pattern", "derive", "--labels", str(labels), "--images", str(imgs), "--tolerance", "0.05",
                 "--out", str(plain)]) == 0  # the same images: the same frame aspect for the margin
    png = tmp_path / "taught.png"
    assert main(["pattern", "derive", "--labels", str(labels), "--images", str(imgs), "--tolerance", "0.05",
                 "--margin", "1=0.5", "--classes", "0,1", "--draw", str(png), "--out", str(wide), "--json"]) == 0
    result = json.loads(capsys.readouterr().out.splitlines()[-1])
    assert result["frames_passing"] == 5 and result["drawn"] == str(png)
    p_slots = {s.class_id: s for s in load_pattern_set(plain).variants["variant_a"]}
    w_slots = load_pattern_set(wide).variants["variant_a"]
    assert sorted(s.class_id for s in w_slots) == [0, 0, 1]  # class 2 filtered out
    nut_plain, nut_wide = p_slots[1], next(s for s in w_slots if s.class_id == 1)
    assert nut_wide.outer[0] < nut_plain.outer[0] - 0.03  # a 0.5 margin, not 0.05
    screws_plain = sorted(s.outer for s in load_pattern_set(plain).variants["variant_a"] if s.class_id == 0)
    assert sorted(s.outer for s in w_slots if s.class_id == 0) == screws_plain  # other classes keep --tolerance
    drawn = cv2.imread(str(png))
    assert drawn.shape == (480, 640, 3) and (drawn != 30).any()


@pytest.mark.parametrize(("args", "expected"), [
    (["--margin", "1"], "expected CLASS=FACTOR"),
    (["--margin", "a=0.2"], "expected CLASS=FACTOR"),
    (["--classes", "0,x"], "--classes '0,x'"),
    (["--classes", "7"], "of classes 7"),
])
def test_derive_option_errors(tmp_path, capsys, args, expected):
    labels = tmp_path / "labels"
    write_labels(labels, jittered_frames(2, jitter=0.005))
    assert main(["pattern", "derive", "--labels", str(labels), "--out", str(tmp_path / "p.yaml"), *args]) == 2
    assert expected in capsys.readouterr().err


def test_progress_bars_stay_out_of_pipes(tmp_path, model, images):  # noqa: F811
    proc = cli("pattern", "derive", "--model", str(model), "--images", str(images[0].parent),
               "--out", str(tmp_path / "p.yaml"))
    assert proc.returncode == 0, proc.stderr
    assert "it/s" not in proc.stderr and "file/s" not in proc.stderr and "%|" not in proc.stderr


def test_old_tool_pattern_rotated_by_old_rule_matches_transform(tmp_path):
    # a pattern the old tool wrote, rotated by 180: slots land where the old rotate_bbox put the labels
    text = old_pattern_yaml({"v": [(0, [0.3, 0.25, 0.1, 0.2], [0.3, 0.25, 0.14, 0.24])]})
    path = tmp_path / "old.yaml"
    path.write_text(text)
    (slot,) = transform_pattern_set(load_pattern_set(path), "rotate180").variants["v"]
    rotated_label = parse_yolo_labels(rotate_180_label_text("0 0.3 0.25 0.1 0.2"))[0]
    assert np.allclose(slot.inner, rotated_label.box, atol=1e-3)
    assert isinstance(rotated_label, NormBox)


def test_progress_bars_show_on_a_terminal(tmp_path):
    import fcntl
    import os
    import struct
    import subprocess
    import sys
    import termios

    labels = tmp_path / "labels"
    labels.mkdir()
    for i in range(30):
        (labels / f"f{i}.txt").write_text(LABEL)
    master, slave = os.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 30, 100, 0, 0))  # a sized terminal
    proc = subprocess.run(
        [sys.executable, "-m", "inspection_station", "pattern", "transform", "--rotate", "90", str(labels),
         "--out", str(tmp_path / "out")],
        stdout=subprocess.PIPE, stderr=slave, timeout=120, text=True,
    )
    os.close(slave)
    seen = b""
    while True:
        try:
            chunk = os.read(master, 65536)
        except OSError:
            break
        if not chunk:
            break
        seen += chunk
    os.close(master)
    assert proc.returncode == 0
    assert b"reading:" in seen and b"/30 [" in seen and b"file/s" in seen  # the bar, on the terminal
    assert "file/s" not in proc.stdout  # stdout (a pipe) stays clean
