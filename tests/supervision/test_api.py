"""Supervision endpoints: auth, JSON reports, payroll export download, 400s on bad parameters
(aiohttp test client; both dialects)."""

from __future__ import annotations

import asyncio
import csv
import io

from aiohttp.test_utils import TestClient, TestServer
from openpyxl import load_workbook

from cloud_receiver.api import make_app
from cloud_receiver.supervision.rules import AttendanceRules

from .conftest import cst

TOKEN = "test-token-0123456789"
AUTH = {"Authorization": f"Bearer {TOKEN}"}


def run_api(store, scenario, **kw):
    async def main():
        async with TestClient(TestServer(make_app(store, {TOKEN}, **kw))) as client:
            await scenario(client)
    asyncio.run(main())


def _urls(code: str) -> list[str]:
    return [f"/api/v1/projects/{code}/attendance?date=2026-03-02",
            f"/api/v1/projects/{code}/attendance/monthly?month=2026-03",
            f"/api/v1/projects/{code}/payroll-export?month=2026-03&format=csv",
            f"/api/v1/projects/{code}/payroll-export?month=2026-03&format=xlsx"]


def test_auth_required(site):
    async def scenario(c):
        for url in _urls(site.project_code):
            assert (await c.get(url)).status == 401, url
            assert (await c.get(url, headers={"Authorization": "Bearer wrong-token-000000"})).status == 401
            assert (await c.get(url, headers=AUTH)).status == 200, url
    run_api(site.store, scenario)


def test_reports_and_exports(site):
    number = site.enroll("W1", name="张三")
    site.enroll("W2", team="T2")
    site.workday("W1", "2026-03-02")
    site.gw.punch("W2", cst("2026-03-02", "08:00"), "in")
    site.flush()

    async def scenario(c):
        day_url, month_url, csv_url, xlsx_url = _urls(site.project_code)
        day = await (await c.get(day_url, headers=AUTH)).json()
        assert day["totals"]["roster"] == 2 and day["totals"]["present"] == 1 and day["totals"]["rate"] == 0.5
        assert [(w["worker_ref"], w["present"]) for w in day["workers"]] == [("W1", True), ("W2", False)]
        assert [t["team_code"] for t in day["teams"]] == ["T1", "T2"] and day["rules"]["min_span_hours"] == 4.0
        month = await (await c.get(month_url, headers=AUTH)).json()
        assert {w["worker_ref"]: w["days_present"] for w in month["workers"]} == {"W1": 1, "W2": 0}
        for body in (day, month):
            assert number not in str(body) and "id_number" not in str(body)
        r = await c.get(csv_url, headers=AUTH)
        assert r.headers["Content-Type"].startswith("text/csv")
        assert "attachment" in r.headers["Content-Disposition"]
        text = (await r.read()).decode("utf-8-sig")
        rows = list(csv.DictReader(io.StringIO(text)))
        assert [(x["workerRef"], x["days"]) for x in rows] == [("W1", "1"), ("W2", "0")]
        assert number not in text and rows[0]["idCardNumber"].startswith(number[:3] + "*")
        r = await c.get(xlsx_url, headers=AUTH)
        assert r.headers["Content-Type"] == "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
        wb = load_workbook(io.BytesIO(await r.read()))
        assert wb["PayRollDetail"].max_row == 3
    run_api(site.store, scenario)


def test_configured_rules_are_used(site):
    site.enroll("W1")
    site.workday("W1", "2026-03-02", "08:00", "11:00")   # 3 h: absent by default, present at ≥ 2 h
    site.flush()

    async def scenario(c):
        day = await (await c.get(_urls(site.project_code)[0], headers=AUTH)).json()
        assert day["totals"]["present"] == 1 and day["rules"]["min_span_hours"] == 2.0
    run_api(site.store, scenario, attendance_rules=AttendanceRules(min_span_hours=2.0))


def test_bad_parameters_are_400_with_json_error(site):
    code = site.project_code

    async def scenario(c):
        for url in (f"/api/v1/projects/{code}/attendance",
                    f"/api/v1/projects/{code}/attendance?date=2026-02-30",
                    f"/api/v1/projects/{code}/attendance?date=2026-3-2",
                    "/api/v1/projects/bad%20code/attendance?date=2026-03-02",
                    f"/api/v1/projects/{code}/attendance/monthly",
                    f"/api/v1/projects/{code}/attendance/monthly?month=2026-13",
                    f"/api/v1/projects/{code}/attendance/monthly?month=2026-03-01",
                    f"/api/v1/projects/{code}/payroll-export?month=2026-03&format=pdf",
                    f"/api/v1/projects/{code}/payroll-export?format=csv",
                    f"/api/v1/projects/{code}/payroll-export?month=03-2026"):
            r = await c.get(url, headers=AUTH)
            assert r.status == 400, url
            assert "error" in await r.json(), url
    run_api(site.store, scenario)
