#!/usr/bin/env python3
"""Drain a backlog of roster changes (a bulk import) from a gateway to the city receiver.

Ours: N enrollments in the gateway's worker registry, then its EdgeAgent starts; timed
until every change is acked by a real receiver process (signed RosterChange, verified,
stored and applied to the city registry, signed RosterAck), ``[edge.roster] max_inflight`` in
flight (never two of one person).
Baseline, same run, same broker: the same message bytes as raw paho QoS 1 request → reply
exchanges, one in flight, TCP_NODELAY (the same topology without signing, storing or the
registry). ``ratio`` = ours / raw.

    python bench/roster_sync.py [--changes 300] [--rounds 3]
"""

from __future__ import annotations

import argparse
import socket
import tempfile
import threading
import time

import paho.mqtt.client as mqtt
from _common import emit, median

from devtools.stack import LocalStack
from edge_agent.agent import EdgeAgent
from edge_agent.config import load_config
from edge_agent.roster import WorkerRegistry
from edge_agent.roster.validate import uscc_check_char
from shared_schema.idcard import check_character


def enroll(cfg, n: int, start: int) -> list[bytes]:
    reg = WorkerRegistry(cfg.roster.db_path, cfg.gateway_id, cfg.project_code)
    company = "91440101MA5CXXXX0" + uscc_check_char("91440101MA5CXXXX0")
    try:
        for i in range(start, start + n):
            first17 = f"44010619{70 + i // 1000 % 30:02d}0101{i % 1000:03d}"
            reg.enroll(dict(id_type="01", id_number=first17 + check_character(first17), name="张三",
                            nation="01", address="广州市天河区某路1号", issuing_authority="广州市公安局",
                            id_valid_from="2015-01-01", id_valid_to="长期", phone="13800138000",
                            company_code=company, company_name="某劳务有限公司", company_kind="subcontractor",
                            team_code="T01", work_type="020", role="worker", contract_period_type="task",
                            contract_start="2026-01-01"), operator="bench")
        return [r[0].encode() for r in reg._conn.execute(
            "SELECT body FROM outbox WHERE state != 'acked' ORDER BY seq")]
    finally:
        reg.close()


def drain(cfg, n: int) -> float:
    agent = EdgeAgent(cfg)
    t0 = time.perf_counter()
    agent.start()
    try:
        deadline = time.monotonic() + 300
        while agent.roster.registry.outbox.stats().backlog:
            if time.monotonic() > deadline:
                raise RuntimeError("roster backlog did not drain in 300 s")
            time.sleep(0.01)
        return n / (time.perf_counter() - t0)
    finally:
        agent.stop()


def raw_request_reply(port: int, payloads: list[bytes]) -> float:
    """The same bytes as raw QoS 1 request → reply (a raw responder echoes a short reply on
    another topic), one in flight, TCP_NODELAY on both raw clients: the topology of a change
    and its ack without signing, storing or acking."""
    got = threading.Event()

    def nodelay(c, *a):
        c.socket().setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def reply(client, userdata, msg):
        client.publish("raw/ack", b"ok", qos=1)

    rsp = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id="raw-rsp", protocol=mqtt.MQTTv5)
    rsp.on_connect, rsp.on_message = nodelay, reply
    rsp.connect("127.0.0.1", port)
    rsp.subscribe("raw/roster", qos=1)
    rsp.loop_start()
    pub = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id="raw-pub", protocol=mqtt.MQTTv5)
    pub.on_connect, pub.on_message = nodelay, (lambda c, u, m: got.set())
    pub.connect("127.0.0.1", port)
    pub.subscribe("raw/ack", qos=1)
    pub.loop_start()
    time.sleep(0.3)
    t0 = time.perf_counter()
    for p in payloads:
        got.clear()
        pub.publish("raw/roster", p, qos=1)
        if not got.wait(30):
            raise RuntimeError("raw responder did not reply")
    rate = len(payloads) / (time.perf_counter() - t0)
    for c in (pub, rsp):
        c.loop_stop()
        c.disconnect()
    return rate


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--changes", type=int, default=300)
    ap.add_argument("--rounds", type=int, default=3)
    args = ap.parse_args()
    ours, raw = [], []
    with LocalStack(tempfile.mkdtemp(prefix="rn-bench-roster-")) as stack:
        gid = stack.gateway_ids[0]
        cfg = load_config(stack.edge_config(gid))
        stack.start_receiver()
        stack.wait_receiver_ready()
        for rnd in range(args.rounds):
            payloads = enroll(cfg, args.changes, rnd * args.changes)
            ours.append(drain(cfg, args.changes))
            raw.append(raw_request_reply(stack.broker.port, payloads))
            print(f"round {rnd}: roster sync {ours[-1]:.0f} changes/s, raw request/reply {raw[-1]:.0f} msgs/s",
                  flush=True)
    emit({"bench": "roster_sync", "changes_per_round": args.changes, "rounds": args.rounds,
          "changes_per_s": round(median(ours), 1), "raw_request_reply_per_s": round(median(raw), 1),
          "ratio": round(median(ours) / median(raw), 3)})


if __name__ == "__main__":
    main()
