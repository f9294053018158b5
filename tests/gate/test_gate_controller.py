"""The gate state machine with the simulated turnstile on a manual clock (no sleeps, no timing races)."""

from __future__ import annotations

import pytest

from edge_agent.drivers import TurnstileError
from edge_agent.gate_controller import GateState
from gate_helpers import punch, rejected


def test_punch_commits_then_opens_then_passage_closes_the_cycle(rig):
    r = rig()
    seen_at_open = []
    real_open = r.turnstile.open

    def spy(direction):
        seen_at_open.append([e.seq for e in r.ledger.entries()])
        real_open(direction)
    r.turnstile.open = spy
    r.gate.face_seen()
    assert r.gate.state is GateState.FACE_SEEN
    e = r.gate.decide(punch())
    assert e.type == "punch" and seen_at_open == [[e.seq]]      # durable before the relay moved
    assert r.gate.state is GateState.WAIT_PASSAGE and not r.gate.ready()
    r.run(0.6)
    assert r.gate.state is GateState.PASSING
    r.run(10.0)
    assert r.gate.state is GateState.IDLE and r.gate.ready()
    assert r.events() == []                                       # passed: nothing to report
    assert r.feedback.keys() == ["please_pass", "passed"]


def test_nobody_passes_records_not_passed_once_referring_to_the_punch(rig):
    r = rig(turn_back_probability=1.0)
    e = r.gate.decide(punch("out"))
    r.run(4.9)
    assert r.events() == []                                       # still inside passage_window_s
    r.run(30.0)
    [ev] = r.events()
    assert (ev.event_kind, ev.ref_seq, ev.direction, ev.gate_id) == ("not_passed", e.seq, "out", "G1")
    assert r.gate.state is GateState.IDLE
    assert "not_passed" in r.feedback.keys()


def test_two_passages_on_one_opening_is_tailgating(rig):
    r = rig(tailgate_probability=1.0)
    e = r.gate.decide(punch())
    r.run(20.0)
    [ev] = r.events()
    assert (ev.event_kind, ev.ref_seq, ev.direction) == ("tailgating", e.seq, "in")
    assert r.feedback.keys() == ["please_pass", "passed", "tailgating"]


def test_two_punches_two_passages_is_not_tailgating(rig):
    """Regression: a second worker verified while the first still walks must consume their own
    opening (pulse-counting turnstile), not be reported as tailgating or leave a not_passed."""
    r = rig()
    r.gate.decide(punch(worker="W0001"))
    r.run(0.7)                                                    # first person in the passage
    r.gate.decide(punch(worker="W0002"))
    r.run(20.0)
    assert r.events() == []


def test_sensor_held_active_records_door_held_once(rig):
    r = rig(passage_ms=20000)
    r.gate.decide(punch())
    r.run(30.0)
    assert [ev.event_kind for ev in r.events()] == ["door_held"]
    assert r.events()[0].direction == "in"


def test_fault_refuses_face_entry_records_fault_once_and_fault_cleared(rig):
    r = rig()
    r.run(0.2)
    r.turnstile.set_fault(True)
    r.run(3.0)
    r.run(3.0)
    assert [ev.event_kind for ev in r.events()] == ["fault"]      # once, however many polls
    assert r.gate.state is GateState.FAULT
    e = r.gate.decide(punch())
    assert (e.type, e.reject_reason, e.kind, e.worker_ref) == ("rejected", "gate_fault", None, "W0001")
    assert r.turnstile.opens == []                                # the gate did not open
    assert r.feedback.keys()[-1] == "gate_fault"
    r.turnstile.set_fault(False)
    r.run(1.0)
    assert r.gate.state is GateState.FAULT                        # not healthy for fault_clear_s yet
    r.run(2.0)
    assert [ev.event_kind for ev in r.events()] == ["fault", "fault_cleared"]
    e2 = r.gate.decide(punch())
    assert e2.type == "punch" and len(r.turnstile.opens) == 1


def test_driver_down_is_seen_at_the_decision_even_before_a_poll(rig):
    """Regression: a punch arriving between two polls right after the link died must not open."""
    r = rig()
    r.turnstile.set_link_down(True)
    e = r.gate.decide(punch())
    assert e.reject_reason == "gate_fault" and r.turnstile.opens == []
    assert [ev.event_kind for ev in r.events()] == ["fault"]
    r.run(1.0)                                                    # polls fail: still one fault event
    assert [ev.event_kind for ev in r.events()] == ["fault"]


def test_open_raising_faults_the_gate_and_the_punch_is_not_passed(rig):
    r = rig()

    def broken(direction):
        raise TurnstileError("no reply")
    r.turnstile.open = broken
    e = r.gate.decide(punch())
    assert e.type == "punch"                                      # committed before the attempt
    assert r.gate.state is GateState.FAULT
    assert "gate_fault" in r.feedback.keys() and "please_pass" not in r.feedback.keys()
    r.run(10.0)                                                   # healthy polls: clears after 2 s
    kinds = [(ev.event_kind, ev.ref_seq) for ev in r.events()]
    assert kinds == [("fault", None), ("fault_cleared", None), ("not_passed", e.seq)]


def test_manual_release_while_faulted_is_committed_before_the_relay_moves(rig):
    r = rig(tailgate_probability=1.0)
    r.turnstile.set_fault(True)
    r.run(0.5)
    seen_at_open = []
    real_open = r.turnstile.open

    def spy(direction):
        seen_at_open.append([(e.seq, e.event_kind) for e in r.ledger.entries()])
        real_open(direction)
    r.turnstile.open = spy
    rel = r.gate.manual_release("out", "supervisor-li", "fire drill")
    assert (rel.event_kind, rel.operator, rel.manual_reason, rel.direction) == \
        ("manual_release", "supervisor-li", "fire drill", "out")
    assert seen_at_open == [[(1, "fault"), (rel.seq, "manual_release")]]
    assert r.turnstile.opens[-1][1] == "out"
    r.run(20.0)
    # several people passed on the release: no tailgating, no not_passed, no door_held
    assert [ev.event_kind for ev in r.events()] == ["fault", "manual_release"]
    assert r.gate.state is GateState.FAULT                        # the fault is still there


def test_manual_release_needs_who_and_why_and_opens_nothing_without(rig):
    r = rig()
    with pytest.raises(ValueError):
        r.gate.manual_release("in", "", "fire")
    assert r.turnstile.opens == [] and r.events() == []


def test_verdict_timeout_prompts_and_returns_to_idle(rig):
    r = rig()
    r.gate.face_seen()
    r.run(2.9)
    assert r.gate.state is GateState.FACE_SEEN
    r.run(0.2)
    assert r.gate.state is GateState.IDLE
    assert r.feedback.keys() == ["look_at_camera"]
    assert r.ledger.entries() == []


@pytest.mark.parametrize("reason, cue, key", [("not_enrolled", "blink", "not_enrolled"),
                                              ("liveness_failed", "blink", "blink"),
                                              ("liveness_failed", "head_turn", "turn_head"),
                                              ("low_match_score", "blink", "look_at_camera")])
def test_rejected_attempts_are_recorded_prompt_and_never_open(rig, reason, cue, key):
    r = rig()
    e = r.gate.decide(rejected(reason, cue))
    assert e.type == "rejected" and e.reject_reason == reason
    assert r.turnstile.opens == [] and r.feedback.keys() == [key]
    r.run(10.0)
    assert r.events() == []


def test_feedback_failure_never_stops_the_gate(rig):
    r = rig()

    def broken(*a, **k):
        raise OSError("display unplugged")
    r.gate.feedback.show = broken
    e = r.gate.decide(punch())
    assert e.type == "punch" and len(r.turnstile.opens) == 1


def test_gate_without_turnstile_only_records(tmp_path):
    from edge_agent.config import GateConfig
    from edge_agent.gate import GateRecorder
    from edge_agent.gate_controller import GateController, GateControllers
    from edge_agent.ledger import PunchLedger
    led = PunchLedger(tmp_path / "l.db", "GW-T1", "P-TEST")
    gates = GateControllers()
    rec = GateRecorder(led, gates.open)
    gates["G1"] = GateController(GateConfig("G1"), rec, None)
    try:
        e = gates["G1"].decide(punch())
        gates["G1"].tick()
        assert e.type == "punch" and gates["G1"].ready() and len(led.entries()) == 1
        with pytest.raises(ValueError):
            gates["G1"].manual_release("in", "op", "fire")
    finally:
        led.close()
