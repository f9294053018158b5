"""The devices the web UI uses, opened lazily and shared: the gate camera (preview and
capture), the ID card reader, the recognition backend and the liveness judge.

Each may be absent (not configured, model missing): the page then says so and manual entry
stays possible. Heavy models load on first use, in the executor.
"""

from __future__ import annotations

import logging
import threading
from typing import Any, Callable

log = logging.getLogger(__name__)


class Unavailable(RuntimeError):
    """A device or model is not configured or cannot be opened; the message is for the operator."""


class Devices:
    def __init__(self, *, camera: Any = None, idcard: Any = None,
                 backend_factory: Callable[[], Any] | None = None,
                 judge_factory: Callable[[], Any] | None = None, duplicate_threshold: float = 0.363):
        self.camera = camera                 # edge_agent.drivers.camera.Camera or None
        self.idcard = idcard                 # edge_agent.drivers.idcard_reader.IdCardReader or None
        self._backend_factory = backend_factory
        self._judge_factory = judge_factory
        self._backend = None
        self._judge = None
        self._lock = threading.Lock()
        self.duplicate_threshold = duplicate_threshold   # cosine: the gate's match threshold
        self.idcard_lock = threading.Lock()  # one swipe poll at a time (two browsers, one reader)
        self.camera_shared = False           # the camera belongs to a gate pipeline: not ours to close

    def backend(self):
        with self._lock:
            if self._backend is None:
                if self._backend_factory is None:
                    raise Unavailable("人脸识别模型未配置 / no recognition backend")
                self._backend = self._backend_factory()
            return self._backend

    def judge(self):
        with self._lock:
            if self._judge is None:
                if self._judge_factory is None:
                    raise Unavailable("活体检测未配置 / no liveness judge")
                self._judge = self._judge_factory()
            return self._judge

    def close(self) -> None:
        for dev in (None if self.camera_shared else self.camera, self.idcard):
            if dev is not None:
                try:
                    dev.close()
                except Exception:       # noqa: BLE001 - keep closing
                    log.exception("closing a web UI device")


def from_config(cfg, cameras: dict | None = None) -> Devices:
    """Devices for an :class:`~edge_agent.config.EdgeConfig`: the ``[edge.webui] camera`` (or
    the first gate's camera; taken from ``cameras`` (id → open Camera, the gate pipelines') when
    there, else opened here), the ``[edge.idcard_reader]`` when enabled, the configured
    recognition backend and the gate's liveness judge."""
    from ..drivers.camera import open_camera
    cam_id = cfg.webui.camera or next((g.camera for g in cfg.gates if g.camera), None)
    cam_cfg = next((c for c in cfg.cameras if c.id == cam_id), None) if cam_id else None
    shared = (cameras or {}).get(cam_id)
    camera = shared if shared is not None else open_camera(cam_cfg) if cam_cfg is not None else None
    idcard = None
    if cfg.idcard_reader.enabled:
        from ..drivers.idcard_reader import IdCardReader
        idcard = IdCardReader(cfg.idcard_reader)

    def backend():
        from ..vision.backend import create_backend
        return create_backend(cfg.vision)

    def judge():
        from ..liveness.judge import create_judge
        return create_judge(getattr(cfg, "liveness", None))
    devices = Devices(camera=camera, idcard=idcard, backend_factory=backend, judge_factory=judge,
                      duplicate_threshold=getattr(getattr(cfg, "roster", None), "duplicate_threshold",
                                                  cfg.vision.match_threshold))   # [edge.roster] owns it
    devices.camera_shared = shared is not None
    return devices
