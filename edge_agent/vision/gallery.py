"""1:N matching over the site's roster: several unit-vector templates per worker.

A probe is scored against every template with one matrix-vector product
(``templates @ probe``; 100,000 × 128 float32 is 51 MB and a few ms on one core).
The decision is open-set:

* ``unknown``   — the best score is below ``threshold`` (nobody enrolled looks like this);
* ``ambiguous`` — the best worker beats the best template of any *other* worker by less than
  ``margin`` (two enrolled people both fit; the gate stays closed rather than guess);
* ``accepted``  — otherwise.

Calibration: ``threshold`` defaults to the model's published operating point (SFace:
cosine 0.363), ``margin`` to an a-priori 0.05. To calibrate on a site, enrol its workers,
run ``edge-agent eval identify`` on a held-out set of their gate photos plus photos of
people who are *not* enrolled, and pick the lowest threshold whose FPIR meets the target
with a safety gap above the highest unknown score; never tune on the set you report.
Cohort (impostor-set) score normalisation is not done yet.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import numpy as np

log = logging.getLogger(__name__)

ACCEPTED, UNKNOWN, AMBIGUOUS, EMPTY = "accepted", "unknown", "ambiguous", "empty_gallery"


@dataclass(frozen=True)
class Decision:
    accepted: bool
    reason: str                     # accepted / unknown / ambiguous / empty_gallery (/ no_face upstream)
    worker: str | None              # the best-scoring worker (also when rejected, for the log)
    score: float                    # best cosine (nan for an empty gallery)
    runner_up: str | None           # best other worker
    runner_up_score: float          # its best cosine (-1.0 if there is none)

    @property
    def margin(self) -> float:
        return self.score - self.runner_up_score


class Gallery:
    """Templates of enrolled workers. Not thread-safe for concurrent add/remove + search."""

    def __init__(self, dim: int = 128):
        self.dim = dim
        self._t = np.empty((0, dim), np.float32)       # (n, dim) unit vectors
        self._owner = np.empty(0, np.int32)            # template -> index into _workers
        self._workers: list[str] = []
        self._index: dict[str, int] = {}

    def __len__(self) -> int:
        return len(self._t)

    @property
    def workers(self) -> list[str]:
        present = set(np.unique(self._owner).tolist())
        return [w for i, w in enumerate(self._workers) if i in present]

    def add(self, worker: str, templates: np.ndarray) -> None:
        """Append one or more templates ((dim,) or (k, dim)); each is L2-normalised here."""
        t = np.atleast_2d(np.asarray(templates, np.float32))
        if t.shape[1] != self.dim:
            raise ValueError(f"template dimension {t.shape[1]} != {self.dim}")
        norms = np.linalg.norm(t, axis=1, keepdims=True)
        if not np.all(np.isfinite(norms)) or np.any(norms == 0):
            raise ValueError("template with zero or non-finite norm")
        idx = self._index.get(worker)
        if idx is None:
            idx = self._index[worker] = len(self._workers)
            self._workers.append(worker)
        self._t = np.ascontiguousarray(np.vstack([self._t, t / norms]))
        self._owner = np.concatenate([self._owner, np.full(len(t), idx, np.int32)])

    def remove(self, worker: str) -> int:
        """Drop every template of ``worker`` (exited worker); returns how many."""
        idx = self._index.get(worker)
        if idx is None:
            return 0
        keep = self._owner != idx
        removed = int((~keep).sum())
        self._t, self._owner = np.ascontiguousarray(self._t[keep]), self._owner[keep]
        return removed

    @classmethod
    def from_arrays(cls, templates: np.ndarray, owners: list[str] | np.ndarray) -> "Gallery":
        """Bulk load (e.g. a roster of 100,000 templates) without per-worker copies."""
        g = cls(dim=int(np.asarray(templates).shape[1]))
        names, inverse = np.unique(np.asarray(owners), return_inverse=True)
        t = np.asarray(templates, np.float32)
        g._t = np.ascontiguousarray(t / np.linalg.norm(t, axis=1, keepdims=True))
        g._owner = inverse.astype(np.int32)
        g._workers = [str(n) for n in names]
        g._index = {w: i for i, w in enumerate(g._workers)}
        return g

    def scores(self, probe: np.ndarray) -> np.ndarray:
        """Cosine of ``probe`` (unit vector) against every template: one mat-vec product."""
        return self._t @ np.asarray(probe, np.float32).reshape(self.dim)

    def search(self, probe: np.ndarray) -> tuple[int, float, int, float]:
        """(best worker index, score, runner-up worker index or -1, its score or -1.0)."""
        s = self.scores(probe)
        b = int(np.argmax(s))
        best_owner = self._owner[b]
        other = np.where(self._owner != best_owner, s, np.float32(-np.inf))
        r = int(np.argmax(other))
        if not np.isfinite(other[r]):
            return int(best_owner), float(s[b]), -1, -1.0
        return int(best_owner), float(s[b]), int(self._owner[r]), float(other[r])

    def identify(self, probe: np.ndarray, threshold: float, margin: float) -> Decision:
        if len(self._t) == 0:
            return Decision(False, EMPTY, None, float("nan"), None, -1.0)
        bi, bs, ri, rs = self.search(probe)
        worker, runner = self._workers[bi], (self._workers[ri] if ri >= 0 else None)
        if bs < threshold:
            reason = UNKNOWN
        elif bs - rs < margin:
            reason = AMBIGUOUS
        else:
            reason = ACCEPTED
        return Decision(reason == ACCEPTED, reason, worker, bs, runner, rs)
