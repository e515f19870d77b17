"""Slot geometry in image pixels: the pattern editor's nudges, Qt-free and exact.

Slots are stored normalised; an engineer thinks in image pixels. A nudge converts one
box to pixels, moves it by whole pixels and converts back, so one arrow key press moves
an edge by exactly one image pixel whatever the zoom.
"""

from __future__ import annotations

import dataclasses

from inspection_station.core.patterns.model import Box, Slot

DECIMALS = 7  # 1e-7 of a 10k px image is 0.001 px: pixel-exact after the round trip


def to_pixels(box: Box, width: int, height: int) -> tuple[float, float, float, float]:
    x1, y1, x2, y2 = box
    return x1 * width, y1 * height, x2 * width, y2 * height


def to_normalised(box_px, width: int, height: int) -> Box:
    x1, y1, x2, y2 = box_px
    return tuple(round(v, DECIMALS) for v in (x1 / width, y1 / height, x2 / width, y2 / height))


def nudge(slot: Slot, which: str, dx: int, dy: int, width: int, height: int, *, resize: bool = False) -> Slot:
    """`slot` with its `which` box ("inner" / "outer") moved by (dx, dy) image pixels;
    with `resize`, only its right and bottom edges move (the box grows or shrinks)."""
    if which not in ("inner", "outer"):
        raise ValueError(f"which box: expected 'inner' or 'outer', got {which!r}")
    x1, y1, x2, y2 = to_pixels(getattr(slot, which), width, height)
    if resize:
        x2, y2 = max(x1 + 1, x2 + dx), max(y1 + 1, y2 + dy)
    else:
        x1, y1, x2, y2 = x1 + dx, y1 + dy, x2 + dx, y2 + dy
    box = to_normalised((x1, y1, x2, y2), width, height)
    return dataclasses.replace(slot, inner=box) if which == "inner" else dataclasses.replace(slot, outer=box)
