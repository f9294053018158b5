"""The OpenAPI 3.1 description served at /api/v1/openapi.json matches the real aiohttp router:
every API route is described (methods, path parameters), every described path exists, and the
declared required query parameters are the ones the handlers actually insist on."""

from __future__ import annotations

import asyncio
import re

from aiohttp.test_utils import TestClient, TestServer

from cloud_receiver.api import make_app
from cloud_receiver.openapi import build_spec, documented, path_params

BOOT = "test-token-0123456789"
AUTH = {"Authorization": f"Bearer {BOOT}"}
SAMPLES = {"code": "P-100", "gateway_id": "GW-1", "alert_id": "1", "warning_id": "1"}


def _router_ops(app) -> set[tuple[str, str]]:
    out = set()
    for route in app.router.routes():
        path = route.resource.canonical
        if route.method not in ("HEAD", "OPTIONS") and documented(path):
            out.add((path, route.method.lower()))
    return out


def test_every_route_is_described_and_every_description_is_a_route(store):
    app = make_app(store, {BOOT})
    spec = build_spec(app)
    assert spec["openapi"] == "3.1.0" and spec["components"]["securitySchemes"]["bearer"]["scheme"] == "bearer"
    described = {(p, m) for p, ops in spec["paths"].items() for m in ops}
    routes = _router_ops(app)
    assert routes == described
    undocumented = sorted(f"{m.upper()} {p}" for p, ops in spec["paths"].items() for m, o in ops.items()
                          if o.get("x-undocumented"))
    assert undocumented == []
    op_ids = [o["operationId"] for ops in spec["paths"].values() for o in ops.values()]
    assert len(op_ids) == len(set(op_ids))
    for path, ops in spec["paths"].items():
        for method, o in ops.items():
            in_path = [p["name"] for p in o["parameters"] if p["in"] == "path"]
            assert in_path == path_params(path), (method, path)
            assert all(p["required"] for p in o["parameters"] if p["in"] == "path")
            names = [(p["in"], p["name"]) for p in o["parameters"]]
            assert len(names) == len(set(names)), (method, path)
            assert o["summary"] and "200" in o["responses"]
            assert o.get("security") == [] or "401" in o["responses"], (method, path)
            if method == "post":
                assert "requestBody" in o, path


def test_served_document_is_the_router_and_is_public(store):
    async def go():
        app = make_app(store, {BOOT})
        async with TestClient(TestServer(app)) as c:
            r = await c.get("/api/v1/openapi.json")          # no token
            assert r.status == 200 and r.content_type == "application/json"
            served = await r.json()
            assert set(served["paths"]) == {p for p, _ in _router_ops(app)}
            assert served["paths"]["/api/v1/health"]["get"]["security"] == []
            assert "security" not in served["paths"]["/api/v1/gateways"]["get"]
    asyncio.run(go())


def test_required_query_parameters_match_the_handlers(store):
    """Every GET with a required query parameter (or a required one-of set) answers 400 without
    it; every GET without one does not (a city token, path parameters filled with well-formed values)."""
    app = make_app(store, {BOOT})
    spec = build_spec(app)

    loose = []   # (path, parameter) accepting a value outside its declared enum

    async def go():
        async with TestClient(TestServer(app)) as c:
            for path, ops in spec["paths"].items():
                o = ops.get("get")
                if o is None:
                    continue
                url = re.sub(r"\{(\w+)\}", lambda m: SAMPLES.get(m.group(1), "X-1"), path)
                required = [p["name"] for p in o["parameters"] if p["in"] == "query" and p["required"]]
                required += o.get("x-required-one-of", [])
                r = await c.get(url, headers=AUTH)
                if required:
                    assert r.status == 400, (path, required)
                else:
                    assert r.status in (200, 404), (path, r.status)
                for p in o["parameters"]:
                    if p["in"] == "query" and "enum" in p["schema"]:
                        r = await c.get(url, params={p["name"]: "not-one-of-them"}, headers=AUTH)
                        if r.status != 400:
                            loose.append((path, p["name"]))
    asyncio.run(go())
    assert loose == []
