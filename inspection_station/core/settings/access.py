"""Engineer access: a salted scrypt password hash kept in the settings.

Operators see no settings; an engineer unlocks them with a password that is set on
first use. Only the hash is stored, as one string in
`StationSettings.engineer_password_hash`:

    scrypt$<n>$<r>$<p>$<salt base64>$<hash base64>

The cost parameters travel with the hash, so they can be raised later without
invalidating existing passwords.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets

from inspection_station.core.errors import StationError
from inspection_station.core.settings.model import Settings

SCHEME = "scrypt"
# n=2**14, r=8 is the interactive-login cost recommended for scrypt (~16 MiB, tens of ms).
DEFAULT_N = 2**14
DEFAULT_R = 8
DEFAULT_P = 1
SALT_BYTES = 16
HASH_BYTES = 32
MIN_PASSWORD_LENGTH = 4


class AccessError(StationError):
    """A password could not be set or changed (the message says why)."""


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def _derive(password: str, salt: bytes, n: int, r: int, p: int, length: int) -> bytes:
    # maxmem above the default 32 MiB so somewhat higher cost parameters still work
    return hashlib.scrypt(password.encode("utf-8"), salt=salt, n=n, r=r, p=p, dklen=length, maxmem=256 * 2**20)


def hash_password(password: str, *, n: int = DEFAULT_N, r: int = DEFAULT_R, p: int = DEFAULT_P) -> str:
    """A new salted hash string for `password` (refuses passwords that are too short)."""
    check_new_password(password)
    salt = secrets.token_bytes(SALT_BYTES)
    digest = _derive(password, salt, n, r, p, HASH_BYTES)
    return f"{SCHEME}${n}${r}${p}${_b64(salt)}${_b64(digest)}"


def check_new_password(password: str) -> None:
    if len(password) < MIN_PASSWORD_LENGTH:
        raise AccessError(f"the password must have at least {MIN_PASSWORD_LENGTH} characters")


def is_password_set(stored: str) -> bool:
    return bool(stored.strip())


def verify_password(password: str, stored: str) -> bool:
    """True when `password` matches `stored`; a malformed or empty hash never matches."""
    try:
        scheme, n, r, p, salt_b64, hash_b64 = stored.strip().split("$")
        if scheme != SCHEME:
            return False
        salt = base64.b64decode(salt_b64, validate=True)
        expected = base64.b64decode(hash_b64, validate=True)
        digest = _derive(password, salt, int(n), int(r), int(p), len(expected))
    except (ValueError, TypeError, MemoryError):
        return False
    # constant time: the comparison does not reveal how many leading bytes matched
    return hmac.compare_digest(digest, expected)


def set_initial_password(settings: Settings, password: str, confirm: str) -> Settings:
    """First use: settings with the password's hash (refused once a password exists)."""
    if is_password_set(settings.station.engineer_password_hash):
        raise AccessError("a password is already set; change it with the current password")
    if password != confirm:
        raise AccessError("the two passwords differ")
    return settings.replace("station", engineer_password_hash=hash_password(password))


def change_password(settings: Settings, current: str, new: str, confirm: str) -> Settings:
    """Settings with a new password hash, after checking the current password."""
    if not verify_password(current, settings.station.engineer_password_hash):
        raise AccessError("the current password is wrong")
    if new != confirm:
        raise AccessError("the two new passwords differ")
    return settings.replace("station", engineer_password_hash=hash_password(new))
