"""Where bundled resources and per-user data live (source tree, installed or frozen)."""

from __future__ import annotations

import importlib.resources
import os
import sys
from pathlib import Path

import platformdirs

APP_NAME = "InspectionStation"
APP_AUTHOR = "InspectionStation"


BUNDLE_PACKAGE_DIR = "bundle"  # inspection_station/bundle/{resources,models} once installed (setup.py)


def bundle_root() -> Path:
    """Folder holding resources/ and models/, wherever this copy of the package runs from.

    Frozen (PyInstaller): the bundle root `sys._MEIPASS`. Installed (wheel, `pip install .`):
    the package's own `bundle/` folder, through importlib.resources. A source checkout
    (PYTHONPATH or an editable install): the repository root, where the folders live.
    """
    override = os.environ.get("INSPECTION_STATION_BUNDLE_ROOT")
    if override:
        return Path(override)
    frozen = getattr(sys, "_MEIPASS", None)
    if frozen:
        return Path(frozen)
    installed = importlib.resources.files("inspection_station") / BUNDLE_PACKAGE_DIR
    if isinstance(installed, Path) and installed.is_dir():
        return installed
    return Path(__file__).resolve().parents[2]


def resources_dir() -> Path:
    return bundle_root() / "resources"


def models_dir() -> Path:
    return bundle_root() / "models"


def user_config_dir() -> Path:
    return Path(platformdirs.user_config_dir(APP_NAME, APP_AUTHOR))


def user_data_dir() -> Path:
    return Path(platformdirs.user_data_dir(APP_NAME, APP_AUTHOR))


def user_log_dir() -> Path:
    return Path(platformdirs.user_log_dir(APP_NAME, APP_AUTHOR))
