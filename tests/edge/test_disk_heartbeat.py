"""Disk alarm, heartbeats and the retained gateway status."""

from __future__ import annotations

import logging
import os

from edge_helpers import Listener, wait_for
from edge_agent.agent import EdgeAgent
from edge_agent.disk import DiskMonitor
from edge_agent.gate import GateDecision
from shared_schema import topics
from shared_schema.envelope import open_signed
from shared_schema.messages import GatewayStatus, Heartbeat, decode_message, encode_message


def test_disk_alarm_above_actual_free_space(tmp_path, caplog):
    st = os.statvfs(tmp_path)
    free_mb = st.f_bavail * st.f_frsize // (1024 * 1024)
    mon = DiskMonitor(tmp_path, free_mb + 1024, 0.0)
    with caplog.at_level(logging.ERROR, logger="edge_agent.disk"):
        assert mon.check().alarm
        assert mon.check().alarm
    assert len([r for r in caplog.records if "disk space low" in r.getMessage()]) == 1  # once
    assert not DiskMonitor(tmp_path, 0, 0.0).check().alarm
    assert DiskMonitor(tmp_path, 0, 100.0).check().alarm  # percent threshold alone


def test_agent_heartbeat_status_and_recorder(mosquitto, make_cfg, keys, ack_peer):
    cfg, _ = make_cfg(mosquitto.port, top="heartbeat_interval_s = 0.2",
                      ledger="disk_alarm_free_mb = 999999999")
    ack_peer()
    opened = []
    agent = EdgeAgent(cfg, opener=lambda g, d: opened.append((g, d, agent.ledger.stats().head_seq)))
    lis = Listener(mosquitto.port, "rn/v1/gw/GW-T1/#")
    agent.start()
    pub = keys.gateway.public_key()
    try:
        e = agent.recorder.record(GateDecision(gate_id="G1", direction="in", worker_ref="W0001",
                                               kind="work"))
        agent.recorder.record(GateDecision(gate_id="G1", direction="in", type="rejected",
                                           reject_reason="not_enrolled"))
        assert opened == [("G1", "in", e.seq)]  # opened once, only after the commit
        assert agent.wait_drained(10)

        def beats():
            return [decode_message(open_signed(p, pub), Heartbeat)
                    for t, p, _ in lis.msgs if t == topics.heartbeat("GW-T1")]
        assert wait_for(lambda: any(h.acked_through_seq == 2 for h in beats()), 10)
        hb = beats()[-1]
        assert hb.head_seq == 2 and hb.backlog == 0 and hb.ledger_ok and hb.disk_alarm
        assert hb.software_version == "0.1.0" and hb.disk_free_bytes > 0
        status = [decode_message(open_signed(p, pub), GatewayStatus)
                  for t, p, _ in lis.msgs if t == topics.status("GW-T1")]
        assert status and status[0].online
    finally:
        agent.stop()
    assert wait_for(lambda: any(not decode_message(open_signed(p, pub), GatewayStatus).online
                                for t, p, _ in lis.msgs if t == topics.status("GW-T1")), 5)
    lis.stop()


def test_heartbeat_carries_the_turnstiles_health(tmp_path):
    """Driver health reaches the city in the heartbeat (issue 4: 'a health state reported
    in the heartbeat')."""
    from edge_agent.drivers import open_turnstile
    from edge_agent.heartbeat import build_heartbeat, device_health
    from edge_agent.ledger import PunchLedger

    t = open_turnstile({"id": "T1", "type": "simulated"})
    ledger = PunchLedger(tmp_path / "l.db", "GW-T1", "P-1")
    disk = DiskMonitor(tmp_path, 0, 0.0)
    try:
        hb = build_heartbeat("GW-T1", ledger, disk, lambda: device_health([t]))
        assert [(d.id, d.kind, d.state) for d in hb.devices] == [("T1", "simulated", "ok")]
        t.set_link_down(True)
        hb = build_heartbeat("GW-T1", ledger, disk, lambda: device_health([t]))
        assert [(d.id, d.state, d.detail) for d in hb.devices] == [("T1", "down", "simulated link down")]
        assert decode_message(encode_message(hb)) == hb  # it is a valid wire message
    finally:
        t.close()
        ledger.close()
