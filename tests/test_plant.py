"""Plant-wide results against real servers: a throw-away PostgreSQL cluster and a Mosquitto
broker (tests/plant_servers.py), a real station (emulated camera, constant model) and the
station's own outbox, senders and commands.

Outages here last a few seconds (enough for every sender to fail, queue and reconnect);
`benchmarks/plant_overhead.py --outage 30` runs the issue's full 30 s outage with the cycle time beside it.
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
from inspection_station.core.line.plant.schema import SCHEMA_VERSION
from inspection_station.core.line.plant.service import SENDER_DOWN
from inspection_station.core.line.services import LineServices
from inspection_station.core.results.csv_log import read_log
from inspection_station.core.settings.model import save_settings
from inspection_station.core.station import Station
from tests.known_station import station_settings
from tests.plant_servers import PASSWORD, Mosquitto, Postgres, Subscriber

ROOT = Path(__file__).resolve().parents[1]
RESULTS_DASHBOARD = ROOT / "monitoring" / "grafana" / "dashboards" / "inspection_station_results.json"
WAIT_S = 60.0
_names = iter(range(1, 10_000))


def grafana_sql(sql: str, stations: list[str]) -> str:
    """A panel's SQL as Grafana sends it: the time range 7 days, the hour buckets, the stations."""
    import re

    sql = re.sub(r"\$__timeFilter\(([^)]*)\)", r"\1 BETWEEN now() - interval '7 days' AND now()", sql)
    sql = re.sub(r"\$__timeGroupAlias\(([^,]*), '1h'\)", r"date_trunc('hour', \1) AS time", sql)
    return sql.replace("$station", ", ".join(f"'{s}'" for s in stations))


def doc_sql(containing: str) -> str:
    """The ```sql block of docs/plant_results.md that contains `containing`."""
    blocks = (ROOT / "docs" / "plant_results.md").read_text().split("```sql\n")[1:]
    return next(b.split("```", 1)[0] for b in blocks if containing in b)


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
        self._base = None

    def migrate(self) -> None:
        from inspection_station.cli import main

        assert main(["plant", "migrate", "--database-url", self.url]) == 0

    def settings(self, **plant):
        values = dict(database_url=self.url, mqtt_url=self.mqtt_url, mqtt_prefix=self.prefix, line="line-a",
                      outbox_dir=str(self.tmp / "outbox"), retry_min_s=0.05, retry_max_s=0.5, connect_timeout_s=2.0)
        values.update(plant)
        if self._base is None:
            self._base = station_settings(self.tmp, name=self.name).replace("camera", grab_timeout_ms=15000)
        return self._base.replace("plant", **values)

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


# --- an outage of both receivers mid-run ---------------------------------------------------------


def test_database_and_broker_stopped_mid_run_every_cycle_arrives_once_in_order(plant):
    """A few seconds here (every sender fails, queues, backs off, reconnects); the full 30 s
    outage with the cycle time beside it is `benchmarks/plant_overhead.py --outage 30`."""
    plant.migrate()
    running = Running(plant.settings())
    try:
        run_cycles(running, 40)
        wait_until(lambda: plant.db_count() == 40, "the first 40 rows")
        plant.pg.stop()
        plant.broker.stop()
        outage_start = time.monotonic()
        during = run_cycles(running, 40)
        assert all(r.verdict is not Verdict.ERROR for r in during)  # the station inspected on
        status = wait_until(lambda: (s := running.status()).warnings == (SENDER_DOWN,) and s, "SENDER DOWN")
        assert all(not s.up for s in status.senders)
        assert status.queue.depth == 40
        time.sleep(max(0.0, 3.0 - (time.monotonic() - outage_start)))  # at least 3 s down
        plant.broker.start()
        plant.pg.start()
        run_cycles(running, 40)
        assert_same_as_csv(plant, 120)
        wait_until(lambda: running.status().warnings == (), "the warning cleared")
    finally:
        running.stop()
    downs = [p for p in running.problems if " down: " in p]
    assert any(p.startswith("plant postgresql down: postgresql://station@127.0.0.1") for p in downs), downs
    assert any(p.startswith("plant mqtt down: mqtt://127.0.0.1") for p in downs), downs
    assert len(running.notices) >= 2 and all("reachable again" in n for n in running.notices)


# --- refused credentials, a wrong certificate -------------------------------------------------------


def test_refused_credentials_and_a_wrong_certificate_are_said_and_the_station_inspects_on(
        plant, monkeypatch, caplog):
    plant.migrate()
    monkeypatch.setenv(DATABASE_PASSWORD_ENV, "not-the-password")
    tls = f"mqtts://127.0.0.1:{plant.broker.tls_port}"
    running = Running(plant.settings(mqtt_url=tls, mqtt_ca_file=str(plant.broker.other_ca)))
    try:
        results = [running.cycle() for _ in range(5)]
        assert [r.verdict for r in results] == [Verdict.OK] * 5
        wait_until(lambda: len(running.problems) >= 2, "two problems said")
        status = running.status()
        assert status.warnings == (SENDER_DOWN,) and status.queue.depth == 5
        text = "\n".join(running.problems)
        assert "the database refused the credentials" in text
        assert 'password authentication failed for user "station"' in text
        assert f"mqtts://127.0.0.1:{plant.broker.tls_port}: the broker's TLS certificate was not accepted" in text
        assert "check [plant] mqtt_ca_file" in text
        logged = "\n".join(r.getMessage() for r in caplog.records if r.levelname == "ERROR")
        assert "the database refused the credentials" in logged and "TLS certificate was not accepted" in logged
        assert running.cycle().verdict is Verdict.OK  # still inspecting
    finally:
        running.stop()
    assert plant.db_count() == 0


def test_right_certificate_and_password_listener(plant, monkeypatch):
    """The same broker over TLS with the right CA, and the password listener: wrong then right."""
    plant.migrate()
    monkeypatch.setenv(MQTT_PASSWORD_ENV, "wrong")
    auth = Running(plant.settings(database_url="", mqtt_url=f"mqtt://station@127.0.0.1:{plant.broker.auth_port}"))
    try:
        auth.cycle()
        wait_until(lambda: auth.problems, "the refusal")
        assert "connection refused: Not authorized; the broker refused the credentials" in auth.problems[0]
    finally:
        auth.stop()
    monkeypatch.setenv(MQTT_PASSWORD_ENV, PASSWORD)
    right = Running(plant.settings(mqtt_url=f"mqtts://station@localhost:{plant.broker.tls_port}",
                                   mqtt_ca_file=str(plant.broker.ca)))
    try:
        right.cycle()
    finally:
        right.stop()
    assert right.problems == []
    tls_plant = plant  # the TLS listener allows anonymous too: the subscriber is on the plain port
    wait_until(lambda: len(tls_plant.messages()) == 2, "both rows (the refused one, then this one)")


# --- kill -9 of the station with rows queued --------------------------------------------------------


class Serve:
    """`inspection-station serve --api 0` on a settings file, the password in its environment."""

    def __init__(self, config: Path) -> None:
        env = {**os.environ, "PYTHONPATH": str(ROOT), DATABASE_PASSWORD_ENV: PASSWORD}
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "inspection_station", "serve", "--config", str(config), "--api", "0"],
            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, env=env,
        )
        self.lines: list[str] = []
        threading.Thread(target=lambda: self.lines.extend(line.rstrip("\n") for line in self.proc.stderr),
                         daemon=True).start()
        found = wait_until(lambda: next((x for x in list(self.lines) if "api: http://" in x), None), "the API")
        self.client = httpx.Client(base_url=found.split("api: ", 1)[1], timeout=WAIT_S)
        wait_until(lambda: self.client.get("/health").json()["ready"], "a ready station")

    def inspect(self, n: int) -> list[str]:
        return [self.client.post("/inspect").json()["cycle_id"] for _ in range(n)]

    def kill(self) -> None:
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(30)
        self.client.close()
        self.proc.stderr.close()


def test_kill_9_with_rows_queued_they_are_sent_after_restart_none_twice(plant):
    plant.migrate()
    config = plant.tmp / "settings.toml"
    settings = plant.settings()
    save_settings(settings, config)
    state_topic = f"{plant.prefix}/line-a/{plant.name}/state"

    def states() -> list[str]:
        return [json.loads(p)["state"] for t, p, _ in list(plant.subscriber.messages) if t == state_topic]

    station = Serve(config)
    first = station.inspect(5)
    wait_until(lambda: plant.db_count() == 5 and len(plant.messages()) == 5, "the first 5 rows in both")
    wait_until(lambda: states() and states()[-1] == "online", "the retained state: online")
    station.kill()  # connected: the broker publishes the last will
    wait_until(lambda: states()[-1] == "offline", "the last will: offline")

    station = Serve(config)
    wait_until(lambda: states()[-1] == "online", "online again")
    plant.pg.stop()
    plant.broker.stop()
    queued = station.inspect(10)
    outbox = plant.tmp / "outbox" / f"{plant.name}_outbox.sqlite3"
    from inspection_station.core.line.plant.outbox import peek

    wait_until(lambda: peek(outbox)[0].depth == 10, "10 rows in the outbox")
    wait_until(lambda: sum("down: " in x for x in list(station.lines)) >= 2, "both senders said down")
    station.kill()
    assert {c.sender: c.behind for c in peek(outbox)[0].cursors} == {"mqtt": 10, "postgresql": 10}

    plant.broker.start()
    plant.pg.start()
    station = Serve(config)
    try:
        assert any("plant: 10 row(s) queued from before, sent first" in x for x in station.lines)
        wait_until(lambda: plant.db_count() == 15 and len(plant.messages()) == 15, "all 15 rows in both")
        time.sleep(0.5)  # a resend would come now: none may
        keys = [m["idempotency_key"] for m in plant.messages()]
        assert keys == first + queued  # in order, each once: the broker got none twice
        assert [r["cycle_id"] for r in plant.db_rows()] == first + queued
        assert [csv_text(r) for r in plant.db_rows()] == plant.csv_rows()
        assert peek(outbox)[0].depth == 0
    finally:
        station.kill()


# --- the schema, the plant's question, the report -----------------------------------------------------


def test_a_version_1_database_with_rows_gains_the_recipe_columns_and_keeps_its_rows(plant, capsys):
    """A plant database made by a station before recipes (schema version 1, no recipe columns,
    rows in it): `plant migrate` adds the columns (old rows read ''), and rows sent after it name
    the recipe."""
    from inspection_station.cli import main

    db = plant.url.rsplit("/", 1)[1]
    plant.migrate()
    running = Running(plant.settings(mqtt_url=""))
    try:
        running.cycle()
        wait_until(lambda: plant.db_count() == 1, "the first row")
    finally:
        running.stop()
    # what a version-1 station left: the table without the two columns, version 2 not applied
    plant.pg.admin('DROP INDEX cycles_recipe_time; ALTER TABLE cycles DROP COLUMN "recipe", '
                   'DROP COLUMN "recipe_version"; DELETE FROM inspection_schema WHERE version = 2', dbname=db)
    capsys.readouterr()
    assert main(["plant", "migrate", "--database-url", plant.url]) == 0
    assert capsys.readouterr().out.startswith("schema version 2: the recipe and its version of each cycle")
    running = Running(plant.settings(mqtt_url=""))
    try:
        running.cycle()
        wait_until(lambda: plant.db_count() == 2, "the row after the migration")
    finally:
        running.stop()
    old, new = plant.db_rows()
    assert (old["recipe"], old["recipe_version"]) == ("", "")
    assert new["recipe"] == new["pattern_set"] != "" and new["cycle_id"] != old["cycle_id"]


def test_migrate_creates_then_says_up_to_date_and_a_sender_asks_for_it(plant, capsys):
    from inspection_station.cli import main

    running = Running(plant.settings(mqtt_url=""))  # no schema yet: the sender says what to do
    try:
        running.cycle()
        wait_until(lambda: running.problems, "the schema problem")
        assert f"no plant schema in the database, the station needs version {SCHEMA_VERSION}: run " \
               "`inspection-station plant migrate` once" in running.problems[0]
        capsys.readouterr()
        assert main(["plant", "migrate", "--database-url", plant.url]) == 0
        out = capsys.readouterr().out
        assert "schema version 1: cycles, stations" in out and "schema version 2: " in out
        assert main(["plant", "migrate", "--database-url", plant.url]) == 0
        assert capsys.readouterr().out == f"schema version {SCHEMA_VERSION}: up to date\n"
        wait_until(lambda: plant.db_count() == 1, "the queued row, sent once the schema is there")
    finally:
        running.stop()
    stations = plant.pg.admin('SELECT "station", "line", "queue_depth" FROM stations',
                              dbname=plant.url.rsplit("/", 1)[1])
    assert stations == [(plant.name, "line-a", 0)]


def test_a_station_role_with_only_the_documented_grants_can_send(plant, monkeypatch):
    from psycopg import sql

    plant.migrate()
    db = plant.url.rsplit("/", 1)[1]
    if not plant.pg.admin("SELECT 1 FROM pg_roles WHERE rolname = 'station07'"):
        plant.pg.admin(sql.SQL("CREATE ROLE station07 LOGIN PASSWORD {}").format(sql.Literal("pw-07")))
    for grant in filter(None, (line.split("--")[0].strip() for line in doc_sql("GRANT").splitlines())):
        if "station07" in grant and "CREATE ROLE" not in grant:
            plant.pg.admin(grant.rstrip(";"), dbname=db)
    monkeypatch.setenv(DATABASE_PASSWORD_ENV, "pw-07")
    running = Running(plant.settings(mqtt_url="", database_url=plant.url.replace("station@", "station07@")))
    try:
        for _ in range(3):
            running.cycle()
        wait_until(lambda: plant.db_count() == 3, "3 rows sent by the limited role")
        wait_until(lambda: running.status().queue.depth == 0, "an empty outbox")
    finally:
        running.stop()
    assert running.problems == []


def test_migrate_with_a_password_in_the_url_is_refused(plant, capsys):
    from inspection_station.cli import main

    url = plant.url.replace("station@", "station:hunter2@")
    assert main(["plant", "migrate", "--database-url", url]) == 2
    err = capsys.readouterr().err
    assert "a password in the settings is refused" in err and "hunter2" not in err


def test_the_nok_question_is_answered_by_an_index(plant):
    """"Every NOK of product X last week, on any line, with its image": the documented query."""
    plant.migrate()
    settings = plant.settings(mqtt_url="", image_base_url="http://10.0.3.7:8080").replace("results", archive="failed")
    running = Running(settings)
    try:
        results = run_cycles(running, 20, switch_every=5)
        wait_until(lambda: plant.db_count() == 20, "20 rows")
    finally:
        running.stop()
    query = doc_sql("'4711'")
    db = plant.url.rsplit("/", 1)[1]
    found = plant.pg.admin(query.replace("'4711'", "'product_nok'"), dbname=db)
    noks = [r for r in results if r.verdict is Verdict.NOK]
    assert [f[2] for f in found] == sorted((r.cycle_id for r in noks), reverse=True)
    assert all(f[7] == f"http://10.0.3.7:8080/results/{f[2]}/image" and f[8].endswith("_NOK.jpg") for f in found)
    import psycopg

    with psycopg.connect(plant.pg.admin_conninfo(db)) as conn:  # 20 rows: make the planner show its index
        conn.execute("SET enable_seqscan = off")
        plan = conn.execute("EXPLAIN " + query.replace("'4711'", "'product_nok'")).fetchall()
    assert "cycles_product_verdict_time" in "\n".join(r[0] for r in plan)


def test_plant_report_equals_a_hand_count_from_the_csvs(plant, capsys):
    """Two stations, two recipes, cycles spread over three shifts (real pipeline results, their
    times moved), corrections, NOK and ERROR reasons: `plant report --json` against the CSVs."""
    import dataclasses
    import math
    from datetime import timedelta

    from inspection_station.cli import main
    from inspection_station.core.detect.detector import Detector
    from inspection_station.core.frame import Frame
    from inspection_station.core.line.plant.report import parse_shifts, shift_of
    from inspection_station.core.line.plant.service import PlantService
    from inspection_station.core.patterns.yaml_io import read_pattern_library
    from inspection_station.core.pipeline import Pipeline, new_cycle_id
    from inspection_station.core.results.recorder import ResultsRecorder

    plant.migrate()
    settings = plant.settings(mqtt_url="")
    detector = Detector.load(settings.model.path, settings.model)
    library = read_pattern_library(settings.patterns.path, detector.class_count)
    import cv2

    image = cv2.cvtColor(cv2.imread(str(plant.tmp / "emulator" / "part.png")), cv2.COLOR_BGR2RGB)
    start = datetime.now().astimezone().replace(minute=0, second=0, microsecond=0) - timedelta(days=2)
    for station in ("line-a-1", "line-a-2"):
        recorder = ResultsRecorder(settings.results, station, seed_statistics=False)
        service = PlantService(settings.plant, station).open()
        service.start()
        try:
            for i in range(60):
                recipe = "product_nok" if i % 3 == 0 else "product_ok"
                frame = None if i % 17 == 5 else Frame(image, i, time.time(), "test")  # a camera failure: ERROR
                result = Pipeline(detector, library.sets[recipe]).inspect(frame, grab_error="timeout", trigger="test")
                when = start + timedelta(minutes=37 * i)  # every shift, both days
                result = dataclasses.replace(result, timestamp=when, cycle_id=new_cycle_id(when))
                recorded = recorder.record(result)
                if i % 11 == 1:
                    recorder.overrule(recorded.cycle_id, "NOK" if recorded.verdict is Verdict.OK else "OK", "check")
            wait_until(lambda s=service: s.status().queue.depth == 0, "the rows sent")
        finally:
            service.stop()
            recorder.close()
    capsys.readouterr()
    assert main(["plant", "report", "--since", "7d", "--json", "--database-url", plant.url]) == 0
    report = json.loads(capsys.readouterr().out)

    rows = [r for f in sorted((plant.tmp / "log").glob("line-a-*.csv")) for r in read_log(f)]
    assert len(rows) == 2 * 60 + 2 * 6
    shifts = parse_shifts(["06:00", "14:00", "22:00"])

    def count(selected):
        cycles = [r for r in selected if not r["overrules"]]
        fixes = [r for r in selected if r["overrules"]]
        ok = sum(r["verdict"] == "OK" for r in cycles)
        nok = sum(r["verdict"] == "NOK" for r in cycles)
        to_ok = sum(r["verdict"] == "OK" for r in fixes)
        to_nok = sum(r["verdict"] == "NOK" for r in fixes)
        times = sorted(float(r["cycle_ms"]) for r in cycles)

        def rank(p):
            return times[max(1, math.ceil(p * len(times))) - 1] if times else None

        return {"cycles": len(cycles), "ok": ok, "nok": nok, "error": len(cycles) - ok - nok,
                "corrections_to_ok": to_ok, "corrections_to_nok": to_nok,
                "yield_ratio": ok / (ok + nok) if ok + nok else None,
                "corrected_yield_ratio": min(1.0, max(0.0, (ok + to_ok - to_nok) / (ok + nok))) if ok + nok else None,
                "cycle_ms_p50": rank(0.5), "cycle_ms_p95": rank(0.95)}

    def key(r):
        return r["station"], r["pattern_set"], shift_of(datetime.fromisoformat(r["timestamp"]), shifts)

    by_group: dict[tuple, list] = {}
    for r in rows:
        by_group.setdefault(key(r), []).append(r)
    expected = {k: count(v) for k, v in by_group.items()}
    for st in ("line-a-1", "line-a-2"):
        expected[(st, None, None)] = count([r for r in rows if r["station"] == st])
    expected[(None, None, None)] = count(rows)
    got = {(g["station"], g["recipe"], g["shift"]): {k: g[k] for k in next(iter(expected.values()))}
           for g in report["groups"]}
    assert len({k[2] for k in expected if k[2]}) == 3  # every shift has cycles
    assert got == expected

    reasons: Counter = Counter()
    for r in rows:
        if r["overrules"] or r["verdict"] == "OK":
            continue
        if r["verdict"] == "ERROR":
            reasons[(r["station"], r["pattern_set"], "error: " + (r["error"].split(":", 1)[0] or "unknown"))] += 1
        for slot in filter(None, r["missing_slots"].split(";")):
            reasons[(r["station"], r["pattern_set"], "missing: " + slot)] += 1
        for part in filter(None, r["wrong_parts"].split(";")):
            reasons[(r["station"], r["pattern_set"], "wrong part: " + part)] += 1
    assert {(x["station"], x["recipe"], x["reason"]): x["count"] for x in report["reasons"]} == dict(reasons)
    assert reasons[("line-a-1", "product_nok", "missing: screw_right")] > 0

    assert main(["plant", "report", "--since", "7d", "--station", "line-a-2", "--recipe", "product_ok",
                 "--database-url", plant.url]) == 0
    text = capsys.readouterr().out
    assert "line-a-2" in text and "line-a-1" not in text and "NOK and ERROR reasons" in text

    # the Grafana dashboard's SQL panels on the same data (Grafana's macros filled in as it does)
    panels = {p["title"]: p for p in json.loads(RESULTS_DASHBOARD.read_text())["panels"]}
    db = plant.url.rsplit("/", 1)[1]
    answers = {}
    for title, panel in panels.items():
        for target in panel["targets"]:
            if "rawSql" in target:
                answers[title] = plant.pg.admin(grafana_sql(target["rawSql"], ["line-a-1", "line-a-2"]), dbname=db)
    yields = {g["station"]: g["yield_ratio"] for g in report["groups"] if g["station"] and g["recipe"] is None}
    assert dict(answers["Yield per station"]) == pytest.approx(yields)
    by_reason: Counter = Counter()
    for (_station, _recipe, reason), n in reasons.items():
        by_reason[reason] += n
    assert dict(answers["NOK reasons"]) == dict(by_reason)
    assert {r[0] for r in answers["Outbox per station (last report)"]} == {"line-a-1", "line-a-2"}
    assert answers["Cycle time p50 / p95"] and answers["Yield per station over time"]


# --- on the operator's screen ------------------------------------------------------------------------


@pytest.mark.qt
def test_the_operator_window_says_sender_down_and_why_and_keeps_inspecting(plant, qtbot, monkeypatch):
    """Refused credentials in the GUI: SENDER DOWN on the status bar (the reason in its tooltip),
    the message on the error route (status line + warnings list), the INSPECT button still works."""
    from inspection_station.gui.app import LineRunner, start_station
    from inspection_station.gui.error_route import ErrorRoute
    from inspection_station.gui.operator.main_window import MainWindow
    from inspection_station.gui.operator.station_bridge import StationBridge

    plant.migrate()
    monkeypatch.setenv(DATABASE_PASSWORD_ENV, "not-the-password")
    settings = plant.settings(mqtt_url="")
    bridge = StationBridge()
    station = Station(settings, previews=True)
    route = ErrorRoute()
    window = MainWindow(station, bridge, settings, error_route=route)
    qtbot.addWidget(window)
    window.show()
    line = LineRunner(station, window, route)
    line.prepare(settings)
    try:
        start_station(station, route, line)
        qtbot.waitUntil(lambda: window.plant_label.isVisible(), timeout=int(WAIT_S * 1000))
        assert window.plant_label.text() == SENDER_DOWN
        assert "DOWN: postgresql://station@127.0.0.1" in window.plant_label.toolTip()
        assert "the database refused the credentials" in window.plant_label.toolTip()
        qtbot.waitUntil(lambda: any("refused the credentials" in t for t in window.warnings.texts()),
                        timeout=int(WAIT_S * 1000))
        assert "plant postgresql down" in window.message_label.text()
        qtbot.waitUntil(lambda: window.banner.state == "READY", timeout=int(WAIT_S * 1000))
        window.inspect_button.click()
        qtbot.waitUntil(lambda: window.banner.state == "OK", timeout=int(WAIT_S * 1000))
        qtbot.waitUntil(lambda: "1 row(s) queued" in window.plant_label.toolTip(), timeout=5000)
    finally:
        line.stop()
        station.stop()
    assert not window.plant_label.isVisible()  # no plant results any more: nothing to warn about


def test_the_database_over_tls_verified_and_a_wrong_ca_refused(plant):
    plant.migrate()
    other_ca = plant.broker.other_ca  # a CA that did not sign the database's certificate
    wrong = Running(plant.settings(mqtt_url="", database_url=f"{plant.url}?sslmode=verify-full&sslrootcert={other_ca}"))
    try:
        wrong.cycle()
        wait_until(lambda: wrong.problems, "the TLS refusal")
    finally:
        wrong.stop()
    assert "TLS failed" in wrong.problems[0] and "certificate verify failed" in wrong.problems[0]
    right = Running(plant.settings(mqtt_url="", database_url=f"{plant.url}?sslmode=verify-full&sslrootcert={plant.pg.ca}"))
    try:
        right.cycle()
        wait_until(lambda: plant.db_count() == 2, "both rows, over TLS")
        db = plant.url.rsplit("/", 1)[1]
        ssl = plant.pg.admin("SELECT s.ssl FROM pg_stat_ssl s JOIN pg_stat_activity a USING (pid) "
                             "WHERE a.application_name = %s", f"inspection-station {plant.name}", dbname=db)
        assert ssl == [(True,)]
    finally:
        right.stop()
    assert right.problems == []
