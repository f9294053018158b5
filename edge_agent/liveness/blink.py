"""Blinks: the eye aspect ratio (EAR) of the face mesh dips and recovers.

EAR = (|p2−p6| + |p3−p5|) / (2·|p1−p4|) per eye (Soukupová & Čech 2016), averaged over
both eyes (blinks are bilateral). The open-eye level is the track's 90th percentile, so
the rule is relative: glasses, smiling and narrow eyes lower the open level, not the
rule. A blink is a dip to ≤ ``blink_closed_ratio`` × open (a-priori: a blink closes the
lid to well under half its open height; 0.6 leaves room for mesh smoothing) that
recovers to ≥ halfway back within 0.5 s (blinks last about 0.1–0.4 s; a longer dip is
looking down, not a blink).

A blink is positive evidence of life; no blink in a second is normal, so the cue never
vetoes (it stays inconclusive). A replayed video shows the recorded person's blinks:
this cue does not catch replays either.
"""

from __future__ import annotations

import numpy as np

from .config import LivenessConfig
from .cue import Cue, Usable
from .verdict import CueScore

# p1..p6 per eye, MediaPipe mesh indices (image-left eye, image-right eye)
EYES = ((33, 160, 158, 133, 153, 144), (362, 385, 387, 263, 373, 380))
MAX_BLINK_S = 0.5


def ear(pts: np.ndarray) -> float:
    vals = []
    for p1, p2, p3, p4, p5, p6 in EYES:
        w = np.linalg.norm(pts[p1, :2] - pts[p4, :2])
        if w <= 1e-6:
            return float("nan")
        vals.append((np.linalg.norm(pts[p2, :2] - pts[p6, :2]) + np.linalg.norm(pts[p3, :2] - pts[p5, :2])) / (2 * w))
    return float(np.mean(vals))


def find_blink(t: np.ndarray, e: np.ndarray, closed_ratio: float) -> tuple[float, float] | None:
    """(depth as min EAR / open, duration s) of the deepest blink, or None."""
    open_level = float(np.percentile(e, 90))
    if not open_level > 0:
        return None
    rel = e / open_level
    back = closed_ratio + (1.0 - closed_ratio) / 2
    best = None
    for k in np.argsort(rel):
        if rel[k] > closed_ratio:
            break
        before = [i for i in range(k) if rel[i] >= back]
        after = [i for i in range(k + 1, len(rel)) if rel[i] >= back]
        if not before or not after:
            continue
        dur = t[after[0]] - t[before[-1]]
        if dur <= MAX_BLINK_S + 1e-9:
            best = (float(rel[k]), float(dur))
            break
    return best


class BlinkCue(Cue):
    name = "blink"

    def __init__(self, cfg: LivenessConfig, mesher):
        self.cfg, self.mesher = cfg, mesher

    def series(self, usable: Usable) -> tuple[np.ndarray, np.ndarray]:
        t, e = [], []
        for obs, frame in usable:
            pts = self.mesher.landmarks(obs, frame)
            if pts is not None:
                v = ear(pts)
                if np.isfinite(v):
                    t.append(obs.t_mono)
                    e.append(v)
        return np.array(t, dtype=np.float64), np.array(e, dtype=np.float64)

    def _judge(self, usable: Usable, name: str) -> CueScore:
        t, e = self.series(usable)
        if len(e) < self.cfg.min_frames:
            return CueScore(name, 0.5, False, f"too few frames with eyes ({len(e)})")
        b = find_blink(t, e, self.cfg.blink_closed_ratio)
        if b is None:
            rel_min = float(np.min(e) / np.percentile(e, 90))
            return CueScore(name, 0.5, False, f"no blink in {len(e)} frames (lowest EAR {rel_min:.2f} of open)",
                            round(rel_min, 4))
        depth, dur = b
        score = 0.5 + 0.5 * min(1.0, (self.cfg.blink_closed_ratio - depth) / self.cfg.blink_closed_ratio + 0.02)
        return CueScore(name, round(score, 4), True, f"blink to {depth:.2f} of open EAR, {dur * 1000:.0f} ms",
                        round(depth, 4))

    def evaluate(self, usable: Usable) -> CueScore:
        return self._judge(usable, self.name)

    def performed(self, usable: Usable, challenge: str) -> CueScore:
        return self._judge(usable, "challenge_blink")
