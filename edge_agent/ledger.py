"""The tamper-evident punch ledger and its outbox, in one SQLite file.

Every gate decision becomes a :class:`~shared_schema.messages.LedgerEntry`, is
committed (WAL, ``synchronous=FULL``) *before* :meth:`PunchLedger.append`
returns, and carries the hash of its predecessor (:mod:`shared_schema.chain`).
The stored text of an entry is exactly its canonical JSON, which is also what
is hashed and what travels in a batch (no re-encoding on the way out).

Outbox states: ``pending`` → ``sent`` (claimed by a batch) → ``acked`` (a
signed receiver ack said it is durable at the city). ``sent`` rows go back to
``pending`` after a disconnect, restart, reject or ack timeout. Rows are deleted
only when acked *and* committed more than ``retention_days`` ago; the seq and
hash of the last deleted row are kept as the chain anchor.

Thread-safety: one connection guarded by one lock. The gate thread appends while
the sync thread claims and marks; every operation is short (the sync side does
one statement per batch), so a punch never waits long.
"""

from __future__ import annotations

import dataclasses
import hashlib
import logging
import sqlite3
import threading
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

import sqlite_utils

from shared_schema.chain import GENESIS_HASH
from shared_schema.messages import LedgerEntry
from shared_schema.wire import DecodeError, canonical_json, decode, loads_strict

from .clock import ClockGuard, epoch_of, stamp_text
from .ledger_migrations import SCHEMA_VERSION, migrate

log = logging.getLogger(__name__)


class LedgerError(RuntimeError):
    """The ledger cannot be used safely (pragmas, schema, another gateway's file)."""


def _read_boot_id() -> str:
    try:
        text = Path("/proc/sys/kernel/random/boot_id").read_text().strip().lower()
        if 8 <= len(text) <= 64 and all(c in "0123456789abcdef-" for c in text):
            return text
    except OSError:
        pass
    return uuid.uuid4().hex  # no kernel boot id: this process is its own "boot"


BOOT_ID = _read_boot_id()


@dataclass(frozen=True)
class BacklogStats:
    head_seq: int
    acked_through_seq: int
    backlog: int                      # rows not yet acked (pending + sent)
    pending: int
    sent: int
    oldest_unacked_age_s: float | None
    anchor_seq: int

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)


@dataclass(frozen=True)
class VerifyResult:
    ok: bool
    checked: int
    problem: str | None = None
    bad_seq: int | None = None


def _connect(path: Path, *, readonly: bool = False) -> sqlite3.Connection:
    if readonly:
        conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True, isolation_level=None,
                               check_same_thread=False)
    else:
        conn = sqlite3.connect(str(path), isolation_level=None, check_same_thread=False)
    conn.execute("PRAGMA busy_timeout = 10000")
    return conn


class PunchLedger:
    def __init__(self, path: str | Path, gateway_id: str, project_code: str, *,
                 retention_days: int = 30, clock: ClockGuard | None = None):
        self.path = Path(path)
        # checks the wall clock before each stamp (edge_agent.clock): a suspect reading is replaced
        # by the best estimate, never below the last entry's time; the entry is committed regardless
        self.clock = clock or ClockGuard()
        self.gateway_id = gateway_id
        self.project_code = project_code
        self.retention_days = retention_days
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._lock = threading.RLock()
        self._conn = _connect(self.path)
        self.db = sqlite_utils.Database(self._conn)
        try:
            self._set_pragmas()
            self.migrated_from = migrate(self._conn)
            self._bind_gateway()
            self.quick_check = self._conn.execute("PRAGMA quick_check").fetchone()[0]
            self.verify_result = self.verify()
            self._head_seq, self._head_hash = self._load_head()
            self._head_time = self._load_head_time()
            reset = self.reset_sent()
        except BaseException:
            self._conn.close()
            raise
        self.ledger_ok = self.quick_check == "ok" and self.verify_result.ok
        if self.quick_check != "ok":
            log.error("ledger quick_check failed: %s", self.quick_check)
        if not self.verify_result.ok:
            log.error("ledger chain verification FAILED at seq %s: %s",
                      self.verify_result.bad_seq, self.verify_result.problem)
        log.info("ledger open: head_seq=%s verified=%s ok=%s sent_reset=%s",
                 self._head_seq, self.verify_result.checked, self.ledger_ok, reset)

    # ---- start-up ------------------------------------------------------------

    def _set_pragmas(self) -> None:
        mode = self._conn.execute("PRAGMA journal_mode = WAL").fetchone()[0]
        self._conn.execute("PRAGMA synchronous = FULL")
        sync = self._conn.execute("PRAGMA synchronous").fetchone()[0]
        if str(mode).lower() != "wal" or sync != 2:
            raise LedgerError(f"SQLite refused durability settings (journal_mode={mode}, "
                              f"synchronous={sync}); refusing to record punches")

    def _bind_gateway(self) -> None:
        row = self._conn.execute("SELECT value FROM meta WHERE key='gateway_id'").fetchone()
        if row is None:
            self._conn.execute("INSERT INTO meta (key, value) VALUES ('gateway_id', ?)",
                               (self.gateway_id,))
        elif row[0] != self.gateway_id:
            raise LedgerError(f"ledger {self.path} belongs to gateway {row[0]!r}, "
                              f"not {self.gateway_id!r}")

    def anchor(self) -> tuple[int, str]:
        row = self._conn.execute("SELECT seq, hash FROM chain_anchor WHERE id = 1").fetchone()
        return (row[0], row[1]) if row else (0, GENESIS_HASH)

    def _load_head(self) -> tuple[int, str]:
        row = self._conn.execute(
            "SELECT seq, entry_json FROM entries ORDER BY seq DESC LIMIT 1").fetchone()
        if row is None:
            return self.anchor()
        # hash of what is really stored, so new entries link to the actual last row
        return row[0], hashlib.sha256(row[1].encode("utf-8")).hexdigest()

    def _load_head_time(self) -> float | None:
        """``device_time`` of the last retained entry (the clock guard's floor)."""
        row = self._conn.execute("SELECT entry_json FROM entries ORDER BY seq DESC LIMIT 1").fetchone()
        try:
            return epoch_of(loads_strict(row[0].encode("utf-8"))["device_time"]) if row else None
        except (DecodeError, ValueError, KeyError, TypeError):
            return None

    @property
    def head_time(self) -> float | None:
        return self._head_time

    def verify(self) -> VerifyResult:
        """Verify every retained row from the anchor: hashes, canonical form, links."""
        with self._lock:
            prev_seq, prev_hash = self.anchor()
            checked = 0
            cur = self._conn.execute("SELECT seq, entry_json, entry_hash FROM entries ORDER BY seq")
            for seq, text, stored_hash in cur:
                data = text.encode("utf-8")
                problem = None
                if hashlib.sha256(data).hexdigest() != stored_hash:
                    problem = "stored entry does not match its hash"
                else:
                    try:
                        e = decode(LedgerEntry, loads_strict(data))
                    except DecodeError as exc:
                        e, problem = None, f"entry does not decode ({exc.reason})"
                    if e is not None:
                        if canonical_json(e.to_wire()) != data:
                            problem = "entry is not in canonical form"
                        elif e.seq != seq:
                            problem = "seq column differs from the entry"
                        elif e.gateway_id != self.gateway_id:
                            problem = "entry of another gateway"
                        elif seq != prev_seq + 1:
                            problem = f"gap after seq {prev_seq}"
                        elif e.prev_hash != prev_hash:
                            problem = "prev_hash does not match the previous entry"
                if problem:
                    return VerifyResult(False, checked, problem, seq)
                prev_seq, prev_hash = seq, stored_hash
                checked += 1
            return VerifyResult(True, checked)

    # ---- the gate side ----------------------------------------------------------

    def append(self, *, gate_id: str, direction: str | None, type: str = "punch",
               worker_ref: str | None = None, kind: str | None = None,
               match_score: float | None = None, liveness_score: float | None = None,
               liveness_cue: str | None = None, snapshot_ref: str | None = None,
               reject_reason: str | None = None, manual_reason: str | None = None,
               operator: str | None = None, event_kind: str | None = None,
               ref_seq: int | None = None) -> LedgerEntry:
        """Build the next entry (punch, rejected attempt or gate event) and COMMIT it;
        returns only once it is durable.

        Raises ``ValueError``/``DecodeError`` for an invalid decision (nothing is
        written then, and the gate must not open).
        """
        with self._lock:
            seq = self._head_seq + 1
            entry = LedgerEntry(
                type=type, event_id=uuid.uuid4().hex, gateway_id=self.gateway_id,
                project_code=self.project_code, gate_id=gate_id, seq=seq,
                prev_hash=self._head_hash, device_time=stamp_text(self.clock.stamp(self._head_time, seq)),
                monotonic_ns=time.monotonic_ns(), boot_id=BOOT_ID, direction=direction,
                worker_ref=worker_ref, kind=kind, match_score=match_score,
                liveness_score=liveness_score, liveness_cue=liveness_cue,
                snapshot_ref=snapshot_ref, reject_reason=reject_reason,
                manual_reason=manual_reason, operator=operator, event_kind=event_kind,
                ref_seq=ref_seq)
            wire = entry.to_wire()
            decode(LedgerEntry, wire)  # the receiver decodes strictly: never commit what it would refuse
            data = canonical_json(wire)
            digest = hashlib.sha256(data).hexdigest()
            self._conn.execute("BEGIN IMMEDIATE")
            try:
                self._conn.execute(
                    "INSERT INTO entries (seq, event_id, entry_json, entry_hash, state, committed_at)"
                    " VALUES (?, ?, ?, ?, 'pending', ?)",
                    (seq, entry.event_id, data.decode("utf-8"), digest, time.time()))
                self._conn.execute("COMMIT")
            except BaseException:
                self._conn.execute("ROLLBACK")
                raise
            self._head_seq, self._head_hash = seq, digest
            self._head_time = max(self._head_time or 0.0, epoch_of(entry.device_time))
            return entry

    # ---- the sync side ------------------------------------------------------------

    def claim_pending(self, batch_id: str, max_entries: int, max_bytes: int,
                      seqs: list[int] | None = None) -> list[tuple[int, str]]:
        """Mark up to ``max_entries`` pending rows ``sent`` (lowest seq first, or just
        ``seqs``) whose JSON totals at most ``max_bytes``; returns ``[(seq, json)]``."""
        with self._lock:
            if seqs is not None:
                marks = ",".join("?" * len(seqs))
                rows = self._conn.execute(
                    f"SELECT seq, entry_json FROM entries WHERE state = 'pending' AND seq IN ({marks})"
                    " ORDER BY seq", seqs).fetchmany(max_entries)
            else:
                rows = self._conn.execute(
                    "SELECT seq, entry_json FROM entries WHERE state = 'pending' ORDER BY seq LIMIT ?",
                    (max_entries,)).fetchall()
            taken, size = [], 0
            for seq, text in rows:
                size += len(text.encode("utf-8")) + 1  # + the comma between entries
                if taken and size > max_bytes:
                    break
                taken.append((seq, text))
            if not taken:
                return []
            self._conn.execute("BEGIN IMMEDIATE")
            try:
                if seqs is not None:
                    marks = ",".join("?" * len(taken))
                    self._conn.execute(
                        f"UPDATE entries SET state = 'sent', batch_id = ? WHERE seq IN ({marks})",
                        [batch_id, *(s for s, _ in taken)])
                else:
                    self._conn.execute(
                        "UPDATE entries SET state = 'sent', batch_id = ? "
                        "WHERE seq BETWEEN ? AND ? AND state = 'pending'",
                        (batch_id, taken[0][0], taken[-1][0]))
                self._conn.execute("COMMIT")
            except BaseException:
                self._conn.execute("ROLLBACK")
                raise
            return taken

    def mark_acked(self, ranges: list[tuple[int, int]], through_seq: int = 0) -> int:
        """Mark ``[first, last]`` ranges and every seq ≤ ``through_seq`` acked (one commit)."""
        now = time.time()
        changed = 0
        with self._lock:
            self._conn.execute("BEGIN IMMEDIATE")
            try:
                if through_seq > 0:
                    changed += self._conn.execute(
                        "UPDATE entries SET state = 'acked', acked_at = ? "
                        "WHERE seq <= ? AND state != 'acked'", (now, through_seq)).rowcount
                for first, last in ranges:
                    if last <= through_seq:
                        continue
                    changed += self._conn.execute(
                        "UPDATE entries SET state = 'acked', acked_at = ? "
                        "WHERE seq BETWEEN ? AND ? AND state != 'acked'",
                        (now, max(first, through_seq + 1), last)).rowcount
                self._conn.execute("COMMIT")
            except BaseException:
                self._conn.execute("ROLLBACK")
                raise
        return changed

    def release_batch(self, batch_id: str, first: int = 1, last: int = 2**62) -> int:
        """A batch's ``sent`` rows (within ``first..last`` if known) back to ``pending``."""
        with self._lock:
            return self._conn.execute(
                "UPDATE entries SET state = 'pending' "
                "WHERE seq BETWEEN ? AND ? AND state = 'sent' AND batch_id = ?",
                (first, last, batch_id)).rowcount

    def reset_sent(self) -> int:
        """Every ``sent`` row back to ``pending`` (start, disconnect)."""
        with self._lock:
            return self._conn.execute(
                "UPDATE entries SET state = 'pending' WHERE state = 'sent'").rowcount

    # ---- retention and statistics -----------------------------------------------

    def prune(self, now: float | None = None) -> int:
        """Delete the leading run of rows that are acked and older than retention_days."""
        cutoff = (time.time() if now is None else now) - self.retention_days * 86400
        with self._lock:
            self._conn.execute("BEGIN IMMEDIATE")
            try:
                keep = self._conn.execute(
                    "SELECT MIN(seq) FROM entries WHERE state != 'acked' OR committed_at >= ?",
                    (cutoff,)).fetchone()[0]
                if keep is None:
                    keep = self._head_seq + 1
                row = self._conn.execute(
                    "SELECT seq, entry_hash FROM entries WHERE seq < ? ORDER BY seq DESC LIMIT 1",
                    (keep,)).fetchone()
                deleted = 0
                if row is not None:
                    self._conn.execute(
                        "INSERT OR REPLACE INTO chain_anchor (id, seq, hash) VALUES (1, ?, ?)", row)
                    deleted = self._conn.execute(
                        "DELETE FROM entries WHERE seq <= ?", (row[0],)).rowcount
                self._conn.execute("COMMIT")
            except BaseException:
                self._conn.execute("ROLLBACK")
                raise
        if deleted:
            log.info("pruned %s acked entries through seq %s", deleted, row[0])
        return deleted

    @property
    def head_seq(self) -> int:
        return self._head_seq

    def stats(self) -> BacklogStats:
        with self._lock:
            return _stats(self._conn, self._head_seq)

    def entries(self, first: int = 1) -> list[LedgerEntry]:
        """Decoded retained entries from ``first`` on (tests, tools)."""
        with self._lock:
            rows = self._conn.execute("SELECT entry_json FROM entries WHERE seq >= ? ORDER BY seq",
                                      (first,)).fetchall()
        return [decode(LedgerEntry, loads_strict(r[0].encode("utf-8"))) for r in rows]

    def states(self) -> dict[int, str]:
        with self._lock:
            return dict(self._conn.execute("SELECT seq, state FROM entries ORDER BY seq"))

    def close(self) -> None:
        with self._lock:
            self._conn.close()


def _stats(conn: sqlite3.Connection, head_seq: int) -> BacklogStats:
    rows = dict(conn.execute(
        "SELECT state, COUNT(*) FROM entries WHERE state != 'acked' GROUP BY state").fetchall())
    first = conn.execute(
        "SELECT seq, committed_at FROM entries WHERE state != 'acked' ORDER BY seq LIMIT 1").fetchone()
    anchor = conn.execute("SELECT seq FROM chain_anchor WHERE id = 1").fetchone()
    pending, sent = rows.get("pending", 0), rows.get("sent", 0)
    return BacklogStats(
        head_seq=head_seq,
        acked_through_seq=(first[0] - 1) if first else head_seq,
        backlog=pending + sent, pending=pending, sent=sent,
        oldest_unacked_age_s=max(0.0, time.time() - first[1]) if first else None,
        anchor_seq=anchor[0] if anchor else 0)


def read_status(path: str | Path) -> dict:
    """Backlog figures read-only, without migrating or touching a running agent's file."""
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"{path}: no ledger")
    conn = _connect(path, readonly=True)
    try:
        version = conn.execute("PRAGMA user_version").fetchone()[0]
        if version != SCHEMA_VERSION:
            raise LedgerError(f"ledger schema version {version}, this software expects "
                              f"{SCHEMA_VERSION}: start the agent once to migrate it")
        head = conn.execute("SELECT MAX(seq) FROM entries").fetchone()[0]
        if head is None:
            anchor = conn.execute("SELECT seq FROM chain_anchor WHERE id = 1").fetchone()
            head = anchor[0] if anchor else 0
        out = _stats(conn, head).to_dict()
        out["schema_version"] = version
        return out
    finally:
        conn.close()
