"""Ledger ingest (batch insert) and the chain sweep, both dialects (mixed into
:class:`~.common.SqlStore`; the dialect hooks ``_lock_and_fetch``, ``_insert_rows``,
``_batch_tx`` and ``_batch_tail`` are defined there).

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

from shared_schema.chain import GENESIS_HASH

from .base import BatchResult, EntryRow, SweepResult, seq_ranges

log = logging.getLogger(__name__)


class IngestQueries:
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
