"""`serve` and `run --headless` as services: a log file, and SIGTERM/SIGINT finishing the
running cycle and its row (a real process, a real signal, a model slow enough that the
signal lands inside a cycle)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import httpx
import pytest

from inspection_station.core.results.csv_log import read_log
from inspection_station.core.settings.model import save_settings
from tests.known_station import CLASS_NAMES, MODEL_OUTPUT, station_settings
from tests.onnx_models import slow_constant_model
from tests.test_monitoring import Lines

ROOT = Path(__file__).resolve().parents[1]
WAIT_S = 60.0

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="POSIX signals")


def slow_config(tmp_path: Path) -> Path:
    model = slow_constant_model(tmp_path / "slow.onnx", MODEL_OUTPUT, layers=10, names=CLASS_NAMES)
    settings = station_settings(tmp_path).replace("model", path=str(model)).replace("camera", grab_timeout_ms=15000)
    config = tmp_path / "settings.toml"
    save_settings(settings, config)
    return config


def rows(tmp_path: Path) -> list[dict[str, str]]:
    return [row for path in sorted((tmp_path / "log").glob("*.csv")) for row in read_log(path)]


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
def test_run_headless_finishes_the_running_cycle_on_a_signal(tmp_path, sig):
    config = slow_config(tmp_path)
    proc = subprocess.Popen(
        [sys.executable, "-m", "inspection_station", "run", "--headless", "--config", str(config)],
        stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, env={**os.environ, "PYTHONPATH": str(ROOT)},
    )
    out = Lines(proc.stdout)
    try:
        out.wait_for(r"^#2 ")  # cycles run back to back: the signal lands inside one
        proc.send_signal(sig)
        code = proc.wait(WAIT_S)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(30)
    time.sleep(0.2)  # the reader thread takes the last lines
    printed = [line.split()[1] for line in out.lines if line.startswith("#")]
    assert code == 0
    assert [r["cycle_id"] for r in rows(tmp_path)] == printed  # the cycle under way got its row
    assert all(r["verdict"] == "OK" for r in rows(tmp_path))


def test_serve_answers_the_request_in_flight_then_stops_on_sigterm_and_logs_to_its_file(tmp_path):
    config = slow_config(tmp_path)
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    proc = subprocess.Popen(
        [sys.executable, "-m", "inspection_station", "serve", "--config", str(config), "--api", "0"],
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, env=env,
    )
    lines = Lines(proc.stderr)
    answer: dict = {}
    try:
        url = lines.wait_for(r"api: (http://127\.0\.0\.1:\d+)").group(1)
        log_file = Path(lines.wait_for(r"log file: (.+)$").group(1))
        deadline = time.monotonic() + WAIT_S
        while not httpx.get(url + "/health", timeout=WAIT_S).json()["ready"]:
            assert time.monotonic() < deadline
            time.sleep(0.05)
        request = threading.Thread(target=lambda: answer.update(r=httpx.post(url + "/inspect", timeout=WAIT_S)))
        request.start()
        while not httpx.get(url + "/health", timeout=WAIT_S).json()["busy"]:
            assert time.monotonic() < deadline and request.is_alive()
            time.sleep(0.01)
        proc.send_signal(signal.SIGTERM)  # mid-cycle
        request.join(WAIT_S)
        code = proc.wait(WAIT_S)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(30)
    assert code == 0
    assert answer["r"].status_code == 200 and answer["r"].json()["verdict"] == "OK"
    assert [r["cycle_id"] for r in rows(tmp_path)] == [answer["r"].json()["cycle_id"]]
    text = log_file.read_text(encoding="utf-8")
    assert "api: http://127.0.0.1:" in text and "[model] ready" in text


def test_serve_tls_flags_serve_https_with_the_certificate(tmp_path):
    import ssl

    from tests.line_clients import self_signed_certificate

    cert, key = self_signed_certificate(tmp_path)
    settings = station_settings(tmp_path)
    config = tmp_path / "settings.toml"
    save_settings(settings, config)
    proc = subprocess.Popen(
        [sys.executable, "-m", "inspection_station", "serve", "--config", str(config), "--api", "0",
         "--tls-cert", str(cert), "--tls-key", str(key)],
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, env={**os.environ, "PYTHONPATH": str(ROOT)},
    )
    lines = Lines(proc.stderr)
    try:
        url = lines.wait_for(r"api: (https://127\.0\.0\.1:\d+)").group(1)
        trust = ssl.create_default_context(cafile=str(cert))
        health = httpx.get(url + "/health", verify=trust, timeout=WAIT_S).json()
        assert health["transport"]["tls"] is True
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(WAIT_S) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(30)
