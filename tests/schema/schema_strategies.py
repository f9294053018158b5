"""Hypothesis strategies and builders for the shared_schema tests.

Values are built by hand from the field specs in ``shared_schema/messages.py``
(patterns, lengths, ranges, cross-field rules), not by introspecting the code
under test, so the strategies are an independent statement of the spec.
"""

from __future__ import annotations

import datetime as dt
import json

import pytest
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st

from shared_schema.chain import GENESIS_HASH, entry_hash
from shared_schema.messages import (BatchAck, DeviceHealth, GatewayStatus, Heartbeat, LedgerEntry, PunchBatch,
                                    FieldValue, RosterAck, RosterChange, RosterDownBatch, RosterDownChange,
                                    RosterDownOutcome, RosterDownState, decode_message, replace)
from shared_schema.wire import DecodeError, format_utc

FAST = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
MEDIUM = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])

UTC = dt.timezone.utc

# ---- scalar pieces ------------------------------------------------------------

HEX = "0123456789abcdef"
ALNUM = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"
CODE_CHARS = ALNUM + "_.-"

hex32 = st.text(HEX, min_size=32, max_size=32)
hex64 = st.text(HEX, min_size=64, max_size=64)
codes = st.text(CODE_CHARS, min_size=1, max_size=64)
gateway_ids = st.builds(lambda a, b: a + b, st.sampled_from(ALNUM), st.text(CODE_CHARS, max_size=63))
boot_ids = st.text(HEX + "-", min_size=8, max_size=64)
moments = st.datetimes(min_value=dt.datetime(2000, 1, 1), max_value=dt.datetime(2099, 12, 31),
                       timezones=st.just(UTC))
utc_texts = st.one_of(
    moments.map(format_utc),
    moments.map(lambda m: m.strftime("%Y-%m-%dT%H:%M:%SZ")),
    st.tuples(moments, st.integers(1, 6)).map(
        lambda t: t[0].strftime("%Y-%m-%dT%H:%M:%S.%f")[: 20 + t[1]] + "Z"),
)
scores = st.floats(min_value=0.0, max_value=1.0, allow_nan=False)
# Printable text without surrogates (hypothesis never generates lone surrogates by default),
# including CJK, which is the common case for names and reasons.
def texts(max_size: int, min_size: int = 0):
    return st.text(st.characters(codec="utf-8"), min_size=min_size, max_size=max_size)


dates = st.dates(min_value=dt.date(1950, 1, 1), max_value=dt.date(2099, 12, 31)).map(
    lambda d: d.isoformat())


# ---- ledger entries -----------------------------------------------------------------

GATE_EVENT_KINDS = ["not_passed", "tailgating", "door_held", "manual_release", "fault", "fault_cleared",
                    "release_ended"]


@st.composite
def ledger_entries(draw, *, gateway_id: str | None = None, seq: int | None = None,
                   prev_hash: str | None = None) -> LedgerEntry:
    entry_type = draw(st.sampled_from(["punch", "rejected", "gate_event"]))
    common = dict(
        type=entry_type,
        event_id=draw(hex32),
        gateway_id=gateway_id if gateway_id is not None else draw(gateway_ids),
        project_code=draw(codes),
        gate_id=draw(codes),
        seq=seq if seq is not None else draw(st.integers(1, 2**62)),
        prev_hash=prev_hash if prev_hash is not None else draw(hex64),
        device_time=draw(utc_texts),
        monotonic_ns=draw(st.integers(0, 2**63 - 1)),
        boot_id=draw(boot_ids),
        direction=draw(st.sampled_from(["in", "out"])),
        match_score=draw(st.none() | scores),
        liveness_score=draw(st.none() | scores),
        liveness_cue=draw(st.none() | texts(64)),
        snapshot_ref=draw(st.none() | texts(128)),
    )
    if entry_type == "gate_event":
        return _gate_event(draw, common)
    common.update(event_kind=None, ref_seq=None)
    if entry_type == "punch":
        kind = draw(st.sampled_from(["work", "non_work", "manual"]))
        manual = kind == "manual"
        return LedgerEntry(
            **common, worker_ref=draw(codes), kind=kind, reject_reason=None,
            manual_reason=draw(texts(256, 1)) if manual else None,
            operator=draw(texts(64, 1)) if manual else None)
    return LedgerEntry(**common, worker_ref=draw(st.none() | codes), kind=None,
                       reject_reason=draw(texts(64, 1)), manual_reason=None, operator=None)


def _gate_event(draw, common: dict) -> LedgerEntry:
    """Gate events: event_kind; no kind / reject_reason / scores; direction optional;
    ``not_passed`` and ``release_ended`` refer to an earlier seq, ``tailgating`` may; a manual
    release and its end say who and why."""
    seq = common["seq"]
    kinds = GATE_EVENT_KINDS if seq > 1 else [k for k in GATE_EVENT_KINDS if k not in ("not_passed", "release_ended")]
    event_kind = draw(st.sampled_from(kinds))
    earlier = st.integers(1, seq - 1) if seq > 1 else st.nothing()
    if event_kind in ("not_passed", "release_ended"):
        ref_seq = draw(earlier)
    elif event_kind == "tailgating" and seq > 1:
        ref_seq = draw(st.none() | earlier)
    else:
        ref_seq = None
    release = event_kind in ("manual_release", "release_ended")
    common.update(direction=draw(st.none() | st.sampled_from(["in", "out"])), match_score=None,
                  liveness_score=None)
    return LedgerEntry(**common, worker_ref=draw(st.none() | codes), kind=None, reject_reason=None,
                       manual_reason=draw(texts(256, 1)) if release else None,
                       operator=draw(texts(64, 1)) if release else None,
                       event_kind=event_kind, ref_seq=ref_seq)


def reseq(e: LedgerEntry, seq: int, **changes) -> LedgerEntry:
    """``replace(e, seq=seq, ...)`` that keeps a gate event valid: a ``ref_seq`` must stay
    below ``seq`` (else it becomes ``seq - 1``; a ``not_passed`` at seq 1 becomes ``door_held``,
    a ``release_ended`` the ``manual_release`` it would end)."""
    ref, kind = e.ref_seq, e.event_kind
    if ref is not None and ref >= seq:
        ref = seq - 1 if seq > 1 else None
        if ref is None and kind in ("not_passed", "tailgating"):
            kind = "door_held"
        elif ref is None and kind == "release_ended":
            kind = "manual_release"
    return replace(e, seq=seq, ref_seq=ref, event_kind=kind, **changes)


def link(entries: list[LedgerEntry], start_seq: int = 1, prev_hash: str = GENESIS_HASH
         ) -> list[LedgerEntry]:
    """Renumber and re-link entries into a proper chain."""
    out = []
    for i, e in enumerate(entries):
        e = reseq(e, start_seq + i, prev_hash=prev_hash)
        out.append(e)
        prev_hash = entry_hash(e)
    return out


@st.composite
def chains(draw, min_size: int = 1, max_size: int = 8) -> list[LedgerEntry]:
    """Chains mixing punches, rejected attempts and gate events (refs point back in the chain)."""
    gw = draw(gateway_ids)
    n = draw(st.integers(min_size, max_size))
    raw = [draw(ledger_entries(gateway_id=gw, seq=i + 1, prev_hash=GENESIS_HASH)) for i in range(n)]
    return link(raw)


# ---- messages ----------------------------------------------------------------------

@st.composite
def punch_batches(draw, max_entries: int = 5) -> PunchBatch:
    gw = draw(gateway_ids)
    seqs = sorted(draw(st.sets(st.integers(1, 2**62), min_size=1, max_size=max_entries)))
    entries = tuple(draw(ledger_entries(gateway_id=gw, seq=s)) for s in seqs)
    return PunchBatch(v=1, type="punch_batch", gateway_id=gw, batch_id=draw(hex32),
                      sent_at=draw(utc_texts), entries=entries)


@st.composite
def batch_acks(draw) -> BatchAck:
    ranges = draw(st.lists(st.tuples(st.integers(1, 2**62 - 2**20), st.integers(0, 2**20)), max_size=6))
    status = draw(st.sampled_from(["stored", "rejected"]))
    return BatchAck(
        v=1, type="batch_ack", gateway_id=draw(gateway_ids), batch_id=draw(hex32),
        status=status,
        reason=draw(texts(64).filter(bool) if status == "rejected" else st.none() | texts(64)),
        acked_through_seq=draw(st.integers(0, 2**62)),
        stored_ranges=tuple((a, a + n) for a, n in ranges),
        receiver_id=draw(codes), acked_at=draw(utc_texts))


heartbeats = st.builds(
    Heartbeat, v=st.just(1), type=st.just("heartbeat"), gateway_id=gateway_ids, sent_at=utc_texts,
    monotonic_ns=st.integers(0, 2**63 - 1), boot_id=boot_ids, head_seq=st.integers(0, 2**62),
    acked_through_seq=st.integers(0, 2**62), backlog=st.integers(0, 2**40),
    oldest_unacked_age_s=st.none() | st.floats(min_value=0.0, max_value=1e12, allow_nan=False, allow_infinity=False),
    software_version=texts(32), disk_free_bytes=st.integers(0, 2**50), disk_alarm=st.booleans(),
    ledger_ok=st.booleans(),
    devices=st.lists(st.builds(DeviceHealth, id=codes, kind=texts(32),
                               state=st.sampled_from(["ok", "degraded", "down"]), detail=texts(128),
                               since=utc_texts), max_size=3).map(tuple))

gateway_statuses = st.builds(
    GatewayStatus, v=st.just(1), type=st.just("gateway_status"), gateway_id=gateway_ids,
    online=st.booleans(), since=utc_texts, software_version=texts(32),
    reason=st.none() | texts(128))

roster_changes = st.builds(
    RosterChange, v=st.just(1), type=st.just("roster_change"), gateway_id=gateway_ids,
    change_id=hex32, changed_at=utc_texts, action=st.sampled_from(["enroll", "update", "exit"]),
    project_code=codes, worker_ref=codes,
    id_type=st.sampled_from([f"{i:02d}" for i in range(1, 18)]),
    id_number=texts(32), name=texts(64), role=st.sampled_from(["worker", "manager"]),
    post=st.none() | texts(32), company_code=texts(64), team_code=st.none() | texts(64),
    work_type=st.none() | texts(16), entry_date=st.none() | dates, exit_date=st.none() | dates,
    face_consent=st.booleans(), operator=texts(64),
    details=st.lists(st.builds(FieldValue, name=st.from_regex(r"[a-z][a-z_]{0,31}", fullmatch=True),
                               value=st.none() | texts(256)), max_size=4,
                     unique_by=lambda f: f.name).map(tuple),
    head_image_b64=st.none() | st.binary(max_size=300).map(
        lambda b: __import__("base64").b64encode(b"\xff\xd8\xff" + b).decode("ascii")))

@st.composite
def roster_acks(draw) -> RosterAck:
    status = draw(st.sampled_from(["stored", "rejected"]))
    return RosterAck(
        v=1, type="roster_ack", gateway_id=draw(gateway_ids), change_id=draw(hex32), status=status,
        outcome=draw(st.sampled_from(["applied", "duplicate", "conflict"])) if status == "stored" else None,
        reason=draw(texts(64).filter(bool) if status == "rejected" else st.none() | texts(64)),
        receiver_id=draw(codes), acked_at=draw(utc_texts))


@st.composite
def roster_down_changes(draw, version: int) -> RosterDownChange:
    action = draw(st.sampled_from(["exit", "correct", "project_stopped", "project_resumed"]))
    person = action in ("exit", "correct")
    return RosterDownChange(
        version=version, issued_at=draw(utc_texts), action=action,
        id_type=draw(st.sampled_from([f"{i:02d}" for i in range(1, 18)])) if person else None,
        id_number=draw(texts(32)) if person else None,
        exit_date=draw(dates) if action == "exit" else None,
        corrections=tuple(draw(st.lists(st.builds(FieldValue, name=st.from_regex(r"[a-z][a-z_]{0,31}", fullmatch=True),
                                                  value=st.none() | texts(256)), min_size=1, max_size=4)))
        if action == "correct" else (),
        reason=draw(st.none() | texts(256)), operator=draw(texts(64)))


@st.composite
def roster_down_batches(draw) -> RosterDownBatch:
    versions = sorted(draw(st.sets(st.integers(1, 2**62), max_size=5)))
    changes = tuple(draw(roster_down_changes(v)) for v in versions)
    return RosterDownBatch(v=1, type="roster_down_batch", gateway_id=draw(gateway_ids), project_code=draw(codes),
                           changes=changes, latest_version=draw(st.integers(versions[-1] if versions else 0, 2**62)),
                           sent_at=draw(utc_texts))


@st.composite
def roster_down_states(draw) -> RosterDownState:
    """With or without ``outcomes``: ≤ 50, versions strictly increasing and ≤ applied_version,
    details printable ASCII (1-128)."""
    applied = draw(st.integers(0, 2**62))
    versions = sorted(draw(st.sets(st.integers(1, applied), max_size=6))) if applied else []
    outcomes = tuple(RosterDownOutcome(
        version=v, action=draw(st.sampled_from(["exit", "correct", "project_stopped", "project_resumed"])),
        status=draw(st.sampled_from(["skipped", "failed"])),
        detail=draw(st.text(st.characters(min_codepoint=32, max_codepoint=126), min_size=1, max_size=128)))
        for v in versions)
    return RosterDownState(v=1, type="roster_down_state", gateway_id=draw(gateway_ids), project_code=draw(codes),
                           applied_version=applied, sent_at=draw(utc_texts), outcomes=outcomes)

any_message = st.one_of(punch_batches(), batch_acks(), heartbeats, gateway_statuses, roster_changes,
                        roster_acks(), roster_down_batches(), roster_down_states())


# ---- fixed valid examples (plain dicts, as they travel) ---------------------------------

def punch_entry_dict(**over) -> dict:
    d = {
        "type": "punch", "event_id": "0" * 31 + "1", "gateway_id": "GW1", "project_code": "P-01",
        "gate_id": "gate1", "seq": 1, "prev_hash": GENESIS_HASH,
        "device_time": "2026-01-31T08:00:00.000000Z", "monotonic_ns": 123, "boot_id": "abcdef12",
        "direction": "in", "worker_ref": "W001", "kind": "work", "match_score": 0.93,
        "liveness_score": 0.88, "liveness_cue": "blink", "snapshot_ref": "snap/1.jpg",
        "reject_reason": None, "manual_reason": None, "operator": None, "event_kind": None, "ref_seq": None,
    }
    d.update(over)
    return d


def rejected_entry_dict(**over) -> dict:
    d = punch_entry_dict(type="rejected", kind=None, worker_ref=None, reject_reason="no_match")
    d.update(over)
    return d


def gate_event_dict(**over) -> dict:
    """A ``not_passed`` event (seq 3) about the punch at seq 1."""
    d = punch_entry_dict(type="gate_event", event_id="0" * 31 + "3", seq=3, direction=None, kind=None,
                         match_score=None, liveness_score=None, liveness_cue=None, snapshot_ref=None,
                         event_kind="not_passed", ref_seq=1)
    d.update(over)
    return d


def valid_dicts() -> dict[str, dict]:
    """One valid wire dict per message type."""
    return {
        "punch_batch": {
            "v": 1, "type": "punch_batch", "gateway_id": "GW1", "batch_id": "a" * 32,
            "sent_at": "2026-01-31T08:00:01Z",
            "entries": [punch_entry_dict(), rejected_entry_dict(seq=2, event_id="0" * 31 + "2"),
                        gate_event_dict()],
        },
        "batch_ack": {
            "v": 1, "type": "batch_ack", "gateway_id": "GW1", "batch_id": "a" * 32,
            "status": "stored", "reason": None, "acked_through_seq": 2, "stored_ranges": [[1, 2]],
            "receiver_id": "rx1", "acked_at": "2026-01-31T08:00:02.5Z",
        },
        "heartbeat": {
            "v": 1, "type": "heartbeat", "gateway_id": "GW1", "sent_at": "2026-01-31T08:00:00Z",
            "monotonic_ns": 5, "boot_id": "abcdef12", "head_seq": 2, "acked_through_seq": 1,
            "backlog": 1, "oldest_unacked_age_s": 1.5, "software_version": "0.1.0",
            "disk_free_bytes": 10**9, "disk_alarm": False, "ledger_ok": True,
            "devices": [{"id": "T1", "kind": "modbus_rtu", "state": "ok", "detail": "",
                         "since": "2026-01-31T07:00:00Z"}],
        },
        "gateway_status": {
            "v": 1, "type": "gateway_status", "gateway_id": "GW1", "online": True,
            "since": "2026-01-31T08:00:00Z", "software_version": "0.1.0", "reason": None,
        },
        "roster_change": {
            "v": 1, "type": "roster_change", "gateway_id": "GW1", "change_id": "b" * 32,
            "changed_at": "2026-01-31T08:00:00Z", "action": "enroll", "project_code": "P-01",
            "worker_ref": "W001", "id_type": "01", "id_number": "11010519491231002X",
            "name": "张三", "role": "worker", "post": None, "company_code": "91440000",
            "team_code": "T1", "work_type": "010", "entry_date": "2026-01-02", "exit_date": None,
            "face_consent": True, "operator": "admin",
            "details": [{"name": "nation", "value": "01"}, {"name": "phone", "value": "13800138000"}],
            "head_image_b64": None,
        },
        "roster_ack": {
            "v": 1, "type": "roster_ack", "gateway_id": "GW1", "change_id": "b" * 32, "status": "stored",
            "outcome": "applied", "reason": None, "receiver_id": "rx1", "acked_at": "2026-01-31T08:00:02Z",
        },
        "roster_down_state": {
            "v": 1, "type": "roster_down_state", "gateway_id": "GW1", "project_code": "P-01", "applied_version": 3,
            "sent_at": "2026-01-31T08:00:00Z",
            "outcomes": [{"version": 1, "action": "correct", "status": "failed", "detail": "invalid: phone"},
                         {"version": 3, "action": "exit", "status": "skipped",
                          "detail": "no active record of this person on the gateway"}],
        },
        "roster_down_batch": {
            "v": 1, "type": "roster_down_batch", "gateway_id": "GW1", "project_code": "P-01", "latest_version": 5,
            "sent_at": "2026-01-31T08:00:00Z", "changes": [
                {"version": 4, "issued_at": "2026-01-31T07:00:00Z", "action": "exit", "id_type": "01",
                 "id_number": "11010519491231002X", "exit_date": "2026-01-31", "corrections": [], "reason": "违规",
                 "operator": "city"},
                {"version": 5, "issued_at": "2026-01-31T07:10:00Z", "action": "correct", "id_type": "01",
                 "id_number": "11010519491231002X", "exit_date": None,
                 "corrections": [{"name": "name", "value": "张三丰"}], "reason": None, "operator": "city"}],
        },
    }


def dumps(obj) -> bytes:
    """Plain (non-canonical) JSON bytes, ASCII-escaped so lone surrogates survive."""
    return json.dumps(obj, ensure_ascii=True).encode("ascii")


def reason_of(data: bytes, expected=None) -> str:
    with pytest.raises(DecodeError) as exc:
        decode_message(data, expected)
    return exc.value.reason


def msg(kind: str, **over) -> dict:
    d = valid_dicts()[kind]
    d.update(over)
    return d


def decode_reason(d: dict) -> str:
    with pytest.raises(DecodeError) as exc:
        decode_message(dumps(d))
    return exc.value.reason
