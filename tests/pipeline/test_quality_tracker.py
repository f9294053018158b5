"""Quality scoring and face tracking on real faces (no synthesized faces: real photos and video
frames, degraded by ordinary image operations), plus property tests that no input crashes them."""

from __future__ import annotations

import cv2
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from edge_agent.vision.backend import Face
from edge_agent.vision.quality import assess, pose
from edge_agent.vision.tracker import FaceTracker, TrackerParams
from pipeline_rig import LIVE, faces_path, video_frames

from edge_agent.vision.images import read_image


@pytest.fixture(scope="module")
def live_frames():
    return list(video_frames(LIVE, 0, 140))


def first_face(backend, img) -> Face:
    faces = backend.detect(img)
    assert faces
    return faces[0]


def test_a_good_frontal_webcam_face_passes(backend, live_frames):
    img = live_frames[24].image
    q = assess(img, first_face(backend, img))
    assert q.ok and q.key is None and q.score > 0.4
    assert abs(q.yaw) < 0.2 and 0.3 < q.pitch < 0.7 and abs(q.roll_deg) < 10


def test_a_small_face_asks_to_move_closer(backend, live_frames):
    img = cv2.resize(live_frames[24].image, None, fx=0.3, fy=0.3, interpolation=cv2.INTER_AREA)
    q = assess(img, first_face(backend, img))
    assert q.key == "move_closer" and q.score == 0.0


def test_a_dark_face_says_too_dark(backend, live_frames):
    img = live_frames[24].image
    face = first_face(backend, img)
    q = assess((img * 0.3).astype(np.uint8), face)
    assert q.key == "too_dark"


def test_a_blurred_face_asks_to_hold_still(backend, live_frames):
    img = live_frames[24].image
    face = first_face(backend, img)
    q = assess(cv2.GaussianBlur(img, (0, 0), 6), face)
    assert q.key == "hold_still" and q.score < assess(img, face).score


def test_a_turned_head_asks_to_face_the_camera(backend, live_frames):
    turned = [f for f in live_frames[100:140] if backend.detect(f.image)]
    qs = [assess(f.image, first_face(backend, f.image)) for f in turned]
    assert any(q.key == "look_at_camera" and abs(q.yaw) > 0.3 for q in qs)


def test_two_similar_faces_mean_one_at_a_time(backend):
    img = read_image(faces_path("misc/group_two_people_obama_biden.jpg"))
    faces = backend.detect(img)
    assert len(faces) >= 2
    q = assess(img, faces[0], faces)
    ratio = faces[1].size_px / faces[0].size_px
    assert (q.key == "one_at_a_time") == (ratio >= 0.8)
    assert assess(img, faces[0], [faces[0]]).factors["one_at_a_time"] == 1.0   # itself is not a rival


def test_pose_of_degenerate_landmarks_is_nan():
    assert all(np.isnan(pose(np.zeros((5, 2)))))
    assert all(np.isnan(pose(np.full((5, 2), np.nan))))


finite = st.floats(-5000, 5000, allow_nan=False)
anyfloat = st.floats(allow_nan=True, allow_infinity=True)


@settings(max_examples=150, deadline=None)
@given(box=st.tuples(anyfloat, anyfloat, anyfloat, anyfloat),
       lm=st.lists(anyfloat, min_size=10, max_size=10),
       h=st.integers(1, 64), w=st.integers(1, 64), channels=st.sampled_from([None, 3]))
def test_quality_never_raises_and_stays_in_range(box, lm, h, w, channels):
    shape = (h, w) if channels is None else (h, w, channels)
    img = np.random.default_rng(0).integers(0, 256, shape, dtype=np.uint8)
    q = assess(img, Face(box, np.asarray(lm, np.float64).reshape(5, 2), 0.9))
    assert 0.0 <= q.score <= 1.0
    assert q.key is None or isinstance(q.key, str)


# ---- tracker ------------------------------------------------------------------------------------

def test_one_walking_face_keeps_one_track_id(backend, live_frames):
    tr = FaceTracker()
    ids = set()
    for f in live_frames[:100]:
        seen, _ = tr.update(f.image, f.t_mono, backend.detect(f.image), f.seq)
        ids |= {t.track_id for t in seen}
    assert len(ids) == 1


def test_two_faces_keep_their_own_ids_as_they_move(backend):
    img = read_image(faces_path("misc/group_two_people_obama_biden.jpg"))
    faces = backend.detect(img)[:2]
    tr = FaceTracker()
    seen, _ = tr.update(img, 0.0, faces)
    first = {t.track_id: t.last.face.box for t in seen}
    for step in range(1, 6):          # both drift right by a few px a frame: ids stay with their faces
        moved = [Face((f.box[0] + 4 * step, *f.box[1:]), f.landmarks + [4 * step, 0], f.score) for f in faces]
        seen, _ = tr.update(img, step * 0.066, moved)
    assert [t.track_id for t in seen] == list(first)
    for t, f in zip(seen, faces):
        assert t.last.face.box[0] == pytest.approx(f.box[0] + 20)


def test_a_lost_face_expires_and_a_returning_face_gets_a_new_id(backend, live_frames):
    tr = FaceTracker(TrackerParams(lost_after_s=0.5))
    f0 = live_frames[0]
    seen, _ = tr.update(f0.image, 0.0, backend.detect(f0.image))
    tid = seen[0].track_id
    _, expired = tr.update(f0.image, 0.4, [])
    assert expired == []
    _, expired = tr.update(f0.image, 0.6, [])
    assert [t.track_id for t in expired] == [tid] and tr.tracks == []
    seen, _ = tr.update(f0.image, 0.7, backend.detect(f0.image))
    assert seen[0].track_id != tid


def test_a_face_back_in_the_same_spot_after_the_expiry_gap_is_a_new_track(backend, live_frames):
    """Regression: tracks were matched before the lost ones were expired, so a face that reappeared
    in the same spot after a long gap (someone else, maybe) continued the old, decided track."""
    tr = FaceTracker(TrackerParams(lost_after_s=0.5))
    f0 = live_frames[0]
    seen, _ = tr.update(f0.image, 0.0, backend.detect(f0.image))
    again, expired = tr.update(f0.image, 2.0, backend.detect(f0.image))
    assert [t.track_id for t in expired] == [seen[0].track_id]
    assert again[0].track_id != seen[0].track_id and len(again[0]) == 1


def test_observations_are_bounded(backend, live_frames):
    tr = FaceTracker(TrackerParams(max_observations=8))
    f = live_frames[0]
    faces = backend.detect(f.image)
    for i in range(30):
        seen, _ = tr.update(f.image, i * 0.066, faces, i)
    assert len(seen[0]) == 8 and seen[0].first.frame_seq == 22


def test_split_continues_under_a_new_id(backend, live_frames):
    tr = FaceTracker()
    f = live_frames[0]
    seen, _ = tr.update(f.image, 0.0, backend.detect(f.image))
    new = tr.split(seen[0].track_id)
    assert new.track_id != seen[0].track_id and len(new) == 1
    assert [t.track_id for t in tr.tracks] == [new.track_id]
    assert tr.split(9999) is None


def test_a_far_face_never_continues_a_near_track(backend, live_frames):
    f = live_frames[0]
    face = backend.detect(f.image)[0]
    tr = FaceTracker()
    seen, _ = tr.update(f.image, 0.0, [face])
    small = Face((face.box[0], face.box[1], face.box[2] / 3, face.box[3] / 3),
                 face.landmarks / 3 + face.landmarks[0] * (2 / 3), face.score)
    seen2, _ = tr.update(f.image, 0.066, [small])
    assert seen2[0].track_id != seen[0].track_id


@settings(max_examples=100, deadline=None)
@given(st.lists(st.lists(st.tuples(finite, finite, st.floats(0, 800), st.floats(0, 800)), max_size=20),
                max_size=8))
def test_tracker_never_raises_on_any_boxes(frames):
    tr = FaceTracker(TrackerParams(max_observations=4))
    img = np.zeros((8, 8, 3), np.uint8)
    for i, boxes in enumerate(frames):
        faces = [Face(b, np.asarray([[b[0], b[1]], [b[0] + b[2], b[1]], [b[0], b[1]], [b[0], b[1]],
                                     [b[0], b[1]]], np.float32), 0.9) for b in boxes]
        seen, _ = tr.update(img, i * 0.1, faces)
        assert len(seen) == min(len(faces), tr.params.max_tracks)
        assert len({t.track_id for t in seen}) == len(seen)      # one face, one track, per frame
