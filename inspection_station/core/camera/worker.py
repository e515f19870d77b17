"""The camera thread: one thread owns the camera (and every pylon object) for its whole life.

Other threads talk to it only through this class: `request_frame` returns a Future,
`set_live` and `reconfigure` post commands, and results come back through callbacks
that run IN THE WORKER THREAD (the Qt bridge turns them into queued signals):

- `on_frame(frame)`     a live frame landed in the empty newest-frame slot; call
                        `take_live_frame()` for the newest one. While the slot is full,
                        newer frames replace it without a new call: a slow consumer
                        never builds a queue.
- `on_triggered(frame)` a frame taken on a hardware trigger (a pedal or PLC on the
                        camera's input line): start one inspection cycle with it.
- `on_state(state, reason)` connecting / connected / emulated / disconnected / closed.

A lost or silent camera is closed and reopened with exponential back-off
(reconnect_min_s .. reconnect_max_s); frames resume without restarting the app.
Every request ends: a frame, or an exception in its Future, never a hang.
"""

from __future__ import annotations

import dataclasses
import logging
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import Future
from dataclasses import dataclass
from typing import Any, TypeVar

from inspection_station.core.camera.protocol import (
    Camera,
    CameraState,
    FrameIncomplete,
    FrameSkipped,
)
from inspection_station.core.errors import CameraError, CameraTimeout
from inspection_station.core.frame import Frame
from inspection_station.core.settings.model import CameraSettings

log = logging.getLogger(__name__)
T = TypeVar("T")

LIVE_MAX_FPS = 30.0  # live view needs no more; spare the CPU the detector needs
IDLE_POLL_S = 0.5  # idle wake-up to notice a removed device without a grab
# The removal poll (pylon's IsCameraDeviceRemoved, ~1 ms, sleeps inside) runs on idle steps
# only, never between a request and its trigger: a delivered frame proves the device is
# there, and a removed one fails its grab, which is handled as a lost camera anyway.
# A trigger wait is cut in slices so commands stay responsive: PLC output writes (the verdict,
# BUSY low) wait at most one slice in hardware trigger mode.
HARDWARE_POLL_MS = 20
MAX_FAILED_GRABS = 3  # this many timeouts/damaged frames in a row = "not answering"
# Image settings a camera applies in software, without reopening the device.
SOFTWARE_ONLY_KEYS = frozenset(
    {"rotation_deg", "roi_unit", "roi_x", "roi_y", "roi_width", "roi_height", "output_format",
     "roi_left", "roi_top", "roi_right", "roi_bottom", "roi_before_rotation", "rotation_expand"}
)

FrameCallback = Callable[[Frame], None]
StateCallback = Callable[[CameraState, str], None]


def backoff_delays(min_s: float, max_s: float) -> Iterator[float]:
    """min_s, 2*min_s, 4*min_s, ... capped at max_s, forever."""
    delay = min_s
    while True:
        yield min(delay, max_s)
        delay = min(delay * 2, max_s)


def open_camera(settings: CameraSettings) -> Camera:
    """An opened camera for the settings: image folder replay, a Basler camera or the emulator."""
    # Imported on demand: pypylon loads its runtime on import (slow), and a replay needs none.
    if settings.source == "folder":
        from inspection_station.core.camera.folder_replay import FolderCamera

        camera: Camera = FolderCamera(settings)
    elif settings.source == "pylon":
        from inspection_station.core.camera.pylon_device import PylonCamera

        camera = PylonCamera(settings)
    else:
        raise CameraError(f"camera source: expected 'pylon' or 'folder', got {settings.source!r}")
    camera.open()
    return camera


@dataclass
class _Request:
    future: Future
    deadline: float  # time.monotonic()


class CameraWorker:
    def __init__(
        self,
        settings: CameraSettings,
        *,
        on_frame: FrameCallback | None = None,
        on_triggered: FrameCallback | None = None,
        on_state: StateCallback | None = None,
        camera_factory: Callable[[CameraSettings], Camera] = open_camera,
        name: str = "camera-worker",
    ) -> None:
        self.on_frame = on_frame
        self.on_triggered = on_triggered
        self.on_state = on_state
        self._factory = camera_factory
        self._settings = settings
        self._name = name
        self._lock = threading.Lock()
        self._wake = threading.Event()
        self._stopping = False
        self._thread: threading.Thread | None = None
        self._commands: list[tuple[Future, Callable[[], Any]]] = []
        self._requests: list[_Request] = []
        self._live = False
        self._live_slot: Frame | None = None
        self._camera: Camera | None = None
        self._state = CameraState.CLOSED
        self._reason = ""
        self._warnings: list[str] = []
        self._reopen = False
        self._lost = False  # worker thread only: a loss happened since the last open
        self._failed_grabs = 0
        self._last_live = 0.0
        # (opened, closing) pairs: called in this thread around each camera's life (PLC outputs)
        self._camera_hooks: list[tuple[Callable[[Camera], None], Callable[[Camera], None]]] = []
        self.dropped_live_frames = 0  # replaced in the slot before anyone took them

    # --- public API (any thread) ---------------------------------------------------------

    @property
    def state(self) -> CameraState:
        return self._state

    @property
    def reason(self) -> str:
        return self._reason

    @property
    def settings(self) -> CameraSettings:
        return self._settings

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def start(self) -> None:
        if self._thread is not None:
            raise CameraError("the camera worker was already started (make a new one)")
        self._thread = threading.Thread(target=self._run, name=self._name, daemon=True)
        self._thread.start()

    def stop(self, timeout_s: float | None = None) -> None:
        """Close the camera and join the thread (a pylon call in flight ends within its timeout)."""
        with self._lock:
            self._stopping = True
        self._wake.set()
        if self._thread is not None and self._thread is not threading.current_thread():
            self._thread.join(timeout_s)

    def request_frame(self, timeout_ms: int | None = None) -> Future[Frame]:
        """A Future of a fresh frame taken after this call (software trigger, next streamed frame
        or, in hardware mode, the next line-triggered frame); CameraError/CameraTimeout on failure."""
        future: Future[Frame] = Future()
        timeout_ms = self._settings.grab_timeout_ms if timeout_ms is None else timeout_ms
        with self._lock:
            if self._stopping or not self.running:
                future.set_exception(CameraError("the camera worker is not running"))
                return future
            if self._state is CameraState.DISCONNECTED:
                # Answered here, and the back-off sleep is NOT woken: a request per trigger
                # must not turn the reconnect delay into a reconnect storm.
                future.set_exception(CameraError(f"camera disconnected: {self._reason}"))
                return future
            self._requests.append(_Request(future, time.monotonic() + timeout_ms / 1000))
        self._wake.set()
        return future

    @property
    def available(self) -> bool:
        """Connected or emulated: a request now is served (not answered 'disconnected')."""
        return self._state in (CameraState.CONNECTED, CameraState.EMULATED)

    def set_live(self, enabled: bool) -> None:
        with self._lock:
            self._live = bool(enabled)
            if not enabled:
                self._live_slot = None
        self._wake.set()

    def take_live_frame(self) -> Frame | None:
        """The newest live frame, emptying the slot (the next frame will call on_frame again)."""
        with self._lock:
            frame, self._live_slot = self._live_slot, None
        return frame

    def reconfigure(self, settings: CameraSettings) -> Future[None]:
        """Apply new settings in the worker: image-only changes in place, others by reopening."""
        return self._post(lambda: self._apply_settings(settings))

    def call_in_worker(self, fn: Callable[[Camera | None], T]) -> Future[T]:
        """Run fn(camera) in the camera thread (diagnostics, tests); camera is None while disconnected."""
        return self._post(lambda: fn(self._camera))

    def add_camera_hooks(
        self, opened: Callable[[Camera], None], closing: Callable[[Camera], None]
    ) -> Future[None]:
        """Call opened(camera) in this thread after every (re)connect (and now, if open) and
        closing(camera) before every close: for work on the device itself, such as outputs."""

        def add() -> None:
            self._camera_hooks.append((opened, closing))
            if self._camera is not None:
                self._call(opened, self._camera)

        return self._post(add)

    def remove_camera_hooks(
        self, opened: Callable[[Camera], None], closing: Callable[[Camera], None]
    ) -> Future[None]:
        """Undo `add_camera_hooks` (the owner of the hooks stopped)."""

        def remove() -> None:
            self._camera_hooks = [h for h in self._camera_hooks if h != (opened, closing)]

        return self._post(remove)

    # --- worker thread -------------------------------------------------------------------

    def _post(self, fn: Callable[[], Any]) -> Future:
        future: Future = Future()
        with self._lock:
            if self._stopping or not self.running:
                future.set_exception(CameraError("the camera worker is not running"))
                return future
            self._commands.append((future, fn))
        self._wake.set()
        return future

    def _run(self) -> None:
        delays = backoff_delays(self._settings.reconnect_min_s, self._settings.reconnect_max_s)
        try:
            while not self._stopping:
                self._run_commands()
                if self._stopping:
                    break
                if self._camera is None or self._reopen:
                    self._close_camera()
                    if not self._connect():
                        delay = next(delays)
                        self._set_state(
                            CameraState.DISCONNECTED, f"{self._reason}; retrying in {delay:g} s"
                        )
                        self._sleep(delay)
                        continue
                    delays = backoff_delays(
                        self._settings.reconnect_min_s, self._settings.reconnect_max_s
                    )
                self._serve_safely()
        finally:
            self._close_camera()
            stopped = CameraError("the camera worker stopped")
            self._fail_requests(stopped)
            with self._lock:
                commands, self._commands = self._commands, []
            for future, _ in commands:  # posted but never run: they end too, never hang
                if future.set_running_or_notify_cancel():
                    future.set_exception(stopped)
            self._set_state(CameraState.CLOSED, "stopped")

    def _run_commands(self) -> None:
        with self._lock:
            commands, self._commands = self._commands, []
        for future, fn in commands:
            if future.set_running_or_notify_cancel():
                try:
                    future.set_result(fn())
                except BaseException as exc:  # noqa: BLE001 - handed to the caller
                    future.set_exception(exc)

    def _sleep(self, seconds: float) -> None:
        """Wait, waking early for stop, commands or requests (a reconfigure retries at once)."""
        self._wake.wait(seconds)
        self._wake.clear()

    def _connect(self) -> bool:
        self._reopen = False
        self._set_state(CameraState.CONNECTING, f"opening the {self._settings.source} camera")
        try:
            camera = self._factory(self._settings)
        except CameraError as exc:
            self._disconnected(str(exc))
            return False
        except Exception as exc:  # noqa: BLE001 - a driver bug must not end the thread
            log.exception("opening the camera failed")
            self._disconnected(f"opening the camera failed: {type(exc).__name__}: {exc}")
            return False
        self._camera = camera
        self._failed_grabs = 0
        for opened, _ in self._camera_hooks:
            self._call(opened, camera)
        if self._settings.trigger_mode == "continuous":
            camera.start_streaming()
        details = "; ".join([camera.description, *camera.warnings])
        if self._lost:
            self._lost = False
            log.warning("camera reconnected after a loss: %s", details)
        self._set_state(camera.state, details)
        return True

    def _disconnected(self, reason: str) -> None:
        self._lost = True  # the next successful open is a reconnect (logged as one)
        with self._lock:
            self._state, self._reason = CameraState.DISCONNECTED, reason
        self._fail_requests(CameraError(f"camera disconnected: {reason}"))

    def _lose_camera(self, reason: str) -> None:
        self._close_camera()
        self._disconnected(reason)
        _log_state(CameraState.DISCONNECTED, reason)
        self._call(self.on_state, CameraState.DISCONNECTED, reason)  # the loop reconnects at once

    def _close_camera(self) -> None:
        camera, self._camera = self._camera, None
        if camera is None:
            return
        for _, closing in self._camera_hooks:
            self._call(closing, camera)
        try:
            camera.close()
        except Exception:  # noqa: BLE001 - closing a broken device may fail; it is dropped anyway
            log.exception("closing the camera failed")

    def _apply_settings(self, settings: CameraSettings) -> None:
        old, self._settings = self._settings, settings
        changed = {
            f.name
            for f in dataclasses.fields(settings)
            if getattr(old, f.name) != getattr(settings, f.name)
        }
        changed -= {"reconnect_min_s", "reconnect_max_s"}  # read at the next back-off
        if not changed:
            return
        if changed <= SOFTWARE_ONLY_KEYS and self._camera is not None:
            self._camera.apply_image_settings(settings)
            return
        self._reopen = True  # the main loop closes and reconnects at once

    def _serve_safely(self) -> None:
        camera = self._camera
        if camera is None:  # the main loop serves only an open camera
            return
        served = False
        try:
            served = self._serve(camera)
            if served:
                self._failed_grabs = 0  # only a frame ends a run of failures, not an idle wait
        except FrameSkipped as exc:  # the request that asked has its ERROR; the source is fine
            log.warning("%s", exc)
        except (CameraTimeout, FrameIncomplete) as exc:
            self._failed_grabs += 1
            if self._failed_grabs >= MAX_FAILED_GRABS:
                self._lose_camera(
                    f"not answering ({self._failed_grabs} grabs failed in a row): {exc}"
                )
                return
        except CameraError as exc:
            self._lose_camera(str(exc))
            return
        except Exception as exc:  # noqa: BLE001 - never let the thread die
            log.exception("camera worker error")
            self._lose_camera(f"{type(exc).__name__}: {exc}")
            return
        if not served and not self._has_requests() and camera.is_removed():
            self._lose_camera(f"{camera.description} was removed")

    def _has_requests(self) -> bool:
        with self._lock:
            return bool(self._requests)

    def _serve(self, camera: Camera) -> bool:
        """One step: grab for pending requests or live view, or wait for work; True = a frame came."""
        mode = self._settings.trigger_mode
        if mode == "hardware":
            return self._serve_hardware(camera)
        self._expire_requests()
        with self._lock:
            batch, self._requests = self._requests, []
            live = self._live
        if batch:
            timeout_ms = self._remaining_ms(batch)
            try:
                frame = camera.grab(timeout_ms)
            except CameraError as exc:
                if not isinstance(exc, CameraTimeout | FrameIncomplete | FrameSkipped):
                    # Lost: say so before the caller hears of it, so a loop that waits for
                    # the camera sees it gone and does not fire straight back into the reconnect.
                    with self._lock:
                        self._state, self._reason = CameraState.DISCONNECTED, str(exc)
                self._settle(batch, exc)
                raise
            self._settle(batch, frame)
            if live:
                self._offer_live(frame)
            return True
        if not live:
            self._sleep(IDLE_POLL_S)
            return False
        wait = self._last_live + 1 / LIVE_MAX_FPS - time.monotonic()
        if wait > 0:
            self._sleep(wait)  # a request arriving now is served at once
            return False
        self._last_live = time.monotonic()
        frame = camera.latest_frame() if mode == "continuous" else camera.grab()
        self._offer_live(frame)
        return True

    def _serve_hardware(self, camera: Camera) -> bool:
        self._expire_requests()
        try:
            frame = camera.wait_hardware_trigger(HARDWARE_POLL_MS)
        except CameraTimeout:
            self._wake.clear()
            return False  # no pulse yet: normal, not a failure
        except FrameSkipped as exc:  # a pulse came but its frame could not be made
            self._fail_requests(exc)
            raise
        with self._lock:
            batch, self._requests = self._requests, []
            live = self._live
        if batch:
            self._settle(batch, frame)  # someone asked for "the next frame": this is it
        else:
            self._call(self.on_triggered, frame)
        if live:
            self._offer_live(frame)
        return True

    def _remaining_ms(self, batch: list[_Request]) -> int:
        return max(1, int((min(r.deadline for r in batch) - time.monotonic()) * 1000))

    def _expire_requests(self) -> None:
        now = time.monotonic()
        with self._lock:
            expired = [r for r in self._requests if r.deadline <= now]
            self._requests = [r for r in self._requests if r.deadline > now]
        if expired:
            mode = self._settings.trigger_mode
            what = (
                f"no hardware trigger on {self._settings.trigger_line}"
                if mode == "hardware"
                else "no frame"
            )
            self._settle(expired, CameraTimeout(f"{what} within the requested time"))

    def _fail_requests(self, error: Exception) -> None:
        with self._lock:
            batch, self._requests = self._requests, []
        self._settle(batch, error)

    @staticmethod
    def _settle(batch: list[_Request], outcome: Frame | Exception) -> None:
        for request in batch:
            if not request.future.set_running_or_notify_cancel():
                continue  # the caller cancelled it
            if isinstance(outcome, Exception):
                request.future.set_exception(outcome)
            else:
                request.future.set_result(outcome)

    def _offer_live(self, frame: Frame) -> None:
        with self._lock:
            if not self._live:
                return
            was_empty = self._live_slot is None
            if not was_empty:
                self.dropped_live_frames += 1
            self._live_slot = frame
        if was_empty:
            self._call(self.on_frame, frame)

    def _set_state(self, state: CameraState, reason: str) -> None:
        with self._lock:
            self._state, self._reason = state, reason
        _log_state(state, reason)
        self._call(self.on_state, state, reason)

    @staticmethod
    def _call(callback: Callable | None, *args: Any) -> None:
        if callback is None:
            return
        try:
            callback(*args)
        except Exception:  # noqa: BLE001 - a consumer's bug must not stop the camera
            log.exception("camera callback %r failed", callback)


def _log_state(state: CameraState, reason: str) -> None:
    """Every camera state change in the log file: drops and reconnects leave a trace."""
    level = logging.WARNING if state is CameraState.DISCONNECTED else logging.INFO
    log.log(level, "camera %s: %s", state, reason)
