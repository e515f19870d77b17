"""Reading the user's small text files (patterns, labels, names, CSVs) with limits.

Every reader of a file the user hands us goes through here, so a huge file or one in
the wrong encoding is one located message, never a traceback or gigabytes of memory.
"""

from __future__ import annotations

from pathlib import Path

from inspection_station.core.errors import StationError
from inspection_station.core.regular_files import read_bytes_limited

# Far above any real file of its kind (a pattern of 1,000 slots is ~100 kB; a label file
# of 10,000 boxes ~400 kB); the limit only stops a hostile or mistaken file.
DEFAULT_MAX_BYTES = 8 << 20


def decode_text(data: bytes, where: object, what: str = "file", error: type[StationError] = StationError) -> str:
    """UTF-8 (a BOM is dropped) or `error` naming the byte and its line."""
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        raise error(
            f"{where}:{line}: {what} is not UTF-8 text ({exc.reason} at byte {exc.start}); "
            "save it as UTF-8"
        ) from None


def read_text_limited(
    path: str | Path,
    max_bytes: int = DEFAULT_MAX_BYTES,
    what: str = "file",
    error: type[StationError] = StationError,
) -> str:
    """The file's text; `error` (located) when missing, special (a FIFO, a device, a folder:
    never opened, see core/regular_files.py), unreadable, too big or not UTF-8."""
    p = Path(path)
    return decode_text(read_bytes_limited(p, max_bytes, what, error), p, what, error)
