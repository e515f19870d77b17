"""The settings store: save -> audit -> apply -> revert, one use case, Qt-free.

The engineer's dialog used to do this itself (and rewrote saved settings when a signal
arrived). Here it is one object the dialog, the CLI and the tests call alike:

- `apply(new)`: save atomically to the store's file, one audit entry per changed key,
  hand the settings to the station. Nothing is saved when the file cannot be written.
- `model_failed()`: the station kept its old model because the new one did not load;
  the saved file is put back to the model that runs, so a restart comes up working.
- `save_password_hash(h)`: only the engineer password hash changes.

The file is the one the store was given: the user's settings, a `--config` file, or the
demo's own layer (core/settings/demo.py); the store never picks another.
"""

from __future__ import annotations

import dataclasses
from concurrent.futures import Future
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from inspection_station.core.errors import ConfigError, StationError
from inspection_station.core.settings.audit import AuditError, AuditLog
from inspection_station.core.settings.model import Settings, save_settings
from inspection_station.core.settings.revert import after_failed_model_load


class SettingsTarget(Protocol):
    """What the store needs of a station: the settings it runs on, and a way to change them."""

    settings: Settings

    def apply_settings(self, settings: Settings) -> Future | None: ...


@dataclass(frozen=True)
class StoreOutcome:
    ok: bool  # saved (and, with a station, applied)
    message: str  # one line for the engineer, the file named
    settings: Settings  # the settings now saved


class SettingsStore:
    def __init__(self, settings: Settings, path: str | Path, audit: AuditLog,
                 station: SettingsTarget | None = None) -> None:
        self.settings = settings
        self.path = Path(path)
        self.audit = audit
        self.station = station
        self.model_pending = False  # a new model was handed to the station, not yet loaded

    def _audit(self, old: Settings, new: Settings) -> str:
        try:
            self.audit.record_settings(old, new)
        except AuditError as exc:
            return f" (audit log not written: {exc})"
        return ""

    def _save(self, new: Settings) -> str:
        """'' when saved, else why not (the old file stays as it was)."""
        try:
            save_settings(new, self.path)
        except (OSError, ConfigError) as exc:  # ConfigError: save_settings refused the values
            return f"not saved to {self.path}: {getattr(exc, 'strerror', None) or exc}"
        return ""

    def apply(self, new: Settings) -> StoreOutcome:
        if new == self.settings:
            return StoreOutcome(True, "No changes to apply.", self.settings)
        problem = self._save(new)
        if problem:
            return StoreOutcome(False, problem[0].upper() + problem[1:], self.settings)
        old, self.settings = self.settings, new
        note = self._audit(old, new)
        if self.station is not None:
            self.model_pending = new.model != old.model
            try:
                self.station.apply_settings(new)
            except StationError as exc:
                return StoreOutcome(False, f"Saved, but the station refused them: {exc}{note}", new)
        return StoreOutcome(True, f"Saved to {self.path} and applied.{note}", new)

    def model_failed(self) -> str:
        """After a failed model load: save the model settings still running. Returns the
        sentence to add to the engineer's message ("" when there was nothing to put back)."""
        running = self.station.settings.model if self.station is not None else None
        # the revert policy is core/settings/revert.py's, written once
        new = after_failed_model_load(self.settings, self.settings.model, running) if self.model_pending else None
        if new is None:
            return ""
        self.model_pending = False
        problem = self._save(new)
        if problem:
            return f" (the saved settings still name the failed model: {problem})"
        old, self.settings = self.settings, new
        return " The saved model settings were put back to the model in use." + self._audit(old, new)

    def model_loaded(self) -> None:
        self.model_pending = False

    def save_password_hash(self, password_hash: str) -> StoreOutcome:
        """Store only a new engineer password hash (pending edits elsewhere are not saved)."""
        new = dataclasses.replace(self.settings, station=dataclasses.replace(
            self.settings.station, engineer_password_hash=password_hash))
        problem = self._save(new)
        if problem:
            return StoreOutcome(False, f"Password not changed: {problem}", self.settings)
        old, self.settings = self.settings, new
        return StoreOutcome(True, f"Engineer password changed.{self._audit(old, new)}", new)
