"""The roster gallery a gate pipeline searches, replaced whole from another thread.

The roster registry hands a new :class:`~edge_agent.vision.gallery.Gallery` object on every
change (enrollment, exit); the camera thread keeps searching the one it holds until the swap,
which is a single assignment under a lock. The open-set calibration is computed once per
gallery, at the swap, not per probe.
"""

from __future__ import annotations

import logging
import re
import threading

import numpy as np

from shared_schema.messages import CODE

from ..vision.gallery import EMPTY, Decision, Gallery

log = logging.getLogger(__name__)

_CODE_RE = re.compile(CODE)


class ServedGallery:
    def __init__(self, gate_id: str, vision, threshold: float):
        self.gate_id, self.vision, self.threshold = gate_id, vision, threshold
        self._lock = threading.Lock()
        self._current: tuple[Gallery, object] | None = None

    def update(self, gallery: Gallery) -> None:
        """Serve ``gallery`` from the next search on. Hand a new object each time and do not
        change it afterwards: it is searched without a lock."""
        bad = [w for w in gallery.workers if not _CODE_RE.fullmatch(w)]
        if bad:
            raise ValueError(f"{len(bad)} worker reference(s) are not valid ledger worker_refs")
        cal = gallery.calibrate(self.vision.open_set_rule, self.vision.target_fpir, self.threshold) \
            if len(gallery) else None
        with self._lock:
            self._current = (gallery, cal)
        log.info("gate %s: gallery of %d templates (%d workers) in service", self.gate_id, len(gallery),
                 len(gallery.workers))

    def identify(self, probe: np.ndarray) -> Decision:
        with self._lock:
            current = self._current
        if current is None or len(current[0]) == 0:
            return Decision(False, EMPTY, None, float("nan"), None, -1.0)
        gallery, cal = current
        return gallery.identify(probe, self.threshold, self.vision.match_margin, cal)
