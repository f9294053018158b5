"""Ingest: verification, idempotent insert, chain checks, rejections (both dialects)."""

import dataclasses
import json
import time

from cloud_receiver.ingest import verify_message
from cloud_receiver.sweep import run_sweep
from shared_schema import envelope
from shared_schema.chain import entry_hash
from shared_schema.messages import encode_message

from .helpers import FakeGateway, topic


def stored_hashes(store, gid="GW-1"):
    return {r["seq"]: r["entry_hash"] for r in store.ledger(gid)}


def test_batch_stored_chain_verified_and_acked(store, gw, ingestor):
    gw.add(20, rejected_every=5)
    out = ingestor.handle(topic(gw), gw.sealed_batch(gw.entries))
    assert out.verdict.ok and out.result.new == list(range(1, 21))
    assert out.ack.status == "stored" and out.ack.stored_ranges == [[1, 20]] and out.ack.acked_through_seq == 20
    assert out.ack.gateway_id == gw.gateway_id and out.ack.receiver_id == "rx-test"
    rows = store.ledger(gw.gateway_id)
    assert [r["seq"] for r in rows] == list(range(1, 21))
    assert all(r["chain_status"] == "verified" for r in rows)
    assert {r["seq"]: r["entry_hash"] for r in rows} == {e.seq: entry_hash(e) for e in gw.entries}
    st = store.stats()
    assert st["punches"] == 16 and st["rejected_attempts"] == 4  # rejected attempts kept apart
    assert store.watermark(gw.gateway_id) == 20
    punches = store.punches(gw.project_code, "2026-03-02", 100, 0)
    assert len(punches) == 16 and all(p["worker_ref"] for p in punches)
    assert "id_number" not in punches[0]


def test_replayed_batch_counts_duplicates_changes_nothing(store, gw, ingestor):
    gw.add(10)
    payload = gw.sealed_batch(gw.entries)
    ingestor.handle(topic(gw), payload)
    before = store.ledger(gw.gateway_id)
    out = ingestor.handle(topic(gw), payload)
    assert out.result.new == [] and out.result.duplicates == list(range(1, 11))
    assert out.ack.status == "stored" and out.ack.stored_ranges == [[1, 10]] and out.ack.acked_through_seq == 10
    assert store.ledger(gw.gateway_id) == before
    assert store.stats()["duplicates_dropped"] == 10


def _rejected(store, ingestor, t, payload, reason, *, app_ack: bool):
    out = ingestor.handle(t, payload)
    assert not out.verdict.ok and out.verdict.reason == reason, out.verdict
    if app_ack:
        assert out.ack is not None and out.ack.status == "rejected" and out.ack.reason == reason
        assert out.ack.stored_ranges == []
    else:
        assert out.ack is None
    assert store.stats()["rejected"].get(reason, 0) >= 1
    return out


def test_forged_and_wrong_key_and_unregistered(store, gw, ingestor):
    gw.add(3)
    forger = envelope.generate_key()
    _rejected(store, ingestor, topic(gw), gw.seal(gw.batch(gw.entries), key=forger), "bad_signature", app_ack=False)
    # a valid signature with the wrong registered key, body tampered after signing
    good = bytearray(gw.sealed_batch(gw.entries))
    good[-5] ^= 1
    _rejected(store, ingestor, topic(gw), bytes(good), "bad_signature", app_ack=False)
    other = FakeGateway("GW-UNREG")
    other.add(1)
    _rejected(store, ingestor, topic(other), other.sealed_batch(other.entries), "unregistered_gateway", app_ack=False)
    assert store.ledger() == []
    assert store.stats()["rejected"] == {"bad_signature": 2, "unregistered_gateway": 1}


def test_framing_errors_are_rejected_and_only_a_hash_is_kept(store, gw, ingestor, store_url):
    gw.add(2)
    good = gw.sealed_batch(gw.entries)
    _rejected(store, ingestor, topic(gw), good[:40], "truncated", app_ack=False)
    _rejected(store, ingestor, topic(gw), b"XXXX" + good[4:], "bad_magic", app_ack=False)
    _rejected(store, ingestor, topic(gw), b"RNS1" + b"\0" * (envelope.MAX_ENVELOPE_BYTES), "oversize", app_ack=False)
    _rejected(store, ingestor, topic(gw), b"garbage \xff\xfe", "truncated", app_ack=False)
    _rejected(store, ingestor, "rn/v1/gw/GW-1/bogus", good, "bad_topic", app_ack=False)
    rows = store._read("SELECT gateway_id, reason, size, sha256 FROM rejected_messages ORDER BY id")
    assert [r["reason"] for r in rows] == ["truncated", "bad_magic", "oversize", "truncated", "bad_topic"]
    assert rows[0]["size"] == 40 and len(rows[0]["sha256"]) == 64
    assert store.ledger() == []


def test_signed_but_invalid_bodies_get_a_rejected_batch_ack(store, gw, ingestor):
    gw.add(2)
    batch = gw.batch(gw.entries)
    wire = json.loads(encode_message(batch))
    sign = lambda obj: envelope.seal(json.dumps(obj).encode(), gw.key)  # noqa: E731
    _rejected(store, ingestor, topic(gw), sign({**wire, "extra": 1}), "unknown_field", app_ack=True)
    _rejected(store, ingestor, topic(gw), sign({**wire, "v": 2}), "wrong_version", app_ack=True)
    _rejected(store, ingestor, topic(gw), envelope.seal(b"{not json", gw.key), "not_json", app_ack=True)
    out = _rejected(store, ingestor, topic(gw), sign({**wire, "entries": [{**wire["entries"][0], "seq": 0}]}),
                    "bad_value", app_ack=True)
    assert out.ack.batch_id == batch.batch_id  # best-effort batch id so the gateway can match it
    too_many = {**wire, "entries": wire["entries"] * 600}
    _rejected(store, ingestor, topic(gw), sign(too_many), "oversize", app_ack=True)
    assert store.ledger() == []


def test_gateway_and_project_mismatch(store, gw, ingestor):
    imposter = FakeGateway("GW-2", gw.project_code, key=gw.key)  # signs with GW-1's key, claims GW-2
    imposter.add(1)
    _rejected(store, ingestor, topic(gw), imposter.sealed_batch(imposter.entries), "gateway_mismatch", app_ack=True)
    foreign = FakeGateway(gw.gateway_id, "OTHER-PROJECT", key=gw.key)
    foreign.add(2)
    _rejected(store, ingestor, topic(gw), foreign.sealed_batch(foreign.entries), "project_mismatch", app_ack=True)
    assert store.ledger() == []


def test_seq_conflict_keeps_original_and_alerts(store, gw, ingestor):
    gw.add(3)
    ingestor.handle(topic(gw), gw.sealed_batch(gw.entries))
    original = stored_hashes(store)
    forged = dataclasses.replace(gw.entries[1], gate_id="gate-9")
    out = ingestor.handle(topic(gw), gw.sealed_batch([forged]))
    assert out.result.conflicts == [2] and out.result.new == []
    assert stored_hashes(store) == original
    alerts = store.alerts("open", gw.gateway_id, 10, 0)
    assert [(a["kind"], a["seq"]) for a in alerts] == [("seq_conflict", 2)]
    # the same conflicting resend does not pile up alerts
    ingestor.handle(topic(gw), gw.sealed_batch([forged]))
    assert len(store.alerts(None, None, 10, 0)) == 1


def test_chain_mismatch_is_stored_and_alerted(store, gw, ingestor):
    gw.add(4)
    bad = dataclasses.replace(gw.entries[2], prev_hash="f" * 64)
    out = ingestor.handle(topic(gw), gw.sealed_batch([gw.entries[0], gw.entries[1], bad]))
    assert out.result.mismatches == [3]
    status = {r["seq"]: r["chain_status"] for r in store.ledger(gw.gateway_id)}
    assert status == {1: "verified", 2: "verified", 3: "mismatch"}
    assert [(a["kind"], a["seq"]) for a in store.alerts(None, None, 10, 0)] == [("chain_mismatch", 3)]
    # seq 4 links to the genuine seq 3, not the stored (tampered) one → also a mismatch
    out = ingestor.handle(topic(gw), gw.sealed_batch([gw.entries[3]]))
    assert out.result.mismatches == [4]


def test_pending_link_verified_when_predecessor_arrives(store, gw, ingestor):
    gw.add(6)
    out = ingestor.handle(topic(gw), gw.sealed_batch(gw.entries[3:]))
    assert out.result.pending == [4] and out.ack.acked_through_seq == 0
    assert out.ack.stored_ranges == [[4, 6]]
    ingestor.handle(topic(gw), gw.sealed_batch(gw.entries[:1]))
    assert store.watermark(gw.gateway_id) == 1
    out = ingestor.handle(topic(gw), gw.sealed_batch(gw.entries[1:3]))
    assert out.ack.acked_through_seq == 6  # watermark runs on through what was stored earlier
    assert all(r["chain_status"] == "verified" for r in store.ledger(gw.gateway_id))


def test_gap_alert_after_grace_then_resolved(store, gw, ingestor):
    gw.add(5)
    t0 = time.time()
    ingestor.handle(topic(gw), gw.sealed_batch(gw.entries[:2]), now=t0)
    ingestor.handle(topic(gw), gw.sealed_batch(gw.entries[3:]), now=t0)
    assert run_sweep(store, gap_grace_s=60, now=t0 + 30).gap_alerts == 0
    assert store.alerts(None, None, 10, 0) == []
    assert run_sweep(store, gap_grace_s=60, now=t0 + 61).gap_alerts == 1
    assert run_sweep(store, gap_grace_s=60, now=t0 + 120).gap_alerts == 0  # one alert per hole
    (alert,) = store.alerts("open", None, 10, 0)
    assert alert["kind"] == "chain_gap" and alert["seq"] == 4 and "3..3" in alert["detail"]
    ingestor.handle(topic(gw), gw.sealed_batch(gw.entries[2:3]), now=t0 + 130)
    (alert,) = store.alerts(None, None, 10, 0)
    assert alert["state"] == "resolved"
    assert store.watermark(gw.gateway_id) == 5


def test_sweep_reverifies_pending_links_left_by_a_racing_receiver(store, gw, ingestor):
    """Regression: a pending link whose predecessor was committed elsewhere must not stay pending."""
    gw.add(3)
    ingestor.handle(topic(gw), gw.sealed_batch(gw.entries))
    with store._write() as cur:  # simulate the race outcome: links left pending
        store._x(cur, "UPDATE ledger SET chain_status = 'pending' WHERE seq >= 2")
    res = run_sweep(store, gap_grace_s=0)
    assert res.verified == 2 and res.gap_alerts == 0
    assert {r["chain_status"] for r in store.ledger()} == {"verified"}


def test_heartbeat_status_and_roster(store, gw, ingestor, caplog):
    caplog.set_level("DEBUG")
    now = time.time()
    assert ingestor.handle(topic(gw, "heartbeat"), gw.seal(gw.heartbeat(backlog=7)), now=now).verdict.ok
    g = store.get_gateway(gw.gateway_id)
    assert g["backlog"] == 7 and g["head_seq"] == 10 and g["ledger_ok"] is True and g["last_seen"] == now
    assert abs(g["clock_offset_s"]) < 5
    ingestor.handle(topic(gw, "status"), gw.seal(gw.status(True, "2026-03-02T00:00:00.000000Z")))
    assert store.get_gateway(gw.gateway_id)["online"] is True
    ingestor.handle(topic(gw, "status"), gw.seal(gw.status(False, "2026-03-02T00:00:00.000000Z")))
    assert store.get_gateway(gw.gateway_id)["online"] is False
    ingestor.handle(topic(gw, "status"), gw.seal(gw.status(True, "2026-03-01T00:00:00.000000Z")))
    assert store.get_gateway(gw.gateway_id)["online"] is False  # an older retained status is ignored
    secret_id = "11010519491231002X"
    msg = gw.roster(secret_id)
    assert ingestor.handle(topic(gw, "roster"), gw.seal(msg)).verdict.ok
    ingestor.handle(topic(gw, "roster"), gw.seal(msg))  # idempotent on change_id
    rows = store._read("SELECT id_number, worker_ref FROM roster_changes")
    assert rows == [{"id_number": secret_id, "worker_ref": "W0001"}]
    assert secret_id not in caplog.text
    # a heartbeat signed by someone else changes nothing
    forged = gw.heartbeat(backlog=999)
    assert ingestor.handle(topic(gw, "heartbeat"), envelope.seal(encode_message(forged), envelope.generate_key())
                           ).verdict.reason == "bad_signature"
    assert store.get_gateway(gw.gateway_id)["backlog"] == 7


def test_verify_message_is_pure_and_never_raises():
    called = []
    v = verify_message("nope", b"x", lambda g: called.append(g), 0.0)
    assert v.reason == "bad_topic" and called == []


def test_chain_hash_uses_the_entry_bytes_as_received(store, gw, ingestor):
    """Regression: hashing the re-encoded decoded entry turned an integer score ``1`` into
    ``1.0`` and raised a false chain_mismatch; the receiver must hash what the gateway hashed."""
    from shared_schema.chain import GENESIS_HASH, hash_wire_dict
    gw.add(2)
    w1 = {**gw.entries[0].to_wire(), "match_score": 1, "prev_hash": GENESIS_HASH}
    w2 = {**gw.entries[1].to_wire(), "prev_hash": hash_wire_dict(w1)}
    body = {**json.loads(encode_message(gw.batch(gw.entries))), "entries": [w1, w2]}
    payload = envelope.seal(json.dumps(body, sort_keys=True, separators=(",", ":")).encode(), gw.key)
    out = ingestor.handle(topic(gw), payload)
    assert out.verdict.ok and out.result.mismatches == [] and out.result.new == [1, 2]
    assert {r["chain_status"] for r in store.ledger(gw.gateway_id)} == {"verified"}
