"""One exception family, so the CLI and GUI can show a located one-line message."""

from __future__ import annotations


class StationError(Exception):
    """A failure the user can act on; str(err) is a complete one-line message."""


class ConfigError(StationError):
    """A settings file or value is wrong (the message names file, key and expectation)."""


class ModelError(StationError):
    """The ONNX model cannot be loaded or run."""


class ImageError(StationError):
    """An image file is missing, unreadable or empty."""


class CameraError(StationError):
    """The camera failed: not found, disconnected, timed out."""


class CameraTimeout(CameraError):
    """No frame arrived within the grab timeout."""


class PatternError(StationError):
    """A pattern file is invalid (the message names file, variant, slot and field)."""


class ResultsError(StationError):
    """Writing the results log or image archive failed."""


def located_error(where: object, exc: BaseException) -> StationError:
    """`exc` as a one-line StationError naming `where` (ours pass through unchanged).

    For thread and loader boundaries: an unexpected exception (RecursionError, MemoryError,
    a library's own type) still reaches the error route as a located message.
    """
    if isinstance(exc, StationError):
        return exc
    text = str(exc).strip().splitlines()
    detail = f"{type(exc).__name__}: {text[0]}" if text and text[0] else type(exc).__name__
    return StationError(f"{where}: unexpected failure ({detail})")
