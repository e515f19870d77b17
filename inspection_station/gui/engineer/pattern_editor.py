"""The pattern editor: library of pattern sets, variants, slots on the image, teach, try, save.

All pattern logic is core: editing and undo (core/patterns/draft.py), the library's file
operations with their audit entries (core/patterns/audited_library.py), validation and
saving (core/patterns/yaml_io.py), teaching (teaching.py), matching (matching.py), pixel
nudges (geometry.py). This widget wires them to its parts, one job each: the library
column (library_panel.py), the canvas (slot_canvas.py with slot_rois.py), the slot table
(slot_table.py) and the teach controls (teach_panel.py), and keeps them in sync.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterable
from pathlib import Path

import numpy as np
from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QKeySequence, QShortcut
from PySide6.QtWidgets import (
    QFileDialog,
    QHBoxLayout,
    QInputDialog,
    QLabel,
    QListWidget,
    QMessageBox,
    QPushButton,
    QSplitter,
    QVBoxLayout,
    QWidget,
)

from inspection_station.core.cycle import Verdict
from inspection_station.core.detection import Detection
from inspection_station.core.errors import PatternError, StationError
from inspection_station.core.images import IMAGE_SUFFIXES, load_image
from inspection_station.core.patterns import library as lib
from inspection_station.core.patterns.audited_library import AuditedLibrary, LibraryOutcome
from inspection_station.core.patterns.draft import DEFAULT_SLOT, PatternDraft
from inspection_station.core.patterns.geometry import nudge as nudge_slot
from inspection_station.core.patterns.matching import match_pattern, wrong_part_text
from inspection_station.core.patterns.model import PatternFileError, PatternSet, Slot
from inspection_station.core.patterns.teaching import (
    derive_variant,
    normalise_detections,
    variant_from_detections,
)
from inspection_station.core.patterns.yaml_io import (
    load_pattern_set,
    pattern_files,
)
from inspection_station.core.settings.audit import AuditLog
from inspection_station.gui.engineer.library_panel import LibraryPanel
from inspection_station.gui.engineer.slot_canvas import SlotCanvas
from inspection_station.gui.engineer.slot_table import SlotTable
from inspection_station.gui.engineer.teach_panel import TeachPanel
from inspection_station.gui.station_protocol import FrameSource, model_class_names
from inspection_station.gui.theme import ERROR_STYLE, OK_STYLE

BLANK_SIZE = (800, 600)  # shown when there is no frame yet: boxes are normalised anyway


def _buttons(parent: QWidget, *specs: tuple[str, Callable]) -> tuple[QHBoxLayout, list[QPushButton]]:
    row = QHBoxLayout()
    made = []
    for text, slot in specs:
        b = QPushButton(text, parent)
        b.clicked.connect(slot)
        row.addWidget(b)
        made.append(b)
    return row, made


class PatternEditor(QWidget):
    """Edit the pattern sets in a folder. `station` (may be None) gives frames and detections."""

    saved = Signal(str)  # pattern set name, after a successful save
    _image_loaded = Signal(object, object)  # (path, future) from the station's inference thread
    library_changed = Signal()  # sets were created, renamed, duplicated or deleted

    def __init__(
        self,
        patterns_path: Path,
        station: FrameSource | None = None,
        parent: QWidget | None = None,
        *,
        audit: AuditLog | None = None,
        class_names: Iterable[str] = (),
        history=None,
        library_factory: Callable[[Path], object] | None = None,
    ) -> None:
        """`library_factory(folder)`: the pattern library's file operations (the station's
        actions, core/actions.py); default: audited as `audit`'s actor."""
        super().__init__(parent)
        self.station = station
        self._image_loaded.connect(self._on_image_loaded)
        self.audit = audit or AuditLog()
        self.class_names = list(class_names)
        self._history = history  # CycleResults to teach from; None = station.recent_results
        self._library_factory = library_factory or (lambda folder: AuditedLibrary(folder, self.audit))
        self.folder = lib.library_folder(Path(patterns_path))
        self.library = self._library_factory(self.folder)
        self.files: dict[str, Path] = {}
        self.draft: PatternDraft | None = None
        self.variant: str | None = None
        self.load_problems: list[str] = []
        self.image = np.full((BLANK_SIZE[1], BLANK_SIZE[0], 3), 48, np.uint8)
        self.image_source = "no image"
        self.detections: list[Detection] = []

        self._build()
        self.reload_library()
        self.use_current_frame()

    # --- layout ---------------------------------------------------------------------------

    def _build(self) -> None:
        # library: sets and variants
        left = LibraryPanel(
            self._set_chosen,
            [("New", self.new_set), ("Rename", self.rename_set),
             ("Duplicate", self.duplicate_set), ("Delete", self.delete_set)],
            self._variant_chosen,
            [("New", self.new_variant), ("Rename", self.rename_variant),
             ("Duplicate", self.duplicate_variant), ("Delete", self.delete_variant)],
            self,
        )
        self.sets_list, self.variants_list = left.sets_list, left.variants_list

        # image with slot rectangles
        centre = QWidget(self)
        cv = QVBoxLayout(centre)
        row, _ = _buttons(centre, ("Current frame", self.use_current_frame), ("Open image…", self.choose_image))
        self.image_label = QLabel("", centre)
        row.addWidget(self.image_label, 1)
        cv.addLayout(row)
        self.canvas = SlotCanvas(centre)
        self.graphics, self.view = self.canvas.graphics, self.canvas.view
        self.image_item, self.rois = self.canvas.image_item, self.canvas.rois
        self.rois.moving.connect(self._roi_moving)
        self.rois.moved.connect(self._roi_moved)
        self.rois.selected.connect(self.select_slot)
        self.canvas.nudge_requested.connect(self.nudge)
        self.canvas.box_chosen.connect(lambda which: self.select_slot(self.rois.selection[0], which))
        self.table = SlotTable(centre)
        self.table.slot_edited.connect(self._table_edited)
        self.table.cell_problems_changed.connect(self._validate)
        self.table.itemSelectionChanged.connect(
            lambda: self.select_slot(self.table.selected_row(), self.rois.selection[1]))
        split = QSplitter(Qt.Orientation.Vertical, centre)
        split.addWidget(self.canvas)
        split.addWidget(self.table)
        split.setStretchFactor(0, 4)
        split.setStretchFactor(1, 1)
        split.setSizes([700, 180])
        cv.addWidget(split, 1)
        row, (self.undo_button, self.redo_button, *_rest) = _buttons(
            centre, ("Undo", self.undo), ("Redo", self.redo), ("Add slot", self.add_slot), ("Remove slot", self.remove_slot)
        )
        cv.addLayout(row)
        # Ctrl+Z / Ctrl+Shift+Z inside the editor (a cell being typed in keeps its own undo)
        for keys, slot in ((QKeySequence.StandardKey.Undo, self.undo), (QKeySequence.StandardKey.Redo, self.redo)):
            shortcut = QShortcut(QKeySequence(keys), self)
            shortcut.setContext(Qt.ShortcutContext.WidgetWithChildrenShortcut)
            shortcut.activated.connect(slot)

        # teach, try, validation, save
        right = QWidget(self)
        rv = QVBoxLayout(right)
        rv.setContentsMargins(0, 0, 0, 0)
        self.teach_panel = TeachPanel(right)
        self.teach_panel.teach_frame.connect(self.teach_from_frame)
        self.teach_panel.teach_history.connect(self.teach_from_history)
        # the editor reads these (teaching is its use of core/patterns/teaching.py)
        self.tolerance, self.last_n, self.only_ok = (
            self.teach_panel.tolerance, self.teach_panel.last_n, self.teach_panel.only_ok)
        rv.addWidget(self.teach_panel)
        self.try_button = QPushButton("Try on this frame", right)
        self.try_button.clicked.connect(self.try_pattern)
        rv.addWidget(self.try_button)
        self.try_label = QLabel("", right)
        self.try_label.setObjectName("try_result")
        self.try_label.setWordWrap(True)
        rv.addWidget(self.try_label)
        rv.addWidget(QLabel("Problems"))
        self.problem_list = QListWidget(right)
        self.problem_list.setObjectName("problems")
        self.problem_list.setWordWrap(True)
        rv.addWidget(self.problem_list, 1)
        self.save_button = QPushButton("Save pattern set", right)
        self.save_button.clicked.connect(self.save)
        rv.addWidget(self.save_button)
        self.status = QLabel("", right)
        self.status.setObjectName("status")
        self.status.setWordWrap(True)
        rv.addWidget(self.status)

        split = QSplitter(Qt.Orientation.Horizontal, self)
        for w, stretch in ((left, 0), (centre, 1), (right, 0)):
            split.addWidget(w)
            split.setStretchFactor(split.count() - 1, stretch)
        split.setSizes([160, 1000, 220])  # shares: the canvas takes what the side columns leave
        self.splitter = split
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(split)

    def balance_columns(self) -> None:
        """Library, canvas and tools columns at 17 / 61 / 22 % of the width now (a splitter
        keeps the side columns' old widths on a resize; a new window must share afresh)."""
        total = sum(self.splitter.sizes())
        if total > 0:
            self.splitter.setSizes([int(total * 0.17), int(total * 0.61), int(total * 0.22)])

    # --- prompts (tests replace these) --------------------------------------------------------

    def ask_text(self, title: str, label: str, default: str = "") -> str | None:
        text, ok = QInputDialog.getText(self, title, label, text=default)
        return text.strip() if ok and text.strip() else None

    def confirm(self, question: str) -> bool:
        answer = QMessageBox.question(self, "Pattern editor", question)
        return answer == QMessageBox.StandardButton.Yes

    def _say(self, text: str, ok: bool = True) -> None:
        self.status.setStyleSheet(OK_STYLE if ok else ERROR_STYLE)
        self.status.setText(text)

    def _report(self, done: LibraryOutcome) -> None:
        """A library use case's outcome; an audit entry that failed is said in red."""
        if done.audit_note:
            self._say(f"{done.message} ({done.audit_note})", ok=False)
        else:
            self._say(done.message)

    # --- public state -----------------------------------------------------------------------

    @property
    def num_classes(self) -> int | None:
        names = model_class_names(self.station)
        return len(names) if names else None

    def set_names(self) -> list[str]:
        return list(self.files)

    def current_set(self) -> PatternSet | None:
        return self.draft.current if self.draft else None

    def problems(self) -> list[str]:
        """Every reason the set cannot be saved now (cells that do not parse first)."""
        if self.draft is None:
            return list(self.load_problems)
        cells = [
            f"variant {self.variant!r}, slot {row}, {msg}" for (row, _col), msg in sorted(self.table.problems.items())
        ]
        return cells + self.draft.problems(self.num_classes)

    def set_class_names(self, names: Iterable[str]) -> None:
        self.class_names = list(names)
        self.table.class_names = self.class_names
        self._show_slots()

    def set_patterns_path(self, patterns_path: Path) -> None:
        self.folder = lib.library_folder(Path(patterns_path))
        self.library = self._library_factory(self.folder)
        self.reload_library()

    def restore_draft(self, path: Path) -> bool:
        """Open a pattern set kept as a draft (core/settings/drafts.py) as unsaved edits of the
        set of that name: nothing is saved until the engineer saves."""
        from inspection_station.core.patterns.draft import PatternDraft
        from inspection_station.core.patterns.yaml_io import load_pattern_set

        try:
            kept = load_pattern_set(path, self.num_classes)
        except StationError as exc:
            self._say(f"The kept draft {path.name} could not be read: {exc}", ok=False)
            return False
        name = Path(path).stem
        if name not in self.files:
            self._say(f"The kept draft of {name} has no pattern file any more; not restored", ok=False)
            return False
        self.open_set(name)
        if self.draft is None:
            return False
        self.draft = PatternDraft(dataclasses.replace(kept, name=self.draft.saved.name, path=self.draft.saved.path),
                                  saved=self.draft.saved)
        self._show_variants()
        self._validate()
        self._say(f"Restored the unsaved edits of {name}: check, then Save")
        return True

    # --- library ------------------------------------------------------------------------------

    def reload_library(self, select: str | None = None) -> None:
        keep = select or (self.draft.current.name if self.draft else None)
        self.files = {p.stem: p for p in pattern_files(self.folder)} if self.folder.is_dir() else {}
        self.sets_list.blockSignals(True)
        self.sets_list.clear()
        self.sets_list.addItems(list(self.files))
        self.sets_list.blockSignals(False)
        self.library_changed.emit()
        self.draft = None
        name = keep if keep in self.files else next(iter(self.files), None)
        if name is None:
            self.load_problems = [f"{self.folder}: no pattern files yet; press New to create one"]
            self._show_variants()
            return
        self.sets_list.setCurrentRow(list(self.files).index(name))  # -> _set_chosen
        if self.draft is None:
            self._set_chosen(name)

    def _unsaved_ok(self) -> bool:
        return self.draft is None or not self.draft.dirty or self.confirm(
            f"Pattern set {self.draft.current.name!r} has unsaved changes. Discard them?"
        )

    def _set_chosen(self, name: str) -> None:
        if not name or (self.draft is not None and self.draft.current.name == name):
            return
        if not self._unsaved_ok():
            self.sets_list.blockSignals(True)
            self.sets_list.setCurrentRow(list(self.files).index(self.draft.current.name))
            self.sets_list.blockSignals(False)
            return
        self.open_set(name)

    def open_set(self, name: str) -> None:
        path = self.files[name]
        try:
            ps = load_pattern_set(path)
            self.draft = PatternDraft(ps)
            self.load_problems = []
        except PatternFileError as exc:
            self.draft, self.load_problems = None, exc.problems
        except PatternError as exc:
            self.draft, self.load_problems = None, [str(exc)]
        self.variant = None
        self._show_variants()
        self._say("")

    def new_set(self) -> None:
        name = self.ask_text("New pattern set", "Name (becomes the file name):", "new_product")
        if not name or not self._unsaved_ok():
            return
        try:
            done = self.library.create(name, DEFAULT_SLOT)
        except StationError as exc:
            self._say(str(exc), ok=False)
            return
        self._report(done)
        self.draft = None
        self.reload_library(select=done.path.stem)

    def rename_set(self) -> None:
        if self.draft is None or not self._unsaved_ok():
            return
        old = self.draft.current
        name = self.ask_text("Rename pattern set", "New name:", old.name)
        if not name or name == old.name:
            return
        try:
            done = self.library.rename(self.files[old.name], name)
        except StationError as exc:
            self._say(str(exc), ok=False)
            return
        self._report(done)
        self.draft = None
        self.reload_library(select=done.path.stem)

    def duplicate_set(self) -> None:
        if self.draft is None:
            return
        old = self.draft.current
        name = self.ask_text("Duplicate pattern set", "Name of the copy:", f"{old.name}_copy")
        if not name or not self._unsaved_ok():
            return
        try:
            done = self.library.duplicate(self.files[old.name], name)
        except StationError as exc:
            self._say(str(exc), ok=False)
            return
        self._report(done)
        self.draft = None
        self.reload_library(select=done.path.stem)

    def delete_set(self) -> None:
        name = self.sets_list.currentItem().text() if self.sets_list.currentItem() else None
        if not name or not self.confirm(f"Delete pattern set {name!r}? The file is kept as a backup."):
            return
        try:
            done = self.library.delete(self.files[name])
        except StationError as exc:
            self._say(str(exc), ok=False)
            return
        self._report(done)
        self.draft = None
        self.reload_library()

    # --- variants -----------------------------------------------------------------------------

    def _show_variants(self, select: str | None = None) -> None:
        names = self.draft.variant_names if self.draft else []
        wanted = select if select in names else self.variant if self.variant in names else (names[0] if names else None)
        self.variants_list.blockSignals(True)
        self.variants_list.clear()
        self.variants_list.addItems(names)
        if wanted is not None:
            self.variants_list.setCurrentRow(names.index(wanted))
        self.variants_list.blockSignals(False)
        self.variant = wanted
        self._show_slots()

    def _variant_chosen(self, name: str) -> None:
        if name and name != self.variant:
            self.variant = name
            self._show_slots()

    def select_variant(self, name: str) -> None:
        self._show_variants(select=name)

    def _edit(self, fn: Callable[[], object], select: str | None = None) -> None:
        """Run one draft edit, then show the result; a refused edit says why."""
        if self.draft is None:
            return
        try:
            fn()
        except PatternError as exc:
            self._say(str(exc), ok=False)
            return
        self._show_variants(select)

    def new_variant(self) -> None:
        name = self.ask_text("New variant", "Variant name:", "variant")
        if name and self.draft:
            self._show_variants(self.draft.add_variant(name))

    def rename_variant(self) -> None:
        if not (self.draft and self.variant):
            return
        name = self.ask_text("Rename variant", "New name:", self.variant)
        if name:
            old = self.variant
            self._edit(lambda: self.draft.rename_variant(old, name), select=name)

    def duplicate_variant(self) -> None:
        if self.draft and self.variant:
            made = self.draft.duplicate_variant(self.variant)
            self._show_variants(made)

    def delete_variant(self) -> None:
        if self.draft and self.variant and self.confirm(f"Delete variant {self.variant!r}?"):
            name = self.variant
            self._edit(lambda: self.draft.delete_variant(name))

    # --- slots ---------------------------------------------------------------------------------

    def _slots(self) -> tuple[Slot, ...]:
        return self.draft.slots(self.variant) if self.draft and self.variant else ()

    def _show_slots(self) -> None:
        slots = self._slots()
        self.table.class_names = self.class_names
        self.table.image_size = self._size()
        self.table.set_slots(slots)
        self.rois.set_slots(slots, self._size(), self.class_names)
        self.rois.colour_by_match(None)
        self._validate()

    def select_slot(self, row: int, which: str = "outer") -> None:
        """Slot `row` selected, its `which` box editable (canvas, table and toggle agree)."""
        if row < 0 or row >= len(self._slots()):
            row = -1
        self.rois.select(row, which)
        self.canvas.set_box(which)
        if row >= 0 and self.table.selected_row() != row:
            self.table.selectRow(row)

    def nudge(self, dx: int, dy: int, resize: bool = False) -> None:
        """Move (or with `resize` grow) the selected box by whole image pixels: one undo step."""
        row, which = self.rois.selection
        slots = self._slots()
        if not (self.draft and self.variant) or not 0 <= row < len(slots):
            self._say("Select a slot first (click it, or its row in the table).", ok=False)
            return
        w, h = self._size()
        moved = nudge_slot(slots[row], which, dx, dy, w, h, resize=resize)
        verb = "resize" if resize else "move"
        self.draft.set_slot(self.variant, row, moved, what=f"{verb} the {which} box of slot {row} by {dx}, {dy} px")
        self.rois.place(row, moved)
        self.table.show_boxes(row, moved.inner, moved.outer)
        self._validate()

    def add_slot(self) -> None:
        if self.draft and self.variant:
            self._edit(lambda: self.draft.add_slot(self.variant))

    def remove_slot(self) -> None:
        row = self.table.selected_row()
        if self.draft and self.variant and row >= 0:
            self._edit(lambda: self.draft.remove_slot(self.variant, row))

    def _table_edited(self, row: int, slot: Slot) -> None:
        if self.draft and self.variant:
            self.draft.set_slot(self.variant, row, slot)
            self.rois.place(row, slot)  # table -> rectangles (signals blocked there)
            self._validate()

    def _roi_moving(self, row: int, inner, outer) -> None:
        self.table.show_boxes(row, inner, outer)  # live feedback only; committed when released

    def _roi_moved(self, row: int, inner, outer) -> None:
        if not (self.draft and self.variant) or row >= len(self._slots()):
            return
        old = self._slots()[row]
        self.draft.set_slot(self.variant, row, Slot(old.class_id, inner, outer, old.name, old.min_score),
                            what=f"move slot {row} of {self.variant!r}")
        self.table.show_boxes(row, inner, outer)
        self._validate()

    def undo(self) -> None:
        if self.draft and self.draft.undo():
            self._show_variants()

    def redo(self) -> None:
        if self.draft and self.draft.redo():
            self._show_variants()

    # --- validation, try, save -----------------------------------------------------------------

    def _validate(self) -> None:
        problems = self.problems()
        self.problem_list.clear()
        self.problem_list.addItems(problems or ["No problems: the pattern set can be saved."])
        dirty = bool(self.draft and self.draft.dirty)
        self.save_button.setText("Save pattern set" + (" *" if dirty else ""))
        self.undo_button.setEnabled(bool(self.draft and self.draft.can_undo()))
        self.redo_button.setEnabled(bool(self.draft and self.draft.can_redo()))
        self.undo_button.setToolTip(self.draft.undo_text() if self.draft else "")
        self.redo_button.setToolTip(self.draft.redo_text() if self.draft else "")

    def try_pattern(self):
        """Match the edited set against the shown frame's detections; returns the MatchResult."""
        if self.draft is None:
            return None
        problems = self.draft.problems(self.num_classes)
        if problems:
            self.try_label.setStyleSheet(ERROR_STYLE)
            self.try_label.setText(f"Fix first: {problems[0]}")
            return None
        w, h = self._size()
        # The variant being edited, judged alone: Try never jumps to another variant.
        edited = PatternSet(self.draft.current.name, {self.variant: self._slots()}, None,
                            self.draft.current.min_scores)
        result = match_pattern(edited, self.detections, w, h)
        best = match_pattern(self.draft.current, self.detections, w, h)
        text = f"{result.verdict.value}: variant {result.summary()} slots filled"
        wrong = [wrong_part_text(s, self.detections, self.class_names) for s in result.wrong_parts]
        if wrong:
            text += f"; wrong part: {', '.join(wrong)}"
        missing = result.missing(wrong_too=False)
        if missing:
            text += f"; missing {', '.join(missing)}"
        text += f" ({len(self.detections)} detections on {self.image_source})"
        if best.variant != self.variant:
            text += f". The whole set would pick variant {best.summary()}."
        self.try_label.setStyleSheet(OK_STYLE if result.ok else ERROR_STYLE)
        self.try_label.setText(text)
        self.rois.colour_by_match([s.matched for s in result.slots])
        return result

    def save(self) -> bool:
        """Validate and save atomically (backup kept); refuses with the first reason."""
        if self.draft is None:
            return False
        problems = self.problems()
        if problems:
            self._say(f"Not saved: {problems[0]}", ok=False)
            return False
        before = self.draft.saved
        path = self.files.get(before.name) or before.path
        try:
            done = self.library.save(self.draft.current, before, path, self.num_classes)
        except StationError as exc:
            self._say(f"Not saved: {exc}", ok=False)
            return False
        self.draft.mark_saved(done.saved)
        self._report(done)
        self._validate()
        self.saved.emit(done.saved.name)
        return True

    # --- teaching ------------------------------------------------------------------------------

    def _teach_into(self, slots, what: str) -> None:
        if self.draft is None:
            self._say("Create or choose a pattern set first.", ok=False)
            return
        name = self.ask_text("Taught variant", "Name of the new variant:", "taught")
        if not name:
            return
        if name in self.draft.variant_names and not self.confirm(f"Replace the slots of variant {name!r}?"):
            return
        self.draft.replace_variant(name, slots, what=what)
        self._show_variants(name)
        self._say(f"{what}: variant {name!r} with {len(slots)} slots (not saved yet).")

    def teach_from_frame(self) -> None:
        if not self.detections:
            self._say("No detections on the shown frame to teach from.", ok=False)
            return
        w, h = self._size()
        slots = variant_from_detections(self.detections, w, h, self.tolerance.value())
        self._teach_into(slots, f"taught from {self.image_source}")

    def history(self) -> list:
        source = self._history if self._history is not None else (
            self.station.recent_results if self.station is not None else ())
        return list(source() if callable(source) else source)

    def teach_from_history(self) -> None:
        wanted = (Verdict.OK,) if self.only_ok.isChecked() else (Verdict.OK, Verdict.NOK)
        results = [
            r for r in self.history()
            if r.verdict in wanted and r.image_size is not None and r.detections
        ][-self.last_n.value():]
        if not results:
            self._say("No suitable cycles in the recent history to teach from.", ok=False)
            return
        frames = [normalise_detections(r.detections, *r.image_size) for r in results]
        try:
            taught = derive_variant(frames, self.tolerance.value())
        except PatternError as exc:
            self._say(str(exc), ok=False)
            return
        self._teach_into(taught.slots, f"taught from the last {len(results)} cycles")
        if taught.notes:
            self._say(f"{self.status.text()} Notes: {'; '.join(taught.notes)}", ok=False)

    # --- image ---------------------------------------------------------------------------------

    def _size(self) -> tuple[int, int]:
        return int(self.image.shape[1]), int(self.image.shape[0])

    def _show_image(self, image: np.ndarray, source: str, detections) -> None:
        self.image = np.ascontiguousarray(image)
        self.image_source = source
        self.detections = list(detections)
        self.canvas.set_image(self.image)
        self.image_label.setText(f"{source}: {len(self.detections)} detections")
        self.rois.clear()  # size may have changed: rebuild at the new scale
        self._show_slots()

    def use_current_frame(self) -> None:
        result = self.station.last_result if self.station is not None else None
        if result is not None and result.frame is not None:
            self._show_image(result.frame.rgb, f"cycle {result.cycle_id}", result.detections)
        else:
            self._show_image(self.image, "no frame yet", ())

    def choose_image(self) -> None:
        pattern = " ".join(f"*{s}" for s in IMAGE_SUFFIXES)
        path, _ = QFileDialog.getOpenFileName(self, "Choose an image", "", f"Images ({pattern})")
        if path:
            self.open_image(Path(path))

    def open_image(self, path: Path) -> None:
        """Show an image file with the station model's detections.

        Decoding and inference run on the station's inference thread; the result comes
        back through a queued signal, so the window never stalls on a 5 MP file.
        """
        if self.station is None:  # no station, no model: just the picture
            try:
                self._show_image(load_image(path), path.name, ())
            except StationError as exc:
                self._say(str(exc), ok=False)
            return
        self.image_label.setText(f"{path.name}: loading and detecting ...")
        future = self.station.detect_file(path)
        future.add_done_callback(lambda f: self._image_loaded.emit(path, f))

    def _on_image_loaded(self, path: Path, future) -> None:
        try:
            image, detections = future.result()
        except Exception as exc:  # a bad file or a failed model run: say so, keep the editor
            self._say(str(exc) if isinstance(exc, StationError) else f"{path.name}: {exc}", ok=False)
            self.image_label.setText(f"{path.name}: not loaded")
            return
        self._show_image(image, path.name, detections)
