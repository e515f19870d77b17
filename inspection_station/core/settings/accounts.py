"""Named accounts with roles, in one per-station store apart from any settings file.

`<data root>/accounts.json` holds every user of this station: name, role, scrypt hash
(core/settings/access.py's format), failed-login count and lock. Whichever settings file
the station runs on (`--config F`), the same people with the same passwords sign in.

Failed logins are throttled (a delay doubling per failure, kept in the store so a restart
does not reset it) and lock the account after `max_failed` in a row; only an admin unlocks
(`inspection-station user unlock NAME`, or a new password). The first admin is created
explicitly, never by whoever opens the settings first.
"""

from __future__ import annotations

import json
import os
import re
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import datetime
from pathlib import Path

from inspection_station.core import paths
from inspection_station.core.atomic import atomic_write_text
from inspection_station.core.errors import StationError
from inspection_station.core.settings import access

ACCOUNTS_FILE_NAME = "accounts.json"
ROLES = ("operator", "engineer", "admin")  # each role may do what the ones before it may
LEGACY_USER = "engineer"  # the single engineer password of older versions becomes this account
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._@-]{0,63}$")
_FORMAT = 1


class AccountError(StationError):
    """An account cannot be created, changed or read (the message says why)."""


class LoginRefused(StationError):
    """A login did not succeed; `retry_after_s` > 0 when the caller must wait first."""

    def __init__(self, message: str, *, retry_after_s: float = 0.0, locked: bool = False) -> None:
        super().__init__(message)
        self.retry_after_s = retry_after_s
        self.locked = locked


@dataclass(frozen=True)
class User:
    name: str
    role: str
    password_hash: str
    created: str = ""
    failed_logins: int = 0  # in a row; reset by a successful login
    last_failed_at: float = 0.0  # epoch seconds of the last failure (throttling)
    locked: bool = False

    def to_dict(self) -> dict:
        return {
            "role": self.role,
            "password_hash": self.password_hash,
            "created": self.created,
            "failed_logins": self.failed_logins,
            "last_failed_at": self.last_failed_at,
            "locked": self.locked,
        }


@dataclass(frozen=True)
class LoginPolicy:
    max_failed: int = 5  # failures in a row before the account locks
    base_delay_s: float = 1.0  # wait after the first failure; doubles per further failure
    max_delay_s: float = 60.0

    def delay_after(self, failures: int) -> float:
        if failures <= 0 or self.base_delay_s <= 0:
            return 0.0
        return min(self.max_delay_s, self.base_delay_s * 2 ** (failures - 1))


def role_rank(role: str) -> int:
    try:
        return ROLES.index(role)
    except ValueError:
        raise AccountError(f"role: expected one of {', '.join(ROLES)}, got {role!r}") from None


def role_allows(role: str, needed: str) -> bool:
    """True when `role` may do what `needed` may (admin > engineer > operator)."""
    return role_rank(role) >= role_rank(needed)


def check_name(name: str) -> str:
    if not _NAME.match(name or ""):
        raise AccountError(
            f"user name {name!r}: expected 1-64 letters, digits or . _ @ - (starting with a letter or digit)"
        )
    return name


def default_accounts_path() -> Path:
    return paths.config_dir() / ACCOUNTS_FILE_NAME


def _now_text() -> str:
    return datetime.now().astimezone().isoformat(timespec="seconds")


class AccountStore:
    """The station's users; every change is written at once (atomically, with a backup)."""

    def __init__(
        self,
        path: str | Path | None = None,
        *,
        policy: LoginPolicy | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.path = Path(path) if path else default_accounts_path()
        self.policy = policy or LoginPolicy()
        self._clock = clock
        self._lock = threading.Lock()
        # failures for names that have no account: throttled too (in memory only), so a
        # wrong name and a wrong password look the same from outside
        self._unknown_failures: dict[str, tuple[int, float]] = {}

    # --- reading --------------------------------------------------------------------------

    def _load(self) -> dict[str, User]:
        if not self.path.exists():
            return {}
        try:
            data = json.loads(self.path.read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise AccountError(f"{self.path}: cannot read the accounts: {exc}") from None
        if not isinstance(data, dict) or not isinstance(data.get("users"), dict):
            raise AccountError(f"{self.path}: expected an object with \"users\"; the file is not an accounts store")
        users = {}
        for name, fields in data["users"].items():
            try:
                users[name] = User(
                    name=name,
                    role=str(fields["role"]),
                    password_hash=str(fields["password_hash"]),
                    created=str(fields.get("created", "")),
                    failed_logins=int(fields.get("failed_logins", 0)),
                    last_failed_at=float(fields.get("last_failed_at", 0.0)),
                    locked=bool(fields.get("locked", False)),
                )
                role_rank(users[name].role)
            except (KeyError, TypeError, ValueError, AccountError) as exc:
                raise AccountError(f"{self.path}: user {name!r}: not a valid account ({exc})") from None
        return users

    def _save(self, users: dict[str, User]) -> None:
        text = json.dumps(
            {"format": _FORMAT, "users": {n: u.to_dict() for n, u in sorted(users.items())}}, indent=2
        )
        atomic_write_text(self.path, text + "\n")
        if os.name == "posix":
            os.chmod(self.path, 0o600)  # hashes only, but nobody else needs to read them

    def users(self) -> list[User]:
        with self._lock:
            return sorted(self._load().values(), key=lambda u: u.name)

    def get(self, name: str) -> User | None:
        with self._lock:
            return self._load().get(name)

    def has_admin(self) -> bool:
        return any(u.role == "admin" for u in self.users())

    def is_empty(self) -> bool:
        return not self.users()

    # --- changes --------------------------------------------------------------------------

    def add(self, name: str, role: str, password: str) -> User:
        check_name(name)
        role_rank(role)
        password_hash = access.hash_password(password)  # refuses a too short password
        with self._lock:
            users = self._load()
            if name in users:
                raise AccountError(f"user {name!r} exists already; change the password with `user passwd`")
            users[name] = User(name, role, password_hash, created=_now_text())
            self._save(users)
            return users[name]

    def set_password(self, name: str, password: str) -> User:
        """A new password (which also lifts a lock: an admin sets it)."""
        password_hash = access.hash_password(password)
        return self._update(name, password_hash=password_hash, failed_logins=0, last_failed_at=0.0, locked=False)

    def set_role(self, name: str, role: str) -> User:
        role_rank(role)
        with self._lock:
            users = self._load()
            self._require(users, name)
            if users[name].role == "admin" and role != "admin":
                self._keep_an_admin(users, name)
        return self._update(name, role=role)

    def unlock(self, name: str) -> User:
        return self._update(name, failed_logins=0, last_failed_at=0.0, locked=False)

    def remove(self, name: str) -> User:
        with self._lock:
            users = self._load()
            user = self._require(users, name)
            if user.role == "admin":
                self._keep_an_admin(users, name)
            del users[name]
            self._save(users)
            return user

    def import_legacy_hash(self, password_hash: str) -> User | None:
        """Older versions kept one engineer password hash in settings.toml: same scrypt
        format, so it becomes the account `engineer` unchanged. None when there is nothing
        to import or the store already has users."""
        if not access.is_password_set(password_hash):
            return None
        with self._lock:
            users = self._load()
            if users:
                return None
            users[LEGACY_USER] = User(LEGACY_USER, "engineer", password_hash.strip(), created=_now_text())
            self._save(users)
            return users[LEGACY_USER]

    # --- login ------------------------------------------------------------------------------

    def authenticate(self, name: str, password: str) -> User:
        """The user when `password` is theirs; else LoginRefused (and the failure counted)."""
        now = self._clock()
        with self._lock:
            users = self._load()
            user = users.get(name)
            if user is None:
                count, last = self._unknown_failures.get(name, (0, 0.0))
                self._refuse_if_throttled(count, last, now)
                access.verify_password(password, _DUMMY_HASH)  # same cost as a real check
                self._unknown_failures[name] = (count + 1, now)
                raise LoginRefused("wrong user name or password")
            if user.locked:
                raise LoginRefused(
                    f"the account {name!r} is locked after {user.failed_logins} failed logins; "
                    "an admin must unlock it",
                    locked=True,
                )
            self._refuse_if_throttled(user.failed_logins, user.last_failed_at, now)
            if access.verify_password(password, user.password_hash):
                if user.failed_logins:
                    users[name] = replace(user, failed_logins=0, last_failed_at=0.0)
                    self._save(users)
                return users[name]
            failures = user.failed_logins + 1
            locked = failures >= self.policy.max_failed
            users[name] = replace(user, failed_logins=failures, last_failed_at=now, locked=locked)
            self._save(users)
        if locked:
            raise LoginRefused(
                f"wrong password; the account {name!r} is now locked after {failures} failed logins "
                "(an admin must unlock it)",
                locked=True,
            )
        raise LoginRefused(
            "wrong user name or password", retry_after_s=self.policy.delay_after(failures)
        )

    def retry_after(self, name: str) -> float:
        """Seconds until `name` may try again (0 = now)."""
        with self._lock:
            user = self._load().get(name)
            count, last = (
                (user.failed_logins, user.last_failed_at) if user else self._unknown_failures.get(name, (0, 0.0))
            )
        return max(0.0, last + self.policy.delay_after(count) - self._clock())

    def _refuse_if_throttled(self, failures: int, last_failed_at: float, now: float) -> None:
        wait = last_failed_at + self.policy.delay_after(failures) - now
        if wait > 0:
            raise LoginRefused(f"too many failed logins: wait {wait:.0f} s and try again", retry_after_s=wait)

    # --- internals ------------------------------------------------------------------------

    def _update(self, name: str, **changes) -> User:
        with self._lock:
            users = self._load()
            users[name] = replace(self._require(users, name), **changes)
            self._save(users)
            return users[name]

    def _require(self, users: dict[str, User], name: str) -> User:
        if name not in users:
            known = ", ".join(sorted(users)) or "none"
            raise AccountError(f"no user {name!r} in {self.path} (users: {known})")
        return users[name]

    @staticmethod
    def _keep_an_admin(users: dict[str, User], name: str) -> None:
        if not any(u.role == "admin" for n, u in users.items() if n != name):
            raise AccountError(f"{name!r} is the last admin; create another admin first")


# Verified against for unknown names, so they cost as much time as a wrong password.
_DUMMY_HASH = "scrypt$16384$8$1$AAAAAAAAAAAAAAAAAAAAAA==$AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA="
