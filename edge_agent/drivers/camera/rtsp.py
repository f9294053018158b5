"""An IP camera by URL (rtsp://, rtsps://, http(s):// MJPEG) through OpenCV's FFmpeg backend.

Same reconnect code as files and devices (:class:`.base.Camera`); only opening differs.
A TCP connect to host:port first turns "it does not work" into a reason (refused,
unreachable, DNS) in health. FFmpeg's open/read timeouts bound every blocking call, so a
stream that stops sending is reported *stalled* and then reconnected. Credentials in the
URL are never logged or shown in health: see :func:`redact_url`.
"""

from __future__ import annotations

import logging
import os
import re
import socket
import threading
from urllib.parse import urlsplit

import cv2

from .base import Camera, CameraError
from .config import RtspCameraConfig

log = logging.getLogger(__name__)

DEFAULT_PORTS = {"rtsp": 554, "rtsps": 322, "http": 80, "https": 443}
_ENV = "OPENCV_FFMPEG_CAPTURE_OPTIONS"      # read by OpenCV when a capture is opened
_env_lock = threading.Lock()
_USERINFO = re.compile(r"^([a-z]+://)[^/@]*@", re.IGNORECASE)


def redact_url(url: str) -> str:
    """``rtsp://admin:secret@10.0.0.5/s1`` -> ``rtsp://***@10.0.0.5/s1``."""
    return _USERINFO.sub(r"\1***@", url)


class RtspCamera(Camera):
    kind = "rtsp"
    config_class = RtspCameraConfig

    @property
    def where(self) -> str:
        return redact_url(self.cfg.url)

    def _probe_tcp(self) -> None:
        try:
            parts = urlsplit(self.cfg.url)
            host, port = parts.hostname, parts.port or DEFAULT_PORTS.get(parts.scheme.lower())
        except ValueError as exc:
            raise CameraError(f"bad URL {self.where}: {exc}") from None
        if not host or not port:
            raise CameraError(f"bad URL {self.where}: no host or port")
        try:
            socket.create_connection((host, port), timeout=self.cfg.open_timeout_s).close()
        except socket.gaierror as exc:
            raise CameraError(f"cannot resolve {host}: {exc.strerror}") from None
        except OSError as exc:
            why = "timed out" if isinstance(exc, TimeoutError) else (exc.strerror or type(exc).__name__)
            raise CameraError(f"cannot connect to {host}:{port}: {why}") from None

    def _open(self) -> cv2.VideoCapture:
        cfg = self.cfg
        self._probe_tcp()
        params = [cv2.CAP_PROP_OPEN_TIMEOUT_MSEC, int(cfg.open_timeout_s * 1000),
                  cv2.CAP_PROP_READ_TIMEOUT_MSEC, int(cfg.read_timeout_s * 1000)]
        with _env_lock:   # the transport is a process-wide FFmpeg option: set it just for this open
            saved = os.environ.get(_ENV)
            if saved is None and cfg.url.lower().startswith("rtsp"):
                os.environ[_ENV] = f"rtsp_transport;{cfg.transport}"
            try:
                cap = cv2.VideoCapture(cfg.url, cv2.CAP_FFMPEG, params)
            finally:
                if saved is None:
                    os.environ.pop(_ENV, None)
        if not cap.isOpened():
            cap.release()
            raise CameraError(f"cannot open stream {self.where} (not a video stream, wrong path or "
                              f"credentials, or no answer within {cfg.open_timeout_s:g} s)")
        cap.set(cv2.CAP_PROP_BUFFERSIZE, 1)
        return cap
