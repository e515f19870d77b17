"""The operator's main window: picture, verdict, big buttons, history, statistics, status.

It holds no inspection logic and decides nothing: triggers, product choices, overrules,
the shift reset and quitting are the station's actions (core/actions.py), called as the
person signed in now; what the station reports comes through the `StationBridge` (the
core's events as Qt signals). Anything slow (overrule image writing) runs on a worker
thread; the GUI thread only paints.
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

from PySide6.QtCore import QEvent, QSignalBlocker, Qt, QTimer, Signal
from PySide6.QtGui import QAction, QKeySequence, QShortcut
from PySide6.QtWidgets import (
    QComboBox,
    QHBoxLayout,
    QLabel,
    QMainWindow,
    QMessageBox,
    QProgressBar,
    QPushButton,
    QSplitter,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

from inspection_station import __version__
from inspection_station.core import events as ev
from inspection_station.core import paths
from inspection_station.core.actions import StationActions
from inspection_station.core.cycle import CycleResult, Verdict
from inspection_station.core.detect.class_map import class_colours
from inspection_station.core.logging_setup import log_dir
from inspection_station.core.results.csv_log import log_path
from inspection_station.core.settings.model import Settings, resolve_results_dirs
from inspection_station.core.states import Component, LoadState
from inspection_station.gui import theme
from inspection_station.gui.error_route import ErrorRoute
from inspection_station.gui.operator.disk_label import DiskLabel
from inspection_station.gui.operator.history_panel import HistoryEntry, HistoryPanel
from inspection_station.gui.operator.image_view import ImageView
from inspection_station.gui.operator.part_id_field import PartIdField
from inspection_station.gui.operator.plant_label import PlantLabel
from inspection_station.gui.operator.station_bridge import StationBridge
from inspection_station.gui.operator.statistics_panel import StatisticsPanel
from inspection_station.gui.operator.verdict_banner import VerdictBanner
from inspection_station.gui.operator.warnings_indicator import WarningsIndicator
from inspection_station.gui.operator.window_access import WindowAccess
from inspection_station.gui.session_questions import SessionQuestions
from inspection_station.gui.station_protocol import StationView

DEFAULT_PEDAL_KEY = "F12"
MESSAGE_MS = 8000  # how long a status message stays
CAMERA_COLORS = {"connected": "#69f0ae", "emulated": "#ffd740", "connecting": "#90caf9",
                 "disconnected": "#ff5252", "closed": theme.MUTED}
CORRECTION = {Verdict.OK: Verdict.NOK, Verdict.NOK: Verdict.OK}  # what "wrong verdict" means


def pedal_key_sequence(name: str) -> tuple[QKeySequence, str]:
    """The QKeySequence for a Qt key name ("F12", "Space", "Ctrl+P"); F12 plus a warning if invalid."""
    sequence = QKeySequence.fromString(name or "", QKeySequence.SequenceFormat.PortableText)
    if sequence.isEmpty() or sequence[0].key() == Qt.Key.Key_unknown:
        return QKeySequence(DEFAULT_PEDAL_KEY), f"pedal key {name!r} is not a Qt key name; using {DEFAULT_PEDAL_KEY}"
    return sequence, ""


def _short(text: str, limit: int = 48) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _short_provider(provider: str) -> str:
    return provider.removesuffix("ExecutionProvider") or provider


def _big_button(text: str, name: str) -> QPushButton:
    button = QPushButton(text)
    button.setObjectName(name)
    button.setFocusPolicy(Qt.FocusPolicy.NoFocus)  # Space/Enter never "click" a focused button
    return button


class MainWindow(QMainWindow):
    open_settings = Signal()  # the engineer settings dialog connects here
    _overrule_finished = Signal(str, str)  # cycle_id, error ("" = recorded); from a worker thread

    def __init__(
        self,
        station: StationView,
        bridge: StationBridge,
        settings: Settings,
        error_route: ErrorRoute | None = None,
        parent: QWidget | None = None,
        *,
        actions: StationActions | None = None,
    ) -> None:
        super().__init__(parent)
        self.station = station
        self.bridge = bridge
        bridge.attach(station.bus)  # the station's events, as signals in this thread
        # every change the operator makes is one of the station's actions (made here for
        # tools and tests that bring none: then it saves to the user's settings file)
        self.actions = actions or StationActions.for_station(station, None)
        self.settings = settings
        self.error_route = error_route or ErrorRoute(self)
        self.questions = SessionQuestions(lambda: self._session_id(), self)
        self.last_result: CycleResult | None = None
        # The cycle whose verdict and picture are on screen (the newest, or a replayed history
        # entry); None while live. "Wrong verdict" corrects THIS one.
        self.shown_result: CycleResult | None = None
        self.settings_path: Path | None = None  # where the engineer's edits are saved (run_gui)
        self.engineer_unlocked = False  # set by a successful unlock; gates Quit in kiosk mode
        self._quit_confirmed = False
        self.refused_count = 0
        self._overruled: set[str] = set()
        self._states: dict[str, tuple[str, str]] = {}  # component -> (state, reason)
        self._cycle_running = False
        self._model_ready_once = False
        self._banner_problem: str | None = None  # "camera" / "model": the banner shows it
        self.access_ui = None  # AccessUi once attached: sign-in, permissions, audit

        self._build_widgets()
        self._build_actions()
        self._build_status_bar()
        self._connect()
        self.apply_settings(settings)
        self.banner.show_busy("STARTING", "loading the model, connecting the camera")
        self._update_busy()

    # --- construction -------------------------------------------------------------------------

    def _build_widgets(self) -> None:
        self.banner = VerdictBanner()
        self.image_view = ImageView(class_colours(self.settings.model), frame_source=self.station.take_live_frame)
        self.history = HistoryPanel(self.settings.station.history_size)
        self.statistics = StatisticsPanel(self.station.statistics)
        self.side_tabs = QTabWidget()
        self.side_tabs.addTab(self.history, "History")
        self.side_tabs.addTab(self.statistics, "Statistics")

        self.inspect_button = _big_button("INSPECT", "inspect_button")
        self.live_button = _big_button("Live", "live_button")
        self.live_button.setCheckable(True)  # lit while the view is live, dark while a cycle is held
        self.live_button.setChecked(True)
        self.overrule_button = _big_button("Wrong verdict", "overrule_button")
        self.overrule_button.setEnabled(False)
        self.overlay_button = _big_button("Boxes", "overlay_button")
        self.overlay_button.setCheckable(True)
        self.overlay_button.setChecked(True)
        self.product_combo = QComboBox()
        self.product_combo.setObjectName("product_combo")
        self.product_combo.setFocusPolicy(Qt.FocusPolicy.NoFocus)
        self.product_combo.setMinimumWidth(theme.px(220))
        self.product_combo.setVisible(False)  # only when there is a choice
        self.settings_button = _big_button("Settings", "settings_button")
        self.about_button = _big_button("About", "about_button")

        buttons = QHBoxLayout()
        buttons.setSpacing(theme.px(12))
        buttons.addWidget(self.inspect_button, 3)
        buttons.addWidget(self.live_button, 1)
        buttons.addWidget(self.overrule_button, 2)
        buttons.addWidget(self.overlay_button, 1)
        buttons.addWidget(self.product_combo, 2)
        buttons.addStretch(0)
        buttons.addWidget(self.settings_button, 1)
        buttons.addWidget(self.about_button, 1)

        self.splitter = QSplitter(Qt.Orientation.Horizontal)
        self.splitter.addWidget(self.image_view)
        self.splitter.addWidget(self.side_tabs)
        self.splitter.setStretchFactor(0, 3)
        self.splitter.setStretchFactor(1, 1)
        self.splitter.setSizes([theme.px(1300), theme.px(520)])
        self.banner.set_scale(theme.current_scale())

        central = QWidget()
        layout = QVBoxLayout(central)
        layout.setContentsMargins(theme.px(10), theme.px(8), theme.px(10), theme.px(4))
        layout.setSpacing(theme.px(8))
        layout.addWidget(self.banner)
        layout.addWidget(self.splitter, 1)
        self.part_id_field = PartIdField(self.station, self.error_route.report)
        self.part_id_field.setVisible(False)  # only where the settings ask for scanned ids
        self.part_id_field.taken.connect(
            lambda _id: self.settings.part_id.inspect_on_scan and self.inspect("scanner"))
        layout.addWidget(self.part_id_field)
        layout.addLayout(buttons)
        self.setCentralWidget(central)

    def _build_actions(self) -> None:
        menu = self.menuBar()
        station_menu = menu.addMenu("&Station")
        self.inspect_action = station_menu.addAction("Inspect", lambda: self.inspect("software"))
        self.live_action = station_menu.addAction("Live view", self.go_live)
        self.overrule_action = station_menu.addAction("Wrong verdict …", self.request_overrule)
        station_menu.addSeparator()
        self.quit_action = station_menu.addAction("Quit …", QKeySequence.StandardKey.Quit, self.request_quit)
        view_menu = menu.addMenu("&View")
        self.overlay_action = view_menu.addAction("Show boxes and slots")
        self.overlay_action.setCheckable(True)
        self.overlay_action.setChecked(True)
        self.fullscreen_action = view_menu.addAction("Full screen (F11)", self.toggle_fullscreen)
        engineer_menu = menu.addMenu("&Engineer")
        self.engineer_menu = engineer_menu
        self.settings_action = QAction("Settings …", self)
        engineer_menu.addAction(self.settings_action)
        help_menu = menu.addMenu("&Help")
        help_menu.addAction("About …", self.show_about)

        # Work wherever the focus is inside the window (a USB pedal types this key).
        self.pedal_shortcut = QShortcut(self)
        self.pedal_shortcut.setContext(Qt.ShortcutContext.ApplicationShortcut)
        self.pedal_shortcut.setAutoRepeat(False)  # a held pedal is one trigger
        self.fullscreen_shortcut = QShortcut(QKeySequence("F11"), self)
        self.fullscreen_shortcut.setContext(Qt.ShortcutContext.ApplicationShortcut)

    def _build_status_bar(self) -> None:
        bar = self.statusBar()
        self.message_label = QLabel()
        self.message_label.setObjectName("message_label")
        self.busy_bar = QProgressBar()
        self.busy_bar.setRange(0, 0)
        self.busy_bar.setTextVisible(False)
        self.busy_bar.setFixedWidth(theme.px(140))
        self.warnings = WarningsIndicator(self)
        self.camera_label = QLabel("Camera: …")
        self.model_label = QLabel("Model: …")
        self.pattern_label = QLabel("Product: …")
        self.log_label = QLabel("Log: …")
        self.disk_label = DiskLabel()  # a low disk: stays until the space is back
        self.plant_label = PlantLabel()  # plant results: SENDER DOWN / LOW BUFFER (gui/app.py LineRunner feeds it)
        bar.addWidget(self.message_label, 1)
        for widget in (self.warnings, self.busy_bar, self.camera_label, self.model_label, self.pattern_label,
                       self.log_label, self.disk_label, self.plant_label):
            bar.addPermanentWidget(widget)
        self._message_timer = QTimer(self)
        self._message_timer.setSingleShot(True)
        self._message_timer.timeout.connect(lambda: self.message_label.setText(""))

    def _connect(self) -> None:
        b = self.bridge
        b.result_ready.connect(self.show_result)
        b.state_changed.connect(self.show_state)
        b.error.connect(lambda message: self.error_route.report(message))
        b.refused.connect(self.show_refused)
        b.notice.connect(self.show_message)
        self.error_route.reported.connect(self.show_error)

        self.inspect_button.clicked.connect(lambda: self.inspect("button"))
        self.live_button.clicked.connect(self.go_live)
        self.image_view.mode_changed.connect(lambda mode: self.live_button.setChecked(mode == "live"))
        self.overrule_button.clicked.connect(self.request_overrule)
        self.overlay_button.toggled.connect(self.set_overlay_visible)
        self.overlay_action.toggled.connect(self.set_overlay_visible)
        self.product_combo.currentTextChanged.connect(self.select_product)
        self.settings_button.clicked.connect(self.open_settings)
        self.settings_action.triggered.connect(self.open_settings)
        self.about_button.clicked.connect(self.show_about)
        self.pedal_shortcut.activated.connect(lambda: self.inspect("pedal"))
        self.fullscreen_shortcut.activated.connect(self.toggle_fullscreen)
        self.history.entry_selected.connect(self.show_history_entry)
        self.statistics.reset_button.clicked.connect(self.request_reset_shift)
        self._overrule_finished.connect(self._overrule_done)
        b.event.connect(self.questions.on_event)
        b.event.connect(self.show_event)

    def apply_settings(self, settings: Settings) -> None:
        """GUI-side settings (pedal key, history size, title); the station applies its own."""
        self.settings = settings
        st = settings.station
        demo = "  (demo)" if self.actions.state.snapshot().demo else ""
        self.setWindowTitle(f"{st.project_name} — {st.name}{demo}")
        sequence, problem = pedal_key_sequence(st.pedal_key)
        self.pedal_shortcut.setKey(sequence)
        if problem:
            self.error_route.report(problem)
        self.history.size = st.history_size
        self.image_view.overlay.set_class_colors(class_colours(settings.model))
        self.inspect_button.setToolTip(f"Inspect the part (foot pedal: {sequence.toString()})")
        self.part_id_field.setVisible(settings.part_id.source in ("scanner", "scanner_or_image"))
        self._update_log_label()

    # --- operator actions ----------------------------------------------------------------------

    def inspect(self, source: str = "button") -> bool:
        """Trigger one cycle; a refusal comes back through the bridge's `refused` and is shown."""
        accepted = self.actions.inspect(self.actions.gui_actor(), source).ok
        if accepted:
            self._cycle_running = True
            self.banner.show_busy("INSPECTING")
            self._update_busy()
        return accepted

    def go_live(self) -> None:
        """Live view, and the banner back to the live state (a held verdict is not current)."""
        self._live_view()
        if self.banner.replay:
            self.show_message("Back to the live view")  # the "Replaying cycle …" line is over
        self.shown_result = None
        self._update_overrule_button()
        if self._banner_problem is None:
            self.banner.show_ready(self._live_detail())

    def _live_view(self) -> None:
        self.live_button.setChecked(True)  # a click on the lit button must not switch it off
        self.image_view.go_live()
        self.station.set_live(True)

    def _live_detail(self) -> str:
        last = self.last_result
        tail = f"  ·  last: {last.verdict} at {last.timestamp:%H:%M:%S}" if last is not None else ""
        return "Live: place the part and press INSPECT" + tail

    def set_overlay_visible(self, visible: bool) -> None:
        for control in (self.overlay_button, self.overlay_action):
            with QSignalBlocker(control):
                control.setChecked(visible)
        self.image_view.set_overlay_visible(visible)

    def select_product(self, name: str) -> None:
        """The operator's choice: the station's product switch (saved, audited); the list then
        shows what the station really runs, whatever the outcome."""
        if not name or (self.station.active_pattern_set and self.station.active_pattern_set.name == name):
            return
        if self.access_ui is not None and not self.access_ui.permit("product_switch", self):
            self._refresh_products()  # refused: the list shows what is really active
            return
        outcome = self.actions.select_product(self.actions.gui_actor(), name)
        if outcome.ok:
            self.show_message(outcome.message)
        else:
            self.error_route.report(outcome.message)
        self._refresh_products()

    def attach_access(self, access_ui) -> None:
        """Accounts (gui/engineer/access_ui.py): sign-in menu, who is signed in, audited actions.
        The sign-in state is the station's: the access control keeps its session there."""
        control = access_ui.control
        control.bind_holder(self.actions.state)
        if control is not self.actions.access:
            self.actions = StationActions.for_station(self.station, self.actions.store.path, access=control)
        self.access_ui = access_ui
        self.window_access = WindowAccess(self, access_ui)

    def _session_id(self) -> str | None:
        session = self.actions.state.session
        return session.id if session is not None else None

    def request_overrule(self) -> None:
        """Ask the operator to confirm that the verdict ON SCREEN was wrong (non-blocking dialog);
        the question names that cycle: id, time and verdict."""
        result = self.shown_result
        if result is None or result.verdict not in CORRECTION or result.cycle_id in self._overruled:
            return
        corrected = CORRECTION[result.verdict]
        box = QMessageBox(self)
        box.setWindowTitle("Wrong verdict")
        box.setIcon(QMessageBox.Icon.Question)
        box.setText(
            f"Cycle {result.cycle_id} at {result.timestamp:%H:%M:%S}: the station said {result.verdict}."
            f"\n\nWas this part really {corrected}?"
        )
        box.setInformativeText("The image is kept for review and the log gets a correction row.")
        confirm = box.addButton(f"Yes, it is {corrected}", QMessageBox.ButtonRole.YesRole)
        cancel = box.addButton("Cancel", QMessageBox.ButtonRole.RejectRole)
        box.setDefaultButton(cancel)  # a stray Enter (or pedal key) never corrects a verdict
        box.setEscapeButton(cancel)
        box.setWindowModality(Qt.WindowModality.WindowModal)
        box.finished.connect(lambda _code: self._overrule_answered(box.clickedButton() is confirm, result, corrected))
        self.overrule_dialog, self.overrule_confirm = box, confirm
        box.open()

    def _overrule_answered(self, confirmed: bool, result: CycleResult, corrected: Verdict) -> None:
        if not confirmed:
            return
        outcome = self.actions.overrule(self.actions.gui_actor(), result.cycle_id, str(corrected),
                                        note="operator: wrong verdict")
        if not outcome.ok:
            self.error_route.report(outcome.message)
            return
        self._overruled.add(result.cycle_id)
        self._update_overrule_button()
        self.show_message(outcome.message)

        def done(f) -> None:  # the station's I/O thread; a failure reached the error route already
            failed = f.cancelled() or f.exception() is not None
            self._overrule_finished.emit(result.cycle_id, "failed" if failed else "")

        outcome.value.add_done_callback(done)

    def _overrule_done(self, cycle_id: str, error: str) -> None:
        if error:
            self._overruled.discard(cycle_id)
            self._update_overrule_button()
        else:
            self.show_message(f"Correction of cycle {cycle_id} recorded; image kept for review")
            self.statistics.refresh()

    def confirm(self, title: str, question: str, yes: str) -> bool:
        """A yes/cancel question (tests replace it); the safe answer is the default. Bound to
        the session that asked: signing out meanwhile closes it unanswered."""
        return self.questions.ask(self, title, question, yes)[0]

    def request_reset_shift(self) -> bool:
        """Reset shift: the configured role (a sign-in if needed), a question, the action."""
        if self.access_ui is not None and not self.access_ui.permit("reset_shift", self):
            return False
        session = self._session_id()  # the question belongs to whoever is signed in now
        snap = self.station.statistics.snapshot()
        question = f"Zero this shift's counts ({snap.cycles} cycles since {snap.since:%H:%M})?"
        if not self.confirm("Reset shift", question, "&Reset the counts"):
            return False
        outcome = self.actions.reset_shift(self.actions.gui_actor(), session_id=session)
        if not outcome.ok:
            self.error_route.report(f"shift not reset: {outcome.message}")
            return False
        return True

    def request_quit(self) -> bool:
        """Quit after a confirmation; in kiosk mode only an engineer (signed in now) may."""
        session = self._session_id()
        allowed = self.actions.may_quit(self.actions.gui_actor())
        if not allowed.ok:
            self.show_message("Kiosk mode: quitting needs an engineer to sign in (Engineer ▸ Sign in)", error=True)
            return False
        running = "A cycle is running. " if self._cycle_running else ""
        if not self.confirm("Quit", f"{running}Stop the station and close the window?", "&Quit the station"):
            return False
        if not self.actions.may_quit(self.actions.gui_actor(), session_id=session if self.settings.station.kiosk
                                     else None).ok:
            return False  # the engineer who was asked has been signed out meanwhile
        self._quit_confirmed = True
        self.close()
        return True

    def closeEvent(self, event) -> None:  # noqa: N802 (Qt)
        """The window manager's close and Alt+F4 (spontaneous: from outside the program) are
        Quit: asked like Ctrl+Q, and in kiosk mode engineer-only. The program's own close()
        (after Quit, at shutdown) goes through."""
        if event.spontaneous() and not self._quit_confirmed:
            event.ignore()
            QTimer.singleShot(0, self.request_quit)  # not inside the window manager's event
            return
        super().closeEvent(event)

    def changeEvent(self, event) -> None:  # noqa: N802 (Qt)
        """Kiosk mode: a minimise (window manager, keyboard) is undone at once."""
        super().changeEvent(event)
        if (event.type() == QEvent.Type.WindowStateChange and self.settings.station.kiosk
                and self.windowState() & Qt.WindowState.WindowMinimized):
            QTimer.singleShot(0, self.enter_kiosk)

    def _engineer_present(self) -> bool:
        """An engineer or admin is signed in now (the idle lock ends it)."""
        return self.actions.permits(self.actions.gui_actor(), "quit")

    def add_warning(self, text: str) -> None:
        """A settings or pattern warning: listed in the status bar until the station stops."""
        self.warnings.add(text)

    def toggle_fullscreen(self) -> None:
        """F11; in kiosk mode the window stays full screen (only Quit, by an engineer, leaves)."""
        if self.settings.station.kiosk:
            self.enter_kiosk()
            if self.isFullScreen():
                self.show_message("Kiosk mode: the station stays full screen", error=True)
            return
        if self.isFullScreen():
            self.showNormal()
            self.menuBar().setVisible(True)
        else:
            self.showFullScreen()

    def enter_kiosk(self) -> None:
        """Full screen without the menu bar (kiosk mode; also what undoes a minimise)."""
        self.menuBar().setVisible(not self.settings.station.kiosk)
        self.showFullScreen()
        self.raise_()
        self.activateWindow()

    def show_about(self) -> None:
        st = self.settings.station
        detector = self.station.detector
        rows = [
            ("Station", st.name),
            ("Version", __version__),
            ("Author", st.author),
            ("Status", st.status),
            ("Link", f'<a href="{st.link}" style="color:#4fc3f7">{st.link}</a>' if st.link else ""),
            ("Model", detector.model_path.name if detector else "not loaded"),
            ("Provider", detector.provider if detector else "–"),
            ("Data root", f"{paths.data_root()} ({paths.data_root_rule()})"),
            ("Logs", str(log_dir())),
        ]
        table = "".join(f"<tr><td><b>{k}</b>&nbsp;&nbsp;</td><td>{v}</td></tr>" for k, v in rows if v)
        info = f"<p>{st.info_text}</p>" if st.info_text else ""
        box = QMessageBox(self)
        box.setWindowTitle(f"About {st.project_name}")
        box.setTextFormat(Qt.TextFormat.RichText)
        box.setText(f"<h2>{st.project_name}</h2>{info}<table>{table}</table>")
        box.setTextInteractionFlags(Qt.TextInteractionFlag.TextBrowserInteraction)
        box.setStandardButtons(QMessageBox.StandardButton.Close)
        self.about_box = box
        box.open()

    # --- what the station reports ----------------------------------------------------------------

    def show_result(self, result: CycleResult) -> None:
        self._cycle_running = False
        self.last_result = self.shown_result = result
        if self._banner_problem is None or result.verdict != Verdict.ERROR:
            self.banner.show_result(result)
        else:  # a known problem (broken pattern, no model) stays named, with this cycle's reason
            self.banner.show_error(result.error or "the cycle failed")
        frame = result.frame
        image, width, height = (frame.rgb, frame.width, frame.height) if frame is not None else (None, 0, 0)
        self._hold(image, result, width, height)
        self.history.add_result(result)
        self.statistics.add_result(result)
        self.part_id_field.cycle_done(result)
        self._update_overrule_button()
        self._update_busy()
        self._update_log_label()

    def show_history_entry(self, entry: HistoryEntry) -> None:
        """Replay a past cycle: its picture, its verdict marked REPLAY with its time."""
        self._hold(entry.preview, entry.result, entry.width, entry.height)
        self.shown_result = entry.result
        self.banner.show_result(entry.result, replay=True)
        self._update_overrule_button()
        self.show_message(f"Replaying cycle {entry.result.cycle_id}; press Live or INSPECT to go on")

    def show_refused(self, message: str) -> None:
        self.refused_count += 1
        self.banner.flash(f"REFUSED ({self.refused_count}): a cycle is still running")
        self.show_message(message or "trigger refused: a cycle is still running", error=True)
        self.statistics.refresh()

    def show_state(self, component: str, state: str, reason: str) -> None:
        self._states[component] = (state, reason)
        if component == "camera":
            color = CAMERA_COLORS.get(state, theme.TEXT)
            shown = _short(reason) if state == "disconnected" else ""  # the rest is in the tooltip
            self.camera_label.setText(f"Camera: {state}" + (f" – {shown}" if shown else ""))
            self.camera_label.setToolTip(reason)
            self.camera_label.setStyleSheet(f"color: {color};")
            if state == "disconnected":
                self._banner_problem = "camera"
                self.banner.show_error(f"Camera disconnected: {reason or 'no camera'} — reconnecting …")
                self.show_message(f"Camera disconnected: {reason}", error=True)
            elif state in ("connected", "emulated") and self._banner_problem == "camera":
                self._banner_problem = None
                self._show_idle()
                self.show_message(f"Camera back: {reason}")
        elif component == "model":
            if state == "ready":
                detector = self.station.detector
                text = f"{detector.model_path.name} · {_short_provider(detector.provider)}" if detector else reason
                self.model_label.setText(f"Model: {text}")
                self.model_label.setToolTip(reason)
                self.model_label.setStyleSheet("")
                first = not self._model_ready_once
                self._model_ready_once = True
                # the first "ready" ends STARTING, but never hides a camera or pattern that is down
                if self._banner_problem == "model" or (first and self._banner_problem is None):
                    self._banner_problem = None
                    self._show_idle()
            elif state == "loading":
                self.model_label.setText(f"Model: loading {Path(reason).name} …")
            elif state == "error":
                self.model_label.setText("Model: not loaded" if self.station.detector is None else "Model: new one failed")
                self.model_label.setToolTip(reason)
                self.model_label.setStyleSheet(f"color: {theme.VERDICT_TEXT['NOK']};")
                if self.station.detector is None:
                    self._banner_problem = "model"
                    self.banner.show_error(f"Model not loaded: {reason}")
        elif component == Component.CYCLE and state == LoadState.ERROR:
            # the cycle raised and gave no result (the error route has the reason)
            self._cycle_running = False
            self.banner.show_error(f"Inspection failed: {reason}")
        elif component == Component.DISK:
            self.disk_label.show_state(state, reason)
        elif component == "patterns":
            self._refresh_products()
            for note in self.station.pattern_warnings:  # reading notes and files that did not load
                self.warnings.add(f"patterns: {note}")
            if state == "ready" and "not loaded" in reason:  # name the pattern files that failed
                self.pattern_label.setToolTip(f"{self.pattern_label.toolTip()}\n{reason}".strip())
            if state == "error":
                self.pattern_label.setStyleSheet(f"color: {theme.VERDICT_TEXT['NOK']};")
                self.pattern_label.setText("Product: none")
                self.pattern_label.setToolTip(reason)
                self.warnings.add(f"patterns: {reason}")
                if self.station.active_pattern_set is None and self._banner_problem != "camera":
                    # never READY on a pattern that will not load: the first press would be ERROR
                    self._banner_problem = "patterns"
                    self.banner.show_error(f"Pattern not loaded: {reason}")
            elif self._banner_problem == "patterns":
                self._banner_problem = None
                self._show_idle()
        self._update_busy()

    def show_event(self, event) -> None:
        """The station's typed events (GUI thread): whatever route changed it, the window follows."""
        if isinstance(event, ev.SettingsApplied):
            self.apply_settings(event.new)
            if event.actor is None and event.reason:  # the station's own change (a failed model load)
                self.show_message(event.reason, error=True)
        elif isinstance(event, ev.ProductSelected):
            self._refresh_products()
        elif isinstance(event, ev.HoldChanged):
            self._show_hold(event.reason if event.on_hold else "")
        elif isinstance(event, ev.ShiftReset):
            self.statistics.shift_reset()
            self.show_message(f"Shift statistics reset by {event.actor.user}")

    def _show_hold(self, reason: str) -> None:
        if reason:
            self._banner_problem = "hold"
            self.banner.show_error(f"ON HOLD: {reason} — triggers are refused until an engineer releases it")
        elif self._banner_problem == "hold":
            self._banner_problem = None
            self._show_idle()

    def show_error(self, message: str, details: str = "") -> None:
        """The one error route's end: status bar, the warnings list, and a dialog for
        unexpected exceptions."""
        self.show_message(message, error=True)
        self.warnings.add(message)
        if details:
            box = getattr(self, "error_dialog", None)
            if box is None:
                box = QMessageBox(self)
                box.setIcon(QMessageBox.Icon.Warning)
                box.setWindowTitle("Unexpected error")
                box.setStandardButtons(QMessageBox.StandardButton.Close)
                self.error_dialog = box
            box.setText(message + "\n\nThe station keeps running. Please tell the engineer.")
            box.setDetailedText(details)
            box.show()

    def show_message(self, message: str, error: bool = False) -> None:
        self.message_label.setText(message)
        self.message_label.setToolTip(message)
        self.message_label.setStyleSheet(f"color: {theme.VERDICT_TEXT['NOK'] if error else theme.TEXT};")
        self._message_timer.start(MESSAGE_MS)

    # --- helpers -----------------------------------------------------------------------------

    def _hold(self, image, result: CycleResult, width: int, height: int) -> None:
        """Show a cycle's picture with its boxes until the next cycle or Live; without a picture
        (the camera failed) go live: never leave another cycle's boxes under this verdict."""
        if image is None:
            self._live_view()  # the banner keeps this cycle's verdict and reason
            return
        self.image_view.hold(image, result.detections, result.match, width, height)
        self.station.set_live(False)  # nobody looks at live frames while a cycle is held

    def _show_idle(self) -> None:
        shown = self.shown_result
        if shown is not None:
            self.banner.show_result(shown, replay=shown is not self.last_result)
        else:
            self.banner.show_ready(self._live_detail() if self.last_result is not None else
                                   "Place the part and press INSPECT")

    def _refresh_products(self) -> None:
        names = list(self.station.pattern_sets)
        active = self.station.active_pattern_set
        with QSignalBlocker(self.product_combo):  # filling the list is not a choice
            self.product_combo.clear()
            self.product_combo.addItems(names)
            if active is not None:
                self.product_combo.setCurrentText(active.name)
        self.product_combo.setVisible(len(names) > 1)
        self.pattern_label.setStyleSheet("")
        self.pattern_label.setText(f"Product: {active.name if active else 'none'}")
        self.pattern_label.setToolTip(str(active.path) if active is not None and active.path else "")

    def _update_overrule_button(self) -> None:
        result = self.shown_result
        can = result is not None and result.verdict in CORRECTION and result.cycle_id not in self._overruled
        self.overrule_button.setEnabled(can)
        self.overrule_action.setEnabled(can)

    def _update_busy(self) -> None:
        loading = any(state in ("loading", "connecting") for state, _ in self._states.values())
        self.busy_bar.setVisible(loading or self._cycle_running)

    def _update_log_label(self) -> None:
        recorder = self.station.recorder
        path = None
        if recorder is not None:
            path = recorder.log.current_path
        if path is None:  # nothing written yet today: where the first row will go
            path = log_path(
                resolve_results_dirs(self.settings.results)[0],
                datetime.now().astimezone().date(),
                station=self.settings.station.name,
            )
        self.log_label.setText(f"Log: {Path(path).name}")
        self.log_label.setToolTip(str(path))
