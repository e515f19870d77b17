"""Issue 15: the fault script (benchmarks/faults.py) on a short run: no record torn or lost.

Slow (about a minute): the real headless station as a child process, through a camera
outage of each kind, a full disk (where a tmpfs can be mounted), kill -9s and its results
log taken away (deleted, moved, folder removed, read-only).
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))

import faults  # noqa: E402


@pytest.mark.slow
def test_faults_never_tear_or_lose_a_row_and_an_outage_writes_no_flood():
    figures = faults.run_all(outage_s=3.0, full_s=2.0, n_kills=3, readonly_s=1.0)
    records = figures.pop("records")
    for phase, f in figures.items():
        if f is None:
            continue  # the full-disk phase needs root for its tmpfs; said so on stdout
        assert f["torn rows"] == 0, phase
        assert f["partial rows (bytes after the last newline)"] == 0, phase
        assert f["rows lost (printed, not in the log)"] == 0, phase
        # a kill may land between a row's fsync and its printed line: more rows, never fewer
        assert f["rows"] == f["cycles"] if phase != "kills" else f["rows"] >= f["cycles"], phase
    for phase in ("emulator outage", "replay outage"):
        # before issue 15: thousands of ERROR rows in such an outage, or the test pattern judged
        assert figures[phase]["ERROR rows during the outage"] <= 5, phase
    assert figures["emulator outage"]["judged (OK/NOK) cycles during the outage"] == 0
    # issue 20: nothing after a deleted, moved or removed log is lost; read-only never judges unrecorded
    for event in ("CSV deleted", "CSV moved away", "results folder removed"):
        assert records[f"cycles after: {event}"] >= 10 and records[f"of them, rows lost: {event}"] == 0, event
    assert records["of them, OK/NOK without a row"] == 0
    assert records["warnings 'a new file is started'"] >= 3
