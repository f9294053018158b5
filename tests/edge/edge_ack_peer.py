"""A minimal, honest stand-in for the city receiver, for the gateway's tests.

Subscribes to ``rn/v1/gw/+/punches``, verifies each batch's signature with the
gateway's registered public key, decodes it strictly, stores entries by seq
(duplicates must be identical), checks the chain links it can see, and answers
with a ``BatchAck`` signed by the test receiver key.
"""

from __future__ import annotations

import threading
import time
import uuid

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion, MQTTProtocolVersion
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties

from shared_schema import SCHEMA_VERSION, topics
from shared_schema.chain import GENESIS_HASH, entry_hash
from shared_schema.envelope import open_signed, seal
from shared_schema.messages import BatchAck, PunchBatch, decode_message, encode_message
from shared_schema.wire import utc_now


def ranges_of(seqs):
    out = []
    for s in sorted(seqs):
        if out and s == out[-1][1] + 1:
            out[-1][1] = s
        else:
            out.append([s, s])
    return out


class AckPeer:
    def __init__(self, port, gateway_pub, receiver_key, *, delay_s=0.0, reject_first=0,
                 ignore_first=0, client_id=None):
        self.port = port
        self.gateway_pub = gateway_pub
        self.receiver_key = receiver_key
        self.delay_s = delay_s
        self.reject_first = reject_first      # answer the first N batches with status "rejected"
        self.ignore_first = ignore_first      # never ack the first N batches (ack timeout)
        self.lock = threading.Lock()
        self.stored: dict[int, str] = {}      # seq -> entry hash
        self.first_store_order: list[int] = []
        self.batches: list[tuple[int, int, int]] = []  # (first, last, count) in arrival order
        self.duplicates = 0
        self.conflicts = 0
        self.chain_errors = 0
        self.bad = 0
        self.received = 0
        self.client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=client_id or f"rx-test-{uuid.uuid4().hex[:8]}",
                                  protocol=MQTTProtocolVersion.MQTTv5)
        self.client.reconnect_delay_set(0.05, 0.5)
        self.client.on_connect = lambda c, u, f, rc, p: c.subscribe(topics.wildcard("punches"), qos=1)
        self.client.on_message = self._on_message

    def start(self):
        props = Properties(PacketTypes.CONNECT)
        props.SessionExpiryInterval = 3600  # like a real receiver: queued batches survive its reconnects
        self.client.connect("127.0.0.1", self.port, 30, clean_start=False, properties=props)
        self.client.loop_start()
        deadline = time.monotonic() + 5
        while not self.client.is_connected() and time.monotonic() < deadline:
            time.sleep(0.01)
        time.sleep(0.1)  # subscription
        return self

    def stop(self):
        self.client.disconnect()
        self.client.loop_stop()

    def acked_through(self) -> int:
        n = 0
        while n + 1 in self.stored:
            n += 1
        return n

    def _on_message(self, client, userdata, msg):
        try:
            gw, _ = topics.parse(msg.topic)
            batch = decode_message(open_signed(msg.payload, self.gateway_pub), PunchBatch)
        except Exception:
            self.bad += 1
            return
        if batch.gateway_id != gw:
            self.bad += 1
            return
        with self.lock:
            self.received += 1
            n = self.received
            seqs = [e.seq for e in batch.entries]
            self.batches.append((seqs[0], seqs[-1], len(seqs)))
            if n <= self.ignore_first:
                return
            if n <= self.ignore_first + self.reject_first:
                self._ack(gw, batch.batch_id, "rejected", [], self.acked_through(), "test_reject")
                return
            for e in batch.entries:
                h = entry_hash(e)
                if e.seq in self.stored:
                    if self.stored[e.seq] == h:
                        self.duplicates += 1
                    else:
                        self.conflicts += 1
                    continue
                prev = GENESIS_HASH if e.seq == 1 else self.stored.get(e.seq - 1)
                if prev is not None and prev != e.prev_hash:
                    self.chain_errors += 1
                self.stored[e.seq] = h
                self.first_store_order.append(e.seq)
            if self.delay_s:
                time.sleep(self.delay_s)
            self._ack(gw, batch.batch_id, "stored", ranges_of(seqs), self.acked_through(), None)

    def _ack(self, gw, batch_id, status, ranges, through, reason):
        ack = BatchAck(v=SCHEMA_VERSION, type="batch_ack", gateway_id=gw, batch_id=batch_id,
                       status=status, reason=reason, acked_through_seq=through,
                       stored_ranges=ranges, receiver_id="rx-test", acked_at=utc_now())
        self.client.publish(topics.ack(gw), seal(encode_message(ack), self.receiver_key), qos=1)
