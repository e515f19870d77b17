"""The plant-wide results of one station: outbox + senders, built from `[plant]`.

`PlantService` is what `LineServices` runs (so `serve` and the GUI run it the same way):
`open()` takes every row the station records from then on into the outbox (a row tap on the
station's name), `start()` starts one sender thread per configured receiver, `stop()` gives
them a moment to empty the queue and stops them; unsent rows stay in the outbox file for the
next start. `status()` is a frozen snapshot for the status bar, `/metrics` and `plant status`.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from inspection_station.core import paths
from inspection_station.core.errors import ConfigError
from inspection_station.core.listeners import StationListener
from inspection_station.core.regular_files import require_regular
from inspection_station.core.results.csv_log import station_file_prefix
from inspection_station.core.results.row_taps import add_row_tap
from inspection_station.core.settings.model import PlantSettings

from .credentials import check_database_url, credentials_path, parse_mqtt_url, read_credentials
from .outbox import Outbox, QueueState
from .sender import Sender, SenderState

log = logging.getLogger(__name__)

Report = Callable[[str], None]
LOW_BUFFER = "LOW BUFFER"
SENDER_DOWN = "SENDER DOWN"
READY_CAMERA = ("connected", "emulated")


def plant_enabled(plant: PlantSettings) -> bool:
    return bool(plant.database_url or plant.mqtt_url)


def outbox_path(plant: PlantSettings, station: str) -> Path:
    folder = Path(plant.outbox_dir) if plant.outbox_dir else paths.station_data_dir() / "outbox"
    return folder / f"{station_file_prefix(station) or 'station_'}outbox.sqlite3"


@dataclass(frozen=True, slots=True)
class PlantStatus:
    queue: QueueState
    senders: tuple[SenderState, ...]
    low_fraction: float
    not_queued: int  # rows the outbox itself could not store (a full disk): lost for the plant

    @property
    def warnings(self) -> tuple[str, ...]:
        """What the status bar shows: SENDER DOWN (a sender failed and is not back), LOW BUFFER
        (the queue is near a bound, or could not store a row)."""
        found = []
        if any(not s.up and s.attempts for s in self.senders):
            found.append(SENDER_DOWN)
        if self.queue.fill() >= self.low_fraction or self.not_queued:
            found.append(LOW_BUFFER)
        return tuple(found)

    def lines(self) -> list[str]:
        """One line per fact, for tooltips and `plant status`."""
        q = self.queue
        out = [f"outbox: {q.depth} row(s) queued (max {q.max_rows}), oldest {q.oldest_age_s:.0f} s "
               f"(max {q.max_age_s / 3600:g} h)"]
        cursors = {c.sender: c for c in q.cursors}
        for s in self.senders:
            c = cursors.get(s.name)
            counts = f"{c.behind} to send, {c.sent} sent, {c.lost} lost" if c else ""
            state = f"{s.where}: up" if s.up else (f"DOWN: {s.reason}" if s.attempts else f"{s.where}: connecting")
            out.append(f"{s.name}: {state}; {counts}")
        if self.not_queued:
            out.append(f"{self.not_queued} row(s) could not be queued for the plant (they are in the CSV log)")
        return out


class PlantService(StationListener):
    def __init__(
        self,
        plant: PlantSettings,
        station: str,
        *,
        states: Callable[[], Mapping[str, tuple[str, str]]] = dict,
        on_problem: Report | None = None,
        on_notice: Report | None = None,
    ) -> None:
        """Checks `[plant]` (ConfigError, located: URLs, credentials file, libraries); opens nothing."""
        self.settings = plant
        self.station = station
        self._states = states
        self._on_problem = on_problem
        self._on_notice = on_notice
        self.sinks: list[Any] = []  # PostgresSink, MqttSink: the Sink interface of sender.py
        path = credentials_path(plant.credentials_file)
        if path is not None:
            read_credentials(path)  # refused now (mode, owner, syntax) rather than at the first connect
        if plant.database_url:
            from .postgres import PostgresSink, import_psycopg

            import_psycopg()
            self.sinks.append(PostgresSink(
                check_database_url(plant.database_url), station=station, line=plant.line,
                image_base_url=plant.image_base_url, credentials_file=plant.credentials_file,
                connect_timeout_s=plant.connect_timeout_s, queue_state=self._queue_numbers,
            ))
        if plant.mqtt_url:
            from .mqtt import MqttSink

            for key in ("mqtt_ca_file", "mqtt_client_cert", "mqtt_client_key"):
                if getattr(plant, key):  # a FIFO or a device there is refused, never opened
                    require_regular(getattr(plant, key), f"[plant] {key} file", ConfigError)
            self.sinks.append(MqttSink(
                parse_mqtt_url(plant.mqtt_url), station=station, line=plant.line, prefix=plant.mqtt_prefix,
                ca_file=plant.mqtt_ca_file, client_cert=plant.mqtt_client_cert, client_key=plant.mqtt_client_key,
                credentials_file=plant.credentials_file, image_base_url=plant.image_base_url,
                connect_timeout_s=plant.connect_timeout_s, state=self._station_state,
            ))
        self.path = outbox_path(plant, station)
        self.outbox: Outbox | None = None
        self.senders: list[Sender] = []
        self._untap: Callable[[], None] | None = None
        self._not_queued = 0
        self._lock = threading.Lock()

    # --- life ----------------------------------------------------------------------------------------

    def open(self) -> PlantService:
        """Open the outbox and take every row recorded for this station from now on."""
        try:
            self.outbox = Outbox(
                self.path, [s.name for s in self.sinks], max_rows=self.settings.outbox_max_rows,
                max_age_s=self.settings.outbox_max_age_h * 3600, on_loss=self._problem,
            )
        except Exception as exc:  # sqlite3.Error, OSError (a folder that cannot be made)
            raise ConfigError(f"[plant] outbox {self.path}: cannot be opened: {exc}") from None
        self._untap = add_row_tap(self.station, self._take)
        return self

    def start(self) -> list[str]:
        """Start the senders; what runs, one line each."""
        if self.outbox is None:
            self.open()
        outbox = self.outbox
        if outbox is None:  # open() raises when it cannot open the outbox
            raise RuntimeError("the plant outbox did not open")
        s = self.settings
        for sink in self.sinks:
            self.senders.append(Sender(
                outbox, sink, batch_rows=s.batch_rows, retry_min_s=s.retry_min_s, retry_max_s=s.retry_max_s,
                on_problem=self._problem, on_notice=self._notice,
            ).start())
        depth = outbox.depth
        return [f"plant: {sink.name} {sink.where}" for sink in self.sinks] + (
            [f"plant: {depth} row(s) queued from before, sent first"] if depth else [])

    def stop(self, drain_s: float = 2.0) -> None:
        """Stop taking rows; let connected senders empty the queue for up to `drain_s`; stop them."""
        if self._untap is not None:
            self._untap()
            self._untap = None
        deadline = time.monotonic() + drain_s
        while (self.outbox is not None and self.outbox.depth and time.monotonic() < deadline
               and self.senders and all(x.state.up for x in self.senders)):
            time.sleep(0.05)
        timeout = self.settings.connect_timeout_s + 5.0
        for sender in self.senders:
            sender.stop(timeout)
        self.senders = []
        if self.outbox is not None:
            self.outbox.close()

    # --- state -----------------------------------------------------------------------------------------

    def status(self) -> PlantStatus | None:
        if self.outbox is None:
            return None
        states = {x.sink.name: x.state for x in self.senders}
        senders = tuple(
            states.get(sink.name) or SenderState(sink.name, sink.where, False, "", time.time(), 0)
            for sink in self.sinks
        )
        return PlantStatus(self.outbox.state(), senders, self.settings.low_buffer_fraction, self._not_queued)

    # --- listener: the retained state message follows the station ---------------------------------------

    def state_changed(self, component: str, state: str, reason: str) -> None:
        for sender in self.senders:
            if sender.sink.name == "mqtt":
                sender.poke()

    # --- internals ---------------------------------------------------------------------------------------

    def _take(self, row: Mapping[str, str]) -> None:
        """The row tap (the cycle's thread): one durable insert, never an exception into the cycle."""
        outbox = self.outbox
        if outbox is None:
            return
        try:
            outbox.put(row)
        except Exception as exc:  # a full disk, a damaged file: counted, named, said
            with self._lock:
                self._not_queued += 1
            self._problem(f"plant outbox {self.path}: row of cycle {row.get('cycle_id', '?')} not queued "
                          f"({type(exc).__name__}: {exc}); it is in the CSV log, the plant does not get it")

    def _queue_numbers(self) -> tuple[int, int]:
        outbox = self.outbox
        if outbox is None:
            return 0, 0
        state = outbox.state()
        return state.depth, sum(c.lost for c in state.cursors) + self._not_queued

    def _station_state(self) -> dict:
        states = dict(self._states())
        ready = (
            states.get("camera", ("",))[0] in READY_CAMERA
            and states.get("model", ("",))[0] == "ready"
            and states.get("patterns", ("",))[0] == "ready"
        )
        return {"ready": ready, "components": {name: state for name, (state, _reason) in states.items()}}

    def _problem(self, message: str) -> None:
        if self._on_problem is not None:
            self._on_problem(message)

    def _notice(self, message: str) -> None:
        if self._on_notice is not None:
            self._on_notice(message)


class PlantCollector:
    """The outbox on `/metrics` (a collector on the station's registry, read at scrape time)."""

    def __init__(self, station: str, service: PlantService) -> None:
        self.station = station
        self.service = service

    def collect(self) -> Iterator:
        from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily

        from inspection_station.core.line.metrics import PREFIX

        status = self.service.status()
        st = [self.station]
        depth = GaugeMetricFamily(PREFIX + "plant_queue_depth", "rows in the plant outbox", labels=["station"])
        oldest = GaugeMetricFamily(PREFIX + "plant_queue_oldest_seconds", "age of the oldest queued row",
                                   labels=["station"])
        up = GaugeMetricFamily(PREFIX + "plant_sender_up", "1 while the sender reaches its receiver",
                               labels=["station", "sender"])
        sent = CounterMetricFamily(PREFIX + "plant_rows_sent", "rows the receiver confirmed",
                                   labels=["station", "sender"])
        lost = CounterMetricFamily(PREFIX + "plant_rows_lost", "rows dropped from the full or aged outbox "
                                   "before this sender sent them (they are in the CSV)", labels=["station", "sender"])
        not_queued = CounterMetricFamily(PREFIX + "plant_rows_not_queued", "rows the outbox could not store",
                                         labels=["station"])
        if status is not None:
            depth.add_metric(st, status.queue.depth)
            oldest.add_metric(st, status.queue.oldest_age_s)
            cursors = {c.sender: c for c in status.queue.cursors}
            for s in status.senders:
                up.add_metric([*st, s.name], 1.0 if s.up else 0.0)
                c = cursors.get(s.name)
                sent.add_metric([*st, s.name], c.sent if c else 0)
                lost.add_metric([*st, s.name], c.lost if c else 0)
            not_queued.add_metric(st, status.not_queued)
        yield from (depth, oldest, up, sent, lost, not_queued)

    def describe(self) -> Iterator:
        return iter(())
