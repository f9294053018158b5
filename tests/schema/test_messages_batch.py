"""The v1 wire messages beyond the ledger entry: PunchBatch, BatchAck, Heartbeat, GatewayStatus,
RosterChange (limits, patterns, cross-field rules)."""

from __future__ import annotations

import dataclasses
import json

import pytest
from hypothesis import given
from hypothesis import strategies as st

from schema_strategies import (FAST, decode_reason, dumps, msg, punch_batches, punch_entry_dict)
from shared_schema.messages import (MAX_BATCH_ENTRIES, PunchBatch, RosterChange,
                                    decode_message, encode_message, replace)
from shared_schema.wire import DecodeError


# ---- PunchBatch --------------------------------------------------------------------------------

def _batch(entries, gateway_id="GW1") -> dict:
    return msg("punch_batch", gateway_id=gateway_id, entries=entries)


@pytest.mark.parametrize("seqs", [[1, 1], [2, 1], [1, 3, 2], [5, 5, 6]])
def test_batch_seq_must_strictly_increase(seqs):
    entries = [punch_entry_dict(seq=s, event_id=f"{i:032x}") for i, s in enumerate(seqs)]
    assert decode_reason(_batch(entries)) == "bad_value"


def test_batch_seq_may_skip():
    entries = [punch_entry_dict(seq=s, event_id=f"{s:032x}") for s in (3, 7, 100)]
    assert [e.seq for e in decode_message(dumps(_batch(entries))).entries] == [3, 7, 100]


def test_batch_entries_must_come_from_the_batch_gateway():
    entries = [punch_entry_dict(seq=1), punch_entry_dict(seq=2, gateway_id="GW2")]
    with pytest.raises(DecodeError) as exc:
        decode_message(dumps(_batch(entries)))
    assert exc.value.reason == "bad_value" and "another gateway" in str(exc.value)
    assert decode_reason(_batch([punch_entry_dict(seq=1)], gateway_id="GW2")) == "bad_value"


@given(punch_batches(max_entries=4), st.data())
@FAST
def test_batch_rules_property(b, data):
    entries = list(b.entries)
    i = data.draw(st.integers(0, len(entries) - 1))
    op = data.draw(st.sampled_from(["dup", "other_gw"] + (["swap"] if len(entries) > 1 else [])))
    if op == "dup":
        entries.insert(i, entries[i])
    elif op == "swap":
        j = data.draw(st.integers(0, len(entries) - 1).filter(lambda j: j != i))
        entries[i], entries[j] = entries[j], entries[i]
    else:
        entries[i] = replace(entries[i], gateway_id=b.gateway_id + "x")
    d = json.loads(encode_message(b))
    d["entries"] = [e.to_wire() for e in entries]
    with pytest.raises(DecodeError) as exc:
        decode_message(dumps(d))
    assert exc.value.reason == "bad_value"
    with pytest.raises(ValueError):
        PunchBatch(v=1, type="punch_batch", gateway_id=b.gateway_id, batch_id=b.batch_id,
                   sent_at=b.sent_at, entries=tuple(entries))


def test_batch_needs_at_least_one_entry():
    assert decode_reason(_batch([])) == "bad_value"


def test_batch_entry_limit():
    base = punch_entry_dict()
    entries = [dict(base, seq=i + 1) for i in range(MAX_BATCH_ENTRIES)]
    b = decode_message(dumps(_batch(entries)))
    assert len(b.entries) == MAX_BATCH_ENTRIES
    assert len(encode_message(b)) < 1 << 20
    entries.append(dict(base, seq=MAX_BATCH_ENTRIES + 1))
    assert decode_reason(_batch(entries)) == "oversize"


# ---- BatchAck ------------------------------------------------------------------------------

@pytest.mark.parametrize("ranges", [[], [[1, 1]], [[1, 2], [5, 9]], [[2**62, 2**62]]])
def test_ack_ranges_valid(ranges):
    m = decode_message(dumps(msg("batch_ack", stored_ranges=ranges)))
    assert m.stored_ranges == tuple(tuple(r) for r in ranges)


@pytest.mark.parametrize("ranges, reason", [
    ([[0, 1]], "bad_value"), ([[-1, 1]], "bad_value"), ([[3, 2]], "bad_value"),
    ([[1]], "bad_value"), ([[1, 2, 3]], "bad_value"), ([[]], "bad_value"),
    ([["1", 2]], "wrong_type"), ([[True, 2]], "wrong_type"), ([[1.0, 2]], "wrong_type"),
    ([[1, None]], "wrong_type"), ([1, 2], "wrong_type"), ([{"first": 1, "last": 2}], "wrong_type"),
    ([[1, 2]] * (MAX_BATCH_ENTRIES + 1), "oversize"), (None, "wrong_type"),
])
def test_ack_ranges_invalid(ranges, reason):
    assert decode_reason(msg("batch_ack", stored_ranges=ranges)) == reason


@pytest.mark.parametrize("over", [dict(status="ok"), dict(status="STORED"),
                                  dict(acked_through_seq=-1), dict(reason="r" * 65),
                                  dict(receiver_id=""), dict(receiver_id="rx 1"),
                                  dict(acked_at="2026-01-31T08:00:00")])
def test_ack_other_fields(over):
    assert decode_reason(msg("batch_ack", **over)) in ("bad_value", "oversize")


def test_rejected_ack_with_reason():
    m = decode_message(dumps(msg("batch_ack", status="rejected", reason="wrong_version",
                                 stored_ranges=[], acked_through_seq=0)))
    assert m.status == "rejected" and m.reason == "wrong_version"


# ---- Heartbeat, GatewayStatus, RosterChange --------------------------------------------------

@pytest.mark.parametrize("kind, name, limit", [
    ("heartbeat", "software_version", 32),
    ("gateway_status", "software_version", 32),
    ("gateway_status", "reason", 128),
    ("roster_change", "id_number", 32),
    ("roster_change", "name", 64),
    ("roster_change", "post", 32),
    ("roster_change", "company_code", 64),
    ("roster_change", "team_code", 64),
    ("roster_change", "work_type", 16),
    ("roster_change", "operator", 64),
    ("batch_ack", "reason", 64),
])
def test_string_length_limits(kind, name, limit):
    m = decode_message(dumps(msg(kind, **{name: "字" * limit})))
    assert getattr(m, name) == "字" * limit
    with pytest.raises(DecodeError) as exc:
        decode_message(dumps(msg(kind, **{name: "字" * (limit + 1)})))
    assert exc.value.reason == "oversize" and name in str(exc.value)


@pytest.mark.parametrize("name", ["monotonic_ns", "head_seq", "acked_through_seq", "backlog",
                                  "disk_free_bytes"])
def test_heartbeat_counters_non_negative(name):
    assert decode_reason(msg("heartbeat", **{name: -1})) == "bad_value"
    assert getattr(decode_message(dumps(msg("heartbeat", **{name: 0}))), name) == 0


def test_heartbeat_age():
    assert decode_reason(msg("heartbeat", oldest_unacked_age_s=-0.5)) == "bad_value"
    assert decode_message(dumps(msg("heartbeat", oldest_unacked_age_s=None))).oldest_unacked_age_s is None


@pytest.mark.parametrize("id_type, ok", [("01", True), ("09", True), ("10", True), ("17", True),
                                         ("00", False), ("18", False), ("1", False), ("001", False),
                                         ("1a", False), ("０１", False)])
def test_roster_id_type(id_type, ok):
    d = msg("roster_change", id_type=id_type)
    if ok:
        assert decode_message(dumps(d)).id_type == id_type
    else:
        assert decode_reason(d) == "bad_value"


@pytest.mark.parametrize("over", [dict(action="delete"), dict(role="boss"), dict(entry_date="2026-1-2"),
                                  dict(exit_date="20260102"), dict(change_id="x" * 32),
                                  dict(face_consent="yes"), dict(project_code="")])
def test_roster_bad_values(over):
    assert decode_reason(msg("roster_change", **over)) in ("bad_value", "wrong_type")


def test_roster_has_no_face_fields():
    names = {f.name for f in dataclasses.fields(RosterChange)}
    assert not {n for n in names if "face" in n and n != "face_consent"}
    assert decode_reason(msg("roster_change", face_template="AAAA")) == "unknown_field"
