"""The operator window's parts, fed with CycleResults built from real values
(real Detections, a real PatternSet matched by the real matcher, real Statistics)."""

from __future__ import annotations

import sys
import threading
from datetime import datetime

import numpy as np
import pytest
from PySide6.QtCore import QThread
from PySide6.QtGui import QColor

from inspection_station.core.cycle import CycleResult, StageTimes, Verdict
from inspection_station.core.detection import Detection
from inspection_station.core.frame import Frame
from inspection_station.core.patterns.matching import match_pattern
from inspection_station.core.patterns.model import PatternSet, Slot
from inspection_station.core.results.statistics import Statistics
from inspection_station.gui import theme
from inspection_station.gui.error_route import ErrorRoute, install_exception_hooks
from inspection_station.gui.operator.history_panel import PREVIEW_WIDTH, HistoryPanel
from inspection_station.gui.operator.image_view import ImageView
from inspection_station.gui.operator.main_window import pedal_key_sequence
from inspection_station.gui.operator.station_bridge import StationBridge
from inspection_station.gui.operator.statistics_panel import StatisticsPanel
from inspection_station.gui.operator.verdict_banner import VerdictBanner

W, H = 1000, 800
SCREW = Detection(0, "screw", 0.91, (200.0, 160.0, 300.0, 240.0))  # normalised 0.2..0.3 x 0.2..0.3
CLIP = Detection(1, "clip", 0.66, (600.0, 320.0, 700.0, 416.0))
PATTERN = PatternSet(
    "product_a",
    {
        "variant_a": (
            Slot(0, inner=(0.21, 0.21, 0.29, 0.29), outer=(0.18, 0.18, 0.32, 0.32), name="screw_left"),
            Slot(1, inner=(0.61, 0.41, 0.69, 0.51), outer=(0.58, 0.38, 0.72, 0.54), name="clip"),
            Slot(0, inner=(0.81, 0.81, 0.84, 0.84), outer=(0.78, 0.78, 0.87, 0.87), name="screw_right"),
        )
    },
)


def frame(value: int = 80, w: int = W, h: int = H, frame_id: int = 1) -> Frame:
    return Frame(np.full((h, w, 3), value, np.uint8), frame_id, 0.0, "test")


class NewestSlot:
    """The contract of `Station.take_live_frame`: the newest frame put since the last take."""

    def __init__(self) -> None:
        self.frame: Frame | None = None
        self.takes = 0

    def put(self, f: Frame) -> None:
        self.frame = f

    def take(self) -> Frame | None:
        self.takes += 1
        f, self.frame = self.frame, None
        return f


def cycle(detections=(SCREW, CLIP), *, verdict=None, error="", ms=123.0, cycle_id="c1", img=None) -> CycleResult:
    f = img or frame()
    match = None if error else match_pattern(PATTERN, detections, f.width, f.height)
    if verdict is None:
        verdict = Verdict.ERROR if error else (Verdict.OK if match.ok else Verdict.NOK)
    return CycleResult(
        cycle_id=cycle_id,
        timestamp=datetime(2025, 3, 4, 10, 11, 12).astimezone(),
        verdict=verdict,
        pattern_set=PATTERN.name,
        frame=f,
        detections=tuple(detections),
        match=match,
        error=error,
        times=StageTimes(total_ms=ms),
    )


# --- verdict banner --------------------------------------------------------------------------


def test_banner_shows_verdict_variant_filled_expected_and_time(qtbot):
    banner = VerdictBanner()
    qtbot.addWidget(banner)
    assert banner.state == "READY" and banner.title.text() == "READY"

    banner.show_result(cycle())  # 2 of 3 slots filled
    assert banner.state == "NOK" and banner.title.text() == "NOK"
    assert "variant_a 2/3" in banner.detail.text() and "123 ms" in banner.detail.text()
    assert banner.reason.text() == "missing: screw_right"
    assert theme.VERDICT_COLORS["NOK"][0] in banner.styleSheet()

    banner.show_result(cycle(error="camera disconnected: device removed"))
    assert banner.state == "ERROR" and "device removed" in banner.reason.text()
    assert theme.VERDICT_COLORS["ERROR"][0] in banner.styleSheet()


def test_banner_flash_shows_a_message_then_restores_the_verdicts_reason(qtbot):
    banner = VerdictBanner()
    qtbot.addWidget(banner)
    banner.show_result(cycle())
    banner.flash("REFUSED: a cycle is still running")
    assert banner.is_flashing() and banner.reason.text().startswith("REFUSED")
    assert banner.state == "NOK"  # the verdict it refers to stays
    qtbot.waitUntil(lambda: not banner.is_flashing(), timeout=5000)
    assert banner.reason.text() == "missing: screw_right"


def test_banner_busy_shows_an_indeterminate_progress(qtbot):
    banner = VerdictBanner()
    qtbot.addWidget(banner)
    banner.show()
    banner.show_busy("STARTING", "loading the model")
    assert banner.busy.isVisible() and banner.busy.maximum() == 0
    banner.show_ready()
    assert not banner.busy.isVisible()


# --- image view and overlay --------------------------------------------------------------------


def test_live_view_draws_only_the_newest_frame_per_tick(qtbot):
    slot = NewestSlot()
    view = ImageView(display_hz=1000, frame_source=slot.take)
    qtbot.addWidget(view)
    view._timer.stop()  # drive the display ticks by hand
    for i in range(5):
        slot.put(frame(value=10 * i, frame_id=i))
    view._draw_pending()
    view._draw_pending()  # nothing new: no second setImage
    assert view.frames_drawn == 1
    assert int(view.image_item.image[0, 0, 0]) == 40  # the newest of the five
    assert view.image_item.axisOrder == "row-major"
    assert tuple(view.image_item.levels) == (0, 255)


def test_live_frames_are_decimated_to_the_view_but_keep_original_coordinates(qtbot):
    slot = NewestSlot()
    view = ImageView(frame_source=slot.take)
    qtbot.addWidget(view)
    view._timer.stop()
    view.resize(520, 400)
    view.show()
    qtbot.waitExposed(view)
    width = view.graphics.viewport().width() * view.devicePixelRatioF()
    slot.put(frame(w=int(width * 4), h=int(width * 3)))
    view._draw_pending()
    assert view.image_item.image.shape[1] == pytest.approx(width, abs=1)
    assert view.image_item.mapRectToParent(view.image_item.boundingRect()).width() == pytest.approx(width * 4)
    result = cycle(img=frame(w=int(width * 4), h=int(width * 3)))
    view.hold(result.frame.image, (), None, result.frame.width, result.frame.height)
    assert view.image_item.image.shape[1] == int(width * 4)  # a held cycle: every pixel


def test_hold_keeps_the_cycle_frame_until_live(qtbot):
    slot = NewestSlot()
    view = ImageView(frame_source=slot.take)
    qtbot.addWidget(view)
    view._timer.stop()
    result = cycle()
    view.hold(result.frame.image, result.detections, result.match, W, H)
    slot.put(frame(value=200))
    view._draw_pending()
    assert view.mode == "held" and int(view.image_item.image[0, 0, 0]) == 80
    assert slot.takes == 0  # held: the view takes no live frames
    view.go_live()
    view._draw_pending()
    assert view.mode == "live" and int(view.image_item.image[0, 0, 0]) == 200
    assert view.overlay.drawn_boxes() == []  # live frames carry no overlay


def test_overlay_draws_boxes_labels_and_slot_bounds_in_place(qtbot):
    view = ImageView(class_colors=["#123456"])
    qtbot.addWidget(view)
    result = cycle()
    view.hold(result.frame.image, result.detections, result.match, W, H)
    overlay = view.overlay
    assert [(r.x(), r.y(), r.width(), r.height()) for r in overlay.drawn_boxes()] == [
        (200, 160, 100, 80), (600, 320, 100, 96)
    ]
    assert overlay.drawn_labels() == ["screw 0.91", "clip 0.66"]
    assert overlay._boxes.items[0].pen().color().name() == "#123456"  # configured class colour
    slots = overlay.drawn_slots()
    assert [filled for _, _, filled in slots] == [True, True, False]
    inner, outer, _ = slots[2]  # the missing one: both bounds, in pixels
    assert (inner.x(), inner.y(), inner.right(), inner.bottom()) == pytest.approx((810, 648, 840, 672))
    assert (outer.x(), outer.y(), outer.right(), outer.bottom()) == pytest.approx((780, 624, 870, 696))
    assert overlay._slot_inner.items[2].pen().color() == QColor(theme.SLOT_MISSING)
    first_items = list(overlay._boxes.items)

    view.hold(result.frame.image, (CLIP,), match_pattern(PATTERN, (CLIP,), W, H), W, H)
    assert overlay._boxes.items[: len(first_items)] == first_items  # reused, not rebuilt
    assert overlay.drawn_labels() == ["clip 0.66"]
    assert not first_items[1].isVisible()

    view.set_overlay_visible(False)
    assert not overlay.is_visible()
    view.set_overlay_visible(True)
    assert overlay.is_visible()


# --- history ------------------------------------------------------------------------------------


def test_history_keeps_the_last_n_newest_first_and_replays_a_click(qtbot):
    panel = HistoryPanel(size=3)
    qtbot.addWidget(panel)
    big = frame(w=3000, h=2000)
    for i in range(5):
        panel.add_result(cycle(cycle_id=f"c{i}", img=big))
    entries = panel.entries()
    assert [e.result.cycle_id for e in entries] == ["c4", "c3", "c2"]
    assert entries[0].result.frame is None  # no full frames kept
    assert entries[0].preview.shape[1] <= PREVIEW_WIDTH and (entries[0].width, entries[0].height) == (3000, 2000)
    assert "NOK" in panel.list.item(0).text() and "variant_a 0/3" in panel.list.item(0).text()  # other size
    with qtbot.waitSignal(panel.entry_selected) as signal:
        panel.list.itemClicked.emit(panel.list.item(1))
    assert signal.args[0].result.cycle_id == "c3"


# --- statistics -------------------------------------------------------------------------------------


def test_statistics_panel_shows_the_core_statistics_and_resets_the_shift(qtbot):
    stats = Statistics()
    panel = StatisticsPanel(stats)
    qtbot.addWidget(panel)
    full = (SCREW, CLIP, Detection(0, "screw", 0.5, (810, 648, 840, 672)))
    for result in (cycle(full, ms=100), cycle(full, ms=140), cycle(ms=120), cycle(error="timeout", ms=50)):
        stats.add(result)  # the recorder does this in the station
        panel.add_result(result)
    stats.add_refused_trigger()
    panel.refresh()
    counts = {k: label.text() for k, label in panel.count_labels.items()}
    assert counts == {"OK": "2", "NOK": "1", "ERROR": "1"}
    assert panel.yield_label.text() == "66.7 %"  # OK / (OK + NOK)
    assert panel.refused_label.text() == "1"
    x, y = panel.trend_curve.getData()
    assert list(y) == [100, 140, 120, 50]
    table = {panel.class_table.item(r, 0).text(): (panel.class_table.item(r, 1).text(), panel.class_table.item(r, 2).text())
             for r in range(panel.class_table.rowCount())}
    assert table == {"screw": ("6", "0.50 – 0.91"), "clip": ("4", "0.66 – 0.66")}

    stats.reset()  # the station's "reset shift" action does this, then tells the view
    panel.shift_reset()
    assert stats.snapshot().cycles == 0
    assert panel.count_labels["OK"].text() == "0" and panel.class_table.rowCount() == 0
    assert panel.trend_curve.getData()[1] is None or len(panel.trend_curve.getData()[1]) == 0


# --- bridge and error route ----------------------------------------------------------------------------


def test_bridge_delivers_worker_callbacks_in_the_gui_thread(qtbot):
    bridge = StationBridge()
    seen = []
    bridge.result_ready.connect(lambda r: seen.append(("result", r.cycle_id, QThread.currentThread())))
    bridge.state_changed.connect(lambda *a: seen.append(("state", a, QThread.currentThread())))
    bridge.error.connect(lambda m: seen.append(("error", m, QThread.currentThread())))
    bridge.refused.connect(lambda m: seen.append(("refused", m, QThread.currentThread())))
    from inspection_station.core import events as ev

    def worker():  # the station's events, published on a worker thread
        bridge.deliver(ev.ComponentChanged("camera", "emulated", "Emulation 0815-0000"))
        bridge.deliver(ev.CycleFinished(cycle(cycle_id="x1")))
        bridge.deliver(ev.ErrorReported("disk full"))
        bridge.deliver(ev.TriggerRefused("pedal", "a cycle is still running"))

    t = threading.Thread(target=worker)
    t.start()
    t.join()
    qtbot.waitUntil(lambda: len(seen) == 4)
    gui = QThread.currentThread()
    assert [s[0] for s in seen] == ["state", "result", "error", "refused"]
    assert all(s[2] is gui for s in seen)
    assert seen[0][1] == ("camera", "emulated", "Emulation 0815-0000")


def test_uncaught_exceptions_anywhere_reach_the_one_error_route(qtbot):
    route = ErrorRoute()
    reports = []
    route.reported.connect(lambda message, details: reports.append((message, details)))
    before = (sys.excepthook, threading.excepthook)
    uninstall = install_exception_hooks(route)
    assert (sys.excepthook, threading.excepthook) != before
    try:
        def boom():
            raise RuntimeError("worker blew up")

        t = threading.Thread(target=boom, name="camera-worker")
        t.start()
        t.join()
        try:
            raise ValueError("slot blew up")
        except ValueError:
            sys.excepthook(*sys.exc_info())
        qtbot.waitUntil(lambda: len(reports) == 2)
    finally:
        uninstall()
    # the thread's report is queued, the main thread's direct: any order
    worker = next(r for r in reports if "RuntimeError" in r[0])
    main = next(r for r in reports if "ValueError" in r[0])
    assert "camera-worker" in worker[0] and "worker blew up" in worker[0] and "Traceback" in worker[1]
    assert "slot blew up" in main[0]
    assert (sys.excepthook, threading.excepthook) == before  # uninstalled: the previous hooks are back


@pytest.mark.parametrize(
    ("name", "expected", "warns"),
    [("F12", "F12", False), ("Space", "Space", False), ("Ctrl+P", "Ctrl+P", False), ("Pedal!", "F12", True), ("", "F12", True)],
)
def test_pedal_key_names(name, expected, warns, qapp):
    sequence, problem = pedal_key_sequence(name)
    assert sequence.toString() == expected
    assert bool(problem) == warns
