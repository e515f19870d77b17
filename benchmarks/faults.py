"""Fault run: the headless station through a camera outage, a full disk and kill -9s.

Runs the real `inspection-station run --headless` (demo model and pattern, Basler's
emulator) as a child process, and breaks things under it:

1. camera outage: the emulator's image folder is taken away for --outage seconds, then
   put back (the station must write few ERROR rows, never judge the test pattern, and
   recover by itself);
2. full disk: the results log lives on a small tmpfs that is filled for --full seconds
   (needs root for the mount; skipped with a note otherwise);
3. kill -9: the station is killed --kills times at random moments;
4. records taken away: today's CSV deleted, then moved, then the whole results folder
   removed, each under the running station, then the folder and file made read-only for
   --readonly seconds (root: `chattr +i`, as permissions do not stop root).

Prints cycles (lines the station printed), rows (whole-file csv.reader, as Excel reads
it), partial rows (bytes after the last newline), torn rows (records with the wrong
field count), rows lost (cycle ids printed but not in the log), ERROR rows per second
during the outage and the recovery time (folder back -> first judged cycle); for the
records phase, the cycles started after each event that are not in the file at the log's
path, and the cycles judged OK/NOK while read-only whose row is not on disk.

    .venv/bin/python benchmarks/faults.py [--outage 10] [--full 5] [--kills 5] [--readonly 3]
"""

from __future__ import annotations

import argparse
import contextlib
import csv
import io
import os
import random
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from inspection_station.core.results.csv_log import LOG_COLUMNS, read_log  # noqa: E402
from tests.refusals import read_only_folder  # noqa: E402

CYCLE_LINE = re.compile(r"^#\d+\s+(\S+)\s+(OK|NOK|ERROR)\b")
WAIT_S = 180.0  # safety net for a stuck child; never a measurement


@dataclass
class Child:
    """The station as a child process; its cycle lines, each with the time it arrived."""

    proc: subprocess.Popen
    lines: list[tuple[float, str, str]] = field(default_factory=list)  # (t, cycle id, verdict)
    stderr: list[str] = field(default_factory=list)

    @classmethod
    def start(cls, config: Path) -> Child:
        env = {**os.environ, "PYTHONPATH": str(REPO), "PYLON_CAMEMU": "1"}
        proc = subprocess.Popen(
            [sys.executable, "-m", "inspection_station", "run", "--headless", "--config", str(config)],
            cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, bufsize=1,
        )
        child = cls(proc)
        threading.Thread(target=child._read_out, daemon=True).start()
        threading.Thread(target=lambda: child.stderr.extend(proc.stderr), daemon=True).start()
        return child

    def _read_out(self) -> None:
        for line in self.proc.stdout:
            m = CYCLE_LINE.match(line)
            if m:
                self.lines.append((time.monotonic(), m.group(1), m.group(2)))

    def wait_cycles(self, n: int, after: float = 0.0, judged: bool = False) -> float:
        """Block until n cycle lines arrived after `after` (OK/NOK only if judged); their time."""
        deadline = time.monotonic() + WAIT_S
        while True:
            got = [t for t, _, v in list(self.lines) if t > after and (not judged or v != "ERROR")]
            if len(got) >= n:
                return got[n - 1]
            if self.proc.poll() is not None or time.monotonic() > deadline:
                tail = "".join(self.stderr[-10:])
                raise RuntimeError(f"the station stopped or stalled before {n} cycles:\n{tail}")
            time.sleep(0.01)

    def stop(self, sig: int = signal.SIGINT) -> None:
        self.proc.send_signal(sig)
        try:
            self.proc.wait(60)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()


@dataclass
class LogFigures:
    rows: int
    partial_bytes: int
    torn: int
    ids: set[str]


def read_figures(log_dir: Path) -> LogFigures:
    rows, partial, torn, ids = 0, 0, 0, set()
    for path in sorted(log_dir.glob("*.csv")):
        data = path.read_bytes()
        partial += len(data) - (data.rfind(b"\n") + 1)
        records = list(csv.reader(io.StringIO(data.decode("utf-8-sig", errors="replace"), newline="")))
        for record in records[1:]:
            if len(record) != len(LOG_COLUMNS):
                torn += 1
                continue
            rows += 1
            ids.add(record[LOG_COLUMNS.index("cycle_id")])
    return LogFigures(rows, partial, torn, ids)


def write_config(path: Path, emu: Path, log_dir: Path, image_dir: Path, source: str = "pylon") -> Path:
    path.write_text(
        "[camera]\n"
        f'source = "{source}"\n'
        f'emulation_image_dir = "{emu.as_posix()}"\n'
        f'image_folder = "{emu.as_posix()}"\n'
        'serial = "0815-0000"\n'
        "reconnect_min_s = 0.2\n"
        "reconnect_max_s = 1.0\n"
        "[results]\n"
        f'log_dir = "{log_dir.as_posix()}"\n'
        f'image_dir = "{image_dir.as_posix()}"\n'
        'archive = "none"\n'
    )
    return path


def report(name: str, child_lines: list[tuple[float, str, str]], log_dir: Path, extra: dict) -> dict:
    figures = read_figures(log_dir)
    printed = {cid for _, cid, _ in child_lines}
    out = {
        "cycles": len(child_lines),
        "rows": figures.rows,
        "partial rows (bytes after the last newline)": figures.partial_bytes,
        "torn rows": figures.torn,
        "rows lost (printed, not in the log)": len(printed - figures.ids),
        **extra,
    }
    return show(name, out)


def show(name: str, out: dict) -> dict:
    print(f"\n== {name}")
    for key, value in out.items():
        print(f"  {key:<48} {value:.2f}" if isinstance(value, float) else f"  {key:<48} {value}")
    return out


def camera_outage(work: Path, outage_s: float, source: str) -> dict:
    emu = work / f"images-{source}"
    shutil.copytree(REPO / "resources" / "demo_images", emu)
    log_dir = work / f"log-outage-{source}"
    child = Child.start(write_config(work / f"outage-{source}.toml", emu, log_dir, work / "img", source))
    try:
        child.wait_cycles(10)
        t_out = time.monotonic()
        emu.rename(work / "away")
        time.sleep(outage_s)
        (work / "away").rename(emu)
        t_back = time.monotonic()
        first_judged = child.wait_cycles(1, after=t_back, judged=True)
        child.wait_cycles(10, after=first_judged)
    finally:
        child.stop()
    during = [v for t, _, v in child.lines if t_out <= t <= t_back]
    what = "emulator image folder" if source == "pylon" else "replay folder"
    return report(f"camera outage ({what} removed)", child.lines, log_dir, {
        "outage (s)": t_back - t_out,
        "ERROR rows during the outage": during.count("ERROR"),
        "ERROR rows per second during the outage": during.count("ERROR") / (t_back - t_out),
        "judged (OK/NOK) cycles during the outage": len(during) - during.count("ERROR"),
        "recovery (folder back -> first judged cycle, s)": first_judged - t_back,
    })


def disk_full(work: Path, full_s: float) -> dict | None:
    small = work / "small"
    small.mkdir()
    try:
        mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=512k", "tmpfs", str(small)],
                                 capture_output=True, text=True)
        why = mounted.stderr.strip() if mounted.returncode else ""
    except OSError as exc:  # no mount command here (Windows, a slim container)
        why = str(exc)
    if why:
        print(f"\n== full disk: not run (a small tmpfs needs root and mount: {why})")
        return None
    try:
        log_dir = small / "log"
        child = Child.start(write_config(work / "full.toml", REPO / "resources" / "demo_images",
                                         log_dir, work / "img-full"))
        try:
            child.wait_cycles(10)
            filler = small / "filler"
            fd = os.open(filler, os.O_WRONLY | os.O_CREAT, 0o644)
            with contextlib.suppress(OSError):  # ENOSPC: the disk is full now
                while True:
                    os.write(fd, b"\0" * 4096)
            with contextlib.suppress(OSError):
                os.close(fd)
            t_full = time.monotonic()
            time.sleep(full_s)
            filler.unlink()
            t_free = time.monotonic()
            child.wait_cycles(10, after=t_free)
        finally:
            child.stop()
        while_full = [v for t, _, v in child.lines if t_full <= t <= t_free]
        return report("full disk", child.lines, log_dir, {
            "full for (s)": t_free - t_full,
            "cycles while full (rows kept in memory)": len(while_full),
            "of them, ERROR (no row on disk, so no OK)": while_full.count("ERROR"),
        })
    finally:
        subprocess.run(["umount", "-l", str(small)], check=False)


def kills(work: Path, n: int) -> dict:
    log_dir = work / "log-kill"
    config = write_config(work / "kill.toml", REPO / "resources" / "demo_images",
                          log_dir, work / "img-kill")
    lines: list[tuple[float, str, str]] = []
    rng = random.Random(15)
    for _ in range(n):
        child = Child.start(config)
        try:
            child.wait_cycles(3)
            time.sleep(rng.uniform(0.0, 1.0))  # land the kill anywhere in a cycle
        finally:
            child.stop(signal.SIGKILL)
        lines += child.lines
    return report(f"kill -9 x{n}", lines, log_dir, {})


def _started(cycle_id: str) -> float:
    """When a cycle started (its id begins with the local time to the millisecond)."""
    return datetime.strptime(cycle_id[:19], "%Y%m%d-%H%M%S-%f").timestamp()


def records_taken_away(work: Path, readonly_s: float, n: int = 10) -> dict:
    log_dir = work / "log-away"
    child = Child.start(write_config(work / "away.toml", REPO / "resources" / "demo_images",
                                     log_dir, work / "img-away"))

    events = {
        "CSV deleted": lambda: log_file.unlink(),
        "CSV moved away": lambda: log_file.rename(work / "moved.csv"),
        "results folder removed": lambda: shutil.rmtree(log_dir),
    }
    out: dict = {}
    try:
        child.wait_cycles(n)
        log_file = next(log_dir.glob("*.csv"))  # today's log at its path (gone = no rows: read_log)
        for name, act in events.items():
            with contextlib.suppress(FileNotFoundError):  # a station that lost its log: nothing to move
                act()
            t_wall, t_event = time.time(), time.monotonic()
            child.wait_cycles(n, after=t_event)
            later = [cid for _, cid, _ in list(child.lines) if _started(cid) > t_wall]
            in_file = {r["cycle_id"] for r in read_log(log_file)}
            out[f"cycles after: {name}"] = len(later)
            out[f"of them, rows lost: {name}"] = sum(cid not in in_file for cid in later)
        log_dir.mkdir(exist_ok=True)  # there already, unless the station lost it for good
        with read_only_folder(log_dir, files_too=True) as how:
            t_ro = time.monotonic()
            time.sleep(readonly_s)
            t_back = time.monotonic()
        child.wait_cycles(n, after=t_back)
    finally:
        child.stop()
    during = [(cid, v) for t, cid, v in child.lines if t_ro <= t <= t_back]
    in_file = {r["cycle_id"] for r in read_log(log_file)}
    out.update({
        f"read-only for (s, by {how})": t_back - t_ro,
        "cycles while read-only": len(during),
        "of them, ERROR": sum(v == "ERROR" for _, v in during),
        "of them, OK/NOK without a row": sum(v != "ERROR" and cid not in in_file for cid, v in during),
        "warnings 'a new file is started'": sum("a new file is started" in line for line in child.stderr),
    })
    return show("records taken away (CSV deleted, moved, folder removed, read-only)", out)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--outage", type=float, default=10.0, help="seconds without the camera's images")
    ap.add_argument("--full", type=float, default=5.0, help="seconds of full disk")
    ap.add_argument("--kills", type=int, default=5, help="kill -9s")
    ap.add_argument("--readonly", type=float, default=3.0, help="seconds of a read-only results folder")
    args = ap.parse_args()
    run_all(args.outage, args.full, args.kills, args.readonly)
    return 0


def run_all(outage_s: float, full_s: float, n_kills: int, readonly_s: float = 3.0) -> dict[str, dict | None]:
    """Every phase in a fresh temp folder; the figures by phase (None = not run here)."""
    with tempfile.TemporaryDirectory(prefix="faults-") as tmp:
        work = Path(tmp)
        return {
            "emulator outage": camera_outage(work, outage_s, "pylon"),
            "replay outage": camera_outage(work, outage_s, "folder"),
            "full disk": disk_full(work, full_s),
            "kills": kills(work, n_kills),
            "records": records_taken_away(work, readonly_s),
        }


if __name__ == "__main__":
    raise SystemExit(main())
