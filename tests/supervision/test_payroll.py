"""Payroll export in the national PayRollDetail shape: columns, days/hours, ID masking (both dialects)."""

from __future__ import annotations

import csv
import io

from openpyxl import load_workbook

from cloud_receiver.supervision import payroll
from cloud_receiver.supervision.rules import AttendanceRules
from shared_schema.idcard import mask_id_number

from .conftest import cst

RULES = AttendanceRules()


def _fill(site) -> dict[str, str]:
    ids = {"W1": site.enroll("W1", name="张三", team="T1"),
           "W2": site.enroll("W2", name="=HYPERLINK(\"x\")", team="T2", company="C2"),
           "W3": site.enroll("W3", name="王五", entry_date="2026-01-01", exit_date="2026-02-20", action="exit")}
    site.workday("W1", "2026-03-02", "08:00", "17:00")
    site.workday("W1", "2026-03-03", "07:30", "12:00")
    site.gw.punch("W2", cst("2026-03-02", "08:00"), "in", kind="manual", reason="漏打卡", operator="劳资员")
    site.gw.punch("W2", cst("2026-03-02", "16:00"), "out")
    site.workday("W3", "2026-03-02")   # exited before the month: not on the payroll
    site.flush()
    return ids


def test_csv_columns_values_and_masking(site):
    ids = _fill(site)
    rows, _ = payroll.payroll_rows(site.store, site.project_code, "2026-03", RULES)
    data = payroll.to_csv(rows)
    assert data.startswith(b"\xef\xbb\xbf")
    parsed = list(csv.DictReader(io.StringIO(data.decode("utf-8-sig"))))
    assert list(parsed[0]) == list(payroll.COLUMNS)
    assert list(payroll.COLUMNS[:8]) == ["projectCode", "corpCode", "teamSysNo", "payMonth", "idCardType",
                                         "idCardNumber", "days", "workHours"]
    assert [r["workerRef"] for r in parsed] == ["W1", "W2"]
    w1, w2 = parsed
    assert (w1["projectCode"], w1["corpCode"], w1["teamSysNo"], w1["payMonth"], w1["idCardType"]) == (
        site.project_code, "C1", "T1", "2026-03", "01")
    assert (w1["days"], w1["workHours"], w1["manualPunches"]) == ("2", "13.5", "0")
    assert (w2["days"], w2["workHours"], w2["manualPunches"], w2["manualDays"]) == ("1", "8.0", "1", "1")
    assert w1["idCardNumber"] == mask_id_number(ids["W1"]) and "*" in w1["idCardNumber"]
    assert w2["workerName"].startswith("'=")       # not run as a formula by a spreadsheet
    text = data.decode("utf-8-sig")
    assert all(n not in text for n in ids.values())
    assert w1["totalPayAmount"] == "" and w1["payRollBankCardNumber"] == ""


def test_full_ids_only_when_allowed(site):
    ids = _fill(site)
    rows, _ = payroll.payroll_rows(site.store, site.project_code, "2026-03", RULES, full_ids=True)
    assert {r["workerRef"]: r["idCardNumber"] for r in rows} == {"W1": ids["W1"], "W2": ids["W2"]}


def test_xlsx_sheets_and_text_id_numbers(site):
    ids = _fill(site)
    rows, summary = payroll.payroll_rows(site.store, site.project_code, "2026-03", RULES)
    wb = load_workbook(io.BytesIO(payroll.to_xlsx(rows, summary, "2026-03")))
    assert wb.sheetnames == ["PayRollDetail", "汇总"]
    detail = [list(r) for r in wb["PayRollDetail"].iter_rows(values_only=True)]
    assert tuple(detail[0]) == payroll.COLUMNS
    col = {c: i for i, c in enumerate(payroll.COLUMNS)}
    assert detail[1][col["idCardNumber"]] == mask_id_number(ids["W1"])
    assert (detail[1][col["days"]], detail[1][col["workHours"]]) == (2, 13.5)
    assert [list(r) for r in wb["汇总"].iter_rows(values_only=True)][1:] == [
        ["C1", "T1", 1, 2, 13.5, 0], ["C2", "T2", 1, 1, 8.0, 1]]
