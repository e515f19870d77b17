"""The release lock files: every package of a release build pinned, with hashes, per platform.

`packaging/lock.py` writes them with uv (that needs the package registry); this module only
reads them, offline: whether a lock still fits pyproject.toml (`stale`), and whether an
environment is the locked one (`environment_differences`, what packaging/build.py records
in the frozen app's build-info.json and refuses for a `--release` build).
Needs the `packaging` library (a dependency of pip's build tools, PyInstaller and pytest).
"""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass, field
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
LOCK_DIR = REPO / "packaging" / "locks"
# The extras a release build carries: the line integration, the plant-wide results, the
# Windows service, PyInstaller.
RELEASE_EXTRAS = ("line", "plant", "opcua", "service", "freeze")
PYTHON = "3.11"  # the release builds' Python (the Windows workflow's, and CI's)
# platform -> (lock file, uv's --python-platform, marker values of that platform)
PLATFORMS = {
    "linux": (
        "linux-x86_64.txt",
        "x86_64-manylinux_2_36",  # Debian 12's glibc (CI, the development machines)
        {"sys_platform": "linux", "platform_system": "Linux", "os_name": "posix", "platform_machine": "x86_64"},
    ),
    "windows": (
        "windows-x86_64.txt",
        "x86_64-pc-windows-msvc",
        {"sys_platform": "win32", "platform_system": "Windows", "os_name": "nt", "platform_machine": "AMD64"},
    ),
}


def normalize(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def lock_path(platform: str) -> Path:
    return LOCK_DIR / PLATFORMS[platform][0]


def current_platform() -> str:
    import sys

    return "windows" if sys.platform == "win32" else "linux"


@dataclass
class Pin:
    version: str
    via: set[str] = field(default_factory=set)  # normalized names; "inspection-station" = direct


def parse_lock(text: str) -> dict[str, Pin]:
    """uv's `name==version` lines (with `--hash` continuations) and their `# via` notes."""
    pins: dict[str, Pin] = {}
    current: Pin | None = None
    in_via = False
    for raw in text.splitlines():
        line = raw.strip()
        m = re.match(r"^([A-Za-z0-9][A-Za-z0-9._-]*)==([^\s;\\]+)", raw)
        if m:
            current = pins[normalize(m.group(1))] = Pin(m.group(2))
            in_via = False
            continue
        if current is None or not line.startswith("#"):
            continue
        note = line.lstrip("#").strip()
        if note.startswith("via"):
            rest = note[3:].strip()
            in_via = not rest
            if rest:
                current.via.add(normalize(rest.split()[0]))
        elif in_via and note:
            current.via.add(normalize(note.split()[0]))
    return pins


def _marker_env(platform: str, extra: str = "") -> dict[str, str]:
    return {
        "implementation_name": "cpython",
        "platform_python_implementation": "CPython",
        "python_version": PYTHON,
        "python_full_version": f"{PYTHON}.9",
        "platform_release": "",
        "platform_version": "",
        "extra": extra,
        **PLATFORMS[platform][2],
    }


def direct_requirements(platform: str, pyproject: Path | None = None):
    """The project's requirements of a release build on `platform` (markers evaluated): the
    dependencies and RELEASE_EXTRAS, extras that name our own extras followed."""
    from packaging.requirements import Requirement

    with (pyproject or REPO / "pyproject.toml").open("rb") as f:
        project = tomllib.load(f)["project"]
    own = normalize(project["name"])
    extras = project.get("optional-dependencies", {})
    found, todo, seen = [], [(r, "") for r in project["dependencies"]], set()
    todo += [(r, "") for extra in RELEASE_EXTRAS for r in extras.get(extra, [])]
    while todo:
        text, extra = todo.pop(0)
        req = Requirement(text)
        if req.marker is not None and not req.marker.evaluate(_marker_env(platform, extra)):
            continue
        if normalize(req.name) == own:
            for name in sorted(req.extras - seen):
                seen.add(name)
                todo += [(r, "") for r in extras.get(name, [])]
            continue
        found.append(req)
    return found


def stale(platform: str, lock_text: str | None = None, pyproject: Path | None = None) -> list[str]:
    """Why the lock no longer fits pyproject.toml ([] = it fits): a requirement without a pin,
    a pin outside its requirement's range, a direct pin that nothing requires any more."""
    text = lock_path(platform).read_text(encoding="utf-8") if lock_text is None else lock_text
    pins = parse_lock(text)
    problems = []
    wanted = {}
    for req in direct_requirements(platform, pyproject):
        name = normalize(req.name)
        wanted[name] = req
        pin = pins.get(name)
        if pin is None:
            problems.append(f"{req} is required but not in the lock")
        elif not req.specifier.contains(pin.version, prereleases=True):
            problems.append(f"{req} is required but the lock pins {name}=={pin.version}")
    for name, pin in pins.items():
        if "inspection-station" in pin.via and name not in wanted and pin.via == {"inspection-station"}:
            problems.append(f"{name}=={pin.version} is pinned for the project, which no longer requires it")
    return problems


def environment_differences(lock_text: str, installed: dict[str, str] | None = None) -> list[str]:
    """How the environment differs from the lock: each locked package missing or at another
    version ([] = this environment is the locked one)."""
    if installed is None:
        import importlib.metadata

        installed = {normalize(d.metadata["Name"]): d.version for d in importlib.metadata.distributions()
                     if d.metadata["Name"]}
    out = []
    for name, pin in sorted(parse_lock(lock_text).items()):
        have = installed.get(name)
        if have != pin.version:
            out.append(f"{name}: locked {pin.version}, installed {have or 'nothing'}")
    return out
