"""One pipeline per gate with a camera, built from a real config file; a broken liveness model
leaves the gate without face entry (reported down), never with face entry without liveness."""

from __future__ import annotations

import time

from edge_agent.config import load_config
from edge_agent.feedback import MemoryFeedback
from edge_agent.gate import GateRecorder
from edge_agent.gate_controller import GateController, GateControllers
from edge_agent.ledger import PunchLedger
from edge_agent.pipeline.build import build_pipelines
from pipeline_rig import LIVE, faces_path, video_frames


def write_config(tmp_path, extra: str = "") -> object:
    p = tmp_path / "edge.toml"
    p.write_text(f"""
[edge]
gateway_id = "GW-B1"
project_code = "P-B1"
gates = [{{ id = "G1", direction = "in", turnstile = "T1", camera = "CAM1" }}, {{ id = "G2", direction = "out" }}]
turnstiles = [{{ id = "T1", type = "simulated" }}]
cameras = [{{ id = "CAM1", type = "file", path = "{faces_path(LIVE)}" }}]
[edge.pipeline]
snapshot_dir = "snaps"
{extra}
""", encoding="utf-8")
    return load_config(p)


def controllers(cfg, tmp_path):
    ledger = PunchLedger(tmp_path / "ledger.db", cfg.gateway_id, cfg.project_code)
    gates = GateControllers()
    rec = GateRecorder(ledger, gates.open)
    for g in cfg.gates:
        gates[g.id] = GateController(g, rec, None, cfg.gate, MemoryFeedback())
    return gates, ledger


def test_a_pipeline_for_each_camera_gate_only(tmp_path):
    cfg = write_config(tmp_path)
    assert cfg.pipeline.snapshot_dir == str(tmp_path / "snaps")       # relative to the config file
    gates, ledger = controllers(cfg, tmp_path)
    pipes = build_pipelines(cfg, gates)
    try:
        assert list(pipes) == ["G1"]
        p = pipes["G1"]
        assert p.judge is not None and p.id == "CAM1" and p.kind == "file" and p.direction == "in"
        deadline = time.monotonic() + 10
        while p.health().state != "ok" and time.monotonic() < deadline:
            time.sleep(0.05)
        assert p.health().state == "ok"
    finally:
        for p in pipes.values():
            p.stop()
        ledger.close()


def test_a_liveness_model_that_cannot_load_means_no_face_entry(tmp_path):
    (tmp_path / "empty").mkdir()
    cfg = write_config(tmp_path, '[edge.liveness]\nmodels_dir = "empty"\n')
    gates, ledger = controllers(cfg, tmp_path)
    pipes = build_pipelines(cfg, gates)
    try:
        p = pipes["G1"]
        assert p.judge is None
        h = p.health()
        assert h.state == "down" and "liveness unavailable" in h.detail and "FileNotFoundError" in h.detail
        for f in video_frames(LIVE, 0, 10):
            p.step(f)
        entries = ledger.entries()
        assert [(e.type, e.reject_reason) for e in entries] == [("rejected", "liveness_unavailable")]
    finally:
        for p in pipes.values():
            p.stop()
        ledger.close()
