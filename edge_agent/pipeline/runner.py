"""The pipeline's thread: the camera's newest frame into :meth:`step`, forever, never raising.

A camera that delivers nothing is checked for health; when it is down the fact is logged
once (and shown in the heartbeat through :meth:`health`), every track is forgotten (the
person in front of a dead camera is not the one who will be there when it returns) and
the loop keeps waiting: the camera reconnects by itself.
"""

from __future__ import annotations

import logging
import threading
import time

from ..drivers.base import DriverHealth

log = logging.getLogger(__name__)


class CameraLoop:
    """Mixed into :class:`~.gate.GatePipeline` (which has ``camera``, ``step``, ``tracker``...)."""

    def __init__(self):
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._camera_down = False
        self._since = time.time()

    def start(self):
        if self.camera is None:
            raise ValueError(f"gate {self.gate_id}: no camera to run from")
        self._thread = threading.Thread(target=self._run, name=f"vision-{self.gate_id}", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop the thread and close the camera (the pipeline owns it)."""
        self._stop.set()
        if self._thread is not None and self._thread.is_alive():
            self._thread.join(5)
        if self.camera is not None:
            self.camera.close()

    def alive(self) -> bool:
        return self._thread is None or self._thread.is_alive()

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                frame = self.camera.read_latest(0.5)
                if frame is None:
                    self._camera_gap()
                    continue
                if self._camera_down:
                    log.warning("gate %s: camera %s delivers frames again", self.gate_id, self.camera.id)
                    self._camera_down = False
                self.step(frame)
            except Exception:  # noqa: BLE001 - the loop must survive anything one frame does
                self.stats["errors"] += 1
                log.exception("gate %s: pipeline step failed", self.gate_id)
                self._stop.wait(0.05)

    def _camera_gap(self) -> None:
        h = self.camera.health()
        if h.state == "down" and not self._camera_down:
            self._camera_down = True
            log.error("gate %s: camera %s down (%s): no face entry until it returns", self.gate_id,
                      self.camera.id, h.detail)
            self.tracker.expire_all()
            self._attempts.clear()

    def health(self) -> DriverHealth:
        """The camera's health, or ``down`` when liveness cannot run (face entry off)."""
        if self.judge is None:
            return DriverHealth("down", f"liveness unavailable: face entry off ({self.judge_error or ''})"[:128],
                                self._since)
        if self.camera is None:
            return DriverHealth("ok", "no camera (stepped by hand)", self._since)
        return self.camera.health()
