"""The simulated turnstile: passages after an opening, turn-backs, tailgating, faults."""

from __future__ import annotations

import pytest

from edge_agent.drivers import TurnstileError, TurnstileInputs, open_turnstile


class Clock:
    def __init__(self):
        self.t = 1000.0

    def __call__(self):
        return self.t


def sim(clock, **over):
    return open_turnstile({"id": "S1", "type": "simulated", "passage_delay_ms": 1000,
                           "passage_ms": 400, "seed": 7, **over}, clock=clock)


def levels(t, clock, times):
    out = []
    for at in times:
        clock.t = 1000.0 + at
        out.append(t.read_inputs())
    return out


def test_passage_after_delay_on_the_matching_sensor():
    clock = Clock()
    t = sim(clock)
    assert t.read_inputs() == TurnstileInputs(False, False, False)
    t.open("out")
    got = levels(t, clock, [0.5, 1.1, 1.3, 1.5])
    assert [x.passage_out for x in got] == [False, True, True, False]
    assert not any(x.passage_in for x in got)
    assert t.health().state == "ok"


def test_turn_back_means_no_passage():
    clock = Clock()
    t = sim(clock, turn_back_probability=1.0)
    t.open("in")
    assert not any(x.passage_in for x in levels(t, clock, [x / 10 for x in range(40)]))


def test_tailgating_gives_two_passages_on_one_opening():
    clock = Clock()
    t = sim(clock, tailgate_probability=1.0)
    t.open("in")
    seq = [x.passage_in for x in levels(t, clock, [x / 20 for x in range(60)])]
    rising = sum(1 for a, b in zip(seq, seq[1:]) if b and not a)
    assert rising == 2


def test_fault_injection_and_link_down():
    clock = Clock()
    t = sim(clock, fault=True)
    assert t.read_inputs().fault is True
    t.set_fault(False)
    assert t.read_inputs().fault is False
    t.set_link_down(True)
    with pytest.raises(TurnstileError):
        t.read_inputs()
    with pytest.raises(TurnstileError):
        t.open("in")
    assert t.health().state == "down"
    t.set_link_down(False)
    assert t.health().state == "ok"
    with pytest.raises(ValueError, match="direction"):
        t.open("both")
