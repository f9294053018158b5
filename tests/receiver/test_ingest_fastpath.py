"""The ingest fast paths give the same answers as the general ones (both dialects).

* ``hash_wire`` (one prebuilt C JSON encoder) == ``shared_schema.chain.hash_wire_dict``;
* ``decode_message_and_json`` (parse once) == ``shared_schema.messages.decode_message``;
* PostgreSQL COPYs a batch straight into the ledger without looking up event ids; a stored
  event id must still end as a ``seq_conflict`` of that entry only (redone on the safe path).
"""

from __future__ import annotations

import dataclasses
import json
import logging

import pytest

from cloud_receiver.ingest import hash_wire
from shared_schema.messages import decode_message_and_json
from shared_schema.chain import GENESIS_HASH, entry_hash, hash_wire_dict
from shared_schema.messages import Heartbeat, PunchBatch, decode_message, encode_message
from shared_schema.wire import DecodeError

from .helpers import FakeGateway, topic


@pytest.mark.parametrize("wire", [
    {},
    {"b": 1, "a": 1.0, "c": -0.0, "d": 1e-7, "e": 2.5e300, "f": 2**62, "g": -(2**63)},
    {"s": "é 工地 \u2028 \n \t \" \\ \x01 \x7f", "n": None, "t": True, "f": False},
    {"nested": {"z": [1, {"y": [], "x": {}}], "a": "b"}, "list": [None, 0, "0"]},
    {"\u5de5": 1, "A": 2, "a": 3, "_": 4, "0": 5},
])
def test_hash_wire_matches_shared_schema(wire):
    assert hash_wire(wire) == hash_wire_dict(wire)


def test_hash_wire_matches_on_real_entries():
    gw = FakeGateway()
    for e in gw.add(30, rejected_every=4):
        wire = json.loads(e.canonical_bytes())
        assert hash_wire(wire) == hash_wire_dict(wire) == entry_hash(e)


def _bodies():
    gw = FakeGateway()
    good = encode_message(gw.batch(gw.add(3)))
    obj = json.loads(good)
    yield good
    yield encode_message(gw.heartbeat())
    for bad in ([], 1, "x", None):
        yield json.dumps(bad).encode()
    for change in ({"v": 2}, {"v": True}, {"v": "1"}, {"type": "nope"}, {"type": 3}, {"type": "heartbeat"},
                   {"extra": 1}, {"batch_id": "x"}, {"entries": []}, {"entries": [{**obj["entries"][0], "seq": 0}]},
                   {"entries": [{**obj["entries"][0], "match_score": float("nan")}]}):
        yield json.dumps({**obj, **change}).encode()
    yield good.replace(b'"v":1', b'"v":1,"v":1')
    yield b"\xff\xfe"
    yield b'{"v": NaN}'
    yield good[:-3]


@pytest.mark.parametrize("expected", [PunchBatch, Heartbeat, None])
def test_decode_message_and_json_agrees_with_decode_message(expected):
    for body in _bodies():
        try:
            want = decode_message(body, expected)
        except DecodeError as exc:
            with pytest.raises(DecodeError) as got:
                decode_message_and_json(body, expected)
            assert (got.value.reason, got.value.detail) == (exc.reason, exc.detail), body
        else:
            msg, obj = decode_message_and_json(body, expected)
            assert msg == want and obj == json.loads(body)


def test_event_id_stored_by_another_gateway_is_a_conflict_of_that_entry_only(store, gw, ingestor, caplog):
    caplog.set_level(logging.INFO, "cloud_receiver.store")
    gw.add(3)
    assert ingestor.handle(topic(gw), gw.sealed_batch(gw.entries)).result.new == [1, 2, 3]
    other = FakeGateway("GW-2", gw.project_code)
    other.register(store)
    entries = other.add(4)
    # GW-2's seq 3 reuses GW-1's seq 2 event id (a buggy or hostile gateway)
    entries[2] = dataclasses.replace(entries[2], event_id=gw.entries[1].event_id)
    entries[3] = dataclasses.replace(entries[3], prev_hash=entry_hash(entries[2]))
    out = ingestor.handle(topic(other), other.sealed_batch(entries))
    r = out.result
    if store.dialect == "postgresql":  # the fast COPY failed on the unique event id, then the safe path
        assert "redoing on the safe path" in caplog.text
    assert (r.new, r.conflicts, r.duplicates) == ([1, 2, 4], [3], [])
    assert r.pending == [4] and r.acked_through_seq == 2
    assert out.ack.stored_ranges == [[1, 4]]
    assert [x["seq"] for x in store.ledger("GW-2")] == [1, 2, 4]
    assert {x["event_id"] for x in store.ledger("GW-1")} == {e.event_id for e in gw.entries}
    alerts = store.alerts("open", "GW-2", 10, 0)
    assert [(a["kind"], a["seq"]) for a in alerts] == [("seq_conflict", 3)]
    assert "event id already stored at GW-1/2" in alerts[0]["detail"]
    assert store.stats()["seq_conflicts"] == 1
    # the conflicting entry resent: conflict again, nothing stored, no second alert
    out = ingestor.handle(topic(other), other.sealed_batch([entries[2]]))
    assert out.result.conflicts == [3] and out.result.new == []
    assert store.stats()["seq_conflicts"] == 2 and len(store.alerts(None, "GW-2", 10, 0)) == 1
    # the store still works on the fast path afterwards
    more = other.add(2)
    assert ingestor.handle(topic(other), other.sealed_batch(more)).result.new == [5, 6]


def test_event_id_reused_within_the_gateway(store, gw, ingestor):
    gw.add(3)
    ingestor.handle(topic(gw), gw.sealed_batch(gw.entries[:2]))
    reused = dataclasses.replace(gw.entries[2], event_id=gw.entries[0].event_id)
    out = ingestor.handle(topic(gw), gw.sealed_batch([gw.entries[1], reused]))
    assert (out.result.duplicates, out.result.conflicts, out.result.new) == ([2], [3], [])
    assert [x["seq"] for x in store.ledger(gw.gateway_id)] == [1, 2]
    assert store.stats()["duplicates_dropped"] == 1 and store.stats()["seq_conflicts"] == 1


def test_sparse_and_wide_batches(store, gw, ingestor):
    """Seqs far apart (the read is by seq list, not by range) and gaps filled later."""
    es = gw.add(40)
    out = ingestor.handle(topic(gw), gw.sealed_batch([es[0], es[19], es[39]]))
    assert out.result.new == [1, 20, 40] and out.result.pending == [20, 40] and out.result.acked_through_seq == 1
    out = ingestor.handle(topic(gw), gw.sealed_batch(es[1:19]))
    assert out.result.acked_through_seq == 20 and out.result.mismatches == []
    out = ingestor.handle(topic(gw), gw.sealed_batch(es[20:39]))
    assert out.result.acked_through_seq == 40
    assert {x["chain_status"] for x in store.ledger(gw.gateway_id)} == {"verified"}
    assert [x["seq"] for x in store.ledger(gw.gateway_id)] == list(range(1, 41))
    assert es[0].prev_hash == GENESIS_HASH
