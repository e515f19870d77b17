"""The PostgreSQL sink: rows of the outbox into the plant's `cycles` table (psycopg 3).

A batch is one transaction: its commit is the receiver's confirmation. `ON CONFLICT DO
NOTHING` on the (station, cycle_id) key makes a resend harmless. The station's heartbeat
(`stations`: last seen, queue depth, rows lost) is upserted with each batch and while idle.
TLS is libpq's: `sslmode` (and `sslrootcert`, `sslcert`, `sslkey`) in the URL's query.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any

from inspection_station import __version__
from inspection_station.core.errors import ConfigError
from inspection_station.core.results.csv_log import LOG_COLUMNS

from .credentials import DATABASE_PASSWORD_ENV, redact, secret
from .outbox import QueuedRow
from .rows import plant_record
from .schema import SCHEMA_VERSION, TABLE, schema_version
from .sender import SinkError

log = logging.getLogger(__name__)

_COLUMNS = (*LOG_COLUMNS, "line", "image_url", "utc_offset_min")
INSERT = (
    f"INSERT INTO {TABLE} ({', '.join(f'{chr(34)}{c}{chr(34)}' for c in _COLUMNS)}) "
    f"VALUES ({', '.join(['%s'] * len(_COLUMNS))}) ON CONFLICT DO NOTHING"
)
HEARTBEAT = (
    'INSERT INTO stations ("station", "line", "last_seen", "queue_depth", "rows_lost", "version") '
    "VALUES (%s, %s, now(), %s, %s, %s) ON CONFLICT (\"station\") DO UPDATE SET "
    '"line" = EXCLUDED."line", "last_seen" = EXCLUDED."last_seen", "queue_depth" = EXCLUDED."queue_depth", '
    '"rows_lost" = EXCLUDED."rows_lost", "version" = EXCLUDED."version"'
)


def import_psycopg():
    try:
        import psycopg
    except ImportError:
        raise ConfigError(
            "[plant] database_url needs psycopg: install the station's `plant` extra "
            "(pip install \"inspection-station[plant]\")"
        ) from None
    return psycopg


def connect(url: str, credentials_file: str = "", *, timeout_s: float = 5.0, application: str = "inspection-station"):
    """An autocommit connection to the plant database; SinkError naming the cause."""
    psycopg = import_psycopg()
    password = secret("database_password", DATABASE_PASSWORD_ENV, credentials_file)
    extra = {"password": password} if password is not None else {}
    try:
        return psycopg.connect(
            url, autocommit=True, connect_timeout=max(1, round(timeout_s)), application_name=application[:63], **extra
        )
    except psycopg.Error as exc:
        raise SinkError(f"{redact(url)}: {describe_error(exc)}") from None


def describe_error(exc: Exception) -> str:
    """libpq's message, one line, with what it means for the station's engineer first."""
    text = " ".join(str(exc).split())
    lower = text.lower()
    if "password authentication failed" in lower or "no password supplied" in lower:
        return (f"the database refused the credentials ({text}); check the user in [plant] database_url and "
                f"{DATABASE_PASSWORD_ENV} or the credentials file")
    if "certificate" in lower or "ssl" in lower:
        return f"TLS failed ({text}); check sslmode / sslrootcert in [plant] database_url"
    if "does not exist" in lower and "database" in lower:
        return f"no such database ({text})"
    if "permission denied" in lower:
        return f"permission denied ({text}); the station's database user needs the grants of docs/plant_results.md"
    return text


class PostgresSink:
    name = "postgresql"

    def __init__(
        self,
        url: str,
        *,
        station: str,
        line: str,
        image_base_url: str = "",
        credentials_file: str = "",
        connect_timeout_s: float = 5.0,
        queue_state: Callable[[], tuple[int, int]] = lambda: (0, 0),  # (depth, rows lost)
    ) -> None:
        self.url = url
        self.where = redact(url)
        self.station = station
        self.line = line
        self.image_base_url = image_base_url
        self.credentials_file = credentials_file
        self.connect_timeout_s = connect_timeout_s
        self.queue_state = queue_state
        self._conn: Any = None  # psycopg.Connection once connected

    def connect(self) -> None:
        conn = connect(self.url, self.credentials_file, timeout_s=self.connect_timeout_s,
                       application=f"inspection-station {self.station}")
        psycopg = import_psycopg()
        try:
            version = schema_version(conn)
        except psycopg.Error as exc:
            conn.close()
            raise SinkError(f"{self.where}: {describe_error(exc)}") from None
        if version is None or version < SCHEMA_VERSION:
            conn.close()
            found = "no plant schema" if version is None else f"schema version {version}"
            raise SinkError(
                f"{self.where}: {found} in the database, the station needs version {SCHEMA_VERSION}: "
                "run `inspection-station plant migrate` once"
            )
        self._conn = conn

    def send(self, rows: Sequence[QueuedRow]) -> int:
        psycopg = import_psycopg()
        params = [self._params(r.fields) for r in rows]
        try:
            with self._conn.transaction(), self._conn.cursor() as cur:
                cur.executemany(INSERT, params)
                self._heartbeat(cur, sending=len(rows))
        except psycopg.Error as exc:
            raise SinkError(f"{self.where}: {describe_error(exc)}") from None
        return len(rows)

    def idle(self) -> None:
        psycopg = import_psycopg()
        try:
            with self._conn.transaction(), self._conn.cursor() as cur:
                self._heartbeat(cur)
        except psycopg.Error as exc:
            raise SinkError(f"{self.where}: {describe_error(exc)}") from None

    def close(self) -> None:
        conn, self._conn = self._conn, None
        if conn is not None:
            try:
                conn.close()
            except Exception:  # a dead connection may fail to close: it is gone either way
                log.debug("closing the plant database connection failed", exc_info=True)

    shutdown = close

    def _heartbeat(self, cur, sending: int = 0) -> None:
        """The station's row in `stations`; the depth as it is once this batch is confirmed."""
        depth, lost = self.queue_state()
        cur.execute(HEARTBEAT, (self.station, self.line, max(0, depth - sending), lost, __version__))

    def _params(self, fields) -> tuple:
        record = plant_record(fields, self.line, self.image_base_url)
        stamp = datetime.fromisoformat(fields["timestamp"])
        offset = stamp.utcoffset()
        from psycopg.types.json import Jsonb

        record["timestamp"] = stamp
        record["detections"] = Jsonb(record["detections"])
        record["utc_offset_min"] = int(offset.total_seconds() // 60) if offset is not None else 0
        return tuple(record[c] for c in _COLUMNS)
