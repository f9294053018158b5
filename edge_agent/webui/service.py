"""The web UI inside the running agent: accounts, devices (sharing the gate pipelines'
cameras, so one V4L2 device is opened once), the ledger's punch reader, the server."""

from __future__ import annotations

import logging

from .accounts import Accounts
from .app import WebUIServer, make_app
from .devices import Devices, from_config
from .punches import PunchReader

log = logging.getLogger(__name__)


class WebUIService:
    def __init__(self, cfg, registry, cameras: dict | None = None, gates: dict | None = None):
        w = cfg.webui
        self.accounts = Accounts(w.accounts_db, session_ttl_s=w.session_ttl_s, lockout_threshold=w.lockout_threshold,
                                 lockout_period_s=w.lockout_period_s)
        self.devices: Devices = from_config(cfg, cameras or {})
        self.app = make_app(w, self.accounts, registry, devices=self.devices, punches=PunchReader(cfg.ledger.path),
                            gates=gates, cooldown_s=cfg.pipeline.cooldown_s)   # the ID card pass
        self.server = WebUIServer(self.app, w)
        if not self.accounts.users():
            log.warning("web UI: no staff account yet; add one with `edge-agent --config F webui add-user NAME "
                        "--role enroller`")

    def start(self) -> "WebUIService":
        self.server.start()
        return self

    def stop(self) -> None:
        self.server.stop()
        self.devices.close()
        self.accounts.close()
