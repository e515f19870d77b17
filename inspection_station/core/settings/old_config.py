"""The old system's settings -> station settings (`inspection-station import-old-config`).

The old services read environment variables (backend `BE_`, inference `IF_`, frontend
`FE_`, the camera adapter without prefix) over their `default_config.toml` files, whose
`[section] key` is the variable `SECTION_KEY` (so `[camera.image] rotation_angle` is
`CAMERA_IMAGE_ROTATION_ANGLE`). Every old value is read into one flat table of upper-case
keys, each remembering where it came from, then mapped through `_RULES`. What has no
station equivalent is named with the reason (an HTTP hop that no longer exists, a value the
station reads from the model itself, ...), never dropped silently.
"""

from __future__ import annotations

import os
import re
import tomllib
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path, PurePath
from typing import Any

import tomli_w

from inspection_station.core.errors import ConfigError
from inspection_station.core.settings.model import Settings
from inspection_station.core.text_files import read_text_limited

SERVICE_PREFIXES = ("BE_", "IF_", "FE_")  # backend, inference, frontend (their default prefixes)


@dataclass(frozen=True)
class OldValue:
    key: str  # upper case, service prefix removed
    value: Any
    where: str  # file:line, file: [section] key, or environment: NAME


@dataclass(frozen=True)
class Migration:
    changes: dict[str, dict[str, Any]]  # station section -> key -> value (validated)
    mapped: list[str] = field(default_factory=list)  # "where: OLD=value -> [section] key = value"
    unmapped: list[str] = field(default_factory=list)  # "where: OLD: why"


# --- reading the old files ------------------------------------------------------------------


def _strip_prefix(name: str) -> str:
    upper = name.strip().upper()
    for prefix in SERVICE_PREFIXES:
        if upper.startswith(prefix):
            return upper[len(prefix):]
    return upper


def read_env_file(path: str | Path) -> list[OldValue]:
    """`KEY=VALUE` lines (a docker `.env` file); `export`, quotes and comments allowed."""
    p = Path(path)
    text = read_text_limited(p, what="old .env file", error=ConfigError)
    values = []
    for number, line in enumerate(text.splitlines(), start=1):
        stripped = line.strip()
        if stripped.startswith("- "):  # a docker-compose `environment:` list item
            stripped = stripped[2:].strip()
        if not stripped or stripped.startswith("#"):
            continue
        if stripped.startswith("export "):
            stripped = stripped[len("export "):]
        name, sep, value = stripped.partition("=")
        if not sep or not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", name.strip()):
            raise ConfigError(f"{p}:{number}: expected NAME=VALUE, got {line.strip()!r}")
        value = value.strip()
        if len(value) >= 2 and value[0] == value[-1] and value[0] in "\"'":
            value = value[1:-1]
        else:
            value = re.sub(r"\s+#.*$", "", value)  # a trailing comment
        values.append(OldValue(_strip_prefix(name), value, f"{p}:{number}: {name.strip()}"))
    return values


def read_old_toml(path: str | Path) -> list[OldValue]:
    """An old `default_config.toml`: nested tables flattened to SECTION_SUB_KEY."""
    p = Path(path)
    try:
        data = tomllib.loads(read_text_limited(p, what="old TOML file", error=ConfigError))
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{p}: not valid TOML: {exc}") from None
    values: list[OldValue] = []

    def walk(table: Mapping, parts: list[str]) -> None:
        for key, value in table.items():
            if isinstance(value, Mapping):
                walk(value, [*parts, str(key)])
            elif parts or key.lower() != "prefix":  # the file's own env prefix is no setting
                dotted = ".".join(parts)
                where = f"{p}: [{dotted}] {key}" if parts else f"{p}: {key}"
                values.append(OldValue("_".join([*parts, str(key)]).upper(), value, where))

    walk(data, [])
    return values


def read_environment(env: Mapping[str, str] | None = None) -> list[OldValue]:
    """The old system's variables among the process environment (others are ignored)."""
    env = os.environ if env is None else env
    out = []
    for name, value in sorted(env.items()):
        key = _strip_prefix(name)
        if name.upper().startswith(SERVICE_PREFIXES) or key in _RULES or key in _NOT_NEEDED:
            out.append(OldValue(key, value, f"environment: {name}"))
    return out


def _unquote(value: str) -> str:
    value = value.strip()
    if len(value) >= 2 and value[0] == value[-1] and value[0] in "\"'":
        return value[1:-1]
    return value


def read_compose(path: str | Path) -> list[OldValue]:
    """The `environment:` of every service in the old docker-compose.yaml (list or mapping form)."""
    import yaml

    p = Path(path)
    text = read_text_limited(p, what="docker-compose file", error=ConfigError)
    try:
        root = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        raise ConfigError(f"{p}{f':{mark.line + 1}' if mark else ''}: not valid YAML") from None

    def child(node, name: str):
        if isinstance(node, yaml.MappingNode):
            for k, v in node.value:
                if k.value == name:
                    return v
        return None

    services = child(root, "services")
    if not isinstance(services, yaml.MappingNode):
        raise ConfigError(f"{p}: no 'services:' (expected a docker-compose file)")
    values = []
    for service_key, service in services.value:
        env = child(service, "environment")
        pairs: list[tuple[str, str, int]] = []
        if isinstance(env, yaml.SequenceNode):
            for item in env.value:
                name, sep, value = str(item.value).partition("=")
                if sep:
                    pairs.append((name.strip(), _unquote(value), item.start_mark.line + 1))
        elif isinstance(env, yaml.MappingNode):
            pairs = [(str(k.value), _unquote(str(v.value)), k.start_mark.line + 1) for k, v in env.value]
        for name, value, line in pairs:
            values.append(OldValue(_strip_prefix(name), value, f"{p}:{line}: {service_key.value}: {name}"))
    return values


def read_old_sources(paths: Iterable[str | Path]) -> list[OldValue]:
    """Each file by its kind: `.toml` an old default_config, `.yml`/`.yaml` a docker-compose
    file, anything else a `.env`."""
    values: list[OldValue] = []
    for path in paths:
        suffix = Path(path).suffix.lower()
        if suffix == ".toml":
            values += read_old_toml(path)
        elif suffix in (".yml", ".yaml"):
            values += read_compose(path)
        else:
            values += read_env_file(path)
    return values


# --- converting values ------------------------------------------------------------------------


class _Skip(Exception):
    """This old value has no station equivalent; the message says why."""


def _text(v: Any) -> str:
    return str(v).strip()


def _bool(v: Any) -> bool:
    if isinstance(v, bool):
        return v
    t = _text(v).lower()
    if t in ("1", "true", "yes", "on"):
        return True
    if t in ("0", "false", "no", "off", ""):
        return False
    raise ValueError(f"expected true or false, got {v!r}")


def _number(v: Any) -> float:
    if isinstance(v, bool):
        raise ValueError(f"expected a number, got {v!r}")
    return float(_text(v).strip("\"'")) if not isinstance(v, int | float) else float(v)


def _int(v: Any) -> int:
    f = _number(v)
    if not f.is_integer():
        raise ValueError(f"expected a whole number, got {v!r}")
    return int(f)


def _pair(v: Any) -> tuple[int, int]:
    """`(640, 640)`, `[544, 640]` or `640,640`."""
    parts = v if isinstance(v, list | tuple) else re.findall(r"-?\d+(?:\.\d+)?", _text(v))
    if len(parts) != 2:
        raise ValueError(f"expected two sizes like (640, 640), got {v!r}")
    return _int(parts[0]), _int(parts[1])


def _list(v: Any) -> list[str]:
    if isinstance(v, list):
        return [str(x) for x in v]
    return [x.strip(" '\"") for x in _text(v).strip("[]()").split(",") if x.strip(" '\"")]


def _output_format(v: Any) -> str:
    t = _text(v)
    if t.lower() in ("null", "none", ""):
        raise _Skip("no conversion: the station always converts frames to RGB, BGR or Mono (output_format)")
    for choice in ("RGB", "BGR", "Mono"):
        if t.lower() == choice.lower():
            return choice
    raise ValueError(f"expected RGB, BGR or Mono, got {v!r}")


def _transmission(v: Any) -> str:
    t = _text(v).lower()
    table = {"unicast": "Unicast", "multicast": "Multicast", "broadcast": "LimitedBroadcast"}
    if t not in table:
        raise ValueError(f"expected Unicast, Multicast or Broadcast, got {v!r}")
    return table[t]


def _image_format(v: Any) -> str:
    t = _text(v).lower().lstrip(".")
    t = {"jpeg": "jpg"}.get(t, t)
    if t not in ("jpg", "png", "webp"):
        raise ValueError(f"the station archives jpg, png or webp, got {v!r}")
    return t


def _acquisition(v: Any) -> str:
    t = _text(v).lower()
    if t == "singleframe":
        return "software"
    if t == "continuous":
        raise _Skip("the station streams for the live view by itself and grabs a fresh frame per trigger; "
                    "set [camera] trigger_mode if a PLC or sensor triggers")
    raise ValueError(f"expected SingleFrame or Continuous, got {v!r}")


def _providers(v: Any) -> list[str]:
    names = _list(v)
    if not names:
        raise ValueError("expected a list of onnxruntime execution providers")
    return names


# --- the rules --------------------------------------------------------------------------------

Setter = Callable[[Any], list[tuple[str, str, Any]]]


def _to(section: str, key: str, convert: Callable[[Any], Any] = _text) -> Setter:
    return lambda v: [(section, key, convert(v))]


def _roi_edge(key: str) -> Setter:
    # the old adapter cropped before it rotated: keep that order so the same values give the same image
    return lambda v: [("camera", key, _number(v)), ("camera", "roi_before_rotation", True)]


def _test_image(v: Any) -> list[tuple[str, str, Any]]:
    t = _text(v)
    if any(c in t for c in "*?[") or PurePath(t).suffix.lower() in (".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff", ".webp"):
        return [("camera", "source", "folder"), ("camera", "test_images", [t])]
    return [("camera", "emulation_image_dir", t)]


def _timeout_s(v: Any) -> list[tuple[str, str, Any]]:
    return [("camera", "grab_timeout_ms", int(round(_number(v) * 1000)))]


def _image_size(v: Any) -> list[tuple[str, str, Any]]:
    h, w = _pair(v)  # the old inference server took (height, width)
    return [("model", "input_height", h), ("model", "input_width", w)]


def _precision(v: Any) -> list[tuple[str, str, Any]]:
    t = _text(v).lower()
    if t in ("fp32", "fp16", "fp64"):
        raise _Skip("not needed: the station reads the input type (float32 / float16 / float64) from the model itself")
    if t == "int8":
        raise _Skip("not needed: an int8-quantised ONNX model takes a float input, which the station reads from the model")
    raise ValueError(f"expected fp32, fp16, fp64 or int8, got {v!r}")


_RULES: dict[str, Setter] = {
    # camera adapter (no prefix) and the backend's / frontend's [camera] tables
    "SERIAL_NUMBER": _to("camera", "serial"),
    "CAMERA_SERIAL_NUMBER": _to("camera", "serial"),
    "IP_ADDRESS": _to("camera", "ip_address"),
    "CAMERA_IP_ADDRESS": _to("camera", "ip_address"),
    "SUBNET_MASK": _to("camera", "subnet_mask"),
    "CAMERA_SUBNET_MASK": _to("camera", "subnet_mask"),
    "EXPOSURE_TIME": _to("camera", "exposure_us", _number),
    "CAMERA_EXPOSURE_TIME_MICROSECONDS": _to("camera", "exposure_us", _number),
    "TIMEOUT_MS": _to("camera", "grab_timeout_ms", _int),
    "CAMERA_TIMEOUT": _timeout_s,
    "PIXEL_TYPE": _to("camera", "pixel_format"),
    "CAMERA_PIXEL_TYPE": _to("camera", "pixel_format"),
    "CAMERA_PIXEL_FORMAT": _to("camera", "pixel_format"),
    "CONVERT_TO_FORMAT": _to("camera", "output_format", _output_format),
    "CAMERA_CONVERT_TO_FORMAT": _to("camera", "output_format", _output_format),
    "TRANSMISSION_TYPE": _to("camera", "transmission_type", _transmission),
    "CAMERA_TRANSMISSION_TYPE": _to("camera", "transmission_type", _transmission),
    "DESTINATION_IP_ADDRESS": _to("camera", "destination_address"),
    "CAMERA_DESTINATION_IP_ADDRESS": _to("camera", "destination_address"),
    "DESTINATION_PORT": _to("camera", "destination_port", _int),
    "CAMERA_DESTINATION_PORT": _to("camera", "destination_port", _int),
    "FRAMES_PER_SECOND": _to("camera", "frame_rate_limit", _number),
    "ACQUISITION_MODE": _to("camera", "trigger_mode", _acquisition),
    "IMAGE_ROI_LEFT": _roi_edge("roi_left"),
    "IMAGE_ROI_TOP": _roi_edge("roi_top"),
    "IMAGE_ROI_RIGHT": _roi_edge("roi_right"),
    "IMAGE_ROI_BOTTOM": _roi_edge("roi_bottom"),
    "IMAGE_ROTATION_ANGLE": _to("camera", "rotation_deg", _number),  # both turn counter-clockwise
    "CAMERA_IMAGE_ROTATION_ANGLE": _to("camera", "rotation_deg", _number),
    "IMAGE_ROTATION_EXPAND": _to("camera", "rotation_expand", _bool),
    "TEST_IMAGE": _test_image,
    # inference server
    "MODEL_IMAGE_SIZE": _image_size,
    "MODEL_PRECISION": _precision,
    "MODEL_ONNX_PROVIDERS": _to("model", "providers", _providers),
    "MODEL_TH_SCORE": _to("model", "confidence", _number),
    # backend
    "PATTERN_FILE": _to("patterns", "path"),
    "PATTERN_DEFAULT": _to("patterns", "active"),
    "GENERAL_FOLDER_SAVED_IMAGES": _to("results", "image_dir"),
    "GENERAL_IMAGE_QUALITY": _to("results", "image_quality", _int),
    "CAMERA_IMAGE_QUALITY": _to("results", "image_quality", _int),
    "CAMERA_IMAGE_EXTENSION": _to("results", "image_format", _image_format),
    "GENERAL_FILE_TYPE_SAVE_IMAGE": _to("results", "image_format", _image_format),
    # frontend's About box
    "IMPRESS_PROJECT_NAME": _to("station", "project_name"),
    "IMPRESS_AUTHOR": _to("station", "author"),
    "IMPRESS_STATUS": _to("station", "status"),
    "IMPRESS_PROJECT_LINK": _to("station", "link"),
    "IMPRESS_ADDITIONAL_INFO": _to("station", "info_text"),
}

# Combined in _combined(): they decide together.
_COMBINED = ("GENERAL_SAVE_IMAGES", "GENERAL_SAVE_IMAGES_WITH_FAILED_PATTERN_CHECK",
             "MODEL_FILENAME", "MODEL_FOLDER_DATA", "MODEL_FOLDER_HEAD", "MODEL_MAPPING")

_HTTP = "not needed: one process, no HTTP hop between camera, inference and backend"
_NOT_NEEDED: dict[str, str] = {
    "CAMERA_URL": _HTTP, "CAMERA_AUTH_TOKEN": _HTTP, "INFERENCE_URL": _HTTP, "INFERENCE_TIMEOUT": _HTTP,
    "INFERENCE_AUTH_TOKEN": _HTTP, "BACKEND_URL_BACKEND": _HTTP, "BACKEND_AUTH_TOKEN": _HTTP,
    "BACKEND_TIMEOUT": _HTTP, "ACCESS_TOKENS": _HTTP, "FASTAPI_ROOT_PATH": _HTTP, "GENERAL_ROOT_PATH": _HTTP,
    "SSL_CERTIFICATE": _HTTP, "SSL_KEYFILE": _HTTP, "PREFIX": "not needed: the station's variables are "
    "INSPECTION_STATION_<SECTION>_<KEY>",
    "IMAGE_FORMAT": "not needed: frames are no longer JPEG-encoded between services (archive format: "
    "[results] image_format)",
    "IMAGE_QUALITY": "not needed: frames are no longer JPEG-encoded between services (archive quality: "
    "[results] image_quality)",
    "CAMERA_IMAGE_FORMAT": "not needed: frames are no longer encoded between services",
    "LOG_LEVEL": "not mapped: the station logs INFO and up to its log file",
    "LOGGING_LEVEL": "not mapped: the station logs INFO and up to its log file",
    "STREAMLIT_THEME_PRIMARY_COLOR": "not mapped: the station's colours are fixed for the line (theme)",
    "STREAMLIT_SERVER_HEADLESS": _HTTP, "STREAMLIT_SERVER_ENABLE_CORS": _HTTP,
    "STREAMLIT_SERVER_ENABLE_XSRF_PROTECTION": _HTTP,
    "GENERAL_URL_BACKEND": _HTTP,
    "TZ": "not mapped: the station writes local time with its UTC offset",
    "GENERAL_DATA_FOLDER": "not mapped: set [results] log_dir / image_dir",
}


def _combined(table: dict[str, OldValue], put: Callable[[OldValue, list], None], skip) -> None:
    save = table.get("GENERAL_SAVE_IMAGES")
    failed = table.get("GENERAL_SAVE_IMAGES_WITH_FAILED_PATTERN_CHECK")
    if save is not None or failed is not None:
        src = save or failed
        assert src is not None  # one of the two is there (the test above)
        try:
            also_failed = _bool(failed.value) if failed is not None else True  # the old default: true
            mode = _text(save.value).lower() if save is not None else "no"
            every = re.search(r"(?<=every\s)\d+", mode)
            if mode == "all":
                changes: list[tuple[str, str, object]] = [("results", "archive", "all")]
            elif every:
                n = int(every.group())
                changes = [("results", "archive", "every_n_and_failed" if also_failed else "every_n"),
                           ("results", "archive_every_n", n)]
            elif mode in ("no", "none", "false", ""):
                changes = [("results", "archive", "failed" if also_failed else "none")]
            else:
                raise ValueError(f"expected 'all', 'every N' or 'no', got {src.value!r}")
            put(src, changes)
        except ValueError as exc:
            skip(src, f"could not map: {exc}")
        if save is not None and failed is not None:
            put(failed, [])  # decided together with GENERAL_SAVE_IMAGES

    # the old inference server loaded <folder_data>/<filename>; the backend's class map was <folder_head>/<mapping>
    filename, data = table.get("MODEL_FILENAME"), table.get("MODEL_FOLDER_DATA")
    if filename is not None:
        folder = _text(data.value) if data is not None else ""
        put(filename, [("model", "path", str(PurePath(folder) / _text(filename.value)) if folder else _text(filename.value))])
    mapping, head = table.get("MODEL_MAPPING"), table.get("MODEL_FOLDER_HEAD")
    if mapping is not None and _text(mapping.value):
        base = _text(head.value) if head is not None else ""
        put(mapping, [("model", "class_map", str(PurePath(base) / _text(mapping.value)) if base else _text(mapping.value))])
    elif mapping is not None:
        skip(mapping, "empty: no class map")
    for used in (data, head):
        if used is not None:
            put(used, [])  # folders only complete the model / class map paths


def migrate(values: Iterable[OldValue]) -> Migration:
    """Map old values (later ones win) to validated station settings, naming what did not map."""
    table: dict[str, OldValue] = {}
    for v in values:
        table[v.key] = v  # later sources override earlier ones, as the old env over its TOML
    settings = Settings()
    changes: dict[str, dict[str, Any]] = {}
    mapped: list[str] = []
    unmapped: list[str] = []

    def put(old: OldValue, items: list[tuple[str, str, Any]]) -> None:
        nonlocal settings
        if not items:
            mapped.append(f"{old.where}: used with the settings it completes")
            return
        trial = settings
        try:
            for section, key, value in items:
                trial = trial.replace(section, **{key: value})  # type and range checked
        except ConfigError as exc:
            unmapped.append(f"{old.where}: could not map {old.value!r}: {exc}")
            return
        settings = trial
        for section, key, _ in items:
            changes.setdefault(section, {})[key] = getattr(getattr(settings, section), key)
        shown = ", ".join(f"[{s}] {k} = {v!r}" for s, k, v in items)
        mapped.append(f"{old.where}: {old.value!r} -> {shown}")

    def skip(old: OldValue, why: str) -> None:
        unmapped.append(f"{old.where}: {why}")

    if "TIMEOUT_MS" in table and "CAMERA_TIMEOUT" in table:
        # the adapter's own grab timeout beats the backend's HTTP timeout to it
        skip(table.pop("CAMERA_TIMEOUT"), "superseded by TIMEOUT_MS")
    _combined(table, put, skip)
    for key, old in table.items():
        if key in _COMBINED:
            continue
        if key in _NOT_NEEDED:
            skip(old, _NOT_NEEDED[key])
        elif key in _RULES and isinstance(old.value, str) and not old.value.strip():
            skip(old, "empty in the old settings: the station's default applies")
        elif key in _RULES:
            try:
                put(old, _RULES[key](old.value))
            except _Skip as why:
                skip(old, str(why))
            except ValueError as exc:
                skip(old, f"could not map: {exc}")
        else:
            skip(old, "unknown to the old system's documented settings; not mapped")
    return Migration(changes, mapped, unmapped)


def migration_toml(m: Migration, sources: Iterable[str] = ()) -> str:
    """The station settings TOML of a migration, with what was not mapped as comments."""
    head = ["# Station settings imported from the old system by `inspection-station import-old-config`."]
    head += [f"# source: {s}" for s in sources]
    head += [f"# not mapped: {line}" for line in m.unmapped]
    body = tomli_w.dumps({s: dict(sorted(v.items())) for s, v in sorted(m.changes.items())})
    return "\n".join(head) + "\n\n" + body
