"""The fire/emergency input: the Modbus driver and the gate controller against the relay-module
emulator on a real pty (real bytes). While the input is active the gate is held open both ways;
the manual_release (operator fire_alarm) is committed once per activation, before a coil moves.

Real time (a real tty): every wait is a generous poll, never a timing assert.
"""

from __future__ import annotations

import time

import pytest

from edge_agent.config import GateTimingConfig
from edge_agent.drivers import TurnstileInputs, open_turnstile
from edge_agent.drivers.config import decode_turnstile
from edge_agent.drivers.emulators.modbus_relay import ModbusRelayEmulator
from edge_agent.gate_controller import GateState
from edge_agent.gate_release import FIRE_OPERATOR
from gate_helpers import HwRig, punch, wait
from shared_schema.wire import DecodeError

TIMING = GateTimingConfig(passage_window_s=1.0, tailgate_window_s=0.3, door_held_s=0.5,
                          fault_clear_s=0.2, open_timeout_s=5.0, poll_interval_s=0.02, fire_clear_s=0.3)
FAST = {"timeout_ms": 100, "retries": 1, "reconnect_interval_s": 0.05, "pulse_ms": 100}
FIRE = 3          # discrete input wired to the fire panel (NO contact: closed = alarm)


class CoilDeafEmulator(ModbusRelayEmulator):
    """A module whose inputs still answer while its coil writes go unanswered (and unexecuted):
    the fire input is read, the hold cannot be confirmed."""
    deaf_coils = False

    def _execute(self, pdu, t):
        if self.deaf_coils and pdu[0] == 0x05:
            return None
        return super()._execute(pdu, t)


def fire_rig(tmp_path, port, **over) -> HwRig:
    return HwRig(tmp_path, {"id": "T1", "type": "modbus_rtu", "port": port, **FAST,
                            "input_fire": FIRE, "fire_contact": "no", **over}, TIMING)


@pytest.fixture
def emu(tmp_path):
    e = CoilDeafEmulator(tmp_path / "ttyRS485", device_id=1)
    e.set_input(2, True)                   # NC fault contact closed: healthy
    with e:
        yield e


@pytest.fixture
def fire_gate(tmp_path, emu):
    r = fire_rig(tmp_path, emu.port)
    assert wait(lambda: r.turnstile.health().state == "ok" and r.gate.fault is None)
    yield r
    r.close()


def both_on(emu):
    return emu.coils[0] and emu.coils[1]


def test_driver_reads_the_fire_input_with_its_contact_polarity(tmp_path, emu):
    t = open_turnstile({"id": "T1", "type": "modbus_rtu", "port": emu.port, **FAST,
                        "input_fire": FIRE, "fire_contact": "nc"})
    try:
        assert t.has_fire_input
        assert t.read_inputs() == TurnstileInputs(False, False, False, fire=True)   # NC open = alarm
        emu.set_input(FIRE, True)
        assert t.read_inputs().fire is False
    finally:
        t.close()
    t = open_turnstile({"id": "T1", "type": "modbus_rtu", "port": emu.port, **FAST})
    try:
        assert not t.has_fire_input and t.read_inputs().fire is None    # not wired: unknown
    finally:
        t.close()


def test_fire_input_config_is_checked():
    base = {"id": "T1", "type": "modbus_rtu", "fire_contact": "no"}
    with pytest.raises(DecodeError, match="must differ"):
        decode_turnstile({**base, "input_fire": 2})               # the fault contact's address
    with pytest.raises(DecodeError, match="2000"):
        decode_turnstile({**base, "input_fire": 5000})
    with pytest.raises(DecodeError, match="fire_contact"):
        decode_turnstile({**base, "fire_contact": "yes"})
    with pytest.raises(DecodeError, match="input_fire"):
        decode_turnstile({**base, "input_fire": -1})
    assert decode_turnstile({"id": "T1", "type": "modbus_rtu", "input_fire": 2}).fire_contact == "none"


def test_fire_holds_both_ways_open_committed_first_once_and_ends_when_clear(fire_gate, emu):
    r = fire_gate
    n = len(emu.coil_writes)
    emu.set_input(FIRE, True)
    assert wait(lambda: both_on(emu) and r.gate.fire_active and r.gate._fire.confirmed)
    [rel] = r.events()
    assert (rel.event_kind, rel.operator, rel.direction) == ("manual_release", FIRE_OPERATOR, None)
    assert rel.manual_reason and "fire" in rel.manual_reason
    first_on = next(w for w in emu.coil_writes[n:] if w.on)
    assert first_on.t > r.commit_times[rel.seq]                   # the coil moved after the commit
    assert r.gate.state is GateState.FIRE_RELEASE
    assert r.turnstile.health().state == "ok" and "held ON" in r.turnstile.health().detail
    assert "manual_release" in r.feedback.keys()

    # everyone walks out: no tailgating, no door_held; a punch still records, nothing is pulsed OFF
    for _ in range(3):
        emu.set_input(1, True)
        time.sleep(0.1)
        emu.set_input(1, False)
        time.sleep(0.05)
    emu.set_input(0, True)
    time.sleep(TIMING.door_held_s + 0.3)                          # well past door_held_s
    emu.set_input(0, False)
    writes = len(emu.coil_writes)
    e = r.gate.decide(punch("in"))
    assert e.type == "punch" and both_on(emu)
    assert not any(not w.on for w in emu.coil_writes[writes:])    # no pulse OFF during the hold
    time.sleep(0.3)
    assert [ev.event_kind for ev in r.events()] == ["manual_release"]   # once per activation

    emu.set_input(FIRE, False)
    assert wait(lambda: not r.gate.fire_active and not emu.coils[0] and not emu.coils[1]
                and "held" not in r.turnstile.health().detail)
    assert r.gate.state is not GateState.FIRE_RELEASE
    assert r.turnstile.health().state == "ok"
    # back to normal: a punch pulses again
    writes = len(emu.coil_writes)
    r.gate.decide(punch("out"))
    assert [(w.address, w.on) for w in emu.coil_writes[writes:]] == [(1, True), (1, False)]

    emu.set_input(FIRE, True)                                      # a second activation: a second event
    assert wait(lambda: len(r.events("manual_release")) == 2 and both_on(emu))
    assert r.gate._fire.activations == 2


def test_a_chattering_fire_contact_is_one_activation(fire_gate, emu):
    r = fire_gate
    emu.set_input(FIRE, True)
    assert wait(lambda: r.gate.fire_active and both_on(emu))
    for _ in range(4):                                             # off for less than fire_clear_s
        emu.set_input(FIRE, False)
        time.sleep(0.08)
        emu.set_input(FIRE, True)
        time.sleep(0.08)
    assert r.gate.fire_active and both_on(emu)
    assert len(r.events("manual_release")) == 1


def test_unconfirmed_hold_is_a_fault_and_is_retried_without_a_second_event(fire_gate, emu):
    r = fire_gate
    emu.deaf_coils = True                                          # coil writes go unanswered
    emu.set_input(FIRE, True)
    assert wait(lambda: r.events("manual_release") and r.events("fault"))
    assert r.gate.fire_active and not r.gate._fire.confirmed and not emu.coils[0]
    assert r.turnstile.health().state != "ok"
    emu.deaf_coils = False
    assert wait(lambda: r.gate._fire.confirmed and both_on(emu))
    assert wait(lambda: r.events("fault_cleared"))
    assert len(r.events("manual_release")) == 1


def test_hold_is_reasserted_after_the_module_comes_back_without_its_coils(fire_gate, emu):
    """The relay module lost power (and its coil state) during the hold: on reconnect the driver
    switches the held coils ON again rather than OFF."""
    r = fire_gate
    emu.set_input(FIRE, True)
    assert wait(lambda: r.gate._fire.confirmed and both_on(emu))
    emu.vanish()
    assert wait(lambda: r.turnstile.health().state == "down")
    emu.coils[0] = emu.coils[1] = False                            # power lost with the port
    emu.reappear()
    assert wait(lambda: both_on(emu) and r.turnstile.health().state == "ok")
    assert r.gate.fire_active and len(r.events("manual_release")) == 1


def test_unreadable_inputs_do_not_end_the_hold(fire_gate, emu):
    r = fire_gate
    emu.set_input(FIRE, True)
    assert wait(lambda: r.gate._fire.confirmed)
    emu.no_reply = True                                            # inputs unknown, not clear
    assert wait(lambda: r.events("fault"))
    time.sleep(TIMING.fire_clear_s + 0.3)
    assert r.gate.fire_active and both_on(emu)


def test_supervisor_release_during_fire_is_recorded_and_keeps_the_hold(fire_gate, emu):
    r = fire_gate
    emu.set_input(FIRE, True)
    assert wait(lambda: r.gate._fire.confirmed)
    rel = r.gate.manual_release("in", "guard-wang", "ambulance crew")
    assert (rel.operator, rel.direction) == ("guard-wang", "in")
    assert both_on(emu)                                            # held: not pulsed OFF
    assert [e.operator for e in r.events("manual_release")] == [FIRE_OPERATOR, "guard-wang"]


def test_fire_release_commit_fails_gate_opens_anyway(tmp_path, emu):
    """Fail-safe: a ledger that cannot commit must not keep a fire exit shut."""
    r = fire_rig(tmp_path, emu.port)
    try:
        assert wait(lambda: r.turnstile.health().state == "ok")
        r.ledger._conn.close()                                     # the disk is gone
        emu.set_input(FIRE, True)
        assert wait(lambda: both_on(emu) and r.gate.fire_active)
    finally:
        r.gate.stop()
        r.turnstile.close()
