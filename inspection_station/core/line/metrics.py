"""Prometheus metrics of one station, for the plant's Prometheus + Grafana.

A `StationMetrics` is a station listener with a registry of its own (never the global
one), so several stations (and tests) live in one process. Every series carries the
`station` label. Names start with `inspection_station_` (issue 12's contract); the
Grafana dashboard in monitoring/ may only use names that `metric_names()` lists (checked
by tests/test_monitoring.py).

Per cycle this costs a few dict look-ups and lock-protected additions (see
benchmarks/line_overhead.py). Counters start at zero with the process, as Prometheus
expects; the CSV log stays the record of the day. No `_created` series: they double the
counters' series for a timestamp Prometheus does not need. The process's own figures (CPU,
RSS, open descriptors and their limit, start time) are `inspection_station_process_*`, read
where the platform exposes them (/proc: Linux).
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import prometheus_client
from prometheus_client import (
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    Info,
    ProcessCollector,
    generate_latest,
)
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from prometheus_client.registry import Collector

from inspection_station import __version__
from inspection_station.core.cycle import CycleResult, Verdict
from inspection_station.core.detect.session_cache import file_sha256
from inspection_station.core.errors import StationError
from inspection_station.core.listeners import StationListener
from inspection_station.core.results.statistics import STAGES

if TYPE_CHECKING:
    from inspection_station.core.results.recorder import ResultsRecorder

PREFIX = "inspection_station_"
CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
# Cycles take 10 ms .. a few s; stages 0.1 ms .. 1 s.
CYCLE_BUCKETS = (0.01, 0.02, 0.05, 0.075, 0.1, 0.15, 0.2, 0.3, 0.5, 0.75, 1.0, 2.0, 5.0, 10.0)
STAGE_BUCKETS = (0.0001, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5)
CAMERA_STATES = ("connecting", "connected", "emulated", "disconnected", "closed")
prometheus_client.disable_created_metrics()  # process-wide: no `_created` series from any registry


class _ProcessCollector(Collector):
    """prometheus_client's process figures, named and labelled as every station series."""

    def __init__(self, station: str) -> None:
        self._station = station
        self._source = ProcessCollector(registry=None)

    def collect(self) -> Iterator:
        for family in self._source.collect():
            name = PREFIX + family.name
            kind = CounterMetricFamily if family.type == "counter" else GaugeMetricFamily
            out = kind(name, family.documentation, labels=["station"])
            for sample in family.samples:
                out.add_metric([self._station], sample.value)
            yield out

    def describe(self) -> Iterator:
        return iter(())


class _ConnectionsCollector(Collector):
    """The API servers' connections (core/line/server.py's gate), read at scrape time."""

    def __init__(self, station: str, gate) -> None:
        self._station = station
        self._gate = gate

    def collect(self) -> Iterator:
        gate = self._gate
        for name, doc, value in (
            ("api_connections", "connections open to the API and metrics servers", gate.open),
            ("api_connections_limit", "connections they may hold together", gate.cap),
        ):
            family = GaugeMetricFamily(PREFIX + name, doc, labels=["station"])
            family.add_metric([self._station], value)
            yield family
        closed = CounterMetricFamily(PREFIX + "api_connections_closed",
                                     "connections refused or cut off, by reason", labels=["station", "reason"])
        for reason, value in sorted(gate.closed.items()):
            closed.add_metric([self._station, reason], value)
        yield closed
        errors = CounterMetricFamily(PREFIX + "api_accept_errors", "failed accepts (EMFILE, ...)", labels=["station"])
        errors.add_metric([self._station], gate.accept_errors.total)
        yield errors

    def describe(self) -> Iterator:
        return iter(())


class _RecorderCollector(Collector):
    """Counters the results recorder already keeps (images, log failures and recreations), read at scrape time."""

    def __init__(self, station: str, recorder: Callable[[], ResultsRecorder | None]) -> None:
        self._station = station
        self._recorder = recorder

    def collect(self) -> Iterator:
        rec = self._recorder()
        health = rec.health if rec is not None else None
        values = {
            "images_archived_total": ("images written to the archive", health.images_written if health else 0),
            "images_dropped_total": ("images dropped (archive queue full)", health.images_dropped if health else 0),
            "images_failed_total": ("images the archive could not write", health.images_failed if health else 0),
            "log_write_failures_total": (
                "failed attempts to write results rows (rows are kept and retried)",
                rec.log.write_failures if rec is not None else 0,
            ),
            "log_files_recreated_total": (
                "results log files started again after being deleted, moved or replaced while the station ran",
                rec.log.recreated if rec is not None else 0,
            ),
        }
        for name, (doc, value) in values.items():
            family = CounterMetricFamily(PREFIX + name.removesuffix("_total"), doc, labels=["station"])
            family.add_metric([self._station], value)
            yield family
        pending = GaugeMetricFamily(PREFIX + "log_rows_pending", "results rows waiting for the disk", labels=["station"])
        pending.add_metric([self._station], health.pending_rows if health else 0)
        yield pending

    def describe(self) -> Iterator:
        return iter(())  # collected at scrape time only; names are listed by metric_names()


class StationMetrics(StationListener):
    def __init__(
        self,
        station: str,
        *,
        registry: CollectorRegistry | None = None,
        recorder: Callable[[], ResultsRecorder | None] | None = None,
        ready: Callable[[], bool] | None = None,
    ) -> None:
        self.station = station
        self.registry = registry or CollectorRegistry(auto_describe=True)
        self._lock = threading.Lock()
        self._camera_state = ""
        self._ever_lost = False  # a connection after a loss is a reconnect, the first is not
        self._children: dict[tuple[int, tuple[str, ...]], object] = {}  # labelled series, by labels
        self._model_file = ""
        r, s = self.registry, ["station"]
        self.cycles = Counter(PREFIX + "cycles", "inspection cycles by verdict", [*s, "verdict"], registry=r)
        self.cycle_errors = Counter(
            PREFIX + "cycle_errors", "ERROR cycles by the stage that failed", [*s, "stage"], registry=r
        )
        self.cycle_seconds = Histogram(
            PREFIX + "cycle_duration_seconds", "trigger to recorded result", s, buckets=CYCLE_BUCKETS, registry=r
        )
        self.stage_seconds = Histogram(
            PREFIX + "stage_duration_seconds", "time per stage of a cycle (stages that ran)",
            [*s, "stage"], buckets=STAGE_BUCKETS, registry=r,
        )
        self.refused = Counter(
            PREFIX + "refused_triggers", "triggers refused because a cycle was running", [*s, "source"], registry=r
        )
        self.overrules = Counter(
            PREFIX + "overrules", "operator corrections by corrected verdict", [*s, "verdict"], registry=r
        )
        self.missing_slots = Counter(
            PREFIX + "nok_missing_slots", "unfilled slots of NOK cycles", [*s, "pattern_set", "slot"], registry=r
        )
        self.detections = Counter(PREFIX + "detections", "detections by class", [*s, "class_name"], registry=r)
        self.score_min = Gauge(
            PREFIX + "detection_score_min", "lowest score per class in the latest cycle", [*s, "class_name"], registry=r
        )
        self.score_max = Gauge(
            PREFIX + "detection_score_max", "highest score per class in the latest cycle", [*s, "class_name"], registry=r
        )
        self.camera_state = Gauge(PREFIX + "camera_state", "1 for the camera's current state", [*s, "state"], registry=r)
        self.camera_reconnects = Counter(
            PREFIX + "camera_reconnects", "camera connections after a loss", s, registry=r
        )
        self.model_info = Info(PREFIX + "model", "the model in use", s, registry=r)
        self.station_info = Info(PREFIX + "station", "the station's software", s, registry=r)
        self.station_info.labels(station).info({"version": __version__})
        self.api_requests = Counter(
            PREFIX + "api_requests", "HTTP API requests by route and status", [*s, "endpoint", "status"], registry=r
        )
        self.api_seconds = Histogram(
            PREFIX + "api_request_duration_seconds", "HTTP API time per request by route",
            [*s, "endpoint"], buckets=CYCLE_BUCKETS, registry=r,
        )
        self.uploads = Counter(
            PREFIX + "uploads", "verdicts on uploaded images (trigger \"upload\"; no station cycles)",
            [*s, "verdict"], registry=r,
        )
        self.ready = Gauge(PREFIX + "ready", "1 when the station can take a trigger", s, registry=r)
        self.ready.labels(station).set_function(lambda: 1.0 if ready is not None and ready() else 0.0)
        for verdict in Verdict:  # every verdict series exists from the start (rate() needs a zero)
            self.cycles.labels(station, verdict.value)
        self.refused.labels(station, "api")
        self.camera_reconnects.labels(station)
        for state in CAMERA_STATES:
            self.camera_state.labels(station, state).set(0)
        for verdict in Verdict:
            self.uploads.labels(station, verdict.value)
        if recorder is not None:
            self.registry.register(_RecorderCollector(station, recorder))
        self.registry.register(_ProcessCollector(station))

    def watch_connections(self, gate) -> None:
        """Export the API servers' connection counts (once, for the process's one gate)."""
        self.registry.register(_ConnectionsCollector(self.station, gate))

    # --- listener -------------------------------------------------------------------------

    def cycle_finished(self, result: CycleResult) -> None:
        st = self.station
        self._child(self.cycles, result.verdict.value).inc()
        t = result.times
        self._child(self.cycle_seconds).observe(t.total_ms / 1e3)
        for stage in STAGES:
            ms = getattr(t, f"{stage}_ms")
            if ms > 0:
                self._child(self.stage_seconds, stage).observe(ms / 1e3)
        if result.verdict is Verdict.ERROR:
            self.cycle_errors.labels(st, result.error.split(":", 1)[0] or "unknown").inc()
        elif result.verdict is Verdict.NOK and result.match is not None:
            for slot in result.match.slots:
                if not slot.matched:
                    name = slot.name or f"{slot.index}:{slot.class_id}"
                    self.missing_slots.labels(st, result.pattern_set, name).inc()
        # per class first: a model may return hundreds of boxes, the metrics need one update each
        seen: dict[str, list[float]] = {}
        for d in result.detections:
            seen.setdefault(d.class_name or str(d.class_id), []).append(d.score)
        for name, scores in seen.items():
            self._child(self.detections, name).inc(len(scores))
            self._child(self.score_min, name).set(min(scores))
            self._child(self.score_max, name).set(max(scores))

    def trigger_refused(self, source: str) -> None:
        self.refused.labels(self.station, source).inc()

    def overruled(self, cycle_id: str, verdict: str) -> None:
        self.overrules.labels(self.station, verdict).inc()

    def state_changed(self, component: str, state: str, reason: str) -> None:
        if component == "camera":
            with self._lock:
                self._camera_changed(state)
        if component == "model" and state == "loading":
            self._model_file = reason
        elif component == "model" and state == "ready" and self._model_file:
            self._set_model_info(self._model_file, reason)

    def upload_finished(self, result: CycleResult) -> None:
        self._child(self.uploads, result.verdict.value).inc()

    def api_request(self, endpoint: str, status: int, seconds: float) -> None:
        """One HTTP request (the old services exported count, failures and time per endpoint)."""
        self._child(self.api_requests, endpoint, str(status)).inc()
        self._child(self.api_seconds, endpoint).observe(seconds)

    # --- output ---------------------------------------------------------------------------

    def exposition(self) -> bytes:
        """The Prometheus text format of this station's registry."""
        return generate_latest(self.registry)

    # --- internals ------------------------------------------------------------------------

    def _child(self, metric, *labels: str):
        """`metric.labels(station, *labels)`, looked up once: labels() validates and locks on
        every call, which for many classes was most of a cycle's metrics time."""
        key = (id(metric), labels)
        child = self._children.get(key)
        if child is None:
            child = self._children[key] = metric.labels(self.station, *labels)
        return child

    def _camera_changed(self, state: str) -> None:
        previous, self._camera_state = self._camera_state, state
        if state in ("connected", "emulated") and previous == "connecting" and self._ever_lost:
            self.camera_reconnects.labels(self.station).inc()
        if state == "disconnected":
            self._ever_lost = True
        for name in CAMERA_STATES:
            self.camera_state.labels(self.station, name).set(1 if name == state else 0)

    def _set_model_info(self, path: str, describe: str) -> None:
        try:  # the detector's own digest function (it caches its model's hash the same way)
            sha = file_sha256(path)
        except (OSError, StationError):
            sha = ""
        provider = describe.rsplit(" on ", 1)[-1] if " on " in describe else ""
        self.model_info.labels(self.station).info({"file": Path(path).name, "sha256": sha, "provider": provider})


_SERIES_SUFFIXES = {
    "counter": ("_total",),
    "histogram": ("_bucket", "_sum", "_count"),
    "info": ("_info",),
    "gauge": ("",),
}


def metric_names(metrics: StationMetrics) -> set[str]:
    """Every series name the exporter serves, also for families with no sample yet
    (a labelled counter before its first increment), as PromQL names them."""
    from prometheus_client.parser import text_string_to_metric_families

    names: set[str] = set()
    for family in text_string_to_metric_families(metrics.exposition().decode()):
        names.update(family.name + suffix for suffix in _SERIES_SUFFIXES.get(family.type, ("",)))
        names.update(sample.name for sample in family.samples)
    return names
