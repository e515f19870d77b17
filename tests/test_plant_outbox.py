"""The plant outbox on its own (no servers): durable, in order, bounded, losses counted and named."""

from __future__ import annotations

import os
import sqlite3
import stat
import subprocess
import sys
import time
from pathlib import Path

import pytest

from inspection_station.core.errors import ConfigError
from inspection_station.core.line.plant.credentials import (
    check_database_url,
    parse_mqtt_url,
    read_credentials,
    redact,
    secret,
)
from inspection_station.core.line.plant.mqtt import result_payload, topics
from inspection_station.core.line.plant.outbox import Outbox, csv_fields, peek
from inspection_station.core.line.plant.rows import csv_text, plant_record
from inspection_station.core.line.plant.service import LOW_BUFFER, PlantService
from inspection_station.core.results.csv_log import LOG_COLUMNS, read_log
from inspection_station.core.results.row_taps import add_row_tap, row_written
from inspection_station.core.settings.model import PlantSettings, load_settings


def row(n: int, **extra) -> dict[str, str]:
    base = {c: "" for c in LOG_COLUMNS}
    base.update(timestamp=f"2026-05-20T10:00:{n % 60:02d}.000+02:00", cycle_id=f"c{n:05d}", station="s",
                verdict="OK", detections="[[0,0.9,1.0,2.0,3.0,4.0]]", cycle_ms="12.34", filled="2", expected="2")
    base.update(extra)
    return base


def test_rows_come_out_in_order_and_leave_only_when_every_sender_confirmed(tmp_path):
    box = Outbox(tmp_path / "o.sqlite3", ["a", "b"])
    for n in range(5):
        box.put(row(n))
    got_a = box.fetch("a", 3)
    assert [r.cycle_id for r in got_a] == ["c00000", "c00001", "c00002"]
    box.confirm("a", got_a)
    assert box.depth == 5  # b has not sent any
    box.confirm("b", box.fetch("b", 10))
    assert box.depth == 2 and [r.cycle_id for r in box.fetch("a", 10)] == ["c00003", "c00004"]
    assert {c.sender: (c.behind, c.sent) for c in box.state().cursors} == {"a": (2, 3), "b": (0, 5)}
    box.close()


def test_a_queued_row_survives_a_kill_9_of_the_process(tmp_path):
    """put() returns after the fsync: a process killed right after it leaves the row on disk."""
    path = tmp_path / "o.sqlite3"
    code = (
        "import os, sys; sys.path.insert(0, sys.argv[2]);"
        "from inspection_station.core.line.plant.outbox import Outbox;"
        "from tests.test_plant_outbox import row;"
        "box = Outbox(sys.argv[1], ['db']);"
        "[box.put(row(n)) for n in range(20)];"
        "box.confirm('db', box.fetch('db', 5));"
        "os.kill(os.getpid(), 9)"
    )
    out = subprocess.run([sys.executable, "-c", code, str(path), str(Path(__file__).parents[1])], timeout=60)
    assert out.returncode == -9
    box = Outbox(path, ["db"])
    assert [r.cycle_id for r in box.fetch("db", 100)] == [f"c{n:05d}" for n in range(5, 20)]
    box.close()


def test_overflow_drops_the_oldest_counts_and_names_the_loss(tmp_path):
    said: list[str] = []
    box = Outbox(tmp_path / "o.sqlite3", ["postgresql", "mqtt"], max_rows=10, on_loss=said.append)
    for n in range(10):
        box.put(row(n))
    box.confirm("mqtt", box.fetch("mqtt", 4))  # mqtt sent 4; postgresql none
    for n in range(10, 13):
        box.put(row(n))
    assert box.depth == 10
    assert [r.cycle_id for r in box.fetch("postgresql", 100)][0] == "c00003"
    lost = {c.sender: c.lost for c in box.state().cursors}
    assert lost == {"postgresql": 3, "mqtt": 0}  # mqtt had sent the 3 dropped rows already
    box.close()  # says what is still pending
    # the first loss at once, the rest of the burst at most every 10 s (here: at close)
    assert said == [
        "plant outbox full (10 rows): 1 row(s) dropped before postgresql sent them "
        "(cycles c00000 .. c00000); they stay in the station's CSV log",
        "plant outbox full (10 rows): 2 row(s) dropped before postgresql sent them "
        "(cycles c00001 .. c00002); they stay in the station's CSV log",
    ]
    state, losses = peek(tmp_path / "o.sqlite3")
    assert [(x.sender, x.rows, x.first_cycle, x.last_cycle, x.reason) for x in losses] == [
        ("postgresql", 3, "c00000", "c00002", "full")]
    assert {c.sender: c.lost for c in state.cursors} == lost


def test_rows_older_than_the_age_bound_are_dropped_and_counted(tmp_path):
    said: list[str] = []
    box = Outbox(tmp_path / "o.sqlite3", ["db"], max_age_s=0.3, on_loss=said.append)
    box.put(row(1))
    box.put(row(2))
    time.sleep(0.35)
    box._last_expiry = 0.0  # noqa: SLF001 - the once-a-second check, made due now
    box.wait("db", 0.01)
    assert box.depth == 0
    assert {c.sender: c.lost for c in box.state().cursors} == {"db": 2}
    box.close()
    assert said and "rows older than" in said[0] and "(cycles c00001 .. c00002)" in said[0]


def test_low_buffer_warning_from_the_fill_share(tmp_path):
    settings = PlantSettings(mqtt_url="mqtt://127.0.0.1:1", outbox_dir=str(tmp_path), outbox_max_rows=10,
                             low_buffer_fraction=0.5)
    service = PlantService(settings, "s1").open()
    try:
        for n in range(4):
            row_written("s1", row(n))
        assert service.status().warnings == ()  # 4 of 10; no sender has failed yet (none started)
        row_written("s1", row(5))
        assert service.status().warnings == (LOW_BUFFER,)
        assert "outbox: 5 row(s) queued (max 10)" in service.status().lines()[0]
    finally:
        service.stop()
    row_written("s1", row(6))  # stopped: the tap is gone, nothing queued, nothing raised


def test_a_sender_no_longer_configured_holds_no_rows(tmp_path):
    path = tmp_path / "o.sqlite3"
    box = Outbox(path, ["postgresql", "mqtt"])
    for n in range(3):
        box.put(row(n))
    box.confirm("postgresql", box.fetch("postgresql", 10))
    box.close()
    box = Outbox(path, ["postgresql"])  # MQTT switched off
    assert box.depth == 0
    box.close()
    box = Outbox(path, ["postgresql", "mqtt"])  # a new sender starts at the rows still queued
    box.put(row(9))
    assert [r.cycle_id for r in box.fetch("mqtt", 10)] == ["c00009"]
    box.close()


def test_a_damaged_outbox_is_kept_aside_and_a_new_one_started(tmp_path):
    path = tmp_path / "o.sqlite3"
    path.write_bytes(b"this is no database" * 100)
    said: list[str] = []
    box = Outbox(path, ["db"], on_loss=said.append)
    box.put(row(1))
    assert box.depth == 1
    box.close()
    assert len(list(tmp_path.glob("o.sqlite3.damaged-*"))) == 1
    assert said and "could not be read" in said[0] and "they are in the CSV log" in said[0]


def test_the_queued_row_is_the_csv_row_byte_for_byte(tmp_path):
    """Line breaks and quotes as the CSV writer stores them: the plant gets what the CSV says."""
    from inspection_station.core.results.csv_log import ResultsLog

    tricky = row(1, error="camera: line one\nline two", note='say "hi", then go', part_id="=1+2")
    log = ResultsLog(tmp_path / "log", station="s")
    log.write(tricky, __import__("datetime").date(2026, 5, 20))
    log.close()
    (written,) = read_log(next((tmp_path / "log").glob("*.csv")))
    assert csv_fields(tricky) == written
    record = plant_record(written, "line-1", "http://st:8080")
    assert record["filled"] == 2 and record["cycle_ms"] == 12.34 and record["detections"] == [[0, 0.9, 1.0, 2.0, 3.0, 4.0]]
    assert record["image_url"] == ""  # no image archived: no URL
    assert csv_text(record) == written


def test_row_taps_per_station_and_a_failing_tap_never_reaches_the_cycle(caplog):
    got: list[str] = []
    remove = add_row_tap("a", lambda r: got.append(r["cycle_id"]))
    remove_bad = add_row_tap("a", lambda r: 1 / 0)
    try:
        row_written("a", row(1))
        row_written("b", row(2))
    finally:
        remove()
        remove_bad()
    row_written("a", row(3))
    assert got == ["c00001"]
    assert "results row tap failed for station 'a'" in caplog.text


# --- settings and secrets -----------------------------------------------------------------------------


@pytest.mark.parametrize("url, expected", [
    ("postgresql://u:pw@db/q", "a password in the settings is refused"),
    ("postgresql://u@db/q?password=pw", "a password in the settings is refused"),
    ("postgresql://u@db/q?sslmode=sometimes", "sslmode 'sometimes': expected one of disable"),
    ("mysql://u@db/q", "expected postgresql://USER@HOST[:PORT]/DATABASE"),
])
def test_database_urls_refused_with_the_reason(url, expected):
    with pytest.raises(ConfigError, match=expected.replace("[", r"\[").replace("?", r"\?")):
        check_database_url(url)
    assert "pw" not in redact("postgresql://u:pw@db/q")


def test_mqtt_urls():
    assert str(parse_mqtt_url("mqtts://station@broker")) == "mqtts://station@broker:8883"
    assert parse_mqtt_url("mqtt://b:1884").port == 1884
    with pytest.raises(ConfigError, match="a password in the settings is refused"):
        parse_mqtt_url("mqtt://u:pw@b")
    with pytest.raises(ConfigError, match=r"expected mqtt://\[USER@\]HOST"):
        parse_mqtt_url("http://b")
    assert topics("inspection", "line 3/a", "st#1") == ("inspection/line 3_a/st_1/result", "inspection/line 3_a/st_1/state")


def test_the_credentials_file_must_be_the_users_own(tmp_path):
    path = tmp_path / "plant_credentials.toml"
    path.write_text('database_password = "pw1"\nmqtt_password = "pw2"\n')
    os.chmod(path, 0o644)
    with pytest.raises(ConfigError, match=r"readable by others \(mode 0644\); refused: run chmod 600"):
        read_credentials(path)
    os.chmod(path, 0o600)
    assert secret("database_password", "X_ENV", str(path), env={}) == "pw1"
    assert secret("database_password", "X_ENV", str(path), env={"X_ENV": "from-env"}) == "from-env"
    path.write_text('database_pasword = "typo"\n')
    with pytest.raises(ConfigError, match="unknown key 'database_pasword'"):
        read_credentials(path)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    with pytest.raises(ConfigError, match="readable by others"):  # refused when the station starts, too
        os.chmod(path, 0o640)
        PlantService(PlantSettings(mqtt_url="mqtt://b", credentials_file=str(path)), "s")


def test_password_variables_are_not_settings(monkeypatch):
    monkeypatch.setenv("INSPECTION_STATION_PLANT_DATABASE_PASSWORD", "pw")
    monkeypatch.setenv("INSPECTION_STATION_PLANT_LINE", "line-9")
    loaded = load_settings()
    assert loaded.settings.plant.line == "line-9"
    assert not any("PASSWORD" in w for w in loaded.warnings)
    assert "pw" not in str(loaded.settings.to_dict())


def test_mqtt_payload_is_the_typed_row_with_its_key():
    import json

    data = json.loads(result_payload(row(1, image_path="/img/c00001_NOK.jpg"), "line-1", "http://st:8080/"))
    assert data["idempotency_key"] == "c00001" and data["kind"] == "cycle"
    assert data["image_url"] == "http://st:8080/results/c00001/image"
    assert data["cycle_ms"] == 12.34 and data["variant"] == ""
    assert json.loads(result_payload(row(2, overrules="c00001"), "l"))["kind"] == "correction"


def test_sqlite_is_in_wal_mode_with_full_sync(tmp_path):
    box = Outbox(tmp_path / "o.sqlite3", ["db"])
    box.close()
    db = sqlite3.connect(tmp_path / "o.sqlite3")
    assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    db.close()


def test_the_outbox_on_metrics_and_the_dashboards_prometheus_panel(tmp_path):
    import json

    from inspection_station.core.line.metrics import StationMetrics, metric_names
    from inspection_station.core.line.plant.service import PlantCollector

    service = PlantService(PlantSettings(mqtt_url="mqtt://127.0.0.1:1", outbox_dir=str(tmp_path)), "s1").open()
    metrics = StationMetrics("s1")
    metrics.registry.register(PlantCollector("s1", service))
    try:
        row_written("s1", row(1))
        text = metrics.exposition().decode()
        names = metric_names(metrics)
    finally:
        service.stop(drain_s=0)
    assert 'inspection_station_plant_queue_depth{station="s1"} 1.0' in text
    assert 'inspection_station_plant_sender_up{sender="mqtt",station="s1"} 0.0' in text
    assert 'inspection_station_plant_rows_lost_total{sender="mqtt",station="s1"} 0.0' in text
    dashboard = Path(__file__).parents[1] / "monitoring/grafana/dashboards/inspection_station_results.json"
    exprs = [t["expr"] for p in json.loads(dashboard.read_text())["panels"] for t in p["targets"] if "expr" in t]
    assert exprs == ["inspection_station_plant_queue_depth"] and set(exprs) <= names


def test_special_files_are_refused_never_opened(tmp_path):
    """A FIFO where the outbox, the credentials file or a certificate should be: refused by name."""
    for name in ("st_outbox.sqlite3", "creds.toml", "ca.pem"):
        os.mkfifo(tmp_path / name)
    with pytest.raises(ConfigError, match=r"st_outbox\.sqlite3: is a FIFO \(named pipe\), not a plant outbox file"):
        PlantService(PlantSettings(mqtt_url="mqtt://b", outbox_dir=str(tmp_path)), "st").open()
    with pytest.raises(ConfigError, match=r"creds\.toml: is a FIFO \(named pipe\), not a plant credentials file"):
        PlantService(PlantSettings(mqtt_url="mqtt://b", credentials_file=str(tmp_path / "creds.toml")), "st")
    with pytest.raises(ConfigError, match=r"ca\.pem: is a FIFO \(named pipe\), not a \[plant\] mqtt_ca_file file"):
        PlantService(PlantSettings(mqtt_url="mqtts://b", mqtt_ca_file=str(tmp_path / "ca.pem")), "st")


def test_a_row_the_disk_refused_reaches_the_plant_as_the_error_row_the_csv_keeps(tmp_path):
    from datetime import datetime

    from inspection_station.core.cycle import CycleResult, Verdict
    from inspection_station.core.results.recorder import ResultsRecorder
    from inspection_station.core.settings.model import ResultsSettings
    from tests.refusals import read_only_folder

    logs = tmp_path / "log"
    logs.mkdir()
    service = PlantService(PlantSettings(mqtt_url="mqtt://127.0.0.1:1", outbox_dir=str(tmp_path / "o")), "st").open()
    recorder = ResultsRecorder(ResultsSettings(log_dir=str(logs), image_dir=str(tmp_path / "img"), archive="none"),
                               "st", seed_statistics=False)
    try:
        with read_only_folder(logs):
            recorded = recorder.record(CycleResult("c1", datetime.now().astimezone(), Verdict.OK, "p"))
            (queued,) = service.outbox.fetch("mqtt", 10)
        assert recorded.verdict is Verdict.ERROR
        assert queued.fields["verdict"] == "ERROR" and queued.fields["error"] == recorded.error
    finally:
        service.stop(drain_s=0)
        recorder.close()
    assert [r["verdict"] for r in read_log(next(logs.glob("*.csv")))] == ["ERROR"]  # written on close
