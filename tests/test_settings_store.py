"""The settings store, Qt-free: save -> audit -> apply -> revert on a REAL station
(emulator, real onnxruntime session), as the dialog and the CLI use it."""

from __future__ import annotations

import threading

import numpy as np

from inspection_station.core.settings.audit import AuditLog
from inspection_station.core.settings.model import Settings, load_settings
from inspection_station.core.settings.store import SettingsStore
from inspection_station.core.station import Station
from tests.onnx_models import constant_model

# End-to-end layout [1, K, 6]: one box, enough for a model that loads and runs.
_OUTPUT = np.array([[[100, 100, 200, 200, 0.9, 0]]], np.float32)


def station_settings(tmp_path):
    """A station on the emulator (bundled demo images and patterns) with a tiny real model;
    Qt-free, so this file runs in the core-only CI step too."""
    model = constant_model(tmp_path / "constant.onnx", _OUTPUT, names={0: "screw"})
    return (
        Settings()
        .replace("camera", serial="0815-0000", emulation=True, trigger_mode="software")
        .replace("model", path=str(model))
        .replace("results", log_dir=str(tmp_path / "log"), image_dir=str(tmp_path / "images"),
                 review_dir=str(tmp_path / "review"), archive="none")
    )


def test_apply_saves_audits_each_key_and_hands_the_settings_to_the_station(tmp_path):
    settings = station_settings(tmp_path)
    station = Station(settings)
    store = SettingsStore(settings, tmp_path / "settings.toml", AuditLog(tmp_path / "audit.jsonl"), station)
    new = settings.replace("model", confidence=0.6).replace("station", name="line-4")
    outcome = store.apply(new)
    assert outcome.ok and str(tmp_path / "settings.toml") in outcome.message
    assert load_settings(tmp_path / "settings.toml").settings == new
    assert sorted(e.target for e in AuditLog(tmp_path / "audit.jsonl").read()) == ["model.confidence", "station.name"]
    assert station.settings == new
    assert store.apply(new).message == "No changes to apply."
    station.stop()


def test_a_file_that_cannot_be_written_is_reported_and_nothing_changes(tmp_path):
    settings = station_settings(tmp_path)
    blocker = tmp_path / "not_a_folder"
    blocker.write_text("a file where the settings folder should be")  # fails for root too
    store = SettingsStore(settings, blocker / "settings.toml", AuditLog(tmp_path / "audit.jsonl"))
    outcome = store.apply(settings.replace("model", confidence=0.6))
    assert not outcome.ok and "Not saved to" in outcome.message
    assert store.settings == settings
    assert blocker.read_text() == "a file where the settings folder should be"
    assert AuditLog(tmp_path / "audit.jsonl").read() == []


def test_a_model_that_fails_to_load_is_reverted_in_the_saved_file(tmp_path):
    settings = station_settings(tmp_path)
    states = []
    failed = threading.Event()

    def on_state(component, state, reason):
        states.append((component, state))
        if component == "model" and state == "error":
            failed.set()

    station = Station(settings, on_state=on_state)
    station.start()
    try:
        assert station.wait_ready(30)
        store = SettingsStore(settings, tmp_path / "settings.toml", AuditLog(tmp_path / "audit.jsonl"), station)
        broken = tmp_path / "broken.onnx"
        broken.write_bytes(b"\x00not a model\xff" * 10)
        assert store.apply(settings.replace("model", path=str(broken))).ok
        assert failed.wait(30)
        note = store.model_failed()
        assert "put back to the model in use" in note
        assert load_settings(tmp_path / "settings.toml").settings.model.path == settings.model.path
        assert store.settings.model.path == settings.model.path
        assert [e.target for e in AuditLog(tmp_path / "audit.jsonl").read()] == ["model.path", "model.path"]
        assert store.model_failed() == ""  # once
    finally:
        station.stop()


def test_password_hash_alone_is_saved(tmp_path):
    settings = station_settings(tmp_path)
    store = SettingsStore(settings, tmp_path / "settings.toml", AuditLog(tmp_path / "audit.jsonl"))
    outcome = store.save_password_hash("scrypt$16$1$1$c2FsdA$aGFzaA")
    assert outcome.ok and load_settings(tmp_path / "settings.toml").settings.station.engineer_password_hash == \
        "scrypt$16$1$1$c2FsdA$aGFzaA"
