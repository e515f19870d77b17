"""Build the frozen app (PyInstaller) and the Windows installer (NSIS) in one go.

    python packaging/build.py             release: one-folder build + LZMA installer
    python packaging/build.py --fast      checks: installer without compression
    python packaging/build.py --no-installer        the frozen app only
    python packaging/build.py --skip-freeze         reuse dist/InspectionStation, installer only
    python packaging/build.py --keep-all --no-installer   no exclusions (to measure them)

The version comes from pyproject.toml. Output: dist/InspectionStation/ (the app) and
dist/InspectionStation-<version>-setup.exe (the installer). Prints the time of each
step and what the build weighs. Needs the `dev` extra (PyInstaller) and NSIS 3 (makensis).
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys
import time
import tomllib
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
SPEC = REPO / "packaging" / "inspection_station.spec"
NSI = REPO / "installer.nsi"
APP_DIR_NAME = "InspectionStation"


def project_version() -> str:
    with (REPO / "pyproject.toml").open("rb") as f:
        return tomllib.load(f)["project"]["version"]


def version_quad(version: str) -> str:
    """a.b.c.d for Windows file properties: the numeric release part, padded with zeros."""
    release = re.match(r"\d+(?:\.\d+)*", version)
    numbers = release.group(0).split(".") if release else []
    return ".".join((numbers + ["0"] * 4)[:4])


def tree_size(folder: Path) -> int:
    """Bytes of all regular files under folder; symlinks count as nothing (like du)."""
    total = 0
    for root, _dirs, files in os.walk(folder):
        for name in files:
            path = Path(root, name)
            if not path.is_symlink():
                total += path.stat().st_size
    return total


def human(size: int) -> str:
    value = float(size)
    for unit in ("B", "KiB", "MiB", "GiB"):
        if value < 1024 or unit == "GiB":
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    raise AssertionError


def find_makensis() -> str:
    found = shutil.which("makensis")
    if found:
        return found
    for base in (os.environ.get("PROGRAMFILES(X86)"), os.environ.get("PROGRAMFILES")):
        if base and Path(base, "NSIS", "makensis.exe").is_file():
            return str(Path(base, "NSIS", "makensis.exe"))
    raise SystemExit(
        "build: makensis not found: install NSIS 3 (Windows: choco install nsis; Debian: apt-get install nsis)"
    )


def freeze(dist: Path, work: Path, keep_all: bool) -> Path:
    command = [
        sys.executable,
        "-m",
        "PyInstaller",
        "--noconfirm",
        "--clean",
        "--distpath",
        str(dist),
        "--workpath",
        str(work),
        str(SPEC),
    ]
    if keep_all:
        command += ["--", "--keep-all"]
    subprocess.run(command, check=True, cwd=REPO)
    return dist / APP_DIR_NAME


def make_installer(app_dir: Path, outfile: Path, version: str, compress: str) -> Path:
    command = [
        find_makensis(),
        "-V2",
        f"-DVERSION={version}",
        f"-DVERSION_QUAD={version_quad(version)}",
        f"-DDIST_DIR={app_dir}",
        f"-DOUTFILE={outfile}",
        f"-DCOMPRESS={compress}",
        str(NSI),
    ]
    outfile.parent.mkdir(parents=True, exist_ok=True)
    subprocess.run(command, check=True, cwd=REPO)
    return outfile


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--dist", type=Path, default=REPO / "dist", help="output folder (default dist/)"
    )
    parser.add_argument(
        "--work", type=Path, default=REPO / "build" / "pyinstaller", help="PyInstaller work folder"
    )
    parser.add_argument(
        "--fast",
        "--no-compress",
        dest="fast",
        action="store_true",
        help="installer without compression (quick checks)",
    )
    parser.add_argument(
        "--compress",
        default="lzma",
        choices=("lzma", "zlib", "bzip2", "off"),
        help="installer compression for release builds (default lzma)",
    )
    parser.add_argument("--no-installer", action="store_true", help="build the frozen app only")
    parser.add_argument("--skip-freeze", action="store_true", help="reuse the frozen app in --dist")
    parser.add_argument(
        "--keep-all", action="store_true", help="no exclusions in the spec (to measure them)"
    )
    args = parser.parse_args(argv)

    version = project_version()
    dist = args.dist.resolve()
    app_dir = dist / APP_DIR_NAME
    print(f"build: Inspection Station {version}", flush=True)

    if not args.skip_freeze:
        started = time.perf_counter()
        freeze(dist, args.work.resolve(), args.keep_all)
        print(f"build: frozen app in {time.perf_counter() - started:.0f} s: {app_dir}", flush=True)
    if not (app_dir / "_internal").is_dir():
        raise SystemExit(f"build: no frozen app in {app_dir}: run without --skip-freeze")
    print(
        f"build: weight of the frozen app: {human(tree_size(app_dir))} ({app_dir.name}/)",
        flush=True,
    )

    if not args.no_installer:
        compress = "off" if args.fast else args.compress
        outfile = dist / f"{APP_DIR_NAME}-{version}-setup.exe"
        started = time.perf_counter()
        make_installer(app_dir, outfile, version, compress)
        print(
            f"build: installer ({compress}) in {time.perf_counter() - started:.0f} s: "
            f"{outfile} ({human(outfile.stat().st_size)})",
            flush=True,
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
