"""Projects, dated status periods and supervision warnings (issue 6), both dialects (mixed
into :class:`~.common.SqlStore`, ``?`` placeholders translated there).

Validation is the caller's (:mod:`cloud_receiver.supervision.calendar`); the overlap check of
status periods runs here, inside the write transaction, with the project row locked
(PostgreSQL ``FOR UPDATE``; SQLite's ``BEGIN IMMEDIATE`` already serialises writers).
Warnings: at most one live (open / acknowledged) row per ``(rule, subject)`` (a partial
unique index); :meth:`ProjectQueries.sync_warnings` is the idempotent re-evaluation.
"""

from __future__ import annotations

import datetime as _dt
import json

from ..supervision.calendar import plan_period

PROJECT_COLS = ("project_code, name, district, address, lng, lat, general_contractor, supervisor, status, "
                "created_at, updated_at")
PERIOD_COLS = "period_id, project_code, status, from_date, to_date, reason, operator, created_at"
WARNING_COLS = ("warning_id, rule, subject, project_code, gateway_id, evidence, state, first_seen, last_seen, "
                "state_changed_at, state_operator, state_note")
WARNING_STATES = ("open", "acknowledged", "resolved")


def _warning(row: dict) -> dict:
    row["evidence"] = json.loads(row["evidence"])
    return row


class ProjectQueries:
    """Needs ``self._read``, ``self._write``, ``self._q``, ``self._x`` and ``self.dialect``."""

    def _for_update(self) -> str:
        return " FOR UPDATE" if self.dialect == "postgresql" else ""

    # ---- projects --------------------------------------------------------------
    def upsert_project(self, row: dict, now: float) -> str:
        """Insert or update a project (every column of ``row``); → ``"created"`` or ``"updated"``."""
        cols = ("name", "district", "address", "lng", "lat", "general_contractor", "supervisor", "status")
        with self._write() as cur:
            exists = self._q(cur, "SELECT 1 AS one FROM projects WHERE project_code = ?" + self._for_update(),
                             (row["project_code"],))
            if exists:
                self._x(cur, f"UPDATE projects SET {', '.join(c + ' = ?' for c in cols)}, updated_at = ? "
                             "WHERE project_code = ?", (*(row[c] for c in cols), now, row["project_code"]))
                return "updated"
            self._x(cur, f"INSERT INTO projects (project_code, {', '.join(cols)}, created_at, updated_at) "
                         f"VALUES ({', '.join('?' * (len(cols) + 3))})",
                    (row["project_code"], *(row[c] for c in cols), now, now))
            return "created"

    def list_projects(self, district: str | None = None) -> list[dict]:
        """Projects with their periods (``periods``, by from_date), by project code."""
        where, params = ("WHERE district = ? ", (district,)) if district else ("", ())
        projects = self._read(f"SELECT {PROJECT_COLS} FROM projects {where}ORDER BY project_code", params)
        periods: dict[str, list] = {}
        sql = (f"SELECT {', '.join('s.' + c for c in PERIOD_COLS.split(', '))} FROM project_status_periods s "
               + ("JOIN projects p ON p.project_code = s.project_code WHERE p.district = ? " if district else "")
               + "ORDER BY s.project_code, s.from_date")
        for r in self._read(sql, params):
            periods.setdefault(r["project_code"], []).append(r)
        for p in projects:
            p["periods"] = periods.get(p["project_code"], [])
        return projects

    def get_project(self, project_code: str) -> dict | None:
        rows = self._read(f"SELECT {PROJECT_COLS} FROM projects WHERE project_code = ?", (project_code,))
        if not rows:
            return None
        rows[0]["periods"] = self._read(f"SELECT {PERIOD_COLS} FROM project_status_periods "
                                        "WHERE project_code = ? ORDER BY from_date", (project_code,))
        return rows[0]

    def add_status_period(self, project_code: str, period: dict, now: float) -> dict:
        """Add a validated period; → the stored period plus ``closed`` (the id of an open-ended
        period closed the day before, or None). Raises LookupError (no such project) or
        :class:`~cloud_receiver.supervision.calendar.PeriodOverlap`."""
        with self._write() as cur:
            if not self._q(cur, "SELECT 1 AS one FROM projects WHERE project_code = ?" + self._for_update(),
                           (project_code,)):
                raise LookupError(f"no project {project_code}")
            existing = self._q(cur, f"SELECT {PERIOD_COLS} FROM project_status_periods WHERE project_code = ?",
                               (project_code,))
            close = plan_period(period, existing)
            if close is not None:
                end = (_dt.date.fromisoformat(period["from_date"]) - _dt.timedelta(days=1)).isoformat()
                self._x(cur, "UPDATE project_status_periods SET to_date = ? WHERE period_id = ?", (end, close))
            rows = self._q(cur, "INSERT INTO project_status_periods (project_code, status, from_date, to_date, "
                                "reason, operator, created_at) VALUES (?, ?, ?, ?, ?, ?, ?) "
                                f"RETURNING {PERIOD_COLS}",
                           (project_code, period["status"], period["from_date"], period["to_date"],
                            period["reason"], period["operator"], now))
            self._x(cur, "UPDATE projects SET updated_at = ? WHERE project_code = ?", (now, project_code))
        return {**rows[0], "closed": close}

    # ---- warnings --------------------------------------------------------------
    def sync_warnings(self, rules, found: dict, now: float) -> dict:
        """Idempotent re-evaluation of ``rules``. ``found`` maps ``(rule, subject)`` →
        ``{"project_code", "gateway_id", "evidence"}`` for every condition that holds now: a live
        warning is refreshed (``last_seen``, evidence; its state kept), a missing one opened; a
        live warning of one of ``rules`` whose condition is gone is resolved by ``system``.
        → counts ``{"opened", "refreshed", "resolved"}``."""
        rules = list(rules)
        out = {"opened": 0, "refreshed": 0, "resolved": 0}
        if not rules:
            return out
        with self._write() as cur:
            live = self._q(cur, "SELECT warning_id, rule, subject FROM warnings WHERE state <> 'resolved' "
                                f"AND rule IN ({', '.join('?' * len(rules))})", rules)
            have = {(w["rule"], w["subject"]): w["warning_id"] for w in live}
            for key, w in sorted(found.items()):
                evidence = json.dumps(w["evidence"], ensure_ascii=False, sort_keys=True, default=str)
                wid = have.get(key)
                if wid is not None:
                    self._x(cur, "UPDATE warnings SET last_seen = ?, evidence = ? WHERE warning_id = ?",
                            (now, evidence, wid))
                    out["refreshed"] += 1
                else:
                    self._x(cur, "INSERT INTO warnings (rule, subject, project_code, gateway_id, evidence, "
                                 "first_seen, last_seen) VALUES (?, ?, ?, ?, ?, ?, ?)",
                            (*key, w.get("project_code"), w.get("gateway_id"), evidence, now, now))
                    out["opened"] += 1
            for key, wid in have.items():
                if key not in found:
                    self._x(cur, "UPDATE warnings SET state = 'resolved', state_changed_at = ?, "
                                 "state_operator = 'system', state_note = 'condition cleared' WHERE warning_id = ?",
                            (now, wid))
                    out["resolved"] += 1
        return out

    def warnings(self, project_code: str | None, state: str | None, rule: str | None,
                 limit: int, offset: int, project_codes=None) -> list[dict]:
        """``project_codes``: only warnings of these projects (a scoped token's); None: all."""
        where, params = [], []
        for col, value in (("project_code", project_code), ("state", state), ("rule", rule)):
            if value is not None:
                where.append(f"{col} = ?")
                params.append(value)
        if project_codes is not None:
            codes = sorted(project_codes)
            where.append(f"project_code IN ({', '.join('?' * len(codes))})" if codes else "1 = 0")
            params.extend(codes)
        sql = (f"SELECT {WARNING_COLS} FROM warnings" + (" WHERE " + " AND ".join(where) if where else "")
               + " ORDER BY warning_id LIMIT ? OFFSET ?")
        return [_warning(r) for r in self._read(sql, (*params, limit, offset))]

    def get_warning(self, warning_id: int) -> dict | None:
        rows = self._read(f"SELECT {WARNING_COLS} FROM warnings WHERE warning_id = ?", (warning_id,))
        return _warning(rows[0]) if rows else None

    def set_warning_state(self, warning_id: int, state: str, operator: str, note: str | None,
                          now: float) -> dict | None:
        """Acknowledge or resolve a warning. → the warning, or None if there is none. A resolved
        warning stays resolved (ValueError): if its condition persists, evaluation opens a new one."""
        if state not in ("acknowledged", "resolved"):
            raise ValueError("state must be acknowledged or resolved")
        with self._write() as cur:
            rows = self._q(cur, "SELECT state FROM warnings WHERE warning_id = ?" + self._for_update(),
                           (warning_id,))
            if not rows:
                return None
            if rows[0]["state"] == "resolved":
                raise ValueError("the warning is already resolved")
            self._x(cur, "UPDATE warnings SET state = ?, state_changed_at = ?, state_operator = ?, state_note = ? "
                         "WHERE warning_id = ?", (state, now, operator, note, warning_id))
        return self.get_warning(warning_id)

    def open_tamper_alerts(self) -> list[dict]:
        """Tamper alerts not resolved, with the gateway's project (for warnings)."""
        return self._read("SELECT t.alert_id, t.gateway_id, t.seq, t.kind, t.detail, t.detected_at, t.state, "
                          "g.project_code FROM tamper_alerts t LEFT JOIN gateways g ON g.gateway_id = t.gateway_id "
                          "WHERE t.state <> 'resolved' ORDER BY t.alert_id")
