"""The MQTT sink (paho-mqtt): one message per row on `<prefix>/<line>/<station>/result`.

JSON of the typed row (rows.plant_record) plus `idempotency_key` (the cycle id: QoS 1 is
at-least-once, so a consumer drops a key it has seen) and `kind` ("cycle" | "correction").
The broker's PUBACK is the confirmation. The station's state is a retained message on
`.../state`; the last will (retained too) says `offline` when the station dies, and a clean
stop says it itself.

The sender's thread drives the client's network loop itself (no paho thread, no paho
reconnect): a failed connection is dropped whole and rebuilt, so the outbox is the only
queue of unconfirmed rows.
"""

from __future__ import annotations

import json
import logging
import re
import socket
import ssl
import time
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime
from typing import Any

from inspection_station import __version__
from inspection_station.core.errors import ConfigError

from .credentials import MQTT_PASSWORD_ENV, MqttAddress, secret
from .outbox import QueuedRow
from .rows import plant_record
from .sender import SinkError

log = logging.getLogger(__name__)

ACK_TIMEOUT_S = 10.0  # a batch not acknowledged within this is resent on a new connection


def topic_part(text: str) -> str:
    """A name as one topic level: '/', '+', '#' and control characters cannot be in it."""
    return re.sub(r"[/+#\x00-\x1f]", "_", text) or "_"


def topics(prefix: str, line: str, station: str) -> tuple[str, str]:
    """(result topic, state topic)."""
    base = "/".join(p for p in (prefix.strip("/"), topic_part(line), topic_part(station)) if p)
    return f"{base}/result", f"{base}/state"


def result_payload(fields: Mapping[str, str], line: str, image_base_url: str = "") -> bytes:
    record = plant_record(fields, line, image_base_url)
    record["idempotency_key"] = fields["cycle_id"]
    record["kind"] = "correction" if fields.get("overrules") else "cycle"
    return json.dumps(record, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


def import_paho():
    try:
        import paho.mqtt.client as mqtt
    except ImportError:
        raise ConfigError(
            "[plant] mqtt_url needs paho-mqtt: install the station's `plant` extra "
            "(pip install \"inspection-station[plant]\")"
        ) from None
    return mqtt


class MqttSink:
    name = "mqtt"

    def __init__(
        self,
        address: MqttAddress,
        *,
        station: str,
        line: str,
        prefix: str = "inspection",
        ca_file: str = "",
        client_cert: str = "",
        client_key: str = "",
        credentials_file: str = "",
        image_base_url: str = "",
        connect_timeout_s: float = 5.0,
        keepalive_s: int = 30,
        state: Callable[[], dict] = dict,  # the station's state for the retained message
    ) -> None:
        import_paho()
        self.address = address
        self.where = str(address)
        self.station = station
        self.line = line
        self.result_topic, self.state_topic = topics(prefix, line, station)
        self.ca_file = ca_file
        self.client_cert = client_cert
        self.client_key = client_key
        self.credentials_file = credentials_file
        self.image_base_url = image_base_url
        self.connect_timeout_s = connect_timeout_s
        self.keepalive_s = keepalive_s
        self.state = state
        self._client: Any = None  # paho.mqtt.client.Client once connected
        self._connack: object | None = None
        self._lost: str = ""
        self._published_state: bytes | None = None
        self.problem = ""  # why the last send confirmed fewer rows than it was given

    # --- Sink --------------------------------------------------------------------------------------

    def connect(self) -> None:
        mqtt = import_paho()
        client = mqtt.Client(
            mqtt.CallbackAPIVersion.VERSION2,
            client_id=f"inspection-station-{topic_part(self.line)}-{topic_part(self.station)}",
            protocol=mqtt.MQTTv311,
            clean_session=True,
        )
        client.connect_timeout = self.connect_timeout_s
        if self.address.username:
            password = secret("mqtt_password", MQTT_PASSWORD_ENV, self.credentials_file)
            client.username_pw_set(self.address.username, password)
        if self.address.tls:
            context = self._tls_context()
            self._tls_probe(context)
            client.tls_set_context(context)
        client.will_set(self.state_topic, self._state_payload("offline"), qos=1, retain=True)
        client.on_connect = self._on_connect
        client.on_disconnect = self._on_disconnect
        self._connack, self._lost, self._published_state = None, "", None
        try:
            client.connect(self.address.host, self.address.port, keepalive=self.keepalive_s)
        except ssl.SSLCertVerificationError as exc:
            raise self._certificate_refused(exc) from None
        except (OSError, ssl.SSLError, ValueError) as exc:
            raise SinkError(f"{self.where}: cannot connect ({exc})") from None
        self._client = client
        deadline = time.monotonic() + self.connect_timeout_s
        while self._connack is None and not self._lost and time.monotonic() < deadline:
            self._loop(0.05)
        reason = self._connack
        if reason is None or getattr(reason, "is_failure", True):
            self.close()
            if reason is None:
                raise SinkError(f"{self.where}: no answer to CONNECT within {self.connect_timeout_s:g} s"
                                + (f" ({self._lost})" if self._lost else ""))
            hint = ""
            if str(reason).lower() in ("not authorized", "bad user name or password"):
                hint = f"; the broker refused the credentials: check the user in [plant] mqtt_url and {MQTT_PASSWORD_ENV}"
            raise SinkError(f"{self.where}: connection refused: {reason}{hint}")
        self._publish_state(force=True)

    def send(self, rows: Sequence[QueuedRow]) -> int:
        client = self._client
        infos = []
        for row in rows:
            info = client.publish(self.result_topic, result_payload(row.fields, self.line, self.image_base_url), qos=1)
            if info.rc != 0:
                break
            infos.append(info)
        deadline = time.monotonic() + ACK_TIMEOUT_S
        done = 0
        while True:
            while done < len(infos) and infos[done].is_published():
                done += 1
            if done == len(infos) or self._lost or time.monotonic() > deadline:
                break
            self._loop(0.05)
        if done < len(rows):  # the sender confirms the prefix, then reconnects
            why = self._lost or (f"no PUBACK within {ACK_TIMEOUT_S:g} s" if done < len(infos) else "publish refused")
            self.problem = f"{self.where}: {why}"
        return done

    def idle(self) -> None:
        if self._client is None:
            raise SinkError(f"{self.where}: not connected")
        self._loop(0.0)
        if self._lost:
            raise SinkError(f"{self.where}: {self._lost}")
        self._publish_state()

    def close(self) -> None:
        client, self._client = self._client, None
        if client is not None:
            try:
                client.disconnect()
                client.loop(0.0)
            except Exception:
                log.debug("closing the MQTT connection failed", exc_info=True)

    def shutdown(self) -> None:
        """The station stops: say `offline` (retained) before leaving; a clean disconnect sends no will."""
        client = self._client
        if client is not None and not self._lost:
            try:
                info = client.publish(self.state_topic, self._state_payload("offline"), qos=1, retain=True)
                deadline = time.monotonic() + 2.0
                while not info.is_published() and not self._lost and time.monotonic() < deadline:
                    self._loop(0.05)
            except Exception:
                log.debug("publishing the offline state failed", exc_info=True)
        self.close()

    # --- internals ---------------------------------------------------------------------------------

    def _tls_context(self) -> ssl.SSLContext:
        try:
            context = ssl.create_default_context(cafile=self.ca_file or None)  # verifies chain and host name
            if self.client_cert:
                context.load_cert_chain(self.client_cert, self.client_key or None)
        except (OSError, ssl.SSLError, ValueError) as exc:
            raise SinkError(f"{self.where}: TLS set-up failed ({exc}); check [plant] mqtt_ca_file, "
                            "mqtt_client_cert and mqtt_client_key") from None
        return context

    def _tls_probe(self, context: ssl.SSLContext) -> None:
        """The TLS handshake once on a socket of our own, closed whatever happens: a refused
        certificate is said clearly, and no half-open socket is left behind in paho."""
        try:
            with socket.create_connection((self.address.host, self.address.port), timeout=self.connect_timeout_s) as raw, \
                    context.wrap_socket(raw, server_hostname=self.address.host):
                pass
        except ssl.SSLCertVerificationError as exc:
            raise self._certificate_refused(exc) from None
        except (OSError, ssl.SSLError) as exc:
            raise SinkError(f"{self.where}: cannot connect ({exc})") from None

    def _certificate_refused(self, exc: ssl.SSLCertVerificationError) -> SinkError:
        return SinkError(
            f"{self.where}: the broker's TLS certificate was not accepted ({exc.verify_message or exc}); "
            "check [plant] mqtt_ca_file"
        )

    def _loop(self, timeout: float) -> None:
        client = self._client
        if client is None:
            return
        try:
            rc = client.loop(timeout)
        except Exception as exc:  # paho raises for a socket it already dropped
            self._lost = self._lost or f"connection lost ({exc})"
            return
        if rc != 0 and not self._lost:
            self._lost = f"connection lost ({import_paho().error_string(rc)})"

    def _on_connect(self, client, userdata, flags, reason_code, properties) -> None:
        self._connack = reason_code

    def _on_disconnect(self, client, userdata, flags, reason_code, properties) -> None:
        self._lost = self._lost or f"connection lost ({reason_code})"

    def _state_payload(self, state: str) -> bytes:
        data = {"station": self.station, "line": self.line, "state": state}
        if state != "offline":
            data.update(self.state())
            data["version"] = __version__
        data["time"] = datetime.now().astimezone().isoformat(timespec="seconds")
        return json.dumps(data, separators=(",", ":")).encode("utf-8")

    def _publish_state(self, force: bool = False) -> None:
        payload = self._state_payload("online")
        body = payload.rsplit(b',"time"', 1)[0]  # unchanged but for the clock: not sent again
        if not force and body == self._published_state:
            return
        info = self._client.publish(self.state_topic, payload, qos=1, retain=True)
        if info.rc != 0:
            raise SinkError(f"{self.where}: the state message was refused ({import_paho().error_string(info.rc)})")
        self._published_state = body
