"""Every route changes the station the same way: the operator's screen (real widgets,
offscreen), the HTTP API (real uvicorn + httpx) and the command line (the real `cli.main`)
call the same action, so each gives the same state change, the same audit line (action,
target, old and new value; the actor names the route) and the same event."""

from __future__ import annotations

import io
import json

import httpx
import pytest

from inspection_station import cli
from inspection_station.core import events as ev
from inspection_station.core.actions import StationActions
from inspection_station.core.line.services import LineServices
from inspection_station.core.settings.audit import AuditLog
from inspection_station.core.settings.model import LineSettings, load_settings, save_settings
from inspection_station.core.station import Station
from inspection_station.gui.app import start_station
from inspection_station.gui.engineer.accounts_dialog import AccountsDialog
from inspection_station.gui.error_route import ErrorRoute
from inspection_station.gui.operator.main_window import MainWindow
from inspection_station.gui.operator.station_bridge import StationBridge
from tests.known_station import station_settings

pytestmark = pytest.mark.qt
WAIT_MS = 60_000
SAME = ("kind", "target", "action", "old", "new")  # what every route must write alike


def audit_lines(kind: str) -> list[dict]:
    path = AuditLog().path  # the station's own trail (the test's isolated user folders)
    lines = [json.loads(x) for x in path.read_text(encoding="utf-8").splitlines() if x.strip()]
    return [x for x in lines if x["kind"] == kind]


@pytest.fixture
def stand(qtbot, tmp_path):
    """The operator window and the API on one station, saving to one settings file."""
    config = tmp_path / "settings.toml"
    save_settings(station_settings(tmp_path), config)
    settings = load_settings(config).settings
    station = Station(settings, previews=True)
    actions = StationActions.for_station(station, config)
    events: list[ev.Event] = []
    station.bus.subscribe(events.append)
    window = MainWindow(station, StationBridge(), settings, error_route=ErrorRoute(), actions=actions)
    qtbot.addWidget(window)
    window.show()
    start_station(station).result(WAIT_MS / 1000)
    assert station.wait_ready(WAIT_MS / 1000)
    qtbot.waitUntil(lambda: window.product_combo.count() == 2, timeout=WAIT_MS)
    api = LineServices(station, LineSettings(api_enabled=True, api_port=0), actions=actions)
    api.start()
    client = httpx.Client(base_url=api.api.url, timeout=WAIT_MS / 1000)
    yield window, station, client, config, events
    client.close()
    api.stop()
    station.stop()


def test_a_product_switch_is_one_action_on_the_screen_the_api_and_the_command_line(qtbot, stand):
    window, station, client, config, events = stand

    window.product_combo.setCurrentText("product_nok")  # the operator's choice on the screen
    qtbot.waitUntil(lambda: station.active_pattern_set.name == "product_nok")
    assert client.put("/product", json={"pattern_set": "product_ok"}).status_code == 200  # the MES
    assert station.active_pattern_set.name == "product_ok"
    qtbot.waitUntil(lambda: window.product_combo.currentText() == "product_ok")  # the screen follows
    station.stop()  # the command line works on the station's files
    assert cli.main(["product", "--config", str(config), "select", "product_nok"]) == 0

    assert load_settings(config).settings.patterns.active == "product_nok"  # the last route's choice, saved
    gui, api, cli_line = audit_lines("product")
    assert [tuple(x[k] for k in SAME) for x in (gui, api, cli_line)] == [
        ("product", "patterns.active", "switch", "product_ok", "product_nok"),
        ("product", "patterns.active", "switch", "product_nok", "product_ok"),
        ("product", "patterns.active", "switch", "product_ok", "product_nok"),
    ]
    assert [(x["user"], x["role"]) for x in (gui, api)] == [("(no login)", "operator"), ("api", "operator")]
    assert cli_line["user"].startswith("os:") and cli_line["role"] == "system"
    switched = [(e.old, e.new, e.actor.route) for e in events if isinstance(e, ev.ProductSelected) and e.actor]
    assert switched == [("product_ok", "product_nok", "gui"), ("product_nok", "product_ok", "api")]


def test_a_trigger_is_one_action_from_the_button_and_the_api(qtbot, stand):
    window, station, client, _config, events = stand
    window.inspect_button.click()
    qtbot.waitUntil(lambda: window.last_result is not None, timeout=WAIT_MS)
    record = client.post("/inspect").json()
    started = [e.source for e in events if isinstance(e, ev.CycleStarted)]
    finished = [e.result for e in events if isinstance(e, ev.CycleFinished)]
    assert started == ["button", "api"]
    assert [r.verdict.value for r in finished] == ["OK", record["verdict"]] == ["OK", "OK"]
    assert [r.trigger for r in finished] == ["button", "api"]


def test_a_new_account_is_one_action_on_the_accounts_page_and_the_command_line(qtbot, stand, monkeypatch):
    window, _station, _client, _config, events = stand
    access = window.actions.access
    access.store.add("root-admin", "admin", "admin-pass")
    assert window.actions.sign_in("root-admin", "admin-pass").ok
    page = AccountsDialog(access, window)
    qtbot.addWidget(page)
    page.name.setText("eva")
    page.role.setCurrentText("engineer")
    page.password.setText("secret-pass")
    page.confirm.setText("secret-pass")
    page.add_button.click()
    monkeypatch.setattr("sys.stdin", io.StringIO("other-pass\n"))
    assert cli.main(["user", "add", "max", "--role", "engineer", "--password-stdin"]) == 0

    gui, cli_line = [x for x in audit_lines("user") if x["action"] == "create"]
    assert [tuple(x[k] for k in SAME) for x in (gui, cli_line)] == [
        ("user", "eva", "create", None, {"role": "engineer"}),
        ("user", "max", "create", None, {"role": "engineer"}),
    ]
    assert gui["user"] == "root-admin" and cli_line["user"].startswith("os:")
    assert [(e.action, e.name) for e in events if isinstance(e, ev.AccountsChanged)] == [("create", "eva")]
    assert {u.name for u in access.store.users()} == {"root-admin", "eva", "max"}
