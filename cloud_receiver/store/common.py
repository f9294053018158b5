"""SQL shared by both dialects; ``sqlite.py`` / ``postgres.py`` supply connections and fast paths.

SQL is written with ``?`` placeholders and translated for psycopg.

Batch insert (:meth:`SqlStore.apply_batch`), in one transaction per batch:

1. lock the gateway row (PostgreSQL ``FOR UPDATE``; SQLite ``BEGIN IMMEDIATE``), read the
   receiver watermark ``rx_through_seq`` (contiguous stored prefix);
2. one query for the stored rows at the batch's seqs and their neighbours (seq±1) and for
   any stored row with one of the batch's event ids;
3. classify in memory: duplicate (same hash), ``seq_conflict`` (different content or an
   event id reused: the original is kept), new; the chain link of each new entry is
   ``verified`` / ``mismatch`` (alert ``chain_mismatch``) / ``pending`` (predecessor absent);
   a stored ``pending`` successor of a new entry is re-checked;
4. bulk insert of the new rows, chain-status updates, alerts, counters;
5. advance the watermark from the in-memory set, with one indexed gap query only when
   the run may continue beyond what was read.
"""

from __future__ import annotations

import logging
import threading
from contextlib import contextmanager, nullcontext

from shared_schema.chain import GENESIS_HASH

from .anomalies import AnomalyQueries
from .dashboard import DashboardQueries
from .base import BatchResult, EntryRow, GatewayKeyConflict, Store, SweepResult, seq_ranges
from .migrations import MIGRATIONS
from .projects import ProjectQueries
from .supervision import SupervisionQueries
from .tokens import TokenQueries
from .wage import WageQueries
from .workers import RosterDownQueries, WorkerRegistryQueries

log = logging.getLogger(__name__)

BOOL_COLS = ("disk_alarm", "ledger_ok", "online", "face_consent")
GATEWAY_COLS = ("gateway_id, public_key, project_code, site, vendor, registered_at, key_replaced_at, "
                "last_seen, rx_through_seq, last_heartbeat_at, head_seq, acked_through_seq, backlog, "
                "oldest_unacked_age_s, clock_offset_s, boot_id, software_version, disk_free_bytes, "
                "disk_alarm, ledger_ok, devices_json, online, status_since, status_reason, status_at, revoked_at")
PUNCH_COLS = ("gateway_id, seq, event_id, project_code, gate_id, device_time, direction, worker_ref, "
              "kind, match_score, liveness_score, liveness_cue, snapshot_ref, manual_reason, operator, "
              "chain_status, received_at")
GATE_EVENT_COLS = ("gateway_id, seq, event_id, project_code, gate_id, device_time, device_date, event_kind, "
                   "ref_seq, direction, worker_ref, liveness_cue, snapshot_ref, manual_reason, operator, "
                   "chain_status, received_at")
# A punch's passage: "not_passed" when a not_passed gate event of its gateway refers to it
# (index ledger_gate_event_ref); NULL otherwise.
_PASSAGE = ("CASE WHEN EXISTS (SELECT 1 FROM ledger g WHERE g.type = 'gate_event' AND g.gateway_id = p.gateway_id "
            "AND g.ref_seq = p.seq AND g.event_kind = 'not_passed') THEN 'not_passed' END AS passage")
_PUNCHES_SQL = (f"SELECT {', '.join('p.' + c for c in PUNCH_COLS.split(', '))}, {_PASSAGE} FROM punches p "
                "WHERE p.project_code = ? AND p.device_date = ? "
                "ORDER BY p.device_time, p.gateway_id, p.seq LIMIT ? OFFSET ?")


def _fix(row: dict) -> dict:
    for c in BOOL_COLS:
        if c in row and row[c] is not None:
            row[c] = bool(row[c])
    return row


class SqlStore(SupervisionQueries, ProjectQueries, AnomalyQueries, TokenQueries, WageQueries, DashboardQueries,
               WorkerRegistryQueries, RosterDownQueries, Store):
    PH = "?"

    def __init__(self, url: str):
        self.url = url
        self._local = threading.local()
        self._all_conns: list = []
        self._lock = threading.Lock()
        self._sql_cache: dict[str, str] = {}

    # ---- dialect hooks -------------------------------------------------------
    def _connect(self):  # pragma: no cover - abstract
        raise NotImplementedError

    @contextmanager
    def _write(self):
        """Yield a cursor inside one write transaction (commit on success)."""
        raise NotImplementedError

    def _lock_migrations(self, cur) -> None:
        pass

    def _lock_gateway_sql(self) -> str:
        return "SELECT rx_through_seq FROM gateways WHERE gateway_id = ?"

    def _fetch_existing(self, cur, gateway_id: str, seqs: list[int], event_ids: list[str]):
        """→ (rows at gateway_id/seqs as {seq: row}, rows holding one of event_ids as {event_id: row})."""
        raise NotImplementedError

    def _batch_tx(self):
        """The write transaction of one batch (the dialect may defer BEGIN to :meth:`_lock_and_fetch`)."""
        return self._write()

    def _lock_and_fetch(self, cur, gateway_id: str, seqs: list[int], event_ids: list[str], *, safe: bool = True):
        """Lock the gateway row, then read (in a snapshot taken after the lock) the stored rows:
        → (rx_through_seq or None if unregistered, existing {seq: row}, taken {event_id: row}).
        With ``safe=False`` the dialect may skip the event-id lookup (``taken`` empty) if its
        unsafe :meth:`_insert_rows` fails on a stored event id."""
        lock = self._q(cur, self._lock_gateway_sql(), (gateway_id,))
        if not lock:
            return None, {}, {}
        return (lock[0]["rx_through_seq"], *self._fetch_existing(cur, gateway_id, seqs, event_ids))

    def _batch_tail(self, cur):
        """Context for the batch's last writes (no results read); may pipeline them with COMMIT."""
        return nullcontext()

    def _insert_rows(self, cur, rows: list[EntryRow], *, safe: bool = True) -> set[int]:
        """Insert new ledger rows; return the seqs actually inserted."""
        raise NotImplementedError

    # ---- plumbing -------------------------------------------------------------
    def _sql(self, sql: str) -> str:
        if self.PH == "?":
            return sql
        out = self._sql_cache.get(sql)
        if out is None:
            out = self._sql_cache[sql] = sql.replace("?", self.PH)
        return out

    def _conn_for_thread(self):
        conn = getattr(self._local, "conn", None)
        if conn is None or getattr(conn, "closed", False):
            conn = self._connect()
            self._local.conn = conn
            with self._lock:
                self._all_conns.append(conn)
        return conn

    def _drop_thread_conn(self) -> None:
        conn = getattr(self._local, "conn", None)
        self._local.conn = None
        if conn is not None:
            try:
                conn.close()
            except Exception:  # noqa: BLE001 - already broken
                pass

    def _q(self, cur, sql: str, params=()) -> list[dict]:
        cur.execute(self._sql(sql), params)
        if cur.description is None:
            return []
        names = [d[0] for d in cur.description]
        return [dict(zip(names, r)) for r in cur.fetchall()]

    def _x(self, cur, sql: str, params=()) -> None:
        cur.execute(self._sql(sql), params)

    def _xm(self, cur, sql: str, rows) -> None:
        if rows:
            cur.executemany(self._sql(sql), rows)

    def _read(self, sql: str, params=()) -> list[dict]:
        conn = self._conn_for_thread()
        try:
            cur = conn.cursor()
            try:
                return [_fix(r) for r in self._q(cur, sql, params)]
            finally:
                cur.close()
        except Exception:
            self._after_error()
            raise

    def _after_error(self) -> None:
        """Hook: drop a broken connection so the next call reconnects."""

    def close(self) -> None:
        with self._lock:
            conns, self._all_conns = self._all_conns, []
        for c in conns:
            try:
                c.close()
            except Exception:  # noqa: BLE001
                pass
        self._local = threading.local()

    def ping(self) -> bool:
        try:
            return self._read("SELECT 1 AS one")[0]["one"] == 1
        except Exception:  # noqa: BLE001 - health check reports, never raises
            log.warning("store ping failed", exc_info=True)
            return False

    # ---- schema -------------------------------------------------------------
    def schema_version(self) -> int:
        try:
            rows = self._read("SELECT max(version) AS v FROM schema_migrations")
        except Exception:  # noqa: BLE001 - no table yet
            return 0
        return rows[0]["v"] or 0

    def migrate(self) -> list[int]:
        applied = []
        with self._write() as cur:
            self._lock_migrations(cur)
            self._x(cur, "CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, "
                         "name TEXT NOT NULL, applied_at DOUBLE PRECISION NOT NULL)")
            done = {r["version"] for r in self._q(cur, "SELECT version FROM schema_migrations")}
            import time
            for version, name, statements in MIGRATIONS[self.dialect]:
                if version in done:
                    continue
                for stmt in statements:
                    self._x(cur, stmt)
                self._x(cur, "INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, ?)",
                        (version, name, time.time()))
                applied.append(version)
        if applied:
            log.info("store %s: applied migrations %s", self.dialect, applied)
        return applied

    # ---- gateways -------------------------------------------------------------
    def register_gateway(self, gateway_id, public_key_hex, project_code, vendor, site=None, *,
                         replace=False, now):
        with self._write() as cur:
            rows = self._q(cur, "SELECT public_key FROM gateways WHERE gateway_id = ?", (gateway_id,))
            if not rows:
                self._x(cur, "INSERT INTO gateways (gateway_id, public_key, project_code, site, vendor, "
                             "registered_at) VALUES (?, ?, ?, ?, ?, ?)",
                        (gateway_id, public_key_hex, project_code, site, vendor, now))
                return "registered"
            same = rows[0]["public_key"] == public_key_hex
            if not same and not replace:
                raise GatewayKeyConflict(f"gateway {gateway_id} is registered with another key")
            # a replaced key (the gateway's new box) also lifts a revocation of the old one
            self._x(cur, "UPDATE gateways SET public_key = ?, project_code = ?, site = ?, vendor = ?, "
                         "key_replaced_at = CASE WHEN ? THEN ? ELSE key_replaced_at END, "
                         "revoked_at = CASE WHEN ? THEN NULL ELSE revoked_at END WHERE gateway_id = ?",
                    (public_key_hex, project_code, site, vendor, not same, now, not same, gateway_id))
            return "updated" if same else "replaced"

    def get_gateway(self, gateway_id):
        rows = self._read(f"SELECT {GATEWAY_COLS} FROM gateways WHERE gateway_id = ?", (gateway_id,))
        return rows[0] if rows else None

    def list_gateways(self):
        return self._read(f"SELECT {GATEWAY_COLS} FROM gateways ORDER BY gateway_id")

    def purge_exited_photos(self, cutoff):
        """Clear head photos of people with no active membership whose last one changed before
        ``cutoff`` (cloud_receiver.retention); returns how many were cleared."""
        with self._write() as cur:
            self._x(cur, "UPDATE persons SET head_image_b64 = NULL WHERE head_image_b64 IS NOT NULL "
                         "AND NOT EXISTS (SELECT 1 FROM memberships m WHERE m.id_type = persons.id_type "
                         "AND m.id_number = persons.id_number AND (m.status = 'active' OR m.updated_at >= ?))",
                    (cutoff,))
            return cur.rowcount

    def revoke_gateway(self, gateway_id, now):
        """Mark a registered gateway revoked (idempotent: the first time stays). False if unknown."""
        with self._write() as cur:
            rows = self._q(cur, "SELECT revoked_at FROM gateways WHERE gateway_id = ?", (gateway_id,))
            if not rows:
                return False
            if rows[0]["revoked_at"] is None:
                self._x(cur, "UPDATE gateways SET revoked_at = ? WHERE gateway_id = ?", (now, gateway_id))
            return True

    def watermark(self, gateway_id):
        rows = self._read("SELECT rx_through_seq FROM gateways WHERE gateway_id = ?", (gateway_id,))
        return rows[0]["rx_through_seq"] if rows else 0

    # ---- ingest ---------------------------------------------------------------
    def apply_batch(self, gateway_id, batch_id, rows, now):
        return self._apply_batch(gateway_id, batch_id, rows, now, safe=True)

    def _apply_batch(self, gateway_id, batch_id, rows, now, *, safe: bool) -> BatchResult:
        """``safe=False`` lets the dialect insert without conflict handling (faster); it must then
        raise if a row conflicts, and the caller retries the whole batch with ``safe=True``."""
        res = BatchResult(gateway_id=gateway_id, batch_id=batch_id)
        seqs = [r.seq for r in rows]
        seqset = set(seqs)
        needed_set = seqset | {s - 1 for s in seqset if s > 1} | {s + 1 for s in seqset}
        needed = sorted(needed_set)
        with self._batch_tx() as cur:
            lock, existing, taken = self._lock_and_fetch(cur, gateway_id, needed, [r.event_id for r in rows],
                                                          safe=safe)
            if lock is None:
                raise LookupError(f"gateway {gateway_id} is not registered")
            w0 = lock
            known = {s: e["entry_hash"] for s, e in existing.items()}
            alerts: list[tuple] = []
            new: list[EntryRow] = []
            for r in rows:
                ex = existing.get(r.seq)
                if ex is not None:
                    if ex["entry_hash"] == r.entry_hash:
                        res.duplicates.append(r.seq)
                    else:
                        res.conflicts.append(r.seq)
                        alerts.append((gateway_id, r.seq, "seq_conflict",
                                       f"seq {r.seq} resent with different content: stored hash "
                                       f"{ex['entry_hash']}, received {r.entry_hash}; original kept", now))
                    continue
                other = taken.get(r.event_id)
                if other is not None:
                    res.conflicts.append(r.seq)
                    alerts.append((gateway_id, r.seq, "seq_conflict",
                                   f"event id already stored at {other['gateway_id']}/{other['seq']}; "
                                   f"entry hash {r.entry_hash} not stored", now))
                    continue
                new.append(r)
                known[r.seq] = r.entry_hash
            for r in new:
                pred = GENESIS_HASH if r.seq == 1 else known.get(r.seq - 1)
                if pred is None:
                    r.chain_status = "pending"
                    res.pending.append(r.seq)
                elif pred == r.prev_hash:
                    r.chain_status = "verified"
                else:
                    r.chain_status = "mismatch"
                    res.mismatches.append(r.seq)
                    alerts.append((gateway_id, r.seq, "chain_mismatch",
                                   f"prev_hash of seq {r.seq} does not match the hash of seq {r.seq - 1}", now))
            inserted = self._insert_rows(cur, new, safe=safe) if new else set()
            for r in new:
                if r.seq not in inserted:  # lost a race on the event id with another gateway's batch
                    res.conflicts.append(r.seq)
                    alerts.append((gateway_id, r.seq, "seq_conflict", "event id already stored", now))
            res.new = [r.seq for r in new if r.seq in inserted]
            updates, resolved = [], []
            for r in new:
                succ = existing.get(r.seq + 1)
                if r.seq in inserted and succ is not None and succ["chain_status"] == "pending":
                    if succ["prev_hash"] == r.entry_hash:
                        updates.append(("verified", gateway_id, r.seq + 1))
                        resolved.append((now, gateway_id, r.seq + 1))
                    else:
                        updates.append(("mismatch", gateway_id, r.seq + 1))
                        res.mismatches.append(r.seq + 1)
                        alerts.append((gateway_id, r.seq + 1, "chain_mismatch",
                                       f"prev_hash of seq {r.seq + 1} does not match the hash of seq {r.seq}", now))
            stored = set(existing) | set(res.new)
            w = w0
            while w + 1 in stored:
                w += 1
            if w > w0 and (w + 1) not in needed_set:
                w = self._extend_watermark(cur, gateway_id, w)
            # Writes whose results are not needed: one round trip where the dialect can pipeline.
            with self._batch_tail(cur):
                self._xm(cur, "UPDATE ledger SET chain_status = ? WHERE gateway_id = ? AND seq = ?", updates)
                self._xm(cur, "UPDATE tamper_alerts SET state = 'resolved', state_changed_at = ? "
                              "WHERE gateway_id = ? AND seq = ? AND kind = 'chain_gap' AND state = 'open'", resolved)
                self._xm(cur, "INSERT INTO tamper_alerts (gateway_id, seq, kind, detail, detected_at) "
                              "VALUES (?, ?, ?, ?, ?) ON CONFLICT (gateway_id, seq, kind) DO NOTHING", alerts)
                bumps = [(n, k) for n, k in (("duplicates_dropped", len(res.duplicates)),
                                             ("seq_conflicts", len(res.conflicts))) if k]
                if bumps:
                    self._x(cur, "INSERT INTO counters (name, value) VALUES "
                                 + ", ".join(["(?, ?)"] * len(bumps))
                                 + " ON CONFLICT (name) DO UPDATE SET value = counters.value + excluded.value",
                            [v for b in bumps for v in b])
                self._x(cur, "UPDATE gateways SET rx_through_seq = ?, last_seen = ? WHERE gateway_id = ?",
                        (w, now, gateway_id))
        res.acked_through_seq = w
        res.stored_ranges = seq_ranges(s for s in seqs if s in stored or s in res.conflicts)
        for a in alerts:
            log.warning("tamper alert %s gateway=%s seq=%s", a[2], a[0], a[1])
        return res

    def _extend_watermark(self, cur, gateway_id: str, w: int) -> int:
        rows = self._q(cur, "SELECT l.seq FROM ledger l WHERE l.gateway_id = ? AND l.seq >= ? AND NOT EXISTS "
                            "(SELECT 1 FROM ledger n WHERE n.gateway_id = l.gateway_id AND n.seq = l.seq + 1) "
                            "ORDER BY l.seq LIMIT 1", (gateway_id, w))
        return rows[0]["seq"] if rows else w

    def _bump(self, cur, name: str, n: int) -> None:
        self._x(cur, "INSERT INTO counters (name, value) VALUES (?, ?) "
                     "ON CONFLICT (name) DO UPDATE SET value = counters.value + excluded.value", (name, n))

    def bump(self, name, n=1):
        with self._write() as cur:
            self._bump(cur, name, n)

    def record_rejection(self, gateway_id, channel, reason, size, sha256, now):
        with self._write() as cur:
            self._x(cur, "INSERT INTO rejected_messages (received_at, gateway_id, channel, reason, size, sha256) "
                         "VALUES (?, ?, ?, ?, ?, ?)", (now, gateway_id, channel, reason, size, sha256))
            self._bump(cur, f"rejected:{reason}", 1)

    def update_heartbeat(self, gateway_id, hb, now):
        with self._write() as cur:
            self._x(cur, "UPDATE gateways SET last_seen = ?, last_heartbeat_at = ?, head_seq = ?, "
                         "acked_through_seq = ?, backlog = ?, oldest_unacked_age_s = ?, clock_offset_s = ?, "
                         "boot_id = ?, software_version = ?, disk_free_bytes = ?, disk_alarm = ?, ledger_ok = ?, "
                         "devices_json = ? WHERE gateway_id = ?",
                    (now, now, hb["head_seq"], hb["acked_through_seq"], hb["backlog"],
                     hb["oldest_unacked_age_s"], hb["clock_offset_s"], hb["boot_id"], hb["software_version"],
                     hb["disk_free_bytes"], hb["disk_alarm"], hb["ledger_ok"], hb["devices_json"], gateway_id))

    def update_status(self, gateway_id, online, since, reason, software_version, now):
        """Apply a status unless an equal-or-newer ``since`` was already applied... older ones are ignored."""
        with self._write() as cur:
            self._x(cur, "UPDATE gateways SET online = ?, status_since = ?, status_reason = ?, status_at = ?, "
                         "software_version = ?, last_seen = ? "
                         "WHERE gateway_id = ? AND (status_since IS NULL OR status_since <= ?)",
                    (online, since, reason, now, software_version, now, gateway_id, since))
            return cur.rowcount == 1

    def add_roster_change(self, row, now):
        cols = list(row) + ["received_at"]
        with self._write() as cur:
            self._x(cur, f"INSERT INTO roster_changes ({', '.join(cols)}) VALUES ({', '.join('?' * len(cols))}) "
                         "ON CONFLICT (change_id) DO NOTHING", (*row.values(), now))
            return cur.rowcount == 1

    # ---- sweep -----------------------------------------------------------------
    def sweep(self, now, gap_grace_s):
        res = SweepResult()
        with self._write() as cur:
            links = self._q(cur, "SELECT l.gateway_id, l.seq, l.prev_hash, p.entry_hash AS pred_hash "
                                 "FROM ledger l JOIN ledger p ON p.gateway_id = l.gateway_id AND p.seq = l.seq - 1 "
                                 "WHERE l.chain_status = 'pending'")
            updates, alerts, resolved = [], [], []
            for x in links:
                ok = x["pred_hash"] == x["prev_hash"]
                updates.append(("verified" if ok else "mismatch", x["gateway_id"], x["seq"]))
                if ok:
                    res.verified += 1
                    resolved.append((now, x["gateway_id"], x["seq"]))
                else:
                    res.mismatches += 1
                    alerts.append((x["gateway_id"], x["seq"], "chain_mismatch",
                                   f"prev_hash of seq {x['seq']} does not match the hash of seq {x['seq'] - 1}", now))
            self._xm(cur, "UPDATE ledger SET chain_status = ? WHERE gateway_id = ? AND seq = ?", updates)
            self._xm(cur, "UPDATE tamper_alerts SET state = 'resolved', state_changed_at = ? "
                          "WHERE gateway_id = ? AND seq = ? AND kind = 'chain_gap' AND state = 'open'", resolved)
            res.gaps_resolved = len(resolved)
            holes = self._q(cur, "SELECT l.gateway_id, l.seq, (SELECT max(b.seq) FROM ledger b WHERE "
                                 "b.gateway_id = l.gateway_id AND b.seq < l.seq) AS below FROM ledger l "
                                 "WHERE l.chain_status = 'pending' AND l.received_at <= ? AND NOT EXISTS "
                                 "(SELECT 1 FROM tamper_alerts t WHERE t.gateway_id = l.gateway_id "
                                 "AND t.seq = l.seq AND t.kind = 'chain_gap')", (now - gap_grace_s,))
            for h in holes:
                first = (h["below"] or 0) + 1
                alerts.append((h["gateway_id"], h["seq"], "chain_gap",
                               f"seq {first}..{h['seq'] - 1} missing for more than {gap_grace_s:g} s", now))
                res.gap_alerts += 1
                log.warning("tamper alert chain_gap gateway=%s seqs %s..%s", h["gateway_id"], first, h["seq"] - 1)
            self._xm(cur, "INSERT INTO tamper_alerts (gateway_id, seq, kind, detail, detected_at) "
                          "VALUES (?, ?, ?, ?, ?) ON CONFLICT (gateway_id, seq, kind) DO NOTHING", alerts)
        return res

    # ---- queries -----------------------------------------------------------------
    def punches(self, project_code, date, limit, offset):
        return self._read(_PUNCHES_SQL, (project_code, date, limit, offset))

    def gate_events(self, gateway_id, date, kind, limit, offset):
        where, params = [], []
        for col, value in (("gateway_id", gateway_id), ("device_date", date), ("event_kind", kind)):
            if value is not None:
                where.append(f"{col} = ?")
                params.append(value)
        sql = (f"SELECT {GATE_EVENT_COLS} FROM gate_events" + (" WHERE " + " AND ".join(where) if where else "")
               + " ORDER BY device_time, gateway_id, seq LIMIT ? OFFSET ?")
        return self._read(sql, (*params, limit, offset))

    def alerts(self, state, gateway_id, limit, offset):
        where, params = [], []
        if state:
            where.append("state = ?")
            params.append(state)
        if gateway_id:
            where.append("gateway_id = ?")
            params.append(gateway_id)
        sql = ("SELECT alert_id, gateway_id, seq, kind, detail, detected_at, state, state_changed_at, "
               "state_operator, state_note FROM tamper_alerts" + (" WHERE " + " AND ".join(where) if where else "") +
               " ORDER BY alert_id LIMIT ? OFFSET ?")
        return self._read(sql, (*params, limit, offset))

    def set_alert_state(self, alert_id, state, now, operator=None, note=None):
        with self._write() as cur:
            self._x(cur, "UPDATE tamper_alerts SET state = ?, state_changed_at = ?, state_operator = ?, "
                         "state_note = ? WHERE alert_id = ?", (state, now, operator, note, alert_id))
            return cur.rowcount == 1

    def counters(self):
        return {r["name"]: r["value"] for r in self._read("SELECT name, value FROM counters ORDER BY name")}

    def stats(self):
        c = self.counters()
        counts = {r["type"]: r["n"] for r in self._read("SELECT type, count(*) AS n FROM ledger GROUP BY type")}
        chain = {r["chain_status"]: r["n"] for r in
                 self._read("SELECT chain_status, count(*) AS n FROM ledger GROUP BY chain_status")}
        alerts: dict[str, dict[str, int]] = {}
        for r in self._read("SELECT kind, state, count(*) AS n FROM tamper_alerts GROUP BY kind, state"):
            alerts.setdefault(r["kind"], {})[r["state"]] = r["n"]
        return {
            "punches": counts.get("punch", 0),
            "rejected_attempts": counts.get("rejected", 0),
            "gate_events": counts.get("gate_event", 0),
            "duplicates_dropped": c.get("duplicates_dropped", 0),
            "seq_conflicts": c.get("seq_conflicts", 0),
            "rejected": {k.split(":", 1)[1]: v for k, v in c.items() if k.startswith("rejected:")},
            "gateways": self._read("SELECT count(*) AS n FROM gateways")[0]["n"],
            "chain_status": chain,
            "tamper_alerts": alerts,
            "roster_changes": self._read("SELECT count(*) AS n FROM roster_changes")[0]["n"],
        }

    def ledger(self, gateway_id=None):
        cols = "gateway_id, seq, event_id, type, entry_hash, prev_hash, chain_status, batch_id, ingest_no"
        if gateway_id is None:
            return self._read(f"SELECT {cols} FROM ledger ORDER BY gateway_id, seq")
        return self._read(f"SELECT {cols} FROM ledger WHERE gateway_id = ? ORDER BY seq", (gateway_id,))
