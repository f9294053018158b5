"""``[edge.vision]``: face recognition settings (backend, detector, 1:N matching).

No vision library is imported here. Defaults are the models' published operating
points, not values tuned on any test set:

* ``det_score_threshold`` 0.9 / ``det_nms_threshold`` 0.3: the OpenCV Zoo YuNet demo's defaults.
* ``match_threshold`` 0.363: OpenCV Zoo's SFace cosine threshold ("same person if cosine ≥ 0.363").
* ``match_margin`` 0.05: an a-priori engineering value (the best worker must beat the best
  *other* worker by this much cosine); it was fixed before looking at any scores. Calibrate
  both on the site's own enrolment and gate photos (see docs in edge_agent/vision/gallery.py).
* ``open_set_rule`` "roster" / ``target_fpir`` 0.01: the open-set principle fixed before looking
  at test figures — FPIR 1% for the roster the gate holds, impostor statistics from the roster's
  own inter-worker scores, never below ``match_threshold`` (edge_agent/vision/gallery.py,
  docs/vision-calibration.md).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from shared_schema.wire import field

# Recognition backends (edge_agent.vision.backend.REGISTRY): "sface" (default), "dlib"
# (edge_agent/vision/dlib_backend.py).
BackendType = Literal["sface", "dlib"]
# Open-set rules (edge_agent.vision.gallery.OPEN_SET_RULES).
OpenSetRule = Literal["fixed", "roster", "znorm", "tnorm", "snorm"]

SFACE_COSINE_THRESHOLD = 0.363      # opencv_zoo models/face_recognition_sface/sface.py
# dlib's "same person if distance < 0.6" on raw descriptors whose norm is ≈ DLIB_DESCRIPTOR_NORM
# (measured, see dlib_backend.py): on unit vectors d² = 2 − 2c, so c = 1 − 0.6² / (2 N²).
DLIB_DISTANCE_THRESHOLD = 0.6
DLIB_DESCRIPTOR_NORM = 1.39        # median raw norm over the 234 shared face images (1.25–1.63)
DLIB_COSINE_THRESHOLD = round(1.0 - DLIB_DISTANCE_THRESHOLD ** 2 / (2 * DLIB_DESCRIPTOR_NORM ** 2), 3)
# Published operating point (cosine) per backend: match_threshold's default for that backend.
PUBLISHED_THRESHOLD = {"sface": SFACE_COSINE_THRESHOLD, "dlib": DLIB_COSINE_THRESHOLD}
DEFAULT_MARGIN = 0.05
DEFAULT_OPEN_SET_RULE = "roster"
DEFAULT_TARGET_FPIR = 0.01         # issue 3's target: FPIR ≤ 1%


@dataclass(frozen=True)
class VisionConfig:
    type: BackendType = "sface"
    models_dir: str = field(default="", max_len=4096)      # "" = the models shipped in the package
    det_score_threshold: float = field(default=0.9, min=0.05, max=1.0)
    det_nms_threshold: float = field(default=0.3, min=0.05, max=1.0)
    detect_max_side: int = field(default=640, min=160, max=4096)
    # None (key absent) = the chosen backend's published threshold (PUBLISHED_THRESHOLD),
    # so switching ``type`` never keeps another model's threshold by accident.
    match_threshold: float | None = field(default=None, min=0.2, max=0.99)
    match_margin: float = field(default=DEFAULT_MARGIN, min=0.0, max=0.5)
    open_set_rule: OpenSetRule = DEFAULT_OPEN_SET_RULE
    target_fpir: float = field(default=DEFAULT_TARGET_FPIR, min=0.0001, max=0.2)
    dlib_upsample: int = field(default=1, min=0, max=2)   # HOG upsamplings (face_recognition uses 1)

    def __post_init__(self):
        if self.match_threshold is None:
            # (an unknown type is refused by create_backend, which names the known ones)
            object.__setattr__(self, "match_threshold", PUBLISHED_THRESHOLD.get(self.type, SFACE_COSINE_THRESHOLD))
