"""The settings file a station saves to: save atomically, audit the changed keys, fail closed.

One object per station, held by its actions (core/actions.py): the user's settings, a
`--config` file, or the demo's own layer (core/settings/demo.py); the store never picks
another. `commit(old, new, actor)` is the persistence step every settings change goes
through — an engineer's Apply, a product switch, the revert after a failed model load:

- the file is written first (atomically, previous version kept as .bak); when it cannot
  be written nothing changes and the caller says why;
- then one audit line per changed key, naming the actor; when the audit trail cannot be
  written the file is put back and nothing changes either: a change without a name on it
  does not happen.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from inspection_station.core.errors import ConfigError
from inspection_station.core.settings.audit import Actor, AuditError, AuditLog
from inspection_station.core.settings.model import Settings, save_settings


@dataclass(frozen=True)
class StoreOutcome:
    ok: bool
    message: str  # "" when saved and audited, else one line naming the file and why not


class SettingsStore:
    def __init__(self, settings: Settings, path: str | Path, audit: AuditLog) -> None:
        self.settings = settings  # what the file holds (as far as this process wrote it)
        self.path = Path(path)
        self.audit = audit

    def _save(self, new: Settings) -> str:
        """'' when saved, else why not (the old file stays as it was)."""
        try:
            save_settings(new, self.path)
        except (OSError, ConfigError) as exc:  # ConfigError: save_settings refused the values
            return f"not saved to {self.path}: {getattr(exc, 'strerror', None) or exc}"
        return ""

    def commit(self, old: Settings, new: Settings, actor: Actor, *, lines: list[tuple] | None = None) -> StoreOutcome:
        """Save `new`, then audit: one line per key changed from `old` (or the given `lines`,
        each (kind, target, old, new, action)). On any failure nothing has changed."""
        problem = self._save(new)
        if problem:
            return StoreOutcome(False, problem[0].upper() + problem[1:])
        audit = self.audit.as_actor(actor)
        try:
            if lines is None:
                audit.record_settings(old, new)
            else:
                for kind, target, before, after, action in lines:
                    audit.record(kind, target, before, after, action=action)
        except AuditError as exc:
            undo = self._save(self.settings)  # put the file back: an unaudited change must not stay
            tail = f"; and the file could not be put back: {undo}" if undo else "; the file was put back"
            return StoreOutcome(False, f"Not changed: the audit trail cannot be written ({exc}){tail}")
        self.settings = new
        return StoreOutcome(True, "")
