"""Atomic file replacement that keeps the previous version as a backup.

Used for every user file the station rewrites (settings TOML, pattern YAML): a crash
or a full disk mid-write leaves either the old file or the new one, never half of each.
The backup is made atomically too (a hard link, else a copy that is itself replaced in),
the file keeps its permission bits, and temp files a crash left behind are removed.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import stat
import tempfile
import time
from pathlib import Path

BACKUP_SUFFIX = ".bak"
TEMP_SUFFIX = ".tmp"
STALE_TEMP_S = 60.0  # a temp file older than this is a crash's leftover, not a write under way


def _current_umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


_NEW_FILE_MODE = 0o666 & ~_current_umask()  # what open() would give a new file


def backup_path(path: Path) -> Path:
    return path.with_name(path.name + BACKUP_SUFFIX)


def _temp_prefix(target: Path) -> str:
    return f".{target.name}."


def remove_stale_temp_files(target: str | Path, older_than_s: float = STALE_TEMP_S) -> list[Path]:
    """Delete the temp files that crashed writes of `target` left behind; returns them."""
    target = Path(target)
    return _remove_stale(target.parent, f"{_temp_prefix(target)}*{TEMP_SUFFIX}", older_than_s)


def remove_stale_temp_files_in(folder: str | Path, older_than_s: float = STALE_TEMP_S) -> list[Path]:
    """Delete the leftovers of crashed writes of any file directly in `folder` (at start)."""
    return _remove_stale(Path(folder), f".*{TEMP_SUFFIX}", older_than_s)


def _remove_stale(folder: Path, pattern: str, older_than_s: float) -> list[Path]:
    removed = []
    now = time.time()
    with contextlib.suppress(OSError):  # a folder we cannot list: nothing to clean
        for leftover in folder.glob(pattern):
            with contextlib.suppress(OSError):
                if now - leftover.stat().st_mtime >= older_than_s:
                    leftover.unlink()
                    removed.append(leftover)
    return removed


def _write_temp(folder: Path, prefix: str, data: bytes | None, source: Path | None, fsync: bool) -> Path:
    fd, tmp_name = tempfile.mkstemp(prefix=prefix, suffix=TEMP_SUFFIX, dir=folder)
    tmp = Path(tmp_name)
    try:
        with os.fdopen(fd, "wb") as fh:
            if source is not None:
                with source.open("rb") as src:
                    shutil.copyfileobj(src, fh)
            else:
                fh.write(data or b"")
            if fsync:
                fh.flush()
                os.fsync(fh.fileno())
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return tmp


def _backup(target: Path, fsync: bool) -> None:
    """`target.bak` := the current target, atomically (never a torn .bak)."""
    bak = backup_path(target)
    link = target.with_name(f"{_temp_prefix(target)}bak{os.getpid()}{TEMP_SUFFIX}")
    link.unlink(missing_ok=True)
    try:
        os.link(target, link)  # same inode: the replace below leaves it as the old version
    except OSError:  # no hard links here (FAT, some shares): a copy, replaced in whole
        link = _write_temp(target.parent, _temp_prefix(target), None, target, fsync)
        shutil.copystat(target, link)
    try:
        os.replace(link, bak)
    except BaseException:
        link.unlink(missing_ok=True)
        raise


def atomic_write_bytes(path: str | Path, data: bytes, *, backup: bool = True, fsync: bool = True,
                       mode: int | None = None) -> Path:
    """Write `data` to `path` via a temp file in the same folder + os.replace.

    `fsync=False` skips forcing the bytes to disk first (archived images: many, replaceable).
    `mode`: the file's permission bits (e.g. 0o600 for a private key: never readable by
    others, not even for a moment); default the existing file's, else the usual.
    """
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    if backup:  # user files (few, rewritten); not per archived image, a folder of thousands
        remove_stale_temp_files(target)
    wanted = mode
    try:
        mode = stat.S_IMODE(target.stat().st_mode)
        exists = True
    except FileNotFoundError:
        mode, exists = _NEW_FILE_MODE, False
    if wanted is not None:
        mode = wanted
    tmp = _write_temp(target.parent, _temp_prefix(target), data, None, fsync)
    try:
        os.chmod(tmp, mode)  # mkstemp makes 0600: keep the file's own (or the usual) mode
        if backup and exists:
            _backup(target, fsync)
        os.replace(tmp, target)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return target


def atomic_write_text(path: str | Path, text: str, *, backup: bool = True) -> Path:
    """`atomic_write_bytes` of `text` as UTF-8, line ends kept as given."""
    return atomic_write_bytes(path, text.encode("utf-8"), backup=backup)
