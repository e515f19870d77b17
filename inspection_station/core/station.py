"""The station's machinery: camera worker + inference thread + pipeline + results, Qt-free.

What the station *is* (settings in force, product, session, hold, component states) lives in
its `StationState` (core/state.py) and changes through actions (core/actions.py); this object
does what that state says and reports what happens as events on the state's bus. The GUI
(through gui/operator/station_bridge.py), `serve` and `run --headless` drive the same object.
Threads: the camera worker owns every pylon object; one inference thread runs the
cycles; model loads run on a loader thread so a slow load never blocks a trigger
decision. Callbacks and events come from those threads: a GUI must hop to its own thread.

A trigger while a cycle is running (or while the station is on hold) is refused and
counted, never queued.
"""

from __future__ import annotations

import contextlib
import dataclasses
import logging
import threading
import time
from collections import deque
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout

from inspection_station.core.camera.discovery import list_devices
from inspection_station.core.camera.worker import CameraWorker
from inspection_station.core.cycle import CycleResult, Verdict
from inspection_station.core.detect.detector import Detector
from inspection_station.core.errors import StationError, located_error
from inspection_station.core.events import (
    ComponentChanged,
    CycleFinished,
    CycleStarted,
    ErrorReported,
    Notice,
    Overruled,
    TriggerRefused,
)
from inspection_station.core.frame import Frame
from inspection_station.core.images import PREVIEW_WIDTH, downscale, load_image
from inspection_station.core.listeners import StationListener, listener_handler
from inspection_station.core.overlap import CycleScheduler, Grabbed
from inspection_station.core.patterns.model import PatternSet
from inspection_station.core.patterns.yaml_io import PatternLibrary, read_pattern_library
from inspection_station.core.pipeline import Pipeline
from inspection_station.core.recipes.active import recipe_in_force
from inspection_station.core.results.recorder import ResultsRecorder
from inspection_station.core.results.retention import RetentionWorker
from inspection_station.core.results.statistics import Statistics
from inspection_station.core.settings.audit import Actor
from inspection_station.core.settings.model import (
    Settings,
    resolve_model_path,
    resolve_patterns_path,
    resolve_results_dirs,
)
from inspection_station.core.settings.revert import after_failed_model_load
from inspection_station.core.state import StationState
from inspection_station.core.states import CameraState, Component, DiskState, LoadState
from inspection_station.core.trace.part_id import PartIdPolicy, clean_part_id

log = logging.getLogger(__name__)

StateFn = Callable[[str, str, str], None]  # (Component, its state enum, reason)
RECENT_RESULTS = 50  # kept for the history, overrules and teaching from good frames
# Only the newest results keep their pixels: 50 frames of 5 MP RGB would hold 750 MB.
RECENT_FRAMES = 5


def _noop(*_args) -> None:
    pass


@dataclasses.dataclass(frozen=True)
class LoadOutcome:
    """What a model + pattern load did: the result of `apply_settings`' future."""

    model_loaded: bool | None  # None: no model load was asked for
    reason: str = ""  # why the model did not load


class Station:
    def __init__(
        self,
        settings: Settings,
        *,
        state: StationState | None = None,
        previews: bool = False,
        on_result: Callable[[CycleResult], None] | None = None,
        on_state: StateFn | None = None,
        on_frame: Callable[[Frame], None] | None = None,
        on_error: Callable[[str], None] | None = None,
        on_refused: Callable[[str], None] | None = None,
        on_notice: Callable[[str], None] | None = None,
    ) -> None:
        # the one owner of what the station is; `settings` seeds it when none is given
        self.state = state if state is not None else StationState(settings)
        self.bus = self.state.bus
        # What the settings file holds (the actions keep it current); the state's settings are
        # these with the active recipe's overrides (core/recipes/). A broken recipe file at
        # start: every cycle is ERROR naming it, until someone fixes it or chooses a product.
        self.station_wide = settings
        self.recipe_problem = ""
        try:
            recipe, in_force = recipe_in_force(settings)
        except StationError as exc:
            recipe, in_force, self.recipe_problem = None, settings, str(exc)
        if in_force != self.state.settings:
            self.state.set_settings(in_force, None, reason=f"recipe {recipe.name if recipe else ''}")
        self.state.set_recipe(recipe, None)
        # what the machinery (camera, recorder, retention) was built from: diffed on apply
        self._configured = self.state.settings
        self._on_result = on_result or _noop
        # a small copy of each frame for a history view (made on the inference thread)
        self._previews = previews or on_result is not None
        self._user_on_state = on_state or _noop
        self._on_frame = on_frame or _noop
        self._user_on_error = on_error or _noop
        self._user_on_refused = on_refused or _noop
        self._user_on_notice = on_notice or _noop
        self.statistics = Statistics()
        self.recorder: ResultsRecorder | None = None
        self.camera: CameraWorker | None = None
        self.pipeline = Pipeline(None, None, model_problem="the model is still loading")
        self.pipeline.recipe = _recipe_label(self.state.recipe)
        self.pattern_sets: dict[str, PatternSet] = {}
        # located notes of the last pattern load: files that failed (their sets are missing),
        # coordinates clipped, unknown fields kept; the GUI and `run` show them
        self.pattern_warnings: list[str] = []
        self.recent_results: deque[CycleResult] = deque(maxlen=RECENT_RESULTS)
        self.last_result: CycleResult | None = None
        self._busy = threading.Lock()  # held for the whole of a cycle
        # [station] cycle = "overlapped": cycles go through the three-stage scheduler instead
        self._cycles: CycleScheduler | None = None
        self._inference = ThreadPoolExecutor(max_workers=1, thread_name_prefix="inference")
        self._loader = ThreadPoolExecutor(max_workers=1, thread_name_prefix="model-loader")
        # Start-up, overrules (review image writes): slow file work the GUI thread must not do.
        self._io = ThreadPoolExecutor(max_workers=1, thread_name_prefix="station-io")
        self._model_ready = threading.Event()
        self._life = threading.Lock()  # start() and stop() may come from different threads
        self._stopped = False
        self._part_id = ""  # typed / scanned for the next cycle
        self._part_id_lock = threading.Lock()
        self.pipeline.part_id_policy = PartIdPolicy(self.settings.part_id)
        self.camera_reconfigured: Future | None = None  # the last camera reconfigure (its outcome)
        self.retention: RetentionWorker | None = None
        self._listeners: dict[int, Callable[[], None]] = {}  # id(listener) -> unsubscribe

    # --- what the station is (its state) -----------------------------------------------------

    @property
    def settings(self) -> Settings:
        """The settings in force: the state's (changed by actions, and by a failed model load)."""
        return self.state.settings

    @property
    def states(self) -> dict[str, tuple[str, str]]:
        """The newest (state, reason) per component ("camera", "model", "patterns"), for /health."""
        return self.state.components

    # --- listeners (line integration: PLC outputs, metrics, API): adapters on the bus ----------

    def add_listener(self, listener: StationListener) -> None:
        self._listeners[id(listener)] = self.bus.subscribe(
            listener_handler(listener), CycleStarted, CycleFinished, TriggerRefused, ComponentChanged, Overruled
        )

    def remove_listener(self, listener: StationListener) -> None:
        unsubscribe = self._listeners.pop(id(listener), None)
        if unsubscribe is not None:
            unsubscribe()

    def _on_state(self, component: str, state: str, reason: str) -> None:
        self.state.set_component(component, state, reason)  # publishes ComponentChanged
        self._user_on_state(component, state, reason)  # the caller's own: its failure is the load's

    def _on_error(self, message: str) -> None:
        self._safe(self._user_on_error, message)
        self.bus.publish(ErrorReported(str(message)))

    def _on_notice(self, message: str) -> None:
        self._safe(self._user_on_notice, message)
        self.bus.publish(Notice(str(message)))

    # --- life cycle ---------------------------------------------------------------------

    def start(self) -> Future:
        """Open the results log, start the camera worker and load model + patterns.

        Returns at once; the returned future completes when the model is loaded (or
        failed to load: the station then runs and reports every cycle as ERROR).
        """
        with self._life:
            if self.camera is not None:
                raise StationError("the station is already started")
            if self._stopped:  # closed before its start came round: nothing to open
                done: Future = Future()
                done.set_result(None)
                return done
            self._open_recorder(self.settings)
            self._start_retention(self.settings)
            self.camera = CameraWorker(
                self.settings.camera,
                on_frame=self._on_frame,
                on_state=lambda state, reason: self._on_state(Component.CAMERA, CameraState(state), reason),
                on_triggered=self._hardware_triggered,
            )
            self.camera.start()
            if self.settings.station.cycle == "overlapped" and self.settings.line.plc_enabled:
                # The PLC reads each verdict on BUSY's falling edge: with two parts in flight
                # BUSY would not fall between them, and a verdict would be missed. Fail safe.
                self._on_notice("[station] cycle = overlapped is not used while [line] plc_enabled: "
                                "the BUSY/verdict handshake needs one part at a time; running sequential")
            elif self.settings.station.cycle == "overlapped":
                self._cycles = CycleScheduler(
                    grab=self._grab, judge=self._judge, publish=self._publish, mode="overlapped"
                )
            return self._submit(self._loader, "model load", self._load_model_and_patterns, self.settings, True)

    def launch(self, live: bool = True) -> Future:
        """`start()` (and live view) on the station's own thread: the caller never waits for
        the log seeding or the camera open. Failures reach `on_error` like any other."""

        def work() -> None:
            self.start()
            if live:
                self.set_live(True)

        return self._submit(self._io, "start-up", work)

    def wait_ready(self, timeout: float | None = None) -> bool:
        return self._model_ready.wait(timeout)

    def stop(self) -> None:
        """Stop every thread this station started, and flush the results."""
        with self._life:
            if self._stopped:
                return
            self._stopped = True
        self._io.shutdown(wait=True, cancel_futures=True)
        self._loader.shutdown(wait=True, cancel_futures=True)
        self._inference.shutdown(wait=True, cancel_futures=True)
        if self._cycles is not None:  # its accepted cycles end (each with its row) while the camera is there
            self._cycles.close()
        if self.retention is not None:
            self.retention.stop()
        if self.camera is not None:
            self.camera.stop()
        try:  # the pipeline still holds the previous recorder when stop() cancelled its swap
            if self.pipeline.recorder is not None:
                self.pipeline.recorder.close()
        finally:
            if self.recorder is not None:
                self.recorder.close()  # closing twice is a no-op

    def __enter__(self) -> Station:
        self.start()
        return self

    def __exit__(self, *exc) -> None:
        self.stop()

    # --- properties -----------------------------------------------------------------------

    @property
    def busy(self) -> bool:
        """A trigger now would be refused (overlapped: the next frame's slot is taken)."""
        return self._cycles.busy if self._cycles is not None else self._busy.locked()

    @property
    def cycling(self) -> bool:
        """A cycle is under way (overlapped: any part in flight), so the model is the line's."""
        return self._cycles.in_flight > 0 if self._cycles is not None else self._busy.locked()

    @property
    def cycle_mode(self) -> str:
        """"overlapped" when the three-stage cycle runs (core/overlap.py), else "sequential"."""
        return self._cycles.mode if self._cycles is not None else "sequential"

    @property
    def stopped(self) -> bool:
        return self._stopped

    @property
    def ready(self) -> bool:
        """Can take a trigger now: camera open, a model and a pattern set loaded, no cycle running.
        (A model that failed to reload leaves the old one running: still ready.)"""
        camera = self.states.get("camera", ("",))[0]
        return (
            camera in ("connected", "emulated")
            and self.detector is not None
            and self.active_pattern_set is not None
            and not self.busy
        )

    @property
    def detector(self) -> Detector | None:
        return self.pipeline.detector

    @property
    def active_pattern_set(self) -> PatternSet | None:
        return self.pipeline.pattern_set

    # --- triggers -------------------------------------------------------------------------

    def trigger(self, source: str = "button") -> bool:
        """Start a cycle on the inference thread; False (refused, counted) if one is running."""
        return self.trigger_future(source) is not None

    def trigger_future(
        self, source: str = "button", *, pattern_set: str | None = None, min_score: float = 0.0
    ) -> Future[CycleResult] | None:
        """`trigger`, with the cycle's future (for the API); None = refused (counted) or stopped.

        `pattern_set` / `min_score`: this cycle's own (the old backend's per-request
        `pattern_key` / `min_score`); StationError when the set is not loaded.
        """
        if self._stopped:
            self._safe(self._user_on_refused, f"{source} trigger refused: the station is stopped")
            return None
        if self.state.hold:
            self._refuse(source, f"the station is on hold: {self.state.hold}")
            return None
        chosen = None
        if pattern_set is not None:
            chosen = self.pattern_sets.get(pattern_set)
            if chosen is None:
                raise StationError(f"no pattern set {pattern_set!r}; have: {', '.join(self.pattern_sets) or 'none'}")
        if self._cycles is not None:
            return self._overlapped_trigger(source, time.perf_counter(), options=(chosen, min_score))
        if not self._busy.acquire(blocking=False):
            self._refuse(source)
            return None
        self.bus.publish(CycleStarted(source))
        future = self._submit_cycle(self._software_cycle, source, time.perf_counter(), chosen, min_score)
        if future is not None:
            self._watch_cycle(future)
        return future

    def run_cycle(self, source: str = "headless") -> CycleResult:
        """One cycle, blocking: for `run --headless`, `inspect` and tests."""
        if self.state.hold:
            raise StationError(f"the station is on hold: {self.state.hold}")
        if self._cycles is not None:
            future = self._overlapped_trigger(source, time.perf_counter(), refuse=False)
            if future is None:
                raise StationError("a cycle is already running" if not self._stopped else "the station is stopped")
            return future.result()
        if not self._busy.acquire(blocking=False):
            raise StationError("a cycle is already running")
        self.bus.publish(CycleStarted(source))
        future = self._submit_cycle(self._software_cycle, source, time.perf_counter())
        if future is None:
            raise StationError("the station is stopped")
        return future.result()

    def _submit_cycle(self, fn, *args) -> Future | None:
        """Hand a cycle (busy lock held) to the inference thread; None (lock released) once stopped."""
        try:
            return self._inference.submit(fn, *args)
        except RuntimeError:  # the executor was shut down by stop()
            self._busy.release()
            return None

    def detect_file(self, path) -> Future:
        """Load an image file and run the current model on it, on the inference thread.

        For editors that show a chosen image: the GUI thread never decodes or infers.
        The future's result is (RGB image, detections); no detector -> no detections.
        """

        def work():
            image = load_image(path, self.settings.camera.max_image_pixels)
            detector = self.pipeline.detector
            return image, (detector.detect(image) if detector is not None else [])

        return self._submit(self._inference, f"detection on {path}", work)

    def detect_live_frame(self) -> Future:
        """A fresh camera frame (grabbed as a cycle grabs it) and the current model's
        detections, on the inference thread: the pattern editor's "Current frame". The
        future's result is (RGB image, detections); no cycle, no log row. Its failure is the
        caller's to show (the editor falls back to the last cycle's frame), so it bypasses the
        station's error route: a failed preview is not a station fault."""

        def work():
            camera = self.camera
            if camera is None:
                raise StationError("the station was not started")
            if self.settings.camera.trigger_mode == "hardware":
                raise StationError("the camera waits for its trigger line (hardware trigger): no frame on request")
            timeout_s = self.settings.camera.grab_timeout_ms / 1000
            frame = camera.request_frame().result(timeout=timeout_s + 5.0)
            detector = self.pipeline.detector
            return frame.rgb, (detector.detect(frame.rgb) if detector is not None else [])

        return self._inference.submit(work)

    def take_live_frame(self) -> Frame | None:
        """The newest live frame (emptying the camera worker's one-frame slot), or None.

        The one live-frame path: a view's display thread calls this; nothing is queued.
        """
        camera = self.camera
        return camera.take_live_frame() if camera is not None else None

    def find_cameras(self) -> Future:
        """The cameras pylon sees (emulated included), as `DeviceInfo`s, on the station's I/O
        thread: enumeration can take seconds (GigE discovery) and the GUI thread never waits."""
        return self._submit(self._io, "camera search", list_devices)

    def set_live(self, enabled: bool) -> None:
        if self.camera is not None:
            self.camera.set_live(enabled)

    def _refuse(self, source: str, reason: str = "a cycle is still running") -> None:
        self.statistics.add_refused_trigger()
        self.bus.publish(TriggerRefused(source, reason))
        self._safe(self._user_on_refused, f"{source} trigger refused: {reason}")

    def _hardware_triggered(self, frame: Frame) -> None:
        """Camera worker thread: a frame from the camera's trigger line (pedal, PLC)."""
        if self._stopped:
            return  # shutting down: a late pulse is neither a cycle nor a refusal
        if self.state.hold:
            self._refuse("hardware", f"the station is on hold: {self.state.hold}")
            return
        started = time.perf_counter() - frame.grab_ms / 1e3
        if self._cycles is not None:
            self._overlapped_trigger("hardware", started, Grabbed(frame))
            return
        if not self._busy.acquire(blocking=False):
            self._refuse("hardware")
            return
        self.bus.publish(CycleStarted("hardware"))
        future = self._submit_cycle(self._finish_cycle, frame, "", "hardware", started)
        if future is not None:
            self._watch_cycle(future)

    def _overlapped_trigger(
        self, source: str, started: float, grabbed: Grabbed | None = None, refuse: bool = True,
        options: tuple[PatternSet | None, float] = (None, 0.0),
    ) -> Future[CycleResult] | None:
        """A trigger for the overlapped cycle (core/overlap.py); None = refused (and counted).
        `options`: the cycle's own (pattern set, min score), as `trigger_future` takes them."""
        cycles = self._cycles
        if cycles is None:
            raise StationError("the overlapped cycle is not running")
        part_id = self._take_part_id()
        future = cycles.trigger(source, started, grabbed, part_id, options=options)
        if future is None:
            with self._part_id_lock:  # a refused trigger does not use up the part's id
                self._part_id = self._part_id or part_id
            if refuse:
                self._refuse(source)
            return None
        self.bus.publish(CycleStarted(source))
        self._watch_cycle(future)
        return future

    def _grab(self) -> Grabbed:
        """The grab stage: a frame from the camera worker, or why there is none."""
        requested = time.perf_counter()
        frame, error = self._request_frame()
        return Grabbed(frame, error, (time.perf_counter() - requested) * 1e3)

    def _judge(self, grabbed: Grabbed, source: str, started: float, part_id: str,
               options: tuple[PatternSet | None, float] = (None, 0.0)):
        """The judge stage: the pipeline's verdict, and the recorder to write its row."""
        result, _ = self.pipeline.judge(
            grabbed.frame, grab_error=grabbed.error, grab_ms=grabbed.grab_ms, trigger=source,
            started=started, part_id=part_id, pattern_set=options[0], min_score=options[1],
        )
        return result, self._record

    def _record(self, result: CycleResult) -> CycleResult:
        """The record stage: into the recorder of now (a log swap runs in this stage too)."""
        recorder = self.pipeline.recorder
        return recorder.record(result) if recorder is not None else result

    def _request_frame(self) -> tuple[Frame | None, str]:
        frame, error = None, ""
        timeout_s = self.settings.camera.grab_timeout_ms / 1e3
        try:
            if self.camera is None:
                raise StationError("the station was not started")
            # The worker enforces the grab timeout; the margin only guards a wedged worker.
            frame = self.camera.request_frame().result(timeout=timeout_s + 5.0)
        except FutureTimeout:
            error = f"no frame within {timeout_s + 5.0:.0f} s (camera worker not answering)"
        except Exception as exc:  # a camera failure is this cycle's ERROR
            error = str(exc) or type(exc).__name__
        return frame, error

    def _software_cycle(
        self, source: str, started: float, pattern_set: PatternSet | None = None, min_score: float = 0.0
    ) -> CycleResult:
        requested = time.perf_counter()
        frame, error = self._request_frame()
        # The grab stage as the cycle sees it: request -> frame in hand, thread hops included.
        grab_ms = (time.perf_counter() - requested) * 1e3
        return self._finish_cycle(frame, error, source, started, grab_ms, pattern_set, min_score)

    def _finish_cycle(
        self, frame: Frame | None, error: str, source: str, started: float, grab_ms: float | None = None,
        pattern_set: PatternSet | None = None, min_score: float = 0.0,
    ) -> CycleResult:
        try:
            result = self.pipeline.inspect(
                frame, grab_error=error, grab_ms=grab_ms, trigger=source, started=started,
                part_id=self._take_part_id(), pattern_set=pattern_set, min_score=min_score,
            )
            return self._publish(result)  # still busy: the next cycle starts after this
        finally:
            self._busy.release()

    def _publish(self, result: CycleResult) -> CycleResult:
        """After the row: the history, the result callback and the listeners, in cycle order."""
        if result.frame is not None and self._previews:
            # for the listener's history view: made here, not on the GUI thread; after the
            # timed cycle; headless callers (no listener) neither pay for it nor keep it
            result = dataclasses.replace(result, preview=downscale(result.frame.rgb, PREVIEW_WIDTH))
        self.last_result = result
        self._remember(result)
        self._safe(self._on_result, result)
        self.bus.publish(CycleFinished(result))
        return result

    def _remember(self, result: CycleResult) -> None:
        recent = self.recent_results
        recent.append(result)
        if len(recent) > RECENT_FRAMES and recent[-RECENT_FRAMES - 1].frame is not None:
            recent[-RECENT_FRAMES - 1] = dataclasses.replace(recent[-RECENT_FRAMES - 1], frame=None, preview=None)

    def _safe(self, fn, *args) -> None:
        try:
            fn(*args)
        except Exception:  # a listener's bug must not kill the inference thread
            log.exception("station listener failed")

    # --- part id ----------------------------------------------------------------------------

    def set_part_id(self, text: str) -> str:
        """The id typed or scanned for the next part; the next cycle takes it. Returns it cleaned."""
        try:
            part_id = clean_part_id(text)
        except ValueError as exc:
            raise StationError(str(exc)) from None
        with self._part_id_lock:
            self._part_id = part_id
        return part_id

    @property
    def pending_part_id(self) -> str:
        return self._part_id

    def _take_part_id(self) -> str:
        with self._part_id_lock:
            part_id, self._part_id = self._part_id, ""
        return part_id

    # --- futures: every failure reaches the one error route -----------------------------------

    def _submit(self, executor: ThreadPoolExecutor, what: str, fn, *args) -> Future:
        """`executor.submit` whose failure (any exception, not only StationError) goes to
        `on_error`: nothing a station thread raises vanishes in an unwatched future."""
        future = executor.submit(fn, *args)
        future.add_done_callback(lambda f: self._report_failure(f, what))
        return future

    def _report_failure(self, future: Future, what: str) -> str:
        exc = None if future.cancelled() else future.exception()
        if exc is None:
            return ""
        reason = str(exc) if isinstance(exc, StationError) else f"{type(exc).__name__}: {exc}"
        log.error("%s failed", what, exc_info=(type(exc), exc, exc.__traceback__))
        self._safe(self._on_error, f"{what} failed: {reason}")
        return reason

    def _watch_cycle(self, future: Future) -> None:
        """A cycle that raised gave no result: say so, and tell the listeners it ended."""

        def done(f: Future) -> None:
            reason = self._report_failure(f, "inspection cycle")
            if reason:
                self._safe(self._on_state, Component.CYCLE, LoadState.ERROR, reason)

        future.add_done_callback(done)

    # --- overrule -------------------------------------------------------------------------

    def find_result(self, cycle_id: str) -> CycleResult | None:
        """One of the recent cycles (a snapshot: the inference thread appends meanwhile)."""
        return next((r for r in reversed(list(self.recent_results)) if r.cycle_id == cycle_id), None)

    def overrule(self, cycle_id: str, corrected: Verdict | str, note: str = "", actor: Actor | None = None):
        """The operator says a verdict was wrong: a new log row + the image for review.
        (The audited route is `StationActions.overrule`; `actor` names who for the event.)"""
        if self.recorder is None:
            raise StationError("results log is not open")
        original = self.find_result(cycle_id)
        image = original.frame.rgb if original is not None and original.frame is not None else None
        entry = self.recorder.overrule(cycle_id, corrected, note, image=image)
        old = str(original.verdict) if original is not None else ""
        who = actor or Actor("(unknown)", "", self.settings.station.name)
        self.bus.publish(Overruled(cycle_id, old, str(entry.verdict), who))
        return entry

    def submit_overrule(self, cycle_id: str, corrected: Verdict | str, note: str = "",
                        actor: Actor | None = None) -> Future:
        """`overrule` on the station's I/O thread (it writes the review image)."""
        return self._submit(self._io, f"overrule of {cycle_id}", self.overrule, cycle_id, corrected, note, actor)

    # --- settings, model, patterns --------------------------------------------------------------

    def apply_settings(self, settings: Settings, actor: Actor | None = None) -> Future | None:
        """Make the machinery follow `settings` without a restart (they become the state's
        settings if they are not yet: the audited route is `StationActions.apply_settings`).

        Returns the load future (its result a `LoadOutcome`) when the model or the pattern
        files must be read again; None when nothing needs loading."""
        old, self._configured = self._configured, settings
        if self.state.settings != settings:
            self.state.set_settings(settings, actor)
        only_product = (
            settings.model == old.model
            and dataclasses.replace(settings.patterns, active="") == dataclasses.replace(old.patterns, active="")
        )
        if settings.camera != old.camera and self.camera is not None:
            self.camera_reconfigured = self.camera.reconfigure(settings.camera)
        if settings.results != old.results or settings.station.name != old.station.name:
            # Today's rows are already counted: a reopened log must not seed them again.
            self.recorder = self._new_recorder(settings, seed_statistics=False)
            # The swap and the closing of the old one (joins its image writer) happen between
            # cycles on the inference thread: a running cycle never records into a closed log.
            stage = self._cycles.record_stage if self._cycles is not None else self._inference
            self._submit(stage, "results log swap", self._swap_recorder, self.recorder)
        if self.retention is not None and (settings.results != old.results or settings.retention != old.retention):
            _log_dir, image_dir, review_dir = resolve_results_dirs(settings.results)
            self.retention.update(image_dir, review_dir, settings.retention)
        if settings.part_id != old.part_id:
            self.pipeline.part_id_policy = PartIdPolicy(settings.part_id)
        if settings.patterns != old.patterns and only_product and settings.patterns.active in self.pattern_sets:
            self.select_pattern_set(settings.patterns.active, actor)  # a product switch: no reload
        elif settings.model != old.model or settings.patterns != old.patterns:
            return self._submit(
                self._loader, "model load", self._load_model_and_patterns, settings, settings.model != old.model
            )
        return None

    def select_pattern_set(self, name: str, actor: Actor | None = None) -> None:
        """Judge the next parts against pattern set `name` (machinery: the persisted, audited
        product switch is `StationActions.select_product`)."""
        with self.state.lock:
            if name not in self.pattern_sets:
                raise StationError(f"no pattern set {name!r}; have: {', '.join(self.pattern_sets) or 'none'}")
            self.pipeline.pattern_set = self.pattern_sets[name]
            self.pipeline.pattern_problem = ""
            self.state.set_product(name, actor)
        self._on_state(Component.PATTERNS, LoadState.READY, name)

    def set_recipe(self, recipe, actor: Actor | None = None) -> None:
        """The recipe the next rows name (machinery: `StationActions.select_product` decides)."""
        self.pipeline.recipe = _recipe_label(recipe)
        self.recipe_problem = ""
        self.state.set_recipe(recipe, actor)

    def reload_patterns(self) -> Future:
        """Parse the pattern files again, on the loader thread (after any model load)."""
        return self._submit(self._loader, "pattern reload", self._load_patterns, self.settings)

    def _start_retention(self, settings: Settings) -> None:
        """Image retention and the low-disk check, on their own thread (off the cycle's path)."""
        _log_dir, image_dir, review_dir = resolve_results_dirs(settings.results)

        def low_disk(low: bool, message: str) -> None:
            self._on_state(Component.DISK, DiskState.LOW if low else DiskState.OK, message)
            if low:
                self._on_error(message)

        self.retention = RetentionWorker(
            image_dir, review_dir, settings.retention, on_low_disk=low_disk, on_problem=self._on_error
        ).start()

    def _open_recorder(self, settings: Settings) -> None:
        self.recorder = self.pipeline.recorder = self._new_recorder(settings)

    def _new_recorder(self, settings: Settings, seed_statistics: bool = True) -> ResultsRecorder:
        return ResultsRecorder(
            settings.results,
            settings.station.name,
            on_error=self._on_error,
            on_notice=self._on_notice,
            statistics=self.statistics,
            seed_statistics=seed_statistics,
        )

    def _swap_recorder(self, recorder: ResultsRecorder) -> None:
        """Inference thread, between cycles: record into `recorder` from now on."""
        previous, self.pipeline.recorder = self.pipeline.recorder, recorder
        if previous is not None and previous is not recorder:
            # rows it could not write were reported on the error route by close() itself
            with contextlib.suppress(StationError):
                previous.close()

    def _load_model_and_patterns(self, settings: Settings, load_model: bool) -> LoadOutcome:
        try:
            outcome = self._load_model(settings) if load_model else LoadOutcome(None)
            self._load_patterns(settings)
            return outcome
        except Exception as exc:  # reported by its future; the cycles must say why they fail
            if self.pipeline.detector is None:
                self.pipeline.model_problem = f"the model load failed: {type(exc).__name__}: {exc}"
            raise
        finally:  # nobody (run --headless) may wait for a load that raised
            self._model_ready.set()

    def _load_model(self, settings: Settings) -> LoadOutcome:
        path = resolve_model_path(settings.model)
        self._on_state(Component.MODEL, LoadState.LOADING, str(path))
        try:
            detector = Detector.load(path, settings.model)
        except Exception as exc:  # any failure, not only ours: the loader thread must report it
            exc = located_error(path, exc)
            running = self.pipeline.detector
            if running is None:
                self.pipeline.model_problem = str(exc)
            # Keep the old model running and named by the settings in force (the outcome decides
            # here, in core; the action that asked saves the revert); say loudly that it failed.
            with self.state.lock:
                reverted = after_failed_model_load(
                    self.state.settings, settings.model, running.settings if running else None)
                if reverted is not None:
                    self._configured = dataclasses.replace(self._configured, model=reverted.model)
                    self.state.set_settings(reverted, None, reason=f"the new model did not load: {exc}")
            self._on_state(Component.MODEL, LoadState.ERROR, str(exc))
            self._on_error(f"model not loaded: {exc}")
            return LoadOutcome(False, str(exc))
        model_sha = ""
        try:  # which bytes judge the parts: hashed here, on the loader thread, for every CSV row
            model_sha = detector.model_sha256
        except (OSError, StationError) as exc:  # gone, or a FIFO in its place (refused, never read)
            self._on_error(f"{path}: model loaded but not hashed for the log: {getattr(exc, 'strerror', None) or exc}")
        self.pipeline.detector = detector
        for warning in detector.warnings:
            self._on_notice(warning)
        log.info("model loaded: %s sha256 %s", detector.describe(), model_sha[:12] or "?")
        self._on_state(Component.MODEL, LoadState.READY, detector.describe())
        return LoadOutcome(True)

    def _load_patterns(self, settings: Settings) -> None:
        detector = self.pipeline.detector
        num_classes = detector.class_count if detector is not None else None
        path = resolve_patterns_path(settings.patterns)
        try:
            library = read_pattern_library(path, num_classes)
        except Exception as exc:  # any failure, not only ours: the loader thread must report it
            exc = located_error(path, exc)
            self.pattern_warnings = [str(exc)]
            self.pipeline.pattern_problem = str(exc)
            self._on_state(Component.PATTERNS, LoadState.ERROR, str(exc))
            self._on_error(f"patterns not loaded: {exc}")
            return
        self.pattern_warnings = _library_notes(library)
        for problems in library.failed.values():
            # each file loads on its own: the station runs with the sets that loaded
            self._on_error(f"pattern file not loaded: {'; '.join(problems[:3])}")
        for note in library.warnings:
            log.warning("pattern file: %s", note)
        if library.warnings:
            self._on_notice(f"pattern files loaded with {len(library.warnings)} note(s), first: {library.warnings[0]}")
        with self.state.lock:  # the product as chosen NOW (a switch may have come meanwhile)
            self.pattern_sets = library.sets
            wanted = self.state.settings.patterns.active
            if wanted and wanted not in library.sets:
                # never judge against a product nobody chose: ERROR cycles until one is chosen
                name = None
                self.pipeline.pattern_problem = (
                    f"the product {wanted!r} is not among the pattern sets in {path} "
                    f"(have: {', '.join(library.sets) or 'none'}); choose a product")
                self._on_error(self.pipeline.pattern_problem)
            else:
                name = wanted or next(iter(library.sets), None)
                if name is None:
                    self.pipeline.pattern_problem = "no pattern set loaded from " + str(path) + (
                        f": {library.problems[0]}" if library.failed else "")
                else:
                    self.pipeline.pattern_problem = ""
            if self.recipe_problem and name == (wanted or name):
                self.pipeline.pattern_problem = f"the recipe of {name} cannot be read: {self.recipe_problem}"
                self._on_error(self.pipeline.pattern_problem)
                name = None
            self.pipeline.pattern_set = library.sets.get(name) if name else None
            self.state.set_product(name, None)
        reason = f"{name} ({library.summary()})" if name and library.failed else name
        state = LoadState.READY if name else LoadState.ERROR
        self._on_state(Component.PATTERNS, state, reason or self.pipeline.pattern_problem)


def _recipe_label(recipe) -> tuple[str, str]:
    return (recipe.name, recipe.version) if recipe is not None else ("", "")


def _library_notes(library: PatternLibrary) -> list[str]:
    return [f"not loaded: {p}" for p in library.problems] + list(library.warnings)
