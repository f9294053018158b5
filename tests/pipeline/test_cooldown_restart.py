"""The cool-down survives a restart: it is rebuilt from the ledger's recent punches.

Regression (issue 3): the cool-down lived in memory only, so a worker who punched 30 s before the
agent restarted could punch again right after it.
"""

from __future__ import annotations

import time

from edge_agent.config import load_config
from edge_agent.feedback import MemoryFeedback
from edge_agent.gate import GateDecision, GateRecorder
from edge_agent.gate_controller import GateController, GateControllers
from edge_agent.ledger import PunchLedger
from edge_agent.pipeline.build import build_pipelines
from edge_agent.pipeline.cooldown import Cooldown
from pipeline_rig import LIVE, faces_path


def punch(ledger, worker: str, gate: str = "G1") -> None:
    rec = GateRecorder(ledger, None)
    rec.record(GateDecision(gate_id=gate, direction="in", type="punch", worker_ref=worker, kind="work"))


def reject(ledger, worker: str) -> None:
    GateRecorder(ledger, None).record(GateDecision(gate_id="G1", direction="in", type="rejected", worker_ref=worker,
                                                   reject_reason="liveness_failed"))


def test_a_punch_before_a_restart_still_counts_after_it(tmp_path):
    path = tmp_path / "ledger.db"
    ledger = PunchLedger(path, "GW-C1", "P-C1")
    punch(ledger, "W0001")
    reject(ledger, "W0002")            # a rejected attempt is no punch: no cool-down
    ledger.close()
    # "restart": a new process opens the same file
    ledger = PunchLedger(path, "GW-C1", "P-C1")
    cd = Cooldown(120.0)
    assert cd.restore(ledger) == 1
    assert cd.recent("W0001") and not cd.recent("W0002") and not cd.recent("W0003")
    ledger.close()


def test_punches_older_than_the_cooldown_do_not_count(tmp_path):
    ledger = PunchLedger(tmp_path / "ledger.db", "GW-C1", "P-C1")
    punch(ledger, "W0001")
    later = time.time() + 200.0, time.monotonic_ns() / 1e9 + 200.0     # 200 s after the punch
    cd = Cooldown(120.0)
    assert cd.restore(ledger, now_wall=later[0], now_mono=later[1]) == 0
    assert not cd.recent("W0001")
    # 30 s after it: still within the cool-down, and the remaining time is what is left of it
    t = [0.0]
    cd = Cooldown(120.0, clock=lambda: t[0])
    assert cd.restore(ledger, now_wall=later[0] - 170.0, now_mono=later[1] - 170.0) == 1
    assert cd.recent("W0001")
    t[0] = 89.0
    assert cd.recent("W0001")
    t[0] = 91.0                          # 30 + 91 > 120
    assert not cd.recent("W0001")
    ledger.close()


def test_a_punch_from_another_boot_is_aged_by_its_wall_clock(tmp_path, monkeypatch):
    """After a reboot the monotonic readings are from another clock: device_time is used."""
    import edge_agent.ledger as ledger_mod
    ledger = PunchLedger(tmp_path / "ledger.db", "GW-C1", "P-C1")
    punch(ledger, "W0001")
    monkeypatch.setattr(ledger_mod, "BOOT_ID", "00000000-0000-0000-0000-000000000000")
    cd = Cooldown(120.0)
    # a monotonic "now" that would make the punch look ancient must be ignored for this entry
    assert cd.restore(ledger, now_mono=1e9) == 1 and cd.recent("W0001")
    assert Cooldown(120.0).restore(ledger, now_wall=time.time() + 121.0, now_mono=1e9) == 0
    ledger.close()


def test_only_the_recent_tail_of_a_long_ledger_is_read(tmp_path):
    ledger = PunchLedger(tmp_path / "ledger.db", "GW-C1", "P-C1")
    for i in range(300):
        punch(ledger, f"W{i:04d}")
    calls = []
    real = ledger.entries

    def spy(first=1):
        calls.append(first)
        return real(first)
    ledger.entries = spy
    cd = Cooldown(120.0)
    assert cd.restore(ledger) == 300          # all within the cool-down: the whole ledger is read
    assert calls[-1] == 1
    calls.clear()
    assert Cooldown(120.0).restore(ledger, now_wall=time.time() + 500, now_mono=time.monotonic() + 500) == 0
    assert calls == [300 - 64 + 1]            # everything is old: one look at the tail suffices
    ledger.close()


def test_build_pipelines_restores_the_cooldown_from_the_gateways_ledger(tmp_path):
    p = tmp_path / "edge.toml"
    p.write_text(f"""
[edge]
gateway_id = "GW-C1"
project_code = "P-C1"
gates = [{{ id = "G1", direction = "in", camera = "CAM1" }}]
cameras = [{{ id = "CAM1", type = "file", path = "{faces_path(LIVE)}" }}]
""", encoding="utf-8")
    cfg = load_config(p)
    ledger = PunchLedger(tmp_path / "ledger.db", cfg.gateway_id, cfg.project_code)
    punch(ledger, "W0007")
    ledger.close()
    ledger = PunchLedger(tmp_path / "ledger.db", cfg.gateway_id, cfg.project_code)     # restart
    gates = GateControllers()
    rec = GateRecorder(ledger, gates.open)
    gates["G1"] = GateController(cfg.gates[0], rec, None, cfg.gate, MemoryFeedback())
    pipes = build_pipelines(cfg, gates)
    try:
        assert pipes["G1"].cooldown.recent("W0007")
        assert not pipes["G1"].cooldown.recent("W0008")
    finally:
        for pipe in pipes.values():
            pipe.camera.close()
        ledger.close()
