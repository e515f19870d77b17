"""One way to time inference candidates fairly: `model optimize`, benchmarks/models.py and
benchmarks/cycle.py all use it, so their figures mean the same thing.

Two sessions interleaved on a 2-core PC slow each other: onnxruntime's intra-op threads
spin for a while after a run, and the run right after another session's is 20-65 %
slower while they do. Timing int8 always right after fp32 charged that to int8 alone.
The method:

- every timed session is made with thread spinning off (`quiet(settings)`: onnxruntime's
  `session.intra_op.allow_spinning = 0`, OpenVINO's threads not pinned), so a finished
  run leaves the cores idle for the next one;
- each candidate runs `warmup` times first (allocation, first-run optimisation);
- then `rounds` rounds, every candidate once per round, the order rotated each round
  (a b c, b c a, c a b, ...): each sits in every position equally often;
- medians are reported, and ratios from one such run (absolute ms on a shared machine
  are not comparable across runs; ratios are).

A figure that must be free of any other session is measured in its own process instead
(benchmarks/cycle.py --sizes runs each frame size in its own one).
"""

from __future__ import annotations

import dataclasses
import statistics
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass

from inspection_station.core.settings.model import ModelSettings

METHOD = "spinning off, order rotated every round, warm-up first; medians of one interleaved run"
DEFAULT_ROUNDS = 20
DEFAULT_WARMUP = 3


def quiet(settings: ModelSettings) -> ModelSettings:
    """The settings with thread spinning off: what every timed session is made with."""
    return dataclasses.replace(settings, spinning="off")


@dataclass(frozen=True)
class Timing:
    samples_ms: tuple[float, ...]

    @property
    def median_ms(self) -> float:
        return statistics.median(self.samples_ms) if self.samples_ms else float("nan")

    def percentile(self, q: float) -> float:
        if not self.samples_ms:
            return float("nan")
        ordered = sorted(self.samples_ms)
        return ordered[min(len(ordered) - 1, int(q / 100 * len(ordered)))]


def rotated(names: list[str], round_index: int) -> list[str]:
    """The order of round `round_index`: the list rotated by one per round."""
    if not names:
        return []
    k = round_index % len(names)
    return names[k:] + names[:k]


def time_alternating(
    runs: Mapping[str, Callable[[], object]],
    rounds: int = DEFAULT_ROUNDS,
    warmup: int = DEFAULT_WARMUP,
) -> dict[str, Timing]:
    """Time each callable `rounds` times, interleaved in rotated order, after a warm-up."""
    names = list(runs)
    for name in names:
        for _ in range(warmup):
            runs[name]()
    samples: dict[str, list[float]] = {name: [] for name in names}
    for i in range(rounds):
        for name in rotated(names, i):
            t = time.perf_counter()
            runs[name]()
            samples[name].append((time.perf_counter() - t) * 1e3)
    return {name: Timing(tuple(v)) for name, v in samples.items()}
