"""The model-revert policy (core/settings/revert.py): one rule for the station and the dialog."""

from __future__ import annotations

import pytest

from inspection_station.core.settings.model import ModelSettings, Settings
from inspection_station.core.settings.revert import after_failed_model_load

OLD = ModelSettings(path="old.onnx")
NEW = ModelSettings(path="new.onnx")
NEWER = ModelSettings(path="newer.onnx")


@pytest.mark.parametrize(
    ("asked", "running", "expected"),
    [
        (NEW, OLD, OLD),  # the failed model is still asked for: the running one is put back
        (NEWER, OLD, None),  # newer settings came meanwhile: their own load decides
        (NEW, None, None),  # nothing runs: nothing to go back to
        (OLD, OLD, None),  # already names the running model
    ],
)
def test_after_a_failed_load_the_settings_name_the_model_that_runs(asked, running, expected):
    settings = Settings().replace("model", path=asked.path)
    failed = NEW if asked != OLD else OLD
    got = after_failed_model_load(settings, failed, running)
    assert (got.model if got is not None else None) == expected
    if got is not None:
        assert got.camera == settings.camera and got.results == settings.results  # only the model part changes
