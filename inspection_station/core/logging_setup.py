"""Standard logging to a rotating file in the data root's logs/ (and the console if any).

The frozen Windows build has no console: without a file, camera drops, reconnects and
model loads would leave no trace. Every module logs with `logging.getLogger(__name__)`;
this sets up where it goes, once per process (calling it again replaces our handlers,
so a level change in the settings takes effect without duplicates).
"""

from __future__ import annotations

import logging
import logging.handlers
import sys
import threading
from pathlib import Path

from inspection_station.core import paths
from inspection_station.core.settings.model import LoggingSettings

LOG_FILE_NAME = "inspection-station.log"
FORMAT = "%(asctime)s %(levelname)-7s [%(threadName)s] %(name)s: %(message)s"
_MARK = "_inspection_station_handler"  # tags our handlers so a second setup replaces them


def log_dir() -> Path:
    return paths.logs_dir()


def log_file() -> Path:
    return log_dir() / LOG_FILE_NAME


def setup_logging(settings: LoggingSettings | None = None, *, console: bool | None = None) -> Path | None:
    """Log to `<user log dir>/inspection-station.log` (rotated) at the configured level.

    `console` None = only when the process has a stderr (not the windowed frozen build).
    Returns the log file, or None when it could not be opened (then console only).
    """
    settings = settings or LoggingSettings()
    level = getattr(logging, settings.level, logging.INFO)
    root = logging.getLogger()
    for handler in [h for h in root.handlers if getattr(h, _MARK, False)]:
        root.removeHandler(handler)
        handler.close()
    formatter = logging.Formatter(FORMAT)
    target = log_file()
    path: Path | None = target
    file_handler: logging.Handler | None
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        file_handler = logging.handlers.RotatingFileHandler(
            target, maxBytes=settings.max_kb * 1024, backupCount=settings.backups, encoding="utf-8", delay=False
        )
    except OSError as exc:
        file_handler = None
        if sys.stderr is not None:
            print(f"inspection-station: warning: {path}: cannot write the log file: {exc.strerror or exc}",
                  file=sys.stderr)
        path = None
    handlers: list[logging.Handler] = [file_handler] if file_handler is not None else []
    if console is None:
        console = sys.stderr is not None
    if console and sys.stderr is not None:
        handlers.append(logging.StreamHandler(sys.stderr))
    for handler in handlers:
        handler.setFormatter(formatter)
        handler.setLevel(level)
        setattr(handler, _MARK, True)
        root.addHandler(handler)
    root.setLevel(min(level, root.level) if root.level != logging.NOTSET else level)
    logging.captureWarnings(True)
    _log_uncaught_thread_exceptions()
    logging.getLogger(__name__).info("logging at %s to %s", settings.level, path or "the console only")
    return path


_hook_installed = False


def _log_uncaught_thread_exceptions() -> None:
    """A worker thread's uncaught exception goes to the log file too (then to the previous hook:
    the GUI's error route, or Python's default printout)."""
    global _hook_installed
    if _hook_installed:
        return
    _hook_installed = True
    previous = threading.excepthook

    def hook(args: threading.ExceptHookArgs) -> None:
        if args.exc_type is not SystemExit:
            name = args.thread.name if args.thread else "a thread"
            exc = args.exc_value if args.exc_value is not None else args.exc_type()
            logging.getLogger("inspection_station").error(
                "uncaught exception in %s", name, exc_info=(args.exc_type, exc, args.exc_traceback)
            )
        previous(args)

    threading.excepthook = hook
