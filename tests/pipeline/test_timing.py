"""The gate controller's verdict timeout and the pipeline's decision timing are consistent.

Regression (issue 3): the controller's verdict_timeout_s (5 s) was shorter than the pipeline's
decision_deadline_s + challenge_timeout_s (1 + 5 s), so a worker still performing a liveness
challenge was told "请正视摄像头" and the gate went back to idle under him.
"""

from __future__ import annotations

import dataclasses

import pytest

from edge_agent.config import ConfigError, GateTimingConfig, load_config
from edge_agent.pipeline.config import VERDICT_MARGIN_S, PipelineConfig, verdict_timeout_problem
from pipeline_rig import LIVE, SUBJECT, TIMING, enroll_from_video, make_gallery, video_frames

CAMERA_GATE = """
[edge]
gateway_id = "GW-T1"
project_code = "P-TEST"
gates = [{{ id = "G1", direction = "in", camera = "C1" }}]

[[edge.cameras]]
id = "C1"
type = "file"
path = "gate.mp4"

[edge.gate]
verdict_timeout_s = {verdict}

[edge.pipeline]
decision_deadline_s = {deadline}
challenge_timeout_s = {challenge}
"""


def write(tmp_path, text):
    p = tmp_path / "edge.toml"
    p.write_text(text, encoding="utf-8")
    return p


def test_the_defaults_are_consistent():
    assert verdict_timeout_problem(GateTimingConfig().verdict_timeout_s, PipelineConfig()) is None


def test_a_verdict_timeout_shorter_than_a_challenge_is_a_load_error_naming_the_keys(tmp_path):
    """The old defaults (5 s against 1 + 5 s) are refused at load, with the keys named."""
    with pytest.raises(ConfigError) as exc:
        load_config(write(tmp_path, CAMERA_GATE.format(verdict=5.0, deadline=1.0, challenge=5.0)))
    msg = str(exc.value)
    for key in ("gate.verdict_timeout_s", "pipeline.decision_deadline_s", "pipeline.challenge_timeout_s"):
        assert key in msg
    # a longer challenge needs a longer verdict timeout too
    with pytest.raises(ConfigError, match="verdict_timeout_s"):
        load_config(write(tmp_path, CAMERA_GATE.format(verdict=8.0, deadline=1.0, challenge=7.0)))


def test_exactly_enough_loads(tmp_path):
    need = 2.0 + 4.0 + VERDICT_MARGIN_S
    cfg = load_config(write(tmp_path, CAMERA_GATE.format(verdict=need, deadline=2.0, challenge=4.0)))
    assert cfg.gate.verdict_timeout_s == need


def test_without_a_camera_gate_the_pipeline_timing_does_not_apply(tmp_path):
    text = CAMERA_GATE.format(verdict=2.0, deadline=1.0, challenge=5.0)
    text = text.replace(', camera = "C1"', "")
    assert load_config(write(tmp_path, text)).gate.verdict_timeout_s == 2.0


def test_a_pipeline_refuses_a_controller_that_would_time_out_during_a_challenge(rig, backend, judge, roster):
    """The check also holds for pipelines built without load_config (tests, bench, embedding)."""
    import pipeline_rig
    old = pipeline_rig.TIMING
    pipeline_rig.TIMING = dataclasses.replace(TIMING, verdict_timeout_s=5.0)
    try:
        with pytest.raises(ValueError, match="verdict_timeout_s"):
            rig(backend, judge, make_gallery(roster))
    finally:
        pipeline_rig.TIMING = old


def test_no_look_at_camera_prompt_while_a_challenge_is_pending(rig, backend, judge, roster):
    """From frame 99 on the live video the passive cues stay inconclusive (profile views), so the
    pipeline challenges the worker; the rest of the recording (> 5 s after the face was first seen)
    passes while the challenge is pending, and the gate never says "请正视摄像头" meanwhile."""
    templates = enroll_from_video(backend, LIVE, 183, 199)
    r = rig(backend, judge, make_gallery({**roster, SUBJECT: templates}))
    frames = list(video_frames(LIVE, 99, 183))
    r.play(frames)
    keys = r.feedback.keys()
    challenges = [k for k in keys if k in ("blink", "turn_head")]
    assert challenges, keys
    first_face = next(f.t_mono for f, rep in zip(frames, r.reports) if rep.phase is not None)
    assert frames[-1].t_mono - first_face > 5.0        # longer than the old verdict timeout
    after = keys[keys.index(challenges[0]):]
    assert "look_at_camera" not in after, keys
