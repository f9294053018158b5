"""The alternative backend: dlib's HOG detector, 5-point alignment and 128-d ResNet descriptor.

This is the customary pipeline the design was first drawn with (the face_recognition
library's): HOG with ``dlib_upsample`` upsamplings (1 in that library), dlib's
5-point shape predictor for alignment, and ``dlib_face_recognition_resnet_model_v1``.
The 68-point predictor is deliberately not used: its training data excludes
commercial use (../shared/reference/dependencies.md).

Model files come from the ``face-recognition-models`` 0.3.0 package (or ``[edge.vision]
models_dir``). That package's ``__init__`` imports ``pkg_resources`` (gone from
setuptools ≥ 82), so it is never imported: its folder is found with
``importlib.util.find_spec``. Files used (sha256): ``shape_predictor_5_face_landmarks.dat``
c4b1e980…da41888, ``dlib_face_recognition_resnet_model_v1.dat`` 55533b28…8719da30. The
package ships a CC0 1.0 licence; Davis King's dlib-models README releases the model files
into the public domain; the ResNet was trained on face sets (FaceScrub, VGG, web images)
whose own terms are for legal review, as for SFace (edge_agent/vision/models/PROVENANCE.md).

Metric. dlib's native rule is "same person if the Euclidean distance of the *raw*
descriptors is < 0.6". The raw descriptors are not unit vectors (their norms cluster
around ``DLIB_DESCRIPTOR_NORM``), while every backend here returns unit vectors so
that the gallery is one cosine mat-vec product. For unit vectors d² = 2 − 2c; with
raw norms ≈ N the same rule reads d_raw² ≈ 2N²(1 − c), so 0.6 becomes
c = 1 − 0.6² / (2N²) (``DLIB_COSINE_THRESHOLD``). N was measured once on the shared
face images (it is a property of the model, not of the people) and is recorded here.

Landmarks. dlib's 5 points are the two corners of each eye and the base of the nose.
``Face.landmarks`` gives the eye centres, the nose base as "nose", and mouth corners
*estimated* from the eyes with the ArcFace 112x112 template geometry (dlib has none);
the descriptor itself uses dlib's own 5 points, kept in :class:`DlibFace` ``parts``.
``Face.raw`` stays None: another backend must not read dlib's points as its own row.
A Face from another detector gets dlib's points re-fitted inside its box.

HOG without upsampling can report a false second box around one face: faces are
returned largest first and the harness/gate use the first.
"""

from __future__ import annotations

import importlib.util
import logging
import threading
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from .backend import Face, RecognitionBackend, l2_normalise, register
from .config import DLIB_COSINE_THRESHOLD, VisionConfig

log = logging.getLogger(__name__)

MODELS_PACKAGE = "face_recognition_models"
SHAPE_FILE = "shape_predictor_5_face_landmarks.dat"
RESNET_FILE = "dlib_face_recognition_resnet_model_v1.dat"

# ArcFace 112x112 template (subject's right eye, left eye, nose, right/left mouth corner):
# used only to estimate mouth corners for Face.landmarks from the two eye centres.
_TEMPLATE = np.float32([[38.2946, 51.6963], [73.5318, 51.5014], [56.0252, 71.7366],
                        [41.5493, 92.3655], [70.7299, 92.2041]])


def dlib_models_dir(cfg: VisionConfig | None = None) -> Path:
    """The folder with dlib's .dat files: ``models_dir`` if set, else face-recognition-models'."""
    if cfg is not None and cfg.models_dir:
        return Path(cfg.models_dir)
    spec = importlib.util.find_spec(MODELS_PACKAGE)      # finds without importing (pkg_resources)
    if spec is None or not spec.submodule_search_locations:
        raise FileNotFoundError(f"python package {MODELS_PACKAGE!r} (face-recognition-models) is not installed")
    return Path(list(spec.submodule_search_locations)[0]) / "models"


def _check_frame(frame: np.ndarray) -> None:
    if not isinstance(frame, np.ndarray) or frame.dtype != np.uint8 or frame.ndim != 3 or frame.shape[2] != 3:
        raise ValueError("detect expects a BGR uint8 image (h, w, 3)")
    if frame.shape[0] < 1 or frame.shape[1] < 1:
        raise ValueError("empty image")


def _landmarks(parts: np.ndarray) -> np.ndarray:
    """dlib 5 points (image-right eye corners 0-1, image-left eye corners 2-3, nose base 4)
    -> the interface's order: subject's right eye, left eye, nose, right/left mouth corner."""
    right_eye = parts[2:4].mean(0)        # subject's right eye is on the image's left
    left_eye = parts[0:2].mean(0)
    src = _TEMPLATE[:2]
    # similarity transform template eyes -> detected eyes (two points define it exactly)
    s_vec, d_vec = src[1] - src[0], left_eye - right_eye
    z = complex(*d_vec) / complex(*s_vec)
    def to_img(p: np.ndarray) -> np.ndarray:
        w = z * complex(*(p - src[0]))
        return right_eye + np.float32([w.real, w.imag])
    mouth = [to_img(_TEMPLATE[3]), to_img(_TEMPLATE[4])]
    return np.float32([right_eye, left_eye, parts[4], *mouth])


@dataclass(frozen=True)
class DlibFace(Face):
    parts: np.ndarray | None = None      # dlib's 5 points (frame pixels), dlib's order


class DlibBackend(RecognitionBackend):
    name = "dlib"
    dim = 128
    default_threshold = DLIB_COSINE_THRESHOLD

    def __init__(self, cfg: VisionConfig | None = None):
        import dlib                                   # dlib-bin; imported only when chosen
        self._dlib = dlib
        self.cfg = cfg or VisionConfig(type="dlib")
        self.upsample = self.cfg.dlib_upsample
        folder = dlib_models_dir(self.cfg)
        for f in (SHAPE_FILE, RESNET_FILE):
            if not (folder / f).is_file():
                raise FileNotFoundError(f"model file missing: {folder / f}")
        self._detector = dlib.get_frontal_face_detector()
        self._shape = dlib.shape_predictor(str(folder / SHAPE_FILE))
        self._resnet = dlib.face_recognition_model_v1(str(folder / RESNET_FILE))
        self._lock = threading.Lock()    # one model object shared by threads: serialise calls
        log.info("recognition backend dlib loaded from %s (upsample %d)", folder, self.upsample)
        if self.cfg.match_threshold < DLIB_COSINE_THRESHOLD - 0.1:   # e.g. SFace's 0.363 left in the file
            log.warning("match_threshold %.3f is far below dlib's published %.3f: most strangers would "
                        "be accepted", self.cfg.match_threshold, DLIB_COSINE_THRESHOLD)

    # -- detection ---------------------------------------------------------
    def _detect_at(self, rgb: np.ndarray, scale: float) -> np.ndarray:
        img = rgb if scale == 1.0 else cv2.resize(
            rgb, (max(1, round(rgb.shape[1] * scale)), max(1, round(rgb.shape[0] * scale))),
            interpolation=cv2.INTER_AREA)
        with self._lock:
            rects, scores, _ = self._detector.run(img, self.upsample, 0.0)
        rows = [[r.left(), r.top(), r.width(), r.height(), s] for r, s in zip(rects, scores)]
        out = np.float32(rows).reshape(-1, 5)
        out[:, :4] /= scale
        return out

    def detect_boxes(self, frame: np.ndarray) -> np.ndarray:
        """HOG boxes (x, y, w, h, score) in frame pixels, largest first."""
        _check_frame(frame)
        rgb = np.ascontiguousarray(frame[:, :, ::-1])
        small = min(1.0, self.cfg.detect_max_side / max(frame.shape[:2]))
        rows = self._detect_at(rgb, small)
        if len(rows) == 0 and small != 1.0:       # small faces far away: full size
            rows = self._detect_at(rgb, 1.0)
        if len(rows) > 1:
            rows = rows[np.argsort(-(rows[:, 2] * rows[:, 3]), kind="stable")]
        return rows

    def _parts(self, rgb: np.ndarray, box) -> np.ndarray:
        x, y, w, h = (float(v) for v in box)
        rect = self._dlib.rectangle(round(x), round(y), round(x + w - 1), round(y + h - 1))
        with self._lock:
            shape = self._shape(rgb, rect)
        return np.float32([[p.x, p.y] for p in shape.parts()])

    def detect(self, frame: np.ndarray) -> list[Face]:
        rows = self.detect_boxes(frame)
        if len(rows) == 0:
            return []
        rgb = np.ascontiguousarray(frame[:, :, ::-1])
        faces = []
        for r in rows:
            parts = self._parts(rgb, r[:4])
            faces.append(DlibFace(box=tuple(float(v) for v in r[:4]), landmarks=_landmarks(parts),
                                  score=float(r[4]), parts=parts))
        return faces

    # -- embedding ---------------------------------------------------------
    def raw_descriptor(self, frame: np.ndarray, face: Face) -> np.ndarray:
        """dlib's own (not normalised) 128 numbers: for comparisons with dlib's 0.6 distance."""
        _check_frame(frame)
        rgb = np.ascontiguousarray(frame[:, :, ::-1])
        dlib = self._dlib
        if isinstance(face, DlibFace) and face.parts is not None:
            parts = face.parts
        else:                                         # a Face from elsewhere: re-fit dlib's points
            parts = self._parts(rgb, face.box)
        x, y, w, h = face.box
        rect = dlib.rectangle(round(x), round(y), round(x + w - 1), round(y + h - 1))
        shape = dlib.full_object_detection(rect, [dlib.point(round(px), round(py)) for px, py in parts])
        with self._lock:
            return np.asarray(self._resnet.compute_face_descriptor(rgb, shape), np.float32)

    def embed(self, frame: np.ndarray, face: Face) -> np.ndarray:
        return l2_normalise(self.raw_descriptor(frame, face))


@register("dlib")
def _factory(cfg: VisionConfig) -> RecognitionBackend:
    return DlibBackend(cfg)
