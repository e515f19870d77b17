"""Atomic file replacement that keeps the previous version as a backup.

Used for every user file the station rewrites (settings TOML, pattern YAML): a crash
or a full disk mid-write leaves either the old file or the new one, never half of each.
"""

from __future__ import annotations

import os
import shutil
import stat
import tempfile
from pathlib import Path

BACKUP_SUFFIX = ".bak"


def backup_path(path: Path) -> Path:
    return path.with_name(path.name + BACKUP_SUFFIX)


def _read_umask() -> int:
    umask = os.umask(0)  # the only way to read it; done once, at import, not under threads
    os.umask(umask)
    return umask


_UMASK = _read_umask()


def _mode_for(target: Path) -> int:
    """The replaced file's permissions, else what a plain open() would give (0666 - umask):
    mkstemp's 0600 would silently take a shared file away from its group."""
    try:
        return stat.S_IMODE(target.stat().st_mode)
    except OSError:
        return 0o666 & ~_UMASK


def atomic_write_bytes(path: str | Path, data: bytes, *, backup: bool = True, fsync: bool = True) -> Path:
    """Write `data` to `path` via a temp file in the same folder + os.replace.

    `fsync=False` skips forcing the bytes to disk first (archived images: many, replaceable).
    """
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    tmp = Path(tmp_name)
    try:
        os.chmod(tmp, _mode_for(target))
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            if fsync:
                fh.flush()
                os.fsync(fh.fileno())
        if backup and target.exists():
            shutil.copy2(target, backup_path(target))
        os.replace(tmp, target)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return target


def atomic_write_text(path: str | Path, text: str, *, backup: bool = True) -> Path:
    """`atomic_write_bytes` of `text` as UTF-8, line ends kept as given."""
    return atomic_write_bytes(path, text.encode("utf-8"), backup=backup)
