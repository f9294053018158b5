"""The fire/emergency input: the Modbus driver and the gate controller against the relay-module
emulator on a real pty (real bytes). While the input is active the gate is held open both ways;
the manual_release (operator fire_alarm) is committed once per activation, before a coil moves;
its release_ended (ref_seq = that manual_release) once the turnstile confirmed the hold's end.

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


def pairs(r):
    """The fire holds on record: [(manual_release, its release_ended or None)], in seq order."""
    fire = [e for e in r.events() if e.operator == FIRE_OPERATOR]
    ends = {e.ref_seq: e for e in fire if e.event_kind == "release_ended"}
    assert len(ends) == len([e for e in fire if e.event_kind == "release_ended"])   # one end per start
    return [(e, ends.get(e.seq)) for e in fire if e.event_kind == "manual_release"]


def test_the_holds_end_commits_one_release_ended_after_the_coils_are_released(fire_gate, emu):
    """Pins: no release_ended while the input stays active; once it has been clear for
    fire_clear_s and both coils are OFF, exactly one release_ended (operator fire_alarm, whole
    gate) referring to the activation's manual_release, committed after the last coil moved."""
    r = fire_gate
    emu.set_input(FIRE, True)
    assert wait(lambda: r.gate._fire.confirmed and both_on(emu))
    time.sleep(TIMING.fire_clear_s * 3)                            # active, well past fire_clear_s
    assert [e.event_kind for e in r.events()] == ["manual_release"]

    emu.set_input(FIRE, False)
    assert wait(lambda: r.events("release_ended"))
    [(rel, end)] = pairs(r)
    assert (end.ref_seq, end.operator, end.direction) == (rel.seq, FIRE_OPERATOR, None)
    assert end.seq > rel.seq and "fire input cleared after" in end.manual_reason
    assert not emu.coils[0] and not emu.coils[1] and not r.gate.fire_active
    last_off = [w for w in emu.coil_writes if not w.on][-1]
    assert last_off.t < r.commit_times[end.seq]                    # committed once the gate was back
    assert wait(lambda: r.feedback.keys()[-1] == "release_ended")   # shown right after the commit
    time.sleep(TIMING.fire_clear_s * 2)
    assert [e.event_kind for e in r.events()] == ["manual_release", "release_ended"]   # once


def test_a_flapping_fire_input_gives_one_pair_per_activation(fire_gate, emu):
    """Pins: each activation (input clear longer than fire_clear_s in between) is one
    manual_release followed by its own release_ended; no end is shared or repeated."""
    r = fire_gate
    for i in range(1, 4):
        emu.set_input(FIRE, True)
        assert wait(lambda: r.gate._fire.confirmed and both_on(emu))
        emu.set_input(FIRE, False)
        assert wait(lambda: len(r.events("release_ended")) == i and not r.gate.fire_active)
    assert [e.event_kind for e in r.events()] == ["manual_release", "release_ended"] * 3
    assert all(end is not None and end.seq == rel.seq + 1 for rel, end in pairs(r))
    assert r.gate._fire.activations == 3


def test_unreadable_inputs_do_not_end_the_hold_nor_record_its_end(fire_gate, emu):
    """Pins: the contact clears while the inputs cannot be read: the hold stays and no
    release_ended is committed; once the input reads clear again, the one end follows."""
    r = fire_gate
    emu.set_input(FIRE, True)
    assert wait(lambda: r.gate._fire.confirmed)
    emu.no_reply = True                                            # inputs unknown, not clear
    emu.set_input(FIRE, False)
    assert wait(lambda: r.events("fault"))
    time.sleep(TIMING.fire_clear_s * 3)
    assert r.gate.fire_active and both_on(emu) and not r.events("release_ended")
    emu.no_reply = False
    assert wait(lambda: r.events("release_ended") and not r.gate.fire_active)
    [(rel, end)] = pairs(r)
    assert end.ref_seq == rel.seq


def test_an_unconfirmed_release_is_retried_and_recorded_once_confirmed(fire_gate, emu):
    """Pins: a release the relay module does not confirm keeps the activation going (faulted,
    no release_ended); the input coming back meanwhile continues it (no second manual_release);
    the one release_ended follows the confirmed release."""
    r = fire_gate
    emu.set_input(FIRE, True)
    assert wait(lambda: r.gate._fire.confirmed and both_on(emu))
    emu.deaf_coils = True                                          # the OFF writes go unanswered
    emu.set_input(FIRE, False)
    assert wait(lambda: r.gate._fire.releasing and r.events("fault"))
    time.sleep(TIMING.fire_clear_s * 2)
    assert r.gate.fire_active and not r.events("release_ended") and both_on(emu)
    emu.set_input(FIRE, True)                                      # the alarm again, still unreleased
    emu.deaf_coils = False
    assert wait(lambda: r.gate._fire.confirmed and not r.gate._fire.releasing and both_on(emu))
    emu.deaf_coils = True
    emu.set_input(FIRE, False)
    assert wait(lambda: r.gate._fire.releasing)
    emu.deaf_coils = False
    assert wait(lambda: r.events("release_ended") and not emu.coils[0] and not emu.coils[1])
    [(rel, end)] = pairs(r)
    assert end.ref_seq == rel.seq and r.gate._fire.activations == 1
    assert not r.gate.fire_active


def test_a_restart_during_the_hold_starts_a_new_activation(tmp_path, emu):
    """Pins the documented choice: the hold cut short by a gateway restart keeps its
    manual_release without an end (nothing is guessed); the input still active after the
    restart is a new activation whose pair refers to the new manual_release."""
    r = fire_rig(tmp_path, emu.port)
    try:
        emu.set_input(FIRE, True)
        assert wait(lambda: r.gate._fire.confirmed and both_on(emu))
    finally:
        r.close()
    r = fire_rig(tmp_path, emu.port)                               # same ledger, input still active
    try:
        assert wait(lambda: r.gate._fire.confirmed and both_on(emu) and len(r.events("manual_release")) == 2)
        emu.set_input(FIRE, False)
        assert wait(lambda: r.events("release_ended") and not r.gate.fire_active)
        (first, first_end), (second, second_end) = pairs(r)
        assert first_end is None and second_end.ref_seq == second.seq > first.seq
    finally:
        r.close()
