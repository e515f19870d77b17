"""The process's file descriptors: a budget that network clients can never take from the camera.

A connection costs one descriptor. With a 1024-descriptor limit (a usual service default)
1,100 idle connections once left the camera and the results log without any ("Too many
open files": every cycle ERROR). So, where the platform has limits (POSIX):

- at start the soft RLIMIT_NOFILE is raised towards the hard limit (`raise_open_file_limit`;
  capped at 4096: a library still using select() breaks on descriptors above 1024, and a
  station needs few);
- the servers admit at most `connection_budget()` connections together, which keeps
  `RESERVE` descriptors (plus those open at start) for everything else: camera, model,
  log, archive, pylon's own.
"""

from __future__ import annotations

import logging
import os
import sys

log = logging.getLogger(__name__)

RESERVE = 256  # kept free for the station besides what it had open when the servers started
SOFT_TARGET = 4096

try:
    import resource
except ImportError:  # Windows: no descriptor limit of this kind (handles are plentiful)
    resource = None  # type: ignore[assignment]


def open_file_limit() -> int | None:
    """The soft RLIMIT_NOFILE, or None where there is none."""
    if resource is None:
        return None
    soft, _hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    return None if soft == resource.RLIM_INFINITY else int(soft)


def raise_open_file_limit(target: int = SOFT_TARGET) -> tuple[int | None, int | None]:
    """Raise the soft limit to min(hard, target) where allowed; (before, after). Never lowers it."""
    if resource is None:
        return None, None
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    wanted = target if hard == resource.RLIM_INFINITY else min(hard, target)
    if soft != resource.RLIM_INFINITY and soft < wanted:
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (wanted, hard))
        except (ValueError, OSError) as exc:  # a container may forbid it: keep the soft limit
            log.warning("could not raise the open-file limit from %d to %d: %s", soft, wanted, exc)
            return soft, soft
        log.info("open-file limit raised from %d to %d", soft, wanted)
        return soft, wanted
    return soft, soft


def open_descriptors() -> int | None:
    """How many descriptors the process has open (Linux, macOS), or None where unknown."""
    for folder in ("/proc/self/fd", "/dev/fd"):
        if sys.platform != "win32" and os.path.isdir(folder):
            try:
                return max(0, len(os.listdir(folder)) - 1)  # minus the one listdir itself holds
            except OSError:
                continue
    return None


def connection_budget(wanted: int) -> tuple[int, str]:
    """How many connections the servers may hold together: `wanted`, or less where the
    descriptor limit needs it; with the reason when less."""
    limit = open_file_limit()
    if limit is None:
        return wanted, ""
    in_use = open_descriptors() or 0
    budget = limit - in_use - RESERVE
    if budget >= wanted:
        return wanted, ""
    budget = max(1, budget)
    return budget, (f"at most {budget} connections (not [line] max_connections = {wanted}): the open-file "
                    f"limit is {limit}, {in_use} are open and {RESERVE} are kept for the camera, model and log")
