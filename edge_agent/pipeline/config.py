"""``[edge.pipeline]``: the gate's vision pipeline (camera → tracking → quality → 1:N →
liveness → gate controller), all gates. No vision library is imported here.

Defaults are a-priori engineering values, not fitted to any test file: a person walking
up is decided within about a second (``decision_deadline_s``), a challenge gets the
few seconds a person needs to read/hear it and act (``challenge_timeout_s``), a shift
change keeps a worker out of a second punch for two minutes (``cooldown_s``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from shared_schema.wire import field

PATH_LEN = 4096


@dataclass(frozen=True)
class PipelineConfig:
    # one worker, one punch: a worker re-seen (at any gate of this gateway) within this long after
    # his punch gets "already punched" and no new punch (rebuilt from the ledger's punches at start)
    cooldown_s: float = field(default=120.0, min=0.0, max=86400.0)
    # detection runs on a copy at most this many px on its long side (YuNet is built for faces of
    # ~10-300 px; a gate's faces are large, so a small copy finds them at a fraction of the cost)
    detect_max_side: int = field(default=320, min=160, max=4096)
    # faces smaller than this (box side, px) are tracked but never identified: "move closer"
    min_face_px: int = field(default=80, min=24, max=2048)
    # quality score (edge_agent.vision.quality, 0..1) a frame needs for a descriptor
    quality_threshold: float = field(default=0.4, min=0.05, max=1.0)
    # descriptors computed per attempt at most (the best frames by quality; the identity is
    # decided on their mean)
    max_descriptor_frames: int = field(default=3, min=1, max=20)
    # from the first large-enough frame: an unknown face is rejected, and a passive liveness
    # verdict that is still inconclusive escalates to an active challenge, this long after
    decision_deadline_s: float = field(default=1.0, min=0.1, max=30.0)
    # how long the person has to perform the challenge (blink / turn head) before a rejection
    challenge_timeout_s: float = field(default=5.0, min=1.0, max=60.0)
    # after a rejected attempt the same face may try again after this long (a fresh attempt)
    retry_after_s: float = field(default=3.0, min=0.5, max=600.0)
    # which face is served when several are in view: the largest (nearest the camera) or the
    # one closest to the frame centre
    serve: Literal["largest", "center"] = "largest"
    # direction of a punch at a gate configured with direction = "both" (one camera cannot tell)
    both_direction: Literal["in", "out"] = "in"
    # a track is lost after this long without its face; observations kept per track (each holds
    # a whole frame: memory ≈ this × frame size per face in view)
    lost_after_s: float = field(default=1.5, min=0.1, max=30.0)
    max_track_frames: int = field(default=48, min=8, max=600)
    # face snapshots (JPEG) of every punch and rejected attempt stay on the gateway in this
    # folder (relative to the config file); the ledger holds the file name only
    snapshot_dir: str = field(default="snapshots", max_len=PATH_LEN)
    snapshot_jpeg_quality: int = field(default=85, min=30, max=100)


# The gate controller's verdict timeout is its safety net for a decision source that stalled;
# the pipeline's own worst case from the first face to a verdict is decision_deadline_s +
# challenge_timeout_s, decided on the first frame after it. This margin covers that frame
# (the camera loop waits ≤ 0.5 s for one), its step and the controller's poll: a shorter
# verdict timeout would prompt "请正视摄像头" while the person is still doing the challenge.
VERDICT_MARGIN_S = 1.0


def verdict_timeout_problem(verdict_timeout_s: float, cfg: PipelineConfig) -> str | None:
    """Why ``verdict_timeout_s`` ([edge.gate]) is too short for ``cfg``'s timing, or None."""
    need = cfg.decision_deadline_s + cfg.challenge_timeout_s + VERDICT_MARGIN_S
    if verdict_timeout_s < need:
        return (f"gate.verdict_timeout_s ({verdict_timeout_s:g}) must be at least pipeline.decision_deadline_s "
                f"({cfg.decision_deadline_s:g}) + pipeline.challenge_timeout_s ({cfg.challenge_timeout_s:g}) + "
                f"{VERDICT_MARGIN_S:g} s, i.e. {need:g}: otherwise the gate prompts \"请正视摄像头\" during a "
                f"liveness challenge")
    return None
