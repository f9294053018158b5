"""Face capture through the app: a real FileCamera fed from ../shared/data/faces, the real
recognition backend (YuNet + SFace), the gate's real liveness judge, the registry's encrypted
templates and its duplicate check."""

from __future__ import annotations

import asyncio
import time

import cv2
import numpy as np
import pytest

from edge_agent.drivers.camera import open_camera
from edge_agent.webui.devices import Devices

from .conftest import ID_B

LIVE = "videos/live_webcam_blink_turn_zubair.mov"
TABLET = "spoof/fake/replay_tablet_silentface_F2.jpg"
# Where in the video the person "steps up" when a capture starts (frame number): the gate's judge
# is borderline on the live video's first ~7 s combined with the head turn at frames ~100-180
# (MiniFASNet vetoes at ~0.42-0.47 when the track spans frames 0-103; measured, reported to the
# liveness work), so the live captures start at frame 45, where the person has settled.
# (spoof/fake/replay_phone_zubair.mp4 is not used: its first 25 frames show the real person, big,
# beside the phone, and YuNet finds no face on the phone's screen after that.)
LIVE_START = 45


@pytest.fixture(scope="module")
def models():
    from edge_agent.liveness.judge import create_judge
    from edge_agent.vision.backend import create_backend
    return create_backend(), create_judge()


def _video(faces_dir, video):
    path = faces_dir / video
    if not path.is_file():
        pytest.fail(f"test video missing: {path}", pytrace=False)
    return str(path)


def _devices(faces_dir, models, video):
    camera = open_camera({"id": "C1", "type": "file", "path": _video(faces_dir, video)})
    backend, judge = models
    return Devices(camera=camera, backend_factory=lambda: backend, judge_factory=lambda: judge)


async def step_up(devices: Devices, faces_dir, video: str, start: int) -> None:
    """A person steps in front of the gate camera: the camera's video restarts and plays to frame ``start``."""
    old = devices.camera
    devices.camera = open_camera({"id": "C1", "type": "file", "path": _video(faces_dir, video)})
    if old is not None:
        old.close()
    for _ in range(300):
        f = devices.camera.latest()
        if f is not None and f.seq >= start:
            return
        await asyncio.sleep(0.02)
    raise AssertionError("the camera delivers no frames")


@pytest.fixture
def devices(faces_dir, models):
    d = _devices(faces_dir, models, LIVE)
    yield d
    d.close()


async def _capture(c, ref: str, timeout: float = 90.0) -> dict:
    r = await c.api(f"/api/workers/{ref}/capture", page=f"/workers/{ref}/capture")
    assert r.status == 200, await r.text()
    job = (await r.json())["job"]
    deadline = time.monotonic() + timeout
    seen = set()
    while time.monotonic() < deadline:
        state = await (await c.c.get(f"/api/captures/{job}")).json()
        seen.update((state["feedback"], state["feedback_text"]))
        if state["state"] != "running":
            state["seen_feedback"] = seen
            return state
        await asyncio.sleep(0.3)
    raise AssertionError("capture did not finish")


async def capture_live(c, ref: str, devices, faces_dir, want: str, attempts: int = 3) -> dict:
    """Capture the live video's person, as an officer would: when the gate's liveness judge
    refuses (it is borderline on this video under CPU load: MiniFASNet scores ~0.4-0.6), the
    person steps up again, up to ``attempts`` times. Any other outcome than ``want`` or a
    liveness refusal fails at once; the outcomes are in ``state["attempts"]``."""
    outcomes = []
    for _ in range(attempts):
        await step_up(devices, faces_dir, LIVE, LIVE_START)
        state = await _capture(c, ref)
        outcomes.append((state["state"], state["liveness"].get("cue"), state["liveness"].get("score")))
        state["attempts"] = outcomes
        if state["state"] == want:
            return state
        assert state["state"] == "spoof", state
    raise AssertionError(f"no {want} in {attempts} attempts: {outcomes}")


def test_preview_is_a_jpeg_from_the_gate_camera(ui):
    async def body(c):
        await c.login()
        for _ in range(50):
            r = await c.c.get("/api/camera/frame.jpg")
            if r.status == 200:
                break
            await asyncio.sleep(0.1)
        assert r.status == 200 and r.content_type == "image/jpeg"
        img = cv2.imdecode(np.frombuffer(await r.read(), np.uint8), cv2.IMREAD_COLOR)
        assert img is not None and img.shape[1] <= 640
    ui(body)


def test_capture_stores_templates_then_the_same_face_under_another_id_is_stopped(ui, registry, devices, faces_dir):
    async def body(c):
        await c.login()
        a = await c.enroll()
        page = await (await c.c.get(f"/workers/{a}/capture")).text()
        assert 'id="capture-start"' in page and 'id="preview"' in page
        state = await capture_live(c, a, devices, faces_dir, "done")
        assert state["liveness"]["decision"] == "live" and state["message"] == "人脸已采集并加密保存"
        w = registry.get(a)
        assert w.templates == 5 and 0 < w.head_image_bytes <= 50 * 1024
        assert registry.head_image(a).startswith(b"\xff\xd8\xff")
        t = registry.templates(a)
        assert t.shape == (5, 128) and np.allclose(np.linalg.norm(t, axis=1), 1.0, atol=1e-3)
        # the same person enrolled again under another ID number: stopped, both records shown
        b = await c.enroll(id_number=ID_B, name="另一人")
        state = await capture_live(c, b, devices, faces_dir, "duplicate")
        assert state["other"] == a, state
        assert state["other_html_url"] == f"/workers/{a}" and "440***********1359" in state["other_label"]
        assert "440604199003071359" not in str(state)
        assert registry.get(b).templates == 0 and registry.get(b).head_image_bytes == 0
        actions = [x["action"] for x in c.accounts.audit_rows()]
        assert "face.capture.done" in actions and "face.capture.duplicate" in actions
    ui(body)


def _still_as_video(src, dst, frames: int = 60) -> str:
    """A still photo held in front of the camera: the image (EXIF orientation applied) written
    unchanged as the frames of an MJPEG video, so the FileCamera can play it."""
    from edge_agent.vision.images import read_image
    img = read_image(src, 960)
    h, w = img.shape[:2]
    writer = cv2.VideoWriter(str(dst), cv2.VideoWriter_fourcc(*"MJPG"), 15.0, (w, h))
    for _ in range(frames):
        writer.write(img)
    writer.release()
    return str(dst)


def test_a_tablet_replay_is_refused_as_spoof_and_nothing_is_stored(tmp_path, registry, accounts, faces_dir, models):
    """The face shown on a tablet screen (spoof/fake/replay_tablet_silentface_F2.jpg) held to the camera."""
    from aiohttp.test_utils import TestClient, TestServer

    from edge_agent.webui.app import make_app
    from edge_agent.webui.config import WebUIConfig

    from .conftest import UI
    video = _still_as_video(_video(faces_dir, TABLET), tmp_path / "tablet.avi")
    backend, judge = models
    devices = Devices(camera=open_camera({"id": "C1", "type": "file", "path": video}),
                      backend_factory=lambda: backend, judge_factory=lambda: judge)

    async def main():
        app = make_app(WebUIConfig(capture_timeout_s=30), accounts, registry, devices=devices)
        async with TestClient(TestServer(app)) as client:
            c = UI(client, app, registry, accounts)
            await c.login()
            ref = await c.enroll()
            state = await _capture(c, ref)
            assert state["state"] == "spoof", state
            assert "活体检测未通过" in state["message"]
            assert registry.get(ref).templates == 0 and registry.get(ref).head_image_bytes == 0
    try:
        asyncio.run(main())
    finally:
        devices.close()


def test_a_second_capture_while_one_runs_is_refused(ui, registry):
    async def body(c):
        await c.login()
        a = await c.enroll()
        r1 = await c.api(f"/api/workers/{a}/capture", page="/workers")
        r2 = await c.api(f"/api/workers/{a}/capture", page="/workers")
        assert r1.status == 200 and r2.status == 409
        job = (await r1.json())["job"]
        for _ in range(300):
            if (await (await c.c.get(f"/api/captures/{job}")).json())["state"] != "running":
                break
            await asyncio.sleep(0.3)
        assert (await c.c.get("/api/captures/nope")).status == 404
    ui(body)


@pytest.mark.parametrize("still, feedback", [("misc/group_two_people_obama_biden.jpg", "one_at_a_time"),
                                             ("misc/edge_obama_240p.jpg", "move_closer"),
                                             ("misc/nonface_coffee.png", "no_face")])
def test_unusable_frames_give_feedback_and_store_nothing(tmp_path, registry, accounts, faces_dir, models, still,
                                                         feedback):
    """Two people in front of the camera, a face too far away, no face: the page says so (the
    quality keys of edge_agent.vision.quality, shown as 画面中不止一张人脸 / 请靠近一些 / 未检测到人脸)
    and the capture ends without storing anything."""
    from aiohttp.test_utils import TestClient, TestServer

    from edge_agent.webui.app import make_app
    from edge_agent.webui.config import WebUIConfig
    from edge_agent.webui.i18n import t

    from .conftest import UI
    video = _still_as_video(_video(faces_dir, still), tmp_path / "still.avi")
    backend, judge = models
    devices = Devices(camera=open_camera({"id": "C1", "type": "file", "path": video}),
                      backend_factory=lambda: backend, judge_factory=lambda: judge)

    async def main():
        app = make_app(WebUIConfig(capture_timeout_s=4), accounts, registry, devices=devices)
        async with TestClient(TestServer(app)) as client:
            c = UI(client, app, registry, accounts)
            await c.login()
            ref = await c.enroll()
            state = await _capture(c, ref)
            assert state["state"] == "timeout" and state["good"] == 0, state
            assert feedback in state["seen_feedback"], state
            assert state["message"] == "在规定时间内未采到足够的合格画面，请重试"
            assert t(f"quality.{feedback}") in state["seen_feedback"]
            assert registry.get(ref).templates == 0
    try:
        asyncio.run(main())
    finally:
        devices.close()
