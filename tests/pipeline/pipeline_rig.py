"""The gate vision pipeline with real parts: real videos and photos from ../shared/data/faces,
the real YuNet/SFace backend, the real liveness judge, a real ledger (tmp SQLite), recorder,
gate controller and the simulated turnstile, all on one manual clock.

Frames are decoded in order by OpenCV's FFmpeg reader (what :class:`FileCamera` uses) and
handed to :meth:`GatePipeline.step` one at a time with ``t_mono`` = frame index / fps, and
the clock follows the frames: the outcome is exact, with no sleeps. One test also plays a
video through a real :class:`FileCamera` and the pipeline's own thread.
"""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest

from edge_agent.config import GateConfig, GateTimingConfig
from edge_agent.drivers import open_turnstile
from edge_agent.drivers.camera import Frame
from edge_agent.feedback import MemoryFeedback
from edge_agent.gate import GateRecorder
from edge_agent.gate_controller import GateController, GateControllers
from edge_agent.ledger import PunchLedger
from edge_agent.pipeline.config import PipelineConfig
from edge_agent.vision.config import VisionConfig
from edge_agent.vision.gallery import Gallery
from edge_agent.vision.images import read_image  # noqa: F401  (re-exported to conftest)

REPO = Path(__file__).resolve().parents[2]
FACES = REPO.parent / "shared" / "data" / "faces"
LIVE = "videos/live_webcam_blink_turn_zubair.mov"
REPLAY = "spoof/fake/replay_phone_zubair.mp4"
GROUP = "misc/group_video_hamilton_multi_person.mp4"
SUBJECT = "zubair"

TIMING = GateTimingConfig(verdict_timeout_s=8.0, open_timeout_s=2.0, passage_window_s=3.0,
                          tailgate_window_s=0.5, door_held_s=8.0, fault_clear_s=1.0, poll_interval_s=0.05)


class Clock:
    def __init__(self, t: float = 0.0):
        self.t = t

    def __call__(self) -> float:
        return self.t


def faces_path(rel: str) -> Path:
    p = FACES / rel
    if not p.exists():
        pytest.fail(f"test data missing: {p} (../shared/data/faces beside the checkout)", pytrace=False)
    return p


def video_frames(rel: str, start: int = 0, stop: int | None = None, t0: float = 100.0):
    """Frames ``start``..``stop`` of a video in order, as camera Frames (t_mono from the fps)."""
    cap = cv2.VideoCapture(str(faces_path(rel)), cv2.CAP_FFMPEG)
    fps = cap.get(cv2.CAP_PROP_FPS) or 15.0
    i = 0
    try:
        while stop is None or i < stop:
            ok, img = cap.read()
            if not ok:
                break
            if i >= start:
                yield Frame(img, i + 1, t0 + i / fps, 1.7e9 + i / fps, float(img.mean()))
            i += 1
    finally:
        cap.release()


def enroll_from_video(backend, rel: str, start: int, stop: int, k: int = 3) -> np.ndarray:
    """Templates of the largest face from ``k`` frames spread over ``start``..``stop``."""
    frames = [f for f in video_frames(rel, start, stop)]
    picks = [frames[int(i)] for i in np.linspace(0, len(frames) - 1, k)]
    out = []
    for f in picks:
        faces = backend.detect(f.image)
        assert faces, "enrollment frame without a face"
        out.append(backend.embed(f.image, faces[0]))
    return np.stack(out)


def make_gallery(entries: dict[str, np.ndarray]) -> Gallery:
    g = Gallery(128)
    for worker, t in entries.items():
        g.add(worker, t)
    return g


class Rig:
    """ledger → recorder → gate controller → simulated turnstile, and the pipeline on top."""

    def __init__(self, tmp_path: Path, backend, judge, gallery: Gallery | None, *, judge_error=None,
                 seed: int = 1, **cfg):
        from edge_agent.pipeline.gate import GatePipeline
        self.clock = Clock()
        self.ledger = PunchLedger(tmp_path / "ledger.db", "GW-VIS-1", "P-VIS")
        self.turnstile = open_turnstile({"id": "T1", "type": "simulated", "passage_delay_ms": 300,
                                         "passage_ms": 300, "seed": 3}, clock=self.clock)
        self.feedback = MemoryFeedback()
        self.gates = GateControllers()
        self.recorder = GateRecorder(self.ledger, self.gates.open)
        self.gate = GateController(GateConfig("G1", "in", "T1", "CAM1"), self.recorder, self.turnstile, TIMING,
                                   self.feedback, clock=self.clock)
        self.gates["G1"] = self.gate
        self.order: list[tuple[str, int]] = []      # ("commit", seq) / ("open", n_opens) in order
        self.recorder.on_committed(lambda e: self.order.append(("commit", e.seq)))
        real_open = self.turnstile.open

        def open_and_note(direction):
            self.order.append(("open", len(self.turnstile.opens) + 1))
            real_open(direction)
        self.turnstile.open = open_and_note
        self.snap_dir = tmp_path / "snapshots"
        self.cfg = PipelineConfig(snapshot_dir=str(self.snap_dir), **cfg)
        self.pipeline = GatePipeline(self.gate.gate, self.gate, backend, judge, gallery, self.cfg, VisionConfig(),
                                     judge_error=judge_error, clock=self.clock, seed=seed)
        self.reports = []

    def play(self, frames) -> None:
        """Each frame: the clock jumps to its capture time, the controller ticks, the pipeline steps."""
        for f in frames:
            self.clock.t = f.t_mono
            self.gate.tick()
            self.reports.append(self.pipeline.step(f))

    def entries(self, type_: str | None = None):
        return [e for e in self.ledger.entries() if type_ is None or e.type == type_]

    def close(self) -> None:
        self.turnstile.close()
        self.ledger.close()
