"""The core and the GUI's station protocol pass the type checker (mypy, configured in
pyproject.toml): the types are a contract between the parts, checked like the tests."""

from __future__ import annotations

from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


@pytest.mark.slow
def test_mypy_finds_no_type_errors_in_the_core(tmp_path):
    from mypy import api

    out, err, status = api.run(["--config-file", str(ROOT / "pyproject.toml"), "--cache-dir", str(tmp_path),
                                "--no-error-summary"])
    assert status == 0, out + err
