"""Real plant servers for the tests: a throw-away PostgreSQL cluster and a Mosquitto broker.

Debian's `postgresql` and `mosquitto` packages (.ci/run installs them). Everything lives in a
temp dir of its own, on loopback ports. initdb refuses to run as root (the tests run as root
here and in CI): the cluster then belongs to the `postgres` user and its commands run through
`runuser`. Certificates (two CAs: the broker's and a stranger's) are made with openssl.
"""

from __future__ import annotations

import contextlib
import glob
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import threading
import time
from pathlib import Path

WAIT_S = 60.0
PASSWORD = "s3cret-Station"  # the test role's password (never in a settings file: the env)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _pg_bin(name: str) -> str:
    found = sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{name}"), key=lambda p: int(p.split("/")[4]))
    path = found[-1] if found else shutil.which(name)
    assert path, f"{name}: Debian's postgresql package is needed (.ci/run installs it)"
    return path


def make_certificates(folder: Path) -> dict[str, Path]:
    """ca.pem + server.pem/server.key (signed by ca, for 127.0.0.1 and localhost), other_ca.pem."""
    openssl = shutil.which("openssl")
    assert openssl, "openssl is needed for the TLS checks (.ci/run installs it)"
    folder.mkdir(parents=True, exist_ok=True)

    def run(*args: str) -> None:
        subprocess.run([openssl, *args], check=True, capture_output=True, timeout=60, cwd=folder)

    for ca in ("ca", "other_ca"):
        run("req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
            "-keyout", f"{ca}.key", "-out", f"{ca}.pem", "-days", "2", "-subj", f"/CN=test {ca}")
    run("req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes", "-keyout", "server.key",
        "-out", "server.csr", "-subj", "/CN=localhost")
    (folder / "san.ext").write_text("subjectAltName=IP:127.0.0.1,DNS:localhost\n")
    run("x509", "-req", "-in", "server.csr", "-CA", "ca.pem", "-CAkey", "ca.key", "-CAcreateserial",
        "-out", "server.pem", "-days", "2", "-extfile", "san.ext")
    return {name: folder / name for name in ("ca.pem", "other_ca.pem", "server.pem", "server.key")}


class Postgres:
    """A cluster in its own temp dir: TCP on 127.0.0.1 (password, TLS offered), a unix socket (trust)."""

    def __init__(self) -> None:
        self.dir = Path(tempfile.mkdtemp(prefix="plant-pg-"))
        self.data = self.dir / "data"
        self.port = free_port()
        self.as_postgres = os.geteuid() == 0
        if self.as_postgres:
            shutil.chown(self.dir, "postgres", "postgres")
        certs = make_certificates(self.dir / "certs")
        self.ca = certs["ca.pem"]
        self._run(_pg_bin("initdb"), "-D", str(self.data), "-U", "postgres", "-E", "UTF8", "--locale=C",
                  "--auth-local=trust", "--auth-host=scram-sha-256", "--no-sync")
        for name in ("server.pem", "server.key"):
            shutil.copy(certs[name], self.data / name)
            os.chmod(self.data / name, 0o600)
            if self.as_postgres:
                shutil.chown(self.data / name, "postgres", "postgres")
        with (self.data / "postgresql.conf").open("a") as conf:
            conf.write(
                f"listen_addresses = '127.0.0.1'\nport = {self.port}\nunix_socket_directories = '{self.dir}'\n"
                "fsync = off\nsynchronous_commit = off\nfull_page_writes = off\n"
                "ssl = on\nssl_cert_file = 'server.pem'\nssl_key_file = 'server.key'\n"
                "max_connections = 40\nshared_buffers = 16MB\n"
            )
        self.start()
        try:
            from psycopg import sql

            self.admin(sql.SQL("CREATE ROLE station LOGIN PASSWORD {}").format(sql.Literal(PASSWORD)))
        except BaseException:  # never leave a running server behind
            self.close()
            raise

    def _run(self, *cmd: str) -> subprocess.CompletedProcess:
        if self.as_postgres:
            cmd = ("runuser", "-u", "postgres", "--", *cmd)
        out = subprocess.run(cmd, capture_output=True, text=True, timeout=WAIT_S)
        assert out.returncode == 0, f"{' '.join(cmd)}:\n{out.stdout}\n{out.stderr}"
        return out

    def start(self) -> None:
        self._run(_pg_bin("pg_ctl"), "-D", str(self.data), "-l", str(self.dir / "server.log"), "-w",
                  "-t", "30", "start")

    def stop(self) -> None:
        self._run(_pg_bin("pg_ctl"), "-D", str(self.data), "-m", "fast", "-w", "-t", "30", "stop")

    def admin_conninfo(self, dbname: str = "postgres") -> str:
        return f"host={self.dir} port={self.port} user=postgres dbname={dbname}"

    def admin(self, sql: str, *params, dbname: str = "postgres"):
        import psycopg

        with psycopg.connect(self.admin_conninfo(dbname), autocommit=True) as conn:
            cur = conn.execute(sql, params or None)
            return cur.fetchall() if cur.description else None

    def new_database(self, name: str) -> str:
        """A fresh database owned by the station role; its URL (password from the environment)."""
        self.admin(f'CREATE DATABASE "{name}" OWNER station')
        return f"postgresql://station@127.0.0.1:{self.port}/{name}"

    def close(self) -> None:
        with contextlib.suppress(AssertionError, subprocess.TimeoutExpired):
            self.stop()
        shutil.rmtree(self.dir, ignore_errors=True)


class Mosquitto:
    """A broker on loopback: a plain listener (anonymous), a password listener, a TLS listener;
    persistence in its temp dir, so a restart keeps the test subscriber's queued messages."""

    def __init__(self) -> None:
        self.dir = Path(tempfile.mkdtemp(prefix="plant-mqtt-"))
        self.port, self.auth_port, self.tls_port = free_port(), free_port(), free_port()
        certs = make_certificates(self.dir / "certs")
        self.ca, self.other_ca = certs["ca.pem"], certs["other_ca.pem"]
        exe = shutil.which("mosquitto") or "/usr/sbin/mosquitto"
        assert Path(exe).exists(), "Debian's mosquitto package is needed (.ci/run installs it)"
        self.exe = exe
        passwd = self.dir / "passwd"
        subprocess.run([shutil.which("mosquitto_passwd") or "mosquitto_passwd", "-b", "-c", str(passwd),
                        "station", PASSWORD], check=True, capture_output=True, timeout=30)
        os.chmod(passwd, 0o600)
        self.config = self.dir / "mosquitto.conf"
        self.config.write_text(
            "per_listener_settings true\n"
            f"persistence true\npersistence_location {self.dir}/\nautosave_interval 1\n"
            f"log_dest file {self.dir}/mosquitto.log\n"
            + (f"user {os.environ.get('USER') or 'root'}\n" if os.geteuid() == 0 else "")
            + f"listener {self.port} 127.0.0.1\nallow_anonymous true\n"
            f"listener {self.auth_port} 127.0.0.1\nallow_anonymous false\npassword_file {passwd}\n"
            f"listener {self.tls_port} 127.0.0.1\nallow_anonymous true\n"
            f"cafile {self.ca}\ncertfile {certs['server.pem']}\nkeyfile {certs['server.key']}\n"
        )
        self.proc: subprocess.Popen | None = None
        self.start()

    def start(self) -> None:
        self.proc = subprocess.Popen([self.exe, "-c", str(self.config)], stdout=subprocess.DEVNULL,
                                     stderr=subprocess.STDOUT)
        deadline = time.monotonic() + WAIT_S
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                log = self.dir / "mosquitto.log"
                raise AssertionError(f"mosquitto exited: {log.read_text() if log.exists() else ''}")
            with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", self.port), timeout=1):
                return
            time.sleep(0.05)
        raise AssertionError("mosquitto did not start listening")

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)  # saves the persistence file on the way out
            self.proc.wait(30)
        self.proc = None

    def close(self) -> None:
        self.stop()
        shutil.rmtree(self.dir, ignore_errors=True)


class Subscriber:
    """A persistent-session MQTT client collecting every message under `topic` (QoS 1), across
    broker restarts (its session and queued messages live in the broker's persistence)."""

    def __init__(self, port: int, topic: str, client_id: str = "plant-test-subscriber") -> None:
        import paho.mqtt.client as mqtt

        self.messages: list[tuple[str, bytes, bool]] = []  # (topic, payload, retained)
        self._lock = threading.Lock()
        self._subscribed = threading.Event()
        self.topic = topic
        self.client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=client_id, clean_session=False,
                                  protocol=mqtt.MQTTv311)
        self.client.on_connect = lambda c, u, f, rc, p: (c.subscribe(topic, qos=1), None)[1]
        self.client.on_subscribe = lambda *a: self._subscribed.set()
        self.client.on_message = self._message
        self.client.reconnect_delay_set(0.05, 0.5)
        self.client.connect("127.0.0.1", port, keepalive=5)
        self.client.loop_start()
        assert self._subscribed.wait(WAIT_S), "the test subscriber never subscribed"

    def _message(self, client, userdata, message) -> None:
        with self._lock:
            self.messages.append((message.topic, message.payload, bool(message.retain)))

    def received(self, suffix: str = "/result") -> list[bytes]:
        with self._lock:
            return [payload for topic, payload, _ in self.messages if topic.endswith(suffix)]

    def close(self) -> None:
        self.client.loop_stop()
        self.client.disconnect()
