"""Decisions, a poll helper and a hardware rig for the gate tests."""

from __future__ import annotations

import time

from edge_agent.config import GateConfig, GateTimingConfig
from edge_agent.drivers import open_turnstile
from edge_agent.feedback import MemoryFeedback
from edge_agent.gate import GateDecision, GateRecorder
from edge_agent.gate_controller import GateController, GateControllers
from edge_agent.ledger import PunchLedger


def punch(direction="in", gate="G1", worker="W0001"):
    return GateDecision(gate_id=gate, direction=direction, worker_ref=worker, kind="work",
                        match_score=0.95, liveness_score=0.9, liveness_cue="blink")


def rejected(reason, cue="blink", gate="G1"):
    return GateDecision(gate_id=gate, direction="in", type="rejected", reject_reason=reason,
                        worker_ref=None if reason == "not_enrolled" else "W0002", liveness_cue=cue)


def wait(pred, timeout=10.0):
    """Poll ``pred`` until true (real time: a generous poll, never a timing assert)."""
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if pred():
            return True
        time.sleep(0.01)
    return False


class HwRig:
    """One gate G1 (both directions) on a real turnstile driver, a real ledger, started."""

    def __init__(self, tmp_path, turnstile_cfg, timing: GateTimingConfig):
        self.ledger = PunchLedger(tmp_path / "ledger.db", "GW-T1", "P-TEST")
        self.turnstile = open_turnstile(turnstile_cfg)
        self.gates = GateControllers()
        self.recorder = GateRecorder(self.ledger, self.gates.open)
        self.commit_times: dict[int, float] = {}
        self.recorder.on_committed(lambda e: self.commit_times.setdefault(e.seq, time.monotonic()))
        self.feedback = MemoryFeedback()
        self.gate = GateController(GateConfig("G1", "both", "T1"), self.recorder, self.turnstile, timing,
                                   self.feedback)
        self.gates["G1"] = self.gate
        self.gate.start()

    def events(self, kind=None):
        return [e for e in self.ledger.entries() if e.type == "gate_event"
                and (kind is None or e.event_kind == kind)]

    def close(self):
        self.gate.stop()
        self.turnstile.close()
        self.ledger.close()
