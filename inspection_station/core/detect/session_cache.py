"""The graph onnxruntime optimised, saved next to the user data and reused at the next start.

Optimising a YOLOv8n graph costs ~120 ms of every start on a 2-core PC (of ~210 ms to
create the session); loading the optimised graph with optimisation off skips it. At
level "all" the saved graph holds CPU-specific layouts (NCHWc blocks sized to the vector
width), so the key holds the model's hash, the level, the onnxruntime version and the
CPU: a new model, an update or another PC gets a fresh file, never a wrong one.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
from pathlib import Path

from inspection_station.core import paths
from inspection_station.core.detect.cpu import cpu_features
from inspection_station.core.errors import ModelError
from inspection_station.core.regular_files import open_regular

GRAPH_LEVELS = ("disabled", "basic", "extended", "all")


def cpu_fingerprint() -> str:
    """What decides the saved graph's kernels: the machine and the CPU model."""
    cpu = cpu_features()
    return f"{cpu.machine}|{cpu.name}|{' '.join(cpu.flags)}"


def file_sha256(path: str | Path) -> str:
    digest = hashlib.sha256()
    with open_regular(path, "model file", ModelError) as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def cache_dir() -> Path:
    return paths.station_data_dir() / "model-cache"


def cached_model_path(model_sha256: str, level: str, ort_version: str) -> Path:
    key = hashlib.sha256(f"{model_sha256}|{level}|{ort_version}|{cpu_fingerprint()}".encode()).hexdigest()[:16]
    return cache_dir() / f"{model_sha256[:16]}-{level}-{key}.onnx"


def discard(path: Path) -> None:
    with contextlib.suppress(OSError):
        os.remove(path)
