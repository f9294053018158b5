"""Spreadsheet import through the page: progress, the per-row report, bad files, oversize uploads."""

from __future__ import annotations

import asyncio
import io
import re

import openpyxl

from .conftest import ID_A, ID_B

HEADER = "证件号码,姓名,手机号码,单位统一社会信用代码,所属单位,单位类型,班组编号,工种,人员类型,合同期限类型,合同开始日期,合同结束日期,民族,住址,发证机关,证件有效期起,证件有效期止"
ROW = "{id},{name},13800138000,ACME-LABOUR,测试劳务有限公司,分包单位,T1,钢筋工,建筑工人,fixed_term,2026-01-01,2027-12-31,汉,广东省佛山市样例路1号,佛山市公安局,2020-01-15,2040-01-15"


async def _upload(c, data: bytes, filename: str, content_type: str = "text/csv"):
    from aiohttp import FormData
    token = await c.csrf("/import")
    form = FormData()
    form.add_field("csrf", token)
    form.add_field("file", data, filename=filename, content_type=content_type)
    return await c.c.post("/import", data=form, allow_redirects=False)


async def _report(c, r) -> str:
    assert r.status == 303, await r.text()
    job = r.headers["Location"].split("/")[-1]
    for _ in range(200):
        s = await (await c.c.get(f"/api/import/{job}")).json()
        if s["state"] != "running":
            break
        await asyncio.sleep(0.05)
    return await (await c.c.get(f"/import/{job}")).text()


def test_csv_good_rows_imported_bad_rows_reported(ui, registry):
    async def body(c):
        await c.login()
        bad_check = ID_A[:-1] + ("0" if ID_A[-1] != "0" else "1")
        text = "\n".join([HEADER, ROW.format(id=ID_A, name="王小测"), ROW.format(id=bad_check, name="错号"),
                          ROW.format(id=ID_B, name="=cmd|' /C calc'!A0"), ROW.format(id=ID_B, name="阿依古丽")])
        page = await _report(c, await _upload(c, text.encode("utf-8"), "roster.csv"))
        assert 'id="import-summary"' in page
        rows = re.findall(r"<tr><td>(\d+)</td><td>([^<]*)</td></tr>", page)
        assert {r for r, _ in rows} == {"3", "4"}
        assert any("校验码错误" in msg for r, msg in rows if r == "3")
        assert any("公式" in msg for r, msg in rows if r == "4")
        assert registry.search().total == 2
        assert ID_A not in page and bad_check not in page           # the report names fields, not numbers
        done = [a for a in c.accounts.audit_rows() if a["action"] == "import.done"]
        assert done and done[0]["detail"] == "rows=4 imported=2 bad=2" and done[0]["username"] == "officer"
    ui(body)


def test_xlsx_is_imported(ui, registry):
    async def body(c):
        await c.login()
        wb = openpyxl.Workbook()
        ws = wb.active
        ws.append(HEADER.split(","))
        ws.append(ROW.format(id=ID_A, name="王小测").split(","))
        buf = io.BytesIO()
        wb.save(buf)
        page = await _report(c, await _upload(c, buf.getvalue(), "名单.xlsx",
                                              "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"))
        assert 'id="import-summary"' in page and registry.search().total == 1
    ui(body)


def test_broken_files_say_why_and_import_nothing(ui, registry):
    async def body(c):
        await c.login()
        page = await _report(c, await _upload(c, b"PK\x03\x04" + b"\x00garbage" * 50, "x.xlsx"))
        assert 'id="import-error"' in page and "XLSX" in page
        page = await _report(c, await _upload(c, "姓名,鞋码\n王,42\n".encode(), "x.csv"))
        assert "无法识别" in page
        r = await _upload(c, b"MZ\x90\x00", "tool.exe")
        assert r.status == 415 and "只支持 CSV 或 XLSX" in await r.text()
        r = await _upload(c, b"a,b", "../../etc/passwd")
        assert r.status == 415
        token = await c.csrf("/import")
        r = await c.c.post("/import", data={"csrf": token}, allow_redirects=False)
        assert r.status == 400 and "请选择一个文件" in await r.text()
        assert registry.search().total == 0
    ui(body)


def test_upload_over_the_limit_is_413_before_reading(ui, registry):
    async def body(c):
        await c.login()
        r = await _upload(c, b"a" * (300 * 1024), "big.csv")
        assert r.status == 413
        assert registry.search().total == 0
    ui(body)
