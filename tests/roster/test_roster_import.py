"""Bulk import from CSV/XLSX: every bad row reported with its row number, good rows imported."""

from __future__ import annotations

import csv
import datetime as dt
import io

import openpyxl
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from edge_agent.roster import ImportFileError, import_file, import_workers
from edge_agent.roster import importer as imp
from roster_helpers import TODAY, record, resident_id

ZH_HEADER = ["姓名", "身份证号", "民族", "住址", "签发机关", "有效期起", "有效期止", "手机号", "统一社会信用代码",
             "所属单位", "单位类型", "班组编号", "班组", "工种", "人员类型", "合同期限类型", "合同开始日期",
             "合同结束日期"]
KEYS = ["name", "id_number", "nation", "address", "issuing_authority", "id_valid_from", "id_valid_to", "phone",
        "company_code", "company_name", "company_kind", "team_code", "team_name", "work_type", "role",
        "contract_period_type", "contract_start", "contract_end"]


def zh_row(**over) -> list:
    r = record(nation="汉", company_kind="分包单位", work_type="钢筋工", role="建筑工人", contract_period_type="固定期限",
               **over)
    return [r.get(k, "") for k in KEYS]


def csv_bytes(rows, encoding="utf-8-sig", delimiter=",") -> bytes:
    buf = io.StringIO()
    csv.writer(buf, delimiter=delimiter).writerows(rows)
    return buf.getvalue().encode(encoding)


def sheet(rows) -> bytes:
    wb = openpyxl.Workbook()
    ws = wb.active
    for r in rows:
        ws.append(r)
    buf = io.BytesIO()
    wb.save(buf)
    return buf.getvalue()


def good_and_bad_rows():
    return [ZH_HEADER,
            zh_row(id_number=resident_id(order=11)),
            zh_row(id_number=resident_id(order=12)[:17] + ("0" if resident_id(order=12)[17] != "0" else "1")),
            zh_row(id_number=resident_id(order=13), id_valid_to="2020-01-01", phone="123"),
            [""] * len(ZH_HEADER),                                     # a blank row is skipped
            zh_row(id_number=resident_id(order=14), name="王小二"),
            zh_row(id_number=resident_id(order=11))]                   # the same ID again


def check_report(rep, registry):
    assert rep.rows == 5
    assert [r for r, _ in rep.imported] == [2, 6]
    assert rep.bad_rows == [3, 4, 7]
    by_row = {}
    for e in rep.errors:
        by_row.setdefault(e.row, set()).add(e.field)
    assert by_row == {3: {"id_number"}, 4: {"id_valid_to", "phone"}, 7: {"id_number"}}
    assert all(e.zh and e.en for e in rep.errors)
    assert registry.search().total == 2


def test_csv_utf8_with_zh_headers(registry):
    seen = []
    rep = import_workers(registry, csv_bytes(good_and_bad_rows()), "roster.csv", operator="imp",
                         progress=lambda d, t: seen.append((d, t)))
    check_report(rep, registry)
    assert seen[-1] == (6, 6) and len(seen) == 6


def test_csv_in_gbk_as_excel_writes_it(registry):
    rep = import_workers(registry, csv_bytes(good_and_bad_rows(), "gbk"), "花名册.csv", operator="imp")
    check_report(rep, registry)
    assert registry.search(name="王小二").total == 1


def test_excel_unicode_text_utf16_tab_separated(registry):
    rep = import_workers(registry, csv_bytes(good_and_bad_rows(), "utf-16", delimiter="\t"), "r.txt", operator="imp")
    check_report(rep, registry)


def test_tab_separated_csv(registry):
    rep = import_workers(registry, csv_bytes(good_and_bad_rows(), delimiter="\t"), "r.csv", operator="imp")
    check_report(rep, registry)


def test_xlsx_with_dates_and_numbers_as_excel_stores_them(registry):
    rows = good_and_bad_rows()
    rows[1][KEYS.index("id_valid_from")] = dt.datetime(2015, 1, 1)      # a real date cell
    rows[1][KEYS.index("work_type")] = 20                               # "020" typed as a number
    rep = import_workers(registry, sheet(rows), "roster.xlsx", operator="imp")
    check_report(rep, registry)
    w = registry.get(rep.imported[0][1])
    assert w.record["work_type"] == "020" and w.record["id_valid_from"] == "2015-01-01"


def test_english_field_names_and_an_id_type_column(registry):
    r = record()
    rep = import_workers(registry, csv_bytes([list(r), list(r.values())]), "r.csv", operator="imp")
    assert len(rep.imported) == 1 and rep.errors == []


def test_formula_cells_are_refused(registry):
    rows = [ZH_HEADER, zh_row(id_number=resident_id(order=21), name="=HYPERLINK(\"http://x\")"),
            zh_row(id_number=resident_id(order=22), address="@SUM(A1)"),
            zh_row(id_number=resident_id(order=23), phone="+86 13800138000")]       # a phone is not a formula
    rep = import_workers(registry, csv_bytes(rows), "r.csv", operator="imp")
    assert rep.bad_rows == [2, 3] and [r for r, _ in rep.imported] == [4]
    assert {e.field for e in rep.errors} == {"name", "address"}
    xrows = [ZH_HEADER, zh_row(id_number=resident_id(order=24))]
    xrows[1][KEYS.index("address")] = "=CONCAT(\"a\",\"b\")"
    rep = import_workers(registry, sheet(xrows), "r.xlsx", operator="imp")
    assert rep.bad_rows == [2] and rep.errors[0].field == "address"


def test_data_without_a_header_column_is_a_bad_row(registry):
    rows = [ZH_HEADER, zh_row(id_number=resident_id(order=31)) + ["stray"]]
    rep = import_workers(registry, csv_bytes(rows), "r.csv", operator="imp")
    assert rep.bad_rows == [2] and registry.search().total == 0


@pytest.mark.parametrize("data, name, words", [
    (b"", "r.csv", "empty"),
    (b"\x00\x01\x02garbage\xff" * 10, "r.csv", "binary"),
    (b"\x80\x81\xfd\xfe\xff" * 10, "r.csv", "encoding"),
    (b"\xff\xfe" + "姓名".encode("utf-16-le") + b"\x00", "r.csv", "UTF-16"),   # truncated mid-character
    (b"PK\x03\x04" + b"\x00" * 100, "r.xlsx", "XLSX"),
    ("姓名,身份证号\n".encode(), "r.pdf", "only CSV and XLSX"),
    ("昵称,身份证号\n张三,1\n".encode(), "r.csv", "unknown header"),
    ("姓名,手机号\n张三,13800138000\n".encode(), "r.csv", "ID number and name"),
    ("姓名,身份证号,身份证号码\n".encode(), "r.csv", "duplicate column"),
    ('姓名,身份证号\n"张三,1\n'.encode(), "r.csv", "malformed CSV"),
])
def test_unusable_files_are_clear_errors_and_import_nothing(registry, data, name, words):
    with pytest.raises(ImportFileError) as exc:
        import_workers(registry, data, name, operator="imp")
    assert words in exc.value.en and exc.value.zh
    assert registry.search().total == 0


def test_a_truncated_xlsx_is_a_clear_error(registry):
    data = sheet(good_and_bad_rows())
    with pytest.raises(ImportFileError, match="broken"):
        import_workers(registry, data[: len(data) // 2], "r.xlsx", operator="imp")
    assert registry.search().total == 0


def test_oversize_files_and_too_many_rows(registry, tmp_path, monkeypatch):
    big = tmp_path / "big.csv"
    with big.open("wb") as f:
        f.truncate(imp.MAX_FILE_BYTES + 1)
    with pytest.raises(ImportFileError, match="larger"):
        import_file(registry, big, operator="imp")
    monkeypatch.setattr(imp, "MAX_ROWS", 3)
    rows = [ZH_HEADER] + [zh_row(id_number=resident_id(order=40 + i)) for i in range(4)]
    with pytest.raises(ImportFileError, match="more than 3"):
        import_workers(registry, csv_bytes(rows), "r.csv", operator="imp")
    with pytest.raises(ImportFileError, match="more than 3"):
        import_workers(registry, sheet(rows), "r.xlsx", operator="imp")
    assert registry.search().total == 0


def test_an_xlsx_bomb_is_refused(registry, monkeypatch):
    monkeypatch.setattr(imp, "MAX_XLSX_UNPACKED", 1000)
    with pytest.raises(ImportFileError, match="expands"):
        import_workers(registry, sheet(good_and_bad_rows()), "r.xlsx", operator="imp")


def test_import_file_from_disk(registry, tmp_path):
    path = tmp_path / "r.csv"
    path.write_bytes(csv_bytes(good_and_bad_rows()))
    check_report(import_file(registry, path, operator="imp"), registry)
    assert {w.record["entry_date"] for w in registry.search().items} == {TODAY.isoformat()}


@given(st.binary(max_size=2000))
@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
def test_property_any_bytes_give_a_report_or_a_clear_error(registry, data):
    for name in ("r.csv", "r.xlsx"):
        try:
            rep = import_workers(registry, data, name, operator="imp")
        except ImportFileError as exc:
            assert exc.zh and exc.en
        else:
            assert rep.rows >= len(rep.imported)


@given(st.lists(st.lists(st.one_of(st.text(st.characters(blacklist_categories=("Cc", "Cs")), max_size=30),
                                   st.integers(), st.none()), min_size=len(ZH_HEADER),
                         max_size=len(ZH_HEADER)), max_size=5))
@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
def test_property_random_cells_under_a_good_header_never_half_save(registry, rows):
    before = registry.search().total
    rep = import_workers(registry, sheet([ZH_HEADER] + rows), "r.xlsx", operator="imp")
    assert registry.search().total == before + len(rep.imported)
    assert set(rep.bad_rows).isdisjoint(r for r, _ in rep.imported)


def test_the_template_sheet_round_trips(registry):
    """A filled-in template (its own zh-CN headers, from Excel as GBK) imports."""
    from edge_agent.roster import FIELDS, template_csv
    header = template_csv().decode("utf-8-sig").strip().split(",")
    assert header == [zh for zh, _ in FIELDS.values()]
    r = record()
    row = [r.get(k, "") for k in FIELDS]
    rep = import_workers(registry, csv_bytes([header, row], "gbk"), "t.csv", operator="imp")
    assert len(rep.imported) == 1 and rep.errors == []
