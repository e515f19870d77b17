"""Rotating and flipping normalised boxes, pattern sets and YOLO labels (the old rotate_bbox.py).

Rotation is clockwise as the operator sees the image (y points down). Arithmetic is done in
decimal on the numbers as printed (1 - 0.3 is 0.7, not 0.69999...), so rotating 180 degrees
twice, or 90 degrees four times, gives back the very text that went in.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from decimal import Decimal, InvalidOperation

from inspection_station.core.errors import PatternError
from inspection_station.core.patterns.model import PatternSet

OPERATIONS = ("rotate90", "rotate180", "rotate270", "flip_h", "flip_v")
_ONE = Decimal(1)


def operation(rotate: int | None = None, flip: str | None = None) -> str:
    """The operation name for `--rotate 90|180|270` or `--flip h|v`."""
    if (rotate is None) == (flip is None):
        raise PatternError("transform: give exactly one of rotate (90, 180, 270) or flip (h, v)")
    if rotate is not None:
        if rotate not in (90, 180, 270):
            raise PatternError(f"transform: rotate must be 90, 180 or 270 (clockwise), got {rotate}")
        return f"rotate{rotate}"
    if flip not in ("h", "v"):
        raise PatternError(f"transform: flip must be h (left-right) or v (top-bottom), got {flip!r}")
    return f"flip_{flip}"


def transform_edges(box: Sequence[Decimal], op: str) -> tuple[Decimal, Decimal, Decimal, Decimal]:
    """x1, y1, x2, y2 (normalised) after `op`; still x1 < x2, y1 < y2."""
    x1, y1, x2, y2 = box
    if op == "rotate90":  # (x, y) -> (1 - y, x)
        return _ONE - y2, x1, _ONE - y1, x2
    if op == "rotate180":
        return _ONE - x2, _ONE - y2, _ONE - x1, _ONE - y1
    if op == "rotate270":  # (x, y) -> (y, 1 - x)
        return y1, _ONE - x2, y2, _ONE - x1
    if op == "flip_h":
        return _ONE - x2, y1, _ONE - x1, y2
    if op == "flip_v":
        return x1, _ONE - y2, x2, _ONE - y1
    raise PatternError(f"transform: unknown operation {op!r} (expected one of {', '.join(OPERATIONS)})")


def transform_centre(cx: Decimal, cy: Decimal, w: Decimal, h: Decimal, op: str) -> tuple[Decimal, ...]:
    """YOLO's cx, cy, w, h (normalised) after `op`."""
    if op == "rotate90":
        return _ONE - cy, cx, h, w
    if op == "rotate180":
        return _ONE - cx, _ONE - cy, w, h
    if op == "rotate270":
        return cy, _ONE - cx, h, w
    if op == "flip_h":
        return _ONE - cx, cy, w, h
    if op == "flip_v":
        return cx, _ONE - cy, w, h
    raise PatternError(f"transform: unknown operation {op!r} (expected one of {', '.join(OPERATIONS)})")


def _box(box: Sequence[float], op: str) -> tuple[float, float, float, float]:
    # repr() is the shortest text that reads back as the same float: the number as written
    out = transform_edges([Decimal(repr(float(v))) for v in box], op)
    return tuple(float(v) for v in out)  # type: ignore[return-value]


def transform_pattern_set(ps: PatternSet, op: str) -> PatternSet:
    """Every slot's inner and outer box moved by `op`; names, scores and extras kept."""
    variants = {
        name: tuple(replace(s, inner=_box(s.inner, op), outer=_box(s.outer, op)) for s in slots)
        for name, slots in ps.variants.items()
    }
    return PatternSet(ps.name, variants, ps.path, ps.min_scores)


def _text(d: Decimal) -> str:
    text = format(d, "f")  # never an exponent
    return "0" if text in ("-0", "") else text


def transform_label_text(text: str, op: str, source: str = "labels") -> str:
    """YOLO label lines `class cx cy w h [more...]` after `op`; extra columns kept as written."""
    out = []
    for number, line in enumerate(text.splitlines(), start=1):
        parts = line.split()
        if not parts:
            continue
        try:
            if len(parts) < 5:
                raise InvalidOperation
            values = [Decimal(v) for v in parts[1:5]]
            if not all(v.is_finite() for v in values):
                raise InvalidOperation
        except InvalidOperation:
            raise PatternError(
                f"{source}:{number}: expected 'class cx cy w h' (normalised), got {line.strip()!r}"
            ) from None
        cx, cy, w, h = values
        moved = transform_centre(cx, cy, w, h, op)
        out.append(" ".join([parts[0], *(_text(v) for v in moved), *parts[5:]]))
    return "\n".join(out) + ("\n" if out else "")
