"""Real images and videos from ../shared/data/faces (never copied into the repo); the suite
fails loudly without them. Videos are decoded once per session."""

from __future__ import annotations

import importlib
import os
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]


def _import_mediapipe_with_the_real_packaging() -> None:
    """Work-around: the test package tests/packaging/ shadows the ``packaging`` distribution once
    pytest puts tests/ on sys.path, and matplotlib (imported by mediapipe) needs the real
    ``packaging.version`` at import time. Import mediapipe with the real one, then put back
    whatever ``packaging`` modules were there. Remove once tests/packaging is renamed."""
    def ours(name: str) -> bool:
        return name == "packaging" or name.startswith("packaging.")
    saved = {k: v for k, v in sys.modules.items() if ours(k)}
    path = list(sys.path)
    tests_dir = str(REPO / "tests")
    try:
        for k in saved:
            del sys.modules[k]
        sys.path[:] = [p for p in path if os.path.abspath(p or ".") != tests_dir]
        importlib.import_module("mediapipe.python.solutions.face_mesh")
    finally:
        sys.path[:] = path
        for k in [k for k in sys.modules if ours(k)]:
            del sys.modules[k]
        sys.modules.update(saved)


_import_mediapipe_with_the_real_packaging()
FACES = REPO.parent / "shared" / "data" / "faces"
LIVE_VIDEO = "videos/live_webcam_blink_turn_zubair.mov"
REPLAY_VIDEO = "spoof/fake/replay_phone_zubair.mp4"
T1, T2 = "spoof/real/live_silentface_T1.jpg", "spoof/real/live_silentface_T2.jpg"
F1, F2 = "spoof/fake/print_photo_silentface_F1.jpg", "spoof/fake/replay_tablet_silentface_F2.jpg"


@pytest.fixture(scope="session")
def faces_dir() -> Path:
    for rel in (LIVE_VIDEO, REPLAY_VIDEO, T1, T2, F1, F2):
        if not (FACES / rel).is_file():
            pytest.fail(f"test data missing: {FACES / rel} must exist beside the checkout", pytrace=False)
    return FACES


@pytest.fixture(scope="session")
def judge():
    from edge_agent.liveness.judge import create_judge
    return create_judge()


@pytest.fixture(scope="session")
def backend():
    """YuNet at the harness's detection score (edge_agent.liveness.eval_liveness.EVAL_DET_SCORE)."""
    from edge_agent.liveness.eval_liveness import EVAL_DET_SCORE
    from edge_agent.vision.config import VisionConfig
    from edge_agent.vision.sface import SFaceBackend
    return SFaceBackend(VisionConfig(det_score_threshold=EVAL_DET_SCORE))


@pytest.fixture(scope="session")
def still(faces_dir, backend):
    """still("spoof/real/...jpg") -> a one-observation FaceTrack of its largest face."""
    from edge_agent.vision.images import read_image
    from edge_agent.vision.track import FaceObservation, FaceTrack

    def _still(rel: str) -> FaceTrack:
        img = read_image(faces_dir / rel)
        faces = backend.detect(img)
        assert faces, f"no face found in {rel}"
        return FaceTrack(0, [FaceObservation(img, 0.0, faces[0])])
    return _still


@pytest.fixture(scope="session")
def video(faces_dir, backend):
    """video(rel) -> the harness's tracks (lists of FaceObservation) of the largest face."""
    from edge_agent.liveness.eval_liveness import video_tracks
    cache: dict[str, list] = {}

    def _video(rel: str) -> list[list]:
        if rel not in cache:
            cache[rel] = video_tracks(faces_dir / rel, backend)
        return cache[rel]
    return _video


def frames(tracks: list[list], first: int, last: int) -> list:
    """Observations whose camera frame number is in [first, last]."""
    return [o for tr in tracks for o in tr if first <= o.frame_seq <= last]
