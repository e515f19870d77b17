"""Bearer tokens for the API: stored as sha256 digests, compared in constant time.

Tokens are long random strings (`new_token()`), so a plain sha256 is enough to keep the
settings file from holding them in clear (no salt or slow hash needed: nothing to
guess). A non-loopback bind without tokens is refused: a station on the plant network
must not be triggerable by anyone who can reach it.
"""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
import re
import secrets
from collections.abc import Sequence
from enum import Enum

from inspection_station.core.errors import ConfigError

_HEX64 = re.compile(r"^[0-9a-f]{64}$")


def new_token() -> str:
    return secrets.token_urlsafe(32)


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False  # a host name: treat as reachable from the network


class Access(Enum):
    GRANTED = "granted"
    MISSING = "missing"  # 401
    WRONG = "wrong"  # 403


class TokenCheck:
    def __init__(self, digests: Sequence[str], where: str = "[line] api_token_sha256") -> None:
        bad = [d for d in digests if not _HEX64.match(d)]
        if bad:
            raise ConfigError(f"{where}: expected sha256 hex digests (64 characters 0-9a-f), got {bad[0]!r}")
        self._digests = tuple(bytes.fromhex(d) for d in digests)

    @property
    def required(self) -> bool:
        return bool(self._digests)

    def check(self, authorization: str | None) -> Access:
        """The `Authorization` header's verdict; open when no tokens are configured."""
        if not self._digests:
            return Access.GRANTED
        scheme, _, token = (authorization or "").partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            return Access.MISSING
        offered = hashlib.sha256(token.strip().encode("utf-8")).digest()
        match = False
        for digest in self._digests:  # every digest is compared: the time says nothing
            match |= hmac.compare_digest(offered, digest)
        return Access.GRANTED if match else Access.WRONG


def require_tokens_off_loopback(host: str, check: TokenCheck, what: str) -> None:
    if not is_loopback(host) and not check.required:
        raise ConfigError(
            f"{what}: binding {host} (not loopback) needs bearer tokens: set [line] api_token_sha256 "
            "(`inspection-station serve --new-token` prints a token and its digest)"
        )
