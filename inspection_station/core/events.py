"""The station's one event route: typed, frozen events, published by the core, read by views.

napari's and pymmcore-plus's habit: a core that emits and views that subscribe. Everything
that changes what the station *is* (product, settings, who is signed in, the shift, hold,
a component's readiness) or what it *did* (a cycle, a refusal, an overrule) is published here
as one event. The GUI bridges them to Qt signals in one place (gui/operator/station_bridge.py);
the HTTP API, the metrics and the PLC outputs subscribe to the same route.

Handlers run synchronously on the publishing thread (the trigger's caller, the camera
worker, the inference or loader thread, the GUI thread for an action taken there): they must
be quick and thread-safe, and hop to their own thread when they touch widgets. A handler
that raises is logged; it never breaks the publisher or the other handlers.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, TypeVar

if TYPE_CHECKING:
    from inspection_station.core.cycle import CycleResult
    from inspection_station.core.settings.audit import Actor
    from inspection_station.core.settings.model import Settings

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Event:
    """Base of every event: `time` is the wall clock when it was made."""

    time: float = field(default_factory=time.time, kw_only=True, compare=False)


# --- what the station did -------------------------------------------------------------------


@dataclass(frozen=True)
class CycleStarted(Event):
    """A trigger was accepted: a cycle runs from now on (the busy lock is held)."""

    source: str


@dataclass(frozen=True)
class CycleFinished(Event):
    """The cycle's result, recorded (its CSV row written or kept for retry); still busy."""

    result: CycleResult


@dataclass(frozen=True)
class TriggerRefused(Event):
    """A trigger that was counted and dropped (a cycle was running, the station is on hold)."""

    source: str
    reason: str


@dataclass(frozen=True)
class Overruled(Event):
    """An operator corrected a cycle's verdict (the correction row is written)."""

    cycle_id: str
    old_verdict: str
    new_verdict: str
    actor: Actor


# --- what the station is --------------------------------------------------------------------


@dataclass(frozen=True)
class ComponentChanged(Event):
    """A component's state: ("camera" | "model" | "patterns" | "cycle" | "disk", state, reason)."""

    component: str
    state: str
    reason: str


@dataclass(frozen=True)
class ProductSelected(Event):
    """The active product (pattern set) changed: by an action (actor) or by a load (actor None)."""

    old: str | None
    new: str | None
    actor: Actor | None


@dataclass(frozen=True)
class RecipeSelected(Event):
    """The active recipe (core/recipes/) changed: another product, or the same one edited
    (a new version). `old`/`new` are `Recipe`s (None: none yet)."""

    old: Any
    new: Any
    actor: Actor | None


@dataclass(frozen=True)
class SettingsApplied(Event):
    """New settings are in force (saved first); `keys` are the "section.key" names that changed."""

    old: Settings
    new: Settings
    keys: tuple[str, ...]
    actor: Actor | None  # None: the station itself (e.g. the revert after a failed model load)
    reason: str = ""


@dataclass(frozen=True)
class SessionChanged(Event):
    """Signed in (user, role) or out (user None); `reason` says why (idle lock, next login …).

    `session_id` is the new session's id ("" when signed out): a question asked in one session
    dies with it."""

    user: str | None
    role: str | None
    session_id: str
    reason: str


@dataclass(frozen=True)
class ShiftReset(Event):
    """The shift statistics started over; `counts` are those that were dropped."""

    actor: Actor
    counts: dict[str, int]
    started: float  # epoch seconds of the new shift's start


@dataclass(frozen=True)
class HoldChanged(Event):
    """An engineer put the station on hold (triggers refused) or released it."""

    on_hold: bool
    reason: str
    actor: Actor | None


@dataclass(frozen=True)
class PatternLibraryChanged(Event):
    """A pattern set was saved, created, renamed, copied or deleted (the files changed)."""

    action: str
    name: str
    actor: Actor


@dataclass(frozen=True)
class AccountsChanged(Event):
    """A user account was created, changed or removed."""

    action: str
    name: str
    actor: Actor


# --- what the station says --------------------------------------------------------------------


@dataclass(frozen=True)
class Notice(Event):
    """Worth a status-bar line, not an error."""

    message: str


@dataclass(frozen=True)
class ErrorReported(Event):
    """Something failed; the station runs on (the message is one located line)."""

    message: str


@dataclass(frozen=True)
class RecordsWarning(Event):
    """The records need attention (a log file recreated, rows waiting for the disk)."""

    message: str


E = TypeVar("E", bound=Event)
Handler = Callable[[Any], None]


class EventBus:
    """Subscribe by event type (or to all); publish on the caller's thread."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        # replaced whole on (un)subscribe: publish iterates a snapshot without the lock
        self._handlers: tuple[tuple[Handler, tuple[type[Event], ...]], ...] = ()

    def subscribe(self, handler: Callable[[E], None], *types: type[E]) -> Callable[[], None]:
        """Call `handler(event)` for events of `types` (all events when none); returns the
        function that unsubscribes it."""
        entry = (handler, tuple(types))
        with self._lock:
            self._handlers = (*self._handlers, entry)

        def unsubscribe() -> None:
            with self._lock:
                self._handlers = tuple(h for h in self._handlers if h is not entry)

        return unsubscribe

    def publish(self, event: Event) -> None:
        for handler, types in self._handlers:
            if types and not isinstance(event, types):
                continue
            try:
                handler(event)
            except Exception:  # a view's bug must not break the station's thread
                log.exception("event handler %r failed on %s", handler, type(event).__name__)
