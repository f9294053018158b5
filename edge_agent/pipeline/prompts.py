"""What a gate pipeline shows the person in front of the camera, through the gate's feedback
output (display / voice): a prompt at once, a hint at most every ``HINT_EVERY_S`` per key (a
worker who stands too far away is not told so thirty times a second)."""

from __future__ import annotations

import logging
import math
from typing import Callable

log = logging.getLogger(__name__)

HINT_EVERY_S = 2.0        # the same hint is not repeated within this


class GatePrompts:
    def __init__(self, controller, gate_id: str, direction: str, clock: Callable[[], float]):
        self.controller, self.gate_id, self.direction, self._clock = controller, gate_id, direction, clock
        self._shown: dict[str, float] = {}

    def show(self, key: str) -> None:
        self._shown[key] = self._clock()
        try:
            self.controller.feedback.show(self.gate_id, key, self.direction)
        except Exception:  # noqa: BLE001 - a broken display never stops the gate
            log.exception("gate %s: feedback %s failed", self.gate_id, key)

    def hint(self, key: str) -> None:
        if self._clock() - self._shown.get(key, -math.inf) >= HINT_EVERY_S:
            self.show(key)
