"""Which recipe is in force for a station's settings, and where the recipe files are."""

from __future__ import annotations

from pathlib import Path

from inspection_station.core.patterns.library import library_folder
from inspection_station.core.patterns.yaml_io import pattern_files
from inspection_station.core.recipes.files import recipe_for
from inspection_station.core.recipes.model import Recipe, RecipeError, settings_in_force
from inspection_station.core.settings.model import Settings, resolve_patterns_path


def pattern_file_of(settings: Settings, name: str) -> Path | None:
    """The pattern file of set `name` under the settings' pattern path (None: no such file)."""
    root = resolve_patterns_path(settings.patterns)
    if root.is_file():
        return root if root.stem == name else None
    if not root.is_dir():
        return None
    direct = [root / f"{name}{suffix}" for suffix in (".yaml", ".yml")]
    for path in direct:
        if path.is_file():
            return path
    return next((p for p in pattern_files(root) if p.stem == name), None)


def product_of(settings: Settings) -> str:
    """The chosen product, else the first pattern set (as the station's load picks it)."""
    if settings.patterns.active:
        return settings.patterns.active
    root = resolve_patterns_path(settings.patterns)
    if root.is_file():
        return root.stem
    files = pattern_files(root) if root.is_dir() else []
    return min((p.stem for p in files), default="")


def recipe_folder(settings: Settings) -> Path:
    return library_folder(resolve_patterns_path(settings.patterns))


def recipe_in_force(station_wide: Settings, name: str | None = None,
                    pattern_file: Path | None = None) -> tuple[Recipe, Settings]:
    """The recipe of product `name` (default: the active one) and the settings in force with
    it. RecipeError (located) when its file is broken or sets an impossible value."""
    name = name if name is not None else product_of(station_wide)
    if not name:
        return Recipe(""), station_wide
    recipe = recipe_for(name, pattern_file or pattern_file_of(station_wide, name))
    return recipe, settings_in_force(station_wide, recipe)


__all__ = ["RecipeError", "pattern_file_of", "product_of", "recipe_folder", "recipe_in_force"]
