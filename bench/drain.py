#!/usr/bin/env python3
"""Drain a 20,000-punch backlog from a gateway to the city receiver through Mosquitto.

Ours: a real receiver process (SQLite store) and the gateway's EdgeAgent started
on a ledger holding a 20,000-entry backlog; timed from the agent's start until
every entry is acked by the receiver (signed batches, verified, stored, acked).
Baseline, same run, same broker: raw paho QoS 1 publishes of the same entry
bytes, one message per punch (the obvious design without batching), timed until
a raw subscriber has received them all. ``ratio`` = ours / raw.

    python bench/drain.py [--punches 20000] [--rounds 3]
"""

from __future__ import annotations

import argparse
import sqlite3
import tempfile
import threading
import time

import paho.mqtt.client as mqtt
from _common import emit, median

from devtools.stack import LocalStack
from edge_agent.agent import EdgeAgent
from edge_agent.config import load_config
from edge_agent.ledger import PunchLedger


def make_backlog(cfg, n: int) -> None:
    ledger = PunchLedger(cfg.ledger.path, cfg.gateway_id, cfg.project_code)
    for i in range(n):
        ledger.append(gate_id="G1", direction="in" if i % 2 else "out", worker_ref=f"W{i % 500:04d}",
                      kind="work", match_score=0.93, liveness_score=0.98, liveness_cue="multi")
    ledger.close()


def drain(cfg, n: int) -> float:
    agent = EdgeAgent(cfg)
    t0 = time.perf_counter()
    agent.start()
    try:
        if not agent.wait_drained(300):
            raise RuntimeError("backlog did not drain in 300 s")
        return n / (time.perf_counter() - t0)
    finally:
        agent.stop()


def raw_qos1(port: int, payloads: list[bytes]) -> float:
    got = threading.Event()
    count = [0]

    def on_message(client, userdata, msg):
        count[0] += 1
        if count[0] == len(payloads):
            got.set()

    sub = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id="raw-sub", protocol=mqtt.MQTTv5)
    sub.on_message = on_message
    sub.connect("127.0.0.1", port)
    sub.subscribe("raw/punches", qos=1)
    sub.loop_start()
    pub = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id="raw-pub", protocol=mqtt.MQTTv5)
    pub.max_inflight_messages_set(100)
    pub.connect("127.0.0.1", port)
    pub.loop_start()
    time.sleep(0.3)
    t0 = time.perf_counter()
    infos = [pub.publish("raw/punches", p, qos=1) for p in payloads]
    for info in infos:
        info.wait_for_publish(60)
    if not got.wait(120):
        raise RuntimeError(f"raw subscriber got {count[0]} of {len(payloads)}")
    rate = len(payloads) / (time.perf_counter() - t0)
    for c in (pub, sub):
        c.loop_stop()
        c.disconnect()
    return rate


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--punches", type=int, default=20000)
    ap.add_argument("--rounds", type=int, default=3)
    args = ap.parse_args()
    ours, raw = [], []
    with LocalStack(tempfile.mkdtemp(prefix="rn-bench-drain-")) as stack:
        gid = stack.gateway_ids[0]
        cfg = load_config(stack.edge_config(gid))
        stack.start_receiver()
        stack.wait_receiver_ready()
        for rnd in range(args.rounds):
            make_backlog(cfg, args.punches)
            ours.append(drain(cfg, args.punches))
            conn = sqlite3.connect(cfg.ledger.path)
            payloads = [r[0].encode() for r in conn.execute(
                "SELECT entry_json FROM entries ORDER BY seq DESC LIMIT ?", (args.punches,))]
            conn.close()
            raw.append(raw_qos1(stack.broker.port, payloads))
            print(f"round {rnd}: drain {ours[-1]:.0f} punches/s, raw QoS 1 {raw[-1]:.0f} msgs/s", flush=True)
        audit = stack.audit(gid)
    result = {
        "bench": "drain",
        "punches_per_round": args.punches,
        "rounds": args.rounds,
        "punches_per_s": round(median(ours)),
        "raw_qos1_msgs_per_s": round(median(raw)),
        "ratio": round(median(ours) / median(raw), 3),
        "lost": audit["lost"],
        "duplicates": audit["duplicates"],
    }
    result["target_met"] = result["punches_per_s"] >= 10000 and result["ratio"] >= 0.5
    emit(result)


if __name__ == "__main__":
    main()
