"""The settings store, Qt-free: every settings change is saved, then audited — or nothing
changes. (Applying and reverting are the station's actions: tests/test_actions.py.)"""

from __future__ import annotations

from inspection_station.core.settings.audit import Actor, AuditLog
from inspection_station.core.settings.model import Settings, load_settings
from inspection_station.core.settings.store import SettingsStore

ENGINEER = Actor("eva", "engineer", "station-1")


def test_commit_saves_then_audits_each_changed_key_with_the_actor(tmp_path):
    settings = Settings()
    store = SettingsStore(settings, tmp_path / "settings.toml", AuditLog(tmp_path / "audit.jsonl"))
    new = settings.replace("model", confidence=0.6).replace("station", name="line-4")
    outcome = store.commit(settings, new, ENGINEER)
    assert outcome.ok and outcome.message == ""
    assert load_settings(tmp_path / "settings.toml").settings == new and store.settings == new
    lines = AuditLog(tmp_path / "audit.jsonl").read()
    assert sorted((e.target, e.user) for e in lines) == [("model.confidence", "eva"), ("station.name", "eva")]


def test_commit_with_its_own_lines_writes_those(tmp_path):
    settings = Settings()
    store = SettingsStore(settings, tmp_path / "settings.toml", AuditLog(tmp_path / "audit.jsonl"))
    new = settings.replace("patterns", active="beta")
    assert store.commit(settings, new, ENGINEER, lines=[("product", "patterns.active", None, "beta", "switch")]).ok
    (line,) = AuditLog(tmp_path / "audit.jsonl").read()
    assert (line.kind, line.action, line.new, line.user) == ("product", "switch", "beta", "eva")


def test_a_file_that_cannot_be_written_is_reported_and_nothing_changes(tmp_path):
    settings = Settings()
    blocker = tmp_path / "not_a_folder"
    blocker.write_text("a file where the settings folder should be")  # fails for root too
    store = SettingsStore(settings, blocker / "settings.toml", AuditLog(tmp_path / "audit.jsonl"))
    outcome = store.commit(settings, settings.replace("model", confidence=0.6), ENGINEER)
    assert not outcome.ok and "Not saved to" in outcome.message
    assert store.settings == settings
    assert blocker.read_text() == "a file where the settings folder should be"
    assert AuditLog(tmp_path / "audit.jsonl").read() == []


def test_an_audit_that_cannot_be_written_puts_the_file_back(tmp_path):
    settings = Settings()
    path = tmp_path / "settings.toml"
    store = SettingsStore(settings, path, AuditLog(tmp_path / "audit.jsonl"))
    assert store.commit(settings, settings.replace("model", confidence=0.3), ENGINEER).ok
    saved = path.read_bytes()
    (tmp_path / "audit.jsonl.lock").unlink(missing_ok=True)
    (tmp_path / "audit.jsonl.lock").mkdir()  # the audit's lock cannot be opened: the line fails
    outcome = store.commit(store.settings, store.settings.replace("model", confidence=0.9), ENGINEER)
    assert not outcome.ok and "audit trail cannot be written" in outcome.message
    assert path.read_bytes() == saved  # the unaudited change did not stay
    assert load_settings(path).settings.model.confidence == 0.3 and store.settings.model.confidence == 0.3
