"""An editable pattern set with undo/redo, for the pattern editor (no Qt here).

Slots and pattern sets are frozen values, so a snapshot of the whole set is cheap
and exact: every edit pushes the previous snapshot, undo swaps snapshots back. That
avoids one hand-written inverse per operation (the usual source of undo bugs).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence

from inspection_station.core.errors import PatternError
from inspection_station.core.patterns.model import PatternSet, Slot, validate_pattern_set

DEFAULT_SLOT = Slot(0, (0.40, 0.40, 0.60, 0.60), (0.35, 0.35, 0.65, 0.65))
UNDO_LIMIT = 200


def _unique(name: str, taken: Sequence[str]) -> str:
    if name not in taken:
        return name
    n = 2
    while f"{name}_{n}" in taken:
        n += 1
    return f"{name}_{n}"


class PatternDraft:
    """The pattern set being edited; `saved` is the version last read from / written to disk."""

    def __init__(self, pattern_set: PatternSet, *, saved: PatternSet | None = None) -> None:
        self.current = pattern_set
        self.saved = saved if saved is not None else pattern_set
        self._undo: list[tuple[PatternSet, str]] = []
        self._redo: list[tuple[PatternSet, str]] = []

    # --- state ----------------------------------------------------------------------------

    @property
    def dirty(self) -> bool:
        return self.current.variants != self.saved.variants or self.current.min_scores != self.saved.min_scores

    @property
    def variant_names(self) -> list[str]:
        return list(self.current.variants)

    def slots(self, variant: str) -> tuple[Slot, ...]:
        return self.current.variants[variant]

    def problems(self, num_classes: int | None = None) -> list[str]:
        return validate_pattern_set(self.current, num_classes)

    def can_undo(self) -> bool:
        return bool(self._undo)

    def can_redo(self) -> bool:
        return bool(self._redo)

    def undo_text(self) -> str:
        return self._undo[-1][1] if self._undo else ""

    def redo_text(self) -> str:
        return self._redo[-1][1] if self._redo else ""

    # --- undo -----------------------------------------------------------------------------

    def _commit(self, variants: dict[str, tuple[Slot, ...]], what: str) -> None:
        new = dataclasses.replace(self.current, variants=variants)
        if new.variants == self.current.variants:
            return  # nothing changed: no empty undo step
        self._undo.append((self.current, what))
        del self._undo[:-UNDO_LIMIT]
        self._redo.clear()
        self.current = new

    def undo(self) -> str:
        """Undo the last edit; returns its description ('' when there was none)."""
        if not self._undo:
            return ""
        previous, what = self._undo.pop()
        self._redo.append((self.current, what))
        self.current = previous
        return what

    def redo(self) -> str:
        if not self._redo:
            return ""
        following, what = self._redo.pop()
        self._undo.append((self.current, what))
        self.current = following
        return what

    def mark_saved(self, saved: PatternSet) -> None:
        """After a save: the new file content is the baseline (undo history kept)."""
        self.saved = saved
        self.current = dataclasses.replace(self.current, path=saved.path, name=saved.name)

    # --- slot edits -----------------------------------------------------------------------

    def _variant(self, variant: str) -> list[Slot]:
        if variant not in self.current.variants:
            raise PatternError(f"{self.current.source}: no variant {variant!r}")
        return list(self.current.variants[variant])

    def _with(self, variant: str, slots: Sequence[Slot]) -> dict[str, tuple[Slot, ...]]:
        variants = dict(self.current.variants)
        variants[variant] = tuple(slots)
        return variants

    def set_slot(self, variant: str, index: int, slot: Slot, what: str = "") -> None:
        slots = self._variant(variant)
        slots[index] = slot
        self._commit(self._with(variant, slots), what or f"edit slot {index} of {variant!r}")

    def add_slot(self, variant: str, slot: Slot = DEFAULT_SLOT) -> int:
        slots = self._variant(variant)
        slots.append(slot)
        self._commit(self._with(variant, slots), f"add a slot to {variant!r}")
        return len(slots) - 1

    def remove_slot(self, variant: str, index: int) -> None:
        slots = self._variant(variant)
        del slots[index]
        self._commit(self._with(variant, slots), f"remove slot {index} of {variant!r}")

    # --- variant edits --------------------------------------------------------------------

    def add_variant(self, name: str, slots: Sequence[Slot] = (DEFAULT_SLOT,), what: str = "") -> str:
        """Add a variant (the name made unique); returns the name used."""
        name = _unique(name.strip() or "variant", self.variant_names)
        variants = dict(self.current.variants)
        variants[name] = tuple(slots)
        self._commit(variants, what or f"add variant {name!r}")
        return name

    def rename_variant(self, old: str, new: str) -> str:
        new = new.strip()
        if not new:
            raise PatternError("a variant needs a name")
        if new != old and new in self.current.variants:
            raise PatternError(f"{self.current.source}: a variant {new!r} already exists")
        self._variant(old)
        # rebuild in order: file order decides verdict ties, so a rename must not move it
        variants = {(new if k == old else k): v for k, v in self.current.variants.items()}
        self._commit(variants, f"rename variant {old!r} to {new!r}")
        return new

    def duplicate_variant(self, name: str) -> str:
        return self.add_variant(f"{name}_copy", self._variant(name), what=f"duplicate variant {name!r}")

    def delete_variant(self, name: str) -> None:
        self._variant(name)
        variants = {k: v for k, v in self.current.variants.items() if k != name}
        self._commit(variants, f"delete variant {name!r}")

    def replace_variant(self, name: str, slots: Sequence[Slot], what: str = "") -> None:
        """Set a variant's slots (adding it when new), e.g. from teaching."""
        variants = dict(self.current.variants)
        variants[name] = tuple(slots)
        self._commit(variants, what or f"replace the slots of {name!r}")


def describe_slot_change(index: int, old: Slot, new: Slot, class_names: Sequence[str] = ()) -> str:
    """What an edit of slot `index` changed, for the undo list and the editor's status line:
    "slot 3 (capacitor_1): class capacitor -> label, name 'capacitor_1' -> 'x'"."""

    def cls(class_id: int) -> str:
        return class_names[class_id] if 0 <= class_id < len(class_names) and class_names[class_id] else str(class_id)

    parts = []
    if new.class_id != old.class_id:
        parts.append(f"class {cls(old.class_id)} -> {cls(new.class_id)}")
    for what in ("inner", "outer"):
        if getattr(new, what) != getattr(old, what):
            parts.append(f"{what} box")
    if new.name != old.name:
        parts.append(f"name {old.name or '(none)'!r} -> {new.name or '(none)'!r}".replace("'(none)'", "none"))
    if new.min_score != old.min_score:
        parts.append(f"min score {old.min_score if old.min_score is not None else 'none'} -> "
                     f"{new.min_score if new.min_score is not None else 'none'}")
    label = f"slot {index}" + (f" ({old.name})" if old.name else "")
    return f"{label}: {', '.join(parts) or 'no change'}"
