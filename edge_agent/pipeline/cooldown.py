"""One worker, one punch per cool-down: shared by every gate pipeline of a gateway."""

from __future__ import annotations

import threading
import time
from typing import Callable


class Cooldown:
    """``recent(worker)``: did ``worker`` punch within ``seconds``? ``mark(worker)`` after a punch.
    Thread-safe. In memory: after a restart a worker may punch once more (the receiver's
    attendance rules count a day's punches, not each one)."""

    def __init__(self, seconds: float, clock: Callable[[], float] = time.monotonic):
        self.seconds = float(seconds)
        self._clock = clock
        self._last: dict[str, float] = {}
        self._lock = threading.Lock()

    def recent(self, worker: str) -> bool:
        with self._lock:
            t = self._last.get(worker)
            return t is not None and self._clock() - t < self.seconds

    def mark(self, worker: str) -> None:
        with self._lock:
            now = self._clock()
            self._last[worker] = now
            if len(self._last) > 4096:     # forget the ones whose cool-down is over
                self._last = {w: t for w, t in self._last.items() if now - t < self.seconds}
