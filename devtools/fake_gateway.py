"""A synthetic gateway built from shared_schema only (never edge_agent): signed,
hash-chained batches (punches, rejected attempts, gate events), heartbeats, status
and roster messages for the receiver's tests and the ingest benchmark."""

from __future__ import annotations

import datetime as dt
import time
import uuid

from shared_schema import envelope
from shared_schema.chain import GENESIS_HASH, entry_hash
from shared_schema.messages import (GatewayStatus, Heartbeat, LedgerEntry, PunchBatch, RosterChange,
                                    encode_message)
from shared_schema.wire import format_utc

BOOT = "0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0"
T0 = dt.datetime(2026, 3, 2, 0, 30, tzinfo=dt.timezone.utc)  # 08:30 in China: date 2026-03-02


class FakeGateway:
    def __init__(self, gateway_id: str = "GW-1", project_code: str = "P-100", key=None):
        self.gateway_id = gateway_id
        self.project_code = project_code
        self.key = key or envelope.generate_key()
        self.entries: list[LedgerEntry] = []

    @property
    def public_hex(self) -> str:
        return envelope.public_key_text(self.key)

    def register(self, store, **kw) -> None:
        store.register_gateway(self.gateway_id, self.public_hex, self.project_code, "TestVendor", "site-A",
                               now=time.time(), **kw)

    def _append(self, **fields) -> LedgerEntry:
        seq = len(self.entries) + 1
        prev = entry_hash(self.entries[-1]) if self.entries else GENESIS_HASH
        base = dict(event_id=uuid.uuid4().hex, gateway_id=self.gateway_id, project_code=self.project_code,
                    gate_id="gate-1", seq=seq, prev_hash=prev,
                    device_time=format_utc(T0 + dt.timedelta(seconds=seq)), monotonic_ns=seq * 1_000_000,
                    boot_id=BOOT, direction="in" if seq % 2 else "out", worker_ref=None, kind=None,
                    match_score=None, liveness_score=None, liveness_cue=None, snapshot_ref=None,
                    reject_reason=None, manual_reason=None, operator=None, event_kind=None, ref_seq=None)
        e = LedgerEntry(**{**base, **fields})
        self.entries.append(e)
        return e

    def add(self, n: int, *, rejected_every: int = 0) -> list[LedgerEntry]:
        out = []
        for _ in range(n):
            seq = len(self.entries) + 1
            if rejected_every and seq % rejected_every == 0:
                e = self._append(type="rejected", liveness_score=0.99, liveness_cue="blink",
                                 reject_reason="no_match")
            else:
                e = self._append(type="punch", worker_ref=f"W{seq % 50:04d}", kind="work", match_score=0.93,
                                 liveness_score=0.99, liveness_cue="blink")
            out.append(e)
        return out

    def punch(self, worker_ref: str, at: dt.datetime, direction: str = "in", *, kind: str = "work",
              reason: str | None = None, operator: str | None = None, gate_id: str = "gate-1",
              snapshot_ref: str | None = None) -> LedgerEntry:
        """Append one punch of ``worker_ref`` at the aware time ``at`` (manual: ``reason`` + ``operator``)."""
        return self._append(type="punch", worker_ref=worker_ref, kind=kind, direction=direction, gate_id=gate_id,
                            snapshot_ref=snapshot_ref,
                            device_time=format_utc(at), match_score=None if kind == "manual" else 0.93,
                            liveness_score=None if kind == "manual" else 0.99,
                            liveness_cue=None if kind == "manual" else "blink",
                            manual_reason=reason, operator=operator)

    def reject(self, worker_ref: str | None, at: dt.datetime, direction: str = "in", *,
               reason: str = "liveness_failed", gate_id: str = "gate-1", snapshot_ref: str | None = None) -> LedgerEntry:
        """Append one rejected attempt (optionally naming the matched worker) at ``at``."""
        return self._append(type="rejected", worker_ref=worker_ref, direction=direction, device_time=format_utc(at),
                            gate_id=gate_id, snapshot_ref=snapshot_ref,
                            match_score=0.9, liveness_score=0.2, liveness_cue="blink", reject_reason=reason)

    def add_event(self, event_kind: str, *, ref_seq: int | None = None, direction: str | None = None,
                  operator: str | None = None, reason: str | None = None) -> LedgerEntry:
        """Append one gate event (e.g. ``add_event("not_passed", ref_seq=3)``) to the chain."""
        return self._append(type="gate_event", event_kind=event_kind, ref_seq=ref_seq, direction=direction,
                            operator=operator, manual_reason=reason)

    def batch(self, entries, batch_id: str | None = None) -> PunchBatch:
        return PunchBatch(v=1, type="punch_batch", gateway_id=self.gateway_id, batch_id=batch_id or uuid.uuid4().hex,
                          sent_at=format_utc(dt.datetime.now(dt.timezone.utc)), entries=list(entries))

    def seal(self, msg, key=None) -> bytes:
        return envelope.seal(encode_message(msg), key or self.key)

    def sealed_batch(self, entries, **kw) -> bytes:
        return self.seal(self.batch(entries, **kw))

    def heartbeat(self, *, head_seq=10, acked=5, backlog=5, sent_at=None, devices=()) -> Heartbeat:
        return Heartbeat(v=1, type="heartbeat", gateway_id=self.gateway_id,
                         sent_at=sent_at or format_utc(dt.datetime.now(dt.timezone.utc)), monotonic_ns=123,
                         boot_id=BOOT, head_seq=head_seq, acked_through_seq=acked, backlog=backlog,
                         oldest_unacked_age_s=12.5, software_version="0.1.0", disk_free_bytes=10**9,
                         disk_alarm=False, ledger_ok=True, devices=tuple(devices))

    def status(self, online: bool, since: str | None = None) -> GatewayStatus:
        return GatewayStatus(v=1, type="gateway_status", gateway_id=self.gateway_id, online=online,
                             since=since or format_utc(dt.datetime.now(dt.timezone.utc)),
                             software_version="0.1.0", reason=None if online else "connection lost")

    def roster(self, id_number: str = "11010519491231002X", *, worker_ref: str = "W0001", action: str = "enroll",
               name: str = "张三", role: str = "worker", post: str | None = None, company_code: str = "C1",
               team_code: str | None = "T1", work_type: str | None = "020", entry_date: str | None = "2026-03-01",
               exit_date: str | None = None, changed_at: dt.datetime | None = None) -> RosterChange:
        return RosterChange(v=1, type="roster_change", gateway_id=self.gateway_id, change_id=uuid.uuid4().hex,
                            changed_at=format_utc(changed_at or dt.datetime.now(dt.timezone.utc)), action=action,
                            project_code=self.project_code, worker_ref=worker_ref, id_type="01", id_number=id_number,
                            name=name, role=role, post=post, company_code=company_code, team_code=team_code,
                            work_type=work_type, entry_date=entry_date, exit_date=exit_date, face_consent=True,
                            operator="admin")
