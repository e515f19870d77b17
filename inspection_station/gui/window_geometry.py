"""The one per-user setting: where this Windows (or Linux) user had the window.

Everything else of the station is machine-wide in the data root (core/paths.py); the window's
size and place depend on the user's screens, so they stay with the user
(`<user layer>/window.ini`). Kiosk mode is always full screen and neither reads nor writes it.
"""

from __future__ import annotations

from PySide6.QtCore import QSettings
from PySide6.QtWidgets import QWidget

from inspection_station.core import paths

FILE_NAME = "window.ini"


def _store() -> QSettings:
    return QSettings(str(paths.user_layer_dir() / FILE_NAME), QSettings.Format.IniFormat)


def restore_geometry(window: QWidget) -> bool:
    """Put `window` where this user left it; False when nothing (usable) was saved."""
    saved = _store().value("main_window/geometry")
    return bool(saved) and bool(window.restoreGeometry(saved))


def save_geometry(window: QWidget) -> None:
    store = _store()
    store.setValue("main_window/geometry", window.saveGeometry())
    store.sync()
