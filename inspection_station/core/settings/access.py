"""Engineer access: a salted scrypt password hash kept in the settings.

Operators see no settings; an engineer unlocks them with a password that is set on
first use. Only the hash is stored, as one string in
`StationSettings.engineer_password_hash`:

    scrypt$<n>$<r>$<p>$<salt base64>$<hash base64>

The cost parameters travel with the hash, so they can be raised later without
invalidating existing passwords. They are bounded (`hash_problem`): a stored hash asking
for hours of work or gigabytes is refused, never computed, so a hand-edited store cannot
hang a sign-in.
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
# Bounds on a stored hash's cost: 8x the default work (n*r*p; ~0.1 s at the default on a
# 2-core PC, so under a second) and the memory _derive allows; salts and digests of sane size.
MAX_WORK = 8 * DEFAULT_N * DEFAULT_R * DEFAULT_P
MAX_MEMORY = 256 * 2**20
MAX_P = 16
SALT_RANGE = (8, 64)
DIGEST_RANGE = (16, 64)


class AccessError(StationError):
    """A password could not be set or changed (the message says why)."""


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def _derive(password: str, salt: bytes, n: int, r: int, p: int, length: int) -> bytes:
    # maxmem above the default 32 MiB so somewhat higher cost parameters still work
    return hashlib.scrypt(password.encode("utf-8"), salt=salt, n=n, r=r, p=p, dklen=length, maxmem=MAX_MEMORY)


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


def _parse(stored: str) -> tuple[int, int, int, bytes, bytes]:
    """(n, r, p, salt, digest) of a stored hash; ValueError saying what is wrong."""
    parts = stored.strip().split("$")
    if len(parts) != 6 or parts[0] != SCHEME:
        raise ValueError(f"expected {SCHEME}$n$r$p$salt$hash")
    if not all(x.isdigit() and len(x) <= 10 for x in parts[1:4]):
        raise ValueError("the scrypt cost parameters n, r, p must be whole numbers of at most 10 digits")
    n, r, p = (int(x) for x in parts[1:4])
    salt = base64.b64decode(parts[4], validate=True)
    digest = base64.b64decode(parts[5], validate=True)
    if n < 2 or n & (n - 1) or r < 1 or not 1 <= p <= MAX_P:
        raise ValueError(f"scrypt cost n={n} r={r} p={p}: n must be a power of 2, r >= 1, 1 <= p <= {MAX_P}")
    if n * r * p > MAX_WORK or 128 * n * r > MAX_MEMORY:
        raise ValueError(
            f"scrypt cost n={n} r={r} p={p} is beyond the allowed work ({MAX_WORK} = n*r*p) or memory "
            f"({MAX_MEMORY // 2**20} MiB); refused, not computed"
        )
    if not SALT_RANGE[0] <= len(salt) <= SALT_RANGE[1] or not DIGEST_RANGE[0] <= len(digest) <= DIGEST_RANGE[1]:
        raise ValueError(f"salt of {len(salt)} and digest of {len(digest)} bytes: expected {SALT_RANGE} and {DIGEST_RANGE}")
    return n, r, p, salt, digest


def hash_problem(stored: str) -> str:
    """Why `stored` cannot be checked ("" = a well-formed hash of bounded cost)."""
    try:
        _parse(stored)
    except ValueError as exc:  # binascii.Error is a ValueError
        return str(exc)
    return ""


def verify_password(password: str, stored: str) -> bool:
    """True when `password` matches `stored`; a malformed, empty or too costly hash never matches
    (and is never computed)."""
    try:
        n, r, p, salt, expected = _parse(stored)
        digest = _derive(password, salt, n, r, p, len(expected))
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
