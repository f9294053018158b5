"""Is this face good enough for a descriptor? A pure function of (frame, face, other faces).

The gate pipeline runs the expensive descriptor only on frames whose served face passes
here, and shows the person the key of what is wrong; the enrollment UI uses the same
function to pick its capture frames. Each factor is scored 0..1, the overall ``score``
is their product (one bad factor sinks the frame) and ``key`` names the worst factor
that fails, as a :mod:`edge_agent.feedback` message key:

* size       — the face's longer box side in px: ``min_face_px`` scores 0, ``good_face_px`` 1
  (SFace aligns to 112 px; below ~60–80 px the descriptor degrades fast) → ``move_closer``;
* pose       — from the five landmarks: yaw as the nose's offset from the eyes' midpoint over
  the eye distance (0 frontal, ~0.5 at 45°), pitch as where the nose sits between the eye line
  and the mouth line (~0.5 frontal), roll as the eye line's angle → ``look_at_camera``;
* sharpness  — variance of the Laplacian of the face crop resized to 112 px (size-independent;
  motion blur and defocus lower it) → ``hold_still``;
* brightness — mean grey level of the face crop → ``too_dark`` / ``too_bright``;
* dominance  — another face at least ``crowd_ratio`` as large as this one: two people at the
  gate, nobody can tell whom the punch is for → ``one_at_a_time``.

Eyes open is not scored: five landmarks do not show the eyelids; the liveness judge
looks at the eyes with its own landmarks. The defaults are a-priori engineering values
(face sizes from SFace's 112 px input, angles from what frontal means), not fitted to data.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Sequence

import cv2
import numpy as np

from .backend import Face

CROP_PX = 112            # the face crop is resized to this before sharpness / brightness
PRIORITY = ("one_at_a_time", "move_closer", "too_dark", "too_bright", "look_at_camera", "hold_still")


@dataclass(frozen=True)
class QualityParams:
    min_face_px: float = 80.0
    good_face_px: float = 140.0
    max_yaw: float = 0.45           # |nose offset| / eye distance at which pose scores 0
    max_roll_deg: float = 30.0
    pitch_range: tuple[float, float] = (0.2, 0.8)   # nose position between eye and mouth lines
    sharp_min: float = 15.0         # Laplacian variance: 0 at sharp_min, 1 at sharp_good
    sharp_good: float = 80.0
    dark: float = 40.0              # mean grey: 0 at dark, 1 at dark + 30
    bright: float = 225.0           # 1 at bright − 30, 0 at bright
    crowd_ratio: float = 0.8        # another face ≥ this × our size: not a single dominant face
    pass_score: float = 0.5         # a factor scoring below this fails (its key is reported)


DEFAULT_PARAMS = QualityParams()


@dataclass(frozen=True)
class Quality:
    score: float                    # 0..1, product of the factors
    key: str | None                 # feedback message key of the worst failing factor, None = good
    size_px: float
    yaw: float
    pitch: float
    roll_deg: float
    sharpness: float
    brightness: float
    factors: dict[str, float]

    @property
    def ok(self) -> bool:
        return self.key is None


def _ramp(x: float, lo: float, hi: float) -> float:
    if not math.isfinite(x):
        return 0.0
    if hi <= lo:
        return 1.0 if x >= hi else 0.0
    return float(min(1.0, max(0.0, (x - lo) / (hi - lo))))


def pose(landmarks: np.ndarray) -> tuple[float, float, float]:
    """(yaw ratio, pitch ratio, roll degrees) from five landmarks (right eye, left eye, nose,
    right mouth corner, left mouth corner, image-left first). Degenerate input → nan."""
    p = np.asarray(landmarks, np.float64).reshape(5, 2)
    if not np.all(np.isfinite(p)):
        return float("nan"), float("nan"), float("nan")
    eye_mid = (p[0] + p[1]) / 2
    mouth_mid = (p[3] + p[4]) / 2
    eye_vec = p[1] - p[0]
    eye_dist = float(np.hypot(*eye_vec))
    if eye_dist < 1e-6:
        return float("nan"), float("nan"), float("nan")
    roll = math.degrees(math.atan2(eye_vec[1], eye_vec[0]))
    # express the nose in the face's own frame (undo roll): x along the eyes, y down the face
    ux = eye_vec / eye_dist
    uy = np.array([-ux[1], ux[0]])
    nose = p[2] - eye_mid
    yaw = float(nose @ ux) / eye_dist
    face_h = float((mouth_mid - eye_mid) @ uy)
    pitch = float(nose @ uy) / face_h if abs(face_h) > 1e-6 else float("nan")
    return yaw, pitch, roll


def face_crop(image: np.ndarray, face: Face, size: int = CROP_PX) -> np.ndarray | None:
    """The face box (clipped to the frame) as a grey ``size``×``size`` image, or None if empty."""
    h, w = image.shape[:2]
    x, y, bw, bh = face.box
    if not all(math.isfinite(v) for v in (x, y, bw, bh)):
        return None
    x0, y0 = max(0, int(x)), max(0, int(y))
    x1, y1 = min(w, int(math.ceil(x + bw))), min(h, int(math.ceil(y + bh)))
    if x1 - x0 < 2 or y1 - y0 < 2:
        return None
    crop = image[y0:y1, x0:x1]
    grey = cv2.cvtColor(crop, cv2.COLOR_BGR2GRAY) if crop.ndim == 3 else crop
    return cv2.resize(grey, (size, size), interpolation=cv2.INTER_AREA)


def assess(image: np.ndarray, face: Face, others: Sequence[Face] = (),
           params: QualityParams = DEFAULT_PARAMS) -> Quality:
    """Score ``face`` in ``image`` (BGR uint8); ``others`` are the other faces in the frame."""
    size = face.size_px
    yaw, pitch, roll = pose(face.landmarks)
    grey = face_crop(image, face)
    if grey is None:
        sharp, bright = 0.0, 0.0
    else:
        sharp = float(cv2.Laplacian(grey, cv2.CV_64F).var())
        bright = float(grey.mean())
    lo, hi = params.pitch_range
    mid, half = (lo + hi) / 2, (hi - lo) / 2
    rival = max((o.size_px for o in others if o is not face), default=0.0)
    factors = {
        "move_closer": _ramp(size, params.min_face_px, params.good_face_px),
        "look_at_camera": min(1.0 - _ramp(abs(yaw), 0.0, params.max_yaw),
                              1.0 - _ramp(abs(pitch - mid), 0.0, half),
                              1.0 - _ramp(abs(roll), 0.0, params.max_roll_deg)),
        "hold_still": _ramp(sharp, params.sharp_min, params.sharp_good),
        "too_dark": _ramp(bright, params.dark, params.dark + 30.0),
        "too_bright": 1.0 - _ramp(bright, params.bright - 30.0, params.bright),
        "one_at_a_time": 0.0 if size > 0 and rival >= params.crowd_ratio * size else 1.0,
    }
    factors = {k: (v if math.isfinite(v) else 0.0) for k, v in factors.items()}
    score = float(np.prod(list(factors.values())))
    # the worst factor names the problem; on a tie the first in PRIORITY (what to fix first)
    failing = [(v, PRIORITY.index(k), k) for k, v in factors.items() if v < params.pass_score]
    key = min(failing)[2] if failing else None
    return Quality(score, key, size, yaw, pitch, roll, sharp, bright, factors)
