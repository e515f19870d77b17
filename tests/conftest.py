"""Shared test setup: offscreen Qt, isolated user folders, the camera emulator."""

from __future__ import annotations

import os

# Before any Qt import: no display needed, and a fresh machine has no X server. The
# offscreen screens are the panels a line has (1920x1080 first, 1366x768, 1280x720, 4K):
# tests/test_screen_fit.py puts each window on each of them.
_SCREENS = os.path.join(os.path.dirname(os.path.abspath(__file__)), "screens.json")
if os.environ.get("QT_QPA_PLATFORM", "offscreen") == "offscreen":
    os.environ["QT_QPA_PLATFORM"] = f"offscreen:configfile={_SCREENS}"
# Two emulated cameras for every test process (pylon reads this at TL creation).
os.environ.setdefault("PYLON_CAMEMU", "2")

import pytest  # noqa: E402

# Test files that need Qt (PySide6, pyqtgraph, pytest-qt). .ci/core_tests_without_qt runs the
# rest in a venv where Qt is not installed at all, with `-m "not qt"` for single Qt tests
# in otherwise Qt-free files. Only that explicit switch leaves anything out.
QT_TEST_FILES = [
    "test_access_gui.py",
    "test_action_routes.py",
    "test_demo_layer.py",
    "test_gui_old_patterns.py",
    "test_gui_widgets.py",
    "test_gui_window.py",
    "test_kiosk_window.py",  # the real GUI in a subprocess under Xvfb
    "test_operator_flows.py",
    "test_pattern_canvas.py",
    "test_pattern_editor.py",
    "test_screen_fit.py",
    "test_settings_dialog.py",
    "test_settings_dialog_keys.py",
    "test_single_instance_gui.py",
    "test_station_protocol.py",  # the widgets' Protocol lives in the gui package
    "test_packaging.py",  # the frozen GUI app
]
if os.environ.get("INSPECTION_STATION_CORE_TESTS_ONLY") == "1":
    collect_ignore = QT_TEST_FILES


@pytest.fixture(autouse=True)
def _isolated_user_dirs(tmp_path_factory, monkeypatch):
    """Each test gets its own data root and platformdirs folders: no test touches the
    machine-wide station data (core/paths.py) or the real user's files."""
    home = tmp_path_factory.mktemp("home")
    for var in ("XDG_CONFIG_HOME", "XDG_DATA_HOME", "XDG_STATE_HOME", "XDG_CACHE_HOME"):
        monkeypatch.setenv(var, str(home / var.lower()))
    for name in list(os.environ):
        if name.startswith("INSPECTION_STATION_") and name != "INSPECTION_STATION_BUNDLE_ROOT":
            monkeypatch.delenv(name)
    monkeypatch.setenv("INSPECTION_STATION_DATA_ROOT", str(home / "data-root"))
    yield
