"""Checking what a judge is handed, and cutting face crops out of frames.

Cameras hand BGR uint8 frames; a grey (h, w) or (h, w, 1) frame and a BGRA frame are
converted (unambiguous). Anything else (float pixels, wrong shapes, a box that is not
finite or lies outside the frame) makes that observation unusable: the judge drops it,
says so in the verdict, and never crashes on it.
"""

from __future__ import annotations

import math

import cv2
import numpy as np

from ..vision.track import FaceObservation

MIN_FACE_PX = 24          # smaller faces carry no usable texture or landmarks


class LivenessInputError(ValueError):
    """The track itself is malformed (e.g. not in time order): a bug of the caller."""


class UnusableObservation(ValueError):
    """This one observation cannot be judged (bad pixels, bad box)."""


def as_bgr(image) -> np.ndarray:
    if not isinstance(image, np.ndarray):
        raise UnusableObservation(f"frame is {type(image).__name__}, not a numpy array")
    if image.dtype != np.uint8:
        raise UnusableObservation(f"frame dtype {image.dtype} (expected uint8 BGR)")
    if image.ndim == 2 or (image.ndim == 3 and image.shape[2] == 1):
        return cv2.cvtColor(image.reshape(image.shape[:2]), cv2.COLOR_GRAY2BGR)
    if image.ndim == 3 and image.shape[2] == 4:
        return cv2.cvtColor(image, cv2.COLOR_BGRA2BGR)
    if image.ndim == 3 and image.shape[2] == 3:
        return image
    raise UnusableObservation(f"frame shape {image.shape} (expected (h, w, 3) BGR)")


def face_box(obs: FaceObservation, frame: np.ndarray) -> tuple[float, float, float, float]:
    """The detector box, checked: finite, at least MIN_FACE_PX, mostly inside the frame."""
    try:
        x, y, w, h = (float(v) for v in obs.face.box)
    except (AttributeError, TypeError, ValueError):
        raise UnusableObservation("face box is not four numbers") from None
    if not all(math.isfinite(v) for v in (x, y, w, h)):
        raise UnusableObservation("face box is not finite")
    if min(w, h) < MIN_FACE_PX:
        raise UnusableObservation(f"face {w:.0f}x{h:.0f} px is too small")
    fh, fw = frame.shape[:2]
    ix = max(0.0, min(x + w, fw) - max(x, 0.0))
    iy = max(0.0, min(y + h, fh) - max(y, 0.0))
    if ix * iy < 0.5 * w * h:
        raise UnusableObservation("face box lies mostly outside the frame")
    return x, y, w, h


def landmarks5(obs: FaceObservation) -> np.ndarray:
    lm = np.asarray(obs.face.landmarks, dtype=np.float64).reshape(-1, 2)
    if lm.shape != (5, 2) or not np.isfinite(lm).all():
        raise UnusableObservation("detector landmarks are missing or not finite")
    return lm


def scaled_box(frame_shape, box, scale: float) -> tuple[int, int, int, int]:
    """MiniVision's ``CropImage._get_new_box``: enlarge the box about its centre by
    ``scale`` (capped to fit the frame) and shift it back inside the frame at borders.
    Returns inclusive pixel corners (x0, y0, x1, y1)."""
    src_h, src_w = frame_shape[:2]
    x, y, bw, bh = box
    scale = min((src_h - 1) / bh, min((src_w - 1) / bw, scale))
    nw, nh = bw * scale, bh * scale
    cx, cy = bw / 2 + x, bh / 2 + y
    x0, y0, x1, y1 = cx - nw / 2, cy - nh / 2, cx + nw / 2, cy + nh / 2
    if x0 < 0:
        x1 -= x0
        x0 = 0
    if y0 < 0:
        y1 -= y0
        y0 = 0
    if x1 > src_w - 1:
        x0 -= x1 - src_w + 1
        x1 = src_w - 1
    if y1 > src_h - 1:
        y0 -= y1 - src_h + 1
        y1 = src_h - 1
    return int(x0), int(y0), int(x1), int(y1)


def square_crop(frame: np.ndarray, box, scale: float, out: int) -> tuple[np.ndarray, float, float, float]:
    """A square crop of side ``scale``×max(w, h) about the box centre, padded with black
    where it leaves the frame, resized to ``out``×``out``. Returns (crop, x0, y0, px) so that
    frame = (x0, y0) + crop_xy * px."""
    x, y, w, h = box
    side = max(w, h) * scale
    x0, y0 = x + w / 2 - side / 2, y + h / 2 - side / 2
    px = side / out
    m = np.float64([[1 / px, 0, -x0 / px], [0, 1 / px, -y0 / px]])
    crop = cv2.warpAffine(frame, m, (out, out), flags=cv2.INTER_AREA if px > 1 else cv2.INTER_LINEAR,
                          borderMode=cv2.BORDER_CONSTANT, borderValue=(0, 0, 0))
    return crop, x0, y0, px
