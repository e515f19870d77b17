"""Inspection Station: Basler camera + ONNX detection + pattern verdict, in one process."""

from __future__ import annotations


def __getattr__(name: str) -> str:
    # __version__ on first use: importlib.metadata costs ~30 ms of every start otherwise.
    if name != "__version__":
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    from importlib.metadata import PackageNotFoundError, version

    try:
        value = version("inspection-station")
    except PackageNotFoundError:  # running from a source tree or a frozen build without metadata
        value = "0.1.0"
    globals()["__version__"] = value
    return value
