"""The product over the shipped TLS broker: the real receiver consumer and the real gateway
sync, with certificates from `cloud-receiver ca` (the onboarding kit used as written)."""

from __future__ import annotations

import time

from cloud_receiver.cli import main as receiver_cli
from cloud_receiver.config import load_config as load_receiver_config
from cloud_receiver.consumer import Consumer
from cloud_receiver.store import open_store
from devtools.fake_gateway import FakeGateway
from edge_agent.config import load_config as load_edge_config
from edge_agent.ledger import PunchLedger
from edge_agent.sync import LedgerSync
from shared_schema import envelope
from shared_schema.messages import BatchAck, decode_message

from .mqtt_clients import Client, wait_for


def receiver_toml(tmp_path, broker, group: str, receiver_id: str):
    rx = broker.certs["rx"]
    cfg = tmp_path / "receiver.toml"
    cfg.write_text(f"""
[receiver]
receiver_id = "{receiver_id}"
signing_key_file = "city.key"
[receiver.mqtt]
host = "127.0.0.1"
port = {broker.port}
keepalive_s = 10
share_group = "{group}"
tls = true
ca_file = "{rx / 'ca.crt'}"
cert_file = "{rx / 'mqtt-client.crt'}"
key_file = "{rx / 'mqtt-client.key'}"
tls_server_name = "localhost"
[receiver.store]
url = "sqlite:///receiver.db"
[receiver.api]
enabled = false
""")
    assert receiver_cli(["--config", str(cfg), "keygen"]) == 0
    return cfg


def test_gateway_publish_reaches_the_consumer_and_its_ack_comes_back(city_broker, tmp_path):
    cfg = load_receiver_config(receiver_toml(tmp_path, city_broker, "sec-g1", "rx-sec-a"))
    store = open_store(cfg.store.url, migrate=True)
    key = envelope.read_private_key(cfg.signing_key_file)
    gw = FakeGateway("GW-A", "P-SEC")
    gw.register(store)
    consumer = Consumer(cfg, store, key).start()
    pub = Client(city_broker.port, city_broker.certs["GW-A"], client_id="gw-GW-A-e2e")
    try:
        assert consumer.connected.wait(10) and pub.connected()
        pub.subscribe("rn/v1/gw/GW-A/ack")
        time.sleep(0.2)  # the consumer's SUBACK
        gw.add(20)
        batch = gw.batch(gw.entries)
        pub.publish("rn/v1/gw/GW-A/punches", gw.seal(batch))
        raw = wait_for(lambda: pub.got("rn/v1/gw/GW-A/ack"), what="the signed ack")[0]
        ack = decode_message(envelope.open_signed(raw, key.public_key()), BatchAck)
        assert ack.batch_id == batch.batch_id and ack.status == "stored" and ack.acked_through_seq == 20
        assert store.stats()["punches"] == 20
    finally:
        pub.close()
        consumer.stop()
        store.close()


def test_whole_sync_over_tls_with_an_onboarding_kit(city_broker, tmp_path):
    rcfg_path = receiver_toml(tmp_path, city_broker, "sec-g2", "rx-sec-b")
    kit = tmp_path / "kit"
    assert receiver_cli(["--config", str(rcfg_path), "ca", "issue-gateway", "--register",
                         "--ca-dir", str(city_broker.workdir / "pki" / "ca"), "--gateway-id", "GW-SYNC",
                         "--out", str(kit), "--project-code", "P-SEC", "--vendor", "V"]) == 0
    ecfg = load_edge_config(kit / "edge.toml")           # the kit as written: TLS, relative paths
    assert ecfg.mqtt.tls and ecfg.mqtt.host == "localhost" and ecfg.mqtt.port == city_broker.port
    assert ecfg.mqtt.cert_file == str(kit / "mqtt-client.crt")
    rcfg = load_receiver_config(rcfg_path)
    store = open_store(rcfg.store.url, migrate=True)
    consumer = Consumer(rcfg, store, envelope.read_private_key(rcfg.signing_key_file)).start()
    led = PunchLedger(ecfg.ledger.path, ecfg.gateway_id, ecfg.project_code)
    sync = LedgerSync(led, ecfg, envelope.read_private_key(ecfg.signing_key_file),
                      envelope.read_public_key(ecfg.receiver_public_key_file))
    try:
        assert consumer.connected.wait(10)
        time.sleep(0.2)
        for i in range(60):
            led.append(gate_id="G1", direction="in", worker_ref=f"W{i % 9 + 1:04d}", kind="work",
                       match_score=0.93, liveness_score=0.9, liveness_cue="blink")
        sync.start()
        wait_for(lambda: led.stats().acked_through_seq == 60, timeout=20, what="all 60 acked over TLS")
        assert led.stats().backlog == 0 and sync.counters["connects"] >= 1
        rows = store.ledger("GW-SYNC")
        assert [r["seq"] for r in rows] == list(range(1, 61))
        assert all(r["chain_status"] == "verified" for r in rows)
    finally:
        sync.stop()
        led.close()
        consumer.stop()
        store.close()
