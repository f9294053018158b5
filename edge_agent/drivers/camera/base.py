"""The camera machinery shared by every kind: one reader thread, a latest-frame slot, health.

The reader thread owns the ``cv2.VideoCapture`` (never touched from another thread). It
reads as fast as the source delivers (a file: at the file's fps, or flat out) and puts
each frame into a one-frame slot, overwriting a frame nobody took (``dropped`` counts
those): the pipeline always gets the newest frame and never works through a backlog.

Any failure (cannot open, read fails, EOF of a file) closes the capture and opens it
again, with exponential backoff (``reconnect_min_s`` .. ``reconnect_max_s``) that the
first good frame resets. Kinds differ only in :meth:`Camera._open`, so a file, a V4L2
device and an RTSP/HTTP URL all go through the same reconnect code.

Health (``ok | degraded | down``, :class:`edge_agent.drivers.base.HealthTracker`) is
computed from facts the thread records and the time of the call, so a reader blocked in
``read()`` still shows as *stalled*:

* down: cannot open / stream lost (the reason), no frame for ``stall_s`` (stalled), closed;
* degraded: mean luminance below ``black_threshold`` for ``black_s`` (black), or
  pixel-identical frames for ``frozen_s`` (frozen: a hung encoder repeating its last frame);
* ok: ``WIDTHxHEIGHT, N fps``.
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass
from typing import Any

import cv2
import numpy as np

from ..base import CLOSED, DriverHealth, HealthTracker
from .config import CameraBase

log = logging.getLogger(__name__)

_LUMA_WEIGHTS = np.array([0.114, 0.587, 0.299])   # BGR -> Y (BT.601)
_SUBSAMPLE = 16                                    # every 16th pixel for luminance / frozen checks
JOIN_TIMEOUT_S = 3.0


class CameraError(Exception):
    """Opening or reading the source failed; the message is the reason shown in health."""


@dataclass(frozen=True, eq=False)
class Frame:
    """One captured frame. ``image`` is BGR uint8 and shared: copy it before drawing on it."""
    image: np.ndarray
    seq: int           # 1, 2, 3 ... per camera, every captured frame (gaps = frames you missed)
    t_mono: float      # time.monotonic() when read() returned it: for latency and intervals
    t_wall: float      # time.time() at the same moment: for records
    luma: float        # mean luminance 0..255 (subsampled)

    @property
    def width(self) -> int:
        return int(self.image.shape[1])

    @property
    def height(self) -> int:
        return int(self.image.shape[0])


def mean_luma(img: np.ndarray) -> tuple[float, np.ndarray]:
    """Mean luminance of a strided subsample, and that subsample (for the frozen check)."""
    sub = np.ascontiguousarray(img[::_SUBSAMPLE, ::_SUBSAMPLE])
    if sub.ndim == 2:
        return float(sub.mean()), sub
    return float(sub.reshape(-1, sub.shape[-1])[:, :3].mean(axis=0) @ _LUMA_WEIGHTS), sub


class Camera:
    """One camera. Starts its reader thread at construction; never raises for an absent source
    (it starts ``down`` and reconnects by itself). ``close()`` stops it."""

    kind: str = ""
    config_class: type = CameraBase
    resize_to_request = False      # the source cannot be asked for a size (files): resize frames

    def __init__(self, cfg: Any):
        self.cfg = cfg
        self.id: str = cfg.id
        self._cond = threading.Condition()          # latest-frame slot and counters
        self._latest: Frame | None = None
        self._taken_seq = 0
        self._seq = 0
        self._dropped = 0
        self._open_attempts = 0
        self._opens = 0
        self._eofs = 0
        self._fps_ewma = 0.0
        self.source_fps = 0.0                       # what the source says (CAP_PROP_FPS)
        self._facts = threading.Lock()              # the facts health is computed from
        self._error: str | None = "not connected yet"
        self._ref_mono: float | None = None         # last frame, or last (re)open
        self._have_frame = False
        self._size = (0, 0)
        self._luma = 0.0
        self._dark_since: float | None = None
        self._same_since: float | None = None
        self._prev_sub: np.ndarray | None = None
        self._closed = False
        self._tracker = HealthTracker(cfg.id, "down", "not connected yet", what="camera")
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name=f"camera-{cfg.id}", daemon=True)
        self._thread.start()

    # ---- hooks -------------------------------------------------------------
    def _open(self) -> cv2.VideoCapture:
        """One attempt: an opened capture, or :class:`CameraError` with the reason."""
        raise NotImplementedError

    def _paced(self) -> bool:
        """True when read() does not wait for the next frame (a file): pace at source fps."""
        return False

    def _loops_at_eof(self) -> bool:
        """True when a read failure after good frames is a file's EOF to loop over."""
        return False

    # ---- interface ---------------------------------------------------------
    def read_latest(self, timeout: float = 1.0) -> Frame | None:
        """The newest frame not yet returned by this method, waiting up to ``timeout`` s;
        ``None`` if none came (``health()`` says why). Older unread frames are gone."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while self._latest is None or self._latest.seq <= self._taken_seq:
                remaining = deadline - time.monotonic()
                if remaining <= 0 or self._closed:
                    return None
                self._cond.wait(remaining)
            self._taken_seq = self._latest.seq
            return self._latest

    def latest(self) -> Frame | None:
        """The newest frame, taken or not, without waiting (e.g. for a snapshot)."""
        with self._cond:
            return self._latest

    def stats(self) -> dict[str, Any]:
        with self._cond:
            return {"frames": self._seq, "dropped": self._dropped, "open_attempts": self._open_attempts,
                    "opens": self._opens, "eofs": self._eofs, "fps": round(self._fps_ewma, 2),
                    "source_fps": self.source_fps}

    @property
    def last_error(self) -> str | None:
        """Why the source is not delivering (cannot open, lost), or None while it is connected."""
        with self._facts:
            return None if self._open_attempts == 0 else self._error

    def health(self) -> DriverHealth:
        """Cheap, never blocks on I/O."""
        self._refresh_health()
        return self._tracker.get()

    def close(self) -> None:
        """Stop the reader thread (it releases the capture). Idempotent."""
        self._stop.set()
        with self._cond:
            self._closed = True
            self._cond.notify_all()
        if self._thread is not threading.current_thread():
            self._thread.join(JOIN_TIMEOUT_S)
            if self._thread.is_alive():   # blocked in open/read: it exits after the source's timeout
                log.warning("camera %s: reader still busy after %.0f s; it will exit on its own",
                            self.id, JOIN_TIMEOUT_S)
        self._refresh_health()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    # ---- reader thread -----------------------------------------------------
    def _run(self) -> None:
        delay = self.cfg.reconnect_min_s
        last_reason = None
        while not self._stop.is_set():
            with self._cond:
                self._open_attempts += 1
            try:
                cap = self._open()
            except CameraError as exc:
                reason = str(exc)
            except Exception as exc:  # noqa: BLE001 - OpenCV raises cv2.error and others
                reason = f"cannot open: {type(exc).__name__}: {exc}"
            else:
                try:
                    frames, reason = self._pump(cap)
                except Exception as exc:
                    frames, reason = 0, f"capture failed: {type(exc).__name__}: {exc}"
                    log.exception("camera %s: capture failed", self.id)
                finally:
                    cap.release()
                if self._stop.is_set():
                    break
                if frames:
                    delay = self.cfg.reconnect_min_s            # it worked: fresh backoff
                if reason is None:                              # a file's EOF: loop at once
                    continue
            if reason != last_reason:
                log.warning("camera %s: %s (retrying with backoff up to %.0f s)", self.id, reason,
                            self.cfg.reconnect_max_s)
                last_reason = reason
            with self._facts:
                self._error = reason
            with self._cond:
                self._latest = None   # a frame from before the outage is not "the newest": never serve it
            self._refresh_health()
            if self._stop.wait(delay):
                break
            delay = min(delay * 2, self.cfg.reconnect_max_s)

    def _pump(self, cap: cv2.VideoCapture) -> tuple[int, str | None]:
        """Read until the source fails. Returns (frames read, reason) — reason ``None`` for a
        file's EOF that should loop."""
        fps = cap.get(cv2.CAP_PROP_FPS)
        self.source_fps = round(fps, 3) if 0.5 <= fps <= 240 else 0.0
        paced = self._paced()
        interval = 1.0 / (self.source_fps or 25.0)
        cap_interval = 1.0 / self.cfg.fps if self.cfg.fps else 0.0
        with self._cond:
            self._opens += 1
        with self._facts:
            recovered, self._error = self._error, None
            self._ref_mono = time.monotonic()
        self._refresh_health()
        log.log(logging.INFO if recovered else logging.DEBUG, "camera %s: opened (source fps %s)",
                self.id, self.source_fps or "unknown")
        frames = 0
        due = next_pub = time.monotonic()
        while not self._stop.is_set():
            ok, img = cap.read()
            t_mono, t_wall = time.monotonic(), time.time()
            if not ok or img is None or img.size == 0:
                if frames and self._loops_at_eof():
                    with self._cond:
                        self._eofs += 1
                    return frames, None
                if frames:
                    return frames, f"stream lost: read failed after {frames} frames"
                return 0, "opened, but no frame could be read or decoded"
            frames += 1
            if not cap_interval or t_mono >= next_pub - 0.25 * cap_interval:
                next_pub = max(next_pub + cap_interval, t_mono - cap_interval) if cap_interval else 0.0
                self._publish(img, t_mono, t_wall)
            if paced:
                due += interval
                now = time.monotonic()
                if now - due > 2 * interval:      # fell behind (slow disk/CPU): no burst to catch up
                    due = now
                elif due > now and self._stop.wait(due - now):
                    break
        return frames, "closed"

    def _publish(self, img: np.ndarray, t_mono: float, t_wall: float) -> None:
        want = (self.cfg.width, self.cfg.height)
        if self.resize_to_request and want[0] and (img.shape[1], img.shape[0]) != want:
            img = cv2.resize(img, want, interpolation=cv2.INTER_AREA)
        luma, sub = mean_luma(img)
        with self._facts:
            self._ref_mono = t_mono
            self._have_frame = True
            self._size = (img.shape[1], img.shape[0])
            self._luma = luma
            if luma < self.cfg.black_threshold:
                self._dark_since = self._dark_since or t_mono
            else:
                self._dark_since = None
            same = self._prev_sub is not None and np.array_equal(sub, self._prev_sub)
            self._same_since = (self._same_since or t_mono) if same else None
            self._prev_sub = sub
        with self._cond:
            if self._latest is not None:
                dt = t_mono - self._latest.t_mono
                if dt > 0:
                    self._fps_ewma = 1.0 / dt if not self._fps_ewma else 0.9 * self._fps_ewma + 0.1 / dt
                if self._latest.seq > self._taken_seq:
                    self._dropped += 1
            self._seq += 1
            self._latest = Frame(img, self._seq, t_mono, t_wall, luma)
            self._cond.notify_all()
        self._refresh_health()

    # ---- health ------------------------------------------------------------
    def _refresh_health(self) -> None:
        cfg = self.cfg
        with self._facts:
            now = time.monotonic()
            if self._closed:
                state, detail = "down", CLOSED
            elif self._error:
                state, detail = "down", self._error
            elif not self._have_frame:
                state, detail = "down", "connected, waiting for the first frame"
            elif self._ref_mono is not None and now - self._ref_mono > cfg.stall_s:
                state, detail = "down", f"stalled: no new frame for over {cfg.stall_s:g} s"
            elif self._dark_since is not None and now - self._dark_since >= cfg.black_s:
                state, detail = "degraded", (f"black: mean luminance {self._luma:.0f} below "
                                             f"{cfg.black_threshold:g} for over {cfg.black_s:g} s "
                                             f"(lens covered, no light or no signal?)")
            elif cfg.frozen_s and self._same_since is not None and now - self._same_since >= cfg.frozen_s:
                state, detail = "degraded", f"frozen: identical frames for over {cfg.frozen_s:g} s"
            else:
                fps = min((f for f in (cfg.fps, self.source_fps) if f), default=0.0)
                state, detail = "ok", f"{self._size[0]}x{self._size[1]}" + (f", {fps:g} fps" if fps else "")
            self._tracker.set(state, detail)
