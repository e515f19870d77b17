"""The station's actions (core/actions.py) on a real station: Basler's emulator, a real
onnxruntime session, real settings, audit and CSV files. One owner of the state, one way to
change it, whatever the route."""

from __future__ import annotations

import json
from pathlib import Path

import httpx
import pytest

from inspection_station import cli
from inspection_station.core import events as ev
from inspection_station.core.actions import StationActions
from inspection_station.core.cycle import Verdict
from inspection_station.core.line.services import LineServices
from inspection_station.core.settings.audit import Actor, AuditLog
from inspection_station.core.settings.model import LineSettings, load_settings, save_settings
from inspection_station.core.station import Station
from tests.known_station import station_settings

WAIT_S = 60.0  # bounded waits, never asserted as durations


def audit_lines(path: Path, kind: str | None = None) -> list[dict]:
    if not path.exists():
        return []
    lines = [json.loads(x) for x in path.read_text(encoding="utf-8").splitlines() if x.strip()]
    return [x for x in lines if kind is None or x["kind"] == kind]


class Running:
    """A started station with its actions, saving to `settings_file`, auditing to `audit`."""

    def __init__(self, tmp_path: Path, settings=None, **station_kw) -> None:
        self.tmp = tmp_path
        self.settings_file = tmp_path / "settings.toml"
        self.audit = tmp_path / "audit.jsonl"
        if settings is None:
            settings = station_settings(tmp_path, **station_kw) if not self.settings_file.exists() else None
        if settings is not None:
            save_settings(settings, self.settings_file)
        self.settings = load_settings(self.settings_file).settings
        self.station = Station(self.settings)
        self.actions = StationActions.for_station(self.station, self.settings_file,
                                                  accounts_path=tmp_path / "accounts.json", audit_path=self.audit)
        self.events: list[ev.Event] = []
        self.station.bus.subscribe(self.events.append)
        self.station.start()
        assert self.station.wait_ready(WAIT_S)

    def stop(self) -> None:
        self.station.stop()

    def of(self, kind: type) -> list:
        return [e for e in self.events if isinstance(e, kind)]


@pytest.fixture
def running(tmp_path):
    made: list[Running] = []

    def make(**kw) -> Running:
        r = Running(tmp_path, **kw)
        made.append(r)
        return r

    yield make
    for r in made:
        r.stop()


def operator(station: str = "station-1") -> Actor:
    return Actor("(no login)", "operator", station)


def test_a_product_switch_survives_a_reload_an_apply_of_other_keys_and_a_restart(running, tmp_path):
    r = running()
    opened_with = r.station.settings  # what an engineer's dialog opened on: product_ok
    assert r.station.active_pattern_set.name == "product_ok"

    outcome = r.actions.select_product(r.actions.gui_actor(), "product_nok")
    assert outcome.ok, outcome.message
    assert r.station.run_cycle().verdict is Verdict.NOK  # judged against the product chosen
    assert load_settings(r.settings_file).settings.patterns.active == "product_nok"  # saved

    r.station.reload_patterns().result(WAIT_S)
    assert r.actions.state.product == "product_nok" and r.station.run_cycle().verdict is Verdict.NOK

    # the engineer's dialog still shows product_ok; it changes only the confidence
    edited = opened_with.replace("model", confidence=0.3)
    applied = r.actions.apply_settings(Actor("eva", "engineer", "station-1"), edited, base=opened_with)
    assert applied.ok, applied.message
    assert applied.value.result(WAIT_S).ok
    assert r.station.settings.model.confidence == 0.3
    assert r.actions.state.product == "product_nok" and r.station.run_cycle().verdict is Verdict.NOK
    r.stop()

    again = Running(tmp_path)  # a restart on the saved file
    try:
        assert again.station.active_pattern_set.name == "product_nok"
    finally:
        again.stop()
    switches = audit_lines(r.audit, "product")
    assert [(x["target"], x["action"], x["old"], x["new"], x["user"]) for x in switches] == [
        ("patterns.active", "switch", "product_ok", "product_nok", "(no login)")]
    settings_lines = audit_lines(r.audit, "settings")
    assert [(x["target"], x["old"], x["new"]) for x in settings_lines] == [("model.confidence", 0.25, 0.3)]
    selected = r.of(ev.ProductSelected)
    assert [(e.old, e.new, e.actor.user if e.actor else None) for e in selected if e.actor] == [
        ("product_ok", "product_nok", "(no login)")]


def test_the_api_switch_is_the_same_action_audited_as_the_api(running):
    r = running()
    services = LineServices(r.station, LineSettings(api_enabled=True, api_port=0), actions=r.actions)
    services.start()
    client = httpx.Client(base_url=services.api.url, timeout=WAIT_S)
    try:
        response = client.put("/product", json={"pattern_set": "product_nok"})
        assert response.status_code == 200, response.text
        assert client.put("/product", json={"pattern_set": "nope"}).status_code == 404
        assert client.post("/inspect").json()["verdict"] == "NOK"
    finally:
        client.close()
        services.stop()
    switches = audit_lines(r.audit, "product")
    assert [(x["action"], x["old"], x["new"], x["user"], x["role"]) for x in switches] == [
        ("switch", "product_ok", "product_nok", "api", "operator")]
    assert load_settings(r.settings_file).settings.patterns.active == "product_nok"
    assert [e.actor.user for e in r.of(ev.ProductSelected) if e.actor] == ["api"]
    assert [e.source for e in r.of(ev.CycleStarted)] == ["api"]


def test_the_api_acts_with_its_configured_role(running, tmp_path):
    r = running()
    engineers_only = r.settings.replace("access", product_switch_role="engineer")
    outcome = r.actions.apply_settings(Actor("os:test", "system", "station-1"), engineers_only)
    assert outcome.ok, outcome.message
    refused = r.actions.select_product(r.actions.api_actor("mes"), "product_nok")
    assert (refused.ok, refused.status) == (False, "denied")
    assert "engineer" in refused.message and r.actions.state.product == "product_ok"
    assert audit_lines(r.audit, "product") == []
    raised = r.actions.apply_settings(Actor("os:test", "system", "station-1"),
                                      engineers_only.replace("line", api_role="engineer"))
    assert raised.ok
    assert r.actions.select_product(r.actions.api_actor("mes"), "product_nok").ok
    assert audit_lines(r.audit, "product")[0]["user"] == "api:mes"


def test_the_command_line_switch_is_the_same_action_on_the_files(tmp_path, capsys):
    settings_file = tmp_path / "settings.toml"
    save_settings(station_settings(tmp_path), settings_file)
    audit = AuditLog()  # the CLI writes the station's own audit trail (isolated per test)
    assert cli.main(["product", "--config", str(settings_file), "select", "product_nok"]) == 0
    assert load_settings(settings_file).settings.patterns.active == "product_nok"
    lines = audit_lines(audit.path, "product")
    assert [(x["target"], x["action"], x["old"], x["new"], x["role"]) for x in lines] == [
        ("patterns.active", "switch", "product_ok", "product_nok", "system")]
    assert lines[0]["user"].startswith("os:")
    assert cli.main(["product", "--config", str(settings_file), "select", "missing"]) == 2
    assert "No product 'missing'; have: product_nok, product_ok" in capsys.readouterr().err
    assert cli.main(["product", "--config", str(settings_file), "list"]) == 0
    assert "* product_nok" in capsys.readouterr().out


def test_a_failed_model_load_is_reverted_in_core_and_in_the_saved_file(running, tmp_path):
    r = running()
    engineer = Actor("eva", "engineer", "station-1")
    broken = tmp_path / "broken.onnx"
    broken.write_bytes(b"not an onnx model")
    outcome = r.actions.apply_settings(engineer, r.station.settings.replace("model", path=str(broken)))
    assert outcome.ok, outcome.message  # saved and handed over; the load decides
    report = outcome.value.result(WAIT_S)
    assert not report.ok and "Model not changed" in report.message
    assert "put back to the model in use" in report.message
    running_model = r.station.detector.model_path
    assert Path(r.station.settings.model.path) == running_model  # the state names what runs
    assert Path(load_settings(r.settings_file).settings.model.path) == running_model  # so does the file
    lines = audit_lines(r.audit, "settings")
    assert [(x["target"], x["user"]) for x in lines] == [("model.path", "eva"), ("model.path", "(station)")]
    assert r.station.run_cycle().verdict is Verdict.OK  # the old model still judges


def test_a_settings_file_that_cannot_be_written_changes_nothing(running, tmp_path):
    r = running()
    r.settings_file.unlink()
    r.settings_file.mkdir()  # the file's place is taken: the save must fail
    outcome = r.actions.select_product(r.actions.gui_actor(), "product_nok")
    assert (outcome.ok, outcome.status) == (False, "failed")
    assert str(r.settings_file) in outcome.message
    assert r.actions.state.product == "product_ok" and r.station.run_cycle().verdict is Verdict.OK
    assert audit_lines(r.audit, "product") == []
    assert r.of(ev.SettingsApplied) == []


def test_an_audit_trail_that_cannot_be_written_puts_the_settings_file_back(running):
    r = running()
    before = r.settings_file.read_bytes()
    r.audit.write_text("")
    lock = r.audit.with_name(r.audit.name + ".lock")
    lock.mkdir()  # the audit's lock file cannot be opened: every audit write fails
    try:
        outcome = r.actions.select_product(r.actions.gui_actor(), "product_nok")
    finally:
        lock.rmdir()
    assert (outcome.ok, outcome.status) == (False, "failed")
    assert "audit trail cannot be written" in outcome.message and "put back" in outcome.message
    assert r.settings_file.read_bytes() == before
    assert load_settings(r.settings_file).settings.patterns.active == "product_ok"
    assert r.actions.state.product == "product_ok"


def test_an_answer_from_a_session_that_ended_is_refused(running):
    r = running()
    r.actions.access.store.add("eva", "engineer", "secret-pass")
    assert r.actions.sign_in("eva", "secret-pass").ok
    asked_in = r.actions.state.session.id
    r.station.run_cycle()
    assert r.actions.sign_out("locked after 300 s without input").ok
    outcome = r.actions.reset_shift(Actor("eva", "engineer", "station-1"), session_id=asked_in)
    assert (outcome.ok, outcome.status) == (False, "denied") and "session" in outcome.message
    assert r.station.statistics.snapshot().cycles == 1
    assert audit_lines(r.audit, "shift") == []
    sessions = r.of(ev.SessionChanged)
    assert [(e.user, e.reason) for e in sessions] == [("eva", "signed in"), (None, "locked after 300 s without input")]


def test_reset_shift_is_audited_with_the_counts_and_emitted(running):
    r = running()
    r.station.run_cycle()
    r.station.run_cycle()
    denied = r.actions.reset_shift(operator())
    assert denied.status == "denied"  # [access] reset_shift_role = engineer by default
    done = r.actions.reset_shift(Actor("eva", "engineer", "station-1"))
    assert done.ok and r.station.statistics.snapshot().cycles == 0
    (line,) = audit_lines(r.audit, "shift")
    assert (line["user"], line["old"]["OK"], line["new"]) == ("eva", 2, {})
    assert [e.counts["OK"] for e in r.of(ev.ShiftReset)] == [2]


def test_hold_refuses_every_trigger_until_released(running):
    r = running()
    assert r.actions.hold(operator(), "glue change").status == "denied"
    engineer = Actor("eva", "engineer", "station-1")
    assert r.actions.hold(engineer, "glue change").ok
    refused = r.actions.inspect(operator(), "pedal")
    assert (refused.ok, refused.status) == (False, "unavailable") and "glue change" in refused.message
    assert r.station.statistics.snapshot().refused_triggers == 1
    assert [e.reason for e in r.of(ev.TriggerRefused)] == ["the station is on hold: glue change"]
    assert r.actions.release_hold(engineer).ok
    started = r.actions.inspect(operator(), "pedal")
    assert started.ok and started.value.result(WAIT_S).verdict is Verdict.OK
    assert [(x["action"], x["user"]) for x in audit_lines(r.audit, "hold")] == [("hold", "eva"), ("release", "eva")]
    assert [e.on_hold for e in r.of(ev.HoldChanged)] == [True, False]


def test_an_overrule_is_written_then_audited_and_emitted(running):
    r = running()
    cycle = r.station.run_cycle()
    assert r.actions.overrule(operator(), cycle.cycle_id, "OK").status == "invalid"  # it was OK already
    assert r.actions.overrule(operator(), "no-such-cycle", "NOK").status == "not_found"
    outcome = r.actions.overrule(operator(), cycle.cycle_id, "NOK", note="label crooked")
    assert outcome.ok
    entry = outcome.value.result(WAIT_S)
    assert entry.overrules == cycle.cycle_id
    (line,) = audit_lines(r.audit, "overrule")
    assert (line["target"], line["old"], line["new"], line["user"]) == (cycle.cycle_id, "OK", "NOK", "(no login)")
    assert [(e.cycle_id, e.old_verdict, e.new_verdict) for e in r.of(ev.Overruled)] == [(cycle.cycle_id, "OK", "NOK")]


def test_a_chosen_product_that_went_away_is_never_replaced_by_another(running, tmp_path):
    r = running()
    assert r.actions.select_product(r.actions.gui_actor(), "product_nok").ok
    (tmp_path / "patterns" / "product_nok.yaml").unlink()
    r.station.reload_patterns().result(WAIT_S)
    assert r.station.active_pattern_set is None
    result = r.station.run_cycle()
    assert result.verdict is Verdict.ERROR and "product 'product_nok' is not among the pattern sets" in result.error
