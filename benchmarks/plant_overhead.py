"""What the plant senders cost a cycle, and the cycle time through an outage of the plant's servers.

A real station (the shared workload of ../shared/bench if it is there, else the tests' known
station) with `[plant]` pointing at a throw-away PostgreSQL cluster and a Mosquitto broker
(tests/plant_servers.py: Debian's postgresql and mosquitto). Cycles alternate between
"sinks on" (the row tap puts each row in the outbox; both senders send it) and "sinks off"
(no tap: the recorder writes the CSV only), so both see the same camera, model and load.
Printed: medians of the cycle (trigger -> verdict, the CSV's cycle_ms), of the recording
(CSV row + outbox insert, `log_ms`) and of the whole `run_cycle` call, on vs off.

`--outage 30` then stops the database and the broker for 30 s while cycles go on, starts
them again and prints the same figures before / during / after, the time the queue took to
empty, and the check that every row arrived exactly once, in order.

    .venv/bin/python benchmarks/plant_overhead.py [--cycles 40] [--outage 30]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
os.environ.setdefault("PYLON_CAMEMU", "2")

from inspection_station.core.line.plant.credentials import DATABASE_PASSWORD_ENV  # noqa: E402
from inspection_station.core.line.plant.rows import csv_text  # noqa: E402
from inspection_station.core.line.services import LineServices  # noqa: E402
from inspection_station.core.results.csv_log import read_log  # noqa: E402
from inspection_station.core.results.row_taps import add_row_tap  # noqa: E402
from inspection_station.core.station import Station  # noqa: E402
from tests.known_station import station_settings  # noqa: E402
from tests.plant_servers import PASSWORD, Mosquitto, Postgres, Subscriber  # noqa: E402

BENCH = REPO.parent / "shared" / "bench"
PATTERN = "bench:\n  - class_id: 0\n    inner: [0.45, 0.45, 0.55, 0.55]\n    outer: [0.0, 0.0, 1.0, 1.0]\n"


def cpu_flags() -> str:
    try:
        text = Path("/proc/cpuinfo").read_text()
    except OSError:
        return platform.processor()
    model = next((line.split(":", 1)[1].strip() for line in text.splitlines() if line.startswith("model name")), "")
    flags = next((line.split(":", 1)[1].split() for line in text.splitlines() if line.startswith("flags")), [])
    wanted = [f for f in flags if f.startswith(("avx", "amx", "sse4", "fma"))]
    return f"{model}; {os.cpu_count()} cores; flags: {' '.join(sorted(wanted))}"


def base_settings(tmp: Path, bench: Path):
    settings = station_settings(tmp, name="bench-07")
    model = bench / "models" / "yolov8n_e2e.onnx"
    image = bench / "images" / "scene_2448x2048.png"
    if model.is_file() and image.is_file():  # the shared workload
        (tmp / "frames").mkdir()
        (tmp / "frames" / image.name).symlink_to(image.resolve())
        (tmp / "bench_patterns").mkdir()
        (tmp / "bench_patterns" / "bench.yaml").write_text(PATTERN)
        settings = (settings.replace("camera", emulation_image_dir=str(tmp / "frames"))
                    .replace("model", path=str(model), providers=["CPUExecutionProvider"])
                    .replace("patterns", path=str(tmp / "bench_patterns"), active="bench"))
    return settings.replace("camera", grab_timeout_ms=15000)


def med(values: list[float]) -> str:
    return f"{statistics.median(values):7.2f}" if values else "      -"


def line(label: str, results: list) -> str:
    return (f"  {label:<18} n={len(results):<4} cycle {med([r.times.total_ms for r in results])}  "
            f"record {med([r.times.log_ms for r in results])}  "
            f"call {med([getattr(r, '_wall_ms', 0.0) for r in results])}   (medians, ms)")


def timed(station) -> tuple[object, float]:
    """One cycle and the time its `run_cycle` call took (ms)."""
    start = time.perf_counter()
    result = station.run_cycle("bench")
    return result, (time.perf_counter() - start) * 1e3


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--cycles", type=int, default=40, help="cycles per state (on, off), interleaved")
    ap.add_argument("--outage", type=float, default=0.0, help="then stop the servers for this many seconds")
    ap.add_argument("--bench", type=Path, default=BENCH, help="the shared bench folder (else the known station)")
    args = ap.parse_args()
    print(cpu_flags())
    pg, broker = Postgres(), Mosquitto()
    os.environ[DATABASE_PASSWORD_ENV] = PASSWORD
    subscriber = Subscriber(broker.port, "bench/#", client_id="bench-subscriber")
    try:
        with tempfile.TemporaryDirectory(prefix="bench-plant-") as tmp:
            tmp = Path(tmp)
            url = pg.new_database("bench")
            from inspection_station.cli import main as cli

            assert cli(["plant", "migrate", "--database-url", url]) == 0
            settings = base_settings(tmp, args.bench).replace(
                "plant", database_url=url, mqtt_url=f"mqtt://127.0.0.1:{broker.port}", mqtt_prefix="bench",
                outbox_dir=str(tmp / "outbox"), retry_min_s=0.1, retry_max_s=2.0)
            station = Station(settings)
            services = LineServices(station, settings.line)
            plant = services.plant
            walls: dict[int, float] = {}
            with station:
                assert station.wait_ready(120)
                print("\n".join(services.start()))
                for _ in range(3):
                    station.run_cycle("warm-up")
                on, off = [], []
                for i in range(2 * args.cycles):
                    sinks = i % 2 == 0
                    if not sinks:  # the recorder writes the CSV only: no row tap for this cycle
                        plant._untap()  # noqa: SLF001 - the benchmark switches the tap per cycle
                    result, wall = timed(station)
                    if not sinks:
                        plant._untap = add_row_tap(settings.station.name, plant._take)  # noqa: SLF001
                    walls[id(result)] = wall
                    (on if sinks else off).append(result)
                print(f"interleaved, {args.cycles} cycles each (sinks on = outbox insert + both senders running):")
                for label, results in (("sinks on", on), ("sinks off", off)):
                    print(line(label, [_with_wall(r, walls) for r in results]))
                if args.outage:
                    outage(args, station, plant, pg, broker, walls)
                while plant.status().queue.depth:
                    time.sleep(0.1)
            services.stop()
            rows = [r for f in sorted((tmp / "log").glob("bench-07_*.csv")) for r in read_log(f)]
            untapped = {r.cycle_id for r in off}
            expected = [r for r in rows if r["cycle_id"] not in untapped]  # every row the tap took
            db = [csv_text(r) for r in _db_rows(pg)]
            keys = [json.loads(p)["idempotency_key"] for p in subscriber.received("/result")]
            first = list(dict.fromkeys(keys))
            print(f"rows in the CSV {len(rows)} ({len(expected)} through the outbox): database {len(db)} rows, "
                  f"equal to the CSV's in order: {db == expected}; MQTT {len(keys)} messages, first arrivals "
                  f"in CSV order: {first == [r['cycle_id'] for r in expected]}, repeats {len(keys) - len(first)}")
    finally:
        subscriber.close()
        broker.close()
        pg.close()
    return 0


def _with_wall(result, walls):
    class R:  # the result with its measured call time beside it (CycleResult is frozen)
        times = result.times
        _wall_ms = walls[id(result)]
    return R


def _db_rows(pg: Postgres) -> list[dict]:
    import psycopg
    from psycopg.rows import dict_row

    with psycopg.connect(pg.admin_conninfo("bench"), row_factory=dict_row) as conn:
        return conn.execute('SELECT * FROM cycles ORDER BY "arrival"').fetchall()


def outage(args, station, plant, pg, broker, walls) -> None:
    phases: dict[str, list] = {"before": [], "during outage": [], "after": []}

    def run(label: str, seconds: float = 0.0, n: int = 0) -> None:
        end = time.monotonic() + seconds
        while (seconds and time.monotonic() < end) or (n and len(phases[label]) < n):
            result, wall = timed(station)
            walls[id(result)] = wall
            phases[label].append(result)

    run("before", n=args.cycles)
    pg.stop()
    broker.stop()
    down = time.monotonic()
    run("during outage", seconds=args.outage)
    status = plant.status()
    depth, warnings = status.queue.depth, status.warnings
    target = {c.sender: c.sent + c.behind for c in status.queue.cursors}  # every row queued by now
    broker.start()
    pg.start()
    back = time.monotonic()
    caught_up: list[float] = []

    def watch() -> None:  # when both senders have confirmed every row of the outage
        while not caught_up:
            if all(c.sent >= target[c.sender] for c in plant.status().queue.cursors):
                caught_up.append(time.monotonic() - back)
            time.sleep(0.05)

    watcher = threading.Thread(target=watch, daemon=True)
    watcher.start()
    run("after", n=args.cycles)
    watcher.join(300)
    print(f"outage of {back - down:.1f} s (database and broker stopped): {depth} rows queued, "
          f"status bar {' '.join(warnings) or '-'}; those rows confirmed by both "
          f"{caught_up[0] if caught_up else float('nan'):.1f} s after the servers were back (cycles going on)")
    for label, results in phases.items():
        print(line(label, [_with_wall(r, walls) for r in results]))


if __name__ == "__main__":
    raise SystemExit(main())
