"""Providers and the line integration as extras: a plain install stays lean, and a setting that
needs a missing extra says which one to install."""

from __future__ import annotations

import re
import sys
import tomllib
from pathlib import Path

import pytest

from inspection_station.core import extras
from inspection_station.core.line.services import LineServices
from inspection_station.core.settings.model import LineSettings, ModelSettings, Settings
from inspection_station.core.station import Station

PYPROJECT = tomllib.loads((Path(__file__).resolve().parents[1] / "pyproject.toml").read_text())["project"]


def _names(requirements) -> set[str]:
    return {re.split(r"[<>=!;\[ ]", r, maxsplit=1)[0].lower() for r in requirements}


def test_a_plain_install_is_lean_and_the_tests_install_the_line_extra():
    base = _names(PYPROJECT["dependencies"])
    line = _names(PYPROJECT["optional-dependencies"]["line"])
    assert line >= {"fastapi", "uvicorn", "python-multipart", "prometheus-client"}
    assert not base & line
    assert any(r.startswith("inspection-station[") and "line" in r for r in PYPROJECT["optional-dependencies"]["test"])
    assert extras.missing_modules("line") == []  # so the API and metrics tests run, never skip


def test_the_gpu_extra_is_for_x86_64_and_openvino_needs_no_second_onnxruntime():
    from packaging.requirements import Requirement

    windows = {"sys_platform": "win32", "platform_machine": "AMD64", "platform_system": "Windows"}
    linux = {"sys_platform": "linux", "platform_machine": "x86_64", "platform_system": "Linux"}
    # OpenVINO is the runtime itself ([model] runtime), beside onnxruntime: no second build
    assert not [r for r in PYPROJECT["optional-dependencies"]["openvino"] if r.startswith("onnxruntime")]
    [gpu] = [Requirement(r) for r in PYPROJECT["optional-dependencies"]["gpu"]]
    assert gpu.name == "onnxruntime-gpu"
    assert all(gpu.marker.evaluate({**env, "extra": "gpu"}) for env in (windows, linux))
    assert not gpu.marker.evaluate({**linux, "platform_machine": "aarch64", "extra": "gpu"})


def test_a_setting_that_needs_a_missing_extra_names_it(monkeypatch):
    monkeypatch.setitem(sys.modules, "fastapi", None)  # as if the line extra were not installed
    with pytest.raises(extras.MissingExtra, match=r'pip install "inspection-station\[line\]"') as refused:
        extras.require_extra("line", "[line] api_enabled")
    assert "fastapi missing" in str(refused.value)
    station = Station(Settings())
    try:
        with pytest.raises(extras.MissingExtra, match=r"the HTTP API \(\[line\] api_enabled, serve --api\)"):
            LineServices(station, LineSettings(api_enabled=True))
        LineServices(station, LineSettings())  # nothing enabled: nothing needed
    finally:
        station.stop()
    monkeypatch.setattr(sys, "frozen", True, raising=False)
    with pytest.raises(extras.MissingExtra, match="this build was made without the `line` extra"):
        extras.require_extra("line", "[line] metrics_enabled")


def test_a_named_provider_this_onnxruntime_lacks_names_the_extra_that_brings_it():
    available = ["CPUExecutionProvider"]
    assert [n for n in extras.provider_notes(ModelSettings().providers, available)
            if "providers" in n] == []  # the default list: whatever is there, no note
    [note] = [n for n in extras.provider_notes(["CUDAExecutionProvider", "CPUExecutionProvider"], available)
              if "providers" in n]
    assert "CUDAExecutionProvider is not available" in note and "the `gpu` extra" in note
    [note] = [n for n in extras.provider_notes(["OpenVINOExecutionProvider"], available) if "providers" in n]
    assert "[model] runtime" in note and "the `openvino` extra" in note
    assert extras.installed_onnxruntime_builds()[0].startswith("onnxruntime")
