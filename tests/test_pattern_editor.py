"""The pattern editor on real widgets: edit, sync table <-> rectangles, validate, teach, try, save."""

from __future__ import annotations

from concurrent.futures import Future
from datetime import datetime
from types import SimpleNamespace

import numpy as np
import pytest

from inspection_station.core.cycle import CycleResult, Verdict
from inspection_station.core.detection import Detection
from inspection_station.core.frame import Frame
from inspection_station.core.patterns.draft import PatternDraft
from inspection_station.core.patterns.matching import match_pattern
from inspection_station.core.patterns.model import PatternSet, Slot
from inspection_station.core.patterns.yaml_io import load_pattern_set, save_pattern_set
from inspection_station.core.settings.audit import AuditLog
from inspection_station.gui.engineer.pattern_editor import PatternEditor
from inspection_station.gui.engineer.slot_table import COL_INNER, COL_OUTER

W, H = 400, 300
SLOT = Slot(0, (0.20, 0.20, 0.30, 0.30), (0.18, 0.18, 0.32, 0.32))
DETECTIONS = (
    Detection(0, "screw", 0.9, (80.0, 60.0, 120.0, 90.0)),
    Detection(1, "clip", 0.8, (240.0, 120.0, 280.0, 156.0)),
)


def _result(cycle_id: str, verdict=Verdict.OK, shift: float = 0.0) -> CycleResult:
    frame = Frame(np.zeros((H, W, 3), np.uint8), 1, 0.0, "test")
    dets = tuple(Detection(d.class_id, d.class_name, d.score, tuple(v + shift for v in d.box)) for d in DETECTIONS)
    return CycleResult(
        cycle_id, datetime.now().astimezone(), verdict, frame=frame, image_size=(W, H), detections=dets
    )


@pytest.fixture
def folder(tmp_path):
    d = tmp_path / "patterns"
    d.mkdir()
    save_pattern_set(PatternSet("alpha", {"v1": (SLOT,)}), d / "alpha.yaml")
    save_pattern_set(PatternSet("beta", {"v1": (SLOT, SLOT)}), d / "beta.yaml")
    return d


def _done(value) -> Future:
    future = Future()
    future.set_result(value)
    return future


@pytest.fixture
def station():
    """What the editor reads of a station (gui/station_protocol.FrameSource), with a live frame
    one pixel right of the last cycle's."""
    results = [_result(f"c{i}", shift=i) for i in range(4)] + [_result("bad", Verdict.NOK, shift=50)]
    live = _result("live", shift=1)
    return SimpleNamespace(
        last_result=results[0], recent_results=results, detector=None, recorder=None, active_pattern_set=None,
        detect_file=lambda path: _done((np.zeros((H, W, 3), np.uint8), list(DETECTIONS))),
        detect_live_frame=lambda: _done((live.frame.rgb, list(live.detections))),
    )


@pytest.fixture
def editor(qtbot, folder, station, tmp_path):
    ed = PatternEditor(folder, station, audit=AuditLog(tmp_path / "audit.jsonl"), class_names=["screw", "clip"])
    qtbot.addWidget(ed)
    ed.confirm = lambda question: True
    return ed


def _answers(editor, *texts):
    queue = list(texts)
    editor.ask_text = lambda *a, **k: queue.pop(0)


def test_library_lists_sets_and_opens_the_first(editor):
    assert editor.set_names() == ["alpha", "beta"]
    assert editor.current_set().name == "alpha"
    assert editor.variant == "v1"
    assert editor.table.rowCount() == 1
    assert len(editor.rois.pairs) == 1


def test_invalid_slot_cannot_be_saved_and_says_why(editor, folder):
    before = (folder / "alpha.yaml").read_text()
    editor.table.item(0, COL_INNER).setText("0.10, 0.20, 0.30, 0.30")  # sticks out of outer on the left
    assert editor.save() is False
    assert "inner" in editor.status.text() and "must lie inside outer" in editor.status.text()
    assert "slot 0" in editor.status.text()
    assert (folder / "alpha.yaml").read_text() == before
    # a cell that does not even parse is refused, located
    editor.table.item(0, COL_OUTER).setText("0.1, nonsense")
    assert editor.save() is False
    assert "slot 0, outer: expected 4 numbers" in editor.status.text()
    assert (folder / "alpha.yaml").read_text() == before


def test_table_edit_moves_the_rectangles_and_drag_updates_the_table(editor):
    editor.table.item(0, COL_OUTER).setText("0.1, 0.1, 0.5, 0.5")
    inner, outer = editor.rois.boxes(0)
    assert outer == pytest.approx((0.1, 0.1, 0.5, 0.5))
    assert editor.current_set().variants["v1"][0].outer == pytest.approx((0.1, 0.1, 0.5, 0.5))
    # drag the outer rectangle (as a mouse drag ends: finish=True)
    roi_inner, roi_outer = editor.rois.pairs[0]
    roi_outer.setPos((0.05 * W, 0.1 * H), finish=True)
    slot = editor.current_set().variants["v1"][0]
    assert slot.outer == pytest.approx((0.05, 0.1, 0.45, 0.5))
    assert editor.table.item(0, COL_OUTER).text() == "0.0500, 0.1000, 0.4500, 0.5000"
    # undo reverts the drag, then the table edit; redo brings the drag back
    editor.undo()
    assert editor.current_set().variants["v1"][0].outer == pytest.approx((0.1, 0.1, 0.5, 0.5))
    editor.undo()
    assert editor.current_set().variants["v1"][0] == SLOT
    assert editor.rois.boxes(0)[1] == pytest.approx(SLOT.outer)
    editor.redo()
    assert editor.table.item(0, COL_OUTER).text() == "0.1000, 0.1000, 0.5000, 0.5000"


def test_teach_from_frame_passes_on_that_frame_and_saves(editor, folder, station, tmp_path):
    _answers(editor, "taught")
    editor.teach_from_frame()
    ps = editor.current_set()
    assert "taught" in ps.variants and len(ps.variants["taught"]) == 2
    only_taught = PatternSet("t", {"taught": ps.variants["taught"]})
    assert match_pattern(only_taught, list(DETECTIONS), W, H).ok
    result = editor.try_pattern()
    assert result.ok and result.variant == "taught"
    assert editor.try_label.text().startswith("OK")
    assert editor.save()
    assert load_pattern_set(folder / "alpha.yaml").variants["taught"] == ps.variants["taught"]
    assert (folder / "alpha.yaml.bak").is_file()
    rows = AuditLog(tmp_path / "audit.jsonl").read()
    assert [(r.kind, r.target, r.action) for r in rows] == [("pattern", "alpha.yaml / taught", "create")]


def test_teach_from_history_envelopes_the_good_cycles(editor, station):
    editor.last_n.setValue(4)
    _answers(editor, "from_history")
    editor.teach_from_history()
    variant = editor.current_set().variants["from_history"]
    ps = PatternSet("t", {"v": variant})
    for r in station.recent_results:
        ok = match_pattern(ps, list(r.detections), W, H).ok
        assert ok == (r.verdict == Verdict.OK)  # the NOK cycle (shifted far) was not taught


def test_try_shows_nok_with_the_missing_slot(editor):
    editor.table.item(0, COL_OUTER).setText("0.6, 0.6, 0.9, 0.9")
    editor.table.item(0, COL_INNER).setText("0.7, 0.7, 0.8, 0.8")
    result = editor.try_pattern()
    assert not result.ok
    assert editor.try_label.text().startswith("NOK") and "missing slot 0" in editor.try_label.text()


def test_variants_create_rename_duplicate_delete_are_undoable(editor):
    _answers(editor, "second", "renamed")
    editor.new_variant()
    assert editor.current_set().variants.keys() == {"v1", "second"}
    editor.rename_variant()
    assert list(editor.current_set().variants) == ["v1", "renamed"]
    editor.duplicate_variant()
    assert list(editor.current_set().variants) == ["v1", "renamed", "renamed_copy"]
    editor.delete_variant()
    assert list(editor.current_set().variants) == ["v1", "renamed"]
    for _ in range(4):
        editor.undo()
    assert list(editor.current_set().variants) == ["v1"]
    assert not editor.draft.dirty


def test_set_files_create_rename_duplicate_delete_with_backup(editor, folder, tmp_path):
    _answers(editor, "gamma", "front", "delta", "epsilon")
    editor.new_set()  # no file and no placeholder variant until there is something to save
    assert not (folder / "gamma.yaml").exists() and editor.current_set().name == "gamma"
    assert editor.current_set().variants == {} and editor.set_names() == ["alpha", "beta", "gamma"]
    assert not editor.save() and "no variants" in editor.status.text()
    editor.new_variant()
    assert editor.save() and list(load_pattern_set(folder / "gamma.yaml").variants) == ["front"]
    editor.rename_set()
    assert not (folder / "gamma.yaml").exists() and (folder / "delta.yaml").is_file()
    editor.duplicate_set()
    assert (folder / "epsilon.yaml").read_text() == (folder / "delta.yaml").read_text()
    assert editor.set_names() == ["alpha", "beta", "delta", "epsilon"]
    editor.delete_set()  # the duplicate is selected
    assert not (folder / "epsilon.yaml").exists()
    assert list(folder.glob("epsilon.yaml.deleted-*.bak"))
    assert editor.set_names() == ["alpha", "beta", "delta"]
    actions = [(r.target, r.action) for r in AuditLog(tmp_path / "audit.jsonl").read()]
    assert actions == [("gamma.yaml / front", "create"), ("gamma.yaml", "rename"), ("epsilon.yaml", "duplicate"),
                       ("epsilon.yaml", "delete")]


def test_delete_refused_without_confirmation(editor, folder):
    editor.confirm = lambda question: False
    editor.delete_set()
    assert (folder / "alpha.yaml").is_file()


def test_draft_undo_model_without_qt():
    draft = PatternDraft(PatternSet("x", {"a": (SLOT,)}))
    draft.add_slot("a")
    draft.set_slot("a", 1, SLOT)
    draft.set_slot("a", 1, SLOT)  # no change: no undo step
    assert draft.undo_text() == "edit slot 1 of 'a'"
    assert draft.undo() and draft.undo()
    assert not draft.can_undo() and not draft.dirty
    assert draft.redo() == "add a slot to 'a'"
    assert draft.dirty


def test_open_image_detects_off_the_gui_thread_with_a_real_station(qtbot, folder, tmp_path):
    import threading

    import cv2

    from tests.test_station import make_station

    events = {"results": [], "states": [], "errors": [], "refused": []}
    station = make_station(_station_settings(tmp_path), events)
    station.start()
    try:
        assert station.wait_ready(60)
        editor = PatternEditor(folder, station, audit=AuditLog(tmp_path / "audit.jsonl"))
        qtbot.addWidget(editor)
        image = tmp_path / "part.png"
        cv2.imwrite(str(image), np.full((480, 640, 3), 70, np.uint8))
        gui_thread = threading.get_ident()
        seen = []
        real_detect = station.detector.detect
        station.detector.detect = lambda img: seen.append(threading.get_ident()) or real_detect(img)
        editor.open_image(image)
        qtbot.waitUntil(lambda: editor.image_label.text().startswith("part.png: 1 detections"), timeout=20000)
        assert editor.image.shape == (480, 640, 3)
        assert [d.class_id for d in editor.detections] == [1]
        assert seen and gui_thread not in seen
        editor.open_image(tmp_path / "missing.png")
        qtbot.waitUntil(lambda: editor.image_label.text() == "missing.png: not loaded", timeout=20000)
        assert "missing.png: no such image file" in editor.status.text()
    finally:
        station.stop()


def _station_settings(tmp_path):
    import cv2

    from inspection_station.core.settings.model import Settings
    from tests.onnx_models import constant_model, v8_raw_output

    frames = tmp_path / "frames"
    frames.mkdir()
    cv2.imwrite(str(frames / "a.png"), np.full((480, 640, 3), 50, np.uint8))
    model = constant_model(tmp_path / "m.onnx", v8_raw_output([(320, 320, 100, 50, 1, 0.9)], 3))
    s = Settings().replace("camera", serial="0815-0000", emulation_image_dir=str(frames))
    s = s.replace("model", path=str(model)).replace("patterns", path=str(tmp_path / "patterns"))
    return s.replace("results", log_dir=str(tmp_path / "log"), image_dir=str(tmp_path / "img"), archive="none")
