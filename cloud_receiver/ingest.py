"""Verification and storage of one incoming message; no MQTT here.

:func:`verify_message` is pure: topic + payload bytes + a registration lookup →
:class:`Verdict` (accepted message and ledger rows, or a reject reason).
:class:`Ingestor` adds the store: it applies a verdict in one transaction and
says which application ack (if any) the consumer must publish.

Decisions (see docs/protocol.md):

* unregistered gateway, bad envelope (``truncated``/``bad_magic``/``oversize``), bad
  signature: rejected and counted, **no** application ack (we cannot trust the sender).
* signed by the registered key but undecodable (``DecodeError.reason``: ``wrong_version``,
  ``unknown_field``, ``not_json`` ...), ``gateway_mismatch`` (batch/topic gateway ids
  differ) or ``project_mismatch``: ``BatchAck(status="rejected", reason)``.
* ``project_mismatch``: every entry's ``project_code`` must equal the gateway's registered
  project. A batch with a foreign entry is rejected **as a whole** (nothing stored) so the
  gateway keeps the entries; fixing the registration (``register-gateway`` with the right
  project) lets the gateway's next resend go through. No punch is lost, none is filed
  under the wrong project.
* ``device_date`` (punch-day index) is the device time's date in China Standard Time (UTC+8).
"""

from __future__ import annotations

import datetime as _dt
import functools
import json
import re
import hashlib
import logging
import threading
import time
from dataclasses import dataclass, field
from typing import Any, Callable

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from shared_schema import envelope, topics
from shared_schema.chain import entry_hash, hash_wire_dict
from shared_schema.messages import (EVENT_ID, BatchAck, GatewayStatus, Heartbeat, PunchBatch, RosterAck,
                                    RosterChange, RosterDownBatch, RosterDownState, decode_message_and_json)
from shared_schema.wire import DecodeError, canonical_json, format_utc, loads_strict, parse_utc, to_wire

from . import roster_down
from .store import BatchResult, EntryRow, Store
from .store.workers import ROSTER_CHANGE_COLS

log = logging.getLogger(__name__)

CST = _dt.timezone(_dt.timedelta(hours=8))
EXPECTED = {"punches": PunchBatch, "heartbeat": Heartbeat, "status": GatewayStatus,
            "roster": (RosterChange, RosterDownState)}   # a roster change up, or a gateway's down-sync state
NO_BATCH_ID = "0" * 32


@dataclass(frozen=True)
class Registration:
    gateway_id: str
    public_key: Ed25519PublicKey
    project_code: str
    revoked: bool = False            # `cloud-receiver ca revoke` set the store's revoked_at


@dataclass
class Verdict:
    gateway_id: str | None
    channel: str | None
    size: int
    sha256: str
    reason: str | None = None        # None: accepted
    detail: str = ""
    signed: bool = False             # signature verified with the registered key
    batch_id: str | None = None      # for a punch batch (or best effort for a rejected one)
    message: Any = None
    rows: list[EntryRow] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return self.reason is None


@functools.lru_cache(maxsize=4096)
def _next_day(day: str) -> str:
    return (_dt.date.fromisoformat(day) + _dt.timedelta(days=1)).isoformat()


def local_date(device_time: str) -> str:
    """China-local (UTC+8, no DST) date of an already validated UTC wire time."""
    day = device_time[:10]
    return day if int(device_time[11:13]) < 16 else _next_day(day)


def _make_wire_hasher() -> Callable[[dict], str]:
    """:func:`shared_schema.chain.hash_wire_dict`, minus the per-call ``json.dumps`` set-up.

    ``canonical_json`` is ``json.dumps(sort_keys=True, separators=(",", ":"), ensure_ascii=False,
    allow_nan=False)``, which builds a ``JSONEncoder`` and a C encoder for every call. We build
    the same C encoder once (the very one ``json.dumps`` would use; no circular-reference
    markers: parsed JSON cannot be circular). Checked against ``hash_wire_dict`` at import
    and in the tests; without the C accelerator we just use ``hash_wire_dict``."""
    make = getattr(json.encoder, "c_make_encoder", None)
    if make is None:  # pragma: no cover - CPython always has it
        return hash_wire_dict
    enc = make(None, json.JSONEncoder().default, json.encoder.encode_basestring, None, ":", ",",
               True, False, False)
    sha256 = hashlib.sha256

    def hash_wire(wire: dict) -> str:
        return sha256("".join(enc(wire, 0)).encode("utf-8")).hexdigest()

    probe = {"z": [1, 1.0, -0.5, 1e300, None, True, False], "a": "\u00e9\u5de5\n\"\\", "m": {"b": 2, "a": {}},
             "e": [], "n": 2**62}
    if hash_wire(probe) != hashlib.sha256(canonical_json(probe)).hexdigest():  # pragma: no cover
        return hash_wire_dict
    return hash_wire


hash_wire = _make_wire_hasher()


def entry_rows(batch: PunchBatch, received_at: float, wire_entries: list | None = None) -> list[EntryRow]:
    """Rows for the store. The entry hash is SHA-256 of the canonical JSON of each entry
    *as received* (``hash_wire_dict``), i.e. exactly what the gateway hashed when it
    encoded the entry; re-encoding the decoded object could differ (``1`` vs ``1.0``)."""
    batch_id = batch.batch_id
    entries = batch.entries
    if wire_entries is None:
        hashes = [entry_hash(e) for e in entries]
    else:
        if len(wire_entries) != len(entries):
            raise ValueError("wire entries do not match the decoded batch")
        hashes = [hash_wire(w) for w in wire_entries]
    return [EntryRow(
        e.gateway_id, e.seq, e.event_id, e.type, e.project_code, e.gate_id, e.prev_hash, h,
        e.device_time, local_date(e.device_time), e.monotonic_ns, e.boot_id, e.direction, e.worker_ref,
        e.kind, e.match_score, e.liveness_score, e.liveness_cue, e.snapshot_ref, e.reject_reason,
        e.manual_reason, e.operator, e.event_kind, e.ref_seq, "pending", batch_id, received_at)
        for e, h in zip(entries, hashes)]


def _guess_batch_id(body: bytes) -> str:
    try:
        obj = loads_strict(body)
        bid = obj.get("batch_id") if isinstance(obj, dict) else None
    except DecodeError:
        return NO_BATCH_ID
    return bid if isinstance(bid, str) and re.fullmatch(EVENT_ID, bid) else NO_BATCH_ID


def verify_message(topic: str, payload: bytes, lookup: Callable[[str], Registration | None],
                   received_at: float) -> Verdict:
    """Pure: never raises for bad input; the verdict carries the reason."""
    payload = bytes(payload)
    v = Verdict(None, None, len(payload), hashlib.sha256(payload).hexdigest())
    try:
        v.gateway_id, v.channel = topics.parse(topic)
    except topics.TopicError:
        v.reason, v.detail = "bad_topic", "not a rn/v1/gw/{id}/{channel} topic"
        return v
    if v.channel not in EXPECTED:
        v.reason, v.detail = "unexpected_channel", f"receiver does not consume {v.channel}"
        return v
    reg = lookup(v.gateway_id)
    if reg is None:
        v.reason, v.detail = "unregistered_gateway", "gateway is not registered"
        return v
    try:
        sig, body = envelope.split(payload)
        envelope.verify(sig, body, reg.public_key)
    except envelope.EnvelopeError as exc:
        v.reason, v.detail = exc.reason, exc.detail
        return v
    v.signed = True
    if reg.revoked:      # after the signature: a forged message gets bad_signature, never this reason
        v.reason, v.detail = "revoked_gateway", "gateway is revoked (cloud-receiver ca revoke)"
        if v.channel == "punches":
            v.batch_id = _guess_batch_id(body)
        return v
    try:
        expected = EXPECTED[v.channel]
        msg, obj = decode_message_and_json(body, expected if isinstance(expected, type) else None)  # entries hashed as received
        if not isinstance(msg, expected):
            raise DecodeError("unexpected_type", f"unexpected {type(msg).__name__} on {v.channel}")
    except DecodeError as exc:
        v.reason, v.detail = exc.reason, exc.detail
        if v.channel == "punches":
            v.batch_id = _guess_batch_id(body)
        return v
    v.message = msg
    if isinstance(msg, PunchBatch):
        v.batch_id = msg.batch_id
    if msg.gateway_id != v.gateway_id:
        v.reason, v.detail = "gateway_mismatch", "message gateway_id differs from the topic's"
        return v
    if isinstance(msg, PunchBatch):
        if any(e.project_code != reg.project_code for e in msg.entries):
            v.reason, v.detail = "project_mismatch", "entry project_code differs from the registration"
            return v
        v.rows = entry_rows(msg, received_at, obj["entries"])
    elif isinstance(msg, (RosterChange, RosterDownState)) and msg.project_code != reg.project_code:
        v.reason, v.detail = "project_mismatch", "roster project_code differs from the registration"
    return v


@dataclass
class Outcome:
    verdict: Verdict
    result: BatchResult | None = None
    ack: BatchAck | RosterAck | RosterDownBatch | None = None   # signed reply on the gateway's ack topic, if any
    roster_outcome: str | None = None            # applied / duplicate / conflict (city worker registry)


class Ingestor:
    """Verify + store. Thread-safe; registrations are cached ``cache_s`` seconds."""

    def __init__(self, store: Store, receiver_id: str, cache_s: float = 5.0):
        self.store = store
        self.receiver_id = receiver_id
        self.cache_s = cache_s
        self._cache: dict[str, tuple[float, Registration | None]] = {}
        self._lock = threading.Lock()

    def lookup(self, gateway_id: str) -> Registration | None:
        now = time.monotonic()
        with self._lock:
            hit = self._cache.get(gateway_id)
        if hit is not None and hit[0] > now:
            return hit[1]
        row = self.store.get_gateway(gateway_id)
        reg = None
        if row is not None:
            reg = Registration(gateway_id, envelope.public_key_from_text(row["public_key"]), row["project_code"],
                               revoked=row.get("revoked_at") is not None)
        with self._lock:
            if len(self._cache) > 100000:
                self._cache.clear()
            self._cache[gateway_id] = (now + self.cache_s, reg)
        return reg

    def _ack(self, v: Verdict, status: str, reason: str | None, through: int, ranges) -> BatchAck:
        return BatchAck(v=1, type="batch_ack", gateway_id=v.gateway_id, batch_id=v.batch_id or NO_BATCH_ID,
                        status=status, reason=reason, acked_through_seq=through, stored_ranges=ranges,
                        receiver_id=self.receiver_id, acked_at=format_utc(_dt.datetime.now(_dt.timezone.utc)))

    def handle(self, topic: str, payload: bytes, now: float | None = None) -> Outcome:
        """Verify and store one message. Store errors propagate (the caller must not ack)."""
        now = time.time() if now is None else now
        v = verify_message(topic, payload, self.lookup, now)
        out = Outcome(v)
        if not v.ok:
            log.info("rejected message gateway=%s channel=%s reason=%s size=%s: %s",
                     v.gateway_id, v.channel, v.reason, v.size, v.detail)
            self.store.record_rejection(v.gateway_id, v.channel, v.reason, v.size, v.sha256, now)
            if v.signed and v.channel == "punches":
                out.ack = self._ack(v, "rejected", v.reason, self.store.watermark(v.gateway_id), [])
            elif v.signed and isinstance(v.message, RosterChange):   # e.g. project_mismatch: keep it, retry later
                out.ack = self._roster_ack(v.gateway_id, v.message, "rejected", None, v.reason)
            return out
        msg = v.message
        if isinstance(msg, PunchBatch):
            res = self.store.apply_batch(v.gateway_id, msg.batch_id, v.rows, now)
            out.result = res
            out.ack = self._ack(v, "stored", None, res.acked_through_seq, res.stored_ranges)
            log.debug("batch %s gateway=%s new=%s dup=%s through=%s", msg.batch_id, v.gateway_id,
                      len(res.new), len(res.duplicates), res.acked_through_seq)
        elif isinstance(msg, Heartbeat):
            hb = {k: getattr(msg, k) for k in ("head_seq", "acked_through_seq", "backlog", "oldest_unacked_age_s",
                                               "boot_id", "software_version", "disk_free_bytes", "disk_alarm",
                                               "ledger_ok")}
            hb["clock_offset_s"] = now - parse_utc(msg.sent_at).timestamp()
            hb["devices_json"] = json.dumps([to_wire(d) for d in msg.devices], ensure_ascii=False)
            self.store.update_heartbeat(v.gateway_id, hb, now)
        elif isinstance(msg, GatewayStatus):
            self.store.update_status(v.gateway_id, msg.online, msg.since, msg.reason, msg.software_version, now)
        elif isinstance(msg, RosterChange):
            row = {k: getattr(msg, k) for k in ROSTER_CHANGE_COLS}
            row["details_json"] = json.dumps({d.name: d.value for d in msg.details}, ensure_ascii=False)
            row["head_image_b64"] = msg.head_image_b64
            out.roster_outcome = self.store.apply_roster_change(row, now)   # committed: now it may be acked
            out.ack = self._roster_ack(v.gateway_id, msg, "stored", out.roster_outcome, None)
            log.info("roster change %s gateway=%s action=%s worker=%s outcome=%s", msg.change_id, v.gateway_id,
                     msg.action, msg.worker_ref, out.roster_outcome)
        elif isinstance(msg, RosterDownState):
            out.ack = roster_down.answer(self.store, msg, now)       # the changes after its version, in order
        return out

    def _roster_ack(self, gateway_id: str, msg: RosterChange, status: str, outcome: str | None,
                    reason: str | None) -> RosterAck:
        return RosterAck(v=1, type="roster_ack", gateway_id=gateway_id, change_id=msg.change_id, status=status,
                         outcome=outcome, reason=reason, receiver_id=self.receiver_id,
                         acked_at=format_utc(_dt.datetime.now(_dt.timezone.utc)))
