"""What a liveness judge returns, and the one method every judge has.

A judge is pure: it looks at a :class:`~edge_agent.vision.track.FaceTrack` (and,
after an active challenge, at the frames captured since the challenge was shown)
and returns a :class:`LivenessVerdict`. It opens nothing, records nothing and keeps
no state about people; the gate pipeline decides what to do with the verdict.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal, Protocol

from ..vision.track import FaceTrack

Decision = Literal["live", "spoof", "inconclusive"]
Challenge = Literal["blink", "turn_head"]


@dataclass(frozen=True)
class CueScore:
    """One independent cue's opinion. ``score`` is 0..1, 1 = looks live."""
    name: str                  # stable, short: "minifasnet", "depth", "blink", "texture", ...
    score: float
    conclusive: bool           # False: not enough evidence yet (too few frames, too little motion)
    detail: str = ""           # for logs and evaluation; never personal data
    raw: float | None = None   # the cue's own measurement before mapping to score (for evaluation)


@dataclass(frozen=True)
class LivenessVerdict:
    decision: Decision
    score: float               # fused 0..1, 1 = live; goes to the ledger as liveness_score
    cue: str                   # the cue that decided (liveness_cue in the ledger)
    cues: tuple[CueScore, ...] = ()
    challenge: Challenge | None = None   # the active challenge this verdict judged, if any
    suggested_challenge: Challenge | None = None   # inconclusive: the challenge to prompt next

    @property
    def live(self) -> bool:
        return self.decision == "live"


class LivenessJudge(Protocol):
    def judge(self, track: FaceTrack, challenge: Challenge | None = None,
              challenge_t_mono: float | None = None) -> LivenessVerdict:
        """Judge the track. With ``challenge``, judge whether the person performed it in
        the observations captured at or after ``challenge_t_mono``."""
        ...
