"""PLC signals on the emulator's digital outputs, read back from the device around real cycles."""

from __future__ import annotations

import threading
import time

import pytest

from inspection_station.core.cycle import Verdict
from inspection_station.core.errors import ConfigError
from inspection_station.core.line.services import LineServices
from inspection_station.core.listeners import StationListener
from inspection_station.core.settings.plc_outputs import OutputSpec, parse_outputs
from inspection_station.core.station import Station
from tests.known_station import station_settings

WAIT_S = 30.0


def wait_until(predicate, what: str) -> None:
    deadline = time.monotonic() + WAIT_S
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"gave up waiting for {what}")
        time.sleep(0.01)


class Plc:
    """The station with PLC outputs; reads what the camera itself reports for each line."""

    def __init__(self, tmp_path, outputs: list[str], active: str = "product_ok") -> None:
        settings = station_settings(tmp_path, active=active).replace(
            "line", plc_enabled=True, plc_outputs=outputs
        )
        self.station = Station(settings)
        self.services = LineServices(self.station, settings.line)
        self.station.start()
        assert self.station.wait_ready(WAIT_S)
        self.services.start()
        self.specs = {o.signal: o for o in self.services.outputs}

    def read(self) -> dict[str, tuple[str, str, bool]]:
        """signal -> (LineMode, LineSource, UserOutputValue), in the camera thread (queued after
        every write decided so far)."""

        def read_all(cam):
            return {s: cam.read_output(o.line, o.user_output) for s, o in self.specs.items()}

        return self.station.camera.call_in_worker(read_all).result(WAIT_S)

    def watch_during_cycles(self, listener: StationListener) -> None:
        """Add `listener` ahead of the PLC signals: it sees the cycle before the verdict is set."""
        self.station.remove_listener(self.services.plc)
        self.station.add_listener(listener)
        self.station.add_listener(self.services.plc)

    def values(self) -> dict[str, bool]:
        return {s: v for s, (_, _, v) in self.read().items()}

    def close(self) -> None:
        self.services.stop()
        self.station.stop()


@pytest.fixture
def plc(tmp_path):
    made: list[Plc] = []

    def make(outputs, **kw) -> Plc:
        p = Plc(tmp_path, outputs, **kw)
        made.append(p)
        return p

    yield make
    for p in made:
        p.close()


class DuringCycle(StationListener):
    """Reads the outputs while the cycle is still running (inference thread, busy held)."""

    def __init__(self, plc: Plc, also=None) -> None:
        self.plc = plc
        self.also = also
        self.seen: list[dict[str, bool]] = []

    def cycle_finished(self, result) -> None:
        if self.also is not None:
            self.also()
        self.seen.append(self.plc.values())


OUTPUTS = ["READY=Line1:UserOutput1", "BUSY=Line2:UserOutput2"]


@pytest.mark.parametrize(
    ("active", "verdict_line", "verdict"),
    [("product_ok", "OK=Line3:UserOutput3", "OK"), ("product_nok", "NOK=Line3:UserOutput3", "NOK")],
)
def test_handshake_around_real_cycles(plc, active, verdict_line, verdict, monkeypatch):
    from inspection_station.core.camera.pylon_device import PylonCamera

    threads: set[str] = set()
    real = PylonCamera.set_user_output

    def spy(self, user_output, value):  # the real write, noting which thread made it
        threads.add(threading.current_thread().name)
        return real(self, user_output, value)

    monkeypatch.setattr(PylonCamera, "set_user_output", spy)
    p = plc([*OUTPUTS, verdict_line], active=active)
    wait_until(lambda: p.values()["READY"], "READY high once camera, model and pattern are there")
    for signal, (mode, source, _) in p.read().items():
        assert (mode, source) == ("Output", p.specs[signal].user_output)
    assert p.values() == {"READY": True, "BUSY": False, verdict: False}

    during = DuringCycle(p)
    p.watch_during_cycles(during)
    for n in range(2):
        result = p.station.run_cycle("plc-test")
        assert result.verdict is Verdict(verdict)
        # in the cycle: verdict line cleared (the previous one is gone), READY low, BUSY high
        assert during.seen[n] == {"READY": False, "BUSY": True, verdict: False}
        # after: verdict held, BUSY low, READY back
        assert p.values() == {"READY": True, "BUSY": False, verdict: True}
    # the device saw the verdict before BUSY fell (the PLC reads it on BUSY's falling edge)
    writes = [(s, v) for s, v, ok, _ in p.services.plc.history if ok]
    last = writes[-3:]
    assert last == [(verdict, True), ("BUSY", False), ("READY", True)]
    assert threads == {"camera-worker"}  # every device write came from the camera's own thread


def test_error_cycle_sets_error_and_a_refused_trigger_changes_nothing(plc):
    p = plc([*OUTPUTS, "ERROR=Line3:UserOutput3"])
    wait_until(lambda: p.values()["READY"], "READY")
    refused = []

    def trigger_meanwhile():
        refused.append(p.station.trigger("button"))

    during = DuringCycle(p, also=trigger_meanwhile)
    p.watch_during_cycles(during)
    damage = p.station.camera.call_in_worker(lambda cam: _damage(cam, 1))
    damage.result(WAIT_S)
    result = p.station.run_cycle("plc-test")
    assert result.verdict is Verdict.ERROR and "damaged frame" in result.error
    assert refused == [False] and p.station.statistics.snapshot().refused_triggers == 1
    # the refused trigger left the running cycle's levels alone
    assert during.seen == [{"READY": False, "BUSY": True, "ERROR": False}]
    assert p.values() == {"READY": True, "BUSY": False, "ERROR": True}


def test_pulsed_and_inverted_outputs(plc):
    p = plc(["BUSY=Line1:UserOutput1:inverted", "OK=Line2:UserOutput2:pulse=30"])
    wait_until(lambda: p.services.plc is not None and p.values()["BUSY"], "inverted BUSY idle = high")
    assert p.station.run_cycle("plc-test").verdict is Verdict.OK
    wait_until(lambda: not p.values()["OK"], "the OK pulse to end")
    ok_writes = [(v, why) for s, v, ok, why in p.services.plc.history if s == "OK" and ok]
    assert ok_writes[-2:] == [(True, "verdict"), (False, "pulse")]  # high, then the pulse ended it
    assert p.values()["BUSY"] is True  # idle again: logical low, written inverted


def test_stopping_the_station_drops_ready(plc):
    p = plc(["READY=Line1:UserOutput1"])
    wait_until(lambda: p.values()["READY"], "READY")
    history = p.services.plc.history
    p.close()  # the fixture's close afterwards is a no-op
    assert list(history)[-1] == ("READY", False, True, "close")


def test_camera_loss_drops_ready_and_the_reconnect_restores_it(plc):
    p = plc([*OUTPUTS, "OK=Line3:UserOutput3"])
    wait_until(lambda: p.values()["READY"], "READY")
    p.station.run_cycle("plc-test")
    lost = threading.Event()

    class Watch(StationListener):
        def state_changed(self, component, state, reason):
            if component == "camera" and state == "disconnected":
                lost.set()

    p.station.add_listener(Watch())
    p.station.camera.call_in_worker(lambda cam: _damage(cam, 3)).result(WAIT_S)
    for _ in range(3):  # three damaged frames in a row: "not answering", closed and reopened
        p.station.run_cycle("plc-test")
    assert lost.wait(WAIT_S)
    # READY went low on the device before it was closed (it still answered)
    assert ("READY", False, True, "close") in list(p.services.plc.history)
    wait_until(lambda: p.station.states["camera"][0] == "emulated", "the reconnect")
    wait_until(lambda: p.values()["READY"], "READY high again on the reopened camera")
    for signal, (mode, source, _) in p.read().items():
        assert (mode, source) == ("Output", p.specs[signal].user_output)


def _damage(cam, count: int) -> None:
    cam.instant_camera.ForceFailedBufferCount.Value = count
    cam.instant_camera.ForceFailedBuffer.Execute()


@pytest.mark.parametrize(
    ("items", "message"),
    [
        (["GO=Line1:UserOutput1"], "SIGNAL one of READY, BUSY, OK, NOK, ERROR"),
        (["OK=Line1"], "expected SIGNAL=LINE:USEROUTPUT"),
        (["OK=Out1:UserOutput1"], "expected a line name like Line2"),
        (["OK=Line1:Output1"], "expected a user output like UserOutput1"),
        (["OK=Line1:UserOutput1:pulse=0"], "expected 'pulse=MS' (1..60000)"),
        (["BUSY=Line1:UserOutput1:pulse=20"], "only OK, NOK and ERROR can pulse"),
        (["OK=Line1:UserOutput1", "NOK=Line1:UserOutput2"], "line Line1 is already used by OK"),
        (["OK=Line1:UserOutput1", "OK=Line2:UserOutput2"], "signal OK is already used by OK"),
    ],
)
def test_bad_output_mappings_are_located(items, message):
    with pytest.raises(ConfigError) as err:
        parse_outputs(items)
    assert str(err.value).startswith(f"[line] plc_outputs item {len(items)} ")
    assert message in str(err.value)


def test_output_mapping_parses():
    assert parse_outputs(["ok=Line2:UserOutput1:pulse=200:inverted", "READY=Line3:UserOutput2"]) == (
        OutputSpec("OK", "Line2", "UserOutput1", 200, True),
        OutputSpec("READY", "Line3", "UserOutput2", 0, False),
    )


def test_a_line_the_camera_lacks_is_reported_with_what_it_offers(tmp_path):
    settings = station_settings(tmp_path).replace("line", plc_enabled=True, plc_outputs=["OK=Line9:UserOutput1"])
    station = Station(settings)
    services = LineServices(station, settings.line)
    station.start()
    try:
        assert station.wait_ready(WAIT_S)
        wait_until(lambda: station.states.get("camera", ("",))[0] == "emulated", "the camera")
        said = services.start()
        assert "[line] plc_outputs" in services.plc.problem
        assert "offers LineSelector Line1, Line2, Line3" in services.plc.problem
        assert any(line.startswith("plc: error:") for line in said)
        assert station.run_cycle("plc-test").verdict is Verdict.OK  # the station still inspects
    finally:
        services.stop()
        station.stop()


def test_a_pulse_on_the_trigger_line_runs_the_handshake(tmp_path):
    """The PLC's own trigger (hardware mode, Line1 in) answered on Line2/Line3 (out)."""
    settings = station_settings(tmp_path).replace("camera", trigger_mode="hardware").replace(
        "line", plc_enabled=True, plc_outputs=["BUSY=Line2:UserOutput1", "OK=Line3:UserOutput2"]
    )
    results = []
    station = Station(settings, on_result=results.append)
    services = LineServices(station, settings.line)
    station.start()
    try:
        assert station.wait_ready(WAIT_S)
        wait_until(lambda: station.states.get("camera", ("",))[0] == "emulated", "the camera")
        services.start()
        plc = services.plc

        def outputs(cam):
            return {o.signal: cam.read_output(o.line, o.user_output)[2] for o in plc.outputs}

        # The emulator fires its TriggerSoftware node even with a line source: our stand-in PLC pulse.
        station.camera.call_in_worker(lambda cam: cam.instant_camera.TriggerSoftware.Execute()).result(WAIT_S)
        wait_until(lambda: results, "the line-triggered cycle")
        assert results[0].trigger == "hardware" and results[0].verdict is Verdict.OK
        wait_until(lambda: station.camera.call_in_worker(outputs).result(WAIT_S) == {"BUSY": False, "OK": True},
                   "OK held, BUSY low")
        written = [(s, v, why) for s, v, ok, why in plc.history if ok]
        assert ("BUSY", True, "start") in written and written[-2:] == [("OK", True, "verdict"), ("BUSY", False, "verdict")]
    finally:
        services.stop()
        station.stop()


def test_a_failed_model_reload_keeps_ready_the_old_model_runs_on(plc, tmp_path):
    p = plc([*OUTPUTS])
    wait_until(lambda: p.values()["READY"], "READY")
    broken = p.station.settings.replace("model", path=str(tmp_path / "missing.onnx"))
    p.station.apply_settings(broken).result(WAIT_S)
    assert p.station.states["model"][0] == "error"
    assert p.values() == {"READY": True, "BUSY": False}
    assert p.station.ready and p.station.run_cycle("plc-test").verdict is Verdict.OK


def test_an_image_folder_has_no_outputs_and_says_so(tmp_path):
    settings = station_settings(tmp_path).replace(
        "camera", source="folder", image_folder=str(tmp_path / "emulator")
    ).replace("line", plc_enabled=True, plc_outputs=["OK=Line2:UserOutput1"])
    station = Station(settings)
    services = LineServices(station, settings.line)
    station.start()
    try:
        assert station.wait_ready(WAIT_S)
        wait_until(lambda: station.states.get("camera", ("",))[0] == "emulated", "the folder camera")
        said = services.start()
        assert "has no digital outputs" in services.plc.problem
        assert any("has no digital outputs" in line for line in said)
        assert station.run_cycle("plc-test").verdict is Verdict.OK
    finally:
        services.stop()
        station.stop()


def test_an_output_on_the_trigger_input_is_refused(tmp_path):
    settings = station_settings(tmp_path).replace("camera", trigger_mode="hardware", trigger_line="Line1").replace(
        "line", plc_enabled=True, plc_outputs=["BUSY=Line1:UserOutput1"])
    with pytest.raises(ConfigError, match=r"BUSY on Line1, but Line1 is the hardware trigger input"):
        LineServices(Station(settings), settings.line)
    from inspection_station.core.settings.checks import check_settings

    (problem,) = [p for p in check_settings(settings) if p.section == "line"]
    assert problem.key == "plc_outputs" and "hardware trigger input" in problem.message


def test_stopped_plc_signals_leave_the_reopened_camera_alone(plc):
    p = plc([*OUTPUTS])
    wait_until(lambda: p.values()["READY"], "READY")
    plc_signals = p.services.plc
    p.services.stop()  # the station runs on without PLC signals (the GUI after a settings change)
    assert p.values()["READY"] is False  # dropped: nobody answers for it now
    seen = len(plc_signals.history)
    p.station.camera.call_in_worker(lambda cam: _damage(cam, 3)).result(WAIT_S)
    for _ in range(3):
        p.station.run_cycle("plc-test")
    wait_until(lambda: p.station.states["camera"][0] == "emulated" and p.station.ready, "the reconnect")
    p.station.run_cycle("plc-test")
    assert len(plc_signals.history) == seen  # no hook, no listener: nothing written since
