"""What the line integration runs for one station: metrics, PLC outputs, API and metrics servers,
the plant's results (outbox + PostgreSQL / MQTT senders).

`serve` and the GUI use it the same way: build it on the station (settings checked, nothing
listens yet; the plant outbox opens here, so every row recorded from the station's start on
is queued), `station.start()`, then `start()`; `stop()` before the station stops. Each part
is off unless the settings (or `serve --api/--metrics`) enable it.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from inspection_station.core.extras import require_extra
from inspection_station.core.line.auth import (
    TokenCheck,
    is_loopback,
    require_tls_off_loopback,
    require_tokens_off_loopback,
)
from inspection_station.core.settings.model import LineSettings, PlantSettings

if TYPE_CHECKING:
    import ssl

    from inspection_station.core.actions import StationActions
    from inspection_station.core.line.metrics import StationMetrics
    from inspection_station.core.line.opcua.server import OpcUaServer
    from inspection_station.core.line.plant.service import PlantService
    from inspection_station.core.line.plc_signals import PlcSignals
    from inspection_station.core.line.recipe_lines import RecipeLines
    from inspection_station.core.line.request_guard import RequestGuard
    from inspection_station.core.line.server import ConnectionGate, HttpServer
    from inspection_station.core.line.uploads import UploadLane
    from inspection_station.core.settings.plc_outputs import OutputSpec
    from inspection_station.core.station import Station

Bind = tuple[str, int]
Report = Callable[[str], None]
log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Transport:
    """How the API is reached, for /health and the start-up lines."""

    tls: bool
    plain_http_off_loopback: bool  # tokens cross the network in clear: allowed by allow_plain_http

    def describe(self) -> dict:
        warning = ("bearer tokens cross the network in clear ([line] allow_plain_http = true, no TLS)"
                   if self.plain_http_off_loopback else "")
        return {"tls": self.tls, "plain_http_allowed": self.plain_http_off_loopback, "warning": warning}


class LineServices:
    def __init__(
        self,
        station: Station,
        line: LineSettings,
        *,
        api_bind: Bind | None = None,
        metrics_bind: Bind | None = None,
        opcua_bind: Bind | None = None,
        tls_certificate: str | None = None,
        tls_key: str | None = None,
        actions: StationActions | None = None,
        plant: PlantSettings | None = None,
        on_problem: Report | None = None,
        on_notice: Report | None = None,
    ) -> None:
        """Checks the settings (ConfigError, located) and hooks the metrics in; opens no socket.

        `actions`: the station's actions (what the API's state-changing routes call); made
        for the station's own settings file when not given. `plant`: the `[plant]` settings
        (default: the station's); `on_problem` / `on_notice` get what the plant senders say
        later (a receiver down, back, rows lost), from their threads."""
        self.station = station
        self._actions = actions
        self.line = line
        self.api_bind = api_bind or ((line.api_host, line.api_port) if line.api_enabled else None)
        self.metrics_bind = metrics_bind or (
            (line.metrics_host, line.metrics_port) if line.metrics_enabled else None
        )
        self.opcua_bind = opcua_bind or ((line.opcua_host, line.opcua_port) if line.opcua_enabled else None)
        for bind, what in ((self.api_bind, "the HTTP API ([line] api_enabled, serve --api)"),
                           (self.metrics_bind, "the metrics ([line] metrics_enabled, serve --metrics)")):
            if bind is not None:
                require_extra("line", what)  # a located MissingExtra naming the extra to install
        if self.opcua_bind is not None:
            require_extra("opcua", "the OPC UA server ([line] opcua_enabled, serve --opcua)")
        self.tokens = TokenCheck(line.api_token_sha256)
        certificate = line.tls_certificate if tls_certificate is None else tls_certificate
        key = line.tls_key if tls_key is None else tls_key
        self.tls: ssl.SSLContext | None = None
        if certificate and (self.api_bind or self.metrics_bind):
            from inspection_station.core.settings.network_rules import tls_context

            self.tls = tls_context(certificate, key)
        elif key and not certificate:
            from inspection_station.core.errors import ConfigError

            raise ConfigError("[line] tls_key is set but tls_certificate is not: give both (serve --tls-cert/--tls-key)")
        plain_off_loopback = False
        for bind, what in ((self.api_bind, "API"), (self.metrics_bind, "metrics")):
            if bind is not None:
                where = f"[line] {what} on {bind[0]}:{bind[1]}"
                require_tokens_off_loopback(bind[0], self.tokens, where)
                require_tls_off_loopback(bind[0], self.tls is not None, line.allow_plain_http, where)
                plain_off_loopback |= not is_loopback(bind[0]) and self.tls is None
        self.transport = Transport(self.tls is not None, plain_off_loopback)
        self.outputs: tuple[OutputSpec, ...] = ()
        if line.plc_enabled:
            from inspection_station.core.settings.plc_outputs import (
                check_trigger_line,
                parse_outputs,
            )

            self.outputs = parse_outputs(line.plc_outputs)
            camera = station.settings.camera
            check_trigger_line(self.outputs, camera.trigger_mode, camera.trigger_line)
        self.recipe_spec = None
        if line.recipe_select_enabled:
            from inspection_station.core.line.recipe_lines import parse_recipe_lines

            self.recipe_spec = parse_recipe_lines(line.recipe_lines, line.recipe_strobe, line.recipe_table)
        self.recipe_lines: RecipeLines | None = None
        self._on_problem = on_problem
        self.metrics: StationMetrics | None = None
        if self.api_bind or self.metrics_bind:
            from inspection_station.core.line.metrics import StationMetrics

            self.metrics = StationMetrics(
                station.settings.station.name,
                recorder=lambda: station.recorder,
                ready=lambda: station.ready,
            )
            for component, (state, reason) in dict(station.states).items():
                self.metrics.state_changed(component, state, reason)
            station.add_listener(self.metrics)
        self.plc: PlcSignals | None = None
        self.api: HttpServer | None = None
        self.metrics_server: HttpServer | None = None
        self.opcua: OpcUaServer | None = None
        self.uploads: UploadLane | None = None
        self.gate: ConnectionGate | None = None
        self.api_app: RequestGuard | None = None
        self.plant: PlantService | None = None
        plant = station.settings.plant if plant is None else plant
        if plant.database_url or plant.mqtt_url:
            from inspection_station.core.line.plant.service import PlantCollector, PlantService

            name = station.settings.station.name
            self.plant = PlantService(plant, name, states=lambda: dict(station.states),
                                      on_problem=on_problem, on_notice=on_notice).open()
            station.add_listener(self.plant)
            if self.metrics is not None:
                self.metrics.registry.register(PlantCollector(name, self.plant))

    def start(self) -> list[str]:
        """After `station.start()`: PLC outputs on the camera, then the servers; what runs, one line each."""
        said: list[str] = []
        try:
            if self.plant is not None:
                said += self.plant.start()
            if self.outputs:
                from inspection_station.core.line.plc_signals import PlcSignals

                self.plc = PlcSignals(self.station, self.outputs)
                self.plc.attach()
                said.append("plc: " + ", ".join(f"{o.signal}={o.line}" for o in self.outputs))
                if self.plc.problem:
                    said.append(f"plc: error: {self.plc.problem}")
            if self.api_bind or self.metrics_bind:
                said += self._start_servers()
            if self.recipe_spec is not None:
                from inspection_station.core.line.recipe_lines import CameraLineInputs, RecipeLines

                self.recipe_lines = RecipeLines(self.station, self.actions, self.recipe_spec,
                                                CameraLineInputs(self.station), on_problem=self._on_problem).start()
                spec = self.recipe_spec
                said.append(f"recipe lines: {'+'.join(spec.lines)} latched by "
                            f"{spec.strobe or 'each trigger'}; {len(spec.table)} recipe(s) in the table")
            if self.opcua_bind:
                from inspection_station.core.line.opcua.server import OpcUaServer

                self.opcua = OpcUaServer(self.station, self.actions, *self.opcua_bind,
                                         pki=self.line.opcua_pki_dir).start()
                said.append(f"opcua: {self.opcua.url} (MachineVision; certificate thumbprint "
                            f"{self.opcua.thumbprint}; trusted clients: {self.opcua.identity.trusted})")
        except BaseException:
            self.stop()
            raise
        return said

    def _start_servers(self) -> list[str]:
        from inspection_station.core.line.descriptors import (
            connection_budget,
            raise_open_file_limit,
        )
        from inspection_station.core.line.server import ConnectionGate, HttpServer, ServerLimits

        said: list[str] = []
        line = self.line
        raise_open_file_limit()
        cap, why = connection_budget(line.max_connections)
        if why:
            log.warning("line: %s", why)
            said.append(f"api: warning: {why}")
        self.gate = ConnectionGate(cap)
        if self.metrics is not None:
            self.metrics.watch_connections(self.gate)
        limits = ServerLimits.from_line(line)
        if self.transport.plain_http_off_loopback:
            warning = self.transport.describe()["warning"]
            log.warning("line: %s", warning)
            said.append(f"api: warning: {warning}")
        if self.api_bind:
            from inspection_station.core.line.api import create_app
            from inspection_station.core.line.uploads import UploadLane

            self.uploads = UploadLane(
                self.station, queue_size=line.upload_queue, log_rows=line.log_uploads,
                on_result=self.metrics.upload_finished if self.metrics is not None else None,
            )
            self.station.add_listener(self.uploads)
            app = create_app(self.station, actions=self.actions, tokens=self.tokens, metrics=self.metrics,
                             line=line, uploads=self.uploads, transport=self.transport)
            self.api_app = app  # the request guard in front of the API (its counts, for tests)
            self.api = HttpServer(app, *self.api_bind, name="http-api", gate=self.gate, limits=limits,
                                  tls=self.tls).start()
            said.append(f"api: {self.api.url}" + (" (the old system's routes too)" if line.legacy_api else ""))
            said.append("api: Host names answered: IP addresses, " + ", ".join(sorted(app.hosts.names))
                        + "".join(f", *{s}" for s in app.hosts.suffixes) + " ([line] allowed_hosts adds more)")
        if self.metrics_bind and self.metrics is not None:
            from inspection_station.core.line.api import create_metrics_app

            app = create_metrics_app(self.metrics, self.tokens, line=line)
            self.metrics_server = HttpServer(app, *self.metrics_bind, name="metrics", gate=self.gate,
                                             limits=limits, tls=self.tls).start()
            said.append(f"metrics: {self.metrics_server.url}/metrics")
        return said

    @property
    def actions(self) -> StationActions:
        if self._actions is None:
            from inspection_station.core.actions import StationActions

            self._actions = StationActions.for_station(self.station, None)
        return self._actions

    def stop(self) -> None:
        if self.recipe_lines is not None:
            self.recipe_lines.stop()
            self.recipe_lines = None
        if self.opcua is not None:
            self.opcua.stop()
            self.opcua = None
        for server in (self.api, self.metrics_server):
            if server is not None:
                server.stop()
        self.api = self.metrics_server = None
        if self.uploads is not None:
            self.station.remove_listener(self.uploads)
            self.uploads.close()
            self.uploads = None
        if self.plc is not None:
            self.plc.detach()
            self.plc = None
        if self.metrics is not None:
            self.station.remove_listener(self.metrics)
        if self.plant is not None:
            self.station.remove_listener(self.plant)
            self.plant.stop()
            self.plant = None
