"""Payroll upload and wage-risk endpoints: size limit before reading (Content-Length and
chunked), garbage and refused files, scope (404 for another district's project, filtered
trends), roles on writes; both dialects."""

from __future__ import annotations

import asyncio
import time

from aiohttp.test_utils import TestClient, TestServer

from cloud_receiver import auth
from cloud_receiver.api import make_app
from cloud_receiver.api_wage import configure
from cloud_receiver.supervision.calendar import validate_project
from cloud_receiver.supervision.wage_risk import WageRiskRules, add_months

from .test_wage_risk import line, payroll_csv

BOOT = "test-token-0123456789"
MONTH = time.strftime("%Y-%m")          # the endpoints judge against today: months relative to it
PREV, M2 = add_months(MONTH, -1), add_months(MONTH, -2)   # M2's payroll was due on the 15th of PREV


def run(store, scenario, limit=4096):
    async def go():
        app = make_app(store, {BOOT}, auth_options=auth.AuthOptions(fail_limit=10000))
        configure(app, WageRiskRules(), limit)
        async with TestClient(TestServer(app)) as c:
            await scenario(c)
    asyncio.run(go())


def h(token):
    return {"Authorization": f"Bearer {token}"}


def _setup(site):
    now = time.time()
    site.store.upsert_project(validate_project({"project_code": "P-100", "name": "东", "district": "东区"}), now)
    site.store.upsert_project(validate_project({"project_code": "P-200", "name": "西", "district": "西区"}), now)
    n = site.enroll("W1", entry_date="2020-01-01")
    return {"city": auth.issue_token(site.store, name="c", role="city")[0],
            "east": auth.issue_token(site.store, name="e", role="district", scope=["东区"])[0],
            "west": auth.issue_token(site.store, name="w", role="district", scope=["西区"])[0],
            "gc": auth.issue_token(site.store, name="gc", role="project", scope=["P-100"])[0]}, n


def test_upload_limits_scope_and_report(site):
    tok, n = _setup(site)
    good = payroll_csv([line(n, MONTH, 0, "100", "100")])
    url = "/api/v1/projects/P-100/payroll-import?operator=劳资员&source=pay.csv"

    async def chunks(total):
        for _ in range(total // 1024):
            yield b"x" * 1024

    async def scenario(c):
        r = await c.post(url, data=good, headers={**h(tok["gc"]), "Content-Type": "text/csv"})
        body = await r.json()
        assert r.status == 200 and body["inserted"] == 1 and body["rejected"] == [] and body["format"] == "csv"
        r = await c.post(url, data=good, headers=h(tok["east"]))
        assert r.status == 200 and (await r.json())["unchanged"] == 1
        for who in ("west",):
            r = await c.post(url, data=good, headers=h(tok[who]))
            assert r.status == 404 and (await r.json()) == {"error": "no such project"}
        r = await c.post(url, data=b"y" * 5000, headers=h(tok["gc"]))
        assert r.status == 413
        r = await c.post(url, data=chunks(64 * 1024), headers=h(tok["gc"]))      # chunked: no Content-Length
        assert r.status == 413
        r = await c.post(url, data=b"\x00\xff garbage" * 10, headers=h(tok["gc"]))
        assert r.status == 400 and "binary" in (await r.json())["error"]
        r = await c.post(url, data=b"", headers=h(tok["gc"]))
        assert r.status == 400
        r = await c.post("/api/v1/projects/P-100/payroll-import", data=good, headers=h(tok["gc"]))
        assert r.status == 400 and "operator" in (await r.json())["error"]
        r = await c.post(url + "&format=pdf", data=good, headers=h(tok["gc"]))
        assert r.status == 400
        r = await c.post("/api/v1/projects/P-100/payroll-import?operator=x&source=../../etc/passwd", data=good,
                         headers=h(tok["gc"]))
        assert r.status == 400
        imports = (await (await c.get("/api/v1/projects/P-100/payroll-imports", headers=h(tok["gc"]))).json())
        assert [i["inserted"] for i in imports["imports"]] == [0, 1] and imports["imports"][1]["source"] == "pay.csv"
        assert (await c.get("/api/v1/projects/P-100/payroll-imports", headers=h(tok["west"]))).status == 404
    run(site.store, scenario)


def test_trend_month_and_writes_by_role(site):
    tok, n = _setup(site)
    site.workday("W1", f"{M2}-02")
    site.flush()

    async def scenario(c):
        r = await c.post("/api/v1/wage-risk/evaluate", headers=h(tok["east"]), json={})
        assert r.status == 403
        r = await c.post("/api/v1/wage-risk/evaluate", headers=h(tok["city"]), json={})
        assert r.status == 200
        ws = (await (await c.get("/api/v1/warnings?rule=wage_payroll_missing", headers=h(tok["east"]))).json())
        assert [w["subject"] for w in ws["warnings"]] == [f"P-100/{M2}"]
        ws = (await (await c.get("/api/v1/warnings?rule=wage_payroll_missing", headers=h(tok["west"]))).json())
        assert ws["warnings"] == []
        url = f"/api/v1/wage-risk/trend?module=arrears&from={add_months(M2, -1)}&to={M2}"
        east = (await (await c.get(url, headers=h(tok["east"]))).json())["series"]
        west = (await (await c.get(url, headers=h(tok["west"]))).json())["series"]
        assert [s["not_submitted"] for s in east] == [0, 1] and [s["projects"] for s in east] == [1, 1]
        assert [s.get("not_submitted", 0) for s in west] == [0, 0]
        r = await c.get(url + "&project=P-100", headers=h(tok["west"]))
        assert r.status == 404
        r = await c.get(url + "&district=东区", headers=h(tok["west"]))
        assert [s["projects"] for s in (await r.json())["series"]] == [0, 0]
        for bad in ("module=x&from=2026-01&to=2026-02", "module=claims&from=2026-03&to=2026-01",
                    "module=claims&from=2020-01&to=2026-01", "module=claims&from=2026-1&to=2026-02"):
            assert (await c.get(f"/api/v1/wage-risk/trend?{bad}", headers=h(tok["city"]))).status == 400, bad
        m = await (await c.get(f"/api/v1/projects/P-100/wage-risk?month={M2}", headers=h(tok["gc"]))).json()
        assert m["attendance_workers"] == 1 and m["submitted"] is False and m["computed_at"] is not None
        assert n not in str(m)
        assert (await c.get(f"/api/v1/projects/P-200/wage-risk?month={M2}", headers=h(tok["gc"]))).status == 404
        ev = {"project_code": "P-100", "corp_code": "C1", "kind": "dispute", "occurred_on": "2026-03-05",
              "operator": "区劳动监察"}
        assert (await c.post("/api/v1/wage-risk/service-events", headers=h(tok["gc"]), json=ev)).status == 403
        assert (await c.post("/api/v1/wage-risk/service-events", headers=h(tok["west"]), json=ev)).status == 404
        r = await c.post("/api/v1/wage-risk/service-events", headers=h(tok["east"]), json=ev)
        assert r.status == 201 and (await r.json())["kind"] == "dispute"
        for bad in ({**ev, "kind": "evaluation"}, {**ev, "score": 5}, {**ev, "occurred_on": "2026-13-01"},
                    {**ev, "extra": 1}, {**ev, "corp_code": "=cmd"}, {**ev, "kind": "evaluation", "score": 101}):
            r = await c.post("/api/v1/wage-risk/service-events", headers=h(tok["east"]), json=bad)
            assert r.status == 400, bad
    run(site.store, scenario)
