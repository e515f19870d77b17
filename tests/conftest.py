"""Shared test setup: offscreen Qt, isolated user folders, the camera emulator."""

from __future__ import annotations

import os

# Before any Qt import: no display needed, and a fresh machine has no X server.
os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
# Two emulated cameras for every test process (pylon reads this at TL creation).
os.environ.setdefault("PYLON_CAMEMU", "2")

import pytest  # noqa: E402

# Test files that need Qt (PySide6, pyqtgraph, pytest-qt). .ci/core_tests_without_qt runs the
# rest in a venv where Qt is not installed at all, with `-m "not qt"` for single Qt tests
# in otherwise Qt-free files. Only that explicit switch leaves anything out.
QT_TEST_FILES = [
    "test_access_gui.py",
    "test_gui_old_patterns.py",
    "test_gui_widgets.py",
    "test_gui_window.py",
    "test_pattern_editor.py",
    "test_settings_dialog.py",
    "test_packaging.py",  # the frozen GUI app
]
if os.environ.get("INSPECTION_STATION_CORE_TESTS_ONLY") == "1":
    collect_ignore = QT_TEST_FILES


@pytest.fixture(autouse=True)
def _isolated_user_dirs(tmp_path_factory, monkeypatch):
    """Each test gets its own platformdirs folders: no test touches the real user's files."""
    home = tmp_path_factory.mktemp("home")
    for var in ("XDG_CONFIG_HOME", "XDG_DATA_HOME", "XDG_STATE_HOME", "XDG_CACHE_HOME"):
        monkeypatch.setenv(var, str(home / var.lower()))
    for name in list(os.environ):
        if name.startswith("INSPECTION_STATION_") and name != "INSPECTION_STATION_BUNDLE_ROOT":
            monkeypatch.delenv(name)
    yield
