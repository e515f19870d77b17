"""The optimised-graph cache: written once, reused, keyed by the model's hash, never fatal."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import onnx
import pytest

from inspection_station.core.detect import session_cache
from inspection_station.core.detect.detector import Detector
from inspection_station.core.images import load_image
from inspection_station.core.settings.model import ModelSettings

REPO = Path(__file__).resolve().parents[1]
DEMO_MODEL = REPO / "models" / "demo_parts.onnx"
DEMO_IMAGE = REPO / "resources" / "demo_images" / "demo_01.png"
CPU = ModelSettings(providers=["CPUExecutionProvider"])


def cache_files() -> list[Path]:
    folder = session_cache.cache_dir()
    return sorted(folder.glob("*.onnx")) if folder.is_dir() else []


def boxes(det: Detector) -> list:
    return [(d.class_id, tuple(round(v, 3) for v in d.box)) for d in det.detect(load_image(DEMO_IMAGE))]


def test_first_load_writes_the_optimised_graph_and_the_next_runs_from_it_with_the_same_boxes():
    uncached = Detector.load(DEMO_MODEL, ModelSettings(providers=["CPUExecutionProvider"], cache_optimized=False))
    assert cache_files() == [] and uncached.session_source == str(DEMO_MODEL)
    first = Detector.load(DEMO_MODEL, CPU)
    (cached,) = cache_files()
    assert cached.name.startswith(first.model_sha256[:16]) and "-all-" in cached.name
    second = Detector.load(DEMO_MODEL, CPU)
    assert second.session_source == str(cached)
    assert second.class_names == uncached.class_names and second.input_size == uncached.input_size
    assert boxes(second) == boxes(first) == boxes(uncached)
    assert not list(cached.parent.glob("*.tmp"))


def test_a_changed_model_gets_its_own_cache_entry(tmp_path):
    model = tmp_path / "m.onnx"
    shutil.copy(DEMO_MODEL, model)
    first = Detector.load(model, CPU)
    proto = onnx.load(str(model))
    proto.metadata_props.add(key="retrained", value="yes")  # other bytes: another hash
    onnx.save(proto, str(model))
    changed = Detector.load(model, CPU)
    assert changed.model_sha256 != first.model_sha256
    assert sorted(p.name[:16] for p in cache_files()) == sorted([first.model_sha256[:16], changed.model_sha256[:16]])
    assert changed.session_source != first.session_source and changed.metadata["retrained"] == "yes"


def test_a_damaged_cache_file_is_rebuilt_not_fatal():
    Detector.load(DEMO_MODEL, CPU)
    (cached,) = cache_files()
    cached.write_bytes(b"garbage")
    det = Detector.load(DEMO_MODEL, CPU)
    assert det.session_source == str(cached) and cached.stat().st_size > 1000
    assert len(boxes(det)) > 0


@pytest.mark.parametrize("settings", [
    ModelSettings(providers=["CPUExecutionProvider"], graph_optimization="disabled"),
    ModelSettings(providers=["CPUExecutionProvider"], cache_optimized=False),
])
def test_no_cache_when_optimisation_is_off_or_caching_is_off(settings):
    det = Detector.load(DEMO_MODEL, settings)
    assert cache_files() == [] and det.session_source == str(DEMO_MODEL)
    assert np.isfinite([d.score for d in det.detect(load_image(DEMO_IMAGE))]).all()
