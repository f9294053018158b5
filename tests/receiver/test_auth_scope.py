"""Every endpoint checks scope (issue 6): a district or project token never sees another
district's or contractor's project — 404 exactly as for a project that does not exist,
filtered listings, 403 on city-only endpoints; full ID numbers only for a city token made
with ``--full-ids`` that asks ``ids=full``. Both dialects, real ingest path."""

from __future__ import annotations

import asyncio
import csv
import io
import time

from aiohttp.test_utils import TestClient, TestServer

from cloud_receiver import auth
from cloud_receiver.api import make_app
from cloud_receiver.supervision.calendar import validate_project
from cloud_receiver.supervision.warnings import evaluate_warnings
from supervision.conftest import Site

BOOT = "test-token-0123456789"


def bearer(token: str) -> dict:
    return {"Authorization": f"Bearer {token}"}


def run(store, scenario):
    async def go():
        async with TestClient(TestServer(make_app(store, {BOOT},
                                                  auth_options=auth.AuthOptions(fail_limit=10000)))) as c:
            await scenario(c)
    asyncio.run(go())


def _city(store):
    """Two districts, one project each, a gateway, a worker with a workday, and warnings."""
    now = time.time()
    for code, district in (("P-E1", "东区"), ("P-W1", "西区")):
        store.upsert_project(validate_project({"project_code": code, "name": code, "district": district}), now)
    east, west = Site(store, "P-E1", "GW-E"), Site(store, "P-W1", "GW-W")
    numbers = {}
    for s in (east, west):
        numbers[s.project_code] = s.enroll("W1", name="张三")
        s.workday("W1", "2026-03-02")
        s.flush()
    evaluate_warnings(store, "2026-03-02", now=now)
    return numbers


def _tokens(store):
    return {"district": auth.issue_token(store, name="east", role="district", scope=["东区"])[0],
            "project": auth.issue_token(store, name="gc", role="project", scope=["P-E1"])[0],
            "city": auth.issue_token(store, name="city", role="city")[0],
            "city_ids": auth.issue_token(store, name="city-ids", role="city", full_ids=True)[0]}


PROJECT_GETS = ["/api/v1/projects/{p}", "/api/v1/projects/{p}/punches?date=2026-03-02",
                "/api/v1/projects/{p}/attendance?date=2026-03-02", "/api/v1/projects/{p}/attendance/monthly?month=2026-03",
                "/api/v1/projects/{p}/payroll-export?month=2026-03", "/api/v1/projects/{p}/on-duty?month=2026-03",
                "/api/v1/anomalies?date=2026-03-02&project={p}", "/api/v1/warnings?project={p}"]


def test_scoped_tokens_see_only_their_projects(store):
    _city(store)
    tok = _tokens(store)

    async def scenario(c):
        for role in ("district", "project"):
            h = bearer(tok[role])
            for url in PROJECT_GETS:
                assert (await c.get(url.format(p="P-E1"), headers=h)).status == 200, (role, url)
                other = await c.get(url.format(p="P-W1"), headers=h)
                missing = await c.get(url.format(p="P-NONE"), headers=h)
                assert other.status == missing.status == 404, (role, url)
                assert (await other.json()) == (await missing.json()) == {"error": "no such project"}
            body = await (await c.get("/api/v1/projects", headers=h)).json()
            assert [p["project_code"] for p in body["projects"]] == ["P-E1"]
            body = await (await c.get("/api/v1/projects?district=西区", headers=h)).json()
            assert body["projects"] == []
            body = await (await c.get("/api/v1/gateways", headers=h)).json()
            assert [g["gateway_id"] for g in body["gateways"]] == ["GW-E"]
            assert (await c.get("/api/v1/gateways/GW-E", headers=h)).status == 200
            for gid in ("GW-W", "GW-NONE"):
                r = await c.get(f"/api/v1/gateways/{gid}", headers=h)
                assert r.status == 404 and (await r.json()) == {"error": "no such gateway"}
                assert (await c.get(f"/api/v1/gate-events?gateway_id={gid}", headers=h)).status == 404
                assert (await c.get(f"/api/v1/alerts?gateway={gid}", headers=h)).status == 404
            assert (await c.get("/api/v1/gate-events?gateway_id=GW-E", headers=h)).status == 200
            assert (await c.get("/api/v1/gate-events", headers=h)).status == 400
            assert (await c.get("/api/v1/alerts", headers=h)).status == 400
            assert (await c.get("/api/v1/anomalies?date=2026-03-02", headers=h)).status == 400
            ws = (await (await c.get("/api/v1/warnings", headers=h)).json())["warnings"]
            assert ws and {w["project_code"] for w in ws} == {"P-E1"}
            for url in ("/api/v1/stats", "/metrics"):
                r = await c.get(url, headers=h)
                assert r.status == 403 and "role" in (await r.json())["error"]
            r = await c.post("/api/v1/alerts/1/state", headers=h, json={"state": "resolved", "operator": "x"})
            assert r.status == 403
            # warning state changes: own project yes, another's looks missing
            city_ws = (await (await c.get("/api/v1/warnings", headers=bearer(tok["city"]))).json())["warnings"]
            west = next(w for w in city_ws if w["project_code"] == "P-W1")
            r = await c.post(f"/api/v1/warnings/{west['warning_id']}/state", headers=h,
                             json={"state": "acknowledged", "operator": "x"})
            assert r.status == 404 and (await r.json()) == {"error": "no such warning"}
            r = await c.post("/api/v1/projects/P-W1/status", headers=h,
                             json={"status": "005", "from_date": "2026-03-10", "operator": "x"})
            assert r.status in (403, 404)
        # the city sees both
        h = bearer(tok["city"])
        body = await (await c.get("/api/v1/projects", headers=h)).json()
        assert [p["project_code"] for p in body["projects"]] == ["P-E1", "P-W1"]
        ws = (await (await c.get("/api/v1/warnings", headers=h)).json())["warnings"]
        assert {w["project_code"] for w in ws} == {"P-E1", "P-W1"}
        assert (await c.get("/api/v1/stats", headers=h)).status == 200
        assert (await c.get("/metrics", headers=h)).status == 200
    run(store, scenario)


def test_project_writes_by_role(store):
    _city(store)
    tok = _tokens(store)

    async def scenario(c):
        dist, proj = bearer(tok["district"]), bearer(tok["project"])
        r = await c.post("/api/v1/projects", headers=proj, json={"project_code": "P-E2", "name": "n", "district": "东区"})
        assert r.status == 403
        r = await c.post("/api/v1/projects", headers=dist, json={"project_code": "P-E2", "name": "n", "district": "西区"})
        assert r.status == 403
        r = await c.post("/api/v1/projects", headers=dist, json={"project_code": "P-W1", "name": "n", "district": "东区"})
        assert r.status == 403                  # cannot pull another district's project into its own
        r = await c.post("/api/v1/projects", headers=dist, json={"project_code": "P-E2", "name": "n", "district": "东区"})
        assert r.status == 201
        r = await c.post("/api/v1/projects/P-E2/status", headers=dist,
                         json={"status": "005", "from_date": "2026-03-10", "operator": "区住建局", "reason": "整改"})
        assert r.status == 201
        r = await c.post("/api/v1/projects/P-E2/status", headers=proj,
                         json={"status": "003", "from_date": "2026-03-20", "operator": "x"})
        assert r.status == 403
        body = await (await c.get("/api/v1/projects", headers=dist)).json()
        assert [p["project_code"] for p in body["projects"]] == ["P-E1", "P-E2"]
    run(store, scenario)


def test_full_id_numbers_only_for_a_flagged_city_token_that_asks(store):
    numbers = _city(store)
    tok = _tokens(store)
    full = numbers["P-E1"]

    async def ids(c, token, extra=""):
        r = await c.get(f"/api/v1/projects/P-E1/payroll-export?month=2026-03{extra}", headers=bearer(token))
        assert r.status == 200
        rows = list(csv.DictReader(io.StringIO((await r.read()).decode("utf-8-sig"))))
        return [row["idCardNumber"] for row in rows]

    async def scenario(c):
        assert await ids(c, tok["city_ids"], "&ids=full") == [full]
        assert await ids(c, tok["city_ids"]) == [full[:3] + "*" * 11 + full[-4:]]   # not asked: masked
        for who in ("city", "district", "project"):
            assert await ids(c, tok[who], "&ids=full") != [full], who
        assert await ids(c, BOOT, "&ids=full") != [full]                          # bootstrap token never
    run(store, scenario)


def test_full_ids_flag_is_void_when_the_role_is_no_longer_allowed(store):
    """A token made --full-ids while the config allowed it loses the right when full_id_roles changes."""
    numbers = _city(store)
    token, _ = auth.issue_token(store, name="d", role="district", scope=["东区"], full_ids=True,
                                full_id_roles=("city", "district"))

    async def scenario(c):
        r = await c.get("/api/v1/projects/P-E1/payroll-export?month=2026-03&ids=full", headers=bearer(token))
        assert numbers["P-E1"] not in (await r.read()).decode("utf-8-sig")
    run(store, scenario)    # default options: full_id_roles = ("city",)
