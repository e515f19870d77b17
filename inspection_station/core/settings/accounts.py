"""Named accounts with roles, in one per-station store apart from any settings file.

`<data root>/accounts.json` holds every user of this station: name, role, scrypt hash
(core/settings/access.py's format), failed-login count and lock. Whichever settings file
the station runs on (`--config F`), the same people with the same passwords sign in.

Failed logins are throttled (a delay doubling per failure, kept in the store so a restart
does not reset it) and lock the account after `max_failed` in a row; only an admin unlocks
(`inspection-station user unlock NAME`, or a new password). The first admin is created
explicitly, never by whoever opens the settings first.

Fail closed (docs/ACCOUNTS_AND_RECORDS.md):
- Once accounts exist (the marker `accounts.json.created` beside the store, its `.bak`, or
  a user-creation line in the audit log says so), a missing store is `AccountsUnavailable`,
  never a fresh station; so is an unreadable one (garbage, a FIFO, a folder: never opened).
  Nobody signs in, no first admin is offered; `recover` (`user add --recover-store`) is the
  audited way out.
- A sign-in first stores the failure it might be (count + 1), then checks the password and
  resets the count when it was right: a count that cannot be stored denies the sign-in
  before any password is checked (still throttled in memory, so retries are slowed too).
- Counts, times and hash costs read from the file are clamped or refused, never trusted
  to bound a loop or a delay.
"""

from __future__ import annotations

import contextlib
import json
import logging
import math
import os
import re
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import datetime
from pathlib import Path

from inspection_station.core import paths
from inspection_station.core.atomic import atomic_write_text, backup_path
from inspection_station.core.errors import StationError
from inspection_station.core.regular_files import open_regular
from inspection_station.core.settings import access
from inspection_station.core.settings.audit import default_audit_path
from inspection_station.core.text_files import read_text_limited

ACCOUNTS_FILE_NAME = "accounts.json"
ROLES = ("operator", "engineer", "admin")  # each role may do what the ones before it may
LEGACY_USER = "engineer"  # the single engineer password of older versions becomes this account
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._@-]{0,63}$")
_FORMAT = 1
MAX_STORE_BYTES = 8 << 20  # ~300 bytes an account: far above any station's staff
MARKER_SUFFIX = ".created"  # accounts.json.created: accounts exist on this station
MAX_COUNT = 1_000_000  # a stored failure count beyond this is clamped (hand-edited or damaged)
# audit lines (kind "user") that prove accounts were made on this station
EVIDENCE_ACTIONS = frozenset({"create", "migrate", "recover"})
RECOVER_HINT = (
    "nobody can sign in and the engineer actions stay locked until it is restored (a backup "
    "may be at {bak}) or replaced with `inspection-station user add NAME --role admin "
    "--password-stdin --recover-store`"
)
log = logging.getLogger(__name__)


class AccountError(StationError):
    """An account cannot be created, changed or read (the message says why)."""


class AccountsUnavailable(AccountError):
    """The store is missing while accounts are known to exist, or unreadable: nobody signs in,
    no first admin is offered, the engineer actions are locked (the message names the file)."""


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
        # the exponent is bounded: 2 ** (10**18) would take for ever (a hand-edited count)
        return min(self.max_delay_s, self.base_delay_s * 2.0 ** min(failures - 1, 64))


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


def _count(value: float | int | str) -> int:
    """A stored failure count, clamped to 0..MAX_COUNT (not a number: MAX_COUNT, fail closed)."""
    if isinstance(value, float) and not math.isfinite(value):
        return MAX_COUNT
    return max(0, min(int(value), MAX_COUNT))


class AccountStore:
    """The station's users; every change is written at once (atomically, with a backup)."""

    def __init__(
        self,
        path: str | Path | None = None,
        *,
        policy: LoginPolicy | None = None,
        clock: Callable[[], float] = time.time,
        audit_path: str | Path | None = None,
    ) -> None:
        self.path = Path(path) if path else default_accounts_path()
        # the audit log that proves accounts were made here (AccessControl sets its own)
        self.audit_path = Path(audit_path) if audit_path else default_audit_path()
        self.policy = policy or LoginPolicy()
        self._clock = clock
        self._lock = threading.Lock()
        # failures for names that have no account: throttled too (in memory only), so a
        # wrong name and a wrong password look the same from outside
        self._unknown_failures: dict[str, tuple[int, float]] = {}
        # failures of real accounts that could not be stored (full disk, read-only share):
        # name -> (count, at); they throttle and lock in memory until a store succeeds
        self._unsaved: dict[str, tuple[int, float]] = {}
        # name -> when this process first saw its last_failed_at in the future or not a
        # number (a clock set back, a hand edit): the delay runs from then, never from it
        self._odd_times: dict[str, float] = {}
        # the audit log's answer, kept while the file is unchanged (a long log is read once)
        self._audit_answer: tuple[tuple, str] | None = None

    @property
    def marker_path(self) -> Path:
        return self.path.with_name(self.path.name + MARKER_SUFFIX)

    # --- reading --------------------------------------------------------------------------

    def _unavailable(self, what: str) -> AccountsUnavailable:
        return AccountsUnavailable(f"{what}; {RECOVER_HINT.format(bak=backup_path(self.path))}")

    def _load(self) -> dict[str, User]:
        try:
            os.lstat(self.path)  # missing or not; never opened here
        except (FileNotFoundError, NotADirectoryError):
            evidence = self.accounts_evidence()
            if evidence:
                raise self._unavailable(
                    f"{self.path}: the accounts store is missing, but accounts exist on this station ({evidence})"
                ) from None
            return {}  # a station where nobody was ever created: the first-run path
        except OSError as exc:  # a share that went away: EIO, ESTALE, ...
            raise self._unavailable(f"{self.path}: cannot read the accounts store: {exc.strerror or exc}") from None
        try:  # a FIFO, device or folder is refused without being opened
            data = json.loads(read_text_limited(self.path, MAX_STORE_BYTES, "accounts store", AccountError))
        except AccountError as exc:
            raise self._unavailable(str(exc)) from None
        except (ValueError, RecursionError) as exc:
            raise self._unavailable(f"{self.path}: cannot read the accounts: {exc}") from None
        if not isinstance(data, dict) or not isinstance(data.get("users"), dict):
            raise self._unavailable(f"{self.path}: expected an object with \"users\"; the file is not an accounts store")
        users = {}
        for name, fields in data["users"].items():
            try:
                users[name] = User(
                    name=name,
                    role=str(fields["role"]),
                    password_hash=str(fields["password_hash"]),
                    created=str(fields.get("created", "")),
                    failed_logins=_count(fields.get("failed_logins", 0)),
                    last_failed_at=float(fields.get("last_failed_at", 0.0)),  # judged against the clock
                    locked=bool(fields.get("locked", False)),
                )
                role_rank(users[name].role)
            except (KeyError, TypeError, ValueError, OverflowError, AttributeError, AccountError) as exc:
                raise self._unavailable(f"{self.path}: user {name!r}: not a valid account ({exc})") from None
        if users:
            self._mark()  # a store from before the marker existed gets one now
        return users

    def _save(self, users: dict[str, User]) -> None:
        text = json.dumps(
            {"format": _FORMAT, "users": {n: u.to_dict() for n, u in sorted(users.items())}}, indent=2
        )
        atomic_write_text(self.path, text + "\n")
        if os.name == "posix":
            os.chmod(self.path, 0o600)  # hashes only, but nobody else needs to read them
        if users:
            self._mark()

    def _mark(self) -> None:
        """The marker that accounts exist here (once; where it cannot be written the audit
        log and the backup still tell)."""
        if os.path.lexists(self.marker_path):
            return
        with contextlib.suppress(OSError):
            atomic_write_text(
                self.marker_path,
                f"Accounts were created on this station ({_now_text()}). While this file exists, a missing\n"
                f"{self.path.name} is an error that locks the engineer actions, never a first run.\n",
                backup=False,
            )

    def accounts_evidence(self) -> str:
        """What says accounts were made on this station ("" = nothing does: a first run)."""
        for path, what in ((self.marker_path, "the marker"), (backup_path(self.path), "its backup")):
            if os.path.lexists(path):
                return f"{what} {path} exists"
        try:
            st = os.stat(self.audit_path)
            key: tuple = (str(self.audit_path), st.st_ino, st.st_size, st.st_mtime_ns)
        except OSError:
            key = (str(self.audit_path),)
        if self._audit_answer is None or self._audit_answer[0] != key:
            self._audit_answer = (key, audit_evidence(self.audit_path))
        return self._audit_answer[1]

    def problem(self) -> str:
        """Why nobody can sign in now ("" = the store is readable, maybe empty)."""
        try:
            self.users()
        except AccountsUnavailable as exc:
            return str(exc)
        return ""

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

    def recover(self, name: str, password: str, record: Callable[[str, Path | None], object]) -> User:
        """A new store holding the admin `name`, in place of a missing or unreadable one.

        Only when the store is unavailable (else AccountError: nothing to recover). What is
        at the path (a damaged file, a FIFO, a folder) is renamed aside, never opened or
        deleted. `record(problem, moved_aside)` audits it; when it raises, the old state is
        put back: a recovery the audit trail cannot name does not happen."""
        check_name(name)
        password_hash = access.hash_password(password)
        with self._lock:
            try:
                users = self._load()
            except AccountsUnavailable as exc:
                problem = str(exc)
            else:
                raise AccountError(
                    f"{self.path}: the accounts store is readable ({len(users)} account(s)); nothing to "
                    "recover: add the user without --recover-store"
                )
            aside = None
            if os.path.lexists(self.path):
                stamp = datetime.now().strftime("%Y%m%dT%H%M%S")
                aside = self.path.with_name(f"{self.path.name}.unreadable-{stamp}")
                os.replace(self.path, aside)
            user = User(name, "admin", password_hash, created=_now_text())
            try:
                self._save({name: user})
                record(problem, aside)
            except BaseException:
                with contextlib.suppress(OSError):
                    self.path.unlink(missing_ok=True)
                    if aside is not None:
                        os.replace(aside, self.path)
                raise
            self._unsaved.clear()
            return user

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
        """The user when `password` is theirs; else LoginRefused (and the failure counted).

        The failure this attempt may be is stored before the password is checked, and reset
        when it was right: a count that cannot be stored refuses the sign-in unchecked."""
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
            count, last, locked = self._failures(user, now)
            if locked:
                if name in self._unsaved:  # a lock only memory held: stored once it can be
                    users[name] = replace(user, failed_logins=count, last_failed_at=last, locked=True)
                    with contextlib.suppress(OSError):
                        self._save(users)
                        self._unsaved.pop(name, None)
                raise LoginRefused(
                    f"the account {name!r} is locked after {count} failed logins; an admin must unlock it",
                    locked=True,
                )
            self._refuse_if_throttled(count, last, now)
            problem = access.hash_problem(user.password_hash)
            if problem:  # refused, not computed: a hand-edited cost must not hang the station
                log.error("%s: user %r: the stored password hash cannot be checked: %s", self.path, name, problem)
                raise LoginRefused(
                    f"the stored password of {name!r} cannot be checked ({problem}); an admin must set a new one"
                )
            failures = min(count + 1, MAX_COUNT)
            locks = failures >= self.policy.max_failed
            users[name] = replace(user, failed_logins=failures, last_failed_at=now, locked=locks)
            try:
                self._save(users)
            except OSError as exc:
                self._unsaved[name] = (failures, now)
                log.error("%s: failed-login count of %r not stored (%s): sign-in refused", self.path, name,
                          exc.strerror or exc)
                raise LoginRefused(
                    f"sign-in refused: the failed-login count of {name!r} cannot be stored "
                    f"({self.path}: {exc.strerror or exc}); no password is checked until it can be",
                    retry_after_s=self.policy.delay_after(failures),
                    locked=locks,
                ) from None
            self._unsaved.pop(name, None)  # stored now, with what memory held
            self._odd_times.pop(name, None)
            if access.verify_password(password, user.password_hash):
                users[name] = replace(user, failed_logins=0, last_failed_at=0.0, locked=False)
                try:
                    self._save(users)
                except OSError as exc:  # the stored failure stays: the next sign-in counts from it
                    log.warning("%s: failed-login count of %r not reset: %s", self.path, name, exc.strerror or exc)
                return users[name]
        if locks:
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
        now = self._clock()
        with self._lock:
            user = self._load().get(name)
            count, last = (
                self._failures(user, now)[:2] if user else self._unknown_failures.get(name, (0, 0.0))
            )
        return max(0.0, last + self.policy.delay_after(count) - now)

    def _failures(self, user: User, now: float) -> tuple[int, float, bool]:
        """(count, last failure, locked) as they count now: the stored values, clamped, and
        any failures memory holds that could not be stored."""
        count, last, locked = user.failed_logins, user.last_failed_at, user.locked
        if not math.isfinite(last) or last > now:  # the future or no time at all: from now on
            last = self._odd_times.setdefault(user.name, now)
        unsaved = self._unsaved.get(user.name)
        if unsaved is not None:
            count, last = max(count, unsaved[0]), max(last, unsaved[1])
            locked = locked or unsaved[0] >= self.policy.max_failed
        return count, last, locked

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
            if changes.get("failed_logins") == 0:
                self._unsaved.pop(name, None)
                self._odd_times.pop(name, None)
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


_USER_LINE = re.compile(rb'"kind":\s*"user"')
MAX_AUDIT_LINE = 1 << 20


def audit_evidence(path: Path) -> str:
    """The audit line that proves an account was made on this station ("" = none). An audit
    log that exists but cannot be read proves nothing either way: that counts as evidence."""
    try:
        os.lstat(path)
    except (FileNotFoundError, NotADirectoryError):
        return ""
    except OSError as exc:
        return f"the audit log {path} cannot be read ({exc.strerror or exc}), so it cannot show that none were"
    try:
        with open_regular(path, "audit log", AccountError) as fh:
            for number, line in enumerate(iter(lambda: fh.readline(MAX_AUDIT_LINE), b""), 1):
                if not _USER_LINE.search(line):
                    continue
                try:
                    fields = json.loads(line)
                except ValueError:  # a torn line proves nothing
                    continue
                if isinstance(fields, dict) and fields.get("kind") == "user" and fields.get("action") in EVIDENCE_ACTIONS:
                    return (f"the audit log {path}:{number} records {fields.get('action')} of the account "
                            f"{fields.get('target')!r} at {fields.get('time')}")
    except AccountError as exc:  # a FIFO or folder in its place: refused, and it proves nothing
        return f"{exc}, so it cannot show that none were"
    except OSError as exc:
        return f"the audit log {path} cannot be read ({exc.strerror or exc}), so it cannot show that none were"
    return ""


# Verified against for unknown names, so they cost as much time as a wrong password.
_DUMMY_HASH = "scrypt$16384$8$1$AAAAAAAAAAAAAAAAAAAAAA==$AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA="
