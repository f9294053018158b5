"""Reading still images upright (EXIF orientation applied) and with a size cap."""

from __future__ import annotations

import logging
from pathlib import Path

import cv2
import numpy as np

log = logging.getLogger(__name__)

IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".bmp", ".webp")
DEFAULT_MAX_SIDE = 1600


class ImageError(ValueError):
    pass


def read_image(path: str | Path, max_side: int | None = DEFAULT_MAX_SIDE) -> np.ndarray:
    """BGR uint8 image, upright, longer side at most ``max_side`` (None: no cap).

    ``cv2.IMREAD_COLOR`` applies the EXIF Orientation tag (OpenCV ≥ 3.1; only
    ``IMREAD_IGNORE_ORIENTATION`` turns that off) and drops an alpha channel.
    Decoding from bytes keeps non-ASCII paths working.
    """
    path = Path(path)
    try:
        data = np.fromfile(path, dtype=np.uint8)
    except OSError as exc:
        raise ImageError(f"{path}: cannot read ({exc.strerror})") from None
    if data.size == 0:                       # cv2.imdecode asserts (cv2.error) on an empty buffer
        raise ImageError(f"{path}: empty file")
    img = cv2.imdecode(data, cv2.IMREAD_COLOR)
    if img is None:
        raise ImageError(f"{path}: not a decodable image")
    return cap_size(img, max_side)


def cap_size(img: np.ndarray, max_side: int | None) -> np.ndarray:
    h, w = img.shape[:2]
    if max_side is None or max(h, w) <= max_side:
        return img
    s = max_side / max(h, w)
    size = (max(1, round(w * s)), max(1, round(h * s)))
    log.debug("image %dx%d scaled to %dx%d", w, h, *size)
    return cv2.resize(img, size, interpolation=cv2.INTER_AREA)
