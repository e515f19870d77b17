"""The engineer settings dialog: camera, model, patterns, results and station tabs.

Applying builds a new `Settings` and checks it (field named on refusal); saving,
auditing, applying and reverting a failed model are core's `SettingsStore`. The station
reconfigures the camera and loads a new model off the GUI thread; this dialog only shows
the outcome and the states the station reports. Its parts are widgets of one job each:
settings_form (generated fields), device_picker, provider_list, class_table, and the
pattern editor in its own window (pattern_editor_window).
"""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QSize, Qt, Signal, Slot
from PySide6.QtWidgets import (
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QScrollArea,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

from inspection_station.core.errors import ConfigError, StationError
from inspection_station.core.settings import model as config
from inspection_station.core.settings.audit import AuditLog
from inspection_station.core.settings.checks import check_settings
from inspection_station.core.settings.model import Settings
from inspection_station.core.settings.session import AccessControl
from inspection_station.core.settings.store import SettingsStore
from inspection_station.gui import theme
from inspection_station.gui.engineer.class_table import ClassTable
from inspection_station.gui.engineer.device_picker import DevicePicker
from inspection_station.gui.engineer.login_dialog import ChangeOwnPasswordDialog
from inspection_station.gui.engineer.provider_list import ProviderList
from inspection_station.gui.engineer.records_tab import records_tab
from inspection_station.gui.engineer.settings_fields import (
    CAMERA_FIELDS,
    LINE_FIELDS,
    MODEL_FIELDS,
    PATTERN_FIELDS,
    RESULTS_FIELDS,
    STATION_FIELDS,
    STATION_NAME_FIELD,
    specs_for,
)
from inspection_station.gui.engineer.settings_form import SectionForm
from inspection_station.gui.engineer.unlock_dialog import ChangePasswordDialog
from inspection_station.gui.screen_fit import fit_to_screen
from inspection_station.gui.station_protocol import StationView, model_class_names
from inspection_station.gui.theme import ERROR_STYLE, OK_STYLE


class SettingsInputError(StationError):
    """A value in the dialog is not acceptable; names the tab and field."""

    def __init__(self, section: str, key: str, message: str) -> None:
        self.section, self.key = section, key
        super().__init__(message)


def _scroll(widget: QWidget) -> QScrollArea:
    area = QScrollArea()
    area.setWidgetResizable(True)
    area.setWidget(widget)
    return area


class SettingsDialog(QDialog):
    """Edit, check, save and apply the station settings; host of the pattern editor.

    `station` may be None (tests, or editing settings with no station running). Connect
    the station's state reports to `show_state` (done for you when `bridge` is given).
    """

    settings_applied = Signal(object)  # the new Settings, after saving and applying

    def __init__(
        self,
        settings: Settings,
        station: StationView | None = None,
        parent: QWidget | None = None,
        *,
        settings_path: str | Path | None = None,
        audit: AuditLog | None = None,
        bridge=None,
        history=None,
        access: AccessControl | None = None,
    ) -> None:
        super().__init__(parent)
        self.setObjectName("engineer_dialog")  # theme.py: compact desk-sized controls
        self.settings = settings
        self.station = station
        self.settings_path = Path(settings_path) if settings_path else config.user_config_path()
        self.access = access  # who is signed in: the audit names them; None = legacy single password
        actor = access.actor if access is not None else None  # the title names who and which role
        self.setWindowTitle(f"Station settings ({actor.user}, {actor.role})" if actor is not None and
                            actor.role != "operator" else "Station settings (engineer)")
        if audit is None and access is not None:
            audit = access.audit.as_actor(access.actor)
        self.audit = audit or AuditLog(who=f"engineer@{settings.station.name}")
        # save -> audit -> apply -> revert is core's use case; this dialog only shows it
        self.store = SettingsStore(settings, self.settings_path, self.audit, station)
        self.forms: list[SectionForm] = []

        self.tabs = QTabWidget(self)
        self.tabs.addTab(_scroll(self._camera_tab()), "Camera")
        self.tabs.addTab(_scroll(self._model_tab()), "Model")
        self.tabs.addTab(_scroll(self._patterns_tab(history)), "Patterns")
        if access is not None and not access.allowed("patterns"):
            self.tabs.setTabEnabled(self.tabs.count() - 1, False)
            self.tabs.setTabToolTip(self.tabs.count() - 1, f"needs the role {access.needed_role('patterns')}")
        self.tabs.addTab(_scroll(self._results_tab()), "Results")
        self.tabs.addTab(_scroll(self._station_tab()), "Station")
        self.tabs.addTab(_scroll(records_tab(self)), "Access and records")
        self.tabs.addTab(_scroll(self._line_tab()), "Line")

        self.message = QLabel("", self)
        self.message.setObjectName("message")
        self.message.setWordWrap(True)
        self.message.setMinimumWidth(theme.px(200))
        self.buttons = QDialogButtonBox(
            QDialogButtonBox.StandardButton.Ok
            | QDialogButtonBox.StandardButton.Apply
            | QDialogButtonBox.StandardButton.Close,
            self,
        )
        # keyboard routes: Alt+O / Alt+A / Alt+C, Enter = OK, Escape = Close
        for which, text in ((QDialogButtonBox.StandardButton.Ok, "&OK"),
                            (QDialogButtonBox.StandardButton.Apply, "&Apply"),
                            (QDialogButtonBox.StandardButton.Close, "&Close")):
            self.buttons.button(which).setText(text)
        self.buttons.button(QDialogButtonBox.StandardButton.Ok).setDefault(True)
        self.buttons.button(QDialogButtonBox.StandardButton.Apply).clicked.connect(self.apply)
        self.buttons.accepted.connect(self._ok)
        self.buttons.rejected.connect(self.reject)

        # the answer to a click sits beside the buttons, both always on screen
        bottom = QHBoxLayout()
        bottom.addWidget(self.message, 1)
        bottom.addWidget(self.buttons, 0, Qt.AlignmentFlag.AlignBottom)
        layout = QVBoxLayout(self)
        layout.addWidget(self.tabs, 1)
        layout.addLayout(bottom)
        fit_to_screen(self, 0.94, most=QSize(2400, 1500))

        if bridge is not None:
            bridge.state_changed.connect(self.show_state)
        self._show_provider()
        self._show_read_only()

    def _show_read_only(self) -> None:
        """A settings file that does not parse is never saved over: say so before any edit."""
        problem = config.settings_file_problem(self.settings_path)
        if problem:
            self.message.setStyleSheet(ERROR_STYLE)
            self.message.setText(f"Read-only: running on defaults. {problem}. Fix or replace the file to save changes.")

    # --- tabs -----------------------------------------------------------------------------

    def _form(self, section: str, specs) -> SectionForm:
        form = SectionForm(section, getattr(self.settings, section), specs, self)
        self.forms.append(form)
        return form

    def _camera_tab(self) -> QWidget:
        page = QWidget()
        layout = QVBoxLayout(page)
        device_box = QGroupBox("Device", page)
        device_form = QFormLayout(device_box)
        find = self.station.find_cameras if self.station is not None else None
        self.device_picker = DevicePicker(self.settings.camera.serial, device_box, find=find)
        device_form.addRow("Camera (serial)", self.device_picker)
        layout.addWidget(device_box)
        self.camera_form = self._form("camera", specs_for(self.settings.camera, CAMERA_FIELDS, exclude={"serial"}))
        layout.addWidget(self.camera_form)
        layout.addStretch(1)
        return page

    def _model_tab(self) -> QWidget:
        page = QWidget()
        layout = QVBoxLayout(page)
        state_box = QGroupBox("Model in use", page)
        state_form = QFormLayout(state_box)
        self.provider_label = QLabel("", state_box)
        self.provider_label.setObjectName("provider_in_use")
        self.model_state = QLabel("", state_box)
        self.model_state.setObjectName("model_state")
        self.model_state.setWordWrap(True)
        state_form.addRow("Running on", self.provider_label)
        state_form.addRow("State", self.model_state)
        layout.addWidget(state_box)
        self.model_form = self._form("model", specs_for(self.settings.model, MODEL_FIELDS, exclude={"providers", "class_names", "class_colors"}))
        layout.addWidget(self.model_form)
        extra = QFormLayout()
        self.provider_list = ProviderList(self.settings.model.providers, page)
        extra.addRow("Provider preference\n(checked, top first)", self.provider_list)
        self.class_table = ClassTable(
            self.settings.model.class_names, self.settings.model.class_colors, self._model_class_names(), page
        )
        extra.addRow("Classes", self.class_table)
        layout.addLayout(extra)
        layout.addStretch(1)
        return page

    def _patterns_tab(self, history) -> QWidget:
        # imported here: the editor pulls in pyqtgraph, which the other tabs do not need
        from inspection_station.gui.engineer.pattern_editor import PatternEditor
        from inspection_station.gui.engineer.pattern_editor_window import PatternEditorWindow

        page = QWidget()
        layout = QVBoxLayout(page)
        self.patterns_form = self._form("patterns", specs_for(self.settings.patterns, PATTERN_FIELDS))
        layout.addWidget(self.patterns_form)
        self.pattern_editor = PatternEditor(
            config.resolve_patterns_path(self.settings.patterns),
            self.station,
            page,
            audit=self.audit,
            class_names=self._class_names(),
            history=history,
        )
        self.pattern_editor.saved.connect(self._pattern_saved)
        self.pattern_editor.library_changed.connect(self._fill_active_choices)
        self._fill_active_choices()
        # the editor gets a window of its own, as big as the screen: precise work needs room
        self.pattern_window = PatternEditorWindow(self.pattern_editor, self)
        self.open_editor_button = QPushButton("Open the &pattern editor …", page)
        self.open_editor_button.setObjectName("open_pattern_editor")
        self.open_editor_button.clicked.connect(self.pattern_window.open)
        hint = QLabel("Pattern sets, variants and slots on the frame: teach, try and save. "
                      "The editor opens in its own window, filling the screen.", page)
        hint.setWordWrap(True)
        layout.addWidget(hint)
        layout.addWidget(self.open_editor_button, 0, Qt.AlignmentFlag.AlignLeft)
        layout.addStretch(1)
        return page

    def _fill_active_choices(self) -> None:
        active = self.patterns_form.widgets["active"]
        if isinstance(active, QComboBox):
            current = active.currentText()
            active.blockSignals(True)
            active.clear()
            active.addItems([""] + self.pattern_editor.set_names())
            active.setCurrentText(current)
            active.blockSignals(False)
            running = self.station.active_pattern_set if self.station is not None else None
            if active.lineEdit() is not None:  # an empty field names what runs, not a blank
                active.lineEdit().setPlaceholderText(
                    f"(empty = the first set; active now: {running.name})" if running is not None
                    else "(empty = the first set)")

    def _results_tab(self) -> QWidget:
        page = QWidget()
        layout = QVBoxLayout(page)
        layout.addWidget(self._form("station", [STATION_NAME_FIELD]))
        layout.addWidget(self._form("results", specs_for(self.settings.results, RESULTS_FIELDS)))
        layout.addStretch(1)
        return page

    def _station_tab(self) -> QWidget:
        page = QWidget()
        layout = QVBoxLayout(page)
        exclude = {"name", "engineer_password_hash"}
        layout.addWidget(self._form("station", specs_for(self.settings.station, STATION_FIELDS, exclude=exclude)))
        self.change_password_button = QPushButton(
            "Change my password…" if self.access is not None else "Change engineer password…", page)
        self.change_password_button.clicked.connect(self.change_password)
        layout.addWidget(self.change_password_button, 0, Qt.AlignmentFlag.AlignLeft)
        layout.addStretch(1)
        return page

    def _line_tab(self) -> QWidget:
        page = QWidget()
        layout = QVBoxLayout(page)
        layout.addWidget(self._form("line", specs_for(self.settings.line, LINE_FIELDS, exclude={"api_token_sha256"})))
        tokens = len(self.settings.line.api_token_sha256)
        note = QLabel(
            f"{tokens} API token(s) configured (settings file only; \"inspection-station serve --new-token\" makes one). "
            "Applied changes restart the API, metrics and PLC signals when this dialog closes "
            "(metrics counters start from zero).",
            page,
        )
        note.setWordWrap(True)
        layout.addWidget(note)
        layout.addStretch(1)
        return page

    # --- model state ----------------------------------------------------------------------

    def _model_class_names(self) -> list[str]:
        return model_class_names(self.station)

    def _class_names(self) -> list[str]:
        return list(self.settings.model.class_names) or self._model_class_names()

    def _show_provider(self) -> None:
        detector = self.station.detector if self.station is not None else None
        if detector is None:
            self.provider_label.setText("no model loaded" if self.station is not None else "station not running")
        else:
            self.provider_label.setText(f"{Path(str(detector.model_path)).name} on {detector.provider}")
        if not self.model_state.text():  # before the first report: what is running now
            self.model_state.setStyleSheet(OK_STYLE if detector is not None else "")
            self.model_state.setText("ready" if detector is not None else
                                     "not loaded" if self.station is not None else "station not running")

    @Slot(str, str, str)
    def show_state(self, component: str, state: str, reason: str) -> None:
        """A state report from the station (the bridge delivers it in the GUI thread)."""
        if component != "model":
            return
        if state == "error":
            self.model_state.setStyleSheet(ERROR_STYLE)
            self.model_state.setText(f"The new model failed to load; the previous model stays in use. {reason}")
            self.message.setStyleSheet(ERROR_STYLE)
            self.message.setText(f"Model not changed: {reason}{self._revert_model()}")
        else:
            if state == "ready":
                self.store.model_loaded()
            self.model_state.setStyleSheet(OK_STYLE if state == "ready" else "")
            self.model_state.setText(f"{state}: {reason}" if reason else state)
        self._show_provider()

    def _revert_model(self) -> str:
        """After a failed load: the store saves the model settings still running."""
        before = self.store.settings
        note = self.store.model_failed()
        if self.store.settings is not before:
            self.settings = self.store.settings
            self.settings_applied.emit(self.settings)
        return note

    # --- building, checking, applying --------------------------------------------------------

    def _values(self) -> dict[str, dict]:
        values: dict[str, dict] = {}
        for form in self.forms:
            values.setdefault(form.section, {}).update(form.values())
        values["camera"]["serial"] = self.device_picker.serial()
        values["model"]["providers"] = self.provider_list.providers()
        values["model"]["class_names"] = self.class_table.names()
        values["model"]["class_colors"] = self.class_table.colors()
        return values

    def _field(self, section: str, key: str) -> tuple[QWidget, str] | None:
        """The widget editing a settings key and its label; None for a key the dialog lacks."""
        special = {  # keys edited by the dialog's own widgets, not by a SectionForm
            ("camera", "serial"): (self.device_picker, "Camera (serial)"),
            ("model", "providers"): (self.provider_list, "Provider preference"),
            ("model", "class_names"): (self.class_table, "Classes"),
            ("model", "class_colors"): (self.class_table, "Classes"),
        }
        if (section, key) in special:
            return special[(section, key)]
        for form in self.forms:
            if form.section == section and key in form.widgets:
                return form.widgets[key], form.label(key)
        return None

    def label_of(self, section: str, key: str) -> str:
        """The "Tab › Label" of a settings key, as the engineer sees it."""
        found = self._field(section, key)
        if found is None:
            return f"[{section}] {key}"
        widget, label = found
        return f"{self.tabs.tabText(self._tab_index_of(widget))} › {label}"

    def _tab_index_of(self, widget: QWidget) -> int:
        for i in range(self.tabs.count()):
            if self.tabs.widget(i).isAncestorOf(widget):
                return i
        return 0

    def _widget_of(self, section: str, key: str) -> QWidget | None:
        found = self._field(section, key)
        return found[0] if found is not None else None

    def build_settings(self) -> Settings:
        """The settings the form shows; SettingsInputError names the first bad field."""
        new = self.settings
        for section, values in self._values().items():
            current = getattr(new, section)
            for key, value in values.items():
                if getattr(current, key) == value:
                    continue
                try:
                    new = new.replace(section, **{key: value})
                except ConfigError as exc:
                    reason = str(exc).split(": ", 1)[-1]
                    raise SettingsInputError(section, key, f"{self.label_of(section, key)}: {reason}") from None
        for p in check_settings(new):
            raise SettingsInputError(p.section, p.key, f"{self.label_of(p.section, p.key)}: {p.message}")
        return new

    def _refuse(self, exc: SettingsInputError) -> None:
        self.message.setStyleSheet(ERROR_STYLE)
        self.message.setText(f"Not applied — {exc}")
        widget = self._widget_of(exc.section, exc.key)
        if widget is not None:
            self.tabs.setCurrentIndex(self._tab_index_of(widget))
            widget.setFocus()

    @Slot()
    def apply(self) -> bool:
        """Check, save, audit and apply; False (with the field named) when refused."""
        try:
            new = self.build_settings()
        except SettingsInputError as exc:
            self._refuse(exc)
            return False
        if new == self.settings:
            self.message.setStyleSheet("")
            self.message.setText("No changes to apply.")
            return True
        old = self.settings
        if self.station is not None and new.model != old.model:
            self.model_state.setStyleSheet("")
            self.model_state.setText("loading the new model …")
        outcome = self.store.apply(new)
        self.message.setStyleSheet(OK_STYLE if outcome.ok else ERROR_STYLE)
        self.message.setText(outcome.message)
        if outcome.settings is old:  # nothing saved: the form keeps the engineer's edits
            return False
        self.settings = outcome.settings
        if new.patterns != old.patterns:
            self.pattern_editor.set_patterns_path(config.resolve_patterns_path(new.patterns))
        self.pattern_editor.set_class_names(self._class_names())
        self.settings_applied.emit(new)
        return outcome.ok

    def _ok(self) -> None:
        if self.apply():
            self.accept()

    @Slot()
    def change_password(self) -> None:
        if self.access is not None:  # accounts: the signed-in user's own password, in the store
            own = ChangeOwnPasswordDialog(self.access, self)
            if own.exec() == QDialog.DialogCode.Accepted:
                self.message.setStyleSheet(OK_STYLE)
                self.message.setText("Password changed.")
            return
        dialog = ChangePasswordDialog(self.settings, self)
        if dialog.exec() == QDialog.DialogCode.Accepted:
            self.save_password(dialog.settings)

    def save_password(self, with_new_hash: Settings) -> None:
        """Store only the new hash (pending form edits are not applied by this)."""
        outcome = self.store.save_password_hash(with_new_hash.station.engineer_password_hash)
        self.message.setStyleSheet(OK_STYLE if outcome.ok else ERROR_STYLE)
        self.message.setText(outcome.message)
        if outcome.ok:
            self.settings = outcome.settings
            self.settings_applied.emit(outcome.settings)  # the window unlocks with the settings it holds

    @Slot(str)
    def _pattern_saved(self, name: str) -> None:
        # The station reloads its pattern library (unchanged settings) on its loader thread,
        # after any model load; a file it cannot read comes back as a (patterns, error) state
        # and on the error route.
        if self.station is not None:
            self.station.reload_patterns()


def open_engineer_settings(
    parent: QWidget | None,
    settings: Settings,
    station=None,
    *,
    settings_path: str | Path | None = None,
    bridge=None,
    history=None,
    access_ui=None,
) -> Settings | None:
    """Sign-in (when the signed-in user may not change settings), then the settings dialog
    (modal). Returns the settings now in effect, or None when nobody allowed signed in.

    The dialog closes when the session locks for idleness; its audit lines name the user."""
    from inspection_station.gui.engineer.access_ui import AccessUi, station_access

    access_ui = access_ui or AccessUi(station_access(settings), parent)
    if not access_ui.permit("settings", parent):
        return None
    dialog = SettingsDialog(settings, station, parent, settings_path=settings_path, bridge=bridge,
                            history=history, access=access_ui.control)
    access_ui.locked.connect(dialog.reject)
    try:
        access_ui.run_dialog(dialog)
    finally:
        access_ui.locked.disconnect(dialog.reject)
    return dialog.settings
