"""Cameras: one file per kind behind one small interface, chosen by ``type``.

Each camera runs one reader thread that keeps only the newest frame; the pipeline asks
for it and never works through a backlog::

    class Camera:
        kind: str; id: str
        def read_latest(self, timeout: float = 1.0) -> Frame | None   # newest frame not yet taken
        def latest(self) -> Frame | None                              # newest frame, no wait
        def stats(self) -> dict      # frames, dropped, open_attempts, opens, eofs, fps, source_fps
        def health(self) -> DriverHealth                              # ok | degraded | down
        def close(self) -> None

    Frame(image: BGR ndarray, seq: int, t_mono: float, t_wall: float, luma: float)

``open_camera(cfg)`` builds one from a decoded config (or a raw table); it never raises
for an absent source (it starts ``down`` and reconnects by itself). ``doctor_check(cfg)``
grabs frames for ``edge-agent doctor``. ``device_health`` in the heartbeat takes cameras
as it takes turnstiles (``id``, ``kind``, ``health()``).
"""

from __future__ import annotations

import time
from typing import Any

from ..base import driver_for
from .base import Camera, CameraError, Frame
from .config import KINDS, CameraBase, decode_camera, decode_cameras
from .file import FileCamera
from .rtsp import RtspCamera, redact_url
from .v4l2 import V4l2Camera

__all__ = ["REGISTRY", "Camera", "CameraBase", "CameraError", "Frame", "decode_camera", "decode_cameras",
           "doctor_check", "open_camera", "redact_url"]

# The explicit registry: config ``type`` -> camera class (config classes: camera.config.KINDS).
REGISTRY: dict[str, type[Camera]] = {
    "file": FileCamera,
    "v4l2": V4l2Camera,
    "rtsp": RtspCamera,
}
assert set(REGISTRY) == set(KINDS), "camera.REGISTRY and camera.config.KINDS disagree"


def open_camera(cfg: CameraBase | dict[str, Any]) -> Camera:
    """The camera for ``cfg`` (its reader thread started). Raises ``ValueError`` naming an
    unknown ``type``, ``DecodeError`` for a bad table."""
    cfg, cls = driver_for(cfg, REGISTRY, decode_camera, "camera")
    return cls(cfg)


def doctor_check(cfg: CameraBase | dict[str, Any], timeout: float = 8.0,
                 measure_s: float = 1.0) -> tuple[bool, str]:
    """Open the camera, wait up to ``timeout`` s for a frame, then watch it for ``measure_s``
    s: ``(True, "960x540, 15.0 fps measured, first frame after 0.04 s")`` or ``(False, why)``.
    A black image fails (lens covered, no light or no signal). Never raises for the source."""
    cam = open_camera(cfg)
    try:
        t0 = time.monotonic()
        first = None
        while first is None and (remaining := t0 + timeout - time.monotonic()) > 0:
            first = cam.read_latest(min(remaining, 0.1))
            if first is None and cam.last_error:          # the first attempt failed: say why now
                return False, cam.last_error
        if first is None:
            return False, f"no frame within {timeout:g} s: {cam.health().detail}"
        waited = time.monotonic() - t0
        last, n, end = first, 0, time.monotonic() + measure_s
        while (remaining := end - time.monotonic()) > 0:
            f = cam.read_latest(remaining)
            if f is None:
                break
            last, n = f, n + 1
        span = last.t_mono - first.t_mono
        fps = f"{(last.seq - first.seq) / span:.1f} fps measured" if n and span > 0 else "fps not measured"
        detail = f"{last.width}x{last.height}, {fps}, first frame after {waited:.2f} s"
        if last.luma < cam.cfg.black_threshold:
            return False, (f"{detail}; image is black (mean luminance {last.luma:.0f} < "
                           f"{cam.cfg.black_threshold:g}): lens covered, no light or no signal?")
        if n == 0:
            return False, f"{detail}; only one frame in {measure_s:g} s: {cam.health().detail}"
        return True, detail
    finally:
        cam.close()
