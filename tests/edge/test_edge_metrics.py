"""The gateway's loopback ``/metrics``: a real agent (simulated turnstile), a private Mosquitto and
the test ack peer; scraped over HTTP and parsed strictly."""

from __future__ import annotations

import urllib.request

import pytest

from devtools.promparse import parse
from edge_agent.agent import EdgeAgent
from edge_agent.gate import GateDecision
from edge_agent.metrics import parse_listen
from edge_helpers import wait_for

WORKER = "W0042"
GATES = ('gates = [{ id = "G1", direction = "both", turnstile = "T1" }, { id = "G2", direction = "in" }]\n'
         'turnstiles = [{ id = "T1", type = "simulated", passage_delay_ms = 0, passage_ms = 10 }]')


def scrape(agent):
    host, port = agent.metrics.address
    with urllib.request.urlopen(f"http://{host}:{port}/metrics", timeout=5) as r:
        assert r.status == 200 and r.headers["Content-Type"].startswith("text/plain; version=0.0.4")
        text = r.read().decode("utf-8")
    return parse(text), text


def punch(gate="G1"):
    return GateDecision(gate, "in", worker_ref=WORKER, kind="work", match_score=0.93, liveness_score=0.99,
                        liveness_cue="blink")


def test_metrics_move_after_punches_sync_and_a_broker_outage(mosquitto, make_cfg, keys, ack_peer):
    cfg, _ = make_cfg(mosquitto.port, top=GATES)
    ack_peer()
    agent = EdgeAgent(cfg, metrics_listen="127.0.0.1:0").start()
    try:
        assert wait_for(agent.sync.connected.is_set, 10)
        m0, _ = scrape(agent)
        assert m0.get("rn_edge_ledger_head_seq") == 0
        assert m0.get("rn_edge_turnstile_health", device="T1", kind="simulated") == 0
        assert m0.get("rn_edge_disk_free_bytes") > 0 and m0.get("rn_edge_disk_alarm") == 0

        for _ in range(3):
            agent.gates["G1"].decide(punch())
            agent.gates["G1"].wait_ready(5)
        agent.gates["G1"].decide(GateDecision("G1", "in", type="rejected", liveness_score=0.1, liveness_cue="blink",
                                              reject_reason="liveness_failed"))
        agent.recorder.record(GateDecision("G2", "in", type="rejected", match_score=0.2, reject_reason="no_match"))
        assert wait_for(lambda: agent.ledger.stats().backlog == 0, 15)
        m1, text = scrape(agent)
        head = m1.get("rn_edge_ledger_head_seq")
        assert head >= 5 and m1.get("rn_edge_acked_through_seq") == head
        assert m1.total("rn_edge_backlog_entries") == 0
        assert m1.get("rn_edge_gate_decisions_total", gate="G1", outcome="punch") == 3
        assert m1.get("rn_edge_gate_decisions_total", gate="G1", outcome="liveness") == 1
        assert m1.get("rn_edge_gate_decisions_total", gate="G2", outcome="rejected") == 1
        assert m1.get("rn_edge_liveness_rejections_total", gate="G1") == 1
        assert m1.get("rn_edge_gate_decision_seconds_count", outcome="punch") == 3
        assert m1.get("rn_edge_batches_sent_total") >= 1
        assert m1.get("rn_edge_batches_acked_total") >= 1
        assert m1.get("rn_edge_ack_latency_seconds_count") == m1.get("rn_edge_batches_acked_total")
        assert m1.get("rn_edge_mqtt_connected") == 1 and m1.get("rn_edge_mqtt_connects_total") == 1
        assert WORKER not in text

        mosquitto.kill()                                  # outage: the gate keeps recording
        assert wait_for(lambda: not agent.sync.connected.is_set(), 10)
        agent.gates["G1"].decide(punch())
        m2, _ = scrape(agent)
        assert m2.get("rn_edge_mqtt_connected") == 0 and m2.total("rn_edge_backlog_entries") >= 1
        assert m2.get("rn_edge_oldest_unacked_age_seconds") >= 0
        assert m2.get("rn_edge_mqtt_link_lost_total") >= 1
        mosquitto.start()
        assert wait_for(lambda: agent.ledger.stats().backlog == 0, 20)
        m3, text = scrape(agent)
        assert m3.get("rn_edge_mqtt_connects_total") >= 2
        assert m3.get("rn_edge_ledger_head_seq") > head
        assert m3.get("rn_edge_batches_acked_total") > m1.get("rn_edge_batches_acked_total")
        assert WORKER not in text
        assert agent.alive()
    finally:
        agent.stop()


def test_metrics_off_by_default_and_loopback_only(make_cfg, keys):
    cfg, _ = make_cfg(1)
    agent = EdgeAgent(cfg)
    try:
        assert agent.metrics_listen == "" and agent.metrics is None
    finally:
        agent.ledger.close()
    assert parse_listen("127.0.0.1:9108") == ("127.0.0.1", 9108)
    assert parse_listen("[::1]:9108") == ("::1", 9108)
    assert parse_listen("localhost:0") == ("localhost", 0)
    for bad in ("0.0.0.0:9108", "192.168.1.10:9108", "[::]:9108", "gateway.local:9108", "9108", "127.0.0.1:x"):
        with pytest.raises(ValueError):
            parse_listen(bad)
