"""Typed configuration of the cameras: a tagged union on ``type`` (like the turnstiles).

``[[edge.cameras]]`` entries are decoded by reading ``type`` first and then decoding the
whole entry strictly into the matching dataclass, so a misspelt key is an error naming it.
Every kind extends :class:`CameraBase` (identity, frame-rate cap, resolution request,
health thresholds, reconnect backoff). No OpenCV import here.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

from shared_schema.messages import CODE
from shared_schema.typed_config import decode_tagged, decode_tagged_list
from shared_schema.wire import field

PATH_LEN = 4096
Kind = Literal["file", "v4l2", "rtsp"]


@dataclass(frozen=True)
class CameraBase:
    id: str = field(pattern=CODE)
    type: Kind = field()
    # What is asked of the source. 0 = the source's own value.
    fps: float = field(default=0.0, min=0.0, max=120.0, doc="frame-rate cap (frames/s); 0 = source rate")
    width: int = field(default=0, min=0, max=7680, doc="requested width in px; 0 = source default")
    height: int = field(default=0, min=0, max=4320, doc="requested height in px; 0 = source default")
    # Health.
    stall_s: float = field(default=3.0, min=0.2, max=600.0, doc="no new frame this long: down (stalled)")
    black_threshold: float = field(default=12.0, min=0.0, max=255.0, doc="mean luminance (0-255) below this is black")
    black_s: float = field(default=5.0, min=0.1, max=3600.0, doc="black this long: degraded")
    frozen_s: float = field(default=10.0, min=0.0, max=3600.0,
                            doc="pixel-identical frames this long: degraded (0 = off)")
    # Reconnection: exponential backoff between attempts, reset by the first good frame.
    reconnect_min_s: float = field(default=0.5, min=0.05, max=600.0)
    reconnect_max_s: float = field(default=10.0, min=0.05, max=3600.0)

    def __post_init__(self):
        if self.reconnect_max_s < self.reconnect_min_s:
            raise ValueError("reconnect_max_s must be ≥ reconnect_min_s")
        if (self.width == 0) != (self.height == 0):
            raise ValueError("width and height are requested together (both 0 = source default)")


@dataclass(frozen=True)
class FileCameraConfig(CameraBase):
    """A video file, looped at EOF (reopened, so a replaced file is picked up): for demos and tests."""
    type: Literal["file"] = "file"
    path: str = field(default="", max_len=PATH_LEN)
    realtime: bool = True        # pace at the file's own fps like a camera; false = decode flat out

    def __post_init__(self):
        super().__post_init__()
        if not self.path:
            raise ValueError("path is required")


@dataclass(frozen=True)
class V4l2CameraConfig(CameraBase):
    """A local (USB/CSI) camera by V4L2 device index: /dev/video<device>."""
    type: Literal["v4l2"] = "v4l2"
    device: int = field(default=0, min=0, max=255)
    fourcc: str = field(default="", pattern=r"([A-Z0-9]{4})?", doc='e.g. "MJPG" for 1080p at 30 fps on USB 2')


@dataclass(frozen=True)
class RtspCameraConfig(CameraBase):
    """An IP camera by URL: rtsp://, rtsps://, http:// or https:// (MJPEG over HTTP), via FFmpeg."""
    type: Literal["rtsp"] = "rtsp"
    url: str = field(default="", pattern=r"(rtsps?|https?)://\S+", max_len=PATH_LEN)
    transport: Literal["tcp", "udp"] = "tcp"     # RTSP only
    open_timeout_s: float = field(default=5.0, min=0.2, max=120.0)
    read_timeout_s: float = field(default=5.0, min=0.2, max=120.0)


# The tagged union: ``type`` value -> config dataclass (camera.REGISTRY mirrors it).
KINDS: dict[str, type[CameraBase]] = {
    "file": FileCameraConfig,
    "v4l2": V4l2CameraConfig,
    "rtsp": RtspCameraConfig,
}


def decode_camera(obj: Any, path: str = "camera") -> CameraBase:
    """Read ``type`` first, then decode the entry strictly into that kind's dataclass."""
    return decode_tagged(obj, KINDS, path, "camera")


def decode_cameras(items: Any, path: str = "cameras") -> tuple[CameraBase, ...]:
    return decode_tagged_list(items, KINDS, path, "camera")
