"""Helpers for the gateway tests (imported by conftest.py and the test modules)."""

from __future__ import annotations

from pathlib import Path

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion, MQTTProtocolVersion

from shared_schema.envelope import generate_key, public_key_text, write_private_key
from devtools import wait_for  # noqa: F401  (re-exported for the tests)

REPO = Path(__file__).resolve().parents[2]


class Keys:
    def __init__(self, folder: Path):
        folder.mkdir(parents=True, exist_ok=True)
        self.gateway = generate_key()
        self.receiver = generate_key()
        self.gateway_file = folder / "gateway.key"
        self.receiver_pub_file = folder / "receiver.pub"
        write_private_key(self.gateway_file, self.gateway)
        self.receiver_pub_file.write_text(public_key_text(self.receiver) + "\n")


def _merge(defaults: str, override: str) -> str:
    keys = {line.split("=")[0].strip() for line in override.splitlines() if "=" in line}
    kept = [line for line in defaults.splitlines() if line.split("=")[0].strip() not in keys]
    return "\n".join(kept + override.splitlines())


def config_text(port: int = 1883, *, sync: str = "", top: str = "", ledger: str = "") -> str:
    top = _merge('gateway_id = "GW-T1"\nproject_code = "P-TEST"\n'
                 'gates = [{ id = "G1", direction = "both" }, { id = "G2", direction = "in" }]\n'
                 'signing_key_file = "keys/gateway.key"\n'
                 'receiver_public_key_file = "keys/receiver.pub"\n'
                 'heartbeat_interval_s = 60.0\nlog_level = "INFO"', top)
    ledger = _merge('path = "var/ledger.db"\ndisk_alarm_free_mb = 0\ndisk_alarm_free_percent = 0.0',
                    ledger)
    sync = _merge("backoff_min_s = 0.05\nbackoff_max_s = 0.5\nack_timeout_s = 10.0", sync)
    return f"""
[edge]
{top}

[edge.ledger]
{ledger}

[edge.mqtt]
host = "127.0.0.1"
port = {port}
keepalive_s = 10

[edge.sync]
{sync}
"""


def punch(led, n=1, gate="G1"):
    """Append ``n`` work punches; returns the entries."""
    return [led.append(gate_id=gate, direction="in", worker_ref=f"W{i % 50 + 1:04d}", kind="work",
                       match_score=0.93, liveness_score=0.9, liveness_cue="blink")
            for i in range(n)]


def backlog(led, n):
    """Fill a big backlog fast (fsync off while filling; the entries are built by append())."""
    led._conn.execute("PRAGMA synchronous = OFF")
    try:
        return punch(led, n)
    finally:
        led._conn.execute("PRAGMA synchronous = FULL")


class Listener:
    """Records every message on ``topic`` (status, heartbeats)."""

    def __init__(self, port, topic):
        self.msgs = []
        self.c = mqtt.Client(CallbackAPIVersion.VERSION2, client_id="listener",
                             protocol=MQTTProtocolVersion.MQTTv5)
        self.c.on_connect = lambda c, u, f, rc, p: c.subscribe(topic, qos=1)
        self.c.on_message = lambda c, u, m: self.msgs.append((m.topic, m.payload, m.retain))
        self.c.connect("127.0.0.1", port)
        self.c.loop_start()

    def stop(self):
        self.c.disconnect()
        self.c.loop_stop()
