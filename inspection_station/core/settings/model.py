"""Station settings: bundled defaults TOML + the user's TOML + environment overrides.

One typed model (a frozen dataclass per section) for the whole station, as the old
system had one `default_config.toml` per service. Precedence, lowest first:

1. `resources/default_config.toml` (shipped with the app)
2. the station's file (`settings.toml` in the data root, core/paths.py), or `--config F`
3. environment variables `INSPECTION_STATION_<SECTION>_<KEY>` (for IT and tests)

Loading is tolerant by default ("never block the station from starting because of
a settings file"): a wrong value is reported with file, key and what was expected,
and the default is used instead. `strict=True` turns those reports into a ConfigError.
"""

from __future__ import annotations

import dataclasses
import math
import os
import tomllib
import types
import typing
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

import tomli_w

from inspection_station.core import paths
from inspection_station.core.atomic import atomic_write_text, remove_stale_temp_files
from inspection_station.core.errors import ConfigError
from inspection_station.core.text_files import read_text_limited

ENV_PREFIX = "INSPECTION_STATION_"
USER_CONFIG_NAME = "settings.toml"


def _choice(default: str | int, *choices: str | int):
    return field(default=default, metadata={"choices": choices})


def _ranged(default, lo=None, hi=None):
    return field(default=default, metadata={"min": lo, "max": hi})


@dataclass(frozen=True)
class CameraSettings:
    source: str = _choice("pylon", "pylon", "folder")
    serial: str = ""  # pick a device by serial number ...
    ip_address: str = ""  # ... or by GigE IP address; else the first device
    subnet_mask: str = ""
    emulation: bool = True  # fall back to Basler's emulator when no device is found
    emulation_image_dir: str = ""  # folder the emulator serves; "" = the bundled demo images
    image_folder: str = ""  # source = "folder": replay these files in order, looping
    pixel_format: str = ""  # "" = the camera's current format
    output_format: str = _choice("RGB", "RGB", "BGR", "Mono")
    exposure_us: float = _ranged(0.0, 0.0)  # 0 = leave the camera's value
    gain: float = _ranged(-1.0, -1.0)  # negative = leave the camera's value
    grab_timeout_ms: int = _ranged(2000, 10, 600_000)
    trigger_mode: str = _choice("software", "software", "hardware", "continuous")
    trigger_line: str = _choice("Line1", "Line1", "Line2", "Line3", "Line4")
    trigger_edge: str = _choice("RisingEdge", "RisingEdge", "FallingEdge")
    transmission_type: str = _choice("", "", "Unicast", "Multicast", "LimitedBroadcast", "SubnetDirectedBroadcast")
    destination_address: str = ""
    destination_port: int = _ranged(0, 0, 65535)
    packet_size: int = _ranged(0, 0, 16404)  # 0 = leave the camera's value
    rotation_deg: float = _ranged(0.0, -360.0, 360.0)
    roi_unit: str = _choice("fraction", "fraction", "px")
    roi_x: float = _ranged(0.0, 0.0)
    roi_y: float = _ranged(0.0, 0.0)
    roi_width: float = _ranged(0.0, 0.0)  # 0 = to the right edge
    roi_height: float = _ranged(0.0, 0.0)  # 0 = to the bottom edge
    # The old camera adapter's ROI: four edges, each <= 1 a fraction of the frame, else pixels;
    # right/bottom 0 = to the edge. Use either these or roi_x/y/width/height, not both.
    roi_left: float = _ranged(0.0, 0.0)
    roi_top: float = _ranged(0.0, 0.0)
    roi_right: float = _ranged(0.0, 0.0)
    roi_bottom: float = _ranged(0.0, 0.0)
    roi_before_rotation: bool = False  # crop the raw frame, then rotate (the old adapter's order)
    rotation_expand: bool = False  # angles off 90 degrees: grow the frame to keep the corners
    # Shrink frames by this factor towards the model's resolution (the model letterboxes to
    # 640 px anyway): "camera" bins on the sensor (BinningHorizontal/Vertical; less data on the
    # link), "software" averages factor x factor pixels (INTER_AREA) before rotation and ROI.
    # Pattern coordinates are fractions of the frame, so they need no change; px ROIs refer
    # to the binned frame.
    binning: int = _choice(1, 1, 2, 4)
    binning_mode: str = _choice("software", "software", "camera")
    frame_rate_limit: float = _ranged(0.0, 0.0, 10_000.0)  # frames per second the camera may send; 0 = its own
    # Replayed test images (source = "folder"): files or globs, in addition to image_folder
    test_images: list[str] = field(default_factory=list)
    test_image_order: str = _choice("sequential", "sequential", "random")
    reconnect_min_s: float = _ranged(0.5, 0.05, 60.0)
    reconnect_max_s: float = _ranged(10.0, 0.1, 600.0)
    # image files (replay, emulator) declaring more pixels are refused before decoding
    max_image_pixels: int = _ranged(250_000_000, 1, 2_000_000_000)


@dataclass(frozen=True)
class ModelSettings:
    path: str = ""  # "" = the bundled demo model
    # which engine runs the model (core/detect/runtimes.py): onnxruntime with `providers`,
    # or Intel's OpenVINO runtime itself (the `openvino` extra) on the CPU
    runtime: str = _choice("onnxruntime", "onnxruntime", "openvino")
    # OpenVINO's inference precision: f32 exactly as exported (OpenVINO would pick bf16 by
    # itself on AMX CPUs); bf16/f16 only where the CPU has AMX / AVX-512-FP16 (`model optimize`)
    openvino_precision: str = _choice("f32", "f32", "bf16", "f16")
    providers: list[str] = field(
        default_factory=lambda: [
            "DmlExecutionProvider",
            "CUDAExecutionProvider",
            "OpenVINOExecutionProvider",
            "CPUExecutionProvider",
        ]
    )
    input_width: int = _ranged(640, 32, 8192)  # fallback for models with dynamic input size
    input_height: int = _ranged(640, 32, 8192)
    confidence: float = _ranged(0.25, 0.0, 1.0)
    iou: float = _ranged(0.45, 0.0, 1.0)
    max_detections: int = _ranged(300, 1, 100_000)
    intra_op_threads: int = _ranged(0, 0, 256)  # 0 = onnxruntime's default: one per physical core
    # inference threads busy-waiting between runs: "auto" = off while a GUI runs (the GUI
    # thread and the camera keep their CPU), on headless; OpenVINO: pinning to cores likewise
    spinning: str = _choice("auto", "auto", "on", "off")
    # onnxruntime's graph optimisation level; the optimised graph is cached in the user
    # data folder (keyed by the model's hash, the level, onnxruntime and the CPU)
    graph_optimization: str = _choice("all", "disabled", "basic", "extended", "all")
    cache_optimized: bool = True
    class_names: list[str] = field(default_factory=list)  # overrides the model's names
    class_colors: list[str] = field(default_factory=list)  # "#rrggbb" per class id
    class_map: str = ""  # the old backend's CSV id,name,color; class_names/class_colors win over it


@dataclass(frozen=True)
class PatternSettings:
    path: str = ""  # a pattern file or a folder of them; "" = the bundled demo patterns
    active: str = ""  # pattern set (file stem) to use; "" = the first


@dataclass(frozen=True)
class ResultsSettings:
    log_dir: str = ""  # "" = <user data>/results
    image_dir: str = ""  # "" = <user data>/images
    review_dir: str = ""  # "" = <user data>/review (operator overrules)
    archive: str = _choice("failed", "all", "every_n", "failed", "none", "every_n_and_failed")
    archive_every_n: int = _ranged(10, 1, 1_000_000)
    image_format: str = _choice("jpg", "jpg", "png", "webp")
    image_quality: int = _ranged(90, 1, 100)
    archive_queue_size: int = _ranged(8, 1, 1000)  # images waiting for the writer; beyond: dropped, reported
    statistics_window: int = _ranged(1000, 10, 1_000_000)  # cycles the cycle-time percentiles cover


@dataclass(frozen=True)
class StationSettings:
    name: str = "station-1"
    pedal_key: str = "F12"  # Qt key name a USB foot pedal types
    kiosk: bool = False
    history_size: int = _ranged(50, 1, 10_000)
    project_name: str = "Inspection Station"  # About box (the old frontend's fields)
    author: str = ""
    status: str = ""
    link: str = ""
    info_text: str = ""
    engineer_password_hash: str = ""  # legacy single password: migrated into the accounts store
    # "overlapped": the camera grabs part n+1 and the log writes row n-1 while the model runs
    # on part n (core/overlap.py), for line rate; read at the station's start
    cycle: str = _choice("sequential", "sequential", "overlapped")


ROLE_CHOICES = ("operator", "engineer", "admin")


@dataclass(frozen=True)
class AccessSettings:
    """Which role each guarded action needs (accounts live apart, see settings/accounts.py)."""

    settings_role: str = _choice("engineer", *ROLE_CHOICES)
    patterns_role: str = _choice("engineer", *ROLE_CHOICES)
    product_switch_role: str = _choice("operator", *ROLE_CHOICES)  # operator: anyone, audited
    reset_shift_role: str = _choice("engineer", *ROLE_CHOICES)
    overrule_role: str = _choice("operator", *ROLE_CHOICES)  # "wrong verdict": anyone, audited
    hold_role: str = _choice("engineer", *ROLE_CHOICES)  # put the station on hold (triggers refused)
    idle_lock_s: float = _ranged(300.0, 10.0, 86_400.0)  # an engineer session locks after this
    max_failed_logins: int = _ranged(5, 1, 100)  # then the account is locked until an admin unlocks
    login_delay_s: float = _ranged(1.0, 0.0, 60.0)  # wait after a failure, doubling per failure


@dataclass(frozen=True)
class PartIdSettings:
    """Traceability: which part a cycle inspected (serial / DMC)."""

    source: str = _choice("none", "none", "scanner", "image", "scanner_or_image")
    policy: str = _choice("optional", "optional", "required")  # required + missing = ERROR
    inspect_on_scan: bool = False  # a scanned id (Enter) also starts the cycle
    formats: list[str] = field(default_factory=lambda: ["DataMatrix", "QRCode", "Code128"])
    region_x: float = _ranged(0.0, 0.0, 1.0)  # where the code is printed, fractions of the frame
    region_y: float = _ranged(0.0, 0.0, 1.0)
    region_width: float = _ranged(0.0, 0.0, 1.0)  # 0 = to the right edge
    region_height: float = _ranged(0.0, 0.0, 1.0)  # 0 = to the bottom edge


@dataclass(frozen=True)
class RetentionSettings:
    """Archived images: deleted by age and/or disk quota, oldest first (never review/)."""

    max_age_days: int = _ranged(0, 0, 36_500)  # 0 = no age limit
    quota_mb: float = _ranged(0.0, 0.0)  # 0 = no quota
    check_interval_s: float = _ranged(600.0, 1.0, 86_400.0)
    low_disk_mb: float = _ranged(1024.0, 0.0)  # warn on screen below this much free space


@dataclass(frozen=True)
class LoggingSettings:
    level: str = _choice("INFO", "DEBUG", "INFO", "WARNING", "ERROR")
    max_kb: int = _ranged(5120, 16, 1_000_000)  # one file; then rotated
    backups: int = _ranged(5, 1, 100)


@dataclass(frozen=True)
class LineSettings:
    """Line integration (core/line/): all off by default; nothing listens unless enabled."""

    api_enabled: bool = False  # the HTTP API (trigger, results, images, /metrics)
    api_host: str = "127.0.0.1"  # any other address needs api_token_sha256
    api_port: int = _ranged(8080, 0, 65535)
    metrics_enabled: bool = False  # /metrics on its own port (the API serves it too)
    metrics_host: str = "127.0.0.1"
    metrics_port: int = _ranged(9464, 0, 65535)
    # sha256 hex digests of the accepted bearer tokens (`inspection-station serve --new-token`),
    # plain or named: "mes=<digest>" (the name is the actor in the audit trail)
    api_token_sha256: list[str] = field(default_factory=list)
    # the role a request acts with (the token's name is the audit's actor): product switch etc.
    # are checked against [access] like a person's; raise it to let the API do more
    api_role: str = _choice("operator", *ROLE_CHOICES)
    max_upload_mb: float = _ranged(40.0, 0.1, 1000.0)  # image upload body limit (POST /inspect/image)
    max_json_mb: float = _ranged(8.0, 0.01, 100.0)  # JSON body limit (POST /check, PUT /product)
    # The server's bounds (core/line/server.py): connections, requests, and how long a client
    # may take to send a request's head (TLS handshake included) and its body
    max_connections: int = _ranged(64, 1, 10_000)
    max_requests_in_flight: int = _ranged(32, 1, 10_000)
    header_timeout_s: float = _ranged(10.0, 0.1, 600.0)
    body_timeout_s: float = _ranged(60.0, 0.1, 3600.0)
    keep_alive_s: float = _ranged(5.0, 0.1, 600.0)  # an idle kept-alive connection is closed after this
    upload_queue: int = _ranged(2, 1, 100)  # uploads decoded / inspected or waiting; more: 503
    log_uploads: bool = False  # uploaded images' verdicts also as CSV rows (trigger "upload")
    # Browser safety: Host names accepted besides loopback names, IP literals and this
    # machine's name; origins allowed to call (CORS, and state-changing requests)
    allowed_hosts: list[str] = field(default_factory=list)
    cors_origins: list[str] = field(default_factory=list)
    tls_certificate: str = ""  # PEM certificate (chain) file: the API and metrics serve HTTPS
    tls_key: str = ""  # its PEM private key ("" = in the certificate file)
    allow_plain_http: bool = False  # tokens over plain HTTP off loopback: only when set
    legacy_api: bool = False  # the old backend's routes (/main/with-camera, /check-pattern, ...)
    plc_enabled: bool = False  # station signals on the camera's digital outputs
    # "SIGNAL=LINE:USEROUTPUT[:pulse=MS][:inverted]", SIGNAL in READY BUSY OK NOK ERROR,
    # e.g. "OK=Line2:UserOutput1:pulse=200" (docs/plant_integration.md)
    plc_outputs: list[str] = field(default_factory=list)
    # OPC UA server after OPC 40100 Machine Vision (core/line/opcua/; docs/plant_integration.md):
    # off by default; the None security policy is offered only on loopback
    opcua_enabled: bool = False
    opcua_host: str = "127.0.0.1"
    opcua_port: int = _ranged(4840, 0, 65535)
    opcua_pki_dir: str = ""  # "" = <data root>/opcua (own certificate, trusted/ and rejected/ clients)
    # Recipe selection by the PLC on the camera's inputs (core/line/recipe_lines.py): a number
    # binary-coded on recipe_lines (bit 0 first), latched by recipe_strobe's rising edge ("" =
    # at each trigger), looked up in recipe_table ("NUMBER=RECIPE")
    recipe_select_enabled: bool = False
    recipe_lines: list[str] = field(default_factory=list)
    recipe_strobe: str = ""
    recipe_table: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class PlantSettings:
    """Plant-wide results (core/line/plant/): every row to the plant's PostgreSQL and MQTT
    broker through a local outbox. Off while both URLs are empty. Passwords are never here:
    environment or a user-only credentials file (docs/plant_results.md)."""

    database_url: str = ""  # postgresql://USER@HOST[:PORT]/DB[?sslmode=verify-full&sslrootcert=F]
    mqtt_url: str = ""  # mqtt://[USER@]HOST[:1883] or mqtts://[USER@]HOST[:8883]
    line: str = "line-1"  # the production line: MQTT topic <prefix>/<line>/<station>/..., a database column
    mqtt_prefix: str = "inspection"
    mqtt_ca_file: str = ""  # mqtts: the CA that signed the broker's certificate ("" = the system's)
    mqtt_client_cert: str = ""  # mqtts with client certificates (PEM), else ""
    mqtt_client_key: str = ""
    credentials_file: str = ""  # "" = <user config>/plant_credentials.toml when it exists
    image_base_url: str = ""  # e.g. "http://10.0.3.7:8080": rows get <base>/results/<cycle id>/image
    outbox_dir: str = ""  # "" = <user data>/outbox
    outbox_max_rows: int = _ranged(200_000, 10, 100_000_000)  # beyond: the oldest rows dropped, counted
    outbox_max_age_h: float = _ranged(168.0, 0.01, 87_600.0)  # older rows dropped, counted
    low_buffer_fraction: float = _ranged(0.8, 0.01, 1.0)  # LOW BUFFER from this share of either bound
    batch_rows: int = _ranged(100, 1, 10_000)  # rows per database transaction / MQTT burst
    retry_min_s: float = _ranged(0.5, 0.05, 600.0)  # reconnect back-off, doubling up to retry_max_s
    retry_max_s: float = _ranged(30.0, 0.1, 3600.0)
    connect_timeout_s: float = _ranged(5.0, 0.5, 120.0)
    shifts: list[str] = field(default_factory=lambda: ["06:00", "14:00", "22:00"])  # starts, for `plant report`


@dataclass(frozen=True)
class Settings:
    camera: CameraSettings = field(default_factory=CameraSettings)
    model: ModelSettings = field(default_factory=ModelSettings)
    patterns: PatternSettings = field(default_factory=PatternSettings)
    results: ResultsSettings = field(default_factory=ResultsSettings)
    station: StationSettings = field(default_factory=StationSettings)
    access: AccessSettings = field(default_factory=AccessSettings)
    part_id: PartIdSettings = field(default_factory=PartIdSettings)
    retention: RetentionSettings = field(default_factory=RetentionSettings)
    logging: LoggingSettings = field(default_factory=LoggingSettings)
    line: LineSettings = field(default_factory=LineSettings)
    plant: PlantSettings = field(default_factory=PlantSettings)

    def replace(self, section: str, **changes) -> Settings:
        """A copy with some keys of one section changed (values validated)."""
        current = getattr(self, section)
        cls = type(current)
        fields = {f.name: f for f in dataclasses.fields(cls)}
        checked = {}
        for key, value in changes.items():
            if key not in fields:
                raise ConfigError(f"[{section}] has no key {key!r}")
            checked[key] = _coerce(cls, fields[key], value, f"[{section}] {key}")
        return dataclasses.replace(self, **{section: dataclasses.replace(current, **checked)})

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)


SECTIONS: dict[str, type] = typing.get_type_hints(Settings)
# resolved field types per section (annotations are strings under `from __future__`)
_HINTS: dict[type, dict[str, object]] = {cls: typing.get_type_hints(cls) for cls in SECTIONS.values()}


@dataclass(frozen=True)
class LoadedSettings:
    settings: Settings
    warnings: list[str]  # what was ignored, each located (file, key, expectation)
    files: list[Path]  # the files that were read, lowest precedence first
    user_file: Path  # where save_settings writes
    # Why the user's file must not be saved over ("" = it may): it exists but does not
    # parse, so the station runs on defaults and a save would destroy the user's values.
    read_only: str = ""


def default_config_path() -> Path:
    return paths.resources_dir() / "default_config.toml"


def user_config_path() -> Path:
    return paths.config_dir() / USER_CONFIG_NAME


def _coerce(cls: type, f: dataclasses.Field, value, where: str):
    """Check and convert one value; raise ConfigError naming `where` and the expectation."""
    typ = _HINTS[cls][f.name]
    origin = typing.get_origin(typ)
    if origin in (list, typing.List):  # noqa: UP006
        if isinstance(value, str):  # env overrides: comma-separated
            value = [v.strip() for v in value.split(",") if v.strip()]
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise ConfigError(f"{where}: expected a list of strings, got {value!r}")
        return list(value)
    if origin in (typing.Union, types.UnionType):
        typ = next(a for a in typing.get_args(typ) if a is not type(None))
    if typ is bool:
        if isinstance(value, str) and value.strip().lower() in ("1", "true", "yes", "on"):
            value = True
        elif isinstance(value, str) and value.strip().lower() in ("0", "false", "no", "off"):
            value = False
        if not isinstance(value, bool):
            raise ConfigError(f"{where}: expected true or false, got {value!r}")
    elif typ is int:
        try:
            if isinstance(value, bool) or (isinstance(value, float) and not value.is_integer()):
                raise ValueError
            value = int(value)
        except (TypeError, ValueError):
            raise ConfigError(f"{where}: expected a whole number, got {value!r}") from None
    elif typ is float:
        try:
            if isinstance(value, bool):
                raise ValueError
            value = float(value)
        except (TypeError, ValueError, OverflowError):
            raise ConfigError(f"{where}: expected a number, got {value!r}") from None
        if not math.isfinite(value):  # nan passes every comparison below: refuse it here
            raise ConfigError(f"{where}: expected a finite number, got {value!r}")
    elif typ is str and not isinstance(value, str):
        raise ConfigError(f"{where}: expected text, got {value!r}")
    choices = f.metadata.get("choices")
    if choices and value not in choices:
        raise ConfigError(f"{where}: expected one of {', '.join(repr(c) for c in choices)}, got {value!r}")
    lo, hi = f.metadata.get("min"), f.metadata.get("max")
    if lo is not None and value < lo:
        raise ConfigError(f"{where}: expected at least {lo}, got {value!r}")
    if hi is not None and value > hi:
        raise ConfigError(f"{where}: expected at most {hi}, got {value!r}")
    return value


MAX_SETTINGS_BYTES = 1 << 20  # a real settings file is a few kB


def _read_toml(path: Path) -> dict:
    text = read_text_limited(path, MAX_SETTINGS_BYTES, "settings file", ConfigError)
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: not valid TOML: {exc}") from None
    except RecursionError:  # deeply nested inline tables/arrays
        raise ConfigError(f"{path}: not valid TOML: nested too deeply") from None


def _default(f: dataclasses.Field):
    if f.default is dataclasses.MISSING and f.default_factory is not dataclasses.MISSING:
        return f.default_factory()
    return f.default


def _apply(values: dict[str, dict], data: Mapping, origin: str, problems: list[str]) -> None:
    for section, table in data.items():
        if section not in SECTIONS:
            problems.append(f"{origin}: unknown section [{section}] ignored (expected one of {', '.join(SECTIONS)})")
            continue
        if not isinstance(table, Mapping):
            problems.append(f"{origin}: [{section}] must be a table, got {table!r}; ignored")
            continue
        fields = {f.name: f for f in dataclasses.fields(SECTIONS[section])}
        for key, value in table.items():
            if key not in fields:
                problems.append(f"{origin}: [{section}] unknown key {key!r} ignored")
                continue
            try:
                values[section][key] = _coerce(SECTIONS[section], fields[key], value, f"{origin}: [{section}] {key}")
            except ConfigError as exc:
                problems.append(f"{exc}; using {values[section].get(key, _default(fields[key]))!r}")


# Variables with our prefix that are not settings (read elsewhere, never warned about).
NON_SETTING_ENV = paths.NON_SETTING_ENV | {  # ours, not settings: the bundle and data roots, and
    # the plant's secrets come from the environment, never from a settings file
    "INSPECTION_STATION_PLANT_DATABASE_PASSWORD",
    "INSPECTION_STATION_PLANT_MQTT_PASSWORD",
}


def _env_table(env: Mapping[str, str], problems: list[str] | None = None) -> dict[str, dict[str, str]]:
    table: dict[str, dict[str, str]] = {}
    for name, value in env.items():
        if not name.startswith(ENV_PREFIX) or name in NON_SETTING_ENV:
            continue
        rest = name[len(ENV_PREFIX):].lower()
        for section in SECTIONS:
            if rest.startswith(section + "_"):
                table.setdefault(section, {})[rest[len(section) + 1:]] = value
                break
        else:  # a typo in a variable name would otherwise change nothing, silently
            if problems is not None:
                problems.append(
                    f"environment: {name} is not a setting (expected {ENV_PREFIX}<SECTION>_<KEY> "
                    f"with SECTION one of {', '.join(s.upper() for s in SECTIONS)}); ignored"
                )
    return table


def settings_file_problem(path: str | Path) -> str:
    """Why the settings file at `path` must not be overwritten ("" = absent or parses)."""
    p = Path(path)
    if not p.exists():
        return ""
    if not p.is_file():
        return f"{p}: is not a file (expected a settings TOML file)"
    try:
        _read_toml(p)
    except ConfigError as exc:
        return str(exc)
    return ""


def load_settings(
    config_file: str | Path | None = None,
    *,
    env: Mapping[str, str] | None = None,
    strict: bool = False,
) -> LoadedSettings:
    """Defaults + user file (or `config_file`) + environment, validated and located."""
    env = os.environ if env is None else env
    values: dict[str, dict] = {name: {} for name in SECTIONS}
    problems: list[str] = []
    files: list[Path] = []

    default_file = default_config_path()
    if default_file.is_file():
        _apply(values, _read_toml(default_file), str(default_file), problems)
        files.append(default_file)

    user_file = Path(config_file) if config_file else user_config_path()
    remove_stale_temp_files(user_file)  # leftovers of a save that a crash interrupted
    read_only = ""
    if user_file.is_file():
        try:
            _apply(values, _read_toml(user_file), str(user_file), problems)
            files.append(user_file)
        except ConfigError as exc:
            read_only = str(exc)
            problems.append(
                f"{exc}; the whole file was ignored, running on defaults "
                "(it is not saved over until it is fixed or replaced)"
            )
    elif user_file.exists():
        read_only = f"{user_file}: is not a file (expected a settings TOML file)"
        problems.append(f"{read_only}; running on defaults")
    elif config_file:
        problems.append(f"{user_file}: no such settings file; running on defaults")

    _apply(values, _env_table(env, problems), "environment", problems)

    if strict and problems:
        raise ConfigError("; ".join(problems))
    sections = {name: SECTIONS[name](**values[name]) for name in SECTIONS}
    settings = Settings(**sections)
    problems += _missing_paths(settings)
    return LoadedSettings(settings, problems, files, user_file, read_only)


def _missing_paths(settings: Settings) -> list[str]:
    """Configured files and folders that are not there: said at start, not at the first cycle."""
    wanted = [("model", "path", settings.model.path, "model file"),
              ("patterns", "path", settings.patterns.path, "pattern file or folder"),
              ("camera", "emulation_image_dir", settings.camera.emulation_image_dir, "folder")]
    if settings.camera.source == "folder":
        wanted.append(("camera", "image_folder", settings.camera.image_folder, "folder"))
    return [
        f"[{section}] {key}: no such {what} {value!r}"
        for section, key, value, what in wanted
        if value and not Path(value).exists()
    ]


def settings_to_toml(settings: Settings) -> str:
    return tomli_w.dumps(settings.to_dict())


def save_settings(settings: Settings, path: str | Path | None = None) -> Path:
    """Write the whole settings atomically, keeping the previous file as `.bak`.

    Refused (ConfigError, file untouched) while the file there does not parse: the
    station then runs on defaults, and saving them would destroy the user's values.
    """
    target = Path(path) if path else user_config_path()
    problem = settings_file_problem(target)
    if problem:
        raise ConfigError(f"{problem}; not saved over it: fix or replace the file first")
    return atomic_write_text(target, settings_to_toml(settings))


# --- resolved locations (the "" defaults point at bundled or per-user folders) -----------


def resolve_model_path(model: ModelSettings) -> Path:
    return Path(model.path) if model.path else paths.models_dir() / "demo_parts.onnx"


def resolve_patterns_path(patterns: PatternSettings) -> Path:
    return Path(patterns.path) if patterns.path else paths.station_patterns_dir()


def resolve_emulation_image_dir(camera: CameraSettings) -> Path:
    return Path(camera.emulation_image_dir) if camera.emulation_image_dir else paths.resources_dir() / "demo_images"


def resolve_results_dirs(results: ResultsSettings) -> tuple[Path, Path, Path]:
    """(log_dir, image_dir, review_dir)."""
    data = paths.station_data_dir()
    return (
        Path(results.log_dir) if results.log_dir else data / "results",
        Path(results.image_dir) if results.image_dir else data / "images",
        Path(results.review_dir) if results.review_dir else data / "review",
    )


def demo_settings(settings: Settings) -> Settings:
    """The embedded demo: emulated camera serving the demo images, bundled model and pattern."""
    settings = settings.replace(
        "camera",
        source="pylon",
        serial=DEMO_CAMERA_SERIAL,
        ip_address="",
        emulation=True,
        emulation_image_dir="",
        pixel_format="",
        trigger_mode="software",
        rotation_deg=0.0,
        roi_x=0.0,
        roi_y=0.0,
        roi_width=0.0,
        roi_height=0.0,
        roi_left=0.0,
        roi_top=0.0,
        roi_right=0.0,
        roi_bottom=0.0,
        roi_before_rotation=False,
        rotation_expand=False,
    )
    return settings.replace("model", path="").replace("patterns", path="", active="")


# The first camera of Basler's emulator; selecting it by serial keeps the demo on the
# emulator even where a real camera is plugged in.
DEMO_CAMERA_SERIAL = "0815-0000"
