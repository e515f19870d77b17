"""The station's data root made ready: created, and the per-user folders of 0.1 moved in.

Version 0.1 kept settings, accounts, the audit trail, results and images in the folders of
the Windows (or Linux) user who ran it. On the first start of 0.2 for that user,
`prepare_data_root()` MOVES (never copies) everything those folders hold into the data root
(core/paths.py), each file to the place 0.2 reads it from, and writes one audit entry saying
what moved. Nothing is overwritten: a file whose place in the data root is taken (a second
user's settings, a results file of the same day) is moved under `migrated-0.1/<user>/` in
the data root instead and named in the entry (an audit file kept there still verifies with
`inspection-station audit verify FILE`). A file that cannot be moved (in use) stays and is
named; the next start tries again. Two processes starting at once migrate one after the
other (a lock in `locks/`).
"""

from __future__ import annotations

import contextlib
import errno
import getpass
import json
import logging
import os
import shutil
import socket
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

from inspection_station.core import paths
from inspection_station.core.errors import StationError
from inspection_station.core.instance_lock import InstanceLock

log = logging.getLogger(__name__)

ASIDE_FOLDER = "migrated-0.1"
# Written into every data root: a folder holding it is a 0.2 root, never 0.1 data to move
# (a Linux root that was the user's folder before $INSPECTION_STATION_DATA_ROOT was set).
MARK_FILE = "data-root.json"
LAYOUT = 1
MIGRATION_LOCK_WAIT_S = 30.0


@dataclass
class Migration:
    root: Path
    sources: list[Path] = field(default_factory=list)  # the 0.1 folders that held something
    moved: list[tuple[Path, Path]] = field(default_factory=list)  # (from, to), files and folders
    set_aside: list[tuple[Path, Path]] = field(default_factory=list)  # their place was taken
    failed: list[str] = field(default_factory=list)  # located reasons; tried again next start

    @property
    def happened(self) -> bool:
        return bool(self.moved or self.set_aside or self.failed)

    def lines(self) -> list[str]:
        out = []
        if self.moved or self.set_aside:
            out.append(
                f"moved the data of version 0.1 from {', '.join(map(str, self.sources))} into the "
                f"station's data root {self.root} ({len(self.moved)} moved"
                + (f", {len(self.set_aside)} kept under {self.root / ASIDE_FOLDER}: their place was taken"
                   if self.set_aside else "") + ")"
            )
        out += [f"not moved (tried again at the next start): {reason}" for reason in self.failed]
        return out


def _os_user() -> str:
    try:
        return getpass.getuser()
    except Exception:  # noqa: BLE001 - no user name in this environment (a service account)
        return "unknown"


def _same(a: Path, b: Path) -> bool:
    try:
        return a.resolve() == b.resolve()
    except OSError:
        return False


def _contains(folder: Path, other: Path) -> bool:
    """`other` is `folder` or lies inside it."""
    try:
        return other.resolve().is_relative_to(folder.resolve())
    except OSError:
        return False


def _free_name(path: Path) -> Path:
    n = 1
    candidate = path
    while candidate.exists() or candidate.is_symlink():
        n += 1
        candidate = path.with_name(f"{path.stem}.{n}{path.suffix}")
    return candidate


class _Mover:
    def __init__(self, migration: Migration, keep: list[Path]) -> None:
        self.m = migration
        self.keep = keep  # never moved: the data root itself, the per-user layer, other sources

    def entries(self, folder: Path) -> list[Path]:
        return [e for e in sorted(folder.iterdir()) if not any(_contains(e, kept) for kept in self.keep)]

    def move_children(self, source: Path, target: Path, aside: Path) -> None:
        for entry in self.entries(source):
            self.move(entry, target / entry.name, aside / entry.name)

    def move(self, source: Path, target: Path, aside: Path) -> None:
        try:
            if not target.exists() and not target.is_symlink():
                target.parent.mkdir(parents=True, exist_ok=True)
                self._relocate(source, target, aside, self.m.moved)
            elif source.is_dir() and not source.is_symlink() and target.is_dir():
                self.move_children(source, target, aside)  # results/, images/: merged per file
                _remove_if_empty(source)
            else:
                place = _free_name(aside)
                place.parent.mkdir(parents=True, exist_ok=True)
                self._relocate(source, place, aside, self.m.set_aside)
        except OSError as exc:
            self.m.failed.append(f"{source}: {exc.strerror or exc}")

    def _relocate(self, source: Path, target: Path, aside: Path, record: list) -> None:
        """Rename (the same volume: nothing is copied); onto another volume, file by file,
        each copied and its source deleted, the copy undone when the source stays."""
        try:
            os.rename(source, target)
        except OSError as exc:
            if exc.errno != errno.EXDEV:
                raise
            if source.is_dir() and not source.is_symlink():
                target.mkdir()
                self.move_children(source, target, aside)
                _remove_if_empty(source)
                return
            shutil.copy2(source, target, follow_symlinks=False)
            try:
                source.unlink()
            except OSError:
                target.unlink()  # moved or not at all: never two copies
                raise
        record.append((source, target))
        _inherit_acl(target)


def _remove_if_empty(folder: Path) -> None:
    # not empty (something failed to move): left as it is
    with contextlib.suppress(OSError):
        folder.rmdir()


def _inherit_acl(path: Path) -> None:
    """Windows: a file moved within a volume keeps the ACL of the user's profile (only that
    user could read it); reset it to what the data root's folders pass on."""
    if sys.platform != "win32":
        return
    try:
        subprocess.run(["icacls", str(path), "/reset", "/T", "/C", "/Q"], capture_output=True, timeout=120,
                       check=False, creationflags=getattr(subprocess, "CREATE_NO_WINDOW", 0))
    except (OSError, subprocess.SubprocessError) as exc:
        log.warning("%s: could not reset its permissions to the data root's: %s", path, exc)


def migrate_v01(sources: dict[str, Path] | None = None) -> Migration:
    """Move what the 0.1 per-user folders hold into the data root (see the module's docstring)."""
    root = paths.data_root()
    sources = sources or paths.v01_user_dirs()
    targets = {"logs": paths.logs_dir(), "config": paths.config_dir(), "data": paths.station_data_dir()}
    migration = Migration(root)
    user = _os_user()
    # logs first: on Windows 0.1's log folder lies inside its config folder
    ordered = [kind for kind in ("logs", "config", "data") if kind in sources]
    keep = [root, paths.user_layer_dir()]
    for kind in ordered:
        source = sources[kind]
        if not source.is_dir() or _same(source, targets[kind]) or (source / MARK_FILE).exists():
            continue  # never there, already where 0.2 keeps it, or a data root of 0.2 itself
        others = [sources[k] for k in ordered if k != kind and not _contains(sources[k], source)]
        mover = _Mover(migration, keep + others)
        entries = mover.entries(source)
        if not entries:
            continue
        migration.sources.append(source)
        for entry in entries:
            mover.move(entry, targets[kind] / entry.name, root / ASIDE_FOLDER / user / kind / entry.name)
        _remove_if_empty(source)
    return migration


def _audit(migration: Migration) -> None:
    from inspection_station.core.settings.audit import AuditError, AuditLog

    who = f"{_os_user()}@{socket.gethostname()}"
    try:
        AuditLog(who=who).record(
            "data",
            str(migration.root),
            {"from": [str(s) for s in migration.sources]},
            {
                "moved": [f"{a} -> {b}" for a, b in migration.moved],
                "kept_aside": [f"{a} -> {b}" for a, b in migration.set_aside],
                "not_moved": migration.failed,
            },
            action="migrate",
        )
    except AuditError as exc:
        migration.failed.append(f"the audit entry of the migration: {exc}")


def _mark(root: Path) -> None:
    mark = root / MARK_FILE
    if mark.exists():
        return
    from inspection_station import __version__

    try:
        mark.write_text(json.dumps({"layout": LAYOUT, "created_by": __version__}) + "\n", encoding="utf-8")
    except OSError as exc:
        log.warning("%s: cannot write: %s", mark, exc.strerror or exc)


def prepare_data_root() -> list[str]:
    """Create the data root and migrate 0.1's per-user data into it; what happened, one line each.

    Call before the settings are read (the settings file may be one that moves)."""
    root = paths.data_root()
    try:
        root.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        return [f"the station's data root {root} cannot be created: {exc.strerror or exc}"]
    _mark(root)
    lock = InstanceLock(paths.locks_dir() / "migration.lock", "the data migration")
    try:
        lock.acquire(wait_s=MIGRATION_LOCK_WAIT_S)
    except (OSError, StationError) as exc:  # another start still migrating after 30 s
        return [f"data migration skipped: {exc}"]
    try:
        migration = migrate_v01()
        if migration.moved or migration.set_aside:
            _audit(migration)
    finally:
        lock.release()
    return migration.lines()

