"""Every state-changing thing a person or a machine can do at the station, written once.

Each action is one call that checks the role (from `[access]`), validates, persists,
audits, applies and emits, and returns an `Outcome` the caller shows. The GUI, the HTTP
API, the command line (and any later adapter: OPC UA, PLC lines) only translate to and
from these calls; none of them changes the station its own way.

Who acts is an `Actor` (core/settings/audit.py): the signed-in person at the screen
(`gui_actor()`), an API token by its name (`api_actor()`), the operating-system account on
the command line (`cli_actor`). The role check is the same for all (`AccessControl.permits`).

Fail closed: when the settings file or the audit trail cannot be written, nothing changes
and the outcome says why. A question asked in one session (reset the shift, quit) carries
that session's id; an answer that arrives after the session ended is refused.
"""

from __future__ import annotations

import dataclasses
import logging
import threading
from collections.abc import Callable
from concurrent.futures import Future
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from inspection_station.core.errors import StationError
from inspection_station.core.events import (
    AccountsChanged,
    Notice,
    PatternLibraryChanged,
    SettingsApplied,
    ShiftReset,
)
from inspection_station.core.recipes.active import recipe_in_force
from inspection_station.core.recipes.model import Recipe
from inspection_station.core.settings.accounts import AccountError, AccountStore, LoginRefused, User
from inspection_station.core.settings.audit import Actor, AuditError, AuditLog
from inspection_station.core.settings.checks import check_settings
from inspection_station.core.settings.model import (
    ModelSettings,
    Settings,
    resolve_patterns_path,
    user_config_path,
)
from inspection_station.core.settings.session import NOBODY, SYSTEM_ROLE, AccessControl
from inspection_station.core.settings.store import SettingsStore
from inspection_station.core.state import StationState, settings_keys_changed

if TYPE_CHECKING:
    from inspection_station.core.cycle import CycleResult
    from inspection_station.core.patterns.model import PatternSet, Slot
    from inspection_station.core.station import Station

log = logging.getLogger(__name__)

RECIPE_WAIT_S = 60.0  # a recipe's model load and camera reopen, at most

OK = "ok"
DENIED = "denied"  # the actor may not (role), or the session that asked has ended
INVALID = "invalid"  # the request names something impossible (a bad value, a wrong verdict)
NOT_FOUND = "not_found"  # no such product, cycle, user
BUSY = "busy"  # a cycle is running: the trigger was refused and counted
FAILED = "failed"  # it could not be done (disk, audit, camera): nothing changed
UNAVAILABLE = "unavailable"  # the station is stopped, or on hold

STATION_ACTOR_NAME = "(station)"  # the station itself: e.g. the revert after a failed model load


@dataclass(frozen=True)
class Outcome:
    ok: bool
    status: str
    message: str  # one line for the person or the client: what happened, or why not
    value: Any = None  # a Future (inspect, apply, overrule), a Session, a User, a path …

    @classmethod
    def done(cls, message: str, value: Any = None) -> Outcome:
        return cls(True, OK, message, value)

    @classmethod
    def refused(cls, status: str, message: str, value: Any = None) -> Outcome:
        return cls(False, status, message, value)


@dataclass(frozen=True)
class ApplyReport:
    """What `apply_settings`' future resolves to once the station has loaded what it must."""

    ok: bool
    message: str


class StationActions:
    """The actions of one station (or, with `station=None`, of its files only: the CLI)."""

    def __init__(
        self,
        state: StationState,
        access: AccessControl,
        store: SettingsStore,
        *,
        station: Station | None = None,
        api_role: str | None = None,
    ) -> None:
        self.state = state
        self.bus = state.bus
        self.access = access
        self.store = store
        self.station = station
        self._api_role = api_role
        self._switching = threading.Lock()  # product / recipe switches, one at a time
        # [access] and the station's name in force for every route, whoever applied them
        self.bus.subscribe(self._follow_settings, SettingsApplied)
        # an account changed, whichever screen or command did it: one event
        access.on_user_change = lambda action, name, actor: self.bus.publish(AccountsChanged(action, name, actor))

    @classmethod
    def for_station(
        cls,
        station: Station,
        settings_path: str | Path | None,
        *,
        access: AccessControl | None = None,
        accounts_path: str | Path | None = None,
        audit_path: str | Path | None = None,
    ) -> StationActions:
        """The actions of a running station: its state, the station's accounts and audit trail
        (or `access`, already made), saving to `settings_path` (None: the user's settings file)."""
        settings = station.settings
        if access is None:
            access = AccessControl(AccountStore(accounts_path), AuditLog(audit_path), settings.access,
                                   settings.station.name, holder=station.state)
        store = SettingsStore(station.station_wide, settings_path or user_config_path(), access.audit)
        return cls(station.state, access, store, station=station)

    @classmethod
    def offline(
        cls,
        settings: Settings,
        settings_path: str | Path | None,
        *,
        accounts_path: str | Path | None = None,
        audit_path: str | Path | None = None,
        access: AccessControl | None = None,
    ) -> StationActions:
        """The actions on a station's files with no station running (the command line, a
        settings dialog opened without a station)."""
        state = StationState(settings)
        if access is None:
            access = AccessControl(AccountStore(accounts_path), AuditLog(audit_path), settings.access,
                                   settings.station.name, holder=state)
        else:
            access.bind_holder(state)
        store = SettingsStore(settings, settings_path or user_config_path(), access.audit)
        return cls(state, access, store)

    def _follow_settings(self, event: SettingsApplied) -> None:
        if event.old.access != event.new.access or event.old.station.name != event.new.station.name:
            self.access.apply_settings(event.new.access, event.new.station.name)

    @property
    def audit(self) -> AuditLog:
        return self.access.audit

    @property
    def station_name(self) -> str:
        return self.state.settings.station.name

    # --- who --------------------------------------------------------------------------------

    def gui_actor(self) -> Actor:
        """The person at the screen: the signed-in session, else the station's anonymous operator."""
        session = self.state.session
        if session is None:
            return Actor(NOBODY, "operator", self.station_name, route="gui")
        return Actor(session.user, session.role, self.station_name, route="gui")

    def api_actor(self, token_name: str | None = None) -> Actor:
        """An API request: named after its token ("api" on loopback without tokens)."""
        role = self._api_role or self.state.settings.line.api_role
        return Actor(f"api:{token_name}" if token_name else "api", role, self.station_name, route="api")

    def plc_actor(self) -> Actor:
        """The PLC selecting a recipe on the camera's input lines: role `[line] api_role`."""
        role = self._api_role or self.state.settings.line.api_role
        return Actor("plc", role, self.station_name, route="plc")

    def opcua_actor(self, user: str, role: str) -> Actor:
        """An OPC UA session: "opcua:<account>" for the station account it signed in with (its
        role), "opcua" for an anonymous session on loopback (the API's role); route "opcua"."""
        return Actor(f"opcua:{user}" if user and user != "opcua" else "opcua", role, self.station_name, route="opcua")

    def permits(self, actor: Actor, action: str) -> bool:
        return self.access.permits(actor, action)

    def _deny(self, actor: Actor, action: str) -> Outcome | None:
        if self.access.permits(actor, action):
            return None
        return Outcome.refused(DENIED, _sentence(self.access.refusal(actor, action)))

    def _session_ended(self, session_id: str | None) -> Outcome | None:
        """A question asked in a session that is over (signed out, idle lock, next login)."""
        if session_id is None:
            return None
        session = self.state.session
        if session is None or session.id != session_id:
            return Outcome.refused(DENIED, "Not done: the session that asked has ended (signed out); sign in and ask again")
        return None

    # --- triggers -----------------------------------------------------------------------------

    def inspect(
        self, actor: Actor, source: str = "button", *, pattern_set: str | None = None, min_score: float = 0.0
    ) -> Outcome:
        """Trigger one cycle (value: its Future[CycleResult]). A refusal is counted by the station.

        `pattern_set` / `min_score`: this one cycle's (the old backend's per-request `pattern_key`
        and `min_score`, core/line/legacy.py); the product stays as it is."""
        station = self.station
        if station is None or station.stopped:
            return Outcome.refused(UNAVAILABLE, "The station is stopped")
        hold = self.state.hold
        try:
            future = station.trigger_future(source, pattern_set=pattern_set, min_score=min_score)
        except StationError as exc:  # a pattern set that is not loaded
            return Outcome.refused(NOT_FOUND, str(exc))
        if future is None:
            if hold:
                return Outcome.refused(UNAVAILABLE, f"Refused: the station is on hold ({hold})")
            if station.stopped:
                return Outcome.refused(UNAVAILABLE, "The station is stopped")
            return Outcome.refused(BUSY, "A cycle is still running; the trigger was refused and counted")
        return Outcome.done("Inspecting", future)

    # --- the product ----------------------------------------------------------------------------

    def product_names(self) -> list[str]:
        """The products to choose from: the loaded pattern sets (offline: the files' stems)."""
        if self.station is not None:
            return list(self.station.pattern_sets)
        from inspection_station.core.patterns.yaml_io import read_pattern_library

        return list(read_pattern_library(resolve_patterns_path(self.state.settings.patterns)).sets)

    def select_product(self, actor: Actor, name: str) -> Outcome:
        """Judge the next parts against product `name` with its recipe (core/recipes/): role-
        checked, saved (a reload, an Apply and a restart keep it), one audit line, then in force
        and emitted. A recipe that changes the model or the camera is applied first and waited
        for (triggers are refused meanwhile); when it cannot be applied (a broken recipe file, a
        model that does not load, a camera that refuses the exposure) the previous recipe stays
        active, nothing is saved, and the outcome says why."""
        denied = self._deny(actor, "product_switch")
        if denied:
            return denied
        name = (name or "").strip()
        with self._switching:  # one switch at a time, whichever route asked
            with self.state.lock:
                try:
                    names = self.product_names()
                except StationError as exc:
                    return Outcome.refused(FAILED, f"Not switched: {exc}")
                if name not in names:
                    return Outcome.refused(NOT_FOUND, f"No product {name!r}; have: {', '.join(names) or 'none'}")
                in_force = self.state.settings
                wide = self.store.settings
                old = self.state.product if self.station is not None else (wide.patterns.active or None)
                old_recipe = self.state.recipe
                new_wide = wide.replace("patterns", active=name)
                stays = f"; {old or 'the previous product'} stays active"
                try:
                    recipe, target = recipe_in_force(new_wide, name, self._pattern_file(name))
                except StationError as exc:
                    return Outcome.refused(INVALID, f"Recipe {name} not selected: {exc}{stays}")
                problems = check_settings(target)
                if problems:
                    p = problems[0]
                    return Outcome.refused(INVALID, f"Recipe {name} not selected: [{p.section}] {p.key}: "
                                                    f"{p.message}{stays}", p)
                if old == name and wide.patterns.active == name and target == in_force and recipe == old_recipe:
                    return Outcome.done(f"Product {name} is already active", name)
                waits = target.model != in_force.model or target.camera != in_force.camera
                if self.station is None or not waits:  # nothing to wait for: saved first, as always
                    saved = self._commit_switch(wide, new_wide, actor, old, old_recipe, name, recipe)
                    if not saved.ok:
                        return Outcome.refused(FAILED, f"Product not switched: {saved.message}")
                    if self.station is None:
                        self.state.set_settings(target, actor, reason="product switch")
                        self.state.set_product(name, actor)
                        self.state.set_recipe(recipe, actor)
                    else:
                        self.station.apply_settings(target, actor)  # selected; a reload only when needed
                        self.station.set_recipe(recipe, actor)
                    return Outcome.done(_switched(name, recipe), name)
            problem = self._apply_recipe(target, in_force, recipe, old_recipe, actor)
            if problem:
                return Outcome.refused(FAILED, f"Recipe {name} not selected: {problem}{stays}")
            with self.state.lock:
                saved = self._commit_switch(wide, new_wide, actor, old, old_recipe, name, recipe)
                if not saved.ok:
                    self._apply_recipe(in_force, target, old_recipe, recipe, None)
                    return Outcome.refused(FAILED, f"Product not switched: {saved.message}")
        return Outcome.done(_switched(name, recipe), name)

    def _pattern_file(self, name: str) -> Path | None:
        ps = self.station.pattern_sets.get(name) if self.station is not None else None
        return Path(ps.path) if ps is not None and ps.path else None

    def _commit_switch(self, wide: Settings, new_wide: Settings, actor: Actor, old: str | None,
                       old_recipe: Recipe | None, name: str, recipe: Recipe):
        """Save the product (the settings file holds only the station-wide values) and audit
        the switch once, naming the recipe versions when there are recipe files."""
        def label(product: str | None, r: Recipe | None) -> str | None:
            return f"{product} v{r.version}" if product and r is not None and r.version and r.name == product else product

        saved = self.store.commit(wide, new_wide, actor, lines=[
            ("product", "patterns.active", label(old, old_recipe), label(name, recipe), "switch")])
        if saved.ok and self.station is not None:
            self.station.station_wide = self.store.settings
        return saved

    def _apply_recipe(self, target: Settings, previous: Settings, recipe: Recipe | None,
                      previous_recipe: Recipe | None,
                      actor: Actor | None) -> str:
        """Put `target` in force on the station and wait for the model load and the camera's
        reopen; on failure put `previous` back. '' = applied, else why not."""
        station = self.station
        assert station is not None
        waits = target.model != previous.model or target.camera != previous.camera
        held = False
        if waits and not self.state.hold:  # no trigger judged by a half-applied recipe
            self.state.set_hold(f"switching to recipe {recipe.name if recipe else target.patterns.active}", actor)
            held = True
        try:
            problem = self._apply_and_wait(target, previous, actor)
            if problem:
                revert = self._apply_and_wait(previous, target, None)
                if revert:
                    problem += f" (and the previous set-up did not come back: {revert})"
                station.set_recipe(previous_recipe, None)
                return problem
            station.set_recipe(recipe, actor)
            return ""
        finally:
            if held:
                self.state.set_hold("", actor)

    def _apply_and_wait(self, target: Settings, previous: Settings, actor: Actor | None) -> str:
        from inspection_station.core.recipes.waiting import CameraOutcome, camera_reopens

        station = self.station
        assert station is not None
        camera = CameraOutcome(self.bus, reopens=camera_reopens(previous.camera, target.camera)) \
            if target.camera != previous.camera and station.camera is not None else None
        try:
            try:
                load = station.apply_settings(target, actor)
            except StationError as exc:
                return str(exc)
            if camera is not None:
                problem = camera.wait(station.camera_reconfigured, RECIPE_WAIT_S)
                if problem:
                    return problem
            if load is not None and target.model != previous.model:
                try:
                    outcome = load.result(RECIPE_WAIT_S)
                except Exception as exc:  # noqa: BLE001 - the load's failure is the switch's reason
                    return f"the model load did not finish: {exc}"
                if outcome is not None and outcome.model_loaded is False:
                    return f"the model did not load: {outcome.reason}"
            return ""
        finally:
            if camera is not None:
                camera.close()

    # --- settings -------------------------------------------------------------------------------

    def apply_settings(self, actor: Actor, new: Settings, base: Settings | None = None) -> Outcome:
        """Apply the keys that `new` changes against `base` (what the editor started from; default:
        the settings in force) onto the settings in force: checked, saved, audited per key, applied.

        Keys the editor did not touch keep what other routes set meanwhile (an operator's
        product switch survives an engineer's Apply of the confidence). The value is a
        Future[ApplyReport] that settles once a new model has loaded — or failed, in which case
        the running model stays and the saved file is put back to it, here in core."""
        base = base if base is not None else self.state.settings
        keys = settings_keys_changed(base, new)
        if not keys:
            return Outcome.done("No changes to apply.", _settled(ApplyReport(True, "No changes to apply.")))
        for action in _actions_for(keys):
            denied = self._deny(actor, action)
            if denied:
                return denied
        with self.state.lock:
            current = self.state.settings
            merged = _patch(current, new, keys)
            if merged == current:
                return Outcome.done("No changes to apply.", _settled(ApplyReport(True, "No changes to apply.")))
            problems = check_settings(merged)
            if problems:
                p = problems[0]
                return Outcome.refused(INVALID, f"Not applied: [{p.section}] {p.key}: {p.message}", p)
            saved = self._save_split(actor, new, keys)
            if not saved.ok:
                return saved
            message = saved.message
            if self.station is None:
                self.state.set_settings(merged, actor)
                return Outcome.done(message, _settled(ApplyReport(True, message)))
            try:
                load = self.station.apply_settings(merged, actor)
            except StationError as exc:
                return Outcome.refused(FAILED, f"Saved, but the station refused them: {exc}")
        report: Future = Future()
        if load is None:
            report.set_result(ApplyReport(True, message))
            return Outcome.done(message, report)
        model_changed = merged.model != current.model
        load.add_done_callback(lambda f: self._after_load(f, report, merged.model if model_changed else None, message))
        return Outcome.done(message + (" Loading the new model …" if model_changed else " Reloading the patterns …"),
                            report)

    def _save_split(self, actor: Actor, new: Settings, keys: tuple[str, ...]) -> Outcome:
        """Save an Apply: a key the active recipe sets is the recipe's (its file is edited, its
        version counted up, one audit line per key); every other key goes to the settings
        file as before. (The engineer edits the value in force: changing the station-wide
        value of a key the recipe overrides would change nothing while the recipe is active.)"""
        recipe = self.state.recipe
        recipe_keys = tuple(k for k in keys if recipe is not None and k in recipe.keys)
        wide = self.store.settings
        new_wide = _patch(wide, new, tuple(k for k in keys if k not in recipe_keys))
        where = []
        edited = None
        if recipe_keys:
            assert recipe is not None
            edited = self._edit_recipe(actor, recipe, {k: _value(new, k) for k in recipe_keys})
            if not edited.ok:
                return edited
            where.append(f"recipe {recipe.name} (version {edited.value.version})")
        if new_wide != wide:
            saved = self.store.commit(wide, new_wide, actor)
            if not saved.ok:
                if edited is not None and recipe is not None:  # both or neither
                    self._restore_recipe(recipe, edited.value)
                return Outcome.refused(FAILED, saved.message)
            if self.station is not None:
                self.station.station_wide = self.store.settings
            where.insert(0, str(self.store.path))
        if edited is not None:
            if self.station is not None:
                self.station.set_recipe(edited.value, actor)
            else:
                self.state.set_recipe(edited.value, actor)
        return Outcome.done(f"Saved to {' and '.join(where) or self.store.path} and applied.")

    def _edit_recipe(self, actor: Actor, recipe: Recipe, values: dict[str, Any]) -> Outcome:
        """Write `values` into the recipe's file (comments kept), then audit each key; an audit
        that fails puts the file back (fail closed, like the settings store)."""
        from inspection_station.core.recipes.files import save_recipe

        if recipe.path is None:
            return Outcome.refused(FAILED, f"Recipe {recipe.name} has no file to edit")
        before = recipe.path.read_bytes() if recipe.path.is_file() else None
        try:
            saved = save_recipe(recipe.with_values(values))
        except StationError as exc:
            return Outcome.refused(FAILED, f"Not saved: {exc}")
        try:
            audit = self.audit.as_actor(actor)
            for key, value in values.items():
                audit.record("recipe", f"{recipe.name}:{key}", recipe.value(key), value, action="edit")
        except AuditError as exc:
            self._restore_recipe(recipe, saved, before)
            return Outcome.refused(FAILED, f"Not changed: the audit trail cannot be written ({exc}); "
                                           "the recipe file was put back")
        return Outcome.done(f"recipe {recipe.name} saved", saved)

    def _restore_recipe(self, recipe: Recipe, saved: Recipe, before: bytes | None = None) -> None:
        from inspection_station.core.atomic import atomic_write_bytes, backup_path

        assert recipe.path is not None
        if before is None:
            bak = backup_path(recipe.path)
            before = bak.read_bytes() if bak.is_file() else None
        if before is not None:
            atomic_write_bytes(recipe.path, before, backup=False)

    def _after_load(self, load: Future, report: Future, asked: ModelSettings | None, message: str) -> None:
        """Loader thread: the outcome of the load decides, here (not in a dialog that may be gone)."""
        try:
            outcome = None if load.cancelled() else (load.exception() or load.result())
            if isinstance(outcome, BaseException) or outcome is None:
                report.set_result(ApplyReport(False, f"{message} The load did not finish: {outcome or 'cancelled'}"))
                return
            if asked is None or outcome.model_loaded is not False:
                report.set_result(ApplyReport(True, message if asked is None else f"{message} The new model runs."))
                return
            report.set_result(ApplyReport(False, f"Model not changed: {outcome.reason}{self._save_revert(asked)}"))
        except Exception as exc:  # never leave the report unsettled
            log.exception("after a settings load")
            if not report.done():
                report.set_result(ApplyReport(False, f"{message} ({type(exc).__name__}: {exc})"))

    def _save_revert(self, failed: ModelSettings) -> str:
        """The station kept its old model (and its state names it): save that, so a restart
        comes up on a model that works. Audited as the station's own change."""
        with self.state.lock:
            saved = self.store.settings
            running = self.state.settings
            if saved.model != failed or running.model == failed:
                return ""  # newer settings came meanwhile, or nothing to put back
            reverted = dataclasses.replace(saved, model=running.model)
            outcome = self.store.commit(saved, reverted, Actor(STATION_ACTOR_NAME, "system", self.station_name))
        if not outcome.ok:
            return f" The saved settings still name the failed model: {outcome.message}"
        self.bus.publish(Notice("The saved model settings were put back to the model in use."))
        return " The saved model settings were put back to the model in use."

    # --- shift, overrule, hold ------------------------------------------------------------------

    def reset_shift(self, actor: Actor, *, session_id: str | None = None) -> Outcome:
        """Start the shift statistics over; audited with the counts that were dropped."""
        denied = self._deny(actor, "reset_shift") or self._session_ended(session_id)
        if denied:
            return denied
        if self.station is None:
            return Outcome.refused(UNAVAILABLE, "No station is running")
        statistics = self.station.statistics
        counts = dict(statistics.snapshot().counts)
        try:  # the line first: a reset nobody's name is on does not happen
            self.audit.record("shift", "statistics", counts, {}, action="reset", actor=actor)
        except AuditError as exc:
            return Outcome.refused(FAILED, f"Shift not reset: {exc}")
        statistics.reset()
        since = statistics.snapshot().since
        self.bus.publish(ShiftReset(actor, counts, since.timestamp()))
        return Outcome.done("Shift statistics reset", counts)

    def overrule(self, actor: Actor, cycle_id: str, corrected: str, note: str = "") -> Outcome:
        """The verdict of a recent cycle was wrong: a correction row + the image for review, then
        the audit line (value: Future of the correction)."""
        from inspection_station.core.cycle import Verdict

        denied = self._deny(actor, "overrule")
        if denied:
            return denied
        if self.station is None:
            return Outcome.refused(UNAVAILABLE, "No station is running")
        original = self.station.find_result(cycle_id)
        if original is None:
            return Outcome.refused(NOT_FOUND, f"Cycle {cycle_id!r} is not among the recent cycles")
        try:
            verdict = Verdict(str(corrected).upper())
        except ValueError:
            return Outcome.refused(INVALID, f"verdict: expected OK or NOK, got {corrected!r}")
        if original.verdict is Verdict.ERROR or verdict is Verdict.ERROR or verdict is original.verdict:
            return Outcome.refused(INVALID, f"Cycle {cycle_id} was {original.verdict}: it can be corrected to "
                                            f"{'NOK' if original.verdict is Verdict.OK else 'OK'} only")
        done: Future = Future()
        written = self.station.submit_overrule(cycle_id, verdict, note, actor)

        def audit(f: Future) -> None:  # the station's I/O thread
            if f.cancelled() or f.exception() is not None:
                done.set_exception(f.exception() or StationError("the correction was cancelled"))
                return
            try:
                self.audit.record("overrule", cycle_id, str(original.verdict), str(verdict),
                                  action="overrule", actor=actor)
            except AuditError as exc:  # the correction row is written; say the audit line is missing
                done.set_exception(StationError(f"correction of {cycle_id} logged, but not audited: {exc}"))
                return
            done.set_result(f.result())

        written.add_done_callback(audit)
        return Outcome.done(f"Recording the correction of {cycle_id} …", done)

    def hold(self, actor: Actor, reason: str) -> Outcome:
        """Refuse every trigger (button, pedal, API, hardware) until released; the banner says why."""
        denied = self._deny(actor, "hold")
        if denied:
            return denied
        reason = reason.strip() or f"on hold by {actor.user}"
        try:
            self.audit.record("hold", "station", None, reason, action="hold", actor=actor)
        except AuditError as exc:
            return Outcome.refused(FAILED, f"Not put on hold: {exc}")
        self.state.set_hold(reason, actor)
        return Outcome.done(f"On hold: {reason}")

    def release_hold(self, actor: Actor) -> Outcome:
        denied = self._deny(actor, "hold")
        if denied:
            return denied
        if not self.state.hold:
            return Outcome.done("The station is not on hold")
        try:
            self.audit.record("hold", "station", self.state.hold, None, action="release", actor=actor)
        except AuditError as exc:
            return Outcome.refused(FAILED, f"Hold not released: {exc}")
        self.state.set_hold("", actor)
        return Outcome.done("Hold released: triggers are taken again")

    def may_quit(self, actor: Actor, *, session_id: str | None = None) -> Outcome:
        """In kiosk mode only an engineer may stop the station; elsewhere anyone (after asking)."""
        if self.state.settings.station.kiosk:
            denied = self._deny(actor, "quit") or self._session_ended(session_id)
            if denied:
                return denied
        return Outcome.done("Quit")

    # --- sign in / out --------------------------------------------------------------------------

    def sign_in(self, name: str, password: str) -> Outcome:
        try:
            session = self.access.login(name, password)
        except LoginRefused as exc:
            return Outcome.refused(DENIED, str(exc), exc)
        except (AccountError, AuditError) as exc:  # unreadable store, unwritable audit: nobody signs in
            return Outcome.refused(FAILED, f"Not signed in: {exc}")
        return Outcome.done(f"Signed in: {session.user} ({session.role})", session)

    def sign_out(self, reason: str = "signed out") -> Outcome:
        session = self.state.session
        try:
            signed_out = self.access.logout(reason)
        except AuditError as exc:  # signed out all the same: a session must never outlive a failure
            return Outcome.refused(FAILED, f"Signed out, but not audited: {exc}")
        return Outcome.done(f"{session.user} signed out" if signed_out and session else "Nobody was signed in")

    def lock_if_idle(self) -> Outcome | None:
        """Sign out an idle session (the GUI's timer asks); None when nothing happened."""
        session = self.state.session
        try:
            locked = self.access.lock_if_idle()
        except AuditError as exc:
            return Outcome.refused(FAILED, f"Signed out after being idle, but not audited: {exc}")
        if not locked:
            return None
        return Outcome.done(f"{session.user if session else 'The session'} was signed out after "
                            f"{self.access.settings.idle_lock_s:g} s without input")

    # --- accounts ---------------------------------------------------------------------------------

    def _account(self, actor: Actor, action: str, name: str, call: Callable[[], User], done: str) -> Outcome:
        denied = self._deny(actor, "users") if action != "password" or actor.user != name else None
        if denied:
            return denied
        try:
            user = call()
        except (AccountError, AuditError) as exc:
            status = NOT_FOUND if "no user" in str(exc) else FAILED
            return Outcome.refused(status, _sentence(str(exc)))
        except StationError as exc:
            return Outcome.refused(INVALID, str(exc))
        return Outcome.done(done, user)

    def add_user(self, actor: Actor, name: str, role: str, password: str, confirm: str | None = None) -> Outcome:
        return self._account(actor, "create", name,
                             lambda: self.access.add_user(name, role, password, confirm, actor=actor),
                             f"User {name!r} ({role}) added")

    def set_password(self, actor: Actor, name: str, password: str, confirm: str | None = None) -> Outcome:
        return self._account(actor, "password", name,
                             lambda: self.access.set_password(name, password, confirm, actor=actor),
                             f"Password of {name!r} changed")

    def set_role(self, actor: Actor, name: str, role: str) -> Outcome:
        return self._account(actor, "role", name, lambda: self.access.set_role(name, role, actor=actor),
                             f"{name!r} is now {role}")

    def unlock_user(self, actor: Actor, name: str) -> Outcome:
        return self._account(actor, "unlock", name, lambda: self.access.unlock_user(name, actor=actor),
                             f"User {name!r} unlocked")

    def recover_accounts(self, actor: Actor, name: str, password: str) -> Outcome:
        """A missing or unreadable accounts store (once accounts existed) replaced by a new one
        with `name` as its admin; what was there is moved aside, never opened. Command line only
        (the OS account that may edit the files anyway); audited, undone when the audit fails."""
        if actor.role != SYSTEM_ROLE:
            return Outcome.refused(DENIED, "Recovering the accounts store is done on the command line only")
        moved: list[Path | None] = []

        def record(problem: str, aside: Path | None) -> None:
            moved.append(aside)
            self.audit.record("user", name, {"store": problem},
                              {"role": "admin", "moved_aside": str(aside) if aside else None},
                              action="recover", actor=actor)

        outcome = self._account(actor, "recover", name,
                                lambda: self.access.store.recover(name, password, record),
                                f"{self.access.store.path}: a new accounts store with the admin {name!r}")
        if outcome.ok and moved and moved[0]:
            return Outcome.done(f"{outcome.message}; what was there is now {moved[0]}", outcome.value)
        return outcome

    def remove_user(self, actor: Actor, name: str) -> Outcome:
        return self._account(actor, "remove", name, lambda: self.access.remove_user(name, actor=actor),
                             f"User {name!r} removed")

    # --- recipes ---------------------------------------------------------------------------------

    def create_recipe(self, actor: Actor, name: str, *, description: str = "",
                      product_ids: tuple[str, ...] = ()) -> Outcome:
        """Write the recipe of pattern set `name` from the set-up in force now (every recipe key's
        value; an existing recipe file keeps its comments and counts its version up). Needs the
        patterns role; audited. Selecting it is still `select_product`."""
        from inspection_station.core.recipes.files import recipe_for, recipe_path, save_recipe
        from inspection_station.core.recipes.model import recipe_from_settings

        denied = self._deny(actor, "patterns")
        if denied:
            return denied
        pattern_file = self._pattern_file(name)
        if pattern_file is None:
            from inspection_station.core.recipes.active import pattern_file_of

            pattern_file = pattern_file_of(self.state.settings, name)
        if pattern_file is None:
            return Outcome.refused(NOT_FOUND, f"No pattern set {name!r} to make a recipe for")
        try:
            old = recipe_for(name, pattern_file)
            fresh = recipe_from_settings(name, self.state.settings, description=description or old.description,
                                         product_ids=tuple(product_ids) or old.product_ids)
            saved = save_recipe(dataclasses.replace(fresh, version=old.version, path=recipe_path(pattern_file)))
        except StationError as exc:
            return Outcome.refused(FAILED, f"Recipe not saved: {exc}")
        try:
            self.audit.record("recipe", name, old.version or None, saved.version, action="create", actor=actor)
        except AuditError as exc:
            return Outcome.refused(FAILED, f"Recipe {name} saved, but not audited: {exc}", saved)
        self.bus.publish(PatternLibraryChanged("recipe", name, actor))
        return Outcome.done(f"Recipe {name} version {saved.version} saved to {saved.path}", saved)

    def recipes(self) -> dict[str, Recipe]:
        """Every product's recipe (a set without a file: no overrides; a broken file: listed
        with version "?" and its problem as the description)."""
        from inspection_station.core.recipes.active import pattern_file_of
        from inspection_station.core.recipes.files import recipe_for

        out = {}
        for name in self.product_names():
            try:
                out[name] = recipe_for(name, self._pattern_file(name) or pattern_file_of(self.state.settings, name))
            except StationError as exc:
                out[name] = Recipe(name, "?", str(exc))
        return out

    # --- the pattern library -------------------------------------------------------------------------

    def library(self, folder: Path, actor: Callable[[], Actor] | None = None) -> ActionsLibrary:
        """The pattern library's file operations as actions, for an editor on `folder`
        (`actor` is asked at each call: the person signed in then, not when the editor opened)."""
        return ActionsLibrary(self, folder, actor or self.gui_actor)

    def pattern_action(self, actor: Actor, action: str, name: str, call: Callable[[], Any]) -> Outcome:
        """Role check, the file operation (+ its audit lines, core/patterns/audited_library.py),
        the product kept consistent, a reload of the station's library, the event."""
        denied = self._deny(actor, "patterns")
        if denied:
            return denied
        active = self.state.settings.patterns.active
        if action == "delete" and active and name == active:
            return Outcome.refused(INVALID, f"{name} is the active product: switch to another product first")
        try:
            result = call()
        except StationError as exc:
            return Outcome.refused(INVALID, str(exc))
        except OSError as exc:
            return Outcome.refused(FAILED, f"{getattr(exc, 'filename', '') or name}: {exc.strerror or exc}")
        note = getattr(result, "audit_note", "")
        if action == "rename" and active and name == active:  # the product follows its file
            renamed = Path(result.path).stem
            wide = self.store.settings
            moved = self.store.commit(wide, wide.replace("patterns", active=renamed), actor,
                                      lines=[("product", "patterns.active", name, renamed, "rename")])
            if moved.ok:
                if self.station is not None:
                    self.station.station_wide = self.store.settings
                self.state.set_settings(self.state.settings.replace("patterns", active=renamed), actor,
                                        reason="active pattern set renamed")
            else:
                note = (note + "; " if note else "") + f"the active product still names {name}: {moved.message}"
        if self.station is not None:
            self.station.reload_patterns()
        self.bus.publish(PatternLibraryChanged(action, name, actor))
        message = result.message + (f" ({note})" if note else "")
        return Outcome(not note, OK if not note else FAILED, message, result)


class ActionsLibrary:
    """`AuditedLibrary`'s interface (what the pattern editor calls), each call an action: the
    role is checked and the audit names whoever is signed in at that moment."""

    def __init__(self, actions: StationActions, folder: Path, actor: Callable[[], Actor]) -> None:
        self.actions = actions
        self.folder = Path(folder)
        self._actor = actor

    def _run(self, action: str, name: str, fn: Callable[[Any], Any]):
        from inspection_station.core.patterns.audited_library import AuditedLibrary

        actor = self._actor()
        library = AuditedLibrary(self.folder, self.actions.audit.as_actor(actor))
        outcome = self.actions.pattern_action(actor, action, name, lambda: fn(library))
        if not outcome.ok and outcome.value is None:  # refused, or the file operation failed
            raise StationError(outcome.message)
        return outcome.value  # done (an audit note, if any, is in it)

    def create(self, name: str, first_slot: Slot):
        return self._run("create", name, lambda lib: lib.create(name, first_slot))

    def rename(self, path: Path, new_name: str):
        return self._run("rename", Path(path).stem, lambda lib: lib.rename(path, new_name))

    def duplicate(self, path: Path, new_name: str):
        return self._run("duplicate", Path(path).stem, lambda lib: lib.duplicate(path, new_name))

    def delete(self, path: Path):
        return self._run("delete", Path(path).stem, lambda lib: lib.delete(path))

    def save(self, current: PatternSet, before: PatternSet | None, path: Path, num_classes: int | None = None):
        return self._run("save", Path(path).stem, lambda lib: lib.save(current, before, path, num_classes))


# --- helpers ------------------------------------------------------------------------------------


def _settled(value: Any) -> Future:
    future: Future = Future()
    future.set_result(value)
    return future


def _actions_for(keys: tuple[str, ...]) -> list[str]:
    """The guarded actions a settings change amounts to (each needs its role)."""
    needed = []
    if any(k != "patterns.active" for k in keys):
        needed.append("settings")
    if any(k == "patterns.path" for k in keys):
        needed.append("patterns")
    if "patterns.active" in keys:
        needed.append("product_switch")
    if any(k.startswith("access.") for k in keys):
        needed.append("users")  # an engineer must not lower the bar for themselves
    return needed


def _patch(current: Settings, new: Settings, keys: tuple[str, ...]) -> Settings:
    """`current` with the values of `keys` taken from `new`."""
    by_section: dict[str, dict[str, Any]] = {}
    for key in keys:
        section, _, name = key.partition(".")
        by_section.setdefault(section, {})[name] = getattr(getattr(new, section), name)
    merged = current
    for section, values in by_section.items():
        merged = dataclasses.replace(merged, **{section: dataclasses.replace(getattr(merged, section), **values)})
    return merged


def _switched(name: str, recipe: Recipe) -> str:
    return f"Product {name} (recipe version {recipe.version}) active" if recipe.version else f"Product {name} active"


def _value(settings: Settings, key: str) -> Any:
    section, _, name = key.partition(".")
    return getattr(getattr(settings, section), name)


def _sentence(text: str) -> str:
    return text[:1].upper() + text[1:]


def cycle_of(outcome: Outcome) -> Future[CycleResult] | None:
    """The cycle's future of an `inspect` outcome (None when refused)."""
    return outcome.value if outcome.ok else None
