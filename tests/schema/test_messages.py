"""The v1 wire messages: round trips, field limits and patterns, cross-field rules."""

from __future__ import annotations

import dataclasses
import json

import pytest
from hypothesis import given
from hypothesis import strategies as st

from schema_strategies import (MEDIUM, batch_acks, decode_reason, dumps, msg, gateway_statuses, heartbeats,
                               ledger_entries, punch_batches, punch_entry_dict, rejected_entry_dict,
                               roster_acks, roster_changes, roster_down_batches, roster_down_states)
from shared_schema import SCHEMA_VERSION
from shared_schema.messages import (MESSAGE_TYPES, BatchAck, GatewayStatus,
                                    Heartbeat, LedgerEntry, PunchBatch, RosterAck, RosterChange,
                                    RosterDownBatch, RosterDownState, decode_message, encode_message, replace)
from shared_schema.wire import DecodeError, canonical_json, decode


def entry_reason(**over) -> DecodeError:
    """Decode a batch whose only entry has ``over`` applied; return the DecodeError.

    A changed entry ``gateway_id`` is tested on the entry alone (in the batch, the
    batch-level gateway rule would reject it for another reason)."""
    with pytest.raises(DecodeError) as exc:
        if "gateway_id" in over:
            decode(LedgerEntry, punch_entry_dict(**over), "entries[0]")
        else:
            d = msg("punch_batch")
            d["entries"] = [punch_entry_dict(**over)]
            decode_message(dumps(d))
    return exc.value


# ---- round trips ---------------------------------------------------------------------------

def _round_trip(m):
    body = encode_message(m)
    back = decode_message(body)
    assert back == m
    assert type(back) is type(m)
    assert encode_message(back) == body
    assert decode_message(body, type(m)) == m


@given(punch_batches())
@MEDIUM
def test_round_trip_punch_batch(m):
    _round_trip(m)


@given(batch_acks())
@MEDIUM
def test_round_trip_batch_ack(m):
    _round_trip(m)


@given(heartbeats)
@MEDIUM
def test_round_trip_heartbeat(m):
    _round_trip(m)


@given(gateway_statuses)
@MEDIUM
def test_round_trip_gateway_status(m):
    _round_trip(m)


@given(roster_changes)
@MEDIUM
def test_round_trip_roster_change(m):
    _round_trip(m)


@given(roster_acks())
@MEDIUM
def test_round_trip_roster_ack(m):
    _round_trip(m)


@pytest.mark.parametrize("over, reason", [
    ({"status": "stored", "outcome": None}, "bad_value"),          # stored needs an outcome
    ({"status": "rejected", "outcome": None, "reason": None}, "bad_value"),  # rejected needs a reason
    ({"status": "rejected", "outcome": "applied", "reason": "x"}, "bad_value"),
    ({"outcome": "merged"}, "bad_value"),
    ({"change_id": "B" * 32}, "bad_value"),
    ({"change_ids": ["b" * 32]}, "unknown_field"),
])
def test_roster_ack_cross_field_rules(over, reason):
    assert decode_reason(msg("roster_ack", **over)) == reason


def test_roster_change_without_the_later_fields_still_decodes():
    """Backward compatibility: a change from before ``details``/``head_image_b64`` existed."""
    d = msg("roster_change")
    del d["details"], d["head_image_b64"]
    m = decode_message(dumps(d))
    assert m.details == () and m.head_image_b64 is None


@pytest.mark.parametrize("over", [
    {"head_image_b64": "not base64!"},
    {"head_image_b64": "iVBORw0KGgo="},                                          # a PNG, not a JPEG
    {"head_image_b64": __import__("base64").b64encode(b"\xff\xd8\xff" + b"\0" * 51200).decode()},  # > 50 KB
    {"details": [{"name": "phone", "value": "1"}, {"name": "phone", "value": "2"}]},
])
def test_roster_change_later_fields_are_checked(over):
    assert decode_reason(msg("roster_change", **over)) in ("bad_value", "oversize")


@given(roster_down_batches())
@MEDIUM
def test_round_trip_roster_down_batch(m):
    _round_trip(m)


@given(roster_down_states())
@MEDIUM
def test_round_trip_roster_down_state(m):
    _round_trip(m)


def _down(i: int, **over) -> dict:
    d = msg("roster_down_batch")
    d["changes"][i].update(over)
    return d


@pytest.mark.parametrize("d", [
    _down(0, exit_date=None),                                 # an exit without its date
    _down(0, id_number=None),                                 # an exit names a person
    _down(1, corrections=[]),                                 # a correction corrects something
    _down(1, version=4),                                      # versions strictly increase
    _down(0, action="project_stopped"),                       # a project change names no person
    _down(1, corrections=[{"name": "Name", "value": "x"}]),  # field names are lower-case words
    msg("roster_down_batch", latest_version=4),               # latest below a change's version
    msg("roster_down_state", applied_version=-1),
])
def test_roster_down_cross_field_rules(d):
    assert decode_reason(d) in ("bad_value", "bad_number", "out_of_range")


def test_roster_down_state_without_outcomes_still_decodes():
    """Backward compatibility: a state from a gateway that predates ``outcomes``."""
    d = msg("roster_down_state")
    del d["outcomes"]
    m = decode_message(dumps(d))
    assert m.outcomes == () and m.applied_version == 3


def test_roster_down_state_outcomes_decode_as_tuples():
    m = decode_message(dumps(msg("roster_down_state")))
    assert [(o.version, o.action, o.status, o.detail) for o in m.outcomes] == [
        (1, "correct", "failed", "invalid: phone"), (3, "exit", "skipped", "no active record of this person on the gateway")]
    assert isinstance(m.outcomes, tuple)


def _outcome(i: int, **over) -> dict:
    d = msg("roster_down_state")
    d["outcomes"][i].update(over)
    return d


@pytest.mark.parametrize("d, reason, where", [
    (_outcome(0, status="applied"), "bad_value", "outcomes[0].status"),          # only non-applied outcomes travel
    (_outcome(0, status=None), "wrong_type", "outcomes[0].status"),
    (_outcome(1, version=1), "bad_value", "increasing"),                         # each version once, in order
    (_outcome(1, version=4), "bad_value", "beyond applied_version"),             # not yet processed: forged
    (_outcome(0, version=0), "bad_value", "outcomes[0].version"),
    (_outcome(0, action="delete"), "bad_value", "outcomes[0].action"),
    (_outcome(0, detail=""), "bad_value", "outcomes[0].detail"),
    (_outcome(0, detail="invalid: " + "x" * 120), "oversize", "outcomes[0].detail"),
    (_outcome(0, detail="姓名 张三 invalid"), "bad_value", "outcomes[0].detail"),   # ASCII only: no names
    (_outcome(0, detail="line\nbreak"), "bad_value", "outcomes[0].detail"),
    (_outcome(0, extra="x"), "unknown_field", "outcomes[0]"),
    (msg("roster_down_state", outcomes=[{"version": 1, "action": "exit", "status": "failed"}]), "missing_field",
     "outcomes[0].detail"),
    (msg("roster_down_state", outcomes={"version": 1}), "wrong_type", "outcomes"),
    (msg("roster_down_state", outcomes=None), "wrong_type", "outcomes"),
    (msg("roster_down_state", outcomes=["failed"]), "wrong_type", "outcomes[0]"),
    (msg("roster_down_state", outcomes=[None]), "wrong_type", "outcomes[0]"),
    (msg("roster_down_state", applied_version=100,
         outcomes=[{"version": i, "action": "exit", "status": "skipped", "detail": "x"} for i in range(1, 52)]),
     "oversize", "more than 50"),
])
def test_roster_down_state_garbage_outcomes_are_refused_with_a_reason(d, reason, where):
    """Pins the outcome list's limits: each bad list is refused with a stable reason code and a
    message naming the field (never its value)."""
    with pytest.raises(DecodeError) as exc:
        decode_message(dumps(d))
    assert exc.value.reason == reason and where in exc.value.detail
    assert "张三" not in str(exc.value)


def test_roster_down_state_with_fifty_outcomes_is_accepted():
    d = msg("roster_down_state", applied_version=50,
            outcomes=[{"version": i, "action": "correct", "status": "failed", "detail": "invalid: " + "phone, " * 14 + "x"}
                      for i in range(1, 51)])
    assert len(decode_message(dumps(d)).outcomes) == 50


@given(ledger_entries())
@MEDIUM
def test_round_trip_ledger_entry_alone(e):
    wire = e.to_wire()
    assert decode(LedgerEntry, json.loads(canonical_json(wire))) == e
    assert e.canonical_bytes() == canonical_json(wire)


def test_message_types_table():
    assert MESSAGE_TYPES == {"punch_batch": PunchBatch, "batch_ack": BatchAck,
                             "heartbeat": Heartbeat, "gateway_status": GatewayStatus,
                             "roster_change": RosterChange, "roster_ack": RosterAck,
                             "roster_down_state": RosterDownState, "roster_down_batch": RosterDownBatch}
    assert SCHEMA_VERSION == 1
    for kind, cls in MESSAGE_TYPES.items():
        names = [f.name for f in dataclasses.fields(cls)]
        assert names[:2] == ["v", "type"]


def test_encoded_bytes_are_compact_sorted_utf8():
    m = decode_message(dumps(msg("roster_change")))
    body = encode_message(m)
    assert "张三".encode() in body
    assert b" " not in body.replace("张三".encode(), b"")
    keys = list(json.loads(body))
    assert keys == sorted(keys)
    assert b'"post":null' in body  # None is sent, not omitted


def test_messages_are_frozen_and_replace_works():
    m = decode_message(dumps(msg("heartbeat")))
    with pytest.raises(dataclasses.FrozenInstanceError):
        m.backlog = 3
    m2 = replace(m, backlog=7)
    assert m2.backlog == 7 and m.backlog == 1
    with pytest.raises(ValueError):
        replace(decode_message(dumps(msg("punch_batch"))).entries[0], kind=None)


def test_decoded_lists_are_tuples():
    m = decode_message(dumps(msg("batch_ack", stored_ranges=[[1, 2], [4, 4]])))
    assert m.stored_ranges == ((1, 2), (4, 4))
    b = decode_message(dumps(msg("punch_batch")))
    assert isinstance(b.entries, tuple) and all(isinstance(e, LedgerEntry) for e in b.entries)


# ---- LedgerEntry cross-field rules ---------------------------------------------------------

def test_valid_entry_shapes():
    for d in [punch_entry_dict(), punch_entry_dict(kind="non_work"),
              punch_entry_dict(kind="manual", manual_reason="忘带卡", operator="劳资员"),
              rejected_entry_dict(), rejected_entry_dict(worker_ref="W1"),
              punch_entry_dict(match_score=None, liveness_score=None, liveness_cue=None,
                               snapshot_ref=None)]:
        e = decode(LedgerEntry, d)
        assert e.to_wire() == d


@pytest.mark.parametrize("over, why", [
    (dict(kind=None), "a punch needs a kind"),
    (dict(worker_ref=None), "a punch needs a worker_ref"),
    (dict(reject_reason="x"), "a punch has no reject_reason"),
    (dict(reject_reason=""), "a punch has no reject_reason"),
    (dict(kind="manual"), "a manual punch needs manual_reason and operator"),
    (dict(kind="manual", manual_reason="r"), "a manual punch needs manual_reason and operator"),
    (dict(kind="manual", operator="op"), "a manual punch needs manual_reason and operator"),
    (dict(kind="manual", manual_reason="", operator="op"), "manual_reason and operator"),
    (dict(kind="manual", manual_reason="r", operator=""), "manual_reason and operator"),
    (dict(manual_reason="r"), "manual_reason/operator only on manual punches"),
    (dict(operator="op"), "manual_reason/operator only on manual punches"),
    (dict(kind="work", manual_reason="", operator=None), "only on manual punches"),
])
def test_punch_cross_field_rules(over, why):
    d = punch_entry_dict(**over)
    with pytest.raises(ValueError) as exc:
        LedgerEntry(**d)
    assert why in str(exc.value)
    err = entry_reason(**over)
    assert err.reason == "bad_value"
    assert "entries[0]" in str(err) and why in str(err)


@pytest.mark.parametrize("over, why", [
    (dict(reject_reason=None), "a rejected attempt needs a reject_reason"),
    (dict(reject_reason=""), "a rejected attempt needs a reject_reason"),
    (dict(kind="work"), "a rejected attempt has no kind"),
    (dict(kind="manual", manual_reason="r", operator="o"), "a rejected attempt has no kind"),
    (dict(manual_reason="r", operator="o"), "only on manual punches"),
])
def test_rejected_cross_field_rules(over, why):
    d = rejected_entry_dict(**over)
    with pytest.raises(ValueError) as exc:
        LedgerEntry(**d)
    assert why in str(exc.value)
    with pytest.raises(DecodeError) as exc:
        decode(LedgerEntry, d)
    assert exc.value.reason == "bad_value"


RULE_FIELDS = ["type", "kind", "worker_ref", "reject_reason", "manual_reason", "operator", "direction",
               "event_kind", "ref_seq", "match_score"]
RULE_VALUES = [None, "", "x", "work", "manual", "in", "punch", "rejected", "gate_event", "not_passed",
               "tailgating", "manual_release", "release_ended", "door_held", 0, 1, 2, 0.5]
EVENT_KIND_SET = ("not_passed", "tailgating", "door_held", "manual_release", "fault", "fault_cleared",
                  "release_ended")


def _rules_ok(d: dict) -> bool:
    """The cross-field rules, stated independently of messages.py."""
    t, kind, ek, ref, seq = d["type"], d["kind"], d["event_kind"], d["ref_seq"], d["seq"]
    man, op = d["manual_reason"], d["operator"]
    if t == "gate_event":
        ok = (ek is not None and kind is None and d["reject_reason"] is None
              and d["match_score"] is None and d["liveness_score"] is None)
        if ek in ("not_passed", "release_ended"):
            ok = ok and ref is not None and ref < seq
        elif ref is not None:
            ok = ok and ek == "tailgating" and ref < seq
    else:
        ok = d["direction"] is not None and ek is None and ref is None
        if t == "punch":
            ok = ok and kind is not None and d["worker_ref"] is not None and d["reject_reason"] is None
        else:
            ok = ok and kind is None and bool(d["reject_reason"])
    if kind == "manual" or ek in ("manual_release", "release_ended"):
        ok = ok and bool(man) and bool(op)
    elif man is not None or op is not None:
        ok = False
    return ok


def _fields_ok(d: dict) -> bool:
    def opt_str(v, allowed=None, nonempty=False):
        return v is None or (type(v) is str and (allowed is None or v in allowed) and (v != "" or not nonempty))
    return (d["type"] in ("punch", "rejected", "gate_event")
            and opt_str(d["kind"], ("work", "non_work", "manual"))
            and opt_str(d["event_kind"], EVENT_KIND_SET)
            and opt_str(d["direction"], ("in", "out"))
            and opt_str(d["worker_ref"], nonempty=True)
            and opt_str(d["reject_reason"]) and opt_str(d["manual_reason"]) and opt_str(d["operator"])
            and (d["ref_seq"] is None or (type(d["ref_seq"]) is int and d["ref_seq"] >= 1))
            and (d["match_score"] is None or (type(d["match_score"]) in (int, float)
                                              and 0 <= d["match_score"] <= 1)))


@given(ledger_entries(), st.sampled_from(RULE_FIELDS), st.sampled_from(RULE_VALUES))
@MEDIUM
def test_cross_field_rules_property(e, name, value):
    """Any change of the rule fields is accepted exactly when the rules say so (all three entry types)."""
    d = e.to_wire()
    d[name] = value
    try:
        decode(LedgerEntry, d)
        accepted = True
    except DecodeError:
        accepted = False
    assert accepted == (_fields_ok(d) and _rules_ok(d))


# ---- LedgerEntry fields ----------------------------------------------------------------------

@pytest.mark.parametrize("name, value", [
    ("event_id", "A" * 32), ("event_id", "a" * 31), ("event_id", "a" * 33), ("event_id", "g" * 32),
    ("event_id", "a" * 32 + "\n"), ("event_id", "0" * 8 + "-" + "0" * 23),
    ("gateway_id", ""), ("gateway_id", "-GW"), ("gateway_id", "GW/1"), ("gateway_id", "GW+"),
    ("gateway_id", "GW#"), ("gateway_id", "G" * 65), ("gateway_id", "网关"), ("gateway_id", "GW 1"),
    ("project_code", ""), ("project_code", "P" * 65), ("project_code", "P/1"),
    ("gate_id", ""), ("gate_id", "门1"),
    ("seq", 0), ("seq", -1), ("seq", 2**62 + 1),
    ("prev_hash", "0" * 63), ("prev_hash", "0" * 65), ("prev_hash", "A" * 64),
    ("device_time", "2026-01-31T08:00:00+08:00"), ("device_time", "2026-01-31"),
    ("device_time", "2026-02-29T08:00:00Z"),
    ("monotonic_ns", -1), ("monotonic_ns", 2**63),
    ("boot_id", "abc"), ("boot_id", "A" * 8), ("boot_id", "a" * 65), ("boot_id", "xyzxyzxyz"),
    ("direction", "IN"), ("direction", "both"),
    ("worker_ref", ""), ("worker_ref", "W" * 65), ("worker_ref", "W 1"),
    ("kind", "Work"), ("kind", "rejected"),
    ("match_score", -0.01), ("match_score", 1.01), ("liveness_score", 2),
    ("liveness_cue", "c" * 65), ("snapshot_ref", "s" * 129),
])
def test_entry_field_limits(name, value):
    err = entry_reason(**{name: value})
    assert err.reason in ("bad_value", "oversize")
    assert f"entries[0].{name}" in str(err)


@pytest.mark.parametrize("name, value", [
    ("seq", 1), ("seq", 2**62), ("monotonic_ns", 0), ("monotonic_ns", 2**63 - 1),
    ("gateway_id", "G" * 64), ("gateway_id", "9"), ("gateway_id", "a.b-c_d"),
    ("project_code", "_"), ("project_code", "P" * 64), ("boot_id", "-" * 8), ("boot_id", "a" * 64),
    ("match_score", 0), ("match_score", 1), ("match_score", 0.0), ("liveness_score", 1.0),
    ("liveness_cue", "眨" * 64), ("snapshot_ref", "s" * 128),
    ("device_time", "2024-02-29T23:59:59.999999Z"),
])
def test_entry_field_limits_inclusive(name, value):
    d = msg("punch_batch")
    if name == "gateway_id":
        d["gateway_id"] = value
    d["entries"] = [punch_entry_dict(**{name: value})]
    b = decode_message(dumps(d), PunchBatch)
    assert getattr(b.entries[0], name) == value


@pytest.mark.parametrize("name, value", [
    ("gateway_id", "GW1\n"), ("event_id", "a" * 32 + "\n"), ("prev_hash", "0" * 64 + "\n"),
    ("device_time", "2026-01-31T08:00:00Z\n"), ("project_code", "P1\n"),
])
def test_trailing_newline_does_not_pass_patterns(name, value):
    """Pins a bug: patterns were applied with ``re.match`` and end in ``$``, which also
    matches before a final newline, so ``"GW1\\n"`` passed as a gateway id."""
    d = msg("punch_batch")
    if name == "gateway_id":
        d["gateway_id"] = value
    d["entries"] = [punch_entry_dict(**{name: value})]
    assert decode_reason(d) == "bad_value"


@pytest.mark.parametrize("value", ["２０２６-01-02", "2026-٠١-02", "2026-01-0２"])
def test_date_patterns_are_ascii_only(value):
    """Pins a bug: patterns were compiled without ``re.ASCII``, so ``\\d`` accepted
    fullwidth and Arabic-Indic digits in ``entry_date``."""
    assert decode_reason(msg("roster_change", entry_date=value)) == "bad_value"
    assert decode_reason(msg("roster_change", exit_date=value)) == "bad_value"
