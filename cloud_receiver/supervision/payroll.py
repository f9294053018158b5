"""Monthly payroll export in the national PayRollDetail shape (CSV and XLSX).

Column names are the national interface's (``Payroll.Add``: ``projectCode``, ``corpCode``,
``teamSysNo``, ``payMonth`` and per worker ``idCardType``, ``idCardNumber``, ``days``,
``workHours``, bank cards, amounts, ``isBackPay``, ``balanceDate``, ``backPayMonth``,
``thirdPayRollCode``; see ``../shared/reference/national-interface.md``). Attendance fills
``days`` and ``workHours``; the wage columns are left empty for the labour officer / wage
system. Our own columns follow: the worker's name and reference, manual punches (补卡) and
days that needed one, so they can be checked apart.

One row per worker on the roster on at least one day of the month (days may be 0).
ID numbers are masked (:func:`shared_schema.idcard.mask_id_number`) unless ``full_ids``.
Text cells that a spreadsheet would run as a formula (leading ``= + - @``) get a leading
``'``.
"""

from __future__ import annotations

import csv
import io

from shared_schema.idcard import mask_id_number

from .rules import AttendanceRules
from .service import month_with_roster

NATIONAL_COLUMNS = (
    "projectCode", "corpCode", "teamSysNo", "payMonth", "idCardType", "idCardNumber", "days", "workHours",
    "payRollBankCardNumber", "payRollBankCode", "payRollBankName", "payBankCardNumber", "payBankCode",
    "payBankName", "totalPayAmount", "actualAmount", "isBackPay", "balanceDate", "backPayMonth",
    "thirdPayRollCode")
EXTRA_COLUMNS = ("workerName", "workerRef", "manualPunches", "manualDays")
COLUMNS = NATIONAL_COLUMNS + EXTRA_COLUMNS
SUMMARY_COLUMNS = ("corpCode", "teamSysNo", "workers", "days", "workHours", "manualPunches")


def payroll_rows(store, project_code: str, month: str, rules: AttendanceRules, *, full_ids: bool = False):
    """→ (detail rows as dicts keyed by :data:`COLUMNS`, team summary rows)."""
    report, roster = month_with_roster(store, project_code, month, rules)
    rows = []
    for w in report["workers"]:
        m = roster.get(w["worker_ref"])
        if m is None or not w["roster_days"]:
            continue
        row = dict.fromkeys(COLUMNS, "")
        row.update(projectCode=project_code, corpCode=m.company_code, teamSysNo=m.team_code or "",
                   payMonth=month, idCardType=m.id_type,
                   idCardNumber=m.id_number if full_ids else mask_id_number(m.id_number),
                   days=w["days_present"], workHours=round(w["hours"], 2), workerName=m.name,
                   workerRef=m.worker_ref, manualPunches=w["manual_punches"], manualDays=w["manual_days"])
        rows.append(row)
    rows.sort(key=lambda r: (r["corpCode"], r["teamSysNo"], r["workerRef"]))
    summary = [{"corpCode": t["company_code"], "teamSysNo": t["team_code"] or "", "workers": t["workers"],
                "days": t["days_present"], "workHours": round(t["hours"], 2), "manualPunches": t["manual_punches"]}
               for t in report["teams"]]
    return rows, summary


def _cell(v):
    if isinstance(v, str) and v[:1] in ("=", "+", "-", "@", "\t", "\r"):
        return "'" + v
    return v


def to_csv(rows: list[dict]) -> bytes:
    """UTF-8 with a BOM (so spreadsheet programs read the Chinese names), CRLF rows."""
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\r\n")
    w.writerow(COLUMNS)
    for r in rows:
        w.writerow([_cell(r[c]) for c in COLUMNS])
    return buf.getvalue().encode("utf-8-sig")


def to_xlsx(rows: list[dict], summary: list[dict], month: str) -> bytes:
    """Sheet ``PayRollDetail`` (one row per worker, ID numbers as text) and ``汇总`` (per team)."""
    from openpyxl import Workbook

    wb = Workbook(write_only=True)
    ws = wb.create_sheet("PayRollDetail")
    ws.append(list(COLUMNS))
    for r in rows:
        ws.append([_cell(r[c]) for c in COLUMNS])
    ws2 = wb.create_sheet("汇总")
    ws2.append(list(SUMMARY_COLUMNS))
    for s in summary:
        ws2.append([_cell(s[c]) for c in SUMMARY_COLUMNS])
    wb.properties.title = f"PayRollDetail {month}"
    out = io.BytesIO()
    wb.save(out)
    return out.getvalue()
