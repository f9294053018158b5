"""Consumer end to end over a real Mosquitto broker (in-process receiver)."""

import time

import pytest

from cloud_receiver.config import load_config
from cloud_receiver.consumer import Consumer
from cloud_receiver.sweep import Sweeper
from shared_schema import envelope

from .conftest import write_config
from .helpers import wait_for
from .mqtt_gateway import MqttGateway


@pytest.fixture
def running(tmp_path, mosquitto, store_url, store, city_key):
    cfg = load_config(write_config(tmp_path, store_url=store_url, mqtt_port=mosquitto.port))
    sweeper = Sweeper(store, cfg.gap_grace_s, cfg.sweep_interval_s).start()
    consumer = Consumer(cfg, store, city_key, sweeper).start()
    assert consumer.connected.wait(10)
    time.sleep(0.2)  # SUBACK
    yield consumer
    consumer.stop()
    sweeper.stop()


def test_end_to_end_batches_heartbeat_status_roster_and_garbage(running, store, gw, mosquitto, city_key):
    pub = MqttGateway(gw, mosquitto.port, city_key.public_key())
    try:
        gw.add(30, rejected_every=7)
        pub.publish("punches", b"garbage that is not an envelope")
        batches = [gw.batch(gw.entries[i:i + 10]) for i in (0, 10, 20)]
        for b in batches:
            pub.publish("punches", gw.seal(b))
        acks = [pub.ack_for(b.batch_id) for b in batches]
        assert [[list(r) for r in a.stored_ranges] for a in acks] == [[[1, 10]], [[11, 20]], [[21, 30]]]
        assert acks[-1].acked_through_seq == 30 and all(a.status == "stored" for a in acks)
        assert pub.bad_acks == 0
        pub.publish("punches", gw.seal(batches[0]))  # resend → duplicates, acked again
        again = wait_for(lambda: [a for a in pub.acks if a.batch_id == batches[0].batch_id][1:], what="re-ack")
        assert [list(r) for r in again[0].stored_ranges] == [[1, 10]]
        pub.publish("heartbeat", gw.seal(gw.heartbeat(backlog=3)))
        pub.publish("status", gw.seal(gw.status(True)), retain=True)
        pub.publish("roster", gw.seal(gw.roster()))
        wait_for(lambda: store.get_gateway(gw.gateway_id)["online"] and store.stats()["roster_changes"] == 1
                 and store.get_gateway(gw.gateway_id)["backlog"] == 3, what="heartbeat/status/roster")
        forged = envelope.seal(b"{}", envelope.generate_key())
        pub.publish("punches", forged)
        wait_for(lambda: store.stats()["rejected"].get("bad_signature") == 1, what="forged rejected")
        st = store.stats()
        assert st["punches"] + st["rejected_attempts"] == 30
        assert st["duplicates_dropped"] == 10 and st["rejected"]["truncated"] == 1
        assert running.client.is_connected()  # bad messages never stop the receiver
    finally:
        pub.close()


def test_signed_invalid_batch_gets_rejected_ack_and_unregistered_gets_none(running, store, gw, mosquitto, city_key):
    from .helpers import FakeGateway
    pub = MqttGateway(gw, mosquitto.port, city_key.public_key())
    stranger = FakeGateway("GW-STRANGER")
    spub = MqttGateway(stranger, mosquitto.port, city_key.public_key())
    try:
        foreign = FakeGateway(gw.gateway_id, "ELSEWHERE", key=gw.key)
        foreign.add(2)
        b = foreign.batch(foreign.entries)
        pub.publish("punches", foreign.seal(b))
        ack = pub.ack_for(b.batch_id)
        assert ack.status == "rejected" and ack.reason == "project_mismatch" and ack.stored_ranges == ()
        stranger.add(1)
        sb = stranger.batch(stranger.entries)
        spub.publish("punches", stranger.seal(sb))
        wait_for(lambda: store.stats()["rejected"].get("unregistered_gateway") == 1, what="unregistered")
        time.sleep(0.3)
        assert spub.acks == []
    finally:
        pub.close()
        spub.close()


def test_chain_gap_alert_raised_by_the_running_sweep(running, store, gw, mosquitto, city_key):
    pub = MqttGateway(gw, mosquitto.port, city_key.public_key())
    try:
        gw.add(6)
        b = gw.batch(gw.entries[3:])
        pub.publish("punches", gw.seal(b))
        assert pub.ack_for(b.batch_id).acked_through_seq == 0
        alert = wait_for(lambda: store.alerts("open", gw.gateway_id, 10, 0), timeout=10, what="gap alert")
        assert alert[0]["kind"] == "chain_gap" and alert[0]["seq"] == 4
    finally:
        pub.close()
