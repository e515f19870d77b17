"""The station's cycle time while its API is flooded, beside the quiet figure (issue 21).

One station on the shared workload (../shared/bench: a YOLOv8n-shaped model, the 2448x2048
frame from the pylon emulator) with the API served. Cycles are triggered the station's own
way (`run_cycle`, as the button or `run --headless`), one every `--gap` ms, in blocks that
alternate quiet / uploads / connections. The load comes from another process (the station's
descriptors stay its own). "uploads": the bench frame (a 2448x2048 PNG) posted back to back
by 2 clients to POST /inspect/image (decoded and inferred beside the line: the upload lane
gives way to every station cycle). "connections": 1,100 idle connections held open (each
reopened at once when the server drops it: a reconnect storm), 50 slowloris connections
trickling header bytes, /health hammered by 4 clients.

Printed: median / p95 / max cycle time of each, their ratio, what the flood got done, and
what uvicorn alone does with a silent and a trickling connection (the measurement behind
core/line/server.py's own deadlines). CPU flags with the figures.

    .venv/bin/python benchmarks/api_flood.py [--bench DIR] [--model yolov8n_e2e.onnx] [--cycles 40] [--blocks 3]
"""

from __future__ import annotations

import argparse
import os
import resource
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
os.environ.setdefault("PYLON_CAMEMU", "2")

from benchmarks.line_overhead import DEFAULT_BENCH, PATTERN, settings_for  # noqa: E402
from inspection_station.core.line.services import LineServices  # noqa: E402
from inspection_station.core.station import Station  # noqa: E402

FLOODER = r'''
import select, signal, socket, sys, threading, time
import httpx
host, port, png_path, seconds, mode = sys.argv[1], int(sys.argv[2]), sys.argv[3], float(sys.argv[4]), sys.argv[5]
import resource
soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
resource.setrlimit(resource.RLIMIT_NOFILE, (min(hard, 4096), hard))
url = f"http://{host}:{port}"
stop_at = [time.monotonic() + seconds]
signal.signal(signal.SIGTERM, lambda *_: stop_at.__setitem__(0, 0.0))  # the benchmark's "enough"
counts = {"reopened": 0, "uploads": 0, "health": 0, "refused": 0}

def idle():
    s = socket.socket()
    s.settimeout(2)
    try:
        s.connect((host, port))
    except OSError:
        pass
    s.setblocking(False)
    return s

def hold():
    socks = [idle() for _ in range(1100)]
    while time.monotonic() < stop_at[0]:
        poller = select.poll()
        by_fd = {s.fileno(): n for n, s in enumerate(socks)}
        for fd in by_fd:
            poller.register(fd, select.POLLIN)
        for fd, _ in poller.poll(200):
            n = by_fd[fd]
            socks[n].close()
            socks[n] = idle()
            counts["reopened"] += 1
    for s in socks:
        s.close()

def slowloris():
    socks = []
    while time.monotonic() < stop_at[0]:
        while len(socks) < 50:
            s = idle()
            socks.append(s)
            try:
                s.send(b"GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\n")
            except OSError:
                pass
        for s in list(socks):
            try:
                s.send(b"X")
            except OSError:
                socks.remove(s)
                s.close()
        time.sleep(0.5)

def uploads():
    data = open(png_path, "rb").read()
    with httpx.Client(base_url=url, timeout=120) as c:
        while time.monotonic() < stop_at[0]:
            try:
                r = c.post("/inspect/image", files={"image": ("scene.png", data, "image/png")})
                key = "uploads" if r.status_code == 200 else f"upload_{r.status_code}"
                counts[key] = counts.get(key, 0) + 1
                if r.status_code not in (200, 503):
                    print(r.status_code, r.text[:300], file=sys.stderr, flush=True)
            except httpx.HTTPError:
                counts["refused"] += 1

def health():
    with httpx.Client(base_url=url, timeout=30) as c:
        while time.monotonic() < stop_at[0]:
            try:
                c.get("/health")
                counts["health"] += 1
            except httpx.HTTPError:
                counts["refused"] += 1

work = {"uploads": (uploads, uploads), "connections": (hold, slowloris, health, health, health, health)}[mode]
threads = [threading.Thread(target=f) for f in work]
for t in threads:
    t.start()
print("flooding", flush=True)
for t in threads:
    t.join()
print(" ".join(f"{k}={v}" for k, v in counts.items()), flush=True)
'''


def cpu_line() -> str:
    try:
        text = Path("/proc/cpuinfo").read_text()
    except OSError:
        return "CPU: unknown"
    model = next((line.split(":", 1)[1].strip() for line in text.splitlines() if line.startswith("model name")), "?")
    flags = next((line.split(":", 1)[1].split() for line in text.splitlines() if line.startswith("flags")), [])
    wanted = [f for f in ("avx2", "avx512f", "avx512_vnni", "amx_tile") if f in flags]
    return f"CPU: {model}, {os.cpu_count()} logical cores, flags: {' '.join(wanted) or 'none of avx2/avx512/amx'}"


def uvicorn_alone(seconds: float = 8.0) -> tuple[bool, bool]:
    """(a silent connection, one sending a header byte every 2 s) still open after `seconds`
    against plain uvicorn with timeout_keep_alive=5 and its h11 limits."""
    import uvicorn

    async def app(scope, receive, send):
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"ok"})

    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(app, http="h11", lifespan="off", log_level="error", timeout_keep_alive=5))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    while not server.started:
        time.sleep(0.01)
    silent = socket.create_connection(("127.0.0.1", port))
    slow = socket.create_connection(("127.0.0.1", port))
    slow.send(b"GET / HTTP/1.1\r\nHost: x\r\nX-Slow: ")
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        time.sleep(2)
        slow.send(b"a")
    alive = []
    for s in (silent, slow):
        s.setblocking(False)
        try:
            alive.append(s.recv(1) != b"")
        except BlockingIOError:
            alive.append(True)  # nothing to read, not closed
        except OSError:
            alive.append(False)
        s.close()
    server.should_exit = True
    thread.join(10)
    return alive[0], alive[1]


def percentile(values, q):
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q / 100 * (len(ordered) - 1)))]


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--bench", type=Path, default=DEFAULT_BENCH, help="the shared bench folder")
    ap.add_argument("--model", default="yolov8n_e2e.onnx", help="model file in <bench>/models")
    ap.add_argument("--image", default="scene_2448x2048.png", help="image file in <bench>/images")
    ap.add_argument("--cycles", type=int, default=40, help="cycles per block")
    ap.add_argument("--blocks", type=int, default=3, help="rounds of quiet / uploads / connections blocks")
    ap.add_argument("--gap", type=float, default=250.0, help="ms between cycles (a line's takt leaves gaps)")
    args = ap.parse_args()
    model = args.bench / "models" / args.model
    image = args.bench / "images" / args.image
    print(cpu_line())
    modes = ("quiet", "uploads", "connections")
    times: dict[str, list] = {m: [] for m in modes}
    cpu: dict[str, list[float]] = {m: [0.0, 0.0, 0.0] for m in modes}  # station CPU s, flooder CPU s, wall s
    errors = 0
    flood_report: dict[str, list[str]] = {m: [] for m in modes}
    with tempfile.TemporaryDirectory(prefix="bench-flood-") as tmp:
        tmp = Path(tmp)
        (tmp / "frames").mkdir()
        (tmp / "frames" / image.name).symlink_to(image.resolve())
        (tmp / "patterns").mkdir()
        (tmp / "patterns" / "bench.yaml").write_text(PATTERN)
        settings = settings_for(tmp, "bench", "", model)
        station = Station(settings)
        services = LineServices(station, settings.line, api_bind=("127.0.0.1", 0))
        with station:
            station.wait_ready()
            services.start()
            try:
                for _ in range(3):
                    station.run_cycle("bench")
                block_s = 3600.0  # until terminated after the block's cycles
                for block in range(args.blocks):
                    order = modes if block % 2 == 0 else tuple(reversed(modes))  # neither side always first
                    for mode in order:
                        flooder = None
                        if mode != "quiet":
                            flooder = subprocess.Popen(
                                [sys.executable, "-c", FLOODER, "127.0.0.1", str(services.api.port), str(image),
                                 str(block_s), mode], stdout=subprocess.PIPE, text=True)
                            assert flooder.stdout.readline().strip() == "flooding"
                            time.sleep(2.0)  # the idle connections are in, uploads under way
                        own, wall = resource.getrusage(resource.RUSAGE_SELF), time.monotonic()
                        children = resource.getrusage(resource.RUSAGE_CHILDREN)
                        for _ in range(args.cycles):
                            r = station.run_cycle("bench")
                            errors += r.verdict.value == "ERROR"
                            times[mode].append(r.times)
                            time.sleep(args.gap / 1e3)
                        after = resource.getrusage(resource.RUSAGE_SELF)
                        cpu[mode][0] += after.ru_utime + after.ru_stime - own.ru_utime - own.ru_stime
                        cpu[mode][2] += time.monotonic() - wall
                        if flooder is not None:
                            flooder.terminate()  # it stops its clients and prints what they got done
                            flood_report[mode].append(flooder.communicate(timeout=120)[0].strip())
                            done = resource.getrusage(resource.RUSAGE_CHILDREN)
                            cpu[mode][1] += (done.ru_utime + done.ru_stime - children.ru_utime - children.ru_stime)
                lane = services.uploads
                yielded = lane.yielded if lane is not None else 0
                stops = list(lane.stop_latency_ms) if lane is not None else []
                gate = services.gate
                closed = dict(gate.closed) if gate is not None else {}
            finally:
                services.stop()
    print(f"workload: {model.name}, the {image.name} frame from the pylon emulator, one cycle every "
          f"{args.gap:.0f} ms + the cycle; {args.blocks} x {args.cycles} cycles per mode, interleaved")
    print(f"  {'':12} {'cycles':>7} {'median':>9} {'p95':>9} {'max':>9} {'grab':>7} {'infer':>7}  (ms; grab, infer: medians)")
    for mode in modes:
        total = [t.total_ms for t in times[mode]]
        print(f"  {mode:12} {len(total):7d} {statistics.median(total):9.1f} {percentile(total, 95):9.1f} "
              f"{max(total):9.1f} {statistics.median(t.grab_ms for t in times[mode]):7.1f} "
              f"{statistics.median(t.inference_ms for t in times[mode]):7.1f}")
    quiet = [t.total_ms for t in times["quiet"]]
    for mode in modes[1:]:
        total = [t.total_ms for t in times[mode]]
        print(f"  ratio {mode} / quiet: median {statistics.median(total) / statistics.median(quiet):.3f}, "
              f"p95 {percentile(total, 95) / percentile(quiet, 95):.3f}")
        print(f"    {mode} flood per block: {' | '.join(flood_report[mode])}")
    for mode in modes:
        station_cpu, flood_cpu, wall = cpu[mode]
        print(f"  CPU while {mode}: station process {station_cpu / wall:.2f} cores, the flooding client "
              f"{flood_cpu / wall:.2f} cores (its whole run, on the same machine), of {os.cpu_count()}")
    print(f"  ERROR cycles: {errors}; connections closed: " + ", ".join(f"{k} {v}" for k, v in closed.items()))
    if stops:
        print(f"  upload model runs stopped for a station cycle: {yielded}; trigger -> upload run stopped: "
              f"median {statistics.median(stops):.1f} ms, max {max(stops):.1f} ms (what an upload can delay a cycle)")
    silent, slow = uvicorn_alone()
    print(f"uvicorn alone (timeout_keep_alive=5): after 8 s a silent connection is "
          f"{'still open' if silent else 'closed'}, one trickling a header byte every 2 s is "
          f"{'still open' if slow else 'closed'}")
    return 1 if errors else 0


if __name__ == "__main__":
    raise SystemExit(main())
