"""The plant's addresses and secrets: URLs from `[plant]`, passwords never from a settings file.

A password comes from the environment (`INSPECTION_STATION_PLANT_DATABASE_PASSWORD`,
`INSPECTION_STATION_PLANT_MQTT_PASSWORD`) or from a credentials file that only the station's
user can read (POSIX mode 0600 or stricter, owned by that user; refused otherwise: fail
closed). For the database, libpq's own PGPASSWORD and PGPASSFILE (~/.pgpass) also work.
A URL that carries a password is refused, so it can never end up in settings.toml.
"""

from __future__ import annotations

import os
import stat
import tomllib
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import parse_qs, unquote, urlsplit

from inspection_station.core import paths
from inspection_station.core.errors import ConfigError
from inspection_station.core.regular_files import require_regular
from inspection_station.core.text_files import read_text_limited

DATABASE_PASSWORD_ENV = "INSPECTION_STATION_PLANT_DATABASE_PASSWORD"
MQTT_PASSWORD_ENV = "INSPECTION_STATION_PLANT_MQTT_PASSWORD"
CREDENTIALS_NAME = "plant_credentials.toml"
SSLMODES = ("disable", "allow", "prefer", "require", "verify-ca", "verify-full")


@dataclass(frozen=True, slots=True)
class MqttAddress:
    host: str
    port: int
    tls: bool
    username: str

    def __str__(self) -> str:
        user = f"{self.username}@" if self.username else ""
        return f"{'mqtts' if self.tls else 'mqtt'}://{user}{self.host}:{self.port}"


def check_database_url(url: str) -> str:
    """`url` if it is a postgresql:// URL without a password (ConfigError, located, otherwise)."""
    where = "[plant] database_url"
    parts = urlsplit(url)
    if parts.scheme not in ("postgresql", "postgres"):
        raise ConfigError(f"{where}: expected postgresql://USER@HOST[:PORT]/DATABASE, got {redact(url)!r}")
    query = parse_qs(parts.query)
    if parts.password is not None or "password" in query:
        raise ConfigError(
            f"{where}: a password in the settings is refused; set {DATABASE_PASSWORD_ENV} or put "
            f"database_password in a credentials file readable by this user only (docs/plant_results.md)"
        )
    for mode in query.get("sslmode", []):
        if mode not in SSLMODES:
            raise ConfigError(f"{where}: sslmode {mode!r}: expected one of {', '.join(SSLMODES)}")
    try:
        parts.port  # noqa: B018 - raises ValueError for a port that is not a number
    except ValueError as exc:
        raise ConfigError(f"{where}: {exc}") from None
    return url


def parse_mqtt_url(url: str) -> MqttAddress:
    where = "[plant] mqtt_url"
    parts = urlsplit(url)
    if parts.scheme not in ("mqtt", "mqtts") or not parts.hostname:
        raise ConfigError(f"{where}: expected mqtt://[USER@]HOST[:PORT] or mqtts://..., got {redact(url)!r}")
    if parts.password is not None:
        raise ConfigError(
            f"{where}: a password in the settings is refused; set {MQTT_PASSWORD_ENV} or put mqtt_password "
            "in a credentials file readable by this user only (docs/plant_results.md)"
        )
    tls = parts.scheme == "mqtts"
    try:
        port = parts.port or (8883 if tls else 1883)
    except ValueError as exc:
        raise ConfigError(f"{where}: {exc}") from None
    return MqttAddress(parts.hostname, port, tls, unquote(parts.username or ""))


def redact(url: str) -> str:
    """The URL for messages and logs: any password replaced."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    netloc = parts.netloc.replace(f":{parts.password}@", ":***@", 1)
    return parts._replace(netloc=netloc).geturl()


def credentials_path(configured: str) -> Path | None:
    """The credentials file in use: the configured one (must exist), else the default one if present."""
    if configured:
        return Path(configured)
    default = paths.config_dir() / CREDENTIALS_NAME
    return default if default.exists() else None


def read_credentials(path: Path) -> dict[str, str]:
    """The file's keys (database_password, mqtt_password); refused unless only its owner may read it."""
    where = f"[plant] credentials_file {path}"
    info = require_regular(path, "plant credentials file", ConfigError)  # a FIFO or device: never opened
    if os.name == "posix":  # on Windows the user's profile folder's ACL keeps it private
        if info.st_mode & 0o077:
            raise ConfigError(
                f"{where}: readable by others (mode {stat.S_IMODE(info.st_mode):04o}); refused: "
                f"run chmod 600 {path}"
            )
        if info.st_uid != os.getuid():
            raise ConfigError(f"{where}: owned by uid {info.st_uid}, not by this user (uid {os.getuid()}); refused")
    text = read_text_limited(path, 64 << 10, "credentials file", ConfigError)
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{where}: not valid TOML: {exc}") from None
    known = {"database_password", "mqtt_password"}
    for key, value in data.items():
        if key not in known:
            raise ConfigError(f"{where}: unknown key {key!r} (expected {', '.join(sorted(known))})")
        if not isinstance(value, str):
            raise ConfigError(f"{where}: {key}: expected text")
    return data


def secret(key: str, env_name: str, credentials_file: str, env=None) -> str | None:
    """A password: the environment first, then the credentials file; None when neither has it."""
    env = os.environ if env is None else env
    if env.get(env_name):
        return env[env_name]
    path = credentials_path(credentials_file)
    if path is None:
        return None
    return read_credentials(path).get(key)
