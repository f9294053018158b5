"""Versioned wire messages between a gateway and the city receiver.

Every message is a JSON object with ``v`` (schema version) and ``type``. The
bytes of a message are signed as a whole (see :mod:`shared_schema.envelope`).
Decoding is strict: see :mod:`shared_schema.wire`.

A gateway's ledger is one hash chain of :class:`LedgerEntry` records, each a
*punch* (``type="punch"``; ``kind`` work / non_work / manual), a *rejected
attempt* (``type="rejected"``; ``reject_reason``) or a *gate event*
(``type="gate_event"``; ``event_kind``, e.g. ``not_passed``: nobody passed after
the punch ``ref_seq``, or ``manual_release`` with ``operator`` and
``manual_reason``, or ``release_ended``: the end of the hold that the ``manual_release``
``ref_seq`` began). Rejected attempts and gate events share the chain so that
deleting one is as detectable as deleting a punch, but they are never attendance
and are stored apart from punches at the receiver. A committed entry is never
changed: a gate event *about* a punch is a later entry that refers to its seq.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Literal

from . import SCHEMA_VERSION
from .patterns import (CODE, EVENT_ID, GATEWAY_ID, HEAD_IMAGE_B64_MAX, HEAD_IMAGE_MAX_BYTES,  # noqa: F401
                       HEX64, MAX_BATCH_ENTRIES, MAX_SEQ)
from .roster_messages import (DATE, MAX_DOWN_CHANGES, MAX_DOWN_OUTCOMES, OUTCOME_DETAIL,  # noqa: F401
                              FieldValue, RosterAck, RosterChange, RosterDownBatch, RosterDownChange,
                              RosterDownOutcome, RosterDownState)
from .wire import DecodeError, canonical_json, decode, field, loads_strict, to_wire

EventKind = Literal["not_passed", "tailgating", "door_held", "manual_release", "fault", "fault_cleared",
                    "release_ended"]
EVENT_KINDS: tuple[str, ...] = ("not_passed", "tailgating", "door_held", "manual_release", "fault",
                                "fault_cleared", "release_ended")


@dataclass(frozen=True)
class LedgerEntry:
    """One record of a gateway's ledger: a punch, a rejected attempt or a gate event."""

    type: Literal["punch", "rejected", "gate_event"]
    event_id: str = field(pattern=EVENT_ID)             # uuid4 hex, globally unique
    gateway_id: str = field(pattern=GATEWAY_ID)
    project_code: str = field(pattern=CODE)             # site / project code (national projectCode)
    gate_id: str = field(pattern=CODE)                  # the gate (channel) on this gateway
    seq: int = field(min=1, max=MAX_SEQ)                  # gateway's monotonic sequence number
    prev_hash: str = field(pattern=HEX64)               # SHA-256 of the previous entry (hex)
    device_time: str = field(utc=True)                  # gateway wall clock, UTC
    monotonic_ns: int = field(min=0, max=2**63 - 1)     # CLOCK_MONOTONIC at the decision
    boot_id: str = field(pattern=r"^[0-9a-f-]{8,64}$")  # which boot the monotonic reading belongs to
    direction: Literal["in", "out"] | None             # None only on a gate event
    worker_ref: str | None = field(pattern=CODE)        # roster worker reference; None if unknown
    kind: Literal["work", "non_work", "manual"] | None
    match_score: float | None = field(min=0.0, max=1.0)
    liveness_score: float | None = field(min=0.0, max=1.0)
    liveness_cue: str | None = field(max_len=64)        # the cue that decided liveness
    snapshot_ref: str | None = field(max_len=128)       # capture kept on the gateway (hash/file ref)
    reject_reason: str | None = field(max_len=64)       # rejected attempts only
    manual_reason: str | None = field(max_len=256)      # why: manual (补卡) punch / manual release
    operator: str | None = field(max_len=64)            # who: manual punch / manual release
    event_kind: EventKind | None                        # gate events only
    ref_seq: int | None = field(min=1, max=MAX_SEQ)     # gate events: the punch the event is about

    def __post_init__(self):
        t = self.type
        if t == "gate_event":
            self._check_gate_event()
        else:
            if self.direction is None:
                raise ValueError("a punch or rejected attempt needs a direction")
            if self.event_kind is not None or self.ref_seq is not None:
                raise ValueError("event_kind/ref_seq only on gate events")
            if t == "punch":
                if self.kind is None:
                    raise ValueError("a punch needs a kind")
                if self.worker_ref is None:
                    raise ValueError("a punch needs a worker_ref")
                if self.reject_reason is not None:
                    raise ValueError("a punch has no reject_reason")
            else:
                if self.kind is not None:
                    raise ValueError("a rejected attempt has no kind")
                if not self.reject_reason:
                    raise ValueError("a rejected attempt needs a reject_reason")
        if self.kind == "manual" or self.event_kind in ("manual_release", "release_ended"):
            if not self.manual_reason or not self.operator:
                what = {"manual_release": "release", "release_ended": "release's end"}.get(self.event_kind, "punch")
                raise ValueError(f"a manual {what} needs manual_reason and operator")
        elif self.manual_reason is not None or self.operator is not None:
            raise ValueError("manual_reason/operator only on manual punches and manual releases (and their ends)")

    def _check_gate_event(self) -> None:
        if self.event_kind is None:
            raise ValueError("a gate event needs an event_kind")
        if self.kind is not None or self.reject_reason is not None:
            raise ValueError("a gate event has no kind or reject_reason")
        if self.match_score is not None or self.liveness_score is not None:
            raise ValueError("a gate event has no match/liveness scores")
        ek, ref = self.event_kind, self.ref_seq
        if ek == "not_passed":
            if ref is None or ref >= self.seq:
                raise ValueError("a not_passed event needs ref_seq < seq (the earlier punch)")
        elif ek == "release_ended":
            if ref is None or ref >= self.seq:
                raise ValueError("a release_ended event needs ref_seq < seq (the manual_release it ends)")
        elif ref is not None and (ek != "tailgating" or ref >= self.seq):
            raise ValueError("ref_seq only on not_passed/tailgating events, and < seq")

    def to_wire(self) -> dict:
        return to_wire(self)

    def canonical_bytes(self) -> bytes:
        return canonical_json(self.to_wire())


@dataclass(frozen=True)
class PunchBatch:
    """Gateway → city: a run of ledger entries, in increasing ``seq`` order."""

    v: int = field(min=SCHEMA_VERSION, max=SCHEMA_VERSION)
    type: Literal["punch_batch"]
    gateway_id: str = field(pattern=GATEWAY_ID)
    batch_id: str = field(pattern=EVENT_ID)
    sent_at: str = field(utc=True)
    entries: list[LedgerEntry] = field(min_items=1, max_items=MAX_BATCH_ENTRIES)

    def __post_init__(self):
        last = 0
        for e in self.entries:
            if e.gateway_id != self.gateway_id:
                raise ValueError("entry from another gateway in the batch")
            if e.seq <= last:
                raise ValueError("entries must be in strictly increasing seq order")
            last = e.seq


@dataclass(frozen=True)
class BatchAck:
    """City → gateway, sent only after the batch is committed in the receiver's store.

    ``stored_ranges`` are the ``[first, last]`` seq ranges of this batch now durable
    at the city (new or already there); the gateway may drop them from its outbox.
    ``acked_through_seq``: every seq ≤ this is durable at the city.
    """

    v: int = field(min=SCHEMA_VERSION, max=SCHEMA_VERSION)
    type: Literal["batch_ack"]
    gateway_id: str = field(pattern=GATEWAY_ID)
    batch_id: str = field(pattern=EVENT_ID)
    status: Literal["stored", "rejected"]
    reason: str | None = field(max_len=64)
    acked_through_seq: int = field(min=0, max=MAX_SEQ)
    stored_ranges: list[list[int]] = field(max_items=MAX_BATCH_ENTRIES)
    receiver_id: str = field(pattern=CODE)
    acked_at: str = field(utc=True)

    def __post_init__(self):
        for r in self.stored_ranges:
            if len(r) != 2 or r[0] < 1 or r[1] < r[0] or r[1] > MAX_SEQ:
                raise ValueError("stored_ranges items must be [first, last] with 1 ≤ first ≤ last ≤ 2**62")
        if self.status == "rejected" and not self.reason:
            raise ValueError("a rejected ack needs a reason")


@dataclass(frozen=True)
class DeviceHealth:
    """One gate device's health as its driver reports it (turnstile today; camera later)."""

    id: str = field(pattern=CODE)
    kind: str = field(max_len=32)                        # driver type, e.g. "modbus_rtu"
    state: Literal["ok", "degraded", "down"]
    detail: str = field(max_len=128)
    since: str = field(utc=True)


@dataclass(frozen=True)
class Heartbeat:
    """Gateway → city, periodically: liveness of the link and the state of the backlog."""

    v: int = field(min=SCHEMA_VERSION, max=SCHEMA_VERSION)
    type: Literal["heartbeat"]
    gateway_id: str = field(pattern=GATEWAY_ID)
    sent_at: str = field(utc=True)
    monotonic_ns: int = field(min=0, max=2**63 - 1)
    boot_id: str = field(pattern=r"^[0-9a-f-]{8,64}$")
    head_seq: int = field(min=0, max=MAX_SEQ)            # last committed seq
    acked_through_seq: int = field(min=0, max=MAX_SEQ)   # as the gateway knows it
    backlog: int = field(min=0, max=MAX_SEQ)             # entries not yet acked
    oldest_unacked_age_s: float | None = field(min=0.0, max=1e12)
    software_version: str = field(max_len=32)
    disk_free_bytes: int = field(min=0, max=2**63 - 1)
    disk_alarm: bool
    ledger_ok: bool                                      # integrity check at start passed
    devices: list[DeviceHealth] = field(max_items=64)    # gate hardware health


@dataclass(frozen=True)
class GatewayStatus:
    """Gateway → city, retained on the status topic; the offline form is the MQTT last will."""

    v: int = field(min=SCHEMA_VERSION, max=SCHEMA_VERSION)
    type: Literal["gateway_status"]
    gateway_id: str = field(pattern=GATEWAY_ID)
    online: bool
    since: str = field(utc=True)
    software_version: str = field(max_len=32)
    reason: str | None = field(max_len=128)


MESSAGE_TYPES: dict[str, type] = {
    "punch_batch": PunchBatch,
    "batch_ack": BatchAck,
    "heartbeat": Heartbeat,
    "gateway_status": GatewayStatus,
    "roster_change": RosterChange,
    "roster_ack": RosterAck,
    "roster_down_state": RosterDownState,
    "roster_down_batch": RosterDownBatch,
}


def decode_message(body: bytes, expected: type | None = None):
    """Bytes → message object. Raises :class:`DecodeError` with a reason code."""
    return decode_message_and_json(body, expected)[0]


def decode_message_and_json(body: bytes, expected: type | None = None):
    """:func:`decode_message` that also returns the parsed JSON object, for a caller that
    needs the entries exactly as received (the receiver hashes them) without parsing twice."""
    obj = loads_strict(body)
    if not isinstance(obj, dict):
        raise DecodeError("wrong_type", "message must be a JSON object")
    if obj.get("v") != SCHEMA_VERSION or type(obj.get("v")) is not int:
        raise DecodeError("wrong_version", f"schema version must be {SCHEMA_VERSION}")
    cls = MESSAGE_TYPES.get(obj.get("type")) if isinstance(obj.get("type"), str) else None
    if cls is None:
        raise DecodeError("unknown_type", "unknown message type")
    if expected is not None and cls is not expected:
        raise DecodeError("unexpected_type", f"expected {expected.__name__}")
    return decode(cls, obj), obj


def encode_message(msg) -> bytes:
    """Message object → bytes (canonical JSON). These are the bytes that get signed."""
    return canonical_json(to_wire(msg))


def replace(msg, **changes):
    return dataclasses.replace(msg, **changes)
