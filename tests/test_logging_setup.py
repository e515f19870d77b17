"""Logging to a rotating file in the data root's logs/: camera drops and reconnects leave a trace."""

from __future__ import annotations

import logging

import pytest

from inspection_station.core import paths
from inspection_station.core.camera.protocol import CameraState
from inspection_station.core.camera.worker import CameraWorker
from inspection_station.core.logging_setup import log_file, setup_logging
from inspection_station.core.settings.model import LoggingSettings
from tests.test_camera import emulator, write_images
from tests.test_camera_worker import WAIT_S, Recorder, fire_removal, wait_until


@pytest.fixture
def restore_logging():
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    yield
    for handler in list(root.handlers):
        if handler not in handlers:
            root.removeHandler(handler)
            handler.close()
    root.setLevel(level)


def _flush() -> None:
    for handler in logging.getLogger().handlers:
        handler.flush()


def test_log_file_under_the_user_log_folder_with_the_configured_level(restore_logging):
    path = setup_logging(LoggingSettings(level="WARNING"), console=False)
    assert path == log_file() and path.parent == paths.logs_dir()
    logging.getLogger("inspection_station.test").info("quiet")
    logging.getLogger("inspection_station.test").warning("loud")
    _flush()
    text = path.read_text(encoding="utf-8")
    assert "loud" in text and "quiet" not in text
    setup_logging(LoggingSettings(level="DEBUG"), console=False)  # again: replaces, no duplicates
    logging.getLogger("inspection_station.test").debug("detail")
    _flush()
    assert path.read_text(encoding="utf-8").count("detail") == 1


def test_the_file_rotates(restore_logging):
    path = setup_logging(LoggingSettings(max_kb=16, backups=2), console=False)
    for i in range(400):
        logging.getLogger("inspection_station.test").info("line %d %s", i, "x" * 80)
    _flush()
    assert path.with_name(path.name + ".1").is_file() and path.stat().st_size <= 16 * 1024


def test_a_camera_loss_and_reconnect_are_in_the_log_file(restore_logging, tmp_path):
    path = setup_logging(LoggingSettings(level="INFO"), console=False)
    rec = Recorder()
    worker = CameraWorker(emulator(write_images(tmp_path / "images"), reconnect_min_s=0.05), **rec.kwargs())
    worker.start()
    try:
        worker.request_frame().result(WAIT_S)
        worker.call_in_worker(fire_removal).result(WAIT_S)
        wait_until(lambda: rec.saw(CameraState.DISCONNECTED), "the disconnect report")
        wait_until(lambda: rec.states[-1][0] is CameraState.EMULATED, "the reconnection")
    finally:
        worker.stop()
    _flush()
    text = path.read_text(encoding="utf-8")
    assert "WARNING" in text and "camera disconnected:" in text
    assert "camera reconnected after a loss:" in text
    assert "[camera" in text  # written from the camera worker thread (thread name in each line)


def test_headless_run_writes_the_log_file(restore_logging, capsys):
    from inspection_station import cli

    assert cli.main(["run", "--headless", "--demo", "--cycles", "1"]) == 0
    _flush()
    text = log_file().read_text(encoding="utf-8")
    assert "logging at INFO" in text
    assert "model loaded: demo_parts.onnx" in text and "sha256" in text
    assert "camera emulated" in text or "camera connected" in text


@pytest.mark.qt
def test_the_gui_error_route_and_uncaught_thread_exceptions_reach_the_file(restore_logging, qtbot):
    import threading

    from inspection_station.gui.error_route import ErrorRoute, install_exception_hooks

    path = setup_logging(LoggingSettings(level="INFO"), console=False)
    route = ErrorRoute()
    uninstall = install_exception_hooks(route)
    try:
        route.report("results log not writable: disk full")
        worker = threading.Thread(target=lambda: 1 / 0, name="image-archive")
        worker.start()
        worker.join()
    finally:
        uninstall()
    _flush()
    text = path.read_text(encoding="utf-8")
    assert "results log not writable: disk full" in text
    assert "Unexpected error in image-archive: ZeroDivisionError" in text and "Traceback" in text
