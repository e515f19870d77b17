"""Audit log: who changed which setting or pattern, when, from what to what.

One JSON object per line (JSON-lines) so any value — a number, a list of class
names, a slot's boxes — is stored without a CSV quoting scheme. Each row is written
whole, flushed and synced; the file is only ever appended to, never rewritten.
"""

from __future__ import annotations

import dataclasses
import json
import os
import threading
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from inspection_station.core import paths
from inspection_station.core.errors import StationError
from inspection_station.core.patterns.model import PatternSet
from inspection_station.core.settings.model import Settings

AUDIT_FILE_NAME = "audit.jsonl"
SECRET_KEYS = frozenset({"engineer_password_hash"})  # logged as changed, never the value
HIDDEN = "<hidden>"


class AuditError(StationError):
    """The audit log cannot be written or read."""


@dataclass(frozen=True)
class AuditEntry:
    time: str  # ISO 8601, local time with UTC offset
    who: str  # e.g. "engineer@station-1"
    kind: str  # "settings" or "pattern"
    target: str  # "camera.exposure_us" or "demo.yaml / variant_a / slot 2"
    action: str  # "change", "create", "delete", "rename", ...
    old: Any = None
    new: Any = None

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)


def default_audit_path() -> Path:
    return paths.user_log_dir() / AUDIT_FILE_NAME


def _jsonable(value: Any) -> Any:
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {k: _jsonable(v) for k, v in dataclasses.asdict(value).items()}
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_jsonable(v) for v in value]
    if isinstance(value, str | int | float | bool) or value is None:
        return value
    return str(value)


class AuditLog:
    """Appends entries to one JSON-lines file (thread-safe within the process)."""

    def __init__(self, path: str | Path | None = None, *, who: str = "engineer") -> None:
        self.path = Path(path) if path else default_audit_path()
        self.who = who
        self._lock = threading.Lock()

    def record(self, kind: str, target: str, old: Any = None, new: Any = None, *, action: str = "change") -> AuditEntry:
        entry = AuditEntry(
            time=datetime.now().astimezone().isoformat(timespec="seconds"),
            who=self.who,
            kind=kind,
            target=target,
            action=action,
            old=_jsonable(old),
            new=_jsonable(new),
        )
        line = json.dumps(entry.to_dict(), ensure_ascii=False) + "\n"
        with self._lock:
            try:
                self.path.parent.mkdir(parents=True, exist_ok=True)
                with self.path.open("a", encoding="utf-8", newline="\n") as fh:
                    fh.write(line)  # one write call per row: rows are never interleaved
                    fh.flush()
                    os.fsync(fh.fileno())
            except OSError as exc:
                raise AuditError(f"{self.path}: cannot write the audit log: {exc.strerror or exc}") from None
        return entry

    def record_settings(self, old: Settings, new: Settings) -> list[AuditEntry]:
        """One entry per changed key; returns them (empty when nothing changed)."""
        return [
            self.record("settings", key, before, after)
            for key, before, after in settings_changes(old, new)
        ]

    def record_patterns(self, file_label: str, old: PatternSet | None, new: PatternSet) -> list[AuditEntry]:
        """One entry per added/removed variant and per changed slot of a saved pattern set."""
        return [
            self.record("pattern", target, before, after, action=action)
            for target, action, before, after in pattern_changes(file_label, old, new)
        ]

    def read(self) -> list[AuditEntry]:
        return read_audit(self.path)


def settings_changes(old: Settings, new: Settings) -> list[tuple[str, Any, Any]]:
    """(section.key, old, new) for every key that differs; secrets are masked."""
    changes = []
    for section in dataclasses.fields(Settings):
        before = getattr(old, section.name)
        after = getattr(new, section.name)
        for f in dataclasses.fields(before):
            a, b = getattr(before, f.name), getattr(after, f.name)
            if a != b:
                if f.name in SECRET_KEYS:
                    a, b = (HIDDEN if a else ""), HIDDEN
                changes.append((f"{section.name}.{f.name}", a, b))
    return changes


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


def read_audit(path: str | Path | None = None) -> list[AuditEntry]:
    """All entries of an audit file, oldest first (a missing file is an empty log)."""
    p = Path(path) if path else default_audit_path()
    if not p.exists():
        return []
    entries = []
    with p.open(encoding="utf-8") as fh:
        for number, line in enumerate(fh, 1):
            if not line.strip():
                continue
            try:
                entries.append(AuditEntry(**json.loads(line)))
            except (ValueError, TypeError) as exc:
                raise AuditError(f"{p}:{number}: not an audit entry: {exc}") from None
    return entries
