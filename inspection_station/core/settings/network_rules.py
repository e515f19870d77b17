"""The network settings' rules, read by the settings check and the line services alike.

The check of a settings file ([line] in the dialog, `config check`) and the services that
bind the sockets must refuse the same things with the same words; both sit above this
module, so the rules live here, in the settings layer: which hosts are loopback, what a
token entry (`digest` or `NAME=digest`) is, and which TLS files make a server context.
"""

from __future__ import annotations

import ipaddress
import re
import ssl
from collections.abc import Sequence

from inspection_station.core.errors import ConfigError

_HEX64 = re.compile(r"^[0-9a-f]{64}$")
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.@-]{0,63}$")


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False  # a host name: treat as reachable from the network


def parse_token_entry(entry: str, where: str) -> tuple[str, bytes]:
    """`digest` or `NAME=digest` -> (actor name, digest bytes); ConfigError naming the entry."""
    name, sep, digest = entry.strip().rpartition("=")
    if not sep:
        name, digest = "", entry.strip()
    if not _HEX64.match(digest):
        raise ConfigError(f"{where}: expected sha256 hex digests (64 characters 0-9a-f), "
                          f"optionally named as NAME=DIGEST, got {entry!r}")
    if sep and not _NAME.match(name):
        raise ConfigError(f"{where}: token name {name!r}: expected 1-64 letters, digits or _.@- "
                          "(starting with a letter or digit), as in \"mes=<digest>\"")
    return (name or f"token-{digest[:8]}"), bytes.fromhex(digest)


def parse_token_entries(entries: Sequence[str], where: str) -> tuple[tuple[str, bytes], ...]:
    """Every entry parsed; ConfigError when a name is given twice (names say who called)."""
    parsed = [parse_token_entry(e, where) for e in entries]
    names = [n for n, _ in parsed]
    twice = sorted({n for n in names if names.count(n) > 1})
    if twice:
        raise ConfigError(f"{where}: the token name {twice[0]!r} is given twice (names say who called)")
    return tuple(parsed)


def tls_context(certificate: str, key: str = "", what: str = "[line] tls_certificate") -> ssl.SSLContext:
    """A server context from PEM files (TLS 1.2 or newer); ConfigError naming the file."""
    from inspection_station.core.regular_files import require_regular

    for path, kind in ((certificate, "PEM certificate"), (key, "PEM private key")):
        if path:  # a FIFO or device named here would hang the load: refused unopened
            try:
                require_regular(path, kind, ConfigError)
            except ConfigError as exc:
                raise ConfigError(f"{what}: {exc}") from None
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    try:
        context.load_cert_chain(certificate, key or None)
    except FileNotFoundError as exc:
        raise ConfigError(f"{what}: {exc.filename or certificate}: no such file") from None
    except (ssl.SSLError, OSError, ValueError) as exc:
        reason = getattr(exc, "reason", None) or getattr(exc, "strerror", None) or exc
        raise ConfigError(f"{what}: {certificate}{' + ' + key if key else ''}: not a usable PEM "
                          f"certificate and private key: {reason}") from None
    return context
