"""Write the release lock files (packaging/locks/<platform>-x86_64.txt) with uv.

    python packaging/lock.py              both platforms; pins already there are kept
    python packaging/lock.py --upgrade    the newest versions pyproject.toml allows

Each file pins every package of a release build (the dependencies plus the extras
release_lock.RELEASE_EXTRAS names; Python 3.11) with their hashes. The frozen build and the Windows
workflow install from them (`pip install -r packaging/locks/...`), CI's test venv too;
tests/test_release_lock.py fails, without the network, when one no longer fits
pyproject.toml: then run this (it needs the package registry, and uv: the dev extra).
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))  # the deploy module of this checkout, not an installed copy

from inspection_station.deploy.release_lock import LOCK_DIR, PLATFORMS, PYTHON, RELEASE_EXTRAS  # noqa: E402


def uv() -> list[str]:
    found = shutil.which("uv")
    if found:
        return [found]
    return [sys.executable, "-m", "uv"]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--upgrade", action="store_true", help="newest allowed versions, not the pins there")
    parser.add_argument("--platform", choices=sorted(PLATFORMS), action="append", help="only this one")
    args = parser.parse_args(argv)
    LOCK_DIR.mkdir(parents=True, exist_ok=True)
    for platform in args.platform or sorted(PLATFORMS):
        name, target, _markers = PLATFORMS[platform]
        command = [
            *uv(), "pip", "compile", "pyproject.toml",
            *(f"--extra={extra}" for extra in RELEASE_EXTRAS),
            f"--python-version={PYTHON}", f"--python-platform={target}",
            "--generate-hashes", "--quiet", "--custom-compile-command=python packaging/lock.py",
            f"--output-file={LOCK_DIR / name}",
        ]
        if args.upgrade:
            command.append("--upgrade")
        print(f"lock: {platform}: {' '.join(command[len(uv()):])}", flush=True)
        subprocess.run(command, check=True, cwd=REPO)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
