"""The old backend's class map CSV: `id,name,color` per line, naming and colouring classes.

A header line is optional; ids need not be in order (missing ids are named by number and
keep the default colour). A colour is `#rrggbb`, `rrggbb`, or `r g b` / `r;g;b` (0..255).
Explicit `class_names` / `class_colors` in the settings win over the file.
"""

from __future__ import annotations

import csv
import dataclasses
import re
from dataclasses import dataclass
from pathlib import Path

from inspection_station.core.errors import ModelError
from inspection_station.core.settings.model import ModelSettings
from inspection_station.core.text_files import read_text_limited

_HEX = re.compile(r"^#?([0-9a-fA-F]{6})$")


@dataclass(frozen=True)
class ClassMap:
    names: tuple[str, ...]  # by class id
    colors: tuple[str, ...]  # "#rrggbb" by class id, "" = the default colour


def _colour(text: str, where: str) -> str:
    text = text.strip()
    if not text:
        return ""
    m = _HEX.match(text)
    if m:
        return "#" + m.group(1).lower()
    parts = re.split(r"[\s;]+", text.strip("()[] "))
    try:
        rgb = [int(p) for p in parts]
        if len(rgb) != 3 or not all(0 <= v <= 255 for v in rgb):
            raise ValueError
    except ValueError:
        raise ModelError(f"{where}: color: expected #rrggbb or 'r g b' (0..255), got {text!r}") from None
    return "#" + "".join(f"{v:02x}" for v in rgb)


def read_class_map(path: str | Path) -> ClassMap:
    p = Path(path)
    text = read_text_limited(p, what="class map", error=ModelError)
    entries: dict[int, tuple[str, str]] = {}
    for number, row in enumerate(csv.reader(text.splitlines()), start=1):
        if not row or not "".join(row).strip() or row[0].strip().startswith("#"):
            continue
        where = f"{p}:{number}"
        try:
            class_id = int(row[0])
        except ValueError:
            if number == 1:
                continue  # a header line
            raise ModelError(f"{where}: id: expected a whole number >= 0, got {row[0].strip()!r}") from None
        if class_id < 0:
            raise ModelError(f"{where}: id: expected a whole number >= 0, got {class_id}")
        if len(row) < 2 or not row[1].strip():
            raise ModelError(f"{where}: name: missing (expected id,name,color)")
        if class_id in entries:
            raise ModelError(f"{where}: id {class_id} is listed twice")
        entries[class_id] = (row[1].strip(), _colour(row[2], where) if len(row) > 2 else "")
    if not entries:
        raise ModelError(f"{p}: no classes (expected lines of id,name,color)")
    count = max(entries) + 1
    return ClassMap(
        tuple(entries.get(i, (str(i), ""))[0] for i in range(count)),
        tuple(entries.get(i, ("", ""))[1] for i in range(count)),
    )


def with_class_map(model: ModelSettings) -> ModelSettings:
    """`model` with names and colours from its class map file where the settings give none."""
    if not model.class_map:
        return model
    cm = read_class_map(model.class_map)
    return dataclasses.replace(
        model,
        class_names=list(model.class_names) or list(cm.names),
        class_colors=list(model.class_colors) or list(cm.colors),
    )


def class_colours(model: ModelSettings) -> list[str]:
    """The colours to draw classes in: the settings', else the class map's; never raises
    (a broken class map is reported where the model loads)."""
    if model.class_colors or not model.class_map:
        return list(model.class_colors)
    try:
        return list(read_class_map(model.class_map).colors)
    except ModelError:
        return []
