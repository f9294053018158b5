"""The roster outbox: RosterChanges waiting for the receiver's application ack.

Rows live in the registry file and are written in the SAME transaction as the worker
change they describe (see :mod:`.registry`), so a committed change always has its
message. States ``pending`` → ``sent`` → ``acked``, in ``seq`` order; ``sent`` rows go
back to ``pending`` on disconnect, restart or ack timeout. Acked rows are deleted only
after ``retention_days`` (never because of age or size while unacked).
"""

from __future__ import annotations

import base64
import sqlite3
import threading
import time
import uuid
from dataclasses import dataclass

from shared_schema import SCHEMA_VERSION
from shared_schema.messages import FieldValue, RosterChange, encode_message
from shared_schema.wire import utc_now


@dataclass(frozen=True)
class OutboxStats:
    pending: int
    sent: int
    acked: int
    oldest_unacked_age_s: float | None

    @property
    def backlog(self) -> int:
        return self.pending + self.sent


# record fields that travel as RosterChange fields of their own (the rest go in ``details``)
_ESSENTIALS = ("id_type", "id_number", "name", "role", "post", "company_code", "team_code", "work_type", "entry_date")


def build_change(*, gateway_id: str, project_code: str, action: str, worker_ref: str, record: dict,
                 status_exit_date: str | None, face_consent: bool, operator: str,
                 head_image: bytes | None = None) -> RosterChange:
    """The change the city gets: the real-name record and the ≤ 50 KB head image; never a template."""
    details = tuple(FieldValue(k, str(v)) for k, v in sorted(record.items()) if k not in _ESSENTIALS and v is not None)
    return RosterChange(
        v=SCHEMA_VERSION, type="roster_change", gateway_id=gateway_id, change_id=uuid.uuid4().hex,
        changed_at=utc_now(), action=action, project_code=project_code, worker_ref=worker_ref,
        id_type=record["id_type"], id_number=record["id_number"], name=record["name"], role=record["role"],
        post=record.get("post"), company_code=record["company_code"], team_code=record.get("team_code"),
        work_type=record.get("work_type"), entry_date=record.get("entry_date"), exit_date=status_exit_date,
        face_consent=face_consent, operator=operator, details=details,
        head_image_b64=base64.b64encode(head_image).decode("ascii") if head_image else None)


def insert(conn: sqlite3.Connection, change: RosterChange, now: float) -> int:
    """Add a change inside the caller's open transaction; returns its seq."""
    cur = conn.execute(
        "INSERT INTO outbox (change_id, worker_ref, action, body, state, committed_at) "
        "VALUES (?, ?, ?, ?, 'pending', ?)",
        (change.change_id, change.worker_ref, change.action, encode_message(change).decode("utf-8"), now))
    return int(cur.lastrowid)


class RosterOutbox:
    """Outbox operations for the uplink (one thread) on the registry's connection."""

    def __init__(self, conn: sqlite3.Connection, lock: threading.RLock):
        self._conn = conn
        self._lock = lock

    def _tx(self, sql: str, args=()) -> int:
        with self._lock:
            self._conn.execute("BEGIN IMMEDIATE")
            try:
                n = self._conn.execute(sql, args).rowcount
                self._conn.execute("COMMIT")
            except BaseException:
                self._conn.execute("ROLLBACK")
                raise
            return n

    def pending(self, limit: int) -> list[tuple[int, str, bytes]]:
        """The lowest-seq pending changes ``[(seq, change_id, body)]``."""
        with self._lock:
            rows = self._conn.execute("SELECT seq, change_id, body FROM outbox WHERE state = 'pending' "
                                      "ORDER BY seq LIMIT ?", (limit,)).fetchall()
        return [(r[0], r[1], r[2].encode("utf-8")) for r in rows]

    def next_pending(self) -> tuple[int, str, bytes] | None:
        """The lowest-seq pending change ``(seq, change_id, body)``, or None."""
        with self._lock:
            row = self._conn.execute("SELECT seq, change_id, body FROM outbox WHERE state = 'pending' "
                                     "ORDER BY seq LIMIT 1").fetchone()
        return None if row is None else (row[0], row[1], row[2].encode("utf-8"))

    def mark_sent(self, seq: int) -> None:
        self._tx("UPDATE outbox SET state = 'sent', sent_at = ? WHERE seq = ? AND state = 'pending'",
                 (time.time(), seq))

    def mark_acked(self, change_id: str, outcome: str | None) -> bool:
        """True if this ack moved a row to ``acked`` (a repeated ack changes nothing)."""
        return self._tx("UPDATE outbox SET state = 'acked', acked_at = ?, outcome = ? "
                        "WHERE change_id = ? AND state != 'acked'", (time.time(), outcome, change_id)) == 1

    def release(self, change_id: str | None = None) -> int:
        """``sent`` rows (one, or all) back to ``pending``."""
        if change_id is None:
            return self._tx("UPDATE outbox SET state = 'pending' WHERE state = 'sent'")
        return self._tx("UPDATE outbox SET state = 'pending' WHERE state = 'sent' AND change_id = ?", (change_id,))

    def prune(self, retention_days: float, now: float | None = None) -> int:
        cutoff = (time.time() if now is None else now) - retention_days * 86400
        return self._tx("DELETE FROM outbox WHERE state = 'acked' AND acked_at < ?", (cutoff,))

    def stats(self) -> OutboxStats:
        with self._lock:
            counts = dict(self._conn.execute("SELECT state, COUNT(*) FROM outbox GROUP BY state").fetchall())
            first = self._conn.execute("SELECT MIN(committed_at) FROM outbox WHERE state != 'acked'").fetchone()[0]
        return OutboxStats(counts.get("pending", 0), counts.get("sent", 0), counts.get("acked", 0),
                           None if first is None else max(0.0, time.time() - first))

    def states(self) -> dict[str, tuple[str, str | None]]:
        """``{change_id: (state, outcome)}`` (tests, tools)."""
        with self._lock:
            return {r[0]: (r[1], r[2]) for r in
                    self._conn.execute("SELECT change_id, state, outcome FROM outbox ORDER BY seq")}
