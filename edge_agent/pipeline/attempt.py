"""One attempt of one tracked face to pass the gate: what the pipeline knows about it so far.

An attempt belongs to exactly one track id, and everything a decision is made of (the
descriptors, the identity, the liveness verdicts, the snapshot) comes from that track's
own observations: a punch can never combine one face's identity with another's liveness.

    COLLECT    best frames by quality → descriptors → 1:N identity
    LIVENESS   identity accepted, not in cool-down: passive liveness on the track
    CHALLENGE  passive verdict inconclusive at the deadline: prompt shown, waiting for it
    DONE       decided (punch, rejected, cool-down); a rejected face may retry later
"""

from __future__ import annotations

import enum
import math
from dataclasses import dataclass, field

import numpy as np

from shared_schema.messages import LedgerEntry

from ..liveness.verdict import LivenessVerdict
from ..vision.gallery import Decision
from ..vision.track import FaceObservation


class Phase(str, enum.Enum):
    COLLECT = "collect"
    LIVENESS = "liveness"
    CHALLENGE = "challenge"
    DONE = "done"


@dataclass(eq=False)
class Attempt:
    track_id: int
    phase: Phase = Phase.COLLECT
    started: float | None = None              # t_mono of the first large-enough frame
    descriptors: list[np.ndarray] = field(default_factory=list)
    best: FaceObservation | None = None       # best-quality observation that got a descriptor
    best_quality: float = -1.0
    last_desc_t: float = float("-inf")        # t_mono of the frame of the last descriptor
    template: np.ndarray | None = None        # L2-normalised mean of the descriptors
    identity: Decision | None = None
    verdict: LivenessVerdict | None = None
    last_judged: float = float("-inf")
    challenge: str | None = None
    challenge_t: float | None = None          # observations at/after this count for the challenge
    done_at: float | None = None
    outcome: str | None = None                # punch | rejected | cooldown
    last_recheck: float = float("-inf")

    def add_descriptor(self, vec: np.ndarray, obs: FaceObservation, quality: float) -> None:
        self.descriptors.append(vec)
        self.last_desc_t = obs.t_mono
        if quality > self.best_quality:
            self.best, self.best_quality = obs, quality
        mean = np.mean(self.descriptors, axis=0)
        self.template = (mean / np.linalg.norm(mean)).astype(np.float32)

    def finish(self, outcome: str, t: float) -> None:
        self.phase, self.outcome, self.done_at = Phase.DONE, outcome, t

    def retry(self) -> None:
        """A fresh attempt on the same track (after a rejection): keep nothing but the id."""
        self.__init__(self.track_id)


@dataclass
class StepReport:
    """What one :meth:`GatePipeline.step` did (for tests and the bench)."""
    faces: int = 0
    served: int | None = None                  # track id of the served face
    phase: str | None = None
    descriptors: int = 0                       # descriptors computed in this step
    judged: int = 0                            # liveness calls in this step
    prepared: int = 0                          # frames measured ahead for the judge in this step
    entries: list[LedgerEntry] = field(default_factory=list)
    skipped: str | None = None                 # the frame was refused (why)


def unit_score(x: float | None) -> float | None:
    if x is None or not math.isfinite(x):
        return None
    return round(min(1.0, max(0.0, float(x))), 4)


def challenge_cue(challenge: str, cue: str) -> str:
    """The ledger's liveness_cue of a challenged decision: always names the challenge."""
    return cue if cue.startswith(f"challenge_{challenge}") else f"challenge_{challenge}:{cue}"


def ledger_cue(cue: str | None) -> str | None:
    return cue[:64] if cue else None
