"""Follow faces across frames: greedy IoU matching with a landmark-distance fallback.

Each frame's detections are matched to the live tracks, best pair first: a pair matches
when the boxes overlap by at least ``iou_min`` or, for a face that moved fast between two
looked-at frames (dropped frames), when the eye midpoints are within ``max_jump`` eye
distances. Every match must also keep the face's size within ``max_scale`` (a near and a
far face never swap ids). Unmatched detections start new tracks; a track not seen for
``lost_after_s`` is expired and handed back once, so the pipeline can forget its state.

A track's observations are bounded (``max_observations``, oldest dropped): each holds a
whole frame, so the bound is the tracker's memory (``max_observations`` × frame size per
face in view). Ids are never reused within one tracker.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Sequence

import numpy as np

from .backend import Face
from .track import FaceObservation, FaceTrack

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class TrackerParams:
    iou_min: float = 0.3
    max_jump: float = 1.5             # eye-midpoint displacement, in eye distances
    max_scale: float = 1.6            # size ratio a match may not exceed
    lost_after_s: float = 1.0
    max_observations: int = 48
    max_tracks: int = 16              # more faces than this in one frame: the smallest are ignored


def iou(a: tuple[float, float, float, float], b: tuple[float, float, float, float]) -> float:
    ax0, ay0, aw, ah = a
    bx0, by0, bw, bh = b
    iw = min(ax0 + aw, bx0 + bw) - max(ax0, bx0)
    ih = min(ay0 + ah, by0 + bh) - max(ay0, by0)
    if iw <= 0 or ih <= 0:
        return 0.0
    inter = iw * ih
    union = aw * ah + bw * bh - inter
    return float(inter / union) if union > 0 else 0.0


def _eyes(face: Face) -> tuple[np.ndarray, float]:
    lm = np.asarray(face.landmarks, np.float64).reshape(5, 2)
    return (lm[0] + lm[1]) / 2, max(float(np.hypot(*(lm[1] - lm[0]))), 1.0)


class FaceTracker:
    """Not thread-safe: one pipeline thread calls :meth:`update`."""

    def __init__(self, params: TrackerParams | None = None):
        self.params = params or TrackerParams()
        self._tracks: dict[int, FaceTrack] = {}
        self._seen: dict[int, float] = {}        # track id -> t_mono last matched
        self._next_id = 1

    @property
    def tracks(self) -> list[FaceTrack]:
        return list(self._tracks.values())

    def get(self, track_id: int) -> FaceTrack | None:
        return self._tracks.get(track_id)

    def _affinity(self, track: FaceTrack, face: Face) -> float:
        """> 0 if ``face`` may continue ``track`` (higher = better), else 0."""
        last = track.last.face
        s0, s1 = last.size_px, face.size_px
        if s0 <= 0 or s1 <= 0 or max(s0, s1) / min(s0, s1) > self.params.max_scale:
            return 0.0
        ov = iou(last.box, face.box)
        if ov >= self.params.iou_min:
            return 1.0 + ov                     # overlap always beats a landmark-only match
        (c0, d0), (c1, _) = _eyes(last), _eyes(face)
        jump = float(np.hypot(*(c1 - c0))) / d0
        if jump <= self.params.max_jump:
            return 1.0 - jump / (self.params.max_jump + 1e-9) * 0.999
        return 0.0

    def update(self, image: np.ndarray, t_mono: float, faces: Sequence[Face], frame_seq: int = 0,
               qualities: Sequence[float | None] | None = None) -> tuple[list[FaceTrack], list[FaceTrack]]:
        """Match this frame's ``faces`` (largest first) to tracks. Returns (tracks seen in this
        frame, in the order of ``faces``; tracks expired now)."""
        p = self.params
        faces = list(faces)[:p.max_tracks]
        qualities = list(qualities) if qualities is not None else [None] * len(faces)
        # expire first: a face seen after a longer gap than lost_after_s is a new track, even in
        # the same spot (the person who stood there may have left and someone else come)
        expired = [self._tracks[tid] for tid, t in self._seen.items() if t_mono - t > p.lost_after_s]
        for track in expired:
            del self._tracks[track.track_id]
            del self._seen[track.track_id]
            log.debug("track %d lost", track.track_id)
        ids = list(self._tracks)
        pairs = []
        for fi, face in enumerate(faces):
            for tid in ids:
                a = self._affinity(self._tracks[tid], face)
                if a > 0:
                    pairs.append((-a, fi, tid))
        pairs.sort()
        assigned: dict[int, int] = {}            # face index -> track id
        taken: set[int] = set()
        for _, fi, tid in pairs:
            if fi in assigned or tid in taken:
                continue
            assigned[fi] = tid
            taken.add(tid)
        seen: list[FaceTrack] = []
        for fi, face in enumerate(faces):
            tid = assigned.get(fi)
            if tid is None:
                tid, self._next_id = self._next_id, self._next_id + 1
                self._tracks[tid] = FaceTrack(tid)
                log.debug("track %d started", tid)
            track = self._tracks[tid]
            track.observations.append(FaceObservation(image, t_mono, face, frame_seq, qualities[fi]))
            if len(track.observations) > p.max_observations:
                del track.observations[:len(track.observations) - p.max_observations]
            self._seen[tid] = t_mono
            seen.append(track)
        return seen, expired

    def split(self, track_id: int) -> FaceTrack | None:
        """The face in ``track_id`` turned out to be someone else (a new person stepped into the
        spot): end that track and continue from its latest observation under a new id."""
        old = self._tracks.pop(track_id, None)
        if old is None:
            return None
        seen = self._seen.pop(track_id)
        tid, self._next_id = self._next_id, self._next_id + 1
        new = FaceTrack(tid, [old.last])
        self._tracks[tid] = new
        self._seen[tid] = seen
        log.info("track %d split: new face continues as track %d", track_id, tid)
        return new

    def expire_all(self) -> list[FaceTrack]:
        """Forget every track (camera down, pipeline stopped); returns them."""
        gone = list(self._tracks.values())
        self._tracks.clear()
        self._seen.clear()
        return gone
