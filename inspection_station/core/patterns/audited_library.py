"""The pattern library's use cases with their audit entries, Qt-free.

Create, rename, duplicate, delete and save a pattern set, each followed by its audit
entry, in one place the pattern editor, the CLI and the tests call. (The editor used to
copy "file operation + audit" four times.) A failed audit write never undoes the file
operation: the outcome says so in its note, for the engineer to see.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from inspection_station.core.patterns import library as lib
from inspection_station.core.patterns.model import PatternSet, Slot
from inspection_station.core.patterns.yaml_io import load_pattern_set, save_pattern_set
from inspection_station.core.settings.audit import AuditError, AuditLog


@dataclass(frozen=True)
class LibraryOutcome:
    path: Path  # the file made, renamed to, copied to, moved aside to or saved
    message: str  # what happened, for the engineer
    audit_note: str = ""  # "" when the audit entry was written, else why not
    saved: PatternSet | None = None  # save(): the set as read back from the file


class AuditedLibrary:
    def __init__(self, folder: Path, audit: AuditLog) -> None:
        self.folder = Path(folder)
        self.audit = audit

    def _audit(self, *args, **kwargs) -> str:
        try:
            self.audit.record(*args, **kwargs)
        except AuditError as exc:
            return f"audit log not written: {exc}"
        return ""

    def create(self, name: str, first_slot: Slot) -> LibraryOutcome:
        ps = lib.create_set(self.folder, name, first_slot)
        path = ps.path or lib.set_path(self.folder, ps.name)  # create_set always gives it one
        note = self._audit("pattern", path.name, None, ps.variants, action="create")
        return LibraryOutcome(path, f"Created {path.name}.", note)

    def rename(self, path: Path, new_name: str) -> LibraryOutcome:
        target = lib.rename_set(path, new_name)
        note = self._audit("pattern", path.name, path.name, target.name, action="rename")
        return LibraryOutcome(target, f"Renamed to {target.name}.", note)

    def duplicate(self, path: Path, new_name: str) -> LibraryOutcome:
        target = lib.duplicate_set(path, new_name)
        note = self._audit("pattern", target.name, path.name, target.name, action="duplicate")
        return LibraryOutcome(target, f"Copied to {target.name} (the saved version).", note)

    def delete(self, path: Path) -> LibraryOutcome:
        backup = lib.delete_set(path)
        note = self._audit("pattern", path.name, path.name, backup.name, action="delete")
        return LibraryOutcome(backup, f"Deleted {path.stem}; backup kept as {backup.name}.", note)

    def save(self, current: PatternSet, before: PatternSet | None, path: Path,
             num_classes: int | None = None) -> LibraryOutcome:
        """Validate, save atomically (comments, order and mode kept), read back, audit the
        changed slots. PatternError / PatternFileError leave the file untouched."""
        save_pattern_set(current, path, num_classes)
        saved = load_pattern_set(path)
        try:
            for target, action, old, new in pattern_changes(path.name, before, saved):
                self.audit.record("pattern", target, old, new, action=action)
            note = ""
        except AuditError as exc:
            note = f"audit log not written: {exc}"
        return LibraryOutcome(path, f"Saved {path.name} (previous version kept as {path.name}.bak).", note, saved)


def pattern_changes(
    file_label: str, old: PatternSet | None, new: PatternSet
) -> list[tuple[str, str, Any, Any]]:
    """(target, action, old, new) per variant added/removed and per slot changed/added/removed."""
    before = old.variants if old is not None else {}
    changes: list[tuple[str, str, Any, Any]] = []
    for variant, slots in before.items():
        if variant not in new.variants:
            changes.append((f"{file_label} / {variant}", "delete", list(slots), None))
    for variant, slots in new.variants.items():
        if variant not in before:
            changes.append((f"{file_label} / {variant}", "create", None, list(slots)))
            continue
        old_slots = before[variant]
        for i in range(max(len(old_slots), len(slots))):
            a = old_slots[i] if i < len(old_slots) else None
            b = slots[i] if i < len(slots) else None
            if a != b:
                action = "create" if a is None else "delete" if b is None else "change"
                changes.append((f"{file_label} / {variant} / slot {i}", action, a, b))
    old_scores = old.min_scores if old is not None else {}
    if old_scores != new.min_scores:
        changes.append((f"{file_label} / _settings / min_score", "change", old_scores, new.min_scores))
    return changes
