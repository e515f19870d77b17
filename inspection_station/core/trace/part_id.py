"""Which part a cycle inspected: an id typed or scanned on the operator screen, or decoded
from the frame, under a policy "required" / "optional".

USB barcode scanners type like a keyboard and end with Enter: the operator screen hands
the text to `Station.set_part_id`, and the next cycle takes it. A required id that is
missing makes the cycle ERROR with that reason (never OK).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from inspection_station.core.errors import StationError
from inspection_station.core.settings.model import PartIdSettings
from inspection_station.core.trace.codes import CodeReader

MAX_LENGTH = 200  # longer is no serial: a scanner stuck on repeat, or a pasted text
_ALLOWED = set(range(0x20, 0x7F)) | set(range(0xA0, 0x2000))  # printable; no control characters


@dataclass(frozen=True, slots=True)
class PartIdOutcome:
    part_id: str  # "" = none
    source: str  # "scanner" / "image" / ""
    error: str = ""  # set when the policy makes the cycle ERROR


def clean_part_id(text: str) -> str:
    """The id as logged: trimmed, one line, printable, at most MAX_LENGTH (ValueError otherwise)."""
    text = (text or "").strip()
    if len(text) > MAX_LENGTH:
        raise ValueError(f"part id: at most {MAX_LENGTH} characters, got {len(text)}")
    bad = sorted({c for c in text if ord(c) not in _ALLOWED})
    if bad:
        raise ValueError(f"part id: contains control characters {', '.join(repr(c) for c in bad)}")
    return text


class PartIdPolicy:
    """Decides each cycle's part id from the settings (built once, used on the inference thread)."""

    def __init__(self, settings: PartIdSettings) -> None:
        self.settings = settings
        self.reader: CodeReader | None = None
        self.problem = ""  # a settings problem: every cycle that needs a decoded id says it
        if settings.source in ("image", "scanner_or_image"):
            region = (settings.region_x, settings.region_y, settings.region_width, settings.region_height)
            try:
                self.reader = CodeReader(settings.formats, region)
            except StationError as exc:
                self.problem = str(exc)

    @property
    def enabled(self) -> bool:
        return self.settings.source != "none"

    @property
    def uses_scanner(self) -> bool:
        return self.settings.source in ("scanner", "scanner_or_image")

    def decide(self, typed: str, image: np.ndarray | None) -> PartIdOutcome:
        """The cycle's id: a typed/scanned one first, else one decoded from `image`."""
        if not self.enabled:
            return PartIdOutcome("", "")
        if typed and self.uses_scanner:
            return PartIdOutcome(typed, "scanner")
        decode_problem = ""
        if self.reader is not None and image is not None:
            try:
                codes = self.reader.read(image)
            except Exception as exc:  # noqa: BLE001 - a decoder failure is this cycle's problem only
                codes, decode_problem = [], f"the decoder failed: {type(exc).__name__}: {exc}"
            texts = sorted({c.text for c in codes})
            if len(texts) == 1:
                try:  # a code may carry anything: the same rules as a typed id
                    return PartIdOutcome(clean_part_id(texts[0]), "image")
                except ValueError as exc:
                    return self._missing(f"the code in the region is no usable id ({exc})")
            if len(texts) > 1:
                return self._missing(f"{len(texts)} different codes in the region ({', '.join(texts)})")
        return self._missing(decode_problem or self.problem or self._where())

    def _where(self) -> str:
        source = self.settings.source
        if source == "scanner":
            return "none scanned or typed"
        if source == "image":
            return "no code found in the region"
        return "none scanned and no code found in the region"

    def _missing(self, why: str) -> PartIdOutcome:
        if self.settings.policy == "required":
            return PartIdOutcome("", "", f"part id: required, but {why}")
        return PartIdOutcome("", "")
