"""Garbage in: a clear verdict or a clear LivenessInputError, never a crash of the caller."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

from edge_agent.liveness.frames import LivenessInputError
from edge_agent.vision.backend import Face
from edge_agent.vision.track import FaceObservation, FaceTrack

from .conftest import T1


@pytest.fixture(scope="module")
def real(still):
    return still(T1).last


def track(*obs):
    return FaceTrack(0, list(obs))


def obs_like(real, image=None, box=None, landmarks=None, t=0.0):
    face = real.face
    if box is not None or landmarks is not None:
        face = replace(face, box=box if box is not None else face.box,
                       landmarks=landmarks if landmarks is not None else face.landmarks)
    return FaceObservation(real.image if image is None else image, t, face)


def test_empty_track_is_inconclusive(judge):
    v = judge.judge(FaceTrack(0, []))
    assert v.decision == "inconclusive" and v.cue == "no_usable_frame" and v.suggested_challenge


def test_black_frame_is_never_live(judge, real):
    v = judge.judge(track(obs_like(real, image=np.zeros_like(real.image))))
    assert v.decision != "live"


@pytest.mark.parametrize("image, why", [
    (np.zeros((1, 1, 3), np.uint8), "outside"),          # the face box lies outside a 1x1 frame
    (np.zeros((0, 0, 3), np.uint8), "outside"),
    (np.zeros((480, 640, 3), np.float32), "dtype"),
    (np.zeros((480, 640, 2), np.uint8), "shape"),
    ("not an image", "numpy"),
    (None, "numpy"),
])
def test_unusable_frames_are_dropped_and_said(judge, real, image, why):
    v = judge.judge(track(FaceObservation(image, 0.0, real.face)))
    assert v.decision == "inconclusive" and v.cue == "no_usable_frame"
    assert "dropped" in v.cues[0].detail and why in v.cues[0].detail


def test_float_frame_amid_good_ones_is_dropped_not_fatal(judge, real):
    bad = obs_like(real, image=real.image.astype(np.float32) / 255.0, t=0.1)
    # the still-image judge: one usable frame left, which that judge may accept (the gate's may not)
    v = judge.for_still_images().judge(track(obs_like(real, t=0.0), bad))
    assert v.decision == "live"          # judged on the good frame (T1), the bad one reported
    assert any(c.name == "input" and "1 of 2" in c.detail for c in v.cues)


def test_grayscale_and_bgra_frames_are_converted(judge, real):
    import cv2
    gray = cv2.cvtColor(real.image, cv2.COLOR_BGR2GRAY)
    for img in (gray, gray[:, :, None], cv2.cvtColor(real.image, cv2.COLOR_BGR2BGRA)):
        v = judge.judge(track(obs_like(real, image=img)))
        assert v.cue != "no_usable_frame"
        assert v.decision in ("live", "spoof", "inconclusive")
    bgra = judge.judge(track(obs_like(real, image=cv2.cvtColor(real.image, cv2.COLOR_BGR2BGRA))))
    assert bgra.decision == judge.judge(track(real)).decision


def test_face_box_partly_outside_the_frame_is_judged(judge, real):
    x, y, w, h = real.face.box
    fw = real.image.shape[1]
    box = (fw - 0.7 * w, y, w, h)                  # 30 % of the face beyond the right edge
    v = judge.judge(track(obs_like(real, box=box)))
    assert v.cue != "no_usable_frame"


@pytest.mark.parametrize("box", [
    (-10_000.0, 0.0, 200.0, 200.0),                # entirely outside
    (float("nan"), 10.0, 100.0, 100.0),
    (10.0, 10.0, float("inf"), 100.0),
    (10.0, 10.0, 0.0, 0.0),
    (10.0, 10.0, -50.0, 80.0),
])
def test_forged_boxes_are_dropped(judge, real, box):
    v = judge.judge(track(obs_like(real, box=box)))
    assert v.decision == "inconclusive" and v.cue == "no_usable_frame"


def test_nan_landmarks_do_not_crash(judge, real):
    lm = np.full((5, 2), np.nan, np.float32)
    v = judge.judge(track(obs_like(real, landmarks=lm)))
    assert v.decision in ("live", "spoof", "inconclusive")


def test_non_monotonic_track_is_a_clear_error(judge, real):
    with pytest.raises(LivenessInputError, match="time order"):
        judge.judge(track(obs_like(real, t=1.0), obs_like(real, t=0.5)))
    with pytest.raises(LivenessInputError, match="not finite"):
        judge.judge(track(obs_like(real, t=float("nan"))))


@pytest.mark.parametrize("args", [("wink", 0.0), ("blink", None), ("turn_head", float("nan"))])
def test_bad_challenges_are_clear_errors(judge, real, args):
    with pytest.raises(LivenessInputError):
        judge.judge(track(real), *args)


def test_not_a_track_is_a_clear_error(judge):
    with pytest.raises(LivenessInputError, match="FaceTrack"):
        judge.judge([1, 2, 3])
    assert issubclass(LivenessInputError, ValueError)


def test_a_failing_cue_is_inconclusive_never_live(judge, real):
    """A cue that raises (e.g. a model runtime error) must not open the gate nor crash it."""
    from edge_agent.liveness.cue import Cue
    from edge_agent.liveness.judge import MultiCueJudge

    class Broken(Cue):
        name = "minifasnet"
        passive = True

        def evaluate(self, usable):
            raise RuntimeError("onnxruntime: device lost")

    shared = dict(judge._all, minifasnet=Broken())
    v = MultiCueJudge(judge.cfg, _shared=shared).judge(track(real))
    assert v.decision == "inconclusive"
    bad = next(c for c in v.cues if c.name == "minifasnet")
    assert not bad.conclusive and "device lost" in bad.detail


def test_a_face_object_without_a_box_is_dropped(judge, real):
    o = FaceObservation(real.image, 0.0, Face(box=(1.0, 2.0), landmarks=real.face.landmarks, score=0.9))
    assert judge.judge(track(o)).cue == "no_usable_frame"
