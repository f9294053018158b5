"""Gate events in the ledger (issue 4): ``type="gate_event"`` with ``event_kind`` / ``ref_seq``.

A committed punch is immutable, so "this punch was not passed" is a later entry that refers to it.
"""

from __future__ import annotations

import copy

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from schema_strategies import (MEDIUM, GATE_EVENT_KINDS, chains, dumps, gate_event_dict, ledger_entries,
                               punch_entry_dict, rejected_entry_dict, valid_dicts)
from shared_schema.chain import GENESIS_HASH, entry_hash, verify_run
from shared_schema.fastdecode import fast_decoder
from shared_schema.messages import (EVENT_KINDS, LedgerEntry, PunchBatch, decode_message, encode_message)
from shared_schema.wire import DecodeError, _compile, decode, decode_reference

from test_fastdecode import EDGE_VALUES, agree, json_values


def test_event_kinds_are_the_documented_ones():
    assert EVENT_KINDS == tuple(GATE_EVENT_KINDS)


@pytest.mark.parametrize("over", [
    {},                                                            # not_passed about seq 1
    dict(direction="in", worker_ref="W001", snapshot_ref="snap/3.jpg", liveness_cue="blink"),
    dict(event_kind="tailgating", ref_seq=None),
    dict(event_kind="tailgating", ref_seq=2, direction="in"),
    dict(event_kind="door_held", ref_seq=None),
    dict(event_kind="fault", ref_seq=None, direction="out"),
    dict(event_kind="fault_cleared", ref_seq=None),
    dict(event_kind="manual_release", ref_seq=None, direction="in", operator="安全员", manual_reason="消防疏散"),
    dict(event_kind="manual_release", ref_seq=None, operator="fire_alarm", manual_reason="火警"),  # whole gate
    dict(event_kind="release_ended", ref_seq=2, operator="fire_alarm", manual_reason="fire input cleared after 95 s"),
    dict(seq=2**62, ref_seq=2**62 - 1),
])
def test_valid_gate_events(over):
    d = gate_event_dict(**over)
    e = decode(LedgerEntry, d)
    assert e.to_wire() == d and LedgerEntry(**d) == e
    assert fast_decoder(LedgerEntry, _compile)(dict(d)) == e   # the fast path takes valid events


@pytest.mark.parametrize("over, why", [
    (dict(event_kind=None, ref_seq=None), "a gate event needs an event_kind"),
    (dict(kind="work"), "a gate event has no kind or reject_reason"),
    (dict(kind="manual", manual_reason="r", operator="o"), "a gate event has no kind"),
    (dict(reject_reason="no_match"), "a gate event has no kind or reject_reason"),
    (dict(match_score=0.9), "no match/liveness scores"),
    (dict(liveness_score=0.9), "no match/liveness scores"),
    (dict(ref_seq=None), "a not_passed event needs ref_seq < seq"),
    (dict(ref_seq=3), "a not_passed event needs ref_seq < seq"),
    (dict(ref_seq=4), "a not_passed event needs ref_seq < seq"),
    (dict(event_kind="tailgating", ref_seq=3), "ref_seq only on not_passed/tailgating events, and < seq"),
    (dict(event_kind="door_held"), "ref_seq only on not_passed/tailgating"),
    (dict(event_kind="manual_release", ref_seq=None), "a manual release needs manual_reason and operator"),
    (dict(event_kind="manual_release", ref_seq=None, operator="o"), "a manual release needs"),
    (dict(event_kind="manual_release", ref_seq=None, manual_reason="r", operator=""), "a manual release needs"),
    (dict(operator="o"), "manual_reason/operator only on manual punches and manual releases"),
    (dict(event_kind="release_ended", ref_seq=None, operator="o", manual_reason="r"),
     "a release_ended event needs ref_seq < seq (the manual_release it ends)"),
    (dict(event_kind="release_ended", ref_seq=3, operator="o", manual_reason="r"), "a release_ended event needs"),
    (dict(event_kind="release_ended", ref_seq=2), "a manual release's end needs manual_reason and operator"),
    (dict(event_kind="release_ended", ref_seq=2, operator="fire_alarm", manual_reason=""), "release's end needs"),
    (dict(event_kind="fault_cleared", ref_seq=None, operator="fire_alarm", manual_reason="r"),
     "only on manual punches and manual releases (and their ends)"),
    (dict(event_kind="fault", ref_seq=None, manual_reason="r"), "only on manual punches and manual releases"),
])
def test_invalid_gate_events(over, why):
    d = gate_event_dict(**over)
    with pytest.raises(ValueError) as exc:
        LedgerEntry(**d)
    assert why in str(exc.value)
    b = valid_dicts()["punch_batch"]
    b["entries"][2] = d
    with pytest.raises(DecodeError) as exc2:
        decode_message(dumps(b))
    assert exc2.value.reason == "bad_value" and "entries[2]" in str(exc2.value) and why in str(exc2.value)


@pytest.mark.parametrize("make, over, why", [
    (punch_entry_dict, dict(direction=None), "needs a direction"),
    (rejected_entry_dict, dict(direction=None), "needs a direction"),
    (punch_entry_dict, dict(event_kind="not_passed"), "event_kind/ref_seq only on gate events"),
    (punch_entry_dict, dict(ref_seq=1, seq=2), "event_kind/ref_seq only on gate events"),
    (rejected_entry_dict, dict(event_kind="tailgating"), "event_kind/ref_seq only on gate events"),
    (rejected_entry_dict, dict(ref_seq=1, seq=2), "event_kind/ref_seq only on gate events"),
    (punch_entry_dict, dict(kind="work", event_kind="manual_release", operator="o", manual_reason="r"),
     "event_kind/ref_seq only on gate events"),
])
def test_punches_and_rejected_attempts_keep_their_rules(make, over, why):
    """Regression: direction stays required on punches/rejected attempts although it is now
    nullable on the wire, and the gate-event fields cannot be smuggled onto a punch."""
    with pytest.raises(ValueError) as exc:
        LedgerEntry(**make(**over))
    assert why in str(exc.value)


@pytest.mark.parametrize("name, value", [
    ("event_kind", "NOT_PASSED"), ("event_kind", "passed"), ("event_kind", ""), ("event_kind", 1),
    ("ref_seq", 0), ("ref_seq", -1), ("ref_seq", 2**62 + 1), ("ref_seq", 1.0), ("ref_seq", "1"),
    ("ref_seq", True), ("type", "gate"), ("type", "event"),
])
def test_gate_event_field_limits(name, value):
    with pytest.raises(DecodeError) as exc:
        decode(LedgerEntry, gate_event_dict(**{name: value}))
    assert exc.value.reason in ("bad_value", "wrong_type") and name in str(exc.value)


@pytest.mark.parametrize("name", ["event_kind", "ref_seq"])
def test_new_fields_are_required_on_the_wire(name):
    """Like every other field, the new ones must be present (``null`` when unused): the entry
    hash is taken over the entry as received, so an omitted field must not be accepted."""
    for d in (punch_entry_dict(), gate_event_dict()):
        del d[name]
        with pytest.raises(DecodeError) as exc:
            decode(LedgerEntry, d)
        assert exc.value.reason == "missing_field"


@given(ledger_entries())
@MEDIUM
def test_round_trip_any_entry(e):
    assert decode(LedgerEntry, e.to_wire()) == e


@given(chains(min_size=2, max_size=10))
@MEDIUM
def test_mixed_chains_verify_and_survive_the_wire(chain):
    head = verify_run(chain, 0, GENESIS_HASH)
    assert head == entry_hash(chain[-1])
    for e in chain:
        if e.type == "gate_event" and e.ref_seq is not None:
            assert 1 <= e.ref_seq < e.seq
    b = PunchBatch(v=1, type="punch_batch", gateway_id=chain[0].gateway_id, batch_id="c" * 32,
                   sent_at="2026-01-31T08:00:00Z", entries=tuple(chain))
    back = decode_message(encode_message(b))
    assert back == b and verify_run(back.entries, 0, GENESIS_HASH) == head


def test_generated_chains_really_mix_all_three_types():
    seen: set[str] = set()

    @settings(max_examples=200, deadline=None)
    @given(chains(min_size=3, max_size=8))
    def collect(chain):
        seen.update(e.type for e in chain)
        seen.update(e.event_kind for e in chain if e.event_kind)

    collect()
    assert {"punch", "rejected", "gate_event", "not_passed", "manual_release", "release_ended"} <= seen


@settings(max_examples=300, deadline=None)
@given(field=st.sampled_from(sorted(gate_event_dict())), value=json_values)
def test_fast_and_reference_agree_on_every_gate_event_field(field, value):
    d = gate_event_dict()
    d[field] = value
    agree(LedgerEntry, d)


def test_fast_and_reference_agree_on_edge_values_of_gate_events():
    """Deterministic sweep over every field of each gate-event shape × boundary values."""
    bases = [gate_event_dict(), gate_event_dict(event_kind="manual_release", ref_seq=None, operator="o",
                                                manual_reason="r", direction="in"),
             gate_event_dict(event_kind="release_ended", ref_seq=2, operator="o", manual_reason="r")]
    for base in bases:
        for key in base:
            for value in EDGE_VALUES + [3, 4, "not_passed", "tailgating", "manual_release", "release_ended",
                                        "gate_event"]:
                d = copy.deepcopy(base)
                d[key] = value
                agree(LedgerEntry, d)
    assert decode_reference(LedgerEntry, bases[1]).event_kind == "manual_release"
