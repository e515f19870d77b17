"""The good cycles of a results log as teaching frames: what a taught pattern is checked on.

A row is good when its verdict, after any overrule row for its cycle, is OK. Its
detections (the log's compact JSON, in pixels) are normalised by the size of the frame:
read from the archived image's header where the row names one that still exists, else
`default_size` (the station's frames are one size unless the ROI or binning changed).
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable, Mapping
from pathlib import Path

from inspection_station.core.errors import StationError
from inspection_station.core.image_header import image_size
from inspection_station.core.patterns.teaching import NormBox
from inspection_station.core.regular_files import open_regular

HEADER_BYTES = 64 * 1024


def _size_of(image_path: str, default: tuple[int, int] | None) -> tuple[int, int] | None:
    if image_path:
        try:
            with open_regular(Path(image_path), "archived image") as fh:  # never a FIFO or a device
                found = image_size(fh.read(HEADER_BYTES))
        except (StationError, OSError):  # gone or not an image: the row is judged at the default size
            found = None
        if found:
            return found
    return default


def _boxes(text: str, width: int, height: int) -> list[NormBox] | None:
    """The row's detections normalised; None when the cell does not parse (never guessed)."""
    try:
        items = json.loads(text or "[]")
        boxes = []
        for cls, score, x1, y1, x2, y2 in items:
            values = (float(score), float(x1), float(y1), float(x2), float(y2))
            if not all(math.isfinite(v) for v in values) or int(cls) != cls or cls < 0:
                return None
            x1, y1, x2, y2 = (min(1.0, max(0.0, v)) for v in (x1 / width, y1 / height, x2 / width, y2 / height))
            boxes.append(NormBox(int(cls), (x1, y1, x2, y2), float(score)))
        return boxes
    except (ValueError, TypeError):
        return None


def logged_good_frames(
    rows: Iterable[Mapping[str, str]],
    default_size: tuple[int, int] | None,
    limit: int = 500,
    exclude: Iterable[str] = (),
) -> list[tuple[str, list[NormBox]]]:
    """(f"log {cycle id}", boxes) of the last `limit` good cycles; `exclude`: cycle ids left out
    (the frames taught from); rows without a usable size or detections are skipped."""
    rows = list(rows)
    final = {}
    for row in rows:  # an overrule row's verdict is its cycle's final word
        if row.get("overrules"):
            final[row["overrules"]] = row.get("verdict", "")
    skip = set(exclude)
    good = []
    for row in rows:
        cycle = row.get("cycle_id", "")
        if row.get("overrules") or cycle in skip or final.get(cycle, row.get("verdict")) != "OK":
            continue
        size = _size_of(row.get("image_path", ""), default_size)
        if size is None:
            continue
        boxes = _boxes(row.get("detections", ""), *size)
        if boxes:
            good.append((f"log {cycle}", boxes))
    return good[-limit:]
