"""One route for every error the operator should see (napari's idea).

Uncaught exceptions (main thread, Qt slots, worker threads) and errors the Station
reports all end in `ErrorRoute.reported`, which the main window shows in the status
bar and a dialog. An uncaught exception is reported, never fatal.
"""

from __future__ import annotations

import logging
import sys
import threading
import traceback

from PySide6.QtCore import QObject, Signal

log = logging.getLogger(__name__)


class ErrorRoute(QObject):
    """Thread-safe: `report` may be called from any thread; slots run in the GUI thread."""

    reported = Signal(str, str)  # one-line message, details (traceback or "")

    def report(self, message: str, details: str = "") -> None:
        log.error("%s%s", message, f"\n{details}" if details else "")
        self.reported.emit(str(message), str(details))

    def report_exception(self, exc_type, exc, tb, where: str = "") -> None:
        summary = "".join(traceback.format_exception_only(exc_type, exc)).strip()
        prefix = f"Unexpected error in {where}: " if where else "Unexpected error: "
        self.report(prefix + summary, "".join(traceback.format_exception(exc_type, exc, tb)))


def install_exception_hooks(route: ErrorRoute) -> callable:
    """Send sys/threading uncaught exceptions to `route`; returns a function that undoes it."""
    old_sys, old_thread = sys.excepthook, threading.excepthook

    def sys_hook(exc_type, exc, tb):
        if issubclass(exc_type, KeyboardInterrupt):
            old_sys(exc_type, exc, tb)
            return
        route.report_exception(exc_type, exc, tb)

    def thread_hook(args: threading.ExceptHookArgs):
        if args.exc_type is SystemExit:
            return
        name = args.thread.name if args.thread else "a worker thread"
        route.report_exception(args.exc_type, args.exc_value, args.exc_traceback, where=name)

    sys.excepthook, threading.excepthook = sys_hook, thread_hook

    def uninstall() -> None:
        sys.excepthook, threading.excepthook = old_sys, old_thread

    return uninstall
