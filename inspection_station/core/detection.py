"""The value a detector produces and everything downstream consumes."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Detection:
    """One detected object; `box` is x1, y1, x2, y2 in ORIGINAL image pixels."""

    class_id: int
    class_name: str
    score: float
    box: tuple[float, float, float, float]

    def to_dict(self) -> dict:
        return {
            "class_id": self.class_id,
            "class_name": self.class_name,
            "score": round(float(self.score), 4),
            "box": [round(float(v), 2) for v in self.box],
        }
