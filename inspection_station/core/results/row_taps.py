"""Who else gets each results row once the recorder has written it: the plant outbox.

The recorder calls `row_written(station, row)` right after the row's CSV write (fsync'ed,
or kept for retry), on the thread that recorded it. A tap must be quick (the plant outbox
does one SQLite insert) and must not raise; an exception is logged, never passed on into
the cycle. Taps are registered per station name, so the recorders a station swaps in after
a settings change reach the same tap.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Mapping

log = logging.getLogger(__name__)

RowTap = Callable[[Mapping[str, str]], None]

_lock = threading.Lock()
_taps: dict[str, tuple[RowTap, ...]] = {}  # replaced whole: read without the lock


def add_row_tap(station: str, tap: RowTap) -> Callable[[], None]:
    """Call `tap(row)` for every row recorded for `station`; returns the function that stops it."""
    with _lock:
        _taps[station] = (*_taps.get(station, ()), tap)

    def remove() -> None:
        with _lock:
            left = tuple(t for t in _taps.get(station, ()) if t is not tap)
            if left:
                _taps[station] = left
            else:
                _taps.pop(station, None)

    return remove


def row_written(station: str, row: Mapping[str, str]) -> None:
    for tap in _taps.get(station, ()):
        try:
            tap(row)
        except Exception:  # the cycle's record is the CSV row: a tap's bug must not touch it
            log.exception("results row tap failed for station %r", station)
