"""The file camera on the real live video: timestamps, pacing, latest-frame slot, looping,
reconnection, and the black / frozen / garbage cases."""

from __future__ import annotations

import shutil
import threading
import time
from itertools import pairwise

import numpy as np

from .conftest import wait_for, wait_health, write_clip


def test_frames_carry_increasing_timestamps_at_file_pace(camera, live_video):
    cam = camera(type="file", path=str(live_video))
    frames = [cam.read_latest(timeout=5.0) for _ in range(12)]
    assert all(f is not None for f in frames), cam.health()
    assert all(f.image.shape == (540, 960, 3) and f.image.dtype == np.uint8 for f in frames)
    for a, b in pairwise(frames):
        assert b.seq > a.seq
        assert b.t_mono > a.t_mono
        assert b.t_wall >= a.t_wall
    # Paced at 15 fps: 11 intervals take ~0.73 s; a loaded machine only makes it slower.
    assert frames[-1].t_mono - frames[0].t_mono >= 0.4
    h = wait_health(cam, "ok", "960x540")
    assert "15 fps" in h.detail
    assert cam.stats()["source_fps"] == 15.0


def test_slow_consumer_gets_newest_frame_and_drops_grow(camera, live_video):
    cam = camera(type="file", path=str(live_video))
    first = cam.read_latest(timeout=5.0)
    assert first is not None, cam.health()
    seqs = [first.seq]
    for _ in range(3):
        time.sleep(0.6)                                # a consumer much slower than 15 fps
        f = cam.read_latest(timeout=5.0)
        assert f is not None
        assert time.monotonic() - f.t_mono < 1.0       # fresh, not a queued old frame
        assert f.seq >= cam.latest().seq - 1           # the newest (or the one right before)
        seqs.append(f.seq)
    assert all(b - a >= 3 for a, b in pairwise(seqs)), seqs   # ~9 frames pass per 0.6 s
    st = cam.stats()
    assert st["dropped"] >= 6 and st["dropped"] <= st["frames"]
    # Nothing unread is returned twice, and nothing waits: a read right away waits for a new frame.
    nxt = cam.read_latest(timeout=5.0)
    assert nxt is not None and nxt.seq > seqs[-1]


def test_loops_at_eof_flat_out(camera, live_video):
    """Regression (test race, failed once in a full run): the stats were read right after the
    second EOF, before the capture thread had reopened the file (opens 2, not yet 3)."""
    cam = camera(type="file", path=str(live_video), realtime=False, stall_s=5.0)
    wait_for(lambda: cam.stats()["eofs"] >= 2, timeout=20.0, what="two loops of the file")
    st = cam.stats()
    assert st["frames"] >= 2 * 199 * 0.9            # 199 frames a pass (most published flat out)
    # every loop reopens the file: each EOF is followed by an open
    wait_for(lambda: cam.stats()["opens"] >= st["eofs"] + 1, timeout=10.0, what="the reopen after the last EOF")
    assert cam.health().state == "ok", cam.health()


def test_fps_cap_and_resolution_request(camera, live_video):
    cam = camera(type="file", path=str(live_video), fps=5.0, width=320, height=180)
    f0 = cam.read_latest(timeout=5.0)
    assert f0 is not None and f0.image.shape == (180, 320, 3)
    time.sleep(2.0)
    f1 = cam.read_latest(timeout=5.0)
    rate = (f1.seq - f0.seq) / (f1.t_mono - f0.t_mono)
    assert 1.0 <= rate <= 8.0, rate                 # ~5 fps, not the file's 15
    assert "5 fps" in cam.health().detail


def test_file_disappears_then_reappears(camera, live_video, tmp_path):
    """Also pins a bug: after the outage, read_latest() served the last frame from *before*
    it (a face from minutes ago) instead of waiting for a new one."""
    path = tmp_path / "gate.mov"
    shutil.copyfile(live_video, path)
    cam = camera(type="file", path=str(path), realtime=False)
    wait_health(cam, "ok")
    path.rename(tmp_path / "gone.mov")
    h = wait_health(cam, "down", "file not found")   # at the next EOF the reopen fails
    assert str(path) in h.detail
    before = cam.stats()
    time.sleep(0.5)
    assert cam.stats()["frames"] == before["frames"]          # no frames while it is gone
    # but it keeps trying (the backoff may put the next attempt beyond the 0.5 s above)
    wait_for(lambda: cam.stats()["open_attempts"] > before["open_attempts"], timeout=15, what="a new open attempt")
    (tmp_path / "gone.mov").rename(path)
    wait_health(cam, "ok")
    assert cam.read_latest(timeout=5.0).seq > before["frames"]


def test_garbage_file_is_a_clear_error_not_a_crash(camera, tmp_path):
    path = tmp_path / "camera.mp4"
    path.write_bytes(b"this is not a video\n" * 500)
    cam = camera(type="file", path=str(path))
    h = wait_health(cam, "down", "not a video")
    assert str(path) in h.detail
    assert cam.read_latest(timeout=0.3) is None
    assert cam._thread.is_alive()


def test_missing_file_is_reported(camera, tmp_path):
    cam = camera(type="file", path=str(tmp_path / "nope.mp4"))
    wait_health(cam, "down", "file not found")


def test_black_video_is_reported(camera, tmp_path):
    clip = write_clip(tmp_path / "black.avi", np.zeros((120, 160, 3), np.uint8))
    cam = camera(type="file", path=str(clip), black_s=0.5)
    h = wait_health(cam, "degraded", "black")
    assert "luminance 0" in h.detail
    assert cam.read_latest(timeout=2.0).luma < 1.0   # frames still flow: it is the picture


def test_frozen_video_is_reported(camera, tmp_path):
    still = np.full((120, 160, 3), 128, np.uint8)
    still[40:80, 60:100] = (30, 200, 90)             # not black: a stuck, unchanging picture
    clip = write_clip(tmp_path / "frozen.avi", still)
    cam = camera(type="file", path=str(clip), frozen_s=0.5)
    wait_health(cam, "degraded", "frozen")


def test_real_video_is_neither_black_nor_frozen(camera, live_video):
    cam = camera(type="file", path=str(live_video), black_s=0.3, frozen_s=0.3)
    wait_health(cam, "ok")
    time.sleep(1.5)
    assert cam.health().state == "ok", cam.health()


def test_close_is_prompt_and_idempotent(camera, live_video):
    cam = camera(type="file", path=str(live_video))
    assert cam.read_latest(timeout=5.0) is not None
    waiter = threading.Thread(target=lambda: cam.read_latest(timeout=30.0))
    waiter.start()
    t0 = time.monotonic()
    cam.close()
    cam.close()
    waiter.join(5.0)
    assert not waiter.is_alive() and time.monotonic() - t0 < 5.0
    assert cam.health().state == "down" and cam.health().detail == "closed"
    assert not cam._thread.is_alive()
