"""Texture of prints and screens: specular glare and isolated spectral peaks (pixel grid, moiré).

Looked at on the inner face (the central 60 % of the detector box, skin rather than
background), at the camera's native resolution (resizing would erase a pixel grid):

* **glare**: share of clipped pixels (all channels ≥ 250). A screen or glossy print
  reflecting a lamp clips a patch of the face; live skin clips only small highlights.
* **spectral peak**: a screen's pixel grid and the moiré it makes with the camera's
  sensor are periodic, i.e. isolated peaks in the high-frequency band (0.25–0.5
  cycles/pixel) of the windowed 2-D spectrum; skin texture and noise are broadband. The
  statistic is the band's largest bin over the median of its own frequency ring (for
  broadband content the largest of some 10⁴ Rayleigh-distributed bins is about 3.5–4.5×
  the median, so 12× is far outside noise). Bins on the axes (edges,
  rows) and near multiples of 1/8 cycles/pixel (JPEG/codec 8×8 blocks, present in every
  compressed frame, live or not) are left out.

Both are veto-only: an attack texture scores below 0.5, a clean face scores above 0.5
by its distance from the limits. Limits (``texture_glare_max`` 8 % of the face,
``texture_peak_max`` 12× the ring median) were set a priori, wide, so that the cue speaks
only on strong evidence; they were not fitted to the test files.
"""

from __future__ import annotations

import cv2
import numpy as np

from .config import LivenessConfig
from .cue import Cue, FrameCache, Usable, sample
from .frames import face_box
from .verdict import CueScore

INNER = 0.6
FFT_MAX = 256
MIN_SIDE = 48
FRAMES = 5


def inner_face(frame: np.ndarray, box) -> np.ndarray:
    x, y, w, h = box
    cx, cy = x + w / 2, y + h / 2
    hw, hh = w * INNER / 2, h * INNER / 2
    fh, fw = frame.shape[:2]
    x0, x1 = int(max(0, cx - hw)), int(min(fw, cx + hw))
    y0, y1 = int(max(0, cy - hh)), int(min(fh, cy + hh))
    return frame[y0:y1, x0:x1]


def glare_share(face: np.ndarray) -> float:
    return float(np.mean(np.all(face >= 250, axis=2))) if face.size else 0.0


def peak_ratio(face: np.ndarray) -> float | None:
    side = min(face.shape[0], face.shape[1], FFT_MAX)
    if side < MIN_SIDE:
        return None
    oy, ox = (face.shape[0] - side) // 2, (face.shape[1] - side) // 2
    g = cv2.cvtColor(face[oy:oy + side, ox:ox + side], cv2.COLOR_BGR2GRAY).astype(np.float64)
    g -= g.mean()
    win = np.outer(np.hanning(side), np.hanning(side))
    mag = np.abs(np.fft.fftshift(np.fft.fft2(g * win)))
    f = np.fft.fftshift(np.fft.fftfreq(side))
    fx, fy = np.meshgrid(f, f)
    r = np.hypot(fx, fy)
    step = 1.0 / side
    band = (r >= 0.25) & (r <= 0.5) & (np.abs(fx) > 1.5 * step) & (np.abs(fy) > 1.5 * step)
    for axis in (fx, fy):   # codec block grid: multiples of 1/8 cycles/pixel
        band &= np.abs(np.abs(axis) * 8 - np.round(np.abs(axis) * 8)) * (1 / 8) > 1.5 * step
    # whiten: each bin against the median of its own frequency ring (skin and lenses
    # fall off with frequency; a periodic grid stands out of its ring)
    ring = np.round(r * side).astype(int)
    ring_med = np.zeros(ring.max() + 1)
    for k in np.unique(ring[band]):
        ring_med[k] = np.median(mag[band & (ring == k)])
    vals = mag[band] / np.maximum(ring_med[ring[band]], 1e-9)
    if vals.size < 16:
        return None
    return float(vals.max())


class TextureCue(Cue):
    name = "texture"
    passive = True

    def __init__(self, cfg: LivenessConfig):
        self.cfg = cfg
        self._cache = FrameCache()

    def _frame(self, obs, frame) -> tuple[float, float | None]:
        def compute():
            face = inner_face(frame, face_box(obs, frame))
            return glare_share(face), peak_ratio(face)
        return self._cache.get(obs, compute)

    def evaluate(self, usable: Usable) -> CueScore:
        idx = sample(usable, FRAMES)
        vals = [self._frame(*usable[i]) for i in idx]
        glare = float(np.median([g for g, _ in vals]))
        peaks = [p for _, p in vals if p is not None]
        if not peaks:
            return self.inconclusive(f"face too small for texture (glare {glare:.3f})")
        peak = float(np.median(peaks))
        worst = max(glare / self.cfg.texture_glare_max, peak / self.cfg.texture_peak_max)
        detail = f"glare {glare:.3f}, spectral peak {peak:.1f}x over {len(peaks)} frames"
        score = 0.5 / worst if worst > 1 else 0.5 + 0.5 * (1 - worst)
        return self.result(score, True, detail, worst)
