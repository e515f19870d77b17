"""Traceability per part: typed/scanned or decoded ids, the required policy, hashes in the CSV."""

from __future__ import annotations

import cv2
import numpy as np
import pytest
import zxingcpp

from inspection_station.core.cycle import Verdict
from inspection_station.core.detect.session_cache import file_sha256
from inspection_station.core.errors import StationError
from inspection_station.core.fingerprints import pattern_set_hash, short
from inspection_station.core.patterns.yaml_io import load_pattern_library
from inspection_station.core.results.csv_log import read_log
from inspection_station.core.settings.model import PartIdSettings
from inspection_station.core.trace.codes import CodeReader, region_pixels
from inspection_station.core.trace.part_id import PartIdPolicy, clean_part_id
from tests.test_station import events, make_station, setup  # noqa: F401  (fixtures)

H, W = 480, 640


def code_image(text: str, fmt: str, *, at=(20, 20), size=(H, W)) -> np.ndarray:
    """A grey frame with `text` printed as a `fmt` code (white quiet zone) at `at`."""
    scale = 2 if fmt == "Code128" else 4  # a 1D code is wide: keep it inside a quarter frame
    symbol = np.asarray(zxingcpp.create_barcode(text, zxingcpp.barcode_format_from_str(fmt)).to_image(scale=scale))
    frame = np.full((*size, 3), 90, np.uint8)
    y, x = at
    pad = 16
    frame[y:y + symbol.shape[0] + 2 * pad, x:x + symbol.shape[1] + 2 * pad] = 255
    frame[y + pad:y + pad + symbol.shape[0], x + pad:x + pad + symbol.shape[1]] = symbol[..., None]
    return frame


@pytest.mark.parametrize("fmt", ["DataMatrix", "QRCode", "Code128"])
def test_reader_finds_the_code_only_in_its_region(fmt):
    image = code_image("SN-4711", fmt)
    top_left = CodeReader([fmt], (0.0, 0.0, 0.6, 0.6)).read(image)
    assert [(c.text, c.format) for c in top_left] == [("SN-4711", fmt)]
    assert all(0 <= x < W and 0 <= y < H for x, y in top_left[0].position)
    assert CodeReader([fmt], (0.6, 0.6, 0.0, 0.0)).read(image) == []  # bottom right: nothing


def test_region_pixels_clip_and_extend_to_the_edge():
    assert region_pixels(640, 480, 0, 0, 0, 0) == (0, 0, 640, 480)
    assert region_pixels(640, 480, 0.5, 0.5, 0.25, 0.25) == (320, 240, 480, 360)
    assert region_pixels(640, 480, 0.9, 0.9, 0.5, 0.5) == (576, 432, 640, 480)


def test_policy_required_optional_and_sources():
    image = code_image("DMC-1", "DataMatrix")
    required = PartIdPolicy(PartIdSettings(source="scanner", policy="required"))
    assert required.decide("", image).error == "part id: required, but none scanned or typed"
    assert required.decide("SN-1", image).part_id == "SN-1"
    optional = PartIdPolicy(PartIdSettings(source="scanner", policy="optional"))
    assert optional.decide("", image).error == ""
    both = PartIdPolicy(PartIdSettings(source="scanner_or_image", policy="required"))
    assert (both.decide("", image).part_id, both.decide("", image).source) == ("DMC-1", "image")
    assert both.decide("typed", image).part_id == "typed"  # a scan wins over the frame
    blank = np.full((H, W, 3), 90, np.uint8)
    assert "no code found in the region" in both.decide("", blank).error
    bad = PartIdPolicy(PartIdSettings(source="image", policy="required", formats=["Hologram"]))
    assert "'Hologram' is not a code format" in bad.decide("", image).error


def test_a_decoded_id_is_cleaned_as_a_typed_one():
    image = code_image("SN-1\u2028=cmd", "QRCode")  # a code may carry a line separator
    required = PartIdPolicy(PartIdSettings(source="image", policy="required", formats=["QRCode"]))
    outcome = required.decide("", image)
    assert outcome.part_id == "" and "no usable id" in outcome.error and "control characters" in outcome.error
    fine = code_image("=SN-2", "QRCode")  # printable: kept (the CSV neutralises the formula)
    assert required.decide("", fine).part_id == "=SN-2"


def test_clean_part_id_refuses_control_characters_and_floods():
    assert clean_part_id("  SN 12\t".strip()) == "SN 12"
    with pytest.raises(ValueError, match="control characters"):
        clean_part_id("SN\x0012")
    with pytest.raises(ValueError, match="at most 200"):
        clean_part_id("x" * 201)


def test_pattern_hash_is_content_not_formatting(tmp_path):
    a, b = tmp_path / "a", tmp_path / "b"
    a.mkdir(), b.mkdir()
    body = "v:\n  - class_id: 0\n    inner: [0.2, 0.2, 0.3, 0.3]\n    outer: [0.1, 0.1, 0.4, 0.4]\n"
    (a / "p.yaml").write_text(body)
    (b / "p.yaml").write_text("# a comment\n" + body.replace("[0.2, 0.2", "[0.20, 0.200"))
    pa, pb = load_pattern_library(a)["p"], load_pattern_library(b)["p"]
    assert pattern_set_hash(pa) == pattern_set_hash(pb)
    (b / "p.yaml").write_text(body.replace("0.3, 0.3]", "0.3, 0.31]"))
    assert pattern_set_hash(load_pattern_library(b)["p"]) != pattern_set_hash(pa)


def _run(settings, events, part_ids=()):  # noqa: F811
    station = make_station(settings, events)
    station.start()
    try:
        assert station.wait_ready(60)
        results = []
        for part_id in part_ids:
            if part_id is not None:
                station.set_part_id(part_id)
            results.append(station.run_cycle())
        rows = read_log(station.recorder.log.current_path)
        return station, results, rows
    finally:
        station.stop()


def test_scanned_part_id_and_hashes_reach_the_csv(setup, events):  # noqa: F811
    settings, _tmp = setup
    settings = settings.replace("part_id", source="scanner", policy="optional")
    station, results, rows = _run(settings, events, ["SN-0001", None])
    assert [r.verdict for r in results] == [Verdict.OK, Verdict.OK]
    assert [row["part_id"] for row in rows] == ["SN-0001", ""]  # taken once, by the next cycle only
    model_sha = short(file_sha256(settings.model.path))
    pattern_sha = short(pattern_set_hash(station.pattern_sets["product_a"]))
    assert {row["model_sha256"] for row in rows} == {model_sha} and len(model_sha) == 12
    assert {row["pattern_hash"] for row in rows} == {pattern_sha}


def test_a_required_id_missing_is_error_with_the_reason(setup, events):  # noqa: F811
    settings, _tmp = setup
    settings = settings.replace("part_id", source="scanner", policy="required")
    _station, results, rows = _run(settings, events, [None, "SN-2"])
    assert results[0].verdict is Verdict.ERROR
    assert results[0].error == "part id: required, but none scanned or typed"
    assert (rows[0]["verdict"], rows[0]["error"]) == ("ERROR", results[0].error)
    assert (results[1].verdict, rows[1]["part_id"]) == (Verdict.OK, "SN-2")


def test_set_part_id_refuses_bad_text(setup, events):  # noqa: F811
    settings, _tmp = setup
    station = make_station(settings, events)
    with pytest.raises(StationError, match="control characters"):
        station.set_part_id("A\x1bB")
    assert station.pending_part_id == ""


@pytest.mark.parametrize("fmt", ["DataMatrix", "QRCode", "Code128"])
def test_a_code_printed_on_the_part_is_decoded_into_the_csv(setup, events, fmt):  # noqa: F811
    settings, tmp = setup
    frames = tmp / f"coded_{fmt}"
    frames.mkdir()
    cv2.imwrite(str(frames / "part.png"), code_image(f"{fmt}-SN-42", fmt))
    settings = settings.replace("camera", emulation_image_dir=str(frames))
    settings = settings.replace("part_id", source="image", policy="required", formats=[fmt],
                                region_x=0.0, region_y=0.0, region_width=0.75, region_height=0.5)
    _station, results, rows = _run(settings, events, [None])
    assert results[0].verdict is Verdict.OK, results[0].error
    assert rows[0]["part_id"] == f"{fmt}-SN-42"
