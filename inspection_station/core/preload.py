"""The heavy imports of a station's start, begun at once on threads of their own.

A start used to import onnxruntime (~0.4 s), pypylon (~0.3 s) and scipy's assignment solver
(~0.1 s) one after another, each when first needed: the model load after the imports of
the station, the camera open after those, the solver inside the first cycle. Started here
as soon as the command is known, they overlap the main thread's own imports (numpy, OpenCV,
Qt and pyqtgraph for the window), and what waits for them later finds them done. Only the
modules a command will use are preloaded; a failed import is left for its real import to
report (nothing is swallowed that matters). The threads import third-party modules only:
numpy and our own modules are imported on the calling thread first (see start()).
"""

from __future__ import annotations

import atexit
import importlib
import threading
import time

_started: dict[str, threading.Thread] = {}
_lock = threading.Lock()
EXIT_WAIT_S = 10.0


def _finish_at_exit() -> None:
    """A command that ends at once (a bad option) must not leave the interpreter while a
    preload thread is inside an extension's initialisation: that can abort the process
    (SIGABRT instead of the command's exit code). Bounded, so a hung import cannot hold it."""
    deadline = time.monotonic() + EXIT_WAIT_S
    for thread in list(_started.values()):
        thread.join(max(0.0, deadline - time.monotonic()))


def _load(name: str) -> None:
    try:
        if name == "assignment_solver":
            # matching itself was imported by start(): only scipy's part loads here
            from inspection_station.core.patterns import matching

            matching.assignment_solver()
        else:
            importlib.import_module(name)
    except Exception:  # noqa: BLE001 - the real import raises it again, located, where it is used
        pass


def start(*names: str) -> None:
    """Import `names` (modules, or "assignment_solver") each on a daemon thread, once."""
    # numpy first, here: every preload (and the caller's next imports) imports it, and its C
    # core must never be initialised from two threads at once (numpy 2 then raises "cannot
    # load module more than once per process", or a half-initialised `numpy._core`)
    import numpy  # noqa: F401

    if "assignment_solver" in names:
        # our own module, here too: the main thread imports it (and core.cycle, core.frame) at
        # once, and a module imported by two threads at once can be seen half-initialised
        # ("cannot import name 'CycleResult' from partially initialized module")
        from inspection_station.core.patterns import matching  # noqa: F401

    with _lock:
        if not _started:
            atexit.register(_finish_at_exit)
        for name in names:
            if name not in _started:
                thread = threading.Thread(target=_load, args=(name,), name=f"preload-{name}", daemon=True)
                _started[name] = thread
                thread.start()


def wait(name: str, timeout: float | None = None) -> None:
    """Until `name`'s preload is done (no-op when it was never started)."""
    thread = _started.get(name)
    if thread is not None:
        thread.join(timeout)


def start_for_station(camera_source: str | None = None) -> None:
    """What a station start needs: the model's runtime, the matcher's solver and, for a pylon
    camera (the default), pylon."""
    start("onnxruntime", "assignment_solver")
    if camera_source in (None, "pylon"):
        start("pypylon.pylon")
