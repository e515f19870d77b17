"""Audit log: one JSON line per change, appended, secrets masked, hash-chained."""

from __future__ import annotations

import json

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from inspection_station import cli
from inspection_station.core import paths
from inspection_station.core.settings.audit import (
    Actor,
    AuditError,
    AuditLog,
    read_audit,
    settings_changes,
    verify_audit,
)
from inspection_station.core.settings.model import Settings


def test_default_location_is_the_data_roots_log_folder():
    log = AuditLog()
    log.record("settings", "camera.gain", 1.0, 2.0)
    assert log.path.parent == paths.logs_dir()
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


# --- the hash chain -----------------------------------------------------------------------


def _chained_log(tmp_path, n=5):
    log = AuditLog(tmp_path / "audit.jsonl", actor=Actor("ada", "admin", "st-1"))
    for i in range(n):
        log.record("settings", f"camera.gain_{i}", i, i + 1)
    return log.path


def _lines(path):
    return path.read_text(encoding="utf-8").splitlines(keepends=True)


def _verify_cli(path, capsys):
    code = cli.main(["audit", "verify", str(path)])
    out = capsys.readouterr()
    return code, out.out + out.err


def test_lines_name_user_role_station_with_offset_and_chain(tmp_path, capsys):
    path = _chained_log(tmp_path, 3)
    rows = [json.loads(line) for line in _lines(path)]
    assert [r["seq"] for r in rows] == [1, 2, 3]
    assert rows[0]["prev"] == "0" * 64 and rows[1]["prev"] == rows[0]["hash"]
    assert (rows[0]["user"], rows[0]["role"], rows[0]["station"], rows[0]["who"]) == ("ada", "admin", "st-1", "ada@st-1")
    assert rows[0]["time"][-6] in "+-"  # UTC offset
    assert verify_audit(path).intact
    key_id = rows[0]["key"]
    assert [r["key"] for r in rows] == [key_id] * 3 and len(key_id) == 16
    assert _verify_cli(path, capsys) == (0, f"{path}: intact: 3 chained line(s), 3 protected by audit key {key_id}\n")


def test_edited_line_is_detected(tmp_path, capsys):
    path = _chained_log(tmp_path)
    lines = _lines(path)
    lines[2] = lines[2].replace('"new": 3', '"new": 30')
    path.write_text("".join(lines), encoding="utf-8")
    code, text = _verify_cli(path, capsys)
    assert code == 1 and "audit.jsonl:3:" in text and "edited" in text


def test_inserted_line_is_detected(tmp_path, capsys):
    path = _chained_log(tmp_path)
    lines = _lines(path)
    forged = json.loads(lines[1])
    forged.update(target="camera.exposure_us", seq=3)
    lines.insert(2, json.dumps(forged) + "\n")
    path.write_text("".join(lines), encoding="utf-8")
    code, text = _verify_cli(path, capsys)
    assert code == 1 and "audit.jsonl:3:" in text


@pytest.mark.parametrize("index", [0, 2, 4], ids=["first", "middle", "last"])
def test_deleted_line_is_detected(tmp_path, capsys, index):
    path = _chained_log(tmp_path)
    lines = _lines(path)
    del lines[index]
    path.write_text("".join(lines), encoding="utf-8")
    code, text = _verify_cli(path, capsys)
    assert code == 1
    assert ("deleted" in text) and ("audit.jsonl" in text)


def test_unreadable_file_is_exit_2(tmp_path, capsys):
    code, text = _verify_cli(tmp_path / "missing.jsonl", capsys)
    assert code == 2 and "missing.jsonl: cannot read" in text


def test_older_unchained_lines_stay_readable_and_the_chain_continues(tmp_path):
    path = tmp_path / "audit.jsonl"
    old = {"time": "2026-01-01T10:00:00+01:00", "who": "engineer@st", "kind": "settings",
           "target": "camera.gain", "action": "change", "old": 1, "new": 2}
    path.write_text(json.dumps(old) + "\n", encoding="utf-8")
    AuditLog(path).record("settings", "camera.gain", 2, 3)
    result = verify_audit(path)
    assert result.intact and result.chained == 1 and result.lines == 2
    assert "not protected" in result.summary()
    assert [e.new for e in read_audit(path)] == [2, 3]
    path.write_text(path.read_text(encoding="utf-8").replace('"new": 2}', '"new": 9}'), encoding="utf-8")
    assert not verify_audit(path).intact  # the first chained line hashes the older ones


def test_two_log_objects_on_one_file_keep_one_chain(tmp_path):
    a = AuditLog(tmp_path / "audit.jsonl", who="a@st")
    b = AuditLog(tmp_path / "audit.jsonl", who="b@st")
    for i in range(4):
        (a if i % 2 else b).record("settings", "k", i, i + 1)
    assert verify_audit(a.path).intact and verify_audit(a.path).chained == 4


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(line=st.integers(0, 5), field=st.sampled_from(["time", "who", "target", "old", "new", "user", "role", "seq"]),
       value=st.one_of(st.integers(), st.text(max_size=8)))
def test_any_changed_value_in_any_line_is_detected(tmp_path, line, field, value):
    path = tmp_path / f"audit-{line}-{field}.jsonl"
    path.unlink(missing_ok=True)
    head_path_ = path.with_name(path.name + ".head")
    head_path_.unlink(missing_ok=True)
    log = AuditLog(path, actor=Actor("ada", "admin", "st-1"))
    for i in range(6):
        log.record("settings", f"k{i}", i, i + 1)
    lines = _lines(path)
    row = json.loads(lines[line])
    assume(row[field] != value)
    row[field] = value
    lines[line] = json.dumps(row) + "\n"
    path.write_text("".join(lines), encoding="utf-8")
    result = verify_audit(path)
    assert not result.intact and f"audit-{line}-{field}.jsonl:{line + 1}:" in result.problem


def test_a_head_behind_the_end_is_no_tampering_but_a_replaced_tail_is(tmp_path):
    path = _chained_log(tmp_path, 3)
    head = path.with_name(path.name + ".head")
    behind = head.read_text(encoding="utf-8")
    AuditLog(path).record("settings", "k", 1, 2)
    head.write_text(behind, encoding="utf-8")  # as if the process died before the head was written
    assert verify_audit(path).intact
    lines = _lines(path)
    path.write_text("".join(lines[:2]), encoding="utf-8")  # cut back to 2, then forge a new line 3
    AuditLog(path).record("settings", "forged", 0, 1)
    head.write_text(behind, encoding="utf-8")
    result = verify_audit(path)
    assert not result.intact and "sequence 3 is not the one the head recorded" in result.problem
