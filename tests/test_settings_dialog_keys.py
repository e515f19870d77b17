"""The settings dialog at the keyboard: typed numbers are kept and judged (never cut),
mnemonics reach the buttons, Enter is OK and Escape closes. Real widgets."""

from __future__ import annotations

import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QDialogButtonBox

from inspection_station.core.settings.model import Settings, load_settings
from inspection_station.gui.engineer.settings_dialog import SettingsDialog
from tests.known_station import signed_in_actions


@pytest.fixture
def dialog(qtbot, tmp_path):
    d = SettingsDialog(Settings(), None, actions=signed_in_actions(Settings(), tmp_path, audit_path=tmp_path / "a.jsonl"))
    qtbot.addWidget(d)
    d.show()
    qtbot.waitUntil(d.isVisible)
    return d


def test_an_out_of_range_number_is_kept_shown_as_wrong_and_refused_with_the_range(qtbot, dialog, tmp_path):
    dialog.tabs.setCurrentIndex(1)  # Model
    box = dialog.model_form.widgets["confidence"]
    box.setFocus()
    box.selectAll()
    qtbot.keyClicks(box, "1.7")
    assert box.value() == pytest.approx(1.7)  # not cut to "1."
    assert box.property("invalid") is True and "0 … 1" in box.toolTip()
    assert dialog.model_form.out_of_range() == ["Confidence threshold: allowed: 0 … 1"]
    assert not dialog.apply()
    assert "Confidence threshold" in dialog.message.text() and "at most 1" in dialog.message.text()
    assert not (tmp_path / "settings.toml").exists()
    box.setValue(0.7)
    assert box.property("invalid") is False


def test_mnemonics_enter_and_escape(qtbot, dialog, tmp_path):
    texts = {b.text() for b in dialog.buttons.buttons()}
    assert {"&OK", "&Apply", "&Close"} <= texts
    assert dialog.buttons.button(QDialogButtonBox.StandardButton.Ok).isDefault()
    dialog.model_form.widgets["confidence"].setValue(0.55)
    dialog.activateWindow()
    qtbot.waitUntil(dialog.isActiveWindow)
    qtbot.keyClick(dialog.model_form.widgets["confidence"], Qt.Key.Key_A, Qt.KeyboardModifier.AltModifier)
    qtbot.waitUntil(lambda: (tmp_path / "settings.toml").exists())  # Alt+A is Apply, not an "a"
    assert dialog.isVisible()
    assert load_settings(tmp_path / "settings.toml").settings.model.confidence == 0.55
    qtbot.keyClick(dialog, Qt.Key.Key_Escape)
    qtbot.waitUntil(lambda: not dialog.isVisible())
