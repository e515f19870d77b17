"""Folders that really refuse writes, also to root (tests run as root on the CI machine).

Permission bits do not stop root (CAP_DAC_OVERRIDE). The immutable attribute does
(`chattr +i`; setting it needs CAP_LINUX_IMMUTABLE, which root has on ext4 and tmpfs): an
immutable folder refuses new, renamed and deleted entries, an immutable file every write,
even through a descriptor opened before. Each refusal is probed: a check that could pass
without the refusal raises instead of passing quietly.
"""

from __future__ import annotations

import contextlib
import os
import subprocess
from collections.abc import Iterator
from pathlib import Path


def _refuses_new_files(folder: Path) -> bool:
    probe = folder / ".write-probe"
    try:
        probe.write_bytes(b"")
    except OSError:
        return True
    probe.unlink()
    return False


def _chattr(flag: str, *paths: Path) -> bool:
    try:
        done = subprocess.run(["chattr", flag, *map(str, paths)], capture_output=True, check=False)
    except OSError:  # no chattr here
        return False
    return done.returncode == 0


@contextlib.contextmanager
def read_only_folder(folder: Path, *, files_too: bool = False) -> Iterator[str]:
    """`folder` refuses new entries (and with `files_too` its files refuse writes) inside.

    Yields how: "permissions" (0555 / 0444, a normal user) or "immutable" (root: chattr +i).
    """
    folder = Path(folder)
    files = [p for p in folder.iterdir() if p.is_file()] if files_too else []
    modes = {p: p.stat().st_mode for p in [folder, *files]}
    folder.chmod(0o555)
    for f in files:
        f.chmod(0o444)
    immutable: list[Path] = []
    try:
        if not _refuses_new_files(folder):  # root: the bits do not bind
            if not _chattr("+i", *files, folder):
                raise RuntimeError(f"{folder}: cannot make it refuse writes here (root, and chattr +i failed)")
            immutable = [*files, folder]
            if not _refuses_new_files(folder):
                raise RuntimeError(f"{folder}: still writable after chattr +i")
        yield "immutable" if immutable else "permissions"
    finally:
        if immutable:
            _chattr("-i", *immutable)
        for p, mode in modes.items():
            with contextlib.suppress(OSError):
                os.chmod(p, mode)
