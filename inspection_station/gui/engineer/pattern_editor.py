"""The pattern editor: library of pattern sets, variants, slots on the image, teach, try, save.

All pattern logic is core: editing and undo (core/patterns/draft.py), the library's file
operations with their audit entries (core/patterns/audited_library.py), validation and
saving (core/patterns/yaml_io.py), teaching (teaching.py), matching (matching.py), pixel
nudges (geometry.py). This widget wires them to its parts, one job each: the library
column (library_panel.py), the canvas (slot_canvas.py with slot_rois.py), the slot table
(slot_table.py) and the teach controls (teach_panel.py), and keeps them in sync.

Keyboard and focus: a click on the canvas gives it the keyboard, and the canvas owns the
arrow keys (they nudge the selected box); table cells edit only on double-click, F2 or
Enter. Every change, whatever its route (cell, drag, key, teach, add, remove, variant),
is one draft edit: on the undo stack, validated into Problems, and said in the status line.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterable
from pathlib import Path

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QSignalBlocker, Qt, Signal
from PySide6.QtGui import QKeySequence, QShortcut
from PySide6.QtWidgets import (
    QFileDialog,
    QGroupBox,
    QHBoxLayout,
    QInputDialog,
    QLabel,
    QListWidget,
    QMessageBox,
    QPushButton,
    QScrollArea,
    QSplitter,
    QVBoxLayout,
    QWidget,
)

from inspection_station.core.cycle import Verdict
from inspection_station.core.detection import Detection
from inspection_station.core.errors import PatternError, StationError
from inspection_station.core.images import IMAGE_SUFFIXES, list_images, load_image
from inspection_station.core.patterns import library as lib
from inspection_station.core.patterns.audited_library import AuditedLibrary, LibraryOutcome
from inspection_station.core.patterns.draft import PatternDraft, describe_slot_change
from inspection_station.core.patterns.geometry import nudge as nudge_slot
from inspection_station.core.patterns.good_frames import logged_good_frames
from inspection_station.core.patterns.matching import match_pattern, wrong_part_text
from inspection_station.core.patterns.model import PatternFileError, PatternSet, Slot
from inspection_station.core.patterns.teaching import (
    NormBox,
    TeachCheck,
    check_variant,
    normalise_detections,
    teach_and_check,
)
from inspection_station.core.patterns.yaml_io import (
    load_pattern_set,
    pattern_files,
)
from inspection_station.core.results.csv_log import read_log
from inspection_station.core.settings.audit import AuditLog
from inspection_station.gui.engineer.folder_detections import FolderDetections
from inspection_station.gui.engineer.library_panel import LibraryPanel
from inspection_station.gui.engineer.slot_canvas import SlotCanvas
from inspection_station.gui.engineer.slot_table import SlotTable
from inspection_station.gui.engineer.teach_panel import TeachPanel
from inspection_station.gui.operator.overlay import Overlay
from inspection_station.gui.station_protocol import FrameSource, model_class_names
from inspection_station.gui.theme import ERROR_STYLE, OK_STYLE, WARN_STYLE

BLANK_SIZE = (800, 600)  # shown when there is no frame yet: boxes are normalised anyway
LOGGED_FRAMES = 500  # good cycles of today's log a taught variant is checked on, at most
Frames = list[tuple[str, list[NormBox]]]  # (frame name, boxes normalised)


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
    _image_loaded = Signal(object, object)  # (source, future) from the station's inference thread
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
        active: str | None = None,
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
        self.image_is_file = False  # an image the engineer opened (kept when the window reopens)
        self.detections: list[Detection] = []
        self.collected: list[tuple[str, list[NormBox], tuple[int, int]]] = []  # frames added one by one
        # per taught variant: its check on good frames, those frames, and whether an edit came since
        self.checks: dict[str, tuple[TeachCheck, Frames, bool]] = {}
        self.folder_detections = FolderDetections(station, self) if station is not None else None

        self._build()
        active = active or self._station_active()
        self.reload_library(select=active)
        self.use_last_cycle()

    def _on_disk(self) -> bool:
        """The open set has a file (False for a New set before its first save)."""
        path = self.draft.current.path if self.draft is not None else None
        return path is not None and path.exists()

    def _station_active(self) -> str | None:
        ps = self.station.active_pattern_set if self.station is not None else None
        return ps.name if ps is not None else None

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
        # the model's detections on the shown frame, drawn as the live overlay draws them, under the slots
        self.detections_root = pg.ItemGroup()
        self.detections_root.setZValue(5)
        self.view.addItem(self.detections_root)
        self.detections_overlay = Overlay(self.detections_root, labels_below=True)  # slot names go above
        self.rois.moving.connect(self._roi_moving)
        self.rois.moved.connect(self._roi_moved)
        self.rois.selected.connect(self._canvas_selected)
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
        split.setStretchFactor(0, 3)
        split.setStretchFactor(1, 1)
        split.setSizes([600, 260])  # the table shows several rows even at 1366x768
        self.vertical_splitter = split
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

        # teach, check, try, validation, save
        right = QWidget(self)
        rv = QVBoxLayout(right)
        rv.setContentsMargins(0, 0, 0, 0)
        self.teach_panel = TeachPanel(right)
        self.teach_panel.teach_frame.connect(self.teach_from_frame)
        self.teach_panel.add_frame.connect(self.add_frame)
        self.teach_panel.teach_added.connect(self.teach_from_added)
        self.teach_panel.clear_added.connect(self.clear_added)
        self.teach_panel.teach_history.connect(self.teach_from_history)
        self.teach_panel.teach_folder.connect(self.choose_teach_folder)
        # the editor reads these (teaching is its use of core/patterns/teaching.py)
        self.margin, self.last_n, self.only_ok = (
            self.teach_panel.margin, self.teach_panel.last_n, self.teach_panel.only_ok)
        rv.addWidget(self.teach_panel)
        check_box = QGroupBox("Check on good frames", right)
        ch = QVBoxLayout(check_box)
        self.check_label = QLabel("Teach a variant: it is checked on every good frame at hand "
                                  "(the frames used, recent cycles, today's log).", check_box)
        self.check_label.setObjectName("check_result")
        self.check_label.setWordWrap(True)
        ch.addWidget(self.check_label)
        row, (self.recheck_button, self.check_folder_button) = _buttons(
            check_box, ("Check again", self.check_again), ("Check on a folder…", self.choose_check_folder))
        for b in (self.recheck_button, self.check_folder_button):
            b.setMinimumWidth(0)
        ch.addLayout(row)
        rv.addWidget(check_box)
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
        self.problem_list.setMinimumHeight(80)
        rv.addWidget(self.problem_list, 1)
        scroll = QScrollArea(self)  # the tools scroll on a small screen; Save and its answer stay on screen
        scroll.setWidgetResizable(True)
        scroll.setFrameShape(QScrollArea.Shape.NoFrame)
        scroll.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        scroll.setWidget(right)
        tools = QWidget(self)
        tv = QVBoxLayout(tools)
        tv.setContentsMargins(0, 0, 0, 0)
        tv.addWidget(scroll, 1)
        self.save_button = QPushButton("Save pattern set", tools)
        self.save_button.clicked.connect(self.save)
        tv.addWidget(self.save_button)
        self.status = QLabel("", tools)
        self.status.setObjectName("status")
        self.status.setWordWrap(True)
        tv.addWidget(self.status)

        split = QSplitter(Qt.Orientation.Horizontal, self)
        for w, stretch in ((left, 0), (centre, 1), (tools, 0)):
            split.addWidget(w)
            split.setStretchFactor(split.count() - 1, stretch)
        split.setSizes([160, 1000, 220])  # shares: the canvas takes what the side columns leave
        self.splitter = split
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(split)

    def balance_columns(self) -> None:
        """Library, canvas and tools columns at 15 / 61 / 24 % of the width now (a splitter
        keeps the side columns' old widths on a resize; a new window must share afresh);
        the slot table gets a third of the canvas column's height."""
        total = sum(self.splitter.sizes())
        if total > 0:
            self.splitter.setSizes([int(total * 0.15), int(total * 0.61), int(total * 0.24)])
        height = sum(self.vertical_splitter.sizes())
        if height > 0:
            self.vertical_splitter.setSizes([int(height * 0.68), int(height * 0.32)])

    # --- prompts (tests replace these) --------------------------------------------------------

    def ask_text(self, title: str, label: str, default: str = "") -> str | None:
        text, ok = QInputDialog.getText(self, title, label, text=default)
        return text.strip() if ok and text.strip() else None

    def confirm(self, question: str) -> bool:
        answer = QMessageBox.question(self, "Pattern editor", question)
        return answer == QMessageBox.StandardButton.Yes

    def ask_folder(self, title: str) -> Path | None:
        path = QFileDialog.getExistingDirectory(self, title)
        return Path(path) if path else None

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
        self.reload_library(select=self._station_active())

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
        """The sets on disk; opens `select`, else the one open before, else the first."""
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
        if self.draft is not None and not self._on_disk():
            self._drop_unsaved_new(self.draft.current.name)
        self.open_set(name)

    def _drop_unsaved_new(self, name: str) -> None:
        """A New set never saved leaves the list when another set is opened."""
        if name in self.files and not self.files[name].exists():
            row = list(self.files).index(name)
            del self.files[name]
            self.sets_list.blockSignals(True)
            self.sets_list.takeItem(row)
            self.sets_list.blockSignals(False)

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
        self.checks.clear()
        self._show_variants()
        self._say("")

    def new_set(self) -> None:
        """A new, empty set in the editor only: its file is written by the first save, once
        it has a variant (taught, or made with New variant). No placeholder variant."""
        name = self.ask_text("New pattern set", "Name (becomes the file name):", "new_product")
        if not name or not self._unsaved_ok():
            return
        try:
            path = lib.set_path(self.folder, name)
            if path.exists() or path.stem in self.files:
                raise PatternError(f"{path}: a pattern set with that name already exists")
        except PatternError as exc:
            self._say(str(exc), ok=False)
            return
        if self.draft is not None and not self._on_disk():
            self._drop_unsaved_new(self.draft.current.name)
        empty = PatternSet(path.stem, {}, path)
        self.draft = PatternDraft(empty)
        self.load_problems = []
        self.checks.clear()
        self.files[path.stem] = path
        self.sets_list.blockSignals(True)
        self.sets_list.addItem(path.stem)
        self.sets_list.setCurrentRow(self.sets_list.count() - 1)
        self.sets_list.blockSignals(False)
        self.variant = None
        self._show_variants()
        self._say(f"New pattern set {path.stem!r}: teach a variant (or press New variant), then save; "
                  "the file is written by the first save.")

    def rename_set(self) -> None:
        if self.draft is None or not self._on_disk() or not self._unsaved_ok():
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
        if self.draft is None or not self._on_disk():
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
        if not name:
            return
        if not self.files[name].exists():  # a New set never saved: nothing on disk to delete
            self.draft = None
            self.reload_library()
            return
        if not self.confirm(f"Delete pattern set {name!r}? The file is kept as a backup."):
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
        changed = wanted != self.variant
        self.variant = wanted
        self._show_slots()
        if changed:
            self.canvas.fit()  # another variant: start from the whole frame, not the old zoom
        self._show_check()

    def _variant_chosen(self, name: str) -> None:
        if name and name != self.variant:
            self.variant = name
            self._show_slots()
            self.canvas.fit()
            self._show_check()

    def select_variant(self, name: str) -> None:
        self._show_variants(select=name)

    def _edit(self, fn: Callable[[], object], select: str | None = None) -> bool:
        """Run one draft edit, then show the result; a refused edit says why."""
        if self.draft is None:
            return False
        before = self.draft.undo_text()
        try:
            fn()
        except PatternError as exc:
            self._say(str(exc), ok=False)
            return False
        self._show_variants(select)
        if self.draft.undo_text() != before or self.draft.can_undo():
            self._said_edit()
        return True

    def _said_edit(self) -> None:
        """The status line names the edit just made (every route), with its undo."""
        if self.draft is not None and self.draft.can_undo():
            self._say(f"Changed: {self.draft.undo_text()} (Ctrl+Z undoes it)")

    def new_variant(self) -> None:
        name = self.ask_text("New variant", "Variant name:", "variant")
        if name and self.draft:
            made = self.draft.add_variant(name)
            self._show_variants(made)
            self._said_edit()

    def rename_variant(self) -> None:
        if not (self.draft and self.variant):
            return
        name = self.ask_text("Rename variant", "New name:", self.variant)
        if name:
            old = self.variant
            if self._edit(lambda: self.draft.rename_variant(old, name), select=name) and old in self.checks:
                self.checks[name] = self.checks.pop(old)

    def duplicate_variant(self) -> None:
        if self.draft and self.variant:
            made = self.draft.duplicate_variant(self.variant)
            self._show_variants(made)
            self._said_edit()

    def delete_variant(self) -> None:
        if self.draft and self.variant and self.confirm(f"Delete variant {self.variant!r}?"):
            name = self.variant
            self.checks.pop(name, None)
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
        self._stale_try()
        self._validate()

    def _stale_try(self) -> None:
        """A Try result belongs to one frame, variant and slot layout: any change clears it."""
        self.try_label.setText("")
        self.rois.colour_by_match(None)

    def select_slot(self, row: int, which: str = "outer") -> None:
        """Slot `row` selected, its `which` box editable (canvas, table and toggle agree)."""
        if row < 0 or row >= len(self._slots()):
            row = -1
        self.rois.select(row, which)
        self.canvas.set_box(which)
        if row >= 0 and self.table.selected_row() != row:
            with QSignalBlocker(self.table):  # selecting the row is not a choice to echo back
                self.table.selectRow(row)

    def _canvas_selected(self, row: int, which: str) -> None:
        """A click on a box: it is selected and the canvas has the keyboard (arrows nudge it)."""
        self.select_slot(row, which)
        self.graphics.setFocus(Qt.FocusReason.MouseFocusReason)

    def _commit_slot(self, row: int, new: Slot, what: str | None = None) -> None:
        """The one route of a slot change into the draft: undo step, Problems, status line."""
        old = self._slots()[row]
        if new == old:
            return
        self.draft.set_slot(self.variant, row, new, what=what or describe_slot_change(row, old, new, self.class_names))
        self.rois.place(row, new)
        self.table.show_slot(row, new)
        self._mark_check_stale()
        self._stale_try()
        self._validate()
        self._said_edit()

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
        self._commit_slot(row, moved, f"{verb} the {which} box of slot {row} by {dx}, {dy} px")

    def add_slot(self) -> None:
        if self.draft and self.variant:
            self._mark_check_stale()
            self._edit(lambda: self.draft.add_slot(self.variant))

    def remove_slot(self) -> None:
        row = self.table.selected_row()
        if self.draft and self.variant and row >= 0:
            self._mark_check_stale()
            self._edit(lambda: self.draft.remove_slot(self.variant, row))

    def _table_edited(self, row: int, slot: Slot) -> None:
        if self.draft and self.variant and row < len(self._slots()):
            self._commit_slot(row, slot)

    def _roi_moving(self, row: int, inner, outer) -> None:
        self.table.show_boxes(row, inner, outer)  # live feedback only; committed when released

    def _roi_moved(self, row: int, inner, outer) -> None:
        if not (self.draft and self.variant) or row >= len(self._slots()):
            return
        old = self._slots()[row]
        self._commit_slot(row, dataclasses.replace(old, inner=inner, outer=outer),
                          f"drag slot {row} of {self.variant!r}")

    def undo(self) -> None:
        if self.draft is None:
            return
        what = self.draft.undo()
        if what:
            self._mark_check_stale()
            self._show_variants()
            self._say(f"Undone: {what}")

    def redo(self) -> None:
        if self.draft is None:
            return
        what = self.draft.redo()
        if what:
            self._mark_check_stale()
            self._show_variants()
            self._say(f"Redone: {what}")

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
        if self.draft is None or self.variant is None:
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
        missing = result.missing(wrong_too=False, class_names=self.class_names)
        if missing:
            text += f"; missing {', '.join(missing)}"
        text += f" ({len(self.detections)} detections on {self.image_source})"
        if best.variant != self.variant:
            text += f". The whole set would pick variant {best.summary()}."
        self.try_label.setStyleSheet(OK_STYLE if result.ok else ERROR_STYLE)
        self.try_label.setText(text)
        self.rois.colour_by_match([s.matched for s in result.slots])
        return result

    def _failed_checks(self) -> list[str]:
        """Taught variants whose check (run again now if an edit came since) failed frames."""
        failed = []
        for variant in list(self.checks):
            if self.draft is None or variant not in self.draft.current.variants:
                self.checks.pop(variant)
                continue
            check, frames, stale = self.checks[variant]
            if stale:
                check = self._run_check(variant, frames)
            if check.frames and not check.ok:
                failed.append(f"{variant!r} {check.summary()}")
        return failed

    def save(self) -> bool:
        """Validate and save atomically (backup kept); refuses with the first reason. A taught
        variant that fails good frames is saved only when the engineer confirms it."""
        if self.draft is None:
            return False
        problems = self.problems()
        if problems:
            self._say(f"Not saved: {problems[0]}", ok=False)
            return False
        failed = self._failed_checks()
        if failed and not self.confirm(
                "The taught variant does not pass all the good frames at hand:\n\n" + "\n".join(failed)
                + "\n\nGood parts like these would be rejected. Save anyway?"):
            self._say("Not saved: the taught variant fails good frames (see the check).", ok=False)
            return False
        new_file = not self._on_disk()
        before = None if new_file else self.draft.saved
        path = self.files.get(self.draft.current.name) or self.draft.current.path
        try:
            done = self.library.save(self.draft.current, before, path, self.num_classes)
        except StationError as exc:
            self._say(f"Not saved: {exc}", ok=False)
            return False
        self.draft.mark_saved(done.saved)
        self._report(done)
        self._validate()
        if new_file:
            self.library_changed.emit()
        self.saved.emit(done.saved.name)
        return True

    # --- teaching ------------------------------------------------------------------------------

    def _teach_into(self, slots, what: str) -> str | None:
        if self.draft is None:
            self._say("Create or choose a pattern set first.", ok=False)
            return None
        name = self.ask_text("Taught variant", "Name of the new variant:", "taught")
        if not name:
            return None
        if name in self.draft.variant_names and not self.confirm(f"Replace the slots of variant {name!r}?"):
            return None
        self.draft.replace_variant(name, slots, what=what)
        self._show_variants(name)
        return name

    def _good_frames_at_hand(self, exclude: set[str]) -> Frames:
        """Good frames to check a taught variant on: recent cycles judged OK, today's log."""
        frames: Frames = []
        seen_cycles = set()
        for r in self.history():
            if r.verdict == Verdict.OK and r.image_size is not None and r.detections:
                seen_cycles.add(r.cycle_id)
                if f"cycle {r.cycle_id}" not in exclude:
                    frames.append((f"cycle {r.cycle_id}", normalise_detections(r.detections, *r.image_size)))
        recorder = self.station.recorder if self.station is not None else None
        path = recorder.log.current_path if recorder is not None else None
        if path is not None:
            try:
                rows = read_log(path)
            except StationError as exc:
                self._say(f"today's log not read for the check: {exc}", ok=False)
                rows = []
            skip = seen_cycles | {name.removeprefix("cycle ") for name in exclude}
            frames += logged_good_frames(rows, self._size(), LOGGED_FRAMES, exclude=skip)
        return frames

    def _teach(self, frames: Frames, size: tuple[int, int], what: str) -> None:
        """Teach a variant from `frames` (one routine: core teach_and_check), check it on every
        good frame at hand, show the pass rate and the failing slots."""
        if self.draft is None:
            self._say("Create or choose a pattern set first.", ok=False)
            return
        width, height = size
        others = self._good_frames_at_hand({name for name, _ in frames})
        try:
            taught, check = teach_and_check(
                frames, others=others, margin=self.teach_panel.margin_fraction(), aspect=width / height,
                width=width, class_names=self.class_names or {}, min_scores=self.draft.current.min_scores)
        except PatternError as exc:
            self._say(str(exc), ok=False)
            return
        name = self._teach_into(taught.slots, what)
        if name is None:
            return
        self.checks[name] = (check, frames + others, False)
        self._show_check()
        notes = [*taught.warnings, *taught.notes]
        text = f"{what}: variant {name!r} with {len(taught.slots)} slots (not saved yet)."
        if notes:
            self.status.setStyleSheet(WARN_STYLE)
            self.status.setText(text + " " + " ".join(notes))
        else:
            self._say(text)

    def _run_check(self, variant: str, frames: Frames) -> TeachCheck:
        check = check_variant(self.draft.slots(variant), frames, self.draft.current.min_scores)
        self.checks[variant] = (check, frames, False)
        return check

    def _mark_check_stale(self) -> None:
        if self.variant in self.checks:
            check, frames, _stale = self.checks[self.variant]
            self.checks[self.variant] = (check, frames, True)
            self._show_check()

    def _show_check(self) -> None:
        entry = self.checks.get(self.variant) if self.variant else None
        if entry is None:
            self.check_label.setStyleSheet("")
            self.check_label.setText("Teach a variant: it is checked on every good frame at hand "
                                     "(the frames used, recent cycles, today's log).")
            return
        check, _frames, stale = entry
        text = f"Variant {self.variant!r} {check.summary()}."
        if stale:
            text += " (Edited since: press Check again; saving checks again.)"
        self.check_label.setStyleSheet(OK_STYLE if check.ok and not stale else WARN_STYLE if check.ok else ERROR_STYLE)
        self.check_label.setText(text)

    def check_again(self) -> TeachCheck | None:
        """The current variant on its check frames (taught variants), else on the good frames at hand."""
        if self.draft is None or self.variant is None:
            return None
        entry = self.checks.get(self.variant)
        frames = entry[1] if entry is not None else self._good_frames_at_hand(set())
        check = self._run_check(self.variant, frames)
        self._show_check()
        return check

    def teach_from_frame(self) -> None:
        if not self.detections:
            self._say("No detections on the shown frame to teach from.", ok=False)
            return
        w, h = self._size()
        self._teach([(self.image_source, normalise_detections(self.detections, w, h))], (w, h),
                    f"taught from {self.image_source}")

    def add_frame(self) -> None:
        """Collect the shown frame for teaching from several frames added one by one."""
        if not self.detections:
            self._say("No detections on the shown frame to add.", ok=False)
            return
        if any(name == self.image_source for name, _b, _s in self.collected):
            self._say(f"{self.image_source} is already added.", ok=False)
            return
        w, h = self._size()
        self.collected.append((self.image_source, normalise_detections(self.detections, w, h), (w, h)))
        self.teach_panel.set_added(len(self.collected))
        self._say(f"Added {self.image_source} ({len(self.collected)} frames to teach from).")

    def clear_added(self) -> None:
        self.collected.clear()
        self.teach_panel.set_added(0)

    def teach_from_added(self) -> None:
        if not self.collected:
            self._say("Add frames first (Add this frame).", ok=False)
            return
        frames = [(name, boxes) for name, boxes, _size in self.collected]
        self._teach(frames, self.collected[0][2], f"taught from {len(frames)} added frames")

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
        frames = [(f"cycle {r.cycle_id}", normalise_detections(r.detections, *r.image_size)) for r in results]
        self._teach(frames, results[-1].image_size, f"taught from the last {len(results)} cycles")

    def _folder_images(self, title: str) -> list[Path] | None:
        if self.folder_detections is None:
            self._say("No station: the model is needed to find the parts on a folder's images.", ok=False)
            return None
        if self.folder_detections.running:
            self._say("Still detecting on the last folder …", ok=False)
            return None
        folder = self.ask_folder(title)
        if folder is None:
            return None
        paths = list_images(folder)
        if not paths:
            self._say(f"{folder}: no images in the folder.", ok=False)
            return None
        self.folder_detections.progress.connect(self._show_progress)
        return paths

    def _show_progress(self, done: int, total: int) -> None:
        self.image_label.setText(f"detecting on the folder: {done}/{total} …")
        if done == total:
            self.folder_detections.progress.disconnect(self._show_progress)
            self.image_label.setText(f"{self.image_source}: {len(self.detections)} detections")

    def choose_teach_folder(self) -> None:
        paths = self._folder_images("Teach from a folder of good parts")
        if paths:
            self.folder_detections.run(paths, self._teach_from_found)

    def _teach_from_found(self, found, problems: list[str]) -> None:
        frames = [(name, normalise_detections(dets, *size)) for name, size, dets in found if dets]
        if not frames:
            self._say("No detections on the folder's images. " + "; ".join(problems[:3]), ok=False)
            return
        self._teach(frames, found[0][1], f"taught from {len(frames)} images of a folder")
        if problems:
            self.status.setText(f"{self.status.text()} Not used: {'; '.join(problems[:3])}")

    def choose_check_folder(self) -> None:
        if self.draft is None or self.variant is None:
            return
        paths = self._folder_images("Check on a folder of good parts")
        if paths:
            self.folder_detections.run(paths, self._check_found)

    def _check_found(self, found, problems: list[str]) -> None:
        if self.draft is None or self.variant is None:
            return
        frames = [(f"file {name}", normalise_detections(dets, *size)) for name, size, dets in found]
        entry = self.checks.get(self.variant)
        known = {name for name, _ in entry[1]} if entry is not None else set()
        base = entry[1] if entry is not None else []
        self._run_check(self.variant, base + [f for f in frames if f[0] not in known])
        self._show_check()
        if problems:
            self._say(f"Not checked: {'; '.join(problems[:3])}", ok=False)

    # --- image ---------------------------------------------------------------------------------

    def _size(self) -> tuple[int, int]:
        return int(self.image.shape[1]), int(self.image.shape[0])

    def _show_image(self, image: np.ndarray, source: str, detections, is_file: bool = False) -> None:
        self.image = np.ascontiguousarray(image)
        self.image_source = source
        self.image_is_file = is_file
        self.detections = list(detections)
        self.canvas.set_image(self.image)
        w, h = self._size()
        self.detections_overlay.set_class_colors(())
        self.detections_overlay.show(self.detections, None, w, h)
        self.teach_panel.set_frame_width(w)
        self.image_label.setText(f"{source}: {len(self.detections)} detections")
        self.rois.clear()  # size may have changed: rebuild at the new scale
        self._show_slots()

    def use_last_cycle(self, why: str = "") -> None:
        """The newest cycle's frame and detections (the editor's first picture, and the
        fallback when no live frame can be had)."""
        result = self.station.last_result if self.station is not None else None
        if result is not None and result.frame is not None:
            self._show_image(result.frame.rgb, f"cycle {result.cycle_id}", result.detections)
            if why:
                self.image_label.setText(f"{self.image_label.text()} (no live frame: {why})")
        else:
            self._show_image(self.image, "no frame yet", ())
            if why:
                self.image_label.setText(f"no frame: {why}")

    def use_current_frame(self) -> None:
        """A fresh frame from the camera, as the live view sees it, with the model's
        detections (grabbed and detected on the station's inference thread)."""
        if self.station is None:
            self.use_last_cycle()
            return
        self.image_label.setText("current frame: grabbing and detecting …")
        try:
            future = self.station.detect_live_frame()
        except RuntimeError as exc:  # the station stopped (its threads are gone)
            self.use_last_cycle(str(exc) or "the station is stopped")
            return
        future.add_done_callback(lambda f: self._image_loaded.emit("current frame", f))

    def refresh_frame(self) -> None:
        """On opening the editor window: the live frame, unless the engineer opened a file."""
        if not self.image_is_file:
            self.use_current_frame()

    def choose_image(self) -> None:
        pattern = " ".join(f"*{s}" for s in IMAGE_SUFFIXES)
        path, _ = QFileDialog.getOpenFileName(self, "Choose an image", "", f"Images ({pattern})")
        if path:
            self.open_image(Path(path))

    def open_image(self, path: Path) -> None:
        """Show an image file with the station model's detections, drawn on the canvas.

        Decoding and inference run on the station's inference thread; the result comes
        back through a queued signal, so the window never stalls on a 5 MP file.
        """
        if self.station is None:  # no station, no model: just the picture
            try:
                self._show_image(load_image(path), path.name, (), is_file=True)
            except StationError as exc:
                self._say(str(exc), ok=False)
            return
        self.image_label.setText(f"{path.name}: loading and detecting ...")
        future = self.station.detect_file(path)
        future.add_done_callback(lambda f: self._image_loaded.emit(path, f))

    def _on_image_loaded(self, source, future) -> None:
        live = source == "current frame"
        name = source if live else Path(source).name
        try:
            image, detections = future.result()
        except Exception as exc:  # a bad file or a failed model run: say so, keep the editor
            why = str(exc) if isinstance(exc, StationError) else f"{type(exc).__name__}: {exc}"
            if live:
                self.use_last_cycle(why)
            else:
                self._say(f"{name}: {why}", ok=False)
                self.image_label.setText(f"{name}: not loaded")
            return
        self._show_image(image, "the current frame" if live else name, detections, is_file=not live)
