"""The engineer settings dialog: camera, model, patterns, results and station tabs.

Applying builds a new `Settings` and checks it (field named on refusal); saving,
auditing, applying and reverting a failed model are the station's action
(`StationActions.apply_settings`): only the keys changed here are applied, so a product
switched on the screen meanwhile stays. The station reconfigures the camera and loads a new
model off the GUI thread; this dialog only shows the outcome and the states the station
reports. Closing with unsaved edits asks; the idle sign-out keeps them as a draft. Its parts are widgets of one job each:
settings_form (generated fields), device_picker, provider_list, class_table, and the
pattern editor in its own window (pattern_editor_window).
"""

from __future__ import annotations

import dataclasses
import logging
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
    QMessageBox,
    QPushButton,
    QScrollArea,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

from inspection_station.core.actions import StationActions
from inspection_station.core.errors import ConfigError, StationError
from inspection_station.core.settings import model as config
from inspection_station.core.settings.checks import check_settings
from inspection_station.core.settings.drafts import DraftStore
from inspection_station.core.settings.model import Settings
from inspection_station.core.state import settings_keys_changed
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
from inspection_station.gui.screen_fit import fit_to_screen
from inspection_station.gui.station_protocol import StationView, model_class_names
from inspection_station.gui.theme import ERROR_STYLE, OK_STYLE

log = logging.getLogger(__name__)


class SettingsInputError(StationError):
    """A value in the dialog is not acceptable; names the tab and field."""

    def __init__(self, section: str, key: str, message: str) -> None:
        self.section, self.key = section, key
        super().__init__(message)


def opcua_certificate_note(settings: Settings) -> str:
    """The OPC UA server's certificate thumbprint, for the engineer to give the plant's PLC."""
    try:
        from inspection_station.core.line.opcua.certificates import certificate_summary
    except ImportError:  # installed without the `opcua` extra
        return "OPC UA: not installed (pip install inspection-station[opcua])"
    return certificate_summary(settings.line.opcua_pki_dir)


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
    _report = Signal(bool, str)  # a load's final word (from the loader thread)

    def __init__(
        self,
        settings: Settings,
        station: StationView | None = None,
        parent: QWidget | None = None,
        *,
        actions: StationActions | None = None,
        settings_path: str | Path | None = None,
        bridge=None,
        history=None,
        base: Settings | None = None,
    ) -> None:
        """`settings`: what the form shows (a restored draft may differ from what runs);
        `base`: what the edits are relative to (default: `settings`). Without `actions` (tools,
        tests) the dialog acts on the files alone, saving to `settings_path`."""
        super().__init__(parent)
        self.setObjectName("engineer_dialog")  # theme.py: compact desk-sized controls
        self.settings = settings
        self.base = base if base is not None else settings
        self.station = station
        if actions is None:
            actions = StationActions.offline(self.base, settings_path)
        self.actions = actions
        self.settings_path = actions.store.path
        self.access = actions.access  # who is signed in: the audit names them
        actor = self.access.actor if self.access is not None else None  # the title names who and which role
        self.setWindowTitle(f"Station settings ({actor.user}, {actor.role})" if actor is not None and
                            actor.role != "operator" else "Station settings (engineer)")
        self.forms: list[SectionForm] = []
        self._report.connect(self._show_report)

        self.tabs = QTabWidget(self)
        self.tabs.addTab(_scroll(self._camera_tab()), "Camera")
        self.tabs.addTab(_scroll(self._model_tab()), "Model")
        self.tabs.addTab(_scroll(self._patterns_tab(history)), "Patterns")
        if not self.access.allowed("patterns"):
            self.tabs.setTabEnabled(self.tabs.count() - 1, False)
            self.tabs.setTabToolTip(self.tabs.count() - 1, f"needs the role {self.access.needed_role('patterns')}")
        from inspection_station.gui.engineer.recipe_panel import RecipePanel

        self.recipe_panel = RecipePanel(actions, self)
        self.tabs.addTab(self.recipe_panel, "Recipes")
        if not self.access.allowed("patterns"):
            self.tabs.setTabEnabled(self.tabs.count() - 1, False)
            self.tabs.setTabToolTip(self.tabs.count() - 1, f"needs the role {self.access.needed_role('patterns')}")
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
        recipe = self.actions.state.recipe
        if recipe is not None and recipe.keys:
            form.mark_from_recipe({k.partition(".")[2] for k in recipe.keys if k.startswith(section + ".")},
                                  f"{recipe.name} v{recipe.version}")
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
            audit=self.access.audit,
            class_names=self._class_names(),
            history=history,
            # each file operation an action: role-checked, audited as whoever is signed in then
            library_factory=self.actions.library,
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
        self.change_password_button = QPushButton("Change my password…", page)
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
        self.opcua_note = QLabel(opcua_certificate_note(self.settings), page)
        self.opcua_note.setObjectName("opcua_thumbprint")
        self.opcua_note.setWordWrap(True)
        self.opcua_note.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        layout.addWidget(self.opcua_note)
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
        else:
            self.model_state.setStyleSheet(OK_STYLE if state == "ready" else "")
            self.model_state.setText(f"{state}: {reason}" if reason else state)
        self._show_provider()

    @Slot(bool, str)
    def _show_report(self, ok: bool, message: str) -> None:
        """The final word of an Apply (after the model load), decided in core. A failed model was
        put back in the settings in force: the form follows them (the engineer's other edits stay)."""
        self.message.setStyleSheet(OK_STYLE if ok else ERROR_STYLE)
        self.message.setText(message)
        running = self.actions.state.settings
        if not ok and running.model != self.base.model:
            self.base = dataclasses.replace(self.base, model=running.model)
            self.settings = dataclasses.replace(self.settings, model=running.model)
            self.model_form.set_values(running.model)
            self.settings_applied.emit(running)

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

    def changes(self) -> tuple[str, ...]:
        """The "section.key"s the form changes against what it started from (raises
        SettingsInputError for a value the form cannot even hold)."""
        return settings_keys_changed(self.base, self.build_settings())

    def has_unsaved_changes(self) -> bool:
        try:
            pending = bool(self.changes())
        except SettingsInputError:
            pending = True  # a bad value typed and not applied is an unsaved edit too
        draft = getattr(self.pattern_editor, "draft", None)
        return pending or bool(draft is not None and draft.dirty)

    @Slot()
    def apply(self) -> bool:
        """Check, save, audit and apply (the station's action); False (with the field named) when refused."""
        try:
            new = self.build_settings()
        except SettingsInputError as exc:
            self._refuse(exc)
            return False
        old = self.base
        if self.station is not None and new.model != old.model:
            self.model_state.setStyleSheet("")
            self.model_state.setText("loading the new model …")
        outcome = self.actions.apply_settings(self.actions.gui_actor(), new, base=old)
        self.message.setStyleSheet(OK_STYLE if outcome.ok else ERROR_STYLE)
        self.message.setText(outcome.message)
        if not outcome.ok:  # nothing saved: the form keeps the engineer's edits
            detail = outcome.value
            widget = self._widget_of(detail.section, detail.key) if hasattr(detail, "section") else None
            if widget is not None:
                self.tabs.setCurrentIndex(self._tab_index_of(widget))
                widget.setFocus()
            return False
        future = outcome.value
        if future is not None:
            future.add_done_callback(lambda f: self._report.emit(f.result().ok, f.result().message))
        self.base = self.settings = self.actions.state.settings
        if new.patterns.path != old.patterns.path:
            self.pattern_editor.set_patterns_path(config.resolve_patterns_path(new.patterns))
        self.pattern_editor.set_class_names(self._class_names())
        self.settings_applied.emit(self.settings)
        return True

    def _ok(self) -> None:
        if self.apply():
            self.accept()

    @Slot()
    def change_password(self) -> None:
        """The signed-in user's own password, in the accounts store."""
        own = ChangeOwnPasswordDialog(self.access, self)
        if own.exec() == QDialog.DialogCode.Accepted:
            self.message.setStyleSheet(OK_STYLE)
            self.message.setText("Password changed.")

    @Slot(str)
    def _pattern_saved(self, name: str) -> None:
        """The save was an action: the station reloads its pattern library by itself."""
        self.message.setStyleSheet(OK_STYLE)
        self.message.setText(f"Pattern set {name} saved; the station reloads its patterns.")

    # --- closing: unsaved edits are never dropped silently ------------------------------------

    def ask_unsaved(self) -> str:
        """"save" | "discard" | "cancel" (tests replace it). Bound to the session that asked:
        signing out meanwhile closes it as "cancel" (the idle sign-out then keeps a draft)."""
        box = QMessageBox(QMessageBox.Icon.Warning, "Unsaved changes",
                          "The settings or the pattern being edited have changes that are not applied.",
                          QMessageBox.StandardButton.NoButton, self)
        save = box.addButton("&Apply and close", QMessageBox.ButtonRole.AcceptRole)
        discard = box.addButton("&Discard the changes", QMessageBox.ButtonRole.DestructiveRole)
        cancel = box.addButton("Cancel", QMessageBox.ButtonRole.RejectRole)
        box.setDefaultButton(cancel)
        box.setEscapeButton(cancel)
        self.unsaved_box = box
        box.exec()
        clicked = box.clickedButton()
        return "save" if clicked is save else "discard" if clicked is discard else "cancel"

    def reject(self) -> None:
        """Close / Escape / the window's close: ask first when anything is unsaved."""
        if getattr(self, "_closing_quietly", False) or not self.has_unsaved_changes():
            super().reject()
            return
        answer = self.ask_unsaved()
        if answer == "discard":
            super().reject()
        elif answer == "save" and self.apply() and self._save_pattern_if_dirty():
            self.accept()

    def closeEvent(self, event) -> None:  # noqa: N802 (Qt)
        """The window manager's close asks like Close; the program's own close() (shutdown,
        the idle sign-out after keeping a draft) does not."""
        if event.spontaneous():
            event.ignore()
            self.reject()
            return
        self._closing_quietly = True
        super().closeEvent(event)

    def _save_pattern_if_dirty(self) -> bool:
        draft = getattr(self.pattern_editor, "draft", None)
        return draft is None or not draft.dirty or self.pattern_editor.save()

    def keep_draft_and_close(self, user: str | None) -> list[Path]:
        """The idle sign-out: no question to ask anybody; keep the unsaved edits as `user`'s draft
        (restored or discarded at their next Settings) and close."""
        kept: list[Path] = []
        if user:
            drafts = DraftStore(user)
            try:
                new = self.build_settings()
            except SettingsInputError:
                new = None  # a value the form cannot hold is not kept (it names no setting)
            try:
                if new is not None and (keys := settings_keys_changed(self.base, new)):
                    kept.append(drafts.keep_settings({k: _value(new, k) for k in keys}))
                draft = getattr(self.pattern_editor, "draft", None)
                if draft is not None and draft.dirty:
                    from inspection_station.core.patterns.yaml_io import pattern_set_to_yaml

                    kept.append(drafts.keep_pattern_set(draft.current.name, pattern_set_to_yaml(draft.current)))
            except OSError as exc:  # kept nowhere: say so in the log; the session is over regardless
                log.error("unsaved edits of %s could not be kept as a draft: %s", user, exc)
        self._closing_quietly = True
        self.pattern_window.close()
        super().reject()
        return kept


def _value(settings: Settings, key: str):
    section, _, name = key.partition(".")
    return getattr(getattr(settings, section), name)


def restore_settings_draft(base: Settings, changes: dict) -> tuple[Settings, list[str]]:
    """`base` with a draft's kept keys on top; keys that no longer exist or no longer fit are
    named and left out (a draft never breaks the dialog)."""
    restored, skipped = base, []
    for key, value in changes.items():
        section, _, name = str(key).partition(".")
        try:
            restored = restored.replace(section, **{name: value})
        except (ConfigError, AttributeError, TypeError) as exc:
            skipped.append(f"{key}: {exc}")
    return restored, skipped


def open_engineer_settings(
    parent: QWidget | None,
    settings: Settings,
    station=None,
    *,
    settings_path: str | Path | None = None,
    bridge=None,
    history=None,
    access_ui=None,
    actions: StationActions | None = None,
) -> Settings | None:
    """Sign-in (when the signed-in user may not change settings), then the settings dialog
    (modal). Returns the settings now in effect, or None when nobody allowed signed in.

    The idle sign-out closes the dialog and keeps its unsaved edits as the user's draft; the
    same user is offered them back here."""
    from inspection_station.gui.engineer.access_ui import AccessUi, station_access

    if actions is None:
        access = access_ui.control if access_ui is not None else station_access(settings)
        actions = StationActions.offline(settings, settings_path, access=access)
    access_ui = access_ui or AccessUi(actions.access, parent)
    if not access_ui.permit("settings", parent):
        return None
    base = actions.state.settings if station is not None else settings
    shown, restored = base, None
    user = actions.state.session.user if actions.state.session else None
    drafts = DraftStore(user) if user else None
    pending = drafts.pending() if drafts else []
    if pending and access_ui.offer_drafts(parent, pending):
        restored = pending
        if any(d.kind == "settings" for d in pending):
            try:
                shown, skipped = restore_settings_draft(base, drafts.settings_changes())
            except StationError as exc:
                skipped = [str(exc)]
            for note in skipped:
                log.warning("settings draft: %s", note)
    elif pending:
        drafts.discard()
    dialog = SettingsDialog(shown, station, parent, actions=actions, bridge=bridge, history=history, base=base)
    if restored is not None:
        for draft in restored:
            if draft.kind == "patterns":
                dialog.pattern_editor.restore_draft(draft.path)
        drafts.discard()
        dialog.message.setText("Restored the changes kept when you were signed out: check, then Apply or Close.")

    def signed_out(_message: str) -> None:
        dialog.keep_draft_and_close(user)

    access_ui.locked.connect(signed_out)
    try:
        access_ui.run_dialog(dialog)
    finally:
        access_ui.locked.disconnect(signed_out)
    return actions.state.settings if station is not None else dialog.settings
