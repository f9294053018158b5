"""Project, status, on-duty and warning endpoints: token auth on reads and writes, 400 / 404 / 409
with a JSON error, and the happy paths (aiohttp test client; both dialects)."""

from __future__ import annotations

from cloud_receiver.supervision.warnings import evaluate_warnings

from .test_api import AUTH, run_api

PROJECT = {"project_code": "P-100", "name": "佛山一号地块", "district": "禅城区", "address": "季华路1号",
           "lng": 113.12, "lat": 23.02, "general_contractor": "中建X局", "supervisor": "某监理公司"}
STOP = {"status": "005", "from_date": "2026-03-05", "to_date": "2026-03-06", "reason": "安全整改", "operator": "张三"}


def test_every_new_endpoint_needs_a_token(store):
    urls = [("GET", "/api/v1/projects"), ("GET", "/api/v1/projects/P-100"), ("POST", "/api/v1/projects"),
            ("POST", "/api/v1/projects/P-100/status"), ("GET", "/api/v1/projects/P-100/on-duty?month=2026-03"),
            ("GET", "/api/v1/warnings"), ("POST", "/api/v1/warnings/1/state")]

    async def scenario(c):
        for method, url in urls:
            for headers in ({}, {"Authorization": "Bearer wrong-token-000000"}):
                r = await c.request(method, url, headers=headers, json=PROJECT)
                assert r.status == 401, (method, url)
    run_api(store, scenario)
    assert store.get_project("P-100") is None      # the refused POST wrote nothing


def test_projects_status_and_on_duty(site):
    site.enroll("PM1", role="manager", post="PM", team=None, entry_date="2026-03-01")
    site.workday("PM1", "2026-03-02")
    site.workday("PM1", "2026-03-05")
    site.flush()

    async def scenario(c):
        r = await c.post("/api/v1/projects", json=PROJECT, headers=AUTH)
        assert r.status == 201 and (await r.json())["status"] == "003"
        r = await c.post("/api/v1/projects", json={**PROJECT, "name": "佛山一号地块二期"}, headers=AUTH)
        assert r.status == 200 and (await r.json())["outcome"] == "updated"
        r = await c.post("/api/v1/projects/P-100/status", json=STOP, headers=AUTH)
        assert r.status == 201
        body = await r.json()
        assert (body["status"], body["status_name"], body["from_date"], body["to_date"]) == (
            "005", "stopped", "2026-03-05", "2026-03-06")
        r = await c.post("/api/v1/projects/P-100/status", json={**STOP, "from_date": "2026-03-06",
                                                                "to_date": "2026-03-09"}, headers=AUTH)
        assert r.status == 409 and "overlaps" in (await r.json())["error"]
        listing = await (await c.get("/api/v1/projects", headers=AUTH)).json()
        (p,) = listing["projects"]
        assert (p["project_code"], p["name"], p["status"], p["district"]) == ("P-100", "佛山一号地块二期", "003", "禅城区")
        assert [x["project_code"] for x in (await (await c.get("/api/v1/projects?district=南海区",
                                                                 headers=AUTH)).json())["projects"]] == []
        one = await (await c.get("/api/v1/projects/P-100", headers=AUTH)).json()
        assert [(s["status"], s["reason"], s["operator"]) for s in one["status_history"]] == [
            ("005", "安全整改", "张三")]
        duty = await (await c.get("/api/v1/projects/P-100/on-duty?month=2026-03", headers=AUTH)).json()
        pm = {x["key_post"]: x for x in duty["posts"]}["project_manager"]
        assert (pm["working_days"], pm["present_days"]) == (29, 1)
        assert duty["stopped_dates"] == ["2026-03-05", "2026-03-06"]
        day = await (await c.get("/api/v1/projects/P-100/attendance?date=2026-03-05", headers=AUTH)).json()
        assert day["stopped"] is True and day["totals"]["rate"] is None and day["totals"]["present"] == 1
    run_api(site.store, scenario)


def test_warnings_list_and_state(site):
    site.store.upsert_project({**PROJECT, "status": "003"}, 0.0)
    evaluate_warnings(site.store, "2026-03-10")

    async def scenario(c):
        body = await (await c.get("/api/v1/warnings?project=P-100&state=open", headers=AUTH)).json()
        assert sorted(w["rule"] for w in body["warnings"]) == ["no_safety_officer", "no_technical_lead"]
        w = next(x for x in body["warnings"] if x["rule"] == "no_safety_officer")
        assert w["evidence"]["post"] == "safety_officer" and w["first_seen"].endswith("Z")
        only = await (await c.get("/api/v1/warnings?rule=no_technical_lead", headers=AUTH)).json()
        assert [x["rule"] for x in only["warnings"]] == ["no_technical_lead"]
        url = f"/api/v1/warnings/{w['warning_id']}/state"
        r = await c.post(url, json={"state": "acknowledged", "operator": "区住建局", "note": "已通知"}, headers=AUTH)
        assert r.status == 200 and (await r.json())["state"] == "acknowledged"
        r = await c.post(url, json={"state": "resolved", "operator": "区住建局"}, headers=AUTH)
        assert r.status == 200 and (await r.json())["state_operator"] == "区住建局"
        assert (await c.post(url, json={"state": "acknowledged", "operator": "x"}, headers=AUTH)).status == 409
        r = await c.post("/api/v1/warnings/999999/state", json={"state": "resolved", "operator": "x"}, headers=AUTH)
        assert r.status == 404
    run_api(site.store, scenario)


def test_bad_requests_are_400_with_json_error(store):
    store.upsert_project({**PROJECT, "status": "003"}, 0.0)
    posts = [("/api/v1/projects", b"not json"), ("/api/v1/projects", b"[1]"),
             ("/api/v1/projects", {**PROJECT, "name": ""}), ("/api/v1/projects", {**PROJECT, "lat": 91}),
             ("/api/v1/projects", {**PROJECT, "project_code": "bad code"}),
             ("/api/v1/projects", {**PROJECT, "status": "009"}), ("/api/v1/projects", {**PROJECT, "extra": 1}),
             ("/api/v1/projects/P-100/status", {**STOP, "to_date": "2026-03-01"}),
             ("/api/v1/projects/P-100/status", {**STOP, "from_date": "2026-02-30"}),
             ("/api/v1/projects/P-100/status", {**STOP, "operator": ""}),
             ("/api/v1/projects/P-100/status", {**STOP, "reason": None}),
             ("/api/v1/projects/bad%20code/status", STOP),
             ("/api/v1/warnings/abc/state", {"state": "resolved", "operator": "x"}),
             ("/api/v1/warnings/1/state", {"state": "open", "operator": "x"}),
             ("/api/v1/warnings/1/state", {"state": "resolved"})]
    gets = ["/api/v1/projects/P-100/on-duty", "/api/v1/projects/P-100/on-duty?month=2026-13",
            "/api/v1/projects/bad%20code/on-duty?month=2026-03", "/api/v1/warnings?state=closed",
            "/api/v1/warnings?rule=nope", "/api/v1/warnings?project=bad%20code", "/api/v1/warnings?limit=0",
            "/api/v1/projects/bad%20code"]

    async def scenario(c):
        for url, body in posts:
            kw = {"data": body} if isinstance(body, bytes) else {"json": body}
            r = await c.post(url, headers=AUTH, **kw)
            assert r.status == 400, (url, body)
            assert "error" in await r.json()
        for url in gets:
            r = await c.get(url, headers=AUTH)
            assert r.status == 400, url
            assert "error" in await r.json()
        assert (await c.get("/api/v1/projects/P-404", headers=AUTH)).status == 404
        assert (await c.post("/api/v1/projects/P-404/status", json=STOP, headers=AUTH)).status == 404
    run_api(store, scenario)
