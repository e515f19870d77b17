"""Every window is complete on the panels a line has: the main window (1280x720 to 4K),
the Settings dialog on every tab and the pattern editor (1366x768 and 1920x1080).

The offscreen platform is given those screens (tests/screens.json via conftest.py); each
window is put on one, themed for it as `inspection-station gui` does, maximised (the
main window) or sized by itself (dialogs), and every button, combo box and the status
bar must lie inside that screen without overlapping another. A control inside a scroll
area is reachable by scrolling: there the scroll area itself must be inside.
"""

from __future__ import annotations

import itertools

import pytest
from PySide6.QtCore import QPoint, QRect, QSize
from PySide6.QtWidgets import (
    QAbstractButton,
    QAbstractScrollArea,
    QApplication,
    QComboBox,
    QStatusBar,
    QWidget,
)

from inspection_station.core.station import Station
from inspection_station.gui import theme
from inspection_station.gui.app import start_station
from inspection_station.gui.engineer.settings_dialog import SettingsDialog
from inspection_station.gui.error_route import ErrorRoute
from inspection_station.gui.operator.main_window import MainWindow
from inspection_station.gui.operator.station_bridge import StationBridge
from tests.gui_station import station_settings
from tests.known_station import signed_in_actions

READY_S = 30_000
LONG_REASON = ("camera: Basler acA1920-40gc (40012345): no frame within 2000 ms; the trigger line 1 saw no "
               "edge; check the light barrier, the cable and the PLC output; the station retries every 0.5 s "
               "and logs each failed cycle as ERROR") * 3  # three lines' worth even on 4K


def _screen(size: tuple[int, int]):
    found = [s for s in QApplication.screens() if s.size() == QSize(*size)]
    assert found, f"no offscreen screen of {size}: conftest.py sets tests/screens.json"
    return found[0]


@pytest.fixture
def themed(qapp):
    """Theme the app for a screen, as make_application does; restore the test default after."""
    old_sheet, old_palette, old_style = qapp.styleSheet(), qapp.palette(), qapp.style().name()

    def apply(screen) -> float:
        size = screen.availableGeometry().size()
        return theme.apply_theme(qapp, theme.screen_scale(size.width(), size.height()))

    yield apply
    qapp.setStyleSheet(old_sheet)
    qapp.setPalette(old_palette)
    qapp.setStyle(old_style)
    theme._scale = 1.0


def _global(widget: QWidget) -> QRect:
    return QRect(widget.mapToGlobal(QPoint(0, 0)), widget.size())


def _scroll_parent(widget: QWidget) -> QWidget | None:
    """The outermost scroll area around the widget: what is inside it is reached by scrolling
    it (a table inside a scrolling tab page may sit below the fold; the page may not)."""
    outermost = None
    parent = widget.parentWidget()
    while parent is not None:
        if isinstance(parent, QAbstractScrollArea):
            outermost = parent
        parent = parent.parentWidget()
    return outermost


def assert_complete_on(window: QWidget, screen, what: str) -> None:
    area = screen.geometry()
    controls = [w for w in window.findChildren(QWidget)
                if isinstance(w, QAbstractButton | QComboBox | QStatusBar) and w.isVisible()]
    assert controls, f"{what}: nothing visible to check"
    outside, checked = [], []
    for control in controls:
        holder = _scroll_parent(control)
        rect = _global(holder if holder is not None else control)
        if not area.contains(rect):
            outside.append(f"{control.objectName() or type(control).__name__} "
                           f"{getattr(control, 'text', lambda: '')()!r} at {rect.getRect()}")
        if holder is None:
            checked.append((control, _global(control)))
    assert not outside, f"{what} on {area.width()}x{area.height()}: outside the screen: {outside}"
    overlapping = [
        (a.objectName() or getattr(a, "text", lambda: "")(), b.objectName() or getattr(b, "text", lambda: "")())
        for (a, ra), (b, rb) in itertools.combinations(checked, 2)
        if ra.intersects(rb) and not a.isAncestorOf(b) and not b.isAncestorOf(a)
    ]
    assert not overlapping, f"{what} on {area.width()}x{area.height()}: overlapping: {overlapping}"


@pytest.fixture
def running(qtbot, tmp_path):
    settings = station_settings(tmp_path)
    bridge = StationBridge()
    station = Station(settings, previews=True)
    yield settings, bridge, station
    station.stop()


def _main_window(qtbot, running, screen) -> MainWindow:
    settings, bridge, station = running
    route = ErrorRoute()
    window = MainWindow(station, bridge, settings, error_route=route)
    qtbot.addWidget(window)
    window.setScreen(screen)
    window.setGeometry(screen.availableGeometry())
    window.showMaximized()
    start_station(station, route)
    qtbot.waitUntil(lambda: window.banner.state == "READY" and window.product_combo.isVisible(), timeout=READY_S)
    return window


@pytest.mark.parametrize("size", [(1280, 720), (1366, 768), (1920, 1080), (3840, 2160)])
def test_main_window_is_complete_with_a_long_error_and_keeps_its_layout(qtbot, themed, running, size):
    screen = _screen(size)
    themed(screen)
    window = _main_window(qtbot, running, screen)
    assert_complete_on(window, screen, "main window, READY")
    image_before = _global(window.image_view)
    window.banner.show_error(LONG_REASON)  # the field report's three-line ERROR
    qtbot.wait(50)
    assert_complete_on(window, screen, "main window, long ERROR")
    assert _global(window.image_view) == image_before  # the banner's height is fixed: nothing jumps
    assert window.banner.reason.text().endswith("…") and window.banner.reason.toolTip() == LONG_REASON
    window.inspect_button.click()
    qtbot.waitUntil(lambda: window.banner.state == "OK", timeout=READY_S)
    assert _global(window.image_view) == image_before
    assert_complete_on(window, screen, "main window, OK")


@pytest.mark.parametrize("size", [(1366, 768), (1920, 1080)])
def test_settings_dialog_every_tab_and_the_pattern_editor_are_complete(qtbot, themed, running, tmp_path, size):
    screen = _screen(size)
    themed(screen)
    settings, bridge, station = running
    window = _main_window(qtbot, running, screen)
    dialog = SettingsDialog(settings, station, window, bridge=bridge,
                            actions=signed_in_actions(settings, tmp_path, station=station,
                                                      settings_path=tmp_path / "s.toml"))
    qtbot.addWidget(dialog)
    dialog.show()
    qtbot.waitUntil(dialog.isVisible)
    assert dialog.screen() is screen
    for index in range(dialog.tabs.count()):
        dialog.tabs.setCurrentIndex(index)
        qtbot.wait(30)
        assert_complete_on(dialog, screen, f"settings tab {dialog.tabs.tabText(index)}")
    # the error line and the buttons are visible together, side by side
    dialog.message.setText("Not applied — Model › Confidence threshold: expected at most 1.0, got 1.7")
    assert dialog.message.isVisible() and _global(dialog.message).bottom() >= _global(dialog.buttons).top()
    # the pattern editor: its own window, filling the screen, with a big canvas
    dialog.open_editor_button.click()
    editor_window = dialog.pattern_window
    qtbot.waitUntil(editor_window.isVisible)
    assert editor_window.screen() is screen
    qtbot.wait(30)
    assert_complete_on(editor_window, screen, "pattern editor")
    canvas = dialog.pattern_editor.graphics
    assert canvas.width() >= 0.5 * size[0] and canvas.height() >= 0.45 * size[1], canvas.size()
