"""What the line integration runs for one station: metrics, PLC outputs, API and metrics servers,
the plant's results (outbox + PostgreSQL / MQTT senders).

`serve` and the GUI use it the same way: build it on the station (settings checked, nothing
listens yet; the plant outbox opens here, so every row recorded from the station's start on
is queued), `station.start()`, then `start()`; `stop()` before the station stops. Each part
is off unless the settings (or `serve --api/--metrics`) enable it.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from inspection_station.core.line.auth import TokenCheck, require_tokens_off_loopback
from inspection_station.core.settings.model import LineSettings, PlantSettings

if TYPE_CHECKING:
    from inspection_station.core.actions import StationActions
    from inspection_station.core.line.metrics import StationMetrics
    from inspection_station.core.line.opcua.server import OpcUaServer
    from inspection_station.core.line.plant.service import PlantService
    from inspection_station.core.line.plc_signals import OutputSpec, PlcSignals
    from inspection_station.core.line.recipe_lines import RecipeLines
    from inspection_station.core.line.server import HttpServer
    from inspection_station.core.station import Station

Bind = tuple[str, int]
Report = Callable[[str], None]


class LineServices:
    def __init__(
        self,
        station: Station,
        line: LineSettings,
        *,
        api_bind: Bind | None = None,
        metrics_bind: Bind | None = None,
        opcua_bind: Bind | None = None,
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
        self.tokens = TokenCheck(line.api_token_sha256)
        for bind, what in ((self.api_bind, "API"), (self.metrics_bind, "metrics")):
            if bind is not None:
                require_tokens_off_loopback(bind[0], self.tokens, f"[line] {what} on {bind[0]}:{bind[1]}")
        self.outputs: tuple[OutputSpec, ...] = ()
        if line.plc_enabled:
            from inspection_station.core.line.plc_signals import check_trigger_line, parse_outputs

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
            if self.api_bind:
                from inspection_station.core.line.api import create_app
                from inspection_station.core.line.server import HttpServer

                app = create_app(
                    self.station,
                    actions=self.actions,
                    tokens=self.tokens,
                    metrics=self.metrics,
                    max_upload_bytes=int(self.line.max_upload_mb * (1 << 20)),
                )
                self.api = HttpServer(app, *self.api_bind, name="http-api").start()
                said.append(f"api: {self.api.url}")
            if self.metrics_bind and self.metrics is not None:
                from inspection_station.core.line.api import create_metrics_app
                from inspection_station.core.line.server import HttpServer

                app = create_metrics_app(self.metrics, self.tokens)
                self.metrics_server = HttpServer(app, *self.metrics_bind, name="metrics").start()
                said.append(f"metrics: {self.metrics_server.url}/metrics")
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
        if self.plc is not None:
            self.plc.detach()
            self.plc = None
        if self.metrics is not None:
            self.station.remove_listener(self.metrics)
        if self.plant is not None:
            self.station.remove_listener(self.plant)
            self.plant.stop()
            self.plant = None
