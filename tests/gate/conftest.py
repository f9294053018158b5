"""Fixtures for the gate controller tests: a real ledger + recorder, a manual clock, the
simulated turnstile on that clock, and the feedback it shows."""

from __future__ import annotations

import pytest

from edge_agent.config import GateConfig, GateTimingConfig
from edge_agent.drivers import open_turnstile
from edge_agent.feedback import MemoryFeedback
from edge_agent.gate import GateRecorder
from edge_agent.gate_controller import GateController, GateControllers
from edge_agent.ledger import PunchLedger

TIMING = GateTimingConfig(verdict_timeout_s=3.0, open_timeout_s=2.0, passage_window_s=5.0,
                          tailgate_window_s=1.0, door_held_s=4.0, fault_clear_s=2.0,
                          poll_interval_s=0.05)


class Clock:
    def __init__(self, t: float = 1000.0):
        self.t = t

    def __call__(self) -> float:
        return self.t


class Rig:
    """One gate: ledger → recorder → controller → simulated turnstile, all on ``clock``."""

    def __init__(self, tmp_path, **turnstile):
        self.clock = Clock()
        self.ledger = PunchLedger(tmp_path / "ledger.db", "GW-T1", "P-TEST")
        self.turnstile = open_turnstile({"id": "T1", "type": "simulated", "passage_delay_ms": 500,
                                         "passage_ms": 400, "seed": 7, **turnstile}, clock=self.clock)
        self.feedback = MemoryFeedback()
        self.gates = GateControllers()
        self.recorder = GateRecorder(self.ledger, self.gates.open)
        self.gate = GateController(GateConfig("G1", "both", "T1"), self.recorder, self.turnstile, TIMING,
                                   self.feedback, clock=self.clock)
        self.gates["G1"] = self.gate

    def run(self, seconds: float, step: float = 0.05) -> None:
        """Advance the clock by ``seconds``, ticking the controller every ``step``."""
        end = self.clock.t + seconds
        while self.clock.t < end - 1e-9:
            self.clock.t = min(end, self.clock.t + step)
            self.gate.tick()

    def events(self, kind: str | None = None):
        return [e for e in self.ledger.entries() if e.type == "gate_event"
                and (kind is None or e.event_kind == kind)]

    def close(self) -> None:
        self.turnstile.close()
        self.ledger.close()


@pytest.fixture
def rig(tmp_path):
    made = []

    def make(**turnstile) -> Rig:
        r = Rig(tmp_path / f"rig{len(made)}", **turnstile)
        made.append(r)
        return r
    yield make
    for r in made:
        r.close()
