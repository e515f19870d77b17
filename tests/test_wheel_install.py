"""A wheel built from the repository, installed into a fresh venv, runs the demo from
another working directory: resources/ and models/ travel inside the package (setup.py maps
them to inspection_station/bundle/) and core/paths.py finds them through importlib.resources.

The fresh venv has no project source on its path. It sees this venv's third-party packages
through one .pth line (numpy, onnxruntime, pypylon, ...: no downloads), and a .pth line only
adds a folder, so this venv's editable install of the project is not picked up."""

from __future__ import annotations

import csv
import os
import shutil
import subprocess
import sys
import sysconfig
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SKIP = shutil.ignore_patterns(
    ".git", ".venv*", "build", "dist", "*.egg-info", "__pycache__", ".pytest_cache", ".ruff_cache", ".hypothesis", "out"
)


def run(cmd, **kw) -> subprocess.CompletedProcess:
    proc = subprocess.run([str(c) for c in cmd], capture_output=True, text=True, timeout=600, **kw)
    assert proc.returncode == 0, f"{cmd}\n{proc.stdout}\n{proc.stderr}"
    return proc


@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> Path:
    work = tmp_path_factory.mktemp("wheel")
    source = work / "src"  # a copy: the build writes build/ and *.egg-info beside the sources
    shutil.copytree(ROOT, source, ignore=SKIP)
    dist = work / "dist"
    run([sys.executable, "-m", "pip", "wheel", source, "--no-deps", "--no-build-isolation", "--no-index", "-w", dist, "-q"])
    (built,) = dist.glob("inspection_station-*.whl")
    return built


def test_the_wheel_carries_the_demo_resources_and_model_but_not_the_training_code(wheel):
    names = set(zipfile.ZipFile(wheel).namelist())
    bundle = "inspection_station/bundle/"
    for needed in (
        "resources/default_config.toml",
        "resources/patterns/demo_parts.yaml",
        "resources/demo_images/demo_01.png",
        "resources/icons/app.png",
        "models/demo_parts.onnx",
    ):
        assert bundle + needed in names
    assert not [n for n in names if "training" in n]
    assert "inspection_station/py.typed" in names


def test_installed_wheel_runs_the_demo_from_another_working_directory(wheel, tmp_path):
    venv = tmp_path / "venv"
    run([sys.executable, "-m", "venv", "--without-pip", venv])
    python = venv / ("Scripts/python.exe" if os.name == "nt" else "bin/python")
    fresh_site = Path(run([python, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"]).stdout.strip())
    ours = {sysconfig.get_paths()["purelib"], sysconfig.get_paths()["platlib"]}
    (fresh_site / "shared_third_party.pth").write_text("\n".join(sorted(ours)) + "\n")
    run([sys.executable, "-m", "pip", "--python", python, "install", "--no-deps", "--no-index", "-q", wheel])

    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "INSPECTION_STATION_BUNDLE_ROOT")}
    where = run(
        [python, "-c", "import inspection_station.core.paths as p; print(p.__file__); print(p.bundle_root())"],
        cwd=elsewhere,
        env=env,
    ).stdout.splitlines()
    package = Path(where[0]).resolve()
    assert package.is_relative_to(fresh_site.resolve())  # the installed copy, not the source tree
    assert Path(where[1]).resolve() == package.parents[1] / "bundle"

    script = venv / ("Scripts/inspection-station.exe" if os.name == "nt" else "bin/inspection-station")
    proc = run([script, "run", "--headless", "--demo", "--cycles", "3"], cwd=elsewhere, env=env)
    got = [line.split()[2] for line in proc.stdout.splitlines() if line.startswith("#")]
    with (ROOT / "resources" / "demo_labels" / "ground_truth.csv").open() as fh:
        truth = [row["verdict"] for row in csv.DictReader(fh)][:3]
    assert got == truth, proc.stdout + proc.stderr  # the bundled model and pattern judged the bundled images
