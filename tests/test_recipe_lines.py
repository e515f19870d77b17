"""Recipe selection by the PLC on input lines (issue 22): the real station and its emulator,
the input levels through the injection seam (the emulator has no LineStatus nodes, which the
first test checks on the real emulator)."""

from __future__ import annotations

import time

import pytest

from inspection_station.core.errors import ConfigError
from inspection_station.core.line.recipe_lines import (
    CameraLineInputs,
    InjectedLineInputs,
    RecipeLines,
    parse_recipe_lines,
)
from tests.test_actions import WAIT_S, audit_lines
from tests.test_recipes import exposure, line  # noqa: F401 - the fixture


def wait_for(predicate, timeout=WAIT_S):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.01)
    return False


def test_the_emulator_cannot_show_input_levels_and_says_so(line):  # noqa: F811
    station, _actions, _tmp = line
    with pytest.raises(Exception, match="no readable LineStatusAll"):
        CameraLineInputs(station).read()


@pytest.mark.parametrize("lines, strobe, table, says", [
    ([], "Line1", [], "at least one input line"),
    (["Line2", "Line9"], "Line1", [], "'Line9' is no input line"),
    (["Line2", "Line1"], "Line1", [], "not the strobe line"),
    (["Line2", "Line3"], "Line1", ["4=x"], "NUMBER 1..3"),
    (["Line2"], "Line1", ["1"], "expected NUMBER=RECIPE"),
])
def test_a_wrong_recipe_line_setting_is_a_located_error(lines, strobe, table, says):
    with pytest.raises(ConfigError, match=says):
        parse_recipe_lines(lines, strobe, table)


def test_a_strobed_number_selects_its_recipe_through_the_product_switch(line):  # noqa: F811
    station, actions, tmp = line
    inputs = InjectedLineInputs()
    problems: list[str] = []
    spec = parse_recipe_lines(["Line2", "Line3"], "Line1", ["1=product_ok", "2=product_nok"])
    lines = RecipeLines(station, actions, spec, inputs, on_problem=problems.append).start()
    try:
        inputs.set("Line3")  # number 2, strobe low: nothing happens yet
        time.sleep(0.1)
        assert station.state.product == "product_ok"
        inputs.set("Line3", "Line1")  # the strobe's rising edge latches 2
        assert wait_for(lambda: lines.outcomes)  # the switch's answer (after its model and camera)
        assert lines.outcomes[0].ok, lines.outcomes[0].message
        assert station.state.product == "product_nok"
        assert exposure(station) == 12000.0 and station.detector.settings.confidence == 0.55
        switch = audit_lines(tmp / "audit.jsonl", "product")[-1]
        assert (switch["user"], switch["new"]) == ("plc", "product_nok v4")
        inputs.set("Line2", "Line3")  # number 3 (not in the table), strobe low as long as a PLC holds it
        time.sleep(0.1)
        inputs.set("Line2", "Line3", "Line1")
        assert wait_for(lambda: problems)
        assert "recipe number 3 is not in [line] recipe_table" in problems[-1]
        assert station.state.product == "product_nok"
        inputs.fault = "the camera went away"
        assert wait_for(lambda: "recipe lines: the camera went away" in problems)
    finally:
        lines.stop()


def test_without_a_strobe_the_number_is_latched_at_the_trigger_and_switched_after_that_cycle(line):  # noqa: F811
    station, actions, _tmp = line
    inputs = InjectedLineInputs()
    spec = parse_recipe_lines(["Line2", "Line3"], "", ["1=product_ok", "2=product_nok"])
    lines = RecipeLines(station, actions, spec, inputs).start()
    try:
        inputs.set("Line3")
        first = station.run_cycle()
        assert first.pattern_set == "product_ok"  # the cycle in flight keeps the recipe in force
        assert wait_for(lambda: lines.outcomes)
        assert lines.outcomes[-1].ok and station.state.product == "product_nok"
        assert station.run_cycle().recipe == "product_nok"
    finally:
        lines.stop()
