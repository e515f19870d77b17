"""Inspection Station: Basler camera + ONNX detection + pattern verdict, in one process."""

from __future__ import annotations

from inspection_station._version import __version__

__all__ = ["__version__"]
