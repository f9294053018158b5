"""1:N matching over the site's roster: several unit-vector templates per worker.

A probe is scored against every template with one matrix-vector product
(``templates @ probe``; 100,000 × 128 float32 is 51 MB and a few ms on one core).
The decision is open-set:

* ``unknown``   — the best score is below ``threshold`` (nobody enrolled looks like this);
* ``ambiguous`` — the best worker beats the best template of any *other* worker by less than
  ``margin`` (two enrolled people both fit; the gate stays closed rather than guess);
* ``accepted``  — otherwise.

Open-set calibration (:meth:`Gallery.calibrate`, ``[edge.vision] open_set_rule``). The
principle, fixed before any test figure was looked at: **the gate targets an FPIR of
``target_fpir`` (1%) for the roster it actually holds**, and the impostor score
distribution it needs for that comes from the roster itself, never from probes:

* every template is an impostor for every *other* worker, so the gallery's inter-worker
  template scores are a cohort the site has at enrolment time, with no extra data;
* a stranger is compared with all ``n`` templates; if one comparison falsely passes with
  probability ``p``, FPIR ≈ 1 − (1 − p)^n, so ``p = 1 − (1 − target_fpir)^(1/n)`` and, with
  a Gaussian model of the impostor scores, the cut is ``k = Φ⁻¹(1 − p)`` standard deviations
  above their mean (n = 31: k = 3.41; n = 1,000: k = 4.27);
* the cut is never below the model's published operating point ``threshold`` (floor), and
  the margin rule still applies.

Rules (all use that k; none is fitted to evaluation probes):

* ``fixed``  — the published threshold only (no calibration).
* ``roster`` — one threshold ``mean + k·std`` of all inter-worker template scores (default).
* ``znorm``  — per worker ``mean_w + k·std_w`` of that worker's templates against all other
  workers' templates (Z-norm with the roster as cohort).
* ``tnorm``  — per probe: its best score must stand ``k`` std above its scores to the other
  workers' templates (T-norm with the roster as cohort; nothing precomputed).
* ``snorm``  — ½(Z-norm + T-norm) ≥ k (symmetric normalisation).

Why ``roster`` is the default: it pools all n(n−1)/2 inter-worker pairs into two numbers,
while Z-norm estimates a mean and a std from a few dozen scores per worker and T-norm from
one probe's scores, so at the k ≈ 3.4–4.3 that 1% FPIR needs their noise dominates; and it
is a plain threshold the operator can read in the log (this choice among the rules was
written down after all of them had been measured; at K=1 Z- and S-norm reject one more
look-alike probe). Limits, measured (docs/vision-calibration.md):
enrolment photos are cleaner than gate probes, and the Gaussian under-states the heavy
upper tail of look-alikes, so the realised FPIR for people the gallery has never seen
(leave-one-identity-out) was above the 1% target on the shared data with one enrolment
image (2.6%) and at it with two (1.1%); a site whose workers are nearly all East Asian has
a higher inter-worker mean, which raises the cut by itself. With fewer than
``MIN_COHORT_WORKERS`` workers there is no usable cohort and the floor alone applies.
Check a site with ``edge-agent eval identify DIR --open-set leave-one-out``.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from statistics import NormalDist

import numpy as np

log = logging.getLogger(__name__)

ACCEPTED, UNKNOWN, AMBIGUOUS, EMPTY = "accepted", "unknown", "ambiguous", "empty_gallery"

OPEN_SET_RULES = ("fixed", "roster", "znorm", "tnorm", "snorm")
MIN_COHORT_WORKERS = 10         # below this the floor (published threshold) alone applies
COHORT_SAMPLE = 2000            # templates sampled as cohort in big galleries (seeded, exact below)


def cut_k(target_fpir: float, comparisons: int) -> tuple[float, float]:
    """(per-comparison false-accept rate p, Gaussian cut k) for ``target_fpir`` over ``comparisons``."""
    if not 0.0 < target_fpir < 1.0 or comparisons < 1:
        raise ValueError("target_fpir must be in (0, 1) and comparisons ≥ 1")
    p = 1.0 - (1.0 - target_fpir) ** (1.0 / comparisons)
    return p, NormalDist().inv_cdf(1.0 - p)


@dataclass(frozen=True)
class Calibration:
    """Open-set rule fixed at enrolment time from the roster's own inter-worker scores."""
    rule: str
    target_fpir: float
    floor: float                     # the published threshold: no cut goes below it
    calibrated: bool                 # False: too few workers for a cohort, the floor alone applies
    comparisons: int = 0             # templates a probe is compared with
    p: float = 0.0                   # per-comparison false-accept rate the target allows
    k: float = 0.0                   # Gaussian cut in standard deviations
    cohort_pairs: int = 0
    impostor_mean: float = float("nan")
    impostor_std: float = float("nan")
    threshold: float = 0.0           # the global cut ("roster"; the floor for the others)
    worker_mean: np.ndarray | None = field(default=None, repr=False)   # per worker index (znorm/snorm)
    worker_std: np.ndarray | None = field(default=None, repr=False)

    def summary(self) -> dict:
        r = lambda x: round(float(x), 4)
        return {"rule": self.rule, "target_fpir": self.target_fpir, "calibrated": self.calibrated,
                "comparisons": self.comparisons, "k": r(self.k), "cohort_pairs": self.cohort_pairs,
                "impostor_mean": r(self.impostor_mean), "impostor_std": r(self.impostor_std),
                "threshold": r(self.threshold)}


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

    # -- open-set calibration (see the module docstring) ----------------------
    def _cohort(self, seed: int = 0) -> np.ndarray:
        """Indices of the templates used as cohort: all of them, or a seeded sample."""
        n = len(self._t)
        if n <= COHORT_SAMPLE:
            return np.arange(n)
        return np.sort(np.random.default_rng(seed).choice(n, COHORT_SAMPLE, replace=False))

    def inter_worker_scores(self) -> np.ndarray:
        """Cosines of every pair of templates of *different* workers (cohort sample if large)."""
        c = self._cohort()
        t, o = self._t[c], self._owner[c]
        g = t @ t.T
        iu = np.triu_indices(len(c), 1)
        diff = o[iu[0]] != o[iu[1]]
        return g[iu][diff]

    def worker_impostor_stats(self) -> tuple[np.ndarray, np.ndarray]:
        """Per worker index: mean and std of its templates' scores to other workers' (cohort) templates."""
        c = self._cohort()
        ct, co = self._t[c], self._owner[c]
        nw = len(self._workers)
        s1, s2, cnt = np.zeros(nw), np.zeros(nw), np.zeros(nw)
        for a in range(0, len(self._t), 4096):          # chunks: 100k × 2000 would not fit at once
            s = self._t[a:a + 4096] @ ct.T
            own = self._owner[a:a + 4096]
            other = own[:, None] != co[None, :]
            s = np.where(other, s, 0.0).astype(np.float64)
            s1 += np.bincount(own, s.sum(1), nw)
            s2 += np.bincount(own, (s * s).sum(1), nw)
            cnt += np.bincount(own, other.sum(1), nw)
        with np.errstate(invalid="ignore", divide="ignore"):
            mean = s1 / cnt
            std = np.sqrt(np.maximum(s2 / cnt - mean ** 2, 0.0) * cnt / np.maximum(cnt - 1, 1))
        return mean, std

    def calibrate(self, rule: str = "roster", target_fpir: float = 0.01, floor: float = 0.363) -> Calibration:
        """Fix the open-set rule for the current roster (call again after enrolments/exits)."""
        if rule not in OPEN_SET_RULES:
            raise ValueError(f"unknown open-set rule {rule!r} (known: {OPEN_SET_RULES})")
        n_workers = len(self.workers)
        if rule == "fixed" or n_workers < MIN_COHORT_WORKERS:
            if rule != "fixed":
                log.info("open-set rule %s: %d workers < %d, published threshold %.3f alone",
                         rule, n_workers, MIN_COHORT_WORKERS, floor)
            return Calibration(rule, target_fpir, floor, False, threshold=floor)
        p, k = cut_k(target_fpir, len(self._t))
        x = self.inter_worker_scores().astype(np.float64)
        mean, std = float(x.mean()), float(x.std(ddof=1))
        thr = max(floor, mean + k * std) if rule == "roster" else floor
        wm = ws = None
        if rule in ("znorm", "snorm"):
            wm, ws = self.worker_impostor_stats()
        cal = Calibration(rule, target_fpir, floor, True, len(self._t), p, k, len(x), mean, std, thr, wm, ws)
        log.info("open-set calibration %s", cal.summary())
        return cal

    def identify(self, probe: np.ndarray, threshold: float, margin: float,
                 calibration: Calibration | None = None) -> Decision:
        """Open-set decision; ``calibration`` (from :meth:`calibrate`) tightens ``threshold``."""
        if len(self._t) == 0:
            return Decision(False, EMPTY, None, float("nan"), None, -1.0)
        probe = np.asarray(probe, np.float32).reshape(self.dim)
        bi, bs, ri, rs = self.search(probe)
        worker, runner = self._workers[bi], (self._workers[ri] if ri >= 0 else None)
        if calibration is not None:
            threshold = max(threshold, calibration.threshold)
        if bs < threshold or (calibration is not None and not self._passes(probe, bi, bs, calibration)):
            reason = UNKNOWN
        elif bs - rs < margin:
            reason = AMBIGUOUS
        else:
            reason = ACCEPTED
        return Decision(reason == ACCEPTED, reason, worker, bs, runner, rs)

    def _passes(self, probe: np.ndarray, bi: int, bs: float, cal: Calibration) -> bool:
        """The normalised-score part of the calibrated rules (the threshold is checked apart)."""
        if not cal.calibrated or cal.rule in ("fixed", "roster"):
            return True
        z = []
        if cal.rule in ("znorm", "snorm"):
            z.append((bs - cal.worker_mean[bi]) / cal.worker_std[bi])
        if cal.rule in ("tnorm", "snorm"):
            x = self.scores(probe)[self._owner != bi]
            z.append((bs - float(x.mean())) / float(x.std(ddof=1)))
        zz = float(np.mean(z))
        return bool(np.isfinite(zz) and zz >= cal.k)
