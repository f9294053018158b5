"""Face liveness (presentation-attack detection), always on: a pure judge of a face track.

Public names:

* :func:`edge_agent.liveness.judge.create_judge` ``(cfg: LivenessConfig) -> MultiCueJudge``:
  raises when a model cannot be loaded (the gate then does not open by face).
* :class:`edge_agent.liveness.judge.MultiCueJudge` ``.judge(track, challenge=None,
  challenge_t_mono=None) -> LivenessVerdict``; malformed tracks raise
  :class:`edge_agent.liveness.frames.LivenessInputError` (a ``ValueError``).
* :class:`edge_agent.liveness.config.LivenessConfig`: ``[edge.liveness]`` thresholds (no off switch).
* :mod:`edge_agent.liveness.verdict`: ``LivenessVerdict`` (decision live|spoof|inconclusive,
  fused ``score``, deciding ``cue``, per-cue ``cues``, ``challenge``, ``suggested_challenge``),
  ``CueScore``, the ``LivenessJudge`` protocol.
* Cues, one per module: ``minifasnet`` (learned, passive), ``texture`` (glare / screen grid,
  passive), ``depth`` (3-D structure from mesh motion), ``blink`` (eye aspect ratio),
  ``micromotion`` (persistent non-rigid deformation of eyes/mouth/brows after a planar fit); the
  face mesh runs on the face crop (``mesh``).
* ``edge-agent eval liveness DIR --json``: :mod:`edge_agent.liveness.eval_liveness`.

Their result reaches the ledger through :class:`edge_agent.gate.GateDecision`
(``liveness_score``, ``liveness_cue``). Operators: docs/liveness.md.
"""
