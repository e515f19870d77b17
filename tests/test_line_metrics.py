"""The Prometheus exporter on real stations: what each counter counts."""

from __future__ import annotations

import errno
import os
import time

import pytest
from prometheus_client.parser import text_string_to_metric_families

from inspection_station.core.cycle import Verdict
from inspection_station.core.line.metrics import StationMetrics
from inspection_station.core.line.services import LineServices
from inspection_station.core.results.recorder import ResultsRecorder
from inspection_station.core.station import Station
from tests.known_station import station_settings
from tests.test_results import make_result
from tests.test_results import settings as results_settings

WAIT_S = 30.0


def samples(metrics: StationMetrics) -> dict[tuple[str, tuple], float]:
    out = {}
    for family in text_string_to_metric_families(metrics.exposition().decode()):
        for s in family.samples:
            out[(s.name, tuple(sorted(s.labels.items())))] = s.value
    return out


def value(metrics: StationMetrics, name: str, **labels) -> float:
    return samples(metrics).get((name, tuple(sorted(labels.items()))), 0.0)


def wait_until(predicate, what: str) -> None:
    deadline = time.monotonic() + WAIT_S
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"gave up waiting for {what}")
        time.sleep(0.01)


def test_cycles_durations_errors_slots_and_refusals(tmp_path):
    settings = station_settings(tmp_path, name="line-2")
    station = Station(settings)
    services = LineServices(station, settings.line, metrics_bind=("127.0.0.1", 0))
    m = services.metrics
    with station:
        assert station.wait_ready(WAIT_S)
        wait_until(lambda: station.states.get("camera", ("",))[0] == "emulated", "the camera")
        assert value(m, "inspection_station_ready", station="line-2") == 1.0
        ok = station.run_cycle("t")
        station.select_pattern_set("product_nok")
        station.run_cycle("t")
        station.camera.call_in_worker(_damage(1)).result(WAIT_S)
        error = station.run_cycle("t")
        assert error.verdict is Verdict.ERROR
        station.overrule(ok.cycle_id, Verdict.NOK)
    st = {"station": "line-2"}
    for verdict, n in (("OK", 1), ("NOK", 1), ("ERROR", 1)):
        assert value(m, "inspection_station_cycles_total", **st, verdict=verdict) == n
    assert value(m, "inspection_station_cycle_duration_seconds_count", **st) == 3
    assert value(m, "inspection_station_cycle_errors_total", **st, stage="camera") == 1
    assert value(m, "inspection_station_stage_duration_seconds_count", **st, stage="inference") == 2
    assert value(m, "inspection_station_stage_duration_seconds_count", **st, stage="grab") == 3
    assert value(m, "inspection_station_nok_missing_slots_total", **st, pattern_set="product_nok",
                 slot="screw_right") == 1
    assert value(m, "inspection_station_detections_total", **st, class_name="screw") == 2
    assert value(m, "inspection_station_detection_score_max", **st, class_name="clip") == pytest.approx(0.8)
    assert value(m, "inspection_station_overrules_total", **st, verdict="NOK") == 1


def test_refused_triggers_and_camera_reconnects(tmp_path):
    settings = station_settings(tmp_path)
    station = Station(settings)
    services = LineServices(station, settings.line, metrics_bind=("127.0.0.1", 0))
    m = services.metrics
    with station:
        assert station.wait_ready(WAIT_S)
        wait_until(lambda: station.states.get("camera", ("",))[0] == "emulated", "the camera")
        station.camera.call_in_worker(_damage(3)).result(WAIT_S)
        for _ in range(3):  # three damaged frames in a row: the camera is reopened
            station.run_cycle("t")
        wait_until(lambda: value(m, "inspection_station_camera_reconnects_total", station="station-1") == 1,
                   "one reconnect counted")
        wait_until(lambda: station.states["camera"][0] == "emulated", "the reconnect")
        assert value(m, "inspection_station_camera_state", station="station-1", state="emulated") == 1
        assert value(m, "inspection_station_camera_state", station="station-1", state="disconnected") == 0
        m.trigger_refused("pedal")  # the station's own refusal path is covered by the API tests
    assert value(m, "inspection_station_refused_triggers_total", station="station-1", source="pedal") == 1


def test_log_write_failures_and_images_archived_come_from_the_recorder(tmp_path):
    failing = {"on": True}

    def write(fd, data):
        if failing["on"]:
            raise OSError(errno.ENOSPC, "No space left on device")
        return os.write(fd, data)

    rec = ResultsRecorder(results_settings(tmp_path, archive="all"), "s", write_fn=write)
    m = StationMetrics("s", recorder=lambda: rec)
    try:
        rec.record(make_result(0, Verdict.OK))
        rec.record(make_result(1, Verdict.NOK))
        assert value(m, "inspection_station_log_write_failures_total", station="s") == 2
        assert value(m, "inspection_station_log_rows_pending", station="s") == 2
        failing["on"] = False
        assert rec.retry()
        assert value(m, "inspection_station_log_rows_pending", station="s") == 0
    finally:
        rec.close()
    assert value(m, "inspection_station_images_archived_total", station="s") == 2


def test_the_software_version_is_served():
    from inspection_station import __version__

    assert value(StationMetrics("s"), "inspection_station_station_info", station="s", version=__version__) == 1


def test_two_stations_in_one_process_keep_separate_registries():
    a, b = StationMetrics("a"), StationMetrics("b")
    result = make_result(0, Verdict.OK, with_frame=False)
    a.cycle_finished(result)
    assert value(a, "inspection_station_cycles_total", station="a", verdict="OK") == 1
    assert value(b, "inspection_station_cycles_total", station="b", verdict="OK") == 0


def _damage(count: int):
    def damage(cam) -> None:
        cam.instant_camera.ForceFailedBufferCount.Value = count
        cam.instant_camera.ForceFailedBuffer.Execute()

    return damage
