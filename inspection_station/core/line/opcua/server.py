"""The station's OPC UA server (asyncua) on a thread and event loop of its own.

Every method is a translation onto the station's actions (core/actions.py), with the OPC UA
session's station account as the actor (route "opcua"): PrepareRecipe / PrepareProduct =
`select_product`, StartSingleJob = `inspect` (a busy station answers Bad_InvalidState and the
refusal is counted like any other), Halt / ReportSafetyState = `hold`, Reset =
`release_hold`. The state machines, SystemState and the counters follow the station's
events; every finished cycle is a ResultReady event. A refused call answers a Bad status
code and says why in `VisionSystem/LastMessage` (and the Error output is negative).

Security: the None policy only when the server listens on loopback (anonymous sessions then
act as "opcua" with `[line] api_role`); otherwise Basic256Sha256 Sign / SignAndEncrypt only,
with the station's self-signed certificate, clients' certificates from the trust list, and
user-name sign-in against the station's accounts (AccessControl's role check, every call).
"""

from __future__ import annotations

import asyncio
import contextvars
import datetime
import logging
import threading
from collections.abc import Callable
from concurrent.futures import Future
from typing import TYPE_CHECKING, Any

from asyncua import Server
from asyncua import ua as _ua
from asyncua.crypto.permission_rules import User, UserRole
from asyncua.server.internal_session import InternalSession
from asyncua.server.user_managers import UserManager

from inspection_station.core.errors import StationError
from inspection_station.core.events import (
    ComponentChanged,
    CycleFinished,
    CycleStarted,
    HoldChanged,
    ProductSelected,
    RecipeSelected,
    SessionChanged,
    TriggerRefused,
)
from inspection_station.core.line.opcua import ids
from inspection_station.core.line.opcua.address_space import (
    Nodes,
    add_recipe_node,
    add_station_event_type,
    add_types,
    add_vision_system,
    recipe_id,
)
from inspection_station.core.line.opcua.certificates import (
    pki_dir,
    server_identity,
    trusted_certificates,
    valid_now,
)
from inspection_station.core.results.csv_log import missing_slots, wrong_parts
from inspection_station.core.settings.accounts import LoginRefused
from inspection_station.core.settings.network_rules import is_loopback

if TYPE_CHECKING:
    from inspection_station.core.actions import Outcome, StationActions
    from inspection_station.core.cycle import CycleResult
    from inspection_station.core.station import Station

# asyncua makes the standard's structures (ua.ResultDataType, ...) at run time from the
# data type definitions: its `ua` module is typed as Any here
ua: Any = _ua

log = logging.getLogger(__name__)
START_TIMEOUT_S = 60.0
ANONYMOUS = "opcua"

# The calling session's user, for the method callbacks (asyncua passes them no session).
_CALLER: contextvars.ContextVar[User | None] = contextvars.ContextVar("opcua_caller", default=None)
_original_call = InternalSession.call


async def _call_with_user(self: InternalSession, params):  # the session's user visible to our callbacks
    token = _CALLER.set(self.user)
    try:
        return await _original_call(self, params)
    finally:
        _CALLER.reset(token)


InternalSession.call = _call_with_user  # type: ignore[method-assign]

_X, _S = ua.VariantType.ExtensionObject, ua.VariantType.String
_EVENT_FIELD_TYPES = {
    "ResultId": _X, "MeasId": _X, "JobId": _X, "ExternalRecipeId": _X, "InternalRecipeId": _X, "PartId": _X,
    "ProcessingTimes": _X, "InternalConfigurationId": _X, "ProductId": _X, "ResultContent": ua.VariantType.Variant,
    "IsPartial": ua.VariantType.Boolean, "IsSimulated": ua.VariantType.Boolean, "ResultState": ua.VariantType.Int32,
    "CreationTime": ua.VariantType.DateTime, "Verdict": _S, "CycleId": _S, "Recipe": _S, "RecipeVersion": _S,
    "MissingSlots": _S, "WrongParts": _S, "CycleTimeMs": ua.VariantType.Double, "Error": _S,
}

STATUS_OF_OUTCOME = {
    "denied": ua.StatusCodes.BadUserAccessDenied,
    "invalid": ua.StatusCodes.BadInvalidArgument,
    "not_found": ua.StatusCodes.BadNotFound,
    "busy": ua.StatusCodes.BadInvalidState,
    "failed": ua.StatusCodes.BadInvalidState,
    "unavailable": ua.StatusCodes.BadInvalidState,
}


class StationUsers(UserManager):
    """User-name sign-in against the station's accounts; anonymous only on loopback."""

    def __init__(self, actions: StationActions, anonymous: bool) -> None:
        self.actions = actions
        self.anonymous = anonymous

    def get_user(self, iserver, username=None, password=None, certificate=None) -> User | None:
        if username is None:
            return User(role=UserRole.User, name=None) if self.anonymous else None
        try:
            user = self.actions.access.store.authenticate(username, password or "")
        except LoginRefused as exc:
            log.warning("OPC UA sign-in of %r refused: %s", username, exc)
            self._audit_refusal(username, str(exc))
            return None
        except StationError as exc:  # the accounts store cannot be read: nobody signs in
            log.error("OPC UA sign-in of %r: %s", username, exc)
            return None
        return User(role=UserRole.User, name=user.name)

    def _audit_refusal(self, name: str, reason: str) -> None:
        from inspection_station.core.settings.audit import Actor, AuditError

        try:
            self.actions.audit.record("login", name or "(empty)", None, reason, action="failed",
                                      actor=Actor(name or "(empty)", "", self.actions.station_name, route="opcua"))
        except AuditError as exc:
            log.error("failed OPC UA login of %r not audited: %s", name, exc)


class OpcUaServer:
    def __init__(self, station: Station, actions: StationActions, host: str, port: int, *,
                 pki: str = "", recent: int = 200) -> None:
        self.station = station
        self.actions = actions
        self.host = host
        self.port = port
        self.loopback = is_loopback(host)
        self.identity = server_identity(pki_dir(pki), station.settings.station.name, host)
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._server: Server | None = None
        self.nodes: Nodes | None = None
        self._generator: Any = None
        self._unsubscribe: Callable[[], None] | None = None
        self._job_lock = threading.Lock()
        self._job_number = 0
        self._starting_job: dict[str, str] | None = None
        self._running_job: dict[str, str] | None = None
        self._handles = 0
        self._refresh_lock = threading.Lock()  # never held while publishing (the job lock may be)
        self._refresh_pending = False
        self._setup_wanted = True
        self.results_emitted = 0

    # --- life cycle -----------------------------------------------------------------------

    @property
    def url(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"opc.tcp://{host}:{self.port}"

    @property
    def thumbprint(self) -> str:
        return self.identity.thumbprint

    def start(self) -> OpcUaServer:
        self._loop = asyncio.new_event_loop()
        ready: Future = Future()
        self._thread = threading.Thread(target=self._run, args=(ready,), name="opcua", daemon=True)
        self._thread.start()
        try:
            ready.result(START_TIMEOUT_S)
        except BaseException as exc:
            self.stop()
            reason = exc if isinstance(exc, StationError) else f"{type(exc).__name__}: {exc}"
            raise StationError(f"opcua: the server on {self.url} did not start: {reason}") from None
        self._unsubscribe = self.station.bus.subscribe(
            self._on_event, CycleStarted, CycleFinished, TriggerRefused, ComponentChanged, HoldChanged,
            ProductSelected, RecipeSelected, SessionChanged)
        self._refresh_soon(True)
        return self

    def _run(self, ready: Future) -> None:
        loop = self._loop
        assert loop is not None
        asyncio.set_event_loop(loop)
        try:
            loop.run_until_complete(self._start(ready))
        except BaseException as exc:  # noqa: BLE001 - reported to start()
            if not ready.done():
                ready.set_exception(exc)
            return
        loop.run_forever()
        try:
            if self._server is not None:
                loop.run_until_complete(self._server.stop())
        except Exception:  # noqa: BLE001 - stopping anyway
            log.exception("opcua server stop")
        finally:
            loop.close()

    def stop(self, timeout_s: float = 10.0) -> None:
        if self._unsubscribe is not None:
            self._unsubscribe()
            self._unsubscribe = None
        loop = self._loop
        if loop is not None and loop.is_running():
            loop.call_soon_threadsafe(loop.stop)
        if self._thread is not None and self._thread is not threading.current_thread():
            self._thread.join(timeout_s)

    async def _start(self, ready: Future) -> None:
        name = self.station.settings.station.name
        server = Server(user_manager=StationUsers(self.actions, anonymous=self.loopback))
        await server.init()
        server.set_endpoint(self.url)
        server.set_server_name(f"Inspection Station {name}")
        await server.set_application_uri(self.identity.application_uri)
        policies = [ua.SecurityPolicyType.Basic256Sha256_SignAndEncrypt, ua.SecurityPolicyType.Basic256Sha256_Sign]
        if self.loopback:
            policies.insert(0, ua.SecurityPolicyType.NoSecurity)
        server.set_security_policy(policies)
        tokens = [ua.UserNameIdentityToken] + ([ua.AnonymousIdentityToken] if self.loopback else [])
        server.set_identity_tokens(tokens)
        await server.load_certificate(str(self.identity.cert_path))
        await server.load_private_key(str(self.identity.key_path))
        server.set_certificate_validator(self._validate_client)
        mv = await server.register_namespace(ids.MV_URI)
        ns = await server.register_namespace(self.identity.application_uri)
        await add_types(server, mv)
        event_type = await add_station_event_type(server, ns, mv)
        self.nodes = await add_vision_system(server, mv, ns, name, self._methods())
        await self.nodes.vision_system.write_attribute(
            ua.AttributeIds.EventNotifier, ua.DataValue(ua.Variant(1, ua.VariantType.Byte)))
        self._generator = await server.get_event_generator(event_type, self.nodes.vision_system.nodeid)
        await self._add_recipes()
        try:
            await server.start()
        except OSError as exc:
            raise StationError(f"opcua: cannot listen on {self.host}:{self.port}: {exc.strerror or exc}") from None
        if self.port == 0:  # asked for any free port: the one the OS gave
            listening: Any = server.bserver._server if server.bserver else None
            sockets = listening.sockets if listening is not None else []
            if sockets:
                self.port = int(sockets[0].getsockname()[1])
        self._server = server
        ready.set_result(True)

    async def _validate_client(self, cert, app_description) -> None:
        """Sign / SignAndEncrypt: only a certificate in the trust list, valid today."""
        from cryptography.hazmat.primitives.serialization import Encoding

        der = cert.public_bytes(Encoding.DER)
        for trusted in trusted_certificates(self.identity.trusted):
            if trusted.public_bytes(Encoding.DER) == der and valid_now(cert):
                return
        from inspection_station.core.atomic import atomic_write_bytes
        from inspection_station.core.line.opcua.certificates import thumbprint

        try:  # kept for an engineer to review (and move to trusted/ if it is right)
            atomic_write_bytes(self.identity.rejected / f"{thumbprint(der)}.der", der, backup=False)
        except OSError as exc:
            log.warning("rejected client certificate not kept: %s", exc)
        log.warning("OPC UA client %s refused: its certificate %s is not in %s",
                    app_description.ApplicationUri, thumbprint(der), self.identity.trusted)
        from asyncua.common.utils import ServiceError

        raise ServiceError(ua.StatusCodes.BadCertificateUntrusted)

    # --- events from the station (its threads) -> the server's loop -------------------------

    def _soon(self, coro) -> None:
        loop = self._loop
        if loop is None or not loop.is_running():
            coro.close()
            return
        asyncio.run_coroutine_threadsafe(coro, loop)

    def _on_event(self, event) -> None:
        if isinstance(event, CycleStarted) and event.source == "opcua":
            self._running_job = self._starting_job  # published inside our own inspect call
        if isinstance(event, CycleFinished):
            job, self._running_job = (self._running_job, None) if event.result.trigger == "opcua" else (None, None)
            self._soon(self._result_ready(event.result, job))
            return
        if isinstance(event, RecipeSelected):
            self._soon(self._add_recipes())
        setup = not isinstance(event, CycleStarted | TriggerRefused)  # the set-up changes only with these
        self._refresh_soon(setup)

    def _refresh_soon(self, setup: bool) -> None:
        """Coalesced: a burst of events (20 refused triggers) is one refresh, not twenty."""
        with self._refresh_lock:
            self._setup_wanted = self._setup_wanted or setup
            if self._refresh_pending:
                return
            self._refresh_pending = True
        self._soon(self._refresh_all())

    async def _refresh_all(self) -> None:
        with self._refresh_lock:
            self._refresh_pending = False
            setup, self._setup_wanted = self._setup_wanted, False
        nodes = self.nodes
        if nodes is None:
            return
        top, auto, system = self._states()
        await nodes.state.write_value(ua.LocalizedText(ids.STATE_NAMES[top]))
        await nodes.state_id.write_value(ua.Variant(ua.NodeId(top, nodes.mv), ua.VariantType.NodeId))
        await nodes.auto_state.write_value(ua.LocalizedText(ids.STATE_NAMES[auto]))
        await nodes.auto_state_id.write_value(ua.Variant(ua.NodeId(auto, nodes.mv), ua.VariantType.NodeId))
        await nodes.system_state.write_value(ua.SystemStateDescriptionDataType(
            State=ua.SystemStateDataType(system[0]), StateDescription=system[1]))
        hold = self.station.state.hold
        await nodes.safety_triggered.write_value(bool(hold))
        await nodes.safety_information.write_value(hold)
        counts = self.station.statistics.snapshot()
        for name, value in (("CyclesOk", counts.counts.get("OK", 0)), ("CyclesNok", counts.counts.get("NOK", 0)),
                            ("CyclesError", counts.counts.get("ERROR", 0)),
                            ("TriggersRefused", self._refused())):
            await nodes.counters[name].write_value(ua.Variant(int(value), ua.VariantType.UInt64))
        last = self.station.last_result
        if last is not None:
            await nodes.counters["LastCycleTimeMs"].write_value(float(last.times.total_ms or 0.0))
        if setup:
            await self._refresh_setup()

    async def _refresh_setup(self) -> None:
        """What the machinery runs with, read back from it: the running detector's threshold and
        the camera's own exposure node (not the settings that asked for them)."""
        nodes = self.nodes
        if nodes is None:
            return
        detector = self.station.detector
        if detector is not None:
            await nodes.counters["ModelConfidence"].write_value(float(detector.settings.confidence))
        recipe = self.station.state.recipe
        await nodes.counters["Recipe"].write_value(recipe.name if recipe else "")
        await nodes.counters["RecipeVersion"].write_value(recipe.version if recipe else "")
        camera = self.station.camera
        if camera is None:
            return
        try:
            exposure = await asyncio.wait_for(asyncio.wrap_future(camera.call_in_worker(_exposure_of)), 5.0)
        except (TimeoutError, Exception):  # noqa: BLE001 - a camera between opens: next time
            return
        if exposure is not None:
            await nodes.counters["ExposureTimeUs"].write_value(float(exposure))

    def _refused(self) -> int:
        return int(self.station.statistics.snapshot().refused_triggers)

    def _states(self) -> tuple[int, int, tuple[int, str]]:
        """(VisionStateMachine state, its automatic mode's state, (SystemState, description))."""
        snap = self.station.state.snapshot()
        camera = snap.component("camera")[0]
        model = snap.component("model")[0]
        patterns = snap.component("patterns")[0]
        if self.station.stopped:
            return ids.PREOPERATIONAL, ids.INITIALIZED, (ids.NST, "NST: the station is stopped")
        if snap.hold:
            return ids.HALTED, ids.INITIALIZED, (ids.SDT, f"SDT: on hold: {snap.hold}")
        if camera == "disconnected" or model == "error" or patterns == "error":
            why = snap.component("camera")[1] if camera == "disconnected" else (
                snap.component("model")[1] if model == "error" else snap.component("patterns")[1])
            return ids.ERROR, ids.INITIALIZED, (ids.UDT, f"UDT: {why}")
        if camera not in ("connected", "emulated") or model != "ready" or patterns != "ready":
            return ids.PREOPERATIONAL, ids.INITIALIZED, (ids.NST, "NST: starting")
        if self.station.busy:
            return ids.OPERATIONAL, ids.SINGLE_EXECUTION, (ids.PRD, "PRD: inspecting")
        if snap.product is None:
            return ids.OPERATIONAL, ids.INITIALIZED, (ids.SBY, "SBY: no recipe prepared")
        if snap.session is not None and snap.session.role in ("engineer", "admin"):
            return ids.OPERATIONAL, ids.READY, (ids.ENG, f"ENG: {snap.session.user} is signed in")
        return ids.OPERATIONAL, ids.READY, (ids.SBY, "SBY: ready")

    async def _add_recipes(self) -> None:
        nodes = self.nodes
        if nodes is None:
            return
        for node in list(nodes.recipe_nodes.values()):
            await self._server.delete_nodes([node], recursive=True) if self._server else None
        nodes.recipe_nodes.clear()
        active = self.station.state.recipe
        for name, recipe in self._recipes().items():
            await add_recipe_node(nodes, name, recipe.version, active is not None and active.name == name,
                                  recipe.product_ids)

    def _recipes(self) -> dict[str, Any]:
        from inspection_station.core.recipes.files import recipe_for
        from inspection_station.core.recipes.model import Recipe

        out = {}
        for name, ps in sorted(self.station.pattern_sets.items()):
            try:
                out[name] = recipe_for(name, ps.path)
            except StationError:
                out[name] = Recipe(name)  # listed; preparing it answers why not
        return out

    async def _result_ready(self, result: CycleResult, job: dict[str, str] | None) -> None:
        if self._generator is None:
            return
        e = self._generator.event
        data = self._result_data(result, job)
        # the event object takes each field's type from the type's property value (None): say it
        e.data_types.update(_EVENT_FIELD_TYPES)
        e.ResultId = data.ResultId
        e.IsPartial = False
        e.IsSimulated = self.station.state.snapshot().component("camera")[0] == "emulated"
        e.ResultState = data.ResultState
        e.MeasId = data.MeasId
        e.JobId = data.JobId
        e.ExternalRecipeId = data.ExternalRecipeId
        e.InternalRecipeId = data.InternalRecipeId
        e.CreationTime = data.CreationTime
        e.PartId = data.PartId
        e.ProcessingTimes = data.ProcessingTimes
        e.ResultContent = data.ResultContent  # Variants (strings)
        e.InternalConfigurationId = data.InternalConfigurationId
        e.ProductId = data.ProductId
        e.Verdict = str(result.verdict)
        e.CycleId = result.cycle_id
        e.Recipe = result.recipe
        e.RecipeVersion = result.recipe_version
        e.MissingSlots = missing_slots(result)
        e.WrongParts = wrong_parts(result)
        e.CycleTimeMs = float(result.times.total_ms or 0.0)
        e.Error = result.error
        e.Message = ua.LocalizedText(f"{result.cycle_id} {result.verdict}")
        e.Severity = 100 if str(result.verdict) == "OK" else 500
        await self._generator.trigger(time_attr=datetime.datetime.now(datetime.UTC))
        self.results_emitted += 1
        self._refresh_soon(False)

    def _result_data(self, result: CycleResult, job: dict[str, str] | None = None):
        verdict = str(result.verdict)
        job = job or {}
        created = result.timestamp.astimezone(datetime.UTC)
        total = float(result.times.total_ms or 0.0)
        content = [f"verdict={verdict}", f"cycle_id={result.cycle_id}", f"missing_slots={missing_slots(result)}",
                   f"wrong_parts={wrong_parts(result)}", f"cycle_ms={total:.2f}", f"error={result.error}"]
        return ua.ResultDataType(
            ResultId=ua.ResultIdDataType(Id=result.cycle_id),
            IsPartial=False,
            ResultState=ids.RESULT_STATE_OF_VERDICT.get(verdict, 0),
            MeasId=ua.MeasIdDataType(Id=job.get("meas_id", "")),
            PartId=ua.PartIdDataType(Id=result.part_id),
            ExternalRecipeId=recipe_id(result.recipe or result.pattern_set, result.recipe_version, external=True),
            InternalRecipeId=recipe_id(result.recipe or result.pattern_set, result.recipe_version),
            ProductId=ua.ProductIdDataType(Id=job.get("product_id", "")),
            InternalConfigurationId=ua.ConfigurationIdDataType(Id=self.station.settings.station.name, Version="",
                                                               Hash=b"", HashAlgorithm="",
                                                               Description=ua.LocalizedText("")),
            JobId=ua.JobIdDataType(Id=job.get("job_id", result.cycle_id)),
            CreationTime=created,
            ProcessingTimes=ua.ProcessingTimesDataType(
                StartTime=created - datetime.timedelta(milliseconds=total), EndTime=created,
                AcquisitionDuration=float(result.times.grab_ms or 0.0),
                ProcessingDuration=total - float(result.times.grab_ms or 0.0)),
            ResultContent=[ua.Variant(c, ua.VariantType.String) for c in content],
        )

    # --- methods ------------------------------------------------------------------------------

    def _methods(self) -> dict[str, Callable]:
        return {name: _values(fn) for name, fn in self._callbacks().items()}

    def _callbacks(self) -> dict[str, Callable]:
        return {
            "StartSingleJob": self._start_single_job, "Stop": self._stop, "Abort": self._abort,
            "Reset": self._reset, "Halt": self._halt,
            "PrepareRecipe": self._prepare_recipe, "UnprepareRecipe": self._unprepare_recipe,
            "GetRecipeListFiltered": self._get_recipe_list, "PrepareProduct": self._prepare_product,
            "GetResultById": self._get_result_by_id, "GetResultListFiltered": self._get_result_list,
            "ReleaseResultHandle": self._release_handle, "ReportSafetyState": self._report_safety,
        }

    def _actor(self):
        user = _CALLER.get()
        if user is None:
            return None
        if user.name is None:  # anonymous on loopback: the API's role
            return self.actions.opcua_actor(ANONYMOUS, self.actions.state.settings.line.api_role)
        account = self.actions.access.store.get(user.name)  # the role as it is NOW (fail closed)
        if account is None:
            return None
        return self.actions.opcua_actor(user.name, account.role)

    async def _answer(self, outcome: Outcome, outputs: list) -> Any:
        await self._say(outcome.message)
        if outcome.ok:
            return outputs
        return ua.StatusCode(STATUS_OF_OUTCOME.get(outcome.status, ua.StatusCodes.BadInternalError))

    async def _say(self, message: str) -> None:
        if self.nodes is not None:
            await self.nodes.last_message.write_value(message)

    def _who_or_refuse(self):
        actor = self._actor()
        if actor is None:
            return None, ua.StatusCode(ua.StatusCodes.BadUserAccessDenied)
        return actor, None

    async def _start_single_job(self, parent, meas_id, part_id, recipe_id_, product_id, parameters) -> Any:
        from inspection_station.core.actions import Outcome

        actor, refused = self._who_or_refuse()
        if refused:
            return refused
        wanted = _text(recipe_id_)
        if wanted and wanted != self.station.state.product:
            return await self._answer(Outcome.refused(
                "invalid", f"StartSingleJob: recipe {wanted} is not prepared (active: {self.station.state.product})"), [])
        part = _text(part_id)
        if part:
            try:
                self.station.set_part_id(part)
            except StationError as exc:
                return await self._answer(Outcome.refused("invalid", f"PartId: {exc}"), [])
        with self._job_lock:
            self._job_number += 1
            job_id = f"{self.station.settings.station.name}-job-{self._job_number}"
            self._starting_job = {"job_id": job_id, "meas_id": _text(meas_id), "product_id": _text(product_id)}
            try:
                outcome = self.actions.inspect(actor, "opcua")
            finally:
                self._starting_job = None
        if not outcome.ok:
            return await self._answer(outcome, [])
        return await self._answer(outcome, [ua.Variant(ua.JobIdDataType(Id=job_id)), _ok()])

    async def _stop(self, parent, cause, description) -> Any:
        # a single job ends by itself within one cycle: nothing to stop (Ready follows)
        await self._say("Stop: no continuous execution runs; a single job ends with its result")
        return [_ok()]

    async def _abort(self, parent, cause, description) -> Any:
        await self._say("Abort: a running cycle is never cut off (it ends with its result within one cycle)")
        return [_ok()]

    async def _halt(self, parent, cause, description) -> Any:
        actor, refused = self._who_or_refuse()
        if refused:
            return refused
        outcome = self.actions.hold(actor, f"OPC UA Halt: {description or cause}")
        return await self._answer(outcome, [_ok()])

    async def _reset(self, parent, cause, description) -> Any:
        actor, refused = self._who_or_refuse()
        if refused:
            return refused
        return await self._answer(self.actions.release_hold(actor), [_ok()])

    async def _report_safety(self, parent, triggered, information) -> Any:
        actor, refused = self._who_or_refuse()
        if refused:
            return refused
        outcome = (self.actions.hold(actor, f"safety: {information or 'triggered'}") if triggered
                   else self.actions.release_hold(actor))
        return await self._answer(outcome, [_ok()])

    async def _switch(self, actor, name: str) -> Outcome:
        loop = asyncio.get_running_loop()  # the switch may wait for a model load: off the loop
        return await loop.run_in_executor(None, self.actions.select_product, actor, name)

    async def _prepare_recipe(self, parent, external_id, internal_id) -> Any:
        actor, refused = self._who_or_refuse()
        if refused:
            return refused
        name = _text(internal_id) or _text(external_id)
        outcome = await self._switch(actor, name)
        recipe = self.station.state.recipe
        version = recipe.version if recipe is not None and recipe.name == name else ""
        return await self._answer(outcome, [ua.Variant(recipe_id(name, version)),
                                            ua.Variant(True, ua.VariantType.Boolean), _ok()])

    async def _unprepare_recipe(self, parent, external_id, internal_id) -> Any:
        name = _text(internal_id) or _text(external_id)
        # the station always judges against one recipe: it stays until another is prepared
        await self._say(f"UnprepareRecipe {name}: the recipe stays active until another is prepared")
        return [ua.Variant(recipe_id(name, "")), _ok()]

    async def _prepare_product(self, parent, product_id) -> Any:
        from inspection_station.core.actions import Outcome

        actor, refused = self._who_or_refuse()
        if refused:
            return refused
        product = _text(product_id)
        matches = [n for n, r in self._recipes().items() if product in r.product_ids or (not r.product_ids and n == product)]
        if len(matches) != 1:
            why = "no recipe" if not matches else f"{len(matches)} recipes ({', '.join(matches)})"
            return await self._answer(Outcome.refused("not_found", f"PrepareProduct {product!r}: {why} "
                                                                   "name it in [recipe] product_ids"), [])
        outcome = await self._switch(actor, matches[0])
        recipe = self.station.state.recipe
        return await self._answer(outcome, [ua.Variant(recipe_id(matches[0], recipe.version if recipe else "")), _ok()])

    async def _get_recipe_list(self, parent, external_id, product_id, is_prepared, max_results, start, timeout) -> Any:
        wanted, product = _text(external_id), _text(product_id)
        active = self.station.state.recipe
        out = []
        for name, recipe in self._recipes().items():
            prepared = active is not None and active.name == name
            if wanted and wanted != name:
                continue
            if product and product not in recipe.product_ids:
                continue
            if is_prepared in (0, 1) and bool(is_prepared) != prepared:
                continue
            out.append(recipe_id(name, recipe.version))
        start = int(start or 0)
        page = out[start:start + int(max_results)] if max_results else out[start:]
        return [ua.Variant(start + len(page) >= len(out), ua.VariantType.Boolean),
                ua.Variant(len(page), ua.VariantType.UInt32), ua.Variant(self._handle(), ua.VariantType.UInt32),
                ua.Variant([ua.Variant(r) for r in page] and page), _ok()]

    async def _get_result_by_id(self, parent, result_id, timeout) -> Any:
        wanted = _text(result_id)
        result = self.station.find_result(wanted)
        if result is None:
            await self._say(f"GetResultById: {wanted!r} is not among the recent results")
            return ua.StatusCode(ua.StatusCodes.BadNotFound)
        return [ua.Variant(self._handle(), ua.VariantType.UInt32), ua.Variant(self._result_data(result)), _ok()]

    async def _get_result_list(self, parent, result_state, meas_id, part_id, external_recipe, internal_recipe,
                               external_config, internal_config, product_id, job_id, max_results, start,
                               timeout) -> Any:
        part, recipe = _text(part_id), _text(internal_recipe) or _text(external_recipe)
        state = int(result_state or 0)
        rows = []
        for result in reversed(list(self.station.recent_results)):  # newest first
            if part and result.part_id != part:
                continue
            if recipe and (result.recipe or result.pattern_set) != recipe:
                continue
            if state and ids.RESULT_STATE_OF_VERDICT.get(str(result.verdict), 0) != state:
                continue
            rows.append(result)
        start = int(start or 0)
        page = rows[start:start + int(max_results)] if max_results else rows[start:]
        return [ua.Variant(start + len(page) >= len(rows), ua.VariantType.Boolean),
                ua.Variant(len(page), ua.VariantType.UInt32), ua.Variant(self._handle(), ua.VariantType.UInt32),
                ua.Variant([self._result_data(r) for r in page]), _ok()]

    async def _release_handle(self, parent, handle) -> Any:
        return [_ok()]  # results are answered whole: a handle holds nothing

    def _handle(self) -> int:
        self._handles = (self._handles + 1) % (1 << 32)
        return self._handles


def _exposure_of(camera) -> float | None:
    """Camera worker thread: the exposure node's value (None: no such node, or no camera)."""
    device = getattr(camera, "instant_camera", None)
    if device is None:
        return None
    for name in ("ExposureTimeAbs", "ExposureTime"):
        node: Any = getattr(device, name, None)
        try:
            return float(node.Value)
        except Exception:  # noqa: BLE001 - not readable on this camera
            continue
    return None


def _values(fn: Callable) -> Callable:
    """asyncua hands a method its arguments as Variants: the callbacks take their values."""
    async def call(parent, *args):
        try:
            return await fn(parent, *(a.Value if isinstance(a, ua.Variant) else a for a in args))
        except TypeError as exc:  # a client sent the wrong number of arguments
            log.warning("OPC UA call refused: %s", exc)
            return ua.StatusCode(ua.StatusCodes.BadArgumentsMissing)

    return call


def _ok() -> ua.Variant:
    return ua.Variant(0, ua.VariantType.Int32)


def _text(value: Any) -> str:
    """The Id of a standard id structure (or a plain string) a client sent; '' when empty."""
    if value is None:
        return ""
    if isinstance(value, str):
        return value.strip()
    return str(getattr(value, "Id", "") or "").strip()


__all__ = ["OpcUaServer", "is_loopback"]
