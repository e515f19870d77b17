"""A recipe: a named, versioned set-up of one product (issue 22).

A recipe is a pattern set plus the product-specific settings that override the station-wide
ones while it is active: the model and its thresholds, the camera's exposure, gain, ROI,
rotation and binning, the part-id policy, the archive policy (`RECIPE_KEYS`). Everything
else (station name, accounts, line integration, folders, ...) stays station-wide.

Settings in force = the station-wide file with the active recipe's overrides laid over it
(`settings_in_force`). A pattern set without a recipe file is a recipe with no overrides:
the station-wide settings, version "" (nothing breaks for a station without recipes).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from inspection_station.core.errors import ConfigError
from inspection_station.core.settings.model import Settings

# section -> the keys a recipe may set; the rest of each section (and every other section)
# is station-wide
RECIPE_KEYS: dict[str, tuple[str, ...]] = {
    "model": ("path", "confidence", "iou", "max_detections", "class_names"),
    "camera": (
        "exposure_us", "gain", "roi_unit", "roi_x", "roi_y", "roi_width", "roi_height",
        "roi_left", "roi_top", "roi_right", "roi_bottom", "roi_before_rotation",
        "rotation_deg", "rotation_expand", "binning", "binning_mode",
    ),
    "part_id": ("source", "policy", "formats", "region_x", "region_y", "region_width", "region_height"),
    "results": ("archive", "archive_every_n"),
}
RECIPE_KEY_NAMES: frozenset[str] = frozenset(f"{s}.{k}" for s, keys in RECIPE_KEYS.items() for k in keys)


class RecipeError(ConfigError):
    """A recipe file is wrong or cannot be read or written (the message names file, line, key)."""


@dataclass(frozen=True)
class Recipe:
    name: str  # = the pattern set's name (file stem)
    version: str = ""  # "" = no recipe file (the station-wide settings); else "1", "2", ...
    description: str = ""
    product_ids: tuple[str, ...] = ()  # the plant's product ids that select it (OPC UA PrepareProduct)
    overrides: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)  # section -> key -> value
    path: Path | None = None  # the recipe file (None: none yet)

    @property
    def keys(self) -> frozenset[str]:
        """The "section.key" names this recipe sets."""
        return frozenset(f"{s}.{k}" for s, values in self.overrides.items() for k in values)

    def value(self, key: str) -> Any:
        section, _, name = key.partition(".")
        return self.overrides[section][name]

    def with_values(self, values: Mapping[str, Any]) -> Recipe:
        """A copy with "section.key" values set (checked by `settings_in_force` later)."""
        overrides = {s: dict(v) for s, v in self.overrides.items()}
        for key, value in values.items():
            section, _, name = key.partition(".")
            check_recipe_key(section, name, f"recipe {self.name}")
            overrides.setdefault(section, {})[name] = value
        return dataclasses.replace(self, overrides=overrides)


def check_recipe_key(section: str, key: str, where: str) -> None:
    if section not in RECIPE_KEYS:
        raise RecipeError(f"{where}: [{section}] is station-wide, not a recipe setting "
                          f"(a recipe may set [{'], ['.join(RECIPE_KEYS)}])")
    if key not in RECIPE_KEYS[section]:
        raise RecipeError(f"{where}: [{section}] {key} is station-wide, not a recipe setting "
                          f"(a recipe may set {', '.join(RECIPE_KEYS[section])})")


def settings_in_force(station_wide: Settings, recipe: Recipe | None) -> Settings:
    """The station-wide settings with the recipe's overrides (each value checked: ConfigError)."""
    if recipe is None:
        return station_wide
    settings = station_wide
    for section, values in recipe.overrides.items():
        try:
            settings = settings.replace(section, **dict(values))
        except ConfigError as exc:
            where = recipe.path or f"recipe {recipe.name}"
            raise RecipeError(f"{where}: {exc}") from None
    return settings


def station_wide_of(in_force: Settings, station_wide: Settings, recipe: Recipe | None) -> Settings:
    """Undo `settings_in_force` for the keys the recipe sets: `in_force` with those keys put
    back to the station-wide values (what the settings file must hold)."""
    if recipe is None:
        return in_force
    out = in_force
    for section, values in recipe.overrides.items():
        base = getattr(station_wide, section)
        out = dataclasses.replace(out, **{section: dataclasses.replace(
            getattr(out, section), **{k: getattr(base, k) for k in values})})
    return out


def recipe_from_settings(name: str, settings: Settings, *, description: str = "",
                         product_ids: tuple[str, ...] = ()) -> Recipe:
    """A recipe holding every recipe key's value in force (the engineer's "create from the
    current set-up")."""
    overrides = {s: {k: _plain(getattr(getattr(settings, s), k)) for k in keys} for s, keys in RECIPE_KEYS.items()}
    return Recipe(name, "", description, tuple(product_ids), overrides)


def _plain(value: Any) -> Any:
    return list(value) if isinstance(value, list | tuple) else value


@dataclass(frozen=True)
class RecipeDifference:
    key: str  # "section.key", or "recipe.description" / "recipe.product_ids"
    left: Any  # None = not set by that recipe (the station-wide value applies)
    right: Any


def recipe_difference(left: Recipe, right: Recipe, station_wide: Settings | None = None) -> list[RecipeDifference]:
    """What differs between two recipes, key by key (sorted). With `station_wide`, a key only
    one recipe sets is compared against the station-wide value the other one runs with."""
    out: list[RecipeDifference] = []
    if left.description != right.description:
        out.append(RecipeDifference("recipe.description", left.description, right.description))
    if tuple(left.product_ids) != tuple(right.product_ids):
        out.append(RecipeDifference("recipe.product_ids", list(left.product_ids), list(right.product_ids)))
    for key in sorted(left.keys | right.keys):
        a = left.value(key) if key in left.keys else _station_value(station_wide, key)
        b = right.value(key) if key in right.keys else _station_value(station_wide, key)
        if _plain(a) != _plain(b):
            out.append(RecipeDifference(key, a, b))
    return out


def _station_value(settings: Settings | None, key: str) -> Any:
    if settings is None:
        return None
    section, _, name = key.partition(".")
    return getattr(getattr(settings, section), name)
