"""A local camera (USB / CSI) by V4L2 device index: /dev/video<device>.

Resolution, fps cap and pixel format are *requested*; the driver may pick the nearest mode
(the health detail shows what arrives). ``CAP_PROP_BUFFERSIZE`` 1 keeps the kernel queue
short so the reader thread gets the newest frame, not one queued seconds ago.
"""

from __future__ import annotations

import logging
import os

import cv2

from .base import Camera, CameraError
from .config import V4l2CameraConfig

log = logging.getLogger(__name__)


class V4l2Camera(Camera):
    kind = "v4l2"
    config_class = V4l2CameraConfig

    def _open(self) -> cv2.VideoCapture:
        dev = f"/dev/video{self.cfg.device}"
        if not os.path.exists(dev):
            raise CameraError(f"{dev} does not exist (camera unplugged or wrong device index?)")
        if not os.access(dev, os.R_OK | os.W_OK):
            raise CameraError(f"permission denied on {dev} (is the service user in group 'video'?)")
        cap = cv2.VideoCapture(self.cfg.device, cv2.CAP_V4L2)
        if not cap.isOpened():
            cap.release()
            raise CameraError(f"cannot open {dev} (busy, or not a capture device?)")
        cfg = self.cfg
        if cfg.fourcc:
            cap.set(cv2.CAP_PROP_FOURCC, cv2.VideoWriter_fourcc(*cfg.fourcc))
        if cfg.width:
            cap.set(cv2.CAP_PROP_FRAME_WIDTH, cfg.width)
            cap.set(cv2.CAP_PROP_FRAME_HEIGHT, cfg.height)
        if cfg.fps:
            cap.set(cv2.CAP_PROP_FPS, cfg.fps)
        cap.set(cv2.CAP_PROP_BUFFERSIZE, 1)
        got = (int(cap.get(cv2.CAP_PROP_FRAME_WIDTH)), int(cap.get(cv2.CAP_PROP_FRAME_HEIGHT)))
        if cfg.width and got != (cfg.width, cfg.height):
            log.warning("camera %s: asked %dx%d, %s gives %dx%d", self.id, cfg.width, cfg.height, dev, *got)
        return cap
