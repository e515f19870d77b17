"""File operations on the folder of pattern sets: create, rename, duplicate, delete.

A deletion never destroys the file: it is renamed to `<name>.yaml.deleted-<time>.bak`
beside the others (the `.bak` suffix keeps it out of `load_pattern_library`).
"""

from __future__ import annotations

import re
import shutil
from datetime import datetime
from pathlib import Path

from inspection_station.core.errors import PatternError
from inspection_station.core.patterns.model import PatternSet, Slot
from inspection_station.core.patterns.yaml_io import save_pattern_set

_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.\- ]*$")


def library_folder(patterns_path: Path) -> Path:
    """The folder pattern sets live in (the file's folder when the setting names one file)."""
    return patterns_path if patterns_path.is_dir() or not patterns_path.suffix else patterns_path.parent


def check_set_name(name: str) -> str:
    name = name.strip()
    if not _NAME.match(name) or name.endswith("."):
        raise PatternError(
            f"pattern set name {name!r}: use letters, digits, '_', '-', '.' or spaces (it becomes the file name)"
        )
    return name


def set_path(folder: Path, name: str) -> Path:
    return folder / f"{check_set_name(name)}.yaml"


def _free(path: Path) -> Path:
    if path.exists():
        raise PatternError(f"{path}: a pattern set with that name already exists")
    return path


def create_set(folder: Path, name: str, first_slot: Slot, variant: str = "variant_a") -> PatternSet:
    """A new one-variant, one-slot set, written to `<folder>/<name>.yaml`."""
    path = _free(set_path(folder, name))
    ps = PatternSet(path.stem, {variant: (first_slot,)}, path)
    save_pattern_set(ps, path)
    return ps


def _recipe_of(pattern_file: Path) -> Path:
    """The set's recipe file (core/recipes/files.py): it follows its pattern file."""
    return pattern_file.with_name(pattern_file.stem + ".recipe.toml")


def rename_set(path: Path, new_name: str) -> Path:
    target = _free(set_path(path.parent, new_name))
    recipe, new_recipe = _recipe_of(path), _recipe_of(target)
    if recipe.is_file():
        _free(new_recipe)
    path.rename(target)
    if recipe.is_file():
        recipe.rename(new_recipe)
    return target


def duplicate_set(path: Path, new_name: str) -> Path:
    target = _free(set_path(path.parent, new_name))
    recipe, new_recipe = _recipe_of(path), _recipe_of(target)
    if recipe.is_file():
        _free(new_recipe)
    shutil.copy2(path, target)
    if recipe.is_file():
        shutil.copy2(recipe, new_recipe)
    return target


def delete_set(path: Path) -> Path:
    """Move the file aside as a backup; returns where it went."""
    if not path.is_file():
        raise PatternError(f"{path}: no such pattern file")
    stamp = datetime.now().strftime("%Y%m%dT%H%M%S%f")
    backup = path.with_name(f"{path.name}.deleted-{stamp}.bak")
    path.rename(backup)
    recipe = _recipe_of(path)
    if recipe.is_file():
        recipe.rename(recipe.with_name(f"{recipe.name}.deleted-{stamp}.bak"))
    return backup
