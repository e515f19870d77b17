"""What the widgets may use of a station: a small typed Protocol, not getattr probes.

`core.station.Station` satisfies it; a test may hand a widget any object that does (the
pattern editor's tests pass frames and detections this way). A widget needing more of
the station adds it here, in the open, instead of reaching into the station's internals.
"""

from __future__ import annotations

from collections.abc import Sequence
from concurrent.futures import Future
from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from inspection_station.core.cycle import CycleResult
    from inspection_station.core.detect.detector import Detector
    from inspection_station.core.events import EventBus
    from inspection_station.core.frame import Frame
    from inspection_station.core.patterns.model import PatternSet
    from inspection_station.core.results.recorder import ResultsRecorder
    from inspection_station.core.results.statistics import Statistics
    from inspection_station.core.settings.model import Settings


class FrameSource(Protocol):
    """What the pattern editor reads: the newest cycle, the recent ones, the model."""

    @property
    def last_result(self) -> CycleResult | None: ...

    @property
    def recent_results(self) -> Sequence[CycleResult]: ...

    @property
    def detector(self) -> Detector | None: ...

    def detect_file(self, path) -> Future: ...


class StationView(FrameSource, Protocol):
    """What the operator window and the settings dialog use."""

    statistics: Statistics
    bus: EventBus  # the station's events (the window's bridge subscribes)
    pattern_sets: dict[str, PatternSet]
    pattern_warnings: list[str]  # files that did not load and reading notes, since the last load

    @property
    def settings(self) -> Settings: ...  # the settings in force (the station's state)

    @property
    def recorder(self) -> ResultsRecorder | None: ...

    @property
    def active_pattern_set(self) -> PatternSet | None: ...

    def set_live(self, enabled: bool) -> None: ...

    def find_result(self, cycle_id: str) -> CycleResult | None: ...

    def take_live_frame(self) -> Frame | None: ...

    def reload_patterns(self) -> Future: ...

    def find_cameras(self) -> Future: ...


def model_class_names(station: FrameSource | None) -> list[str]:
    """The loaded model's class names; [] without a station or a model."""
    detector = station.detector if station is not None else None
    return list(detector.class_names) if detector is not None and detector.class_names else []
