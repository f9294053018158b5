"""Micro-motion: eyes, mouth and brows deform a little all the time; a photo or a screen does not.

Over the newest ``WINDOW`` face meshes, every frame is mapped onto the window's first by the
**homography** fitted on the rigid landmarks (depth.RIGID). A homography explains exactly how
a plane moves under a pinhole camera, so for a held photo or screen it explains the eyelids,
mouth corners and brows too: what is left over (the *non-rigid residual* of those landmarks)
is only the face mesh's per-frame error. A live face leaves a real deformation (and, when the
head turns, parallax) on top.

The mesh's error on eye/mouth/brow landmarks is as large as a quiet face's micro-motion
(measured: about twice the rigid points' error, on photos as on faces), so the *size* of the
residual cannot tell them apart. Its *time structure* can: the mesh solves each frame on its
own (static mode), so its error is close to independent from frame to frame, while a real
deformation persists over several frames at 15-30 fps. The statistic is von Neumann's ratio of
the residual series ``d_t`` (mean centred, pooled over the landmarks' coordinates)::

    eta = mean |d_{t+1} - d_t|^2 / mean |d_t|^2        (≈ 2·(1 − lag-1 autocorrelation))

Independent error gives eta ≈ 2; ``eta ≤ MAX_ETA`` (1.0: lag-1 autocorrelation ≥ 0.5) is the
cue's operating point. Why 1.0, a priori: for a single white-noise series of n = 15 the ratio
has mean 2 and s.d. ≈ 0.48, so 1.0 lies ~2 s.d. below, a ≈ 2 % false-alarm level, and
"half the frame-to-frame change of independent noise" is a round, data-free margin. It was not
fitted to the shared files (docs/liveness.md reports where they fall).

It is **evidence of life only, never a veto** (a still face may show no deformation for a
second), like the blink cue. Caveats: a replayed video shows the recorded face's deformation
(MiniFASNet must veto replays; the judge's AND fusion keeps that); a photo whose mesh error
happens to be smooth over time would pass this cue (its error is a deterministic function of
the image, so a slowly moving photo gives slowly changing error): the learned cue must then
be conclusive too, and a tilted photo is vetoed by the 3-D cue.
"""

from __future__ import annotations

import cv2
import numpy as np

from .config import LivenessConfig
from .cue import Cue, Usable
from .depth import RIGID, eye_distance
from .verdict import CueScore

# eyelids (upper/lower, both eyes), lips (inner and outer, corners), brows: MediaPipe mesh indices
NON_RIGID = (159, 145, 386, 374, 160, 144, 385, 380, 158, 153, 387, 373,
             13, 14, 78, 308, 61, 291, 0, 17, 82, 87, 312, 317,
             70, 63, 105, 66, 107, 336, 296, 334, 293, 300)
WINDOW = 15         # newest meshes looked at (one second at 15 fps): the statistic's n is fixed
MIN_MESHES = 10     # fewer: eta's spread under independent error is too wide (s.d. ≈ 0.57 at n = 10)
MAX_ETA = 1.0       # see the module docstring
MIN_AMPLITUDE = 0.002   # per-landmark RMS residual / eye distance: below it there is nothing to test


def residual_series(meshes: list[np.ndarray]) -> np.ndarray | None:
    """(n, 2·len(NON_RIGID)) non-rigid residuals (eye distances) after the planar fit onto the first mesh."""
    ref = meshes[0]
    iod = eye_distance(ref)
    if not iod > 1.0:
        return None
    dst = ref[list(RIGID), :2]
    rows = []
    for pts in meshes:
        hom, _ = cv2.findHomography(pts[list(RIGID), :2], dst, 0)
        if hom is None:
            return None
        q = np.c_[pts[list(NON_RIGID), :2], np.ones(len(NON_RIGID))] @ hom.T
        if np.any(np.abs(q[:, 2]) < 1e-9):
            return None
        rows.append(((q[:, :2] / q[:, 2:]) - ref[list(NON_RIGID), :2]).ravel() / iod)
    d = np.array(rows)
    return d - d.mean(axis=0)


def von_neumann(d: np.ndarray) -> tuple[float, float]:
    """(eta, per-landmark RMS amplitude) of a centred residual series."""
    total = float(np.mean(np.sum(d ** 2, axis=1)))
    amp = float(np.sqrt(total / (d.shape[1] / 2)))
    if total <= 0.0:
        return float("inf"), 0.0
    return float(np.mean(np.sum(np.diff(d, axis=0) ** 2, axis=1)) / total), amp


class MicroMotionCue(Cue):
    name = "micromotion"

    def __init__(self, cfg: LivenessConfig, mesher):
        self.cfg, self.mesher = cfg, mesher

    def evaluate(self, usable: Usable) -> CueScore:
        meshes = []
        for obs, frame in usable[-WINDOW:]:
            pts = self.mesher.landmarks(obs, frame)
            if pts is not None:
                meshes.append(pts)
        if len(meshes) < max(MIN_MESHES, self.cfg.min_frames):
            return self.inconclusive(f"too few meshes ({len(meshes)})")
        d = residual_series(meshes)
        if d is None:
            return self.inconclusive("degenerate planar fit")
        eta, amp = von_neumann(d)
        detail = f"von Neumann ratio {eta:.2f} of the non-rigid residual (amplitude {amp:.4f} IOD, {len(meshes)} meshes)"
        if amp < MIN_AMPLITUDE:
            return self.inconclusive("no deformation: " + detail, eta if np.isfinite(eta) else None)
        if eta > MAX_ETA:
            return self.inconclusive("frame-to-frame like mesh error: " + detail, eta)
        return self.result(0.5 + 0.5 * min(1.0, (MAX_ETA - eta) / MAX_ETA + 0.02), True, detail, eta)
