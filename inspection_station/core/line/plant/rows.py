"""The CSV row as the plant stores and publishes it: typed values, the same fields.

One conversion for both senders: numbers as numbers ("" -> None), detections as JSON, plus
the production line and the image's URL. `csv_text()` turns a stored record back into the
CSV's text, so a check can compare the plant's copy with the CSV field by field.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import datetime, timedelta, timezone

from inspection_station.core.results.csv_log import LOG_COLUMNS

INT_COLUMNS = ("filled", "expected", "n_detections")
MS_COLUMNS = ("cycle_ms", "grab_ms", "preprocess_ms", "inference_ms", "decode_ms", "match_ms")
EXTRA_COLUMNS = ("line", "image_url")  # beside the CSV's own columns


def _int(text: str) -> int | None:
    try:
        return int(text) if text else None
    except ValueError:
        return None


def _float(text: str) -> float | None:
    try:
        return float(text) if text else None
    except ValueError:
        return None


def _detections(text: str):
    try:
        return json.loads(text) if text else []
    except ValueError:
        return text  # kept as a JSON string: never lost, never guessed


def image_url(fields: Mapping[str, str], base_url: str) -> str:
    """Where the plant fetches the cycle's image: the station's API, when it names one."""
    if not base_url or not fields.get("image_path"):
        return ""
    return f"{base_url.rstrip('/')}/results/{fields['cycle_id']}/image"


def plant_record(fields: Mapping[str, str], line: str, base_url: str = "") -> dict[str, object]:
    """The CSV row typed (the timestamp stays the CSV's ISO text, offset and all)."""
    record: dict[str, object] = {c: fields.get(c, "") for c in LOG_COLUMNS}
    for c in INT_COLUMNS:
        record[c] = _int(fields.get(c, ""))
    for c in MS_COLUMNS:
        record[c] = _float(fields.get(c, ""))
    record["detections"] = _detections(fields.get("detections", ""))
    record["line"] = line
    record["image_url"] = image_url(fields, base_url)
    return record


def csv_text(record: Mapping[str, object]) -> dict[str, str]:
    """A stored record (database row or MQTT payload) as the CSV's text again."""
    out: dict[str, str] = {}
    for c in LOG_COLUMNS:
        value = record.get(c)
        if value is None:
            out[c] = ""
        elif c in MS_COLUMNS:
            out[c] = f"{float(str(value)):.2f}"
        elif c == "detections":
            out[c] = value if isinstance(value, str) else json.dumps(value, separators=(",", ":"))
        elif c == "timestamp" and isinstance(value, datetime):
            offset = record.get("utc_offset_min")
            if offset is not None:
                value = value.astimezone(timezone(timedelta(minutes=int(str(offset)))))
            out[c] = value.isoformat(timespec="milliseconds")
        else:
            out[c] = str(value)
    return out
