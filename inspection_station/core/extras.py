"""Optional parts of the station (pyproject's extras) and what to install when one is missing.

A plain `pip install inspection-station` runs the station with its window, camera, model and
CSV log. What is off by default comes with an extra; a setting that needs a missing one is
refused with a message naming the extra (and, in a frozen build, that the build lacks it).
"""

from __future__ import annotations

import importlib.metadata
import importlib.util
import sys

from inspection_station.core.errors import ConfigError
from inspection_station.core.settings.model import ModelSettings

# extra -> (import names it brings, what it is for).
LINE = ("fastapi", "uvicorn", "multipart", "prometheus_client")
EXTRAS: dict[str, tuple[tuple[str, ...], str]] = {
    "line": (LINE, "the line integration (HTTP API, metrics)"),
    "service": (("win32serviceutil", "servicemanager"), "`serve` as a Windows service"),
    "opcua": (("asyncua",), "the OPC UA server (OPC 40100 Machine Vision)"),
}  # `model optimize` names its `optimize` extra itself (core/detect/optimize.py)
# onnxruntime's builds: each installs the same `onnxruntime` package folder, so only one may be
# installed. Which extra brings which provider.
ONNXRUNTIME_BUILDS = ("onnxruntime", "onnxruntime-directml", "onnxruntime-gpu", "onnxruntime-openvino")
PROVIDER_EXTRAS = {
    "CUDAExecutionProvider": ("gpu", "onnxruntime-gpu"),
    "TensorrtExecutionProvider": ("gpu", "onnxruntime-gpu"),
    # onnxruntime-openvino is a separate build (docs/INSTALL_WINDOWS.md); [model] runtime =
    # "openvino" (the `openvino` extra) runs OpenVINO itself, beside onnxruntime
    "OpenVINOExecutionProvider": ("", "onnxruntime-openvino, or use [model] runtime = \"openvino\" (the `openvino` extra)"),
    "DmlExecutionProvider": ("", "onnxruntime-directml"),  # the Windows default
}


class MissingExtra(ConfigError):
    """A setting asks for a part whose extra is not installed."""


def missing_modules(extra: str) -> list[str]:
    modules, _ = EXTRAS[extra]
    return [m for m in modules if importlib.util.find_spec(m) is None]


def install_hint(extra: str) -> str:
    if getattr(sys, "frozen", False):
        return f"this build was made without the `{extra}` extra (packaging/build.py builds it in)"
    return f'install it: pip install "inspection-station[{extra}]"'


def require_extra(extra: str, needed_by: str) -> None:
    """MissingExtra naming `needed_by` (the setting or option), the extra and the missing modules."""
    missing = missing_modules(extra)
    if missing:
        _, what = EXTRAS[extra]
        raise MissingExtra(
            f"{needed_by} needs {what}, which is not installed ({', '.join(missing)} missing): "
            f"{install_hint(extra)}"
        )


def installed_onnxruntime_builds() -> list[str]:
    found = []
    for name in ONNXRUNTIME_BUILDS:
        try:
            found.append(f"{name} {importlib.metadata.version(name)}")
        except importlib.metadata.PackageNotFoundError:
            continue
    return found


def provider_notes(preference, available) -> list[str]:
    """Located notes when `[model] providers` names one this onnxruntime build lacks, or when
    two onnxruntime builds are installed over each other."""
    notes = []
    builds = installed_onnxruntime_builds()
    if len(builds) > 1:
        notes.append(
            f"onnxruntime: {' and '.join(builds)} are installed over each other (each owns the "
            "`onnxruntime` package, so the one installed last runs); keep one: "
            "pip uninstall -y " + " ".join(b.split()[0] for b in builds) + " && pip install <the one>"
        )
    if list(preference) == ModelSettings().providers:
        preference = ()  # the default: whichever accelerator is present, else the CPU; no note
    for provider in preference:
        if provider in available or provider == "CPUExecutionProvider":
            continue
        extra, package = PROVIDER_EXTRAS.get(provider, ("", ""))
        how = (
            f"it comes with {package} (the `{extra}` extra, in place of the installed build: README, Models)"
            if extra else f"it comes with {package}" if package else "no known onnxruntime build offers it"
        )
        notes.append(
            f"[model] providers: {provider} is not available in this onnxruntime "
            f"({', '.join(builds) or 'unknown build'}; it offers {', '.join(available)}); {how}"
        )
    return notes
