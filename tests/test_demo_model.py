"""The bundled demo: model, pattern and images work together through the station's own code.

Fresh scenes are rendered with seeds the model never saw in training, so these check
that the bundled model really detects the parts and that the demo pattern decides
OK / NOK correctly, not that some files match each other.
"""

from __future__ import annotations

import csv
import sys
from pathlib import Path

import numpy as np
import pytest

from inspection_station.core.detect.detector import Detector
from inspection_station.core.detection import Detection
from inspection_station.core.images import list_images, load_image
from inspection_station.core.patterns.matching import match_pattern
from inspection_station.core.patterns.yaml_io import load_pattern_set
from inspection_station.core.settings.model import (
    CameraSettings,
    ModelSettings,
    PatternSettings,
    resolve_emulation_image_dir,
    resolve_model_path,
    resolve_patterns_path,
)

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "models" / "training"))
import generate_scene as scene  # noqa: E402

MODEL = resolve_model_path(ModelSettings())
PATTERN = resolve_patterns_path(PatternSettings()) / "demo_parts.yaml"
DEMO_IMAGES = resolve_emulation_image_dir(CameraSettings())
DEMO_LABELS = DEMO_IMAGES.parent / "demo_labels"


@pytest.fixture(scope="module")
def detector() -> Detector:
    return Detector.load(MODEL, ModelSettings(providers=["CPUExecutionProvider"]))


@pytest.fixture(scope="module")
def pattern_set():
    return load_pattern_set(PATTERN, num_classes=len(scene.CLASS_NAMES))


@pytest.fixture(scope="module")
def held_out() -> list[tuple[np.ndarray, list, str, str | None]]:
    """One good part and each defect, twice, from a seed used nowhere else."""
    rng = np.random.default_rng(424242)
    cases = []
    for defect in (None, "missing", "misplaced", "wrong") * 2:
        image, boxes, verdict = scene.render_scene(rng, defect)
        cases.append((image, boxes, verdict, defect))
    return cases


def iou(a, b) -> float:
    iw = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
    ih = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    inter = iw * ih
    return inter / ((a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter)


def test_bundled_model_is_a_small_yolov8_raw_export(detector: Detector) -> None:
    assert MODEL.stat().st_size < 15 * 1024 * 1024
    assert detector.layout.name == "yolov8_raw"
    assert detector.class_names == list(scene.CLASS_NAMES)
    assert detector.input_size == (640, 384)
    assert detector.metadata["task"] == "detect"
    assert detector.metadata["imgsz"] == "[384, 640]"


def test_every_labelled_part_is_found_with_its_class(detector: Detector, held_out) -> None:
    for n, (image, boxes, _, defect) in enumerate(held_out):
        dets = detector.detect(image)
        for class_id, *box in boxes:
            best = max((iou(d.box, box) for d in dets if d.class_id == class_id), default=0.0)
            assert best > 0.5, f"scene {n} ({defect}): {scene.CLASS_NAMES[class_id]} at {box} not found"


def test_no_part_is_reported_twice_or_invented(detector: Detector, held_out) -> None:
    for n, (image, boxes, _, defect) in enumerate(held_out):
        dets = detector.detect(image)
        assert len(dets) == len(boxes), f"scene {n} ({defect}): {len(dets)} detections for {len(boxes)} parts"


def test_the_station_verdict_matches_the_truth(detector: Detector, pattern_set, held_out) -> None:
    for n, (image, _, verdict, defect) in enumerate(held_out):
        result = match_pattern(pattern_set, detector.detect(image), image.shape[1], image.shape[0])
        assert ("OK" if result.ok else "NOK") == verdict, f"scene {n} ({defect}): expected {verdict}"
        if defect in ("missing", "misplaced", "wrong"):
            assert result.filled == result.expected - 1  # exactly the defective slot is empty


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_pattern_tolerances_pass_every_jittered_good_part_and_fail_every_defect(pattern_set, seed: int) -> None:
    # On the true boxes: the tolerance windows alone must already decide correctly.
    rng = np.random.default_rng(seed)
    for defect in (None, None, None, "missing", "misplaced", "wrong"):
        image, boxes, verdict = scene.render_scene(rng, defect)
        dets = [Detection(c, scene.CLASS_NAMES[c], 1.0, tuple(b)) for c, *b in boxes]
        ok = match_pattern(pattern_set, dets, image.shape[1], image.shape[0]).ok
        assert ("OK" if ok else "NOK") == verdict, f"seed {seed}, {defect}"


def test_bundled_demo_images_get_their_recorded_verdicts(detector: Detector, pattern_set) -> None:
    files = list_images(DEMO_IMAGES)
    with (DEMO_LABELS / "ground_truth.csv").open(newline="") as fh:
        truth = {row["file"]: row for row in csv.DictReader(fh)}
    assert [f.name for f in files] == sorted(truth)
    verdicts = {row["verdict"] for row in truth.values()}
    assert verdicts == {"OK", "NOK"}
    for f in files:
        image = load_image(f)
        result = match_pattern(pattern_set, detector.detect(image), image.shape[1], image.shape[0])
        assert ("OK" if result.ok else "NOK") == truth[f.name]["verdict"], f.name


def test_demo_image_folder_holds_only_images() -> None:
    # pylon's emulator decodes every file in its folder: anything else becomes broken frames
    assert sorted(p.name for p in DEMO_IMAGES.iterdir()) == [p.name for p in list_images(DEMO_IMAGES)]


def test_scene_generation_is_reproducible() -> None:
    a = scene.render_scene(np.random.default_rng(9), "wrong")
    b = scene.render_scene(np.random.default_rng(9), "wrong")
    assert np.array_equal(a[0], b[0]) and a[1] == b[1] and a[2] == b[2] == "NOK"
    assert a[0].shape == (scene.IMAGE_HEIGHT, scene.IMAGE_WIDTH, 3) and a[0].dtype == np.uint8


def test_the_model_card_evaluation_script_runs_and_judges_every_board(tmp_path: Path) -> None:
    """models/training/evaluate.py produces MODEL_CARD.md's figures: it must keep running."""
    import json
    import subprocess

    script = Path(__file__).resolve().parents[1] / "models" / "training" / "evaluate.py"
    out = tmp_path / "figures.json"
    proc = subprocess.run(
        [sys.executable, str(script), "--count", "4", "--seed", "7", "--json", str(out)],
        capture_output=True, text=True, timeout=300,
    )
    assert proc.returncode == 0, proc.stderr
    figures = json.loads(out.read_text())
    assert figures["false_accepts"] == 0 and "verdicts:" in proc.stdout
