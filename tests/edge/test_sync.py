"""LedgerSync against a real Mosquitto and the test ack peer."""

from __future__ import annotations

import random
import time

from edge_helpers import backlog, punch, wait_for
from edge_agent.ledger import PunchLedger
from edge_agent.sync import Backoff, LedgerSync, build_batch_body
from shared_schema import SCHEMA_VERSION, topics
from shared_schema.envelope import generate_key, seal
from shared_schema.messages import BatchAck, PunchBatch, decode_message, encode_message
from shared_schema.wire import utc_now


def start_sync(cfg, keys):
    led = PunchLedger(cfg.ledger.path, cfg.gateway_id, cfg.project_code)
    s = LedgerSync(led, cfg, keys.gateway, keys.receiver.public_key())
    s.start()
    return led, s


def test_backlog_drains_in_bounded_batches(mosquitto, make_cfg, keys, ack_peer):
    cfg, _ = make_cfg(mosquitto.port, sync="batch_max_entries = 300\nbatch_max_bytes = 65536")
    led = PunchLedger(cfg.ledger.path, cfg.gateway_id, cfg.project_code)
    backlog(led, 1500)
    peer = ack_peer()
    s = LedgerSync(led, cfg, keys.gateway, keys.receiver.public_key())
    s.start()
    try:
        assert wait_for(lambda: led.stats().backlog == 0, 20)
        assert led.stats().acked_through_seq == 1500
        assert sorted(peer.stored) == list(range(1, 1501))
        assert peer.conflicts == 0 and peer.chain_errors == 0 and peer.bad == 0
        assert all(n <= 300 for _, _, n in peer.batches)
        assert peer.first_store_order == sorted(peer.first_store_order)
        assert s.inflight_batches == 0
    finally:
        s.stop()
        led.close()


def test_batch_body_is_canonical_and_decodes_strictly(ledger):
    entries = punch(ledger, 3)
    rows = ledger.claim_pending("b" * 32, 10, 1 << 20)
    body = build_batch_body("GW-T1", "b" * 32, [t for _, t in rows])
    batch = decode_message(body, PunchBatch)
    assert list(batch.entries) == entries
    assert encode_message(batch) == body


def test_forged_ack_never_drops_anything(mosquitto, make_cfg, keys, ack_peer):
    """A peer signing acks with the wrong key: nothing may become acked."""
    cfg, _ = make_cfg(mosquitto.port, sync="ack_timeout_s = 0.5")
    led, s = start_sync(cfg, keys)
    forger = ack_peer(receiver_key=generate_key())
    try:
        punch(led, 50)
        assert wait_for(lambda: s.counters["ack_timeouts"] >= 1 and forger.received >= 3, 10)
        assert s.counters["ack_invalid"] >= 3
        assert "acked" not in set(led.states().values())
        assert led.stats().backlog == 50
    finally:
        s.stop()
        led.close()


def test_garbage_on_ack_topic_is_ignored(mosquitto, make_cfg, keys, ack_peer):
    cfg, _ = make_cfg(mosquitto.port)
    led, s = start_sync(cfg, keys)
    try:
        assert s.connected.wait(5)
        time.sleep(0.2)
        pub = ack_peer(delay_s=0).client  # any client will do for publishing junk
        ack_t = topics.ack("GW-T1")
        rnd = random.Random(1)
        junk = [b"", b"RNS1", b"hello", bytes(rnd.randrange(256) for _ in range(200)),
                seal(b"{not json", keys.receiver), seal(b'{"v":1,"type":"batch_ack"}', keys.receiver),
                seal(encode_message(BatchAck(v=SCHEMA_VERSION, type="batch_ack", gateway_id="GW-OTHER",
                                             batch_id="c" * 32, status="stored", reason=None,
                                             acked_through_seq=10**6, stored_ranges=[[1, 10**6]],
                                             receiver_id="rx", acked_at=utc_now())), keys.receiver)]
        for j in junk:
            pub.publish(ack_t, j, qos=1)
        assert wait_for(lambda: s.counters["ack_invalid"] == len(junk), 5)
        assert s._thread.is_alive()
        punch(led, 20)
        assert wait_for(lambda: led.stats().backlog == 0, 10)  # still syncing normally
    finally:
        s.stop()
        led.close()


def test_broker_restart_mid_drain_everything_acked_once_in_order(mosquitto, make_cfg, keys, ack_peer):
    # a kill -9 can lose what the broker held in memory: the ack timeout covers that
    cfg, _ = make_cfg(mosquitto.port, sync="batch_max_entries = 200\nmax_inflight_batches = 2\n"
                                            "ack_timeout_s = 2.0")
    led = PunchLedger(cfg.ledger.path, cfg.gateway_id, cfg.project_code)
    backlog(led, 4000)
    peer = ack_peer(delay_s=0.02)
    s = LedgerSync(led, cfg, keys.gateway, keys.receiver.public_key())
    s.start()
    try:
        assert wait_for(lambda: len(peer.stored) >= 600, 20)
        mosquitto.stop()
        assert wait_for(lambda: not s.connected.is_set(), 10)
        assert led.stats().sent == 0  # sent went back to pending at the disconnect
        time.sleep(0.3)
        mosquitto.start()
        assert wait_for(lambda: len(peer.stored) >= 1400, 20)
        mosquitto.kill()
        time.sleep(0.2)
        mosquitto.start()
        assert wait_for(lambda: led.stats().backlog == 0, 40)
        assert sorted(peer.stored) == list(range(1, 4001))
        assert led.stats().acked_through_seq == 4000
        assert peer.conflicts == 0 and peer.chain_errors == 0
        assert peer.first_store_order == list(range(1, 4001))  # resends in seq order, no holes
        assert s.counters["connects"] >= 3
    finally:
        s.stop()
        led.close()


def test_live_punch_overtakes_backlog(mosquitto, make_cfg, keys, ack_peer):
    cfg, _ = make_cfg(mosquitto.port, sync="batch_max_entries = 200\nmax_inflight_batches = 2")
    led = PunchLedger(cfg.ledger.path, cfg.gateway_id, cfg.project_code)
    backlog(led, 6000)
    peer = ack_peer(delay_s=0.05)  # slow receiver: 30 batches take ≥ 1.5 s
    s = LedgerSync(led, cfg, keys.gateway, keys.receiver.public_key())
    s.start()
    try:
        assert wait_for(lambda: len(peer.stored) >= 400, 20)
        live = led.append(gate_id="G1", direction="in", worker_ref="W0007", kind="work")
        s.notify_live(live.seq)
        assert wait_for(lambda: live.seq in peer.stored and led.states()[live.seq] == "acked", 10)
        assert led.stats().pending > 1000  # the backlog was far from done
        assert (live.seq, live.seq, 1) in peer.batches
        assert wait_for(lambda: led.stats().backlog == 0, 30)
    finally:
        s.stop()
        led.close()


def test_rejected_batch_goes_back_to_pending_and_is_retried(mosquitto, make_cfg, keys, ack_peer):
    cfg, _ = make_cfg(mosquitto.port, sync="reject_retry_s = 0.5\nmax_inflight_batches = 1")
    led, s = start_sync(cfg, keys)
    peer = ack_peer(reject_first=1)
    try:
        punch(led, 10)
        assert wait_for(lambda: s.counters["batches_rejected"] == 1, 10)
        t_rej = time.monotonic()
        assert wait_for(lambda: led.stats().backlog == 0, 10)
        assert time.monotonic() - t_rej >= 0.3  # waited before retrying
        assert sorted(peer.stored) == list(range(1, 11))
    finally:
        s.stop()
        led.close()


def test_ack_timeout_resends(mosquitto, make_cfg, keys, ack_peer):
    cfg, _ = make_cfg(mosquitto.port, sync="ack_timeout_s = 0.5")
    led, s = start_sync(cfg, keys)
    peer = ack_peer(ignore_first=1)
    try:
        punch(led, 30)
        assert wait_for(lambda: led.stats().backlog == 0, 10)
        assert s.counters["ack_timeouts"] >= 1
        assert peer.received >= 2
    finally:
        s.stop()
        led.close()


def test_backoff_has_jitter_and_caps():
    b = Backoff(0.1, 2.0, random.Random(5))
    delays = [b.next() for _ in range(12)]
    assert all(0.1 <= d <= 2.0 for d in delays)
    assert b.cap == 2.0
    assert len(set(round(d, 6) for d in delays)) == len(delays)  # jittered, not a fixed ladder
    b.reset()
    assert b.next() == 0.1


def test_rows_appended_without_live_notice_still_go_out(mosquitto, make_cfg, keys, ack_peer):
    """Regression: after the outbox was once found empty, rows appended without
    notify_live() (another writer, a missed notice) were never claimed."""
    cfg, _ = make_cfg(mosquitto.port)
    led, s = start_sync(cfg, keys)
    ack_peer()
    try:
        assert s.connected.wait(5)
        time.sleep(0.2)  # the pump has seen the empty outbox
        punch(led, 7)
        assert wait_for(lambda: led.stats().backlog == 0, 10)
    finally:
        s.stop()
        led.close()
