"""Start-up times as a user meets them: --help, --version, the first verdict, the GUI's READY.

Each is a fresh process (`python -m inspection_station ...`), timed from the spawn to:
its exit (--help, --version); the first cycle line of `run --headless --demo --cycles 1`
(the demo: pylon emulator, bundled model and pattern); the operator window's banner
turning READY with the emulated camera connected (`inspection-station gui --demo`, the
real command; Qt offscreen unless DISPLAY is set and --display is given). The kinds are interleaved, round after round,
and the medians printed, with a bare `python -c pass` for the interpreter's own start.
User folders go to a temporary directory: nothing is written to the real user's data.

    .venv/bin/python benchmarks/startup.py [--rounds 5] [--display]
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]

APP = [sys.executable, "-m", "inspection_station"]
TIMEOUT_S = 120

# Runs in the child: the real command (`inspection-station gui --demo`, its imports and start-up
# as a user gets them); an import hook adds, once gui/app.py is loaded, a timer that reports
# when the banner says READY with the emulated camera connected.
GUI_PROBE = """
import importlib.machinery, sys

class ReadyProbe:
    def find_spec(self, name, path, target=None):
        if name != "inspection_station.gui.app":
            return None
        sys.meta_path.remove(self)
        spec = importlib.machinery.PathFinder.find_spec(name, path)
        run_module = spec.loader.exec_module

        def exec_module(module):
            run_module(module)
            make = module.make_application

            def make_application(*args):
                qt = make(*args)
                from PySide6.QtCore import QTimer
                from inspection_station.gui.operator.main_window import MainWindow

                def poll():
                    for w in qt.topLevelWidgets():
                        if isinstance(w, MainWindow) and w.banner.state == "READY" and "emulated" in w.camera_label.text():
                            print("READY", flush=True)
                            qt.closeAllWindows()
                            qt.quit()  # a dialog opened after the window closed must not keep it up
                            return
                    QTimer.singleShot(5, poll)

                QTimer.singleShot(0, poll)
                return qt

            module.make_application = make_application

        spec.loader.exec_module = exec_module
        return spec

sys.meta_path.insert(0, ReadyProbe())
from inspection_station.cli import main
sys.exit(main(["gui", "--demo"]))
"""


def env_for(tmp: Path, display: bool) -> dict[str, str]:
    env = dict(os.environ)
    for var in ("XDG_CONFIG_HOME", "XDG_DATA_HOME", "XDG_STATE_HOME", "XDG_CACHE_HOME"):
        env[var] = str(tmp / var.lower())
    env.setdefault("PYLON_CAMEMU", "1")
    env["PYTHONPATH"] = os.pathsep.join([str(REPO), env.get("PYTHONPATH", "")])
    if not display:
        env["QT_QPA_PLATFORM"] = "offscreen"
    return env


def until_exit(cmd: list[str], env: dict) -> float:
    t = time.perf_counter()
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=TIMEOUT_S)
    elapsed = (time.perf_counter() - t) * 1e3
    if proc.returncode != 0:
        raise SystemExit(f"{' '.join(cmd[2:])}: exit {proc.returncode}: {proc.stderr.strip()[-300:]}")
    return elapsed


def until_line(cmd: list[str], env: dict, starts: str) -> float:
    t = time.perf_counter()
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    try:
        for line in proc.stdout:
            if line.startswith(starts):
                return (time.perf_counter() - t) * 1e3
        raise SystemExit(f"{' '.join(cmd[2:])}: ended without a line starting {starts!r}")
    finally:
        proc.stdout.close()
        proc.wait(TIMEOUT_S)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--display", action="store_true", help="use $DISPLAY (e.g. Xvfb) instead of Qt offscreen")
    ap.add_argument("--no-gui", action="store_true", help="skip the GUI READY measurement")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-startup-") as tmp:
        env = env_for(Path(tmp), args.display)
        kinds = {
            "python -c pass": lambda: until_exit([sys.executable, "-c", "pass"], env),
            "--help": lambda: until_exit([*APP, "--help"], env),
            "--version": lambda: until_exit([*APP, "--version"], env),
            "first verdict": lambda: until_line([*APP, "run", "--headless", "--demo", "--cycles", "1"], env, "#1 "),
        }
        if not args.no_gui:
            kinds["GUI READY"] = lambda: until_line([sys.executable, "-c", GUI_PROBE], env, "READY")
        # one untimed round: the OS file cache and the optimised-graph cache are warm after it
        for measure in kinds.values():
            measure()
        times: dict[str, list[float]] = {k: [] for k in kinds}
        for _ in range(args.rounds):
            for name, measure in kinds.items():
                times[name].append(measure())
    from inspection_station.core.detect.cpu import cpu_features

    load = "/".join(f"{v:.1f}" for v in os.getloadavg()) if hasattr(os, "getloadavg") else "?"
    print(f"CPU: {cpu_features().summary()}; {os.cpu_count()} cores, load {load}")
    print(f"start-up, median of {args.rounds} interleaved rounds (after one warm round), ms from spawn")
    targets = {"--help": 200, "--version": 200, "first verdict": 600, "GUI READY": 1000}
    for name, values in times.items():
        target = f"   (target < {targets[name]} ms)" if name in targets else ""
        print(f"  {name:<16} {statistics.median(values):8.0f}   min {min(values):6.0f}  max {max(values):6.0f}{target}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
