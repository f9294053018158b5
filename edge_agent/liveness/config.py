"""``[edge.liveness]``: thresholds of the always-on liveness judge (issue 3).

There is deliberately **no** ``enabled`` key: the notice requires liveness "always on;
photo punching refused", so an ``enabled = false`` line is an unknown key (an error).
Every threshold has bounds that keep the judge meaningful: none can be set so that a
cue stops vetoing. No value here was tuned on the shared test files; each default is
a model's published operating point or an a-priori figure, with the reason beside it
(docs/liveness.md has the longer story).
"""

from __future__ import annotations

from dataclasses import dataclass

from shared_schema.wire import field

# MiniVision's rule is "real if argmax of the summed softmax is class 1". Over 3 classes,
# a mean p(real) ≥ 1/2 always makes that argmax "real" and p(real) < 1/3 always makes it an
# attack class; in between the argmax hangs on how the rest splits: the cue abstains there.
MINIFASNET_LIVE = 0.5
MINIFASNET_SPOOF = 1 / 3
# No motion evidence at all (a still image, a person standing motionless): the learned
# cue alone must be this sure. A-priori safety margin, not fitted to data.
PASSIVE_ONLY_LIVE = 0.9


@dataclass(frozen=True)
class LivenessConfig:
    # A folder with MiniFASNetV2.onnx and MiniFASNetV1SE.onnx instead of the shipped ones
    # ("" = shipped, edge_agent/liveness/models/; relative paths resolve against the config file).
    models_dir: str = field(default="", max_len=4096)
    # Learned passive cue: median over sampled frames of the two models' mean p(real).
    minifasnet_threshold: float = field(default=MINIFASNET_LIVE, min=0.5, max=0.99)
    minifasnet_spoof_threshold: float = field(default=MINIFASNET_SPOOF, min=0.2, max=0.5)
    passive_only_threshold: float = field(default=PASSIVE_ONLY_LIVE, min=0.7, max=0.999)
    minifasnet_frames: int = field(default=5, min=1, max=30)      # frames scored per call (cost bound)
    # Motion cues need at least this many usable observations (fewer: inconclusive).
    min_frames: int = field(default=5, min=3, max=60)
    # 3-D structure: the planar (homography) fit of the mesh motion must be this many times
    # worse than the rigid 3-D fit for "a head"; at or below depth_planar_ratio it is "a plane".
    depth_live_ratio: float = field(default=2.0, min=1.2, max=10.0)
    depth_planar_ratio: float = field(default=1.2, min=1.0, max=2.0)
    # ... and only when the face turned: out-of-plane motion, as a fraction of the eye distance.
    depth_min_motion: float = field(default=0.04, min=0.01, max=0.5)
    # Blink: eye aspect ratio falls to ≤ this share of the track's open-eye level and recovers.
    blink_closed_ratio: float = field(default=0.6, min=0.3, max=0.85)
    # turn_head challenge: yaw range (degrees) to see in the frames after the prompt.
    turn_min_yaw_deg: float = field(default=15.0, min=8.0, max=60.0)
    # Texture (screens/prints): share of clipped specular pixels in the face, and the
    # strength of isolated high-frequency spectral peaks (pixel grid / moiré), for a veto.
    texture_glare_max: float = field(default=0.08, min=0.02, max=0.5)
    texture_peak_max: float = field(default=12.0, min=4.0, max=100.0)

    def __post_init__(self):
        if self.minifasnet_spoof_threshold > self.minifasnet_threshold:
            raise ValueError("minifasnet_spoof_threshold must be ≤ minifasnet_threshold")
        if self.passive_only_threshold < self.minifasnet_threshold:
            raise ValueError("passive_only_threshold must be ≥ minifasnet_threshold")
        if self.depth_planar_ratio >= self.depth_live_ratio:
            raise ValueError("depth_planar_ratio must be < depth_live_ratio")
