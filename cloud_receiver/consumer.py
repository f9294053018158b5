"""MQTT consumer: shared subscriptions, manual acks, signed BatchAcks.

paho-mqtt 2.x, ``CallbackAPIVersion.VERSION2``, MQTT 5, client id ``rx-{receiver_id}``,
``clean_start=False`` with a 7-day session, ``manual_ack=True``. It subscribes on
every connect (QoS 1) to ``$share/{group}/rn/v1/gw/+/{punches,heartbeat,status,roster}``.

Per message: verify + store (ONE transaction, committed) → ``client.ack(mid, qos)`` to
the broker → publish the signed ``BatchAck`` (QoS 1) on the gateway's ack topic. A bad
message is logged, counted and MQTT-acked (so the broker does not redeliver it
forever); it never stops the consumer. A store that is unreachable is retried with
backoff and the message is not acked until it is stored.

Fault injection (reliability tests only): with the environment variable
``RN_FAULT_EXIT_AFTER_COMMIT=N`` the process calls ``os._exit(17)`` right after the
N-th punch-batch commit, before the MQTT ack and the application ack. Unset, it is inert.
"""

from __future__ import annotations

import logging
import os
import sqlite3
import threading
import time

import paho.mqtt.client as mqtt
import psycopg
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from paho.mqtt.enums import CallbackAPIVersion
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties
from paho.mqtt.subscribeoptions import SubscribeOptions

from shared_schema import envelope, mqtt_tls, topics
from shared_schema.messages import encode_message

from . import metrics
from .config import ReceiverConfig
from .ingest import Ingestor, Outcome
from .store import Store

log = logging.getLogger(__name__)

SESSION_EXPIRY_S = 7 * 24 * 3600
CHANNELS = ("punches", "heartbeat", "status", "roster")
FAULT_ENV = "RN_FAULT_EXIT_AFTER_COMMIT"
FAULT_EXIT_CODE = 17
TRANSIENT = (sqlite3.OperationalError, psycopg.OperationalError)


class Consumer:
    def __init__(self, cfg: ReceiverConfig, store: Store, signing_key: Ed25519PrivateKey, sweeper=None):
        self.cfg = cfg
        self.store = store
        self.key = signing_key
        self.sweeper = sweeper
        self.ingestor = Ingestor(store, cfg.receiver_id, cfg.registry_cache_s)
        self.commits = 0
        self.handled = 0
        self.connected = threading.Event()
        self._stopping = threading.Event()
        fault = os.environ.get(FAULT_ENV, "").strip()
        self._fault_after = int(fault) if fault.isdigit() and int(fault) > 0 else None
        if self._fault_after:
            log.warning("fault injection armed: exit(%s) after batch commit #%s", FAULT_EXIT_CODE, self._fault_after)
        m = cfg.mqtt
        self.client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=f"rx-{cfg.receiver_id}",
                                  protocol=mqtt.MQTTv5, manual_ack=True)
        self.client.max_inflight_messages_set(m.max_inflight)
        mqtt_tls.apply(self.client, m)   # TLS + client certificate when [receiver.mqtt] tls = true
        self.client.reconnect_delay_set(max(1, int(m.reconnect_min_s)), max(1, int(m.reconnect_max_s)))
        self.client.on_connect = self._on_connect
        self.client.on_disconnect = self._on_disconnect
        self.client.on_message = self._on_message

    # ---- lifecycle ----------------------------------------------------------------
    def start(self) -> "Consumer":
        props = Properties(PacketTypes.CONNECT)
        props.SessionExpiryInterval = SESSION_EXPIRY_S
        m = self.cfg.mqtt
        self.client.connect_async(m.host, m.port, m.keepalive_s, clean_start=False, properties=props)
        self.client.loop_start()
        return self

    def stop(self) -> None:
        self._stopping.set()
        try:
            self.client.disconnect()
        finally:
            self.client.loop_stop()

    # ---- callbacks ----------------------------------------------------------------
    def _on_connect(self, client, userdata, flags, reason_code, properties):
        if reason_code.is_failure:
            log.error("mqtt connect refused: %s", reason_code)
            return
        mqtt_tls.set_no_delay(client)    # acks to gateways are small request/reply messages
        subs = [(topics.shared(self.cfg.mqtt.share_group, ch), SubscribeOptions(qos=1)) for ch in CHANNELS]
        client.subscribe(subs)
        log.info("mqtt connected (session present=%s); subscribed %s", flags.session_present,
                 ", ".join(t for t, _ in subs))
        self.connected.set()

    def _on_disconnect(self, client, userdata, flags, reason_code, properties):
        self.connected.clear()
        if not self._stopping.is_set():
            log.warning("mqtt disconnected (%s); reconnecting with backoff", reason_code)

    def _handle(self, topic: str, payload: bytes) -> Outcome | None:
        delay = 0.5
        while True:
            try:
                return self.ingestor.handle(topic, payload)
            except TRANSIENT:
                if self._stopping.is_set():
                    raise
                log.warning("store unavailable; retrying in %.1fs", delay, exc_info=True)
                time.sleep(delay)
                delay = min(delay * 2, 30.0)

    def alive(self) -> bool:
        """paho's network thread is running (the service watchdog checks it before each ping)."""
        t = getattr(self.client, "_thread", None)
        return t is not None and t.is_alive()

    def _on_message(self, client, userdata, msg):
        t0 = time.perf_counter()
        try:
            out = self._handle(msg.topic, msg.payload)
        except TRANSIENT:
            log.warning("stopping with message mid=%s unstored; the broker will redeliver it", msg.mid)
            return
        except Exception:  # noqa: BLE001 - a bad message never stops the receiver
            log.exception("internal error handling a message on %s (size %s)", msg.topic, len(msg.payload))
            try:
                self.store.bump("internal_errors")
            except Exception:  # noqa: BLE001
                pass
            out = None
        metrics.observe(out, time.perf_counter() - t0)
        self.handled += 1
        if out is not None and out.result is not None:
            self.commits += 1
            if self._fault_after is not None and self.commits >= self._fault_after:
                log.critical("fault injection: exiting after commit #%s before acks", self.commits)
                logging.shutdown()
                os._exit(FAULT_EXIT_CODE)
        client.ack(msg.mid, msg.qos)
        if out is not None and out.ack is not None:
            body = encode_message(out.ack)
            client.publish(topics.ack(out.ack.gateway_id), envelope.seal(body, self.key), qos=1)
        if self.sweeper is not None and out is not None and out.result is not None and out.result.pending:
            self.sweeper.poke()
