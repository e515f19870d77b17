"""The outcome of one inspection cycle: what the GUI shows and the results log writes."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import TYPE_CHECKING, Any

from inspection_station.core.detection import Detection
from inspection_station.core.frame import Frame

if TYPE_CHECKING:
    from inspection_station.core.patterns.matching import MatchResult


class Verdict(StrEnum):
    OK = "OK"
    NOK = "NOK"
    ERROR = "ERROR"


@dataclass(frozen=True, slots=True)
class StageTimes:
    """Milliseconds per stage of one cycle (0 for a stage that did not run).

    `total_ms` is trigger -> verdict, measured once by the pipeline: the CSV `cycle_ms`,
    the banner, the history and the statistics all show this one number. `log_ms` (the
    CSV write, measured by the recorder) comes after it and is not part of it.
    """

    grab_ms: float = 0.0
    preprocess_ms: float = 0.0
    inference_ms: float = 0.0
    decode_ms: float = 0.0
    match_ms: float = 0.0
    log_ms: float = 0.0
    total_ms: float = 0.0


@dataclass(frozen=True)
class CycleResult:
    cycle_id: str
    timestamp: datetime  # timezone-aware, local time with UTC offset
    verdict: Verdict
    pattern_set: str = ""
    frame: Frame | None = None
    image_size: tuple[int, int] | None = None  # (width, height); stays when the frame is dropped
    detections: tuple[Detection, ...] = ()
    match: MatchResult | None = None
    error: str = ""  # the reason, for ERROR cycles
    times: StageTimes = field(default_factory=StageTimes)
    model: str = ""  # model file name
    provider: str = ""  # execution provider actually used
    image_path: str = ""  # archived image ("" when not archived, or not yet written)
    trigger: str = "software"  # software / pedal / button / hardware / headless
    part_id: str = ""  # serial / DMC of the inspected part ("" = none)
    model_sha256: str = ""  # short SHA-256 of the model file that judged it
    pattern_hash: str = ""  # short content hash of the pattern set that judged it
    recipe: str = ""  # the recipe in force (core/recipes/; = the pattern set's name)
    recipe_version: str = ""  # its version ("" = no recipe file: the station-wide settings)
    # The frame at most PREVIEW_WIDTH wide (RGB, read-only), made by the station off the GUI
    # thread; history views keep it when the full frame is long gone. None without a frame.
    preview: Any = None  # np.ndarray | None
