"""Plant-wide results against real servers: a throw-away PostgreSQL cluster and a Mosquitto
broker (tests/plant_servers.py), a real station (emulated camera, constant model) and the
station's own outbox, senders and commands.

Outages here last a few seconds (enough for every sender to fail, queue and reconnect);
benchmarks/plant_outage.py runs the issue's full 30 s outage with the cycle time beside it.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections import Counter
from datetime import datetime
from pathlib import Path

import httpx
import pytest

from inspection_station.core.cycle import Verdict
from inspection_station.core.line.plant.credentials import DATABASE_PASSWORD_ENV, MQTT_PASSWORD_ENV
from inspection_station.core.line.plant.rows import csv_text
from inspection_station.core.line.plant.service import LOW_BUFFER, SENDER_DOWN
from inspection_station.core.line.services import LineServices
from inspection_station.core.results.csv_log import read_log
from inspection_station.core.settings.model import save_settings
from inspection_station.core.station import Station
from tests.known_station import station_settings
from tests.plant_servers import PASSWORD, Mosquitto, Postgres, Subscriber

ROOT = Path(__file__).resolve().parents[1]
WAIT_S = 60.0
_names = iter(range(1, 10_000))


def wait_until(check, what: str, timeout: float = WAIT_S):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")


@pytest.fixture(scope="module")
def pg():
    server = Postgres()
    yield server
    server.close()


@pytest.fixture(scope="module")
def broker():
    server = Mosquitto()
    yield server
    server.close()


class Plant:
    """One test's place on the shared servers: its own database, topic prefix and station."""

    def __init__(self, pg: Postgres, broker: Mosquitto, tmp_path: Path) -> None:
        n = next(_names)
        self.pg, self.broker, self.tmp = pg, broker, tmp_path
        self.name = f"st{n}"
        self.prefix = f"t{n}"
        self.url = pg.new_database(f"plant{n}")
        self.mqtt_url = f"mqtt://127.0.0.1:{broker.port}"
        self.subscriber = Subscriber(broker.port, f"{self.prefix}/#", client_id=f"sub-{n}")

    def migrate(self) -> None:
        from inspection_station.cli import main

        assert main(["plant", "migrate", "--database-url", self.url]) == 0

    def settings(self, **plant):
        values = dict(database_url=self.url, mqtt_url=self.mqtt_url, mqtt_prefix=self.prefix, line="line-a",
                      outbox_dir=str(self.tmp / "outbox"), retry_min_s=0.05, retry_max_s=0.5, connect_timeout_s=2.0)
        values.update(plant)
        base = station_settings(self.tmp, name=self.name).replace("camera", grab_timeout_ms=15000)
        return base.replace("plant", **values)

    def db_rows(self) -> list[dict]:
        import psycopg
        from psycopg.rows import dict_row

        with psycopg.connect(self.pg.admin_conninfo(self.url.rsplit("/", 1)[1]), row_factory=dict_row) as conn:
            return conn.execute('SELECT * FROM cycles ORDER BY "arrival"').fetchall()

    def db_count(self) -> int:
        return self.pg.admin("SELECT COUNT(*) FROM cycles", dbname=self.url.rsplit("/", 1)[1])[0][0]

    def messages(self) -> list[dict]:
        return [json.loads(p) for p in self.subscriber.received("/result")]

    def csv_rows(self) -> list[dict]:
        return [r for f in sorted((self.tmp / "log").glob(f"{self.name}_*.csv")) for r in read_log(f)]


@pytest.fixture
def plant(pg, broker, tmp_path, monkeypatch):
    monkeypatch.setenv(DATABASE_PASSWORD_ENV, PASSWORD)
    place = Plant(pg, broker, tmp_path)
    yield place
    place.subscriber.close()


class Running:
    """A station in this process with its line services (as `serve` runs them)."""

    def __init__(self, settings) -> None:
        self.problems: list[str] = []
        self.notices: list[str] = []
        self.station = Station(settings)
        self.services = LineServices(self.station, settings.line, on_problem=self.problems.append,
                                     on_notice=self.notices.append)
        self.station.start()
        self.said = self.services.start()
        assert self.station.wait_ready(WAIT_S)

    def cycle(self):
        return self.station.run_cycle("test")

    def status(self):
        return self.services.plant.status()

    def stop(self) -> None:
        self.services.stop()
        self.station.stop()


def run_cycles(running: Running, n: int, *, switch_every: int = 25) -> list:
    results = []
    for i in range(n):
        if i % switch_every == 0:
            running.station.select_pattern_set("product_nok" if (i // switch_every) % 2 else "product_ok")
        results.append(running.cycle())
    return results


def assert_same_as_csv(plant: Plant, n_rows: int) -> None:
    """The database (in arrival order) and the broker (first arrival per key) hold the CSV's rows,
    field by field, in the CSV's order, each once."""
    csv_rows = plant.csv_rows()
    assert len(csv_rows) == n_rows
    wait_until(lambda: plant.db_count() >= n_rows, f"{n_rows} rows in the database")
    wait_until(lambda: len({m["idempotency_key"] for m in plant.messages()}) >= n_rows, f"{n_rows} MQTT messages")
    db = plant.db_rows()
    assert len(db) == n_rows  # the key: never twice
    assert [csv_text(r) for r in db] == csv_rows
    for row, stored in zip(csv_rows, db, strict=True):  # the typed columns mean what the text says
        assert stored["timestamp"] == datetime.fromisoformat(row["timestamp"])
        assert stored["detections"] == json.loads(row["detections"])
        assert stored["line"] == "line-a" and stored["station"] == plant.name
    messages = plant.messages()
    first: dict[str, dict] = {}
    for m in messages:
        first.setdefault(m["idempotency_key"], m)
    assert [csv_text(m) for m in first.values()] == csv_rows
    for m in messages:  # QoS 1 is at-least-once: any repeat is the same row, told by its key
        assert m == first[m["idempotency_key"]]
    assert all(m["idempotency_key"] == m["cycle_id"] for m in messages)


# --- 200 cycles ---------------------------------------------------------------------------------


def test_200_cycles_arrive_in_both_equal_to_the_csv_rows(plant):
    plant.migrate()
    running = Running(plant.settings())
    try:
        assert any(s.startswith("plant: postgresql postgresql://station@127.0.0.1") for s in running.said)
        results = run_cycles(running, 200)
        assert Counter(r.verdict for r in results) == {Verdict.OK: 100, Verdict.NOK: 100}
        running.station.overrule(results[3].cycle_id, Verdict.NOK, "scratch on the clip")
        running.station.overrule(results[30].cycle_id, Verdict.OK, "false reject")
        assert_same_as_csv(plant, 202)
        wait_until(lambda: running.status().queue.depth == 0, "an empty outbox")
        status = running.status()
        assert status.warnings == ()
        assert {c.sender: (c.sent, c.lost) for c in status.queue.cursors} == {"postgresql": (202, 0), "mqtt": (202, 0)}
        corrections = [r for r in plant.db_rows() if r["overrules"]]
        assert [(r["overrules"], r["verdict"], r["note"]) for r in corrections] == [
            (results[3].cycle_id, "NOK", "scratch on the clip"), (results[30].cycle_id, "OK", "false reject")]
        # the retained state message: online and ready
        states = [json.loads(p) for p in plant.subscriber.received("/state")]
        assert states and states[-1]["state"] == "online" and states[-1]["ready"] is True
        assert plant.subscriber.messages[0][0] == f"{plant.prefix}/line-a/{plant.name}/state"
    finally:
        running.stop()
    assert running.problems == []
