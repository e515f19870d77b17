"""Plant monitoring: the exporter's metrics, the Grafana dashboard's PromQL, and a real
Prometheus server scraping a running headless station (`serve`)."""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import httpx
import pytest

from inspection_station.core.cycle import Verdict
from inspection_station.core.line.metrics import StationMetrics, metric_names
from inspection_station.core.line.services import LineServices
from inspection_station.core.results.csv_log import read_log
from inspection_station.core.station import Station
from tests.known_station import station_settings

ROOT = Path(__file__).resolve().parents[1]
DASHBOARD = ROOT / "monitoring" / "grafana" / "dashboards" / "inspection_station.json"
PROMETHEUS = shutil.which("prometheus")
PROMTOOL = shutil.which("promtool")
WAIT_S = 90.0

PROMQL_WORDS = {"by", "without", "and", "or", "unless", "bool", "offset", "on", "ignoring",
                "group_left", "group_right", "inf", "nan"}


def promql_metric_names(expr: str) -> set[str]:
    """The metric names a PromQL expression selects (not functions, labels or keywords)."""
    text = re.sub(r'"(?:[^"\\]|\\.)*"', '""', expr)  # string literals
    text = re.sub(r"\{[^}]*\}", "", text)  # label matchers
    text = re.sub(r"\[[^\]]*\]", "", text)  # range selectors
    text = re.sub(r"\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)", " ", text)
    text = re.sub(r"\$\{?\w+\}?", " ", text)  # Grafana variables
    names = set()
    for match in re.finditer(r"[A-Za-z_:][A-Za-z0-9_:]*", text):
        rest = text[match.end():].lstrip()
        if rest.startswith("("):
            continue  # a function or aggregation
        if match.group() not in PROMQL_WORDS:
            names.add(match.group())
    return names


def dashboard_queries() -> list[str]:
    dash = json.loads(DASHBOARD.read_text())
    exprs = [t["expr"] for p in dash["panels"] for t in p.get("targets", [])]
    for var in dash["templating"]["list"]:
        if var["type"] == "query":
            query = var["query"]["query"] if isinstance(var["query"], dict) else var["query"]
            exprs.append(re.sub(r"^label_values\((.*),\s*\w+\)$", r"\1", query))
    return exprs


def test_promql_name_extraction():
    assert promql_metric_names(
        'histogram_quantile(0.95, sum by (station, le) (rate(a_bucket{station=~"$station"}[5m]))) / b_total'
    ) == {"a_bucket", "b_total"}


@pytest.fixture
def served_names(tmp_path) -> set[str]:
    """The names a real station serves after OK, NOK and refused cycles and an overrule."""
    settings = station_settings(tmp_path)
    station = Station(settings)
    services = LineServices(station, settings.line, metrics_bind=("127.0.0.1", 0))
    with station:
        assert station.wait_ready(WAIT_S)
        services.start()
        try:
            ok = station.run_cycle("test")
            station.select_pattern_set("product_nok")
            assert station.run_cycle("test").verdict is Verdict.NOK
            station.overrule(ok.cycle_id, Verdict.NOK, "scratch")
            text = httpx.get(services.metrics_server.url + "/metrics").text
            names = metric_names(services.metrics)
        finally:
            services.stop()
    assert 'inspection_station_overrules_total{station="station-1",verdict="NOK"} 1.0' in text
    assert 'inspection_station_nok_missing_slots_total{pattern_set="product_nok",slot="screw_right",station="station-1"} 1.0' in text
    assert 'inspection_station_model_info{file="constant.onnx",provider="CPUExecutionProvider",sha256="' in text
    assert 'inspection_station_camera_state{state="emulated",station="station-1"} 1.0' in text
    return names


def test_every_dashboard_query_names_a_served_metric(served_names):
    queries = dashboard_queries()
    assert len(queries) >= 14
    used = set().union(*(promql_metric_names(q) for q in queries))
    assert used, "no metric found in the dashboard"
    assert used <= served_names, f"not served: {sorted(used - served_names)}"
    panels = {p["title"] for p in json.loads(DASHBOARD.read_text())["panels"]}
    for wanted in ("Yield per station", "Cycle time p50 / p95", "NOK by missing slot", "Refused triggers",
                   "Camera reconnects", "Error rate"):
        assert wanted in panels


def test_metric_names_follow_the_contract():
    names = metric_names(StationMetrics("s"))
    assert "inspection_station_cycles_total" in names
    assert all(n.startswith("inspection_station_") for n in names)


def test_shipped_prometheus_config_is_valid():
    assert PROMTOOL, "promtool comes with Debian's prometheus package (.ci/run installs it)"
    out = subprocess.run([PROMTOOL, "check", "config", str(ROOT / "monitoring/prometheus/prometheus.yml")],
                         capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stdout + out.stderr


# --- a real Prometheus scraping `inspection-station serve` ---------------------------------


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Lines:
    """Collects a process's stderr lines on a thread, so waits stay bounded."""

    def __init__(self, stream) -> None:
        self.lines: list[str] = []
        self._thread = threading.Thread(target=self._read, args=(stream,), daemon=True)
        self._thread.start()

    def _read(self, stream) -> None:
        for line in stream:
            self.lines.append(line.rstrip("\n"))

    def wait_for(self, pattern: str) -> re.Match:
        deadline = time.monotonic() + WAIT_S
        while time.monotonic() < deadline:
            for line in list(self.lines):
                if m := re.search(pattern, line):
                    return m
            time.sleep(0.05)
        raise AssertionError(f"no line matching {pattern!r} in:\n" + "\n".join(self.lines))


@pytest.fixture
def serve(tmp_path):
    """`inspection-station serve --api 0 --metrics 0` on a settings file of its own."""
    # a generous grab timeout: on a loaded CI machine a late frame must not become an ERROR cycle
    settings = station_settings(tmp_path, name="line-7").replace("camera", grab_timeout_ms=15000)
    config = tmp_path / "settings.toml"
    from inspection_station.core.settings.model import save_settings

    save_settings(settings, config)
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    proc = subprocess.Popen(
        [sys.executable, "-m", "inspection_station", "serve", "--config", str(config), "--api", "0",
         "--metrics", "127.0.0.1:0"],
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, env=env,
    )
    lines = Lines(proc.stderr)
    try:
        api = lines.wait_for(r"api: (http://127\.0\.0\.1:\d+)").group(1)
        metrics = lines.wait_for(r"metrics: (http://127\.0\.0\.1:(\d+))/metrics")
        yield proc, api, int(metrics.group(2)), tmp_path / "log", lines
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(30)


def test_serve_stops_cleanly_on_sigterm(serve):
    proc, api, _, _, lines = serve
    assert httpx.get(api + "/health", timeout=WAIT_S).status_code == 200
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(WAIT_S) == 0
    with pytest.raises(httpx.ConnectError):
        httpx.get(api + "/health", timeout=5)


def test_serve_refuses_a_lan_bind_without_tokens(tmp_path):
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    out = subprocess.run(
        [sys.executable, "-m", "inspection_station", "serve", "--demo", "--api", "0.0.0.0:0"],
        capture_output=True, text=True, env=env, timeout=WAIT_S,
    )
    assert out.returncode == 2
    assert "[line] API on 0.0.0.0:0: binding 0.0.0.0 (not loopback) needs bearer tokens" in out.stderr


def test_prometheus_counters_equal_the_csv_rows(serve, tmp_path):
    assert PROMETHEUS, "Debian's prometheus package is needed (.ci/run installs it)"
    proc, api, metrics_port, log_dir, _ = serve
    client = httpx.Client(base_url=api, timeout=WAIT_S)
    deadline = time.monotonic() + WAIT_S
    while not client.get("/health").json()["ready"]:
        assert time.monotonic() < deadline, "the station never became ready"
        time.sleep(0.05)
    cycles = []
    for product in ("product_ok", "product_nok", "product_ok"):
        assert client.put("/product", json={"pattern_set": product}).status_code == 200
        for _ in range(2):
            cycles.append(client.post("/inspect").json())
    assert [c["verdict"] for c in cycles] == ["OK", "OK", "NOK", "NOK", "OK", "OK"], [c["error"] for c in cycles]

    prom_port = free_port()
    config = tmp_path / "prometheus.yml"
    config.write_text(
        "global:\n  scrape_interval: 1s\n"
        "scrape_configs:\n  - job_name: inspection-station\n    static_configs:\n"
        f"      - targets: ['127.0.0.1:{metrics_port}']\n"
    )
    prom = subprocess.Popen(
        [PROMETHEUS, f"--config.file={config}", f"--storage.tsdb.path={tmp_path / 'tsdb'}",
         f"--web.listen-address=127.0.0.1:{prom_port}"],
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
    )
    prom_lines = Lines(prom.stderr)
    try:
        rows = [r for f in sorted(log_dir.glob("line-7_*.csv")) for r in read_log(f)]
        expected = {v: sum(r["verdict"] == v for r in rows) for v in ("OK", "NOK", "ERROR")}
        assert expected == {"OK": 4, "NOK": 2, "ERROR": 0}
        url = f"http://127.0.0.1:{prom_port}/api/v1/query"
        seen: dict[str, float] = {}
        deadline = time.monotonic() + WAIT_S
        while time.monotonic() < deadline:
            try:
                response = httpx.get(url, params={"query": "inspection_station_cycles_total"}, timeout=10)
                # 503 "Service Unavailable" (plain text) until Prometheus has opened its storage
                reply = response.json() if response.status_code == 200 else {}
            except httpx.HTTPError:
                reply = {}
            seen = {r["metric"]["verdict"]: float(r["value"][1]) for r in reply.get("data", {}).get("result", [])}
            if seen and all(r["metric"]["station"] == "line-7" for r in reply["data"]["result"]):
                break
            time.sleep(0.2)
        assert seen == {v: float(n) for v, n in expected.items()}, "\n".join(prom_lines.lines[-20:])
        yield_q = httpx.get(url, params={"query": 'sum(inspection_station_cycles_total{verdict="OK"})'
                                         ' / sum(inspection_station_cycles_total{verdict=~"OK|NOK"})'}).json()
        assert float(yield_q["data"]["result"][0]["value"][1]) == pytest.approx(4 / 6)
        # every dashboard query is valid PromQL for this Prometheus, Grafana's variables filled in
        for expr in dashboard_queries():
            promql = expr.replace("$__range", "5m").replace("$station", ".*")
            reply = httpx.get(url, params={"query": promql}, timeout=10).json()
            assert reply["status"] == "success", (expr, reply)
    finally:
        prom.terminate()
        prom.wait(30)
