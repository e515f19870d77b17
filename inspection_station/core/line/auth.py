"""Bearer tokens for the API: stored as sha256 digests, compared in constant time.

Tokens are long random strings (`new_token()`), so a plain sha256 is enough to keep the
settings file from holding them in clear (no salt or slow hash needed: nothing to
guess). A non-loopback bind without tokens is refused: a station on the plant network
must not be triggerable by anyone who can reach it.

An entry of `[line] api_token_sha256` is a digest, or `NAME=digest` (`"mes=3f2a..."`):
the name says which client a request came from and is the actor the audit trail and the
station's actions record (`TokenCheck.authenticate`). An unnamed digest is the actor
`token-<first 8 hex digits>`; with no tokens configured (loopback only) the actor is `api`.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from enum import Enum

from inspection_station.core.errors import ConfigError
from inspection_station.core.settings.network_rules import (  # noqa: F401 (is_loopback: line's name for it)
    is_loopback,
    parse_token_entries,
)

ANONYMOUS = "api"  # the actor of a request when no tokens are configured (loopback only)


def new_token() -> str:
    return secrets.token_urlsafe(32)


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


class Access(Enum):
    GRANTED = "granted"
    MISSING = "missing"  # 401
    WRONG = "wrong"  # 403


@dataclass(frozen=True, slots=True)
class Grant:
    access: Access
    actor: str = ""  # who, when GRANTED: the token's name (the audit trail's actor)


class TokenCheck:
    def __init__(self, digests: Sequence[str], where: str = "[line] api_token_sha256") -> None:
        self._entries = parse_token_entries(digests, where)

    @property
    def required(self) -> bool:
        return bool(self._entries)

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(n for n, _ in self._entries)

    def authenticate(self, authorization: str | None) -> Grant:
        """The `Authorization` header's verdict and, when granted, the caller's name."""
        if not self._entries:
            return Grant(Access.GRANTED, ANONYMOUS)
        scheme, _, token = (authorization or "").partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            return Grant(Access.MISSING)
        offered = hashlib.sha256(token.strip().encode("utf-8")).digest()
        actor = ""
        for name, digest in self._entries:  # every digest is compared: the time says nothing
            if hmac.compare_digest(offered, digest):
                actor = name
        return Grant(Access.GRANTED, actor) if actor else Grant(Access.WRONG)

    def check(self, authorization: str | None) -> Access:
        """The `Authorization` header's verdict; open when no tokens are configured."""
        return self.authenticate(authorization).access


def require_tokens_off_loopback(host: str, check: TokenCheck, what: str) -> None:
    if not is_loopback(host) and not check.required:
        raise ConfigError(
            f"{what}: binding {host} (not loopback) needs bearer tokens: set [line] api_token_sha256 "
            "(`inspection-station serve --new-token` prints a token and its digest)"
        )


def require_tls_off_loopback(host: str, tls: bool, allow_plain_http: bool, what: str) -> None:
    """Tokens cross the plant network in clear without TLS: only when explicitly allowed."""
    if not is_loopback(host) and not tls and not allow_plain_http:
        raise ConfigError(
            f"{what}: binding {host} (not loopback) without TLS would send the bearer tokens in clear: "
            "set [line] tls_certificate and tls_key (serve --tls-cert/--tls-key), or [line] "
            "allow_plain_http = true for a closed network"
        )
