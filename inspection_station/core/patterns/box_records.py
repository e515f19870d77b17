"""Boxes given as JSON, shaped like one `detect --json` object (the old `/check-pattern` input).

`{"image": str, "width": int, "height": int, "detections": [{"class_id": int, "score": float,
"box": [x1, y1, x2, y2]}]}` with boxes in pixels; a file holds one such value, a list of them,
or one per line (what `detect --json A B C` prints). Every malformed record is refused with a
located message (file[:line], field, what was expected).
"""

from __future__ import annotations

import json
import math
from pathlib import Path

from inspection_station.core.detection import Detection
from inspection_station.core.errors import PatternError
from inspection_station.core.text_files import read_text_limited


def read_box_records(path: Path) -> list[tuple[str, dict]]:
    """The `detect --json` objects of a file: one JSON value, or one object per line.

    Returns (where, object) pairs; a malformed record raises, located (file:line, field).
    """
    text = read_text_limited(path, what="boxes file", error=PatternError)
    try:
        whole = json.loads(text)
        values = [(f"{path}", item) for item in (whole if isinstance(whole, list) else [whole])]
    except json.JSONDecodeError as exc:
        values = []
        for number, line in enumerate(text.splitlines(), start=1):
            if not line.strip():
                continue
            try:
                values.append((f"{path}:{number}", json.loads(line)))
            except json.JSONDecodeError as line_exc:
                at = exc.lineno if number == 1 and exc.msg != "Extra data" else number
                raise PatternError(f"{path}:{at}: not valid JSON ({line_exc.msg}); expected a "
                                   "`detect --json` object, or one per line") from None
    if not values:
        raise PatternError(f"{path}: no records (expected a `detect --json` object)")
    return values


def record_detections(where: str, record) -> tuple[list[Detection], int, int]:
    if not isinstance(record, dict):
        raise PatternError(f"{where}: expected an object with width, height and detections, got {type(record).__name__}")
    size = []
    for key in ("width", "height"):
        v = record.get(key)
        if not isinstance(v, int | float) or isinstance(v, bool) or not v > 0:
            raise PatternError(f"{where}: {key}: expected the image's size in pixels (> 0), got {v!r}")
        size.append(v)
    raw = record.get("detections")
    if not isinstance(raw, list):
        raise PatternError(f"{where}: detections: expected a list of {{class_id, score, box}}, got {raw!r}")
    out = []
    for i, d in enumerate(raw):
        at = f"{where}: detections[{i}]"
        if not isinstance(d, dict):
            raise PatternError(f"{at}: expected an object with class_id, score and box, got {d!r}")
        cls, score, box = d.get("class_id"), d.get("score", 1.0), d.get("box")
        if not isinstance(cls, int) or isinstance(cls, bool) or cls < 0:
            raise PatternError(f"{at}.class_id: expected a whole number >= 0, got {cls!r}")
        if not _number(score):
            raise PatternError(f"{at}.score: expected a number, got {score!r}")
        if not isinstance(box, list) or len(box) != 4 or not all(_number(v) for v in box):
            raise PatternError(f"{at}.box: expected 4 numbers [x1, y1, x2, y2] in pixels, got {box!r}")
        x1, y1, x2, y2 = (float(v) for v in box)
        out.append(Detection(cls, str(d.get("class_name", cls)), float(score), (x1, y1, x2, y2)))
    return out, int(size[0]), int(size[1])


def _number(v) -> bool:
    return isinstance(v, int | float) and not isinstance(v, bool) and math.isfinite(v)
