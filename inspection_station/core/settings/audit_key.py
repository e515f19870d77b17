"""The station's audit key: the secret that turns the audit trail's hash chain into an HMAC chain.

Without a key, anyone who can write `audit.jsonl` can also recompute every SHA-256 of the
chain and the head. With it, each line's `hash` is HMAC-SHA256(key, line content) and the
head carries an HMAC too: a rewrite is detected by `audit verify` on the station that holds
the key, unless the writer could also read the key (docs/ACCOUNTS_AND_RECORDS.md lists what
the keyed chain cannot detect).

`audit.key` lives beside the accounts store (`default_accounts_path()`'s folder, the data
root), not beside the log: one folder to back up and to protect. It is made at the
first audit line (32 random bytes, hex, one line), published atomically (a hard link of a
fully written temp file, so a second process never reads half a key, and never replaces one)
with mode 0600 on POSIX. On Windows the file gets the data root's ACL (deploy/acl.py:
operators may read it, as the station they run must); the mode bits mean nothing there.
A key that exists but cannot be read, or is not a regular file, or not a key, is an error:
never silently replaced (that would unkey the chain) and never read from a FIFO.
"""

from __future__ import annotations

import contextlib
import hashlib
import hmac
import os
import re
import secrets
import stat
from dataclasses import dataclass
from pathlib import Path

from inspection_station.core.errors import StationError

KEY_FILE_NAME = "audit.key"
_KEY_BYTES = 32
_KEY_TEXT = re.compile(r"[0-9a-f]{64}")
_MAX_KEY_FILE = 1024  # a key file is one 65-byte line; anything big is not ours


class AuditKeyError(StationError):
    """The station's audit key exists but cannot be used (unreadable, special file, garbage)."""


@dataclass(frozen=True, repr=False)
class AuditKey:
    secret: bytes
    path: Path | None = None

    @property
    def key_id(self) -> str:
        """Names the key in every line it protects (not the secret: a hash of it)."""
        return hashlib.sha256(b"audit-key-id:" + self.secret).hexdigest()[:16]

    def mac(self, text: str) -> str:
        return hmac.new(self.secret, text.encode("utf-8"), hashlib.sha256).hexdigest()

    def __repr__(self) -> str:  # never print the secret
        return f"AuditKey(id={self.key_id}, path={self.path})"


def default_key_path() -> Path:
    """`audit.key` in the accounts store's folder."""
    from inspection_station.core.settings.accounts import default_accounts_path  # no import cycle

    return default_accounts_path().parent / KEY_FILE_NAME


def load_key(path: str | Path) -> AuditKey | None:
    """The key at `path`; None when there is none; AuditKeyError when it cannot be used."""
    path = Path(path)
    try:
        # O_NONBLOCK: a FIFO in its place must not hang us; checked to be a regular file below
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_BINARY", 0))
    except FileNotFoundError:
        return None
    except OSError as exc:
        raise AuditKeyError(f"{path}: cannot read the audit key: {exc.strerror or exc}") from None
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            raise AuditKeyError(f"{path}: the audit key is not a regular file; refusing to read it")
        if info.st_size > _MAX_KEY_FILE:
            raise AuditKeyError(f"{path}: not an audit key ({info.st_size} bytes; expected one line of 64 hex digits)")
        data = os.read(fd, _MAX_KEY_FILE + 1)
    except OSError as exc:
        raise AuditKeyError(f"{path}: cannot read the audit key: {exc.strerror or exc}") from None
    finally:
        os.close(fd)
    text = data.decode("ascii", errors="replace").strip()
    if not _KEY_TEXT.fullmatch(text):
        raise AuditKeyError(f"{path}: not an audit key (expected one line of 64 lower-case hex digits)")
    return AuditKey(bytes.fromhex(text), path)


def load_or_create_key(path: str | Path) -> AuditKey:
    """The key at `path`, made (mode 0600) when there is none yet."""
    path = Path(path)
    key = load_key(path)
    if key is not None:
        return key
    secret = secrets.token_bytes(_KEY_BYTES)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f".{path.name}.{secrets.token_hex(4)}.tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0), 0o600)
        try:
            os.write(fd, secret.hex().encode("ascii") + b"\n")
            os.fsync(fd)
        finally:
            os.close(fd)
        try:
            _publish(tmp, path)
        except FileExistsError:
            pass  # another process published its key first: that one is the station's
        finally:
            with contextlib.suppress(OSError):
                os.unlink(tmp)
    except OSError as exc:
        raise AuditKeyError(f"{path}: cannot create the audit key: {exc.strerror or exc}") from None
    key = load_key(path)  # ours, or the one another process published first
    if key is None:
        raise AuditKeyError(f"{path}: the audit key vanished while it was being created")
    return key


def _publish(tmp: Path, path: Path) -> None:
    """Put the written `tmp` at `path`, never over an existing file (FileExistsError then)."""
    try:
        os.link(tmp, path)
    except FileExistsError:
        raise
    except OSError:
        if os.name != "nt":
            raise
        os.rename(tmp, path)  # a volume without hard links: Windows' rename never replaces
