"""Face snapshots of punches and rejected attempts: JPEG files kept on the gateway.

The ledger (and so the city) gets only the file name (``snapshot_ref``); the picture never
leaves the gateway on this wire (PIPL: face data stays local). Files are written 0600,
atomically (temp file + rename), one folder per day: ``<dir>/<YYYYMMDD>/<name>.jpg`` with
``name = <gate>-<HHMMSS>-<random>``, so the ref alone finds the file. A snapshot that
cannot be written is logged and the decision goes on without it: a full disk must not
keep a worker out.
"""

from __future__ import annotations

import logging
import math
import os
import secrets
import time
from pathlib import Path

import cv2
import numpy as np

from ..vision.backend import Face

log = logging.getLogger(__name__)

MARGIN = 0.3          # context around the face box on each side, as a share of its size
MAX_SIDE = 400        # px: a snapshot is for a person's eye, not for recognition


class SnapshotStore:
    def __init__(self, folder: str | Path, jpeg_quality: int = 85):
        self.folder = Path(folder)
        self.jpeg_quality = int(jpeg_quality)

    def path(self, ref: str) -> Path:
        """Where the snapshot named ``ref`` lives (refs are ``<gate>-<YYYYMMDD>...``)."""
        day = ref.split("-")[-3] if ref.count("-") >= 3 else "unknown"
        return self.folder / day / ref

    def save(self, image: np.ndarray, face: Face, gate_id: str, t_wall: float | None = None) -> str | None:
        """Write the face (with some context) as JPEG; returns its ref, or None on failure."""
        try:
            crop = _crop(image, face)
            ok, data = cv2.imencode(".jpg", crop, [cv2.IMWRITE_JPEG_QUALITY, self.jpeg_quality])
            if not ok:
                raise ValueError("JPEG encoding failed")
            stamp = time.gmtime(t_wall if t_wall is not None else time.time())
            ref = f"{gate_id}-{time.strftime('%Y%m%d', stamp)}-{time.strftime('%H%M%S', stamp)}-" \
                  f"{secrets.token_hex(6)}.jpg"
            path = self.path(ref)
            path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
            tmp = path.with_suffix(".tmp")
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            with os.fdopen(fd, "wb") as f:
                f.write(data.tobytes())
            os.replace(tmp, path)
            return ref
        except Exception as exc:  # noqa: BLE001 - disk full, bad box: the decision goes on
            log.error("snapshot for gate %s not saved: %s: %s", gate_id, type(exc).__name__, exc)
            return None


def _crop(image: np.ndarray, face: Face) -> np.ndarray:
    h, w = image.shape[:2]
    x, y, bw, bh = (float(v) for v in face.box)
    if not all(math.isfinite(v) for v in (x, y, bw, bh)) or bw <= 0 or bh <= 0:
        raise ValueError("face box is not finite")
    mx, my = bw * MARGIN, bh * MARGIN
    x0, y0 = max(0, int(x - mx)), max(0, int(y - my))
    x1, y1 = min(w, int(math.ceil(x + bw + mx))), min(h, int(math.ceil(y + bh + my)))
    if x1 - x0 < 2 or y1 - y0 < 2:
        raise ValueError("face box lies outside the frame")
    crop = image[y0:y1, x0:x1]
    scale = MAX_SIDE / max(crop.shape[:2])
    if scale < 1.0:
        crop = cv2.resize(crop, (max(1, round(crop.shape[1] * scale)), max(1, round(crop.shape[0] * scale))),
                          interpolation=cv2.INTER_AREA)
    return np.ascontiguousarray(crop)
