"""Teaching patterns from good frames: the taught frames must pass what was derived from them."""

from __future__ import annotations

import json

import cv2
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from inspection_station.cli import main
from inspection_station.core.detection import Detection
from inspection_station.core.errors import PatternError
from inspection_station.core.patterns.matching import match_pattern
from inspection_station.core.patterns.model import PatternSet, validate_pattern_set
from inspection_station.core.patterns.teaching import (
    NormBox,
    check_variant,
    derive_variant,
    parse_yolo_labels,
    slot_from_boxes,
    teach_and_check,
    to_detections,
    variant_from_detections,
)
from inspection_station.core.patterns.yaml_io import load_pattern_set, save_pattern_set
from tests.onnx_models import constant_model

W, H = 640, 480
# a product: two screws (class 0) side by side, a nut (1), a label (2) - two of the same class
LAYOUT = [
    NormBox(0, (0.10, 0.10, 0.20, 0.22)),
    NormBox(0, (0.30, 0.10, 0.40, 0.22)),
    NormBox(1, (0.55, 0.50, 0.70, 0.70)),
    NormBox(2, (0.10, 0.60, 0.45, 0.90)),
]


def jittered_frames(n: int, jitter: float, seed: int = 1) -> list[list[NormBox]]:
    """n good frames: each part shifted and its edges wobbled a little, boxes in random order."""
    rng = np.random.default_rng(seed)
    frames = []
    for _ in range(n):
        frame = []
        for b in LAYOUT:
            shift = rng.uniform(-jitter, jitter, 2)
            wobble = rng.uniform(-jitter / 2, jitter / 2, 4)
            box = np.array(b.box) + np.r_[shift, shift] + wobble
            frame.append(NormBox(b.class_id, tuple(float(v) for v in box)))
        rng.shuffle(frame)
        frames.append(frame)
    return frames


def passes(slots, boxes) -> bool:
    return match_pattern(PatternSet("t", {"v": slots}), to_detections(boxes), 1.0, 1.0).ok


def test_yolo_labels_become_corner_boxes():
    boxes = parse_yolo_labels("0 0.5 0.5 0.2 0.4\n\n3 0.1 0.1 0.4 0.4 0.93\n")
    assert boxes[0].class_id == 0 and boxes[0].box == pytest.approx((0.4, 0.3, 0.6, 0.7))
    assert boxes[1].class_id == 3 and boxes[1].box == pytest.approx((0.0, 0.0, 0.3, 0.3))  # clipped


@pytest.mark.parametrize("line", ["0 0.5 0.5 0.2", "a 0.5 0.5 0.2 0.2", "1.5 0.5 0.5 0.2 0.2", "0 0.5 0.5 -1 0.2"])
def test_bad_label_lines_are_located(line):
    with pytest.raises(PatternError, match=r"lbl\.txt:2: expected 'class cx cy w h'"):
        parse_yolo_labels("0 0.5 0.5 0.1 0.1\n" + line, "lbl.txt")


def test_variant_from_one_frame_shrinks_inner_and_grows_outer():
    dets = [Detection(0, "screw", 0.9, (64.0, 48.0, 128.0, 96.0))]  # 0.1..0.2 x 0.1..0.2
    (slot,) = variant_from_detections(dets, W, H, tolerance=0.1, margin=0.0)  # the old size rule alone
    assert slot.class_id == 0
    assert slot.inner == pytest.approx((0.11, 0.11, 0.19, 0.19))
    assert slot.outer == pytest.approx((0.09, 0.09, 0.21, 0.21))
    result = match_pattern(PatternSet("t", {"v": (slot,)}), dets, W, H)
    assert result.ok
    nudged = [Detection(0, "screw", 0.9, (64.0 + 5, 48.0, 128.0 + 5, 96.0))]  # 5 px < 10 % of 64 px
    assert match_pattern(PatternSet("t", {"v": (slot,)}), nudged, W, H).ok
    moved = [Detection(0, "screw", 0.9, (64.0 + 8, 48.0, 128.0 + 8, 96.0))]  # 8 px > 6.4 px
    assert not match_pattern(PatternSet("t", {"v": (slot,)}), moved, W, H).ok


def test_the_inner_box_never_collapses():
    (slot,) = variant_from_detections([Detection(0, "a", 1.0, (10.0, 10.0, 20.0, 20.0))], 100, 100, tolerance=5.0,
                                      margin=0.0)
    assert slot.inner[0] < slot.inner[2] and slot.inner[1] < slot.inner[3]
    assert slot.outer == (0.0, 0.0, 0.7, 0.7)  # grown 5 x 0.1, clipped at the image edge
    assert validate_pattern_set(PatternSet("t", {"v": (slot,)})) == []


def test_derived_variant_passes_every_taught_frame_and_rejects_a_missing_part():
    frames = jittered_frames(20, jitter=0.01)
    taught = derive_variant(frames, tolerance=0.05)
    assert len(taught.slots) == 4 and taught.samples == (20, 20, 20, 20) and taught.notes == ()
    assert sorted(s.class_id for s in taught.slots) == [0, 0, 1, 2]
    assert validate_pattern_set(PatternSet("t", {"v": taught.slots})) == []
    assert all(passes(taught.slots, f) for f in frames)
    assert not passes(taught.slots, frames[0][1:])  # a part missing
    wrong_place = [NormBox(b.class_id, (b.box[0] + 0.1, b.box[1], b.box[2] + 0.1, b.box[3])) for b in frames[0]]
    assert not passes(taught.slots, wrong_place)


def test_slots_envelope_the_taught_boxes():
    boxes = [(0.10, 0.10, 0.20, 0.20), (0.12, 0.11, 0.21, 0.19)]
    slot = slot_from_boxes(0, boxes, tolerance=0.0)
    assert slot.inner == pytest.approx((0.12, 0.11, 0.20, 0.19))  # what every box covers
    assert slot.outer == pytest.approx((0.10, 0.10, 0.21, 0.20))  # the envelope


def test_a_frame_with_a_missing_or_extra_box_is_noted():
    frames = jittered_frames(5, jitter=0.005)
    frames[2] = frames[2][:-1]
    frames[3] = frames[3] + [NormBox(1, (0.8, 0.1, 0.9, 0.2))]
    taught = derive_variant(frames, tolerance=0.05)
    assert len(taught.slots) == 4  # the layout of the usual frame
    assert [n.split(":")[0] for n in taught.notes] == ["frame 2", "frame 3"]
    assert taught.odd_frames == (2, 3)
    assert passes(taught.slots, frames[0])


def test_a_part_moving_more_than_its_size_cannot_be_taught():
    frames = [[NormBox(0, (0.1, 0.1, 0.2, 0.2))], [NormBox(0, (0.25, 0.1, 0.35, 0.2))]]
    with pytest.raises(PatternError, match="class 0: the part moves more than its own size"):
        derive_variant(frames)


def test_teaching_needs_boxes():
    with pytest.raises(PatternError, match="at least one frame"):
        derive_variant([[], []])


@st.composite
def layouts_and_frames(draw):
    """Random non-overlapping parts on a grid, several frames jittered by < 1/4 of a part's size."""
    cells = draw(st.lists(st.tuples(st.integers(0, 3), st.integers(0, 3)), min_size=1, max_size=6, unique=True))
    parts = [(draw(st.integers(0, 2)), 0.05 + cx * 0.25, 0.05 + cy * 0.25, draw(st.floats(0.06, 0.15)),
              draw(st.floats(0.06, 0.15))) for cx, cy in cells]
    n = draw(st.integers(1, 6))
    jitter = st.floats(-0.012, 0.012)
    frames = []
    for _ in range(n):
        frame = [NormBox(c, (x + draw(jitter), y + draw(jitter), x + w + draw(jitter), y + h + draw(jitter)))
                 for c, x, y, w, h in parts]
        frames.append(draw(st.permutations(frame)))
    return frames, draw(st.floats(0.0, 0.5))


@settings(max_examples=100, deadline=None)
@given(layouts_and_frames())
def test_every_taught_frame_passes_the_derived_variant(case):
    frames, tolerance = case
    taught = derive_variant(frames, tolerance)
    assert validate_pattern_set(PatternSet("t", {"v": taught.slots})) == []
    assert all(passes(taught.slots, f) for f in frames)


def test_round_trip_teach_save_load_match(tmp_path):
    frames = jittered_frames(8, jitter=0.01, seed=7)
    taught = derive_variant(frames, tolerance=0.05)
    path = save_pattern_set(PatternSet("product", {"good": taught.slots}), tmp_path / "product.yaml")
    loaded = load_pattern_set(path)
    assert loaded.variants["good"] == taught.slots
    for frame in frames:
        dets = to_detections(frame, W, H)  # in pixels, as a detector gives them
        assert match_pattern(loaded, dets, W, H).ok


# --- pattern derive (the old determine_desired_coordinates) ----------------------------------


def write_labels(folder, frames):
    folder.mkdir(exist_ok=True)
    for i, frame in enumerate(frames):
        lines = [f"{b.class_id} {(b.box[0] + b.box[2]) / 2} {(b.box[1] + b.box[3]) / 2} "
                 f"{b.box[2] - b.box[0]} {b.box[3] - b.box[1]}" for b in frame]
        (folder / f"img{i:03d}.txt").write_text("\n".join(lines) + "\n")


def test_cli_derive_writes_a_pattern_the_frames_pass(tmp_path, capsys):
    labels = tmp_path / "labels"
    write_labels(labels, jittered_frames(6, jitter=0.01))
    out = tmp_path / "product.yaml"
    assert main(["pattern", "derive", "--labels", str(labels), "--tolerance", "0.05",
                 "--variant", "front", "--out", str(out)]) == 0
    text = capsys.readouterr().out
    assert "4 slots" in text and "taught frames passing: 6/6" in text
    assert list(load_pattern_set(out).variants) == ["front"]

    # a second variant goes into the same file, the first one kept
    labels2 = tmp_path / "labels2"
    write_labels(labels2, [[NormBox(1, (0.4, 0.4, 0.6, 0.6))]])
    assert main(["pattern", "derive", "--labels", str(labels2), "--variant", "back",
                 "--out", str(out), "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert (report["variant"], report["frames"], report["frames_passing"]) == ("back", 1, 1)
    assert list(load_pattern_set(out).variants) == ["front", "back"]
    assert (tmp_path / "product.yaml.bak").exists()

    assert main(["pattern", "evaluate", "--patterns", str(out), "--labels", str(labels), "--json"]) == 0
    summary = json.loads(capsys.readouterr().out)["summary"]
    assert (summary["ok"], summary["nok"]) == (6, 0)


def test_cli_derive_limits_labels_to_the_given_images(tmp_path, capsys):
    labels = tmp_path / "labels"
    frames = jittered_frames(3, jitter=0.01)
    write_labels(labels, frames + [[NormBox(0, (0.8, 0.8, 0.9, 0.9))]])  # img003 is not a good frame
    images = tmp_path / "images"
    images.mkdir()
    for i in range(3):
        (images / f"img{i:03d}.png").write_bytes(b"")  # only the names matter here
    out = tmp_path / "p.yaml"
    assert main(["pattern", "derive", "--labels", str(labels), "--images", str(images), "--out", str(out)]) == 0
    assert "from 3 frames" in capsys.readouterr().out


def test_cli_derive_needs_a_source(tmp_path, capsys):
    assert main(["pattern", "derive", "--out", str(tmp_path / "p.yaml")]) == 2
    assert "give --labels DIR" in capsys.readouterr().err


def test_cli_derive_and_evaluate_from_a_models_predictions(tmp_path, capsys):
    # a real onnxruntime session of a model that always sees the same two parts (640 x 640 input)
    out = np.array([[0, 64, 64, 128, 160, 0, 0.9], [0, 320, 320, 480, 400, 1, 0.8]], dtype=np.float32)
    model = constant_model(tmp_path / "m.onnx", out)
    images = tmp_path / "images"
    images.mkdir()
    for name in ("a", "b"):
        cv2.imwrite(str(images / f"{name}.png"), np.full((640, 640, 3), 80, np.uint8))
    pattern = tmp_path / "taught.yaml"
    assert main(["pattern", "derive", "--model", str(model), "--images", str(images), "--out", str(pattern)]) == 0
    assert "taught frames passing: 2/2" in capsys.readouterr().out
    ps = load_pattern_set(pattern)
    assert [s.class_id for s in ps.variants["variant_a"]] == [0, 1]

    # the old overall_coordinate_evaluation: the model's verdict against the labels' verdict
    labels = tmp_path / "labels"
    write_labels(labels, [[NormBox(0, (0.1, 0.1, 0.2, 0.25)), NormBox(1, (0.5, 0.5, 0.75, 0.625))], []])
    (labels / "img000.txt").rename(labels / "a.txt")
    (labels / "img001.txt").rename(labels / "b.txt")  # b's labels: nothing there, so truly NOK
    assert main(["pattern", "evaluate", "--patterns", str(pattern), "--model", str(model),
                 "--images", str(images), "--labels", str(labels), "--json"]) == 1  # 1: a false accept
    report = json.loads(capsys.readouterr().out)
    assert [(r["file"], r["verdict"], r["truth"]) for r in report["images"]] == [("a", "OK", "OK"), ("b", "OK", "NOK")]
    assert (report["summary"]["correct"], report["summary"]["false_accepts"]) == (1, 1)


# --- the teaching routine shared by the editor and the CLI: margin, names, the check ----------


def test_one_frame_gets_the_margin_and_several_frames_their_spread_within_it():
    (one,) = [[NormBox(0, (0.40, 0.40, 0.50, 0.50))]]
    taught = derive_variant([one], margin=0.02, aspect=2.0)
    (slot,) = taught.slots
    assert slot.outer == pytest.approx((0.38, 0.36, 0.52, 0.54))  # y: the same pixels on a 2:1 frame
    assert slot.inner == pytest.approx((0.42, 0.44, 0.48, 0.46))
    assert taught.thin and "ONE frame" in taught.warnings[0]
    frames = [[NormBox(0, (0.40 + dx, 0.40, 0.50 + dx, 0.50))] for dx in (0.0, 0.01)]
    (spread,) = derive_variant(frames, margin=0.02).slots
    assert spread.outer[0] == pytest.approx(0.41 - 0.02) and spread.inner[0] == pytest.approx(0.40 + 0.02)
    wide = [[NormBox(0, (0.40 + dx, 0.40, 0.50 + dx, 0.50))] for dx in (0.0, 0.05)]
    (seen,) = derive_variant(wide, margin=0.02).slots  # spread beyond the margin: a quarter margin more
    assert seen.outer[0] == pytest.approx(0.40 - 0.005) and seen.inner[0] == pytest.approx(0.45 + 0.005)


def test_slots_are_named_after_their_class_by_position_and_a_small_part_is_said():
    frame = [NormBox(3, (0.6, 0.1, 0.7, 0.2)), NormBox(3, (0.1, 0.1, 0.2, 0.2)), NormBox(0, (0.3, 0.5, 0.33, 0.53))]
    taught = derive_variant([frame, frame], margin=0.02, class_names=["screw", "", "", "capacitor"])
    assert [s.name for s in taught.slots] == ["capacitor_1", "capacitor_2", "screw_1"]
    assert taught.slots[0].outer[0] < taught.slots[1].outer[0]  # left one first
    assert [s.name for s in derive_variant([frame], class_names={}).slots] == ["class_3_1", "class_3_2", "class_0_1"]
    assert [w.split(":")[0] for w in derive_variant([frame, frame], margin=0.02).warnings] == ["slot 2"]  # 0.03 wide
    assert all(s.name is None for s in derive_variant([frame]).slots)  # no class names asked: unnamed


def test_check_counts_passing_frames_and_the_slots_that_failed():
    frame = [NormBox(0, (0.1, 0.1, 0.2, 0.2), 0.9), NormBox(1, (0.5, 0.5, 0.6, 0.6), 0.9)]
    taught, check = teach_and_check([("used", frame)], others=[("moved", [frame[0], NormBox(1, (0.7, 0.5, 0.8, 0.6))]),
                                                                ("low", [NormBox(0, frame[0].box, 0.3), frame[1]])],
                                    margin=0.01, class_names=["screw", "nut"], min_scores={0: 0.5})
    assert (check.passed, check.frames) == (1, 3) and not check.ok
    assert check.slot_failures() == {"nut_1": 1, "screw_1": 1}
    assert check.summary() == "passes 1 of 3 good frames (33 %); failing slots: nut_1 (1), screw_1 (1)"
    assert check_variant(taught.slots, []).summary() == "no good frames to check on"


def test_the_logs_good_cycles_become_check_frames_overrules_included(tmp_path):
    import cv2

    from inspection_station.core.patterns.good_frames import logged_good_frames
    from inspection_station.core.results.csv_log import LOG_COLUMNS, encode_row, read_log

    image = tmp_path / "c2_OK.png"
    cv2.imwrite(str(image), np.zeros((200, 400, 3), np.uint8))  # this row's size: from the image header
    dets = json.dumps([[0, 0.9, 40.0, 20.0, 80.0, 60.0]])
    rows = [
        {"cycle_id": "c1", "verdict": "OK", "detections": dets},
        {"cycle_id": "c2", "verdict": "OK", "detections": dets, "image_path": str(image)},
        {"cycle_id": "c3", "verdict": "OK", "detections": dets},  # overruled to NOK below
        {"cycle_id": "c4", "verdict": "NOK", "detections": dets},  # overruled to OK below
        {"cycle_id": "c5", "verdict": "OK", "detections": "[[0, nan, 1, 2, 3]]"},  # broken cell: skipped
        {"cycle_id": "c3-overrule-1", "verdict": "NOK", "overrules": "c3"},
        {"cycle_id": "c4-overrule-1", "verdict": "OK", "overrules": "c4"},
    ]
    log = tmp_path / "log.csv"
    log.write_bytes(encode_row(LOG_COLUMNS) + b"".join(encode_row(r) for r in rows))
    frames = dict(logged_good_frames(read_log(log), (800, 400), exclude=["c1"]))
    assert list(frames) == ["log c2", "log c4"]
    assert frames["log c2"][0].box == pytest.approx((0.1, 0.1, 0.2, 0.3))  # 400 x 200 from the header
    assert frames["log c4"][0].box == pytest.approx((0.05, 0.05, 0.1, 0.15))  # the default 800 x 400
    assert frames["log c2"][0].score == pytest.approx(0.9)


def test_cli_derive_names_slots_from_classes_txt_and_checks_more_frames(tmp_path, capsys):
    labels = tmp_path / "labels"
    write_labels(labels, jittered_frames(3, jitter=0.003))
    (labels / "classes.txt").write_text("screw\nnut\nlabel\n")
    more = tmp_path / "more"
    write_labels(more, jittered_frames(4, jitter=0.003, seed=9) + [[LAYOUT[0]]])  # the last lacks parts
    out = tmp_path / "p.yaml"
    assert main(["pattern", "derive", "--labels", str(labels), "--check", str(more), "--out", str(out),
                 "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert sorted(s["name"] for s in report["slots"]) == ["label_1", "nut_1", "screw_1", "screw_2"]
    assert report["check"]["frames"] == 3 + 5 and report["check"]["passed"] == 7
    assert report["check"]["failed_frames"] == ["more/img004"]
    assert any("no image size known" in w for w in report["warnings"])
    assert [s.name for s in load_pattern_set(out).variants["variant_a"]] == [s["name"] for s in report["slots"]]
