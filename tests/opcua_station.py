"""A real station served by `inspection-station serve --opcua` in a subprocess, for the OPC UA
tests and benchmarks/opcua.py: Basler's emulator, a constant ONNX detector, two pattern sets
(product_ok, product_nok with a recipe), station accounts (eng: engineer, op: operator) and a
PKI folder with one trusted client certificate and one that is not trusted."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from inspection_station.core.settings.model import save_settings
from tests.known_station import station_settings

PASSWORD = "secret-pass"
NOK_RECIPE = """\
# product_nok: a tighter threshold and a longer exposure (OPC UA tests)
[recipe]
version = 2
product_ids = ["4711-NOK"]

[model]
confidence = 0.55

[camera]
exposure_us = 12000.0
"""
START_S = 120.0


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def client_certificate(folder: Path, name: str) -> tuple[Path, Path, str]:
    """A client application certificate (DER) and key (PEM); returns (cert, key, uri)."""
    from asyncua.crypto.cert_gen import (
        dump_private_key_as_pem,
        generate_private_key,
        generate_self_signed_app_certificate,
    )
    from cryptography import x509
    from cryptography.hazmat.primitives.serialization import Encoding
    from cryptography.x509.oid import ExtendedKeyUsageOID

    uri = f"urn:test:{name}"
    key = generate_private_key()
    cert = generate_self_signed_app_certificate(key, name, {}, [x509.UniformResourceIdentifier(uri),
                                                                x509.DNSName("localhost")],
                                                [ExtendedKeyUsageOID.CLIENT_AUTH], days=30)
    folder.mkdir(parents=True, exist_ok=True)
    cert_path, key_path = folder / f"{name}.der", folder / f"{name}.pem"
    cert_path.write_bytes(cert.public_bytes(Encoding.DER))
    key_path.write_bytes(dump_private_key_as_pem(key))
    return cert_path, key_path, uri


@dataclass
class Served:
    root: Path
    process: subprocess.Popen
    url: str
    log_dir: Path
    audit: Path
    trusted: tuple[Path, Path, str]
    untrusted: tuple[Path, Path, str]
    stderr_path: Path

    def stop(self) -> str:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(10)
        return self.stderr_path.read_text(errors="replace")


def serve(root: Path, *, opcua: bool = True) -> Served:
    settings = station_settings(root).replace("line", opcua_pki_dir=str(root / "pki"))
    (root / "patterns" / "product_nok.recipe.toml").write_text(NOK_RECIPE)
    save_settings(settings, root / "settings.toml")
    env = {**os.environ, "XDG_CONFIG_HOME": str(root / "config"), "XDG_DATA_HOME": str(root / "data"),
           "XDG_STATE_HOME": str(root / "state"), "XDG_CACHE_HOME": str(root / "cache"), "PYLON_CAMEMU": "1",
           "PYTHONUNBUFFERED": "1", "INSPECTION_STATION_DATA_ROOT": str(root / "data-root")}
    subprocess.run([sys.executable, "-c", (
        "from inspection_station.core.settings.accounts import AccountStore\n"
        "s = AccountStore()\n"
        f"s.add('eng', 'engineer', {PASSWORD!r})\n"
        f"s.add('op', 'operator', {PASSWORD!r})\n"
        # only the wrong-password test signs in as this one: its failure back-off stays its own
        f"s.add('eng-typo', 'engineer', {PASSWORD!r})\n")], env=env, check=True, timeout=60)
    trusted = client_certificate(root / "clients", "trusted-plc")
    untrusted = client_certificate(root / "clients", "stranger")
    (root / "pki" / "trusted").mkdir(parents=True, exist_ok=True)
    (root / "pki" / "trusted" / "trusted-plc.der").write_bytes(trusted[0].read_bytes())
    port = free_port()
    args = [sys.executable, "-m", "inspection_station.cli", "serve", "--config", str(root / "settings.toml")]
    if opcua:
        args += ["--opcua", f"127.0.0.1:{port}"]
    stderr_path = root / "serve.stderr"
    with stderr_path.open("wb") as stderr:  # the child holds its own copy of the descriptor
        process = subprocess.Popen(args, env=env, stdout=subprocess.DEVNULL, stderr=stderr)
    served = Served(root, process, f"opc.tcp://127.0.0.1:{port}", root / "log", root / "data-root" / "logs",
                    trusted, untrusted, stderr_path)
    deadline = time.monotonic() + START_S
    wanted = "serving station" if not opcua else "opcua: opc.tcp://"
    while time.monotonic() < deadline:
        text = stderr_path.read_text(errors="replace")
        if wanted in text and "[model] ready" in text:
            return served
        if process.poll() is not None:
            raise RuntimeError(f"serve exited {process.returncode}: {text[-2000:]}")
        time.sleep(0.1)
    served.stop()
    raise RuntimeError(f"serve did not come up: {stderr_path.read_text(errors='replace')[-2000:]}")
