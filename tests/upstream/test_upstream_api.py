"""``GET /api/v1/upstream/status``: city role only; counts, cursors, backlog, failures, no ID numbers."""

from __future__ import annotations

import asyncio

import pytest
from aiohttp.test_utils import TestClient, TestServer

from cloud_receiver import auth
from cloud_receiver.api import make_app
from cloud_receiver.api_upstream import configure
from cloud_receiver.store import open_store
from cloud_receiver.supervision.calendar import validate_project
from cloud_receiver.upstream.job import UploadJob
from devtools.national_platform import Refused

from .upstream_site import Site, drain, upstream_cfg

BOOT = "bootstrap-token-0123456789"


@pytest.fixture
def store(store_url):
    s = open_store(store_url, migrate=True)
    yield s
    s.close()


def test_status_for_the_city_only(store, platform, client):
    import time

    store.upsert_project(validate_project({"project_code": "P-100", "name": "P-100", "district": "东区"}),
                         time.time())
    site = Site(store)
    ids = {w: site.enroll(w) for w in ("W1", "W2")}
    site.workday("W1", "2026-03-02")
    site.workday("W2", "2026-03-02")
    site.workday("W9", "2026-03-02")
    site.flush()
    accept = platform._writes["ProjectWorker.Add"]

    def refuse_w2(data):
        if data["workerList"][0]["idCardNumber"] == ids["W2"]:
            raise Refused("人员信息不完整 (worker record incomplete)")
        return accept(data)

    platform._writes["ProjectWorker.Add"] = refuse_w2
    drain(UploadJob(store, client, upstream_cfg()))
    tokens = {"city": auth.issue_token(store, name="city", role="city")[0],
              "district": auth.issue_token(store, name="east", role="district", scope=["东区"])[0],
              "project": auth.issue_token(store, name="gc", role="project", scope=["P-100"])[0]}

    async def go():
        app = make_app(store, {BOOT}, auth_options=auth.AuthOptions(fail_limit=10000))
        configure(app, True)
        async with TestClient(TestServer(app)) as c:
            for role in ("district", "project"):
                r = await c.get("/api/v1/upstream/status", headers={"Authorization": f"Bearer {tokens[role]}"})
                assert r.status == 403, role
            assert (await c.get("/api/v1/upstream/status")).status == 401
            for token in (tokens["city"], BOOT):
                r = await c.get("/api/v1/upstream/status", headers={"Authorization": f"Bearer {token}"})
                assert r.status == 200
                body = await r.json()
                text = await r.text()
                assert body["enabled"] is True
                assert body["objects"]["worker"] == {"done": 1, "failed": 1}
                assert body["attendance"] == {"done": {"batches": 1, "records": 2}}
                (p,) = body["projects"]
                assert p["project_code"] == "P-100" and p["ledger_backlog"] == 0 and p["through_ingest_no"] > 0
                assert p["waiting"] == 4 and p["waiting_reasons"] == {"not_in_registry": 2, "worker_failed": 2}
                (f,) = body["failures"]
                assert f["kind"] == "worker" and "worker record incomplete" in f["last_error"]
                assert not any(n in text for n in ids.values())
            spec = await (await c.get("/api/v1/openapi.json")).json()
            assert spec["paths"]["/api/v1/upstream/status"]["get"]["x-roles"] == ["city"]

    asyncio.run(go())
