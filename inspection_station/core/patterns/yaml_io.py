"""Pattern files: reading (safe YAML, every problem located) and writing (atomic, the old format)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from inspection_station.core.atomic import atomic_write_text, remove_stale_temp_files_in
from inspection_station.core.errors import PatternError
from inspection_station.core.patterns.model import (
    _SETTINGS_KEYS,
    _SLOT_KEYS,
    PATTERN_SUFFIXES,
    SETTINGS_KEY,
    Box,
    PatternFileError,
    PatternSet,
    Slot,
    _at_slot,
    _fmt_box,
    _is_number,
    _min_scores_problems,
    _variant_problems,
    validate_pattern_set,
)
from inspection_station.core.regular_files import refusal, special_kind
from inspection_station.core.text_files import read_text_limited

# --- reading ---------------------------------------------------------------------------------

# How far outside [0, 1] a coordinate may lie and still load (clipped, with a warning): the
# old tool clipped centre/size before converting to edges, so an edge part can overhang by up
# to half its size. Beyond this it is a typo, and an error.
CLIP_TOLERANCE = 0.05

# A pattern of 1,000 slots is ~70 kB; 1 MB (13,000 slots, ~7 s and ~130 MB to read on a
# slow machine) only stops a wrong or hostile file early.
MAX_PATTERN_BYTES = 1 << 20
# A pattern nests 4 levels (variants -> slots -> slot -> box); deeper is not a pattern, and
# the composer recurses per level (5,000 levels = RecursionError).
MAX_YAML_DEPTH = 16


# libyaml's C parser where the wheel has it (10x faster: a 1 MB file in ~2 s, not 30 s).
_Loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def _check_structure(text: str) -> None:
    """Refuse aliases and deep nesting from the event stream, before anything is built.

    Aliases are refused, not capped: a few of them nested (a 500-byte "billion laughs")
    expand to gigabytes once anything walks or prints the data, and no pattern needs one.
    Depth: the composer recurses per level (5,000 levels = RecursionError).
    """
    depth = 0
    for event in yaml.parse(text, Loader=_Loader):
        if isinstance(event, yaml.AliasEvent):
            raise yaml.composer.ComposerError(
                None, None, "aliases (*name) are not allowed in pattern files; write the values out",
                event.start_mark,  # type: ignore[arg-type]  # libyaml's Mark is the same shape
            )
        if isinstance(event, yaml.MappingStartEvent | yaml.SequenceStartEvent):
            depth += 1
            if depth > MAX_YAML_DEPTH:
                raise yaml.composer.ComposerError(
                    None, None, f"nested deeper than {MAX_YAML_DEPTH} levels (not a pattern file)",
                    event.start_mark,  # type: ignore[arg-type]  # libyaml's Mark is the same shape
                )
        elif isinstance(event, yaml.MappingEndEvent | yaml.SequenceEndEvent):
            depth -= 1


def _node_lines(node: yaml.Node | None) -> dict[str, tuple[int, list[int]]]:
    """Variant key -> (line of the key, [line of each slot]) from the composed YAML tree."""
    lines: dict[str, tuple[int, list[int]]] = {}
    if isinstance(node, yaml.MappingNode):
        for key_node, value_node in node.value:
            slot_lines = []
            if isinstance(value_node, yaml.SequenceNode):
                slot_lines = [item.start_mark.line + 1 for item in value_node.value]
            lines.setdefault(str(key_node.value), (key_node.start_mark.line + 1, slot_lines))
    return lines


def _duplicate_keys(node: yaml.Node | None, src: str) -> list[str]:
    # safe_load silently keeps the last of two equal keys; a pattern file with that is a mistake
    problems = []
    if isinstance(node, yaml.MappingNode):
        seen: dict[str, int] = {}
        for key_node, value_node in node.value:
            line = key_node.start_mark.line + 1
            if key_node.value in seen:
                problems.append(f"{src}:{line}: variant {key_node.value!r}: duplicate variant name (first on line {seen[key_node.value]})")
            else:
                seen[key_node.value] = line
            if isinstance(value_node, yaml.SequenceNode):  # and inside each slot: `inner` twice
                for item in value_node.value:
                    problems += _duplicate_slot_keys(item, src, key_node.value)
    return problems


def _duplicate_slot_keys(item: yaml.Node, src: str, variant: str) -> list[str]:
    problems = []
    if isinstance(item, yaml.MappingNode):
        seen: dict[str, int] = {}
        for key_node, _ in item.value:
            line = key_node.start_mark.line + 1
            if key_node.value in seen:
                problems.append(
                    f"{src}:{line}: variant {variant!r}: field {key_node.value!r} given twice in one slot "
                    f"(first on line {seen[key_node.value]})"
                )
            else:
                seen[key_node.value] = line
    return problems


def _read_box(raw: dict, key: str, where: str, problems: list[str], warnings: list[str]) -> Box | None:
    if key not in raw:
        problems.append(f"{where}, {key}: missing (expected [x1, y1, x2, y2] normalised to the image)")
        return None
    value = raw[key]
    if not isinstance(value, list) or len(value) != 4 or not all(_is_number(v) for v in value):
        problems.append(f"{where}, {key}: expected 4 numbers [x1, y1, x2, y2], got {value!r}")
        return None
    box = tuple(float(v) for v in value)
    clipped = tuple(min(1.0, max(0.0, v)) if -CLIP_TOLERANCE <= v <= 1.0 + CLIP_TOLERANCE else v for v in box)
    if clipped != box:
        # the old coordinate tool clipped in x/y/w/h and then converted: edges a little past the image
        warnings.append(f"{where}, {key}: coordinates {_fmt_box(box)} clipped to {_fmt_box(clipped)} "
                        f"(within {CLIP_TOLERANCE:g} outside [0, 1], as the old tools wrote them)")
    return clipped  # type: ignore[return-value]


def _read_slot(raw: Any, where: str, problems: list[str], warnings: list[str]) -> Slot | None:
    """A Slot from one raw YAML item, or None after recording why not."""
    if not isinstance(raw, dict):
        problems.append(f"{where}: expected a mapping with class_id, inner and outer, got {raw!r}")
        return None
    before = len(problems)
    extras = tuple((str(k), v) for k, v in raw.items() if k not in _SLOT_KEYS)
    for key, _ in extras:
        # the old system ignored fields it did not know; keep them (a save writes them back)
        warnings.append(f"{where}, {key}: unknown field kept and ignored (known: {', '.join(_SLOT_KEYS)})")
    class_id = raw.get("class_id")
    if "class_id" not in raw:
        problems.append(f"{where}, class_id: missing (expected a whole number)")
    elif not isinstance(class_id, int) or isinstance(class_id, bool):
        problems.append(f"{where}, class_id: expected a whole number, got {class_id!r}")
    inner = _read_box(raw, "inner", where, problems, warnings)
    outer = _read_box(raw, "outer", where, problems, warnings)
    name = raw.get("name")
    if name is not None and not isinstance(name, str):
        if isinstance(name, int | float) and not isinstance(name, bool):
            name = str(name)  # `name: 1` is meant as text
        else:
            problems.append(f"{where}, name: expected text, got {name!r}")
    min_score = raw.get("min_score")
    if min_score is not None and not _is_number(min_score):
        problems.append(f"{where}, min_score: expected a number in [0, 1], got {min_score!r}")
    if len(problems) > before:
        return None
    return Slot(class_id, inner, outer, name, None if min_score is None else float(min_score), extras)  # type: ignore[arg-type]


def _read_settings(raw: Any, where: str, problems: list[str]) -> dict[int, float]:
    if not isinstance(raw, dict):
        problems.append(f"{where}: expected a mapping like {{min_score: {{0: 0.5}}}}, got {raw!r}")
        return {}
    for key in raw:
        if key not in _SETTINGS_KEYS:
            problems.append(f"{where}, {key}: unknown setting (expected {', '.join(_SETTINGS_KEYS)})")
    table = raw.get("min_score", {}) or {}
    if not isinstance(table, dict):
        problems.append(f"{where}, min_score: expected a mapping of class id to score, got {table!r}")
        return {}
    scores: dict[int, float] = {}
    for cls, score in table.items():
        if not isinstance(cls, int) or isinstance(cls, bool):
            problems.append(f"{where}, min_score: class id must be a whole number, got {cls!r}")
        elif not _is_number(score):
            problems.append(f"{where}, min_score: class {cls} expected a number in [0, 1], got {score!r}")
        else:
            scores[cls] = float(score)
    return scores


def parse_pattern_set(
    text: str, name: str, path: str | Path | None = None, num_classes: int | None = None
) -> PatternSet:
    """A validated PatternSet from YAML text; PatternFileError lists every problem, located."""
    src = str(path) if path is not None else name
    loader = None
    try:
        _check_structure(text)
        loader = _Loader(text)
        node = loader.get_single_node()
        data = loader.construct_document(node) if node is not None else None
    except (RecursionError, MemoryError) as exc:  # a last net: the depth cap should come first
        raise PatternFileError([f"{src}: not a readable pattern file ({type(exc).__name__})"]) from None
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = f":{mark.line + 1}" if mark is not None else ""
        raise PatternFileError([f"{src}{line}: not valid YAML: {exc.problem or exc.context}"]) from None
    except yaml.reader.ReaderError as exc:
        line_no = text.count("\n", 0, exc.position) + 1
        raise PatternFileError(
            [f"{src}:{line_no}: not valid YAML: control character #x{exc.character:04x} is not allowed"]
        ) from None
    except yaml.YAMLError as exc:
        raise PatternFileError([f"{src}: not valid YAML: {' '.join(str(exc).split())}"]) from None
    finally:
        if loader is not None:
            loader.dispose()

    if data is None:
        raise PatternFileError([f"{src}: the file is empty (expected variant names mapped to slot lists)"])
    if not isinstance(data, dict):
        raise PatternFileError(
            [f"{src}: the top level must map variant names to slot lists, got {type(data).__name__}"]
        )

    problems = _duplicate_keys(node, src)
    warnings: list[str] = []
    lines = _node_lines(node)
    variants: dict[str, tuple[Slot, ...]] = {}
    min_scores: dict[int, float] = {}
    for key, raw_slots in data.items():
        variant = str(key)
        key_line, slot_lines = lines.get(variant, (0, []))
        at_key = f"{src}:{key_line}" if key_line else src
        if key is None or isinstance(key, bool) or not isinstance(key, str | int | float):
            # `null:` or `~:` would become a variant named 'None'
            if not key_line and isinstance(node, yaml.MappingNode):
                key_line = next((k.start_mark.line + 1 for k, _ in node.value if k.tag.endswith((":null", ":bool"))), 0)
            problems.append(f"{src}:{key_line}: variant name must be text, got {key!r}" if key_line else
                            f"{src}: variant name must be text, got {key!r}")
            continue
        if variant == SETTINGS_KEY:
            min_scores = _read_settings(raw_slots, f"{at_key}: {SETTINGS_KEY}", problems)
            continue
        at_variant = f"{at_key}: variant {variant!r}"
        if not isinstance(raw_slots, list):
            problems.append(f"{at_variant}: expected a list of slots, got {raw_slots!r}")
            continue

        def at_slot(index: int, slot_name: str | None, _lines=slot_lines, _v=variant, _k=at_key) -> str:
            prefix = f"{src}:{_lines[index]}" if index < len(_lines) else _k
            return _at_slot(prefix, _v)(index, slot_name)

        parsed = []
        for index, raw in enumerate(raw_slots):
            raw_name = raw.get("name") if isinstance(raw, dict) and isinstance(raw.get("name"), str) else None
            slot = _read_slot(raw, at_slot(index, raw_name), problems, warnings)
            if slot is not None:
                parsed.append((index, slot))
        problems += _variant_problems(parsed, len(raw_slots), num_classes, at_variant, at_slot)
        variants[variant] = tuple(slot for _, slot in parsed)

    if not variants:
        problems.append(f"{src}: no variants (expected at least one variant with slots)")
    problems += _min_scores_problems(min_scores, num_classes, f"{src}: {SETTINGS_KEY}")
    if problems:
        raise PatternFileError(problems)
    return PatternSet(name, variants, Path(path) if path is not None else None, min_scores, tuple(warnings))


def load_pattern_set(path: str | Path, num_classes: int | None = None) -> PatternSet:
    """Read one pattern file (name = file stem); PatternFileError names every problem."""
    p = Path(path)
    text = read_text_limited(p, MAX_PATTERN_BYTES, "pattern file", PatternError)
    return parse_pattern_set(text, p.stem, p, num_classes)


def pattern_files(folder: str | Path) -> list[Path]:
    """The pattern files under a folder (recursive, as the old system), sorted by path."""
    root = Path(folder)
    return sorted(
        p for p in root.rglob("*")
        if p.suffix.lower() in PATTERN_SUFFIXES and p.is_file() and not p.name.startswith(".")
    )


@dataclass(frozen=True)
class PatternLibrary:
    """What a pattern file or folder yielded: each file loads or fails on its own."""

    sets: dict[str, PatternSet]  # by name (file stem), ordered by name
    failed: dict[str, tuple[str, ...]]  # file path -> its located problems
    warnings: tuple[str, ...]  # located notes of the sets that loaded (clipped, unknown fields)

    @property
    def problems(self) -> list[str]:
        return [p for problems in self.failed.values() for p in problems]

    def summary(self) -> str:
        """One line for a status bar: what loaded, what did not."""
        line = f"{len(self.sets)} pattern set(s) loaded"
        if self.failed:
            line += f"; not loaded: {', '.join(Path(f).name for f in self.failed)}"
        return line


def read_pattern_library(file_or_folder: str | Path, num_classes: int | None = None) -> PatternLibrary:
    """Load every pattern file of a folder on its own: a broken file fails only its set.

    Raises PatternError only when there is nothing to load (no such path, no pattern files).
    """
    root = Path(file_or_folder)
    if root.is_file():
        files = [root]
    elif root.is_dir():
        files = pattern_files(root)
        if not files:
            raise PatternError(f"{root}: no pattern files (*.yaml, *.yml) in the folder")
    elif special_kind(root):  # a FIFO or device: refused, never opened
        raise PatternError(refusal(root, special_kind(root), "pattern file or folder"))
    else:
        raise PatternError(f"{root}: no such pattern file or folder")
    for folder in {root if root.is_dir() else root.parent, *(p.parent for p in files)}:
        remove_stale_temp_files_in(folder)  # leftovers of saves a crash interrupted
    sets: dict[str, PatternSet] = {}
    failed: dict[str, tuple[str, ...]] = {}
    warnings: list[str] = []
    for path in files:
        if path.stem in sets:
            failed[str(path)] = (f"{path}: pattern set {path.stem!r} already defined by {sets[path.stem].path}",)
            continue
        try:
            ps = load_pattern_set(path, num_classes)
        except PatternFileError as exc:
            failed[str(path)] = tuple(exc.problems)
            continue
        except PatternError as exc:
            failed[str(path)] = (str(exc),)
            continue
        sets[ps.name] = ps
        warnings += ps.warnings
    return PatternLibrary(dict(sorted(sets.items())), failed, tuple(warnings))


def load_pattern_library(file_or_folder: str | Path, num_classes: int | None = None) -> dict[str, PatternSet]:
    """Pattern sets by name (file stem), ordered by name; strict: all files' problems in one error."""
    library = read_pattern_library(file_or_folder, num_classes)
    if library.failed:
        raise PatternFileError(library.problems)
    return library.sets


def choose_pattern_set(library: PatternLibrary, name: str, where: str | Path) -> PatternSet:
    """The named set (default: the first that loaded); a failed or missing one names why."""
    if not name:
        if not library.sets:
            raise PatternFileError(library.problems or [f"{where}: no pattern set loaded"])
        return next(iter(library.sets.values()))
    if name in library.sets:
        return library.sets[name]
    for path, problems in library.failed.items():
        if Path(path).stem == name:
            raise PatternFileError(list(problems))
    raise PatternError(f"{where}: no pattern set {name!r}; have: {', '.join(library.sets) or 'none'}")


# --- writing ---------------------------------------------------------------------------------


class _Flow(list):
    """A list YAML writes on one line: boxes read as [x1, y1, x2, y2], as in the old files."""


class _PatternDumper(yaml.SafeDumper):
    pass


_PatternDumper.add_representer(
    _Flow, lambda dumper, data: dumper.represent_sequence("tag:yaml.org,2002:seq", data, flow_style=True)
)


def _slot_to_dict(slot: Slot) -> dict:
    out: dict[str, Any] = {"class_id": int(slot.class_id), "inner": _Flow(slot.inner), "outer": _Flow(slot.outer)}
    if slot.name is not None:
        out["name"] = slot.name
    if slot.min_score is not None:
        out["min_score"] = float(slot.min_score)
    out.update((k, v) for k, v in slot.extras if k not in out)  # unknown fields read from the file
    return out


def pattern_set_to_yaml(ps: PatternSet) -> str:
    """The YAML text of a pattern set, in the old system's format (+ optional extras)."""
    data: dict[str, Any] = {v: [_slot_to_dict(s) for s in slots] for v, slots in ps.variants.items()}
    if ps.min_scores:
        data[SETTINGS_KEY] = {"min_score": {int(k): float(v) for k, v in ps.min_scores.items()}}
    return yaml.dump(data, Dumper=_PatternDumper, sort_keys=False, default_flow_style=False, allow_unicode=True)


def _round_trip():
    from ruamel.yaml import YAML  # only the writer needs it: reading stays on PyYAML

    rt = YAML(typ="rt")
    rt.preserve_quotes = True
    rt.width = 4096  # never fold a long name onto two lines
    rt.indent(mapping=2, sequence=4, offset=2)
    return rt


def _flow(values) -> Any:
    from ruamel.yaml.comments import CommentedSeq

    seq = CommentedSeq(values)
    seq.fa.set_flow_style()
    return seq


def _set_list(target, values: list[float]) -> None:
    """Replace a box's numbers in place: the sequence keeps its style and its comments, and
    an unchanged number keeps its spelling ("0.20" stays "0.20")."""
    if len(target) != len(values):
        target[:] = values
        return
    for i, value in enumerate(values):
        if not _is_number(target[i]) or float(target[i]) != value:
            target[i] = value


def _update_slot(node, slot: Slot):
    from ruamel.yaml.comments import CommentedMap

    if not isinstance(node, CommentedMap):
        node = CommentedMap()
        for key, value in slot.extras:  # a new node: the unknown fields read from the file
            node[key] = value
    node["class_id"] = int(slot.class_id)
    for key, box in (("inner", slot.inner), ("outer", slot.outer)):
        values = [float(v) for v in box]
        if isinstance(node.get(key), list):
            _set_list(node[key], values)
        else:
            node[key] = _flow(values)
    for key, value in (("name", slot.name), ("min_score", slot.min_score)):
        if value is None:
            node.pop(key, None)
        else:
            node[key] = value if key == "name" else float(value)
    return node


def _merge_document(doc, ps: PatternSet):
    """The old file's tree with `ps`'s values: comments, key order, quoting, flow style kept.

    A variant or slot that stays is updated in place; one that is new is appended; one that
    was removed goes (with its comments).
    """
    from ruamel.yaml.comments import CommentedMap, CommentedSeq

    if not isinstance(doc, CommentedMap):
        doc = CommentedMap()
    wanted = dict(ps.variants)
    for key in [k for k in doc if str(k) != SETTINGS_KEY and str(k) not in wanted]:
        del doc[key]
    for variant, slots in wanted.items():
        key = next((k for k in doc if str(k) == variant), variant)
        seq = doc.get(key)
        if not isinstance(seq, CommentedSeq):
            seq = CommentedSeq()
        for i, slot in enumerate(slots):
            if i < len(seq):
                seq[i] = _update_slot(seq[i], slot)
            else:
                seq.append(_update_slot(None, slot))
        del seq[len(slots):]
        doc[key] = seq
    if ps.min_scores:
        table = CommentedMap((int(k), float(v)) for k, v in ps.min_scores.items())
        settings = doc.get(SETTINGS_KEY)
        if isinstance(settings, CommentedMap):
            settings["min_score"] = table
        else:
            doc[SETTINGS_KEY] = CommentedMap(min_score=table)
    elif SETTINGS_KEY in doc:
        settings = doc[SETTINGS_KEY]
        if isinstance(settings, CommentedMap):
            settings.pop("min_score", None)
        if not settings:
            del doc[SETTINGS_KEY]
    return doc


def pattern_set_to_yaml_over(ps: PatternSet, old_text: str) -> str:
    """`ps` written over the text of its previous file, keeping what the engineer wrote
    around the values (comments, key order, quoting); plain text when the old is unreadable."""
    import io

    from ruamel.yaml.error import YAMLError as RuamelError

    rt = _round_trip()
    try:
        doc = rt.load(old_text) if old_text.strip() else None
    except RuamelError:
        return pattern_set_to_yaml(ps)  # the old file was broken: nothing worth keeping
    out = io.StringIO()
    rt.dump(_merge_document(doc, ps), out)
    return out.getvalue()


def _reads_back_as(text: str, ps: PatternSet, target: Path) -> bool:
    try:
        back = parse_pattern_set(text, ps.name, target)
    except PatternError:
        return False
    return back.variants == ps.variants and back.min_scores == ps.min_scores


def save_pattern_set(ps: PatternSet, path: str | Path | None = None, num_classes: int | None = None) -> Path:
    """Write atomically (previous file kept as .bak); an invalid set is refused, file untouched.

    Over an existing file the engineer's comments, key order and file mode are kept.
    """
    target = Path(path) if path is not None else ps.path
    if target is None:
        raise PatternError(f"pattern set {ps.name!r}: no file to save to")
    problems = validate_pattern_set(ps, num_classes)
    if problems:
        raise PatternFileError([f"not saved to {target}: {p}" for p in problems])
    try:
        old_text = target.read_text(encoding="utf-8") if target.is_file() else ""
    except (OSError, UnicodeDecodeError):
        old_text = ""
    text = pattern_set_to_yaml_over(ps, old_text) if old_text else pattern_set_to_yaml(ps)
    if not _reads_back_as(text, ps, target):  # e.g. an unknown key the old file carried
        text = pattern_set_to_yaml(ps)
    return atomic_write_text(target, text)
