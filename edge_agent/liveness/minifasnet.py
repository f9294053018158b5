"""Learned passive cue: MiniVision's MiniFASNetV2 + MiniFASNetV1SE (ONNX, Apache-2.0).

Exactly as ``models/PROVENANCE.md`` (from ../shared/models/SOURCES.md) says: the face box
enlarged about its centre by 2.7 (V2) / 4.0 (V1SE), capped to the frame and shifted back
inside it (MiniVision's ``CropImage``), resized to 80×80, BGR, raw 0–255 float32, NCHW;
softmax of the 3 logits, class 1 = real. Our boxes come from YuNet, not MiniVision's
RetinaFace (YuNet's are similar in extent; this changes the crop a little).

Per frame: p(real) = mean of the two models' softmax class 1 (MiniVision sums the two
softmaxes and takes the argmax). Per track: the median over up to ``minifasnet_frames``
frames (the newest, at most one per 0.2 s; robust to a single odd frame). Live at ≥ 1/2 (the argmax is
then surely "real"), spoof below 1/3 (the argmax is then surely an attack class), and
no opinion in between (the argmax depends on how the two attack classes split).
"""

from __future__ import annotations

import logging
import threading
from pathlib import Path

import cv2
import numpy as np

from .cue import Cue, FrameCache, remap, sample
from .frames import face_box, scaled_box

log = logging.getLogger(__name__)

MODELS = (("MiniFASNetV2.onnx", 2.7), ("MiniFASNetV1SE.onnx", 4.0))
INPUT_SIZE = 80
REAL_CLASS = 1


class MiniFASNetCue(Cue):
    name = "minifasnet"
    passive = True

    def __init__(self, models_dir: Path, threshold: float, frames: int, spoof_threshold: float | None = None):
        import onnxruntime as ort   # the judge must not exist without its models: fail here

        self.threshold, self.frames = threshold, frames
        self.spoof_threshold = threshold if spoof_threshold is None else spoof_threshold
        opts = ort.SessionOptions()
        opts.intra_op_num_threads = 1
        opts.inter_op_num_threads = 1
        opts.log_severity_level = 3
        self._sessions = []
        for fname, scale in MODELS:
            path = Path(models_dir) / fname
            if not path.is_file():
                raise FileNotFoundError(f"liveness model missing: {path}")
            try:
                sess = ort.InferenceSession(str(path), opts, providers=["CPUExecutionProvider"])
            except Exception as exc:   # onnxruntime raises its own types for corrupt files
                raise RuntimeError(f"liveness model {path} cannot be loaded: {exc}") from None
            self._sessions.append((sess, sess.get_inputs()[0].name, scale))
        self._lock = threading.Lock()
        self._cache = FrameCache()

    def p_real(self, frame: np.ndarray, box) -> float:
        """Mean p(real) of both models on one face of a BGR frame."""
        probs = []
        for sess, input_name, scale in self._sessions:
            x0, y0, x1, y1 = scaled_box(frame.shape, box, scale)
            crop = frame[y0:y1 + 1, x0:x1 + 1]
            if crop.size == 0:
                raise ValueError("empty MiniFASNet crop")
            crop = cv2.resize(crop, (INPUT_SIZE, INPUT_SIZE))
            blob = crop.transpose(2, 0, 1)[None].astype(np.float32)
            with self._lock:
                logits = sess.run(None, {input_name: blob})[0][0].astype(np.float64)
            e = np.exp(logits - logits.max())
            probs.append(float(e[REAL_CLASS] / e.sum()))
        return float(np.mean(probs))

    def _frame_score(self, obs, frame) -> float:
        return self._cache.get(obs, lambda: self.p_real(frame, face_box(obs, frame)))

    def evaluate(self, usable):
        if not usable:
            return self.inconclusive("no usable frame")
        idx = sample(usable, self.frames)
        scores = [self._frame_score(usable[i][0], usable[i][1]) for i in idx]
        med = float(np.median(scores))
        detail = f"p_real median {med:.3f} over {len(scores)} frames (min {min(scores):.3f})"
        if med >= self.threshold:
            return self.result(remap(med, self.threshold), True, detail, raw=med)
        if med < self.spoof_threshold:
            return self.result(0.5 * med / self.spoof_threshold, True, detail, raw=med)
        return self.inconclusive("uncertain band: " + detail, raw=med)
