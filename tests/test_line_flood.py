"""1,100 idle connections against `inspection-station serve` running under a 1024-descriptor
limit, while its station cycles: no cycle may fail for want of a descriptor.

Before the bounded server this left the camera with "Too many open files" (every cycle ERROR)
and 36 MB of accept tracebacks on stderr in 30 s."""

from __future__ import annotations

import contextlib
import os
import select
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import httpx
import pytest

from inspection_station.core.results.csv_log import read_log
from inspection_station.core.settings.model import save_settings
from tests.known_station import station_settings
from tests.test_monitoring import Lines

ROOT = Path(__file__).resolve().parents[1]
WAIT_S = 60.0
FLOOD = 1100
CYCLES = 30

resource = pytest.importorskip("resource", reason="descriptor limits are POSIX's")


def _own_limit_at_least(n: int) -> None:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < n:
        resource.setrlimit(resource.RLIMIT_NOFILE, (min(hard, n), hard))


@pytest.mark.slow
def test_1100_idle_connections_under_ulimit_1024_cost_no_cycle(tmp_path):
    _own_limit_at_least(FLOOD + 400)  # the flooding client itself needs the descriptors
    settings = (station_settings(tmp_path, name="line-7")
                .replace("camera", grab_timeout_ms=15000)
                .replace("line", header_timeout_s=5.0, keep_alive_s=30.0))
    config = tmp_path / "settings.toml"
    save_settings(settings, config)
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    command = [sys.executable, "-m", "inspection_station", "serve", "--config", str(config), "--api", "0"]
    proc = subprocess.Popen(  # soft = hard = 1024: the station cannot raise its own limit
        ["bash", "-c", 'ulimit -Sn 1024 && ulimit -Hn 1024 && exec "$@"', "serve", *command],
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, env=env,
    )
    lines = Lines(proc.stderr)
    flood: list[socket.socket] = []
    try:
        url = lines.wait_for(r"api: (http://127\.0\.0\.1:\d+)").group(1)
        port = int(url.rsplit(":", 1)[1])
        client = httpx.Client(base_url=url, timeout=WAIT_S)  # one kept-alive connection, opened first
        deadline = time.monotonic() + WAIT_S
        while not client.get("/health").json()["ready"]:
            assert time.monotonic() < deadline
            time.sleep(0.05)

        stop = threading.Event()
        reopened = [0]

        def keep_flooding() -> None:
            """Hold FLOOD idle connections; reopen each one the server closes (poll: > 1024 fds)."""
            while len(flood) < FLOOD and not stop.is_set():
                flood.append(_idle(port))
            while not stop.is_set():
                poller = select.poll()
                by_fd = {sock.fileno(): n for n, sock in enumerate(flood)}
                for fd in by_fd:
                    poller.register(fd, select.POLLIN)
                for fd, _event in poller.poll(200):
                    n = by_fd[fd]
                    flood[n].close()
                    flood[n] = _idle(port)
                    reopened[0] += 1
                time.sleep(0.05)

        flooder = threading.Thread(target=keep_flooding, daemon=True)
        flooder.start()
        while len(flood) < FLOOD:
            assert time.monotonic() < deadline + WAIT_S
            time.sleep(0.05)
        verdicts = [client.post("/inspect").json()["verdict"] for _ in range(CYCLES)]  # while flooded
        refused = client.get("/metrics").text
        stop.set()
        flooder.join(WAIT_S)
        client.close()
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(WAIT_S) == 0
    finally:
        for sock in flood:
            sock.close()
        if proc.poll() is None:
            proc.kill()
            proc.wait(30)
    assert verdicts == ["OK"] * CYCLES
    rows = [row for path in sorted((tmp_path / "log").glob("*.csv")) for row in read_log(path)]
    assert [r["verdict"] for r in rows] == ["OK"] * CYCLES  # no ERROR row at all
    assert 'reason="over_capacity",station="line-7"}' in refused
    stderr = "\n".join(lines.lines)
    assert "Too many open files" not in stderr and "Traceback" not in stderr
    assert len(stderr) < 20_000, stderr[-2000:]


def _idle(port: int) -> socket.socket:
    """A connection that never sends a byte (connect bounded: the kernel queue may be full)."""
    sock = socket.socket()
    sock.settimeout(5)
    with contextlib.suppress(OSError):  # refused or timed out: a flood's client does not care
        sock.connect(("127.0.0.1", port))
    sock.setblocking(False)
    return sock
