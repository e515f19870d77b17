"""Application setup: theme, one error route, the station and its window.

`run_gui(settings)` is what `inspection-station gui` calls. The Station starts on its
own thread (results log seeding, camera open and model load are slow) so the window
paints at once and shows progress instead of freezing.
"""

from __future__ import annotations

import logging
import sys
import threading
from collections.abc import Sequence
from concurrent.futures import Future
from pathlib import Path

from PySide6.QtCore import QTimer
from PySide6.QtGui import QIcon
from PySide6.QtWidgets import QApplication

from inspection_station.core import paths
from inspection_station.core.events import Notice
from inspection_station.core.settings.model import Settings
from inspection_station.gui.engineer.access_ui import AccessUi, station_access
from inspection_station.gui.error_route import ErrorRoute, install_exception_hooks
from inspection_station.gui.operator.main_window import MainWindow
from inspection_station.gui.operator.station_bridge import StationBridge
from inspection_station.gui.screen_fit import fit_to_screen
from inspection_station.gui.single_instance import RunningWindowServer
from inspection_station.gui.theme import apply_theme
from inspection_station.gui.window_geometry import restore_geometry, save_geometry

log = logging.getLogger(__name__)


def make_application(argv: Sequence[str] | None = None) -> QApplication:
    app = QApplication.instance() or QApplication(list(argv or sys.argv[:1]))
    app.setApplicationName("Inspection Station")
    app.setOrganizationName("InspectionStation")
    icon = paths.resources_dir() / "icons" / "app.png"
    if icon.is_file():
        app.setWindowIcon(QIcon(str(icon)))
    apply_theme(app)
    return app


def start_station(station, route: ErrorRoute | None = None, line: LineRunner | None = None) -> Future:
    """`Station.launch()`: start-up and live view on the station's own I/O thread.

    A failed start reaches the station's `on_error` (through the bridge to the window's
    error route) like every other station failure; `route` is only kept for callers
    of the older signature. `line`: the station's line integration ([line] API, metrics,
    PLC outputs), started once the station is up."""
    del route
    launched = station.launch(live=True)
    if line is not None:
        launched.add_done_callback(lambda f: None if f.cancelled() or f.exception() else line.start())
    return launched


def open_settings_dialog(
    window: MainWindow, station, bridge: StationBridge, settings_path: Path | None = None, access_ui=None,
    line: LineRunner | None = None,
) -> None:
    """Sign-in, then the settings dialog (gui/settings_dialog.py owns that flow). What applied
    settings change in the window, the logging and the line integration follows the station's
    SettingsApplied event (`follow_settings`), whichever route applied them."""
    from inspection_station.gui.engineer.settings_dialog import open_engineer_settings

    del settings_path, line  # the window's actions know the file; the line follows the event
    open_engineer_settings(window, window.settings, station, bridge=bridge, access_ui=access_ui,
                           actions=window.actions)


def follow_settings(bridge: StationBridge, line: LineRunner | None = None):
    """Settings applied by any route: a new log level or size now, [line] replaced."""
    from inspection_station.core.events import SettingsApplied

    def on_event(event) -> None:
        if not isinstance(event, SettingsApplied):
            return
        if event.new.logging != event.old.logging:
            from inspection_station.core.logging_setup import setup_logging

            setup_logging(event.new.logging)
        if line is not None:
            line.apply(event.new)

    bridge.event.connect(on_event)
    return on_event


class LineRunner:
    """The station's line integration in the GUI ([line]: API, metrics, PLC outputs; [plant]:
    the plant's database and broker, whose warnings the status bar's plant label shows).

    The use case is core's `LineServices` (as `serve` uses it); this only starts it after the
    station, replaces it when the engineer changes the [line] settings, and stops it with
    the window. Nothing runs while [line] enables nothing.
    """

    def __init__(self, station, window: MainWindow, route: ErrorRoute) -> None:
        self.station = station
        self.window = window
        self.route = route
        self.services = None
        self._line = None
        self._lock = threading.Lock()  # start (worker thread) vs. apply / stop (GUI thread)

    def prepare(self, settings: Settings) -> None:
        """GUI thread: check the settings and hook the metrics in; shows why when refused."""
        from inspection_station.core.errors import StationError
        from inspection_station.core.line.plant.service import plant_enabled
        from inspection_station.core.line.services import LineServices

        line = settings.line
        self._line = (line, settings.plant, settings.station.name)
        if not (line.api_enabled or line.metrics_enabled or line.plc_enabled or line.opcua_enabled
                or line.recipe_select_enabled or plant_enabled(settings.plant)):
            return
        try:
            # the plant senders log their problems themselves: to the screen only, not logged twice
            self.services = LineServices(self.station, line, actions=self.window.actions, plant=settings.plant,
                                         on_problem=lambda message: self.route.reported.emit(message, ""),
                                         on_notice=lambda message: self.station.bus.publish(Notice(message)))
        except StationError as exc:
            self.window.show_message(f"line integration off: {exc}", error=True)
            return
        plant = self.services.plant
        self.window.plant_label.watch(plant.status if plant is not None else None)

    def start(self) -> list[str]:
        """After `station.start()` (any thread); problems go to the error route."""
        with self._lock:
            if self.services is None:
                return []
            try:
                said = self.services.start()
            except Exception as exc:  # a port in use: the station inspects on, the window says why
                self.route.report(f"line integration not started: {exc}")
                return []
        for line in said:
            log.info("line integration: %s", line)
            if ": error:" in line:
                self.route.report(line)
        return said

    def apply(self, settings: Settings) -> None:
        """GUI thread, after the settings dialog: a changed [line] replaces what runs."""
        if (settings.line, settings.plant, settings.station.name) == self._line:
            return
        self.stop()
        self.prepare(settings)
        if self.services is not None and self.station.camera is not None:  # the station runs
            threading.Thread(target=self.start, name="line-start", daemon=True).start()

    def stop(self) -> None:
        with self._lock:
            if self.services is not None:
                self.window.plant_label.watch(None)
                self.services.stop()
                self.services = None


def run_gui(
    settings: Settings,
    *,
    demo: bool = False,
    settings_path: str | Path | None = None,
    warnings: Sequence[str] = (),
    argv: Sequence[str] | None = None,
    instance=None,
    early=None,
) -> int:
    """Show the operator window on `settings` until it is closed; returns the exit code.

    `instance`: the station's lock (core/instance_lock.py), held by the caller; a second
    start asks through its name for this window to come to the front.
    `early`: (station, replay, launched) from commands/gui.start_station_early, a station
    already starting while Qt was imported; what it published meanwhile is replayed to the
    window's bridge once the window listens."""
    from inspection_station.core.actions import StationActions
    from inspection_station.core.detect.runtimes import set_interactive
    from inspection_station.core.state import StationState
    from inspection_station.core.station import Station

    app = make_application(argv)
    set_interactive(True)  # [model] spinning = "auto": inference threads leave this window its CPU
    route = ErrorRoute()
    uninstall_hooks = install_exception_hooks(route)
    bridge = StationBridge()
    if early is not None:
        station, replay, launched = early
        bridge.start_from(replay)  # the bridge takes the early events over once the window listens
    else:
        station = Station(settings, state=StationState(settings, demo=demo), previews=True)
        launched = None
    path = Path(settings_path) if settings_path else None
    # one owner of what the station is, one set of actions for every route; the sign-in lives
    # in the station's state; edits are saved to `path` (the demo's own file in --demo)
    access = station_access(settings, holder=station.state)
    actions = StationActions.for_station(station, path, access=access)
    window = MainWindow(station, bridge, settings, error_route=route, actions=actions)
    line = LineRunner(station, window, route)
    line.prepare(settings)
    follow_settings(bridge, line)
    window.settings_path = path
    access_ui = AccessUi(access, window)
    window.attach_access(access_ui)
    window.open_settings.connect(lambda: open_settings_dialog(window, station, bridge, path, access_ui, line))
    for warning in warnings:  # tolerant settings loading: started anyway, said why (and keeps saying)
        window.add_warning(f"settings: {warning}")
        window.show_message(f"settings: {warning}", error=True)
    if settings.station.kiosk:
        window.enter_kiosk()
    elif restore_geometry(window):  # the only per-user setting: where this user had the window
        window.show()
    else:
        fit_to_screen(window, 0.9)  # what un-maximising returns to: never larger than the screen
        window.showMaximized()
    second_start = RunningWindowServer(instance.ipc_name, window) if instance is not None else None
    if launched is None:
        QTimer.singleShot(0, lambda: start_station(station, route, line))
    else:
        launched.add_done_callback(lambda f: None if f.cancelled() or f.exception() else threading.Thread(
            target=line.start, name="line-start", daemon=True).start())
    # first run: say that an administrator is needed, explicitly (never the first to press Settings)
    QTimer.singleShot(0, lambda: access_ui.offer_first_admin(window, modal=False))
    try:
        return int(app.exec())
    finally:
        if not settings.station.kiosk:
            save_geometry(window)
        if second_start is not None:
            second_start.close()
        line.stop()
        access_ui.close()
        station.stop()
        uninstall_hooks()
