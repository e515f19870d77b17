"""The operator window with a pattern folder holding one broken file: it runs on the sets
that loaded and names the file that did not (real window, real station, emulator)."""

from __future__ import annotations

from types import SimpleNamespace

from inspection_station.core.station import Station
from inspection_station.gui.app import start_station
from inspection_station.gui.error_route import ErrorRoute
from inspection_station.gui.operator.main_window import MainWindow
from inspection_station.gui.operator.station_bridge import StationBridge
from tests.gui_station import station_settings
from tests.test_gui_window import READY_S, inspect_and_wait


def test_the_window_runs_on_the_sets_that_loaded_and_names_the_broken_file(qtbot, tmp_path):
    settings = station_settings(tmp_path)
    broken = tmp_path / "patterns" / "product_broken.yaml"
    broken.write_text("v:\n  - {class_id: 0, inner: [0.3, 0.2, 0.2, 0.3], outer: [0.1, 0.1, 0.4, 0.4]}\n")
    bridge = StationBridge()
    station = Station(settings, previews=True)
    route = ErrorRoute()
    window = MainWindow(station, bridge, settings, error_route=route)
    qtbot.addWidget(window)
    window.resize(1366, 768)
    window.show()
    start_station(station, route)
    try:
        qtbot.waitUntil(lambda: window.banner.state == "READY", timeout=READY_S)
        qtbot.waitUntil(lambda: "product_broken.yaml" in window.pattern_label.toolTip(), timeout=READY_S)
        assert [window.product_combo.itemText(i) for i in range(window.product_combo.count())] == [
            "product_nok", "product_ok"]
        result = inspect_and_wait(qtbot, SimpleNamespace(window=window, station=station))
        assert result.verdict.value == "OK"
    finally:
        station.stop()
