"""What the OPC UA server costs a cycle, and how long a PLC waits from StartSingleJob to ResultReady.

A real station (the tests' known station: Basler's emulator, a constant ONNX detector) with
its OPC UA server (core/line/opcua/) on loopback and a real asyncua client subscribed to the
ResultReady events. Blocks of cycles alternate between "server on" (server running, the
client subscribed: every cycle is an event) and "server off" (stopped), triggered the same
way (`run_cycle`), so both see the same camera, model and load. Then the client triggers
jobs itself: StartSingleJob -> ResultReady as the client sees it, beside the cycle's own
time (trigger -> verdict, the CSV's cycle_ms).

    .venv/bin/python benchmarks/opcua.py [--cycles 30] [--blocks 3] [--jobs 30]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
os.environ.setdefault("PYLON_CAMEMU", "1")

from asyncua import Client, ua  # noqa: E402

from benchmarks.plant_overhead import cpu_flags  # noqa: E402
from inspection_station.core.actions import StationActions  # noqa: E402
from inspection_station.core.line.opcua.server import OpcUaServer  # noqa: E402
from inspection_station.core.station import Station  # noqa: E402
from tests.known_station import station_settings  # noqa: E402

MV = "http://opcfoundation.org/UA/MachineVision"


def median(values: list[float]) -> float:
    return statistics.median(values) if values else float("nan")


def p95(values: list[float]) -> float:
    return sorted(values)[int(0.95 * (len(values) - 1))] if values else float("nan")


class Subscriber:
    """A client on its own thread and loop, subscribed to the station's ResultReady events."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.events: list[tuple[float, object]] = []
        self.seen = threading.Condition()
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.thread.start()
        self.call(self._connect())

    def call(self, coro, timeout: float = 60.0):
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout)

    async def _connect(self) -> None:
        self.client = Client(self.url, timeout=30, watchdog_intervall=30)
        await self.client.connect()
        await self.client.load_data_type_definitions()
        ns = await self.client.get_namespace_array()
        self.mv = ns.index(MV)
        self.vs = await self.client.nodes.objects.get_child([f"{ns.index('urn:inspection-station:bench-07')}:VisionSystem"])
        self.auto = await self.vs.get_child([f"{self.mv}:VisionStateMachine", f"{self.mv}:AutomaticModeStateMachine"])
        self.start = await self.auto.get_child([f"{self.mv}:StartSingleJob"])
        etype = await self.client.nodes.root.get_child(
            ["0:Types", "0:EventTypes", "0:BaseEventType", f"{self.mv}:ResultReadyEventType"])
        station_type = None
        for n in await etype.get_children():
            if (await n.read_browse_name()).Name == "InspectionResultReadyEventType":
                station_type = n
        subscriber = self

        class Handler:
            def event_notification(self, event) -> None:
                with subscriber.seen:
                    subscriber.events.append((time.perf_counter(), event))
                    subscriber.seen.notify_all()

        self.sub = await self.client.create_subscription(5, Handler())
        await self.sub.subscribe_events(self.vs, station_type)

    def start_job(self) -> float:
        async def go() -> None:
            await self.auto.call_method(
                self.start, ua.MeasIdDataType(Id="bench"), ua.PartIdDataType(Id=""),
                ua.RecipeIdExternalDataType(Id="", Version="", Hash=b"", HashAlgorithm="",
                                            Description=ua.LocalizedText("")),
                ua.ProductIdDataType(Id=""), ua.Variant([], ua.VariantType.Variant))

        t = time.perf_counter()
        self.call(go())
        return t

    def wait(self, n: int, timeout: float = 30.0) -> None:
        with self.seen:
            if not self.seen.wait_for(lambda: len(self.events) >= n, timeout):
                raise RuntimeError(f"{len(self.events)} events, expected {n}")

    def close(self) -> None:
        self.call(self.client.disconnect())
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(10)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cycles", type=int, default=30, help="cycles per block")
    parser.add_argument("--blocks", type=int, default=3, help="on/off block pairs")
    parser.add_argument("--jobs", type=int, default=30, help="StartSingleJob calls for the latency")
    args = parser.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="opcua-bench-"))
    settings = station_settings(tmp, name="bench-07").replace("line", opcua_pki_dir=str(tmp / "pki"))
    station = Station(settings)
    actions = StationActions.for_station(station, tmp / "settings.toml", accounts_path=tmp / "accounts.json",
                                         audit_path=tmp / "audit.jsonl")
    station.start()
    assert station.wait_ready(60)
    for _ in range(5):  # warm-up: the first cycles pay for first-time allocations
        station.run_cycle()
    cycle = {"on": [], "off": []}
    server = subscriber = None
    try:
        for _block in range(args.blocks):
            for mode in ("on", "off"):
                if mode == "on":
                    server = OpcUaServer(station, actions, "127.0.0.1", 0, pki=str(tmp / "pki")).start()
                    subscriber = Subscriber(server.url)
                    before = len(subscriber.events)
                for _ in range(args.cycles):
                    cycle[mode].append(station.run_cycle().times.total_ms)
                if mode == "on":
                    subscriber.wait(before + args.cycles)
                    subscriber.close()
                    server.stop()
                    server = subscriber = None
        server = OpcUaServer(station, actions, "127.0.0.1", 0, pki=str(tmp / "pki")).start()
        subscriber = Subscriber(server.url)
        latency, job_cycle = [], []
        for _ in range(args.jobs):
            n = len(subscriber.events)
            t = subscriber.start_job()
            subscriber.wait(n + 1)
            arrived, event = subscriber.events[n]
            latency.append((arrived - t) * 1e3)
            job_cycle.append(float(event.CycleTimeMs))
            while station.busy:  # the next job only once the station is Ready again
                time.sleep(0.001)
    finally:
        if subscriber is not None:
            subscriber.close()
        if server is not None:
            server.stop()
        station.stop()
    print(cpu_flags())
    print(f"cycle time (trigger -> verdict, ms), {args.blocks} interleaved blocks of {args.cycles} cycles each:")
    for mode in ("off", "on"):
        values = cycle[mode]
        print(f"  OPC UA server {mode:3}: median {median(values):7.2f}  p95 {p95(values):7.2f}  (n={len(values)})")
    print(f"  ratio on/off (medians): {median(cycle['on']) / median(cycle['off']):.3f}")
    print(f"StartSingleJob -> ResultReady at the client (ms), {args.jobs} jobs:")
    print(f"  latency median {median(latency):7.2f}  p95 {p95(latency):7.2f}")
    print(f"  the same jobs' cycle time median {median(job_cycle):7.2f}  p95 {p95(job_cycle):7.2f}")
    print(f"  latency - cycle time (median of the differences): "
          f"{median([a - b for a, b in zip(latency, job_cycle, strict=True)]):.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
