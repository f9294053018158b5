"""Payroll records and imports, service events and wage-risk month facts (issue 6 wage risk),
both dialects (mixed into :class:`~.common.SqlStore`, ``?`` placeholders translated there).

Validation is the caller's (:mod:`cloud_receiver.supervision.payroll_import`); computations
are in :mod:`cloud_receiver.supervision.wage_risk`. No full ID or bank card number reaches
these tables (migration 4).
"""

from __future__ import annotations

import json

from .supervision import _ATTENDANCE_SQL

PAYROLL_FIELDS = ("id_type", "id_masked", "corp_code", "team_code", "days", "work_hours", "total_pay_cents",
                  "actual_pay_cents", "payroll_card_last4", "payroll_bank_code", "pay_card_last4",
                  "pay_bank_code", "is_back_pay", "balance_date", "back_pay_month", "third_code")
PAYROLL_COLS = "project_code, pay_month, id_hash, " + ", ".join(PAYROLL_FIELDS) + ", import_id, updated_at"
IMPORT_COLS = ("import_id, project_code, source, format, sha256, rows_total, rows_rejected, inserted, updated, "
               "unchanged, operator, imported_at")
EVENT_COLS = "event_id, project_code, corp_code, kind, occurred_on, score, detail, operator, created_at"
_CHUNK = 500
# the project's punches of _ATTENDANCE_SQL, for several projects at once (project_code added)
_ATTENDANCE_MANY = _ATTENDANCE_SQL.replace("SELECT ", "SELECT p.project_code, ", 1).replace(
    "p.project_code = ?", "p.project_code IN ({codes})")


def _same(stored: dict, new: dict) -> bool:
    for k in PAYROLL_FIELDS:
        a, b = stored[k], new[k]
        if k == "is_back_pay":
            a, b = bool(a), bool(b)
        elif k == "work_hours":
            a, b = round(float(a), 2), round(float(b), 2)
        if a != b:
            return False
    return True


def _payroll(row: dict) -> dict:
    row["is_back_pay"] = bool(row["is_back_pay"])
    return row


class WageQueries:
    """Needs ``self._read``, ``self._write``, ``self._q``, ``self._x`` and ``self._xm``."""

    # ---- payroll -------------------------------------------------------------------------
    def upsert_payroll(self, project_code: str, rows: list[dict], meta: dict, now: float) -> dict:
        """One import in one transaction: its ``payroll_imports`` row, then each record inserted,
        updated (content differs) or left (same). → ``{"import_id", "inserted", "updated", "unchanged"}``."""
        out = {"inserted": 0, "updated": 0, "unchanged": 0}
        with self._write() as cur:
            imp = self._q(cur, "INSERT INTO payroll_imports (project_code, source, format, sha256, rows_total, "
                               "rows_rejected, inserted, updated, unchanged, operator, imported_at) "
                               "VALUES (?, ?, ?, ?, ?, ?, 0, 0, 0, ?, ?) RETURNING import_id",
                          (project_code, meta["source"], meta["format"], meta["sha256"], meta["rows_total"],
                           meta["rows_rejected"], meta["operator"], now))
            import_id = imp[0]["import_id"]
            months = sorted({r["pay_month"] for r in rows})
            stored = {}
            for m in months:
                for s in self._q(cur, f"SELECT {PAYROLL_COLS} FROM payroll_records WHERE project_code = ? "
                                      "AND pay_month = ?", (project_code, m)):
                    stored[(s["pay_month"], s["id_hash"])] = s
            for r in rows:
                old = stored.get((r["pay_month"], r["id_hash"]))
                values = tuple(r[k] for k in PAYROLL_FIELDS)
                if old is None:
                    self._x(cur, f"INSERT INTO payroll_records ({PAYROLL_COLS}) VALUES "
                                 f"({', '.join('?' * (len(PAYROLL_FIELDS) + 5))})",
                            (project_code, r["pay_month"], r["id_hash"], *values, import_id, now))
                    out["inserted"] += 1
                elif _same(old, r):
                    out["unchanged"] += 1
                else:
                    self._x(cur, f"UPDATE payroll_records SET {', '.join(k + ' = ?' for k in PAYROLL_FIELDS)}, "
                                 "import_id = ?, updated_at = ? WHERE project_code = ? AND pay_month = ? "
                                 "AND id_hash = ?", (*values, import_id, now, project_code, r["pay_month"],
                                                     r["id_hash"]))
                    out["updated"] += 1
            self._x(cur, "UPDATE payroll_imports SET inserted = ?, updated = ?, unchanged = ? WHERE import_id = ?",
                    (out["inserted"], out["updated"], out["unchanged"], import_id))
        return {"import_id": import_id, **out}

    def payroll_records(self, project_code: str, first_month: str, last_month: str) -> list[dict]:
        return [_payroll(r) for r in self._read(
            f"SELECT {PAYROLL_COLS} FROM payroll_records WHERE project_code = ? AND pay_month >= ? "
            "AND pay_month <= ? ORDER BY pay_month, corp_code, id_hash", (project_code, first_month, last_month))]

    def payroll_records_many(self, project_codes, first_month: str, last_month: str) -> list[dict]:
        """:meth:`payroll_records` of several projects in one query per :data:`_CHUNK` projects
        (each project's rows in the same order)."""
        codes, out = sorted(set(project_codes)), []
        for i in range(0, len(codes), _CHUNK):
            part = codes[i:i + _CHUNK]
            out += [_payroll(r) for r in self._read(
                f"SELECT {PAYROLL_COLS} FROM payroll_records WHERE project_code IN ({', '.join('?' * len(part))}) "
                "AND pay_month >= ? AND pay_month <= ? ORDER BY project_code, pay_month, corp_code, id_hash",
                (*part, first_month, last_month))]
        return out

    def attendance_punches_many(self, project_codes, first_date: str, last_date: str) -> list[dict]:
        """:meth:`attendance_punches` of several projects (rows carry ``project_code``). Unordered."""
        codes, out = sorted(set(project_codes)), []
        for i in range(0, len(codes), _CHUNK):
            part = codes[i:i + _CHUNK]
            out += self._read(_ATTENDANCE_MANY.format(codes=", ".join("?" * len(part))),
                              (*part, first_date, last_date))
        return out

    def payroll_imports(self, project_code: str, limit: int = 100) -> list[dict]:
        return self._read(f"SELECT {IMPORT_COLS} FROM payroll_imports WHERE project_code = ? "
                          "ORDER BY import_id DESC LIMIT ?", (project_code, limit))

    def payroll_months(self, project_code: str) -> list[str]:
        """Months with at least one payroll record for the project."""
        return [r["pay_month"] for r in self._read(
            "SELECT DISTINCT pay_month FROM payroll_records WHERE project_code = ? ORDER BY pay_month",
            (project_code,))]

    # ---- service events (disputes, evaluations) ------------------------------------------
    def add_service_event(self, row: dict, now: float) -> dict:
        with self._write() as cur:
            rows = self._q(cur, "INSERT INTO wage_service_events (project_code, corp_code, kind, occurred_on, score, "
                                f"detail, operator, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?) RETURNING {EVENT_COLS}",
                           (row["project_code"], row["corp_code"], row["kind"], row["occurred_on"], row.get("score"),
                            row.get("detail"), row["operator"], now))
        return rows[0]

    def service_events(self, project_code: str, first_date: str, last_date: str) -> list[dict]:
        return self._read(f"SELECT {EVENT_COLS} FROM wage_service_events WHERE project_code = ? "
                          "AND occurred_on >= ? AND occurred_on <= ? ORDER BY occurred_on, event_id",
                          (project_code, first_date, last_date))

    def service_events_many(self, project_codes, first_date: str, last_date: str) -> list[dict]:
        """:meth:`service_events` of several projects (each project's rows in the same order)."""
        codes, out = sorted(set(project_codes)), []
        for i in range(0, len(codes), _CHUNK):
            part = codes[i:i + _CHUNK]
            out += self._read(f"SELECT {EVENT_COLS} FROM wage_service_events WHERE project_code IN "
                              f"({', '.join('?' * len(part))}) AND occurred_on >= ? AND occurred_on <= ? "
                              "ORDER BY project_code, occurred_on, event_id", (*part, first_date, last_date))
        return out

    # ---- month facts (the trend series) --------------------------------------------------
    def put_wage_facts(self, project_code: str, month: str, facts: dict, now: float) -> None:
        text = json.dumps(facts, ensure_ascii=False, sort_keys=True)
        with self._write() as cur:
            self._x(cur, "DELETE FROM wage_risk_months WHERE project_code = ? AND month = ?", (project_code, month))
            self._x(cur, "INSERT INTO wage_risk_months (project_code, month, facts, computed_at) VALUES (?, ?, ?, ?)",
                    (project_code, month, text, now))

    def put_wage_facts_many(self, rows, now: float) -> None:
        """:meth:`put_wage_facts` of many ``(project_code, month, facts)`` in one transaction."""
        rows = list(rows)
        with self._write() as cur:
            self._xm(cur, "DELETE FROM wage_risk_months WHERE project_code = ? AND month = ?",
                     [(code, month) for code, month, _ in rows])
            self._xm(cur, "INSERT INTO wage_risk_months (project_code, month, facts, computed_at) VALUES (?, ?, ?, ?)",
                     [(code, month, json.dumps(facts, ensure_ascii=False, sort_keys=True), now)
                      for code, month, facts in rows])

    def wage_facts(self, first_month: str, last_month: str, project_codes=None) -> list[dict]:
        """Stored month facts ``{"project_code", "month", "facts", "computed_at"}`` in the range,
        of the given projects (None: all), by month then project."""
        sql = "SELECT project_code, month, facts, computed_at FROM wage_risk_months WHERE month >= ? AND month <= ?"
        if project_codes is None:
            rows = self._read(sql + " ORDER BY month, project_code", (first_month, last_month))
        else:
            codes, rows = sorted(project_codes), []
            for i in range(0, len(codes), _CHUNK):
                part = codes[i:i + _CHUNK]
                rows += self._read(sql + f" AND project_code IN ({', '.join('?' * len(part))})",
                                   (first_month, last_month, *part))
            rows.sort(key=lambda r: (r["month"], r["project_code"]))
        for r in rows:
            r["facts"] = json.loads(r["facts"])
        return rows
