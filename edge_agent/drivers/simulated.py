"""A simulated turnstile for demos and controller tests: the observable behaviour of a real one.

After ``open(direction)`` the matching passage sensor goes active ``passage_delay_ms``
later for ``passage_ms`` (a person walking through). With ``turn_back_probability``
nobody passes; with ``tailgate_probability`` two people pass on one opening.
``set_fault()`` raises the fault contact; ``set_link_down()`` makes the driver
itself unreachable (``TurnstileError`` and health ``down``), like an unplugged adapter.
No threads: the sensor levels are computed from the clock when read.
"""

from __future__ import annotations

import logging
import random
import threading
import time
from typing import Callable

from .base import CLOSED, Direction, HealthTracker, Turnstile, TurnstileError, TurnstileInputs, check_direction
from .config import SimulatedConfig

log = logging.getLogger(__name__)


class SimulatedTurnstile(Turnstile):
    kind = "simulated"
    config_class = SimulatedConfig
    has_passage_sensors = True
    has_fault_input = True

    def __init__(self, cfg: SimulatedConfig, *, clock: Callable[[], float] = time.monotonic):
        super().__init__(cfg)
        self._clock = clock
        self._rng = random.Random(cfg.seed or None)
        self._lock = threading.Lock()
        self._fault = cfg.fault
        self._link_down = False
        self._closed = False
        self._passages: list[tuple[float, float, Direction]] = []   # (start, end, direction)
        self.opens: list[tuple[float, Direction]] = []
        self._tracker = HealthTracker(cfg.id, "ok", "simulated")

    def _check_link(self) -> None:
        if self._closed:
            raise TurnstileError(f"turnstile {self.id} is closed")
        if self._link_down:
            raise TurnstileError(f"turnstile {self.id}: simulated link down")

    def open(self, direction: Direction) -> None:
        check_direction(direction)
        with self._lock:
            self._check_link()
            now = self._clock()
            self.opens.append((now, direction))
            roll = self._rng.random()
            if roll < self.cfg.turn_back_probability:
                log.debug("turnstile %s: simulated turn-back", self.id)
                return
            people = 2 if self._rng.random() < self.cfg.tailgate_probability else 1
            start = now + self.cfg.passage_delay_ms / 1000.0
            length = self.cfg.passage_ms / 1000.0
            for i in range(people):   # a gap of half a passage between two people
                s = start + i * 1.5 * length
                self._passages.append((s, s + length, direction))

    def read_inputs(self) -> TurnstileInputs:
        with self._lock:
            self._check_link()
            now = self._clock()
            self._passages = [p for p in self._passages if p[1] > now - 60.0]
            active = {d for s, e, d in self._passages if s <= now < e}
            return TurnstileInputs(passage_in="in" in active, passage_out="out" in active,
                                   fault=self._fault)

    def health(self):
        return self._tracker.get()

    def close(self) -> None:
        with self._lock:
            self._closed = True
            self._tracker.set("down", CLOSED)

    # ---- test / demo controls ------------------------------------------------
    def set_fault(self, fault: bool) -> None:
        with self._lock:
            self._fault = fault

    def set_link_down(self, down: bool) -> None:
        with self._lock:
            self._link_down = down
            if down:
                self._tracker.set("down", "simulated link down")
            elif not self._closed:
                self._tracker.set("ok", "simulated")
