"""Recipe files: `<pattern set>.recipe.toml` next to the pattern file, read and written here.

TOML (tomlkit), not YAML: the recipe's sections and keys are the settings file's own
([model] confidence, [camera] exposure_us, ...), so an engineer edits both in one syntax,
and a `.toml` beside the `*.yaml` pattern files is never taken for a pattern set.
tomlkit keeps the engineer's comments, order and spelling on a save (ruamel's role for the
pattern files). Reading goes through core/text_files.py (size limit, UTF-8, regular files
only); every problem is one located RecipeError (file, line, key, what was expected).

    # Housing A, dark variant: longer exposure
    [recipe]
    version = 3                 # counted up by every save through the station
    description = "Housing A"
    product_ids = ["4711-A"]    # the plant's product ids (OPC UA PrepareProduct)

    [model]
    confidence = 0.40
    [camera]
    exposure_us = 8000.0
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import tomlkit
from tomlkit.exceptions import ParseError, TOMLKitError

from inspection_station.core.atomic import atomic_write_text
from inspection_station.core.errors import StationError
from inspection_station.core.recipes.model import RECIPE_KEYS, Recipe, RecipeError, check_recipe_key
from inspection_station.core.settings.model import Settings
from inspection_station.core.text_files import read_text_limited

SUFFIX = ".recipe.toml"
MAX_RECIPE_BYTES = 256 << 10  # a real recipe is a few hundred bytes
_HEADER_KEYS = ("version", "description", "product_ids")


def recipe_path(pattern_file: str | Path) -> Path:
    """Where the recipe of the pattern set in `pattern_file` lives."""
    p = Path(pattern_file)
    return p.with_name(p.stem + SUFFIX)


def recipe_for(name: str, pattern_file: str | Path | None) -> Recipe:
    """The recipe of pattern set `name` (its file beside `pattern_file`); a set without a
    recipe file is a recipe with no overrides. A broken file: RecipeError, located."""
    if pattern_file is None:
        return Recipe(name)
    path = recipe_path(pattern_file)
    if not path.exists() and not path.is_symlink():
        return Recipe(name, path=path)
    return read_recipe(path, name)


def read_recipe(path: str | Path, name: str | None = None) -> Recipe:
    p = Path(path)
    if name is None:
        name = p.name[: -len(SUFFIX)] if p.name.endswith(SUFFIX) else p.stem
    text = read_text_limited(p, MAX_RECIPE_BYTES, "recipe file", RecipeError)
    return parse_recipe(text, name, p)


def parse_recipe(text: str, name: str, path: Path) -> Recipe:
    try:
        doc = tomlkit.parse(text)
    except ParseError as exc:
        raise RecipeError(f"{path}:{exc.line}: not valid TOML: {_reason(exc)}") from None
    except (TOMLKitError, ValueError, RecursionError) as exc:
        raise RecipeError(f"{path}: not valid TOML: {exc}") from None
    data = doc.unwrap()
    lines = _key_lines(text)
    head = data.pop("recipe", {})
    if not isinstance(head, dict):
        raise RecipeError(f"{path}: [recipe] must be a table, got {head!r}")
    for key in head:
        if key not in _HEADER_KEYS:
            raise RecipeError(f"{_at(path, lines, 'recipe', key)}: [recipe] has no key {key!r} "
                              f"(expected {', '.join(_HEADER_KEYS)})")
    version = head.get("version", 1)
    if isinstance(version, bool) or not isinstance(version, int) or version < 1:
        raise RecipeError(f"{_at(path, lines, 'recipe', 'version')}: [recipe] version: "
                          f"expected a whole number from 1, got {version!r}")
    description = head.get("description", "")
    if not isinstance(description, str):
        raise RecipeError(f"{_at(path, lines, 'recipe', 'description')}: [recipe] description: "
                          f"expected text, got {description!r}")
    product_ids = head.get("product_ids", [])
    if not isinstance(product_ids, list) or not all(isinstance(v, str) and v.strip() for v in product_ids):
        raise RecipeError(f"{_at(path, lines, 'recipe', 'product_ids')}: [recipe] product_ids: "
                          f"expected a list of non-empty texts, got {product_ids!r}")
    overrides: dict[str, dict[str, Any]] = {}
    for section, table in data.items():
        if not isinstance(table, dict):
            raise RecipeError(f"{_at(path, lines, '', section)}: {section} must be a [{section}] table")
        for key, value in table.items():
            where = _at(path, lines, section, key)
            check_recipe_key(section, key, where)
            try:  # each value checked as the settings file's own (type, range, choices)
                Settings().replace(section, **{key: value})
            except StationError as exc:
                raise RecipeError(f"{where}: {exc}") from None
            overrides.setdefault(section, {})[key] = value
    return Recipe(name, str(version), description, tuple(v.strip() for v in product_ids), overrides, path)


def recipe_to_toml(recipe: Recipe, old_text: str = "") -> str:
    """The recipe's TOML; written over `old_text` when given, so its comments, order and
    untouched values stay as the engineer wrote them."""
    doc = tomlkit.parse(old_text) if old_text.strip() else tomlkit.document()
    if not old_text.strip():
        doc.add(tomlkit.comment(f"Recipe of the pattern set {recipe.name} (inspection-station)"))
    head = doc.get("recipe")
    if head is None:
        head = tomlkit.table()
        doc.add("recipe", head)
    head["version"] = int(recipe.version or 0) or 1
    _set(head, "description", recipe.description, bool(recipe.description))
    _set(head, "product_ids", list(recipe.product_ids), bool(recipe.product_ids))
    for section in list(doc.keys()):
        if section != "recipe" and section not in recipe.overrides:
            del doc[section]
    for section in RECIPE_KEYS:
        values = recipe.overrides.get(section)
        if not values:
            continue
        table = doc.get(section)
        if table is None:
            table = tomlkit.table()
            doc.add(section, table)
        for key in list(table.keys()):
            if key not in values:
                del table[key]
        for key, value in values.items():
            if key not in table or table[key].unwrap() != _plain(value):
                table[key] = _plain(value)
    return tomlkit.dumps(doc)


def save_recipe(recipe: Recipe, path: str | Path | None = None) -> Recipe:
    """Write the recipe (version counted up from the file's), atomically, keeping the comments;
    returns it as read back. RecipeError when it cannot be written or does not read back."""
    target = Path(path or recipe.path or "")
    if not str(target):
        raise RecipeError(f"recipe {recipe.name}: no file to save it to")
    old_text, old_version = "", 0
    if target.exists():
        try:
            old = read_recipe(target, recipe.name)
            old_version = int(old.version)
            old_text = read_text_limited(target, MAX_RECIPE_BYTES, "recipe file", RecipeError)
        except RecipeError:  # a broken file is replaced whole (its .bak keeps it)
            old_text = ""
    bumped = Recipe(recipe.name, str(max(old_version, int(recipe.version or 0)) + 1), recipe.description,
                    recipe.product_ids, recipe.overrides, target)
    text = recipe_to_toml(bumped, old_text)
    back = parse_recipe(text, recipe.name, target)  # never write what would not read back
    try:
        atomic_write_text(target, text)
    except OSError as exc:
        raise RecipeError(f"{target}: recipe not saved: {exc.strerror or exc}") from None
    return back


def _set(table, key: str, value: Any, present: bool) -> None:
    if present:
        if key not in table or table[key].unwrap() != value:
            table[key] = value
    elif key in table:
        del table[key]


def _plain(value: Any) -> Any:
    return list(value) if isinstance(value, list | tuple) else value


def _reason(exc: ParseError) -> str:
    text = str(exc)
    return text.split(" at line ")[0] if " at line " in text else text


def _key_lines(text: str) -> dict[tuple[str, str], int]:
    """(section, key) -> line number, for located messages (tomlkit keeps no positions)."""
    out: dict[tuple[str, str], int] = {}
    section = ""
    for number, raw in enumerate(text.splitlines(), 1):
        line = raw.strip()
        if line.startswith("[") and line.endswith("]"):
            section = line.strip("[]").strip()
            out.setdefault(("", section), number)
        elif "=" in line and not line.startswith("#"):
            out.setdefault((section, line.split("=", 1)[0].strip().strip('"\'')), number)
    return out


def _at(path: Path, lines: dict[tuple[str, str], int], section: str, key: str) -> str:
    number = lines.get((section, key))
    return f"{path}:{number}" if number else str(path)
