"""PostgreSQL store (production) via psycopg 3.

Batch insert fast path: ``COPY`` the new rows into a per-connection temporary
staging table, then ``INSERT ... SELECT ... ON CONFLICT DO NOTHING RETURNING seq``;
the gateway row is locked ``FOR UPDATE`` so receivers racing on one gateway
serialise while different gateways proceed in parallel.
"""

from __future__ import annotations

from contextlib import contextmanager

import psycopg

from .base import LEDGER_COLUMNS
from .common import SqlStore

_COLS = ", ".join(LEDGER_COLUMNS)


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

    def _lock_migrations(self, cur) -> None:
        cur.execute("SELECT pg_advisory_xact_lock(7325001)")

    def _lock_gateway_sql(self) -> str:
        return "SELECT rx_through_seq FROM gateways WHERE gateway_id = ? FOR UPDATE"

    def _fetch_existing(self, cur, gateway_id, seqs, event_ids):
        cur.execute("SELECT gateway_id, seq, event_id, entry_hash, prev_hash, chain_status FROM ledger "
                    "WHERE (gateway_id = %s AND seq = ANY(%s)) OR event_id = ANY(%s)",
                    (gateway_id, seqs, event_ids))
        existing, taken = {}, {}
        wanted = set(event_ids)
        for g, s, e, h, p, c in cur.fetchall():
            row = {"gateway_id": g, "seq": s, "event_id": e, "entry_hash": h, "prev_hash": p, "chain_status": c}
            if g == gateway_id and s in set(seqs):
                existing[s] = row
            if e in wanted and not (g == gateway_id and s in existing):
                taken[e] = row
        return existing, taken

    def _insert_rows(self, cur, rows):
        conn = cur.connection
        if not getattr(conn, "_rn_staging", False):
            cur.execute("CREATE TEMP TABLE IF NOT EXISTS ledger_stage ON COMMIT DELETE ROWS AS "
                        f"SELECT {_COLS} FROM ledger WITH NO DATA")
            conn._rn_staging = True  # reset by _write if this transaction rolls back
        with cur.copy(f"COPY ledger_stage ({_COLS}) FROM STDIN") as copy:
            for r in rows:
                copy.write_row(r.as_tuple())
        cur.execute(f"INSERT INTO ledger ({_COLS}) SELECT {_COLS} FROM ledger_stage ORDER BY seq "
                    "ON CONFLICT DO NOTHING RETURNING seq")
        return {s for (s,) in cur.fetchall()}
