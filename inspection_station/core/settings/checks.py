"""Checks across settings keys that single-key validation (config._coerce) cannot make.

The settings dialog refuses to apply settings with problems and names the field; the
checks live here so they hold for every caller, not only the dialog.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from inspection_station.core.regular_files import special_kind
from inspection_station.core.settings.model import Settings

_COLOUR = re.compile(r"^#[0-9a-fA-F]{6}$")


@dataclass(frozen=True)
class SettingProblem:
    section: str
    key: str
    message: str

    def __str__(self) -> str:
        return f"[{self.section}] {self.key}: {self.message}"


def check_settings(settings: Settings) -> list[SettingProblem]:
    """Every problem found, in form order (empty list = fine to apply)."""
    problems: list[SettingProblem] = []

    def bad(section: str, key: str, message: str) -> None:
        problems.append(SettingProblem(section, key, message))

    cam = settings.camera
    if cam.source == "folder" and not cam.test_images and not (cam.image_folder and Path(cam.image_folder).is_dir()):
        bad("camera", "image_folder", f"the image folder {cam.image_folder!r} does not exist")
    if cam.emulation_image_dir and not Path(cam.emulation_image_dir).is_dir():
        bad("camera", "emulation_image_dir", f"the folder {cam.emulation_image_dir!r} does not exist")
    if cam.roi_unit == "fraction":
        for key in ("roi_x", "roi_y", "roi_width", "roi_height"):
            if getattr(cam, key) > 1.0:
                bad("camera", key, "a fraction of the image must be at most 1")
        if cam.roi_x + cam.roi_width > 1.0:
            bad("camera", "roi_width", "x + width must stay inside the image (at most 1)")
        if cam.roi_y + cam.roi_height > 1.0:
            bad("camera", "roi_height", "y + height must stay inside the image (at most 1)")
    if any((cam.roi_left, cam.roi_top, cam.roi_right, cam.roi_bottom)) and any(
        (cam.roi_x, cam.roi_y, cam.roi_width, cam.roi_height)
    ):
        bad("camera", "roi_left", "use either the old edges (roi_left/top/right/bottom) or roi_x/y/width/height, not both")
    if cam.reconnect_min_s > cam.reconnect_max_s:
        bad("camera", "reconnect_max_s", "must be at least the first reconnect delay")

    model = settings.model
    if model.path:
        p = Path(model.path)
        if special_kind(p):
            bad("model", "path", f"{model.path!r} is {special_kind(p)}, expected an .onnx model file")
        elif not p.is_file():
            bad("model", "path", f"no such model file {model.path!r}")
        elif p.suffix.lower() != ".onnx":
            bad("model", "path", f"expected an .onnx file, got {p.name!r}")
    if not model.providers:
        bad("model", "providers", "choose at least one execution provider")
    if model.class_map and not Path(model.class_map).is_file():
        bad("model", "class_map", f"no such class map file {model.class_map!r} (expected a CSV id,name,color)")
    for i, name in enumerate(model.class_names):
        if not name.strip():
            bad("model", "class_names", f"class {i} has an empty name")
    for i, colour in enumerate(model.class_colors):
        if colour and not _COLOUR.match(colour):
            bad("model", "class_colors", f"class {i}: expected a colour like #ff8800, got {colour!r}")

    if settings.patterns.path and not Path(settings.patterns.path).exists():
        bad("patterns", "path", f"no such pattern file or folder {settings.patterns.path!r}")

    if not settings.station.name.strip():
        bad("station", "name", "the station needs a name (it is written in every log row)")
    if not settings.station.pedal_key.strip():
        bad("station", "pedal_key", "name the key the foot pedal types, e.g. F12")
    _check_line(settings, bad)
    for key, message in part_id_problems(settings):
        bad("part_id", key, message)
    return problems


def part_id_problems(settings: Settings) -> list[tuple[str, str]]:
    """(key, message) for part-id settings a decoder could not use."""
    pid = settings.part_id
    problems = []
    if pid.source in ("image", "scanner_or_image"):
        from inspection_station.core.errors import ConfigError
        from inspection_station.core.settings.code_formats import parse_formats

        if not pid.formats:
            problems.append(("formats", "name at least one code format, e.g. DataMatrix"))
        try:
            parse_formats(pid.formats)
        except ConfigError as exc:
            problems.append(("formats", str(exc).split(": ", 1)[-1]))
    if pid.region_x + pid.region_width > 1.0:
        problems.append(("region_width", "x + width must stay inside the frame (at most 1)"))
    if pid.region_y + pid.region_height > 1.0:
        problems.append(("region_height", "y + height must stay inside the frame (at most 1)"))
    return problems


def _check_line(settings: Settings, bad) -> None:
    """[line]: the same rules `LineServices` enforces at start, named per field."""
    from inspection_station.core.errors import ConfigError
    from inspection_station.core.settings.network_rules import (
        is_loopback,
        parse_token_entries,
        tls_context,
    )
    from inspection_station.core.settings.plc_outputs import check_trigger_line, parse_outputs

    line = settings.line
    try:
        tokens = bool(parse_token_entries(line.api_token_sha256, "[line] api_token_sha256"))
    except ConfigError as exc:
        bad("line", "api_token_sha256", str(exc).split(": ", 1)[-1])
        tokens = True  # reported once, not again below
    for enabled, key in ((line.api_enabled, "api_host"), (line.metrics_enabled, "metrics_host")):
        host = getattr(line, key)
        if enabled and not is_loopback(host) and not tokens:
            bad("line", key, f"{host} is reachable from the network: set [line] api_token_sha256 first")
        elif enabled and not is_loopback(host) and not line.tls_certificate and not line.allow_plain_http:
            bad("line", key, f"{host} is reachable from the network: the tokens would cross it in clear; "
                             "set tls_certificate and tls_key, or allow_plain_http")
    if line.tls_key and not line.tls_certificate:
        bad("line", "tls_certificate", "a TLS key needs its certificate")
    if line.tls_certificate and (line.api_enabled or line.metrics_enabled):
        try:
            tls_context(line.tls_certificate, line.tls_key)
        except ConfigError as exc:
            bad("line", "tls_certificate", str(exc).split(": ", 1)[-1])
    if line.plc_enabled or line.plc_outputs:
        try:
            outputs = parse_outputs(line.plc_outputs)
            check_trigger_line(outputs, settings.camera.trigger_mode, settings.camera.trigger_line)
        except ConfigError as exc:
            bad("line", "plc_outputs", str(exc).removeprefix("[line] plc_outputs").lstrip(": "))
