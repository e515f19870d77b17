"""The embedded demo's own settings layer: `--demo` never writes the user's files.

The demo reads the user's settings (or `--config F`) once, puts the demo's camera, model
and pattern on top, and from then on saves the engineer's edits to its own file under
the user data folder. Its pattern library is a copy of the bundled one in that folder,
so editing a demo pattern never touches the installed resources.
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from pathlib import Path

from inspection_station.core import paths
from inspection_station.core.settings.model import Settings, demo_settings, load_settings

DEMO_FOLDER = "demo"


@dataclass(frozen=True)
class DemoLayer:
    settings: Settings
    save_path: Path  # where the demo's settings edits go (never the user's file)
    patterns_dir: Path  # the demo's own copy of the bundled patterns
    warnings: tuple[str, ...] = ()


def demo_folder() -> Path:
    return paths.station_data_dir() / DEMO_FOLDER


def demo_patterns_dir() -> Path:
    """The demo's pattern folder; copied from the bundled patterns the first time."""
    target = demo_folder() / "patterns"
    if not target.is_dir():
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copytree(paths.resources_dir() / "patterns", target)
    return target


def demo_layer(base: Settings) -> DemoLayer:
    """The demo's settings: its saved file if an earlier demo saved one, else `base` with
    the demo's camera, model and (copied) patterns on top."""
    patterns = demo_patterns_dir()
    save_path = demo_folder() / "settings.toml"
    if save_path.is_file():
        loaded = load_settings(save_path)
        return DemoLayer(loaded.settings, save_path, patterns, tuple(loaded.warnings))
    settings = demo_settings(base).replace("patterns", path=str(patterns), active="")
    return DemoLayer(settings, save_path, patterns)
