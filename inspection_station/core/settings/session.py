"""Who is signed in at the station, what they may do, and the audit lines naming them.

The use cases behind the login dialog, the settings button, the product choice, "Reset
shift" and the accounts page live here, so the GUI, the CLI and the tests call the same
code. Which role an action needs comes from the `[access]` settings; "operator" means
anyone at the station (no login needed), still audited.
"""

from __future__ import annotations

import getpass
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from inspection_station.core.errors import StationError
from inspection_station.core.settings.accounts import (
    AccountError,
    AccountStore,
    LoginPolicy,
    LoginRefused,
    User,
    role_allows,
)
from inspection_station.core.settings.audit import HIDDEN, Actor, AuditError, AuditLog
from inspection_station.core.settings.model import AccessSettings

log = logging.getLogger(__name__)
NOBODY = "(no login)"  # the user an audit line names when nobody is signed in
# action -> the [access] key holding the role it needs; "users" is always admin
ACTION_KEYS = {
    "settings": "settings_role",
    "patterns": "patterns_role",
    "product_switch": "product_switch_role",
    "reset_shift": "reset_shift_role",
}
ACTION_TEXT = {
    "settings": "change the station settings",
    "patterns": "edit patterns",
    "product_switch": "switch the product",
    "reset_shift": "reset the shift statistics",
    "users": "manage user accounts",
}


class PermissionDenied(StationError):
    """The signed-in user (or nobody) may not do this; the message names the role needed."""


@dataclass(frozen=True)
class Session:
    user: str
    role: str
    started: float  # clock() at login


def cli_actor(station: str) -> Actor:
    """Who a command-line change is recorded as: the operating-system account."""
    try:
        name = getpass.getuser()
    except (KeyError, OSError):  # no user name in the environment
        name = "unknown"
    return Actor(f"os:{name}", "system", station)


class AccessControl:
    """The station's sign-in state; thread-safe, Qt-free."""

    def __init__(
        self,
        store: AccountStore,
        audit: AuditLog,
        settings: AccessSettings,
        station: str,
        *,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.store = store
        self.store.audit_path = audit.path  # its user lines prove accounts exist (fail closed)
        self.audit = audit
        self.station = station
        self._clock = clock
        self._lock = threading.Lock()
        self.session: Session | None = None
        self._last_activity = clock()
        self.apply_settings(settings)

    def apply_settings(self, settings: AccessSettings, station: str | None = None) -> None:
        self.settings = settings
        if station:
            self.station = station
        self.store.policy = LoginPolicy(max_failed=settings.max_failed_logins, base_delay_s=settings.login_delay_s)

    # --- who ------------------------------------------------------------------------------

    @property
    def actor(self) -> Actor:
        session = self.session
        if session is None:
            return Actor(NOBODY, "operator", self.station)
        return Actor(session.user, session.role, self.station)

    def needed_role(self, action: str) -> str:
        if action == "users":
            return "admin"
        try:
            return getattr(self.settings, ACTION_KEYS[action])
        except KeyError:
            raise StationError(f"unknown action {action!r}; expected one of {', '.join(ACTION_TEXT)}") from None

    def allowed(self, action: str) -> bool:
        needed = self.needed_role(action)
        if needed == "operator":
            return True
        session = self.session  # an unreadable store locks even a session signed in before
        return session is not None and role_allows(session.role, needed) and not self.store.problem()

    def is_signed_in_as(self, role: str) -> bool:
        """Someone with at least `role` is signed in (no anonymous operator counts)."""
        session = self.session
        return session is not None and role_allows(session.role, role) and not self.store.problem()

    def require(self, action: str) -> None:
        if not self.allowed(action):
            who = f"{self.session.user} ({self.session.role})" if self.session else "nobody signed in"
            who = self.store.problem() or who
            raise PermissionDenied(
                f"to {ACTION_TEXT.get(action, action)} the role {self.needed_role(action)} is needed; {who}"
            )

    # --- sign in / out ----------------------------------------------------------------------

    def needs_first_admin(self) -> bool:
        return not self.store.has_admin()

    def migrate_legacy_password(self, password_hash: str) -> User | None:
        """An older station's single engineer password becomes the account `engineer`."""
        user = self.store.import_legacy_hash(password_hash)
        if user is not None:
            self.audit.record("user", user.name, None, {"role": user.role}, action="migrate",
                              actor=Actor("(migration)", "system", self.station))
        return user

    def login(self, name: str, password: str) -> Session:
        """Sign `name` in; every failure is audited (and throttled by the store)."""
        name = name.strip()
        try:
            user = self.store.authenticate(name, password)
        except LoginRefused as exc:
            try:
                self.audit.record("login", name or "(empty)", None, str(exc), action="failed",
                                  actor=Actor(name or "(empty)", "", self.station))
            except AuditError as audit_exc:  # still refused; the log (and stderr) says it
                log.error("failed login of %r not audited (%s): %s", name, audit_exc, exc)
            raise
        previous = self.session
        if previous is not None and previous.user != user.name:
            self.audit.record("login", previous.user, None, "signed out by the next login", action="logout",
                              actor=Actor(previous.user, previous.role, self.station))
        # the line first: a login the audit trail cannot record does not happen (AuditError)
        self.audit.record("login", user.name, None, user.role, action="login",
                          actor=Actor(user.name, user.role, self.station))
        with self._lock:
            self.session = Session(user.name, user.role, self._clock())
            self._last_activity = self._clock()
        return self.session

    def logout(self, reason: str = "signed out") -> bool:
        with self._lock:
            session, self.session = self.session, None
        if session is None:
            return False
        self.audit.record("login", session.user, None, reason, action="logout",
                          actor=Actor(session.user, session.role, self.station))
        return True

    def touch(self) -> None:
        """The user did something: the idle lock starts over."""
        self._last_activity = self._clock()

    def idle_s(self) -> float:
        return self._clock() - self._last_activity

    def lock_if_idle(self) -> bool:
        """Sign out a session idle for longer than `idle_lock_s`; True when it did."""
        if self.session is None or self.idle_s() < self.settings.idle_lock_s:
            return False
        return self.logout(f"locked after {self.settings.idle_lock_s:g} s without input")

    # --- guarded, audited actions -----------------------------------------------------------

    def record(self, kind: str, target: str, old=None, new=None, *, action: str = "change") -> None:
        self.audit.record(kind, target, old, new, action=action, actor=self.actor)

    def switch_product(self, station, name: str) -> None:
        """Select pattern set `name` on `station` (a Station), audited with who did it."""
        self.require("product_switch")
        current = station.active_pattern_set
        old = current.name if current is not None else None
        station.select_pattern_set(name)
        self.record("product", "patterns.active", old, name, action="switch")

    def reset_shift(self, statistics, reset: Callable[[], object] | None = None) -> bool:
        """Start the shift statistics over (a Statistics), audited with the counts dropped.

        `reset` does the resetting when a view holds more than the core numbers (or asks
        first); when it returns False nothing was reset and nothing is audited."""
        self.require("reset_shift")
        snapshot = statistics.snapshot()
        if (reset or statistics.reset)() is False:
            return False
        self.record("shift", "statistics", dict(snapshot.counts), {}, action="reset")
        return True

    def record_overrule(self, cycle_id: str, old_verdict: str, new_verdict: str) -> None:
        self.record("overrule", cycle_id, old_verdict, new_verdict, action="overrule")

    # --- accounts (admin) -------------------------------------------------------------------

    def create_first_admin(self, name: str, password: str, confirm: str) -> User:
        """The explicit first-run step; refused once any admin exists."""
        if self.store.has_admin():
            raise AccountError("an administrator exists already; sign in as an admin to add users")
        if password != confirm:
            raise AccountError("the two passwords differ")
        user = self.store.add(name, "admin", password)
        self.audit.record("user", user.name, None, {"role": "admin"}, action="create",
                          actor=Actor("(first run)", "system", self.station))
        return user

    def add_user(self, name: str, role: str, password: str, confirm: str | None = None) -> User:
        self.require("users")
        if confirm is not None and password != confirm:
            raise AccountError("the two passwords differ")
        user = self.store.add(name, role, password)
        self.record("user", user.name, None, {"role": role}, action="create")
        return user

    def set_password(self, name: str, password: str, confirm: str | None = None) -> User:
        """An admin sets anyone's password; everyone may change their own."""
        if self.session is None or self.session.user != name:
            self.require("users")
        if confirm is not None and password != confirm:
            raise AccountError("the two passwords differ")
        user = self.store.set_password(name, password)
        self.record("user", name, HIDDEN, HIDDEN, action="password")
        return user

    def set_role(self, name: str, role: str) -> User:
        self.require("users")
        if self.session is not None and self.session.user == name and role != self.session.role:
            raise AccountError("you cannot change the role of the account you are signed in with")
        before = self.store.get(name)
        user = self.store.set_role(name, role)
        self.record("user", name, {"role": before.role if before else None}, {"role": role}, action="role")
        return user

    def unlock_user(self, name: str) -> User:
        self.require("users")
        before = self.store.get(name)
        user = self.store.unlock(name)
        self.record("user", name, {"locked": bool(before and before.locked)}, {"locked": False}, action="unlock")
        return user

    def remove_user(self, name: str) -> User:
        self.require("users")
        if self.session is not None and self.session.user == name:
            raise AccountError("you cannot remove the account you are signed in with")
        user = self.store.remove(name)
        self.record("user", name, {"role": user.role}, None, action="remove")
        return user
