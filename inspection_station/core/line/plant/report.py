"""The plant's view: yield, NOK reasons and cycle times per station, recipe and shift, from the database.

The same definitions as the station's own statistics (core/results/statistics.py), so a
hand count from the CSVs gives the same figures:
- a cycle is a row that is not a correction (`overrules` empty); corrections are counted
  apart, in the group (station, recipe, shift) of the correction row itself;
- yield = OK / (OK + NOK); corrected yield = (OK + corrections to OK - corrections to NOK) /
  (OK + NOK), clamped to 0..1; ERROR cycles are in neither;
- cycle-time percentiles are nearest-rank (`percentile_disc`) over the cycles' `cycle_ms`;
- the shift is the one whose start (station local time, `[plant] shifts`) is the last one
  at or before the cycle's local time of day; before the first start it is the last shift
  (the night shift that began the day before).
"Recipe" is the pattern set (the product) the cycle was judged with.
"""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass
from datetime import datetime, timedelta

from inspection_station.core.errors import ConfigError

_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([wdhm])\s*$")
_UNIT_S = {"w": 7 * 86400, "d": 86400, "h": 3600, "m": 60}


def parse_since(text: str, now: datetime | None = None) -> datetime:
    """`7d`, `12h`, `30m`, `2w` before now, or an ISO date/time."""
    now = now or datetime.now().astimezone()
    found = _DURATION.match(text)
    if found:
        return now - timedelta(seconds=float(found.group(1)) * _UNIT_S[found.group(2)])
    try:
        when = datetime.fromisoformat(text.strip())
    except ValueError:
        raise ConfigError(f"--since {text!r}: expected a duration like 7d, 12h, 30m, 2w or an ISO date") from None
    return when if when.tzinfo else when.astimezone()


def parse_shifts(starts: list[str]) -> list[tuple[int, str]]:
    """[(start minute of day, "06:00-14:00"), ...] sorted; ConfigError for a bad entry."""
    minutes = []
    for text in starts:
        found = re.fullmatch(r"([01]?\d|2[0-3]):([0-5]\d)", text.strip())
        if not found:
            raise ConfigError(f"[plant] shifts: {text!r}: expected HH:MM (24 h)")
        minutes.append(int(found.group(1)) * 60 + int(found.group(2)))
    minutes = sorted(set(minutes)) or [0]
    ends = [*minutes[1:], minutes[0]]
    return [(m, f"{m // 60:02d}:{m % 60:02d}-{e // 60:02d}:{e % 60:02d}") for m, e in zip(minutes, ends, strict=True)]


def shift_of(local: datetime, shifts: list[tuple[int, str]]) -> str:
    """The shift name of a local time (the same rule as the SQL)."""
    minute = local.hour * 60 + local.minute
    for start, name in reversed(shifts):
        if minute >= start:
            return name
    return shifts[-1][1]


def _shift_sql(shifts: list[tuple[int, str]]) -> tuple[str, list]:
    minute = "(EXTRACT(HOUR FROM local_ts)::int * 60 + EXTRACT(MINUTE FROM local_ts)::int)"
    parts, params = [], []
    for start, name in reversed(shifts):
        parts.append(f"WHEN {minute} >= %s THEN %s")
        params += [start, name]
    params.append(shifts[-1][1])
    return "CASE " + " ".join(parts) + " ELSE %s END", params


@dataclass(frozen=True)
class Group:
    station: str | None  # None = all stations (the plant's total)
    recipe: str | None  # None = all recipes of the station
    shift: str | None  # None = all shifts
    cycles: int
    ok: int
    nok: int
    error: int
    corrections_to_ok: int
    corrections_to_nok: int
    yield_ratio: float | None
    corrected_yield_ratio: float | None
    cycle_ms_p50: float | None
    cycle_ms_p95: float | None
    cycle_ms_mean: float | None


@dataclass(frozen=True)
class Reason:
    station: str
    recipe: str
    reason: str  # "missing: screw_right", "wrong part: clip in slot screw_left", "error: camera"
    count: int


@dataclass(frozen=True)
class Report:
    since: datetime
    groups: list[Group]
    reasons: list[Reason]

    def to_json(self) -> dict:
        return {"since": self.since.isoformat(timespec="seconds"),
                "groups": [asdict(g) for g in self.groups], "reasons": [asdict(r) for r in self.reasons]}

    def lines(self) -> list[str]:
        def pct(v):
            return "-" if v is None else f"{100 * v:.1f}%"

        def ms(v):
            return "-" if v is None else f"{v:.1f}"

        head = ("station", "recipe", "shift", "cycles", "OK", "NOK", "ERROR", "yield", "corrected", "p50 ms", "p95 ms")
        table = [head]
        for g in self.groups:
            table.append((g.station or "ALL", g.recipe or ("*" if g.station else ""), g.shift or "*", str(g.cycles),
                          str(g.ok), str(g.nok), str(g.error), pct(g.yield_ratio), pct(g.corrected_yield_ratio),
                          ms(g.cycle_ms_p50), ms(g.cycle_ms_p95)))
        widths = [max(len(row[i]) for row in table) for i in range(len(head))]
        out = [f"since {self.since:%Y-%m-%d %H:%M %z}"]
        out += ["  ".join(c.ljust(w) if i < 3 else c.rjust(w) for i, (c, w) in enumerate(zip(row, widths, strict=True)))
                for row in table]
        if self.reasons:
            out += ["", "NOK and ERROR reasons"]
            width = max(len(f"{r.station}  {r.recipe}") for r in self.reasons)
            out += [f"  {f'{r.station}  {r.recipe}'.ljust(width)}  {r.count:>6}  {r.reason}" for r in self.reasons]
        return out


_GROUPS_SQL = """
WITH base AS (
    SELECT "station", "pattern_set" AS recipe, "verdict", "overrules", "cycle_ms",
           ("timestamp" AT TIME ZONE 'UTC') + make_interval(mins => "utc_offset_min") AS local_ts
    FROM cycles WHERE "timestamp" >= %s {filters}
), shifted AS (
    SELECT *, {shift} AS shift FROM base
)
SELECT "station", recipe, shift,
       GROUPING("station", recipe, shift) AS level,
       COUNT(*) FILTER (WHERE "overrules" = '') AS cycles,
       COUNT(*) FILTER (WHERE "overrules" = '' AND "verdict" = 'OK') AS ok,
       COUNT(*) FILTER (WHERE "overrules" = '' AND "verdict" = 'NOK') AS nok,
       COUNT(*) FILTER (WHERE "overrules" = '' AND "verdict" = 'ERROR') AS error,
       COUNT(*) FILTER (WHERE "overrules" <> '' AND "verdict" = 'OK') AS to_ok,
       COUNT(*) FILTER (WHERE "overrules" <> '' AND "verdict" = 'NOK') AS to_nok,
       percentile_disc(0.5) WITHIN GROUP (ORDER BY "cycle_ms") FILTER (WHERE "overrules" = '') AS p50,
       percentile_disc(0.95) WITHIN GROUP (ORDER BY "cycle_ms") FILTER (WHERE "overrules" = '') AS p95,
       AVG("cycle_ms") FILTER (WHERE "overrules" = '') AS mean
FROM shifted
GROUP BY GROUPING SETS (("station", recipe, shift), ("station"), ())
ORDER BY "station" NULLS LAST, recipe NULLS LAST, shift NULLS LAST
"""

_REASONS_SQL = """
WITH base AS (
    SELECT "station", "pattern_set" AS recipe, "verdict", "missing_slots", "wrong_parts", "error"
    FROM cycles WHERE "timestamp" >= %s AND "overrules" = '' AND "verdict" <> 'OK' {filters}
), reasons AS (
    SELECT "station", recipe, 'missing: ' || unnest(string_to_array(NULLIF("missing_slots", ''), ';')) AS reason
    FROM base WHERE "verdict" = 'NOK'
    UNION ALL
    SELECT "station", recipe, 'wrong part: ' || unnest(string_to_array(NULLIF("wrong_parts", ''), ';'))
    FROM base WHERE "verdict" = 'NOK'
    UNION ALL
    SELECT "station", recipe, 'error: ' || COALESCE(NULLIF(split_part("error", ':', 1), ''), 'unknown')
    FROM base WHERE "verdict" = 'ERROR'
)
SELECT "station", recipe, reason, COUNT(*) AS n FROM reasons
GROUP BY 1, 2, 3 ORDER BY 1, 2, n DESC, reason
"""


def _ratio(num: float, den: int) -> float | None:
    return min(1.0, max(0.0, num / den)) if den else None


def plant_report(conn, since: datetime, shifts: list[tuple[int, str]], *, station: str = "", recipe: str = "") -> Report:
    filters, params = "", []
    if station:
        filters += ' AND "station" = %s'
        params.append(station)
    if recipe:
        filters += ' AND "pattern_set" = %s'
        params.append(recipe)
    shift_sql, shift_params = _shift_sql(shifts)
    groups = []
    with conn.cursor() as cur:
        cur.execute(_GROUPS_SQL.format(filters=filters, shift=shift_sql), [since, *params, *shift_params])
        for st, rec, shift, _level, cycles, ok, nok, error, to_ok, to_nok, p50, p95, mean in cur.fetchall():
            groups.append(Group(
                st, rec, shift, cycles, ok, nok, error, to_ok, to_nok,
                _ratio(ok, ok + nok), _ratio(ok + to_ok - to_nok, ok + nok),
                p50, p95, float(mean) if mean is not None else None,
            ))
        cur.execute(_REASONS_SQL.format(filters=filters), [since, *params])
        reasons = [Reason(*row) for row in cur.fetchall()]
    return Report(since, groups, reasons)
