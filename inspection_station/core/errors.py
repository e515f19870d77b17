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
