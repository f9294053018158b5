"""Payroll import (PayRollDetail CSV/XLSX): idempotent round trip from our own export, every bad
row reported with its number and reason, file-level refusals (oversize, garbage, truncated,
zip bomb, GBK), nothing sensitive stored, and hypothesis properties of row validation.
Both dialects."""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
import zipfile

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from openpyxl import Workbook

from cloud_receiver.supervision import payroll
from cloud_receiver.supervision.payroll_import import (
    REQUIRED,
    PayrollFileError,
    RowError,
    import_payroll,
    parse_payroll,
    validate_row,
)
from cloud_receiver.supervision.rules import AttendanceRules

from .conftest import id_number

TODAY = dt.date(2026, 4, 10)
CARD = "6222020200112233445"


def _row(project="P-100", number=None, **kw) -> dict:
    row = dict.fromkeys(payroll.COLUMNS, "")
    row.update(projectCode=project, corpCode="C1", teamSysNo="T1", payMonth="2026-03", idCardType="01",
               idCardNumber=number or id_number(1), days=20, workHours=160, totalPayAmount="6000.00",
               actualAmount="6000.00", payRollBankCardNumber=CARD, payRollBankCode="ICBC",
               payRollBankName="工商银行", isBackPay="0", workerName="张三")
    row.update(kw)
    return row


def _csv(rows, columns=payroll.COLUMNS, encoding="utf-8-sig") -> bytes:
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\r\n")
    w.writerow(columns)
    for r in rows:
        w.writerow([r.get(c, "") for c in columns])
    return buf.getvalue().encode(encoding)


def _import(store, data, **kw):
    return import_payroll(store, "P-100", data, source="t.csv", operator="劳资专管员", now=1.0e9, today=TODAY, **kw)


def test_export_fill_import_round_trip_is_idempotent(site):
    """Our own export (full IDs, amounts filled in) imports back; again: unchanged; an edit: updated."""
    n1 = site.enroll("W1", name="张三")
    site.enroll("W2", name="李四")
    site.workday("W1", "2026-03-02")
    site.flush()
    rows, summary = payroll.payroll_rows(site.store, "P-100", "2026-03", AttendanceRules(), full_ids=True)
    for r in rows:
        r.update(totalPayAmount="300.00", actualAmount="300.00", payRollBankCardNumber=CARD, isBackPay="0")
    data = payroll.to_csv(rows)
    first = _import(site.store, data)
    assert (first["inserted"], first["updated"], first["unchanged"], first["rejected"]) == (2, 0, 0, [])
    assert first["months"] == ["2026-03"] and first["encoding"] == "utf-8"
    again = _import(site.store, data)
    assert (again["inserted"], again["updated"], again["unchanged"]) == (0, 0, 2)
    rows[0]["actualAmount"] = "250.50"
    edited = _import(site.store, payroll.to_csv(rows))
    assert (edited["inserted"], edited["updated"], edited["unchanged"]) == (0, 1, 1)
    xlsx = _import(site.store, payroll.to_xlsx(rows, summary, "2026-03"))
    assert xlsx["format"] == "xlsx" and (xlsx["inserted"], xlsx["updated"], xlsx["unchanged"]) == (0, 0, 2)
    stored = site.store.payroll_records("P-100", "2026-03", "2026-03")
    assert sorted(r["actual_pay_cents"] for r in stored) == [25050, 30000]
    assert {r["days"] for r in stored} == {0, 1}
    dump = json.dumps([site.store._read(f"SELECT * FROM {t}") for t in ("payroll_records", "payroll_imports")],
                      default=str)
    assert n1 not in dump and CARD not in dump and CARD[-4:] in dump and "工商银行" not in dump
    assert len(site.store.payroll_imports("P-100")) == 4


def test_masked_export_rows_are_rejected_with_a_reason(site):
    site.enroll("W1")
    rows, _ = payroll.payroll_rows(site.store, "P-100", "2026-03", AttendanceRules())
    for r in rows:
        r.update(totalPayAmount="1", actualAmount="1")
    out = _import(site.store, payroll.to_csv(rows))
    assert out["imported"] == 0 and out["rejected"] == [{"row": 2, "reason": out["rejected"][0]["reason"]}]
    assert "masked" in out["rejected"][0]["reason"]


def test_every_bad_row_is_reported_and_good_rows_imported(store):
    good = [_row(number=id_number(i)) for i in (1, 2)]
    bad = [
        (_row(project="P-OTHER", number=id_number(3)), "projectCode"),
        (_row(number=id_number(4)[:-1] + ("0" if id_number(4)[-1] != "0" else "1")), "校验码"),
        (_row(number="440***********1234"), "masked"),
        (_row(number=id_number(5), totalPayAmount="-100"), "negative"),
        (_row(number=id_number(6), actualAmount="12.345"), "decimals"),
        (_row(number=id_number(7), days=32), "days"),
        (_row(number=id_number(8), payMonth="2026-05"), "future"),
        (_row(number=id_number(9), payMonth="2026-13"), "payMonth"),
        (_row(number=id_number(10), corpCode='=HYPERLINK("http://x","y")'), "formula"),
        (_row(number=id_number(11), teamSysNo="@SUM(A1)"), "formula"),
        (_row(number=id_number(12), payRollBankCardNumber="12ab"), "payRollBankCardNumber"),
        (_row(number=id_number(1)), "row 2"),                                  # duplicate of the first good row
        (_row(number=id_number(13), idCardType="99"), "idCardType"),
        (_row(number=id_number(14), workHours="abc"), "workHours"),
        (_row(number=id_number(15), isBackPay="maybe"), "isBackPay"),
        (_row(number=id_number(16), totalPayAmount=""), "required"),
        (_row(number=id_number(17), totalPayAmount="1e400"), "larger"),
        (_row(number=id_number(18), actualAmount="NaN"), "number"),
    ]
    data = _csv(good + [b for b, _ in bad])
    out = _import(store, data)
    assert out["inserted"] == 2 and out["rows"] == len(good) + len(bad)
    assert [r["row"] for r in out["rejected"]] == list(range(4, 4 + len(bad)))
    for rej, (_, why) in zip(out["rejected"], bad):
        assert why in rej["reason"], rej
    text = json.dumps(out, ensure_ascii=False)
    for i in range(1, 19):
        assert id_number(i) not in text                           # reasons never echo an ID number


def test_escaped_formula_text_from_our_export_is_read_back(store):
    """The export prefixes ' to formula-like text; a team code '-T1' exported as "'-T1" is refused
    (not a code) but never evaluated, and a plain code with the prefix reads back."""
    out = _import(store, _csv([_row(teamSysNo="'-T1"), _row(number=id_number(2), teamSysNo="T2")]))
    assert out["inserted"] == 1 and "formula" in out["rejected"][0]["reason"]


def test_gbk_csv_is_decoded(store):
    """Excel on a Chinese Windows saves CSV in GBK: it imports, and the report says so."""
    data = _csv([_row(workerName="王五", payRollBankName="中国农业银行")], encoding="gbk")
    with pytest.raises(UnicodeDecodeError):
        data.decode("utf-8")
    out = _import(store, data)
    assert out["encoding"] == "gb18030" and out["inserted"] == 1


def test_xlsx_formula_cells_reject_their_row(store):
    wb = Workbook()
    ws = wb.active
    ws.title = "PayRollDetail"
    ws.append(list(payroll.COLUMNS))
    r1, r2 = _row(), _row(number=id_number(2))
    ws.append([r1[c] for c in payroll.COLUMNS])
    ws.append([r2[c] for c in payroll.COLUMNS])
    ws.cell(row=3, column=payroll.COLUMNS.index("actualAmount") + 1, value="=1+1")
    buf = io.BytesIO()
    wb.save(buf)
    out = _import(store, buf.getvalue())
    assert out["inserted"] == 1 and out["rejected"] == [{"row": 3, "reason": "a cell holds a spreadsheet formula"}]


def _zip_bomb() -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        with zf.open("xl/worksheets/sheet1.xml", "w", force_zip64=True) as f:
            chunk = b"\0" * (1 << 20)
            for _ in range(210):
                f.write(chunk)
    return buf.getvalue()


@pytest.mark.parametrize("data, why", [
    (b"", "empty"),
    (b"\x00\x01\x02garbage" * 100, "binary"),
    (bytes(range(128, 256)) * 50, "neither UTF-8 nor GBK"),
    (b"PK\x03\x04truncated zip", "XLSX"),
    (b"a,b,c\r\n1,2,3\r\n", "missing PayRollDetail columns"),
    (("projectCode,corpCode\r\n").encode(), "missing"),
    (_csv([]).replace(b"corpCode", b"projectCode"), "missing"),
    (_csv([_row()])[:-30] + b'"unterminated', "CSV"),
    (b"x" * 20000, "larger"),
])
def test_file_level_refusals_import_nothing(store, data, why):
    with pytest.raises(PayrollFileError, match=why):
        _import(store, data, max_bytes=10000)
    assert store.payroll_imports("P-100") == []


def test_zip_bomb_is_refused_before_unpacking(store):
    data = _zip_bomb()
    assert len(data) < 1_000_000
    with pytest.raises(PayrollFileError, match="unpacks too large"):
        _import(store, data)


def test_truncated_xlsx_is_refused(store):
    wb = Workbook()
    wb.active.append(list(payroll.COLUMNS))
    buf = io.BytesIO()
    wb.save(buf)
    with pytest.raises(PayrollFileError, match="XLSX"):
        _import(store, buf.getvalue()[: len(buf.getvalue()) // 2])


def test_rows_past_the_header_width_and_blank_lines(store):
    data = _csv([_row()]) + b"\r\n,,,\r\n" + _csv([_row(number=id_number(2))]).split(b"\r\n", 1)[1].rstrip() + b",extra\r\n"
    out = _import(store, data)
    assert out["inserted"] == 1 and out["rejected"] == [{"row": 5, "reason": "more cells than header columns"}]


# ---- properties ----------------------------------------------------------------------------
CELL = st.one_of(st.none(), st.text(max_size=30), st.integers(-10**6, 10**9), st.floats(allow_nan=True),
                 st.booleans(), st.dates().map(lambda d: dt.datetime(d.year, d.month, d.day)))


@settings(max_examples=400, deadline=None)
@given(st.dictionaries(st.sampled_from(payroll.COLUMNS), CELL))
def test_any_cells_give_a_record_or_a_row_error(cells):
    try:
        rec = validate_row(cells, "P-100", TODAY)
    except RowError as exc:
        assert str(exc)
        return
    assert rec["total_pay_cents"] >= 0 and 0 <= rec["days"] <= 31 and len(rec["id_hash"]) == 64
    assert "*" in rec["id_masked"]


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(days=st.integers(0, 31), hours=st.decimals(0, 744, places=2), total=st.decimals(0, 10**7, places=2),
       actual=st.decimals(0, 10**7, places=2), n=st.integers(1, 900))
def test_valid_rows_keep_their_values(days, hours, total, actual, n):
    rec = validate_row(_row(number=id_number(n), days=days, workHours=str(hours), totalPayAmount=str(total),
                            actualAmount=str(actual)), "P-100", TODAY)
    assert rec["days"] == days and rec["total_pay_cents"] == int(total * 100)
    assert rec["actual_pay_cents"] == int(actual * 100) and abs(rec["work_hours"] - float(hours)) < 1e-9
    assert rec == validate_row(_row(number=id_number(n), days=float(days), workHours=str(hours),
                                    totalPayAmount=f"{total:,}", actualAmount=str(actual)), "P-100", TODAY)


@settings(max_examples=50, deadline=None)
@given(st.lists(st.sampled_from(REQUIRED), min_size=1, unique=True))
def test_a_missing_required_column_refuses_the_file(drop):
    cols = [c for c in payroll.COLUMNS if c not in drop]
    with pytest.raises(PayrollFileError, match="missing"):
        parse_payroll(_csv([_row()], columns=cols), "P-100", today=TODAY)


def test_cli_payroll_import(tmp_path, store_url, capsys):
    """``cloud-receiver payroll-import``: the JSON report; exit 1 when rows were rejected or the file refused."""
    from cloud_receiver.cli import main
    from receiver.conftest import write_config

    cfg = write_config(tmp_path, store_url=store_url)
    good, mixed, junk = tmp_path / "good.csv", tmp_path / "mixed.csv", tmp_path / "junk.xlsx"
    month = dt.date.today().strftime("%Y-%m")
    good.write_bytes(_csv([_row(payMonth=month)]))
    mixed.write_bytes(_csv([_row(payMonth=month), _row(number=id_number(2), payMonth=month, days=-1)]))
    junk.write_bytes(b"PK\x03\x04 not really")
    args = ["--config", str(cfg), "payroll-import", "--project-code", "P-100", "--operator", "劳资员", "--file"]
    assert main(args + [str(good)]) == 0
    assert json.loads(capsys.readouterr().out)["inserted"] == 1
    assert main(args + [str(mixed)]) == 1
    out = json.loads(capsys.readouterr().out)
    assert out["unchanged"] == 1 and out["rejected"] == [{"row": 3, "reason": "days must not be negative"}]
    assert main(args + [str(junk)]) == 1 and "XLSX" in capsys.readouterr().err
    assert main(args + [str(tmp_path / "missing.csv")]) == 2
