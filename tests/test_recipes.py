"""Recipes (issue 22): files next to the patterns, selected by the product switch action.

Real parts: Basler's emulator (its ExposureTimeAbs node read back), a real onnxruntime
session, real recipe and settings files, the real audit trail and CSV log."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from inspection_station.core.actions import StationActions
from inspection_station.core.cycle import Verdict
from inspection_station.core.recipes.files import (
    parse_recipe,
    read_recipe,
    recipe_path,
    save_recipe,
)
from inspection_station.core.recipes.model import (
    Recipe,
    RecipeError,
    recipe_difference,
    recipe_from_settings,
    settings_in_force,
)
from inspection_station.core.results.csv_log import read_log
from inspection_station.core.settings.model import Settings, load_settings, save_settings
from inspection_station.core.station import Station
from tests.known_station import signed_in_actions, station_settings
from tests.test_actions import WAIT_S, audit_lines

NOK_RECIPE = """\
# the NOK product: a tighter model threshold and a longer exposure
[recipe]
version = 4  # bumped by the station
description = "product with an extra screw"

[model]
confidence = 0.55   # the dark housing scores lower

[camera]
exposure_us = 12000.0
"""


def exposure(station: Station) -> float:
    return station.camera.call_in_worker(lambda cam: cam.instant_camera.ExposureTimeAbs.Value).result(WAIT_S)


@pytest.fixture
def line(tmp_path):
    settings = station_settings(tmp_path)
    (tmp_path / "patterns" / "product_nok.recipe.toml").write_text(NOK_RECIPE)
    settings_file = tmp_path / "settings.toml"
    save_settings(settings, settings_file)
    station = Station(load_settings(settings_file).settings)
    actions = signed_in_actions(station.settings, tmp_path, station=station, role="operator",
                                settings_path=settings_file)
    station.start()
    assert station.wait_ready(WAIT_S)
    yield station, actions, tmp_path
    station.stop()


def test_a_recipe_round_trip_keeps_the_comments_and_counts_the_version_up(tmp_path):
    path = tmp_path / "p.recipe.toml"
    path.write_text(NOK_RECIPE)
    recipe = read_recipe(path)
    assert (recipe.name, recipe.version, recipe.value("model.confidence")) == ("p", "4", 0.55)
    saved = save_recipe(recipe.with_values({"model.confidence": 0.6, "camera.gain": 2.0}))
    text = path.read_text()
    for comment in ("# the NOK product", "# bumped by the station", "# the dark housing scores lower"):
        assert comment in text
    assert (saved.version, saved.value("model.confidence"), saved.value("camera.gain")) == ("5", 0.6, 2.0)
    assert read_recipe(path) == saved


@pytest.mark.parametrize("text, where, says", [
    ("[recipe]\nversion = 1\n[model]\nconfidence = [1,\n", ":4:", "not valid TOML"),
    ("[recipe]\nversion = 1\n[model]\nconfidence = 3.0\n", ":4:", "at most 1.0"),
    ("[recipe]\nversion = 1\n[station]\nname = 'x'\n", ":4:", "station-wide, not a recipe setting"),
    ("[recipe]\nversion = 1\n[camera]\nserial = 'x'\n", ":4:", "[camera] serial is station-wide"),
    ("[recipe]\nversion = 0\n", ":2:", "version: expected a whole number from 1"),
])
def test_a_broken_recipe_file_is_a_located_error(tmp_path, text, where, says):
    path = tmp_path / "p.recipe.toml"
    with pytest.raises(RecipeError) as err:
        parse_recipe(text, "p", path)
    assert f"{path}{where}" in str(err.value) and says in str(err.value)


def test_settings_in_force_are_the_station_wide_ones_with_the_recipe_over_them():
    wide = Settings().replace("model", confidence=0.25).replace("station", name="s9")
    recipe = Recipe("p", "1", overrides={"model": {"confidence": 0.5}, "camera": {"gain": 3.0}})
    in_force = settings_in_force(wide, recipe)
    assert (in_force.model.confidence, in_force.camera.gain, in_force.station.name) == (0.5, 3.0, "s9")
    assert settings_in_force(wide, Recipe("plain")) == wide  # a set without a recipe file


def test_the_difference_between_two_recipes_names_each_key():
    wide = Settings()
    a = Recipe("a", "1", overrides={"model": {"confidence": 0.5}, "camera": {"gain": 3.0}})
    b = Recipe("b", "2", description="other", overrides={"model": {"confidence": 0.7}})
    diff = {d.key: (d.left, d.right) for d in recipe_difference(a, b, wide)}
    assert diff == {"recipe.description": ("", "other"), "model.confidence": (0.5, 0.7),
                    "camera.gain": (3.0, wide.camera.gain)}
    full = recipe_from_settings("c", wide)
    assert full.value("camera.exposure_us") == wide.camera.exposure_us and "station.name" not in full.keys


def test_selecting_a_recipe_changes_threshold_and_exposure_audited_once_and_named_in_the_row(line):
    station, actions, tmp = line
    before = exposure(station)
    outcome = actions.select_product(actions.gui_actor(), "product_nok")
    assert outcome.ok, outcome.message
    assert "recipe version 4" in outcome.message
    assert station.detector.settings.confidence == 0.55
    assert exposure(station) == 12000.0 != before
    switches = audit_lines(tmp / "audit.jsonl", "product")
    assert [(s["old"], s["new"]) for s in switches] == [("product_ok", "product_nok v4")]
    # the settings file holds the product, never the recipe's values
    saved = load_settings(tmp / "settings.toml").settings
    assert saved.patterns.active == "product_nok" and saved.model.confidence == 0.25
    result = station.run_cycle()
    assert result.verdict is Verdict.NOK
    row = read_log(next((tmp / "log").glob("*.csv")))[-1]
    assert (row["cycle_id"], row["recipe"], row["recipe_version"]) == (result.cycle_id, "product_nok", "4")
    # and back: the station-wide values return with a set that has no recipe file
    assert actions.select_product(actions.gui_actor(), "product_ok").ok
    assert station.detector.settings.confidence == 0.25 and exposure(station) == before
    assert station.state.snapshot().recipe.version == ""


def test_a_broken_recipe_file_leaves_the_previous_recipe_active(line):
    station, actions, tmp = line
    recipe_path(tmp / "patterns" / "product_nok.yaml").write_text("[model]\nconfidence = 'high'\n")
    outcome = actions.select_product(actions.gui_actor(), "product_nok")
    assert (outcome.ok, outcome.status) == (False, "invalid")
    assert "product_nok.recipe.toml:2" in outcome.message and "product_ok stays active" in outcome.message
    assert station.state.product == "product_ok" and station.run_cycle().verdict is Verdict.OK
    assert audit_lines(tmp / "audit.jsonl", "product") == []


@pytest.mark.parametrize("recipe, status, says", [
    ("[camera]\nexposure_us = 90000000.0\n", "failed", "the camera refused the settings"),
    ("[model]\npath = 'MODEL'\n", "failed", "the model did not load"),  # a file, but no ONNX model
    ("[model]\npath = 'gone.onnx'\n", "invalid", "no such model file"),
])
def test_a_recipe_the_station_cannot_apply_leaves_the_previous_one(line, recipe, status, says):
    station, actions, tmp = line
    (tmp / "broken.onnx").write_bytes(b"not a model")
    recipe = recipe.replace("MODEL", str(tmp / "broken.onnx")).replace("gone.onnx", str(tmp / "gone.onnx"))
    recipe_path(tmp / "patterns" / "product_nok.yaml").write_text(recipe)
    before = exposure(station)
    outcome = actions.select_product(actions.gui_actor(), "product_nok")
    assert (outcome.ok, outcome.status) == (False, status), outcome.message
    assert says in outcome.message and "product_ok stays active" in outcome.message
    assert station.state.product == "product_ok" and not station.state.hold
    assert exposure(station) == before
    assert station.run_cycle().verdict is Verdict.OK
    assert audit_lines(tmp / "audit.jsonl", "product") == []
    assert load_settings(tmp / "settings.toml").settings.patterns.active == "product_ok"


def test_an_apply_of_a_key_the_recipe_sets_edits_the_recipe_other_keys_the_settings_file(line):
    station, _operator, tmp = line
    actions = StationActions.for_station(station, tmp / "settings.toml", accounts_path=tmp / "accounts.json",
                                         audit_path=tmp / "audit.jsonl")
    actions.access.store.add("eng", "engineer", "secret-pass")
    assert actions.sign_in("eng", "secret-pass").ok
    assert actions.select_product(actions.gui_actor(), "product_nok").ok
    base = station.settings
    new = dataclasses.replace(base, model=dataclasses.replace(base.model, confidence=0.6, iou=0.5))
    outcome = actions.apply_settings(actions.gui_actor(), new, base)
    assert outcome.ok, outcome.message
    assert outcome.value.result(WAIT_S).ok
    recipe = read_recipe(recipe_path(tmp / "patterns" / "product_nok.yaml"))
    assert (recipe.version, recipe.value("model.confidence")) == ("5", 0.6)
    assert "# the dark housing scores lower" in recipe.path.read_text()
    saved = load_settings(tmp / "settings.toml").settings
    assert (saved.model.confidence, saved.model.iou) == (0.25, 0.5)  # iou: station-wide
    assert station.settings.model.confidence == 0.6 and station.state.recipe.version == "5"
    edits = audit_lines(tmp / "audit.jsonl", "recipe")
    assert [(e["target"], e["old"], e["new"]) for e in edits] == [("product_nok:model.confidence", 0.55, 0.6)]


def test_renaming_a_pattern_set_takes_its_recipe_along(tmp_path):
    from inspection_station.core.patterns.library import delete_set, duplicate_set, rename_set

    pattern = tmp_path / "a.yaml"
    pattern.write_text("variant_a: []\n")
    recipe_path(pattern).write_text(NOK_RECIPE)
    renamed = rename_set(pattern, "b")
    assert recipe_path(renamed).read_text() == NOK_RECIPE and not recipe_path(pattern).exists()
    copy = duplicate_set(renamed, "c")
    assert recipe_path(copy).read_text() == NOK_RECIPE
    delete_set(copy)
    assert not recipe_path(copy).exists() and list(Path(tmp_path).glob("c.recipe.toml.deleted-*.bak"))


@pytest.mark.qt
def test_the_recipe_panel_creates_renames_and_shows_the_difference(qtbot, tmp_path):
    from inspection_station.gui.engineer.recipe_panel import RecipePanel

    settings = station_settings(tmp_path)
    (tmp_path / "patterns" / "product_nok.recipe.toml").write_text(NOK_RECIPE)
    actions = signed_in_actions(settings, tmp_path, role="engineer")
    panel = RecipePanel(actions)
    qtbot.addWidget(panel)
    assert panel.list.count() == 2 and "version 4" in panel.list.item(0).text()
    panel.left.setCurrentText("product_nok")
    panel.right.setCurrentText("product_ok")
    assert "model.confidence: 0.55  →  0.25" in panel.difference.toPlainText()
    panel.list.setCurrentRow(1)  # product_ok: no recipe file yet
    panel.create()
    made = read_recipe(tmp_path / "patterns" / "product_ok.recipe.toml")
    assert made.version == "1" and made.value("camera.exposure_us") == settings.camera.exposure_us
    assert [a["target"] for a in audit_lines(tmp_path / "audit.jsonl", "recipe")] == ["product_ok"]
    panel.rename_to("product_nok", "housing_b")
    assert (tmp_path / "patterns" / "housing_b.recipe.toml").read_text() == NOK_RECIPE
    assert "housing_b" in panel.recipes


@pytest.mark.qt
def test_the_settings_dialog_marks_the_values_the_recipe_sets(qtbot, line):
    from PySide6.QtWidgets import QLabel

    from inspection_station.gui.engineer.settings_dialog import SettingsDialog

    station, actions, _tmp = line
    assert actions.select_product(actions.gui_actor(), "product_nok").ok
    dialog = SettingsDialog(station.settings, station, actions=actions)
    qtbot.addWidget(dialog)
    marked = sorted(w.text() for w in dialog.findChildren(QLabel, "recipe_value"))
    assert len(marked) == 2 and all("[recipe product_nok v4]" in t for t in marked)
