"""Versioned wire messages between a gateway and the city receiver.

Every message is a JSON object with ``v`` (schema version) and ``type``. The
bytes of a message are signed as a whole (see :mod:`shared_schema.envelope`).
Decoding is strict: see :mod:`shared_schema.wire`.

A gateway's ledger is one hash chain of :class:`LedgerEntry` records, each a
*punch* (``type="punch"``; ``kind`` work / non_work / manual), a *rejected
attempt* (``type="rejected"``; ``reject_reason``) or a *gate event*
(``type="gate_event"``; ``event_kind``, e.g. ``not_passed``: nobody passed after
the punch ``ref_seq``, or ``manual_release`` with ``operator`` and
``manual_reason``). Rejected attempts and gate events share the chain so that
deleting one is as detectable as deleting a punch, but they are never attendance
and are stored apart from punches at the receiver. A committed entry is never
changed: a gate event *about* a punch is a later entry that refers to its seq.
"""

from __future__ import annotations

import base64
import binascii
import dataclasses
from dataclasses import dataclass
from typing import Literal

from . import SCHEMA_VERSION
from .wire import DecodeError, canonical_json, decode, field, loads_strict, to_wire

HEAD_IMAGE_MAX_BYTES = 50 * 1024                  # the national platform's limit for a head image
HEAD_IMAGE_B64_MAX = 4 * ((HEAD_IMAGE_MAX_BYTES + 2) // 3)
HEX64 = r"^[0-9a-f]{64}$"
EVENT_ID = r"^[0-9a-f]{32}$"
CODE = r"^[A-Za-z0-9_.-]{1,64}$"
GATEWAY_ID = r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$"
MAX_BATCH_ENTRIES = 1000
MAX_SEQ = 2**62  # fits a PostgreSQL bigint with room to spare
EventKind = Literal["not_passed", "tailgating", "door_held", "manual_release", "fault", "fault_cleared"]
EVENT_KINDS: tuple[str, ...] = ("not_passed", "tailgating", "door_held", "manual_release", "fault",
                                "fault_cleared")


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
        if self.kind == "manual" or self.event_kind == "manual_release":
            if not self.manual_reason or not self.operator:
                what = "punch" if self.kind == "manual" else "release"
                raise ValueError(f"a manual {what} needs manual_reason and operator")
        elif self.manual_reason is not None or self.operator is not None:
            raise ValueError("manual_reason/operator only on manual punches and manual releases")

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


@dataclass(frozen=True)
class FieldValue:
    """One named field of a worker record: RosterChange ``details``, ``correct`` down changes."""

    name: str = field(pattern=r"^[a-z][a-z_]{0,31}$")
    value: str | None = field(max_len=256)


@dataclass(frozen=True)
class RosterChange:
    """Enrollment, update or exit (退场) of a person on a project, either direction.

    Carries the national WorkerMaster / ProjectWorker essentials. Face templates
    never travel here: face data stays on the gateway.
    """

    v: int = field(min=SCHEMA_VERSION, max=SCHEMA_VERSION)
    type: Literal["roster_change"]
    gateway_id: str = field(pattern=GATEWAY_ID)
    change_id: str = field(pattern=EVENT_ID)
    changed_at: str = field(utc=True)
    action: Literal["enroll", "update", "exit"]
    project_code: str = field(pattern=CODE)
    worker_ref: str = field(pattern=CODE)
    id_type: str = field(pattern=r"^(0[1-9]|1[0-7])$")   # national ID type code table
    id_number: str = field(max_len=32)
    name: str = field(max_len=64)
    role: Literal["worker", "manager"]
    post: str | None = field(max_len=32)
    company_code: str = field(max_len=64)
    team_code: str | None = field(max_len=64)
    work_type: str | None = field(max_len=16)
    entry_date: str | None = field(pattern=r"^\d{4}-\d{2}-\d{2}$")
    exit_date: str | None = field(pattern=r"^\d{4}-\d{2}-\d{2}$")
    face_consent: bool
    operator: str = field(max_len=64)
    # added later, optional (a change without them decodes as before): the rest of the real-name
    # record (national WorkerMaster / ProjectWorker / contract fields) and the ≤ 50 KB JPEG head
    # image the national platform takes, base64. Never a face template.
    details: list[FieldValue] = field(default_factory=tuple, max_items=48)
    head_image_b64: str | None = field(default=None, max_len=HEAD_IMAGE_B64_MAX)

    def __post_init__(self):
        names = [d.name for d in self.details]
        if len(set(names)) != len(names):
            raise ValueError("details: a field appears twice")
        if self.head_image_b64 is not None:
            try:
                img = base64.b64decode(self.head_image_b64, validate=True)
            except (binascii.Error, ValueError):
                raise ValueError("head_image_b64 is not base64") from None
            if not 0 < len(img) <= HEAD_IMAGE_MAX_BYTES or not img.startswith(b"\xff\xd8\xff"):
                raise ValueError("head image must be a JPEG of at most 50 KB")


@dataclass(frozen=True)
class RosterAck:
    """City → gateway on the ack topic, sent only after a :class:`RosterChange` is committed
    in the receiver's store. ``stored``: the gateway may drop the change from its outbox;
    ``outcome`` says what the city registry made of it (``applied``; ``duplicate``: already
    there; ``conflict``: kept as history but not applied, e.g. a second role on the project).
    ``rejected`` (with ``reason``): the gateway keeps the change and retries later."""

    v: int = field(min=SCHEMA_VERSION, max=SCHEMA_VERSION)
    type: Literal["roster_ack"]
    gateway_id: str = field(pattern=GATEWAY_ID)
    change_id: str = field(pattern=EVENT_ID)
    status: Literal["stored", "rejected"]
    outcome: Literal["applied", "duplicate", "conflict"] | None
    reason: str | None = field(max_len=64)
    receiver_id: str = field(pattern=CODE)
    acked_at: str = field(utc=True)

    def __post_init__(self):
        if self.status == "rejected" and not self.reason:
            raise ValueError("a rejected ack needs a reason")
        if (self.status == "stored") != (self.outcome is not None):
            raise ValueError("a stored roster ack has an outcome, a rejected one none")


MAX_DOWN_CHANGES = 200
DATE = r"^\d{4}-\d{2}-\d{2}$"
DownAction = Literal["exit", "correct", "project_stopped", "project_resumed"]


@dataclass(frozen=True)
class RosterDownChange:
    """A roster change decided at the city for every gateway of a project, numbered per project.

    ``version`` counts 1, 2, 3 ... per project; a gateway applies each once and in order.
    ``exit`` / ``correct`` name a person by ID type + number (the gateway finds its active
    record); ``project_stopped`` / ``project_resumed`` concern the whole project (停工/复工)."""

    version: int = field(min=1, max=MAX_SEQ)
    issued_at: str = field(utc=True)
    action: DownAction
    id_type: str | None = field(pattern=r"^(0[1-9]|1[0-7])$")
    id_number: str | None = field(max_len=32)
    exit_date: str | None = field(pattern=DATE)
    corrections: list[FieldValue] = field(max_items=32)
    reason: str | None = field(max_len=256)
    operator: str = field(max_len=64)

    def __post_init__(self):
        person = self.action in ("exit", "correct")
        if person != (self.id_type is not None and self.id_number is not None):
            raise ValueError("exit/correct name a person (id_type, id_number); project changes do not")
        if (self.action == "exit") != (self.exit_date is not None):
            raise ValueError("an exit has an exit_date, nothing else does")
        if (self.action == "correct") != bool(self.corrections):
            raise ValueError("a correction has corrections, nothing else does")


@dataclass(frozen=True)
class RosterDownState:
    """Gateway → city on the roster topic: "I have applied the project's down changes
    through ``applied_version``; send me what follows" (on connect, periodically, after a gap)."""

    v: int = field(min=SCHEMA_VERSION, max=SCHEMA_VERSION)
    type: Literal["roster_down_state"]
    gateway_id: str = field(pattern=GATEWAY_ID)
    project_code: str = field(pattern=CODE)
    applied_version: int = field(min=0, max=MAX_SEQ)
    sent_at: str = field(utc=True)


@dataclass(frozen=True)
class RosterDownBatch:
    """City → gateway on the ack topic: the project's down changes after the version the
    gateway reported, in version order; ``latest_version`` says whether more follow."""

    v: int = field(min=SCHEMA_VERSION, max=SCHEMA_VERSION)
    type: Literal["roster_down_batch"]
    gateway_id: str = field(pattern=GATEWAY_ID)
    project_code: str = field(pattern=CODE)
    changes: list[RosterDownChange] = field(max_items=MAX_DOWN_CHANGES)
    latest_version: int = field(min=0, max=MAX_SEQ)
    sent_at: str = field(utc=True)

    def __post_init__(self):
        last = 0
        for c in self.changes:
            if c.version <= last:
                raise ValueError("changes must be in strictly increasing version order")
            last = c.version
        if last > self.latest_version:
            raise ValueError("latest_version is below a change's version")


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
