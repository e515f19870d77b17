"""A station's events held from its start until their reader exists, then passed on in order.

The GUI starts the station before it imports Qt and builds the window (the camera opens and
the model loads meanwhile, on the station's threads); what the station publishes in that
time (camera connecting, model ready, an error) is kept here and handed over, in order, once
the window's bridge listens. From then on every event goes straight through: this replay
stays the reader's one subscription, so nothing is delivered twice or out of order.
"""

from __future__ import annotations

import threading
from collections.abc import Callable

from inspection_station.core.events import Event, EventBus


class EventReplay:
    def __init__(self, bus: EventBus) -> None:
        self.bus = bus
        self._lock = threading.Lock()
        self._held: list[Event] = []
        self._handler: Callable[[Event], None] | None = None
        self._unsubscribe: Callable[[], None] | None = bus.subscribe(self._receive)

    def _receive(self, event: Event) -> None:
        with self._lock:
            handler = self._handler
            if handler is None:
                self._held.append(event)
                return
        handler(event)

    def hand_over(self, handler: Callable[[Event], None]) -> int:
        """Everything held to `handler`, in order, then every later event; returns how many
        were held. An event published during the replay waits for it (the lock)."""
        with self._lock:
            held, self._held = self._held, []
            for event in held:
                handler(event)
            self._handler = handler
        return len(held)

    def close(self) -> None:
        """No more events (the reader detached)."""
        if self._unsubscribe is not None:
            self._unsubscribe()
            self._unsubscribe = None
        with self._lock:
            self._held.clear()
            self._handler = None
