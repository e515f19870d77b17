"""A progress bar for long tools: shown on a terminal, silent in pipes and logs."""

from __future__ import annotations

import sys
from collections.abc import Iterable, Iterator
from typing import TypeVar

T = TypeVar("T")


def progress(items: Iterable[T], desc: str, total: int | None = None) -> Iterator[T]:
    """`items`, with a tqdm bar on stderr when stderr is a terminal (stdout stays clean for --json)."""
    from tqdm import tqdm

    if total is None and hasattr(items, "__len__"):
        total = len(items)  # type: ignore[arg-type]
    yield from tqdm(items, desc=desc, total=total, disable=not sys.stderr.isatty(), leave=False,
                    file=sys.stderr, unit="file")


def say(text: str) -> None:
    """Print a line to stdout without tearing a progress bar on the same terminal."""
    from tqdm import tqdm

    tqdm.write(text, file=sys.stdout)
