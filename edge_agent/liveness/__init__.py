"""Face liveness checks (camera cues, scores) will live here (separate issue).

Their result reaches the ledger through :class:`edge_agent.gate.GateDecision`
(``liveness_score``, ``liveness_cue``).
"""
