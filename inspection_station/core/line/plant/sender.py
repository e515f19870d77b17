"""One sender: a thread that drains the outbox into one receiver (database, broker), in order.

Off the cycle's path: the cycle only puts its row in the outbox. The thread connects (with a
back-off that doubles from `retry_min_s` to `retry_max_s`), fetches the rows after its cursor,
hands them to its sink, and moves the cursor past the rows the receiver confirmed. A failure
drops the connection and retries later with the same rows: nothing is skipped, and a row
the receiver already has is absorbed by its key (database) or its idempotency key (MQTT).

A change of state (down with a reason, up again) is logged and reported once, not per retry.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Protocol

from inspection_station.core.errors import StationError

from .outbox import Outbox, QueuedRow

log = logging.getLogger(__name__)

Report = Callable[[str], None]
IDLE_S = 5.0  # a connected sink's idle work (state message, heartbeat) at least this often


class SinkError(Exception):
    """A receiver's failure, said in one line for the operator (what, where, what to check)."""


class Sink(Protocol):
    name: str  # "postgresql" | "mqtt": the outbox cursor's name
    where: str  # the receiver, for messages (no password)

    def connect(self) -> None: ...  # SinkError with a clear message

    def send(self, rows: Sequence[QueuedRow]) -> int: ...  # rows confirmed (a prefix); SinkError

    def idle(self) -> None: ...  # periodic work while connected; SinkError

    def close(self) -> None: ...  # never raises

    def shutdown(self) -> None: ...  # the station stops: last words (MQTT: offline), then close


@dataclass(frozen=True, slots=True)
class SenderState:
    name: str
    where: str
    up: bool
    reason: str  # why it is down ("" while up or before the first attempt)
    since: float  # time.time() of the last change
    attempts: int  # failed attempts since the last success


class Sender:
    def __init__(
        self,
        outbox: Outbox,
        sink: Sink,
        *,
        batch_rows: int = 100,
        retry_min_s: float = 0.5,
        retry_max_s: float = 30.0,
        on_problem: Report | None = None,
        on_notice: Report | None = None,
    ) -> None:
        self.outbox = outbox
        self.sink = sink
        self.batch_rows = batch_rows
        self.retry_min_s = retry_min_s
        self.retry_max_s = max(retry_max_s, retry_min_s)
        self._on_problem = on_problem
        self._on_notice = on_notice
        self._stop = threading.Event()
        self._poked = threading.Event()
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()
        self._state = SenderState(sink.name, sink.where, False, "", time.time(), 0)
        self._connected = False

    @property
    def state(self) -> SenderState:
        with self._lock:
            return self._state

    def poke(self) -> None:
        """Do the sink's idle work soon (the station's state changed: MQTT's retained message)."""
        self._poked.set()
        self.outbox.wake()

    def start(self) -> Sender:
        self._thread = threading.Thread(target=self._run, name=f"plant-{self.sink.name}", daemon=True)
        self._thread.start()
        return self

    def stop(self, timeout: float = 10.0) -> None:
        """Stop the thread (a connect in progress ends at its own timeout), then close the sink."""
        self._stop.set()
        self._poked.set()  # ends the wait for rows at once
        self.outbox.wake()
        if self._thread is not None:
            self._thread.join(timeout)
            if self._thread.is_alive():
                log.warning("plant sender %s did not stop within %.0f s", self.sink.name, timeout)
                return  # the thread still uses the sink; it ends with the process
        self.sink.shutdown() if self._connected else self.sink.close()

    # --- the thread ------------------------------------------------------------------------------

    def _run(self) -> None:
        delay = self.retry_min_s
        last_idle = 0.0
        while not self._stop.is_set():
            try:
                if not self._connected:
                    self.sink.connect()
                    self._connected = True
                    last_idle = time.monotonic()
                rows = self.outbox.fetch(self.sink.name, self.batch_rows)
                if rows:
                    done = self.sink.send(rows)
                    self.outbox.confirm(self.sink.name, rows[:done])
                    if done < len(rows):
                        raise SinkError(getattr(self.sink, "problem", "")
                                        or f"{self.sink.where}: {len(rows) - done} row(s) not confirmed")
                    self._up(done)
                    delay = self.retry_min_s
                    continue
                self._up(0)
                delay = self.retry_min_s
                if self._poked.is_set() or time.monotonic() - last_idle >= IDLE_S:
                    self._poked.clear()
                    self.sink.idle()
                    last_idle = time.monotonic()
                self.outbox.wait(self.sink.name, IDLE_S, self._poked)
            except (SinkError, StationError) as exc:  # StationError: e.g. a credentials file made readable to others
                self._down(str(exc))
            except Exception as exc:  # a bug or an unforeseen library error: retried like a failure
                log.exception("plant sender %s", self.sink.name)
                self._down(f"{self.sink.where}: {type(exc).__name__}: {exc}")
            else:
                continue
            self._connected = False
            self.sink.close()
            self._stop.wait(delay)
            delay = min(delay * 2, self.retry_max_s)

    def _up(self, sent: int) -> None:
        with self._lock:
            was = self._state
            if was.up:
                return
            self._state = SenderState(was.name, was.where, True, "", time.time(), 0)
        if was.reason:  # it was down: say that it is back
            message = f"plant {self.sink.name} {self.sink.where}: reachable again; queued rows are being sent"
            log.warning(message)
            if self._on_notice is not None:
                self._on_notice(message)
        else:
            log.info("plant %s %s: connected", self.sink.name, self.sink.where)

    def _down(self, reason: str) -> None:
        with self._lock:
            was = self._state
            self._state = SenderState(
                was.name, was.where, False, reason, time.time() if was.up or reason != was.reason else was.since,
                was.attempts + 1,
            )
        if reason != was.reason:  # said once per new reason, not once per retry
            message = f"plant {self.sink.name} down: {reason}; rows wait in the outbox and are sent when it is back"
            log.error(message)
            if self._on_problem is not None:
                self._on_problem(message)
