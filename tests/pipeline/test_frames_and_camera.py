"""Garbage frames never stop the gate; a camera that goes down is reported, not raised; and the
pipeline's own thread runs a real FileCamera end to end."""

from __future__ import annotations

import time

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from edge_agent.drivers.camera import Frame, open_camera
from edge_agent.pipeline.frames import MAX_PIXELS, usable_image
from pipeline_rig import LIVE, SUBJECT, enroll_from_video, faces_path, make_gallery, video_frames


class NoImage:
    seq, t_mono = 1, 0.0


GARBAGE = [
    ("none", None),
    ("no image attribute", NoImage()),
    ("image is a list", Frame([[1, 2], [3, 4]], 1, 0.0, 0.0, 0.0)),
    ("float pixels", Frame(np.zeros((480, 640, 3), np.float32), 1, 0.0, 0.0, 0.0)),
    ("0x0", Frame(np.zeros((0, 0, 3), np.uint8), 1, 0.0, 0.0, 0.0)),
    ("1x1", Frame(np.zeros((1, 1, 3), np.uint8), 1, 0.0, 0.0, 0.0)),
    ("1-d", Frame(np.zeros(100, np.uint8), 1, 0.0, 0.0, 0.0)),
    ("5 channels", Frame(np.zeros((64, 64, 5), np.uint8), 1, 0.0, 0.0, 0.0)),
    ("huge", Frame(np.lib.stride_tricks.as_strided(np.zeros(3, np.uint8), (5000, 5000, 3), (0, 0, 1)),
                   1, 0.0, 0.0, 0.0)),
    ("nan time", Frame(np.zeros((64, 64, 3), np.uint8), 1, float("nan"), 0.0, 0.0)),
]


@pytest.mark.parametrize("name, frame", GARBAGE, ids=[g[0] for g in GARBAGE])
def test_garbage_frames_are_refused_or_survived_never_raised(rig, backend, judge, roster, name, frame):
    r = rig(backend, judge, make_gallery(roster))
    rep = r.pipeline.step(frame)
    assert rep.entries == []
    if name != "nan time":
        assert rep.skipped
    good = next(video_frames(LIVE, 0, 1))
    assert r.pipeline.step(good).faces == 1           # the next real frame is processed as ever


def test_grey_and_bgra_frames_are_converted_and_processed(rig, backend, judge, roster):
    import cv2
    good = next(video_frames(LIVE, 0, 1))
    r = rig(backend, judge, make_gallery(roster))
    grey = cv2.cvtColor(good.image, cv2.COLOR_BGR2GRAY)
    bgra = cv2.cvtColor(good.image, cv2.COLOR_BGR2BGRA)
    assert r.pipeline.step(Frame(grey, 1, 100.0, 0.0, 0.0)).faces == 1
    assert r.pipeline.step(Frame(bgra, 2, 100.1, 0.0, 0.0)).faces == 1
    assert r.pipeline.step(Frame(grey[:, :, None], 3, 100.2, 0.0, 0.0)).faces == 1
    assert r.pipeline.step(Frame(good.image[:, ::-1], 4, 100.3, 0.0, 0.0)).faces == 1   # a strided view


def test_a_frozen_feed_is_not_new_evidence(rig, backend, judge, roster):
    """Regression: a still image repeated as frames (a frozen camera, an injected photo of an
    enrolled worker) was punched "live" by the passive cues; a repeated frame is now refused."""
    from edge_agent.vision.images import read_image
    person = sorted(p for p in faces_path("identities").iterdir() if p.is_dir())[5]
    still = read_image(sorted(person.glob("*.jpg"))[1])
    r = rig(backend, judge, make_gallery(roster))
    r.play([Frame(still, i + 1, 100.0 + i / 15, 0.0, 0.0) for i in range(90)])
    assert r.entries() == [] and r.turnstile.opens == []
    assert r.pipeline.stats["frames"] == 1 and r.pipeline.stats["skipped"] == 89


def test_a_photo_jiggled_by_hand_is_not_punched(rig, backend, judge, roster):
    """Regression: a real photo of an enrolled worker, moved 0-2 px per frame like a picture
    held in a hand, was punched "live" after 5 frames (MiniFASNet alone was sure and the judge
    accepted that without any motion evidence). Only a challenge can pass it now, and a
    flat picture cannot perform one."""
    import cv2
    from edge_agent.vision.images import read_image
    person = sorted(p for p in faces_path("identities").iterdir() if p.is_dir())[5]
    still = read_image(sorted(person.glob("*.jpg"))[1])
    rng = np.random.default_rng(7)
    frames = []
    for i in range(150):                     # 10 s at 15 fps: past the deadline and the challenge
        dx, dy = rng.integers(-2, 3, size=2)
        m = np.float32([[1, 0, dx], [0, 1, dy]])
        img = cv2.warpAffine(still, m, (still.shape[1], still.shape[0]), borderMode=cv2.BORDER_REPLICATE)
        frames.append(Frame(img, i + 1, 100.0 + i / 15, 0.0, 0.0))
    r = rig(backend, judge, make_gallery(roster))
    r.play(frames)
    assert [e for e in r.entries() if e.type == "punch"] == [] and r.turnstile.opens == []


@settings(max_examples=200, deadline=None)
@given(hnp.arrays(st.sampled_from([np.uint8, np.int16, np.float32, np.bool_]),
                  hnp.array_shapes(min_dims=0, max_dims=4, min_side=0, max_side=40)))
def test_usable_image_never_raises(arr):
    img, why = usable_image(Frame(arr, 1, 0.0, 0.0, 0.0))
    assert (img is None) != (why is None)
    if img is not None:
        assert img.dtype == np.uint8 and img.ndim == 3 and img.shape[2] == 3 and img.flags.c_contiguous
        assert img.shape[0] * img.shape[1] <= MAX_PIXELS


def test_a_missing_camera_is_reported_down_and_the_loop_keeps_running(rig, backend, judge, roster, tmp_path):
    r = rig(backend, judge, make_gallery(roster))
    r.pipeline.camera = open_camera({"id": "CAM1", "type": "file", "path": str(tmp_path / "gone.mp4"),
                                     "reconnect_min_s": 0.05, "reconnect_max_s": 0.2})
    r.pipeline.start()
    try:
        deadline = time.monotonic() + 10
        while not r.pipeline._camera_down and time.monotonic() < deadline:
            time.sleep(0.05)
        assert r.pipeline._camera_down
        h = r.pipeline.health()
        assert h.state == "down" and "file not found" in h.detail
        assert r.pipeline.alive()
    finally:
        r.pipeline.stop()
    assert r.entries() == []


def test_a_real_file_camera_through_the_pipeline_thread_makes_one_punch(rig, backend, judge, roster):
    """Real time: the FileCamera paces the video at 15 fps, the pipeline thread takes the newest frame
    (dropping any it could not keep up with), the controller polls on its own thread."""
    from edge_agent.gate_controller import GateController
    from edge_agent.pipeline.gate import GatePipeline
    templates = enroll_from_video(backend, LIVE, 183, 199)
    r = rig(backend, judge, make_gallery({**roster, SUBJECT: templates}))
    gate = GateController(r.gate.gate, r.recorder, r.turnstile, r.gate.timing, r.feedback)   # real clock
    r.gates["G1"] = gate
    r.turnstile._clock = time.monotonic
    cam = open_camera({"id": "CAM1", "type": "file", "path": str(faces_path(LIVE)), "realtime": True})
    p = GatePipeline(gate.gate, gate, backend, judge, None, r.cfg, r.pipeline.vision, camera=cam)
    p.update_gallery(make_gallery({**roster, SUBJECT: templates}))
    gate.start()
    p.start()
    try:
        deadline = time.monotonic() + 60
        while not r.entries("punch") and time.monotonic() < deadline:
            time.sleep(0.1)
        time.sleep(1.0)
    finally:
        p.stop()
        gate.stop()
    assert [e.worker_ref for e in r.entries("punch")] == [SUBJECT]
    assert len(r.turnstile.opens) == 1
    assert p.stats["frames"] > 0 and p.stats["errors"] == 0
    assert cam.health().detail == "closed"
