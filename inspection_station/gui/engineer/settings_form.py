"""Form widgets generated from a settings section's dataclass fields.

Each field's type and metadata pick the widget (choices -> combo box, bool -> check
box, min/max -> spin box range), so a new settings key needs one label here, not a
hand-written widget. Values are read back as plain Python values; validation stays
with `Settings.replace` and `core.settings_check`.
"""

from __future__ import annotations

import dataclasses
import typing
from dataclasses import dataclass
from typing import Any

from PySide6.QtCore import Signal
from PySide6.QtGui import QValidator
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDoubleSpinBox,
    QFileDialog,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPlainTextEdit,
    QPushButton,
    QSpinBox,
    QWidget,
)

_INT_LIMIT = 2**31 - 1
_FLOAT_LIMIT = 1e12


@dataclass(frozen=True)
class FieldSpec:
    """How one key is shown: a human label and, where the type is not enough, a kind."""

    key: str
    label: str
    kind: str = ""  # "" = from the type; "file", "dir", "path", "multiline", "editable_choice"
    file_filter: str = ""
    choices: tuple[str, ...] = ()  # suggestions for "editable_choice"
    decimals: int = 2
    suffix: str = ""
    tooltip: str = ""
    # (threshold, text): a number at or below the threshold means something, said as text
    # ("camera default" for a gain of -1), not as a number with a unit
    special: tuple[float, str] | None = None


class _Special:
    """A spin box showing `text` (and no unit) for a value at or below `threshold`; the
    unit is part of the number's text here (Qt's suffix would follow the words too)."""

    def _init_special(self, threshold: float, text: str, suffix: str) -> None:
        self._threshold, self._text, self._unit = threshold, text, suffix

    def textFromValue(self, value) -> str:  # noqa: N802 (Qt)
        return self._text if value <= self._threshold else super().textFromValue(value) + self._unit

    def _number_text(self, text: str) -> str:
        text = text.strip()
        return text[: -len(self._unit.strip())].strip() if self._unit.strip() and text.endswith(self._unit.strip()) else text

    def valueFromText(self, text: str):  # noqa: N802 (Qt)
        if text.strip() == self._text:
            return self._threshold
        return super().valueFromText(self._number_text(text))

    def validate(self, text: str, pos: int):
        if text.strip() and self._text.startswith(text.strip()):
            state = QValidator.State.Acceptable if text.strip() == self._text else QValidator.State.Intermediate
            return state, text, pos
        state, _fixed, _pos = super().validate(self._number_text(text), pos)
        return state, text, pos


class SpecialDoubleSpinBox(_Special, QDoubleSpinBox):
    pass


class SpecialSpinBox(_Special, QSpinBox):
    pass


def _number(value: float) -> str:
    """1000000 -> '1 000 000', 0.05 -> '0.05': no '1e+06' for an engineer to decode."""
    if float(value).is_integer():
        return f"{int(value):,}".replace(",", "\u2009")  # thin space groups
    return f"{value:g}"


def allowed_range(lo, hi) -> str:
    """What a number field accepts, said as the engineer reads it."""
    if lo is not None and hi is not None:
        return f"allowed: {_number(lo)} … {_number(hi)}"
    if lo is not None:
        return f"allowed: at least {_number(lo)}"
    if hi is not None:
        return f"allowed: at most {_number(hi)}"
    return ""


class PathEdit(QWidget):
    """A line edit with a "Browse…" button opening a file or folder picker."""

    def __init__(self, mode: str, file_filter: str = "", parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.mode = mode  # "file", "dir" or "path" (file or folder: offers a file picker)
        self.file_filter = file_filter
        self.edit = QLineEdit(self)
        self.browse = QPushButton("Browse…", self)
        self.browse.clicked.connect(self._pick)
        layout = QHBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.edit, 1)
        layout.addWidget(self.browse)

    def text(self) -> str:
        return self.edit.text().strip()

    def setText(self, text: str) -> None:  # noqa: N802 (Qt naming, so it reads like a QLineEdit)
        self.edit.setText(text)

    def _pick(self) -> None:
        if self.mode == "dir":
            chosen = QFileDialog.getExistingDirectory(self, "Choose a folder", self.text())
        else:
            chosen, _ = QFileDialog.getOpenFileName(self, "Choose a file", self.text(), self.file_filter)
        if chosen:
            self.edit.setText(chosen)


class SectionForm(QWidget):
    """The fields of one settings section, in the order of `specs`."""

    changed = Signal()

    def __init__(self, section: str, value: Any, specs: list[FieldSpec], parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.section = section
        self.cls = type(value)
        self.specs = {s.key: s for s in specs}
        self._fields = {f.name: f for f in dataclasses.fields(self.cls)}
        self._hints = typing.get_type_hints(self.cls)
        self.widgets: dict[str, QWidget] = {}
        self._rows: dict[str, QWidget] = {}
        self.layout_ = QFormLayout(self)
        for spec in specs:
            widget = self._make(spec)
            widget.setObjectName(f"{section}.{spec.key}")  # tests and error focus find fields by key
            if spec.tooltip and not widget.toolTip():
                widget.setToolTip(spec.tooltip)
            self.widgets[spec.key] = widget
            self._rows[spec.key] = self._with_hint(widget)
            self.layout_.addRow(spec.label, self._rows[spec.key])
        self.set_values(value)

    def mark_from_recipe(self, keys: set[str], recipe: str) -> None:
        """Say which values the active recipe sets (an Apply of them edits the recipe's file)."""
        for key, row in self._rows.items():
            label = self.layout_.labelForField(row)
            if key in keys and label is not None:
                label.setText(f"{self.label(key)}  [recipe {recipe}]")
                label.setObjectName("recipe_value")
                label.setToolTip(f"Set by the recipe {recipe}: an Apply of this value edits the recipe "
                                 "(its file beside the pattern set), not the station-wide settings")

    # --- building -------------------------------------------------------------------

    def _make(self, spec: FieldSpec) -> QWidget:
        f = self._fields[spec.key]
        typ = self._hints[spec.key]
        meta = f.metadata
        if spec.kind in ("file", "dir", "path"):
            w = PathEdit(spec.kind, spec.file_filter, self)
            w.edit.textChanged.connect(self.changed)
            return w
        if spec.kind == "multiline":
            w = QPlainTextEdit(self)
            w.setMaximumHeight(90)
            w.textChanged.connect(self.changed)
            return w
        if spec.kind == "editable_choice":
            w = QComboBox(self)
            w.setEditable(True)
            w.addItems(list(spec.choices))
            w.currentTextChanged.connect(self.changed)
            return w
        if meta.get("choices"):
            w = QComboBox(self)
            for choice in meta["choices"]:
                w.addItem(str(choice) if choice != "" else "(camera default)", choice)
            w.currentIndexChanged.connect(self.changed)
            return w
        if typ is bool:
            w = QCheckBox(self)
            w.toggled.connect(self.changed)
            return w
        if typ in (int, float):
            # The box takes any number: a range in the box would cut "1.7" to "1." without a
            # word. Out of range is shown at once (red frame, the allowed range) and refused,
            # located, by Settings.replace when applied.
            if spec.special is not None:
                w = SpecialSpinBox(self) if typ is int else SpecialDoubleSpinBox(self)
                w._init_special(spec.special[0], spec.special[1], spec.suffix)
            else:
                w = QSpinBox(self) if typ is int else QDoubleSpinBox(self)
            if typ is int:
                w.setRange(-_INT_LIMIT, _INT_LIMIT)
            else:
                w.setDecimals(spec.decimals)
                w.setRange(-_FLOAT_LIMIT, _FLOAT_LIMIT)
            if spec.special is None:
                w.setSuffix(spec.suffix)
            lo, hi = meta.get("min"), meta.get("max")
            allowed = allowed_range(lo, hi)
            w.setToolTip("\n".join(t for t in (spec.tooltip, allowed) if t))
            w.setProperty("allowed", allowed)
            w.valueChanged.connect(lambda value, w=w, lo=lo, hi=hi: self._mark_range(w, value, lo, hi))
            w.valueChanged.connect(self.changed)
            return w
        w = QLineEdit(self)  # str, and list[str] as comma-separated text
        w.textChanged.connect(self.changed)
        return w

    def _with_hint(self, widget: QWidget) -> QWidget:
        """A number field with its allowed range written beside it."""
        allowed = widget.property("allowed")
        if not allowed:
            return widget
        row = QWidget(self)
        layout = QHBoxLayout(row)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(widget, 1)
        hint = QLabel(allowed.removeprefix("allowed: "), row)
        hint.setObjectName("range_hint")
        hint.setStyleSheet("color: #a0a0a0;")
        layout.addWidget(hint)
        return row

    def _mark_range(self, widget: QWidget, value: float, lo, hi) -> None:
        bad = (lo is not None and value < lo) or (hi is not None and value > hi)
        if bool(widget.property("invalid")) != bad:
            widget.setProperty("invalid", bad)
            widget.style().unpolish(widget)  # re-read the [invalid="true"] style rule
            widget.style().polish(widget)
        widget.setStatusTip(f"out of range: {widget.property('allowed')}" if bad else "")

    def out_of_range(self) -> list[str]:
        """'Label: allowed 0 … 1' for every number field outside its range now."""
        return [f"{self.label(k)}: {w.property('allowed')}" for k, w in self.widgets.items() if w.property("invalid")]

    # --- values ---------------------------------------------------------------------

    def set_values(self, value: Any) -> None:
        for key, w in self.widgets.items():
            v = getattr(value, key)
            if isinstance(w, PathEdit):
                w.setText(str(v))
            elif isinstance(w, QPlainTextEdit):
                w.setPlainText(str(v))
            elif isinstance(w, QComboBox) and w.isEditable():
                w.setCurrentText(str(v))
            elif isinstance(w, QComboBox):
                index = w.findData(v)
                w.setCurrentIndex(max(index, 0))
            elif isinstance(w, QCheckBox):
                w.setChecked(bool(v))
            elif isinstance(w, QSpinBox | QDoubleSpinBox):
                w.setValue(v)
            elif isinstance(v, list):
                w.setText(", ".join(v))
            else:
                w.setText(str(v))

    def values(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for key, w in self.widgets.items():
            if isinstance(w, PathEdit):
                out[key] = w.text()
            elif isinstance(w, QPlainTextEdit):
                out[key] = w.toPlainText()
            elif isinstance(w, QComboBox) and w.isEditable():
                out[key] = w.currentText().strip()
            elif isinstance(w, QComboBox):
                out[key] = w.currentData()
            elif isinstance(w, QCheckBox):
                out[key] = w.isChecked()
            elif isinstance(w, QSpinBox | QDoubleSpinBox):
                out[key] = w.value()
            elif typing.get_origin(self._hints[key]) is list:
                out[key] = [part.strip() for part in w.text().split(",") if part.strip()]
            else:
                out[key] = w.text()
        return out

    def label(self, key: str) -> str:
        return self.specs[key].label if key in self.specs else key
