"""Widgets use the station through a small typed Protocol, never getattr probes."""

from __future__ import annotations

import inspect
import re
from pathlib import Path

from inspection_station.core.station import Station
from inspection_station.gui import station_protocol
from tests.gui_station import station_settings

GUI = Path(station_protocol.__file__).parent


def _members(protocol) -> set[str]:
    names = set()
    for klass in protocol.__mro__:
        if klass is object or klass.__name__ in ("Protocol", "Generic"):
            continue
        names |= {n for n in vars(klass) if not n.startswith("_")}
        names |= set(getattr(klass, "__annotations__", {}))
    return names


def test_the_real_station_has_everything_the_protocol_names(tmp_path):
    station = Station(station_settings(tmp_path))
    try:
        missing = [n for n in sorted(_members(station_protocol.StationView)) if not hasattr(station, n)]
        assert not missing, f"Station lacks what widgets use: {missing}"
        for name in ("find_result", "detect_file", "take_live_frame"):  # same calls
            wanted = inspect.signature(getattr(station_protocol.StationView, name)).parameters
            have = inspect.signature(getattr(Station, name)).parameters
            assert list(wanted)[:len(wanted)] == list(have)[:len(wanted)], name
    finally:
        station.stop()


def test_no_widget_probes_the_station_with_getattr():
    probes = [
        f"{path.relative_to(GUI)}:{n}"
        for path in GUI.rglob("*.py")
        for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1)
        if re.search(r"getattr\(\s*self\.station\b", line) and "camera" not in line  # #14 owns the frame path
    ]
    assert not probes, probes
