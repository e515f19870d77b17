"""Accounts in the real operator window: first run, sign-in per role, idle lock, audited
product switch and shift reset, the part id field, the low-disk label, the log folder."""

from __future__ import annotations

import json
from types import SimpleNamespace

import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QDialog

from inspection_station.core.actions import StationActions
from inspection_station.core.logging_setup import log_dir
from inspection_station.core.results.csv_log import read_log
from inspection_station.core.settings.accounts import AccountStore
from inspection_station.core.settings.audit import AuditLog, verify_audit
from inspection_station.core.settings.model import AccessSettings
from inspection_station.core.settings.session import NOBODY, AccessControl
from inspection_station.core.station import Station
from inspection_station.gui.app import start_station
from inspection_station.gui.engineer.access_ui import NO_ACCOUNTS, AccessUi, station_access
from inspection_station.gui.engineer.login_dialog import FirstAdminDialog, LoginDialog
from inspection_station.gui.engineer.settings_dialog import SettingsDialog, open_engineer_settings
from inspection_station.gui.error_route import ErrorRoute
from inspection_station.gui.operator.main_window import MainWindow
from inspection_station.gui.operator.station_bridge import StationBridge
from tests.gui_station import station_settings
from tests.test_gui_window import READY_S, wait_ready


class Clock:
    def __init__(self) -> None:
        self.now = 5000.0

    def __call__(self) -> float:
        return self.now


class ScriptedAccess(AccessUi):
    """The real AccessUi; only its modal dialogs are answered by a script instead of exec()."""

    def __init__(self, control, answers, parent=None):
        super().__init__(control, parent)
        self.answers = list(answers)
        self.messages: list[str] = []
        self.dialogs: list[QDialog] = []

    def run_dialog(self, dialog):
        self.dialogs.append(dialog)
        answer = self.answers.pop(0)
        return answer(dialog)

    def show_message(self, parent, title, text):
        self.messages.append(text)


def sign_in(user, password):
    def answer(dialog: LoginDialog):
        dialog.user.setText(user)
        dialog.password.setText(password)
        dialog.ok_button.click()
        return dialog.result()
    return answer


def cancel(dialog):
    dialog.reject()
    return dialog.result()


@pytest.fixture
def clock():
    return Clock()


@pytest.fixture
def control(clock):
    return AccessControl(AccountStore(clock=clock), AuditLog(), AccessSettings(), "station-1", clock=clock)


def audit_rows():
    path = AuditLog().path
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()] if path.exists() else []


def test_first_run_creates_the_admin_only_explicitly(qtbot, tmp_path, control):
    settings = station_settings(tmp_path)
    ui = ScriptedAccess(control, [])
    # the first person to press Settings chooses nothing: they are told how an admin is made
    assert open_engineer_settings(None, settings, access_ui=ui) is None
    assert ui.messages == [NO_ACCOUNTS] and AccountStore().is_empty()

    def create(dialog: FirstAdminDialog):
        assert "no administrator account yet" in dialog.intro.text()
        assert "user add NAME --role admin" in dialog.intro.text()
        dialog.user.setText("ada")
        dialog.password.setText("admin-pw")
        dialog.confirm.setText("admin-pX")
        dialog.ok_button.click()
        assert "differ" in dialog.error.text() and AccountStore().is_empty()
        dialog.confirm.setText("admin-pw")
        dialog.ok_button.click()
        return dialog.result()

    ui.answers = [create]
    assert ui.offer_first_admin()
    assert [(u.name, u.role) for u in AccountStore().users()] == [("ada", "admin")]
    assert ui.offer_first_admin()  # an admin exists: nothing is asked again
    assert len(ui.dialogs) == 1
    [row] = audit_rows()
    assert (row["kind"], row["action"], row["target"], row["user"]) == ("user", "create", "ada", "(first run)")


def test_first_run_dialog_opens_at_start_without_blocking(qtbot, tmp_path, control):
    ui = AccessUi(control)
    assert ui.offer_first_admin(modal=False) is False
    dialog = ui.first_admin_dialog
    qtbot.addWidget(dialog)
    assert dialog.isVisible() and dialog.windowTitle() == "Create the administrator"
    dialog.reject()
    ui.close()


def test_an_operator_cannot_open_the_settings(qtbot, tmp_path, control):
    control.store.add("olga", "operator", "op-pw")
    settings = station_settings(tmp_path)
    ui = ScriptedAccess(control, [sign_in("olga", "op-pw")])
    assert open_engineer_settings(None, settings, access_ui=ui) is None
    login = ui.dialogs[0]
    assert login.result() != QDialog.DialogCode.Accepted
    assert login.error.text() == "olga is operator; this needs engineer."
    assert control.session is None
    assert [(r["action"], r["user"]) for r in audit_rows()] == [("login", "olga"), ("logout", "olga")]


def test_engineer_signs_in_changes_are_audited_by_name_and_the_idle_lock_closes_the_dialog(
        qtbot, tmp_path, control, clock):
    control.store.add("eddie", "engineer", "eng-pw")
    settings = station_settings(tmp_path)
    seen = {}

    def use_settings(dialog: SettingsDialog):
        qtbot.addWidget(dialog)
        seen["dialog"] = dialog
        dialog.show()
        dialog._widget_of("camera", "exposure_us").setValue(1234)
        assert dialog.apply(), dialog.message.text()
        clock.now += settings.access.idle_lock_s + 1  # nobody touches the station
        assert ui.check_idle()
        seen["visible_after_lock"] = dialog.isVisible()
        return dialog.result()

    ui = ScriptedAccess(control, [sign_in("eddie", "wrong"), ], None)
    assert open_engineer_settings(None, settings, access_ui=ui) is None  # a wrong password: no dialog
    assert "wrong user name or password" in ui.dialogs[0].error.text()
    assert not ui.dialogs[0].ok_button.isEnabled()  # the growing delay: try again later
    clock.now += 60
    ui.answers = [sign_in("eddie", "eng-pw"), use_settings]
    result = open_engineer_settings(None, settings, settings_path=tmp_path / "s.toml", access_ui=ui)
    assert result is not None and result.camera.exposure_us == 1234
    assert seen["visible_after_lock"] is False and control.session is None
    rows = audit_rows()
    change = next(r for r in rows if r["target"] == "camera.exposure_us")
    assert (change["user"], change["role"], change["station"]) == ("eddie", "engineer", "station-1")
    assert [r["action"] for r in rows if r["kind"] == "login"] == ["failed", "login", "logout"]
    assert verify_audit(AuditLog().path).intact


def make_window(qtbot, tmp_path, clock, answers, **changes):
    settings = station_settings(tmp_path)
    for section, values in changes.items():
        settings = settings.replace(section, **values)
    bridge = StationBridge()
    station = Station(settings, previews=True)
    route = ErrorRoute()
    window = MainWindow(station, bridge, settings, error_route=route)
    qtbot.addWidget(window)
    control = AccessControl(AccountStore(clock=clock), AuditLog(), settings.access, settings.station.name, clock=clock)
    ui = ScriptedAccess(control, answers, window)
    window.attach_access(ui)
    window.resize(1366, 768)
    window.show()
    start_station(station, route)
    gui = SimpleNamespace(window=window, station=station, settings=settings, ui=ui, control=control)
    wait_ready(qtbot, gui)
    return gui


@pytest.fixture
def stop_later():
    stations = []
    yield stations.append
    for station in stations:
        station.stop()


def test_product_switch_by_an_operator_is_audited(qtbot, tmp_path, clock, stop_later):
    gui = make_window(qtbot, tmp_path, clock, [])
    stop_later(gui.station)
    gui.window.product_combo.setCurrentText("product_nok")
    assert gui.station.active_pattern_set.name == "product_nok"
    row = audit_rows()[-1]
    assert (row["kind"], row["action"], row["old"], row["new"]) == ("product", "switch", "product_ok", "product_nok")
    assert (row["user"], row["role"], row["station"]) == (NOBODY, "operator", "station-1")


def test_product_switch_needing_an_engineer_is_refused_without_one(qtbot, tmp_path, clock, stop_later):
    gui = make_window(qtbot, tmp_path, clock, [cancel], access={"product_switch_role": "engineer"})
    stop_later(gui.station)
    gui.control.store.add("eddie", "engineer", "eng-pw")
    gui.window.product_combo.setCurrentText("product_nok")
    assert gui.station.active_pattern_set.name == "product_ok"
    assert gui.window.product_combo.currentText() == "product_ok"  # the list shows what is active
    assert isinstance(gui.ui.dialogs[0], LoginDialog)
    assert not [r for r in audit_rows() if r["kind"] == "product"]


def test_reset_shift_needs_an_engineer_and_is_audited(qtbot, tmp_path, clock, stop_later):
    gui = make_window(qtbot, tmp_path, clock, [cancel])
    stop_later(gui.station)
    gui.control.store.add("eddie", "engineer", "eng-pw")
    before = gui.window.last_result
    gui.window.inspect_button.click()
    qtbot.waitUntil(lambda: gui.window.last_result is not before, timeout=READY_S)
    assert gui.station.statistics.snapshot().counts.get("OK") == 1
    gui.window.statistics.reset_button.click()  # nobody signed in: the sign-in is cancelled
    assert gui.station.statistics.snapshot().counts.get("OK") == 1
    asked = []
    gui.window.confirm = lambda *q: asked.append(q) or False  # signed in, then "Cancel"
    gui.ui.answers = [sign_in("eddie", "eng-pw")]
    gui.window.statistics.reset_button.click()
    assert asked and gui.station.statistics.snapshot().counts.get("OK") == 1
    assert not [r for r in audit_rows() if r["kind"] == "shift"]
    gui.window.confirm = lambda *q: True
    gui.window.statistics.reset_button.click()  # still signed in: no second sign-in
    assert not gui.station.statistics.snapshot().counts.get("OK")
    assert gui.window.window_access.user_label.text() == "Signed in: eddie (engineer)"
    row = audit_rows()[-1]
    assert (row["kind"], row["action"], row["user"], row["old"]) == ("shift", "reset", "eddie", {"OK": 1, "NOK": 0, "ERROR": 0})


def test_a_scanned_part_id_reaches_the_csv(qtbot, tmp_path, clock, stop_later):
    gui = make_window(qtbot, tmp_path, clock, [], part_id={"source": "scanner", "policy": "required"})
    stop_later(gui.station)
    field = gui.window.part_id_field
    assert field.isVisible()
    qtbot.keyClicks(field.edit, "SN-77")  # a USB scanner types like a keyboard, then Enter
    qtbot.keyClick(field.edit, Qt.Key.Key_Return)
    assert gui.station.pending_part_id == "SN-77" and field.edit.text() == ""
    before = gui.window.last_result
    gui.window.inspect_button.click()
    qtbot.waitUntil(lambda: gui.window.last_result is not before, timeout=READY_S)
    first = gui.window.last_result
    assert field.status.text().startswith("Last part: SN-77")
    gui.window.inspect_button.click()  # no id scanned for this one: required -> ERROR
    qtbot.waitUntil(lambda: gui.window.last_result is not first, timeout=READY_S)
    rows = read_log(gui.station.recorder.log.current_path)
    assert [(r["part_id"], r["verdict"]) for r in rows] == [("SN-77", "OK"), ("", "ERROR")]
    assert "part id: required" in rows[1]["error"]
    assert field.status.text().startswith("Last part: –")


def test_a_scan_can_start_the_inspection(qtbot, tmp_path, clock, stop_later):
    gui = make_window(qtbot, tmp_path, clock, [], part_id={"source": "scanner", "inspect_on_scan": True})
    stop_later(gui.station)
    before = gui.window.last_result
    qtbot.keyClicks(gui.window.part_id_field.edit, "SN-88")
    qtbot.keyClick(gui.window.part_id_field.edit, Qt.Key.Key_Return)
    qtbot.waitUntil(lambda: gui.window.last_result is not before, timeout=READY_S)
    assert (gui.window.last_result.part_id, gui.window.last_result.trigger) == ("SN-88", "scanner")


def test_low_disk_label_and_log_folder_in_about(qtbot, tmp_path, clock, stop_later):
    gui = make_window(qtbot, tmp_path, clock, [])
    stop_later(gui.station)
    w = gui.window
    w.show_state("disk", "low", "low disk: 10 MB free for /x (warning below 1024 MB)")
    assert w.disk_label.isVisible() and w.disk_label.text() == "LOW DISK"
    assert "10 MB free" in w.disk_label.toolTip()
    w.show_state("disk", "ok", "disk space ok")
    assert not w.disk_label.isVisible()
    w.show_about()
    assert str(log_dir()) in w.about_box.text()
    w.about_box.close()


def test_station_access_migrates_an_old_engineer_password(tmp_path):
    from inspection_station.core.settings import access

    settings = station_settings(tmp_path).replace(
        "station", engineer_password_hash=access.hash_password("old pw", n=2**4, r=1, p=1))
    control = station_access(settings)
    assert control.login("engineer", "old pw").role == "engineer"


def test_the_admin_manages_accounts_in_the_gui(qtbot, control):
    from inspection_station.gui.engineer.accounts_dialog import AccountsDialog

    control.store.add("ada", "admin", "admin-pw")
    control.store.add("eve", "engineer", "eve-pw")
    seen = {}

    def manage(dialog: AccountsDialog):
        qtbot.addWidget(dialog)
        assert [dialog.table.item(r, 0).text() for r in range(dialog.table.rowCount())] == ["ada", "eve"]
        dialog.name.setText("olga")
        dialog.role.setCurrentText("operator")
        dialog.password.setText("olga-pw")
        dialog.confirm.setText("olga-pw")
        dialog.add_button.click()
        assert dialog.message.text() == "olga (operator) added."
        dialog.select("ada")
        dialog.remove_button.click()
        seen["remove_self"] = dialog.message.text()
        dialog.role.setCurrentText("operator")
        dialog.role_button.click()
        seen["demote_self"] = dialog.message.text()
        dialog.select("eve")
        dialog.role.setCurrentText("operator")
        dialog.role_button.click()
        assert dialog.message.text() == "eve is now operator."
        dialog.unlock_button.click()
        dialog.remove_button.click()
        return QDialog.DialogCode.Rejected

    ui = ScriptedAccess(control, [cancel])
    assert not ui.open_accounts()  # nobody signed in and the sign-in cancelled: no page
    ui.answers = [sign_in("eve", "eve-pw")]
    assert not ui.open_accounts()  # an engineer is not an admin
    ui.answers = [sign_in("ada", "admin-pw"), manage]
    assert ui.open_accounts()
    assert "cannot remove the account you are signed in with" in seen["remove_self"]
    assert "cannot change the role of the account you are signed in with" in seen["demote_self"]
    assert [(u.name, u.role) for u in control.store.users()] == [("ada", "admin"), ("olga", "operator")]
    users = [(r["action"], r["target"], r["user"]) for r in audit_rows() if r["kind"] == "user"]
    assert users == [("create", "olga", "ada"), ("role", "eve", "ada"), ("unlock", "eve", "ada"),
                     ("remove", "eve", "ada")]


def test_access_and_records_tab_roles_are_admin_only_and_bad_formats_are_refused(qtbot, tmp_path, control):
    control.store.add("ada", "admin", "admin-pw")
    control.store.add("eddie", "engineer", "eng-pw")
    settings = station_settings(tmp_path)
    control.login("eddie", "eng-pw")
    dialog = SettingsDialog(settings, None, actions=StationActions.offline(settings, tmp_path / "s.toml", access=control))
    qtbot.addWidget(dialog)
    role = dialog._widget_of("access", "settings_role")
    assert not role.isEnabled()  # an engineer cannot lower the bar for themselves
    dialog._widget_of("part_id", "source").setCurrentIndex(dialog._widget_of("part_id", "source").findData("image"))
    dialog._widget_of("part_id", "formats").setText("DataMatrix, Hologram")
    assert not dialog.apply()
    assert "Access and records › Code formats" in dialog.message.text() and "'Hologram'" in dialog.message.text()
    dialog._widget_of("part_id", "formats").setText("DataMatrix")
    dialog._widget_of("retention", "max_age_days").setValue(30)
    assert dialog.apply(), dialog.message.text()
    assert dialog.settings.part_id.source == "image" and dialog.settings.retention.max_age_days == 30

    control.login("ada", "admin-pw")
    admin_dialog = SettingsDialog(dialog.settings, None,
                                  actions=StationActions.offline(dialog.settings, tmp_path / "s.toml", access=control))
    qtbot.addWidget(admin_dialog)
    assert not dialog.accounts_button.isEnabled() and admin_dialog.accounts_button.isEnabled()
    admin_dialog.accounts_button.click()  # kiosk mode has no menu bar: the accounts page from here
    assert admin_dialog.accounts_dialog.isVisible()
    admin_dialog.accounts_dialog.reject()
    switch = admin_dialog._widget_of("access", "product_switch_role")
    assert switch.isEnabled()
    switch.setCurrentIndex(switch.findData("engineer"))
    assert admin_dialog.apply(), admin_dialog.message.text()
    assert admin_dialog.settings.access.product_switch_role == "engineer"
    row = audit_rows()[-1]
    assert (row["target"], row["new"], row["user"], row["role"]) == (
        "access.product_switch_role", "engineer", "ada", "admin")


def test_an_overrule_is_audited_with_the_person(qtbot, tmp_path, clock, stop_later):
    gui = make_window(qtbot, tmp_path, clock, [])
    stop_later(gui.station)
    gui.control.store.add("olga", "operator", "op-pw")
    gui.control.login("olga", "op-pw")
    before = gui.window.last_result
    gui.window.inspect_button.click()
    qtbot.waitUntil(lambda: gui.window.last_result is not before, timeout=READY_S)
    result = gui.window.last_result
    gui.window.request_overrule()
    gui.window.overrule_confirm.click()
    qtbot.waitUntil(lambda: any(r["kind"] == "overrule" for r in audit_rows()), timeout=READY_S)
    row = next(r for r in audit_rows() if r["kind"] == "overrule")
    assert (row["target"], row["old"], row["new"], row["user"], row["role"]) == (
        result.cycle_id, "OK", "NOK", "olga", "operator")


def test_kiosk_quit_needs_a_signed_in_engineer(qtbot, tmp_path, clock, stop_later):
    gui = make_window(qtbot, tmp_path, clock, [], station={"kiosk": True})
    stop_later(gui.station)
    w = gui.window
    w.confirm = lambda *q: True
    assert not w.request_quit() and w.isVisible()
    gui.control.store.add("olga", "operator", "op-pw")
    gui.control.login("olga", "op-pw")
    assert not w.request_quit()  # an operator account is not enough
    gui.control.store.add("eddie", "engineer", "eng-pw")
    gui.control.login("eddie", "eng-pw")
    assert w.request_quit()


def test_a_store_gone_once_accounts_existed_locks_the_engineer_side_of_the_window(qtbot, tmp_path, clock, stop_later):
    gui = make_window(qtbot, tmp_path, clock, [])
    stop_later(gui.station)
    control, ui, access = gui.control, gui.ui, gui.window.window_access
    control.create_first_admin("ada", "adm-pw", "adm-pw")
    control.store.add("eddie", "engineer", "eng-pw")
    ui.answers = [sign_in("eddie", "eng-pw")]
    assert ui.permit("settings", gui.window)
    path = control.store.path
    path.unlink()  # the share with accounts.json went away; the engineer is still signed in
    assert not ui.permit("settings", gui.window)  # no dialog is run: nobody can sign in
    assert ui.messages[-1].startswith("Nobody can sign in: ") and str(path) in ui.messages[-1]
    assert access.user_label.text() == "ACCOUNTS UNAVAILABLE: engineer actions locked"
    assert str(path) in access.user_label.toolTip() and "--recover-store" in access.user_label.toolTip()
    assert not access.first_admin_action.isVisible()
    assert ui.offer_first_admin(gui.window) is False  # never the first run
    assert len(ui.dialogs) == 1 and str(path) in ui.messages[-1]
    before = gui.window.last_result
    gui.window.inspect_button.click()  # the line runs on
    qtbot.waitUntil(lambda: gui.window.last_result is not before, timeout=READY_S)
    counts = dict(gui.station.statistics.snapshot().counts)
    gui.window.statistics.reset_button.click()  # an engineer action: refused
    assert dict(gui.station.statistics.snapshot().counts) == counts and counts.get("OK") == 1
    assert not gui.window._engineer_present()  # kiosk Quit needs an engineer: none counts now
    assert not path.exists() and not [r for r in audit_rows() if r["kind"] == "shift"]


def test_dialogs_open_before_the_store_went_away_refuse_naming_it(qtbot, control):
    control.create_first_admin("ada", "adm-pw", "adm-pw")
    login, first = LoginDialog(control, "settings"), FirstAdminDialog(control)
    qtbot.addWidget(login)
    qtbot.addWidget(first)
    control.store.path.unlink()
    login.user.setText("ada")
    login.password.setText("adm-pw")
    login.ok_button.click()
    assert login.result() != QDialog.DialogCode.Accepted and control.session is None
    assert str(control.store.path) in login.error.text()
    first.user.setText("mallory")
    first.password.setText("evil-pw")
    first.confirm.setText("evil-pw")
    first.ok_button.click()
    assert first.result() != QDialog.DialogCode.Accepted
    assert str(control.store.path) in first.error.text() and not control.store.path.exists()


def test_the_reset_question_dies_with_the_session_that_asked_it(qtbot, tmp_path, clock, stop_later):
    """The real question box (no seam): the idle sign-out while it is open closes it unanswered,
    nothing is reset, and no audit line says "(no login)" reset the shift."""
    from PySide6.QtCore import QTimer
    from PySide6.QtWidgets import QApplication, QMessageBox

    gui = make_window(qtbot, tmp_path, clock, [sign_in("eddie", "eng-pw")])
    stop_later(gui.station)
    gui.control.store.add("eddie", "engineer", "eng-pw")
    gui.window.inspect_button.click()
    qtbot.waitUntil(lambda: gui.station.statistics.snapshot().cycles == 1, timeout=READY_S)
    seen = {}

    def while_asking():  # inside the question's own event loop
        boxes = [w for w in QApplication.topLevelWidgets() if isinstance(w, QMessageBox) and w.isVisible()]
        seen["asked"] = [b.windowTitle() for b in boxes]
        clock.now += gui.settings.access.idle_lock_s + 1  # the engineer walked away
        gui.ui.check_idle()

    QTimer.singleShot(300, while_asking)
    assert not gui.window.request_reset_shift()
    assert seen["asked"] == ["Reset shift"]
    assert gui.window.questions.cancelled == 1 and gui.control.session is None
    assert gui.station.statistics.snapshot().cycles == 1
    assert not [r for r in audit_rows() if r["kind"] == "shift"]


def test_the_idle_sign_out_keeps_unsaved_settings_as_a_draft_offered_back(qtbot, tmp_path, clock, monkeypatch):
    from inspection_station.core.settings.drafts import DraftStore

    settings = station_settings(tmp_path).replace("access", idle_lock_s=60)
    control = AccessControl(AccountStore(clock=clock), AuditLog(), settings.access, "station-1", clock=clock)
    control.store.add("eddie", "engineer", "eng-pw")
    seen = {}

    def walk_away(dialog: SettingsDialog):
        qtbot.addWidget(dialog)
        dialog.show()
        dialog._widget_of("model", "confidence").setValue(0.61)  # edited, never applied
        clock.now += 61
        assert ui.check_idle()
        seen["closed"] = not dialog.isVisible()
        return dialog.result()

    ui = ScriptedAccess(control, [sign_in("eddie", "eng-pw"), walk_away])
    open_engineer_settings(None, settings, settings_path=tmp_path / "s.toml", access_ui=ui)
    assert seen["closed"] and not (tmp_path / "s.toml").exists()  # nothing applied, nothing asked
    (draft,) = DraftStore("eddie").pending()
    assert DraftStore("eddie").settings_changes() == {"model.confidence": 0.61}

    def restored(dialog: SettingsDialog):
        qtbot.addWidget(dialog)
        seen["shown"] = dialog._widget_of("model", "confidence").value()
        seen["message"] = dialog.message.text()
        return dialog.reject() or dialog.result()

    ui.offer_drafts = lambda parent, drafts: True  # "Restore"
    ui.answers = [sign_in("eddie", "eng-pw"), restored]
    monkeypatch.setattr(SettingsDialog, "ask_unsaved", lambda self: "discard")  # closing it: discard
    open_engineer_settings(None, settings, settings_path=tmp_path / "s.toml", access_ui=ui)
    assert seen["shown"] == pytest.approx(0.61) and "Restored" in seen["message"]
    assert DraftStore("eddie").pending() == []  # offered once, then gone
    assert draft.describe().startswith("settings changes kept at")
