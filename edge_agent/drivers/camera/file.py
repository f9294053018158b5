"""A video file as a camera: paced at the file's fps (or flat out), looped at EOF.

Each loop reopens the file, so a file that is deleted shows ``down`` (file not found) and
one that reappears is picked up by the ordinary reconnect code. Frames are resized to
``width`` x ``height`` when both are set (a file cannot be asked for a size).
"""

from __future__ import annotations

import logging
import os
from pathlib import Path

import cv2

from .base import Camera, CameraError
from .config import FileCameraConfig

log = logging.getLogger(__name__)


class FileCamera(Camera):
    kind = "file"
    config_class = FileCameraConfig
    resize_to_request = True

    def _paced(self) -> bool:
        return self.cfg.realtime

    def _loops_at_eof(self) -> bool:
        return True

    def _open(self) -> cv2.VideoCapture:
        path = Path(self.cfg.path)
        if not path.exists():
            raise CameraError(f"file not found: {path}")
        if not path.is_file():
            raise CameraError(f"not a regular file: {path}")
        if not os.access(path, os.R_OK):
            raise CameraError(f"permission denied: {path}")
        # FFmpeg explicitly: CAP_ANY would also try the image-sequence backend on odd names.
        cap = cv2.VideoCapture(str(path), cv2.CAP_FFMPEG)
        if not cap.isOpened():
            cap.release()
            raise CameraError(f"not a video OpenCV/FFmpeg can decode: {path}")
        return cap
