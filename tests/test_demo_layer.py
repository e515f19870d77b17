"""`gui --demo` runs in its own settings layer: the user's settings file and a `--config`
file stay byte-identical, and demo pattern edits go to a copy, never the bundled file.
The real command, the real demo station (emulator, bundled model) and the real dialog."""

from __future__ import annotations

import dataclasses

import pytest
from PySide6.QtWidgets import QApplication

from inspection_station import cli
from inspection_station.core import paths
from inspection_station.core.patterns.yaml_io import load_pattern_set
from inspection_station.core.settings.demo import demo_layer
from inspection_station.core.settings.model import (
    Settings,
    load_settings,
    save_settings,
    user_config_path,
)
from inspection_station.gui.engineer.settings_dialog import SettingsDialog
from inspection_station.gui.operator.main_window import MainWindow

READY_S = 60_000


def _users_settings(tmp_path) -> Settings:
    return Settings().replace("camera", serial="40012345", trigger_mode="hardware", rotation_deg=90.0).replace(
        "model", path=str(tmp_path / "customer.onnx")).replace("patterns", path=str(tmp_path / "customer_patterns"))


def _edit_in_demo(qtbot, app, seen) -> int:
    """The test's event loop: wait for the demo window, then save settings and a pattern."""

    def window():
        found = [x for x in app.topLevelWidgets() if isinstance(x, MainWindow) and x.isVisible()]
        return found[0] if found else None

    qtbot.waitUntil(lambda: window() is not None and window().banner.state == "READY", timeout=READY_S)
    win = window()
    assert win.windowTitle().endswith("(demo)")
    win.actions.access.store.add("eva", "engineer", "demo-pass")  # the demo's engineer signs in
    assert win.actions.sign_in("eva", "demo-pass").ok
    dialog = SettingsDialog(win.settings, win.station, win, actions=win.actions, bridge=win.bridge)
    dialog.model_form.widgets["confidence"].setValue(0.61)
    assert dialog.apply(), dialog.message.text()
    editor = dialog.pattern_editor
    seen["editor_folder"] = editor.folder
    slot = editor.current_set().variants[editor.variant][0]
    editor.draft.set_slot(editor.variant, 0, dataclasses.replace(slot, name="edited_in_demo"))
    assert editor.save(), editor.status.text()
    seen["saved_path"] = win.settings_path
    dialog.close()
    assert win.windowTitle().endswith("(demo)")  # applied settings keep the demo's title
    win.close()
    return 0


@pytest.mark.parametrize("with_config", [False, True])
def test_demo_leaves_the_users_files_and_the_bundled_pattern_alone(qtbot, tmp_path, monkeypatch, with_config):
    user_file = save_settings(_users_settings(tmp_path), user_config_path())
    config = save_settings(_users_settings(tmp_path).replace("station", name="from-config"), tmp_path / "line.toml")
    bundled = paths.resources_dir() / "patterns" / "demo_parts.yaml"
    before = {p: p.read_bytes() for p in (user_file, config, bundled)}
    seen: dict = {}
    monkeypatch.setattr(QApplication, "exec", lambda app: _edit_in_demo(qtbot, app, seen))

    argv = ["gui", "--demo"] + (["--config", str(config)] if with_config else [])
    assert cli.main(argv) == 0

    assert {p: p.read_bytes() for p in before} == before
    demo_dir = paths.station_data_dir() / "demo"
    assert seen["saved_path"].parent == demo_dir
    assert load_settings(seen["saved_path"]).settings.model.confidence == 0.61
    assert seen["editor_folder"] == demo_dir / "patterns"
    edited = load_pattern_set(demo_dir / "patterns" / "demo_parts.yaml")
    assert any(s.name == "edited_in_demo" for slots in edited.variants.values() for s in slots)


def test_the_demo_layer_keeps_its_own_saved_edits_and_reads_the_users_file_only_once(tmp_path):
    first = demo_layer(_users_settings(tmp_path))
    assert first.settings.camera.serial == "0815-0000" and first.settings.model.path == ""
    assert first.settings.patterns.path == str(first.patterns_dir)
    assert first.save_path != user_config_path()
    save_settings(first.settings.replace("model", confidence=0.42), first.save_path)
    again = demo_layer(_users_settings(tmp_path))
    assert again.settings.model.confidence == 0.42
