"""Only regular files are read: a FIFO, device, socket or folder is refused before any open.

Every file the station reads (settings, patterns, labels, accounts, models, images) comes
through here. Reading a FIFO blocks until someone writes to it, a character device such as
/dev/zero never ends, /dev/tty waits for a key: a path that names one is refused with a
message saying what it is, and it is never opened. `os.stat` decides first; the open
itself uses O_NONBLOCK (a FIFO swapped in after the stat does not block the open) and the
descriptor is checked again with fstat, so a race cannot slip a special file past either.
"""

from __future__ import annotations

import contextlib
import os
import stat
from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO

from inspection_station.core.errors import StationError

_KINDS = (
    (stat.S_ISDIR, "a folder"),
    (stat.S_ISFIFO, "a FIFO (named pipe)"),
    (stat.S_ISCHR, "a character device"),
    (stat.S_ISBLK, "a block device"),
    (stat.S_ISSOCK, "a socket"),
)
# O_NONBLOCK: opening a FIFO for reading returns at once; O_NOCTTY: a terminal never becomes
# ours. Windows has neither (and no FIFOs in the file system); O_BINARY is Windows-only.
_OPEN_FLAGS = (
    os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_NOCTTY", 0) | getattr(os, "O_BINARY", 0)
)


def kind_of_mode(mode: int) -> str:
    """What a non-regular file is ("a FIFO (named pipe)", "a folder", ...); "" for a regular file."""
    if stat.S_ISREG(mode):
        return ""
    for test, name in _KINDS:
        if test(mode):
            return name
    return "not a regular file"


def special_kind(path: str | Path) -> str:
    """What the thing at `path` is when it exists and is not a regular file, else ""."""
    try:
        return kind_of_mode(os.stat(path).st_mode)
    except OSError:  # missing or unreachable: nothing special to name
        return ""


def _a(what: str) -> str:
    return f"{'an' if what[:1].lower() in 'aeiou' else 'a'} {what}"


def refusal(path: str | Path, kind: str, what: str) -> str:
    """The message for `path` being `kind` (kind_of_mode's words) where `what` was expected."""
    if kind == "a folder":
        return f"{path}: is a folder, expected {_a(what)}"
    return f"{path}: is {kind}, not {_a(what)}; refused without opening it"


def require_regular(
    path: str | Path, what: str = "file", error: type[StationError] = StationError
) -> os.stat_result:
    """The stat of `path` when it is a regular file (links followed); else `error`, located."""
    p = Path(path)
    try:
        st = os.stat(p)
    except (FileNotFoundError, NotADirectoryError):
        raise error(f"{p}: no such {what}") from None
    except OSError as exc:
        raise error(f"{p}: cannot read the {what}: {exc.strerror or exc}") from None
    kind = kind_of_mode(st.st_mode)
    if kind:
        raise error(refusal(p, kind, what))
    return st


@contextlib.contextmanager
def open_regular(
    path: str | Path, what: str = "file", error: type[StationError] = StationError
) -> Iterator[BinaryIO]:
    """`path` opened for reading in binary, only when it is a regular file (see the module)."""
    p = Path(path)
    require_regular(p, what, error)
    try:
        fd = os.open(p, _OPEN_FLAGS)
    except (FileNotFoundError, NotADirectoryError):
        raise error(f"{p}: no such {what}") from None
    except OSError as exc:
        raise error(f"{p}: cannot read the {what}: {exc.strerror or exc}") from None
    try:
        kind = kind_of_mode(os.fstat(fd).st_mode)  # what was opened, not what was there before
        if kind:
            raise error(refusal(p, kind, what))
        if _OPEN_FLAGS & getattr(os, "O_NONBLOCK", 0):
            os.set_blocking(fd, True)  # a regular file ignores it; keep the reads ordinary
        fh = os.fdopen(fd, "rb")
    except BaseException:
        os.close(fd)
        raise
    with fh:
        yield fh


def read_bytes_limited(
    path: str | Path, max_bytes: int, what: str = "file", error: type[StationError] = StationError
) -> bytes:
    """The file's bytes; `error` (located) when it is missing, special, unreadable or too big."""
    p = Path(path)
    with open_regular(p, what, error) as fh:
        try:
            data = fh.read(max_bytes + 1)  # never more than the limit in memory
        except OSError as exc:
            raise error(f"{p}: cannot read the {what}: {exc.strerror or exc}") from None
    if len(data) > max_bytes:
        raise error(f"{p}: {what} is larger than {max_bytes // 1024} KiB; refused (is it the right file?)")
    return data
