"""The default backend: YuNet detection + SFace embedding, run by OpenCV's own
``cv2.FaceDetectorYN`` and ``cv2.FaceRecognizerSF`` (models in ``models/``, see PROVENANCE.md).

Detection first runs on a copy whose longer side is at most ``detect_max_side`` (640):
YuNet is documented for faces of about 10–300 px and misses bigger ones, and a small
copy is also several times cheaper. When nothing is found there and the frame is
larger, it runs again at full size (small faces far from the camera). A frame *smaller*
than ``detect_max_side`` in which nothing is found is tried once more on a copy scaled
up to ``detect_max_side``: YuNet's score depends on the face's scale, and a small still
(a 250x250 LFW crop, ``Kofi_Annan/4.jpg``: score 0.897 at 1x, 0.93–0.94 at 1.5–3x) can
fall just under the 0.9 cut at its own size. A 640x480 camera frame never takes this
path, so an empty gate costs nothing extra. Landmarks are mapped back to the full
frame, so alignment and the descriptor see full resolution.
"""

from __future__ import annotations

import logging
import threading
from importlib import resources
from pathlib import Path

import cv2
import numpy as np

from .backend import Face, RecognitionBackend, l2_normalise, register
from .config import SFACE_COSINE_THRESHOLD, VisionConfig

log = logging.getLogger(__name__)

YUNET_FILE = "face_detection_yunet_2023mar.onnx"
SFACE_FILE = "face_recognition_sface_2021dec.onnx"
TOP_K = 5000


def models_dir(cfg: VisionConfig | None = None) -> Path:
    if cfg is not None and cfg.models_dir:
        return Path(cfg.models_dir)
    return Path(str(resources.files(__package__) / "models"))


class SFaceBackend(RecognitionBackend):
    name = "sface"
    dim = 128
    default_threshold = SFACE_COSINE_THRESHOLD

    def __init__(self, cfg: VisionConfig | None = None, *, downscale_first: bool = True):
        self.cfg = cfg or VisionConfig()
        self.downscale_first = downscale_first   # False: full size first, ≤max side only as retry
        folder = models_dir(self.cfg)
        for f in (YUNET_FILE, SFACE_FILE):
            if not (folder / f).is_file():
                raise FileNotFoundError(f"model file missing: {folder / f}")
        self._detector = cv2.FaceDetectorYN.create(
            str(folder / YUNET_FILE), "", (320, 320), self.cfg.det_score_threshold,
            self.cfg.det_nms_threshold, TOP_K)
        self._recognizer = cv2.FaceRecognizerSF.create(str(folder / SFACE_FILE), "")
        self._lock = threading.Lock()   # the OpenCV objects keep per-call state (input size)
        log.info("recognition backend sface loaded from %s", folder)

    # -- detection ---------------------------------------------------------
    def _detect_at(self, frame: np.ndarray, scale: float) -> np.ndarray:
        img = frame if scale == 1.0 else cv2.resize(
            frame, (max(1, round(frame.shape[1] * scale)), max(1, round(frame.shape[0] * scale))),
            interpolation=cv2.INTER_AREA if scale < 1.0 else cv2.INTER_LINEAR)
        h, w = img.shape[:2]
        with self._lock:
            self._detector.setInputSize((w, h))
            _, rows = self._detector.detect(img)
        if rows is None or len(rows) == 0:
            return np.empty((0, 15), np.float32)
        rows = rows.astype(np.float32, copy=True)
        if scale != 1.0:
            rows[:, :14] /= scale
        return rows

    def detect_rows(self, frame: np.ndarray) -> np.ndarray:
        """YuNet rows (x, y, w, h, 5×(x, y), score) in frame pixels, largest face first."""
        if frame is None or frame.ndim != 3 or frame.shape[2] != 3:
            raise ValueError("detect expects a BGR uint8 image (h, w, 3)")
        long_side = max(frame.shape[:2])
        small = min(1.0, self.cfg.detect_max_side / long_side)
        order = (small, 1.0) if self.downscale_first else (1.0, small)
        rows = self._detect_at(frame, order[0])
        if len(rows) == 0 and order[1] != order[0]:
            rows = self._detect_at(frame, order[1])
            log.debug("no face at scale %.3f; retry at %.3f found %d", order[0], order[1], len(rows))
        if len(rows) == 0 and long_side < self.cfg.detect_max_side:     # small still: try at working size
            up = self.cfg.detect_max_side / long_side
            rows = self._detect_at(frame, up)
            log.debug("no face in a small frame; retry at scale %.3f found %d", up, len(rows))
        if len(rows) > 1:
            rows = rows[np.argsort(-(rows[:, 2] * rows[:, 3]), kind="stable")]
        return rows

    def detect(self, frame: np.ndarray) -> list[Face]:
        return [Face(box=tuple(float(x) for x in r[:4]), landmarks=r[4:14].reshape(5, 2).copy(),
                     score=float(r[14]), raw=r) for r in self.detect_rows(frame)]

    # -- embedding ---------------------------------------------------------
    def embed(self, frame: np.ndarray, face: Face) -> np.ndarray:
        row = face.raw if face.raw is not None else np.concatenate(
            [np.asarray(face.box, np.float32), face.landmarks.reshape(-1).astype(np.float32),
             np.float32([face.score])])
        with self._lock:
            crop = self._recognizer.alignCrop(frame, row.reshape(1, 15))
            feat = self._recognizer.feature(crop)
        return l2_normalise(feat)


@register("sface")
def _factory(cfg: VisionConfig) -> RecognitionBackend:
    return SFaceBackend(cfg)
