"""Small paho clients for the link-security tests: connect with a given certificate, record
CONNACK / SUBACK / messages."""

from __future__ import annotations

import threading
from pathlib import Path

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion
from paho.mqtt.subscribeoptions import SubscribeOptions

from devtools import wait_for  # noqa: F401  (re-exported for the tests)
from shared_schema.mqtt_tls import client_context


class Client:
    """``Client(port, certdir)``: TLS with certdir's ca.crt + mqtt-client.crt/key. ``ca_file``,
    ``cert=False`` (no client certificate), ``tls=False`` (plaintext) and ``server_name`` vary it."""

    def __init__(self, port: int, certdir: Path | None = None, *, client_id: str = "", tls: bool = True,
                 cert: bool = True, ca_file: Path | None = None, server_name: str | None = None,
                 host: str = "localhost"):
        self.messages: list[tuple[str, bytes]] = []
        self.subacks: list[list[int]] = []
        self.connack = None
        self.error: Exception | None = None
        self._lock = threading.Lock()
        self._connected = threading.Event()
        self.c = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=client_id, protocol=mqtt.MQTTv5)
        if tls:
            ca = ca_file or certdir / "ca.crt"
            crt = certdir / "mqtt-client.crt" if cert and certdir else None
            key = certdir / "mqtt-client.key" if cert and certdir else None
            self.c.tls_set_context(client_context(str(ca), crt and str(crt), key and str(key), server_name))
        self.c.on_connect = self._on_connect
        self.c.on_message = self._on_message
        self.c.on_subscribe = lambda c, u, mid, rcs, p: self.subacks.append([r.value for r in rcs])
        try:
            self.c.connect(host, port, keepalive=10)
        except Exception as exc:  # noqa: BLE001 - the refusal is what some tests want to see
            self.error = exc
            return
        self.c.loop_start()

    def _on_connect(self, client, userdata, flags, reason_code, properties):
        self.connack = reason_code
        if not reason_code.is_failure:
            self._connected.set()

    def _on_message(self, client, userdata, msg):
        with self._lock:
            self.messages.append((msg.topic, bytes(msg.payload)))

    def connected(self, timeout: float = 5.0) -> bool:
        return self.error is None and self._connected.wait(timeout)

    def subscribe(self, *topic_filters: str) -> list[int]:
        n = len(self.subacks)
        self.c.subscribe([(t, SubscribeOptions(qos=1)) for t in topic_filters])
        wait_for(lambda: len(self.subacks) > n, what="SUBACK")
        return self.subacks[-1]

    def publish(self, topic: str, payload: bytes) -> None:
        self.c.publish(topic, payload, qos=1).wait_for_publish(5)

    def got(self, topic: str) -> list[bytes]:
        with self._lock:
            return [p for t, p in self.messages if t == topic]

    def close(self) -> None:
        try:
            self.c.disconnect()
        finally:
            self.c.loop_stop()
