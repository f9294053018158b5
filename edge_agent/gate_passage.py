"""Passage bookkeeping for one gate: the openings waiting for their passage, the passage
sensors' edges, and what they mean:

* no passage within ``passage_window_s`` of the opening → ``not_passed`` event referring
  to the punch; another passage on the same opening (up to ``tailgate_window_s`` after the
  first one ended) → ``tailgating``; a passage with no opening at all → ``tailgating``
  without ``ref_seq``; a passage sensor active longer than ``door_held_s`` → ``door_held``.
  No ``tailgating`` or ``door_held`` while a manual release or the fire hold lets everyone through.
* Openings are counted like a pulse-counting turnstile counts them: a punch made
  while the previous person is still walking adds an opening; each passage takes
  the oldest opening of its direction that has not been passed yet.
* A turnstile without passage sensors (LCUS USB relay: inputs ``None``) gets no
  passage confirmation at all: no ``not_passed``/``tailgating``/``door_held`` is
  possible there, and none is pretended.

:class:`PassageTracker` belongs to one :class:`~edge_agent.gate_controller.GateController`
and is called with the controller's state lock held; what it finds goes into the caller's
``events`` list, recorded and shown once the lock is released.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import TYPE_CHECKING

from .drivers import TurnstileInputs

if TYPE_CHECKING:
    from .gate_controller import GateController

log = logging.getLogger(__name__)

DIRECTIONS = ("in", "out")


@dataclass
class Opening:
    direction: str
    seq: int | None                    # the punch it was opened for (None: manual release)
    release: bool
    opened_at: float | None = None     # None while the pulse is being sent
    passages: int = 0
    cleared_at: float | None = None    # when the sensor last fell after a passage
    tailgated: bool = False


class PassageTracker:
    def __init__(self, controller: "GateController"):
        self._ctl = controller
        self.openings: list[Opening] = []
        self.levels: dict[str, bool] = {}          # last passage sensor levels
        self._active_since: dict[str, float] = {}
        self._held_reported: set[str] = set()

    @property
    def passing(self) -> bool:
        """A passage sensor is active."""
        return any(self.levels.values())

    def _release_active(self) -> bool:
        return self._ctl._fire.active or any(op.release for op in self.openings)

    def sense(self, now: float, inputs: TurnstileInputs, events: list) -> None:
        timing = self._ctl.timing
        for d in DIRECTIONS:
            level = inputs.passage_in if d == "in" else inputs.passage_out
            if level is None:
                continue
            prev = self.levels.get(d)
            self.levels[d] = level
            if level and prev is False:
                self._active_since[d] = now
                self._held_reported.discard(d)
                self._passage(d, events)
            elif level and prev is None:          # active at start-up: no edge, but time the hold
                self._active_since[d] = now
            elif not level and prev:
                self._active_since.pop(d, None)
                for op in self.openings:
                    if op.passages and (op.direction == d or op.release):
                        op.cleared_at = now
            if (level and d not in self._held_reported and not self._release_active()
                    and now - self._active_since.get(d, now) >= timing.door_held_s):
                self._held_reported.add(d)
                log.warning("gate %s: passage sensor %s held active", self._ctl.gate_id, d)
                events.append(("event", "door_held", {"direction": d}))
                events.append(("show", "door_held", d))

    def _passage(self, d: str, events: list) -> None:
        for op in self.openings:
            if op.release:                        # emergency / override: everyone may pass
                op.passages += 1
                return
        for op in self.openings:
            if op.direction == d and op.passages == 0:
                op.passages = 1
                events.append(("show", "passed", d))
                return
        if self._ctl._fire.active:                # held open for everyone: no tailgating
            return
        last = next((op for op in reversed(self.openings) if op.direction == d), None)
        if last is not None:
            last.passages += 1
            if last.tailgated:
                return                            # one event per opening
            last.tailgated = True
        log.warning("gate %s: tailgating (%s, punch seq %s)", self._ctl.gate_id, d,
                    last.seq if last is not None else "none: no opening")
        events.append(("event", "tailgating", {"direction": d,
                                               "ref_seq": last.seq if last is not None else None}))
        events.append(("show", "tailgating", d))

    def expire(self, now: float, events: list) -> None:
        timing = self._ctl.timing
        keep = []
        for op in self.openings:
            if op.opened_at is None:
                keep.append(op)
            elif op.release:                      # open for everyone for the whole window
                if now - op.opened_at < timing.passage_window_s or self.passing:
                    keep.append(op)
            elif op.passages == 0:
                if now - op.opened_at < timing.passage_window_s:
                    keep.append(op)
                elif op.seq is not None:
                    log.info("gate %s: nobody passed after punch seq %s", self._ctl.gate_id, op.seq)
                    events.append(("event", "not_passed", {"direction": op.direction, "ref_seq": op.seq}))
                    events.append(("show", "not_passed", op.direction))
            elif (op.cleared_at is None or self.levels.get(op.direction)
                  or now - op.cleared_at < timing.tailgate_window_s):
                keep.append(op)                   # still passing, or the barrier is still closing
        self.openings = keep
