"""Embedded SQLite store: WAL, ``synchronous=FULL``, a busy timeout so several receiver
processes can share one file. Write transactions use ``BEGIN IMMEDIATE``, which
serialises writers across processes (the per-gateway lock of the batch insert)."""

from __future__ import annotations

import json
import sqlite3
from contextlib import contextmanager
from pathlib import Path

from .base import LEDGER_COLUMNS
from .common import SqlStore

BUSY_TIMEOUT_MS = 30000
_INSERT = (f"INSERT INTO ledger ({', '.join(LEDGER_COLUMNS)}, ingest_no) "
           f"VALUES ({', '.join('?' * (len(LEDGER_COLUMNS) + 1))})")


class SqliteStore(SqlStore):
    dialect = "sqlite"

    def __init__(self, url: str):
        super().__init__(url)
        self.path = url[len("sqlite:///"):] if url.startswith("sqlite:///") else url
        if self.path != ":memory:":
            Path(self.path).parent.mkdir(parents=True, exist_ok=True)

    def _connect(self):
        conn = sqlite3.connect(self.path, timeout=BUSY_TIMEOUT_MS / 1000, isolation_level=None,
                               check_same_thread=False)
        conn.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
        conn.execute("PRAGMA journal_mode = WAL")
        conn.execute("PRAGMA synchronous = FULL")
        conn.execute("PRAGMA foreign_keys = ON")
        return conn

    @contextmanager
    def _write(self):
        conn = self._conn_for_thread()
        cur = conn.cursor()
        cur.execute("BEGIN IMMEDIATE")
        try:
            yield cur
        except BaseException:
            conn.rollback()
            raise
        else:
            conn.commit()
        finally:
            cur.close()

    def _fetch_existing(self, cur, gateway_id, seqs, event_ids):
        rows = self._q(cur, "SELECT seq, entry_hash, prev_hash, chain_status FROM ledger "
                            "WHERE gateway_id = ? AND seq IN (SELECT value FROM json_each(?))",
                       (gateway_id, json.dumps(seqs)))
        taken = self._q(cur, "SELECT gateway_id, seq, event_id FROM ledger "
                             "WHERE event_id IN (SELECT value FROM json_each(?))", (json.dumps(event_ids),))
        return {r["seq"]: r for r in rows}, {r["event_id"]: r for r in taken}

    def _insert_rows(self, cur, rows, *, safe=True):
        cur.execute("SELECT coalesce(max(ingest_no), 0) FROM ledger")
        base = cur.fetchone()[0]
        cur.executemany(_INSERT, [(*r.as_tuple(), base + i + 1) for i, r in enumerate(rows)])
        return {r.seq for r in rows}
