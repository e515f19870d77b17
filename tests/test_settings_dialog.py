"""The engineer settings dialog on real widgets: unlock, edit, refuse, save, audit, apply."""

from __future__ import annotations

import pytest

from inspection_station.core.patterns.model import PatternSet, Slot
from inspection_station.core.patterns.yaml_io import save_pattern_set
from inspection_station.core.settings import access
from inspection_station.core.settings.audit import AuditLog
from inspection_station.core.settings.model import Settings, load_settings
from inspection_station.gui.engineer.settings_dialog import SettingsDialog
from tests.known_station import signed_in_actions

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


def audit_of(tmp_path, kind="settings"):
    return [r for r in AuditLog(tmp_path / "audit.jsonl").read() if r.kind == kind]


@pytest.fixture
def dialog(qtbot, settings, tmp_path):
    d = SettingsDialog(settings, None, actions=signed_in_actions(settings, tmp_path))
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

    rows = {r.target: (r.old, r.new) for r in audit_of(tmp_path)}
    assert rows["camera.exposure_us"] == (0.0, 12000.0)
    assert rows["camera.trigger_mode"] == ("software", "hardware")
    assert rows["model.class_names"] == ([], ["screw", "clip"])
    assert rows["station.name"] == ("station-1", "line-4")
    assert len(rows) == 11
    assert {r.user for r in audit_of(tmp_path)} == {"engineer-1"}  # who was signed in
    # applying again with nothing changed writes nothing
    assert dialog.apply()
    assert len(audit_of(tmp_path)) == 11


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
    assert audit_of(tmp_path) == []


def test_an_operator_cannot_apply_and_nothing_is_saved(qtbot, settings, tmp_path):
    d = SettingsDialog(settings, None, actions=signed_in_actions(settings, tmp_path, role="operator"))
    qtbot.addWidget(d)
    _widget(d, "model", "confidence").setValue(0.5)
    assert not d.apply()
    assert "role engineer is needed" in d.message.text()
    assert not (tmp_path / "settings.toml").exists() and audit_of(tmp_path) == []


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
        d = SettingsDialog(settings, station, actions=signed_in_actions(settings, tmp_path, station=station),
                           bridge=bridge)
        bridge.attach(station.bus)
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
        qtbot.waitUntil(lambda: d.settings.model.path == settings.model.path, timeout=30_000)
        assert [(r.target, r.user) for r in audit_of(tmp_path)] == [("model.path", "engineer-1"),
                                                                     ("model.path", "(station)")]
    finally:
        station.stop()


def test_settings_that_cannot_be_saved_are_reported_and_nothing_changes(qtbot, settings, tmp_path):
    blocker = tmp_path / "not_a_folder"
    blocker.write_text("")
    d = SettingsDialog(settings, None, actions=signed_in_actions(settings, tmp_path,
                                                                 settings_path=blocker / "settings.toml"))
    qtbot.addWidget(d)
    _widget(d, "model", "confidence").setValue(0.5)
    assert not d.apply()  # a slot: an OSError must not escape
    assert "not saved to" in d.message.text().lower()
    assert d.settings == settings and audit_of(tmp_path) == []


def test_device_picker_searches_on_the_stations_thread(qtbot, settings, tmp_path):
    from inspection_station.core.station import Station

    station = Station(settings)
    try:
        d = SettingsDialog(settings, station, actions=signed_in_actions(settings, tmp_path, station=station))
        qtbot.addWidget(d)
        picker = d.device_picker
        picker.refresh()
        assert not picker.refresh_button.isEnabled()  # searching: the GUI thread did not wait
        qtbot.waitUntil(picker.refresh_button.isEnabled, timeout=30_000)
        serials = [picker.combo.itemData(i) for i in range(picker.combo.count())]
        assert "0815-0000" in serials and picker.note.text().endswith("found")
    finally:
        station.stop()
