"""The controller through the real serial drivers, against the pty emulators (real bytes).

Real time here (the drivers talk to a real tty): every wait is a generous poll, never a
timing assert.
"""

from __future__ import annotations

import time

import pytest

from edge_agent.config import GateTimingConfig
from edge_agent.drivers.emulators.modbus_relay import ModbusRelayEmulator
from edge_agent.drivers.emulators.usb_relay import UsbRelayEmulator
from gate_helpers import HwRig, punch, wait

TIMING = GateTimingConfig(passage_window_s=1.0, tailgate_window_s=0.3, door_held_s=30.0,
                          fault_clear_s=0.2, open_timeout_s=5.0, poll_interval_s=0.02)
FAST = {"timeout_ms": 100, "retries": 2, "reconnect_interval_s": 0.05, "pulse_ms": 100}


@pytest.fixture
def modbus_emu(tmp_path):
    emu = ModbusRelayEmulator(tmp_path / "ttyRS485", device_id=1)
    emu.set_input(2, True)                 # NC fault contact closed: healthy
    with emu:
        yield emu


@pytest.fixture
def modbus_gate(tmp_path, modbus_emu):
    r = HwRig(tmp_path, {"id": "T1", "type": "modbus_rtu", "port": modbus_emu.port, **FAST}, TIMING)
    assert wait(lambda: r.turnstile.health().state == "ok" and r.gate.fault is None)
    yield r
    r.close()


def test_modbus_punch_pulses_after_commit_and_a_passage_means_no_not_passed(modbus_gate, modbus_emu):
    r = modbus_gate
    n_writes = len(modbus_emu.coil_writes)
    e = r.gate.decide(punch("in"))
    ons = [w for w in modbus_emu.coil_writes[n_writes:] if w.on]
    assert [w.address for w in ons] == [0]                       # coil_open_in, once
    assert ons[0].t > r.commit_times[e.seq]                        # the coil moved after the commit
    assert not modbus_emu.coils[0]                                 # and is OFF again
    modbus_emu.set_input(0, True)                                  # the worker walks through
    assert wait(lambda: "passed" in r.feedback.keys())
    modbus_emu.set_input(0, False)
    assert wait(r.gate.ready)
    time.sleep(TIMING.passage_window_s + 0.3)                      # well past the window
    assert r.events() == []


def test_modbus_no_passage_records_not_passed(modbus_gate, modbus_emu):
    r = modbus_gate
    e = r.gate.decide(punch("out"))
    assert any(w.on and w.address == 1 for w in modbus_emu.coil_writes)
    assert wait(lambda: r.events("not_passed"))
    [ev] = r.events()
    assert (ev.event_kind, ev.ref_seq, ev.direction) == ("not_passed", e.seq, "out")


def test_modbus_fault_contact_refuses_entry_and_the_coil_never_moves(modbus_gate, modbus_emu):
    r = modbus_gate
    modbus_emu.set_input(2, False)                                 # NC contact opened: turnstile alarm
    assert wait(lambda: r.events("fault"))
    before = len(modbus_emu.coil_writes)
    e = r.gate.decide(punch("in"))
    assert e.reject_reason == "gate_fault"
    assert not any(w.on for w in modbus_emu.coil_writes[before:])
    rel = r.gate.manual_release("in", "guard-wang", "ambulance")   # still works while faulted
    ons = [w for w in modbus_emu.coil_writes[before:] if w.on]
    assert [w.address for w in ons] == [0] and ons[0].t > r.commit_times[rel.seq]
    modbus_emu.set_input(2, True)
    assert wait(lambda: r.events("fault_cleared"))
    assert [ev.event_kind for ev in r.events()] == ["fault", "manual_release", "fault_cleared"]


def test_modbus_port_vanishing_is_a_fault_and_its_return_clears_it(modbus_gate, modbus_emu):
    r = modbus_gate
    modbus_emu.vanish()
    assert wait(lambda: r.events("fault"))
    assert r.gate.decide(punch()).reject_reason == "gate_fault"
    modbus_emu.reappear()
    assert wait(lambda: r.events("fault_cleared"))
    assert r.gate.decide(punch()).type == "punch"


def test_usb_relay_has_no_passage_confirmation_so_no_not_passed(tmp_path):
    """A board without inputs cannot tell whether anyone passed: the controller must not invent
    a not_passed (or a passage) for it."""
    with UsbRelayEmulator(tmp_path / "ttyLCUS", channels=2) as emu:
        r = HwRig(tmp_path, {"id": "T1", "type": "usb_relay", "port": emu.port, "retries": 2,
                             "reconnect_interval_s": 0.05, "pulse_ms": 100}, TIMING)
        try:
            assert wait(lambda: r.turnstile.health().state == "ok")
            assert not r.gate.passage_confirmation
            e = r.gate.decide(punch("in"))
            assert e.type == "punch" and r.gate.ready()
            assert bytes.fromhex("a00101a2") in emu.valid_commands()   # channel 1 ON went out
            time.sleep(TIMING.passage_window_s + 0.5)
            assert r.events() == [] and r.feedback.keys() == ["please_pass"]
        finally:
            r.close()
