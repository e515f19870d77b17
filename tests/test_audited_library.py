"""The pattern library's use cases with their audit entries, Qt-free: what the pattern
editor calls (real files, a real audit log)."""

from __future__ import annotations

import dataclasses

import pytest

from inspection_station.core.errors import PatternError
from inspection_station.core.patterns.audited_library import AuditedLibrary
from inspection_station.core.patterns.model import PatternSet, Slot
from inspection_station.core.patterns.yaml_io import load_pattern_set
from inspection_station.core.settings.audit import AuditLog

SLOT = Slot(0, (0.20, 0.20, 0.30, 0.30), (0.18, 0.18, 0.32, 0.32))


def test_create_rename_duplicate_delete_save_each_write_their_audit_entry(tmp_path):
    audit = AuditLog(tmp_path / "audit.jsonl")
    lib = AuditedLibrary(tmp_path / "patterns", audit)
    made = lib.create("board", SLOT)
    renamed = lib.rename(made.path, "board_c")
    copied = lib.duplicate(renamed.path, "board_d")
    ps = load_pattern_set(copied.path)
    moved = dataclasses.replace(SLOT, outer=(0.17, 0.18, 0.32, 0.32))
    saved = lib.save(PatternSet(ps.name, {"variant_a": (moved,)}, ps.path), ps, copied.path)
    deleted = lib.delete(renamed.path)
    assert [o.audit_note for o in (made, renamed, copied, saved, deleted)] == [""] * 5
    assert saved.saved.variants["variant_a"][0].outer == (0.17, 0.18, 0.32, 0.32)
    assert not renamed.path.exists() and deleted.path.name.startswith("board_c.yaml.deleted-")
    entries = audit.read()
    assert [e.action for e in entries] == ["create", "rename", "duplicate", "change", "delete"]
    assert entries[3].target.startswith("board_d.yaml")


def test_a_refused_operation_writes_no_audit_entry(tmp_path):
    audit = AuditLog(tmp_path / "audit.jsonl")
    lib = AuditedLibrary(tmp_path / "patterns", audit)
    made = lib.create("board", SLOT)
    with pytest.raises(PatternError):
        lib.create("board", SLOT)  # exists
    bad = PatternSet("board", {"variant_a": (Slot(0, (0.2, 0.2, 0.3, 0.3), (0.25, 0.25, 0.28, 0.28)),)}, made.path)
    before = made.path.read_bytes()
    with pytest.raises(PatternError):
        lib.save(bad, load_pattern_set(made.path), made.path)  # outer inside inner: invalid
    assert made.path.read_bytes() == before
    assert [e.action for e in audit.read()] == ["create"]
