"""Station callbacks held until their receiver exists, then passed on in order.

The GUI starts the station before it imports Qt and builds the window (the camera opens
and the model loads meanwhile, on the station's threads); what the station reports in
that time (camera connecting, model ready, an error) is kept here and replayed, in order,
once the window's bridge attaches. From then on every call goes straight through.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping

NAMES = ("on_result", "on_state", "on_error", "on_refused", "on_notice")


class CallbackRelay:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._held: list[tuple[str, tuple]] = []
        self._target: Mapping[str, Callable] | None = None

    def callbacks(self) -> dict[str, Callable]:
        """The keyword arguments for `Station(settings, **relay.callbacks())`."""
        return {name: (lambda *args, _name=name: self._call(_name, args)) for name in NAMES}

    def _call(self, name: str, args: tuple) -> None:
        with self._lock:
            target = self._target
            if target is None:
                self._held.append((name, args))
                return
        target[name](*args)

    def attach(self, callbacks: Mapping[str, Callable]) -> int:
        """Pass everything held to `callbacks` (the bridge's), then every later call; returns
        how many were held. Calls that race the attach wait for the replay (the lock)."""
        with self._lock:
            held, self._held = self._held, []
            for name, args in held:
                callbacks[name](*args)
            self._target = dict(callbacks)
        return len(held)
