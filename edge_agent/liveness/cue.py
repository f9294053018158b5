"""What every cue has: a name, an ``evaluate`` over the track's usable frames, and a
per-observation cache.

A cue maps its own measurement to ``score`` 0..1 so that **0.5 is its operating point**
(below: looks like an attack, above: looks live). That makes the cues' scores
comparable, and lets the judge fuse them with one rule (the weakest conclusive cue
decides; see judge.py).
"""

from __future__ import annotations

import threading
import weakref
from typing import Callable, Sequence

import numpy as np

from ..vision.track import FaceObservation
from .verdict import CueScore

# (observation, its frame as BGR uint8) pairs the judge found usable, oldest first
Usable = Sequence[tuple[FaceObservation, np.ndarray]]


def remap(value: float, threshold: float) -> float:
    """Piecewise-linear 0..1 → 0..1 with ``threshold`` ↦ 0.5 (monotone)."""
    v = min(1.0, max(0.0, float(value)))
    if threshold <= 0.0:
        return 1.0
    if threshold >= 1.0:
        return 0.5 * v
    if v < threshold:
        return 0.5 * v / threshold
    return 0.5 + 0.5 * (v - threshold) / (1.0 - threshold)


SAMPLE_S = 0.2     # at most one sampled frame per 0.2 s of capture time


def sample(usable: Usable, n: int) -> list[int]:
    """Indices of up to ``n`` observations to score, newest first in time buckets of
    SAMPLE_S. Buckets are absolute (floor(t_mono / SAMPLE_S)), so a window that slides by
    one frame picks the same observations as before (their cached scores are reused) plus
    at most one new one, instead of a whole new set."""
    picked, seen = [], set()
    for i in range(len(usable) - 1, -1, -1):
        b = int(usable[i][0].t_mono // SAMPLE_S)
        if b in seen:
            picked[-1] = i          # keep the bucket's earliest observation: stable as the window grows
            continue
        if len(picked) == n:
            break
        seen.add(b)
        picked.append(i)
    return sorted(picked)


class FrameCache:
    """Per-observation results keyed by object identity (weakly: an observation the
    tracker drops is forgotten). Holds measurements of frames, nothing about people."""

    def __init__(self):
        self._d: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()
        self._lock = threading.Lock()

    def get(self, obs: FaceObservation, compute: Callable[[], object]):
        with self._lock:
            if obs in self._d:
                return self._d[obs]
        value = compute()
        with self._lock:
            self._d[obs] = value
        return value


class PairCache:
    """Results of a pure function of two observations, forgotten with either (weakly keyed):
    a window that slides by one frame recomputes only the pairs holding the new frame."""

    def __init__(self):
        self._d: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()
        self._lock = threading.Lock()

    def get(self, a: FaceObservation, b: FaceObservation, compute: Callable[[], object]):
        with self._lock:
            inner = self._d.get(a)
            if inner is not None and b in inner:
                return inner[b]
        value = compute()
        with self._lock:
            self._d.setdefault(a, weakref.WeakKeyDictionary())[b] = value
        return value


class Cue:
    name = ""
    passive = False        # True: judged from single frames (texture, learned); False: needs motion

    def evaluate(self, usable: Usable) -> CueScore:
        raise NotImplementedError

    def result(self, score: float, conclusive: bool, detail: str = "", raw: float | None = None) -> CueScore:
        s = float(np.clip(score, 0.0, 1.0)) if np.isfinite(score) else 0.5
        return CueScore(self.name, round(s, 4), conclusive, detail,
                        None if raw is None or not np.isfinite(raw) else round(float(raw), 4))

    def inconclusive(self, detail: str, raw: float | None = None) -> CueScore:
        return self.result(0.5, False, detail, raw)
