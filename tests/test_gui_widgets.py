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
from inspection_station.gui.operator.overlay import LABELS_MAX
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
    """The contract of `Station.take_live_frame`: the newest frame put since the last take
    (taken by the view's display thread)."""

    def __init__(self) -> None:
        self.frame: Frame | None = None
        self.taken = 0  # frames handed out
        self._lock = threading.Lock()

    def put(self, f: Frame) -> None:
        with self._lock:
            self.frame = f

    def take(self) -> Frame | None:
        with self._lock:
            f, self.frame = self.frame, None
            self.taken += f is not None
        return f


def shown_value(view: ImageView) -> int:
    """The grey level of the picture on screen (RGB32: blue, green, red, 255 per pixel)."""
    return int(view.picture.prepared.pixels[0, 0, 0])


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


def test_live_view_draws_only_the_newest_frame(qtbot):
    slot = NewestSlot()
    for i in range(5):
        slot.put(frame(value=10 * i, frame_id=i))
    view = ImageView(display_hz=200, frame_source=slot.take)
    qtbot.addWidget(view)
    qtbot.waitUntil(lambda: view.frames_drawn >= 1)
    qtbot.wait(100)  # the view fitted to the frame: the same frame once more, at the view's size
    drawn = view.frames_drawn
    qtbot.wait(100)  # twenty display ticks: nothing new, nothing drawn again
    assert view.frames_drawn == drawn <= 2 and slot.taken == 1
    assert shown_value(view) == 40  # the newest of the five
    assert view.picture.prepared.image.format() == view.picture.prepared.image.Format.Format_RGB32


def test_pictures_are_made_off_the_gui_thread_at_the_size_shown(qtbot):
    slot = NewestSlot()
    view = ImageView(frame_source=slot.take)
    qtbot.addWidget(view)
    view.resize(520, 400)
    view.show()
    qtbot.waitExposed(view)
    made_on = []
    real = view.preparer._prepare
    view.preparer._prepare = lambda *a: made_on.append(threading.get_ident()) or real(*a)
    width = view.graphics.viewport().width() * view.devicePixelRatioF()
    slot.put(frame(w=int(width * 4), h=int(width * 3)))
    qtbot.waitUntil(lambda: view.frames_drawn >= 1)  # first at a default size, then at the view's
    qtbot.waitUntil(lambda: view.picture.prepared.image.width() == pytest.approx(width, abs=2))
    assert made_on and threading.get_ident() not in made_on
    assert view.picture.mapRectToParent(view.picture.boundingRect()).width() == pytest.approx(width * 4)
    # a held cycle: the same, and a zoom asks for the shown part again at the screen's pixels
    result = cycle(img=frame(value=120, w=int(width * 4), h=int(width * 3)))
    view.hold(result.frame.image, (), None, result.frame.width, result.frame.height)
    qtbot.waitUntil(lambda: view.picture.prepared.token == view._token and shown_value(view) == 120)
    assert view.picture.prepared.image.width() == pytest.approx(width, abs=2)
    view.view.scaleBy((0.25, 0.25))
    qtbot.waitUntil(lambda: view.picture.prepared.region[2] - view.picture.prepared.region[0] < width * 1.5)
    region = view.picture.prepared.region
    assert view.picture.prepared.image.width() == pytest.approx(region[2] - region[0], abs=2)  # 1:1 now


def test_hold_keeps_the_cycle_frame_until_live(qtbot):
    slot = NewestSlot()
    view = ImageView(frame_source=slot.take)
    qtbot.addWidget(view)
    result = cycle()
    view.hold(result.frame.image, result.detections, result.match, W, H)
    qtbot.waitUntil(lambda: view.frames_drawn >= 1)
    slot.put(frame(value=200))
    qtbot.wait(100)
    assert view.mode == "held" and shown_value(view) == 80
    assert slot.taken == 0  # held: the view takes no live frames
    view.go_live()
    qtbot.waitUntil(lambda: shown_value(view) == 200)
    assert view.mode == "live"
    assert view.overlay.drawn_boxes() == []  # live frames carry no overlay


def test_a_bgr_or_mono_frame_shows_in_its_true_colours():
    from inspection_station.core.frame import ColorOrder
    from inspection_station.gui.operator.display_image import display_pixels

    bgr = np.zeros((4, 6, 3), np.uint8)
    bgr[..., 0] = 255  # blue, in BGR order
    pixels, region = display_pixels(bgr, ColorOrder.BGR, (6, 4), None)
    assert tuple(pixels[0, 0]) == (255, 0, 0, 255) and region == (0, 0, 6, 4)  # RGB32: B G R A bytes
    mono, _ = display_pixels(np.full((4, 6), 7, np.uint8), ColorOrder.MONO, (6, 4), None)
    assert tuple(mono[0, 0]) == (7, 7, 7, 255)
    preview = np.zeros((40, 60, 3), np.uint8)  # a preview a tenth of the frame: regions in frame pixels
    _, region = display_pixels(preview, ColorOrder.RGB, (600, 400), None)
    assert region == (0, 0, 600, 400)


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
    assert overlay.drawn_box_colors()[0] == "#123456"  # configured class colour
    slots = overlay.drawn_slots()
    assert [filled for _, _, filled in slots] == [True, True, False]
    inner, outer, _ = slots[2]  # the missing one: both bounds, in pixels
    assert (inner.x(), inner.y(), inner.right(), inner.bottom()) == pytest.approx((810, 648, 840, 672))
    assert (outer.x(), outer.y(), outer.right(), outer.bottom()) == pytest.approx((780, 624, 870, 696))
    assert overlay.drawn_slot_colors()[2] == (QColor(theme.SLOT_MISSING).name(), True, True)  # solid, dashed
    items = len(view.view.scene().items())

    many = tuple(Detection(i % 2, "screw", 0.5, (i, i, i + 30.0, i + 20.0)) for i in range(300))
    view.hold(result.frame.image, many, match_pattern(PATTERN, many, W, H), W, H)
    assert len(overlay.drawn_boxes()) == 300 and len(overlay.drawn_labels()) == LABELS_MAX  # the most confident
    assert len(view.view.scene().items()) == items  # one item painted in place, nothing built per box
    view.hold(result.frame.image, (CLIP,), match_pattern(PATTERN, (CLIP,), W, H), W, H)
    assert overlay.drawn_labels() == ["clip 0.66"]

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


# --- the trial's small things: texts that fit, values that say what they mean -------------------


def test_a_camera_default_value_reads_as_words_not_as_minus_one_db(qtbot):
    from inspection_station.core.settings.model import Settings
    from inspection_station.gui.engineer.settings_fields import CAMERA_FIELDS, specs_for
    from inspection_station.gui.engineer.settings_form import SectionForm

    camera = Settings().camera
    form = SectionForm("camera", camera, specs_for(camera, CAMERA_FIELDS))
    qtbot.addWidget(form)
    gain, exposure = form.widgets["gain"], form.widgets["exposure_us"]
    assert (gain.text(), exposure.text()) == ("camera default", "camera default")
    gain.setValue(3.5)
    assert gain.text() == "3.50 dB" and form.values()["gain"] == 3.5
    gain.lineEdit().setText("camera default")
    gain.interpretText()
    assert form.values()["gain"] < 0  # back to the camera's own value


def test_message_box_buttons_keep_their_whole_text_beside_a_short_question(qtbot):
    from PySide6.QtWidgets import QMessageBox

    box = QMessageBox(QMessageBox.Icon.Question, "Quit", "Stop the station?", QMessageBox.StandardButton.NoButton)
    qtbot.addWidget(box)
    quit_button = box.addButton("&Quit the station", QMessageBox.ButtonRole.AcceptRole)
    box.addButton("Cancel", QMessageBox.ButtonRole.RejectRole)
    box.show()
    qtbot.waitExposed(box)
    text = quit_button.fontMetrics().horizontalAdvance("Quit the station")
    assert quit_button.width() >= quit_button.sizeHint().width() and quit_button.width() > text


def test_a_long_status_message_ends_in_an_ellipsis_and_keeps_its_whole_text(qtbot):
    from inspection_station.gui.elided_label import ElidedLabel

    label = ElidedLabel()
    qtbot.addWidget(label)
    label.resize(120, 30)
    label.show()
    message = "Camera disconnected: no frame within 2000 ms, reconnecting in 4 s"
    label.setText(message)
    assert label.text() == message and label.toolTip() == message
    assert label.shown_text().endswith("…") and len(label.shown_text()) < len(message)
    label.resize(2000, 30)
    qtbot.waitUntil(lambda: label.shown_text() == message)


def test_a_locked_field_does_not_look_editable(qtbot):
    from PySide6.QtWidgets import QLineEdit

    open_field, locked = QLineEdit("60"), QLineEdit("60")
    locked.setEnabled(False)
    for field in (open_field, locked):
        qtbot.addWidget(field)
        field.setStyleSheet(theme.stylesheet())  # the station's theme (the test app has none)
        field.resize(120, 40)
        field.show()
    qtbot.waitExposed(locked)
    inside = lambda w: w.grab().toImage().pixelColor(60, 20).name()  # noqa: E731 - the well's colour
    assert inside(open_field) != inside(locked)
    assert inside(locked) == QColor(theme.BACKGROUND).name()  # no lighter well: nothing to type in


def test_icons_grow_with_the_screen_like_the_fonts():
    from PySide6.QtWidgets import QStyle

    at_4k, at_hmi = theme.ScaledIcons(2.0), theme.ScaledIcons(0.71)
    assert at_4k.pixelMetric(QStyle.PixelMetric.PM_MessageBoxIconSize) == 64
    assert at_4k.pixelMetric(QStyle.PixelMetric.PM_SmallIconSize) == 32
    assert at_hmi.pixelMetric(QStyle.PixelMetric.PM_SmallIconSize) == 16  # never smaller than Fusion's
