"""Recognition backends behind one small interface, chosen by ``[edge.vision] type``.

A backend is a detector + aligner + embedder + metric:

* :meth:`RecognitionBackend.detect` finds faces in a BGR frame: box, five landmarks
  (subject's right eye, left eye, nose tip, right mouth corner, left mouth corner, i.e.
  the image's left first), detector score; largest face first.
* :meth:`RecognitionBackend.embed` aligns one face and returns its descriptor as an
  L2-normalised float32 vector.
* The metric is cosine similarity (higher = more alike). Every backend returns unit
  vectors, so the gallery scores a whole roster with one matrix-vector product whatever
  the backend. A backend whose native metric is a distance states its threshold as a
  cosine (for unit vectors Euclidean d and cosine c are tied: d² = 2 − 2c).

``REGISTRY`` maps the config ``type`` to a factory. "sface" (YuNet + SFace through
OpenCV, :mod:`.sface`) is the default; "dlib" (HOG, 5-point alignment, 128-d ResNet,
:mod:`.dlib_backend`) is the alternative the design was first drawn with. Each module
registers itself when imported; :func:`create_backend` imports the chosen one on demand.
"""

from __future__ import annotations

import abc
from dataclasses import dataclass
from typing import Callable

import numpy as np

from .config import VisionConfig


@dataclass(frozen=True)
class Face:
    box: tuple[float, float, float, float]      # x, y, w, h in frame pixels
    landmarks: np.ndarray                       # (5, 2) float32, frame pixels
    score: float                                # detector confidence
    raw: np.ndarray | None = None               # backend-specific detection row (frame pixels)

    @property
    def size_px(self) -> float:
        return float(max(self.box[2], self.box[3]))


class RecognitionBackend(abc.ABC):
    name: str = ""
    dim: int = 0
    default_threshold: float = 0.0     # cosine; the model's published operating point

    @abc.abstractmethod
    def detect(self, frame: np.ndarray) -> list[Face]:
        """Faces in a BGR uint8 frame, largest first (empty list: none found)."""

    @abc.abstractmethod
    def embed(self, frame: np.ndarray, face: Face) -> np.ndarray:
        """(dim,) float32 unit vector of one face of ``frame``."""

    @staticmethod
    def similarity(a: np.ndarray, b: np.ndarray) -> np.ndarray:
        """Cosine similarity of unit vectors; ``b`` may be (n, dim): returns (n,)."""
        return np.asarray(b, dtype=np.float32) @ np.asarray(a, dtype=np.float32)


Factory = Callable[[VisionConfig], RecognitionBackend]
REGISTRY: dict[str, Factory] = {}


def register(type_name: str) -> Callable[[Factory], Factory]:
    def deco(factory: Factory) -> Factory:
        REGISTRY[type_name] = factory
        return factory
    return deco


def l2_normalise(v: np.ndarray) -> np.ndarray:
    v = np.asarray(v, dtype=np.float32).reshape(-1)
    n = float(np.linalg.norm(v))
    if not np.isfinite(n) or n == 0.0:
        raise ValueError("descriptor has zero or non-finite norm")
    return v / n


def create_backend(cfg: VisionConfig | None = None) -> RecognitionBackend:
    cfg = cfg or VisionConfig()
    if cfg.type == "sface":       # import on demand: each backend pulls its own libraries
        from . import sface  # noqa: F401
    elif cfg.type == "dlib":
        from . import dlib_backend  # noqa: F401
    try:
        factory = REGISTRY[cfg.type]
    except KeyError:
        raise ValueError(f"unknown recognition backend {cfg.type!r} (known: {sorted(REGISTRY)})") from None
    return factory(cfg)
