"""Camera tests on the real videos in ../shared/data/faces (never copied into the repo).

Only the black / frozen clips are synthetic (cv2.VideoWriter, no faces). The HTTP tests
serve the real video's frames as MJPEG from a private server on a loopback port.
"""

from __future__ import annotations

import http.server
import socket
import socketserver
import threading
import time
from pathlib import Path

import cv2
import numpy as np
import pytest

from edge_agent.drivers.camera import open_camera
from devtools import wait_for  # noqa: F401  (re-exported for the camera tests)

REPO = Path(__file__).resolve().parents[2]
FACES = REPO.parent / "shared" / "data" / "faces"
LIVE_VIDEO = "videos/live_webcam_blink_turn_zubair.mov"      # 960x540, 15 fps, 199 frames
FAST = {"reconnect_min_s": 0.1, "reconnect_max_s": 0.4}


@pytest.fixture(scope="session")
def live_video() -> Path:
    path = FACES / LIVE_VIDEO
    if not path.is_file():
        pytest.fail(f"test data missing: {path} must exist beside the checkout", pytrace=False)
    return path


@pytest.fixture
def camera():
    """camera(**cfg) -> an open camera, closed after the test."""
    made = []

    def make(**cfg):
        cam = open_camera({"id": "C1", **FAST, **cfg})
        made.append(cam)
        return cam
    yield make
    for cam in made:
        cam.close()


def wait_health(cam, state: str, contains: str = "", timeout: float = 10.0):
    def matching():
        h = cam.health()
        return h if h.state == state and contains in h.detail else None
    return wait_for(matching, timeout, what=f"camera health {state} ({contains!r})")


def write_clip(path: Path, frame: np.ndarray, n: int = 30, fps: float = 15.0) -> Path:
    """A synthetic clip of ``n`` copies of ``frame`` (MJPG in AVI)."""
    h, w = frame.shape[:2]
    out = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), fps, (w, h))
    assert out.isOpened(), "cv2.VideoWriter cannot write MJPG/AVI"
    for _ in range(n):
        out.write(frame)
    out.release()
    return path


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class MjpegServer:
    """multipart/x-mixed-replace MJPEG over HTTP (what many IP cameras serve), from real frames.

    ``stalled`` set: connections stay open but send nothing. ``stop()`` / ``start()`` drop
    and restore the whole server on the same port."""

    def __init__(self, video: Path, n_frames: int = 15, fps: float = 15.0):
        cap = cv2.VideoCapture(str(video))
        self.jpegs = []
        for _ in range(n_frames):
            ok, img = cap.read()
            assert ok, f"cannot read {video}"
            self.jpegs.append(cv2.imencode(".jpg", img)[1].tobytes())
        cap.release()
        self.interval = 1.0 / fps
        self.stalled = threading.Event()
        self.port = 0
        self._srv = None

    def start(self) -> MjpegServer:
        owner = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self):
                self.send_response(200)
                self.send_header("Content-Type", "multipart/x-mixed-replace; boundary=frame")
                self.end_headers()
                i = 0
                try:
                    while owner._srv is not None and self.server is owner._srv:
                        if owner.stalled.is_set():
                            time.sleep(0.02)
                            continue
                        j = owner.jpegs[i % len(owner.jpegs)]
                        self.wfile.write(b"--frame\r\nContent-Type: image/jpeg\r\nContent-Length: %d\r\n\r\n"
                                         % len(j) + j + b"\r\n")
                        self.wfile.flush()
                        i += 1
                        time.sleep(owner.interval)
                except OSError:
                    pass

            def log_message(self, *args):
                pass

        class Server(socketserver.ThreadingTCPServer):
            allow_reuse_address = True
            daemon_threads = True

        self._srv = Server(("127.0.0.1", self.port), Handler)
        self.port = self._srv.server_address[1]
        threading.Thread(target=self._srv.serve_forever, daemon=True).start()
        return self

    def stop(self) -> None:
        srv, self._srv = self._srv, None
        if srv is not None:
            srv.shutdown()
            srv.server_close()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/x.mjpg"


@pytest.fixture
def mjpeg_server(live_video):
    srv = MjpegServer(live_video).start()
    yield srv
    srv.stop()
