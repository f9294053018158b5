"""Outbox → city over MQTT 5: signed PunchBatches out, signed BatchAcks in.

One thread owns the paho client and every outbox state change (claims, acks,
releases), so the sync side has no races with itself; the gate thread only
appends to the ledger and calls :meth:`LedgerSync.notify_live`.

* Batches are pending rows in seq order, bounded by count and bytes, at most
  ``max_inflight_batches`` awaiting an application ack. A live entry (one the
  gate just committed) goes out in its own small batch ahead of the backlog.
* An ack counts only if it verifies with the receiver's public key and decodes
  strictly; anything else on the ack topic is counted and ignored.
* Disconnect, restart, ack timeout → every ``sent`` row back to ``pending``,
  resent in seq order. A rejected batch goes back to ``pending`` and sending
  pauses for ``reject_retry_s``. Nothing is ever dropped here.
* Reconnect with exponential backoff and full jitter (our own: paho's has none).
"""

from __future__ import annotations

import collections
import logging
import queue
import random
import threading
import time
import uuid
from dataclasses import dataclass

import paho.mqtt.client as mqtt
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from paho.mqtt.enums import CallbackAPIVersion, MQTTErrorCode, MQTTProtocolVersion
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties

from shared_schema import SCHEMA_VERSION, mqtt_tls, topics
from shared_schema.envelope import EnvelopeError, open_signed, seal
from shared_schema.messages import BatchAck, GatewayStatus, decode_message, encode_message
from shared_schema.promtext import Histogram
from shared_schema.wire import DecodeError, utc_now

from . import __version__
from .config import EdgeConfig
from .ledger import PunchLedger

log = logging.getLogger(__name__)

SESSION_EXPIRY_S = 7 * 24 * 3600
CONNACK_TIMEOUT_S = 10.0
BATCH_OVERHEAD = 256  # envelope-free JSON around the entries: ids, time, type, v


class Backoff:
    """Exponential backoff with full jitter: delay ∈ [min, cap], cap doubling to max."""

    def __init__(self, min_s: float, max_s: float, rng: random.Random | None = None):
        self.min_s, self.max_s = min_s, max_s
        self.rng = rng or random.Random()
        self.cap = min_s

    def next(self) -> float:
        delay = self.rng.uniform(self.min_s, self.cap)
        self.cap = min(self.max_s, self.cap * 2)
        return delay

    def reset(self) -> None:
        self.cap = self.min_s


@dataclass
class _Inflight:
    first: int
    last: int
    count: int
    deadline: float
    live: bool
    sent_at: float = 0.0   # monotonic: the ack latency histogram


def build_batch_body(gateway_id: str, batch_id: str, entry_texts: list[str]) -> bytes:
    """Canonical JSON of a PunchBatch from already-canonical entry JSON (no re-encoding)."""
    return ('{"batch_id":"%s","entries":[%s],"gateway_id":"%s","sent_at":"%s",'
            '"type":"punch_batch","v":%d}' % (batch_id, ",".join(entry_texts), gateway_id,
                                              utc_now(), SCHEMA_VERSION)).encode("utf-8")


class LedgerSync:
    def __init__(self, ledger: PunchLedger, cfg: EdgeConfig, key: Ed25519PrivateKey,
                 receiver_key: Ed25519PublicKey):
        self.ledger = ledger
        self.cfg = cfg
        self.sc = cfg.sync
        self.gateway_id = cfg.gateway_id
        self.key = key
        self.receiver_key = receiver_key
        self.backoff = Backoff(self.sc.backoff_min_s, self.sc.backoff_max_s)
        self.counters = collections.Counter()
        self.ack_seconds = Histogram("rn_edge_ack_latency_seconds",
                                     "From publishing a punch batch to its verified application ack, seconds.")
        self.loop_at = time.monotonic()   # last sync-loop iteration (the service watchdog checks it)
        self.connected = threading.Event()
        self._topic_punches = topics.punches(self.gateway_id)
        self._topic_ack = topics.ack(self.gateway_id)
        self._topic_status = topics.status(self.gateway_id)
        self._inflight: dict[str, _Inflight] = {}
        self._live: collections.deque[int] = collections.deque()
        self._outq: queue.SimpleQueue = queue.SimpleQueue()
        self._max_sent_seq = 0        # acks are applied only up to what this process sent
        self._paused_until = 0.0
        self._dirty = True            # there may be pending rows to claim
        self._seen_head = -1          # ledger head when the outbox was last found empty
        self._sock_open = False
        self._connect_started = 0.0
        self._connect_failures = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="ledger-sync", daemon=True)
        self._attached: list = []      # other durable outboxes sharing this link (roster uplink)
        # fn(BatchAck, rtt_s) for each verified ack; rtt_s: seconds since its batch was published in this
        # connection, None for an ack of a batch this process does not have in flight (edge_agent.clock)
        self.ack_listeners: list = []
        self.client = self._make_client()

    # ---- public --------------------------------------------------------------

    def start(self) -> None:
        self._thread.start()

    def stop(self, timeout: float = 5.0) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout)

    def notify_live(self, seq: int) -> None:
        """The gate committed ``seq`` just now: send it ahead of any backlog."""
        self._live.append(seq)
        self._dirty = True

    def publish(self, topic: str, payload: bytes, retain: bool = False) -> bool:
        """Thread-safe QoS 1 publish of an already signed payload; False when offline."""
        if not self.connected.is_set():
            return False
        self._outq.put((topic, payload, retain))
        return True

    def attach(self, channel) -> None:
        """Share this link with another durable outbox (before :meth:`start`). ``channel`` has
        ``pump(publish, now)`` (sync thread; ``publish(topic, payload) -> bool`` QoS 1),
        ``handle(msg) -> bool`` (a verified message from the ack topic that is not a
        BatchAck; True if it was the channel's) and ``reset()`` (link lost: in-flight back
        to pending)."""
        self._attached.append(channel)

    def _publish_now(self, topic: str, payload: bytes) -> bool:
        return self.client.publish(topic, payload, qos=1).rc == MQTTErrorCode.MQTT_ERR_SUCCESS

    @property
    def inflight_batches(self) -> int:
        return len(self._inflight)

    # ---- MQTT plumbing ---------------------------------------------------------

    def _make_client(self) -> mqtt.Client:
        c = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=f"gw-{self.gateway_id}",
                        protocol=MQTTProtocolVersion.MQTTv5, reconnect_on_failure=False)
        c.max_inflight_messages_set(self.sc.max_inflight_batches + 16)  # before connect()
        c.max_queued_messages_set(0)
        mqtt_tls.apply(c, self.cfg.mqtt)   # TLS + client certificate when [edge.mqtt] tls = true
        c.on_connect = self._on_connect
        c.on_disconnect = self._on_disconnect
        c.on_message = self._on_message
        return c

    def _status(self, online: bool, reason: str | None) -> bytes:
        msg = GatewayStatus(v=SCHEMA_VERSION, type="gateway_status", gateway_id=self.gateway_id,
                            online=online, since=utc_now(), software_version=__version__,
                            reason=reason)
        return seal(encode_message(msg), self.key)

    def _try_connect(self) -> bool:
        self.client.will_set(self._topic_status, self._status(False, "connection lost"), qos=1,
                             retain=True)
        props = Properties(PacketTypes.CONNECT)
        props.SessionExpiryInterval = SESSION_EXPIRY_S
        try:
            self.client.connect(self.cfg.mqtt.host, self.cfg.mqtt.port, self.cfg.mqtt.keepalive_s,
                                clean_start=False, properties=props)
        except (OSError, ValueError) as exc:
            # an outage can last a day: say it once, then quietly keep trying
            self._connect_failures += 1
            log.log(logging.WARNING if self._connect_failures == 1 else logging.DEBUG,
                    "MQTT connect to %s:%s failed: %s (retrying with backoff)", self.cfg.mqtt.host,
                    self.cfg.mqtt.port, exc)
            return False
        self._sock_open = True
        self._connect_started = time.monotonic()
        return True

    def _on_connect(self, client, userdata, flags, reason_code, properties) -> None:
        if reason_code.is_failure:
            log.warning("broker refused the connection: %s", reason_code)
            client.disconnect()
            return
        mqtt_tls.set_no_delay(client)
        client.subscribe(self._topic_ack, qos=1)
        client.publish(self._topic_status, self._status(True, None), qos=1, retain=True)
        self._reset_outbox()
        self.backoff.reset()
        if self._connect_failures > 1:
            log.info("MQTT connect succeeded after %s failed attempts", self._connect_failures)
        self._connect_failures = 0
        self.counters["connects"] += 1
        self.connected.set()
        log.info("MQTT connected (session present: %s)", flags.session_present)

    def _on_disconnect(self, client, userdata, flags, reason_code, properties) -> None:
        self._lost(f"disconnected ({reason_code})")

    def _lost(self, why: str) -> None:
        was = self.connected.is_set()
        self.connected.clear()
        self._sock_open = False
        self._reset_outbox()
        if was:
            self.counters["link_lost"] += 1
            log.log(logging.INFO if self._stop.is_set() else logging.WARNING, "MQTT link lost: %s", why)

    def _reset_outbox(self) -> None:
        self.counters["batches_resent"] += len(self._inflight)   # back to pending: they go out again
        self._inflight.clear()
        self._live.clear()
        n = self.ledger.reset_sent()
        for channel in self._attached:
            channel.reset()
        self._dirty = True
        if n:
            log.info("%s sent entries back to pending", n)

    def _run(self) -> None:
        try:
            while not self._stop.is_set():
                self.loop_at = time.monotonic()
                if not self._sock_open:
                    if not self._try_connect():
                        self._stop.wait(self.backoff.next())
                        continue
                rc = self.client.loop(timeout=0.01)
                if rc != MQTTErrorCode.MQTT_ERR_SUCCESS or self.client.socket() is None:
                    self._lost(f"loop rc {rc}")
                    self._stop.wait(self.backoff.next())
                    continue
                if self.connected.is_set():
                    self._pump()
                elif time.monotonic() - self._connect_started > CONNACK_TIMEOUT_S:
                    self.client.disconnect()
                    self._lost("no CONNACK")
                    self._stop.wait(self.backoff.next())
        except Exception:
            log.exception("sync loop crashed")
            raise
        finally:
            self._shutdown()

    def _shutdown(self) -> None:
        if self.connected.is_set():
            info = self.client.publish(self._topic_status, self._status(False, "shutdown"), qos=1,
                                       retain=True)
            deadline = time.monotonic() + 2.0
            while not info.is_published() and time.monotonic() < deadline:
                if self.client.loop(timeout=0.05) != MQTTErrorCode.MQTT_ERR_SUCCESS:
                    break
            self.client.disconnect()
            self.client.loop(timeout=0.05)
        self.connected.clear()
        self._sock_open = False
        self.ledger.reset_sent()

    # ---- the outbox pump (sync thread only) -------------------------------------

    def _pump(self) -> None:
        while True:
            try:
                topic, payload, retain = self._outq.get_nowait()
            except queue.Empty:
                break
            self.client.publish(topic, payload, qos=1, retain=retain)
        now = time.monotonic()
        if any(b.deadline < now for b in self._inflight.values()):
            self.counters["ack_timeouts"] += 1
            log.warning("no ack within %ss: %s batches back to pending", self.sc.ack_timeout_s,
                        len(self._inflight))
            self._reset_outbox()
        for channel in self._attached:
            channel.pump(self._publish_now, now)
        if now < self._paused_until:
            return
        while len(self._inflight) < self.sc.max_inflight_batches and self._send_next(now):
            pass

    def _send_next(self, now: float) -> bool:
        batch_id = uuid.uuid4().hex
        budget = self.sc.batch_max_bytes - BATCH_OVERHEAD
        rows, live = [], False
        while self._live and not rows:
            seqs = [self._live.popleft()
                    for _ in range(min(len(self._live), self.sc.live_batch_max_entries))]
            rows = self.ledger.claim_pending(batch_id, len(seqs), budget, seqs=seqs)
            live = bool(rows)
        if not rows:
            head = self.ledger.head_seq  # new rows since the outbox was last seen empty?
            if not self._dirty and head == self._seen_head:
                return False
            rows = self.ledger.claim_pending(batch_id, self.sc.batch_max_entries, budget)
            if not rows:
                self._dirty, self._seen_head = False, head
                return False
        body = build_batch_body(self.gateway_id, batch_id, [t for _, t in rows])
        info = self.client.publish(self._topic_punches, seal(body, self.key), qos=1)
        if info.rc != MQTTErrorCode.MQTT_ERR_SUCCESS:
            self.ledger.release_batch(batch_id)
            log.warning("publish failed (%s); batch back to pending", info.rc)
            return False
        first, last = rows[0][0], rows[-1][0]
        self._inflight[batch_id] = _Inflight(first, last, len(rows), now + self.sc.ack_timeout_s, live, now)
        self._max_sent_seq = max(self._max_sent_seq, last)
        self.counters["batches_sent"] += 1
        self.counters["entries_sent"] += len(rows)
        log.debug("batch sent: %s entries, seq %s..%s, live=%s", len(rows), first, last, live)
        return True

    def _on_message(self, client, userdata, msg) -> None:
        if msg.topic != self._topic_ack:
            self.counters["unexpected_topic"] += 1
            return
        try:
            ack = decode_message(open_signed(msg.payload, self.receiver_key))
        except (EnvelopeError, DecodeError) as exc:
            self.counters["ack_invalid"] += 1
            log.warning("ignored invalid message on the ack topic: %s", exc.reason)
            return
        if not isinstance(ack, BatchAck):
            if not any(channel.handle(ack) for channel in self._attached):
                self.counters["ack_invalid"] += 1
                log.warning("ignored unexpected %s on the ack topic", type(ack).__name__)
            return
        if ack.gateway_id != self.gateway_id:
            self.counters["ack_invalid"] += 1
            log.warning("ignored ack addressed to another gateway")
            return
        sent = self._inflight.get(ack.batch_id)
        rtt = time.monotonic() - sent.sent_at if sent is not None and sent.sent_at else None
        for listener in self.ack_listeners:
            listener(ack, rtt)
        batch = self._inflight.pop(ack.batch_id, None)
        if ack.status == "rejected":
            self.counters["batches_rejected"] += 1
            log.error("receiver %s rejected batch %s: %s; retrying in %ss", ack.receiver_id,
                      ack.batch_id, ack.reason, self.sc.reject_retry_s)
            if batch is not None:
                self.counters["batches_resent"] += 1
                self.ledger.release_batch(ack.batch_id, batch.first, batch.last)
                self._dirty = True
            self._paused_until = time.monotonic() + self.sc.reject_retry_s
            return
        limit = self._max_sent_seq
        ranges = [(a, min(b, limit)) for a, b in ack.stored_ranges if a <= limit]
        self.ledger.mark_acked(ranges, min(ack.acked_through_seq, limit))
        if batch is not None:
            self.counters["batches_acked"] += 1
            self.ack_seconds.observe(time.monotonic() - batch.sent_at)
            if self.ledger.release_batch(ack.batch_id, batch.first, batch.last):  # rows the ack did not cover
                self._dirty = True
        else:
            self.counters["acks_unknown_batch"] += 1
