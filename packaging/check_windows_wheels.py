"""Check that every runtime requirement has a Windows wheel (win_amd64, CPython 3.11).

    python packaging/check_windows_wheels.py [--extra dev] [--keep DIR]

Reads [project] dependencies from pyproject.toml, evaluates their environment markers
as on 64-bit Windows (so onnxruntime-directml, not onnxruntime), and asks pip to
download a binary wheel of each one for win_amd64 / Python 3.11 (no source builds,
no dependencies). Prints one line per requirement; exit code 1 if any has no wheel.
Needs network access to the package index pip is configured with.
"""

from __future__ import annotations

import argparse
import re
import subprocess
import sys
import tempfile
import time
import tomllib
from pathlib import Path

from packaging.requirements import Requirement

REPO = Path(__file__).resolve().parents[1]
PYTHON_VERSION = "3.11"
PLATFORM = "win_amd64"
# Marker values of CPython 3.11 on 64-bit Windows.
WINDOWS_ENV = {
    "os_name": "nt",
    "sys_platform": "win32",
    "platform_system": "Windows",
    "platform_machine": "AMD64",
    "platform_release": "10",
    "implementation_name": "cpython",
    "platform_python_implementation": "CPython",
    "python_version": PYTHON_VERSION,
    "python_full_version": f"{PYTHON_VERSION}.9",
}


def windows_requirements(extras: list[str]) -> list[Requirement]:
    """The project's requirements that apply on Windows, with the given extras followed."""
    with (REPO / "pyproject.toml").open("rb") as f:
        project = tomllib.load(f)["project"]
    own_name = project["name"]
    wanted: list[Requirement] = []
    pending = [(line, "") for line in project.get("dependencies", [])]
    seen_extras: set[str] = set()
    todo = list(extras)
    while todo:
        extra = todo.pop()
        if extra in seen_extras:
            continue
        seen_extras.add(extra)
        pending += [
            (line, extra) for line in project.get("optional-dependencies", {}).get(extra, [])
        ]
        while pending:
            line, from_extra = pending.pop(0)
            req = Requirement(line)
            if req.name == own_name:  # "inspection-station[test]" inside the dev extra
                todo += sorted(req.extras)
                continue
            if req.marker is None or req.marker.evaluate({**WINDOWS_ENV, "extra": from_extra}):
                wanted.append(req)
    for line, from_extra in pending:
        req = Requirement(line)
        if req.marker is None or req.marker.evaluate({**WINDOWS_ENV, "extra": from_extra}):
            wanted.append(req)
    return wanted


def download(req: Requirement, folder: Path) -> tuple[bool, str]:
    """pip download one binary wheel for Windows; (found, wheel file name or pip's last words)."""
    before = set(folder.iterdir())
    spec = f"{req.name}{req.specifier}"
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "download",
            "--quiet",
            "--disable-pip-version-check",
            "--platform",
            PLATFORM,
            "--python-version",
            PYTHON_VERSION,
            "--implementation",
            "cp",
            "--only-binary=:all:",
            "--no-deps",
            "-d",
            str(folder),
            spec,
        ],
        capture_output=True,
        text=True,
    )
    new = sorted(p.name for p in set(folder.iterdir()) - before)
    if result.returncode == 0:
        wheels = new or [p.name for p in folder.iterdir() if _wheel_matches(p.name, req.name)]
        return True, ", ".join(wheels) or "(already downloaded)"
    lines = [line for line in (result.stderr or result.stdout).splitlines() if line.strip()]
    return False, lines[-1] if lines else f"pip exited {result.returncode}"


def _wheel_matches(filename: str, name: str) -> bool:
    normal = re.sub(r"[-_.]+", "_", name).lower()
    return filename.lower().startswith(normal + "-") and filename.endswith(".whl")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--extra",
        action="append",
        default=[],
        help="also check an optional-dependency group (e.g. dev)",
    )
    parser.add_argument("--keep", type=Path, help="download into this folder and keep the wheels")
    args = parser.parse_args(argv)

    requirements = windows_requirements(args.extra)
    failures = 0
    with tempfile.TemporaryDirectory(prefix="win-wheels-") as tmp:
        folder = args.keep or Path(tmp)
        folder.mkdir(parents=True, exist_ok=True)
        for req in requirements:
            started = time.perf_counter()
            ok, detail = download(req, folder)
            failures += not ok
            mark = "ok     " if ok else "MISSING"
            print(
                f"{mark} {str(req):45s} {detail} ({time.perf_counter() - started:.0f} s)",
                flush=True,
            )
    total = len(requirements)
    print(
        f"{total - failures}/{total} requirements have a {PLATFORM} wheel for Python {PYTHON_VERSION}"
    )
    return 1 if failures else 0


if __name__ == "__main__":
    raise SystemExit(main())
