"""What the pipeline accepts from a camera: a BGR uint8 image of sane size, or a reason why not.

Cameras hand BGR uint8 frames; anything else is turned into one where that is unambiguous
(grey → BGR for IR cameras, BGRA → BGR, a non-contiguous view → a copy) or refused with a
short reason (wrong type or dtype, empty, tiny, huge). Refused frames are counted and
logged by the pipeline, never raised: a broken frame must not stop the gate.
"""

from __future__ import annotations

import math

import cv2
import numpy as np

from ..vision.backend import Face

MIN_SIDE = 32                    # px: smaller than the smallest face the detector finds
MAX_PIXELS = 4096 * 4096         # 16 MP: more than any gate camera; bigger is refused, not resized


def usable_image(frame) -> tuple[np.ndarray | None, str | None]:
    """(BGR uint8 contiguous image, None) or (None, reason)."""
    if frame is None:
        return None, "no frame"
    image = getattr(frame, "image", None)
    if not isinstance(image, np.ndarray):
        return None, f"image is {type(image).__name__}, not an array"
    if image.dtype != np.uint8:
        return None, f"dtype {image.dtype} (expected uint8)"
    if image.ndim == 3 and image.shape[2] == 1:
        image = image[:, :, 0]
    if image.ndim not in (2, 3) or (image.ndim == 3 and image.shape[2] not in (3, 4)):
        return None, f"shape {image.shape} (expected h×w×3)"
    h, w = image.shape[:2]
    if min(h, w) < MIN_SIDE:
        return None, f"{w}x{h} px is too small"
    if h * w > MAX_PIXELS:
        return None, f"{w}x{h} px is too large"
    if image.ndim == 2:
        return cv2.cvtColor(np.ascontiguousarray(image), cv2.COLOR_GRAY2BGR), None
    if image.shape[2] == 4:
        return cv2.cvtColor(np.ascontiguousarray(image), cv2.COLOR_BGRA2BGR), None
    return np.ascontiguousarray(image), None


def detect_scaled(backend, image: np.ndarray, max_side: int) -> list[Face]:
    """Detect on a copy at most ``max_side`` px long (YuNet finds a gate's faces there at a fraction
    of the cost); boxes and landmarks come back in full-frame pixels, so quality, the descriptor's
    alignment and the snapshot see full resolution."""
    scale = max_side / max(image.shape[:2])
    if scale >= 1.0:
        return backend.detect(image)
    small = cv2.resize(image, (max(1, round(image.shape[1] * scale)), max(1, round(image.shape[0] * scale))),
                       interpolation=cv2.INTER_AREA)
    # raw rows are dropped: they are the backend's own, in the small copy's pixels
    return [Face(tuple(float(v) / scale for v in f.box), np.asarray(f.landmarks, np.float32) / scale, f.score)
            for f in backend.detect(small)]


def finite_face(face) -> bool:
    """A detection with a finite, non-empty box and finite landmarks."""
    try:
        return all(math.isfinite(float(v)) for v in face.box) and face.size_px > 0 \
            and bool(np.isfinite(np.asarray(face.landmarks, np.float64)).all())
    except (TypeError, ValueError):
        return False
