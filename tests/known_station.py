"""A real station with known answers, for GUI and line-integration tests (Qt-free): Basler's
emulator serving one known image, a constant ONNX detector (known boxes) and two pattern
sets, one that the boxes fill (OK) and one with an extra slot (NOK). Everything lives in
tmp_path. (tests/gui_station.py re-exports it under its old name for the GUI tests.)"""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np

from inspection_station.core.settings.model import Settings
from tests.onnx_models import constant_model

# End-to-end layout [1, K, 6]: x1, y1, x2, y2, score, class in 640x640 model pixels.
# On the 640x480 emulator image (letterbox pad 80 px top) they land at
# screw (100, 20, 200, 120) and clip (300, 220, 400, 340).
MODEL_OUTPUT = np.array([[[100, 100, 200, 200, 0.9, 0], [300, 300, 400, 420, 0.8, 1]]], np.float32)
CLASS_NAMES = {0: "screw", 1: "clip"}
FRAME_SIZE = (640, 480)

SLOTS_OK = """\
  - class_id: 0
    name: screw_left
    inner: [0.18, 0.07, 0.30, 0.23]
    outer: [0.14, 0.02, 0.34, 0.27]
  - class_id: 1
    name: clip
    inner: [0.48, 0.48, 0.61, 0.69]
    outer: [0.45, 0.44, 0.64, 0.73]
"""
SLOT_EXTRA = """\
  - class_id: 0
    name: screw_right
    inner: [0.75, 0.75, 0.85, 0.85]
    outer: [0.70, 0.70, 0.90, 0.90]
"""


def station_settings(tmp_path: Path, *, active: str = "product_ok", **station) -> Settings:
    images = tmp_path / "emulator"
    images.mkdir()
    picture = np.full((FRAME_SIZE[1], FRAME_SIZE[0], 3), 70, np.uint8)
    cv2.rectangle(picture, (100, 20), (200, 120), (40, 160, 220), -1)
    cv2.rectangle(picture, (300, 220), (400, 340), (220, 180, 40), -1)
    cv2.imwrite(str(images / "part.png"), picture)
    model = constant_model(tmp_path / "constant.onnx", MODEL_OUTPUT, names=CLASS_NAMES)
    patterns = tmp_path / "patterns"
    patterns.mkdir()
    (patterns / "product_ok.yaml").write_text("variant_a:\n" + SLOTS_OK)
    (patterns / "product_nok.yaml").write_text("variant_a:\n" + SLOTS_OK + SLOT_EXTRA)
    settings = (
        Settings()
        .replace("camera", serial="0815-0000", emulation=True, emulation_image_dir=str(images),
                 trigger_mode="software", reconnect_min_s=0.05, reconnect_max_s=0.2)
        .replace("model", path=str(model))
        .replace("patterns", path=str(patterns), active=active)
        .replace("results", log_dir=str(tmp_path / "log"), image_dir=str(tmp_path / "images"),
                 review_dir=str(tmp_path / "review"), archive="none")
    )
    return settings.replace("station", **station) if station else settings


def signed_in_actions(settings: Settings, tmp_path: Path, *, station=None, role: str = "engineer",
                      settings_path: Path | None = None, audit_path: Path | None = None):
    """The station's actions (offline, or on `station`) with a person of `role` signed in, saving
    to `settings_path` (default tmp_path/settings.toml) and auditing to `audit_path`."""
    from inspection_station.core.actions import StationActions

    settings_path = settings_path or tmp_path / "settings.toml"
    audit_path = audit_path or tmp_path / "audit.jsonl"
    accounts = tmp_path / "accounts.json"
    if station is None:
        actions = StationActions.offline(settings, settings_path, accounts_path=accounts, audit_path=audit_path)
    else:
        actions = StationActions.for_station(station, settings_path, accounts_path=accounts, audit_path=audit_path)
    name = f"{role}-1"
    if actions.access.store.get(name) is None:
        actions.access.store.add(name, role, "secret-pass")
    outcome = actions.sign_in(name, "secret-pass")
    assert outcome.ok, outcome.message
    return actions
