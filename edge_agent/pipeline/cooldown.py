"""One worker, one punch per cool-down: shared by every gate pipeline of a gateway."""

from __future__ import annotations

import logging
import threading
import time
from typing import Callable

log = logging.getLogger(__name__)


class Cooldown:
    """``recent(worker)``: did ``worker`` punch within ``seconds``? ``mark(worker)`` after a punch.
    Thread-safe. :meth:`restore` fills it from the ledger's recent punches at start, so a restart
    does not give a worker who just punched a second punch."""

    def __init__(self, seconds: float, clock: Callable[[], float] = time.monotonic):
        self.seconds = float(seconds)
        self._clock = clock
        self._last: dict[str, float] = {}
        self._lock = threading.Lock()

    def recent(self, worker: str) -> bool:
        with self._lock:
            t = self._last.get(worker)
            return t is not None and self._clock() - t < self.seconds

    def mark(self, worker: str, age: float = 0.0) -> None:
        """``worker`` punched ``age`` seconds ago (0: now)."""
        with self._lock:
            now = self._clock()
            t = now - max(0.0, float(age))
            if t > self._last.get(worker, float("-inf")):
                self._last[worker] = t
            if len(self._last) > 4096:     # forget the ones whose cool-down is over
                self._last = {w: t for w, t in self._last.items() if now - t < self.seconds}

    def restore(self, ledger, *, now_wall: float | None = None, now_mono: float | None = None) -> int:
        """Mark every worker whose punch in ``ledger`` (a PunchLedger) is younger than ``seconds``.
        A punch's age comes from its monotonic reading when it was made in this boot (immune to
        wall-clock steps), else from its device_time. Returns how many workers were marked."""
        from ..clock import epoch_of
        from ..ledger import BOOT_ID
        if self.seconds <= 0:
            return 0
        now_wall = time.time() if now_wall is None else now_wall
        now_mono = time.monotonic_ns() / 1e9 if now_mono is None else now_mono

        def age(e) -> float:
            if e.boot_id == BOOT_ID:
                return now_mono - e.monotonic_ns / 1e9
            return now_wall - epoch_of(e.device_time)

        # read back from the head only as far as the cool-down reaches (the ledger may be long)
        head, span = ledger.head_seq, 64
        while True:
            first = max(1, head - span + 1)
            entries = ledger.entries(first)
            if first == 1 or not entries or age(entries[0]) >= self.seconds:
                break
            span *= 4
        marked = set()
        for e in entries:
            if e.type == "punch" and e.worker_ref and age(e) < self.seconds:
                self.mark(e.worker_ref, age(e))
                marked.add(e.worker_ref)
        if marked:
            log.info("cool-down restored from the ledger: %d worker(s) punched within %.0f s", len(marked),
                     self.seconds)
        return len(marked)
