"""Operator flows that cannot mislead, on the REAL window and station (emulator, real
onnxruntime session, real pattern files, real CSV log)."""

from __future__ import annotations

import threading

from inspection_station.core.station import Station
from inspection_station.gui.app import start_station
from inspection_station.gui.error_route import ErrorRoute
from inspection_station.gui.operator.main_window import MainWindow
from inspection_station.gui.operator.station_bridge import StationBridge
from inspection_station.gui.operator.verdict_banner import FLASH_MS
from tests.gui_station import station_settings
from tests.test_gui_window import READY_S, gui, inspect_and_wait, log_rows, make_gui, wait_ready  # noqa: F401


def test_wrong_verdict_on_a_replayed_cycle_corrects_that_cycle_and_names_it(qtbot, gui):  # noqa: F811
    w = gui.window
    w.product_combo.setCurrentText("product_nok")
    old = inspect_and_wait(qtbot, gui)  # NOK
    w.product_combo.setCurrentText("product_ok")
    newest = inspect_and_wait(qtbot, gui)  # OK
    assert (old.verdict, newest.verdict) == ("NOK", "OK")

    w.history.list.itemClicked.emit(w.history.list.item(1))  # the older NOK, replayed
    assert w.banner.state == "NOK" and w.banner.replay
    assert f"REPLAY of {old.timestamp:%H:%M:%S}" in w.banner.detail.text()
    w.overrule_button.click()
    qtbot.waitUntil(lambda: w.overrule_dialog.isVisible())
    text = w.overrule_dialog.text()
    assert old.cycle_id in text and f"{old.timestamp:%H:%M:%S}" in text and "said NOK" in text
    assert newest.cycle_id not in text
    w.overrule_confirm.click()
    qtbot.waitUntil(lambda: "recorded" in w.message_label.text(), timeout=10_000)
    row = log_rows(gui.station)[-1]
    assert row["overrules"] == old.cycle_id and row["verdict"] == "OK"
    assert w.statistics.overrules_label.text() == "1"
    assert w.statistics.corrected_yield_label.text() == "100.0 %"  # 1 OK + the corrected NOK
    assert w.statistics.yield_label.text() == "50.0 %"


def test_live_returns_the_banner_from_a_replay_to_the_live_state(qtbot, gui):  # noqa: F811
    w = gui.window
    result = inspect_and_wait(qtbot, gui)
    w.history.list.itemClicked.emit(w.history.list.item(0))
    assert w.banner.replay
    w.live_button.click()
    assert w.banner.state == "READY" and not w.banner.replay
    assert f"last: OK at {result.timestamp:%H:%M:%S}" in w.banner.detail.text()
    assert not w.overrule_button.isEnabled()  # nothing on screen to correct


def test_refused_stays_on_the_banner_after_the_verdict_lands_and_counts(qtbot, tmp_path, monkeypatch):
    from inspection_station.gui.operator import verdict_banner

    assert FLASH_MS >= 1500  # the real flash: long enough to be read
    # In the test the flash lasts until the test ends it: no assertion depends on the clock.
    monkeypatch.setattr(verdict_banner, "FLASH_MS", 600_000)
    gate = threading.Event()
    made = make_gui(qtbot, tmp_path, gate=gate)
    try:
        wait_ready(qtbot, made)
        w = made.window
        w.inspect_button.click()
        w.inspect("pedal")
        qtbot.waitUntil(lambda: w.refused_count == 1)
        gate.set()
        result = inspect_and_wait(qtbot, made, click=False)
        assert w.banner.state == str(result.verdict)
        assert w.banner.is_flashing() and "REFUSED" in w.banner.reason.text()  # not wiped by the verdict
        w.banner.end_flash()  # what the flash's timer does when its time is up
        assert "REFUSED" not in w.banner.reason.text()
        assert w.statistics.refused_label.text() == "1"
    finally:
        gate.set()
        made.station.stop()


def test_reset_shift_and_quit_ask_first(qtbot, gui):  # noqa: F811
    w = gui.window
    inspect_and_wait(qtbot, gui)
    w.actions.access.store.add("eva", "engineer", "secret-pass")
    assert w.actions.sign_in("eva", "secret-pass").ok  # [access] reset_shift_role: engineer
    asked = []
    w.confirm = lambda *q: asked.append(q) or False
    w.statistics.reset_button.click()
    assert asked and w.statistics.count_labels["OK"].text() == "1"  # cancelled: counts kept
    w.confirm = lambda *q: True
    w.statistics.reset_button.click()
    qtbot.waitUntil(lambda: w.statistics.count_labels["OK"].text() == "0")

    w.confirm = lambda *q: asked.append(q) or False
    w.quit_action.trigger()
    assert w.isVisible() and "Quit" in asked[-1][0]
    w.confirm = lambda *q: True
    w.quit_action.trigger()
    assert not w.isVisible()


def test_quit_in_kiosk_mode_needs_a_signed_in_engineer(qtbot, tmp_path):
    settings = station_settings(tmp_path).replace("station", kiosk=True)
    window = MainWindow(Station(settings), StationBridge(), settings)
    qtbot.addWidget(window)
    window.show()
    window.confirm = lambda *q: True
    assert not window.request_quit() and window.isVisible()
    assert "engineer" in window.message_label.text()
    window.toggle_fullscreen()  # F11 does not leave kiosk mode (the window manager's close and
    assert window.isFullScreen()  # Alt+F4: tests/test_kiosk_window.py, a real window under Xvfb)
    window.actions.access.store.add("eva", "engineer", "secret-pass")
    assert window.actions.sign_in("eva", "secret-pass").ok
    assert window.request_quit() and not window.isVisible()


def test_a_broken_pattern_at_start_is_error_on_the_banner_not_ready(qtbot, tmp_path):
    settings = station_settings(tmp_path)
    broken = tmp_path / "broken.yaml"
    broken.write_text("variant_a:\n  - class_id: 0\n    inner: [0.2, 0.2]\n")
    settings = settings.replace("patterns", path=str(broken), active="")
    bridge = StationBridge()
    station = Station(settings, previews=True)
    route = ErrorRoute()
    window = MainWindow(station, bridge, settings, error_route=route)
    qtbot.addWidget(window)
    window.show()
    start_station(station, route)
    try:
        qtbot.waitUntil(lambda: window.banner.state == "ERROR" and "Pattern not loaded" in window.banner.reason.toolTip(),
                        timeout=READY_S)
        qtbot.waitUntil(lambda: window.camera_label.text().startswith("Camera: emulated"), timeout=READY_S)
        assert window.banner.state == "ERROR"  # the model and camera being fine do not make it READY
        assert "broken.yaml:2" in window.banner.reason.toolTip() and "inner: expected 4 numbers" in window.banner.reason.toolTip()
        assert any("broken.yaml" in t for t in window.warnings.texts()) and window.warnings.isVisible()
    finally:
        station.stop()


def test_warnings_indicator_keeps_every_warning_since_start(qtbot, gui):  # noqa: F811
    w = gui.window
    w.add_warning("settings: x.toml: [camera] gain expected a number; using -1.0")
    w.error_route.report("pattern set 'p9' not found; using the first")
    assert w.warnings.texts()[-2:] == ["settings: x.toml: [camera] gain expected a number; using -1.0",
                                       "pattern set 'p9' not found; using the first"]
    assert w.warnings.text().endswith("2 warnings")
    w.warnings.click()
    qtbot.waitUntil(lambda: w.warnings.list_box.isVisible())
    assert "gain expected a number" in w.warnings.list_box.detailedText()


def test_a_deleted_log_is_a_warning_on_screen_and_an_unwritable_one_an_error_verdict(qtbot, gui, tmp_path):  # noqa: F811
    w = gui.window
    inspect_and_wait(qtbot, gui)
    path = gui.station.recorder.log.current_path
    path.unlink()
    result = inspect_and_wait(qtbot, gui)
    assert result.verdict == "OK" and [r["cycle_id"] for r in log_rows(gui.station)] == [result.cycle_id]
    qtbot.waitUntil(lambda: any("the results log was deleted" in t for t in w.warnings.texts()))
    assert w.warnings.isVisible() and str(path) in w.warnings.texts()[-1]
    # the folder replaced by a file: the row cannot be written, so the banner must not say OK
    log_dir = path.parent
    path.unlink()
    log_dir.rmdir()
    log_dir.write_bytes(b"not a folder")
    result = inspect_and_wait(qtbot, gui)
    assert result.verdict == "ERROR" and w.banner.state == "ERROR"
    assert f"results: {path}" in result.error and "the model said OK" in result.error
    assert "cannot write the results log" in w.banner.reason.toolTip()  # the reason, on the banner
    qtbot.waitUntil(lambda: any("cannot write the results log" in t for t in w.warnings.texts()))
    log_dir.unlink()
