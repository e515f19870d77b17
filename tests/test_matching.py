"""The verdict rule (DESIGN.md "Patterns"): tables of cases, properties, and the old greedy rule as an oracle."""

from __future__ import annotations

import itertools
import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from inspection_station.cli import main
from inspection_station.core.detection import Detection
from inspection_station.core.errors import PatternError
from inspection_station.core.patterns.matching import match_pattern
from inspection_station.core.patterns.model import PatternSet, Slot
from inspection_station.core.patterns.yaml_io import save_pattern_set

W, H = 200, 100  # not square: x is divided by width, y by height
SLOT = Slot(0, inner=(0.2, 0.2, 0.3, 0.3), outer=(0.1, 0.1, 0.4, 0.4))


def det(cls: int, box, score: float = 0.9) -> Detection:
    """A detection given in normalised coordinates, stored in pixels of a W x H image."""
    x1, y1, x2, y2 = box
    return Detection(cls, str(cls), score, (x1 * W, y1 * H, x2 * W, y2 * H))


def pset(*variants: list[Slot], min_scores=None) -> PatternSet:
    return PatternSet("p", {f"v{i}": tuple(v) for i, v in enumerate(variants)}, None, min_scores or {})


# --- the rule, case by case -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("box", "fits"),
    [
        ((0.2, 0.2, 0.3, 0.3), True),  # exactly the inner box: edges inclusive
        ((0.1, 0.1, 0.4, 0.4), True),  # exactly the outer box: edges inclusive
        ((0.15, 0.12, 0.35, 0.38), True),  # in between
        ((0.099, 0.2, 0.3, 0.3), False),  # x1 beyond outer
        ((0.201, 0.2, 0.3, 0.3), False),  # x1 inside inner
        ((0.2, 0.09, 0.3, 0.3), False),  # y1 beyond outer
        ((0.2, 0.21, 0.3, 0.3), False),  # y1 inside inner
        ((0.2, 0.2, 0.299, 0.3), False),  # x2 inside inner
        ((0.2, 0.2, 0.401, 0.3), False),  # x2 beyond outer
        ((0.2, 0.2, 0.3, 0.29), False),  # y2 inside inner
        ((0.2, 0.2, 0.3, 0.41), False),  # y2 beyond outer
        ((0.05, 0.05, 0.45, 0.45), False),  # too big everywhere
        ((0.22, 0.22, 0.28, 0.28), False),  # too small: inside inner
    ],
)
def test_edges_lie_between_inner_and_outer(box, fits):
    result = match_pattern(pset([SLOT]), [det(0, box)], W, H)
    assert result.ok is fits
    assert result.filled == int(fits)
    assert result.slots[0].matched is fits
    assert result.slots[0].detection == (0 if fits else None)


def test_class_must_agree():
    result = match_pattern(pset([SLOT]), [det(1, SLOT.inner)], W, H)
    assert not result.ok and result.unmatched == (0,)


@pytest.mark.parametrize(
    ("score", "slot_min", "class_min", "fits"),
    [
        (0.5, None, None, True),
        (0.5, 0.5, None, True),  # equal to the minimum passes
        (0.49, 0.5, None, False),
        (0.49, None, {0: 0.5}, False),  # class minimum from _settings
        (0.6, None, {0: 0.5}, True),
        (0.49, 0.4, {0: 0.5}, True),  # the slot's own minimum wins over its class's
        (0.49, None, {1: 0.5}, True),  # another class's minimum does not apply
    ],
)
def test_min_score(score, slot_min, class_min, fits):
    slot = Slot(0, SLOT.inner, SLOT.outer, min_score=slot_min)
    result = match_pattern(pset([slot], min_scores=class_min), [det(0, SLOT.inner, score)], W, H)
    assert result.ok is fits


def test_a_one_slot_pattern_can_pass():
    result = match_pattern(pset([SLOT]), [det(0, (0.15, 0.15, 0.35, 0.35))], W, H)
    assert (result.ok, result.filled, result.expected, result.variant) == (True, 1, 1, "v0")


def test_no_detections_is_nok():
    result = match_pattern(pset([SLOT]), [], W, H)
    assert (result.ok, result.filled, result.expected, result.unmatched) == (False, 0, 1, ())


def test_empty_pattern_set_is_an_error_never_ok():
    with pytest.raises(PatternError, match="no variants"):
        match_pattern(PatternSet("empty", {}), [det(0, SLOT.inner)], W, H)


def test_best_variant_has_most_filled_slots_and_ties_go_to_file_order():
    other = Slot(1, (0.6, 0.6, 0.7, 0.7), (0.5, 0.5, 0.8, 0.8))
    missing = Slot(2, (0.6, 0.2, 0.7, 0.3), (0.5, 0.1, 0.8, 0.4))
    dets = [det(0, SLOT.inner), det(1, other.inner)]
    # v0 fills 1 of 2, v1 fills 2 of 2: the later but better variant wins
    result = match_pattern(pset([SLOT, missing], [SLOT, other]), dets, W, H)
    assert (result.variant, result.ok, result.per_variant) == ("v1", True, {"v0": 1, "v1": 2})
    # both fill 1 of 2: the first in file order wins
    tie = match_pattern(pset([SLOT, missing], [other, missing]), dets, W, H)
    assert (tie.variant, tie.ok, tie.per_variant) == ("v0", False, {"v0": 1, "v1": 1})


def test_one_detection_fills_at_most_one_slot():
    twin = Slot(0, SLOT.inner, SLOT.outer)
    result = match_pattern(pset([SLOT, twin]), [det(0, SLOT.inner)], W, H)
    assert (result.filled, result.ok) == (1, False)
    result = match_pattern(pset([SLOT, twin]), [det(0, SLOT.inner), det(0, SLOT.outer)], W, H)
    assert (result.filled, result.ok) == (2, True)
    assert {s.detection for s in result.slots} == {0, 1}


def test_maximum_matching_beats_greedy_first_fit():
    # slot A takes either box; slot B only the wide one. Greedy gives A the wide box (first) and B nothing.
    a = Slot(0, (0.2, 0.2, 0.3, 0.3), (0.1, 0.1, 0.5, 0.4))
    b = Slot(0, (0.2, 0.2, 0.45, 0.3), (0.1, 0.1, 0.5, 0.4))
    wide, narrow = det(0, (0.15, 0.15, 0.47, 0.35)), det(0, (0.15, 0.15, 0.35, 0.35))
    assert greedy_filled([a, b], [wide, narrow], None) == 1
    result = match_pattern(pset([a, b]), [wide, narrow], W, H)
    assert result.ok and [s.detection for s in result.slots] == [1, 0]


def test_equal_matchings_prefer_the_more_confident_detection():
    result = match_pattern(pset([SLOT]), [det(0, SLOT.inner, 0.4), det(0, SLOT.inner, 0.8)], W, H)
    assert result.slots[0].detection == 1 and result.unmatched == (0,)


def test_result_reports_slots_unmatched_and_json():
    named = Slot(0, SLOT.inner, SLOT.outer, name="screw")
    other = Slot(1, (0.6, 0.6, 0.7, 0.7), (0.5, 0.5, 0.8, 0.8))
    dets = [det(3, (0.0, 0.0, 0.1, 0.1)), det(0, SLOT.inner)]
    result = match_pattern(pset([named, other]), dets, W, H)
    assert result.unmatched == (0,)
    assert result.slots[0].name == "screw" and result.slots[0].inner == SLOT.inner
    assert result.to_json_slots() == [
        {"class_id": 0, "matched": True, "detection": 1},
        {"class_id": 1, "matched": False, "detection": None},
    ]
    json.dumps(result.to_json_slots())  # plain JSON types


# --- properties ---------------------------------------------------------------------------------


def fits_scalar(slot: Slot, d: Detection, need: float | None) -> bool:
    """The rule written out edge by edge: the reference the vectorised matcher must agree with."""
    x1, y1, x2, y2 = d.box[0] / W, d.box[1] / H, d.box[2] / W, d.box[3] / H
    i, o = slot.inner, slot.outer
    return (
        d.class_id == slot.class_id
        and (need is None or d.score >= need)
        and o[0] <= x1 <= i[0] and o[1] <= y1 <= i[1]
        and i[2] <= x2 <= o[2] and i[3] <= y2 <= o[3]
    )


def greedy_filled(slots, dets, need) -> int:
    """The old system's rule: each slot in order takes the first unused detection that fits."""
    used: set[int] = set()
    for s in slots:
        for j, d in enumerate(dets):
            if j not in used and fits_scalar(s, d, need):
                used.add(j)
                break
    return len(used)


def brute_force_filled(slots, dets, need) -> int:
    """Maximum matching by trying every injective assignment (small cases only)."""
    best = 0
    options = [[j for j, d in enumerate(dets) if fits_scalar(s, d, need)] + [None] for s in slots]
    for choice in itertools.product(*options):
        taken = [c for c in choice if c is not None]
        if len(taken) == len(set(taken)):
            best = max(best, len(taken))
    return best


coord = st.floats(0.0, 1.0, allow_nan=False, width=32)


@st.composite
def slots_st(draw):
    """A valid slot: sorted quadruples per axis give outer.x1 <= inner.x1 < inner.x2 <= outer.x2."""
    xs = sorted(draw(st.lists(coord, min_size=4, max_size=4, unique=True)))
    ys = sorted(draw(st.lists(coord, min_size=4, max_size=4, unique=True)))
    cls = draw(st.integers(0, 2))
    return Slot(cls, (xs[1], ys[1], xs[2], ys[2]), (xs[0], ys[0], xs[3], ys[3]))


@st.composite
def detection_for(draw, slots):
    """Half the time a box built to fit a chosen slot (so matches happen), else any box."""
    if slots and draw(st.booleans()):
        s = draw(st.sampled_from(slots))
        x1 = draw(st.floats(s.outer[0], s.inner[0]))
        y1 = draw(st.floats(s.outer[1], s.inner[1]))
        x2 = draw(st.floats(s.inner[2], s.outer[2]))
        y2 = draw(st.floats(s.inner[3], s.outer[3]))
        cls = s.class_id if draw(st.integers(0, 4)) else draw(st.integers(0, 2))
        # back to normalised exactly: store pixels that divide back to the drawn value
        box = (x1, y1, x2, y2)
    else:
        xs = sorted(draw(st.lists(coord, min_size=2, max_size=2)))
        ys = sorted(draw(st.lists(coord, min_size=2, max_size=2)))
        box, cls = (xs[0], ys[0], xs[1], ys[1]), draw(st.integers(0, 2))
    return Detection(cls, str(cls), draw(st.floats(0.0, 1.0)), (box[0] * W, box[1] * H, box[2] * W, box[3] * H))


@st.composite
def cases(draw, max_slots=6, max_dets=8):
    slots = draw(st.lists(slots_st(), min_size=1, max_size=max_slots))
    dets = draw(st.lists(detection_for(slots), max_size=max_dets))
    return slots, dets


@settings(max_examples=200, deadline=None)
@given(cases(max_slots=4, max_dets=5))
def test_matching_is_maximum_and_uses_each_detection_once(case):
    slots, dets = case
    result = match_pattern(pset(slots), dets, W, H)
    used = [s.detection for s in result.slots if s.matched]
    assert len(used) == len(set(used)) == result.filled
    for s in result.slots:
        if s.matched:
            assert fits_scalar(slots[s.index], dets[s.detection], None)
    assert sorted(used + list(result.unmatched)) == list(range(len(dets)))
    assert result.filled == brute_force_filled(slots, dets, None)
    assert result.ok == (result.filled == len(slots))


@settings(max_examples=200, deadline=None)
@given(cases(), st.randoms(use_true_random=False))
def test_order_of_detections_and_slots_does_not_change_the_verdict(case, rnd):
    slots, dets = case
    base = match_pattern(pset(slots, slots[::-1]), dets, W, H)
    shuffled_dets = list(dets)
    rnd.shuffle(shuffled_dets)
    shuffled_slots = list(slots)
    rnd.shuffle(shuffled_slots)
    other = match_pattern(pset(shuffled_slots, slots), shuffled_dets, W, H)
    assert (other.ok, other.filled) == (base.ok, base.filled)
    assert list(other.per_variant.values()) == list(base.per_variant.values())


@settings(max_examples=200, deadline=None)
@given(cases(), st.data())
def test_adding_detections_never_lowers_the_filled_count(case, data):
    slots, dets = case
    more = data.draw(st.lists(detection_for(slots), min_size=1, max_size=4))
    before = match_pattern(pset(slots), dets, W, H)
    after = match_pattern(pset(slots), dets + more, W, H)
    assert after.filled >= before.filled
    assert after.ok or not before.ok


@settings(max_examples=200, deadline=None)
@given(cases(max_slots=8, max_dets=10))
def test_agrees_with_the_old_greedy_rule_where_greedy_cannot_double_use_a_box(case):
    slots, dets = case
    # keep only detections that fit at most one slot: there greedy first-fit is already optimal
    dets = [d for d in dets if sum(fits_scalar(s, d, None) for s in slots) <= 1]
    result = match_pattern(pset(slots), dets, W, H)
    assert result.filled == greedy_filled(slots, dets, None)


# --- pattern evaluate (the old overall_coordinate_evaluation) --------------------------------


def write_label(path, boxes):
    lines = [f"{c} {(x1 + x2) / 2} {(y1 + y2) / 2} {x2 - x1} {y2 - y1}" for c, (x1, y1, x2, y2) in boxes]
    path.write_text("\n".join(lines) + "\n")


def test_evaluate_counts_verdicts_and_scores_them_against_a_truth_csv(tmp_path, capsys):
    other = Slot(1, (0.6, 0.6, 0.7, 0.7), (0.5, 0.5, 0.8, 0.8))
    pattern = tmp_path / "product.yaml"
    save_pattern_set(PatternSet("product", {"a": (SLOT, other)}), pattern)
    labels = tmp_path / "labels"
    labels.mkdir()
    write_label(labels / "good1.txt", [(0, (0.15, 0.15, 0.35, 0.35)), (1, (0.55, 0.55, 0.75, 0.75))])
    write_label(labels / "good2.txt", [(1, (0.6, 0.6, 0.7, 0.7)), (0, (0.2, 0.2, 0.3, 0.3))])
    write_label(labels / "missing.txt", [(0, (0.15, 0.15, 0.35, 0.35))])
    write_label(labels / "moved.txt", [(0, (0.15, 0.15, 0.35, 0.35)), (1, (0.2, 0.55, 0.3, 0.75))])
    (labels / "classes.txt").write_text("screw\nnut\n")  # not a label file
    truth = tmp_path / "truth.csv"
    # good2 truly NOK (a false accept), moved truly OK (a false reject), no truth for missing
    truth.write_text("file,verdict\ngood1.jpg,OK\ngood2.jpg,NOK\nmoved.png,OK\n")

    assert main(["pattern", "evaluate", "--patterns", str(pattern), "--labels", str(labels),
                 "--truth", str(truth), "--json"]) == 1  # 1: good2 is a false accept
    out = json.loads(capsys.readouterr().out)
    verdicts = {r["file"]: r["verdict"] for r in out["images"]}
    assert verdicts == {"good1": "OK", "good2": "OK", "missing": "NOK", "moved": "NOK"}
    s = out["summary"]
    assert (s["images"], s["ok"], s["nok"], s["with_truth"], s["correct"]) == (4, 2, 2, 3, 1)
    assert (s["false_accepts"], s["false_rejects"]) == (1, 1)
    assert s["accuracy"] == pytest.approx(1 / 3)

    assert main(["pattern", "evaluate", "--patterns", str(pattern), "--labels", str(labels)]) == 0
    table = capsys.readouterr().out
    assert "OK 2, NOK 2" in table and "missing" in table and "accuracy" not in table


def test_evaluate_reports_a_bad_truth_file_located(tmp_path, capsys):
    pattern = tmp_path / "p.yaml"
    save_pattern_set(PatternSet("p", {"a": (SLOT,)}), pattern)
    labels = tmp_path / "labels"
    labels.mkdir()
    truth = tmp_path / "truth.csv"
    truth.write_text("a.jpg,OK\nb.jpg,maybe\n")
    assert main(["pattern", "evaluate", "--patterns", str(pattern), "--labels", str(labels),
                 "--truth", str(truth)]) == 2
    assert f"{truth}:2: verdict must be OK or NOK" in capsys.readouterr().err


def test_the_match_says_its_verdict_summary_and_missing_slots_once():
    from inspection_station.core.cycle import Verdict
    from inspection_station.core.detection import Detection
    from inspection_station.core.patterns.matching import match_pattern
    from inspection_station.core.patterns.model import PatternSet, Slot

    ps = PatternSet(
        "p",
        {"v": (Slot(0, (0.2, 0.2, 0.3, 0.3), (0.1, 0.1, 0.4, 0.4), name="screw"), Slot(1, (0.6, 0.6, 0.7, 0.7), (0.5, 0.5, 0.8, 0.8)))},
    )
    screw = Detection(0, "screw", 0.9, (20.0, 20.0, 30.0, 30.0))
    clip = Detection(1, "clip", 0.9, (60.0, 60.0, 70.0, 70.0))
    nok = match_pattern(ps, [screw], 100, 100)
    assert (nok.verdict, nok.summary(), nok.missing()) == (Verdict.NOK, "v 1/2", ["slot 1 (class 1)"])
    ok = match_pattern(ps, [screw, clip], 100, 100)
    assert (ok.verdict, ok.summary(), ok.missing()) == (Verdict.OK, "v 2/2", [])
    none = match_pattern(ps, [], 100, 100)
    assert none.missing() == ["screw", "slot 1 (class 1)"]
    # with the model's class names an unnamed slot is named by its class (the banner's reason)
    assert none.missing(class_names=["screw", "clip"]) == ["screw", "slot 1 (clip)"]
    assert nok.nok_reason([screw], ["screw", "clip"]) == "missing: slot 1 (clip)"
