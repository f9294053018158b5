"""The gate controller through the OSDP driver, against a libosdp PD on a real pty (secure channel on):
commit before the output moves, passage from the PD's input reports, fire input holds the gate open,
feedback on the reader's LED and buzzer."""

from __future__ import annotations

import time

import osdp
import pytest

from edge_agent.config import GateConfig, GateTimingConfig
from edge_agent.drivers import open_turnstile
from edge_agent.drivers.osdp_emulator import OsdpPdEmulator
from edge_agent.feedback import MemoryFeedback, MultiFeedback
from edge_agent.gate import GateDecision, GateRecorder
from edge_agent.gate_controller import GateController, GateControllers
from edge_agent.gate_release import FIRE_OPERATOR
from edge_agent.ledger import PunchLedger
from edge_agent.reader_feedback import ReaderFeedback, signalling
from tests.drivers.helpers import wait

KEY = bytes.fromhex("0f1e2d3c4b5a69788796a5b4c3d2e1f0")
TIMING = GateTimingConfig(passage_window_s=1.5, tailgate_window_s=0.3, door_held_s=30.0, fault_clear_s=0.2,
                          open_timeout_s=5.0, poll_interval_s=0.02, fire_clear_s=0.3)


def punch(direction="in"):
    return GateDecision(gate_id="G1", direction=direction, worker_ref="W0001", kind="work",
                        match_score=0.95, liveness_score=0.9, liveness_cue="blink")


@pytest.fixture
def rig(tmp_path):
    key_file = tmp_path / "scbk.hex"
    key_file.write_text(KEY.hex())
    pd = OsdpPdEmulator(tmp_path / "ttyOSDP", address=1, scbk=KEY).start()
    turnstile = open_turnstile({"id": "T1", "type": "osdp", "port": pd.port, "address": 1,
                                "scbk_file": str(key_file), "input_passage_in": 0, "input_passage_out": 1,
                                "input_fault": 2, "input_fire": 3, "pulse_ms": 200,
                                "reconnect_interval_s": 0.1})
    ledger = PunchLedger(tmp_path / "ledger.db", "GW-T1", "P-TEST")
    gates = GateControllers()
    recorder = GateRecorder(ledger, gates.open)
    commits: dict[int, float] = {}
    recorder.on_committed(lambda e: commits.setdefault(e.seq, time.monotonic()))
    shown = MemoryFeedback()
    gate_cfg = GateConfig("G1", "both", "T1")
    readers = signalling({"T1": turnstile}, [gate_cfg])
    gate = GateController(gate_cfg, recorder, turnstile, TIMING, MultiFeedback(shown, ReaderFeedback(readers)))
    gates["G1"] = gate
    assert wait(lambda: turnstile.health().state == "ok", timeout=15)
    gate.start()
    pd.report_inputs()                                   # the PD's first input status report
    assert wait(lambda: gate.fault is None and turnstile.read_inputs().fault is False, timeout=10)

    class R:
        pass
    r = R()
    r.pd, r.t, r.ledger, r.gate, r.commits, r.shown, r.readers = pd, turnstile, ledger, gate, commits, shown, readers
    r.events = lambda kind=None: [e for e in ledger.entries() if e.type == "gate_event"
                                  and (kind is None or e.event_kind == kind)]
    yield r
    gate.stop()
    turnstile.close()
    ledger.close()
    pd.stop()


def test_punch_commits_then_pulses_and_a_reported_passage_means_no_not_passed(rig):
    assert set(rig.readers) == {"G1"}
    e = rig.gate.decide(punch("in"))
    on = next(c for c in rig.pd.outputs if c.control_code == 5)
    assert on.output == 0 and on.t > rig.commits[e.seq]
    assert rig.pd.wait_for(lambda: rig.pd.leds)                  # "please pass" on the reader
    assert rig.pd.leds[-1]["on_color"] == osdp.CommandLEDColor.Green
    rig.pd.set_input(0, True)
    assert wait(lambda: "passed" in rig.shown.keys())
    rig.pd.set_input(0, False)
    time.sleep(TIMING.passage_window_s + 0.5)
    assert rig.events() == []


def test_no_passage_reported_is_not_passed(rig):
    e = rig.gate.decide(punch("out"))
    assert wait(lambda: rig.events("not_passed"))
    assert rig.events()[0].ref_seq == e.seq


def test_fault_input_refuses_entry_with_a_red_reader(rig):
    rig.pd.set_input(2, True)
    assert wait(lambda: rig.events("fault"))
    n = len(rig.pd.outputs)
    assert rig.gate.decide(punch()).reject_reason == "gate_fault"
    assert len(rig.pd.outputs) == n
    assert rig.pd.wait_for(lambda: any(c["on_color"] == osdp.CommandLEDColor.Red for c in rig.pd.leds))


def test_fire_input_holds_both_outputs_on_committed_first(rig):
    rig.pd.set_input(3, True)
    assert wait(lambda: rig.gate.fire_active and rig.pd.output_on(0) and rig.pd.output_on(1))
    [rel] = rig.events("manual_release")
    assert rel.operator == FIRE_OPERATOR and rel.direction is None
    first = next(c for c in rig.pd.outputs if c.control_code == 2)
    assert first.t > rig.commits[rel.seq]
    rig.pd.set_input(3, False)
    assert wait(lambda: not rig.gate.fire_active and not rig.pd.output_on(0) and not rig.pd.output_on(1))
    assert len(rig.events("manual_release")) == 1
