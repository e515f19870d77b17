"""The station's results outbox: each row for the plant, kept on disk until every sender confirmed it.

One SQLite file in WAL mode with `synchronous = FULL`: `put()` returns once the row's insert
is fsync'ed, so a row the CSV got survives a kill -9 here too. Rows carry a sequence number;
each sender (PostgreSQL, MQTT) has a cursor, the last sequence number its receiver confirmed,
and drains the rows after it in order. A row leaves the file when every sender's cursor has
passed it.

Bounded by rows and by age: when a bound is reached the oldest rows are dropped, and for each
sender that had not sent them the loss is counted (`cursors.lost`), named (first and last
cycle id, in `losses` and in the log) and reported: the rows are still in the CSV log, which
stays the record. Thread-safe: the cycle's thread puts, each sender's thread fetches and
confirms, the GUI reads `status()`; one connection behind one lock, every step short.
"""

from __future__ import annotations

import contextlib
import csv
import json
import logging
import os
import sqlite3
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from inspection_station.core.regular_files import require_regular
from inspection_station.core.results.csv_log import LOG_COLUMNS, encode_row, read_cell

log = logging.getLogger(__name__)

Report = Callable[[str], None]

_SCHEMA = """
CREATE TABLE IF NOT EXISTS rows (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    queued_at REAL NOT NULL,
    cycle_id TEXT NOT NULL,
    fields TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS cursors (
    sender TEXT PRIMARY KEY,
    seq INTEGER NOT NULL,
    sent INTEGER NOT NULL DEFAULT 0,
    lost INTEGER NOT NULL DEFAULT 0
);
CREATE TABLE IF NOT EXISTS losses (
    at REAL NOT NULL,
    sender TEXT NOT NULL,
    rows INTEGER NOT NULL,
    first_cycle TEXT NOT NULL,
    last_cycle TEXT NOT NULL,
    reason TEXT NOT NULL
);
"""
_LOSS_REPORT_S = 10.0  # losses while full come one row per cycle: said at most this often


@dataclass(frozen=True, slots=True)
class QueuedRow:
    seq: int
    cycle_id: str
    fields: dict[str, str]  # the CSV row, exactly as the CSV holds it
    queued_at: float  # time.time()


@dataclass(frozen=True, slots=True)
class Loss:
    at: float
    sender: str
    rows: int
    first_cycle: str
    last_cycle: str
    reason: str


@dataclass(frozen=True, slots=True)
class CursorState:
    sender: str
    behind: int  # rows this sender has still to send
    sent: int  # rows confirmed by its receiver (over the file's life)
    lost: int  # rows dropped before it sent them


@dataclass(frozen=True, slots=True)
class QueueState:
    depth: int  # rows in the file (waiting for at least one sender)
    oldest_age_s: float  # age of the oldest of them; 0 when empty
    max_rows: int
    max_age_s: float
    cursors: tuple[CursorState, ...]

    def fill(self) -> float:
        """The larger share of the two bounds in use (0..1)."""
        return max(self.depth / self.max_rows, self.oldest_age_s / self.max_age_s if self.max_age_s else 0.0)


def csv_fields(row: Mapping[str, object]) -> dict[str, str]:
    """The row as the CSV file holds it: the log's own encoding, read back (line breaks and
    all). One row format for the plant: whatever the CSV says, the plant gets."""
    line = encode_row(row).decode("utf-8")
    values = next(csv.reader([line.rstrip("\n")], strict=True))
    # as read_log reads it: the spreadsheets' formula guard (a leading ') is no part of the value
    return dict(zip(LOG_COLUMNS, map(read_cell, values), strict=True))


class Outbox:
    def __init__(
        self,
        path: str | Path,
        senders: Sequence[str],
        *,
        max_rows: int = 200_000,
        max_age_s: float = 7 * 86400.0,
        on_loss: Report | None = None,
    ) -> None:
        self.path = Path(path)
        self.senders = tuple(senders)
        self.max_rows = max_rows
        self.max_age_s = max_age_s
        self._on_loss = on_loss
        self._lock = threading.Condition(threading.RLock())
        self._closed = False
        self._pending_loss: dict[tuple[str, str], list] = {}  # (sender, reason) -> [rows, first, last]
        self._loss_said = 0.0
        self._last_expiry = 0.0
        self._put_failures = 0
        self._max_seq = 0  # the newest row's seq (set from the file by _load_counters)
        self._oldest: float | None = None  # queued_at of the oldest row not yet confirmed everywhere
        self._cursors: dict[str, int] = {}
        self._sent: dict[str, int] = {}
        self._lost: dict[str, int] = {}
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._db = self._open()
        with self._lock:
            self._sync_cursors()
            self._load_counters()
            self._expire(time.time())

    # --- the cycle's side ----------------------------------------------------------------------

    def put(self, row: Mapping[str, object]) -> int:
        """Queue one CSV row (durable when this returns); returns its sequence number.

        Raises sqlite3.Error / OSError when the row could not be stored (a full disk): the
        caller counts and names that loss; the row is still in the CSV.
        """
        fields = csv_fields(row)
        data = json.dumps(fields, ensure_ascii=False, separators=(",", ":"))
        self.expire()
        now = time.time()
        with self._lock:
            if self._closed:
                raise sqlite3.ProgrammingError("the plant outbox is closed")
            db = self._db
            db.execute("BEGIN IMMEDIATE")
            try:
                overflow = self.depth + 1 - self.max_rows
                if overflow > 0:
                    self._drop_through(self._min_cursor + overflow, "full", now)
                seq = db.execute(
                    "INSERT INTO rows (queued_at, cycle_id, fields) VALUES (?, ?, ?)",
                    (now, fields["cycle_id"], data),
                ).lastrowid
                db.execute("COMMIT")
            except BaseException:
                with contextlib.suppress(sqlite3.Error):
                    db.execute("ROLLBACK")
                self._load_counters()
                raise
            self._max_seq = int(seq or 0)
            if self._oldest is None:
                self._oldest = now
            self._lock.notify_all()
        self._say_losses()
        return self._max_seq

    # --- the senders' side ---------------------------------------------------------------------

    def fetch(self, sender: str, limit: int) -> list[QueuedRow]:
        """The next rows `sender` has not sent, oldest first."""
        with self._lock:
            if self._closed:
                return []
            cursor = self._cursors[sender]
            found = self._db.execute(
                "SELECT seq, cycle_id, fields, queued_at FROM rows WHERE seq > ? ORDER BY seq LIMIT ?",
                (cursor, limit),
            ).fetchall()
        return [QueuedRow(seq, cid, json.loads(data), at) for seq, cid, data, at in found]

    def confirm(self, sender: str, rows: Sequence[QueuedRow]) -> None:
        """The receiver confirmed `rows` (a prefix of what `fetch` gave): move the cursor past them."""
        if not rows:
            return
        seq = rows[-1].seq
        with self._lock:
            if self._closed or seq <= self._cursors[sender]:
                return
            db = self._db
            db.execute("BEGIN IMMEDIATE")
            try:
                db.execute("UPDATE cursors SET seq = ?, sent = sent + ? WHERE sender = ?", (seq, len(rows), sender))
                before = self._min_cursor
                self._cursors[sender] = seq
                self._sent[sender] += len(rows)
                if self._min_cursor > before:
                    db.execute("DELETE FROM rows WHERE seq <= ?", (self._min_cursor,))
                db.execute("COMMIT")
            except BaseException:
                with contextlib.suppress(sqlite3.Error):
                    db.execute("ROLLBACK")
                self._load_counters()
                raise
            self._refresh_oldest()

    def wait(self, sender: str, timeout: float, interrupt: threading.Event | None = None) -> bool:
        """Until `sender` has rows to send (True), `timeout` passes, `interrupt` is set (after a
        `wake()`) or the outbox closes (False). Also where rows past their age are dropped while
        no cycle runs."""
        deadline = time.monotonic() + timeout
        self.expire()
        with self._lock:
            while (not self._closed and self._cursors.get(sender, self._max_seq) >= self._max_seq
                   and not (interrupt is not None and interrupt.is_set())):
                left = deadline - time.monotonic()
                if left <= 0:
                    break
                self._lock.wait(min(left, 1.0))
                self.expire()
            ready = not self._closed and self._cursors.get(sender, self._max_seq) < self._max_seq
        self._say_losses()
        return ready

    def wake(self) -> None:
        """Wake every waiting sender (closing, or a stop)."""
        with self._lock:
            self._lock.notify_all()

    def expire(self) -> None:
        """Drop rows older than `max_age_s` (checked at most once a second)."""
        now = time.time()
        with self._lock:
            if self._closed or now - self._last_expiry < 1.0:
                return
            self._expire(now)

    # --- state -----------------------------------------------------------------------------------

    @property
    def depth(self) -> int:
        return self._max_seq - self._min_cursor

    def state(self) -> QueueState:
        self.expire()  # the status bar asks every second: rows age out while every sender is down
        now = time.time()
        with self._lock:
            cursors = tuple(
                CursorState(s, self._max_seq - self._cursors[s], self._sent[s], self._lost[s]) for s in self.senders
            )
            oldest = 0.0 if self._oldest is None or self.depth == 0 else max(0.0, now - self._oldest)
            state = QueueState(self.depth, oldest, self.max_rows, self.max_age_s, cursors)
        self._say_losses()
        return state

    def losses(self, limit: int = 20) -> list[Loss]:
        """The latest losses, newest first (kept in the file: `plant status` lists them)."""
        with self._lock:
            found = self._db.execute(
                "SELECT at, sender, rows, first_cycle, last_cycle, reason FROM losses ORDER BY at DESC LIMIT ?",
                (limit,),
            ).fetchall()
        return [Loss(*row) for row in found]

    def close(self) -> None:
        with self._lock:
            if self._closed:
                return
            self._closed = True
            self._lock.notify_all()
            with contextlib.suppress(sqlite3.Error):
                self._db.close()
        self._say_losses(force=True)

    # --- internals -------------------------------------------------------------------------------

    def _open(self) -> sqlite3.Connection:
        if os.path.lexists(self.path):  # a FIFO, device or folder there: refused, never opened
            require_regular(self.path, "plant outbox file")
        try:
            return self._connect()
        except sqlite3.DatabaseError as exc:  # not a database (a damaged file): keep it, start anew
            aside = self.path.with_name(f"{self.path.name}.damaged-{time.strftime('%Y%m%d-%H%M%S')}")
            self.path.replace(aside)
            for suffix in ("-wal", "-shm"):
                with contextlib.suppress(OSError):
                    Path(f"{self.path}{suffix}").replace(Path(f"{aside}{suffix}"))
            message = (f"{self.path}: the plant outbox could not be read ({exc}); kept as {aside.name}, "
                       "a new one started: rows queued in it were not sent (they are in the CSV log)")
            log.error(message)
            if self._on_loss is not None:
                self._on_loss(message)
            return self._connect()

    def _connect(self) -> sqlite3.Connection:
        # isolation_level=None: no implicit transactions, each step says BEGIN/COMMIT itself
        db = sqlite3.connect(self.path, check_same_thread=False, isolation_level=None, timeout=10.0)
        try:
            mode = db.execute("PRAGMA journal_mode=WAL").fetchone()[0]
            if mode.lower() != "wal":
                raise sqlite3.DatabaseError(f"journal mode {mode!r} instead of WAL")
            db.execute("PRAGMA synchronous=FULL")  # each commit fsync'ed: a queued row survives a crash
            db.executescript(_SCHEMA)
            db.execute("SELECT COUNT(*) FROM rows").fetchone()  # reads the file: damage shows here
        except BaseException:
            db.close()
            raise
        return db

    def _sync_cursors(self) -> None:
        """One cursor per configured sender: a new one starts before every queued row; the
        cursor of a sender no longer configured is removed (it would hold rows for ever)."""
        db = self._db
        have = {name for (name,) in db.execute("SELECT sender FROM cursors")}
        start = db.execute("SELECT COALESCE(MIN(seq) - 1, (SELECT seq FROM sqlite_sequence WHERE name = 'rows'), 0) "
                           "FROM rows").fetchone()[0]
        for name in self.senders:
            if name not in have:
                db.execute("INSERT INTO cursors (sender, seq) VALUES (?, ?)", (name, start))
        for name in have - set(self.senders):
            log.warning("%s: plant sender %r is no longer configured; its place in the queue is removed", self.path, name)
            db.execute("DELETE FROM cursors WHERE sender = ?", (name,))

    def _load_counters(self) -> None:
        db = self._db
        found = db.execute("SELECT seq FROM sqlite_sequence WHERE name = 'rows'").fetchone()
        self._max_seq = int(found[0]) if found else 0
        self._cursors = {}
        self._sent = {}
        self._lost = {}
        for name, seq, sent, lost in db.execute("SELECT sender, seq, sent, lost FROM cursors"):
            self._cursors[name], self._sent[name], self._lost[name] = min(seq, self._max_seq), sent, lost
        if self.senders:
            db.execute("DELETE FROM rows WHERE seq <= ?", (self._min_cursor,))
        self._refresh_oldest()

    @property
    def _min_cursor(self) -> int:
        return min(self._cursors.values(), default=self._max_seq)

    def _refresh_oldest(self) -> None:
        found = self._db.execute("SELECT MIN(queued_at) FROM rows WHERE seq > ?", (self._min_cursor,)).fetchone()
        self._oldest = float(found[0]) if found and found[0] is not None else None

    def _expire(self, now: float) -> None:
        self._last_expiry = now
        if self.depth == 0 or self._oldest is None or now - self._oldest < self.max_age_s:
            return
        found = self._db.execute("SELECT MAX(seq) FROM rows WHERE queued_at < ?", (now - self.max_age_s,)).fetchone()
        if not found or found[0] is None:
            return
        self._db.execute("BEGIN IMMEDIATE")
        try:
            self._drop_through(found[0], "too old", now)
            self._db.execute("COMMIT")
        except BaseException:
            with contextlib.suppress(sqlite3.Error):
                self._db.execute("ROLLBACK")
            self._load_counters()
            raise
        self._refresh_oldest()

    def _drop_through(self, seq: int, reason: str, now: float) -> None:
        """Inside a transaction: drop every row up to `seq`, counting and naming the loss per sender."""
        db = self._db
        for sender, cursor in list(self._cursors.items()):
            if cursor >= seq:
                continue
            n, first, last = db.execute(
                "SELECT COUNT(*), (SELECT cycle_id FROM rows WHERE seq > ?1 AND seq <= ?2 ORDER BY seq LIMIT 1), "
                "(SELECT cycle_id FROM rows WHERE seq > ?1 AND seq <= ?2 ORDER BY seq DESC LIMIT 1) "
                "FROM rows WHERE seq > ?1 AND seq <= ?2",
                (cursor, seq),
            ).fetchone()
            db.execute("UPDATE cursors SET seq = ?, lost = lost + ? WHERE sender = ?", (seq, n, sender))
            self._cursors[sender] = seq
            if n:
                self._lost[sender] += n
                self._note_loss(db, sender, n, first, last, reason, now)
        db.execute("DELETE FROM rows WHERE seq <= ?", (seq,))

    def _note_loss(self, db, sender: str, n: int, first: str, last: str, reason: str, now: float) -> None:
        latest = db.execute("SELECT rowid, at, reason FROM losses WHERE sender = ? ORDER BY at DESC LIMIT 1",
                            (sender,)).fetchone()
        if latest is not None and latest[2] == reason and now - latest[1] < 60.0:  # one entry per burst
            db.execute("UPDATE losses SET rows = rows + ?, last_cycle = ?, at = ? WHERE rowid = ?",
                       (n, last, now, latest[0]))
        else:
            db.execute("INSERT INTO losses VALUES (?, ?, ?, ?, ?, ?)", (now, sender, n, first, last, reason))
        pending = self._pending_loss.setdefault((sender, reason), [0, first, last])
        pending[0] += n
        pending[2] = last

    def _say_losses(self, force: bool = False) -> None:
        with self._lock:
            now = time.monotonic()
            if not self._pending_loss or (not force and now - self._loss_said < _LOSS_REPORT_S):
                return
            pending, self._pending_loss = self._pending_loss, {}
            self._loss_said = now
        for (sender, reason), (n, first, last) in pending.items():
            why = f"full ({self.max_rows} rows)" if reason == "full" else f"rows older than {self.max_age_s / 3600:g} h"
            message = (
                f"plant outbox {why}: {n} row(s) dropped before {sender} sent them (cycles {first} .. {last}); "
                "they stay in the station's CSV log"
            )
            log.error(message)
            if self._on_loss is not None:
                self._on_loss(message)


def peek(path: str | Path) -> tuple[QueueState, list[Loss]] | None:
    """The state of an outbox file, read-only (a running station keeps it open): for `plant status`.
    None when there is no such file."""
    path = Path(path)
    if not path.is_file():
        return None
    db = sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True, timeout=10.0)
    try:
        found = db.execute("SELECT seq FROM sqlite_sequence WHERE name = 'rows'").fetchone()
        max_seq = found[0] if found else 0
        cursors = db.execute("SELECT sender, seq, sent, lost FROM cursors ORDER BY sender").fetchall()
        low = min((seq for _, seq, _, _ in cursors), default=max_seq)
        oldest = db.execute("SELECT MIN(queued_at) FROM rows WHERE seq > ?", (low,)).fetchone()[0]
        losses = [Loss(*row) for row in db.execute(
            "SELECT at, sender, rows, first_cycle, last_cycle, reason FROM losses ORDER BY at DESC LIMIT 20")]
    finally:
        db.close()
    state = QueueState(
        max_seq - low, max(0.0, time.time() - oldest) if oldest is not None and max_seq > low else 0.0, 0, 0.0,
        tuple(CursorState(name, max_seq - seq, sent, lost) for name, seq, sent, lost in cursors),
    )
    return state, losses
