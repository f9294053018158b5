"""The real web UI app against real SQLite files in tmp dirs (accounts, worker registry, ledger).

``ui(body)`` runs ``async def body(c: UI)`` with an aiohttp test client of the app; ``UI`` has
small helpers to log in and post forms with the page's CSRF token, as a browser would.
"""

from __future__ import annotations

import asyncio
import os
import re
from pathlib import Path

import pytest
from aiohttp.test_utils import TestClient, TestServer

from edge_agent.roster import TemplateKey, WorkerRegistry
from edge_agent.webui.accounts import Accounts
from edge_agent.webui.app import make_app
from edge_agent.webui.config import WebUIConfig
from edge_agent.webui.devices import Devices
from edge_agent.webui.punches import PunchReader

GATEWAY, PROJECT = "GW-001", "P-0001"
PASSWORD = "correct horse 7"
CSRF_RE = re.compile(r'name="csrf" value="([^"]+)"')

# A fictitious worker; the ID number is built with the GB 11643 check character (tests/idcard/cards.py).
ID_A = "440604199003071359"
ID_B = "65010219700101246X"
VALID = {
    "id_type": "01", "id_number": ID_A, "name": "王小测", "nation": "01", "address": "广东省佛山市禅城区样例路1号",
    "issuing_authority": "佛山市公安局禅城分局", "id_valid_from": "2020-01-15", "id_valid_to": "2040-01-15",
    "phone": "13800138000", "company_code": "ACME-LABOUR", "company_name": "测试劳务有限公司",
    "company_kind": "subcontractor", "team_code": "T1", "team_name": "钢筋一班", "work_type": "020", "role": "worker",
    "contract_period_type": "fixed_term", "contract_start": "2026-01-01", "contract_end": "2027-12-31",
}


class UI:
    def __init__(self, client: TestClient, app, registry: WorkerRegistry, accounts: Accounts):
        self.c, self.app, self.registry, self.accounts = client, app, registry, accounts

    async def csrf(self, path: str = "/login") -> str:
        r = await self.c.get(path)
        m = CSRF_RE.search(await r.text())
        assert m, f"no CSRF token on {path}"
        return m.group(1)

    async def login(self, user: str = "officer", password: str = PASSWORD):
        token = await self.csrf("/login")
        return await self.c.post("/login", data={"csrf": token, "username": user, "password": password},
                                 allow_redirects=False)

    async def post(self, path: str, data: dict, *, page: str = "/workers", **kw):
        token = await self.csrf(page)
        return await self.c.post(path, data={"csrf": token, **data}, allow_redirects=False, **kw)

    async def api(self, path: str, body: dict | None = None, *, page: str = "/workers"):
        token = await self.csrf(page)
        return await self.c.post(path, json=body or {}, headers={"X-CSRF-Token": token})

    async def enroll(self, **over) -> str:
        r = await self.post("/enroll", {**VALID, "consent": "granted", **over}, page="/enroll")
        assert r.status == 303, await r.text()
        return r.headers["Location"].split("/")[2]


@pytest.fixture
def registry(tmp_path):
    reg = WorkerRegistry(tmp_path / "registry.db", GATEWAY, PROJECT, key=TemplateKey(os.urandom(32)))
    yield reg
    reg.close()


@pytest.fixture
def accounts(tmp_path):
    acc = Accounts(tmp_path / "webui.db", lockout_threshold=3, lockout_period_s=60)
    for name, role in (("officer", "enroller"), ("boss", "manager"), ("guest", "viewer")):
        acc.add_user(name, role, PASSWORD)
    yield acc
    acc.close()


@pytest.fixture
def devices():
    return Devices()


@pytest.fixture
def ledger_path(tmp_path) -> Path:
    return tmp_path / "ledger.db"


@pytest.fixture
def ui(tmp_path, registry, accounts, devices, ledger_path):
    def run(body, **cfg):
        cfg = WebUIConfig(**{"max_upload_bytes": 256 * 1024, **cfg})
        app = make_app(cfg, accounts, registry, devices=devices, punches=PunchReader(ledger_path))

        async def main():
            async with TestClient(TestServer(app)) as client:
                await body(UI(client, app, registry, accounts))
        asyncio.run(main())
    return run


@pytest.fixture(scope="session")
def faces_dir() -> Path:
    d = Path(__file__).resolve().parents[2].parent / "shared" / "data" / "faces"
    if not d.is_dir():
        pytest.fail(f"test data missing: {d} must exist beside the checkout", pytrace=False)
    return d
