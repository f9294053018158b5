"""HTTP API: auth, endpoints, bad parameters (aiohttp test client; both dialects)."""

import asyncio
import time

from aiohttp.test_utils import TestClient, TestServer

from cloud_receiver.api import make_app

from .helpers import topic

TOKEN = "test-token-0123456789"
AUTH = {"Authorization": f"Bearer {TOKEN}"}


def run_api(store, scenario):
    async def main():
        async with TestClient(TestServer(make_app(store, {TOKEN}))) as client:
            await scenario(client)
    asyncio.run(main())


def test_auth_required_except_health(store, gw):
    async def scenario(c):
        r = await c.get("/api/v1/health")
        assert r.status == 200 and (await r.json()) == {"ok": True, "db": True}
        for path in ("/api/v1/gateways", "/api/v1/stats", "/api/v1/alerts", f"/api/v1/gateways/{gw.gateway_id}"):
            assert (await c.get(path)).status == 401
            assert (await c.get(path, headers={"Authorization": "Bearer wrong-token-000000"})).status == 401
            assert (await c.get(path, headers=AUTH)).status == 200
    run_api(store, scenario)


def test_endpoints(store, gw, ingestor):
    gw.add(12, rejected_every=4)
    ingestor.handle(topic(gw), gw.sealed_batch(gw.entries[:6]))
    ingestor.handle(topic(gw), gw.sealed_batch(gw.entries[8:]), now=time.time() - 1000)
    ingestor.handle(topic(gw, "heartbeat"), gw.seal(gw.heartbeat(backlog=4)))
    ingestor.handle(topic(gw, "roster"), gw.seal(gw.roster("11010519491231002X")))
    store.sweep(time.time(), 60)

    async def scenario(c):
        gws = (await (await c.get("/api/v1/gateways", headers=AUTH)).json())["gateways"]
        assert len(gws) == 1 and gws[0]["backlog"] == 4 and gws[0]["silent"] is False
        assert gws[0]["received_through_seq"] == 6 and gws[0]["clock_offset_s"] is not None
        one = await (await c.get(f"/api/v1/gateways/{gw.gateway_id}", headers=AUTH)).json()
        assert one["gateway_id"] == gw.gateway_id
        assert (await c.get("/api/v1/gateways/NOPE", headers=AUTH)).status == 404
        r = await c.get(f"/api/v1/projects/{gw.project_code}/punches?date=2026-03-02&limit=5", headers=AUTH)
        body = await r.json()
        assert r.status == 200 and len(body["punches"]) == 5
        r = await c.get(f"/api/v1/projects/{gw.project_code}/punches?date=2026-03-02&limit=5&offset=5",
                        headers=AUTH)
        page2 = (await r.json())["punches"]
        assert len(page2) == 3  # seqs 1-6, 9-12 sent; 4 and 12 are rejected attempts → 8 punches
        text = await r.text()
        assert "id_number" not in text and "11010519491231002X" not in text
        assert all(p["worker_ref"] for p in page2)
        alerts = (await (await c.get("/api/v1/alerts?state=open", headers=AUTH)).json())["alerts"]
        assert [(a["kind"], a["seq"]) for a in alerts] == [("chain_gap", 9)]
        assert (await (await c.get("/api/v1/alerts?state=resolved", headers=AUTH)).json())["alerts"] == []
        st = await (await c.get("/api/v1/stats", headers=AUTH)).json()
        assert st["punches"] == 8 and st["rejected_attempts"] == 2 and st["roster_changes"] == 1
    run_api(store, scenario)


def test_bad_parameters_are_400_with_json_error(store, gw):
    async def scenario(c):
        for url in (f"/api/v1/projects/{gw.project_code}/punches",
                    f"/api/v1/projects/{gw.project_code}/punches?date=2026-02-30",
                    f"/api/v1/projects/{gw.project_code}/punches?date=yesterday",
                    f"/api/v1/projects/{gw.project_code}/punches?date=2026-03-02&limit=0",
                    f"/api/v1/projects/{gw.project_code}/punches?date=2026-03-02&limit=x",
                    "/api/v1/alerts?state=bogus", "/api/v1/alerts?offset=-1"):
            r = await c.get(url, headers=AUTH)
            assert r.status == 400, url
            assert "error" in await r.json()
    run_api(store, scenario)


def test_gateway_view_shows_device_health_from_the_heartbeat(store, gw, ingestor):
    """The turnstile's health travels in the heartbeat and is shown per gateway."""
    from shared_schema.messages import DeviceHealth

    down = DeviceHealth(id="T1", kind="modbus_rtu", state="down", detail="port missing",
                        since="2026-03-02T00:00:00.000000Z")
    assert ingestor.handle(topic(gw, "heartbeat"), gw.seal(gw.heartbeat(devices=[down]))).verdict.ok

    async def scenario(c):
        view = await (await c.get(f"/api/v1/gateways/{gw.gateway_id}", headers=AUTH)).json()
        assert view["devices"] == [{"id": "T1", "kind": "modbus_rtu", "state": "down",
                                    "detail": "port missing", "since": "2026-03-02T00:00:00.000000Z"}]
    run_api(store, scenario)


def test_tamper_alert_is_acknowledged_then_resolved_with_who_and_why(store, gw, ingestor):
    """A supervisor closes a tamper alert: the state changes, and who did it and why are kept."""
    gw.add(6)
    ingestor.handle(topic(gw), gw.sealed_batch(gw.entries[:2]))
    ingestor.handle(topic(gw), gw.sealed_batch(gw.entries[4:]), now=time.time() - 1000)
    store.sweep(time.time(), 60)  # the hole at seq 3-4 is older than the grace: chain_gap
    (alert,) = store.alerts("open", gw.gateway_id, 10, 0)
    url = f"/api/v1/alerts/{alert['alert_id']}/state"

    async def scenario(c):
        assert (await c.post(url, json={"state": "resolved", "operator": "王工"})).status == 401
        for bad in ({"state": "open", "operator": "x"}, {"state": "resolved"}, {"state": "resolved",
                    "operator": " "}, {"state": "resolved", "operator": "x", "note": 5}):
            assert (await c.post(url, json=bad, headers=AUTH)).status == 400, bad
        assert (await c.post(url, data=b"not json", headers=AUTH)).status == 400
        assert (await c.post("/api/v1/alerts/x/state", json={}, headers=AUTH)).status == 400
        r = await c.post("/api/v1/alerts/999999/state", json={"state": "resolved", "operator": "x"}, headers=AUTH)
        assert r.status == 404
        r = await c.post(url, json={"state": "acknowledged", "operator": "王工"}, headers=AUTH)
        assert r.status == 200 and (await r.json())["state"] == "acknowledged"
        r = await c.post(url, json={"state": "resolved", "operator": "王工", "note": "网关断电，已补传"},
                         headers=AUTH)
        assert r.status == 200
        (row,) = (await (await c.get("/api/v1/alerts?state=resolved", headers=AUTH)).json())["alerts"]
        assert row["state_operator"] == "王工" and row["state_note"] == "网关断电，已补传"
        assert row["state_changed_at"] is not None
    run_api(store, scenario)
