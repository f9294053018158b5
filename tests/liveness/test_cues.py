"""Each cue on real frames of ../shared/data/faces.

What is asserted is what each cue can justify; the measured values are in docs/liveness.md.
Note: T1, F1 and F2 are MiniVision's own sample images (not an independent test of its model).
"""

from __future__ import annotations

import numpy as np
import pytest

from edge_agent.liveness.config import MINIFASNET_SPOOF, LivenessConfig
from edge_agent.vision.track import FaceObservation, FaceTrack

from .conftest import F1, F2, LIVE_VIDEO, REPLAY_VIDEO, T1, frames


def usable(obs):
    return [(o, o.image) for o in obs]


def cue(judge, name):
    return judge._all[name]


# ---- MiniFASNet ---------------------------------------------------------------------------

def test_minifasnet_live_capture_above_half_print_and_tablet_below_a_third(judge, still):
    m = cue(judge, "minifasnet")
    p = {rel: m.p_real(still(rel).last.image, still(rel).last.face.box) for rel in (T1, F1, F2)}
    assert p[T1] >= 0.5
    assert p[F1] < MINIFASNET_SPOOF and p[F2] < MINIFASNET_SPOOF


def test_minifasnet_separates_the_live_video_from_the_phone_replay(judge, video):
    """Median frame p(real): the live webcam video vs the frames showing the phone screen."""
    m = cue(judge, "minifasnet")
    live = [m.p_real(o.image, o.face.box) for tr in video(LIVE_VIDEO) for o in tr]
    phone = [m.p_real(o.image, o.face.box) for o in frames(video(REPLAY_VIDEO), 27, 94)]
    assert len(live) > 100 and len(phone) > 30
    assert np.median(live) >= 0.5 > MINIFASNET_SPOOF > np.median(phone)


# ---- 3-D structure ----------------------------------------------------------------------------

def test_depth_sees_a_head_in_the_live_head_turn(judge, video):
    s = cue(judge, "depth").evaluate(usable(frames(video(LIVE_VIDEO), 126, 140)))
    assert s.conclusive and s.score > 0.5
    assert s.raw >= LivenessConfig().depth_live_ratio


def test_depth_of_the_phone_replay_stays_below_the_live_head_turn(judge, video):
    """A replayed video shows the recorded head's own parallax, so depth cannot veto it
    (the passive cues must); but the flat screen never shows as much as a real turn."""
    d = cue(judge, "depth")
    live = d.measure(usable(frames(video(LIVE_VIDEO), 126, 140)))["ratio"]
    phone = frames(video(REPLAY_VIDEO), 27, 94)
    ratios = [d.measure(usable(phone[i:i + 15]))["ratio"] for i in range(0, len(phone) - 14, 3)]
    ratios = [r for r in ratios if r is not None]
    assert ratios and max(ratios) < live
    assert all(d.evaluate(usable(phone[i:i + 15])).score >= 0.5 for i in range(0, len(phone) - 14, 3))


def tilted(img: np.ndarray, yaw: float, pitch: float, f: float = 800.0) -> np.ndarray:
    """The image a camera sees of a flat photo rotated by (yaw, pitch) about its centre: the
    homography K·R·K⁻¹ (exactly how a plane moves under a pinhole camera)."""
    import cv2
    h, w = img.shape[:2]
    k = np.array([[f, 0, w / 2], [0, f, h / 2], [0, 0, 1.0]])
    y, p = np.deg2rad(yaw), np.deg2rad(pitch)
    ry = np.array([[np.cos(y), 0, np.sin(y)], [0, 1, 0], [-np.sin(y), 0, np.cos(y)]])
    rx = np.array([[1, 0, 0], [0, np.cos(p), -np.sin(p)], [0, np.sin(p), np.cos(p)]])
    return cv2.warpPerspective(img, k @ ry @ rx @ np.linalg.inv(k), (w, h), borderValue=(128, 128, 128))


@pytest.fixture(scope="module")
def tilted_photo_tracks(still, backend):
    out = {}
    for rel in (T1, F1):
        img = still(rel).last.image
        obs = []
        for i, yaw in enumerate(np.linspace(-25, 25, 15)):
            frame = tilted(img, yaw, 8 * np.sin(i / 2))
            faces = backend.detect(frame)
            if faces:
                obs.append(FaceObservation(frame, i / 15, faces[0], frame_seq=i))
        out[rel] = FaceTrack(0, obs)
    return out


def test_a_tilted_photo_never_looks_like_a_head(judge, tilted_photo_tracks):
    for rel, track in tilted_photo_tracks.items():
        assert len(track) >= 5, rel
        s = cue(judge, "depth").evaluate(usable(track.observations))
        assert not (s.conclusive and s.score > 0.5), (rel, s)
        assert judge.judge(track).decision != "live", rel


def test_depth_catches_the_tilted_live_capture_that_minifasnet_passes(judge, tilted_photo_tracks):
    """What the depth cue adds: a photo of the genuine capture T1, tilted in front of the camera,
    passes the learned cue (p(real) ≥ 0.5) but moves like a plane."""
    track = tilted_photo_tracks[T1]
    alone = judge.with_cues(["minifasnet"]).judge(track)
    v = judge.judge(track)
    assert alone.decision != "spoof"
    assert v.decision == "spoof" and v.cue == "depth"


# ---- blink ---------------------------------------------------------------------------------

def test_blink_seen_near_frame_55_of_the_live_video(judge, video):
    """The live video's one probable full blink (SOURCES.md: near frame 55), subject in glasses."""
    s = cue(judge, "blink").evaluate(usable(frames(video(LIVE_VIDEO), 48, 62)))
    assert s.conclusive and s.score > 0.5 and s.raw <= LivenessConfig().blink_closed_ratio


def test_blink_never_vetoes(judge, video, still):
    b = cue(judge, "blink")
    tracks = [frames(video(LIVE_VIDEO), a, a + 14) for a in range(0, 185, 15)]
    tracks += [frames(video(REPLAY_VIDEO), a, a + 14) for a in range(27, 90, 15)]
    tracks += [still(F1).observations]
    for obs in tracks:
        assert b.evaluate(usable(obs)).score >= 0.5


def test_blink_is_inconclusive_on_a_single_frame(judge, still):
    s = cue(judge, "blink").evaluate(usable(still(T1).observations))
    assert not s.conclusive


# ---- texture --------------------------------------------------------------------------------

def test_texture_does_not_veto_the_genuine_captures(judge, still, video):
    t = cue(judge, "texture")
    assert t.evaluate(usable(still(T1).observations)).score > 0.5
    for a in range(0, 190, 30):
        obs = frames(video(LIVE_VIDEO), a, a + 14)
        if obs:
            assert t.evaluate(usable(obs)).score > 0.5, a


def _with_face_edit(obs, edit):
    img = obs.image.copy()
    x, y, w, h = (int(v) for v in obs.face.box)
    edit(img[y + h // 4:y + 3 * h // 4, x + w // 4:x + 3 * w // 4])
    return FaceObservation(img, obs.t_mono, obs.face)


def test_texture_vetoes_glare_over_the_face(judge, still):
    """A lamp reflected by a screen clips a patch of the face (here: a real frame's inner face clipped)."""
    def glare(region):
        region[:] = 255
    o = _with_face_edit(still(T1).last, glare)
    s = cue(judge, "texture").evaluate([(o, o.image)])
    assert s.conclusive and s.score < 0.5 and "glare" in s.detail


def test_texture_vetoes_a_pixel_grid(judge, still):
    """A screen's sub-pixel grid, period 3 px (real frame, every third column dimmed)."""
    def grid(region):
        region[:, ::3] = (region[:, ::3] * 0.6).astype(np.uint8)
        region[::3, :] = (region[::3, :] * 0.6).astype(np.uint8)
    o = _with_face_edit(still(T1).last, grid)
    s = cue(judge, "texture").evaluate([(o, o.image)])
    assert s.conclusive and s.score < 0.5
