"""A test-side MQTT gateway: publishes signed messages and collects verified BatchAcks."""

from __future__ import annotations

import threading

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion

from shared_schema import envelope, topics
from shared_schema.messages import BatchAck, decode_message

from .helpers import FakeGateway, wait_for


class MqttGateway:
    def __init__(self, gw: FakeGateway, port: int, city_public):
        self.gw = gw
        self.city_public = city_public
        self.acks: list[BatchAck] = []
        self.bad_acks = 0
        self._lock = threading.Lock()
        self.client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=f"test-{gw.gateway_id}",
                                  protocol=mqtt.MQTTv5)
        self.client.on_message = self._on_message
        subscribed = threading.Event()
        self.client.on_subscribe = lambda *a: subscribed.set()
        self.client.on_connect = lambda c, *a: c.subscribe(topics.ack(gw.gateway_id), qos=1)
        self.client.connect("127.0.0.1", port)
        self.client.loop_start()
        assert subscribed.wait(10)

    def _on_message(self, client, userdata, msg):
        try:
            ack = decode_message(envelope.open_signed(msg.payload, self.city_public), BatchAck)
        except ValueError:
            self.bad_acks += 1
            return
        with self._lock:
            self.acks.append(ack)

    def publish(self, channel: str, payload: bytes, retain: bool = False):
        info = self.client.publish(topics.topic(self.gw.gateway_id, channel), payload, qos=1, retain=retain)
        info.wait_for_publish(10)

    def ack_for(self, batch_id: str, timeout: float = 15.0) -> BatchAck:
        return wait_for(lambda: next((a for a in list(self.acks) if a.batch_id == batch_id), None), timeout,
                        what=f"BatchAck {batch_id}")

    def close(self):
        self.client.disconnect()
        self.client.loop_stop()
