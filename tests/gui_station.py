"""The known station for the GUI tests (the helper itself is Qt-free: tests/known_station.py)."""

from tests.known_station import CLASS_NAMES, FRAME_SIZE, MODEL_OUTPUT, station_settings

__all__ = ["CLASS_NAMES", "FRAME_SIZE", "MODEL_OUTPUT", "station_settings"]
