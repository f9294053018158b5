"""The registry inside the running agent: open it, sync it up, keep the gates' gallery current.

:class:`RosterService` opens the registry with the template key, attaches a
:class:`~.uplink.RosterUplink` to the agent's link, and after every change that affects
who may pass (exit, consent, templates) hands the gates a freshly built gallery
*before* the registry call returns, so an exited worker is refused from that moment.

Key policy: no key file → the registry runs for records only and the gates get no
gallery (logged as an error, never silently); a key that is unsafe, malformed or not
this registry's → the agent refuses to start (clear error).
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Callable

from .crypto import load_key
from .registry import WorkerRegistry
from .downlink import RosterDownlink
from .uplink import RosterUplink

log = logging.getLogger(__name__)

GALLERY_ACTIONS = ("exit", "consent", "templates")


class RosterService:
    def __init__(self, cfg, signing_key, *, on_gallery: Callable | None = None):
        rc = cfg.roster
        key = None
        if Path(rc.template_key_file).exists():
            key = load_key(rc.template_key_file)
        else:
            log.error("no face-template key at the configured path: face recognition at the gates is off "
                      "until `edge-agent roster keygen` (records and roster sync still work)")
        self.registry = WorkerRegistry(rc.db_path, cfg.gateway_id, cfg.project_code, key=key)
        self.uplink = RosterUplink(self.registry, signing_key, ack_timeout_s=rc.ack_timeout_s,
                                   reject_retry_s=rc.reject_retry_s, max_inflight=rc.max_inflight)
        self.downlink = RosterDownlink(self.registry, signing_key, poll_s=rc.down_poll_s)
        self.retention_days = rc.retention_days
        self._on_gallery = on_gallery
        self.registry.on_change(self._changed)

    def attach(self, sync) -> None:
        sync.attach(self.uplink)
        sync.attach(self.downlink)

    def publish_gallery(self) -> int:
        """Build the gallery of active consenting workers and hand it to the gates; → templates.
        (A stopped project, 停工, keeps its gallery: the city excludes stopped days from its rates.)"""
        if self._on_gallery is None or self.registry.key is None:
            return 0
        g = self.registry.gallery()
        self._on_gallery(g)
        return len(g)

    def _changed(self, action: str, worker_ref: str) -> None:
        if action in GALLERY_ACTIONS:
            self.publish_gallery()

    def prune(self) -> int:
        return self.registry.outbox.prune(self.retention_days)

    def close(self) -> None:
        self.registry.close()
