"""Roster sync up, end to end with the real programs' parts: the gateway agent (EdgeAgent with
its worker registry) → a private Mosquitto → the city receiver's consumer and store.

Enrollments, updates and exits arrive once each, in order, and leave the gateway's outbox
only after the receiver's signed ack; a broker outage and a gateway restart lose nothing."""

from __future__ import annotations

import base64
import json
import time

import pytest

from cloud_receiver.config import load_config as load_receiver_config
from cloud_receiver.consumer import Consumer
from cloud_receiver.store import open_store
from devtools import wait_for
from edge_agent.agent import EdgeAgent
from edge_agent.config import load_config as load_edge_config
from edge_agent.roster import write_new_key
from roster_helpers import TODAY, record, resident_id
from shared_schema.envelope import generate_key, public_key_text, write_private_key

GW, PROJECT = "GW-RS1", "P-RS"


@pytest.fixture
def city(tmp_path, mosquitto):
    city_key = generate_key()
    write_private_key(tmp_path / "city.key", city_key)
    (tmp_path / "receiver.toml").write_text(f"""
[receiver]
receiver_id = "rx-roster"
signing_key_file = "city.key"
[receiver.mqtt]
host = "127.0.0.1"
port = {mosquitto.port}
keepalive_s = 10
share_group = "g1"
reconnect_min_s = 0.2
reconnect_max_s = 1.0
[receiver.store]
url = "sqlite:///{tmp_path / 'receiver.db'}"
""")
    cfg = load_receiver_config(tmp_path / "receiver.toml")
    store = open_store(cfg.store.url, migrate=True)
    consumer = Consumer(cfg, store, city_key).start()
    assert consumer.connected.wait(10)
    yield store, city_key
    consumer.stop()
    store.close()


@pytest.fixture
def edge_cfg(tmp_path, mosquitto, city):
    store, city_key = city
    gw_key = generate_key()
    (tmp_path / "keys").mkdir()
    write_private_key(tmp_path / "keys" / "gateway.key", gw_key)
    (tmp_path / "keys" / "receiver.pub").write_text(public_key_text(city_key) + "\n")
    write_new_key(tmp_path / "keys" / "template.key")
    store.register_gateway(GW, public_key_text(gw_key), PROJECT, "TestVendor", "北门", now=time.time())
    path = tmp_path / "edge.toml"
    path.write_text(f"""
[edge]
gateway_id = "{GW}"
project_code = "{PROJECT}"
[edge.ledger]
path = "var/ledger.db"
disk_alarm_free_mb = 0
disk_alarm_free_percent = 0.0
[edge.mqtt]
host = "127.0.0.1"
port = {mosquitto.port}
keepalive_s = 5
[edge.sync]
backoff_min_s = 0.05
backoff_max_s = 0.5
[edge.roster]
db_path = "var/roster.db"
template_key_file = "keys/template.key"
ack_timeout_s = 5.0
""")
    return load_edge_config(path)


def city_changes(store):
    return store._read("SELECT change_id, action, worker_ref FROM roster_changes ORDER BY received_at, change_id")


def acked_all(agent) -> bool:
    st = agent.roster.registry.outbox.stats()
    return st.backlog == 0 and st.acked > 0


def test_enroll_update_exit_reach_the_city_once_and_in_order(city, edge_cfg):
    store, _ = city
    agent = EdgeAgent(edge_cfg).start()
    try:
        reg = agent.roster.registry
        jpeg = b"\xff\xd8\xff\xe0" + bytes(range(256)) * 4 + b"\xff\xd9"
        w = reg.enroll(record(), operator="劳资员", head_image=jpeg)
        reg.update(w.worker_ref, {"team_code": "T07"}, operator="劳资员")
        reg.exit(w.worker_ref, {"exit_date": TODAY.isoformat(), "wage_settled": True}, operator="劳资员")
        assert wait_for(lambda: acked_all(agent) and len(city_changes(store)) == 3, timeout=20)
        order = [cid for cid in reg.outbox.states()]
        history = store.person("01", resident_id())["history"]
        assert [h["change_id"] for h in history] == order
        assert [h["action"] for h in history] == ["enroll", "update", "exit"]
        assert all(o == ("acked", "applied") for o in reg.outbox.states().values())
        p = store.person("01", resident_id())
        m = p["memberships"]
        assert len(m) == 1 and m[0]["status"] == "exited" and m[0]["team_code"] == "T07"
        assert base64.b64decode(p["head_image_b64"]) == jpeg             # the ≤ 50 KB head image, for the city
        details = json.loads(m[0]["details_json"])
        assert details["phone"] == "13800138000" and details["contract_unit_price"] == "350.00"
        assert "template" not in m[0]["details_json"]
    finally:
        agent.stop()


def test_a_broker_outage_and_a_gateway_restart_lose_nothing(city, edge_cfg, mosquitto):
    store, _ = city
    agent = EdgeAgent(edge_cfg).start()
    reg = agent.roster.registry
    first = reg.enroll(record(id_number=resident_id(order=1)), operator="op")
    assert wait_for(lambda: acked_all(agent), timeout=20)
    mosquitto.stop()
    refs = [reg.enroll(record(id_number=resident_id(order=10 + i), name="王" + "一二三四五"[i]), operator="op")
            .worker_ref for i in range(5)]
    reg.exit(first.worker_ref, {"exit_date": TODAY.isoformat(), "wage_settled": True}, operator="op")
    time.sleep(0.5)
    assert reg.outbox.stats().backlog == 6
    agent.stop()                          # the gateway restarts while the broker is still down
    agent = EdgeAgent(edge_cfg).start()
    try:
        reg = agent.roster.registry
        assert reg.outbox.stats().backlog == 6
        mosquitto.start()
        assert wait_for(lambda: acked_all(agent) and len(city_changes(store)) == 7, timeout=40)
        got = city_changes(store)
        assert len({c["change_id"] for c in got}) == 7                    # each once
        arrival = store._read("SELECT change_id FROM person_history ORDER BY received_at")
        assert list(reg.outbox.states()) == [h["change_id"] for h in arrival]     # applied in outbox order
        assert {c["worker_ref"] for c in got} == {first.worker_ref, *refs}
        assert len(store.project_memberships(PROJECT, "active")) == 5
    finally:
        agent.stop()
