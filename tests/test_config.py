"""Settings: defaults + user file + environment, tolerant loading, atomic save."""

from __future__ import annotations

import pytest

from inspection_station.core.errors import ConfigError
from inspection_station.core.settings.model import (
    Settings,
    load_settings,
    save_settings,
    settings_to_toml,
    user_config_path,
)


def test_defaults_come_from_the_bundled_toml():
    loaded = load_settings(env={})
    assert loaded.warnings == []
    assert loaded.files[0].name == "default_config.toml"
    assert loaded.settings.camera.trigger_mode == "software"
    assert loaded.settings.model.confidence == 0.25
    assert loaded.user_file == user_config_path()


def test_user_file_then_environment_override(tmp_path):
    f = tmp_path / "station.toml"
    f.write_text('[camera]\nserial = "4001"\nexposure_us = 5000\n[model]\nconfidence = 0.4\n')
    env = {"INSPECTION_STATION_MODEL_CONFIDENCE": "0.6", "INSPECTION_STATION_CAMERA_EMULATION": "off"}
    s = load_settings(f, env=env).settings
    assert (s.camera.serial, s.camera.exposure_us, s.camera.emulation) == ("4001", 5000.0, False)
    assert s.model.confidence == 0.6


@pytest.mark.parametrize(
    "toml, expected",
    [
        ("[model]\nconfidence = 'high'\n", "[model] confidence: expected a number, got 'high'; using 0.25"),
        ("[model]\nconfidence = 1.5\n", "[model] confidence: expected at most 1.0, got 1.5"),
        ("[camera]\ntrigger_mode = 'pedal'\n", "[camera] trigger_mode: expected one of 'software', 'hardware', 'continuous'"),
        ("[camera]\ngrab_timeout_ms = 2.5\n", "[camera] grab_timeout_ms: expected a whole number, got 2.5"),
        ("[camera]\nnonsense = 1\n", "[camera] unknown key 'nonsense' ignored"),
        ("[gpu]\nx = 1\n", "unknown section [gpu] ignored"),
        ("[model]\nproviders = 'CPU'\n", None),  # a string is accepted as a comma list
    ],
)
def test_bad_values_are_located_and_replaced_by_defaults(tmp_path, toml, expected):
    f = tmp_path / "s.toml"
    f.write_text(toml)
    loaded = load_settings(f, env={})
    if expected is None:
        assert loaded.warnings == []
        return
    (warning,) = loaded.warnings
    assert warning.startswith(str(f)) and expected in warning
    assert loaded.settings == load_settings(env={}).settings  # nothing of the bad value survived


def test_broken_toml_never_blocks_start_up(tmp_path):
    f = tmp_path / "s.toml"
    f.write_text("[camera\nserial = 1\n")
    loaded = load_settings(f, env={})
    (warning,) = loaded.warnings
    assert str(f) in warning and "not valid TOML" in warning and "running on defaults" in warning
    assert loaded.settings == load_settings(env={}).settings


def test_strict_loading_raises(tmp_path):
    f = tmp_path / "s.toml"
    f.write_text("[model]\niou = -1\n")
    with pytest.raises(ConfigError, match=r"\[model\] iou: expected at least 0.0"):
        load_settings(f, env={}, strict=True)


def test_missing_config_file_is_reported(tmp_path):
    loaded = load_settings(tmp_path / "nope.toml", env={})
    assert "no such settings file" in loaded.warnings[0]


def test_save_is_atomic_with_backup_and_round_trips(tmp_path):
    f = tmp_path / "settings.toml"
    first = load_settings(env={}).settings.replace("station", name="line-3")
    save_settings(first, f)
    second = first.replace("model", confidence=0.5, providers=["CPUExecutionProvider"])
    save_settings(second, f)
    assert load_settings(f, env={}).settings == second
    assert load_settings(f.with_name("settings.toml.bak"), env={}).settings == first
    assert {p.name for p in tmp_path.iterdir()} == {"settings.toml", "settings.toml.bak"}  # no temp left


def test_replace_validates():
    with pytest.raises(ConfigError, match=r"\[camera\] rotation_deg: expected at most 360.0"):
        Settings().replace("camera", rotation_deg=400)
    with pytest.raises(ConfigError, match=r"\[camera\] has no key 'zoom'"):
        Settings().replace("camera", zoom=2)


def test_every_default_is_valid_and_serialisable():
    text = settings_to_toml(Settings())
    assert "[camera]" in text and "[station]" in text
    assert load_settings(env={}).settings == Settings()  # the bundled TOML states the code's defaults
