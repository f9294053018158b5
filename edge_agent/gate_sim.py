"""A simulated gate: synthetic decisions through the real commit-then-open path.

Mostly work punches of roster refs ``W0001``…, some non-work visits, a few
rejected attempts (liveness failed, not enrolled, low match). Each decision goes
through the gate's :class:`~edge_agent.gate_controller.GateController` (face seen →
verdict → commit → open → passage), exactly like a real gate's; people queue at a
gate: the next face is seen once the previous opening is over (passed, or timed out).
Given a bare :class:`~edge_agent.gate.GateRecorder` it records directly (no turnstile).
"""

from __future__ import annotations

import logging
import random
import threading
import time

from .config import GateConfig, SimulateConfig
from .gate import GateDecision, GateRecorder
from .gate_controller import GateControllers

log = logging.getLogger(__name__)

REJECT_REASONS = ("liveness_failed", "not_enrolled", "low_match_score")
LIVENESS_CUES = ("blink", "head_turn", "mouth_open")


class SimulatedGate:
    def __init__(self, target: GateControllers | GateRecorder, gates: tuple[GateConfig, ...],
                 cfg: SimulateConfig, *, queue_timeout_s: float = 30.0):
        self.controllers = target if isinstance(target, GateControllers) else None
        self.recorder = target if isinstance(target, GateRecorder) else None
        self.queue_timeout_s = queue_timeout_s
        self.gates = tuple(gates)
        self.cfg = cfg
        self.rng = random.Random(cfg.seed or None)
        self.made = 0

    def decide(self) -> GateDecision:
        rng = self.rng
        gate = rng.choice(self.gates)
        direction = gate.direction if gate.direction != "both" else rng.choice(("in", "out"))
        worker = f"W{rng.randint(1, self.cfg.workers):04d}"
        cue = rng.choice(LIVENESS_CUES)
        if rng.random() < self.cfg.reject_ratio:
            reason = rng.choice(REJECT_REASONS)
            return GateDecision(
                gate_id=gate.id, direction=direction, type="rejected",
                worker_ref=None if reason == "not_enrolled" else worker,
                match_score=round(rng.uniform(0.1, 0.6), 3),
                liveness_score=round(rng.uniform(0.0, 0.4) if reason == "liveness_failed"
                                     else rng.uniform(0.7, 1.0), 3),
                liveness_cue=cue, reject_reason=reason)
        kind = "non_work" if rng.random() < self.cfg.non_work_ratio else "work"
        return GateDecision(
            gate_id=gate.id, direction=direction, type="punch", worker_ref=worker, kind=kind,
            match_score=round(rng.uniform(0.8, 1.0), 3), liveness_score=round(rng.uniform(0.8, 1.0), 3),
            liveness_cue=cue, snapshot_ref=f"sim/{self.made + 1:08d}.jpg")

    def run(self, count: int, rate: float, stop: threading.Event | None = None) -> int:
        """Make ``count`` decisions at ``rate`` per second (≤ 0: as fast as possible)."""
        start = time.monotonic()
        for i in range(count):
            if stop is not None and stop.is_set():
                break
            if rate > 0:
                delay = start + i / rate - time.monotonic()
                if delay > 0 and stop is not None and stop.wait(delay):
                    break
                if delay > 0 and stop is None:
                    time.sleep(delay)
            decision = self.decide()
            if self.controllers is None:
                self.recorder.record(decision)
            else:
                gate = self.controllers[decision.gate_id]
                deadline = time.monotonic() + self.queue_timeout_s
                while not gate.wait_ready(0.2):
                    if stop is not None and stop.is_set():
                        break
                    if time.monotonic() > deadline:
                        log.warning("simulated gate: gate %s still busy after %ss", gate.gate_id,
                                    self.queue_timeout_s)
                        break
                if stop is not None and stop.is_set():
                    break
                gate.face_seen()
                gate.decide(decision)
            self.made += 1
        if self.controllers is not None:      # the last people walk through (or turn back)
            deadline = time.monotonic() + self.queue_timeout_s
            for gate in self.controllers.values():
                while not gate.wait_ready(0.2) and time.monotonic() < deadline:
                    if stop is not None and stop.is_set():
                        break
        log.info("simulated gate made %s decisions", self.made)
        return self.made
