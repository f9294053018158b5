"""Dashboard queries (issue 6), both dialects (mixed into :class:`~.common.SqlStore`, ``?``
placeholders translated there). Aggregation happens here, in SQL, over the daily computation's
figures (``dash_project_days``, ``dash_findings``, migration 5) so pages stay fast with a
city's data; the computation itself is :mod:`cloud_receiver.dashboard.daily`.

A *scope* restricts every query: ``None`` (the city), ``("district", names)`` or
``("project", codes)``: what the caller's token may see (:mod:`cloud_receiver.auth`).
"""

from __future__ import annotations

import json

from .ledger_reads import PASSAGE_SQL
from .supervision import ROSTER_COLS

DAY_COLS = ("date", "project_code", "district", "status", "stopped", "roster", "present", "on_site",
            "manual_punches", "off_roster", "computed_at")
FINDING_COLS = ("date", "project_code", "district", "rule", "worker_ref", "gateway_id", "fkey", "is_primary", "body")
_SUMS = ("count(*) AS projects, sum(CASE WHEN d.stopped THEN 0 ELSE d.roster END) AS rated_roster, "
         "sum(CASE WHEN d.stopped THEN 0 ELSE d.present END) AS rated_present, sum(d.roster) AS roster, "
         "sum(d.present) AS present, sum(d.on_site) AS on_site, sum(d.manual_punches) AS manual_punches, "
         "sum(d.off_roster) AS off_roster, sum(CASE WHEN d.stopped THEN 1 ELSE 0 END) AS stopped_projects")
# the day's punches city-wide, as attendance_punches returns them per project (index ledger_date_type)
_DAY_PUNCHES = ("SELECT p.project_code, p.gateway_id, p.seq, p.type, p.gate_id, p.device_time, p.device_date, "
                f"p.direction, p.worker_ref, p.kind, p.manual_reason, p.operator, p.chain_status, {PASSAGE_SQL} "
                "FROM ledger p WHERE p.device_date = ? AND p.type = 'punch' AND p.worker_ref IS NOT NULL")
_ROSTER_ALL = (f"SELECT {ROSTER_COLS} FROM (SELECT {ROSTER_COLS}, ROW_NUMBER() OVER ("
               "PARTITION BY project_code, worker_ref ORDER BY changed_at DESC, received_at DESC, change_id DESC"
               ") AS rn FROM roster_changes) latest WHERE rn = 1")
SORTS = {"code": "d.project_code", "rate": "rate", "present": "d.present", "roster": "d.roster",
         "on_site": "d.on_site", "warnings": "open_warnings"}


def _scope_sql(scope, alias: str = "d") -> tuple[str, list]:
    if scope is None:
        return "", []
    kind, values = scope
    values = sorted(values)
    if not values:
        return " AND 1 = 0", []
    col = f"{alias}.district" if kind == "district" else f"{alias}.project_code"
    return f" AND {col} IN ({', '.join('?' * len(values))})", values


class DashboardQueries:
    """Needs ``self._read``, ``self._write``, ``self._x``, ``self._xm`` and ``self.dialect``."""

    # ---- the daily computation's reads and writes ------------------------------------------
    def day_punches(self, date: str) -> list[dict]:
        """Every project's punches with a worker on device date ``date``, with ``passage``."""
        return self._read(_DAY_PUNCHES, (date,))

    def all_rosters(self) -> list[dict]:
        """The latest roster change per (project, worker), city-wide (ID numbers: never output)."""
        return self._read(_ROSTER_ALL)

    def post_holder_punches(self, project_codes, first_date: str, last_date: str) -> list[dict]:
        """:meth:`attendance_punches` of the given projects, only of people with a post in some roster
        row of theirs (the only people key-post on-duty rates read), each with ``project_code``."""
        codes = sorted(set(project_codes))
        if not codes:
            return []
        return self._read(
            _DAY_PUNCHES.replace("p.device_date = ?", "p.device_date >= ? AND p.device_date <= ?")
            + f" AND p.project_code IN ({', '.join('?' * len(codes))}) AND EXISTS (SELECT 1 FROM roster_changes r "
              "WHERE r.project_code = p.project_code AND r.worker_ref = p.worker_ref AND r.post IS NOT NULL)",
            (first_date, last_date, *codes))

    def replace_dash_day(self, date: str, days: list[dict], finding_rows: list[dict]) -> None:
        """Replace the day's figures and findings in one transaction (idempotent re-computation).
        ``finding_rows``: one per (finding, project involved), keys as :data:`FINDING_COLS`."""
        with self._write() as cur:
            self._x(cur, "DELETE FROM dash_project_days WHERE date = ?", (date,))
            self._x(cur, "DELETE FROM dash_findings WHERE date = ?", (date,))
            self._xm(cur, f"INSERT INTO dash_project_days ({', '.join(DAY_COLS)}) "
                          f"VALUES ({', '.join('?' * len(DAY_COLS))})", [tuple(d[c] for c in DAY_COLS) for d in days])
            self._xm(cur, f"INSERT INTO dash_findings ({', '.join(FINDING_COLS)}) "
                          f"VALUES ({', '.join('?' * len(FINDING_COLS))})",
                     [tuple(r[c] for c in FINDING_COLS) for r in finding_rows])

    # ---- dashboard reads ---------------------------------------------------------------------
    def dash_dates(self, scope=None) -> dict:
        where, params = _scope_sql(scope)
        r = self._read(f"SELECT min(d.date) AS first, max(d.date) AS last, count(DISTINCT d.date) AS days "
                       f"FROM dash_project_days d WHERE 1 = 1{where}", params)[0]
        return r

    def dash_totals(self, date: str, scope=None) -> dict:
        where, params = _scope_sql(scope)
        row = self._read(f"SELECT {_SUMS} FROM dash_project_days d WHERE d.date = ?{where}", (date, *params))[0]
        status = self._read(f"SELECT d.status, count(*) AS n FROM dash_project_days d WHERE d.date = ?{where} "
                            "GROUP BY d.status", (date, *params))
        row["by_status"] = {r["status"]: r["n"] for r in status}
        row["districts"] = self._read(f"SELECT count(DISTINCT d.district) AS n FROM dash_project_days d "
                                      f"WHERE d.date = ?{where}", (date, *params))[0]["n"]
        return {k: (v or 0) if k not in ("by_status",) else v for k, v in row.items()}

    def dash_districts(self, date: str, scope=None) -> list[dict]:
        where, params = _scope_sql(scope)
        return self._read(f"SELECT d.district, {_SUMS} FROM dash_project_days d WHERE d.date = ?{where} "
                          "GROUP BY d.district ORDER BY d.district", (date, *params))

    def dash_projects(self, date: str, scope=None, *, district=None, text=None, sort="code", desc=False,
                      limit=50, offset=0) -> tuple[int, list[dict]]:
        where, params = _scope_sql(scope)
        if district:
            where += " AND d.district = ?"
            params.append(district)
        if text:
            where += " AND (d.project_code LIKE ? OR p.name LIKE ?)"
            params += [f"%{text}%", f"%{text}%"]
        base = f"FROM dash_project_days d JOIN projects p ON p.project_code = d.project_code WHERE d.date = ?{where}"
        total = self._read(f"SELECT count(*) AS n {base}", (date, *params))[0]["n"]
        order = SORTS[sort] + (" DESC" if desc else "") + ", d.project_code"
        rows = self._read(
            f"SELECT d.project_code, p.name, d.district, p.general_contractor, d.status, d.stopped, d.roster, "
            f"d.present, d.on_site, d.manual_punches, d.off_roster, "
            f"CASE WHEN d.stopped OR d.roster = 0 THEN NULL ELSE CAST(d.present AS DOUBLE PRECISION) / d.roster END AS rate, "
            f"(SELECT count(*) FROM warnings w WHERE w.project_code = d.project_code AND w.state <> 'resolved') "
            f"AS open_warnings, (SELECT count(DISTINCT f.fkey) FROM dash_findings f WHERE f.project_code = d.project_code "
            f"AND f.date = d.date) AS anomalies {base} ORDER BY {order} LIMIT ? OFFSET ?",
            (date, *params, limit, offset))
        return total, rows

    def dash_series(self, first: str, last: str, scope=None, project=None) -> list[dict]:
        where, params = _scope_sql(scope)
        if project:
            where += " AND d.project_code = ?"
            params.append(project)
        return self._read(f"SELECT d.date, {_SUMS} FROM dash_project_days d WHERE d.date >= ? AND d.date <= ?{where} "
                          "GROUP BY d.date ORDER BY d.date", (first, last, *params))

    def dash_finding_counts(self, first: str, last: str, scope=None, project=None) -> list[dict]:
        """Findings per date and rule (a finding involving several projects in scope counts once)."""
        where, params = _scope_sql(scope, "f")
        if project:
            where += " AND f.project_code = ?"
            params.append(project)
        return self._read(f"SELECT f.date, f.rule, count(DISTINCT f.fkey) AS n FROM dash_findings f WHERE f.date >= ? "
                          f"AND f.date <= ?{where} GROUP BY f.date, f.rule ORDER BY f.date, f.rule",
                          (first, last, *params))

    def dash_findings(self, first: str, last: str, scope=None, *, project=None, rule=None, worker_ref=None,
                      limit=100, offset=0) -> tuple[int, list[dict]]:
        where, params = _scope_sql(scope, "f")
        for col, v in (("project_code", project), ("rule", rule), ("worker_ref", worker_ref)):
            if v:
                where += f" AND f.{col} = ?"
                params.append(v)
        # one row per finding: the first of its rows that matches
        base = (f"FROM dash_findings f WHERE f.finding_id IN (SELECT min(f.finding_id) FROM dash_findings f "
                f"WHERE f.date >= ? AND f.date <= ?{where} GROUP BY f.fkey)")
        total = self._read(f"SELECT count(*) AS n {base}", (first, last, *params))[0]["n"]
        rows = self._read(f"SELECT f.finding_id, f.date, f.district, f.body {base} "
                          "ORDER BY f.date DESC, f.finding_id LIMIT ? OFFSET ?", (first, last, *params, limit, offset))
        return total, [{"finding_id": r["finding_id"], "district": r["district"], **json.loads(r["body"])}
                       for r in rows]

    def dash_warning_rows(self, scope=None, project=None) -> list[dict]:
        """Warnings (no evidence) of the scope, with the project's district: counts and timelines."""
        where, params = _scope_sql(scope, "p")
        if project:
            where += " AND w.project_code = ?"
            params.append(project)
        return self._read("SELECT w.warning_id, w.rule, w.project_code, p.district, w.state, w.first_seen, "
                          "w.state_changed_at FROM warnings w LEFT JOIN projects p ON p.project_code = w.project_code "
                          f"WHERE 1 = 1{where}", params)

    def worker_entries(self, project_code: str, worker_ref: str, first: str, last: str) -> list[dict]:
        """A worker's punches and rejected attempts at a project (device dates first..last)."""
        return self._read("SELECT p.gateway_id, p.seq, p.type, p.gate_id, p.device_time, p.device_date, p.direction, "
                          "p.worker_ref, p.kind, p.match_score, p.liveness_score, p.snapshot_ref, p.reject_reason, "
                          "p.manual_reason, p.operator FROM ledger p WHERE p.project_code = ? AND p.device_date >= ? "
                          "AND p.device_date <= ? AND p.worker_ref = ? AND p.type IN ('punch', 'rejected')",
                          (project_code, first, last, worker_ref))
