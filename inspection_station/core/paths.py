"""Where bundled resources and the station's data live (source tree, installed or frozen).

Every location the station reads or writes is one function here; other modules call these
and never platformdirs or the environment themselves.

The station's data is machine-wide, in ONE data root per station (not per Windows user: the
administrator who installs and the operator who runs it see the same station):

1. `$INSPECTION_STATION_DATA_ROOT` when set (IT's choice of folder or drive; the tests' temp
   folder);
2. Windows: `%PROGRAMDATA%\\InspectionStation` (the installer creates it and sets its ACLs);
3. elsewhere: `/var/lib/inspection-station` when that folder exists (IT creates it once,
   docs/INSTALL_LINUX.md), else the user's data folder (`~/.local/share/InspectionStation`:
   a developer's checkout, one user).

Under it: `settings.toml`, `accounts.json`, `patterns/`, `logs/` (the audit trail and the log
file), `results/`, `images/`, `review/`, `model-cache/`, `demo/` and `locks/`. The only
per-user file is the window's geometry (`user_layer_dir()`). The folders of version 0.1 were
per user; `core/data_root.py` moves their content into the data root on first start.
"""

from __future__ import annotations

import importlib.resources
import os
import shutil
import sys
from pathlib import Path

import platformdirs

APP_NAME = "InspectionStation"
APP_AUTHOR = "InspectionStation"

BUNDLE_ROOT_ENV = "INSPECTION_STATION_BUNDLE_ROOT"
DATA_ROOT_ENV = "INSPECTION_STATION_DATA_ROOT"
# Environment variables of ours that are not settings (the settings model skips them).
NON_SETTING_ENV = frozenset({BUNDLE_ROOT_ENV, DATA_ROOT_ENV})
LINUX_SYSTEM_ROOT = Path("/var/lib/inspection-station")

BUNDLE_PACKAGE_DIR = "bundle"  # inspection_station/bundle/{resources,models} once installed (setup.py)


def bundle_root() -> Path:
    """Folder holding resources/ and models/, wherever this copy of the package runs from.

    Frozen (PyInstaller): the bundle root `sys._MEIPASS`. Installed (wheel, `pip install .`):
    the package's own `bundle/` folder, through importlib.resources. A source checkout
    (PYTHONPATH or an editable install): the repository root, where the folders live.
    """
    override = os.environ.get(BUNDLE_ROOT_ENV)
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


# --- the station's data root ----------------------------------------------------------------


def data_root() -> Path:
    """The station's data root (see the module's docstring for the rule)."""
    configured = os.environ.get(DATA_ROOT_ENV, "").strip()
    if configured:
        return Path(configured).expanduser()
    if sys.platform == "win32":
        program_data = os.environ.get("PROGRAMDATA") or os.environ.get("ALLUSERSPROFILE") or r"C:\ProgramData"
        return Path(program_data) / APP_NAME
    if LINUX_SYSTEM_ROOT.is_dir():
        return LINUX_SYSTEM_ROOT
    return Path(platformdirs.user_data_dir(APP_NAME, APP_AUTHOR))


def data_root_rule() -> str:
    """Why the data root is where it is, in words (About box, `inspection-station paths`)."""
    if os.environ.get(DATA_ROOT_ENV, "").strip():
        return f"${DATA_ROOT_ENV}"
    if sys.platform == "win32":
        return "%PROGRAMDATA%, machine-wide"
    if LINUX_SYSTEM_ROOT.is_dir():
        return f"{LINUX_SYSTEM_ROOT}, machine-wide"
    return f"this user's data folder ({LINUX_SYSTEM_ROOT} does not exist)"


def config_dir() -> Path:
    """settings.toml and accounts.json."""
    return data_root()


def station_data_dir() -> Path:
    """results/, images/, review/, model-cache/, demo/ (the defaults of the [results] dirs)."""
    return data_root()


def logs_dir() -> Path:
    """The audit trail and the log file."""
    return data_root() / "logs"


def patterns_dir() -> Path:
    """The station's own pattern library (recipes): where an empty `[patterns] path` points."""
    return data_root() / "patterns"


def station_patterns_dir() -> Path:
    """`patterns_dir()`, made the first time as a copy of the bundled demo patterns (so the
    pattern editor saves into the data root, never into the installed program). When it
    cannot be made (a read-only data root) the bundled folder, read-only."""
    target = patterns_dir()
    if target.is_dir():
        return target
    bundled = resources_dir() / "patterns"
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        staged = target.with_name(f".patterns.{os.getpid()}.tmp")
        shutil.copytree(bundled, staged, dirs_exist_ok=True)
        os.replace(staged, target)  # whole or not at all (another process may have won: fine)
    except OSError:
        shutil.rmtree(target.with_name(f".patterns.{os.getpid()}.tmp"), ignore_errors=True)
        return target if target.is_dir() else bundled
    return target


def locks_dir() -> Path:
    """The single-instance locks (core/instance_lock.py)."""
    return data_root() / "locks"


def user_layer_dir() -> Path:
    """The only per-user files: the window's geometry. Outside the folders of version 0.1
    (which the migration empties): on Windows `%LOCALAPPDATA%\\InspectionStation`, on Linux
    `~/.local/state/InspectionStation`."""
    return Path(platformdirs.user_state_dir(APP_NAME, appauthor=False))


def v01_user_dirs() -> dict[str, Path]:
    """The per-user folders version 0.1 wrote (platformdirs' user folders): what the
    migration moves into the data root, by what they held."""
    return {
        "logs": Path(platformdirs.user_log_dir(APP_NAME, APP_AUTHOR)),
        "config": Path(platformdirs.user_config_dir(APP_NAME, APP_AUTHOR)),
        "data": Path(platformdirs.user_data_dir(APP_NAME, APP_AUTHOR)),
    }
