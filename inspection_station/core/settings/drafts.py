"""Unsaved edits kept when a session ends without a decision (the idle sign-out).

An engineer who walks away from the settings dialog or the pattern editor loses nothing:
the edits are written here, per user, and offered back ("restore or discard") the next time
the same person opens the settings. Nothing here is applied by itself: a draft is only ever
shown again, never saved over the real files without the person's Apply or Save.

Layout: `<data root>/drafts/<user>/settings.json` (the changed keys: {"section.key": value})
and `<data root>/drafts/<user>/patterns/<set name>.yaml` (the edited pattern set).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from inspection_station.core import paths
from inspection_station.core.atomic import atomic_write_text
from inspection_station.core.errors import StationError

_SAFE = re.compile(r"[^A-Za-z0-9._@-]+")


@dataclass(frozen=True)
class Draft:
    kind: str  # "settings" | "patterns"
    name: str  # "settings", or the pattern set's name
    path: Path
    saved_at: datetime

    def describe(self) -> str:
        what = "settings changes" if self.kind == "settings" else f"pattern set {self.name}"
        return f"{what} kept at {self.saved_at:%Y-%m-%d %H:%M}"


def drafts_root() -> Path:
    return paths.config_dir() / "drafts"


class DraftStore:
    def __init__(self, user: str, root: Path | None = None) -> None:
        self.user = user
        self.folder = (root or drafts_root()) / (_SAFE.sub("_", user).strip("._") or "_")

    def keep_settings(self, changes: dict[str, Any]) -> Path:
        path = self.folder / "settings.json"
        atomic_write_text(path, json.dumps(changes, indent=2, ensure_ascii=False, default=str) + "\n")
        return path

    def keep_pattern_set(self, name: str, yaml_text: str) -> Path:
        path = self.folder / "patterns" / f"{_SAFE.sub('_', name) or 'pattern'}.yaml"
        atomic_write_text(path, yaml_text)
        return path

    def pending(self) -> list[Draft]:
        found = []
        settings = self.folder / "settings.json"
        if settings.is_file():
            found.append(Draft("settings", "settings", settings, _mtime(settings)))
        patterns = self.folder / "patterns"
        if patterns.is_dir():
            found += [Draft("patterns", p.stem, p, _mtime(p)) for p in sorted(patterns.glob("*.yaml"))]
        return found

    def settings_changes(self) -> dict[str, Any]:
        path = self.folder / "settings.json"
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise StationError(f"{path}: the kept settings draft cannot be read: {exc}") from None
        if not isinstance(data, dict):
            raise StationError(f"{path}: expected an object of \"section.key\": value")
        return data

    def discard(self, draft: Draft | None = None) -> None:
        for d in [draft] if draft is not None else self.pending():
            d.path.unlink(missing_ok=True)


def _mtime(path: Path) -> datetime:
    return datetime.fromtimestamp(path.stat().st_mtime).astimezone()
