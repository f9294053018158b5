"""The micro-motion cue on real frames: the live video's first second, the phone replay, and real
photos moved in front of the camera (the exact homography a plane undergoes, as in test_cues)."""

from __future__ import annotations

import dataclasses

import cv2
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from edge_agent.liveness.micromotion import MAX_ETA, MIN_MESHES, residual_series, von_neumann
from edge_agent.vision.track import FaceObservation, FaceTrack

from .conftest import F1, LIVE_VIDEO, REPLAY_VIDEO, T1, frames
from .test_cues import cue, tilted, usable


def test_white_noise_sits_near_two_and_a_persistent_drift_below_the_operating_point():
    """The statistic itself (no faces): independent error ≈ 2, a smooth deformation ≪ 1."""
    rng = np.random.default_rng(0)
    noise = rng.standard_normal((15, 68))
    eta, _ = von_neumann(noise - noise.mean(0))
    assert 1.5 < eta < 2.5
    drift = np.outer(np.sin(np.linspace(0, np.pi, 15)), rng.standard_normal(68))
    eta, _ = von_neumann(drift - drift.mean(0))
    assert eta < MAX_ETA / 2


def test_the_live_video_shows_micro_motion_in_its_first_second(judge, video):
    obs = frames(video(LIVE_VIDEO), 0, 14)
    s = cue(judge, "micromotion").evaluate(usable(obs))
    assert s.conclusive and s.score > 0.5, s
    v = judge.judge(FaceTrack(0, obs))
    assert v.decision == "live" and v.cue == "micromotion", v


def test_too_few_meshes_are_inconclusive(judge, video):
    obs = frames(video(LIVE_VIDEO), 0, MIN_MESHES - 2)
    assert not cue(judge, "micromotion").evaluate(usable(obs)).conclusive


def test_the_replay_shows_micro_motion_but_is_never_judged_live(judge, video):
    """Micro-motion cannot catch replays (the screen shows a live face): the AND fusion with
    MiniFASNet must still refuse every window of the phone replay."""
    phone = frames(video(REPLAY_VIDEO), 27, 94)
    m = cue(judge, "micromotion")
    seen = [m.evaluate(usable(phone[i:i + 15])) for i in range(0, len(phone) - 14, 3)]
    assert any(s.conclusive and s.score > 0.5 for s in seen)     # it is fooled, as documented
    for i in range(0, len(phone) - 14, 3):
        assert judge.judge(FaceTrack(0, phone[i:i + 15])).decision != "live", i


def moved_photo(img, backend, speed: float) -> FaceTrack:
    """A real photo held by hand: small smooth tilts (±3°/±2°) and shifts (±2 px) at ``speed``."""
    obs = []
    for i in range(15):
        k = i / speed
        frame = tilted(img, 3 * np.sin(k / 3), 2 * np.sin(k / 4 + 1))
        m = np.float64([[1, 0, 2 * np.sin(k / 2.5)], [0, 1, 1.5 * np.cos(k / 3)]])
        frame = cv2.warpAffine(frame, m, (frame.shape[1], frame.shape[0]), borderMode=cv2.BORDER_REPLICATE)
        faces = backend.detect(frame)
        if faces:
            obs.append(FaceObservation(frame, i / 15, faces[0], frame_seq=i))
    return FaceTrack(0, obs)


@pytest.mark.parametrize("rel", [T1, F1])
@pytest.mark.parametrize("speed", [1.0, 2.0, 3.0])
def test_a_photo_moved_by_hand_shows_no_micro_motion(judge, still, backend, rel, speed):
    track = moved_photo(still(rel).last.image, backend, speed)
    assert len(track) >= MIN_MESHES
    s = cue(judge, "micromotion").evaluate(usable(track.observations))
    assert not (s.conclusive and s.score > 0.5), s
    assert judge.judge(track).decision != "live"


def test_a_tilted_photo_shows_no_micro_motion(judge, still, backend):
    for rel in (T1, F1):
        img = still(rel).last.image
        obs = []
        for i, yaw in enumerate(np.linspace(-25, 25, 15)):
            frame = tilted(img, yaw, 8 * np.sin(i / 2))
            faces = backend.detect(frame)
            if faces:
                obs.append(FaceObservation(frame, i / 15, faces[0], frame_seq=i))
        s = cue(judge, "micromotion").evaluate(usable(obs))
        assert not (s.conclusive and s.score > 0.5), (rel, s)


def test_identical_frames_have_no_deformation(judge, still):
    """A repeated frame (the jiggle regression's track) has zero residual: inconclusive, not live."""
    base = still(T1).observations[0]
    track = [dataclasses.replace(base, t_mono=i / 15.0, frame_seq=i) for i in range(15)]
    s = cue(judge, "micromotion").evaluate(usable(track))
    assert not s.conclusive


def test_residual_of_an_exactly_planar_motion_is_zero(judge, video):
    """The planar fit explains a plane exactly: a mesh moved by a homography leaves no residual."""
    obs = frames(video(LIVE_VIDEO), 0, 0)[0]
    pts = cue(judge, "depth").mesher.landmarks(obs, obs.image)
    hom = np.float64([[1.02, 0.03, 4.0], [-0.02, 0.99, -3.0], [1e-5, -2e-5, 1.0]])
    moved = []
    for k in range(12):
        h = np.linalg.matrix_power(hom, k)
        q = np.c_[pts[:, :2], np.ones(len(pts))] @ h.T
        p = pts.copy()
        p[:, :2] = q[:, :2] / q[:, 2:]
        moved.append(p)
    d = residual_series(moved)
    assert d is not None and np.abs(d).max() < 1e-6


# ---- the statistic's properties (hypothesis) ----------------------------------------------------
series = arrays(np.float64, st.tuples(st.integers(3, 20), st.integers(1, 12)),
                elements=st.floats(-1e3, 1e3, allow_nan=False, allow_infinity=False))


@settings(max_examples=200, deadline=None)
@given(series, st.floats(1e-3, 1e3))
def test_eta_is_bounded_and_invariant_to_scale_and_offset(d, k):
    d = d - d.mean(0)
    eta, amp = von_neumann(d)
    if amp < 1e-9:                 # a constant series: nothing to test, never "persistent"
        assert eta == float("inf") or eta >= 0
        return
    n = d.shape[0]     # Σ|d_{t+1} − d_t|² ≤ 2 Σ(|d_{t+1}|² + |d_t|²) ≤ 4 Σ|d_t|², over n − 1 and n terms
    assert 0.0 <= eta <= 4.0 * n / (n - 1) + 1e-9
    eta2, amp2 = von_neumann(k * d + 0.0)
    assert eta2 == pytest.approx(eta, rel=1e-6, abs=1e-9) and amp2 == pytest.approx(k * amp, rel=1e-6)


def test_a_constant_series_is_not_live():
    eta, amp = von_neumann(np.zeros((15, 68)))
    assert amp == 0.0 and eta == float("inf")
