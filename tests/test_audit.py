"""Audit log: one JSON line per change, appended, secrets masked."""

from __future__ import annotations

import json

import pytest

from inspection_station.core import paths
from inspection_station.core.settings.audit import (
    AuditError,
    AuditLog,
    read_audit,
    settings_changes,
)
from inspection_station.core.settings.model import Settings


def test_default_location_is_the_user_log_dir():
    log = AuditLog()
    log.record("settings", "camera.gain", 1.0, 2.0)
    assert log.path.parent == paths.user_log_dir()
    assert log.path.is_file()


def test_rows_are_appended_whole(tmp_path):
    log = AuditLog(tmp_path / "a" / "audit.jsonl", who="engineer@st")
    log.record("settings", "camera.gain", 1.0, 2.0)
    log.record("pattern", "demo.yaml / v1 / slot 1", {"class_id": 0}, None, action="delete")
    lines = (tmp_path / "a" / "audit.jsonl").read_text(encoding="utf-8").splitlines()
    assert len(lines) == 2
    first = json.loads(lines[0])
    assert first["who"] == "engineer@st" and first["target"] == "camera.gain"
    assert (first["old"], first["new"]) == (1.0, 2.0)
    assert "T" in first["time"]  # ISO timestamp
    entries = read_audit(log.path)
    assert entries[1].action == "delete" and entries[1].old == {"class_id": 0}
    # a second log object on the same file appends, never truncates
    AuditLog(log.path).record("settings", "x", 1, 2)
    assert len(read_audit(log.path)) == 3


def test_settings_changes_lists_keys_and_masks_secrets():
    old = Settings()
    new = old.replace("camera", gain=3.0, trigger_mode="hardware").replace(
        "station", engineer_password_hash="scrypt$1$1$1$a$b"
    ).replace("model", class_names=["a", "b"])
    changes = dict((k, (a, b)) for k, a, b in settings_changes(old, new))
    assert changes["camera.gain"] == (-1.0, 3.0)
    assert changes["camera.trigger_mode"] == ("software", "hardware")
    assert changes["model.class_names"] == ([], ["a", "b"])
    assert changes["station.engineer_password_hash"] == ("", "<hidden>")
    assert len(changes) == 4
    assert settings_changes(old, old) == []


def test_record_settings_writes_one_row_per_key(tmp_path):
    log = AuditLog(tmp_path / "audit.jsonl")
    old = Settings()
    log.record_settings(old, old.replace("results", image_quality=50))
    [entry] = log.read()
    assert (entry.kind, entry.target, entry.old, entry.new) == ("settings", "results.image_quality", 90, 50)


def test_unreadable_row_is_located(tmp_path):
    p = tmp_path / "audit.jsonl"
    p.write_text('{"bad": 1}\n', encoding="utf-8")
    with pytest.raises(AuditError, match=r"audit.jsonl:1"):
        read_audit(p)
