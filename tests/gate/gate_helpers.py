"""Decisions for the gate tests."""

from __future__ import annotations

from edge_agent.gate import GateDecision


def punch(direction="in", gate="G1", worker="W0001"):
    return GateDecision(gate_id=gate, direction=direction, worker_ref=worker, kind="work",
                        match_score=0.95, liveness_score=0.9, liveness_cue="blink")


def rejected(reason, cue="blink", gate="G1"):
    return GateDecision(gate_id=gate, direction="in", type="rejected", reject_reason=reason,
                        worker_ref=None if reason == "not_enrolled" else "W0002", liveness_cue=cue)
