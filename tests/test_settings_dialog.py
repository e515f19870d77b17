"""The engineer settings dialog on real widgets: unlock, edit, refuse, save, audit, apply."""

from __future__ import annotations

import pytest
from PySide6.QtWidgets import QDialog

from inspection_station.core.patterns.model import PatternSet, Slot
from inspection_station.core.patterns.yaml_io import save_pattern_set
from inspection_station.core.settings import access
from inspection_station.core.settings.audit import AuditLog
from inspection_station.core.settings.model import Settings, load_settings
from inspection_station.gui.engineer.settings_dialog import SettingsDialog
from inspection_station.gui.engineer.unlock_dialog import ChangePasswordDialog

CHEAP = {"n": 2**4, "r": 1, "p": 1}  # the hash string carries its parameters: fast tests


@pytest.fixture
def settings(tmp_path):
    patterns = tmp_path / "patterns"
    patterns.mkdir()
    slot = Slot(0, (0.2, 0.2, 0.3, 0.3), (0.18, 0.18, 0.32, 0.32))
    save_pattern_set(PatternSet("alpha", {"v1": (slot,)}), patterns / "alpha.yaml")
    return Settings().replace("patterns", path=str(patterns)).replace(
        "station", engineer_password_hash=access.hash_password("open sesame", **CHEAP)
    )


@pytest.fixture
def dialog(qtbot, settings, tmp_path):
    d = SettingsDialog(settings, None, settings_path=tmp_path / "settings.toml", audit=AuditLog(tmp_path / "audit.jsonl"))
    qtbot.addWidget(d)
    return d


def _widget(dialog, section, key):
    return dialog._widget_of(section, key)


def test_edits_are_saved_reloaded_and_audited(dialog, tmp_path):
    _widget(dialog, "camera", "exposure_us").setValue(12000)
    trig = _widget(dialog, "camera", "trigger_mode")
    trig.setCurrentIndex(trig.findData("hardware"))
    _widget(dialog, "camera", "pixel_format").setCurrentText("BayerRG8")
    dialog.device_picker.set_serial("40012345")
    _widget(dialog, "model", "confidence").setValue(0.5)
    dialog.class_table.set_values(["screw", "clip"], ["#ff0000", ""])
    arch = _widget(dialog, "results", "archive")
    arch.setCurrentIndex(arch.findData("all"))
    _widget(dialog, "station", "name").setText("line-4")
    _widget(dialog, "station", "kiosk").setChecked(True)
    _widget(dialog, "station", "info_text").setPlainText("two\nlines")
    applied = []
    dialog.settings_applied.connect(applied.append)

    assert dialog.apply(), dialog.message.text()

    reloaded = load_settings(tmp_path / "settings.toml", strict=True).settings
    assert reloaded == dialog.settings == applied[0]
    assert reloaded.camera.exposure_us == 12000 and reloaded.camera.trigger_mode == "hardware"
    assert reloaded.camera.pixel_format == "BayerRG8" and reloaded.camera.serial == "40012345"
    assert reloaded.model.confidence == 0.5
    assert reloaded.model.class_names == ["screw", "clip"] and reloaded.model.class_colors == ["#ff0000"]
    assert reloaded.results.archive == "all"
    assert reloaded.station.name == "line-4" and reloaded.station.kiosk
    assert reloaded.station.info_text == "two\nlines"
    assert access.verify_password("open sesame", reloaded.station.engineer_password_hash)

    rows = {r.target: (r.old, r.new) for r in AuditLog(tmp_path / "audit.jsonl").read()}
    assert rows["camera.exposure_us"] == (0.0, 12000.0)
    assert rows["camera.trigger_mode"] == ("software", "hardware")
    assert rows["model.class_names"] == ([], ["screw", "clip"])
    assert rows["station.name"] == ("station-1", "line-4")
    assert len(rows) == 11
    # applying again with nothing changed writes nothing
    assert dialog.apply()
    assert len(AuditLog(tmp_path / "audit.jsonl").read()) == 11


@pytest.mark.parametrize(
    "edit, field, reason",
    [
        (lambda d: d.class_table.set_values(["a"], ["reddish"]), "Model › Classes", "#ff8800"),
        (lambda d: _widget(d, "model", "path").setText("/nonexistent/m.onnx"), "Model › ONNX model file", "no such model file"),
        (lambda d: _widget(d, "camera", "reconnect_max_s").setValue(0.1), "Camera › Longest reconnect delay", "at least"),
        (lambda d: _widget(d, "station", "name").setText("  "), "Results › Station name", "needs a name"),
        (lambda d: _widget(d, "camera", "roi_x").setValue(0.8) or _widget(d, "camera", "roi_width").setValue(0.5),
         "Camera › ROI width", "inside the image"),
        (lambda d: _widget(d, "line", "plc_enabled").setChecked(True) or _widget(d, "line", "plc_outputs").setText(
            "OK=Line2:UserOutput1, GO=Line3:UserOutput2"), "Line › Output lines", "item 2 'GO=Line3:UserOutput2'"),
        (lambda d: _widget(d, "line", "api_enabled").setChecked(True) or _widget(d, "line", "api_host").setText(
            "0.0.0.0"), "Line › API address", "set [line] api_token_sha256 first"),
    ],
)
def test_invalid_values_are_refused_with_the_field_named(dialog, tmp_path, edit, field, reason):
    edit(dialog)
    assert not dialog.apply()
    assert field in dialog.message.text() and reason in dialog.message.text()
    assert dialog.message.text().startswith("Not applied")
    assert dialog.tabs.tabText(dialog.tabs.currentIndex()) == field.split(" › ")[0]
    assert not (tmp_path / "settings.toml").exists()
    assert not (tmp_path / "audit.jsonl").exists()


def test_change_password(qtbot, dialog, tmp_path):
    change = ChangePasswordDialog(dialog.settings, dialog)
    change.current.setText("wrong")
    change.new.setText("newpass")
    change.confirm.setText("newpass")
    change.try_accept()
    assert "current password is wrong" in change.error.text()
    change.current.setText("open sesame")
    change.try_accept()
    assert change.result() == QDialog.DialogCode.Accepted
    applied = []
    dialog.settings_applied.connect(applied.append)
    dialog.save_password(change.settings)
    assert applied and access.verify_password("newpass", applied[0].station.engineer_password_hash)
    saved = load_settings(tmp_path / "settings.toml").settings
    assert access.verify_password("newpass", saved.station.engineer_password_hash)
    [row] = AuditLog(tmp_path / "audit.jsonl").read()
    assert row.target == "station.engineer_password_hash" and row.new == "<hidden>"


def test_device_picker_lists_the_emulated_cameras(dialog):
    dialog.device_picker.refresh()
    serials = [dialog.device_picker.combo.itemData(i) for i in range(dialog.device_picker.combo.count())]
    assert "0815-0000" in serials  # PYLON_CAMEMU=2 (conftest)
    dialog.device_picker.set_serial("0815-0001")
    assert dialog.device_picker.serial() == "0815-0001"


def test_pattern_tab_hosts_the_editor_on_the_configured_folder(dialog):
    assert dialog.pattern_editor.set_names() == ["alpha"]
    active = dialog.patterns_form.widgets["active"]
    assert active.findText("alpha") >= 0
    dialog.pattern_editor.ask_text = lambda *a, **k: "beta"
    dialog.pattern_editor.new_set()
    assert active.findText("beta") >= 0


def test_applying_a_broken_model_keeps_the_old_one(qtbot, tmp_path):
    from inspection_station.core.station import Station
    from inspection_station.gui.operator.station_bridge import StationBridge
    from tests.gui_station import station_settings

    settings = station_settings(tmp_path)
    bridge = StationBridge()
    station = Station(settings, previews=True)
    station.start()
    try:
        assert station.wait_ready(30)
        good = station.detector
        assert good is not None
        d = SettingsDialog(settings, station, settings_path=tmp_path / "settings.toml",
                           audit=AuditLog(tmp_path / "audit.jsonl"), bridge=bridge)
        qtbot.addWidget(d)
        assert "constant.onnx" in d.provider_label.text()
        broken = tmp_path / "broken.onnx"
        broken.write_bytes(b"\x00this is not an onnx model\xff" * 10)
        _widget(d, "model", "path").setText(str(broken))
        assert d.apply(), d.message.text()
        qtbot.waitUntil(lambda: "failed to load" in d.model_state.text(), timeout=30_000)
        assert "previous model stays in use" in d.model_state.text()
        assert "Model not changed" in d.message.text()
        assert station.detector is good
        assert "constant.onnx" in d.provider_label.text()
        # the saved settings name the model still running, so a restart does not break the station
        assert load_settings(tmp_path / "settings.toml").settings.model.path == settings.model.path
        assert d.settings.model.path == settings.model.path
        assert [r.target for r in AuditLog(tmp_path / "audit.jsonl").read()] == ["model.path", "model.path"]
    finally:
        station.stop()


def test_a_password_that_cannot_be_saved_is_reported_not_raised(qtbot, settings, tmp_path):
    blocker = tmp_path / "not_a_folder"
    blocker.write_text("")
    d = SettingsDialog(settings, None, settings_path=blocker / "settings.toml", audit=AuditLog(tmp_path / "audit.jsonl"))
    qtbot.addWidget(d)
    new = access.change_password(settings, "open sesame", "newpass", "newpass")
    d.save_password(new)  # a slot: an OSError must not escape
    assert d.message.text().startswith("Password not changed")
    assert d.settings == settings and not (tmp_path / "audit.jsonl").exists()


def test_device_picker_searches_on_the_stations_thread(qtbot, settings, tmp_path):
    from inspection_station.core.station import Station

    station = Station(settings)
    try:
        d = SettingsDialog(settings, station, settings_path=tmp_path / "settings.toml", audit=AuditLog(tmp_path / "audit.jsonl"))
        qtbot.addWidget(d)
        picker = d.device_picker
        picker.refresh()
        assert not picker.refresh_button.isEnabled()  # searching: the GUI thread did not wait
        qtbot.waitUntil(picker.refresh_button.isEnabled, timeout=30_000)
        serials = [picker.combo.itemData(i) for i in range(picker.combo.count())]
        assert "0815-0000" in serials and picker.note.text().endswith("found")
    finally:
        station.stop()
