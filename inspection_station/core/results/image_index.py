"""Which archived images really were written: `<image_dir>/<day>.written.txt`.

A cycle's CSV row names its image when the cycle is recorded, before the background
writer has encoded it; a full disk or a kill -9 in between would leave a row pointing at
an image that never came. So every image path in a row is pending until this index,
appended only after the image is complete under its final name, confirms it. That also
tells "never written" apart from "written, later removed" (retention, an operator).
The index sits beside the day's folder, not in it: the folder holds images only.
"""

from __future__ import annotations

import contextlib
import os
from pathlib import Path

from inspection_station.core.errors import StationError
from inspection_station.core.regular_files import read_bytes_limited

INDEX_SUFFIX = ".written.txt"
MAX_INDEX_BYTES = 1 << 30  # ~40 bytes a line: far beyond any day's archive


def index_path(folder: str | Path) -> Path:
    """The index of the images in `folder` (a day's folder of the archive)."""
    folder = Path(folder)
    return folder.with_name(folder.name + INDEX_SUFFIX)


def confirm_written(image: Path) -> None:
    """Append `image`'s file name to its folder's index: one line, one write (O_APPEND)."""
    flags = os.O_WRONLY | os.O_APPEND | os.O_CREAT | getattr(os, "O_BINARY", 0)
    fd = os.open(index_path(image.parent), flags, 0o644)
    try:
        os.write(fd, f"{image.name}\n".encode())
    finally:
        os.close(fd)


def written_images(folder: str | Path) -> set[str]:
    """The file names the index of `folder` confirms (a torn last line is not one)."""
    try:  # our own file; a FIFO or folder in its place is no index (never opened)
        data = read_bytes_limited(index_path(folder), MAX_INDEX_BYTES, "image index")
    except StationError:
        return set()
    lines = data.decode("utf-8", errors="replace").split("\n")
    return {line for line in lines[:-1] if line}  # the part after the last newline is torn


def image_state(image_path: str) -> str:
    """A row's image: "" (none), "written", "removed" (confirmed, gone now) or "not written"."""
    if not image_path:
        return ""
    p = Path(image_path)
    if p.name not in written_images(p.parent):
        return "not written"  # pending, failed or cut off by a crash: the error route said which
    with contextlib.suppress(OSError):
        if p.is_file():
            return "written"
    return "removed"
