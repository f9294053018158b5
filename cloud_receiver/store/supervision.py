"""Supervision queries (issue 6), shared by both dialects (mixed into :class:`~.common.SqlStore`).

Plain SQL both SQLite (≥ 3.25, window functions) and PostgreSQL run; ``?`` placeholders
are translated by :meth:`SqlStore._sql`. The computations live in
:mod:`cloud_receiver.supervision`; these only read.
"""

from __future__ import annotations

from .ledger_reads import PASSAGE_SQL

ROSTER_COLS = ("project_code, worker_ref, name, id_type, id_number, role, post, company_code, team_code, "
               "work_type, entry_date, exit_date, action, changed_at")
# Latest change per (project, worker). changed_at is fixed-width UTC text (format_utc), so it sorts.
_ROSTER_SQL = (f"SELECT {ROSTER_COLS} FROM (SELECT {ROSTER_COLS}, ROW_NUMBER() OVER ("
               "PARTITION BY project_code, worker_ref ORDER BY changed_at DESC, received_at DESC, change_id DESC"
               ") AS rn FROM roster_changes WHERE project_code = ?) latest WHERE rn = 1 ORDER BY worker_ref")
_ATTENDANCE_COLS = ("p.gateway_id, p.seq, p.type, p.gate_id, p.device_time, p.device_date, p.direction, "
                    "p.worker_ref, p.kind, p.manual_reason, p.operator, p.chain_status")
_ATTENDANCE_SQL = (f"SELECT {_ATTENDANCE_COLS}, {PASSAGE_SQL} "
                   "FROM ledger p WHERE p.project_code = ? AND p.type = 'punch' "
                   "AND p.device_date >= ? AND p.device_date <= ? AND p.worker_ref IS NOT NULL")


class SupervisionQueries:
    """Read-only queries for :mod:`cloud_receiver.supervision`; needs ``self._read``."""

    def roster(self, project_code: str) -> list[dict]:
        """Latest roster change per worker of the project (every column but face data: none is stored)."""
        return self._read(_ROSTER_SQL, (project_code,))

    def attendance_punches(self, project_code: str, first_date: str, last_date: str) -> list[dict]:
        """The project's punches (``type='punch'``) with a worker, device dates (China-local, as
        ingest files them) ``first_date..last_date``, each with ``passage``. Unordered."""
        return self._read(_ATTENDANCE_SQL, (project_code, first_date, last_date))
