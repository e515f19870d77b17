"""Helpers for the API's network tests: a station with its line services on loopback, raw
sockets (slowloris, streamed bodies), a self-signed certificate, a PNG that declares a size."""

from __future__ import annotations

import contextlib
import datetime
import ipaddress
import os
import select
import socket
import struct
import time
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx

from inspection_station.core.line.services import LineServices
from inspection_station.core.results.csv_log import read_log
from inspection_station.core.station import Station
from tests.known_station import station_settings

WAIT_S = 60.0  # bounded waits, never asserted as durations


@dataclass
class Api:
    station: Station
    services: LineServices
    client: httpx.Client

    @property
    def url(self) -> str:
        return self.services.api.url

    @property
    def port(self) -> int:
        return self.services.api.port

    def rows(self) -> list[dict[str, str]]:
        path = self.station.recorder.log.current_path
        return read_log(path) if path is not None else []

    def metric(self, text: str) -> float | None:
        """The value of the exposition line starting with `text` (name{labels})."""
        body = self.client.get("/metrics").text
        for line in body.splitlines():
            if line.startswith(text + " "):
                return float(line.rsplit(" ", 1)[1])
        return None

    def wait_ready(self) -> None:
        deadline = time.monotonic() + WAIT_S
        while not self.station.ready:
            assert time.monotonic() < deadline, "the station never became ready"
            time.sleep(0.02)


def start_api(tmp_path: Path, settings=None, *, verify=True, **line) -> Api:
    settings = settings or station_settings(tmp_path)
    settings = settings.replace("line", api_enabled=True, api_port=0, **line)
    station = Station(settings)
    services = LineServices(station, settings.line)
    station.start()
    assert station.wait_ready(WAIT_S)
    services.start()
    client = httpx.Client(base_url=services.api.url, timeout=WAIT_S, verify=verify)
    return Api(station, services, client)


def stop_api(api: Api) -> None:
    api.client.close()
    api.services.stop()
    api.station.stop()


@contextlib.contextmanager
def api_factory(tmp_path: Path, *, ready: bool = False, **defaults) -> Iterator:
    """`make(settings=None, **line)` starts an Api (`defaults` under `line`; `ready`: wait for
    the station); every one made is stopped on leaving (the tests' `api` fixtures)."""
    running: list[Api] = []

    def make(settings=None, **line) -> Api:
        a = start_api(tmp_path, settings, **{**defaults, **line})
        running.append(a)
        if ready:
            a.wait_ready()
        return a

    try:
        yield make
    finally:
        for a in running:
            stop_api(a)


# --- raw sockets ------------------------------------------------------------------------------


def connect(port: int, host: str = "127.0.0.1") -> socket.socket:
    sock = socket.create_connection((host, port), timeout=WAIT_S)
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return sock


def read_until_closed(sock: socket.socket, limit_s: float = WAIT_S) -> bytes:
    """Everything the server sends until it closes (or `limit_s` passes: then an AssertionError)."""
    data = b""
    deadline = time.monotonic() + limit_s
    while True:
        left = deadline - time.monotonic()
        assert left > 0, f"the server kept the connection open for {limit_s} s; got {data[:200]!r}"
        ready, _, _ = select.select([sock], [], [], left)
        if not ready:
            continue
        try:
            chunk = sock.recv(65536)
        except ConnectionResetError:
            return data
        if not chunk:
            return data
        data += chunk


# --- files --------------------------------------------------------------------------------------


def png_declaring(width: int, height: int) -> bytes:
    """A small, well-formed PNG whose header declares width x height (its data is one row)."""
    def chunk(kind: bytes, body: bytes) -> bytes:
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body) & 0xFFFFFFFF)

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    idat = zlib.compress(b"\0" + b"\0" * 3 * min(width, 1024))
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", idat) + chunk(b"IEND", b"")


def self_signed_certificate(folder: Path, host: str = "127.0.0.1") -> tuple[Path, Path]:
    """A certificate for `host` (and localhost) with its key, PEM files in `folder`."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "inspection-station test")])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name).issuer_name(name).public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5)).not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName("localhost"),
                                                    x509.IPAddress(ipaddress.ip_address(host))]), critical=False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = folder / "station.crt", folder / "station.key"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    return cert_path, key_path


def rss_mb() -> float:
    """This process's resident memory now (Linux)."""
    with open("/proc/self/statm") as fh:
        return int(fh.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 1e6
