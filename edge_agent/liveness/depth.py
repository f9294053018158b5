"""3-D structure from landmark motion: a photo or a screen moves like a plane, a head does not.

For pairs of frames, the rigid landmarks of the face mesh (nose, eye corners, cheek
bones, forehead: not mouth, jaw or eyelids, which move on their own) in frame A are
mapped onto frame B by two models with the same number of parameters (8):

* a **homography** of the image plane: explains *exactly* how any plane moves under a
  pinhole camera, so a held photo or phone is fitted to landmark noise;
* a **rigid 3-D affine** camera ``[x, y, z, 1] → (x', y')`` using the mesh's own depth
  estimate z of frame A: explains how a 3-D head turns (weak perspective).

``ratio = residual(homography) / residual(3-D)``. A head that turns shows parallax (the
nose tip moves against the cheeks), which no homography explains: ratio ≫ 1. A plane
is explained by the homography at least as well as by the 3-D model: ratio ≤ ~1. The
verdict only counts pairs whose out-of-plane motion (what a 2-D similarity leaves
unexplained, relative to the eye distance) reaches ``depth_min_motion``: with less motion
both residuals are noise and the cue says "inconclusive" (→ challenge: turn the head).

Caveat: a replayed *video* of a turning head shows the parallax of the recorded head,
so this cue cannot catch replays; that is the job of the passive cues.
"""

from __future__ import annotations

import itertools
import math

import cv2
import numpy as np

from .config import LivenessConfig
from .cue import Cue, PairCache, Usable
from .verdict import CueScore

# Rigid facial points of MediaPipe's 468-point mesh (canonical indices).
RIGID = (1, 4, 5, 6, 168, 197, 195, 2, 98, 327, 48, 278,          # nose ridge, tip, alae
         33, 133, 362, 263,                                        # eye corners
         10, 151, 9, 108, 337, 67, 297, 109, 338,                  # forehead
         116, 345, 123, 352, 50, 280, 117, 346, 118, 347, 101, 330)   # cheek bones
EYE_OUTER = (33, 263)
IRIS = (468, 473)
MAX_PAIRS = 40


def eye_distance(pts: np.ndarray) -> float:
    return float(np.linalg.norm(pts[IRIS[0], :2] - pts[IRIS[1], :2]))


def yaw_deg(pts: np.ndarray) -> float:
    """Head yaw from the outer eye corners' depth difference (MediaPipe z)."""
    d = pts[EYE_OUTER[1]] - pts[EYE_OUTER[0]]
    return math.degrees(math.atan2(d[2], d[0]))


def _rms(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.sqrt(np.mean(np.sum((a - b) ** 2, axis=1))))


def similarity_residual(src: np.ndarray, dst: np.ndarray) -> float:
    """RMS residual of the least-squares 2-D similarity (Umeyama) mapping src onto dst."""
    ms, md = src.mean(0), dst.mean(0)
    a, b = src - ms, dst - md
    # complex form: dst ≈ z·src with z = scale·e^{iθ}
    za, zb = a[:, 0] + 1j * a[:, 1], b[:, 0] + 1j * b[:, 1]
    den = float(np.vdot(za, za).real)
    if den <= 0:
        return float("inf")
    z = np.vdot(za, zb) / den
    return float(np.sqrt(np.mean(np.abs(zb - z * za) ** 2)))


def pair_motion(pa: np.ndarray, pb: np.ndarray) -> tuple[float, float, float] | None:
    """(out-of-plane motion, homography residual, 3-D residual), all / eye distance."""
    a, b = pa[list(RIGID)], pb[list(RIGID)]
    iod = eye_distance(pa)
    if not iod > 1.0:
        return None
    src, dst = a[:, :2].astype(np.float64), b[:, :2].astype(np.float64)
    hom, _ = cv2.findHomography(src, dst, 0)
    if hom is None:
        return None
    r_sim = similarity_residual(src, dst)
    ph = np.c_[src, np.ones(len(src))] @ hom.T
    if np.any(np.abs(ph[:, 2]) < 1e-9):
        return None
    r_h = _rms(ph[:, :2] / ph[:, 2:], dst)
    x3 = np.c_[a, np.ones(len(a))]
    coef, *_ = np.linalg.lstsq(x3, dst, rcond=None)
    r_3 = _rms(x3 @ coef, dst)
    return r_sim / iod, r_h / iod, r_3 / iod


class DepthCue(Cue):
    name = "depth"

    def __init__(self, cfg: LivenessConfig, mesher):
        self.cfg, self.mesher = cfg, mesher
        self._pairs = PairCache()      # the judge is asked every 0.1 s over a sliding window

    def meshes(self, usable: Usable) -> list[tuple[object, np.ndarray]]:
        """(observation, mesh) of the usable frames the mesh was found on."""
        out = []
        for obs, frame in usable:
            pts = self.mesher.landmarks(obs, frame)
            if pts is not None:
                out.append((obs, pts))
        return out

    def measure(self, usable: Usable) -> dict:
        meshes = self.meshes(usable)
        res = {"frames": len(meshes), "pairs": 0, "ratio": None, "motion": 0.0, "yaw_range": 0.0}
        if len(meshes) < 2:
            return res
        yaws = [yaw_deg(p) for _, p in meshes]
        res["yaw_range"] = max(yaws) - min(yaws)
        pairs = list(itertools.combinations(range(len(meshes)), 2))
        if len(pairs) > MAX_PAIRS:     # keep the pairs farthest apart in time (most motion)
            pairs = sorted(pairs, key=lambda ij: ij[0] - ij[1])[:MAX_PAIRS]
        ratios, motion = [], 0.0
        for i, j in pairs:
            (oa, pa), (ob, pb) = meshes[i], meshes[j]
            m = self._pairs.get(oa, ob, lambda: pair_motion(pa, pb))
            if m is None:
                continue
            motion = max(motion, m[0])
            if m[0] >= self.cfg.depth_min_motion:
                ratios.append(m[1] / max(m[2], 1e-6))
        res.update(pairs=len(ratios), motion=motion, ratio=float(np.median(ratios)) if ratios else None)
        return res

    def evaluate(self, usable: Usable) -> CueScore:
        m = self.measure(usable)
        base = f"{m['frames']} meshes, out-of-plane motion {m['motion']:.3f} IOD, yaw range {m['yaw_range']:.1f} deg"
        if m["frames"] < self.cfg.min_frames:
            return self.inconclusive(f"too few frames ({base})")
        if m["ratio"] is None:
            return self.inconclusive(f"too little motion ({base})")
        r = m["ratio"]
        detail = f"planar/3-D residual ratio {r:.2f} over {m['pairs']} pairs; {base}"
        lo, hi = self.cfg.depth_planar_ratio, self.cfg.depth_live_ratio
        if r <= lo:          # explained by a plane: below 0.5, scaled by how planar
            return self.result(0.5 * max(0.0, r - 0.5) / max(lo - 0.5, 1e-6) * 0.99, True, detail, r)
        if r >= hi:
            return self.result(0.5 + 0.5 * min(1.0, (r - hi) / hi + 0.02), True, detail, r)
        return self.inconclusive(f"between plane and head: {detail}", r)

    def performed(self, usable: Usable, challenge: str) -> CueScore:
        """turn_head: the yaw range after the prompt reaches turn_min_yaw_deg and the
        motion shows 3-D parallax (a turned photo is a plane and is vetoed above)."""
        m = self.measure(usable)
        name = "challenge_turn_head"
        yaw = m["yaw_range"]
        detail = f"yaw range {yaw:.1f} deg (need {self.cfg.turn_min_yaw_deg:g}), ratio {m['ratio']}"
        if yaw < self.cfg.turn_min_yaw_deg or m["ratio"] is None:
            return CueScore(name, 0.5, False, "not performed: " + detail, yaw)
        if m["ratio"] < self.cfg.depth_live_ratio:
            return CueScore(name, 0.5, False, "turned without clear 3-D parallax: " + detail, yaw)
        return CueScore(name, round(min(1.0, 0.5 + 0.5 * yaw / 60.0), 4), True, detail, yaw)
