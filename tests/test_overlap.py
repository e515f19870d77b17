"""The overlapped cycle: grab n+1 and write row n-1 while the model runs on n; order,
one row per accepted trigger and refusals kept. The scheduler with stages held on events
(to make the overlap happen on demand), then the real station on the camera emulator."""

from __future__ import annotations

import threading
import time
from concurrent.futures import wait

import cv2
import numpy as np
import pytest

from inspection_station.core.cycle import CycleResult, Verdict
from inspection_station.core.overlap import CycleScheduler, Grabbed
from inspection_station.core.results.csv_log import read_log
from inspection_station.core.settings.model import Settings
from inspection_station.core.station import Station
from tests.onnx_models import constant_model, v8_raw_output


class Stages:
    """grab / judge / publish whose every call waits for its own event (set by the test)."""

    def __init__(self) -> None:
        self.calls: list[str] = []
        self.gates: dict[str, threading.Event] = {}
        self.lock = threading.Lock()
        self.count = {"grab": 0, "judge": 0}

    def gate(self, name: str) -> threading.Event:
        with self.lock:
            return self.gates.setdefault(name, threading.Event())

    def entered(self, name: str, timeout: float = 10.0) -> bool:
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            if name in self.calls:
                return True
            time.sleep(0.005)
        return False

    def _step(self, stage: str) -> int:
        with self.lock:
            self.count[stage] += 1
            n = self.count[stage]
            self.calls.append(f"{stage}{n}")
        assert self.gate(f"{stage}{n}").wait(10)
        return n

    def grab(self) -> Grabbed:
        n = self._step("grab")
        return Grabbed(None, f"frame {n}")

    def judge(self, grabbed: Grabbed, source: str, started: float, part_id: str):
        self._step("judge")
        result = CycleResult(cycle_id=grabbed.error, timestamp=None, verdict=Verdict.ERROR, trigger=source, part_id=part_id)
        return result, lambda r: (self.calls.append(f"row {r.cycle_id}"), r)[1]

    def publish(self, result: CycleResult) -> CycleResult:
        self.calls.append(f"published {result.cycle_id}")
        return result


def test_overlapped_the_next_grab_runs_while_the_model_judges_and_a_third_trigger_is_refused():
    st = Stages()
    sched = CycleScheduler(grab=st.grab, judge=st.judge, publish=st.publish, mode="overlapped")
    try:
        first = sched.trigger("plc")
        assert first is not None and st.entered("grab1")
        assert sched.trigger("plc") is None and sched.busy  # frame 1 is still being grabbed
        st.gate("grab1").set()
        assert st.entered("judge1")  # the model has frame 1: the camera may take the next part
        second = sched.trigger("plc", part_id="P-2")
        assert second is not None and st.entered("grab2")
        st.gate("grab2").set()
        time.sleep(0.05)
        assert sched.trigger("plc") is None  # frame 2 waits for the model: never a queue of two
        assert sched.in_flight == 2
        st.gate("judge1").set()
        st.gate("judge2").set()
        wait([first, second], timeout=10)
        assert first.result().cycle_id == "frame 1" and second.result().part_id == "P-2"
        assert st.calls == ["grab1", "judge1", "grab2", "row frame 1", "published frame 1",
                            "judge2", "row frame 2", "published frame 2"]
        assert not sched.busy and sched.in_flight == 0
    finally:
        for gate in st.gates.values():
            gate.set()
        sched.close()


def test_sequential_refuses_until_the_row_of_the_previous_cycle_is_written():
    st = Stages()
    sched = CycleScheduler(grab=st.grab, judge=st.judge, publish=st.publish, mode="sequential")
    try:
        first = sched.trigger("button")
        st.gate("grab1").set()
        assert st.entered("judge1")
        assert sched.trigger("button") is None  # the model runs: sequential takes nothing
        st.gate("judge1").set()
        first.result(timeout=10)
        assert sched.trigger("button") is not None
    finally:
        for gate in st.gates.values():
            gate.set()
        sched.close()


def test_a_failing_grab_is_an_error_row_and_close_finishes_what_was_accepted():
    def broken() -> Grabbed:
        raise RuntimeError("camera on fire")

    rows = []

    def judge(grabbed, source, started, part_id):
        return CycleResult("c", None, Verdict.ERROR, error=grabbed.error), lambda r: (rows.append(r), r)[1]

    sched = CycleScheduler(grab=broken, judge=judge, publish=lambda r: r, mode="overlapped")
    future = sched.trigger("api")
    sched.close()
    assert future.result(timeout=10).error == "camera on fire" and len(rows) == 1
    assert sched.trigger("api") is None  # closed: refused
    with pytest.raises(ValueError, match="cycle mode"):
        CycleScheduler(grab=broken, judge=judge, publish=lambda r: r, mode="parallel")


@pytest.fixture
def overlapped_settings(tmp_path):
    frames = tmp_path / "frames"
    frames.mkdir()
    for i in range(3):
        cv2.imwrite(str(frames / f"img_{i}.png"), np.full((480, 640, 3), 40 * (i + 1), np.uint8))
    patterns = tmp_path / "patterns"
    patterns.mkdir()
    (patterns / "product_a.yaml").write_text(
        "product_a:\n  - class_id: 1\n    inner: [0.43, 0.46, 0.57, 0.54]\n    outer: [0.40, 0.42, 0.60, 0.58]\n"
    )
    model = constant_model(tmp_path / "m.onnx", v8_raw_output([(320, 320, 100, 50, 1, 0.9)], 3))
    s = Settings()
    s = s.replace("camera", serial="0815-0000", emulation_image_dir=str(frames), grab_timeout_ms=3000)
    s = s.replace("model", path=str(model)).replace("patterns", path=str(patterns))
    s = s.replace("results", log_dir=str(tmp_path / "log"), image_dir=str(tmp_path / "img"), archive="all")
    return s.replace("station", cycle="overlapped"), tmp_path


def test_the_station_overlapped_keeps_order_one_row_per_accepted_trigger_and_counts_refusals(overlapped_settings):
    settings, tmp_path = overlapped_settings
    published: list[str] = []
    refused: list[str] = []
    with Station(settings, on_result=lambda r: published.append(r.cycle_id), on_refused=refused.append) as station:
        assert station.wait_ready(30) and station.cycle_mode == "overlapped"
        assert station.run_cycle("headless").verdict == Verdict.OK
        futures, triggers = [], 0
        while len(futures) < 6:  # a PLC pulsing faster than the cycle
            triggers += 1
            future = station.trigger_future("plc")
            if future is not None:
                futures.append(future)
            time.sleep(0.002)
        results = [f.result(timeout=30) for f in futures]
        assert all(r.verdict == Verdict.OK and r.error == "" for r in results)
        ids = [r.cycle_id for r in results]
        assert ids == sorted(ids) and published[1:] == ids  # verdicts in trigger order
        assert len(refused) == triggers - 6 == station.statistics.snapshot().refused_triggers
    rows = [r for r in read_log(next((tmp_path / "log").glob("*.csv"))) if r["trigger"] == "plc"]
    assert [r["cycle_id"] for r in rows] == ids  # one row per accepted trigger, none for a refused one
    assert all(r["image_path"] for r in rows)  # archived, as in the sequential cycle


def test_with_plc_outputs_the_station_stays_sequential_and_says_why(overlapped_settings):
    settings, _ = overlapped_settings
    notices: list[str] = []
    settings = settings.replace("line", plc_enabled=True)
    with Station(settings, on_notice=notices.append) as station:
        assert station.wait_ready(30)
        assert station.cycle_mode == "sequential"  # the BUSY/verdict handshake needs one part at a time
    assert any("BUSY/verdict handshake" in n for n in notices)
