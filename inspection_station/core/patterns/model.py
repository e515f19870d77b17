"""Pattern sets: where each object must be. YAML file I/O (the old system's format) + validation.

One YAML file is one *pattern set* (a product; its name is the file stem). Top-level
keys are variant names, each a list of slots; coordinates are x1, y1, x2, y2 normalised
to image width/height:

```yaml
variant_a:
  - class_id: 0
    inner: [0.20, 0.20, 0.30, 0.30]
    outer: [0.18, 0.18, 0.32, 0.32]
    name: screw_left      # optional: shown to the operator, unique within a variant
    min_score: 0.6        # optional: this slot only accepts detections scoring >= 0.6
_settings:                # optional, reserved key (never a variant)
  min_score: {0: 0.5}     # per class id: the default min_score of that class's slots
```

Old files (only class_id / inner / outer per slot, no `_settings`) load unchanged, and a
file saved without names, min scores or `_settings` is again exactly the old format. A
slot's own `min_score` wins over its class's `_settings` value; neither = any score.

Every problem is reported located: `file:line: variant 'v', slot i (name 'n'), field: what
was expected, got what` (slot indices count from 0, in file order). Loading collects all
problems and raises one PatternFileError; `validate_pattern_set` returns them as a list
for live checking in an editor.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from inspection_station.core.errors import PatternError

Box = tuple[float, float, float, float]

SETTINGS_KEY = "_settings"  # reserved top-level key; every other key is a variant
PATTERN_SUFFIXES = (".yaml", ".yml")
_SLOT_KEYS = ("class_id", "inner", "outer", "name", "min_score")
_SETTINGS_KEYS = ("min_score",)


class PatternFileError(PatternError):
    """A pattern file or set is invalid; `problems` lists every located problem."""

    def __init__(self, problems: Sequence[str]):
        self.problems = list(problems)
        shown = "; ".join(self.problems[:5])
        more = f" (and {len(self.problems) - 5} more)" if len(self.problems) > 5 else ""
        super().__init__(shown + more)


@dataclass(frozen=True, slots=True)
class Slot:
    """One place an object of `class_id` must be: its edges lie between inner and outer."""

    class_id: int
    inner: Box
    outer: Box
    name: str | None = None
    min_score: float | None = None
    # fields this station does not know, kept as read so a save writes them back (old files)
    extras: tuple[tuple[str, Any], ...] = field(default=(), compare=False)

    def label(self, index: int) -> str:
        return self.name or f"slot {index}"


@dataclass(frozen=True)
class PatternSet:
    """One product: variant name -> slots, in file order (the order breaks verdict ties)."""

    name: str
    variants: dict[str, tuple[Slot, ...]]
    path: Path | None = None
    min_scores: dict[int, float] = field(default_factory=dict)  # per class id, from _settings
    # located notes from reading (coordinates clipped, unknown fields kept); never errors
    warnings: tuple[str, ...] = field(default=(), compare=False)

    def __post_init__(self) -> None:
        # accept lists from callers, store tuples: the value must not change under a matcher
        object.__setattr__(self, "variants", {str(k): tuple(v) for k, v in self.variants.items()})
        object.__setattr__(self, "min_scores", {int(k): float(v) for k, v in self.min_scores.items()})

    def min_score_for(self, slot: Slot) -> float | None:
        """The score a detection needs to fill `slot` (the slot's own, else its class's)."""
        return slot.min_score if slot.min_score is not None else self.min_scores.get(slot.class_id)

    @property
    def source(self) -> str:
        return str(self.path) if self.path is not None else self.name


# --- validation ----------------------------------------------------------------------------


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


def _fmt_box(box: Sequence[float]) -> str:
    return "[" + ", ".join(f"{v:g}" for v in box) + "]"


def _box_problems(box: Box, what: str) -> list[tuple[str, str]]:
    problems = []
    if any(not 0.0 <= v <= 1.0 for v in box):
        problems.append((what, f"coordinates must lie in [0, 1] (normalised to the image), got {_fmt_box(box)}"))
    if not box[0] < box[2]:
        problems.append((what, f"x1 must be < x2, got {_fmt_box(box)}"))
    if not box[1] < box[3]:
        problems.append((what, f"y1 must be < y2, got {_fmt_box(box)}"))
    return problems


def _slot_problems(slot: Slot, num_classes: int | None) -> list[tuple[str, str]]:
    """(field, problem) pairs for one slot's values (types already checked)."""
    problems: list[tuple[str, str]] = []
    if slot.class_id < 0:
        problems.append(("class_id", f"must be >= 0, got {slot.class_id}"))
    elif num_classes is not None and slot.class_id >= num_classes:
        problems.append(
            ("class_id", f"unknown class {slot.class_id}: the model has {num_classes} classes (0..{num_classes - 1})")
        )
    inner_bad = _box_problems(slot.inner, "inner")
    outer_bad = _box_problems(slot.outer, "outer")
    problems += inner_bad + outer_bad
    if not inner_bad and not outer_bad:
        i, o = slot.inner, slot.outer
        if not (o[0] <= i[0] and o[1] <= i[1] and i[2] <= o[2] and i[3] <= o[3]):
            problems.append(("inner", f"must lie inside outer {_fmt_box(o)}, got {_fmt_box(i)}"))
    if slot.name is not None and not slot.name.strip():
        problems.append(("name", "must not be blank (leave it out instead)"))
    if slot.min_score is not None and not 0.0 <= slot.min_score <= 1.0:
        problems.append(("min_score", f"must lie in [0, 1], got {slot.min_score:g}"))
    return problems


def _variant_problems(
    slots: Iterable[tuple[int, Slot]],
    count: int,
    num_classes: int | None,
    at_variant: str,
    at_slot: Callable[[int, str | None], str],
) -> list[str]:
    """Problems of one variant: empty, duplicate slot names, each slot's values."""
    if count == 0:
        return [f"{at_variant}: has no slots (a variant needs at least one)"]
    problems = []
    first_index_of: dict[str, int] = {}
    for index, slot in slots:
        where = at_slot(index, slot.name)
        problems += [f"{where}, {fld}: {msg}" for fld, msg in _slot_problems(slot, num_classes)]
        if slot.name:
            if slot.name in first_index_of:
                problems.append(f"{where}, name: duplicate slot name {slot.name!r} (also slot {first_index_of[slot.name]})")
            else:
                first_index_of[slot.name] = index
    return problems


def _min_scores_problems(min_scores: Mapping[int, float], num_classes: int | None, where: str) -> list[str]:
    problems = []
    for cls, score in min_scores.items():
        if cls < 0 or (num_classes is not None and cls >= num_classes):
            problems.append(f"{where}, min_score: unknown class {cls}" + (f" (model has {num_classes})" if num_classes else ""))
        if not 0.0 <= score <= 1.0:
            problems.append(f"{where}, min_score: class {cls} must lie in [0, 1], got {score:g}")
    return problems


def _at_slot(prefix: str, variant: str) -> Callable[[int, str | None], str]:
    return lambda index, name: f"{prefix}: variant {variant!r}, slot {index}" + (f" (name {name!r})" if name else "")


def validate_pattern_set(ps: PatternSet, num_classes: int | None = None) -> list[str]:
    """Every problem of a pattern set, located (for live validation); [] = valid."""
    src = ps.source
    problems = []
    if not ps.variants:
        problems.append(f"{src}: no variants (expected at least one variant with slots)")
    for variant, slots in ps.variants.items():
        if variant == SETTINGS_KEY:
            problems.append(f"{src}: variant {variant!r}: the name is reserved for settings")
        problems += _variant_problems(
            enumerate(slots), len(slots), num_classes, f"{src}: variant {variant!r}", _at_slot(src, variant)
        )
    problems += _min_scores_problems(ps.min_scores, num_classes, f"{src}: {SETTINGS_KEY}")
    return problems


