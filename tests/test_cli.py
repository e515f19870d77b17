"""The command-line contract through the real entry point (a subprocess, as users run it)."""

from __future__ import annotations

import json
import subprocess
import sys

import cv2
import numpy as np
import pytest

from inspection_station.core.results.csv_log import read_log
from tests.onnx_models import constant_model, v8_raw_output
from tests.test_station import PATTERN, PATTERN_NOK


def cli(*args, timeout=180, env=None):
    return subprocess.run(
        [sys.executable, "-m", "inspection_station", *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        env=env,
    )


@pytest.fixture
def model(tmp_path):
    out = v8_raw_output([(320, 320, 100, 50, 1, 0.9)], 3)
    return constant_model(tmp_path / "m.onnx", out, names={0: "screw", 1: "chip", 2: "label"})


@pytest.fixture
def images(tmp_path):
    paths = []
    for i in range(2):
        p = tmp_path / f"part_{i}.png"
        cv2.imwrite(str(p), np.full((480, 640, 3), 90, np.uint8))
        paths.append(p)
    return paths


def test_inspect_json_contract_and_exit_codes(tmp_path, model, images):
    ok = tmp_path / "ok.yaml"
    ok.write_text(PATTERN)
    proc = cli("inspect", "--model", str(model), "--patterns", str(ok), "--json", *map(str, images))
    assert proc.returncode == 0, proc.stderr
    records = [json.loads(line) for line in proc.stdout.splitlines()]
    assert len(records) == 2
    r = records[0]
    assert (r["verdict"], r["pattern_set"], r["variant"], r["matched"], r["expected"]) == ("OK", "ok", "product_a", 1, 1)
    assert r["slots"] == [{"class_id": 1, "matched": True, "detection": 0}]
    assert r["detections"][0]["box"] == [270.0, 215.0, 370.0, 265.0]

    nok = tmp_path / "nok.yaml"
    nok.write_text(PATTERN_NOK)
    proc = cli("inspect", "--model", str(model), "--patterns", str(nok), *map(str, images))
    assert proc.returncode == 1
    assert proc.stdout.count("NOK") == 2

    proc = cli("inspect", "--model", str(model), "--patterns", str(ok), str(images[0]), str(tmp_path / "gone.png"))
    assert proc.returncode == 2
    assert "gone.png: no such image file" in proc.stderr and "Traceback" not in proc.stderr


def test_inspect_with_a_broken_pattern_file_exits_2_with_a_located_message(tmp_path, model, images):
    bad = tmp_path / "bad.yaml"
    bad.write_text("variant_a:\n  - class_id: 1\n    inner: [0.5, 0.5, 0.4, 0.6]\n    outer: [0, 0, 1, 1]\n")
    proc = cli("inspect", "--model", str(model), "--patterns", str(bad), str(images[0]))
    assert proc.returncode == 2
    assert "bad.yaml" in proc.stderr and "variant 'variant_a'" in proc.stderr and "Traceback" not in proc.stderr


def test_run_headless_cycles_write_the_log(tmp_path, model):
    frames = tmp_path / "frames"
    frames.mkdir()
    cv2.imwrite(str(frames / "a.png"), np.full((480, 640, 3), 60, np.uint8))
    patterns = tmp_path / "patterns"
    patterns.mkdir()
    (patterns / "product_a.yaml").write_text(PATTERN)
    log_dir = tmp_path / "log"
    config = tmp_path / "station.toml"
    config.write_text(
        f"""[camera]
serial = "0815-0000"
emulation_image_dir = '{frames}'
[model]
path = '{model}'
[patterns]
path = '{patterns}'
[results]
log_dir = '{log_dir}'
image_dir = '{tmp_path / "img"}'
archive = "none"
[station]
name = "line-7"
"""
    )
    proc = cli("run", "--headless", "--cycles", "3", "--config", str(config))
    assert proc.returncode == 0, proc.stdout + proc.stderr
    lines = [ln for ln in proc.stdout.splitlines() if ln.startswith("#")]
    assert len(lines) == 3 and all(" OK " in ln and "product_a 1/1" in ln for ln in lines)
    (log_file,) = log_dir.glob("*.csv")
    rows = read_log(log_file)
    assert [r["verdict"] for r in rows] == ["OK"] * 3
    assert {r["station"] for r in rows} == {"line-7"}
    assert "cycle time" in proc.stdout.lower() or "p50" in proc.stdout.lower()


def test_help_lists_the_contract_commands():
    proc = cli("--help")
    for command in ("gui", "run", "detect", "inspect", "cameras", "pattern"):
        assert command in proc.stdout


def test_export_predictions_writes_yolo_labels_and_drawn_images(tmp_path, model, images):
    out = tmp_path / "export"
    proc = cli("export-predictions", "--model", str(model), "--images", str(images[0].parent), "--out", str(out))
    assert proc.returncode == 0, proc.stderr
    label = (out / "labels" / "part_0.txt").read_text().split()
    # the chip at 270..370 x 215..265 of a 640 x 480 image
    assert label == ["1", "0.500000", "0.500000", "0.156250", "0.104167"]
    drawn = cv2.imread(str(out / "drawn" / "part_0.jpg"))
    assert drawn.shape == (480, 640, 3)
    assert abs(int(drawn[215, 320].astype(int).sum()) - 3 * 90) > 60  # a box edge was drawn there
    assert (out / "classes.txt").read_text().split() == ["screw", "chip", "label"]


def test_run_headless_demo_reports_the_ground_truth_of_every_served_image(tmp_path):
    """The embedded default: emulator serving the demo images, bundled model and pattern."""
    import csv
    from pathlib import Path

    root = Path(__file__).resolve().parents[1]
    with (root / "resources" / "demo_labels" / "ground_truth.csv").open() as fh:
        truth = [row["verdict"] for row in csv.DictReader(fh)]
    proc = cli("run", "--headless", "--demo", "--cycles", str(len(truth)), timeout=300)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    got = [ln.split()[2] for ln in proc.stdout.splitlines() if ln.startswith("#")]
    assert got == truth  # the emulator serves demo_01 .. demo_10 in order


def test_an_output_folder_that_cannot_be_made_exits_2_with_one_located_line(tmp_path, model, images, capsys):
    from inspection_station.cli import main

    blocker = tmp_path / "blocker"
    blocker.write_text("a file where the output folder's parent should be")
    out = blocker / "export"
    assert main(["export-predictions", "--model", str(model), "--images", str(images[0].parent), "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("inspection-station: error: ") and err.count("\n") == 1
    assert str(blocker) in err and "Traceback" not in err
