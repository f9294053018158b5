"""Dashboard fixtures: a generated city (devtools.citygen) in a real store, its daily figures
computed, served by the real receiver app (``make_app``) on a free loopback port."""

from __future__ import annotations

import asyncio
import json
import threading
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from cloud_receiver.api import make_app
from cloud_receiver.dashboard.daily import compute_day
from cloud_receiver.store import open_store
from devtools import free_port
from devtools.citygen import CitySpec, generate
from devtools.citygen_store import write_city

from .webdriver import artefacts_dir

TOKEN = "dashboard-test-token-0123456789"
SMALL = dict(districts=4, projects=16, workers=30, first_date="2026-02-16", last_date="2026-03-31")


class Server:
    """The receiver's app served from a thread; ``get``/``post`` speak HTTP to it."""

    def __init__(self, store, tokens=(TOKEN,)):
        self.store = store
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.loop = asyncio.new_event_loop()
        self._started = threading.Event()
        self.thread = threading.Thread(target=self._serve, args=(tokens,), daemon=True)
        self.thread.start()
        if not self._started.wait(15):
            raise RuntimeError("receiver app did not start")

    def _serve(self, tokens) -> None:
        from aiohttp import web

        asyncio.set_event_loop(self.loop)
        self.runner = web.AppRunner(make_app(self.store, tokens), access_log=None)
        self.loop.run_until_complete(self.runner.setup())
        self.loop.run_until_complete(web.TCPSite(self.runner, "127.0.0.1", self.port).start())
        self._started.set()
        self.loop.run_forever()

    def request(self, method: str, path: str, body=None, token: str | None = TOKEN) -> tuple[int, object]:
        headers = {"Content-Type": "application/json"}
        if token:
            headers["Authorization"] = f"Bearer {token}"
        data = None if body is None else (body if isinstance(body, bytes) else json.dumps(body).encode())
        req = urllib.request.Request(self.url + path, data=data, method=method, headers=headers)
        try:
            with urllib.request.urlopen(req, timeout=120) as res:
                raw, status, ctype = res.read(), res.status, res.headers.get("Content-Type", "")
        except urllib.error.HTTPError as exc:
            raw, status, ctype = exc.read(), exc.code, exc.headers.get("Content-Type", "")
        return status, (json.loads(raw) if "json" in ctype else raw)

    def get(self, path: str, **kw):
        status, body = self.request("GET", path, **kw)
        assert status == 200, (path, status, body)
        return body

    def stop(self) -> None:
        asyncio.run_coroutine_threadsafe(self.runner.cleanup(), self.loop).result(15)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(15)


def build_city(url: str, spec: CitySpec):
    """Generate, write, and compute every day (warnings as of the last day, at the city's "now")."""
    store = open_store(url, migrate=True)
    city = generate(spec)
    write_city(store, city)
    for date in spec.dates:
        compute_day(store, date, warnings=date == spec.last_date, now=spec.now())
    return store, city


@pytest.fixture(scope="session")
def artefacts() -> Path:
    """Where screenshots go: $RN_ARTEFACTS if set, else a fresh temporary directory (printed)."""
    return artefacts_dir("dashboard")


@pytest.fixture(scope="module")
def city(tmp_path_factory):
    """A small planted city in SQLite, served."""
    spec = CitySpec(seed=7, plant=True, **SMALL)
    store, city = build_city(f"sqlite:///{tmp_path_factory.mktemp('city') / 'receiver.db'}", spec)
    server = Server(store)
    yield server, city
    server.stop()
    store.close()


@pytest.fixture(scope="module")
def clean_city(tmp_path_factory):
    """The same kind of city with nothing planted, served."""
    spec = CitySpec(seed=11, plant=False, **SMALL)
    store, city = build_city(f"sqlite:///{tmp_path_factory.mktemp('clean') / 'receiver.db'}", spec)
    server = Server(store)
    yield server, city
    server.stop()
    store.close()
