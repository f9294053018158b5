"""SQL plumbing shared by both dialects; ``sqlite.py`` / ``postgres.py`` supply connections and
fast paths. :class:`SqlStore` composes the per-concern query mixins (gateways, ingest, ledger
reads, projects, supervision, wage, ...) over one set of plumbing.

SQL is written with ``?`` placeholders and translated for psycopg.
"""

from __future__ import annotations

import logging
import threading
from contextlib import contextmanager, nullcontext

from .anomalies import AnomalyQueries
from .dashboard import DashboardQueries
from .base import EntryRow, Store
from .gateways import GatewayQueries
from .ingest import IngestQueries
from .ledger_reads import LedgerReadQueries
from .migrations import MIGRATIONS
from .projects import ProjectQueries
from .supervision import SupervisionQueries
from .tokens import TokenQueries
from .wage import WageQueries
from .upstream import UpstreamQueries
from .workers import RosterDownQueries, WorkerRegistryQueries

log = logging.getLogger(__name__)

BOOL_COLS = ("disk_alarm", "ledger_ok", "online", "face_consent")


def _fix(row: dict) -> dict:
    for c in BOOL_COLS:
        if c in row and row[c] is not None:
            row[c] = bool(row[c])
    return row


class SqlStore(GatewayQueries, IngestQueries, LedgerReadQueries, SupervisionQueries, ProjectQueries, AnomalyQueries,
               TokenQueries, WageQueries, DashboardQueries, WorkerRegistryQueries, RosterDownQueries,
               UpstreamQueries, Store):
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
