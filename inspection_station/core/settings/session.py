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
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Protocol

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
    "overrule": "overrule_role",
    "hold": "hold_role",
}
ACTION_TEXT = {
    "settings": "change the station settings",
    "patterns": "edit patterns",
    "product_switch": "switch the product",
    "reset_shift": "reset the shift statistics",
    "overrule": "correct a verdict",
    "hold": "put the station on hold",
    "quit": "quit the station",
    "users": "manage user accounts",
}
SYSTEM_ROLE = "system"  # the command line (the OS account that may edit the files anyway)


class PermissionDenied(StationError):
    """The signed-in user (or nobody) may not do this; the message names the role needed."""


@dataclass(frozen=True)
class Session:
    """A signed-in person. `id` is new per sign-in: questions and drafts are bound to it."""

    user: str
    role: str
    started: float  # clock() at login
    id: str = field(default_factory=lambda: uuid.uuid4().hex)


class SessionHolder(Protocol):
    """Where the signed-in session lives: the station's state (core/state.py) or, without a
    station (CLI, tools), a plain slot."""

    @property
    def session(self) -> Session | None: ...

    def set_session(self, session: Session | None, reason: str) -> Session | None: ...


class _SessionSlot:
    def __init__(self) -> None:
        self.session: Session | None = None

    def set_session(self, session: Session | None, reason: str) -> Session | None:
        old, self.session = self.session, session
        return old


def cli_actor(station: str) -> Actor:
    """Who a command-line change is recorded as: the operating-system account."""
    try:
        name = getpass.getuser()
    except (KeyError, OSError):  # no user name in the environment
        name = "unknown"
    return Actor(f"os:{name}", SYSTEM_ROLE, station, route="cli")


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
        holder: SessionHolder | None = None,
    ) -> None:
        self.store = store
        self.store.audit_path = audit.path  # its user lines prove accounts exist (fail closed)
        self.audit = audit
        self.station = station
        self._clock = clock
        self._lock = threading.Lock()
        self._holder: SessionHolder = holder or _SessionSlot()
        # (action, user name, actor) after an account change is audited: the station's event
        self.on_user_change: Callable[[str, str, Actor], None] | None = None
        self._last_activity = clock()
        self.apply_settings(settings)

    @property
    def session(self) -> Session | None:
        return self._holder.session

    def bind_holder(self, holder: SessionHolder) -> None:
        """Keep the session in `holder` from now on (the station's state); a session already
        signed in moves there."""
        if holder is self._holder:
            return
        current, self._holder = self._holder.session, holder
        if current is not None and holder.session is None:
            holder.set_session(current, "signed in")

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
        if action == "quit":
            return "engineer"
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

    def permits(self, actor: Actor, action: str) -> bool:
        """May `actor` (any route: the GUI's session, an API token, the command line) do it?
        A person's role comes from the accounts store: an unreadable store locks them out."""
        needed = self.needed_role(action)
        if needed == "operator" or actor.role == SYSTEM_ROLE:
            return True
        if actor.route not in ("api", "cli") and self.store.problem():
            return False
        try:
            return role_allows(actor.role, needed)
        except AccountError:  # an actor without a known role: refused
            return False

    def refusal(self, actor: Actor, action: str) -> str:
        """The sentence for a refused `actor`."""
        who = f"{actor.user} ({actor.role})" if actor.user != NOBODY else "nobody signed in"
        if actor.route not in ("api", "cli"):
            who = self.store.problem() or who
        return f"to {ACTION_TEXT.get(action, action)} the role {self.needed_role(action)} is needed; {who}"

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
        session = Session(user.name, user.role, self._clock())
        with self._lock:
            self._last_activity = self._clock()
        self._holder.set_session(session, "signed in")
        return session

    def logout(self, reason: str = "signed out") -> bool:
        with self._lock:
            session = self._holder.set_session(None, reason)
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

    # --- accounts (admin) -------------------------------------------------------------------

    def create_first_admin(self, name: str, password: str, confirm: str) -> User:
        """The explicit first-run step; refused once any admin exists."""
        if self.store.has_admin():
            raise AccountError("an administrator exists already; sign in as an admin to add users")
        if password != confirm:
            raise AccountError("the two passwords differ")
        user = self.store.add(name, "admin", password)
        self._record_user(user.name, None, {"role": "admin"}, "create", Actor("(first run)", "system", self.station))
        return user

    def _record_user(self, name: str, old, new, action: str, actor: Actor) -> None:
        """The audit line of an account change, then whoever listens (the station's event)."""
        self.audit.record("user", name, old, new, action=action, actor=actor)
        if self.on_user_change is not None:
            self.on_user_change(action, name, actor)

    def _admin(self, actor: Actor | None) -> Actor:
        """Who does a user change: `actor` (checked: admin, or the command line) or the session."""
        if actor is None:
            self.require("users")
            return self.actor
        if not self.permits(actor, "users"):
            raise PermissionDenied(self.refusal(actor, "users"))
        return actor

    def add_user(self, name: str, role: str, password: str, confirm: str | None = None, *,
                 actor: Actor | None = None) -> User:
        who = self._admin(actor)
        if confirm is not None and password != confirm:
            raise AccountError("the two passwords differ")
        user = self.store.add(name, role, password)
        self._record_user(user.name, None, {"role": role}, "create", who)
        return user

    def set_password(self, name: str, password: str, confirm: str | None = None, *,
                     actor: Actor | None = None) -> User:
        """An admin sets anyone's password; everyone may change their own."""
        me = actor.user if actor is not None else (self.session.user if self.session else None)
        who = (actor or self.actor) if me == name else self._admin(actor)
        if confirm is not None and password != confirm:
            raise AccountError("the two passwords differ")
        user = self.store.set_password(name, password)
        self._record_user(name, HIDDEN, HIDDEN, "password", who)
        return user

    def _me(self, actor: Actor | None) -> str | None:
        if actor is not None:
            return actor.user
        return self.session.user if self.session is not None else None

    def set_role(self, name: str, role: str, *, actor: Actor | None = None) -> User:
        who = self._admin(actor)
        before = self.store.get(name)
        if self._me(actor) == name and before is not None and role != before.role:
            raise AccountError("you cannot change the role of the account you are signed in with")
        user = self.store.set_role(name, role)
        self._record_user(name, {"role": before.role if before else None}, {"role": role}, "role", who)
        return user

    def unlock_user(self, name: str, *, actor: Actor | None = None) -> User:
        who = self._admin(actor)
        before = self.store.get(name)
        user = self.store.unlock(name)
        self._record_user(name, {"locked": bool(before and before.locked)}, {"locked": False}, "unlock", who)
        return user

    def remove_user(self, name: str, *, actor: Actor | None = None) -> User:
        who = self._admin(actor)
        if self._me(actor) == name:
            raise AccountError("you cannot remove the account you are signed in with")
        user = self.store.remove(name)
        self._record_user(name, {"role": user.role}, None, "remove", who)
        return user
