"""The engineer settings dialog: camera, model, patterns, results and station tabs.

Applying builds a new `Settings`, checks it (field named on refusal), saves it
atomically to the user's TOML, writes one audit row per changed key and hands it to
`station.apply_settings` — the station reconfigures the camera and loads a new model
off the GUI thread; this dialog only shows the states the station reports.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

from PySide6.QtCore import Qt, Signal, Slot
from PySide6.QtGui import QColor
from PySide6.QtWidgets import (
    QAbstractItemView,
    QColorDialog,
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QListWidget,
    QListWidgetItem,
    QPushButton,
    QScrollArea,
    QTableWidget,
    QTableWidgetItem,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

from inspection_station.core.detect.detector import KNOWN_PROVIDERS
from inspection_station.core.errors import ConfigError, StationError
from inspection_station.core.settings import model as config
from inspection_station.core.settings.audit import AuditError, AuditLog
from inspection_station.core.settings.checks import check_settings
from inspection_station.core.settings.model import Settings
from inspection_station.core.settings.revert import after_failed_model_load
from inspection_station.core.settings.session import AccessControl
from inspection_station.gui.engineer.login_dialog import ChangeOwnPasswordDialog
from inspection_station.gui.engineer.records_tab import records_tab
from inspection_station.gui.engineer.settings_fields import (
    CAMERA_FIELDS,
    MODEL_FIELDS,
    PATTERN_FIELDS,
    RESULTS_FIELDS,
    STATION_FIELDS,
    STATION_NAME_FIELD,
    specs_for,
)
from inspection_station.gui.engineer.settings_form import SectionForm
from inspection_station.gui.engineer.unlock_dialog import ChangePasswordDialog
from inspection_station.gui.theme import ERROR_STYLE, OK_STYLE


class SettingsInputError(StationError):
    """A value in the dialog is not acceptable; names the tab and field."""

    def __init__(self, section: str, key: str, message: str) -> None:
        self.section, self.key = section, key
        super().__init__(message)


def enumerate_camera_devices() -> list[tuple[str, str]]:
    """(serial, label) of every camera pylon sees (emulated included); [] on failure.

    Enumeration is core/camera/discovery.py's (the `cameras` command uses it too); the
    picker keeps working with a typed serial when it is unavailable or fails.
    """
    try:
        from inspection_station.core.camera.discovery import list_devices

        return [(d.serial, d.label) for d in list_devices()]
    except Exception:  # noqa: BLE001 - no camera runtime, a driver error: the picker still works
        return []


class DevicePicker(QWidget):
    """Combo of enumerated cameras (editable: a serial not attached now can be typed).

    With `find` (the station's `find_cameras`) the search runs on the station's thread and
    the list fills in when it is done; without a station it runs here, as a fallback.
    """

    _found = Signal(object)  # the search's Future, done; from the station's thread

    def __init__(self, serial: str, parent: QWidget | None = None, *, find=None) -> None:
        super().__init__(parent)
        self._find = find
        # queued even when the future is already done: the list always fills in from the event loop
        self._found.connect(self._show_found, Qt.ConnectionType.QueuedConnection)
        self.combo = QComboBox(self)
        self.combo.setEditable(True)
        self.combo.setObjectName("camera.serial")
        self.refresh_button = QPushButton("Find cameras", self)
        self.refresh_button.clicked.connect(self.refresh)
        self.note = QLabel("", self)
        layout = QHBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.combo, 1)
        layout.addWidget(self.refresh_button)
        layout.addWidget(self.note)
        self.set_devices([], serial)

    def set_devices(self, devices: list[tuple[str, str]], serial: str | None = None) -> None:
        serial = self.serial() if serial is None else serial
        self.combo.clear()
        self.combo.addItem("(first camera found)", "")
        for dev_serial, description in devices:
            self.combo.addItem(f"{dev_serial}  {description}".strip(), dev_serial)
        self.set_serial(serial)

    def set_serial(self, serial: str) -> None:
        index = self.combo.findData(serial)
        if index < 0:
            self.combo.addItem(serial, serial)
            index = self.combo.count() - 1
        self.combo.setCurrentIndex(index)

    def serial(self) -> str:
        text = self.combo.currentText().strip()
        index = self.combo.currentIndex()
        if index >= 0 and text == self.combo.itemText(index):
            return str(self.combo.itemData(index) or "")
        return text.split()[0] if text else ""  # typed by hand

    @Slot()
    def refresh(self) -> None:
        if self._find is None:
            self._show_devices(enumerate_camera_devices())
            return
        self.refresh_button.setEnabled(False)
        self.note.setText("searching …")
        self._find().add_done_callback(self._found.emit)

    @Slot(object)
    def _show_found(self, future) -> None:
        self.refresh_button.setEnabled(True)
        # a failed search is on the error route already; the picker still takes a typed serial
        found = [] if future.cancelled() or future.exception() is not None else future.result()
        self._show_devices([(d.serial, d.label) for d in found])

    def _show_devices(self, devices: list[tuple[str, str]]) -> None:
        self.set_devices(devices)
        self.note.setText(f"{len(devices)} found" if devices else "none found (type a serial)")


class ProviderList(QListWidget):
    """Execution providers in preference order: check to use, drag to reorder."""

    def __init__(self, providers: list[str], parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("model.providers")
        self.setDragDropMode(QAbstractItemView.DragDropMode.InternalMove)
        self.setMaximumHeight(90)
        self.set_providers(providers)

    def set_providers(self, providers: list[str]) -> None:
        self.clear()
        for name in list(providers) + [p for p in KNOWN_PROVIDERS if p not in providers]:
            item = QListWidgetItem(name, self)
            item.setFlags(item.flags() | Qt.ItemFlag.ItemIsUserCheckable | Qt.ItemFlag.ItemIsDragEnabled)
            item.setCheckState(Qt.CheckState.Checked if name in providers else Qt.CheckState.Unchecked)

    def providers(self) -> list[str]:
        return [
            self.item(i).text() for i in range(self.count()) if self.item(i).checkState() == Qt.CheckState.Checked
        ]


class ClassTable(QWidget):
    """Class names and colours overriding the model's (row = class id)."""

    def __init__(self, names: list[str], colors: list[str], model_names: list[str], parent=None) -> None:
        super().__init__(parent)
        self.table = QTableWidget(0, 2, self)
        self.table.setObjectName("model.class_names")
        self.table.setHorizontalHeaderLabels(["Name", "Colour (#rrggbb)"])
        self.table.horizontalHeader().setStretchLastSection(True)
        self.table.setMinimumHeight(120)
        self.table.cellDoubleClicked.connect(self._pick_colour)
        add = QPushButton("Add class", self)
        add.clicked.connect(lambda: self._add_row("", ""))
        remove = QPushButton("Remove last", self)
        remove.clicked.connect(lambda: self.table.setRowCount(max(0, self.table.rowCount() - 1)))
        from_model = QPushButton("Copy model's names", self)
        from_model.clicked.connect(lambda: self.set_values(list(model_names), self.colors()))
        from_model.setEnabled(bool(model_names))
        hint = QLabel(
            "Empty = the model's own names"
            + (f": {', '.join(model_names)}" if model_names else "")
            + ". Double-click a colour to pick one.",
            self,
        )
        hint.setWordWrap(True)
        buttons = QHBoxLayout()
        for b in (add, remove, from_model):
            buttons.addWidget(b)
        buttons.addStretch(1)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(hint)
        layout.addWidget(self.table)
        layout.addLayout(buttons)
        self.set_values(names, colors)

    def _add_row(self, name: str, colour: str) -> None:
        row = self.table.rowCount()
        self.table.insertRow(row)
        self.table.setItem(row, 0, QTableWidgetItem(name))
        item = QTableWidgetItem(colour)
        if QColor.isValidColorName(colour):
            item.setBackground(QColor(colour))
        self.table.setItem(row, 1, item)

    def set_values(self, names: list[str], colors: list[str]) -> None:
        self.table.setRowCount(0)
        for i in range(max(len(names), len(colors))):
            self._add_row(names[i] if i < len(names) else "", colors[i] if i < len(colors) else "")

    def _text(self, row: int, col: int) -> str:
        item = self.table.item(row, col)
        return item.text().strip() if item else ""

    def names(self) -> list[str]:
        names = [self._text(r, 0) for r in range(self.table.rowCount())]
        return [] if not any(names) else names  # all empty = use the model's names

    def colors(self) -> list[str]:
        colours = [self._text(r, 1) for r in range(self.table.rowCount())]
        while colours and not colours[-1]:
            colours.pop()
        return colours

    def _pick_colour(self, row: int, col: int) -> None:
        if col != 1:
            return
        current = QColor(self._text(row, 1) or "#ffffff")
        chosen = QColorDialog.getColor(current, self, "Class colour")
        if chosen.isValid():
            self.table.setItem(row, 1, QTableWidgetItem(chosen.name()))
            self.table.item(row, 1).setBackground(chosen)


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
        station=None,
        parent: QWidget | None = None,
        *,
        settings_path: str | Path | None = None,
        audit: AuditLog | None = None,
        bridge=None,
        history=None,
        access: AccessControl | None = None,
    ) -> None:
        super().__init__(parent)
        self.setWindowTitle("Station settings (engineer)")
        self.resize(1100, 760)
        self.settings = settings
        self.station = station
        self.settings_path = Path(settings_path) if settings_path else config.user_config_path()
        self.access = access  # who is signed in: the audit names them; None = legacy single password
        if audit is None and access is not None:
            audit = access.audit.as_actor(access.actor)
        self.audit = audit or AuditLog(who=f"engineer@{settings.station.name}")
        self.forms: list[SectionForm] = []
        self._model_pending = False  # a model change was handed to the station, not yet loaded

        self.tabs = QTabWidget(self)
        self.tabs.addTab(_scroll(self._camera_tab()), "Camera")
        self.tabs.addTab(_scroll(self._model_tab()), "Model")
        self.tabs.addTab(self._patterns_tab(history), "Patterns")
        if access is not None and not access.allowed("patterns"):
            self.tabs.setTabEnabled(self.tabs.count() - 1, False)
            self.tabs.setTabToolTip(self.tabs.count() - 1, f"needs the role {access.needed_role('patterns')}")
        self.tabs.addTab(_scroll(self._results_tab()), "Results")
        self.tabs.addTab(_scroll(self._station_tab()), "Station")
        self.tabs.addTab(_scroll(records_tab(self)), "Access and records")

        self.message = QLabel("", self)
        self.message.setObjectName("message")
        self.message.setWordWrap(True)
        self.buttons = QDialogButtonBox(
            QDialogButtonBox.StandardButton.Ok
            | QDialogButtonBox.StandardButton.Apply
            | QDialogButtonBox.StandardButton.Close,
            self,
        )
        self.buttons.button(QDialogButtonBox.StandardButton.Apply).clicked.connect(self.apply)
        self.buttons.accepted.connect(self._ok)
        self.buttons.rejected.connect(self.reject)

        layout = QVBoxLayout(self)
        layout.addWidget(self.tabs, 1)
        layout.addWidget(self.message)
        layout.addWidget(self.buttons)

        if bridge is not None:
            bridge.state_changed.connect(self.show_state)
        self._show_provider()

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
        layout.addWidget(self.pattern_editor, 1)
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

    # --- model state ----------------------------------------------------------------------

    def _model_class_names(self) -> list[str]:
        detector = getattr(self.station, "detector", None)
        return list(getattr(detector, "class_names", []) or [])

    def _class_names(self) -> list[str]:
        return list(self.settings.model.class_names) or self._model_class_names()

    def _show_provider(self) -> None:
        detector = getattr(self.station, "detector", None)
        if detector is None:
            self.provider_label.setText("no model loaded" if self.station is not None else "station not running")
        else:
            self.provider_label.setText(f"{Path(str(detector.model_path)).name} on {detector.provider}")

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
                self._model_pending = False
            self.model_state.setStyleSheet(OK_STYLE if state == "ready" else "")
            self.model_state.setText(f"{state}: {reason}" if reason else state)
        self._show_provider()

    def _revert_model(self) -> str:
        """After a failed load: save the model settings still running, so a restart works."""
        running = getattr(getattr(self.station, "settings", None), "model", None)
        new = after_failed_model_load(self.settings, self.settings.model, running) if self._model_pending else None
        if new is None:
            return ""
        self._model_pending = False
        old = self.settings
        try:
            config.save_settings(new, self.settings_path)
        except OSError as exc:
            return f" (the saved settings still name the failed model: {exc.strerror or exc})"
        self.settings = new
        self._audit_settings(old, new)
        self.settings_applied.emit(new)
        return " The saved model settings were put back to the model in use."

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
        try:
            config.save_settings(new, self.settings_path)
        except OSError as exc:
            self.message.setStyleSheet(ERROR_STYLE)
            self.message.setText(f"Not saved to {self.settings_path}: {exc.strerror or exc}")
            return False
        old, self.settings = self.settings, new
        audit_note = self._audit_settings(old, new)
        if new.patterns != old.patterns:
            self.pattern_editor.set_patterns_path(config.resolve_patterns_path(new.patterns))
        self.pattern_editor.set_class_names(self._class_names())
        if self.station is not None:
            self._model_pending = new.model != old.model
            if new.model != old.model:
                self.model_state.setStyleSheet("")
                self.model_state.setText("loading the new model …")
            try:
                self.station.apply_settings(new)
            except StationError as exc:
                self.message.setStyleSheet(ERROR_STYLE)
                self.message.setText(f"Saved, but the station refused them: {exc}")
                self.settings_applied.emit(new)
                return False
        self.message.setStyleSheet(OK_STYLE)
        self.message.setText(f"Saved to {self.settings_path} and applied.{audit_note}")
        self.settings_applied.emit(new)
        return True

    def _audit_settings(self, old: Settings, new: Settings) -> str:
        try:
            self.audit.record_settings(old, new)
        except AuditError as exc:
            return f" (audit log not written: {exc})"
        return ""

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
        new = dataclasses.replace(self.settings, station=dataclasses.replace(
            self.settings.station, engineer_password_hash=with_new_hash.station.engineer_password_hash))
        try:
            config.save_settings(new, self.settings_path)
        except OSError as exc:  # a slot: say it here, never let it escape
            self.message.setStyleSheet(ERROR_STYLE)
            self.message.setText(f"Password not changed: not saved to {self.settings_path}: {exc.strerror or exc}")
            return
        old, self.settings = self.settings, new
        note = self._audit_settings(old, new)
        self.message.setStyleSheet(OK_STYLE)
        self.message.setText(f"Engineer password changed.{note}")
        self.settings_applied.emit(new)  # the window unlocks with the settings it holds

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
