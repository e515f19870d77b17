"""What the station *is*, owned once: settings in force (the product among them), who is
signed in, the mode (kiosk, demo), hold, and each component's readiness. (The shift is the
station's `Statistics`: its counts and start, reset only by the action.)

Only actions (core/actions.py) and the station's own machinery (a load's outcome, a camera
state) change it, each change under the one lock and published as a typed event on the
station's bus (core/events.py). Everyone else reads `snapshot()`: a frozen copy that cannot
drift from what the station really does.

The active product is `settings.patterns.active` — one place. An operator's switch, an API
call and an engineer's Apply all change that key through an action, which saves it; so a
pattern reload, an Apply of other keys and a restart all find the product someone chose.
"""

from __future__ import annotations

import dataclasses
import threading
from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType

from inspection_station.core.events import (
    ComponentChanged,
    Event,
    EventBus,
    HoldChanged,
    ProductSelected,
    RecipeSelected,
    SessionChanged,
    SettingsApplied,
)
from inspection_station.core.recipes.model import Recipe
from inspection_station.core.settings.audit import Actor
from inspection_station.core.settings.model import Settings
from inspection_station.core.settings.session import Session


@dataclass(frozen=True)
class StationSnapshot:
    settings: Settings
    product: str | None  # the pattern set that judges the next part (None: none loaded)
    session: Session | None
    demo: bool
    hold: str  # "" = not on hold, else why (triggers are refused meanwhile)
    components: Mapping[str, tuple[str, str]]  # component -> (state, reason)
    recipe: Recipe | None = None  # the active product's recipe (its overrides are in `settings`)

    @property
    def kiosk(self) -> bool:
        return self.settings.station.kiosk

    @property
    def station(self) -> str:
        return self.settings.station.name

    def component(self, name: str) -> tuple[str, str]:
        return self.components.get(name, ("", ""))


def settings_keys_changed(old: Settings, new: Settings) -> tuple[str, ...]:
    """The "section.key" names whose values differ."""
    keys = []
    for section in dataclasses.fields(Settings):
        a, b = getattr(old, section.name), getattr(new, section.name)
        if a == b:
            continue
        keys += [f"{section.name}.{f.name}" for f in dataclasses.fields(a) if getattr(a, f.name) != getattr(b, f.name)]
    return tuple(keys)


class StationState:
    """Thread-safe holder of the station's state; every change is published on `bus`."""

    def __init__(self, settings: Settings, bus: EventBus | None = None, *, demo: bool = False) -> None:
        self.bus = bus or EventBus()
        self._lock = threading.RLock()
        self._settings = settings
        self._product: str | None = None
        self._session: Session | None = None
        self._demo = demo
        self._hold = ""
        self._components: dict[str, tuple[str, str]] = {}
        self._recipe: Recipe | None = None

    # --- reading ------------------------------------------------------------------------

    def snapshot(self) -> StationSnapshot:
        with self._lock:
            return StationSnapshot(
                settings=self._settings,
                product=self._product,
                session=self._session,
                demo=self._demo,
                hold=self._hold,
                components=MappingProxyType(dict(self._components)),
                recipe=self._recipe,
            )

    @property
    def settings(self) -> Settings:
        return self._settings

    @property
    def product(self) -> str | None:
        return self._product

    @property
    def recipe(self) -> Recipe | None:
        """The active product's recipe (None before the first load): its overrides are in force."""
        return self._recipe

    @property
    def session(self) -> Session | None:
        return self._session

    @property
    def hold(self) -> str:
        return self._hold

    @property
    def components(self) -> dict[str, tuple[str, str]]:
        with self._lock:
            return dict(self._components)

    @property
    def lock(self) -> threading.RLock:
        """Held by an action across check -> persist -> change, so two routes never interleave."""
        return self._lock

    # --- changing (actions and the station's machinery only) ---------------------------------

    def set_settings(self, new: Settings, actor: Actor | None, reason: str = "") -> tuple[str, ...]:
        with self._lock:
            old, self._settings = self._settings, new
            keys = settings_keys_changed(old, new)
        if keys:
            self._publish(SettingsApplied(old, new, keys, actor, reason))
        return keys

    def set_product(self, name: str | None, actor: Actor | None) -> None:
        with self._lock:
            old, self._product = self._product, name
        if old != name:
            self._publish(ProductSelected(old, name, actor))

    def set_recipe(self, recipe: Recipe | None, actor: Actor | None) -> None:
        with self._lock:
            old, self._recipe = self._recipe, recipe
        if old != recipe:
            self._publish(RecipeSelected(old, recipe, actor))

    def set_session(self, session: Session | None, reason: str) -> Session | None:
        """Returns the session it replaced."""
        with self._lock:
            old, self._session = self._session, session
        if old != session:
            self._publish(SessionChanged(session.user if session else None, session.role if session else None,
                                         session.id if session else "", reason))
        return old

    def set_hold(self, reason: str, actor: Actor | None) -> None:
        with self._lock:
            old, self._hold = self._hold, reason
        if bool(old) != bool(reason) or (reason and old != reason):
            self._publish(HoldChanged(bool(reason), reason, actor))

    def set_component(self, component: str, state: str, reason: str) -> None:
        with self._lock:
            self._components[str(component)] = (str(state), str(reason))
        self._publish(ComponentChanged(str(component), str(state), str(reason)))

    def _publish(self, event: Event) -> None:
        self.bus.publish(event)  # outside the lock: a handler may read the snapshot
