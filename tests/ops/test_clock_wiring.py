"""The clock guard wired into the running agent: a real receiver (``cloud-receiver run``) acks over a
private Mosquitto, the agent takes the city's time from those signed acks, a wrong wall clock is
not stamped, and the heartbeat brings the clock's state to the city's store."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time

from devtools import wait_for
from edge_agent.agent import EdgeAgent
from edge_agent.clock import epoch_of
from edge_agent.config import load_config
from edge_agent.gate import GateDecision
from cloud_receiver.store import open_store
from shared_schema import envelope


def _punch(agent, ref="W0001"):
    return agent.recorder.record(GateDecision("G1", "in", worker_ref=ref, kind="work"))


def test_agent_takes_the_city_time_from_acks_and_reports_its_clock(tmp_path, mosquitto):
    url = f"sqlite:///{tmp_path / 'rx.db'}"
    city = envelope.generate_key()
    gw_key = envelope.generate_key()
    envelope.write_private_key(tmp_path / "city.key", city)
    envelope.write_private_key(tmp_path / "gw.key", gw_key)
    (tmp_path / "city.pub").write_text(envelope.public_key_text(city))
    store = open_store(url, migrate=True)
    store.register_gateway("GW-CLK", envelope.public_key_text(gw_key), "P-1", "ACME", now=time.time())
    store.close()
    (tmp_path / "rx.toml").write_text(
        f'[receiver]\nreceiver_id = "rx-1"\nsigning_key_file = "city.key"\nsweep_interval_s = 0.5\n'
        f'[receiver.store]\nurl = "{url}"\n[receiver.mqtt]\nport = {mosquitto.port}\n[receiver.api]\nenabled = false\n')
    (tmp_path / "edge.toml").write_text(
        f'[edge]\ngateway_id = "GW-CLK"\nproject_code = "P-1"\nsigning_key_file = "gw.key"\n'
        f'receiver_public_key_file = "city.pub"\nheartbeat_interval_s = 0.3\n[edge.ledger]\npath = "l.db"\n'
        f'[edge.mqtt]\nport = {mosquitto.port}\n[edge.clock]\nmax_skew_s = 60.0\n')
    rx = subprocess.Popen([sys.executable, "-m", "cloud_receiver.cli", "--config", str(tmp_path / "rx.toml"), "run"],
                          stdout=subprocess.DEVNULL, stderr=open(tmp_path / "rx.log", "wb"), env=os.environ.copy())
    wait_for(lambda: b"subscribed" in (tmp_path / "rx.log").read_bytes(), timeout=30, what="receiver subscribed")
    agent = EdgeAgent(load_config(tmp_path / "edge.toml")).start()
    try:
        assert agent.clock.estimate() is None and agent.clock.status().state == "unchecked"
        _punch(agent)
        wait_for(lambda: agent.ledger.stats().backlog == 0, timeout=30, what="first punch acked")
        est = agent.clock.estimate()
        assert est is not None and abs(est - time.time()) < 5
        assert agent.clock.status().state == "ok"

        def reported():
            s = open_store(url)
            try:
                devs = json.loads(s.get_gateway("GW-CLK")["devices_json"] or "[]")
            finally:
                s.close()
            return [d for d in devs if d["id"] == "_clock"]
        wait_for(lambda: reported() and reported()[0]["state"] == "ok", timeout=15, what="clock in a heartbeat")

        real_wall = agent.clock._wall
        agent.clock._wall = lambda: real_wall() + 3 * 3600           # someone set the box 3 h ahead
        e = _punch(agent, "W0002")
        assert abs(epoch_of(e.device_time) - time.time()) < 5         # stamped with the city's time
        assert agent.clock.status().state == "suspect" and agent.clock.corrected == 1
        wait_for(lambda: reported() and reported()[0]["state"] == "degraded", timeout=15,
                 what="the clock alarm reaches the city")
        assert "ahead of the receiver" in reported()[0]["detail"]
        # the city's doctor names the gateway
        from cloud_receiver import doctor as rx_doctor
        from cloud_receiver.config import load_config as load_rx
        rows = rx_doctor.check_store(load_rx(tmp_path / "rx.toml"))
        assert "suspect clock at GW-CLK" in rows[1].detail
    finally:
        agent.stop()
        rx.send_signal(signal.SIGTERM)
        rx.wait(30)
