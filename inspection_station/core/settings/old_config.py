"""The old system's settings -> station settings (`inspection-station import-old-config`).

The old services read environment variables (backend `BE_`, inference `IF_`, frontend
`FE_`, the camera adapter without prefix) over their `default_config.toml` files, whose
`[section] key` is the variable `SECTION_KEY` (so `[camera.image] rotation_angle` is
`CAMERA_IMAGE_ROTATION_ANGLE`). Every old value is read into one flat table of upper-case
keys, each remembering where it came from, then mapped through `_RULES`. What has no
station equivalent is named with the reason (an HTTP hop that no longer exists, a value the
station reads from the model itself, ...), never dropped silently.

Later sources win, for one old key and for old keys that set the same station key; every
value that lost is named with the one that won (`Migration.conflicts`). The old runtime had
one more rule that no file order reproduces: the old frontend sent its camera, image,
`pattern_key` and `min_score` values as query parameters with every request, and the old
backend and camera adapter used them over their own settings, for that frontend's requests
only. Where such a value meets another one, the report says which one the station got.
`${VAR}` / `$VAR` in a value (a docker-compose file's) is expanded from the given .env
files (and, with --environment, the environment), or named as unresolved. Secrets are
never written or printed: tokens become sha256 digests.
"""

from __future__ import annotations

import hashlib
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
SERVICES = {"BE": "backend", "IF": "inference", "FE": "frontend"}


@dataclass(frozen=True)
class OldValue:
    key: str  # upper case, service prefix removed
    value: Any
    where: str  # file:line, file: [section] key, or environment: NAME
    service: str = ""  # "frontend", "backend", "inference" (by prefix), "" = the camera adapter / unknown
    name: str = ""  # the variable's name as written (prefix kept): what ${NAME} refers to


@dataclass(frozen=True)
class Migration:
    changes: dict[str, dict[str, Any]]  # station section -> key -> value (validated)
    mapped: list[str] = field(default_factory=list)  # "where: OLD=value -> [section] key = value"
    unmapped: list[str] = field(default_factory=list)  # "where: OLD: why"
    conflicts: list[str] = field(default_factory=list)  # which value won over which, and why


# --- reading the old files ------------------------------------------------------------------


def _strip_prefix(name: str) -> str:
    upper = name.strip().upper()
    for prefix in SERVICE_PREFIXES:
        if upper.startswith(prefix):
            return upper[len(prefix):]
    return upper


def _service(name: str) -> str:
    return SERVICES.get(name.strip().upper()[:2], "") if name.strip().upper()[:3] in SERVICE_PREFIXES else ""


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
        values.append(OldValue(_strip_prefix(name), value, f"{p}:{number}: {name.strip()}", _service(name),
                               name.strip()))
    return values


def read_old_toml(path: str | Path) -> list[OldValue]:
    """An old `default_config.toml`: nested tables flattened to SECTION_SUB_KEY."""
    p = Path(path)
    try:
        data = tomllib.loads(read_text_limited(p, what="old TOML file", error=ConfigError))
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{p}: not valid TOML: {exc}") from None
    values: list[OldValue] = []
    service = SERVICES.get(str(data.get("prefix", "")).strip().upper(), "")  # the file's own env prefix

    def walk(table: Mapping, parts: list[str]) -> None:
        for key, value in table.items():
            if isinstance(value, Mapping):
                walk(value, [*parts, str(key)])
            elif parts or key.lower() != "prefix":  # the file's own env prefix is no setting
                dotted = ".".join(parts)
                where = f"{p}: [{dotted}] {key}" if parts else f"{p}: {key}"
                values.append(OldValue("_".join([*parts, str(key)]).upper(), value, where, service))

    walk(data, [])
    return values


def read_environment(env: Mapping[str, str] | None = None) -> list[OldValue]:
    """The old system's variables among the process environment (others are ignored)."""
    env = os.environ if env is None else env
    out = []
    for name, value in sorted(env.items()):
        key = _strip_prefix(name)
        if name.upper().startswith(SERVICE_PREFIXES) or key in _RULES or key in _NOT_NEEDED:
            out.append(OldValue(key, value, f"environment: {name}", _service(name), name))
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
            values.append(OldValue(_strip_prefix(name), value, f"{p}:{line}: {service_key.value}: {name}",
                                   _service(name), name))
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


_VARIABLE = re.compile(r"\$(?:\{(?P<braced>[A-Za-z_][A-Za-z0-9_]*)(?:(?P<op>:?-)(?P<default>[^}]*))?\}"
                       r"|(?P<plain>[A-Za-z_][A-Za-z0-9_]*)|(?P<dollar>\$))")


def variables_from(paths: Iterable[str | Path], environ: Mapping[str, str] | None = None) -> dict[str, str]:
    """What ${NAME} refers to: the NAME=VALUE pairs of the .env files among `paths` (names as
    written, prefixes kept), then `environ` (the environment, with --environment) over them."""
    variables: dict[str, str] = {}
    for path in paths:
        if Path(path).suffix.lower() not in (".toml", ".yml", ".yaml"):
            variables.update({v.name: str(v.value) for v in read_env_file(path)})
    variables.update(environ or {})
    return variables


def expand_variables(values: Iterable[OldValue], variables: Mapping[str, str]) -> tuple[list[OldValue], list[str]]:
    """`${VAR}`, `${VAR:-default}`, `${VAR-default}`, `$VAR` and `$$` in string values, as
    docker-compose expands them; a value naming an unset variable is left out and named."""
    out: list[OldValue] = []
    unresolved: list[str] = []
    for v in values:
        if not isinstance(v.value, str) or "$" not in v.value:
            out.append(v)
            continue
        missing: list[str] = []

        def sub(m: re.Match, missing=missing) -> str:
            if m.group("dollar"):
                return "$"
            name = m.group("braced") or m.group("plain")
            value = variables.get(name)
            if m.group("op") is not None and (value is None or (m.group("op") == ":-" and value == "")):
                return m.group("default")
            if value is None:
                missing.append(name)
                return m.group(0)
            return value

        expanded = _VARIABLE.sub(sub, v.value)
        if missing:
            unresolved.append(f"{v.where}: {v.value!r}: ${{{missing[0]}}} is not set in the given .env files"
                              f"{' or the environment' if len(missing) == 1 else ''}; not mapped")
        else:
            out.append(OldValue(v.key, expanded, v.where, v.service, v.name))
    return out, unresolved


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


def _log_level(v: Any) -> list[tuple[str, str, Any]]:
    t = _text(v).upper()
    level = {"WARN": "WARNING", "FATAL": "ERROR", "CRITICAL": "ERROR", "TRACE": "DEBUG"}.get(t, t)
    if level not in ("DEBUG", "INFO", "WARNING", "ERROR"):
        raise ValueError(f"expected DEBUG, INFO, WARNING, ERROR or FATAL, got {v!r}")
    return [("logging", "level", level)]


def token_digests(v: Any) -> list[str]:
    """The old ACCESS_TOKENS (one token, a list or comma-separated) as sha256 digests."""
    tokens = _list(v)
    if not tokens:
        raise ValueError("no token given")
    return [hashlib.sha256(t.encode("utf-8")).hexdigest() for t in tokens]


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


def _model_file(name: str) -> str:
    """The old inference server loaded `Path(name).with_suffix(".onnx")`: `model` was model.onnx."""
    return str(PurePath(name).with_suffix(".onnx")) if name else name


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
    # the backend's and frontend's [camera.image] tables (CAMERA_IMAGE_*): the same image processing
    "CAMERA_IMAGE_ROI_LEFT": _roi_edge("roi_left"),
    "CAMERA_IMAGE_ROI_TOP": _roi_edge("roi_top"),
    "CAMERA_IMAGE_ROI_RIGHT": _roi_edge("roi_right"),
    "CAMERA_IMAGE_ROI_BOTTOM": _roi_edge("roi_bottom"),
    "CAMERA_IMAGE_ROTATION_EXPAND": _to("camera", "rotation_expand", _bool),
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
    # frontend: the page's title (the window's here), the folder it saved overruled images to,
    # the pattern set it asked for with every request
    "GENERAL_TITLE": _to("station", "project_name"),
    "GENERAL_DATA_FOLDER": _to("results", "review_dir"),
    "BACKEND_PATTERN_KEY": _to("patterns", "active"),
    # every service
    "LOG_LEVEL": _log_level,
    "LOGGING_LEVEL": _log_level,
    "SSL_CERTIFICATE": _to("line", "tls_certificate"),
    "SSL_KEYFILE": _to("line", "tls_key"),
}
# Keys whose values the old frontend sent as query parameters with every request (the old
# backend and camera adapter used them over their own settings, for its requests only).
_FRONTEND_QUERY = frozenset({
    "CAMERA_SERIAL_NUMBER", "CAMERA_IP_ADDRESS", "CAMERA_SUBNET_MASK", "CAMERA_TRANSMISSION_TYPE",
    "CAMERA_DESTINATION_IP_ADDRESS", "CAMERA_DESTINATION_PORT", "CAMERA_PIXEL_TYPE", "CAMERA_CONVERT_TO_FORMAT",
    "CAMERA_IMAGE_FORMAT", "CAMERA_IMAGE_QUALITY", "CAMERA_IMAGE_ROTATION_ANGLE", "CAMERA_IMAGE_ROTATION_EXPAND",
    "BACKEND_PATTERN_KEY", "BACKEND_MIN_CONFIDENCE",
})
_SECRET = frozenset({"ACCESS_TOKENS", "BACKEND_AUTH_TOKEN"})

# Combined in _combined(): they decide together.
_COMBINED = ("GENERAL_SAVE_IMAGES", "GENERAL_SAVE_IMAGES_WITH_FAILED_PATTERN_CHECK",
             "MODEL_FILENAME", "MODEL_FOLDER_DATA", "MODEL_FOLDER_HEAD", "MODEL_MAPPING",
             "MODEL_TH_SCORE", "BACKEND_MIN_CONFIDENCE", "ACCESS_TOKENS", "BACKEND_AUTH_TOKEN")

_HTTP = "not needed: one process, no HTTP hop between camera, inference and backend"
_NOT_NEEDED: dict[str, str] = {
    "CAMERA_URL": _HTTP, "CAMERA_AUTH_TOKEN": _HTTP, "INFERENCE_URL": _HTTP, "INFERENCE_TIMEOUT": _HTTP,
    "INFERENCE_AUTH_TOKEN": _HTTP, "BACKEND_URL_BACKEND": _HTTP,
    "BACKEND_TIMEOUT": _HTTP, "FASTAPI_ROOT_PATH": _HTTP, "GENERAL_ROOT_PATH": _HTTP,
    "PREFIX": "not needed: the station's variables are INSPECTION_STATION_<SECTION>_<KEY>",
    "IMAGE_FORMAT": "not needed: frames are no longer JPEG-encoded between services (archive format: "
    "[results] image_format)",
    "IMAGE_QUALITY": "not needed: frames are no longer JPEG-encoded between services (archive quality: "
    "[results] image_quality)",
    "CAMERA_IMAGE_FORMAT": "not needed: frames are no longer encoded between services",
    "STREAMLIT_THEME_PRIMARY_COLOR": "not mapped: the station's colours are fixed for the line (theme)",
    "STREAMLIT_SERVER_HEADLESS": _HTTP, "STREAMLIT_SERVER_ENABLE_CORS": _HTTP,
    "STREAMLIT_SERVER_ENABLE_XSRF_PROTECTION": _HTTP,
    "GENERAL_URL_BACKEND": _HTTP,
    "TZ": "not mapped: the station writes local time with its UTC offset",
}


def _combined(table: dict[str, OldValue], history: dict[str, list[OldValue]], put: Callable[[OldValue, list], None],
              skip, note, mapped: list[str], set_directly) -> None:
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
        name = _model_file(_text(filename.value))
        put(filename, [("model", "path", str(PurePath(folder) / name) if folder else name)])
    mapping, head = table.get("MODEL_MAPPING"), table.get("MODEL_FOLDER_HEAD")
    if mapping is not None and _text(mapping.value):
        base = _text(head.value) if head is not None else ""
        put(mapping, [("model", "class_map", str(PurePath(base) / _text(mapping.value)) if base else _text(mapping.value))])
    elif mapping is not None:
        skip(mapping, "empty: no class map")
    for used in (data, head):
        if used is not None:
            put(used, [])  # folders only complete the model / class map paths

    # Both thresholds applied, one after the other: the inference server's, then the frontend's
    # min_score in the backend. The higher one decides which boxes the check saw.
    scores = [v for v in (table.get("MODEL_TH_SCORE"), table.get("BACKEND_MIN_CONFIDENCE")) if v is not None]
    parsed = []
    for v in scores:
        try:
            parsed.append((_number(v.value), v))
        except ValueError as exc:
            skip(v, f"could not map: {exc}")
    if parsed:
        value, winner = max(parsed, key=lambda p: p[0])
        put(winner, [("model", "confidence", value)])
        for _, other in parsed:
            if other is not winner:
                put(other, [])
        if len(parsed) > 1:
            note(f"[model] confidence = {value!r} from {winner.where}: the old system applied the inference "
                 "server's MODEL_TH_SCORE and then the frontend's min_score (BACKEND_MIN_CONFIDENCE); the higher decides")

    # The tokens the old services accepted (every service's ACCESS_TOKENS) and the one the old
    # frontend sent to the backend: the station accepts them (digests only), so old clients keep working.
    digests: list[str] = []
    for old in history.get("ACCESS_TOKENS", []):
        try:
            found = token_digests(old.value)
        except ValueError as exc:
            skip(old, f"could not map: {exc}")
            continue
        digests += [d for d in found if d not in digests]
        mapped.append(f"{old.where}: {len(found)} token(s) -> [line] api_token_sha256 (sha256 digests; "
                      "the tokens themselves are not written)")
    for old in history.get("BACKEND_AUTH_TOKEN", []):
        if _text(old.value):
            entry = f"old-frontend={hashlib.sha256(_text(old.value).encode()).hexdigest()}"
            if entry not in digests and not any(entry.endswith(d) for d in digests):
                digests.append(entry)
            mapped.append(f"{old.where}: the old frontend's token -> [line] api_token_sha256 as \"old-frontend=<sha256>\" "
                          "(with [line] legacy_api = true the old frontend calls the station unchanged)")
    if digests:
        set_directly("line", "api_token_sha256", digests)


def migrate(values: Iterable[OldValue]) -> Migration:
    """Map old values (later ones win) to validated station settings, naming what did not map
    and which value won where several set the same thing."""
    history: dict[str, list[OldValue]] = {}
    last: dict[str, int] = {}
    for n, v in enumerate(values):
        history.setdefault(v.key, []).append(v)
        last[v.key] = n
    # each old key once, its last value, in the order of those last values: later sources win
    table: dict[str, OldValue] = {k: history[k][-1] for k in sorted(history, key=last.__getitem__)}
    settings = Settings()
    changes: dict[str, dict[str, Any]] = {}
    mapped: list[str] = []
    unmapped: list[str] = []
    conflicts: list[str] = []
    setters: dict[tuple[str, str], list[tuple[OldValue, Any]]] = {}

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
            setters.setdefault((section, key), []).append((old, getattr(getattr(settings, section), key)))
        shown = ", ".join(f"[{s}] {k} = {v!r}" for s, k, v in items)
        mapped.append(f"{old.where}: {old.value!r} -> {shown}")

    def set_directly(section: str, key: str, value: Any) -> None:
        nonlocal settings
        settings = settings.replace(section, **{key: value})
        changes.setdefault(section, {})[key] = getattr(getattr(settings, section), key)

    def skip(old: OldValue, why: str) -> None:
        unmapped.append(f"{old.where}: {why}")

    if "TIMEOUT_MS" in table and "CAMERA_TIMEOUT" in table:
        # the adapter's own grab timeout beats the backend's HTTP timeout to it
        skip(table.pop("CAMERA_TIMEOUT"), "superseded by TIMEOUT_MS")
    _combined(table, history, put, skip, conflicts.append, mapped, set_directly)
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
    conflicts += _precedence(history, table, setters)
    return Migration(changes, mapped, unmapped, conflicts)


def _shown(old: OldValue) -> str:
    return "<a token>" if old.key in _SECRET else repr(old.value)


def _precedence(history, table, setters) -> list[str]:
    """Which value won, for one old key given twice and for old keys setting one station key."""
    out: list[str] = []
    for key, values in history.items():
        if key in _SECRET or key == "ACCESS_TOKENS":
            continue
        winner = table.get(key, values[-1])
        for lost in values[:-1]:
            if lost.value != winner.value:
                out.append(f"{lost.where}: {_shown(lost)} lost to {winner.where}: {_shown(winner)} (later sources win)"
                           + _query_note(lost, winner))
    for (section, key), contributions in setters.items():
        winner, value = contributions[-1]
        for lost, lost_value in contributions[:-1]:
            if lost.key != winner.key and lost_value != value:
                out.append(f"[{section}] {key} = {value!r} from {winner.where}, not {lost_value!r} from {lost.where} "
                           "(later sources win)" + _query_note(lost, winner))
    return out


def _query_note(lost: OldValue, winner: OldValue) -> str:
    query = [o for o in (lost, winner) if o.service == "frontend" and o.key in _FRONTEND_QUERY]
    if not query:
        return ""
    sent = query[0]
    other = winner if sent is lost else lost
    return (f"; the old runtime used {sent.where}'s value for the old frontend's requests (it sent it as a query "
            f"parameter with every request, over the others' settings) and {other.where}'s for other clients: "
            "the station has one value, give the files in another order to choose the other")


def migration_toml(m: Migration, sources: Iterable[str] = ()) -> str:
    """The station settings TOML of a migration, with what was not mapped as comments."""
    head = ["# Station settings imported from the old system by `inspection-station import-old-config`."]
    head += [f"# source: {s}" for s in sources]
    head += [f"# not mapped: {line}" for line in m.unmapped]
    head += [f"# precedence: {line}" for line in m.conflicts]
    body = tomli_w.dumps({s: dict(sorted(v.items())) for s, v in sorted(m.changes.items())})
    return "\n".join(head) + "\n\n" + body
