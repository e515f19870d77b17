"""What line integration costs a cycle: API + metrics enabled vs. not, interleaved.

One station on the shared workload (../shared/bench) with the HTTP API and /metrics
served. Cycles alternate between "enabled" (the metrics listener attached, a client
thread scraping /metrics once a second as Prometheus would) and "disabled" (listener
detached, no scrapes), so both see the same camera, session and machine load. Printed:
median cycle of each, the difference, the metrics listener's own time per cycle measured
directly on the real results (the part of the difference that is not noise), and what an
HTTP trigger adds over the cycle it runs. Target: <= 1 ms (issue 12).

    .venv/bin/python benchmarks/line_overhead.py [--model yolov8n_e2e.onnx] [--cycles 30]
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
os.environ.setdefault("PYLON_CAMEMU", "2")

import httpx  # noqa: E402

from inspection_station.core.line.services import LineServices  # noqa: E402
from inspection_station.core.settings.model import Settings  # noqa: E402
from inspection_station.core.station import Station  # noqa: E402

DEFAULT_BENCH = REPO.parent / "shared" / "bench"
PATTERN = """bench:
  - class_id: 0
    inner: [0.45, 0.45, 0.55, 0.55]
    outer: [0.0, 0.0, 1.0, 1.0]
"""


def settings_for(tmp: Path, name: str, serial: str, model: Path) -> Settings:
    s = Settings()
    s = s.replace("camera", emulation_image_dir=str(tmp / "frames"), serial=serial, trigger_mode="software")
    s = s.replace("model", path=str(model), providers=["CPUExecutionProvider"])
    s = s.replace("patterns", path=str(tmp / "patterns"))
    s = s.replace("results", log_dir=str(tmp / name), image_dir=str(tmp / f"{name}-img"), archive="none")
    return s.replace("station", name=name)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--bench", type=Path, default=DEFAULT_BENCH, help="the shared bench folder")
    ap.add_argument("--model", default="yolov8n_e2e.onnx", help="model file in <bench>/models")
    ap.add_argument("--image", default="scene_2448x2048.png", help="image file in <bench>/images")
    ap.add_argument("--cycles", type=int, default=30)
    ap.add_argument("--warmup", type=int, default=3)
    args = ap.parse_args()
    model = args.bench / "models" / args.model
    image = args.bench / "images" / args.image

    with tempfile.TemporaryDirectory(prefix="bench-line-") as tmp:
        tmp = Path(tmp)
        (tmp / "frames").mkdir()
        (tmp / "frames" / image.name).symlink_to(image.resolve())
        (tmp / "patterns").mkdir()
        (tmp / "patterns" / "bench.yaml").write_text(PATTERN)
        settings = settings_for(tmp, "bench", "", model)
        station = Station(settings)
        services = LineServices(station, settings.line, api_bind=("127.0.0.1", 0))
        metrics = services.metrics
        scraping = threading.Event()
        stop = threading.Event()
        with station:
            station.wait_ready()
            services.start()
            station.remove_listener(metrics)  # added back for the "enabled" cycles only

            def scrape() -> None:  # Prometheus' view: one scrape a second, while "enabled"
                with httpx.Client(base_url=services.api.url) as client:
                    while not stop.wait(1.0):
                        if scraping.is_set():
                            client.get("/metrics")

            scraper = threading.Thread(target=scrape, daemon=True)
            scraper.start()
            try:
                for _ in range(args.warmup):
                    station.run_cycle("bench")
                ta, tb, results = [], [], []
                for n in range(args.cycles):
                    # A B B A order: neither side always runs first after a switch
                    for enabled in (True, False) if n % 2 == 0 else (False, True):
                        if enabled:
                            station.add_listener(metrics)
                            scraping.set()
                        else:
                            station.remove_listener(metrics)
                            scraping.clear()
                        t = time.perf_counter()
                        r = station.run_cycle("bench")
                        # wall time of the call: the listeners run after the cycle's own
                        # total_ms was taken, before run_cycle returns
                        wall = (time.perf_counter() - t) * 1e3
                        if r.error:
                            print(f"cycle error: {r.error}", file=sys.stderr)
                            return 2
                        (ta if enabled else tb).append(wall)
                        if enabled:
                            results.append(r)
                station.add_listener(metrics)
                # the listener alone, on the real results
                t = time.perf_counter()
                reps = 20
                for _ in range(reps):
                    for r in results:
                        metrics.cycle_finished(r)
                listener_ms = (time.perf_counter() - t) * 1e3 / (reps * len(results))
                http_extra = []
                with httpx.Client(base_url=services.api.url, timeout=60) as client:
                    for _ in range(5):
                        t = time.perf_counter()
                        body = client.post("/inspect").json()
                        http_extra.append((time.perf_counter() - t) * 1e3 - body["times_ms"]["total_ms"])
            finally:
                stop.set()
                scraper.join(5)
                services.stop()

    ma, mb = statistics.median(ta), statistics.median(tb)
    print(f"workload: {model.name}, frame from the pylon emulator, {args.cycles} cycles each, interleaved")
    print(f"median run_cycle(), API + metrics enabled: {ma:8.2f} ms")
    print(f"median run_cycle(), nothing enabled:       {mb:8.2f} ms")
    print(f"difference (noise included):               {ma - mb:8.2f} ms   ratio {ma / mb:.3f}")
    print(f"metrics listener per cycle:                {listener_ms:8.4f} ms   (target: the overhead <= 1 ms)")
    dets = statistics.median(len(r.detections) for r in results)
    classes = statistics.median(len({d.class_id for d in r.detections}) for r in results)
    print(f"  (per cycle: median {dets:g} detections in {classes:g} classes)")
    print(f"POST /inspect: round trip - cycle = {statistics.median(http_extra):.2f} ms (median of 5; HTTP + JSON)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
