"""Teaching in the pattern editor: sources, names, the check on good frames before a save,
the live frame, detections drawn, the editor's first set and view (real widgets)."""

from __future__ import annotations

from concurrent.futures import Future
from datetime import datetime
from types import SimpleNamespace

import numpy as np
import pytest

from inspection_station.core.cycle import CycleResult, Verdict
from inspection_station.core.detection import Detection
from inspection_station.core.frame import Frame
from inspection_station.core.patterns.model import PatternSet, Slot
from inspection_station.core.patterns.yaml_io import load_pattern_set, save_pattern_set
from inspection_station.core.results.csv_log import LOG_COLUMNS, cycle_row, encode_row
from inspection_station.core.settings.audit import AuditLog
from inspection_station.gui.engineer.pattern_editor import PatternEditor

pytestmark = pytest.mark.qt

W, H = 640, 400
NAMES = ["screw", "capacitor"]
PARTS = (  # two capacitors side by side and a screw below: names by position
    Detection(1, "capacitor", 0.9, (100.0, 100.0, 160.0, 160.0)),
    Detection(1, "capacitor", 0.9, (300.0, 100.0, 360.0, 160.0)),
    Detection(0, "screw", 0.8, (200.0, 260.0, 230.0, 290.0)),
)
OLD = Slot(0, (0.2, 0.2, 0.3, 0.3), (0.18, 0.18, 0.32, 0.32))


def _moved(dx: float, dets=PARTS) -> tuple[Detection, ...]:
    return tuple(Detection(d.class_id, d.class_name, d.score, (d.box[0] + dx, d.box[1], d.box[2] + dx, d.box[3]))
                 for d in dets)


def _result(cycle_id: str, dx: float = 0.0, verdict=Verdict.OK, dets=PARTS) -> CycleResult:
    frame = Frame(np.full((H, W, 3), 40, np.uint8), 1, 0.0, "test")
    return CycleResult(cycle_id, datetime.now().astimezone(), verdict, frame=frame, image_size=(W, H),
                       detections=_moved(dx, dets))


def _done(value) -> Future:
    future = Future()
    future.set_result(value)
    return future


class Stub(SimpleNamespace):
    """The FrameSource a station gives the editor (gui/station_protocol.py)."""


@pytest.fixture
def station():
    results = [_result("c0"), _result("c1", 2.0), _result("c2", -2.0)]
    return Stub(last_result=results[-1], recent_results=results, detector=None, recorder=None,
                active_pattern_set=None,
                detect_file=lambda path: _done((np.zeros((H, W, 3), np.uint8), list(_moved(1.0)))),
                detect_live_frame=lambda: _done((np.full((H, W, 3), 90, np.uint8), list(_moved(3.0)))))


@pytest.fixture
def folder(tmp_path):
    d = tmp_path / "patterns"
    d.mkdir()
    save_pattern_set(PatternSet("alpha", {"v1": (OLD,)}), d / "alpha.yaml")
    save_pattern_set(PatternSet("board", {"v1": (OLD,)}), d / "board.yaml")
    return d


def _editor(qtbot, folder, station, tmp_path, **kw) -> PatternEditor:
    ed = PatternEditor(folder, station, audit=AuditLog(tmp_path / "audit.jsonl"), class_names=NAMES, **kw)
    qtbot.addWidget(ed)
    ed.ask_text = lambda *a, **k: "taught"
    ed.confirm = lambda question: True
    return ed


def test_teach_from_one_frame_names_the_slots_and_says_one_frame_is_thin(qtbot, folder, station, tmp_path):
    editor = _editor(qtbot, folder, station, tmp_path)
    editor.teach_from_frame()
    slots = editor.current_set().variants["taught"]
    assert [s.name for s in slots] == ["capacitor_1", "capacitor_2", "screw_1"]  # top row left to right
    assert slots[0].outer[0] < slots[1].outer[0]
    status = editor.status.text()
    assert "ONE frame" in status and "10 px" in status  # 1.6 % of 640 px
    # checked at once on the frame used and the recent good cycles (+-2 px): all pass
    assert "passes 3 of 3 good frames" in editor.check_label.text()


def test_the_check_shows_failing_slots_and_a_save_needs_a_yes(qtbot, folder, station, tmp_path):
    # a good cycle where the right capacitor sat 30 px further right than on the taught frame
    far = _result("far", 0.0, dets=(PARTS[0], _moved(30.0, PARTS[1:2])[0], PARTS[2]))
    station.recent_results = [*station.recent_results, far]
    editor = _editor(qtbot, folder, station, tmp_path)
    editor.teach_from_frame()
    check, _frames, _stale = editor.checks["taught"]
    assert (check.passed, check.frames) == (3, 4) and check.slot_failures() == {"capacitor_2": 1}
    assert "failing slots: capacitor_2 (1)" in editor.check_label.text()
    questions = []
    editor.confirm = lambda question: questions.append(question) or False
    before = (folder / "alpha.yaml").read_text()
    assert not editor.save()
    assert "does not pass all the good frames" in questions[0] and "capacitor_2 (1)" in questions[0]
    assert (folder / "alpha.yaml").read_text() == before
    editor.confirm = lambda question: True
    assert editor.save()
    assert [s.name for s in load_pattern_set(folder / "alpha.yaml").variants["taught"]][1] == "capacitor_2"


def test_several_frames_added_one_by_one_follow_their_spread(qtbot, folder, station, tmp_path):
    editor = _editor(qtbot, folder, station, tmp_path)
    for dx in (0.0, 3.0, -3.0):
        editor._show_image(np.zeros((H, W, 3), np.uint8), f"frame {dx:+.0f}", _moved(dx))
        editor.add_frame()
    editor.add_frame()  # the same frame twice is refused
    assert len(editor.collected) == 3 and "already added" in editor.status.text()
    editor.teach_from_added()
    cap = editor.current_set().variants["taught"][0]
    # x1 seen from 97 to 103 px: the window holds all within the margin (10.24 px) of every frame
    assert cap.outer[0] * W == pytest.approx(103 - 10.24, abs=0.01)
    assert cap.inner[0] * W == pytest.approx(97 + 10.24, abs=0.01)
    assert "ONE frame" not in editor.status.text()
    editor.clear_added()
    assert editor.collected == [] and not editor.teach_panel.added_button.isEnabled()


def test_teach_from_history_and_from_a_folder(qtbot, folder, station, tmp_path):
    editor = _editor(qtbot, folder, station, tmp_path)
    editor.last_n.setValue(3)
    editor.teach_from_history()
    assert "taught from the last 3 cycles" in editor.status.text()
    assert "passes 3 of 3" in editor.check_label.text()  # the cycles used are not counted twice

    pictures = tmp_path / "good"
    pictures.mkdir()
    for name in ("a.png", "b.png"):
        (pictures / name).write_bytes(b"")  # detect_file (the stub's model) reads them
    editor.ask_folder = lambda title: pictures
    editor.ask_text = lambda *a, **k: "from_folder"
    editor.choose_teach_folder()
    qtbot.waitUntil(lambda: "from_folder" in editor.current_set().variants)
    assert "taught from 2 images of a folder" in editor.status.text()
    editor.choose_check_folder()
    qtbot.waitUntil(lambda: "passes 5 of 5" in editor.check_label.text() or "of 7" in editor.check_label.text())


def test_an_edit_after_teaching_makes_the_check_stale_and_save_checks_again(qtbot, folder, station, tmp_path):
    editor = _editor(qtbot, folder, station, tmp_path)
    editor.teach_from_frame()
    editor.select_slot(1, "outer")
    editor.nudge(-12, 0, resize=True)  # the right capacitor's outer box 12 px narrower: every frame fails
    assert "Edited since" in editor.check_label.text()
    questions = []
    editor.confirm = lambda question: questions.append(question) or False
    assert not editor.save()
    assert "capacitor_2 (3)" in questions[0]


def test_current_frame_is_the_live_frame_and_its_detections_are_drawn(qtbot, folder, station, tmp_path):
    editor = _editor(qtbot, folder, station, tmp_path)
    assert editor.image_source == "cycle c2"  # the first picture: the last cycle, no grab
    editor.use_current_frame()
    qtbot.waitUntil(lambda: editor.image_source == "the current frame")
    assert int(editor.image[0, 0, 0]) == 90
    drawn = editor.detections_overlay.drawn_boxes()
    assert [round(r.left()) for r in drawn] == [103, 303, 203]  # the live frame's boxes, in image pixels
    assert editor.detections_overlay.drawn_labels()[0].startswith("capacitor 0.90")

    def failing():
        future = Future()
        future.set_exception(RuntimeError("camera gone"))
        return future

    station.detect_live_frame = failing
    editor.use_current_frame()
    qtbot.waitUntil(lambda: "no live frame" in editor.image_label.text())
    assert editor.image_source == "cycle c2" and "camera gone" in editor.image_label.text()


def test_opened_image_detections_drawn_and_kept_when_the_window_reopens(qtbot, folder, station, tmp_path):
    editor = _editor(qtbot, folder, station, tmp_path)
    editor.open_image(tmp_path / "part.png")
    qtbot.waitUntil(lambda: editor.image_source == "part.png")
    assert len(editor.detections_overlay.drawn_boxes()) == 3
    editor.refresh_frame()  # reopening the window keeps a file the engineer chose
    assert editor.image_source == "part.png"


def test_editor_opens_on_the_active_set_and_a_variant_switch_fits_and_clears_try(qtbot, folder, station, tmp_path):
    station.active_pattern_set = PatternSet("board", {})
    editor = _editor(qtbot, folder, station, tmp_path)
    editor.resize(1200, 800)
    editor.show()
    assert editor.current_set().name == "board"
    editor.new_variant()
    editor.select_variant("v1")
    editor.canvas.zoom(4.0)
    zoomed = editor.canvas.screen_px_per_image_px()
    editor.try_pattern()
    assert editor.try_label.text()
    editor.select_variant("taught")
    assert editor.canvas.screen_px_per_image_px() < zoomed / 2  # fitted again
    assert editor.try_label.text() == ""
    editor.try_pattern()
    editor._show_image(np.zeros((H, W, 3), np.uint8), "another", ())
    assert editor.try_label.text() == ""  # another image: the old Try result is gone


def test_check_includes_todays_logged_good_cycles(qtbot, folder, station, tmp_path):
    log = tmp_path / "station_2026-01-01.csv"
    rows = [cycle_row(_result(f"log{i}", 1.0), "station") for i in range(4)]
    rows.append(cycle_row(_result("lognok", 80.0, Verdict.NOK), "station"))
    log.write_bytes(encode_row(LOG_COLUMNS) + b"".join(encode_row(r) for r in rows))
    station.recorder = SimpleNamespace(log=SimpleNamespace(current_path=log))
    editor = _editor(qtbot, folder, station, tmp_path)
    editor.teach_from_frame()
    check, frames, _ = editor.checks["taught"]
    assert sum(name.startswith("log ") for name, _ in frames) == 4  # the NOK row is not a good frame
    assert check.ok and check.frames == 7
