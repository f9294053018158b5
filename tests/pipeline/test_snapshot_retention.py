"""[edge.retention] snapshot_days really prunes the folder the gate pipeline writes its snapshots to
(the same path from one config file, the store's own day-folder layout, real JPEG files)."""

from __future__ import annotations

import os
import time

from edge_agent.config import load_config
from edge_agent.feedback import MemoryFeedback
from edge_agent.gate import GateRecorder
from edge_agent.gate_controller import GateController, GateControllers
from edge_agent.ledger import PunchLedger
from edge_agent.pipeline.build import build_pipelines
from edge_agent.retention import RetentionJobs
from edge_agent.vision.images import read_image
from pipeline_rig import FACES, LIVE, faces_path

DAY = 86400.0


def test_retention_prunes_the_pipelines_snapshot_folder(tmp_path, backend):
    p = tmp_path / "etc" / "edge.toml"
    p.parent.mkdir()
    p.write_text(f"""
[edge]
gateway_id = "GW-R1"
project_code = "P-R1"
gates = [{{ id = "G-1", direction = "in", camera = "CAM1" }}]
cameras = [{{ id = "CAM1", type = "file", path = "{faces_path(LIVE)}" }}]
[edge.pipeline]
snapshot_dir = "snaps"
[edge.retention]
snapshot_days = 30
""", encoding="utf-8")
    cfg = load_config(p)
    ledger = PunchLedger(tmp_path / "ledger.db", cfg.gateway_id, cfg.project_code)
    gates = GateControllers()
    gates["G-1"] = GateController(cfg.gates[0], GateRecorder(ledger, gates.open), None, cfg.gate, MemoryFeedback())
    pipes = build_pipelines(cfg, gates)
    try:
        store = pipes["G-1"].snapshots
        img = read_image(FACES / "spoof" / "real" / "live_silentface_T1.jpg")
        face = backend.detect(img)[0]
        now = time.time()
        old = store.save(img, face, "G-1", now - 40 * DAY)
        edge = store.save(img, face, "G-1", now - 29 * DAY)
        new = store.save(img, face, "G-1", now)
        assert all(store.path(r).is_file() for r in (old, edge, new))
        assert store.path(old).parent.parent == tmp_path / "etc" / "snaps"
        # an interrupted write (the store's temp name) left behind two hours ago
        stale = store.path(new).with_suffix(".tmp")
        stale.write_bytes(b"\xff\xd8 half a jpeg")
        os.utime(stale, (now - 7200, now - 7200))

        jobs = RetentionJobs(ledger, 3600.0, cfg.pipeline.snapshot_dir, cfg.retention)   # as the agent builds it
        assert jobs.prune_snapshots() == 2
        assert not store.path(old).exists() and not store.path(old).parent.exists()
        assert store.path(edge).is_file() and store.path(new).is_file()
        assert not stale.exists()
    finally:
        for pipe in pipes.values():
            pipe.camera.close()
        ledger.close()
