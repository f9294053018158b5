"""Abnormal-attendance queries (issue 6), both dialects (mixed into :class:`~.common.SqlStore`, ``?``
placeholders translated there). Read-only; the detectors are pure functions in
:mod:`cloud_receiver.supervision.anomalies`.

Scope: by device dates (China-local, as ingest files them). With a project, the rows are that
project's plus every punch, at any project, of a person who punched there or is on its roster
(by ``worker_ref`` or by the roster's ID number): what the cross-project rules need, no more.
"""

from __future__ import annotations

from .ledger_reads import PASSAGE_SQL
from .supervision import ROSTER_COLS

_ENTRY_COLS = ("p.gateway_id, p.seq, p.type, p.project_code, p.gate_id, p.device_time, p.device_date, "
               "p.direction, p.worker_ref, p.kind, p.match_score, p.liveness_score, p.liveness_cue, "
               "p.snapshot_ref, p.reject_reason, p.manual_reason, p.operator")
_ENTRIES_SQL = (f"SELECT {_ENTRY_COLS}, {PASSAGE_SQL} FROM ledger p WHERE p.type IN ('punch', 'rejected') "
                "AND p.device_date >= ? AND p.device_date <= ?")
# people of project ? (punching there in the range, or on its roster), by worker_ref or ID number
_PROJECT_SCOPE = (" AND (p.project_code = ? OR (p.type = 'punch' AND (p.worker_ref IN ("
                  "SELECT q.worker_ref FROM ledger q WHERE q.project_code = ? AND q.type = 'punch' "
                  "AND q.device_date >= ? AND q.device_date <= ?) OR EXISTS (SELECT 1 FROM roster_changes a "
                  "JOIN roster_changes b ON b.id_number = a.id_number AND b.id_type = a.id_type "
                  "WHERE a.project_code = p.project_code AND a.worker_ref = p.worker_ref AND b.project_code = ?))))")
# latest roster change per (project, worker) of the given projects
_ROSTER_SQL = (f"SELECT {ROSTER_COLS} FROM (SELECT {ROSTER_COLS}, ROW_NUMBER() OVER ("
               "PARTITION BY project_code, worker_ref ORDER BY changed_at DESC, received_at DESC, change_id DESC"
               ") AS rn FROM roster_changes WHERE project_code IN ({codes})) latest WHERE rn = 1")
_CHUNK = 500
_HOURS_SQL = ("SELECT gateway_id, gate_id, substr(device_time, 1, 13) AS hour, count(*) AS entries, "
              "sum(CASE WHEN type = 'rejected' AND substr(coalesce(reject_reason, ''), 1, ?) = ? "
              "THEN 1 ELSE 0 END) AS liveness_failures FROM ledger "
              "WHERE type IN ('punch', 'rejected') AND device_date >= ? AND device_date <= ?{project} "
              "GROUP BY gateway_id, gate_id, substr(device_time, 1, 13)")


class AnomalyQueries:
    """Needs ``self._read``."""

    def anomaly_entries(self, first_date: str, last_date: str, project_code: str | None = None) -> list[dict]:
        """Punches and rejected attempts of device dates ``first_date..last_date`` (module doc for
        the project scope), each with ``passage``. Unordered."""
        if project_code is None:
            return self._read(_ENTRIES_SQL, (first_date, last_date))
        return self._read(_ENTRIES_SQL + _PROJECT_SCOPE,
                          (first_date, last_date, project_code, project_code, first_date, last_date, project_code))

    def anomaly_roster(self, project_codes) -> list[dict]:
        """The latest roster row per (project, worker) of the given projects (ID numbers
        included: the person link; callers never output them)."""
        codes, out = sorted(set(project_codes)), []
        for i in range(0, len(codes), _CHUNK):
            part = codes[i:i + _CHUNK]
            out += self._read(_ROSTER_SQL.format(codes=", ".join("?" * len(part))), part)
        return out

    def project_coordinates(self) -> dict[str, tuple[float, float] | None]:
        """project_code → (lng, lat), or None when the project has no coordinates."""
        return {r["project_code"]: None if r["lng"] is None or r["lat"] is None else (r["lng"], r["lat"])
                for r in self._read("SELECT project_code, lng, lat FROM projects")}

    def gate_hour_counts(self, first_date: str, last_date: str, liveness_prefix: str,
                         project_code: str | None = None) -> list[dict]:
        """Per gateway, gate and UTC hour with any entry: entries and liveness failures."""
        sql = _HOURS_SQL.format(project=" AND project_code = ?" if project_code else "")
        params = (len(liveness_prefix), liveness_prefix, first_date, last_date) + ((project_code,) if project_code else ())
        return self._read(sql, params)
