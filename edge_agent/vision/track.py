"""A face followed across frames: what the tracker produces and liveness judges.

The tracker (:mod:`edge_agent.vision.tracker`) appends one :class:`FaceObservation`
per frame in which it saw the face; the gate pipeline hands the :class:`FaceTrack`
to the liveness judge (:mod:`edge_agent.liveness`) and to recognition. These are
plain data: no model is imported here.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from .backend import Face


@dataclass(frozen=True, eq=False)
class FaceObservation:
    """One sighting of the tracked face."""
    image: np.ndarray          # the whole BGR uint8 frame, shared with the camera: never draw on it
    t_mono: float              # capture time (time.monotonic()), for intervals
    face: Face                 # detector box + 5 landmarks in this frame's pixels
    frame_seq: int = 0         # the camera's frame counter (gaps = frames not looked at)
    quality: float | None = None   # 0..1 from the quality gate; None = not assessed


@dataclass(eq=False)
class FaceTrack:
    """Observations of one face, oldest first (the tracker keeps them bounded)."""
    track_id: int
    observations: list[FaceObservation] = field(default_factory=list)

    @property
    def first(self) -> FaceObservation:
        return self.observations[0]

    @property
    def last(self) -> FaceObservation:
        return self.observations[-1]

    @property
    def duration_s(self) -> float:
        if len(self.observations) < 2:
            return 0.0
        return self.observations[-1].t_mono - self.observations[0].t_mono

    def since(self, t_mono: float) -> list[FaceObservation]:
        """Observations captured at or after ``t_mono`` (e.g. after a challenge was shown)."""
        return [o for o in self.observations if o.t_mono >= t_mono]

    def __len__(self) -> int:
        return len(self.observations)
