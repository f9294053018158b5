"""The Modbus RTU driver against the RTU slave emulator over a real pty byte stream."""

from __future__ import annotations

import threading
import time

import pytest
import serial

from edge_agent.drivers import TurnstileError, TurnstileInputs
from edge_agent.drivers.emulators.modbus_relay import with_crc
from tests.drivers.helpers import poll_until_ok


def test_pulse_is_coil_on_then_off_for_about_pulse_ms(modbus, modbus_emu):
    t = modbus(pulse_ms=300)
    assert t.health().state == "ok"
    n = len(modbus_emu.coil_writes)
    t.open("out")
    on, off = modbus_emu.coil_writes[n:]
    assert (on.address, on.on, off.address, off.on) == (1, True, 1, False)
    assert 0.25 <= off.t - on.t <= 1.5
    assert modbus_emu.coils == [False] * 8


def test_inputs_are_read_with_contact_polarity(modbus, modbus_emu):
    t = modbus()
    assert t.read_inputs() == TurnstileInputs(passage_in=False, passage_out=False, fault=False)
    modbus_emu.set_input(0, True)
    assert t.read_inputs() == TurnstileInputs(True, False, False)
    modbus_emu.set_input(2, False)       # NC fault contact opens (or its wire is cut) = fault
    assert t.read_inputs().fault is True
    t.close()                            # the port is locked exclusively while open
    t2 = modbus(id="T2", passage_contact="nc", fault_contact="none")
    assert (t2.has_passage_sensors, t2.has_fault_input) == (True, False)
    assert t2.read_inputs() == TurnstileInputs(passage_in=False, passage_out=True, fault=None)


def test_no_reply_bounded_retries_then_degraded_then_down_then_recovers(modbus, modbus_emu):
    t = modbus(retries=2)
    modbus_emu.no_reply = True
    before = len(modbus_emu.requests)
    started = time.monotonic()
    with pytest.raises(TurnstileError, match="no valid reply from device 1"):
        t.read_inputs()
    assert len(modbus_emu.requests) - before == 3          # 1 + retries, no more
    assert time.monotonic() - started < 2.0
    assert t.health().state == "degraded"
    for _ in range(2):
        with pytest.raises(TurnstileError):
            t.read_inputs()
    h = t.health()
    assert h.state == "down" and "no valid reply" in h.detail
    modbus_emu.no_reply = False
    t.read_inputs()
    assert t.health().state == "ok"


def test_one_lost_reply_is_retried_transparently(modbus, modbus_emu):
    t = modbus()
    modbus_emu.drop_replies = 1
    before = len(modbus_emu.requests)
    t.read_inputs()
    assert len(modbus_emu.requests) - before == 2
    assert t.health().state == "ok"


def test_reply_with_bad_crc_is_rejected_and_retried(modbus, modbus_emu):
    t = modbus(retries=1)
    modbus_emu.set_input(0, True)
    modbus_emu.corrupt_crc = 1
    assert t.read_inputs().passage_in is True          # second attempt
    modbus_emu.corrupt_crc = 2
    with pytest.raises(TurnstileError, match="no valid reply"):
        t.read_inputs()                                # both attempts corrupt: never trusted
    assert t.health().state == "degraded"


def test_emulator_ignores_requests_with_a_bad_crc(modbus_emu):
    with serial.Serial(modbus_emu.port, 9600, timeout=0.3) as s:
        good = with_crc(bytes.fromhex("01 02 00 00 00 03"))
        s.write(good[:-1] + bytes((good[-1] ^ 1,)))
        assert s.read(16) == b""
        s.write(good)
        assert s.read(6) == with_crc(bytes.fromhex("01 02 01 04"))
    assert [r.crc_ok for r in modbus_emu.requests] == [False, True]


def test_garbage_on_the_line(modbus, modbus_emu):
    t = modbus(retries=1)
    modbus_emu.write(b"\xde\xad\xbe\xef")              # unsolicited noise between requests
    time.sleep(0.05)
    t.read_inputs()
    modbus_emu.garbage_before, modbus_emu.garbage_replies = b"\x33\x01\x02\x07", 1
    t.read_inputs()                                    # a garbled reply costs one retry
    assert t.health().state == "ok"
    modbus_emu.garbage_replies = -1                    # every reply garbled
    with pytest.raises(TurnstileError):
        t.read_inputs()
    assert t.health().state == "degraded"


def test_port_vanishes_and_returns_reconnects_and_forces_coils_off(modbus, modbus_emu):
    t = modbus()
    t.read_inputs()
    modbus_emu.vanish()
    with pytest.raises(TurnstileError, match="ttyRS485"):
        t.read_inputs()
    h = t.health()
    assert h.state == "down" and "ttyRS485" in h.detail
    with pytest.raises(TurnstileError):
        t.open("in")
    modbus_emu.reappear()
    n = len(modbus_emu.coil_writes)
    assert poll_until_ok(t)
    assert [(w.address, w.on) for w in modbus_emu.coil_writes[n:n + 2]] == [(0, False), (1, False)]
    t.open("in")
    assert modbus_emu.coil_writes[-1].on is False


def test_absent_port_at_start_is_down_not_an_exception(modbus, modbus_emu):
    modbus_emu.vanish()
    t = modbus()
    assert t.health().state == "down"
    modbus_emu.reappear()
    assert poll_until_ok(t)


def test_off_is_retried_until_confirmed_after_failure_mid_pulse(modbus, modbus_emu):
    """Regression: a failed OFF must not leave the relay latched open silently; the OFF is
    kept pending, health is down naming the output, and the next operation sends it."""
    t = modbus(pulse_ms=400)
    opener = threading.Thread(target=lambda: pytest.raises(TurnstileError, t.open, "in"))
    opener.start()
    assert modbus_emu.wait_for(lambda: modbus_emu.coils[0])
    modbus_emu.ignore = True                            # the module stops answering mid-pulse
    opener.join(5)
    assert modbus_emu.coils[0] is True                  # still ON at the module ...
    h = t.health()
    assert h.state == "down" and "output 0 may be stuck ON" in h.detail
    with pytest.raises(TurnstileError, match="OFF output 0"):
        t.open("out")                                   # ... so no new pulse on top of it
    assert modbus_emu.coils[1] is False
    modbus_emu.ignore = False
    t.read_inputs()                                     # the next poll sends the OFF first
    assert modbus_emu.coils[0] is False
    assert t.health().state == "ok"


def test_on_executed_but_reply_lost_still_switches_off(modbus, modbus_emu):
    """Regression: when the ON's reply is lost the coil may be ON anyway: OFF must follow."""
    t = modbus()
    modbus_emu.no_reply = True                          # executes, never answers
    with pytest.raises(TurnstileError, match="ON output 0"):
        t.open("in")
    assert modbus_emu.coil_writes[-1].on is False and modbus_emu.coils[0] is False
    modbus_emu.no_reply = False
    t.read_inputs()
    assert t.health().state == "ok"


def test_vanish_mid_pulse_relay_forced_off_on_return(modbus, modbus_emu):
    """Regression: USB adapter unplugged while the coil is ON; the powered module keeps it ON
    until the driver reconnects and forces every coil OFF."""
    t = modbus(pulse_ms=300)
    opener = threading.Thread(target=lambda: pytest.raises(TurnstileError, t.open, "out"))
    opener.start()
    assert modbus_emu.wait_for(lambda: modbus_emu.coils[1])
    modbus_emu.vanish()
    opener.join(5)
    assert modbus_emu.coils[1] is True and t.health().state == "down"
    modbus_emu.reappear()
    assert poll_until_ok(t)
    assert modbus_emu.coils[1] is False


def test_exception_response_is_a_clear_error(modbus, modbus_emu):
    t = modbus(coil_open_in=20)                         # the module has 8 coils
    with pytest.raises(TurnstileError, match="device 1 answered"):
        t.open("in")


def test_inputs_can_be_polled_during_a_pulse(modbus, modbus_emu):
    t = modbus(pulse_ms=600)
    opener = threading.Thread(target=t.open, args=("in",))
    opener.start()
    assert modbus_emu.wait_for(lambda: modbus_emu.coils[0])
    modbus_emu.set_input(0, True)
    assert t.read_inputs().passage_in is True
    assert modbus_emu.coils[0] is True                   # the read did not wait for the pulse
    opener.join(5)
    assert modbus_emu.coils[0] is False


def test_close_switches_off_and_refuses_further_use(modbus, modbus_emu):
    t = modbus()
    t.close()
    assert t.health().state == "down"
    with pytest.raises(TurnstileError, match="closed"):
        t.open("in")
    with pytest.raises(ValueError, match="direction"):
        t.open("sideways")
