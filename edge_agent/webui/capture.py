"""One face capture for enrollment, run in a worker thread: frames from the gate camera,
the same quality function and liveness judge as the gate, several good frames taken
automatically, then their templates (and a small head image) handed to the registry, which
checks for the same face under another ID number first.

States: ``running`` (``feedback`` is the quality key of the newest frame, ``good`` counts the
good frames taken, ``challenge`` is set when liveness asks for one) → ``done`` | ``duplicate``
(``other`` = the other worker's reference) | ``spoof`` | ``timeout`` | ``failed``. Nothing is
stored unless the state becomes ``done``.
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass, field

import cv2
import numpy as np

from ..vision.quality import assess
from ..vision.track import FaceObservation, FaceTrack

log = logging.getLogger(__name__)

HEAD_IMAGE_MAX_BYTES = 50 * 1024     # the national limit for the head image sent to the city
TRACK_MAX = 60                       # observations kept for the liveness judge
GOOD_GAP_S = 0.2                     # good frames at least this far apart: a few poses, not one instant
JUDGE_EVERY = 3                      # re-judge after this many new observations while inconclusive


@dataclass
class CaptureState:
    worker_ref: str
    state: str = "running"
    feedback: str | None = None        # quality key, "no_face", or None (good)
    good: int = 0
    needed: int = 5
    challenge: str | None = None
    other: str | None = None           # duplicate: the other worker's reference
    liveness: dict = field(default_factory=dict)
    error: str | None = None
    started: float = field(default_factory=time.monotonic)

    def to_dict(self) -> dict:
        return {"state": self.state, "feedback": self.feedback, "good": self.good, "needed": self.needed,
                "challenge": self.challenge, "other": self.other, "liveness": self.liveness, "error": self.error}


def head_image(frame: np.ndarray, box: tuple[float, float, float, float],
               max_bytes: int = HEAD_IMAGE_MAX_BYTES) -> bytes:
    """A JPEG of the head and shoulders around ``box``, at most ``max_bytes`` (quality, then
    size stepped down until it fits)."""
    h, w = frame.shape[:2]
    x, y, bw, bh = box
    cx, cy, side = x + bw / 2, y + bh / 2, max(bw, bh) * 1.8
    x0, y0 = int(max(0, cx - side / 2)), int(max(0, cy - side / 2))
    x1, y1 = int(min(w, cx + side / 2)), int(min(h, cy + side / 2))
    crop = frame[y0:y1, x0:x1] if x1 > x0 and y1 > y0 else frame
    if max(crop.shape[:2]) > 480:
        s = 480 / max(crop.shape[:2])
        crop = cv2.resize(crop, (max(1, int(crop.shape[1] * s)), max(1, int(crop.shape[0] * s))),
                          interpolation=cv2.INTER_AREA)
    while True:
        for q in (90, 80, 70, 60, 50, 40):
            ok, buf = cv2.imencode(".jpg", crop, [cv2.IMWRITE_JPEG_QUALITY, q])
            if ok and len(buf) <= max_bytes:
                return buf.tobytes()
        crop = cv2.resize(crop, (max(1, crop.shape[1] * 3 // 4), max(1, crop.shape[0] * 3 // 4)),
                          interpolation=cv2.INTER_AREA)


class CaptureJob:
    """``store(worker_ref, templates, head_jpeg) -> ("done", None) | ("duplicate", other_ref)``
    is the registry's side (duplicate check and encrypted storage in one transaction)."""

    def __init__(self, worker_ref: str, camera, backend, judge, store, *, needed: int = 5,
                 timeout_s: float = 20.0):
        self.state = CaptureState(worker_ref, needed=needed)
        self.camera, self.backend, self.judge, self.store = camera, backend, judge, store
        self.timeout_s = timeout_s
        self.audited = False                 # the web side wrote the outcome to the audit log
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self.thread = threading.Thread(target=self._run, name="webui-capture", daemon=True)

    def start(self) -> "CaptureJob":
        self.thread.start()
        return self

    def cancel(self) -> None:
        self._stop.set()

    def snapshot(self) -> dict:
        with self._lock:
            return self.state.to_dict()

    def _set(self, **kw) -> None:
        with self._lock:
            for k, v in kw.items():
                setattr(self.state, k, v)

    def _run(self) -> None:
        try:
            self._capture()
        except Exception as exc:        # noqa: BLE001 - the page must learn it failed
            log.exception("face capture failed")
            self._set(state="failed", error=type(exc).__name__)

    def _next_frame(self, last_seq: int, wait_s: float = 0.5):
        """The camera's newest frame once it is newer than ``last_seq``. ``latest()`` does not take
        the frame from the slot, so the gate's own pipeline on the same camera misses nothing."""
        end = time.monotonic() + wait_s
        while not self._stop.is_set():
            frame = self.camera.latest()
            if frame is not None and frame.seq != last_seq:
                return frame
            if time.monotonic() >= end:
                return None
            time.sleep(0.02)
        return None

    def _capture(self) -> None:
        track = FaceTrack(track_id=1)
        good: list[FaceObservation] = []
        challenge, challenge_t, since_judge = None, None, 0
        deadline = time.monotonic() + self.timeout_s
        verdict, last_seq = None, 0
        while not self._stop.is_set():
            if time.monotonic() > deadline:
                self._set(state="timeout")
                return
            frame = self._next_frame(last_seq)
            if frame is None:
                continue
            last_seq = frame.seq
            faces = self.backend.detect(frame.image)
            if not faces:
                self._set(feedback="no_face")
                continue
            q = assess(frame.image, faces[0], faces[1:])
            self._set(feedback=q.key)
            if q.key == "one_at_a_time":
                continue            # two people: whose face would it be? take nothing
            obs = FaceObservation(frame.image, frame.t_mono, faces[0], frame.seq, q.score)
            track.observations.append(obs)
            del track.observations[:-TRACK_MAX]
            since_judge += 1
            if q.ok and len(good) < self.state.needed and (not good or obs.t_mono - good[-1].t_mono >= GOOD_GAP_S):
                good.append(obs)
                self._set(good=len(good))
            if len(good) < self.state.needed or since_judge < JUDGE_EVERY:
                continue
            since_judge = 0
            verdict = self.judge.judge(track, challenge, challenge_t)
            self._set(liveness={"decision": verdict.decision, "score": round(verdict.score, 3), "cue": verdict.cue})
            if verdict.decision == "spoof":
                self._set(state="spoof")
                return
            if verdict.decision == "live":
                break
            if challenge is None:        # inconclusive: ask for what the judge suggests, as the gate does
                challenge = verdict.challenge or "turn_head"
                challenge_t = time.monotonic()
                self._set(challenge=challenge)
        if self._stop.is_set():
            self._set(state="failed", error="cancelled")
            return
        templates = np.stack([self.backend.embed(o.image, o.face) for o in good]).astype(np.float32)
        best = max(good, key=lambda o: o.quality or 0.0)
        head = head_image(best.image, best.face.box)
        outcome, other = self.store(self.state.worker_ref, templates, head)
        self._set(state=outcome, other=other)
