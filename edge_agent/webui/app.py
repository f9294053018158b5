"""The enrollment web UI application (aiohttp) and the server that runs it inside the agent.

``make_app`` builds the application from its parts (accounts, the worker registry, devices,
the punch reader), so tests run the real thing against real SQLite files, a real camera
and the ID card reader emulator. :class:`WebUIServer` runs it on its own event loop in a
daemon thread of the agent, on the configured LAN address only.
"""

from __future__ import annotations

import asyncio
import logging
import ssl
import threading
from pathlib import Path

from aiohttp import web

from .accounts import Accounts
from .config import WebUIConfig, parse_webui_listen
from .devices import Devices
from .keys import ACCOUNTS, CAPTURES, CONFIG, DEVICES, JOBS, PUNCHES, REGISTRY, RENDER
from .middleware import body_limits, csrf, errors, login_csrf, security_headers, sessions
from .pages import auth, capture, enroll, exits, gate_pass, idcard, imports, workers
from .render import Renderer

log = logging.getLogger(__name__)

STATIC = Path(__file__).resolve().parent / "static"


def make_app(cfg: WebUIConfig, accounts: Accounts, registry, *, devices: Devices | None = None,
             punches=None, gates: dict | None = None, cooldown_s: float = 120.0) -> web.Application:
    # aiohttp's own cap as a backstop; body_limits refuses by Content-Length before reading
    app = web.Application(middlewares=[errors, security_headers, body_limits, sessions, csrf],
                          client_max_size=cfg.max_upload_bytes + 64 * 1024)
    app[CONFIG] = cfg
    app[ACCOUNTS] = accounts
    app[REGISTRY] = registry
    app[DEVICES] = devices or Devices()
    app[PUNCHES] = punches
    app[RENDER] = Renderer(login_csrf)
    app[JOBS] = {}
    app[CAPTURES] = {}
    app[idcard.PHOTOS] = {}
    gate_pass.install(app, gates, cooldown_s)     # gate_id -> GateController, for the ID card pass
    for page in (auth, workers, enroll, idcard, capture, exits, imports, gate_pass):
        app.add_routes(page.routes())
    app.router.add_static("/static/", STATIC, follow_symlinks=False, append_version=False)
    return app


def tls_context(cfg: WebUIConfig) -> ssl.SSLContext | None:
    if not cfg.tls_cert_file:
        return None
    ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ctx.minimum_version = ssl.TLSVersion.TLSv1_2
    ctx.load_cert_chain(cfg.tls_cert_file, cfg.tls_key_file)
    return ctx


class WebUIServer:
    """The app on ``[edge.webui] listen``, in a daemon thread with its own event loop."""

    def __init__(self, app: web.Application, cfg: WebUIConfig):
        self.app, self.cfg = app, cfg
        self.host, self.port = parse_webui_listen(cfg.listen, cfg.allow_any_address)
        self._loop = asyncio.new_event_loop()
        self._runner: web.AppRunner | None = None
        self._ready = threading.Event()
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._run, name="webui", daemon=True)

    def _run(self) -> None:
        asyncio.set_event_loop(self._loop)
        try:
            self._loop.run_until_complete(self._start())
        except BaseException as exc:        # noqa: BLE001 - reported to start()
            self._error = exc
            self._ready.set()
            return
        self._ready.set()
        self._loop.run_forever()

    async def _start(self) -> None:
        self._runner = web.AppRunner(self.app, access_log=None)   # URLs can carry search terms (names)
        await self._runner.setup()
        site = web.TCPSite(self._runner, self.host, self.port, ssl_context=tls_context(self.cfg))
        await site.start()
        sockets = getattr(site._server, "sockets", None) or []
        if sockets:
            self.port = sockets[0].getsockname()[1]
        log.info("web UI listening on %s:%s (%s)", self.host, self.port, "https" if self.cfg.tls_cert_file else "http")

    def start(self) -> "WebUIServer":
        self._thread.start()
        self._ready.wait(30)
        if self._error is not None:
            raise RuntimeError(f"网页界面无法启动 / web UI cannot start on {self.cfg.listen}: {self._error}")
        return self

    def stop(self) -> None:
        if not self._thread.is_alive():
            return

        async def _cleanup():
            if self._runner is not None:
                await self._runner.cleanup()
        fut = asyncio.run_coroutine_threadsafe(_cleanup(), self._loop)
        try:
            fut.result(10)
        except Exception:       # noqa: BLE001 - keep stopping
            log.exception("stopping the web UI")
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(10)
