"""Build the frozen app (PyInstaller) and the Windows installer (NSIS) in one go.

    python packaging/build.py --release   release: from the lock file only, LZMA installer
    python packaging/build.py             the same, recording (not refusing) a differing environment
    python packaging/build.py --fast      checks: installer without compression and CRC check
    python packaging/build.py --no-installer        the frozen app only
    python packaging/build.py --skip-freeze         reuse dist/InspectionStation, installer only
    python packaging/build.py --keep-all --no-installer   no exclusions (to measure them)
    python packaging/build.py --skip-freeze --installer-version 0.1.0   checks: an "older" installer

The version comes from inspection_station/_version.py (the one place; pyproject.toml reads
it too). The build environment is compared with packaging/locks/<platform>-x86_64.txt:
`--release` refuses any difference, otherwise the differences are recorded in the frozen
app's build-info.json. Output: dist/InspectionStation/ (the app) and
dist/InspectionStation-<version>-setup.exe (the installer), built with makensis -WX
(a warning is an error). Prints the time of each step and what the build weighs.

Signing (optional): with SIGN_CERT_PFX (a .pfx file) in the environment, plus
SIGN_CERT_PASSWORD and SIGN_TIMESTAMP_URL if needed, the programs, the installer and the
uninstaller are signed (Authenticode SHA-256) with signtool on Windows (SIGNTOOL may name
it) or osslsigncode elsewhere. Needs the `dev` extra (PyInstaller) and NSIS 3 (makensis).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import platform
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
SPEC = REPO / "packaging" / "inspection_station.spec"
NSI = REPO / "installer.nsi"
VERSION_FILE = REPO / "inspection_station" / "_version.py"
APP_DIR_NAME = "InspectionStation"
BUILD_INFO = "build-info.json"
PROGRAMS = ("InspectionStation.exe", "inspection-station.exe")
sys.path.insert(0, str(REPO))  # this checkout's deploy modules, not an installed copy

from inspection_station.deploy import nsis, release_lock  # noqa: E402


def project_version() -> str:
    """The version, read from its one place without importing the package."""
    m = re.search(r'^__version__ = "([^"]+)"', VERSION_FILE.read_text(encoding="utf-8"), re.M)
    if not m:
        raise SystemExit(f"build: {VERSION_FILE}: no __version__ = \"...\" line")
    return m.group(1)


# ---- the lock file -------------------------------------------------------------------------


def check_lock(lock: Path, platform_name: str, release: bool) -> dict:
    """Compare this environment with the lock; `release` refuses any difference."""
    text = lock.read_text(encoding="utf-8")
    info = {
        "lock": lock.relative_to(REPO).as_posix() if lock.is_relative_to(REPO) else str(lock),
        "lock_sha256": hashlib.sha256(text.encode("utf-8")).hexdigest(),
        "stale": release_lock.stale(platform_name, text) if lock == release_lock.lock_path(platform_name) else [],
        "differences": release_lock.environment_differences(text),
    }
    info["locked"] = not info["differences"] and not info["stale"]
    for problem in info["stale"]:
        print(f"build: lock: stale: {problem}", flush=True)
    for difference in info["differences"]:
        print(f"build: lock: {difference}", flush=True)
    if release and not info["locked"]:
        raise SystemExit(
            f"build: --release: this environment is not {info['lock']} (above); install it with "
            f"`pip install -r {info['lock']}` and `pip install --no-deps -e .`, or refresh the lock "
            "with `python packaging/lock.py`"
        )
    print(f"build: lock: {info['lock']}: " + ("this environment is the locked one" if info["locked"]
                                              else "DIFFERS (recorded in build-info.json)"), flush=True)
    return info


def write_build_info(app_dir: Path, version: str, lock_info: dict) -> None:
    info = {"version": version, "python": platform.python_version(), "platform": sys.platform, **lock_info}
    (app_dir / BUILD_INFO).write_text(json.dumps(info, indent=2) + "\n", encoding="utf-8")


# ---- signing ------------------------------------------------------------------------------


def signing_requested() -> bool:
    return bool(os.environ.get("SIGN_CERT_PFX"))


def _signtool() -> str | None:
    if os.environ.get("SIGNTOOL"):
        return os.environ["SIGNTOOL"]
    found = shutil.which("signtool")
    if found:
        return found
    kits = Path(os.environ.get("PROGRAMFILES(X86)", r"C:\Program Files (x86)")) / "Windows Kits" / "10" / "bin"
    candidates = sorted(kits.glob("*/x64/signtool.exe")) if kits.is_dir() else []
    return str(candidates[-1]) if candidates else None


def sign_file(path: Path) -> None:
    """Authenticode-sign one PE file in place with the certificate the environment names."""
    pfx = os.environ["SIGN_CERT_PFX"]
    password = os.environ.get("SIGN_CERT_PASSWORD", "")
    timestamp = os.environ.get("SIGN_TIMESTAMP_URL", "")
    tool = _signtool() if sys.platform == "win32" else shutil.which("osslsigncode")
    if tool is None:
        raise SystemExit("build: signing asked for (SIGN_CERT_PFX) but no signtool / osslsigncode found")
    if Path(tool).name.lower().startswith("osslsigncode"):
        signed = path.with_name(path.name + ".signed")
        command = [tool, "sign", "-pkcs12", pfx, "-pass", password, "-h", "sha256",
                   "-n", "Inspection Station", "-in", str(path), "-out", str(signed)]
        if timestamp:
            command[2:2] = ["-ts", timestamp]
        subprocess.run(command, check=True, capture_output=True)
        os.replace(signed, path)
    else:
        command = [tool, "sign", "/fd", "SHA256", "/f", pfx, "/d", "Inspection Station"]
        if password:
            command += ["/p", password]
        if timestamp:
            command += ["/tr", timestamp, "/td", "SHA256"]
        subprocess.run([*command, str(path)], check=True, capture_output=True)
    print(f"build: signed {path.name}", flush=True)


def sign_programs(app_dir: Path) -> None:
    """The frozen programs, where they are Windows programs (a Linux build has ELF files)."""
    for name in PROGRAMS:
        path = app_dir / name
        if path.is_file() and path.read_bytes()[:2] == b"MZ":
            sign_file(path)


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


def write_generated_include(work: Path) -> Path:
    """The installer's commands (service, firewall, ACLs) from inspection_station/deploy/."""
    work.mkdir(parents=True, exist_ok=True)
    path = work / "installer_generated.nsh"
    path.write_text(nsis.render_include() + "\n", encoding="utf-8")
    return path


def make_installer(app_dir: Path, outfile: Path, version: str, compress: str, work: Path,
                   quick: bool = False) -> Path:
    command = [
        find_makensis(),
        "-V2",
        "-WX",  # every warning is an error
        f"-DVERSION={version}",
        f"-DVERSION_QUAD={version_quad(version)}",
        f"-DDIST_DIR={app_dir}",
        f"-DOUTFILE={outfile}",
        f"-DCOMPRESS={compress}",
        f"-DGENERATED_NSH={write_generated_include(work)}",
    ]
    if quick:
        command.append("-DNO_CRC_CHECK")
    if signing_requested():  # makensis signs the uninstaller it embeds, then the installer
        sign = subprocess.list2cmdline([sys.executable, str(Path(__file__).resolve()), "--sign-file"]) + ' "%1"'
        command.append(f"-DSIGN_COMMAND={sign}")
    command.append(str(NSI))
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
        help="installer without compression or CRC self-check (quick checks)",
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
    parser.add_argument("--release", action="store_true",
                        help="refuse to build unless this environment is the lock file's")
    parser.add_argument("--lock", type=Path, help="lock file (default packaging/locks/<platform>-x86_64.txt)")
    parser.add_argument("--installer-version", metavar="V",
                        help="checks only: the installer says version V (the payload stays as built)")
    parser.add_argument("--sign-file", type=Path, metavar="F", help=argparse.SUPPRESS)  # makensis' !finalize
    args = parser.parse_args(argv)
    if args.sign_file:
        sign_file(args.sign_file)
        return 0
    if args.release and (args.keep_all or args.installer_version):
        parser.error("--release builds what the lock says, with the exclusions and the real version")

    version = project_version()
    dist = args.dist.resolve()
    app_dir = dist / APP_DIR_NAME
    print(f"build: Inspection Station {version}", flush=True)

    if not args.skip_freeze:
        platform_name = release_lock.current_platform()
        lock_info = check_lock((args.lock or release_lock.lock_path(platform_name)).resolve(), platform_name,
                               args.release)
        started = time.perf_counter()
        freeze(dist, args.work.resolve(), args.keep_all)
        write_build_info(app_dir, version, lock_info)
        if signing_requested():
            sign_programs(app_dir)
        print(f"build: frozen app in {time.perf_counter() - started:.0f} s: {app_dir}", flush=True)
    if not (app_dir / "_internal").is_dir():
        raise SystemExit(f"build: no frozen app in {app_dir}: run without --skip-freeze")
    print(
        f"build: weight of the frozen app: {human(tree_size(app_dir))} ({app_dir.name}/)",
        flush=True,
    )

    if not args.no_installer:
        compress = "off" if args.fast else args.compress
        installer_version = args.installer_version or version
        outfile = dist / f"{APP_DIR_NAME}-{installer_version}-setup.exe"
        started = time.perf_counter()
        make_installer(app_dir, outfile, installer_version, compress, args.work.resolve(), quick=args.fast)
        print(
            f"build: installer ({compress}) in {time.perf_counter() - started:.0f} s: "
            f"{outfile} ({human(outfile.stat().st_size)})",
            flush=True,
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
