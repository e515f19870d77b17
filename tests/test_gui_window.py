"""The REAL operator window driving a REAL Station: Basler's emulator, a real onnxruntime
session (constant detector with known boxes), real pattern files, real CSV log."""

from __future__ import annotations

import threading
from datetime import datetime
from types import SimpleNamespace

import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QApplication

from inspection_station import __version__
from inspection_station.core.errors import CameraTimeout
from inspection_station.core.events import CycleFinished
from inspection_station.core.results.csv_log import read_log
from inspection_station.core.station import Station
from inspection_station.gui.app import start_station
from inspection_station.gui.error_route import ErrorRoute
from inspection_station.gui.operator.main_window import MainWindow
from inspection_station.gui.operator.station_bridge import StationBridge
from tests.gui_station import station_settings

READY_S = 30_000  # ms: camera open + model load on a loaded CI machine


def make_gui(qtbot, tmp_path, *, gate: threading.Event | None = None, **settings_kw):
    """Window + station; with `gate`, each cycle stays running until the test sets it."""
    settings = station_settings(tmp_path, **settings_kw)
    bridge = StationBridge()
    station = Station(settings, previews=True)
    if gate is not None:  # subscribed before the window's bridge: the result waits for the gate
        # runs in the inference thread while the station is busy
        station.bus.subscribe(lambda _event: gate.wait(30), CycleFinished)
    route = ErrorRoute()
    window = MainWindow(station, bridge, settings, error_route=route)
    qtbot.addWidget(window)
    window.resize(1400, 900)
    window.show()
    start_station(station, route)
    return SimpleNamespace(window=window, station=station, bridge=bridge, settings=settings, route=route)


def wait_ready(qtbot, gui) -> None:
    qtbot.waitUntil(
        lambda: gui.window.banner.state == "READY" and gui.window.camera_label.text().startswith("Camera: emulated"),
        timeout=READY_S,
    )


@pytest.fixture
def gui(qtbot, tmp_path):
    made = make_gui(qtbot, tmp_path)
    wait_ready(qtbot, made)
    yield made
    made.station.stop()


def log_rows(station) -> list[dict[str, str]]:
    path = station.recorder.log.current_path
    return read_log(path) if path is not None else []


def inspect_and_wait(qtbot, gui, click=True):
    before = gui.window.last_result
    if click:
        gui.window.inspect_button.click()
    qtbot.waitUntil(lambda: gui.window.last_result is not before, timeout=READY_S)
    return gui.window.last_result


# --- the cycle ----------------------------------------------------------------------------------


def test_inspect_button_banner_and_csv_row_agree(qtbot, gui):
    w = gui.window
    assert w.busy_bar.isHidden()
    result = inspect_and_wait(qtbot, gui)
    rows = log_rows(gui.station)
    assert len(rows) == 1
    assert rows[0]["cycle_id"] == result.cycle_id
    assert rows[0]["verdict"] == w.banner.title.text() == w.banner.state == "OK"
    assert rows[0]["trigger"] == "button"
    assert "product_ok" in w.banner.detail.text() and "variant_a 2/2" in w.banner.detail.text()
    assert w.image_view.mode == "held" and len(w.image_view.overlay.drawn_boxes()) == 2
    assert [e.result.cycle_id for e in w.history.entries()] == [result.cycle_id]
    assert w.statistics.count_labels["OK"].text() == "1"
    assert w.busy_bar.isHidden()
    assert w.log_label.text() == f"Log: {gui.station.recorder.log.current_path.name}"


def test_product_selector_switches_the_pattern_set_and_nok_names_the_missing_slot(qtbot, gui):
    w = gui.window
    assert w.product_combo.isVisibleTo(w)  # two pattern sets: a choice
    assert sorted(w.product_combo.itemText(i) for i in range(w.product_combo.count())) == ["product_nok", "product_ok"]
    w.product_combo.setCurrentText("product_nok")
    assert gui.station.active_pattern_set.name == "product_nok"
    qtbot.waitUntil(lambda: w.pattern_label.text() == "Product: product_nok")

    result = inspect_and_wait(qtbot, gui)
    assert result.verdict == "NOK"
    assert w.banner.state == "NOK" and "variant_a 2/3" in w.banner.detail.text()
    assert w.banner.reason.text() == "missing: screw_right"
    assert log_rows(gui.station)[-1]["verdict"] == "NOK"
    assert [filled for _, _, filled in w.image_view.overlay.drawn_slots()] == [True, True, False]


@pytest.mark.parametrize("key_name, key", [("F12", Qt.Key.Key_F12), ("Space", Qt.Key.Key_Space)])
def test_pedal_key_triggers_wherever_the_focus_is(qtbot, tmp_path, key_name, key):
    gui = make_gui(qtbot, tmp_path, pedal_key=key_name)
    try:
        wait_ready(qtbot, gui)
        w = gui.window
        w.activateWindow()
        w.history.list.setFocus()  # focus somewhere else than any button
        qtbot.waitUntil(lambda: QApplication.focusWidget() is w.history.list)
        qtbot.keyClick(w.history.list, key)
        result = inspect_and_wait(qtbot, gui, click=False)
        assert result.trigger == "pedal"
        assert log_rows(gui.station)[-1]["trigger"] == "pedal"
    finally:
        gui.station.stop()


def test_a_trigger_during_a_cycle_is_refused_visibly_and_counted(qtbot, tmp_path):
    gate = threading.Event()
    gui = make_gui(qtbot, tmp_path, gate=gate)
    try:
        wait_ready(qtbot, gui)
        w = gui.window
        w.inspect_button.click()
        assert w.banner.state == "BUSY" and w.busy_bar.isVisibleTo(w)
        w.activateWindow()
        qtbot.keyClick(w.inspect_button, Qt.Key.Key_F12)  # the pedal, while the cycle runs
        qtbot.waitUntil(lambda: w.refused_count == 1)
        assert w.banner.is_flashing() and "REFUSED" in w.banner.reason.text()
        assert "refused" in w.message_label.text()
        assert w.statistics.refused_label.text() == "1"
        gate.set()
        result = inspect_and_wait(qtbot, gui, click=False)
        rows = log_rows(gui.station)
        assert [r["cycle_id"] for r in rows] == [result.cycle_id]  # never queued silently
        assert gui.station.statistics.snapshot().refused_triggers == 1
    finally:
        gate.set()
        gui.station.stop()


def test_wrong_verdict_overrule_writes_its_row_and_review_image(qtbot, gui, tmp_path):
    w = gui.window
    w.product_combo.setCurrentText("product_nok")
    result = inspect_and_wait(qtbot, gui)
    assert result.verdict == "NOK" and w.overrule_button.isEnabled()
    w.overrule_button.click()
    qtbot.waitUntil(lambda: w.overrule_dialog.isVisible())
    assert "NOK" in w.overrule_dialog.text() and "OK" in w.overrule_confirm.text()
    w.overrule_confirm.click()
    qtbot.waitUntil(lambda: "recorded" in w.message_label.text(), timeout=10_000)
    rows = log_rows(gui.station)
    assert rows[-1]["overrules"] == result.cycle_id
    assert rows[-1]["verdict"] == "OK" and rows[-1]["trigger"] == "operator"
    review = list((tmp_path / "review").rglob("*.png"))
    assert len(review) == 1 and rows[-1]["image_path"] == str(review[0])
    assert not w.overrule_button.isEnabled()  # once per cycle


def test_cancelled_overrule_writes_nothing(qtbot, gui):
    w = gui.window
    inspect_and_wait(qtbot, gui)
    w.overrule_button.click()
    qtbot.waitUntil(lambda: w.overrule_dialog.isVisible())
    w.overrule_dialog.reject()
    qtbot.waitUntil(lambda: not w.overrule_dialog.isVisible())
    assert len(log_rows(gui.station)) == 1 and w.overrule_button.isEnabled()


def test_camera_loss_shows_in_the_status_bar_and_recovers(qtbot, gui):
    w = gui.window
    seen = []  # what the operator saw right after each camera state (window's slot ran first)
    gui.bridge.state_changed.connect(
        lambda comp, state, reason: seen.append((state, w.camera_label.text(), w.banner.state)) if comp == "camera" else None
    )
    w.go_live()

    def remove(camera):  # the device reports itself removed, as pylon does on a pulled cable
        camera.is_removed = lambda: True

    gui.station.camera.call_in_worker(remove).result(10)
    qtbot.waitUntil(lambda: any(s[0] == "disconnected" for s in seen), timeout=10_000)
    lost = next(s for s in seen if s[0] == "disconnected")
    assert lost[1].startswith("Camera: disconnected") and "removed" in lost[1]
    assert lost[2] == "ERROR"
    qtbot.waitUntil(lambda: w.camera_label.text().startswith("Camera: emulated"), timeout=15_000)
    assert w.banner.state == "READY"
    result = inspect_and_wait(qtbot, gui)  # and it inspects again
    assert result.verdict == "OK"


def test_a_failed_grab_is_an_error_cycle_with_its_reason_and_no_stale_boxes(qtbot, gui):
    w = gui.window
    inspect_and_wait(qtbot, gui)
    assert w.image_view.overlay.drawn_boxes()

    def fail_next_grab(camera):  # the camera worker's own camera object, in its thread
        def grab(*_args, **_kwargs):
            raise CameraTimeout("no frame within 2000 ms")

        camera.grab = grab

    gui.station.camera.call_in_worker(fail_next_grab).result(10)
    result = inspect_and_wait(qtbot, gui)
    assert result.verdict == "ERROR"
    assert w.banner.state == "ERROR" and "no frame within 2000 ms" in w.banner.reason.text()
    assert log_rows(gui.station)[-1]["verdict"] == "ERROR"
    assert w.image_view.mode == "live" and w.image_view.overlay.drawn_boxes() == []
    assert not w.overrule_button.isEnabled()  # an ERROR is no verdict to correct


def test_history_entry_without_a_frame_shows_no_other_cycles_boxes(qtbot, gui):
    w = gui.window
    inspect_and_wait(qtbot, gui)

    def fail_next_grab(camera):
        def grab(*_args, **_kwargs):
            raise CameraTimeout("no frame within 2000 ms")

        camera.grab = grab

    gui.station.camera.call_in_worker(fail_next_grab).result(10)
    assert inspect_and_wait(qtbot, gui).verdict == "ERROR"
    w.history.list.itemClicked.emit(w.history.list.item(1))  # the OK cycle: held, with its boxes
    assert w.image_view.mode == "held" and w.image_view.overlay.drawn_boxes()
    w.history.list.itemClicked.emit(w.history.list.item(0))  # the ERROR cycle has no picture
    assert w.banner.state == "ERROR"
    assert w.image_view.mode == "live" and w.image_view.overlay.drawn_boxes() == []


def test_the_first_model_ready_does_not_hide_a_camera_that_is_down(qtbot, tmp_path):
    settings = station_settings(tmp_path)
    station = Station(settings)  # real, not started: the states come in by hand, in this order
    window = MainWindow(station, StationBridge(), settings)
    qtbot.addWidget(window)
    assert window.banner.state == "BUSY"  # STARTING
    window.show_state("camera", "disconnected", "no camera found")
    window.show_state("model", "ready", "constant.onnx on CPUExecutionProvider")
    assert window.banner.state == "ERROR" and "Camera disconnected" in window.banner.reason.text()
    window.show_state("camera", "emulated", "Emulation 0815-0000")
    assert window.banner.state == "READY"


def test_unexpected_errors_are_reported_not_fatal(qtbot, gui):
    w = gui.window
    w.error_route.report("Unexpected error: KeyError: 'x'", "Traceback (most recent call last): ...")
    assert "KeyError" in w.message_label.text()
    qtbot.waitUntil(lambda: w.error_dialog.isVisible())
    assert "keeps running" in w.error_dialog.text()
    w.error_dialog.close()
    assert inspect_and_wait(qtbot, gui).verdict == "OK"


def test_history_click_shows_that_frame_and_overlay_again_and_live_resumes(qtbot, gui):
    w = gui.window
    first = inspect_and_wait(qtbot, gui)
    w.product_combo.setCurrentText("product_nok")
    inspect_and_wait(qtbot, gui)
    assert w.banner.state == "NOK"
    w.history.list.itemClicked.emit(w.history.list.item(1))
    assert w.banner.state == "OK" and first.cycle_id in w.message_label.text()
    assert all(filled for _, _, filled in w.image_view.overlay.drawn_slots())
    assert len(w.image_view.overlay.drawn_slots()) == 2

    drawn = w.image_view.frames_drawn
    w.live_button.click()
    assert w.image_view.mode == "live" and w.live_button.isChecked()
    qtbot.waitUntil(lambda: w.image_view.frames_drawn > drawn + 2, timeout=10_000)
    assert w.image_view.overlay.drawn_boxes() == []


def test_overlay_toggle_hides_and_shows_boxes(qtbot, gui):
    w = gui.window
    inspect_and_wait(qtbot, gui)
    w.overlay_button.click()
    assert not w.image_view.overlay.is_visible() and not w.overlay_action.isChecked()
    w.overlay_action.trigger()
    assert w.image_view.overlay.is_visible() and w.overlay_button.isChecked()


def test_status_bar_and_about_box(qtbot, gui):
    w = gui.window
    assert w.model_label.text() == "Model: constant.onnx · CPU"
    assert w.pattern_label.text() == "Product: product_ok"
    today = datetime.now().astimezone().date().isoformat()
    assert w.log_label.text() == f"Log: station-1_{today}.csv"  # issue 12: station id in the name
    w.settings = gui.settings.replace("station", author="max-scw", status="pilot", link="https://example.org/line3",
                                      info_text="Line 3, cell B")
    w.show_about()
    text = w.about_box.text()
    for expected in ("Inspection Station", "station-1", __version__, "max-scw", "pilot", "https://example.org/line3",
                     "Line 3, cell B", "constant.onnx", "CPUExecutionProvider"):
        assert expected in text
    w.about_box.close()


def test_settings_hook_and_fullscreen_toggle(qtbot, gui):
    w = gui.window
    with qtbot.waitSignal(w.open_settings):
        w.settings_button.click()
    with qtbot.waitSignal(w.open_settings):
        w.settings_action.trigger()
    w.toggle_fullscreen()
    qtbot.waitUntil(w.isFullScreen)
    w.toggle_fullscreen()
    qtbot.waitUntil(lambda: not w.isFullScreen())


def test_a_model_that_does_not_load_shows_error_and_cycles_are_error(qtbot, tmp_path):
    gui = make_gui(qtbot, tmp_path)
    gui.station.stop()  # rebuild with a broken model path
    settings = gui.settings.replace("model", path=str(tmp_path / "missing.onnx"))
    bridge = StationBridge()
    station = Station(settings, previews=True)
    window = MainWindow(station, bridge, settings)
    qtbot.addWidget(window)
    window.show()
    start_station(station, window.error_route)
    try:
        qtbot.waitUntil(lambda: window.banner.state == "ERROR", timeout=READY_S)
        assert "Model not loaded" in window.banner.reason.text()
        assert window.model_label.text() == "Model: not loaded"
        qtbot.waitUntil(lambda: "model not loaded" in window.message_label.text(), timeout=5000)
        qtbot.waitUntil(lambda: window.camera_label.text().startswith("Camera: emulated"), timeout=READY_S)
        before = window.last_result
        window.inspect_button.click()
        qtbot.waitUntil(lambda: window.last_result is not before, timeout=READY_S)
        assert window.banner.state == "ERROR" and window.banner.reason.text()
        rows = read_log(station.recorder.log.current_path)
        assert rows[-1]["verdict"] == "ERROR"
    finally:
        station.stop()


def test_gui_command_starts_and_stops_the_real_station(qtbot, tmp_path, monkeypatch):
    """`inspection-station gui --config F` end to end; only the event loop is the test's own
    (app.exec() + quit() would stop the loop that later tests wait in)."""
    from inspection_station import cli
    from inspection_station.core.settings.model import save_settings

    config = save_settings(station_settings(tmp_path), tmp_path / "settings.toml")
    seen = {}

    def event_loop(app):
        def ready():
            found = [x for x in app.topLevelWidgets() if isinstance(x, MainWindow) and x.isVisible()]
            return bool(found) and found[0].banner.state == "READY" and found[0].camera_label.text().startswith(
                "Camera: emulated")

        qtbot.waitUntil(ready, timeout=READY_S)
        window = next(x for x in app.topLevelWidgets() if isinstance(x, MainWindow) and x.isVisible())
        seen["title"], seen["station"] = window.windowTitle(), window.station
        window.close()
        return 0

    monkeypatch.setattr(QApplication, "exec", event_loop)
    assert cli.main(["gui", "--config", str(config)]) == 0
    assert seen["title"] == "Inspection Station — station-1"
    assert not seen["station"].camera.running  # run_gui stopped the station after the loop


def test_applied_settings_reach_the_window_whatever_route_applied_them(qtbot, gui):
    """The window follows the station's SettingsApplied event: an engineer's Apply, or any
    other route, changes the pedal key and the title without the dialog telling the window."""
    from inspection_station.core.settings.audit import Actor

    new = gui.settings.replace("station", pedal_key="F9", name="line-9")
    outcome = gui.window.actions.apply_settings(Actor("eva", "engineer", "station-1"), new)
    assert outcome.ok, outcome.message
    qtbot.waitUntil(lambda: gui.window.windowTitle() == "Inspection Station — line-9", timeout=5000)
    assert gui.window.pedal_shortcut.key().toString() == "F9"


def test_csv_cycle_ms_is_the_total_the_window_shows(qtbot, gui):
    w = gui.window
    result = inspect_and_wait(qtbot, gui)
    row = log_rows(gui.station)[-1]
    assert row["cycle_id"] == result.cycle_id
    assert result.times.total_ms > 0
    assert row["cycle_ms"] == f"{result.times.total_ms:.2f}"  # the one total, as the CSV writes it
    shown = f"{float(row['cycle_ms']):.0f} ms"
    assert shown in w.banner.detail.text()
    assert shown in w.history.list.item(0).text()
    assert w.statistics.cycle_ms[-1] == result.times.total_ms


def test_a_cycle_that_raises_leaves_inspecting_and_reaches_the_error_route(qtbot, gui):
    w = gui.window
    gui.station.recorder.close()  # a real fault: the cycle cannot be recorded and raises
    w.inspect_button.click()
    qtbot.waitUntil(lambda: w.banner.state == "ERROR", timeout=READY_S)
    assert "results recorder is closed" in w.banner.reason.text()
    assert w.message_label.text() == (
        "inspection cycle failed: results recorder is closed; the cycle was not recorded"
    )
    qtbot.waitUntil(w.busy_bar.isHidden)
    assert w.last_result is None  # no result was made up for the failed cycle


def test_the_history_keeps_the_preview_the_station_made(qtbot, gui):
    result = inspect_and_wait(qtbot, gui)
    assert result.preview is not None
    assert gui.window.history.entries()[0].preview is result.preview  # not downscaled again here


def test_a_failed_overrule_reaches_the_error_route_and_can_be_tried_again(qtbot, gui):
    w = gui.window
    result = inspect_and_wait(qtbot, gui)
    gui.station.recorder.close()  # a real fault: the correction row cannot be written
    w.overrule_button.click()
    qtbot.waitUntil(lambda: w.overrule_dialog.isVisible())
    w.overrule_confirm.click()
    qtbot.waitUntil(lambda: "failed" in w.message_label.text(), timeout=10_000)
    assert w.message_label.text() == (
        f"overrule of {result.cycle_id} failed: results recorder is closed; the overrule was not recorded"
    )
    qtbot.waitUntil(w.overrule_button.isEnabled)  # not recorded: the operator may try again


def test_the_window_shows_live_frames_taken_straight_from_the_station(qtbot, gui):
    w = gui.window
    assert w.image_view.frame_source == gui.station.take_live_frame  # the one live-frame path
    before = w.image_view.frames_drawn
    qtbot.waitUntil(lambda: w.image_view.frames_drawn >= before + 3, timeout=READY_S)
    assert w.image_view.mode == "live"


def test_gui_starts_the_api_from_its_settings(qtbot, tmp_path, monkeypatch):
    """[line] api_enabled: the GUI serves the same API as `serve` (issue 12)."""
    import httpx

    from inspection_station import cli
    from inspection_station.core.line import services as line_services
    from inspection_station.core.settings.model import save_settings

    settings = station_settings(tmp_path).replace("line", api_enabled=True, api_port=0)
    config = save_settings(settings, tmp_path / "settings.toml")
    made = []
    real_start = line_services.LineServices.start
    monkeypatch.setattr(line_services.LineServices, "start", lambda self: made.append(self) or real_start(self))
    seen = {}

    def event_loop(app):
        qtbot.waitUntil(lambda: bool(made) and made[0].api is not None, timeout=READY_S)
        window = next(x for x in app.topLevelWidgets() if isinstance(x, MainWindow) and x.isVisible())
        qtbot.waitUntil(lambda: window.banner.state == "READY", timeout=READY_S)
        reply = httpx.post(made[0].api.url + "/inspect", timeout=READY_S / 1000)
        seen["verdict"] = reply.json()["verdict"]
        qtbot.waitUntil(lambda: window.banner.state == "OK", timeout=READY_S)  # the window shows the API's cycle
        seen["url"] = made[0].api.url
        window.close()
        return 0

    monkeypatch.setattr(QApplication, "exec", event_loop)
    assert cli.main(["gui", "--config", str(config)]) == 0
    assert seen["verdict"] == "OK"
    with pytest.raises(httpx.ConnectError):  # stopped with the window
        httpx.get(seen["url"] + "/health", timeout=5)


def test_changed_line_settings_replace_the_api_without_a_restart(qtbot, gui, monkeypatch):
    import httpx

    from inspection_station.core.settings.audit import Actor
    from inspection_station.gui import app
    from inspection_station.gui.error_route import ErrorRoute

    line = app.LineRunner(gui.station, gui.window, ErrorRoute())
    line.prepare(gui.settings)
    app.follow_settings(gui.bridge, line)  # what run_gui connects: any applied [line] is followed
    assert line.services is None  # nothing enabled: nothing listens
    enabled = gui.settings.replace("line", api_enabled=True, api_port=0)
    assert gui.window.actions.apply_settings(Actor("eva", "engineer", "station-1"), enabled).ok
    qtbot.waitUntil(lambda: line.services is not None and line.services.api is not None, timeout=READY_S)
    url = line.services.api.url
    assert httpx.get(url + "/health", timeout=READY_S / 1000).json()["station"] == "station-1"
    line.apply(enabled.replace("line", api_enabled=False))
    assert line.services is None
    with pytest.raises(httpx.ConnectError):
        httpx.get(url + "/health", timeout=5)
    line.stop()
