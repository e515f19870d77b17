"""The camera thread against the real emulator: requests, live view, triggers, recovery, shutdown."""

from __future__ import annotations

import contextlib
import gc
import threading
import time
import tracemalloc

import pytest

from inspection_station.core.camera.folder_replay import FolderCamera
from inspection_station.core.camera.protocol import CameraState, FrameIncomplete
from inspection_station.core.camera.pylon_device import PylonCamera
from inspection_station.core.camera.worker import CameraWorker, backoff_delays, open_camera
from inspection_station.core.errors import CameraError, CameraTimeout
from inspection_station.core.settings.model import CameraSettings
from tests.test_camera import BLUE, GREEN, RED, H, W, centre, emulator, write_images

WAIT_S = 20.0  # generous upper bound for waits on a busy machine; never asserted as a duration


def wait_until(predicate, what: str) -> None:
    deadline = time.monotonic() + WAIT_S
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"gave up waiting for {what}")
        time.sleep(0.005)


class Recorder:
    """Collects the worker's callbacks (called in the camera thread)."""

    def __init__(self) -> None:
        self.states: list[tuple[CameraState, str]] = []
        self.live: list = []
        self.triggered: list = []

    def kwargs(self) -> dict:
        return {
            "on_state": self._state,
            "on_frame": self.live.append,
            "on_triggered": self.triggered.append,
        }

    def _state(self, state, reason) -> None:
        self.states.append((state, reason))

    def saw(self, state: CameraState, text: str = "") -> bool:
        return any(s is state and text in r for s, r in list(self.states))


@pytest.fixture
def images(tmp_path):
    return write_images(tmp_path / "images")


@pytest.fixture
def make_worker():
    workers: list[CameraWorker] = []

    def _make(settings: CameraSettings, recorder: Recorder | None = None, **kwargs) -> CameraWorker:
        worker = CameraWorker(settings, **(recorder.kwargs() if recorder else {}), **kwargs)
        workers.append(worker)
        worker.start()
        return worker

    yield _make
    for worker in workers:
        worker.stop()


def test_backoff_doubles_up_to_the_maximum():
    delays = backoff_delays(0.5, 10.0)
    assert [next(delays) for _ in range(7)] == [0.5, 1.0, 2.0, 4.0, 8.0, 10.0, 10.0]


def test_requests_get_fresh_frames_in_file_order(images, make_worker):
    rec = Recorder()
    worker = make_worker(emulator(images), rec)
    frames = [worker.request_frame().result(WAIT_S) for _ in range(4)]
    assert [centre(f) for f in frames] == [RED, GREEN, BLUE, RED]
    assert worker.state is CameraState.EMULATED
    assert rec.states[0][0] is CameraState.CONNECTING and rec.saw(
        CameraState.EMULATED, "Emulation 0815-0000"
    )


def test_live_view_is_newest_wins_with_one_notification_per_taken_frame(images, make_worker):
    rec = Recorder()
    worker = make_worker(emulator(images), rec)
    worker.set_live(True)
    wait_until(lambda: worker.dropped_live_frames >= 3, "live frames replacing the untaken one")
    assert len(rec.live) == 1  # nobody took the first: no further notifications, no queue
    newest = worker.take_live_frame()
    assert newest is not None and newest.frame_id > rec.live[0].frame_id
    wait_until(lambda: len(rec.live) == 2, "a notification for the next frame")
    worker.set_live(False)
    assert worker.request_frame().result(WAIT_S).image.shape == (H, W, 3)


def test_continuous_mode_streams_and_serves_requests(images, make_worker):
    rec = Recorder()
    worker = make_worker(emulator(images, trigger_mode="continuous"), rec)
    worker.set_live(True)
    wait_until(lambda: rec.live, "a streamed frame")
    frame = worker.request_frame().result(WAIT_S)
    assert frame.meta["mode"] == "continuous"


def test_hardware_trigger_that_never_comes_is_a_timeout_then_a_pulse_starts_a_cycle(
    images, make_worker
):
    rec = Recorder()
    worker = make_worker(emulator(images, trigger_mode="hardware"), rec)
    with pytest.raises(CameraTimeout, match="no hardware trigger on Line1"):
        worker.request_frame(timeout_ms=200).result(WAIT_S)
    assert worker.state is CameraState.EMULATED  # a missing pulse is not a fault
    # The emulator fires its TriggerSoftware node even with a line source: our stand-in pedal.
    worker.call_in_worker(lambda cam: cam.instant_camera.TriggerSoftware.Execute()).result(WAIT_S)
    wait_until(lambda: rec.triggered, "the triggered frame")
    assert rec.triggered[0].meta["mode"] == "hardware" and centre(rec.triggered[0]) == RED


def test_hardware_pulses_from_a_folder_camera_each_start_one_cycle(tmp_path, make_worker):
    write_images(tmp_path / "f")
    settings = CameraSettings(
        source="folder", image_folder=str(tmp_path / "f"), trigger_mode="hardware"
    )
    rec = Recorder()
    worker = make_worker(settings, rec, camera_factory=open_camera)
    for n in range(1, 4):
        worker.call_in_worker(lambda cam: cam.pulse()).result(WAIT_S)
        wait_until(lambda n=n: len(rec.triggered) == n, "one triggered frame per pulse")
    assert [centre(f) for f in rec.triggered] == [RED, GREEN, BLUE]
    assert isinstance(worker.call_in_worker(lambda cam: cam).result(WAIT_S), FolderCamera)


def fire_removal(cam) -> None:
    """The emulator's own PnP removal callback: pylon marks the device removed."""
    with contextlib.suppress(Exception):  # pylon reports the removal by raising from Execute
        cam.instant_camera.FirePnPCallback.Execute()


@pytest.mark.parametrize(
    "remove",
    [fire_removal, lambda cam: cam.instant_camera.DestroyDevice()],
    ids=["pnp-removal-callback", "device-destroyed"],
)
def test_removed_device_is_reported_and_recovered_without_restart(images, make_worker, remove):
    rec = Recorder()
    worker = make_worker(emulator(images, reconnect_min_s=0.05), rec)
    first = worker.request_frame().result(WAIT_S)
    worker.call_in_worker(remove).result(WAIT_S)
    wait_until(lambda: rec.saw(CameraState.DISCONNECTED), "the disconnect report")
    wait_until(lambda: rec.states[-1][0] is CameraState.EMULATED, "the reconnection")
    frame = worker.request_frame().result(WAIT_S)
    assert frame.frame_id > first.frame_id and frame.image.shape == (H, W, 3)
    reasons = [r for s, r in rec.states if s is CameraState.DISCONNECTED]
    assert reasons and all(r for r in reasons)


def test_damaged_frames_fail_the_request_and_a_silent_camera_is_reopened(images, make_worker):
    rec = Recorder()
    worker = make_worker(emulator(images, reconnect_min_s=0.05), rec)
    worker.request_frame().result(WAIT_S)

    def damage(count):
        def _damage(cam):
            cam.instant_camera.ForceFailedBufferCount.Value = count
            cam.instant_camera.ForceFailedBuffer.Execute()

        return _damage

    worker.call_in_worker(damage(1)).result(WAIT_S)
    with pytest.raises(FrameIncomplete, match="damaged frame"):
        worker.request_frame().result(WAIT_S)
    assert worker.request_frame().result(WAIT_S).image.shape == (
        H,
        W,
        3,
    )  # one bad frame is not a fault

    worker.call_in_worker(damage(3)).result(WAIT_S)
    for _ in range(3):
        with pytest.raises(CameraError):
            worker.request_frame().result(WAIT_S)
    wait_until(
        lambda: rec.saw(CameraState.DISCONNECTED, "not answering"), "the not-answering report"
    )
    wait_until(lambda: rec.states[-1][0] is CameraState.EMULATED, "the reconnection")
    assert worker.request_frame().result(WAIT_S).image.shape == (H, W, 3)


def test_failures_separated_by_idle_waits_still_count_as_in_a_row(images, make_worker):
    """A pedal pressed every few seconds on a broken camera must still lead to a reopen."""
    rec = Recorder()
    worker = make_worker(emulator(images, reconnect_min_s=0.05), rec)
    worker.request_frame().result(WAIT_S)
    worker.call_in_worker(
        lambda cam: (
            setattr(cam.instant_camera.ForceFailedBufferCount, "Value", 3),
            cam.instant_camera.ForceFailedBuffer.Execute(),
        )
    ).result(WAIT_S)
    for _ in range(3):
        with pytest.raises(CameraError):
            worker.request_frame().result(WAIT_S)
        time.sleep(0.1)  # the worker goes idle between requests: not a successful grab
    wait_until(
        lambda: rec.saw(CameraState.DISCONNECTED, "not answering"), "the not-answering report"
    )


def test_a_command_posted_but_not_run_before_stop_fails_instead_of_hanging(images, make_worker):
    worker = make_worker(emulator(images))

    def post_then_stop(_cam):
        late = worker.call_in_worker(lambda _cam: "ran")  # queued behind this command ...
        worker.stop()  # ... which stops the worker before it comes round
        return late

    late = worker.call_in_worker(post_then_stop).result(WAIT_S)
    with pytest.raises(CameraError, match="stopped"):
        late.result(5)


def test_no_camera_backs_off_fails_requests_at_once_and_recovers_on_reconfigure(
    images, make_worker
):
    rec = Recorder()
    settings = emulator(images, emulation=False, reconnect_min_s=0.05, reconnect_max_s=0.2)
    worker = make_worker(settings, rec)
    wait_until(
        lambda: sum(s is CameraState.DISCONNECTED for s, _ in rec.states) >= 4, "several retries"
    )
    retries = [
        r.rsplit("retrying in ", 1)[-1] for s, r in rec.states if s is CameraState.DISCONNECTED
    ]
    assert retries[:4] == ["0.05 s", "0.1 s", "0.2 s", "0.2 s"]
    assert "emulation is off" in rec.states[-1][1]
    with pytest.raises(CameraError, match="camera disconnected: no camera found"):
        worker.request_frame().result(WAIT_S)
    worker.reconfigure(emulator(images, reconnect_min_s=0.05)).result(WAIT_S)
    wait_until(lambda: worker.state is CameraState.EMULATED, "the emulator after reconfigure")
    assert centre(worker.request_frame().result(WAIT_S)) == RED


def test_reconfigure_image_settings_in_place_and_device_settings_by_reopening(images, make_worker):
    rec = Recorder()
    worker = make_worker(emulator(images), rec)
    worker.request_frame().result(WAIT_S)  # RED
    worker.request_frame().result(WAIT_S)  # GREEN
    opened = sum(s is CameraState.EMULATED for s, _ in rec.states)
    worker.reconfigure(emulator(images, rotation_deg=90, output_format="BGR")).result(WAIT_S)
    frame = worker.request_frame().result(WAIT_S)
    assert frame.image.shape == (W, H, 3) and centre_rotated(frame) == (
        255,
        0,
        0,
    )  # BLUE's file in BGR
    assert sum(s is CameraState.EMULATED for s, _ in rec.states) == opened  # no reopen
    worker.reconfigure(emulator(images, pixel_format="Mono8", output_format="Mono")).result(WAIT_S)
    assert worker.request_frame().result(WAIT_S).image.shape == (H, W)
    assert sum(s is CameraState.EMULATED for s, _ in rec.states) == opened + 1


def centre_rotated(frame):
    return tuple(int(v) for v in frame.image[W // 2, H // 2])


def test_a_failing_callback_does_not_stop_the_camera(images, make_worker):
    def boom(*_args):
        raise RuntimeError("consumer bug")

    worker = make_worker(emulator(images), on_state=boom, on_frame=boom)
    worker.set_live(True)
    assert worker.request_frame().result(WAIT_S) is not None
    assert worker.running


def test_stop_joins_every_thread_and_ends_every_request(images):
    before = set(threading.enumerate())
    rec = Recorder()
    worker = CameraWorker(emulator(images, trigger_mode="hardware"), **rec.kwargs())
    worker.start()
    wait_until(lambda: worker.state is CameraState.EMULATED, "the camera")
    pending = worker.request_frame(timeout_ms=60_000)  # a pedal nobody presses
    worker.stop()
    assert set(threading.enumerate()) == before
    with pytest.raises(CameraError, match="stopped"):
        pending.result(WAIT_S)
    with pytest.raises(CameraError, match="not running"):
        worker.request_frame().result(WAIT_S)
    assert rec.states[-1] == (CameraState.CLOSED, "stopped")


def test_thousand_grabs_without_memory_growth(images, make_worker):
    worker = make_worker(emulator(images))
    for _ in range(50):  # warm up buffers, converter, caches
        worker.request_frame().result(WAIT_S)
    gc.collect()
    tracemalloc.start()
    rss_before = rss_bytes()
    base, _ = tracemalloc.get_traced_memory()
    for _ in range(1000):
        frame = worker.request_frame().result(WAIT_S)
    gc.collect()
    grown, _ = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    rss_growth = rss_bytes() - rss_before
    print(f"1000 grabs: python heap +{(grown - base) / 1e3:.1f} kB, RSS +{rss_growth / 1e6:.1f} MB")
    assert frame.image.shape == (H, W, 3)
    assert grown - base < 1_000_000  # one frame is 9 kB: a leak of one per grab would be 9 MB
    assert rss_growth < 50_000_000


def rss_bytes() -> int:
    with open("/proc/self/statm") as fh:
        return int(fh.read().split()[1]) * 4096


@pytest.mark.qt
def test_the_live_view_takes_the_newest_frames_straight_from_the_worker(images, qtbot):
    """The one live-frame path: the view's display thread empties the worker's slot."""
    from inspection_station.gui.operator.image_view import ImageView

    worker = CameraWorker(emulator(images))
    view = ImageView(display_hz=60, frame_source=worker.take_live_frame)
    qtbot.addWidget(view)
    drawn = []
    view.frame_drawn.connect(lambda: drawn.append(threading.current_thread()))
    worker.start()
    try:
        worker.set_live(True)
        qtbot.waitUntil(lambda: len(drawn) >= 3, timeout=20_000)
        assert all(t is threading.main_thread() for t in drawn)
        shown = view.picture.mapRectToParent(view.picture.boundingRect())
        assert view.mode == "live" and (shown.width(), shown.height()) == (W, H)  # original pixels
    finally:
        worker.stop()


class CallLog(PylonCamera):
    """The real emulated camera, logging grabs and removal polls in the order they ran."""

    calls: list[str]

    def grab(self, timeout_ms=None):
        self.calls.append("grab")
        return super().grab(timeout_ms)

    def is_removed(self) -> bool:
        self.calls.append("is_removed")
        return super().is_removed()


def test_removal_poll_stays_off_the_path_from_a_request_to_its_trigger(images, make_worker):
    calls: list[str] = []

    def factory(settings):
        camera = CallLog(settings)
        camera.calls = calls
        camera.open()
        return camera

    worker = make_worker(emulator(images), camera_factory=factory)
    done = threading.Event()
    frames: list = []

    def next_request(future) -> None:
        # Runs in the worker as the frame is handed over: the next request is already
        # waiting when the worker comes round, as on a busy line.
        frames.append(future.result())
        if len(frames) < 6:
            worker.request_frame().add_done_callback(next_request)
        else:
            done.set()

    worker.request_frame().add_done_callback(next_request)
    assert done.wait(WAIT_S)
    first = calls.index("grab")
    assert calls[first : first + 6] == ["grab"] * 6  # no poll between one frame and the next request
    wait_until(lambda: calls[-1] == "is_removed", "the removal poll on idle time")
