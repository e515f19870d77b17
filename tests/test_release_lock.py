"""Release builds come from lock files (packaging/locks/, written by `python packaging/lock.py`
with uv); these checks read them offline. And the version is written in one place."""

from __future__ import annotations

import importlib.util
import re
import tomllib
from pathlib import Path

import pytest

import inspection_station
from inspection_station.deploy import release_lock

REPO = Path(__file__).resolve().parents[1]


@pytest.mark.parametrize("platform", sorted(release_lock.PLATFORMS))
def test_the_lock_files_fit_pyproject(platform):
    problems = release_lock.stale(platform)
    assert problems == [], (
        f"{release_lock.lock_path(platform).name} is stale against pyproject.toml: "
        + "; ".join(problems) + ". Run `python packaging/lock.py` (needs the package registry)"
    )
    pins = release_lock.parse_lock(release_lock.lock_path(platform).read_text(encoding="utf-8"))
    assert {"pyinstaller", "fastapi", "uvicorn", "prometheus-client"} <= set(pins)  # freeze + line
    assert ("pywin32" in pins) == (platform == "windows")  # the service extra: Windows only
    assert ("onnxruntime-directml" in pins) == (platform == "windows") != ("onnxruntime" in pins)
    text = release_lock.lock_path(platform).read_text(encoding="utf-8")
    assert all("--hash=sha256:" in block for block in re.split(r"\n(?=[a-z0-9])", text)[1:])


def _with_dependencies(tmp_path: Path, edit) -> Path:
    text = (REPO / "pyproject.toml").read_text(encoding="utf-8")
    copy = tmp_path / "pyproject.toml"
    copy.write_text(edit(text), encoding="utf-8")
    return copy


def test_a_stale_lock_is_told_apart_without_the_network(tmp_path):
    added = _with_dependencies(tmp_path, lambda t: t.replace('dependencies = [\n', 'dependencies = [\n    "rich>=13",\n', 1))
    assert any("rich>=13 is required but not in the lock" in p for p in release_lock.stale("linux", pyproject=added))
    raised = _with_dependencies(tmp_path, lambda t: t.replace('"numpy>=1.26"', '"numpy>=99"'))
    assert any("numpy>=99" in p and "pins numpy==" in p for p in release_lock.stale("linux", pyproject=raised))
    removed = _with_dependencies(tmp_path, lambda t: t.replace('    "zxing-cpp>=2.2",', ""))
    assert any(p.startswith("zxing-cpp==") and "no longer requires" in p
               for p in release_lock.stale("windows", pyproject=removed))


def test_an_environment_is_compared_with_the_lock_pin_by_pin():
    lock = "numpy==2.0.0 \\\n    --hash=sha256:00\n    # via inspection-station (pyproject.toml)\nscipy==1.0 \\\n    --hash=sha256:11\n    # via\n    #   inspection-station (pyproject.toml)\n    #   other\n"
    pins = release_lock.parse_lock(lock)
    assert pins["scipy"].via == {"inspection-station", "other"}
    assert release_lock.environment_differences(lock, {"numpy": "2.0.0", "scipy": "1.0"}) == []
    assert release_lock.environment_differences(lock, {"numpy": "2.1.0"}) == [
        "numpy: locked 2.0.0, installed 2.1.0", "scipy: locked 1.0, installed nothing"]


def _build_script():
    spec = importlib.util.spec_from_file_location("build_script", REPO / "packaging" / "build.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_version_is_written_in_one_place():
    project = tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))
    assert "version" not in project["project"] and "version" in project["project"]["dynamic"]
    attr = project["tool"]["setuptools"]["dynamic"]["version"]["attr"]
    assert attr == "inspection_station._version.__version__"
    from inspection_station import _version

    assert inspection_station.__version__ == _version.__version__ == _build_script().project_version()
    # nothing else spells it: the installer gets it from build.py, the app from the module
    for path in ("installer.nsi", "packaging/inspection_station.spec", "inspection_station/__init__.py"):
        assert _version.__version__ not in (REPO / path).read_text(encoding="utf-8"), path
