"""PostgreSQL store (production) via psycopg 3.

Batch insert (see ``common.py``), three server round trips for a clean batch:

1. one pipeline: ``BEGIN``, lock the gateway row ``FOR UPDATE`` (receivers racing on one
   gateway serialise while different gateways proceed in parallel), then read the stored
   rows in a statement of its own, so its snapshot is taken *after* the lock is granted
   (by seq only: the event-id lookup is left to the unique index, see 2.);
2. ``COPY`` the new rows straight into ``ledger``. No seq conflict is possible: we hold the
   gateway lock and have just read this gateway's seqs. A new entry whose event id is already
   stored (an anomaly: a reused id, or a race with another gateway's batch) makes the COPY
   fail; the transaction rolls back and the batch is redone on the *safe* path, which is the
   general algorithm of ``common.py``: the read also looks up the batch's event ids, and the
   rows go through a per-connection temporary staging table into
   ``INSERT ... SELECT ... ON CONFLICT DO NOTHING RETURNING seq``;
3. one pipeline: chain-status updates, alerts, counters, watermark and ``COMMIT``.
"""

from __future__ import annotations

import logging
from contextlib import contextmanager

import psycopg
from psycopg import pq

from .base import LEDGER_COLUMNS
from .common import SqlStore

log = logging.getLogger(__name__)

_COLS = ", ".join(LEDGER_COLUMNS)
_SELECT = "SELECT gateway_id, seq, event_id, entry_hash, prev_hash, chain_status FROM ledger "
_FETCH = _SELECT + "WHERE (gateway_id = %s AND seq = ANY(%s)) OR event_id = ANY(%s)"
_FETCH_SEQS = _SELECT + "WHERE gateway_id = %s AND seq = ANY(%s)"
_FETCH_RANGE = _SELECT + "WHERE gateway_id = %s AND seq BETWEEN %s AND %s"


class PostgresStore(SqlStore):
    dialect = "postgresql"
    PH = "%s"

    def _connect(self):
        conn = psycopg.connect(self.url, autocommit=True, application_name="cloud-receiver")
        conn.execute("SET TIME ZONE 'UTC'")
        conn._rn_staging = False  # type: ignore[attr-defined]
        return conn

    def _after_error(self) -> None:
        conn = getattr(self._local, "conn", None)
        if conn is not None and conn.closed:
            self._drop_thread_conn()

    @contextmanager
    def _write(self):
        conn = self._conn_for_thread()
        try:
            with conn.transaction():
                with conn.cursor() as cur:
                    yield cur
        except psycopg.OperationalError:
            self._drop_thread_conn()  # reconnect on next use
            raise
        except BaseException:
            conn._rn_staging = False  # a rolled-back CREATE TEMP TABLE is gone
            raise

    # ---- batch transaction: BEGIN is sent by _lock_and_fetch, COMMIT by _batch_tail ----------
    @contextmanager
    def _batch_tx(self):
        conn = self._conn_for_thread()
        try:
            with conn.cursor() as cur:
                yield cur
            if conn.info.transaction_status != pq.TransactionStatus.IDLE:
                conn.execute("COMMIT")
        except psycopg.OperationalError:
            self._drop_thread_conn()  # reconnect on next use
            raise
        except BaseException:
            conn._rn_staging = False  # a rolled-back CREATE TEMP TABLE is gone
            try:
                if not conn.closed and conn.info.transaction_status != pq.TransactionStatus.IDLE:
                    conn.execute("ROLLBACK")
            except psycopg.Error:
                self._drop_thread_conn()
            raise

    def _lock_and_fetch(self, cur, gateway_id, seqs, event_ids, *, safe=True):
        conn = cur.connection
        if safe:
            fetch, params = _FETCH, (gateway_id, seqs, event_ids)
        elif seqs and seqs[-1] - seqs[0] < 2 * len(seqs):  # (nearly) contiguous: one index range
            fetch, params = _FETCH_RANGE, (gateway_id, seqs[0], seqs[-1])
        else:
            fetch, params = _FETCH_SEQS, (gateway_id, seqs)
        # Fast path: no event-id lookup; a stored event id makes the COPY fail (see apply_batch).
        with conn.pipeline() as p, conn.cursor() as cur2:
            conn.execute("BEGIN")
            cur.execute(self._lock_gateway_sql().replace("?", "%s"), (gateway_id,))
            cur2.execute(fetch, params)
            p.sync()
            lock = cur.fetchone()
            found = cur2.fetchall()
        if lock is None:
            return None, {}, {}
        return (lock[0], *self._classify_existing(found, gateway_id, seqs, event_ids))

    @contextmanager
    def _batch_tail(self, cur):
        with cur.connection.pipeline():
            yield
            cur.execute("COMMIT")

    def apply_batch(self, gateway_id, batch_id, rows, now):
        try:
            return self._apply_batch(gateway_id, batch_id, rows, now, safe=False)
        except psycopg.errors.UniqueViolation:
            log.info("batch %s gateway=%s: concurrent event id conflict, redoing on the safe path",
                     batch_id, gateway_id)
            return self._apply_batch(gateway_id, batch_id, rows, now, safe=True)

    def _lock_migrations(self, cur) -> None:
        cur.execute("SELECT pg_advisory_xact_lock(7325001)")

    def _lock_gateway_sql(self) -> str:
        return "SELECT rx_through_seq FROM gateways WHERE gateway_id = ? FOR UPDATE"

    @staticmethod
    def _classify_existing(found, gateway_id, seqs, event_ids):
        existing, taken = {}, {}
        wanted = set(event_ids)
        seqset = set(seqs)
        for g, s, e, h, p, c in found:
            row = {"gateway_id": g, "seq": s, "event_id": e, "entry_hash": h, "prev_hash": p, "chain_status": c}
            if g == gateway_id and s in seqset:
                existing[s] = row
            if e in wanted and not (g == gateway_id and s in existing):
                taken[e] = row
        return existing, taken

    def _fetch_existing(self, cur, gateway_id, seqs, event_ids):
        cur.execute(_FETCH, (gateway_id, seqs, event_ids))
        return self._classify_existing(cur.fetchall(), gateway_id, seqs, event_ids)

    def _insert_rows(self, cur, rows, *, safe=True):
        rows = sorted(rows, key=lambda r: r.seq)
        if not safe:  # straight into the ledger; a conflict raises UniqueViolation (see apply_batch)
            with cur.copy(f"COPY ledger ({_COLS}) FROM STDIN") as copy:
                write = copy.write_row
                for r in rows:
                    write(r.as_tuple())
            return {r.seq for r in rows}
        conn = cur.connection
        if not getattr(conn, "_rn_staging", False):
            cur.execute("CREATE TEMP TABLE IF NOT EXISTS ledger_stage ON COMMIT DELETE ROWS AS "
                        f"SELECT {_COLS} FROM ledger WITH NO DATA")
            conn._rn_staging = True  # reset by _write/_batch_tx if this transaction rolls back
        with cur.copy(f"COPY ledger_stage ({_COLS}) FROM STDIN") as copy:
            for r in rows:
                copy.write_row(r.as_tuple())
        cur.execute(f"INSERT INTO ledger ({_COLS}) SELECT {_COLS} FROM ledger_stage ORDER BY seq "
                    "ON CONFLICT DO NOTHING RETURNING seq")
        return {s for (s,) in cur.fetchall()}
