"""Checked number types for command-line options: finite, in range, or argparse's located error.

`--conf nan` or `--iou 7` would otherwise run and mislead (every box kept, or none).
"""

from __future__ import annotations

import argparse
import math
from collections.abc import Callable


def number(lo: float | None = None, hi: float | None = None, *, integer: bool = False) -> Callable[[str], float]:
    """An argparse `type=` accepting a finite number in [lo, hi] (whole when `integer`)."""
    what = "a whole number" if integer else "a number"
    span = (
        f" in [{lo:g}, {hi:g}]" if lo is not None and hi is not None
        else f" >= {lo:g}" if lo is not None
        else f" <= {hi:g}" if hi is not None
        else ""
    )

    def parse(text: str):
        try:
            value = int(text) if integer else float(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected {what}{span}, got {text!r}") from None
        if not math.isfinite(value) or (lo is not None and value < lo) or (hi is not None and value > hi):
            raise argparse.ArgumentTypeError(f"expected {what}{span}, got {text!r}")
        return value

    parse.__name__ = "integer" if integer else "number"  # argparse names the type in messages
    return parse


fraction = number(0.0, 1.0)  # confidence, IoU: probabilities
