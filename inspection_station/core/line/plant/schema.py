"""The plant database's schema: created and migrated by `inspection-station plant migrate`.

Versioned steps in `MIGRATIONS`, each applied once in its own transaction and recorded in
`inspection_schema`. `cycles` holds one row per CSV row, keyed by (station, cycle_id), so a
resend changes nothing (`ON CONFLICT DO NOTHING`); `arrival` numbers the rows as they came.
The indexes serve the plant's questions: a product's NOKs over a time range on any line
(with the image), a station's recent cycles, a part id, the corrections of a cycle.

TimescaleDB: when the extension is installed in the database, `cycles` becomes a hypertable
on its timestamp. Timescale needs the time column in every unique key, so there the key is
(station, cycle_id, timestamp): a resend carries the same timestamp and stays idempotent.
"""

from __future__ import annotations

from inspection_station.core.results.csv_log import LOG_COLUMNS

from .rows import INT_COLUMNS, MS_COLUMNS

SCHEMA_VERSION = 2
TABLE = "cycles"


def _column_type(name: str) -> str:
    if name == "timestamp":
        return "timestamptz NOT NULL"
    if name in INT_COLUMNS:
        return "integer"
    if name in MS_COLUMNS:
        return "double precision"
    if name == "detections":
        return "jsonb NOT NULL DEFAULT '[]'"
    return "text NOT NULL DEFAULT ''"


# Columns the CSV gained after schema version 1: created by version 1 on a new database
# (it builds the table from LOG_COLUMNS) and added by the later migration on an old one.
ADDED_COLUMNS: dict[int, tuple[str, ...]] = {2: ("recipe", "recipe_version")}


def _columns_sql() -> str:
    cols = [f'    "{c}" {_column_type(c)}' for c in LOG_COLUMNS]
    cols.insert(3, '    "line" text NOT NULL DEFAULT \'\'')
    cols += [
        "    \"utc_offset_min\" smallint NOT NULL DEFAULT 0",  # the station's local offset: the CSV text exactly
        "    \"image_url\" text NOT NULL DEFAULT ''",
        '    "arrival" bigserial',
        '    "received_at" timestamptz NOT NULL DEFAULT now()',
        '    PRIMARY KEY ("station", "cycle_id")',
    ]
    return ",\n".join(cols)


MIGRATIONS: tuple[tuple[int, str, tuple[str, ...]], ...] = (
    (1, "cycles, stations and the indexes for the plant's questions", (
        f'CREATE TABLE IF NOT EXISTS {TABLE} (\n{_columns_sql()}\n)',
        f'CREATE INDEX IF NOT EXISTS cycles_product_verdict_time ON {TABLE} ("pattern_set", "verdict", "timestamp" DESC)',
        f'CREATE INDEX IF NOT EXISTS cycles_station_time ON {TABLE} ("station", "timestamp" DESC)',
        f'CREATE INDEX IF NOT EXISTS cycles_line_time ON {TABLE} ("line", "timestamp" DESC)',
        f'CREATE INDEX IF NOT EXISTS cycles_part_id ON {TABLE} ("part_id") WHERE "part_id" <> \'\'',
        f'CREATE INDEX IF NOT EXISTS cycles_corrections ON {TABLE} ("station", "overrules") WHERE "overrules" <> \'\'',
        'CREATE TABLE IF NOT EXISTS stations (\n'
        '    "station" text PRIMARY KEY,\n'
        '    "line" text NOT NULL DEFAULT \'\',\n'
        '    "last_seen" timestamptz NOT NULL,\n'
        '    "queue_depth" integer NOT NULL DEFAULT 0,\n'
        '    "rows_lost" bigint NOT NULL DEFAULT 0,\n'
        '    "version" text NOT NULL DEFAULT \'\'\n'
        ')',
    )),
    (2, "the recipe and its version of each cycle (issue 22)", tuple(
        f'ALTER TABLE {TABLE} ADD COLUMN IF NOT EXISTS "{c}" {_column_type(c)}' for c in ADDED_COLUMNS[2]
    ) + (f'CREATE INDEX IF NOT EXISTS cycles_recipe_time ON {TABLE} ("recipe", "recipe_version", "timestamp" DESC)',)),
)

_VERSION_TABLE = (
    "CREATE TABLE IF NOT EXISTS inspection_schema (\n"
    "    version integer PRIMARY KEY,\n"
    "    applied_at timestamptz NOT NULL DEFAULT now(),\n"
    "    note text NOT NULL DEFAULT ''\n"
    ")"
)


def schema_version(conn) -> int | None:
    """The database's schema version; None when it has no plant schema yet."""
    with conn.cursor() as cur:
        cur.execute("SELECT to_regclass('inspection_schema') IS NOT NULL")
        if not cur.fetchone()[0]:
            return None
        cur.execute("SELECT COALESCE(MAX(version), 0) FROM inspection_schema")
        return int(cur.fetchone()[0])


def migrate(conn) -> list[str]:
    """Bring the schema up to `SCHEMA_VERSION` (`conn` in autocommit mode); what was done, one line
    each (nothing = up to date)."""
    with conn.cursor() as cur:  # two stations migrating at once: the second waits, then finds it done
        cur.execute("SELECT pg_advisory_lock(%s)", (_LOCK_KEY,))
    try:
        return _migrate(conn)
    finally:
        with conn.cursor() as cur:
            cur.execute("SELECT pg_advisory_unlock(%s)", (_LOCK_KEY,))


_LOCK_KEY = 0x1A5_7A71  # any constant of our own: the advisory lock for migrations


def _migrate(conn) -> list[str]:
    said: list[str] = []
    with conn.transaction(), conn.cursor() as cur:
        cur.execute(_VERSION_TABLE)
    current = schema_version(conn) or 0
    if current > SCHEMA_VERSION:
        return [f"schema version {current} is newer than this station's ({SCHEMA_VERSION}); left as it is"]
    for version, note, steps in MIGRATIONS:
        if version <= current:
            continue
        with conn.transaction(), conn.cursor() as cur:
            for step in steps:
                cur.execute(step)
            cur.execute("INSERT INTO inspection_schema (version, note) VALUES (%s, %s)", (version, note))
        said.append(f"schema version {version}: {note}")
    said += _timescale(conn)
    return said


def _timescale(conn) -> list[str]:
    with conn.cursor() as cur:
        cur.execute("SELECT 1 FROM pg_extension WHERE extname = 'timescaledb'")
        if cur.fetchone() is None:
            return []
        cur.execute(
            "SELECT 1 FROM timescaledb_information.hypertables WHERE hypertable_name = %s", (TABLE,)
        )
        if cur.fetchone() is not None:
            return []
    with conn.transaction(), conn.cursor() as cur:
        cur.execute(f"ALTER TABLE {TABLE} DROP CONSTRAINT IF EXISTS {TABLE}_pkey")
        cur.execute(f'ALTER TABLE {TABLE} ADD PRIMARY KEY ("station", "cycle_id", "timestamp")')
        cur.execute(f"SELECT create_hypertable('{TABLE}', 'timestamp', migrate_data => true)")
    return [f"TimescaleDB: {TABLE} is now a hypertable on its timestamp (key station, cycle_id, timestamp)"]
